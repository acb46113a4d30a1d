/**
 * `GspFwWprMeta` as the simulated Booter reads it (256 bytes, nova-core-boot.md
 * §3.8, offsets checked against NVIDIA's ABI table, §13) and its validation
 * against the FB layout the simulator computes itself ({@linkcode computeFbLayout}).
 *
 * Validation lists every wrong field. The firmware pointers (`sysmemAddrOf…`)
 * are only checked for being set and page aligned here; Booter-load follows
 * them through DMA (`walkRadix3`, `checkBooterLoad`).
 *
 * `flags` (u8 at 0xf1): NVIDIA sets bit 0 (clock boost) by default on
 * TU102–AD107 and defines bits 1 (recovery margin) and 2 (PPCIE) (§13);
 * nova-core writes 0 and boots real GPUs, so a clear bit 0 is a *note*, not a
 * rejection. Bits 3–7 are undefined and rejected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWprMeta, WPR_META_MAGIC, WPR_META_SIZE } from "./wpr_meta.ts";
 * const bytes = new Uint8Array(WPR_META_SIZE);
 * new DataView(bytes.buffer).setBigUint64(0, WPR_META_MAGIC, true);
 * assert.equal(decodeWprMeta(bytes).magic, 0xdc3aae21371a60b3n);
 * ```
 *
 * @module
 */

import type { FbLayout } from "./fb_layout.ts";
import { HS_ERROR, type Rejection, type Verdict } from "./verdict.ts";
import { hex } from "./_util.ts";

/** `GSP_FW_WPR_META_MAGIC`. */
export const WPR_META_MAGIC = 0xdc3aae21371a60b3n;
/** `GSP_FW_WPR_META_REVISION`. */
export const WPR_META_REVISION = 1n;
/** The structure's size. */
export const WPR_META_SIZE = 256;

/**
 * The u64 fields in order, each at `8 × index`, up to `bootCount` at 0xc8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WPR_META_U64_FIELDS } from "./wpr_meta.ts";
 * assert.equal(8 * WPR_META_U64_FIELDS.indexOf("gspFwWprEnd"), 0xa8);
 * ```
 */
export const WPR_META_U64_FIELDS = [
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
] as const;

/** A field name of the decoded meta. */
export type WprMetaField =
  | (typeof WPR_META_U64_FIELDS)[number]
  | "partitionUnion"
  | "gspFwHeapVfPartitionCount"
  | "flags"
  | "padding"
  | "pmuReservedSize"
  | "verified";

/** The decoded meta: u64 fields as bigint; the 32-byte union at 0xd0 as "all zero or not". */
export type WprMeta = Record<(typeof WPR_META_U64_FIELDS)[number], bigint> & {
  /** Whether the union at 0xd0..0xf0 is all zeros (it must be on the SEC2 path). */
  partitionUnionZero: boolean;
  /** u8 at 0xf0. */
  gspFwHeapVfPartitionCount: number;
  /** u8 at 0xf1. */
  flags: number;
  /** u16 at 0xf2. */
  padding: number;
  /** u32 at 0xf4. */
  pmuReservedSize: number;
  /** u64 at 0xf8. */
  verified: bigint;
};

/**
 * Decode the 256 bytes.
 *
 * @param bytes At least 256 bytes.
 * @returns The fields.
 * @throws {RangeError} when fewer than 256 bytes are given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeWprMeta } from "./wpr_meta.ts";
 * const meta = decodeWprMeta(new Uint8Array(256));
 * assert(meta.partitionUnionZero && meta.flags === 0);
 * ```
 */
export function decodeWprMeta(bytes: Uint8Array): WprMeta {
  if (bytes.length < WPR_META_SIZE) {
    throw new RangeError(`GspFwWprMeta needs ${WPR_META_SIZE} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, WPR_META_SIZE);
  const out = {} as Record<(typeof WPR_META_U64_FIELDS)[number], bigint>;
  WPR_META_U64_FIELDS.forEach((name, i) => {
    out[name] = view.getBigUint64(8 * i, true);
  });
  return {
    ...out,
    partitionUnionZero: bytes.subarray(0xd0, 0xf0).every((b) => b === 0),
    gspFwHeapVfPartitionCount: view.getUint8(0xf0),
    flags: view.getUint8(0xf1),
    padding: view.getUint16(0xf2, true),
    pmuReservedSize: view.getUint32(0xf4, true),
    verified: view.getBigUint64(0xf8, true),
  };
}

/** What the meta must say besides the layout: the firmware sizes and offsets. */
export interface WprMetaFirmware {
  /** The GSP image size (`.fwimage`). */
  gspImageSize: number;
  /** The bootloader blob size (the bin payload). */
  bootloaderSize: number;
  /** The descriptor's `monitorCodeOffset`. */
  bootloaderCodeOffset: number;
  /** The descriptor's `monitorDataOffset`. */
  bootloaderDataOffset: number;
  /** The descriptor's `manifestOffset`. */
  bootloaderManifestOffset: number;
  /** The size of this chip's GSP signature section. */
  signatureSize: number;
}

/** One wrong field. */
export interface WrongField {
  /** The field. */
  field: WprMetaField;
  /** What it should be. */
  expected: string;
  /** What it is. */
  found: string;
}

/** A valid meta, with remarks that do not reject it. */
export interface WprMetaAcceptance {
  /** The decoded meta. */
  meta: WprMeta;
  /** Remarks (flags bit 0 clear). */
  notes: string[];
}

/** A rejected meta: every wrong field. */
export type WprMetaRejection = Rejection & { wrongFields: WrongField[] };

/**
 * Check a meta against the simulator's layout and the firmware.
 *
 * @param bytes The 256 bytes read through DMA.
 * @param layout The simulator's own FB layout.
 * @param firmware The firmware sizes and offsets.
 * @returns Acceptance (with notes) or the rejection listing each wrong field.
 *
 * @example Wrong magic
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateWprMeta } from "./wpr_meta.ts";
 * import { computeFbLayout } from "./fb_layout.ts";
 * const layout = computeFbLayout({
 *   chipset: 0x172, fbSize: 2 ** 34, displayFuse: 1, vgaWorkspaceRegister: 0,
 *   bootloaderSize: 4096, gspImageSize: 2 ** 20,
 * });
 * const v = validateWprMeta(new Uint8Array(256), layout, {
 *   gspImageSize: 2 ** 20, bootloaderSize: 4096, bootloaderCodeOffset: 0,
 *   bootloaderDataOffset: 0, bootloaderManifestOffset: 0, signatureSize: 4096,
 * });
 * assert(!v.ok && v.rule === "wprMeta");
 * assert(!v.ok && "wrongFields" in v && v.wrongFields[0].field === "magic");
 * ```
 */
export function validateWprMeta(
  bytes: Uint8Array,
  layout: FbLayout,
  firmware: WprMetaFirmware,
): Verdict<WprMetaAcceptance> | WprMetaRejection {
  const meta = decodeWprMeta(bytes);
  const wrong: WrongField[] = [];
  const expectEqual = (field: WprMetaField, found: bigint | number, want: bigint | number) => {
    if (BigInt(found) !== BigInt(want)) {
      wrong.push({ field, expected: hex(want), found: hex(found) });
    }
  };
  const expectPointer = (field: WprMetaField, found: bigint) => {
    if (found === 0n || found % 4096n !== 0n) {
      wrong.push({ field, expected: "a non-zero, 4 KiB aligned DMA address", found: hex(found) });
    }
  };
  const len = (r: { start: number; end: number }) => r.end - r.start;

  expectEqual("magic", meta.magic, WPR_META_MAGIC);
  expectEqual("revision", meta.revision, WPR_META_REVISION);
  expectPointer("sysmemAddrOfRadix3Elf", meta.sysmemAddrOfRadix3Elf);
  expectEqual("sizeOfRadix3Elf", meta.sizeOfRadix3Elf, firmware.gspImageSize);
  expectPointer("sysmemAddrOfBootloader", meta.sysmemAddrOfBootloader);
  expectEqual("sizeOfBootloader", meta.sizeOfBootloader, firmware.bootloaderSize);
  expectEqual("bootloaderCodeOffset", meta.bootloaderCodeOffset, firmware.bootloaderCodeOffset);
  expectEqual("bootloaderDataOffset", meta.bootloaderDataOffset, firmware.bootloaderDataOffset);
  expectEqual(
    "bootloaderManifestOffset",
    meta.bootloaderManifestOffset,
    firmware.bootloaderManifestOffset,
  );
  expectPointer("sysmemAddrOfSignature", meta.sysmemAddrOfSignature);
  expectEqual("sizeOfSignature", meta.sizeOfSignature, firmware.signatureSize);
  expectEqual("gspFwRsvdStart", meta.gspFwRsvdStart, layout.nonWprHeap.start);
  expectEqual("nonWprHeapOffset", meta.nonWprHeapOffset, layout.nonWprHeap.start);
  expectEqual("nonWprHeapSize", meta.nonWprHeapSize, len(layout.nonWprHeap));
  expectEqual("gspFwWprStart", meta.gspFwWprStart, layout.wpr2.start);
  expectEqual("gspFwHeapOffset", meta.gspFwHeapOffset, layout.wpr2Heap.start);
  expectEqual("gspFwHeapSize", meta.gspFwHeapSize, len(layout.wpr2Heap));
  expectEqual("gspFwOffset", meta.gspFwOffset, layout.elf.start);
  expectEqual("bootBinOffset", meta.bootBinOffset, layout.boot.start);
  expectEqual("frtsOffset", meta.frtsOffset, layout.frts.start);
  expectEqual("frtsSize", meta.frtsSize, len(layout.frts));
  expectEqual("gspFwWprEnd", meta.gspFwWprEnd, layout.wprEnd);
  expectEqual("fbSize", meta.fbSize, len(layout.fb));
  expectEqual("vgaWorkspaceOffset", meta.vgaWorkspaceOffset, layout.vga.start);
  expectEqual("vgaWorkspaceSize", meta.vgaWorkspaceSize, len(layout.vga));
  expectEqual("bootCount", meta.bootCount, 0);
  if (!meta.partitionUnionZero) {
    wrong.push({ field: "partitionUnion", expected: "all zeros", found: "non-zero bytes" });
  }
  expectEqual("gspFwHeapVfPartitionCount", meta.gspFwHeapVfPartitionCount, 0);
  if ((meta.flags & ~0x7) !== 0) {
    wrong.push({ field: "flags", expected: "only bits 0–2", found: hex(meta.flags) });
  }
  expectEqual("padding", meta.padding, 0);
  expectEqual("pmuReservedSize", meta.pmuReservedSize, layout.pmuReservedSize);
  expectEqual("verified", meta.verified, 0);

  if (wrong.length > 0) {
    const list = wrong.map((w) => `${w.field} ${w.found} (expected ${w.expected})`).join(", ");
    return {
      ok: false,
      rule: "wprMeta",
      reason: `GspFwWprMeta rejected: ${list}`,
      mbox0: HS_ERROR.wprMeta,
      wrongFields: wrong,
    };
  }
  const notes = (meta.flags & 1) === 0
    ? ["flags bit 0 (clock boost) is clear; NVIDIA sets it by default on TU102–AD107"]
    : [];
  return { ok: true, meta, notes };
}
