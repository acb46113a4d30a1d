/**
 * What a falcon is given to run, the same for every firmware kind: where each
 * part of the image goes in IMEM and DMEM and where it boots
 * ({@linkcode FalconLoadMap}), and what the boot ROM checks the signature
 * against ({@linkcode BromParams}). Booter (`booterLoadMap`, `patchBooter`)
 * and FWSEC (`fwsecLoadMap`, `patchFwsecFrts`) each produce one of each.
 *
 * @example A load map and BROM parameters as Booter produces them
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BromParams, FalconLoadMap } from "./falcon_load.ts";
 * import { booterLoadMap, parseBooter, patchBooter } from "./booter.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * const booter = parseBooter(forgeBooter());
 * const map: FalconLoadMap = booterLoadMap(booter, { layout: "ga102" });
 * const brom: BromParams = patchBooter(booter, 0).brom;
 * assert(map.imemSecure.dstStart === 0 && brom.engineIdMask === booter.signatureParams.engineIdMask);
 * ```
 *
 * @module
 */

/** One piece of an image copied into falcon memory. */
export interface FalconLoadSegment {
  /** Image offset of the first byte. */
  srcStart: number;
  /** Falcon memory (IMEM or DMEM) address of the first byte. */
  dstStart: number;
  /** Length in bytes. */
  length: number;
}

/** Where an image goes in a falcon's memories, and where the falcon boots. */
export interface FalconLoadMap {
  /** Non-secure IMEM, when the layout has any (Booter on Turing/GA100, FWSEC v2). */
  imemNonSecure?: FalconLoadSegment;
  /** Secure IMEM. */
  imemSecure: FalconLoadSegment;
  /** DMEM. */
  dmem: FalconLoadSegment;
  /** Boot vector. */
  bootAddress: number;
}

/** What the falcon's boot ROM needs to verify a patched heavy-secure image. */
export interface BromParams {
  /** DMEM offset of the patched signature (`BROM_PARAADDR[0]`); 0 when the image has none. */
  pkcDataOffset: number;
  /** Engines allowed to run the image (`BROM_ENGIDMASK`; bit 0 SEC2, bit 10 GSP). */
  engineIdMask: number;
  /** The image's ucode id (`BROM_CURR_UCODE_ID`), which also selects the fuse register. */
  ucodeId: number;
}

/**
 * The highest signature fuse version a 32-bit fuse register can encode (bit
 * 31 set: version = highest set bit + 1). The Booter and FWSEC signature
 * selections take versions 0 to this.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_FUSE_VERSION } from "./falcon_load.ts";
 * assert(32 - Math.clz32(0x8000_0000) === MAX_FUSE_VERSION);
 * ```
 */
export const MAX_FUSE_VERSION = 32;
