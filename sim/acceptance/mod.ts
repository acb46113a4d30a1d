/**
 * The simulated hardware's acceptance rules for firmware, as pure functions
 * over plain data: what a falcon's boot ROM, FWSEC and Booter check when a
 * simulated falcon starts, and what they leave behind. The falcon and chip
 * models call them; each rule computes what it expects with its own small
 * code from `../shared/reference/` and uses `firmware/` only to parse files
 * (issue 9's golden rule).
 *
 * - recognising images: {@linkcode recogniseBooter}, {@linkcode recogniseFwsec},
 *   {@linkcode identifyLoadedImage}, {@linkcode gspFirmwareForChip}
 * - fuses and signatures: {@linkcode fuseVersionFromRegister},
 *   {@linkcode signatureFuseRegister}, {@linkcode booterSignatureChoice},
 *   {@linkcode fwsecSignatureChoice}
 * - the boot ROM's HS check: {@linkcode checkHsImage} (and {@linkcode expectedHsLoad});
 *   Turing's generic bootloader: {@linkcode runGenBootloader}
 * - FWSEC: {@linkcode readFwsecCommand}, {@linkcode runFwsec} (FRTS, SB)
 * - FB layout and WPR meta: {@linkcode computeFbLayout}, {@linkcode validateWprMeta},
 *   {@linkcode encodeWpr2}/{@linkcode decodeWpr2}
 * - radix3: {@linkcode walkRadix3}
 * - Booter: {@linkcode checkBooterLoad}, {@linkcode checkBooterUnload}
 * - verdicts and their (simulator-defined) error codes: {@linkcode HS_ERROR},
 *   {@linkcode FRTS_ERROR}
 *
 * @example The fuse conversion the hardware makes
 * ```ts
 * import assert from "node:assert/strict";
 * import { booterSignatureChoice, fuseVersionFromRegister } from "./mod.ts";
 * assert.equal(fuseVersionFromRegister(0x3), 2);
 * const sigs = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2), new Uint8Array(16).fill(3)];
 * const v = booterSignatureChoice({ fileFuseVersion: 2, signatures: sigs, fuseRegister: 0x3 });
 * assert(v.ok && v.index === 0);
 * ```
 *
 * @module
 */
export * from "./verdict.ts";
export * from "./fuse_version.ts";
export * from "./signature_choice.ts";
export * from "./recognise.ts";
export * from "./hs_image.ts";
export * from "./gen_bootloader_run.ts";
export * from "./fwsec_command.ts";
export * from "./fwsec_run.ts";
export * from "./fb_layout.ts";
export * from "./wpr2_register.ts";
export * from "./wpr_meta.ts";
export * from "./radix3_walk.ts";
export * from "./gsp_firmware.ts";
export * from "./booter_load.ts";
export * from "./booter_unload.ts";
export type { DmaView } from "../system_memory.ts";
// The parsed-file types the rules take, so that this module documents completely on its own.
export type * from "../../firmware/mod.ts";
