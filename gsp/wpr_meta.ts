/**
 * `GspFwWprMeta`: the 256-byte structure that tells Booter (SEC2 path) or the
 * FMC (FSP path) where GSP-RM's image, bootloader and signature are in system
 * memory and how WPR2 is laid out in VRAM. Booter verifies it and copies it to
 * the start of WPR2.
 *
 * Offsets and constants are NVIDIA's `gsp_fw_wpr_meta.h` (open-gpu-kernel-modules
 * 570.144, `src/nvidia/arch/nvalloc/common/inc/gsp/`), checked against
 * `gsp_abi_check.c` and nova-core's r570.144 bindings (reference §3.8, §13).
 * The values are those of `kgspCalculateFbLayout_TU102` (SEC2 path) and
 * `kgspCalculateFbLayout_GH100` (FSP path: sizes only, every FB offset 0).
 * `flags` bit 0 (clock boost) is set by default on TU102–AD107, as NVIDIA
 * does (`bBootGspRmWithBoostClocks`); nova-core leaves `flags` 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * import { buildWprMeta, decodeWprMeta, GSP_FW_WPR_META_MAGIC } from "./wpr_meta.ts";
 * const layout = computeFbLayout({
 *   chip: "tu102", fbSize: 24 * 2 ** 30, gspImageSize: 28528288, bootloaderSize: 4096,
 * });
 * const bytes = buildWprMeta(layout, {
 *   radix3Address: 0x1_0000_0000n,
 *   bootloader: { dmaAddress: 0x2000_0000n, size: 4096, codeOffset: 0, dataOffset: 0, manifestOffset: 0 },
 *   signature: { dmaAddress: 0x3000_0000n, size: 4096 },
 * });
 * assert.equal(bytes.length, 256);
 * const meta = decodeWprMeta(bytes);
 * assert.equal(meta.magic, GSP_FW_WPR_META_MAGIC);
 * assert.equal(meta.gspFwWprStart, BigInt(layout.wpr2.start));
 * assert.equal(meta.flags, 1); // clock boost, on by default on TU102–AD107
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { FB_LAYOUT_PARAMS } from "./fb_params.ts";
import { type FbLayout, FbLayoutError, type FbSizes, WPR_META_SIZE } from "./fb_layout.ts";

/** `GSP_FW_WPR_META_MAGIC`. */
export const GSP_FW_WPR_META_MAGIC = 0xdc3aae21371a60b3n;
/** `GSP_FW_WPR_META_REVISION`. */
export const GSP_FW_WPR_META_REVISION = 1n;
/** `GSP_FW_WPR_META_VERIFIED`: what Booter writes into `verified` once it accepts the meta. */
export const GSP_FW_WPR_META_VERIFIED = 0xa0a0a0a0a0a0a0a0n;

/** The bits of the `flags` byte. */
export interface GspFwFlags {
  /** Boot GSP-RM with boost clocks (NVIDIA's default on TU102–AD107). */
  readonly CLOCK_BOOST: number;
  /** A recovery margin follows the WPR end (set only on a retried boot). */
  readonly RECOVERY_MARGIN_PRESENT: number;
  /** Protected PCIe (multi-GPU confidential computing). */
  readonly PPCIE_ENABLED: number;
}

/** `GSP_FW_FLAGS_*`: bits of the `flags` byte. */
export const GSP_FW_FLAGS: GspFwFlags = Object.freeze({
  /** Boot GSP-RM with boost clocks (NVIDIA's default on TU102–AD107). */
  CLOCK_BOOST: 1 << 0,
  /** A recovery margin follows the WPR end (set only on a retried boot). */
  RECOVERY_MARGIN_PRESENT: 1 << 1,
  /** Protected PCIe (multi-GPU confidential computing). */
  PPCIE_ENABLED: 1 << 2,
});

/** The decoded structure. u64 fields are `bigint`, narrower ones `number`. */
export interface GspFwWprMeta {
  /** 0x00: {@linkcode GSP_FW_WPR_META_MAGIC}. */
  magic: bigint;
  /** 0x08: {@linkcode GSP_FW_WPR_META_REVISION}. */
  revision: bigint;
  /** 0x10: DMA address of the radix3 level-0 page. */
  sysmemAddrOfRadix3Elf: bigint;
  /** 0x18: GSP-RM image size. */
  sizeOfRadix3Elf: bigint;
  /** 0x20: DMA address of the bootloader ucode. */
  sysmemAddrOfBootloader: bigint;
  /** 0x28: bootloader ucode size. */
  sizeOfBootloader: bigint;
  /** 0x30: the bootloader descriptor's `monitorCodeOffset`. */
  bootloaderCodeOffset: bigint;
  /** 0x38: the bootloader descriptor's `monitorDataOffset`. */
  bootloaderDataOffset: bigint;
  /** 0x40: the bootloader descriptor's `manifestOffset`. */
  bootloaderManifestOffset: bigint;
  /** 0x48: DMA address of the chip's signature (`.fwsignature_*` copy). */
  sysmemAddrOfSignature: bigint;
  /** 0x50: signature size. */
  sizeOfSignature: bigint;
  /** 0x58: start of everything the GSP reserves (= `nonWprHeapOffset`). */
  gspFwRsvdStart: bigint;
  /** 0x60: non-WPR heap start. */
  nonWprHeapOffset: bigint;
  /** 0x68: non-WPR heap size. */
  nonWprHeapSize: bigint;
  /** 0x70: WPR2 start, where this structure is placed. */
  gspFwWprStart: bigint;
  /** 0x78: WPR2 heap start. */
  gspFwHeapOffset: bigint;
  /** 0x80: WPR2 heap size. */
  gspFwHeapSize: bigint;
  /** 0x88: GSP-RM image start in VRAM. */
  gspFwOffset: bigint;
  /** 0x90: bootloader start in VRAM. */
  bootBinOffset: bigint;
  /** 0x98: FRTS start. */
  frtsOffset: bigint;
  /** 0xa0: FRTS size. */
  frtsSize: bigint;
  /** 0xa8: WPR2 end (128 KiB aligned). */
  gspFwWprEnd: bigint;
  /** 0xb0: usable VRAM size. */
  fbSize: bigint;
  /** 0xb8: VGA workspace start. */
  vgaWorkspaceOffset: bigint;
  /** 0xc0: VGA workspace size. */
  vgaWorkspaceSize: bigint;
  /** 0xc8: boot count (0 at first boot). */
  bootCount: bigint;
  /** 0xd0: partition RPC address (partitioned boots only). */
  partitionRpcAddr: bigint;
  /** 0xd8: partition RPC request offset. */
  partitionRpcRequestOffset: number;
  /** 0xda: partition RPC reply offset. */
  partitionRpcReplyOffset: number;
  /** 0xdc: ELF code offset (partitioned boots only). */
  elfCodeOffset: number;
  /** 0xe0: ELF data offset; shares its bytes with the low half of `sysmemAddrOfCrashReportQueue`. */
  elfDataOffset: number;
  /** 0xe4: ELF code size; shares its bytes with the high half of `sysmemAddrOfCrashReportQueue`. */
  elfCodeSize: number;
  /** 0xe8: ELF data size; shares its bytes with `sizeOfCrashReportQueue`. */
  elfDataSize: number;
  /** 0xec: LS ucode version (checked on resume). */
  lsUcodeVersion: number;
  /** 0xe0 (union): DMA address of the CrashCat queue. */
  sysmemAddrOfCrashReportQueue: bigint;
  /** 0xe8 (union): CrashCat queue size. */
  sizeOfCrashReportQueue: number;
  /** 0xf0: `gspFwHeapVfPartitionCount`. */
  gspFwHeapVfPartitionCount: number;
  /** 0xf1: {@linkcode GSP_FW_FLAGS}. */
  flags: number;
  /** 0xf4: PMU reserved memory size. */
  pmuReservedSize: number;
  /** 0xf8: 0, or {@linkcode GSP_FW_WPR_META_VERIFIED} once Booter accepted it. */
  verified: bigint;
}

/** A field's name, byte offset and width. */
export interface WprMetaField {
  /** Field name. */
  readonly name: keyof GspFwWprMeta;
  /** Byte offset. */
  readonly offset: number;
  /** Width in bytes. */
  readonly size: 1 | 2 | 4 | 8;
}

const u64 = [
  "magic",
  "revision",
  "sysmemAddrOfRadix3Elf",
  "sizeOfRadix3Elf",
  "sysmemAddrOfBootloader",
  "sizeOfBootloader",
  "bootloaderCodeOffset",
  "bootloaderDataOffset",
  "bootloaderManifestOffset",
  "sysmemAddrOfSignature",
  "sizeOfSignature",
  "gspFwRsvdStart",
  "nonWprHeapOffset",
  "nonWprHeapSize",
  "gspFwWprStart",
  "gspFwHeapOffset",
  "gspFwHeapSize",
  "gspFwOffset",
  "bootBinOffset",
  "frtsOffset",
  "frtsSize",
  "gspFwWprEnd",
  "fbSize",
  "vgaWorkspaceOffset",
  "vgaWorkspaceSize",
  "bootCount",
  "partitionRpcAddr",
] as const;

/**
 * Every field at its offset, in offset order; the CrashCat pair overlays the
 * ELF fields (the structure's second union).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WPR_META_FIELDS } from "./wpr_meta.ts";
 * const at = (name: string) => WPR_META_FIELDS.find((f) => f.name === name)?.offset;
 * assert.equal(at("gspFwWprEnd"), 0xa8);
 * assert.equal(at("flags"), 0xf1);
 * assert.equal(at("verified"), 0xf8);
 * ```
 */
export const WPR_META_FIELDS: readonly WprMetaField[] = Object.freeze([
  ...u64.map((name, i) => ({ name, offset: 8 * i, size: 8 as const })),
  { name: "partitionRpcRequestOffset", offset: 0xd8, size: 2 },
  { name: "partitionRpcReplyOffset", offset: 0xda, size: 2 },
  { name: "elfCodeOffset", offset: 0xdc, size: 4 },
  { name: "elfDataOffset", offset: 0xe0, size: 4 },
  { name: "sysmemAddrOfCrashReportQueue", offset: 0xe0, size: 8 },
  { name: "elfCodeSize", offset: 0xe4, size: 4 },
  { name: "elfDataSize", offset: 0xe8, size: 4 },
  { name: "sizeOfCrashReportQueue", offset: 0xe8, size: 4 },
  { name: "lsUcodeVersion", offset: 0xec, size: 4 },
  { name: "gspFwHeapVfPartitionCount", offset: 0xf0, size: 1 },
  { name: "flags", offset: 0xf1, size: 1 },
  { name: "pmuReservedSize", offset: 0xf4, size: 4 },
  { name: "verified", offset: 0xf8, size: 8 },
] as WprMetaField[]);

/** Where the firmware blobs are in system memory (DMA addresses as the GPU sees them). */
export interface WprMetaSysmem {
  /** DMA address of the radix3 level-0 page that maps the GSP-RM image. */
  radix3Address: bigint;
  /** The bootloader ucode: its DMA address, size and the descriptor's offsets. */
  bootloader: {
    /** DMA address. */
    dmaAddress: bigint;
    /** Size in bytes (must equal the layout's bootloader size). */
    size: number;
    /** `monitorCodeOffset`. */
    codeOffset: number;
    /** `monitorDataOffset`. */
    dataOffset: number;
    /** `manifestOffset`. */
    manifestOffset: number;
  };
  /** The chip's signature copy. */
  signature: {
    /** DMA address. */
    dmaAddress: bigint;
    /** Size in bytes. */
    size: number;
  };
  /** The CrashCat queue, where one is allocated in system memory. */
  crashReportQueue?: {
    /** DMA address. */
    dmaAddress: bigint;
    /** Size in bytes. */
    size: number;
  };
  /** The `flags` byte; default the family's (clock boost on TU102–AD107, 0 later). */
  flags?: number;
}

/** {@linkcode WprMetaSysmem} for the FSP path, which has no layout to take the image size from. */
export interface FspWprMetaSysmem extends WprMetaSysmem {
  /** The GSP-RM image (`.fwimage`) size in bytes. */
  gspImageSize: number;
}

function blankMeta(): GspFwWprMeta {
  const meta = {} as Record<string, bigint | number>;
  for (const f of WPR_META_FIELDS) meta[f.name] = f.size === 8 ? 0n : 0;
  return meta as unknown as GspFwWprMeta;
}

function u64Of(field: string, value: bigint | number): bigint {
  const v = typeof value === "bigint" ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v >= 1n << 64n) {
    throw new FbLayoutError(field, Number(value), "must be a whole number that fits 64 bits");
  }
  return v;
}

function sysmemFields(meta: GspFwWprMeta, sysmem: WprMetaSysmem, imageSize: number): void {
  meta.magic = GSP_FW_WPR_META_MAGIC;
  meta.revision = GSP_FW_WPR_META_REVISION;
  meta.sysmemAddrOfRadix3Elf = u64Of("radix3Address", sysmem.radix3Address);
  meta.sizeOfRadix3Elf = u64Of("gspImageSize", imageSize);
  const bl = sysmem.bootloader;
  meta.sysmemAddrOfBootloader = u64Of("bootloader.dmaAddress", bl.dmaAddress);
  meta.sizeOfBootloader = u64Of("bootloader.size", bl.size);
  meta.bootloaderCodeOffset = u64Of("bootloader.codeOffset", bl.codeOffset);
  meta.bootloaderDataOffset = u64Of("bootloader.dataOffset", bl.dataOffset);
  meta.bootloaderManifestOffset = u64Of("bootloader.manifestOffset", bl.manifestOffset);
  meta.sysmemAddrOfSignature = u64Of("signature.dmaAddress", sysmem.signature.dmaAddress);
  meta.sizeOfSignature = u64Of("signature.size", sysmem.signature.size);
  const queue = sysmem.crashReportQueue;
  if (queue !== undefined) {
    meta.sysmemAddrOfCrashReportQueue = u64Of("crashReportQueue.dmaAddress", queue.dmaAddress);
    if (!Number.isSafeInteger(queue.size) || queue.size < 0 || queue.size > 0xffffffff) {
      throw new FbLayoutError("crashReportQueue.size", queue.size, "must fit 32 bits");
    }
    meta.sizeOfCrashReportQueue = queue.size;
  }
}

function flagsOf(sysmem: WprMetaSysmem, defaultFlags: number): number {
  const flags = sysmem.flags ?? defaultFlags;
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff) {
    throw new FbLayoutError("flags", flags, "must fit a byte");
  }
  return flags;
}

/**
 * The WPR meta of a SEC2-path boot, from the FB layout and where the blobs
 * are in system memory, as `kgspCalculateFbLayout_TU102` fills it.
 *
 * @throws {FbLayoutError} When an address or size does not fit its field, or
 *   the bootloader size differs from the one the layout was computed with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * import { wprMetaOf } from "./wpr_meta.ts";
 * const layout = computeFbLayout({
 *   chip: "ga102", fbSize: 24 * 2 ** 30, gspImageSize: 63541248, bootloaderSize: 24576,
 * });
 * const meta = wprMetaOf(layout, {
 *   radix3Address: 0x1000n,
 *   bootloader: { dmaAddress: 0x2000n, size: 24576, codeOffset: 6144, dataOffset: 2048, manifestOffset: 0 },
 *   signature: { dmaAddress: 0x9000n, size: 4096 },
 * });
 * assert.equal(meta.gspFwRsvdStart, meta.nonWprHeapOffset);
 * assert.equal(meta.gspFwWprEnd, meta.frtsOffset + meta.frtsSize);
 * ```
 */
export function wprMetaOf(layout: FbLayout, sysmem: WprMetaSysmem): GspFwWprMeta {
  if (sysmem.bootloader.size !== layout.boot.size) {
    throw new FbLayoutError(
      "bootloader.size",
      sysmem.bootloader.size,
      `differs from the ${layout.boot.size} bytes the FB layout reserved for the bootloader`,
    );
  }
  const meta = blankMeta();
  sysmemFields(meta, sysmem, layout.elf.size);
  const params = FB_LAYOUT_PARAMS[layout.chip.family];
  const b = (n: number) => BigInt(n);
  meta.gspFwRsvdStart = b(layout.nonWprHeap.start);
  meta.nonWprHeapOffset = b(layout.nonWprHeap.start);
  meta.nonWprHeapSize = b(layout.nonWprHeap.size);
  meta.gspFwWprStart = b(layout.wpr2.start);
  meta.gspFwHeapOffset = b(layout.wpr2Heap.start);
  meta.gspFwHeapSize = b(layout.wpr2Heap.size);
  meta.gspFwOffset = b(layout.elf.start);
  meta.bootBinOffset = b(layout.boot.start);
  meta.frtsOffset = b(layout.frts.start);
  meta.frtsSize = b(layout.frts.size);
  meta.gspFwWprEnd = b(layout.wpr2.end);
  meta.fbSize = b(layout.fb.size);
  meta.vgaWorkspaceOffset = b(layout.vgaWorkspace.start);
  meta.vgaWorkspaceSize = b(layout.vgaWorkspace.size);
  meta.gspFwHeapVfPartitionCount = layout.vfPartitionCount;
  meta.flags = flagsOf(sysmem, params.clockBoostByDefault ? GSP_FW_FLAGS.CLOCK_BOOST : 0);
  meta.pmuReservedSize = layout.pmuReservedSize;
  return meta;
}

/**
 * The WPR meta of an FSP-path boot (Hopper, Blackwell), as
 * `kgspCalculateFbLayout_GH100` fills it: the blobs' addresses and the region
 * sizes; every FB offset stays 0, for the FMC fills them in.
 *
 * @throws {FbLayoutError} When an address or size does not fit its field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbSizes } from "./fb_layout.ts";
 * import { fspWprMetaOf } from "./wpr_meta.ts";
 * const sizes = computeFbSizes({ chip: "gh100", fbSize: 80 * 2 ** 30 });
 * const meta = fspWprMetaOf(sizes, {
 *   gspImageSize: 63541248,
 *   radix3Address: 0x1000n,
 *   bootloader: { dmaAddress: 0x2000n, size: 167936, codeOffset: 45312, dataOffset: 2560, manifestOffset: 0 },
 *   signature: { dmaAddress: 0x9000n, size: 4096 },
 * });
 * assert.equal(meta.gspFwHeapSize, 140n * 2n ** 20n);
 * assert.equal(meta.vgaWorkspaceSize, 0x20000n);
 * assert.equal(meta.gspFwWprStart, 0n);
 * assert.equal(meta.flags, 0);
 * ```
 */
export function fspWprMetaOf(sizes: FbSizes, sysmem: FspWprMetaSysmem): GspFwWprMeta {
  const meta = blankMeta();
  sysmemFields(meta, sysmem, sysmem.gspImageSize);
  meta.nonWprHeapSize = BigInt(sizes.nonWprHeapSize);
  meta.gspFwHeapSize = BigInt(sizes.wpr2HeapSize);
  meta.frtsSize = BigInt(sizes.frtsSize);
  meta.vgaWorkspaceSize = BigInt(sizes.vgaWorkspaceSize);
  meta.gspFwHeapVfPartitionCount = sizes.vfPartitionCount;
  meta.pmuReservedSize = sizes.pmuReservedSize;
  const params = FB_LAYOUT_PARAMS[sizes.chip.family];
  meta.flags = flagsOf(sysmem, params.clockBoostByDefault ? GSP_FW_FLAGS.CLOCK_BOOST : 0);
  return meta;
}

/**
 * The 256 bytes of `meta`, little-endian. Where the two unions overlap, the
 * CrashCat pair is written when it is set, the ELF fields otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWprMeta, encodeWprMeta } from "./wpr_meta.ts";
 * const bytes = new Uint8Array(256);
 * bytes[0xf1] = 1;
 * assert.deepEqual(encodeWprMeta(decodeWprMeta(bytes)), bytes);
 * ```
 */
export function encodeWprMeta(meta: GspFwWprMeta): Uint8Array {
  const bytes = new Uint8Array(WPR_META_SIZE);
  const view = new DataView(bytes.buffer);
  const crashCat = meta.sysmemAddrOfCrashReportQueue !== 0n || meta.sizeOfCrashReportQueue !== 0;
  const overlaid = crashCat
    ? new Set(["elfDataOffset", "elfCodeSize", "elfDataSize"])
    : new Set(["sysmemAddrOfCrashReportQueue", "sizeOfCrashReportQueue"]);
  for (const f of WPR_META_FIELDS) {
    if (overlaid.has(f.name)) continue;
    const value = meta[f.name];
    if (f.size === 8) view.setBigUint64(f.offset, u64Of(f.name, value), true);
    else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0 || n >= 2 ** (8 * f.size)) {
        throw new FbLayoutError(f.name, n, `must fit ${8 * f.size} bits`);
      }
      if (f.size === 4) view.setUint32(f.offset, n, true);
      else if (f.size === 2) view.setUint16(f.offset, n, true);
      else view.setUint8(f.offset, n);
    }
  }
  return bytes;
}

/**
 * Build the WPR meta bytes of a SEC2-path boot: {@linkcode wprMetaOf} then
 * {@linkcode encodeWprMeta}.
 *
 * @throws {FbLayoutError} As {@linkcode wprMetaOf}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * import { buildWprMeta } from "./wpr_meta.ts";
 * const layout = computeFbLayout({
 *   chip: "ad102", fbSize: 24 * 2 ** 30, gspImageSize: 63541248, bootloaderSize: 36864,
 * });
 * const bytes = buildWprMeta(layout, {
 *   radix3Address: 0x1000n,
 *   bootloader: { dmaAddress: 0x2000n, size: 36864, codeOffset: 18432, dataOffset: 2048, manifestOffset: 0 },
 *   signature: { dmaAddress: 0x9000n, size: 4096 },
 * });
 * const view = new DataView(bytes.buffer);
 * assert.equal(view.getBigUint64(0x70, true), BigInt(layout.wpr2.start));
 * ```
 */
export function buildWprMeta(layout: FbLayout, sysmem: WprMetaSysmem): Uint8Array {
  return encodeWprMeta(wprMetaOf(layout, sysmem));
}

/**
 * Build the WPR meta bytes of an FSP-path boot: {@linkcode fspWprMetaOf} then
 * {@linkcode encodeWprMeta}.
 *
 * @throws {FbLayoutError} As {@linkcode fspWprMetaOf}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbSizes } from "./fb_layout.ts";
 * import { buildFspWprMeta } from "./wpr_meta.ts";
 * const bytes = buildFspWprMeta(computeFbSizes({ chip: "gb100", fbSize: 192 * 2 ** 30 }), {
 *   gspImageSize: 63541248,
 *   radix3Address: 0x1000n,
 *   bootloader: { dmaAddress: 0x2000n, size: 200704, codeOffset: 45312, dataOffset: 2560, manifestOffset: 0 },
 *   signature: { dmaAddress: 0x9000n, size: 4096 },
 * });
 * assert.equal(new DataView(bytes.buffer).getUint32(0xf4, true), 0x1820000);
 * ```
 */
export function buildFspWprMeta(sizes: FbSizes, sysmem: FspWprMetaSysmem): Uint8Array {
  return encodeWprMeta(fspWprMetaOf(sizes, sysmem));
}

/**
 * Decode 256 bytes of `GspFwWprMeta` for inspection. Nothing is checked but
 * the length: a wrong magic is shown, not refused.
 *
 * @param bytes Exactly 256 bytes.
 * @param file Where they came from, for errors.
 * @throws {FirmwareFormatError} When `bytes` is not 256 bytes long.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWprMeta } from "./wpr_meta.ts";
 * const bytes = new Uint8Array(256);
 * new DataView(bytes.buffer).setBigUint64(0xb0, 0x600000000n, true);
 * assert.equal(decodeWprMeta(bytes).fbSize, 0x600000000n);
 * assert.throws(() => decodeWprMeta(new Uint8Array(255)), /256/);
 * ```
 */
export function decodeWprMeta(bytes: Uint8Array, file?: string): GspFwWprMeta {
  if (bytes.length !== WPR_META_SIZE) {
    throw new FirmwareFormatError({
      file,
      offset: 0,
      field: "GspFwWprMeta",
      reason: `is ${WPR_META_SIZE} bytes long, got ${bytes.length}`,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const meta = {} as Record<string, bigint | number>;
  for (const f of WPR_META_FIELDS) {
    meta[f.name] = f.size === 8
      ? view.getBigUint64(f.offset, true)
      : f.size === 4
      ? view.getUint32(f.offset, true)
      : f.size === 2
      ? view.getUint16(f.offset, true)
      : view.getUint8(f.offset);
  }
  return meta as unknown as GspFwWprMeta;
}
