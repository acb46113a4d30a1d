/**
 * The forge: valid synthetic files of every format falconry parses, for
 * tests, fuzzing and the simulated GPU. Every forged file is deterministic and
 * parses back to the fields it was built from.
 *
 * @example Forge a VBIOS with a v3 FWSEC descriptor and read it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeVbios } from "./mod.ts";
 * import { bufferSource, extractFwsec } from "../mod.ts";
 *
 * const fwsec = extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 3 }).bytes));
 * assert(fwsec.descriptor.descriptorVersion === 3);
 * ```
 *
 * @module
 */
export * from "./hs_firmware.ts";
export * from "./elf.ts";
export * from "./tlv.ts";
export * from "./vbios.ts";
