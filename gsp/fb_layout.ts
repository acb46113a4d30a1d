/**
 * The framebuffer layout the driver hands to Booter on the SEC2 path (Turing,
 * GA100, GA10x, Ada): where the VGA workspace, FRTS, the GSP bootloader, the
 * GSP-RM image, the WPR2 heap, WPR2 itself and the non-WPR heap sit at the
 * top of VRAM. Everything is computed top-down from the end of VRAM, as
 * NVIDIA's `kgspCalculateFbLayout_TU102` (open-gpu-kernel-modules 570.144,
 * `kernel_gsp_tu102.c`) and nova-core's `FbRanges::new` (`fb.rs`) do:
 *
 * ```text
 *   fbSize ──────────────────────────── end of VRAM
 *            VGA workspace               fbSize − 1 MiB, or where PDISP says (see below)
 *   ──────── vbiosReservedOffset         min(VGA start, MMU lock start on GA100)
 *            (alignment)
 *   ──────── gspFwWprEnd = WPR2 end      align_down(vbiosReservedOffset, 128 KiB)
 *            FRTS                        1 MiB (0 on GA100)
 *   ──────── frtsOffset
 *            (alignment)
 *   ──────── bootBinOffset               align_down(frtsOffset − bootloader, 4 KiB)
 *            GSP bootloader
 *            (alignment)
 *   ──────── gspFwOffset                 align_down(bootBinOffset − image, 64 KiB)
 *            GSP-RM image (ELF)
 *            (alignment)
 *   ──────── heap end                    align_down(gspFwOffset, 1 MiB)
 *            WPR2 heap                   see wpr_heap.ts
 *   ──────── gspFwHeapOffset             align_down(gspFwOffset − heap, 1 MiB)
 *            WPR meta slot               1 MiB (GspFwWprMeta in its first 256 bytes)
 *   ──────── gspFwWprStart = WPR2 start  gspFwHeapOffset − 1 MiB
 *            non-WPR heap                1 MiB
 *   ──────── nonWprHeapOffset = gspFwRsvdStart
 *            free VRAM, down to 0
 * ```
 *
 * The VGA workspace: without a display (`NV_FUSE_STATUS_OPT_DISPLAY` bit 0
 * set) or without `NV_PDISP_VGA_WORKSPACE_BASE.STATUS_VALID`, it is the last
 * MiB (the PRAMIN window); otherwise it starts at `ADDR << 16`, unless that is
 * below the last MiB, in which case it is the last 128 KiB.
 *
 * Where NVIDIA and nova-core differ, this follows NVIDIA (the reference's §13):
 * the heap is clamped only to its minimum and to the pre-scrubbed 256 MiB
 * (see `wpr_heap.ts`), and on GA100 the WPR end is clipped to the VBIOS's MMU
 * lock. Hopper and Blackwell boot through the FSP, whose FMC places WPR2
 * itself: for them use {@linkcode computeFbSizes}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * const GiB = 2 ** 30, MiB = 2 ** 20;
 * const layout = computeFbLayout({
 *   chip: "tu102",
 *   fbSize: 24 * GiB,
 *   gspImageSize: 28528288, // gsp-570.144.bin .fwimage
 *   bootloaderSize: 4096, // bootloader-570.144.bin ucode
 * });
 * assert.equal(layout.vgaWorkspace.start, 24 * GiB - MiB);
 * assert.equal(layout.frts.end, 24 * GiB - MiB); // already 128 KiB aligned
 * assert.equal(layout.wpr2.end, layout.frts.end);
 * assert.equal(layout.wpr2Heap.size, 8 * MiB + 3 * MiB + 96 * MiB); // 24 GiB × 96 KiB → 3 MiB
 * ```
 *
 * @module
 */

import { type ChipInfo, FAMILIES } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import { PDISP } from "../registers/pdisp.ts";
import { WPR2_GRANULE } from "../registers/pfb.ts";
import { getField } from "../registers/register.ts";
import { resolveFbChip } from "./_fb_chip.ts";
import { FB_LAYOUT_PARAMS } from "./fb_params.ts";
import { FbLayoutError } from "./fb_layout_error.ts";
import { type WprHeapSize, wprHeapSize } from "./wpr_heap.ts";

export { FbLayoutError };

const KiB = 1024;
const MiB = 1024 * KiB;

/** `DRF_SIZE(NV_PRAMIN)`: the VGA workspace without a valid PDISP base is the last MiB. */
export const PRAMIN_SIZE: number = MiB;
/** `VBIOS_WORKSPACE_SIZE`: a PDISP base below the last MiB is moved to the last 128 KiB. */
export const VBIOS_WORKSPACE_SIZE: number = 128 * KiB;
/** Alignment of the WPR end (`gspFwWprEnd`). */
export const WPR_END_ALIGNMENT: number = 128 * KiB;
/** Alignment of the GSP bootloader's start (`bootBinOffset`). */
export const BOOTLOADER_ALIGNMENT: number = 4 * KiB;
/** Alignment of the GSP-RM image's start (`gspFwOffset`). */
export const ELF_ALIGNMENT: number = 64 * KiB;
/** Alignment of the heaps and of WPR2's start. */
export const HEAP_ALIGNMENT: number = MiB;
/** `sizeof(GspFwWprMeta)`. */
export const WPR_META_SIZE: number = 256;
/** The slot reserved for the WPR meta at WPR2's start: `NV_ALIGN_UP64(sizeof(GspFwWprMeta), 1 MiB)`. */
export const WPR_META_SLOT_SIZE: number = MiB;

const alignDown = (value: number, alignment: number) => Math.floor(value / alignment) * alignment;
const alignUp = (value: number, alignment: number) => Math.ceil(value / alignment) * alignment;

/** A byte range of VRAM, `[start, end)`. */
export interface FbRange {
  /** First byte. */
  readonly start: number;
  /** One past the last byte. */
  readonly end: number;
  /** `end − start`. */
  readonly size: number;
}

const range = (start: number, end: number): FbRange =>
  Object.freeze({ start, end, size: end - start });

/** What the display hardware says about the VGA workspace. */
export interface VgaWorkspaceInput {
  /** A display engine is present: `NV_FUSE_STATUS_OPT_DISPLAY` bit 0 is clear. */
  displayPresent: boolean;
  /** The raw `NV_PDISP_VGA_WORKSPACE_BASE` value (bit 3 STATUS_VALID, bits 31:8 ADDR = start >> 16). */
  pdispVgaWorkspaceBase: number;
}

/** The VBIOS's MMU lock on GA100 (`NV_PFB_PRI_MMU_LOCK_ADDR_LO/HI` VAL << 12), in bytes. */
export interface MmuLockInput {
  /** Lock start. */
  start: number;
  /** Lock end; a lock whose end is below its start is not valid and is ignored, as NVIDIA does. */
  end: number;
}

/** Inputs of {@linkcode computeFbLayout}. */
export interface FbLayoutInput {
  /** The chip, or its name. */
  chip: ChipInfo | string;
  /** Usable VRAM in bytes (a whole number of 4 KiB pages). */
  fbSize: number;
  /** The VGA workspace registers; omitted, no display (the workspace is the last MiB). */
  vgaWorkspace?: VgaWorkspaceInput;
  /** The GSP-RM image (`.fwimage`) size in bytes. */
  gspImageSize: number;
  /** The GSP bootloader ucode size in bytes (the bootloader file's payload). */
  bootloaderSize: number;
  /** GA100 only: the VBIOS's MMU lock, which clips the WPR end. */
  mmuLock?: MmuLockInput;
  /** vGPU offload: the number of VF partitions; when above 0 the heap is a fixed 581 MiB. */
  vfPartitionCount?: number;
  /** The `RmGspFirmwareHeapSizeMB` registry override of the heap size, in MiB. */
  heapSizeOverrideMiB?: number;
}

/** The FB layout of a SEC2-path chip: every region, `[start, end)` in bytes. */
export interface FbLayout {
  /** The chip. */
  readonly chip: ChipInfo;
  /** All of VRAM, `0 .. fbSize`. */
  readonly fb: FbRange;
  /** The VGA workspace, up to the end of VRAM (`vgaWorkspaceOffset`, `vgaWorkspaceSize`). */
  readonly vgaWorkspace: FbRange;
  /** The MMU-locked range below the VGA workspace that clipped the WPR end (GA100), if any. */
  readonly mmuLocked?: FbRange;
  /** FRTS (`frtsOffset`, `frtsSize`); empty on GA100. */
  readonly frts: FbRange;
  /** The GSP bootloader (`bootBinOffset`, `sizeOfBootloader`). */
  readonly boot: FbRange;
  /** The GSP-RM image (`gspFwOffset`, `sizeOfRadix3Elf`). */
  readonly elf: FbRange;
  /** The slot at WPR2's start that holds the 256-byte `GspFwWprMeta`. */
  readonly wprMeta: FbRange;
  /** GSP-RM's heap inside WPR2 (`gspFwHeapOffset`, `gspFwHeapSize`). */
  readonly wpr2Heap: FbRange;
  /** WPR2: `gspFwWprStart .. gspFwWprEnd` (the WPR2 registers must read this after FRTS). */
  readonly wpr2: FbRange;
  /** The non-WPR heap below WPR2 (`nonWprHeapOffset`, `nonWprHeapSize`); its start is `gspFwRsvdStart`. */
  readonly nonWprHeap: FbRange;
  /** How the heap size was reached. */
  readonly heap: WprHeapSize;
  /** `gspFwHeapVfPartitionCount`: 0 without vGPU. */
  readonly vfPartitionCount: number;
  /** `pmuReservedSize`: 0 on every SEC2-path chip. */
  readonly pmuReservedSize: number;
}

function requireBytes(field: string, value: number, granule = 1): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new FbLayoutError(field, value, "must be a positive whole number of bytes");
  }
  if (value % granule !== 0) {
    throw new FbLayoutError(field, value, `must be a multiple of 0x${granule.toString(16)}`);
  }
}

/**
 * Where the VGA workspace starts, from the display fuse and the raw
 * `NV_PDISP_VGA_WORKSPACE_BASE` value (`kdispGetVgaWorkspaceBase_v04_00`).
 *
 * @throws {FbLayoutError} When the register is not a 32-bit value, or points at or past the end of VRAM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vgaWorkspaceStart } from "./fb_layout.ts";
 * const fb = 0x2c0000000; // 11 GiB
 * assert.equal(vgaWorkspaceStart(fb), fb - 0x100000); // no display: the last MiB
 * assert.equal(vgaWorkspaceStart(fb, { displayPresent: true, pdispVgaWorkspaceBase: 0 }), fb - 0x100000);
 * // Valid (bit 3), inside the last MiB: used as is (ADDR 0x2bff0 << 16 = 0x2bff00000).
 * const inside = { displayPresent: true, pdispVgaWorkspaceBase: 0x02bff008 };
 * assert.equal(vgaWorkspaceStart(fb, inside), 0x2bff00000);
 * // Valid, below the last MiB: moved to the last 128 KiB.
 * const below = { displayPresent: true, pdispVgaWorkspaceBase: 0x00010008 };
 * assert.equal(vgaWorkspaceStart(fb, below), fb - 0x20000);
 * ```
 */
export function vgaWorkspaceStart(fbSize: number, vga?: VgaWorkspaceInput): number {
  const base = fbSize - PRAMIN_SIZE;
  if (vga === undefined || !vga.displayPresent) return base;
  const raw = vga.pdispVgaWorkspaceBase;
  if (!Number.isSafeInteger(raw) || raw < 0 || raw > 0xffffffff) {
    throw new FbLayoutError("vgaWorkspace.pdispVgaWorkspaceBase", raw, "is not a 32-bit value");
  }
  const register = PDISP.NV_PDISP_VGA_WORKSPACE_BASE;
  if (getField(register, "STATUS", raw) !== 1) return base;
  const address = getField(register, "ADDR", raw) * 0x10000;
  if (address < base) return fbSize - VBIOS_WORKSPACE_SIZE;
  if (address >= fbSize) {
    throw new FbLayoutError(
      "vgaWorkspace.pdispVgaWorkspaceBase",
      raw,
      `puts the VGA workspace at 0x${address.toString(16)}, at or past the end of VRAM ` +
        `(0x${fbSize.toString(16)})`,
    );
  }
  return address;
}

/**
 * Whether `chip` boots through Booter on SEC2, the path that lays out VRAM
 * with {@linkcode computeFbLayout}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { laysOutFb } from "./fb_layout.ts";
 * assert(laysOutFb("ad102") && !laysOutFb("gh100"));
 * ```
 */
export function laysOutFb(chip: ChipInfo | string): boolean {
  return FAMILIES[resolveFbChip(chip).family].bootPath === "sec2";
}

/**
 * Compute the FB layout of a SEC2-path chip (see the module doc for the
 * formulas and their sources).
 *
 * @throws {FbLayoutError} For an input that is not a positive whole number of
 *   bytes, a VGA workspace past the end of VRAM, an MMU lock on a chip other
 *   than GA100, or VRAM too small to hold the regions.
 * @throws {FalconryError} For an unknown chip, or a chip that boots through the FSP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout, FbLayoutError } from "./fb_layout.ts";
 * const input = { chip: "ga102", gspImageSize: 63541248, bootloaderSize: 24576 };
 * const layout = computeFbLayout({ ...input, fbSize: 24 * 2 ** 30 });
 * assert(layout.nonWprHeap.end === layout.wpr2.start && layout.wpr2.end === layout.frts.end);
 * assert.throws(() => computeFbLayout({ ...input, fbSize: 64 * 2 ** 20 }), FbLayoutError);
 * ```
 */
export function computeFbLayout(input: FbLayoutInput): FbLayout {
  const chip = resolveFbChip(input.chip);
  const family = FAMILIES[chip.family];
  if (family.bootPath !== "sec2") {
    throw new FalconryError(
      `${chip.name} boots the GSP through the FSP, whose FMC places WPR2 itself; only the ` +
        "region sizes are the driver's (computeFbSizes)",
    );
  }
  const params = FB_LAYOUT_PARAMS[chip.family];
  const { fbSize, gspImageSize, bootloaderSize } = input;
  requireBytes("fbSize", fbSize, WPR2_GRANULE);
  requireBytes("gspImageSize", gspImageSize);
  requireBytes("bootloaderSize", bootloaderSize);

  const fb = range(0, fbSize);
  const vgaWorkspace = range(vgaWorkspaceStart(fbSize, input.vgaWorkspace), fbSize);

  let vbiosReservedOffset = vgaWorkspace.start;
  let mmuLocked: FbRange | undefined;
  if (input.mmuLock !== undefined) {
    const { start, end } = input.mmuLock;
    if (!params.clipsWprEndToMmuLock) {
      throw new FbLayoutError(
        "mmuLock.start",
        start,
        `${chip.name} has no VBIOS MMU lock (only GA100's WPR end is clipped to one)`,
      );
    }
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(end) || end < 0) {
      throw new FbLayoutError("mmuLock.start", start, "must be a whole number of bytes");
    }
    if (end >= start && start < vbiosReservedOffset) {
      mmuLocked = range(start, vbiosReservedOffset);
      vbiosReservedOffset = start;
    }
  }

  const wprEnd = alignDown(vbiosReservedOffset, WPR_END_ALIGNMENT);
  const frts = range(wprEnd - family.frtsSize, wprEnd);
  const bootStart = alignDown(frts.start - bootloaderSize, BOOTLOADER_ALIGNMENT);
  const boot = range(bootStart, bootStart + bootloaderSize);
  const elfStart = alignDown(boot.start - gspImageSize, ELF_ALIGNMENT);
  const elf = range(elfStart, elfStart + gspImageSize);

  const nonWprHeapSize = alignUp(params.nonWprHeapSize, HEAP_ALIGNMENT);
  const tooSmall = (needed: number) =>
    new FbLayoutError(
      "fbSize",
      fbSize,
      `too small: the GSP's regions need at least ${
        Math.ceil(needed / MiB)
      } MiB at the top of VRAM`,
    );
  if (elf.start < 0) throw tooSmall(fbSize - elf.start);

  const heap = wprHeapSize({
    chip,
    fbSize,
    vgpu: (input.vfPartitionCount ?? 0) > 0,
    overrideMiB: input.heapSizeOverrideMiB,
    prescrubbed: {
      below: WPR_META_SLOT_SIZE + nonWprHeapSize,
      above: alignUp(fbSize - elf.start, MiB),
    },
  });
  const heapStart = alignDown(elf.start - heap.size, HEAP_ALIGNMENT);
  const wpr2Heap = range(heapStart, alignDown(elf.start, HEAP_ALIGNMENT));
  const wpr2 = range(heapStart - WPR_META_SLOT_SIZE, wprEnd);
  const wprMeta = range(wpr2.start, heapStart);
  const nonWprHeap = range(wpr2.start - nonWprHeapSize, wpr2.start);
  if (nonWprHeap.start < 0) throw tooSmall(fbSize - nonWprHeap.start);

  const vfPartitionCount = input.vfPartitionCount ?? 0;
  if (!Number.isInteger(vfPartitionCount) || vfPartitionCount < 0 || vfPartitionCount > 0xff) {
    throw new FbLayoutError("vfPartitionCount", vfPartitionCount, "must fit a u8 (0 to 255)");
  }

  return Object.freeze({
    chip,
    fb,
    vgaWorkspace,
    ...(mmuLocked ? { mmuLocked } : {}),
    frts,
    boot,
    elf,
    wprMeta,
    wpr2Heap,
    wpr2,
    nonWprHeap,
    heap,
    vfPartitionCount,
    pmuReservedSize: params.pmuReservedSize,
  });
}

/** Inputs of {@linkcode computeFbSizes}. */
export interface FbSizesInput {
  /** The chip, or its name. */
  chip: ChipInfo | string;
  /** Usable VRAM in bytes. */
  fbSize: number;
  /** vGPU offload: the number of VF partitions; when above 0 the heap is a fixed 581 MiB. */
  vfPartitionCount?: number;
  /** The `RmGspFirmwareHeapSizeMB` registry override, in MiB. */
  heapSizeOverrideMiB?: number;
}

/** The region sizes the driver asks the FSP path's FMC for (`kgspCalculateFbLayout_GH100`). */
export interface FbSizes {
  /** The chip. */
  readonly chip: ChipInfo;
  /** Usable VRAM in bytes. */
  readonly fbSize: number;
  /** `frtsSize`: 1 MiB. */
  readonly frtsSize: number;
  /** `gspFwHeapSize`: the heap without the pre-scrubbed cap. */
  readonly wpr2HeapSize: number;
  /** `nonWprHeapSize`, not rounded up (2 MiB + 128 KiB on GB20x). */
  readonly nonWprHeapSize: number;
  /** `pmuReservedSize`. */
  readonly pmuReservedSize: number;
  /** `vgaWorkspaceSize`: 128 KiB, the size to reserve above FRTS. */
  readonly vgaWorkspaceSize: number;
  /** `gspFwHeapVfPartitionCount`. */
  readonly vfPartitionCount: number;
  /** How the heap size was reached. */
  readonly heap: WprHeapSize;
}

/**
 * The region sizes for the FSP path (Hopper, Blackwell), where the FMC lays
 * out WPR2 and the driver passes only sizes (reference §3.8, end; nova-core
 * `FbSizes::new`). Defined for every chip, as the sizes are.
 *
 * @throws {FbLayoutError} For an `fbSize` that is not a positive whole number of bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbSizes } from "./fb_layout.ts";
 * const sizes = computeFbSizes({ chip: "gb202", fbSize: 32 * 2 ** 30 });
 * assert.equal(sizes.nonWprHeapSize, 0x220000);
 * assert.equal(sizes.wpr2HeapSize, (22 + 14 + 3 + 96) * 2 ** 20);
 * assert.equal(sizes.pmuReservedSize, 0x1820000);
 * ```
 */
export function computeFbSizes(input: FbSizesInput): FbSizes {
  const chip = resolveFbChip(input.chip);
  const params = FB_LAYOUT_PARAMS[chip.family];
  requireBytes("fbSize", input.fbSize);
  const vfPartitionCount = input.vfPartitionCount ?? 0;
  if (!Number.isInteger(vfPartitionCount) || vfPartitionCount < 0 || vfPartitionCount > 0xff) {
    throw new FbLayoutError("vfPartitionCount", vfPartitionCount, "must fit a u8 (0 to 255)");
  }
  const heap = wprHeapSize({
    chip,
    fbSize: input.fbSize,
    vgpu: (input.vfPartitionCount ?? 0) > 0,
    overrideMiB: input.heapSizeOverrideMiB,
  });
  return Object.freeze({
    chip,
    fbSize: input.fbSize,
    frtsSize: FAMILIES[chip.family].frtsSize,
    wpr2HeapSize: heap.size,
    nonWprHeapSize: params.nonWprHeapSize,
    pmuReservedSize: params.pmuReservedSize,
    vgaWorkspaceSize: VBIOS_WORKSPACE_SIZE,
    vfPartitionCount,
    heap,
  });
}
