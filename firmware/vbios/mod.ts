/**
 * The VBIOS parser: IFR header, PCI ROM image chain, BIT, VBIOS version,
 * FWSEC section and PMU lookup table, all read through a `ByteSource` so
 * that a live PROM window is read only where needed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVbios } from "./mod.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const info = parseVbios(bufferSource(forgeVbios({ ifr: 3 }).bytes));
 * assert(info.images.at(-1)?.kind === "nbsi" && info.fwsec !== undefined);
 * ```
 *
 * @module
 */
export * from "./ifr.ts";
export * from "./rom_images.ts";
export * from "./bit.ts";
export * from "./fwsec_section.ts";
export * from "./pmu_table.ts";
export * from "./vbios_layout.ts";
export * from "./vbios.ts";
