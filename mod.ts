/**
 * falconry: boot an NVIDIA GPU's GSP firmware from user space.
 *
 * This module re-exports the public API of every layer: the errors, the
 * firmware parsers (`firmware/`), the chip table (`chips/`), the register
 * tables (`registers/`), the firmware loader (`loader/`) and PCI access
 * (`pci/`). Each layer is also importable on its own through its `mod.ts`.
 *
 * @example Inspect a Booter file
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName, FAMILIES, parseBooter } from "./mod.ts";
 * import { forgeBooter } from "./firmware/forge/mod.ts";
 *
 * const booter = parseBooter(forgeBooter({ signatureSize: 16, signatureCount: 1, fuseVersion: 0 }));
 * assert(booter.signatureSize === 16);
 * assert(FAMILIES[chipByName("tu102")!.family].fwsecNeedsBootloader);
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./firmware/mod.ts";
export * from "./chips/mod.ts";
export * from "./registers/mod.ts";
export * from "./loader/mod.ts";
export * from "./pci/mod.ts";
