/**
 * Forge synthetic VBIOS images that the VBIOS parser and FWSEC extraction
 * accept: an optional IFR header (versions 1–3), a PC-AT image with a BIT
 * (BIOS-data and falcon-data tokens), an optional EFI image, one or two
 * FWSEC images holding the PMU lookup table, a falcon ucode descriptor
 * (version 2, or version 3 with signatures), the ucode with its application
 * interface and DMEM mapper, and a last NBSI image. The same options give
 * the same bytes; the returned layout says where everything was put, so
 * that tests compare what a parser finds with what was written and corrupt
 * chosen fields.
 *
 * The images mirror the real TU102 VBIOS: the EFI image's PCIR says "last"
 * while its NPDE says "not last", the FWSEC and NBSI images use the 0x4E56
 * signature and `"NPDS"`, and the NBSI image has no NPDE.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeVbios } from "./vbios.ts";
 * import { extractFwsec } from "../fwsec/extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 *
 * const { bytes, layout } = forgeVbios({ ifr: 3, descriptorVersion: 3 });
 * const fwsec = extractFwsec(bufferSource(bytes));
 * assert(fwsec.descriptorOffset === layout.descriptorOffset);
 * assert(fwsec.signatures.length === layout.signatures.length);
 * ```
 *
 * @module
 */

import type { FalconUcodeDesc } from "../fwsec/descriptor.ts";
import { alignUp, ByteWriter, patternBytes } from "./_writer.ts";

/** Options for {@linkcode forgeVbios}. */
export interface ForgeVbiosOptions {
  /** IFR header in front of the images: none (default), or version 1, 2 or 3. */
  ifr?: "none" | 1 | 2 | 3;
  /** Falcon ucode descriptor version: 2 (default, Turing) or 3 (Ampere and later). */
  descriptorVersion?: 2 | 3;
  /** Put an EFI image between the PC-AT and FWSEC images (default true, as on real boards). */
  efi?: boolean;
  /** One FWSEC image holding everything, or two (default): tables in the first, ucode in the second. */
  fwsecImages?: 1 | 2;
  /** The BIOS-data token's version (default 0x90021700 / 0x7b). */
  version?: { biosVersion: number; biosOemVersion: number };
  /** The descriptor's `imemVirtBase`, the boot address (default 0). */
  imemVirtBase?: number;
  /** Version 3: the signature-versions bitmask (default 0b111); one signature per set bit. */
  signatureVersions?: number;
  /**
   * Version 3: indices of signatures written as all zeros, as production
   * VBIOSes leave the signatures for fuse versions no production chip has
   * (default none).
   */
  zeroSignatures?: readonly number[];
  /** Application id of the FWSEC entry in the PMU table (default 0x85). */
  fwsecApplicationId?: number;
  /** Give the application interface a DMEM mapper (default true). */
  dmemMapper?: boolean;
  /** The DMEM mapper's command-in buffer size (default 0x40). */
  cmdInBufferSize?: number;
  /** Seed of the filler bytes (default 1). */
  seed?: number;
}

/** One forged image. Offsets are absolute. */
export interface ForgedRomImage {
  /** Offset of the ROM header. */
  offset: number;
  /** Size in bytes. */
  size: number;
  /** `pc-at`, `efi`, `fwsec` or `nbsi`. */
  kind: "pc-at" | "efi" | "fwsec" | "nbsi";
}

/** Where {@linkcode forgeVbios} put everything. Offsets are absolute unless named otherwise. */
export interface ForgedVbiosLayout {
  /** Offset of the first image (0 without IFR). */
  romOffset: number;
  /** The images in order. */
  images: ForgedRomImage[];
  /** Size of the PC-AT image. */
  pcAtSize: number;
  /** Offset of the first FWSEC image. */
  fwsecOffset: number;
  /** Offset of the BIT header. */
  bitOffset: number;
  /** The version as printed. */
  versionText: string;
  /** The falcon-data token's pointer. */
  falconUcodeTablePtr: number;
  /** Offset of the PMU lookup table. */
  pmuTableOffset: number;
  /** The FWSEC entry's descriptor pointer. */
  descPtr: number;
  /** Offset of the descriptor. */
  descriptorOffset: number;
  /** The descriptor as written. */
  descriptor: FalconUcodeDesc;
  /** Version 3: the signatures as written. */
  signatures: Uint8Array[];
  /** Offset of the ucode. */
  ucodeOffset: number;
  /** The ucode as written (a view into the bytes). */
  ucode: Uint8Array;
  /** DMEM offset of the application interface. */
  interfaceOffset: number;
  /** DMEM offset of the DMEM mapper (when forged with one). */
  mapperDmemOffset: number;
  /** Ucode offset of the DMEM mapper. */
  mapperUcodeOffset: number;
  /** DMEM offset of the command-in buffer. */
  cmdInBufferOffset: number;
  /** Size of the command-in buffer. */
  cmdInBufferSize: number;
}

/** A forged VBIOS. */
export interface ForgedVbios {
  /** The file. */
  bytes: Uint8Array;
  /** Where everything is. */
  layout: ForgedVbiosLayout;
}

/** Options for {@linkcode forgeFwsecDmem}. */
export interface ForgeFwsecDmemOptions {
  /** DMEM size (default 0x800; at least 0x200). */
  dmemLoadSize?: number;
  /** Give the interface table a DMEM mapper (default true). */
  dmemMapper?: boolean;
  /** Command-in buffer size (default 0x40). */
  cmdInBufferSize?: number;
  /** Seed of the filler bytes (default 1). */
  seed?: number;
}

/** Forged FWSEC DMEM and where its structures are (DMEM offsets). */
export interface ForgedFwsecDmem {
  /** The DMEM bytes. */
  dmem: Uint8Array;
  /** Offset of the application interface table. */
  interfaceOffset: number;
  /** Offset of the DMEM mapper. */
  mapperOffset: number;
  /** Offset of the command-in buffer (zeros). */
  cmdInBufferOffset: number;
  /** Size of the command-in buffer. */
  cmdInBufferSize: number;
}

/** Options for {@linkcode forgeFalconUcodeDesc}. */
export interface ForgeFalconUcodeDescOptions {
  /** 2 (default) or 3. */
  descriptorVersion?: 2 | 3;
  /** `imemVirtBase` (default 0). */
  imemVirtBase?: number;
  /** Version 3: signature-versions bitmask (default 0b111). */
  signatureVersions?: number;
  /** Version 3: indices of signatures written as all zeros (default none). */
  zeroSignatures?: readonly number[];
  /** Seed of the signatures (default 1). */
  seed?: number;
}

const INTERFACE_OFFSET = 0x40;
const MAPPER_OFFSET = 0x100;
const CMD_IN_OFFSET = 0x150;
const IMEM_LOAD_SIZE = 0x1000;
const V2_DMEM_LOAD_SIZE = 0x400;
const V3_DMEM_LOAD_SIZE = 0x800;
const PKC_DATA_OFFSET = 0x400;
const SIGNATURE_SIZE = 384;

/**
 * Forge FWSEC DMEM: filler bytes with an application interface table at
 * 0x40, a DMEM mapper at 0x100 and a zeroed command-in buffer at 0x150.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeFwsecDmem } from "./vbios.ts";
 * const { dmem, mapperOffset } = forgeFwsecDmem();
 * assert(new TextDecoder().decode(dmem.subarray(mapperOffset, mapperOffset + 4)) === "DMAP");
 * ```
 */
export function forgeFwsecDmem(options: ForgeFwsecDmemOptions = {}): ForgedFwsecDmem {
  const size = options.dmemLoadSize ?? V3_DMEM_LOAD_SIZE;
  const cmdInBufferSize = options.cmdInBufferSize ?? 0x40;
  const w = new ByteWriter(size);
  w.set(0, patternBytes(size, (options.seed ?? 1) * 7 + 3));
  const withMapper = options.dmemMapper ?? true;
  w.u8(INTERFACE_OFFSET, 1).u8(INTERFACE_OFFSET + 1, 4).u8(INTERFACE_OFFSET + 2, 8)
    .u8(INTERFACE_OFFSET + 3, 2);
  w.u32(INTERFACE_OFFSET + 4, 5).u32(INTERFACE_OFFSET + 8, 0x80);
  w.u32(INTERFACE_OFFSET + 12, withMapper ? 4 : 6).u32(INTERFACE_OFFSET + 16, MAPPER_OFFSET);
  w.set(MAPPER_OFFSET, new Uint8Array(64));
  w.ascii(MAPPER_OFFSET, "DMAP").u16(MAPPER_OFFSET + 4, 3).u16(MAPPER_OFFSET + 6, 64);
  w.u32(MAPPER_OFFSET + 0x08, CMD_IN_OFFSET).u32(MAPPER_OFFSET + 0x0c, cmdInBufferSize);
  w.u32(MAPPER_OFFSET + 0x10, 0x1000000).u32(MAPPER_OFFSET + 0x14, 0x100);
  w.u32(MAPPER_OFFSET + 0x30, 0x14).u32(MAPPER_OFFSET + 0x34, 0x44000);
  w.set(CMD_IN_OFFSET, new Uint8Array(Math.min(cmdInBufferSize, size - CMD_IN_OFFSET)));
  return {
    dmem: w.bytes,
    interfaceOffset: INTERFACE_OFFSET,
    mapperOffset: MAPPER_OFFSET,
    cmdInBufferOffset: CMD_IN_OFFSET,
    cmdInBufferSize,
  };
}

/**
 * Forge a falcon ucode descriptor (version 3 with its signatures after it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeFalconUcodeDesc } from "./vbios.ts";
 * assert(forgeFalconUcodeDesc({ descriptorVersion: 2 }).length === 60);
 * assert(forgeFalconUcodeDesc({ descriptorVersion: 3 }).length === 44 + 3 * 384);
 * ```
 */
export function forgeFalconUcodeDesc(options: ForgeFalconUcodeDescOptions = {}): Uint8Array {
  const { descriptor, signatures } = falconUcodeDesc(options);
  return writeDescriptor(descriptor, signatures);
}

/**
 * Forge a VBIOS.
 *
 * @param options What to put in it.
 * @returns The bytes and where everything is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeVbios } from "./vbios.ts";
 * const a = forgeVbios({ ifr: 2 });
 * const b = forgeVbios({ ifr: 2 });
 * assert(a.bytes.length === b.bytes.length && a.bytes.every((x, i) => x === b.bytes[i]));
 * assert(a.layout.images.map((i) => i.kind).join() === "pc-at,efi,fwsec,fwsec,nbsi");
 * ```
 */
export function forgeVbios(options: ForgeVbiosOptions = {}): ForgedVbios {
  const seed = options.seed ?? 1;
  const ifr = options.ifr ?? "none";
  const romOffset = ifr === "none" ? 0 : ifr === 3 ? 0x3000 : 0x800;
  const version = options.version ?? { biosVersion: 0x90021700, biosOemVersion: 0x7b };
  const { descriptor, signatures } = falconUcodeDesc({ ...options, seed });
  const descriptorBytes = writeDescriptor(descriptor, signatures);
  const ucode = forgeUcode(descriptor, options, seed);

  // Image sizes first, so that pointers can be computed before writing.
  const pcAtSize = 0x800;
  const efiSize = 0x400;
  const twoFwsec = (options.fwsecImages ?? 2) === 2;
  const pmuAt = 0x60;
  const pmuEntries = 4;
  const pmuEnd = pmuAt + 6 + pmuEntries * 6;
  const descAt = twoFwsec ? 0x60 : alignUp(pmuEnd, 16);
  const descImageSize = alignUp(descAt + descriptorBytes.length + ucode.length, 512);
  const kinds: ForgedRomImage["kind"][] = [
    "pc-at",
    ...(options.efi ?? true ? ["efi" as const] : []),
    "fwsec",
    ...(twoFwsec ? ["fwsec" as const] : []),
    "nbsi",
  ];
  const sizes = kinds.map((kind, i) =>
    kind === "pc-at"
      ? pcAtSize
      : kind === "efi"
      ? efiSize
      : kind === "nbsi"
      ? 0x200
      : (twoFwsec && kinds[i - 1] !== "fwsec")
      ? 0x200
      : descImageSize
  );
  const images: ForgedRomImage[] = [];
  let at = romOffset;
  kinds.forEach((kind, i) => {
    images.push({ offset: at, size: sizes[i], kind });
    at += sizes[i];
  });
  const total = at;
  const fwsecImages = images.filter((i) => i.kind === "fwsec");
  const fwsecOffset = fwsecImages[0].offset;
  const pmuTableOffset = fwsecImages[0].offset + pmuAt;
  const descriptorOffset = fwsecImages.at(-1)!.offset + descAt;
  const toPointer = (absolute: number) => pcAtSize + absolute - fwsecOffset;
  const falconUcodeTablePtr = toPointer(pmuTableOffset);
  const descPtr = toPointer(descriptorOffset);

  const w = new ByteWriter(total);
  writeIfr(w, ifr, romOffset);
  const bitOffset = writePcAt(w, images[0], version, falconUcodeTablePtr, seed);
  for (const image of images.slice(1)) {
    if (image.kind === "efi") writeEfi(w, image, seed);
    else if (image.kind === "nbsi") writeNbsi(w, image, seed);
    else writeFwsecImage(w, image, seed);
  }
  writePmuTable(w, pmuTableOffset, descPtr, options.fwsecApplicationId ?? 0x85);
  w.set(descriptorOffset, descriptorBytes);
  const ucodeOffset = descriptorOffset + descriptor.headerSize;
  w.set(ucodeOffset, ucode);
  const dmemStart = descriptor.descriptorVersion === 2
    ? descriptor.dmemOffset
    : descriptor.imemLoadSize;
  return {
    bytes: w.bytes,
    layout: {
      romOffset,
      images,
      pcAtSize,
      fwsecOffset,
      bitOffset,
      versionText: [24, 16, 8, 0].map((s) => (version.biosVersion >>> s) & 0xff)
        .concat(version.biosOemVersion)
        .map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("."),
      falconUcodeTablePtr,
      pmuTableOffset,
      descPtr,
      descriptorOffset,
      descriptor,
      signatures,
      ucodeOffset,
      ucode: w.bytes.subarray(ucodeOffset, ucodeOffset + ucode.length),
      interfaceOffset: INTERFACE_OFFSET,
      mapperDmemOffset: MAPPER_OFFSET,
      mapperUcodeOffset: dmemStart + MAPPER_OFFSET,
      cmdInBufferOffset: CMD_IN_OFFSET,
      cmdInBufferSize: options.cmdInBufferSize ?? 0x40,
    },
  };
}

function falconUcodeDesc(
  options: ForgeFalconUcodeDescOptions,
): { descriptor: FalconUcodeDesc; signatures: Uint8Array[] } {
  const imemVirtBase = options.imemVirtBase ?? 0;
  const seed = options.seed ?? 1;
  if ((options.descriptorVersion ?? 2) === 2) {
    const headerSize = 60;
    const hdr = ((headerSize << 16) | (2 << 8) | 1) >>> 0;
    return {
      descriptor: {
        hdr,
        flags: 1,
        descriptorVersion: 2,
        headerSize,
        storedSize: IMEM_LOAD_SIZE + V2_DMEM_LOAD_SIZE,
        uncompressedSize: IMEM_LOAD_SIZE + V2_DMEM_LOAD_SIZE,
        virtualEntry: 0,
        interfaceOffset: INTERFACE_OFFSET,
        imemPhysBase: 0,
        imemLoadSize: IMEM_LOAD_SIZE,
        imemVirtBase,
        imemSecBase: imemVirtBase + 0x100,
        imemSecSize: IMEM_LOAD_SIZE - 0x100,
        dmemOffset: IMEM_LOAD_SIZE,
        dmemPhysBase: 0,
        dmemLoadSize: V2_DMEM_LOAD_SIZE,
        altImemLoadSize: IMEM_LOAD_SIZE,
        altDmemLoadSize: 0x800,
      },
      signatures: [],
    };
  }
  const signatureVersions = options.signatureVersions ?? 0b111;
  let signatureCount = 0;
  for (let v = signatureVersions; v !== 0; v &= v - 1) signatureCount++;
  const headerSize = 44 + signatureCount * SIGNATURE_SIZE;
  const hdr = ((headerSize << 16) | (3 << 8) | 1) >>> 0;
  return {
    descriptor: {
      hdr,
      flags: 1,
      descriptorVersion: 3,
      headerSize,
      storedSize: IMEM_LOAD_SIZE + V3_DMEM_LOAD_SIZE,
      pkcDataOffset: PKC_DATA_OFFSET,
      interfaceOffset: INTERFACE_OFFSET,
      imemPhysBase: 0,
      imemLoadSize: IMEM_LOAD_SIZE,
      imemVirtBase,
      dmemPhysBase: 0,
      dmemLoadSize: V3_DMEM_LOAD_SIZE,
      engineIdMask: 0x400,
      ucodeId: 9,
      signatureCount,
      signatureVersions,
      reserved: 0,
    },
    signatures: Array.from(
      { length: signatureCount },
      (_, i) =>
        options.zeroSignatures?.includes(i)
          ? new Uint8Array(SIGNATURE_SIZE)
          : patternBytes(SIGNATURE_SIZE, seed * 1000 + i + 1),
    ),
  };
}

function writeDescriptor(descriptor: FalconUcodeDesc, signatures: Uint8Array[]): Uint8Array {
  const w = new ByteWriter(descriptor.headerSize);
  const d = descriptor;
  if (d.descriptorVersion === 2) {
    [
      d.hdr,
      d.storedSize,
      d.uncompressedSize,
      d.virtualEntry,
      d.interfaceOffset,
      d.imemPhysBase,
      d.imemLoadSize,
      d.imemVirtBase,
      d.imemSecBase,
      d.imemSecSize,
      d.dmemOffset,
      d.dmemPhysBase,
      d.dmemLoadSize,
      d.altImemLoadSize,
      d.altDmemLoadSize,
    ].forEach((v, i) => w.u32(i * 4, v));
    return w.bytes;
  }
  [
    d.hdr,
    d.storedSize,
    d.pkcDataOffset,
    d.interfaceOffset,
    d.imemPhysBase,
    d.imemLoadSize,
    d.imemVirtBase,
    d.dmemPhysBase,
    d.dmemLoadSize,
  ].forEach((v, i) => w.u32(i * 4, v));
  w.u16(0x24, d.engineIdMask).u8(0x26, d.ucodeId).u8(0x27, d.signatureCount);
  w.u16(0x28, d.signatureVersions).u16(0x2a, d.reserved);
  signatures.forEach((s, i) => w.set(44 + i * SIGNATURE_SIZE, s));
  return w.bytes;
}

function forgeUcode(descriptor: FalconUcodeDesc, options: ForgeVbiosOptions, seed: number) {
  const dmem = forgeFwsecDmem({
    dmemLoadSize: descriptor.dmemLoadSize,
    dmemMapper: options.dmemMapper,
    cmdInBufferSize: options.cmdInBufferSize,
    seed,
  }).dmem;
  if (descriptor.descriptorVersion === 3) {
    dmem.fill(0, descriptor.pkcDataOffset, descriptor.pkcDataOffset + SIGNATURE_SIZE);
  }
  const ucode = new Uint8Array(descriptor.imemLoadSize + descriptor.dmemLoadSize);
  ucode.set(patternBytes(descriptor.imemLoadSize, seed * 31 + 5));
  ucode.set(dmem, descriptor.imemLoadSize);
  return ucode;
}

function writeIfr(w: ByteWriter, ifr: ForgeVbiosOptions["ifr"], romOffset: number): void {
  if (ifr === "none" || ifr === undefined) return;
  const fixedDataSize = 0x24;
  const totalDataSize = 0x32c;
  w.ascii(0, "NVGI");
  w.u32(4, (fixedDataSize << 16) | (ifr << 8));
  w.u32(8, totalDataSize);
  if (ifr === 3) {
    const flashStatusOffset = 0x1000;
    const directory = flashStatusOffset + 0x1000;
    w.u32(totalDataSize, flashStatusOffset);
    w.ascii(directory, "RFRD").u16(directory + 4, 2).u16(directory + 6, 0x20);
    w.u32(directory + 8, romOffset);
  } else {
    w.u32(fixedDataSize + 4, romOffset);
  }
}

interface PciHeaderOptions {
  romSignature: number;
  pcirPointer: number;
  pcirSignature: string;
  pcirLength: number;
  deviceId: number;
  codeType: number;
  pcirLast: boolean;
  npde?: { revision: number; length: number; last: boolean };
}

function writePciHeaders(w: ByteWriter, image: ForgedRomImage, o: PciHeaderOptions): void {
  const at = image.offset;
  const blocks = image.size / 512;
  w.u16(at, o.romSignature).u16(at + 0x18, o.pcirPointer);
  const pcir = at + o.pcirPointer;
  w.set(pcir, new Uint8Array(o.pcirLength));
  w.ascii(pcir, o.pcirSignature).u16(pcir + 4, 0x10de).u16(pcir + 6, o.deviceId);
  w.u16(pcir + 0x0a, o.pcirLength).u8(pcir + 0x0f, 0x03);
  w.u16(pcir + 0x10, blocks).u16(pcir + 0x12, 1).u8(pcir + 0x14, o.codeType);
  w.u8(pcir + 0x15, o.pcirLast ? 0x80 : 0);
  const npdeAt = at + alignUp(o.pcirPointer + o.pcirLength, 16);
  if (!o.npde) {
    w.set(npdeAt, new Uint8Array(12));
    return;
  }
  w.set(npdeAt, new Uint8Array(o.npde.length));
  w.ascii(npdeAt, "NPDE").u16(npdeAt + 4, o.npde.revision).u16(npdeAt + 6, o.npde.length);
  w.u16(npdeAt + 8, blocks);
  if (o.npde.length >= 11) w.u8(npdeAt + 10, o.npde.last ? 0x80 : 0);
}

function writePcAt(
  w: ByteWriter,
  image: ForgedRomImage,
  version: { biosVersion: number; biosOemVersion: number },
  falconUcodeTablePtr: number,
  seed: number,
): number {
  const at = image.offset;
  w.set(at, patternBytes(image.size, seed * 13 + 1));
  w.u8(at + 2, image.size / 512);
  writePciHeaders(w, image, {
    romSignature: 0xaa55,
    pcirPointer: 0x40,
    pcirSignature: "PCIR",
    pcirLength: 0x18,
    deviceId: 0x1e04,
    codeType: 0x00,
    pcirLast: false,
    npde: { revision: 0x101, length: 0x14, last: false },
  });
  const bit = at + 0x80;
  const tokens = [
    { id: 0x4e, version: 0, size: 0, offset: 0 },
    { id: 0x42, version: 2, size: 8, offset: 0xc0 },
    { id: 0x70, version: 2, size: 4, offset: 0xd0 },
  ];
  w.set(bit, new Uint8Array(0x60));
  w.u16(bit, 0xb8ff).ascii(bit + 2, "BIT\0").u16(bit + 6, 0x0100);
  w.u8(bit + 8, 12).u8(bit + 9, 6).u8(bit + 10, tokens.length);
  const sum = w.bytes.subarray(bit, bit + 11).reduce((s, b) => s + b, 0);
  w.u8(bit + 11, (0x100 - (sum & 0xff)) & 0xff);
  tokens.forEach((t, i) => {
    const o = bit + 12 + i * 6;
    w.u8(o, t.id).u8(o + 1, t.version).u16(o + 2, t.size).u16(o + 4, t.offset);
  });
  w.u32(at + 0xc0, version.biosVersion).u8(at + 0xc4, version.biosOemVersion);
  w.u32(at + 0xd0, falconUcodeTablePtr);
  return bit;
}

function writeEfi(w: ByteWriter, image: ForgedRomImage, seed: number): void {
  w.set(image.offset, patternBytes(image.size, seed * 17 + 2));
  // As on the real TU102: the PCIR says "last", the NPDE (1.0, 16 bytes) says not.
  writePciHeaders(w, image, {
    romSignature: 0xaa55,
    pcirPointer: 0x1c,
    pcirSignature: "PCIR",
    pcirLength: 0x1c,
    deviceId: 0x1e04,
    codeType: 0x03,
    pcirLast: true,
    npde: { revision: 0x100, length: 0x10, last: false },
  });
}

function writeFwsecImage(w: ByteWriter, image: ForgedRomImage, seed: number): void {
  w.set(image.offset, patternBytes(image.size, seed * 19 + image.offset));
  writePciHeaders(w, image, {
    romSignature: 0x4e56,
    pcirPointer: 0x20,
    pcirSignature: "NPDS",
    pcirLength: 0x18,
    deviceId: 0x1e00,
    codeType: 0xe0,
    pcirLast: false,
    npde: { revision: 0x101, length: 0x14, last: false },
  });
}

function writeNbsi(w: ByteWriter, image: ForgedRomImage, seed: number): void {
  w.set(image.offset, patternBytes(image.size, seed * 23 + 4));
  writePciHeaders(w, image, {
    romSignature: 0x4e56,
    pcirPointer: 0x20,
    pcirSignature: "NPDS",
    pcirLength: 0x18,
    deviceId: 0,
    codeType: 0x70,
    pcirLast: true,
  });
}

function writePmuTable(w: ByteWriter, at: number, descPtr: number, applicationId: number): void {
  const entries = [
    { applicationId: 0x01, targetId: 0x01, descPtr: 0x142e8 },
    { applicationId: 0x45, targetId: 0x07, descPtr },
    { applicationId, targetId: 0x07, descPtr },
    { applicationId: 0x00, targetId: 0x00, descPtr: 0 },
  ];
  w.u8(at, 1).u8(at + 1, 6).u8(at + 2, 6).u8(at + 3, entries.length).u8(at + 4, 1)
    .u8(at + 5, 0x30);
  entries.forEach((e, i) => {
    const o = at + 6 + i * 6;
    w.u8(o, e.applicationId).u8(o + 1, e.targetId).u32(o + 2, e.descPtr);
  });
}
