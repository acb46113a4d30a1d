/**
 * The chip table and per-chip firmware lists: pure data, no hardware access
 * (chip identification and the probe, which read a GPU, are in `gpu/`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booterLayoutOf, chipByName, falconHalOf, firmwareFiles } from "./mod.ts";
 * const ga102 = chipByName("ga102")!;
 * assert(firmwareFiles(ga102, "570.144").map((f) => f.name).join() === "booter_load,booter_unload,bootloader,gsp");
 * assert(falconHalOf(ga102).loadMethod === "dma" && booterLayoutOf(ga102) === "ga102");
 * ```
 *
 * @module
 */
export * from "./chips.ts";
export * from "./firmware_files.ts";
