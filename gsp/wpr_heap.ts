/**
 * The size of GSP-RM's heap inside WPR2, as NVIDIA's `kgspGetFwHeapSize` and
 * `_kgspCalculateFwHeapSize` (open-gpu-kernel-modules 570.144,
 * `src/nvidia/src/kernel/gpu/gsp/kernel_gsp.c`) compute it:
 *
 * ```text
 * heap = osCarveout + baseRm + align_up(96 KiB × ceil(fb / 1 GiB), 1 MiB) + align_up(96 MiB, 1 MiB)
 * heap = max(heap, minimum)
 * heap = min(heap, floor((prescrubbedTop − (below + above)) / 1 MiB) MiB)   (TU10x, TU11x, GA10x)
 * ```
 *
 * `below` is what sits between the heap and the bottom of the pre-scrubbed
 * area (the 1 MiB WPR-meta slot and the non-WPR heap), `above` everything from
 * the GSP image up to the end of VRAM. With vGPU offload the heap is a fixed
 * 581 MiB; a registry override is clamped to `[minimum, min(maximum, cap)]`.
 *
 * nova-core (`gsp/fw.rs LibosParams::wpr_heap_size`) clamps the formula to
 * `[minimum, maximum − 1]` and knows no pre-scrubbed cap; for every real VRAM
 * size both give the same heap (at 96 GiB the formula reaches 113 MiB on
 * LibOS2 and 141 MiB on LibOS3, far from the 256/280 MiB maxima, and the
 * real images leave the cap above it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wprHeapSize } from "./wpr_heap.ts";
 * // TU102 with 8 GiB: 0 + 8 MiB + align_up(768 KiB, 1 MiB) + 96 MiB = 105 MiB.
 * assert(wprHeapSize({ chip: "tu102", fbSize: 8 * 2 ** 30 }).size === 105 * 2 ** 20);
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../chips/chips.ts";
import { resolveFbChip } from "./_fb_chip.ts";
import {
  FB_LAYOUT_PARAMS,
  HEAP_CLIENT_ALLOC_SIZE,
  HEAP_SIZE_PER_GIB_FB,
  VGPU_WPR_HEAP_SIZE,
} from "./fb_params.ts";
import { FbLayoutError } from "./fb_layout_error.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const alignUp = (value: number, alignment: number) => Math.ceil(value / alignment) * alignment;

/** Inputs of {@linkcode wprHeapSize}. */
export interface WprHeapSizeInput {
  /** The chip, or its name. */
  chip: ChipInfo | string;
  /** Usable VRAM in bytes. */
  fbSize: number;
  /** vGPU offload (`bVgpuGspPluginOffloadEnabled`): the heap is then a fixed 581 MiB. */
  vgpu?: boolean;
  /** The `RmGspFirmwareHeapSizeMB` registry override, in MiB. */
  overrideMiB?: number;
  /**
   * Bytes kept below and above the heap inside the pre-scrubbed top of VRAM.
   * Omitted, the heap is not capped (NVIDIA passes 0, 0 on the FSP path).
   */
  prescrubbed?: { below: number; above: number };
}

/** Which rule decided the heap size. */
export type WprHeapRule = "formula" | "minimum" | "prescrubbed-cap" | "vgpu" | "override";

/** The heap size and how it was reached. */
export interface WprHeapSize {
  /** Heap size in bytes. */
  readonly size: number;
  /** The rule that decided it. */
  readonly rule: WprHeapRule;
  /** The formula's value before any clamp (bytes); 0 for vGPU and overrides. */
  readonly formula: number;
  /** `ceil(fbSize / 1 GiB)`, the formula's VRAM term. */
  readonly fbSizeGiB: number;
  /** The family's minimum (bytes). */
  readonly minimum: number;
  /** The cap the pre-scrubbed area sets (bytes, a whole number of MiB), when there is one. */
  readonly prescrubbedCap?: number;
}

/**
 * The WPR2 heap size for `chip` with `fbSize` bytes of VRAM (see the module
 * doc for the formula and its sources).
 *
 * @throws {FbLayoutError} When `fbSize` is not a positive whole number, the
 *   override is not a positive whole number of MiB, or the regions that must
 *   fit in the pre-scrubbed area already fill it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wprHeapSize } from "./wpr_heap.ts";
 * const MiB = 2 ** 20, GiB = 2 ** 30;
 * // GA102, 24 GiB: 22 + 8 + align_up(24 × 96 KiB = 2.25 MiB) = 3 + 96 → 129 MiB.
 * assert.equal(wprHeapSize({ chip: "ga102", fbSize: 24 * GiB }).size, 129 * MiB);
 * // GH100, 80 GiB: 22 + 14 + align_up(7.5 MiB) = 8 + 96 → 140 MiB.
 * assert.equal(wprHeapSize({ chip: "gh100", fbSize: 80 * GiB }).size, 140 * MiB);
 * // A 1 GiB Turing board: 8 + 1 + 96 = 105 MiB, above the 64 MiB minimum.
 * assert.equal(wprHeapSize({ chip: "tu117", fbSize: 1 * GiB }).rule, "formula");
 * // A 2 GiB override on TU102 is clamped to the 256 MiB maximum.
 * assert.equal(wprHeapSize({ chip: "tu102", fbSize: 8 * GiB, overrideMiB: 2048 }).size, 256 * MiB);
 * ```
 */
export function wprHeapSize(input: WprHeapSizeInput): WprHeapSize {
  const chip = resolveFbChip(input.chip);
  const params = FB_LAYOUT_PARAMS[chip.family];
  const { fbSize } = input;
  if (!Number.isSafeInteger(fbSize) || fbSize <= 0) {
    throw new FbLayoutError("fbSize", fbSize, "must be a positive whole number of bytes");
  }
  const fbSizeGiB = Math.ceil(fbSize / GiB);
  const minimum = params.heapMinSize;
  const base = { fbSizeGiB, minimum };

  let prescrubbedCap: number | undefined;
  if (params.prescrubbedTopSize !== undefined && input.prescrubbed !== undefined) {
    const { below, above } = input.prescrubbed;
    const room = params.prescrubbedTopSize - (below + above);
    if (room <= 0) {
      throw new FbLayoutError(
        "gspImageSize",
        above,
        `the regions from the GSP image to the end of VRAM (${above / MiB} MiB) and below the ` +
          `heap (${below / MiB} MiB) leave no room for the heap in the ` +
          `${params.prescrubbedTopSize / MiB} MiB the firmware pre-scrubs`,
      );
    }
    prescrubbedCap = Math.floor(room / MiB) * MiB;
  }
  const capped = prescrubbedCap === undefined ? {} : { prescrubbedCap };

  if (input.overrideMiB !== undefined) {
    const mib = input.overrideMiB;
    if (!Number.isSafeInteger(mib) || mib <= 0) {
      throw new FbLayoutError("overrideMiB", mib, "must be a positive whole number of MiB");
    }
    const maximum = Math.min(params.heapMaxSize, prescrubbedCap ?? Infinity);
    const size = Math.min(Math.max(mib * MiB, minimum), maximum);
    return { size, rule: "override", formula: 0, ...base, ...capped };
  }
  if (input.vgpu) return { size: VGPU_WPR_HEAP_SIZE, rule: "vgpu", formula: 0, ...base };

  const formula = params.heapOsCarveoutSize + params.heapBaseRmSize +
    alignUp(HEAP_SIZE_PER_GIB_FB * fbSizeGiB, MiB) + alignUp(HEAP_CLIENT_ALLOC_SIZE, MiB);
  let size = Math.max(formula, minimum);
  let rule: WprHeapRule = formula >= minimum ? "formula" : "minimum";
  if (prescrubbedCap !== undefined && prescrubbedCap < size) {
    size = prescrubbedCap;
    rule = "prescrubbed-cap";
  }
  return { size, rule, formula, ...base, ...capped };
}
