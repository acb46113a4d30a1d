/**
 * The chip table and per-chip firmware lists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName, firmwareFiles } from "./mod.ts";
 * const ga102 = chipByName("ga102")!;
 * assert(firmwareFiles(ga102, "570.144").map((f) => f.name).join() === "booter_load,booter_unload,bootloader,gsp");
 * ```
 *
 * @module
 */
export * from "./chips.ts";
export * from "./firmware_files.ts";
export * from "./identify.ts";
export * from "./probe.ts";
