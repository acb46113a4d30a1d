/**
 * `NV_PFB_PRI_MMU_WPR2_ADDR_LO`/`_HI` encoding (nova-core-boot.md §3.7): bits
 * 31:4 hold an address >> 12; LO is the first byte, HI the end (exclusive,
 * as the reference reads it); HI = 0 means WPR2 is not set up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWpr2, encodeWpr2 } from "./wpr2_register.ts";
 * const regs = encodeWpr2({ start: 0x1fe00000, end: 0x1ff00000 });
 * assert.deepEqual(regs, { lo: 0x1fe00 << 4, hi: 0x1ff00 << 4 });
 * assert.deepEqual(decodeWpr2(regs), { start: 0x1fe00000, end: 0x1ff00000 });
 * assert.equal(decodeWpr2({ lo: 0, hi: 0 }), undefined);
 * ```
 *
 * @module
 */

/** Raw register values. */
export interface Wpr2Registers {
  /** `NV_PFB_PRI_MMU_WPR2_ADDR_LO` (0x1fa824). */
  lo: number;
  /** `NV_PFB_PRI_MMU_WPR2_ADDR_HI` (0x1fa828). */
  hi: number;
}

/**
 * Register values for a WPR2 range.
 *
 * @param range `[start, end)`, 4 KiB aligned.
 * @returns LO and HI.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeWpr2 } from "./wpr2_register.ts";
 * assert.equal(encodeWpr2({ start: 2 ** 34, end: 2 ** 34 + 4096 }).hi, ((2 ** 22 + 1) * 16) >>> 0);
 * ```
 */
export function encodeWpr2(range: { start: number; end: number }): Wpr2Registers {
  return { lo: ((range.start / 4096) * 16) >>> 0, hi: ((range.end / 4096) * 16) >>> 0 };
}

/**
 * The WPR2 range the registers hold, or `undefined` when HI is 0 (not set).
 *
 * @param regs LO and HI.
 * @returns `[start, end)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWpr2 } from "./wpr2_register.ts";
 * assert.equal(decodeWpr2({ lo: 0x100, hi: 0x200 })?.end, 0x20 * 4096);
 * ```
 */
export function decodeWpr2(regs: Wpr2Registers): { start: number; end: number } | undefined {
  if ((regs.hi >>> 4) === 0) return undefined;
  return { start: (regs.lo >>> 4) * 4096, end: (regs.hi >>> 4) * 4096 };
}
