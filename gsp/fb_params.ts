/**
 * Per-family parameters of the GSP's framebuffer layout: the WPR2 heap's
 * LibOS sizing, the non-WPR heap, the PMU reservation, the pre-scrubbed top of
 * VRAM, the GA100 MMU lock and the default WPR-meta flags.
 *
 * The values are NVIDIA's open-gpu-kernel-modules 570.144 (the firmware
 * version falconry boots): the generated HAL tables in
 * `src/nvidia/generated/g_kernel_gsp_nvoc.{c,h}` and `g_mem_mgr_nvoc.c`, the
 * constants in `src/nvidia/inc/kernel/gpu/gsp/gsp_fw_heap.h`, and nova-core's
 * `fb/hal/*.rs` and `gsp/fw.rs` where they agree (see
 * `../shared/reference/nova-core-boot.md` §3.5, §13). These are chip facts:
 * they belong in `chips/` next to `frtsSize`, and live here until they move.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FB_LAYOUT_PARAMS } from "./fb_params.ts";
 * assert(FB_LAYOUT_PARAMS.tu10x.libos === 2 && FB_LAYOUT_PARAMS.ga10x.libos === 3);
 * assert(FB_LAYOUT_PARAMS.gh100.heapBaseRmSize === 14 * 2 ** 20);
 * ```
 *
 * @module
 */

import type { ChipFamily } from "../chips/chips.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** What one chip family's GSP framebuffer layout depends on. */
export interface FbLayoutParams {
  /**
   * The LibOS generation GSP-RM runs on: 2 before GA102 (Turing, GA100), 3
   * from GA102 on. It sets the heap's OS carve-out and its bounds.
   */
  readonly libos: 2 | 3;
  /** `kgspGetFwHeapParamOsCarveoutSize`: 0 on LibOS2, 22 MiB on LibOS3 (bare metal). */
  readonly heapOsCarveoutSize: number;
  /** `fwHeapParamBaseSize`: `GSP_FW_HEAP_PARAM_BASE_RM_SIZE_TU10X` (8 MiB, Turing–Ada) or `_GH100` (14 MiB). */
  readonly heapBaseRmSize: number;
  /** `kgspGetMinWprHeapSizeMB` (bare metal), in bytes: 64 MiB on LibOS2, 88 MiB on LibOS3. */
  readonly heapMinSize: number;
  /**
   * `kgspGetMaxWprHeapSizeMB` (bare metal), in bytes: 256 MiB on LibOS2, 280
   * MiB on LibOS3. NVIDIA applies it only to a registry override of the heap
   * size; nova-core clamps every heap to it, minus one byte.
   */
  readonly heapMaxSize: number;
  /**
   * The pre-scrubbed top of VRAM the heap must fit in, when no scrubber ucode
   * unlocks the rest first: 256 MiB on TU10x, TU11x and GA10x
   * (`kgspGetPrescrubbedTopFbSize`); none on GA100 (unbounded), on Ada (its
   * `bScrubberUcodeSupported`) and on the FSP path (the FMC scrubs).
   */
  readonly prescrubbedTopSize?: number;
  /** `kgspGetNonWprHeapSize`: 1 MiB Turing–Ada, 2 MiB GH100/GB10x, 2 MiB + 128 KiB GB20x. */
  readonly nonWprHeapSize: number;
  /**
   * PMU reserved memory above FRTS (`pmuReservedSize`), from nova-core's FB
   * HALs: 0 up to Hopper, `align_up(8 MiB + 16 MiB + 4 KiB, 128 KiB)` on
   * Blackwell ("r570-specific"; NVIDIA computes it from the PMU's config).
   */
  readonly pmuReservedSize: number;
  /**
   * Whether the WPR end is clipped to the VBIOS's MMU lock (`memmgrReadMmuLock`
   * is implemented on GA100 only; every other chip reports no lock).
   */
  readonly clipsWprEndToMmuLock: boolean;
  /**
   * `bBootGspRmWithBoostClocks`: WPR meta flag bit 0 (`GSP_FW_FLAGS_CLOCK_BOOST`)
   * is set by default on TU102–AD107 and not on Hopper or Blackwell.
   */
  readonly clockBoostByDefault: boolean;
}

/** `GSP_FW_HEAP_SIZE_VGPU_DEFAULT`: the fixed WPR2 heap when vGPU offload is on (581 MiB). */
export const VGPU_WPR_HEAP_SIZE = 581 * MiB;

/** `GSP_FW_HEAP_PARAM_CLIENT_ALLOC_SIZE`: 48 KiB × 2048 channels = 96 MiB. */
export const HEAP_CLIENT_ALLOC_SIZE = 48 * KiB * 2048;

/** `GSP_FW_HEAP_PARAM_SIZE_PER_GB_FB`: 96 KiB of heap per GiB of VRAM. */
export const HEAP_SIZE_PER_GIB_FB = 96 * KiB;

const LIBOS2 = {
  libos: 2,
  heapOsCarveoutSize: 0,
  heapMinSize: 64 * MiB,
  heapMaxSize: 256 * MiB,
} as const;

const LIBOS3 = {
  libos: 3,
  heapOsCarveoutSize: 22 * MiB,
  heapMinSize: 88 * MiB,
  heapMaxSize: 280 * MiB,
} as const;

const TURING_TO_ADA = {
  heapBaseRmSize: 8 * MiB,
  nonWprHeapSize: 1 * MiB,
  pmuReservedSize: 0,
  clockBoostByDefault: true,
} as const;

const HOPPER_ON = {
  heapBaseRmSize: 14 * MiB,
  clockBoostByDefault: false,
  clipsWprEndToMmuLock: false,
} as const;

const alignUp = (value: number, alignment: number) => Math.ceil(value / alignment) * alignment;
const BLACKWELL_PMU_RESERVED = alignUp(8 * MiB + 16 * MiB + 4 * KiB, 128 * KiB);

/**
 * The FB layout parameters of every chip family (NVIDIA 570.144 HAL tables;
 * see {@linkcode FbLayoutParams} for each field's source).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FB_LAYOUT_PARAMS } from "./fb_params.ts";
 * assert(FB_LAYOUT_PARAMS.ga100.prescrubbedTopSize === undefined);
 * assert(FB_LAYOUT_PARAMS.gb20x.nonWprHeapSize === 0x220000);
 * assert(FB_LAYOUT_PARAMS.gb10x.pmuReservedSize === 0x1820000);
 * ```
 */
export const FB_LAYOUT_PARAMS: Readonly<Record<ChipFamily, FbLayoutParams>> = Object.freeze({
  tu10x: {
    ...LIBOS2,
    ...TURING_TO_ADA,
    prescrubbedTopSize: 256 * MiB,
    clipsWprEndToMmuLock: false,
  },
  tu11x: {
    ...LIBOS2,
    ...TURING_TO_ADA,
    prescrubbedTopSize: 256 * MiB,
    clipsWprEndToMmuLock: false,
  },
  ga100: { ...LIBOS2, ...TURING_TO_ADA, clipsWprEndToMmuLock: true },
  ga10x: {
    ...LIBOS3,
    ...TURING_TO_ADA,
    prescrubbedTopSize: 256 * MiB,
    clipsWprEndToMmuLock: false,
  },
  ad10x: { ...LIBOS3, ...TURING_TO_ADA, clipsWprEndToMmuLock: false },
  gh100: { ...LIBOS3, ...HOPPER_ON, nonWprHeapSize: 2 * MiB, pmuReservedSize: 0 },
  gb10x: {
    ...LIBOS3,
    ...HOPPER_ON,
    nonWprHeapSize: 2 * MiB,
    pmuReservedSize: BLACKWELL_PMU_RESERVED,
  },
  gb20x: {
    ...LIBOS3,
    ...HOPPER_ON,
    nonWprHeapSize: 2 * MiB + 128 * KiB,
    pmuReservedSize: BLACKWELL_PMU_RESERVED,
  },
});
