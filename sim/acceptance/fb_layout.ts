/**
 * The framebuffer layout the simulated Booter expects, computed top-down
 * from the end of VRAM with the simulator's own code (nova-core-boot.md
 * §3.5, with NVIDIA's open modules winning where they differ, §13):
 *
 * | region | computation |
 * |---|---|
 * | vga workspace | {@linkcode vgaWorkspaceBase} .. fb end |
 * | top | `align_down(vga.start, 128 KiB)`; GA100: `align_down(min(MMU lock, vga.start), 128 KiB)` (§13) |
 * | frts | 1 MiB (GA100: 0) ending at top |
 * | boot | bootloader size; `start = align_down(frts.start − size, 4 KiB)` |
 * | elf | GSP image size; `start = align_down(boot.start − size, 64 KiB)` |
 * | wpr2 heap | {@linkcode wprHeapSize}; `start = align_down(elf.start − heap, 1 MiB)`, `end = align_down(elf.start, 1 MiB)` |
 * | wpr2 | `start = align_down(heap.start − 256, 1 MiB)`, `end = frts.end` |
 * | non-WPR heap | 1 MiB below wpr2 |
 *
 * The heap follows NVIDIA, not nova-core: only the minimum applies (no
 * maximum clamp), and on TU10x and GA102–GA107 the heap is capped so that
 * everything from the GSP image up fits in the 256 MiB pre-scrubbed at the
 * top of VRAM (`kgspGetPrescrubbedTopFbSize`). Base RM size is 8 MiB on
 * Turing/Ampere/Ada (`GSP_FW_HEAP_PARAM_BASE_RM_SIZE_TU10X`).
 *
 * @example TU102 with 8 GiB and no display: a 105 MiB heap
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * const fb = computeFbLayout({
 *   chipset: 0x162, fbSize: 8 * 2 ** 30, displayFuse: 1, vgaWorkspaceRegister: 0,
 *   bootloaderSize: 4096, gspImageSize: 28_000_000,
 * });
 * assert.equal(fb.heapSize, 105 * 2 ** 20);
 * assert.equal(fb.frts.end, 8 * 2 ** 30 - 2 ** 20);
 * ```
 *
 * @module
 */

import { GA100, GA102 } from "./_chip.ts";
import { alignDown, alignUp, GiB, KiB, MiB } from "./_util.ts";

/** A byte range `[start, end)` in VRAM. */
export interface FbRange {
  /** First byte. */
  start: number;
  /** One past the last byte. */
  end: number;
}

/** Inputs of {@linkcode computeFbLayout}: what the chip knows and the firmware sizes. */
export interface FbLayoutInput {
  /** Chipset id (0x162 TU102, 0x170 GA100, 0x172 GA102, 0x192 AD102, …). */
  chipset: number;
  /** Usable VRAM in bytes. */
  fbSize: number;
  /** `NV_FUSE_STATUS_OPT_DISPLAY` raw value; bit 0 clear means a display is present. */
  displayFuse: number;
  /** `NV_PDISP_VGA_WORKSPACE_BASE` raw value (bit 3 valid, bits 31:8 = address >> 16). */
  vgaWorkspaceRegister: number;
  /** The GSP bootloader blob's size. */
  bootloaderSize: number;
  /** The GSP image (`.fwimage`) size. */
  gspImageSize: number;
  /** GA100 only: the MMU lock's start address when the lock is valid. */
  mmuLockStart?: number;
}

/** The layout. */
export interface FbLayout {
  /** All of VRAM. */
  fb: FbRange;
  /** The VGA workspace. */
  vga: FbRange;
  /** The FRTS region (empty on GA100). */
  frts: FbRange;
  /** The GSP bootloader. */
  boot: FbRange;
  /** The GSP image. */
  elf: FbRange;
  /** The WPR2 heap. */
  wpr2Heap: FbRange;
  /** WPR2. */
  wpr2: FbRange;
  /** The non-WPR heap. */
  nonWprHeap: FbRange;
  /** The heap size before alignment. */
  heapSize: number;
  /** `gspFwWprEnd`. */
  wprEnd: number;
  /** `pmuReservedSize` (0 on these chips). */
  pmuReservedSize: number;
}

const PRAMIN_SIZE = MiB;
const PRESCRUBBED_TOP = 256 * MiB;
const GSP_FW_WPR_META_SIZE = 256;
/** The meta's slot below the WPR2 heap: `NV_ALIGN_UP64(sizeof(GspFwWprMeta), 1 MiB)`. */
const GSP_FW_WPR_META_SLOT = MiB;
/** `kgspGetNonWprHeapSize` on these chips. */
const NON_WPR_HEAP_SIZE = MiB;

/**
 * Where the VGA workspace starts (§3.5): 1 MiB below the end of VRAM, unless
 * a display is present and PDISP names a valid base at or above that; a
 * valid base below it means the last 128 KiB.
 *
 * @param fbSize Usable VRAM.
 * @param displayFuse The display fuse (bit 0 clear: display present).
 * @param vgaWorkspaceRegister `NV_PDISP_VGA_WORKSPACE_BASE`.
 * @returns The VGA workspace's first byte.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vgaWorkspaceBase } from "./fb_layout.ts";
 * const fb = 2 ** 33;
 * assert.equal(vgaWorkspaceBase(fb, 1, 0), fb - 2 ** 20); // no display
 * assert.equal(vgaWorkspaceBase(fb, 0, (((fb - 0x20000) / 65536) << 8) | 8), fb - 0x20000);
 * assert.equal(vgaWorkspaceBase(fb, 0, 0x100 | 8), fb - 0x20000); // valid but too low
 * ```
 */
export function vgaWorkspaceBase(
  fbSize: number,
  displayFuse: number,
  vgaWorkspaceRegister: number,
): number {
  const base = fbSize - PRAMIN_SIZE;
  const displayPresent = (displayFuse & 1) === 0;
  if (!displayPresent || (vgaWorkspaceRegister & 0x8) === 0) return base;
  const address = (vgaWorkspaceRegister >>> 8) * 65536;
  return address < base ? fbSize - 128 * KiB : address;
}

/**
 * The WPR2 heap size for a chip and VRAM size (§3.5 with NVIDIA's rules):
 * `carveout + base RM + align_up(96 MiB, 1 MiB) + align_up(96 KiB × ⌈fb / 1 GiB⌉, 1 MiB)`,
 * at least the minimum (64 MiB LibOS2, 88 MiB LibOS3), and on TU10x and
 * GA102–GA107 at most `⌊(256 MiB − (1 MiB meta + 1 MiB non-WPR heap +
 * align_up(fb − elfStart, 1 MiB))) / 1 MiB⌋` MiB (NVIDIA `kgspGetFwHeapSize_IMPL`).
 *
 * @param chipset The chip.
 * @param fbSize Usable VRAM.
 * @param elfStart Where the GSP image starts (for the pre-scrubbed cap).
 * @returns Bytes.
 *
 * @example GA102 with 24 GiB: 129 MiB
 * ```ts
 * import assert from "node:assert/strict";
 * import { wprHeapSize } from "./fb_layout.ts";
 * assert.equal(wprHeapSize(0x172, 24 * 2 ** 30, 24 * 2 ** 30 - 70 * 2 ** 20), 129 * 2 ** 20);
 * ```
 */
export function wprHeapSize(chipset: number, fbSize: number, elfStart: number): number {
  const libos3 = chipset >= GA102;
  const carveout = libos3 ? 22 * MiB : 0;
  const baseRm = 8 * MiB;
  const minimum = (libos3 ? 88 : 64) * MiB;
  const perGb = alignUp(96 * KiB * Math.ceil(fbSize / GiB), MiB);
  let heap = Math.max(carveout + baseRm + alignUp(96 * MiB, MiB) + perGb, minimum);
  const prescrubbedCap = (chipset >= 0x162 && chipset <= 0x168) ||
    (chipset >= GA102 && chipset <= 0x177);
  if (prescrubbedCap) {
    // NVIDIA kgspGetFwHeapSize_IMPL (570.144): what must share the pre-scrubbed top of VRAM
    // with the heap is the 1 MiB meta slot and the 1 MiB non-WPR heap below it (anterior) and
    // everything from the GSP image up, rounded up to MiB (posterior); the cap is in whole MiB.
    const anterior = GSP_FW_WPR_META_SLOT + NON_WPR_HEAP_SIZE;
    const posterior = alignUp(fbSize - elfStart, MiB);
    const capMiB = Math.floor((PRESCRUBBED_TOP - (anterior + posterior)) / MiB);
    heap = Math.min(heap, Math.max(capMiB, 0) * MiB);
  }
  return heap;
}

/**
 * The whole layout.
 *
 * @param input The chip's facts and the firmware sizes.
 * @returns Every region.
 *
 * @example GA100 has no FRTS region
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * const fb = computeFbLayout({
 *   chipset: 0x170, fbSize: 40 * 2 ** 30, displayFuse: 1, vgaWorkspaceRegister: 0,
 *   bootloaderSize: 4096, gspImageSize: 28_000_000, mmuLockStart: 40 * 2 ** 30 - 8 * 2 ** 20,
 * });
 * assert(fb.frts.start === fb.frts.end && fb.wprEnd === 40 * 2 ** 30 - 8 * 2 ** 20);
 * ```
 */
export function computeFbLayout(input: FbLayoutInput): FbLayout {
  const { chipset, fbSize } = input;
  const fb = { start: 0, end: fbSize };
  const vga = {
    start: vgaWorkspaceBase(fbSize, input.displayFuse, input.vgaWorkspaceRegister),
    end: fbSize,
  };
  // NVIDIA kgspCalculateFbLayout_TU102: vbiosReservedOffset = min(MMU lock, VGA start) first,
  // then the WPR end is that aligned down to 128 KiB (an unaligned lock never leaves it unaligned).
  const reserved = chipset === GA100 && input.mmuLockStart !== undefined
    ? Math.min(vga.start, input.mmuLockStart)
    : vga.start;
  const top = alignDown(reserved, 128 * KiB);
  const frtsSize = chipset === GA100 ? 0 : MiB;
  const frts = { start: top - frtsSize, end: top };
  const bootStart = alignDown(frts.start - input.bootloaderSize, 4 * KiB);
  const boot = { start: bootStart, end: bootStart + input.bootloaderSize };
  const elfStart = alignDown(boot.start - input.gspImageSize, 64 * KiB);
  const elf = { start: elfStart, end: elfStart + input.gspImageSize };
  const heapSize = wprHeapSize(chipset, fbSize, elf.start);
  const wpr2Heap = {
    start: alignDown(elf.start - heapSize, MiB),
    end: alignDown(elf.start, MiB),
  };
  const wpr2 = { start: alignDown(wpr2Heap.start - GSP_FW_WPR_META_SIZE, MiB), end: frts.end };
  const nonWprHeap = { start: wpr2.start - MiB, end: wpr2.start };
  return {
    fb,
    vga,
    frts,
    boot,
    elf,
    wpr2Heap,
    wpr2,
    nonWprHeap,
    heapSize,
    wprEnd: top,
    pmuReservedSize: 0,
  };
}
