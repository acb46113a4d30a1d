/**
 * The chain of PCI expansion-ROM images in a VBIOS: PC-AT (legacy x86), EFI,
 * FWSEC and NBSI images one after another, each with a ROM header, a PCI
 * data structure (PCIR) and usually NVIDIA's extension (NPDE).
 *
 * Layouts (NVIDIA `platform/pci_exp_table.h`; the walk as in
 * `kernel_gsp_vbios_tu102.c` `s_locateExpansionRoms` and nova-core `vbios.rs`):
 *
 * | where | what |
 * |---|---|
 * | image + 0x00 | u16 ROM signature: 0xAA55, or NVIDIA's 0x4E56 / 0xBB77 |
 * | image + 0x18 | u16 pointer to the PCI data structure |
 * | PCIR + 0x00 | `"PCIR"`, or NVIDIA's `"NPDS"` / `"RGIS"` |
 * | PCIR + 0x0a | u16 structure length; + 0x10 u16 image length (512-byte blocks) |
 * | PCIR + 0x14 | u8 code type; + 0x15 u8 last-image flag (bit 7) |
 * | `align16(PCIR + length)` | NPDE: `"NPDE"`, u16 revision, u16 length, u16 sub-image length (512-byte blocks), u8 last-image flag |
 *
 * An image's size is the NPDE sub-image length when an NPDE of revision 1.0 or
 * 1.1 is present, else the PCIR image length. An NBSI image is always the last
 * one; otherwise the NPDE's flag decides when the NPDE is long enough to hold
 * it, else the PCIR's. The next image starts at the next 512-byte boundary
 * (counted from the first image). The walk reads 62 bytes per image and stops
 * at the last image, after {@linkcode MAX_ROM_IMAGES} images, or at 1 MiB.
 *
 * @example Walking a forged VBIOS
 * ```ts
 * import assert from "node:assert/strict";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const images = walkRomImages(bufferSource(forgeVbios().bytes), 0);
 * assert(images.map((i) => i.kind).join() === "pc-at,efi,fwsec,fwsec,nbsi");
 * assert(images.at(-1)!.last);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type ByteReader, hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";
import { type FieldLayout, fieldOffset, readFields } from "../field_layout.ts";
import { failAt, readIn, type Region } from "./_source_reader.ts";

const logger = getLogger(["falconry", "firmware", "vbios"]);

/** ROM signatures `IS_VALID_PCI_ROM_SIG` accepts (NVIDIA `pci_exp_table.h`). */
export const ROM_SIGNATURES: readonly number[] = [0xaa55, 0x4e56, 0xbb77];
/** PCI data structure signatures `IS_VALID_PCI_DATA_SIG` accepts. */
export const PCI_DATA_SIGNATURES: readonly string[] = ["PCIR", "NPDS", "RGIS"];
/** NPDE signature. */
export const NPDE_SIGNATURE = "NPDE";
/** NPDE revisions NVIDIA reads (1.0 and 1.1); others are ignored. */
export const NPDE_REVISIONS: readonly number[] = [0x100, 0x101];

/** PCIR code types of the images a VBIOS holds. */
export const ROM_CODE_TYPE = {
  /** Legacy x86 image; holds the BIT table. */
  pcAt: 0x00,
  /** EFI GOP driver. */
  efi: 0x03,
  /** Notebook system information. */
  nbsi: 0x70,
  /** FWSEC (`NV_BCRT_HASH_INFO_BASE_CODE_TYPE_VBIOS_EXT`). */
  fwsec: 0xe0,
} as const;

/** What an image is, by its code type. */
export type RomImageKind = "pc-at" | "efi" | "nbsi" | "fwsec" | "unknown";

const KIND_BY_CODE_TYPE: ReadonlyMap<number, RomImageKind> = new Map([
  [ROM_CODE_TYPE.pcAt, "pc-at"],
  [ROM_CODE_TYPE.efi, "efi"],
  [ROM_CODE_TYPE.nbsi, "nbsi"],
  [ROM_CODE_TYPE.fwsec, "fwsec"],
]);

/** Unit of image lengths and image alignment. */
export const ROM_BLOCK_SIZE = 512;
/** Most images walked before the chain counts as a loop. */
export const MAX_ROM_IMAGES = 32;
/** Most bytes from the first image to the end of the last (NVIDIA and nova-core: 1 MiB). */
export const MAX_ROM_SIZE = 0x100000;
/** Bytes of the ROM header read: up to and including the PCIR pointer. */
export const ROM_HEADER_SIZE = 0x1a;
/** Bytes of the PCI data structure read. */
export const PCIR_SIZE = 0x18;
/** Bytes of the NPDE read. */
export const NPDE_SIZE = 0x0c;
/**
 * The PCI ROM header's fields (PCI Firmware Spec); bytes 2–0x17 are reserved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PCI_ROM_HEADER_LAYOUT, ROM_HEADER_SIZE } from "./rom_images.ts";
 * assert(PCI_ROM_HEADER_LAYOUT.every((f) => f.offset + f.size <= ROM_HEADER_SIZE));
 * ```
 */
export const PCI_ROM_HEADER_LAYOUT: readonly FieldLayout<"signature" | "pciDataStructPtr">[] = [
  { name: "signature", offset: 0x00, size: 2 },
  { name: "pciDataStructPtr", offset: 0x18, size: 2 },
];

/**
 * The PCI data structure's fields (`"PCIR"`, or `"NPDS"` in NVIDIA's images);
 * `signature` is four ASCII bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PCIR_LAYOUT, PCIR_SIZE } from "./rom_images.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(PCIR_LAYOUT) === PCIR_SIZE);
 * ```
 */
export const PCIR_LAYOUT: readonly FieldLayout<"signature" | keyof PciDataStruct>[] = [
  { name: "signature", offset: 0x00, size: 4 },
  { name: "vendorId", offset: 0x04, size: 2 },
  { name: "deviceId", offset: 0x06, size: 2 },
  { name: "deviceListPtr", offset: 0x08, size: 2 },
  { name: "pciDataStructLen", offset: 0x0a, size: 2 },
  { name: "pciDataStructRev", offset: 0x0c, size: 1 },
  { name: "classCode", offset: 0x0d, size: 3 },
  { name: "imageLen", offset: 0x10, size: 2 },
  { name: "vendorRomRev", offset: 0x12, size: 2 },
  { name: "codeType", offset: 0x14, size: 1 },
  { name: "lastImage", offset: 0x15, size: 1 },
  { name: "maxRunTimeImageLen", offset: 0x16, size: 2 },
];

/**
 * NVIDIA's PCI data extension (`"NPDE"`) after the PCI data structure;
 * `signature` is four ASCII bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NPDE_LAYOUT, NPDE_SIZE } from "./rom_images.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(NPDE_LAYOUT) === NPDE_SIZE);
 * ```
 */
export const NPDE_LAYOUT: readonly FieldLayout<"signature" | keyof NvPciDataExt>[] = [
  { name: "signature", offset: 0x00, size: 4 },
  { name: "nvPciDataExtRev", offset: 0x04, size: 2 },
  { name: "nvPciDataExtLen", offset: 0x06, size: 2 },
  { name: "subimageLen", offset: 0x08, size: 2 },
  { name: "privLastImage", offset: 0x0a, size: 1 },
  { name: "flags", offset: 0x0b, size: 1 },
];

const withoutSignature = <Name extends string>(layout: readonly FieldLayout<Name>[]) =>
  layout.filter((f): f is FieldLayout<Exclude<Name, "signature">> => f.name !== "signature");

const LAST_IMAGE_FLAG = 0x80;
const NPDE_LAST_IMAGE_END = 0x0b;

/** The PCI data structure (`PCI_DATA_STRUCT`). */
export interface PciDataStruct {
  /** `"PCIR"`, `"NPDS"` or `"RGIS"`. */
  signature: string;
  /** PCI vendor id (0x10de). */
  vendorId: number;
  /** PCI device id. */
  deviceId: number;
  /** Device list pointer. */
  deviceListPtr: number;
  /** Length of this structure. */
  pciDataStructLen: number;
  /** Structure revision. */
  pciDataStructRev: number;
  /** 24-bit class code (0x030000 for VGA). */
  classCode: number;
  /** Image length in 512-byte blocks. */
  imageLen: number;
  /** Vendor's ROM revision. */
  vendorRomRev: number;
  /** Code type (see {@linkcode ROM_CODE_TYPE}). */
  codeType: number;
  /** Last-image indicator; bit 7 set on the last image. */
  lastImage: number;
  /** Maximum run-time image length in 512-byte blocks. */
  maxRunTimeImageLen: number;
}

/** NVIDIA's PCI data extension (`NV_PCI_DATA_EXT_STRUCT`). */
export interface NvPciDataExt {
  /** Revision: 0x100 or 0x101. */
  nvPciDataExtRev: number;
  /** Length of the extension. */
  nvPciDataExtLen: number;
  /** Sub-image length in 512-byte blocks: the image's real size. */
  subimageLen: number;
  /** Private last-image indicator; bit 7 set on the last image. */
  privLastImage: number;
  /** Flags. */
  flags: number;
}

/** A byte range of a source: an image, a section. */
export interface ByteRange {
  /** Absolute offset of the first byte. */
  offset: number;
  /** Length in bytes. */
  size: number;
}

/** One image of the chain. Offsets are absolute offsets in the source. */
export interface RomImage {
  /** Position in the chain, from 0. */
  index: number;
  /** Offset of the ROM header. */
  offset: number;
  /** Size in bytes (NPDE sub-image length, else PCIR image length, × 512). */
  size: number;
  /** The PCIR code type. */
  codeType: number;
  /** The code type's name. */
  kind: RomImageKind;
  /** Whether this is the last image of the chain. */
  last: boolean;
  /** The u16 ROM signature. */
  romSignature: number;
  /** The ROM header's PCIR pointer, relative to the image. */
  pciDataStructPtr: number;
  /** The PCI data structure. */
  pcir: PciDataStruct;
  /** NVIDIA's extension, or `null` when absent or of an unknown revision. */
  npde: NvPciDataExt | null;
}

/**
 * Whether `signature` (the u16 at an image's start) is a PCI ROM signature.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRomSignature } from "./rom_images.ts";
 * assert(isRomSignature(0xaa55) && isRomSignature(0x4e56) && !isRomSignature(0x4e56 + 1));
 * ```
 */
export function isRomSignature(signature: number): boolean {
  return ROM_SIGNATURES.includes(signature);
}

/**
 * The name of a PCIR code type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { romImageKind } from "./rom_images.ts";
 * assert(romImageKind(0xe0) === "fwsec" && romImageKind(0x42) === "unknown");
 * ```
 */
export function romImageKind(codeType: number): RomImageKind {
  return KIND_BY_CODE_TYPE.get(codeType) ?? "unknown";
}

/**
 * Parse the headers of the image at `offset`: ROM header, PCIR and NPDE
 * (62 bytes). Everything read must lie inside `romRange`.
 *
 * @param source The VBIOS.
 * @param romRange The range the images live in (from the first image to the scan limit).
 * @param offset Absolute offset of the image.
 * @param index The image's position in the chain.
 * @returns The image.
 * @throws {FirmwareFormatError} for a wrong ROM or PCIR signature, a PCIR
 *   pointer outside the image, a zero length, or an image that runs past `romRange`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRomImage } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const src = bufferSource(forgeVbios().bytes);
 * const first = readRomImage(src, { offset: 0, size: src.size }, 0, 0);
 * assert(first.kind === "pc-at" && first.pcir.vendorId === 0x10de);
 * ```
 */
export function readRomImage(
  source: ByteSource,
  romRange: ByteRange,
  offset: number,
  index: number,
): RomImage {
  const rom: Region = { ...romRange, name: "ROM" };
  const header = readIn(source, rom, offset, ROM_HEADER_SIZE, "romImage.header");
  const { signature: romSignature, pciDataStructPtr } = readFields(
    header,
    0,
    PCI_ROM_HEADER_LAYOUT,
    "romImage",
  );
  if (!isRomSignature(romSignature)) {
    failAt(
      source,
      offset,
      "romImage.signature",
      `image ${index}: 0x${hex(romSignature)} is not a PCI ROM signature (55 AA)`,
    );
  }
  const pcirAt = offset + pciDataStructPtr;
  if (pcirAt + PCIR_SIZE > rom.offset + rom.size) {
    failAt(
      source,
      offset + fieldOffset(PCI_ROM_HEADER_LAYOUT, "pciDataStructPtr"),
      "romImage.pciDataStructPtr",
      `image ${index}: PCIR pointer 0x${hex(pciDataStructPtr)} points outside the ROM`,
    );
  }
  const pcir = parsePcir(readIn(source, rom, pcirAt, PCIR_SIZE, "pcir"), index);
  const imageBytes = pcir.imageLen * ROM_BLOCK_SIZE;
  if (pciDataStructPtr + PCIR_SIZE > imageBytes) {
    failAt(
      source,
      offset + fieldOffset(PCI_ROM_HEADER_LAYOUT, "pciDataStructPtr"),
      "romImage.pciDataStructPtr",
      `image ${index}: PCIR pointer 0x${hex(pciDataStructPtr)} points outside the ` +
        `${imageBytes}-byte image`,
    );
  }
  const npde = readNpde(source, rom, offset, imageBytes, pciDataStructPtr, pcir, index);
  const size = npde ? npde.subimageLen * ROM_BLOCK_SIZE : imageBytes;
  if (offset + size > rom.offset + rom.size) {
    failAt(
      source,
      offset,
      npde ? "npde.subimageLen" : "pcir.imageLen",
      `image ${index} (0x${hex(size)} bytes at 0x${hex(offset)}) runs past the end of the ` +
        `ROM at 0x${hex(rom.offset + rom.size)}`,
    );
  }
  const kind = romImageKind(pcir.codeType);
  return {
    index,
    offset,
    size,
    codeType: pcir.codeType,
    kind,
    last: isLastImage(kind, pcir, npde, size),
    romSignature,
    pciDataStructPtr,
    pcir,
    npde,
  };
}

/**
 * Walk the image chain from `romOffset` to the image flagged last.
 *
 * @param source The VBIOS.
 * @param romOffset Absolute offset of the first image (see `locateRom`).
 * @returns The images in order; the last one has `last` set.
 * @throws {FirmwareFormatError} as {@linkcode readRomImage} does, and when the
 *   chain reaches the end of the source or 1 MiB, or holds more than
 *   {@linkcode MAX_ROM_IMAGES} images, without a last image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout } = forgeVbios({ ifr: 2, efi: false });
 * const images = walkRomImages(bufferSource(bytes), layout.romOffset);
 * assert(images[0].offset === layout.romOffset && images.length === 4);
 * ```
 */
export function walkRomImages(source: ByteSource, romOffset: number): RomImage[] {
  const rom: Region = {
    offset: romOffset,
    size: Math.max(0, Math.min(source.size, romOffset + MAX_ROM_SIZE) - romOffset),
    name: "ROM",
  };
  const images: RomImage[] = [];
  let offset = romOffset;
  for (let index = 0; index < MAX_ROM_IMAGES; index++) {
    const image = readRomImage(source, rom, offset, index);
    images.push(image);
    logger.debug("ROM image {index} at 0x{offset}: {kind}, 0x{size} bytes{last}", {
      index,
      offset: hex(offset),
      kind: image.kind,
      size: hex(image.size),
      last: image.last ? ", last" : "",
    });
    if (image.last) return images;
    offset = romOffset + alignUp(offset + image.size - romOffset, ROM_BLOCK_SIZE);
    if (offset >= rom.offset + rom.size) {
      failAt(
        source,
        image.offset,
        "pcir.lastImage",
        `image ${index} is not flagged last, but the ${rom.name} ends at ` +
          `0x${hex(rom.offset + rom.size)}`,
      );
    }
  }
  return failAt(
    source,
    offset,
    "pcir.lastImage",
    `no last image among the first ${MAX_ROM_IMAGES} images (a loop?)`,
  );
}

function parsePcir(r: ByteReader, index: number): PciDataStruct {
  const signature = r.ascii(0, 4, "pcir.signature");
  if (!PCI_DATA_SIGNATURES.includes(signature)) {
    r.fail(0, "pcir.signature", `image ${index}: ${JSON.stringify(signature)} is not "PCIR"`);
  }
  const pcir: PciDataStruct = {
    signature,
    ...readFields(r, 0, withoutSignature(PCIR_LAYOUT), "pcir"),
  };
  if (pcir.imageLen === 0) {
    r.fail(
      fieldOffset(PCIR_LAYOUT, "imageLen"),
      "pcir.imageLen",
      `image ${index} has a zero length`,
    );
  }
  return pcir;
}

function readNpde(
  source: ByteSource,
  rom: Region,
  imageOffset: number,
  imageBytes: number,
  pciDataStructPtr: number,
  pcir: PciDataStruct,
  index: number,
): NvPciDataExt | null {
  const relative = alignUp(pciDataStructPtr + pcir.pciDataStructLen, 16);
  const at = imageOffset + relative;
  if (relative + NPDE_SIZE > imageBytes || at + NPDE_SIZE > rom.offset + rom.size) return null;
  const r = readIn(source, rom, at, NPDE_SIZE, "npde");
  if (r.ascii(0, 4, "npde.signature") !== NPDE_SIGNATURE) return null;
  const npde: NvPciDataExt = readFields(r, 0, withoutSignature(NPDE_LAYOUT), "npde");
  if (!NPDE_REVISIONS.includes(npde.nvPciDataExtRev)) return null;
  if (npde.subimageLen === 0) {
    r.fail(
      fieldOffset(NPDE_LAYOUT, "subimageLen"),
      "npde.subimageLen",
      `image ${index} has a zero length`,
    );
  }
  return npde;
}

function isLastImage(
  kind: RomImageKind,
  pcir: PciDataStruct,
  npde: NvPciDataExt | null,
  size: number,
): boolean {
  if (kind === "nbsi") return true;
  if (npde && npde.nvPciDataExtLen >= NPDE_LAST_IMAGE_END) {
    return (npde.privLastImage & LAST_IMAGE_FLAG) !== 0;
  }
  // An NPDE too short to carry the flag: a sub-image shorter than the PCIR's
  // image length is never the last one (NVIDIA's rule).
  if (npde && size < pcir.imageLen * ROM_BLOCK_SIZE) return false;
  return (pcir.lastImage & LAST_IMAGE_FLAG) !== 0;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
