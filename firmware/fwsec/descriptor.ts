/**
 * The falcon ucode descriptor in front of the FWSEC ucode, versions 2
 * (Turing, GA100) and 3 (GA102 and later), and where the ucode's parts go in
 * the falcon's IMEM and DMEM.
 *
 * Every descriptor starts with the u32 `hdr`: bit 0 "version available",
 * bits 15:8 the version, bits 31:16 the header size (the descriptor, plus for
 * version 3 its signatures). The ucode follows the header directly.
 * Layouts (NVIDIA `kernel_gsp_fwsec.c` `FALCON_UCODE_DESC_V2`/`_V3`):
 *
 * | offset | version 2 (60 bytes) | version 3 (44 bytes) |
 * |---|---|---|
 * | 0x00 | hdr | hdr |
 * | 0x04 | storedSize | storedSize |
 * | 0x08 | uncompressedSize | pkcDataOffset |
 * | 0x0c | virtualEntry | interfaceOffset |
 * | 0x10 | interfaceOffset | imemPhysBase |
 * | 0x14 | imemPhysBase | imemLoadSize |
 * | 0x18 | imemLoadSize | imemVirtBase |
 * | 0x1c | imemVirtBase | dmemPhysBase |
 * | 0x20 | imemSecBase | dmemLoadSize |
 * | 0x24 | imemSecSize | u16 engineIdMask, u8 ucodeId, u8 signatureCount |
 * | 0x28 | dmemOffset | u16 signatureVersions, u16 reserved |
 * | 0x2c | dmemPhysBase | `signatureCount` × 384-byte signatures |
 * | 0x30 | dmemLoadSize | |
 * | 0x34 | altImemLoadSize | |
 * | 0x38 | altDmemLoadSize | |
 *
 * Load map (nova-core `firmware.rs`, NVIDIA `s_vbiosFillFlcnUcodeFromDescV2/V3`):
 * version 2 loads `imemLoadSize − imemSecSize` non-secure bytes from ucode 0 to
 * `imemPhysBase`, `imemSecSize` secure bytes from `imemSecBase − imemVirtBase`
 * to `imemPhysBase` plus that, and DMEM from `dmemOffset`; version 3 loads all
 * of IMEM as secure from 0 and DMEM from `imemLoadSize`. Both boot at
 * `imemVirtBase` (NVIDIA's open modules; nova-core boots at 0, and every real
 * VBIOS has `imemVirtBase` = 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fwsecLoadMap, parseFalconUcodeDesc } from "./descriptor.ts";
 * import { forgeFalconUcodeDesc } from "../forge/vbios.ts";
 *
 * const { descriptor } = parseFalconUcodeDesc(forgeFalconUcodeDesc({ descriptorVersion: 2 }));
 * const map = fwsecLoadMap(descriptor);
 * assert(descriptor.descriptorVersion === 2 && map.dmem.srcStart === descriptor.dmemOffset);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../../errors.ts";
import { ByteReader, type ByteReaderOptions, hex } from "../byte_reader.ts";
import type { FalconLoadMap, FalconLoadSegment } from "../falcon_load.ts";
import { type FieldLayout, fieldOffset, readFields } from "../field_layout.ts";

/** Size of a version-2 descriptor. */
export const FALCON_UCODE_DESC_V2_SIZE = 60;
/** Size of a version-3 descriptor, without its signatures. */
export const FALCON_UCODE_DESC_V3_SIZE = 44;
/** Size of one version-3 signature (`BCRT30_RSA3K_SIG_SIZE`). */
export const BCRT30_RSA3K_SIG_SIZE = 384;

const MIN_HEADER_SIZE: ReadonlyMap<number, number> = new Map([
  [2, FALCON_UCODE_DESC_V2_SIZE],
  [3, FALCON_UCODE_DESC_V3_SIZE],
]);

/** The fields of the u32 every descriptor starts with. */
export interface FalconUcodeDescHeader {
  /** The raw u32. */
  hdr: number;
  /** Bits 7:0; bit 0 says the version is available. */
  flags: number;
  /** Bits 15:8: 2 or 3. */
  descriptorVersion: number;
  /** Bits 31:16: bytes from the descriptor to the ucode. */
  headerSize: number;
}

/** A version-2 descriptor (Turing, GA100). */
export interface FalconUcodeDescV2 extends FalconUcodeDescHeader {
  /** Version 2. */
  descriptorVersion: 2;
  /** Stored size of the ucode. */
  storedSize: number;
  /** Uncompressed size of the ucode. */
  uncompressedSize: number;
  /** Virtual entry point. */
  virtualEntry: number;
  /** Offset of the application interface table in DMEM. */
  interfaceOffset: number;
  /** IMEM destination of the code. */
  imemPhysBase: number;
  /** Bytes of code (non-secure and secure). */
  imemLoadSize: number;
  /** Virtual base of the code; the boot address. */
  imemVirtBase: number;
  /** Virtual address of the secure code. */
  imemSecBase: number;
  /** Bytes of secure code. */
  imemSecSize: number;
  /** Offset of the data in the ucode. */
  dmemOffset: number;
  /** DMEM destination of the data. */
  dmemPhysBase: number;
  /** Bytes of data. */
  dmemLoadSize: number;
  /** Alternative IMEM load size. */
  altImemLoadSize: number;
  /** Alternative DMEM load size. */
  altDmemLoadSize: number;
}

/** A version-3 descriptor (GA102 and later). */
export interface FalconUcodeDescV3 extends FalconUcodeDescHeader {
  /** Version 3. */
  descriptorVersion: 3;
  /** Stored size of the ucode. */
  storedSize: number;
  /** Offset in DMEM where the selected signature goes. */
  pkcDataOffset: number;
  /** Offset of the application interface table in DMEM. */
  interfaceOffset: number;
  /** IMEM destination of the code. */
  imemPhysBase: number;
  /** Bytes of code (all secure). */
  imemLoadSize: number;
  /** Virtual base of the code; the boot address. */
  imemVirtBase: number;
  /** DMEM destination of the data. */
  dmemPhysBase: number;
  /** Bytes of data; the data follows the code in the ucode. */
  dmemLoadSize: number;
  /** Engines the ucode may run on (bit 0 SEC2, bit 2 NVDEC, bit 10 GSP). */
  engineIdMask: number;
  /** Ucode id, which selects the fuse register. */
  ucodeId: number;
  /** Number of signatures after the descriptor. */
  signatureCount: number;
  /** Bit `n` set: a signature for fuse version `n` is present, in bit order. */
  signatureVersions: number;
  /** Reserved u16. */
  reserved: number;
}

/**
 * The version-2 descriptor's fields: fifteen u32 (NVIDIA `FALCON_UCODE_DESC_V2`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_UCODE_DESC_V2_LAYOUT, FALCON_UCODE_DESC_V2_SIZE } from "./descriptor.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(FALCON_UCODE_DESC_V2_LAYOUT) === FALCON_UCODE_DESC_V2_SIZE);
 * ```
 */
export const FALCON_UCODE_DESC_V2_LAYOUT: readonly FieldLayout<
  Exclude<keyof FalconUcodeDescV2, "flags" | "descriptorVersion" | "headerSize">
>[] = ([
  "hdr",
  "storedSize",
  "uncompressedSize",
  "virtualEntry",
  "interfaceOffset",
  "imemPhysBase",
  "imemLoadSize",
  "imemVirtBase",
  "imemSecBase",
  "imemSecSize",
  "dmemOffset",
  "dmemPhysBase",
  "dmemLoadSize",
  "altImemLoadSize",
  "altDmemLoadSize",
] as const).map((name, i) => ({ name, offset: 4 * i, size: 4 }));

/**
 * The version-3 descriptor's fields (NVIDIA `FALCON_UCODE_DESC_V3`); the
 * signatures follow at 0x2c.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_UCODE_DESC_V3_LAYOUT, FALCON_UCODE_DESC_V3_SIZE } from "./descriptor.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(FALCON_UCODE_DESC_V3_LAYOUT) === FALCON_UCODE_DESC_V3_SIZE);
 * ```
 */
export const FALCON_UCODE_DESC_V3_LAYOUT: readonly FieldLayout<
  Exclude<keyof FalconUcodeDescV3, "flags" | "descriptorVersion" | "headerSize">
>[] = [
  { name: "hdr", offset: 0x00, size: 4 },
  { name: "storedSize", offset: 0x04, size: 4 },
  { name: "pkcDataOffset", offset: 0x08, size: 4 },
  { name: "interfaceOffset", offset: 0x0c, size: 4 },
  { name: "imemPhysBase", offset: 0x10, size: 4 },
  { name: "imemLoadSize", offset: 0x14, size: 4 },
  { name: "imemVirtBase", offset: 0x18, size: 4 },
  { name: "dmemPhysBase", offset: 0x1c, size: 4 },
  { name: "dmemLoadSize", offset: 0x20, size: 4 },
  { name: "engineIdMask", offset: 0x24, size: 2 },
  { name: "ucodeId", offset: 0x26, size: 1 },
  { name: "signatureCount", offset: 0x27, size: 1 },
  { name: "signatureVersions", offset: 0x28, size: 2 },
  { name: "reserved", offset: 0x2a, size: 2 },
];

/** A version-2 or version-3 descriptor. */
export type FalconUcodeDesc = FalconUcodeDescV2 | FalconUcodeDescV3;

/** A parsed descriptor and its signatures. */
export interface ParsedFalconUcodeDesc {
  /** The descriptor. */
  descriptor: FalconUcodeDesc;
  /** Version 3: `signatureCount` signatures of 384 bytes (views into the input). Version 2: none. */
  signatures: Uint8Array[];
}

/**
 * Split a descriptor's first u32 into its fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFalconUcodeDescHeader } from "./descriptor.ts";
 * const h = parseFalconUcodeDescHeader(0x003c0201);
 * assert(h.descriptorVersion === 2 && h.headerSize === 60 && h.flags === 1);
 * ```
 */
export function parseFalconUcodeDescHeader(hdr: number): FalconUcodeDescHeader {
  return {
    hdr: hdr >>> 0,
    flags: hdr & 0xff,
    descriptorVersion: (hdr >>> 8) & 0xff,
    headerSize: hdr >>> 16,
  };
}

/**
 * Parse a descriptor from its bytes (at least `headerSize` of them, which
 * for version 3 include the signatures).
 *
 * @param bytes The descriptor's bytes.
 * @param options File name and the descriptor's file offset, for errors.
 * @returns The descriptor and its signatures.
 * @throws {FirmwareFormatError} when the version flag is clear, the version
 *   is not 2 or 3, the header size is smaller than the descriptor (plus its
 *   signatures), or the bytes are shorter than the header size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFalconUcodeDesc } from "./descriptor.ts";
 * import { forgeFalconUcodeDesc } from "../forge/vbios.ts";
 *
 * const { descriptor, signatures } = parseFalconUcodeDesc(forgeFalconUcodeDesc({ descriptorVersion: 3 }));
 * assert(descriptor.descriptorVersion === 3 && signatures.length === descriptor.signatureCount);
 * ```
 */
export function parseFalconUcodeDesc(
  bytes: Uint8Array,
  options: ByteReaderOptions = {},
): ParsedFalconUcodeDesc {
  const r: ByteReader = new ByteReader(bytes, options);
  const header = parseFalconUcodeDescHeader(r.u32(0, "descriptor.hdr"));
  if ((header.flags & 1) === 0) {
    r.fail(0, "descriptor.hdr", "the version-available flag (bit 0) is clear");
  }
  const minimum = MIN_HEADER_SIZE.get(header.descriptorVersion);
  if (minimum === undefined) {
    r.fail(1, "descriptor.version", `descriptor version ${header.descriptorVersion} is not 2 or 3`);
  }
  if (header.headerSize < minimum) {
    r.fail(
      2,
      "descriptor.headerSize",
      `header size ${header.headerSize} is under the ${minimum}-byte version-` +
        `${header.descriptorVersion} descriptor`,
    );
  }
  r.check(0, header.headerSize, "descriptor");
  if (header.descriptorVersion === 2) {
    return { descriptor: parseV2(r, header), signatures: [] };
  }
  const descriptor = parseV3(r, header);
  const signaturesSize = descriptor.signatureCount * BCRT30_RSA3K_SIG_SIZE;
  if (FALCON_UCODE_DESC_V3_SIZE + signaturesSize > header.headerSize) {
    r.fail(
      fieldOffset(FALCON_UCODE_DESC_V3_LAYOUT, "signatureCount"),
      "descriptor.signatureCount",
      `${descriptor.signatureCount} signatures of 384 bytes do not fit the ` +
        `${header.headerSize}-byte header`,
    );
  }
  const signatures = Array.from(
    { length: descriptor.signatureCount },
    (_, i) =>
      r.bytesAt(
        FALCON_UCODE_DESC_V3_SIZE + i * BCRT30_RSA3K_SIG_SIZE,
        BCRT30_RSA3K_SIG_SIZE,
        `signatures[${i}]`,
      ),
  );
  return { descriptor, signatures };
}

/**
 * Bytes of ucode after the header: code and data. Version 3 keeps the data
 * right after the code; version 2 says where (`dmemOffset`, which equals
 * `imemLoadSize` in every real VBIOS).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fwsecUcodeLength, parseFalconUcodeDesc } from "./descriptor.ts";
 * import { forgeFalconUcodeDesc } from "../forge/vbios.ts";
 *
 * const { descriptor } = parseFalconUcodeDesc(forgeFalconUcodeDesc({ descriptorVersion: 3 }));
 * assert(fwsecUcodeLength(descriptor) === descriptor.imemLoadSize + descriptor.dmemLoadSize);
 * ```
 */
export function fwsecUcodeLength(descriptor: FalconUcodeDesc): number {
  return Math.max(descriptor.imemLoadSize, dmemSource(descriptor) + descriptor.dmemLoadSize);
}

/**
 * Where each part of the ucode goes, checked against the ucode's length.
 * DMEM holds the application interface and the DMEM mapper; the boot vector
 * is `imemVirtBase`.
 *
 * @param descriptor The descriptor.
 * @param options File name and the descriptor's file offset, for errors.
 * @returns Segments and the boot address.
 * @throws {FirmwareFormatError} (field `descriptor.imemSecSize` or
 *   `descriptor.imemSecBase`) when the secure code does not lie inside the code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fwsecLoadMap, parseFalconUcodeDesc } from "./descriptor.ts";
 * import { forgeFalconUcodeDesc } from "../forge/vbios.ts";
 *
 * const { descriptor } = parseFalconUcodeDesc(forgeFalconUcodeDesc({ descriptorVersion: 3 }));
 * const map = fwsecLoadMap(descriptor);
 * assert(map.imemNonSecure === undefined && map.dmem.srcStart === descriptor.imemLoadSize);
 * ```
 */
export function fwsecLoadMap(
  descriptor: FalconUcodeDesc,
  options: ByteReaderOptions = {},
): FalconLoadMap {
  const dmem: FalconLoadSegment = {
    srcStart: dmemSource(descriptor),
    dstStart: descriptor.dmemPhysBase,
    length: descriptor.dmemLoadSize,
  };
  const bootAddress = descriptor.imemVirtBase;
  if (descriptor.descriptorVersion === 3) {
    return {
      imemSecure: {
        srcStart: 0,
        dstStart: descriptor.imemPhysBase,
        length: descriptor.imemLoadSize,
      },
      dmem,
      bootAddress,
    };
  }
  const fail = (offset: number, field: string, reason: string): never => {
    throw new FirmwareFormatError({
      file: options.file,
      offset: (options.base ?? 0) + offset,
      field,
      reason,
    });
  };
  const { imemLoadSize, imemSecSize, imemSecBase, imemVirtBase, imemPhysBase } = descriptor;
  if (imemSecSize > imemLoadSize) {
    fail(
      fieldOffset(FALCON_UCODE_DESC_V2_LAYOUT, "imemSecSize"),
      "descriptor.imemSecSize",
      `0x${hex(imemSecSize)} secure bytes exceed the 0x${hex(imemLoadSize)}-byte code`,
    );
  }
  const secureStart = imemSecBase - imemVirtBase;
  if (secureStart < 0 || secureStart + imemSecSize > imemLoadSize) {
    fail(
      fieldOffset(FALCON_UCODE_DESC_V2_LAYOUT, "imemSecBase"),
      "descriptor.imemSecBase",
      `secure code at 0x${hex(imemSecBase)} − virtual base 0x${hex(imemVirtBase)} ` +
        `+ 0x${hex(imemSecSize)} bytes does not lie inside the 0x${hex(imemLoadSize)}-byte code`,
    );
  }
  return {
    imemNonSecure: { srcStart: 0, dstStart: imemPhysBase, length: imemLoadSize - imemSecSize },
    imemSecure: {
      srcStart: secureStart,
      dstStart: imemPhysBase + secureStart,
      length: imemSecSize,
    },
    dmem,
    bootAddress,
  };
}

function dmemSource(descriptor: FalconUcodeDesc): number {
  return descriptor.descriptorVersion === 2 ? descriptor.dmemOffset : descriptor.imemLoadSize;
}

function parseV2(r: ByteReader, header: FalconUcodeDescHeader): FalconUcodeDescV2 {
  return {
    ...header,
    ...readFields(r, 0, FALCON_UCODE_DESC_V2_LAYOUT, "descriptor"),
    descriptorVersion: 2,
  };
}

function parseV3(r: ByteReader, header: FalconUcodeDescHeader): FalconUcodeDescV3 {
  return {
    ...header,
    ...readFields(r, 0, FALCON_UCODE_DESC_V3_LAYOUT, "descriptor"),
    descriptorVersion: 3,
  };
}
