/**
 * What the simulated hardware answers when it checks firmware: a verdict,
 * `{ ok: true, … }` or a {@linkcode Rejection} that carries the value the
 * falcon leaves in MBOX0 and, for FWSEC, the error code it leaves in
 * `NV_PBUS_SW_SCRATCH(0xe)` bits 31:16.
 *
 * **The codes are simulator-defined.** Neither nova-core nor NVIDIA's open
 * modules publish the boot ROM's or Booter's error values: both drivers only
 * test MBOX0 ≠ 0 (nova-core §3.7 "Booter-load failed", §6.2 unload) and, for
 * FWSEC-FRTS, `SW_SCRATCH(0xe)` bits 31:16 ≠ `NV_VBIOS_FWSECLIC_FRTS_ERR_CODE_NONE`
 * (0, NVIDIA `kernel_gsp_frts_tu102.c`, which names no other value). So every
 * code here is non-zero, distinct, and stable, and a test can tell which rule
 * fired; none of them claims to be what a real GPU writes.
 *
 * | MBOX0 ({@linkcode HS_ERROR}) | meaning |
 * |---|---|
 * | 0x01 `loadMethod` | PIO on a chip that loads HS images by DMA, or the reverse |
 * | 0x02 `imemLayout` | a code block missing, at the wrong IMEM block, with the wrong tag or security |
 * | 0x03 `bootVector` | BOOTVEC is not the image's entry |
 * | 0x04 `imageModified` | IMEM code or DMEM data differ from the signed file |
 * | 0x05 `bromParams` | BROM_PARAADDR / ENGIDMASK / CURR_UCODE_ID / MOD_SEL wrong (GA102+) |
 * | 0x06 `noSignatureForFuse` | the fuse version selects no signature of the file |
 * | 0x07 `zeroSignature` | the selected signature is all zeros |
 * | 0x08 `wrongSignature` | the signature in DMEM is not the one the fuse selects |
 * | 0x09 `unknownImage` | the loaded code is no image the simulator knows |
 * | 0x10 `dmaFault` | a DMA read outside every live mapping (an IOMMU fault) |
 * | 0x20 `wprMeta` | GspFwWprMeta wrong (magic, revision, a size or offset) |
 * | 0x21 `radix3` | the radix3 tables do not map exactly the GSP image |
 * | 0x22 `bootloader` | the GSP bootloader blob or its offsets are wrong |
 * | 0x23 `frtsMissing` | Booter-load without the WPR2/FRTS region FWSEC sets up |
 * | 0x24 `gspSignature` | the GSP image signature blob is not this chip's |
 * | 0x30 `gspNotStopped` | Booter-unload while GSP-RM is neither suspended nor halted |
 * | 0x31 `resumeRefused` | SEC2-RTOS asked to resume GSP-RM (CORE_RESUME) with the GSP not reset or its mailboxes not holding the LibOS init args |
 *
 * | SW_SCRATCH(0xe) 31:16 ({@linkcode FRTS_ERROR}) | meaning |
 * |---|---|
 * | 0x0001 `wpr2AlreadySet` | FRTS while WPR2 is already set up |
 * | 0x0002 `badCommand` | the DMEM mapper's `init_cmd` is neither FRTS nor SB |
 * | 0x0003 `badReadVbios` | the ReadVbios descriptor is not version 1, size 24, flags 2 |
 * | 0x0004 `badRegionDescriptor` | the FRTS region descriptor is not version 1, size 20, media FB |
 * | 0x0005 `badRegionSize` | the FRTS region is not 1 MiB |
 * | 0x0006 `badRegionAlignment` | the FRTS region is not 128 KiB aligned |
 * | 0x0007 `regionOutsideFb` | the FRTS region ends past the framebuffer |
 * | 0x0008 `regionOverlapsVga` | the FRTS region reaches into the VGA workspace |
 * | 0x0009 `noDmemMapper` | no application interface / DMEM mapper in DMEM |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HS_ERROR, reject } from "./verdict.ts";
 * const v = reject(HS_ERROR.zeroSignature, "signature 1 is all zeros");
 * assert(!v.ok && v.mbox0 === 0x07 && v.rule === "zeroSignature");
 * ```
 *
 * @module
 */

/**
 * MBOX0 values a simulated HS falcon halts with (simulator-defined; see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HS_ERROR } from "./verdict.ts";
 * assert.equal(new Set(Object.values(HS_ERROR)).size, Object.keys(HS_ERROR).length);
 * assert(Object.values(HS_ERROR).every((code: number) => code > 0));
 * ```
 */
export const HS_ERROR = {
  loadMethod: 0x01,
  imemLayout: 0x02,
  bootVector: 0x03,
  imageModified: 0x04,
  bromParams: 0x05,
  noSignatureForFuse: 0x06,
  zeroSignature: 0x07,
  wrongSignature: 0x08,
  unknownImage: 0x09,
  dmaFault: 0x10,
  wprMeta: 0x20,
  radix3: 0x21,
  bootloader: 0x22,
  frtsMissing: 0x23,
  gspSignature: 0x24,
  gspNotStopped: 0x30,
  resumeRefused: 0x31,
} as const;

/** A rule an HS falcon checks. */
export type HsRule = keyof typeof HS_ERROR;

/**
 * FWSEC-FRTS error codes for `SW_SCRATCH(0xe)` bits 31:16 (simulator-defined).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FRTS_ERROR } from "./verdict.ts";
 * assert(Object.values(FRTS_ERROR).every((code) => code > 0 && code <= 0xffff));
 * ```
 */
export const FRTS_ERROR = {
  wpr2AlreadySet: 0x0001,
  badCommand: 0x0002,
  badReadVbios: 0x0003,
  badRegionDescriptor: 0x0004,
  badRegionSize: 0x0005,
  badRegionAlignment: 0x0006,
  regionOutsideFb: 0x0007,
  regionOverlapsVga: 0x0008,
  noDmemMapper: 0x0009,
} as const;

/** A rule FWSEC-FRTS checks. */
export type FrtsRule = keyof typeof FRTS_ERROR;

/** A check that failed: what the falcon leaves behind. */
export interface Rejection {
  /** Rejected. */
  ok: false;
  /** The rule that fired (a key of {@linkcode HS_ERROR} or {@linkcode FRTS_ERROR}). */
  rule: HsRule | FrtsRule;
  /** One line: what was expected and what was found. */
  reason: string;
  /** The falcon's MBOX0 after it halts. */
  mbox0: number;
  /** FWSEC only: `SW_SCRATCH(0xe)` bits 31:16 (0 unless FRTS itself refused). */
  frtsError?: number;
  /** Where it applies: the page of a radix3 walk, the IOVA of a DMA fault. */
  detail?: Readonly<Record<string, number | bigint | string>>;
}

/** Either the success payload `T` or a {@linkcode Rejection}. */
export type Verdict<T extends object = Record<never, never>> = ({ ok: true } & T) | Rejection;

/**
 * Build the rejection of an HS rule (MBOX0 = that rule's code).
 *
 * @param code A value of {@linkcode HS_ERROR}.
 * @param reason What was expected and found.
 * @param detail Where it applies.
 * @returns The rejection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HS_ERROR, reject } from "./verdict.ts";
 * assert.equal(reject(HS_ERROR.bootVector, "x").mbox0, HS_ERROR.bootVector);
 * ```
 */
export function reject(
  code: (typeof HS_ERROR)[HsRule],
  reason: string,
  detail?: Rejection["detail"],
): Rejection {
  const rule = (Object.keys(HS_ERROR) as HsRule[]).find((k) => HS_ERROR[k] === code)!;
  return { ok: false, rule, reason, mbox0: code, ...(detail ? { detail } : {}) };
}

/**
 * Build the rejection of an FRTS rule: FWSEC halts normally (MBOX0 = 0) and
 * reports the error in `SW_SCRATCH(0xe)` bits 31:16, as the drivers read it.
 *
 * @param code A value of {@linkcode FRTS_ERROR}.
 * @param reason What was expected and found.
 * @returns The rejection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FRTS_ERROR, rejectFrts } from "./verdict.ts";
 * const v = rejectFrts(FRTS_ERROR.wpr2AlreadySet, "WPR2 is up");
 * assert(v.mbox0 === 0 && v.frtsError === 1 && v.rule === "wpr2AlreadySet");
 * ```
 */
export function rejectFrts(code: (typeof FRTS_ERROR)[FrtsRule], reason: string): Rejection {
  const rule = (Object.keys(FRTS_ERROR) as FrtsRule[]).find((k) => FRTS_ERROR[k] === code)!;
  return { ok: false, rule, reason, mbox0: 0, frtsError: code };
}
