/**
 * FWSEC: extract it from a VBIOS (descriptor v2/v3, signatures, ucode, load
 * map, application interface, DMEM mapper), pick the signature a fuse version
 * needs, and patch a copy for the FRTS or SB command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { extractFwsec, patchFwsecFrts } from "./mod.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const fwsec = extractFwsec(bufferSource(forgeVbios().bytes));
 * const patched = patchFwsecFrts(fwsec, { frtsOffset: 0x1ff00000, frtsSize: 0x100000 }, 0);
 * assert(patched.command === 0x15 && patched.bootAddress === 0);
 * ```
 *
 * @module
 */
export * from "./descriptor.ts";
export * from "./app_interface.ts";
export * from "./extract.ts";
export * from "./signature.ts";
export * from "./patch.ts";
