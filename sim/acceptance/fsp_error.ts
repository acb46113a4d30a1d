/**
 * The error codes the simulated FSP answers a bad message with, in the
 * `errorCode` field of its `NVDM_TYPE_FSP_RESPONSE` reply.
 *
 * The values are NVIDIA's (open-gpu-kernel-modules,
 * `src/nvidia/inc/kernel/gpu/fsp/kern_fsp_retval.h`; the same table is in
 * the NVSwitch `fsprpc_nvswitch.h`). NVIDIA's driver maps them in
 * `kfspErrorCode2NvStatusMap_GH100` (`kern_fsp_gh100.c`): `INVALID_STATE`
 * and `INVALID_DATA` become `NV_ERR_INVALID_DATA`, `IFR_FILE_NOT_FOUND`
 * `NV_ERR_OBJECT_NOT_FOUND`, `PRC_ERROR_INVALID_KNOB_ID`
 * `NV_ERR_INVALID_ARGUMENT`, anything else `NV_ERR_GENERIC`.
 *
 * Which code the FSP sends for which fault is not public (the FSP firmware
 * is closed). The simulator's choice, by rule ({@linkcode FSP_ERROR_OF}):
 * a malformed or unverifiable message is `INVALID_DATA`; a message type or
 * payload version this FSP does not handle is `NOT_SUPPORTED`; a message the
 * FSP cannot act on in its current state (a second COT, a DMA it could not
 * complete) is `INVALID_STATE`; an unknown PRC knob is
 * `PRC_ERROR_INVALID_KNOB_ID`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FSP_ERROR, FSP_ERROR_OF } from "./fsp_error.ts";
 * assert.equal(FSP_ERROR.invalidData, 0xa1);
 * assert.equal(FSP_ERROR_OF.fmcHash, FSP_ERROR.invalidData);
 * ```
 *
 * @module
 */

/** NVIDIA's FSP return codes (`kern_fsp_retval.h`). */
export const FSP_ERROR: Readonly<{
  ok: 0x00;
  invalidState: 0x9e;
  fileNotFound: 0x9f;
  notSupported: 0xa0;
  invalidData: 0xa1;
  prcInvalidKnobId: 0x1e3;
}> = Object.freeze(
  {
    /** `FSP_OK`. */
    ok: 0x00,
    /** `FSP_ERR_IFS_ERR_INVALID_STATE`. */
    invalidState: 0x9e,
    /** `FSP_ERR_IFR_FILE_NOT_FOUND`. */
    fileNotFound: 0x9f,
    /** `FSP_ERR_IFS_ERR_NOT_SUPPORTED`. */
    notSupported: 0xa0,
    /** `FSP_ERR_IFS_ERR_INVALID_DATA`. */
    invalidData: 0xa1,
    /** `FSP_ERR_PRC_ERROR_INVALID_KNOB_ID`. */
    prcInvalidKnobId: 0x1e3,
  } as const,
);

/** What the simulated FSP checks, one rule each. */
export type FspRule =
  | "packetSize"
  | "mctpHeader"
  | "nvdmHeader"
  | "nvdmType"
  | "cotSize"
  | "cotVersion"
  | "cotState"
  | "frtsRegion"
  | "fmcUnknown"
  | "fmcDma"
  | "fmcHash"
  | "fmcSignatureBlock"
  | "bootParams"
  | "wprMeta"
  | "gspImage"
  | "prcKnob";

/**
 * The code each rule's rejection carries (the simulator's choice, see the module text).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FSP_ERROR_OF } from "./fsp_error.ts";
 * assert.equal(FSP_ERROR_OF.cotVersion, 0xa0);
 * assert.equal(FSP_ERROR_OF.fmcDma, 0x9e);
 * ```
 */
export const FSP_ERROR_OF: Readonly<Record<FspRule, number>> = Object.freeze({
  packetSize: FSP_ERROR.invalidData,
  mctpHeader: FSP_ERROR.invalidData,
  nvdmHeader: FSP_ERROR.invalidData,
  nvdmType: FSP_ERROR.notSupported,
  cotSize: FSP_ERROR.invalidData,
  cotVersion: FSP_ERROR.notSupported,
  cotState: FSP_ERROR.invalidState,
  frtsRegion: FSP_ERROR.invalidData,
  fmcUnknown: FSP_ERROR.invalidData,
  fmcDma: FSP_ERROR.invalidState,
  fmcHash: FSP_ERROR.invalidData,
  fmcSignatureBlock: FSP_ERROR.invalidData,
  bootParams: FSP_ERROR.invalidData,
  wprMeta: FSP_ERROR.invalidData,
  gspImage: FSP_ERROR.invalidData,
  prcKnob: FSP_ERROR.prcInvalidKnobId,
});

/** A message the FSP refuses: the rule, why, and the code it answers with. */
export interface FspRejection {
  /** Always false. */
  readonly ok: false;
  /** The rule. */
  readonly rule: FspRule;
  /** What is wrong, naming the field. */
  readonly reason: string;
  /** The response's `errorCode`. */
  readonly errorCode: number;
}

/**
 * Build a rejection with its rule's code.
 *
 * @param rule The rule.
 * @param reason What is wrong.
 * @returns The rejection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fspReject } from "./fsp_error.ts";
 * assert.equal(fspReject("cotSize", "size 12").errorCode, 0xa1);
 * ```
 */
export function fspReject(rule: FspRule, reason: string): FspRejection {
  return { ok: false, rule, reason, errorCode: FSP_ERROR_OF[rule] };
}
