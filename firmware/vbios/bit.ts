/**
 * The BIOS Information Table (BIT) of the PC-AT image: a header found by its
 * `FF B8 "BIT" 00` signature, followed by tokens that point at data in the
 * image. Two tokens matter for the boot: BIOS data (`'B'`, 0x42), which holds
 * the VBIOS version, and falcon data (`'p'`, 0x70), which points at the PMU
 * lookup table in the FWSEC section.
 *
 * Layouts (NVIDIA `kernel_gsp_fwsec.c` `BIT_HEADER_V1_00`/`BIT_TOKEN_V1_00`):
 *
 * | offset | header field | | offset | token field |
 * |---|---|---|---|---|
 * | 0 | u16 id 0xB8FF | | 0 | u8 id |
 * | 2 | `"BIT\0"` | | 1 | u8 data version |
 * | 6 | u16 BCD version | | 2 | u16 data size |
 * | 8 | u8 header size | | 4 | u16 data offset (in the PC-AT image) |
 * | 9 | u8 token size | | | |
 * | 10 | u8 token count | | | |
 * | 11 | u8 checksum: header bytes sum to 0 mod 256 | | | |
 *
 * The BIOS-data token's data starts with the u32 `BIOSVersion` and the u8
 * `BIOSOEMVersion`; the version prints as the version's bytes from the most
 * significant down, then the OEM byte (`90.02.17.00.7B`; nouveau
 * `nvkm/subdev/bios/base.c` reads the same five bytes from its `'i'` token).
 *
 * The search reads the image in 256-byte chunks and stops at the first
 * candidate whose checksum holds (NVIDIA skips candidates that fail it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findBitTable, readVbiosVersion } from "./bit.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const src = bufferSource(forgeVbios({ version: { biosVersion: 0x90021700, biosOemVersion: 0x7b } }).bytes);
 * const pcAt = walkRomImages(src, 0)[0];
 * const bit = findBitTable(src, pcAt);
 * assert(readVbiosVersion(src, pcAt, bit)?.text === "90.02.17.00.7B");
 * ```
 *
 * @module
 */

import { hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";
import { type FieldLayout, fieldOffset, readFields } from "../field_layout.ts";
import { failAt, readIn, type Region } from "./_source_reader.ts";
import type { ByteRange } from "./rom_images.ts";

/** The BIT header's u16 id. */
export const BIT_HEADER_ID = 0xb8ff;
/** The byte pattern the search looks for: the id and `"BIT\0"`. */
export const BIT_PATTERN: readonly number[] = [0xff, 0xb8, 0x42, 0x49, 0x54, 0x00];
/** Smallest header size the parser accepts (the fields it reads). */
export const BIT_HEADER_SIZE = 12;
/** Smallest token size the parser accepts (the fields it reads). */
export const BIT_TOKEN_SIZE = 6;
/**
 * The BIT header's fields the parser reads, after the 6-byte pattern (the
 * u16 id and `"BIT\0"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BIT_HEADER_LAYOUT, BIT_HEADER_SIZE } from "./bit.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(BIT_HEADER_LAYOUT) === BIT_HEADER_SIZE);
 * ```
 */
export const BIT_HEADER_LAYOUT: readonly FieldLayout<
  Exclude<keyof BitTable, "offset" | "tokens">
>[] = [
  { name: "bcdVersion", offset: 6, size: 2 },
  { name: "headerSize", offset: 8, size: 1 },
  { name: "tokenSize", offset: 9, size: 1 },
  { name: "tokenEntries", offset: 10, size: 1 },
  { name: "checksum", offset: 11, size: 1 },
];

/**
 * One BIT token's fields; tokens are `tokenSize` apart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BIT_TOKEN_LAYOUT, BIT_TOKEN_SIZE } from "./bit.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(BIT_TOKEN_LAYOUT) === BIT_TOKEN_SIZE);
 * ```
 */
export const BIT_TOKEN_LAYOUT: readonly FieldLayout<keyof BitToken>[] = [
  { name: "id", offset: 0, size: 1 },
  { name: "dataVersion", offset: 1, size: 1 },
  { name: "dataSize", offset: 2, size: 2 },
  { name: "dataOffset", offset: 4, size: 2 },
];

/** Bytes read per step of the BIT search. */
export const BIT_SCAN_CHUNK = 256;
/**
 * Distance between the starts of successive search chunks: the chunks
 * overlap by 8 bytes (more than the 6-byte pattern needs) so that every
 * chunk starts 4-byte aligned, as a PROM window reads whole 32-bit words.
 */
const BIT_SCAN_STEP = BIT_SCAN_CHUNK - 8;

/**
 * How many pattern matches whose header checksum fails the search looks at
 * before giving up. Real images have one match; a crafted image with a match
 * every few bytes would otherwise cost a header read (and, on a live GPU, a
 * PROM read) per match.
 */
export const BIT_MAX_CANDIDATES = 64;

/** Token ids falconry reads. */
export const BIT_TOKEN = {
  /** `'B'`: BIOS data, starting with the VBIOS version. */
  biosData: 0x42,
  /** `'p'`: falcon data, a u32 pointer to the PMU lookup table (data version 2). */
  falconData: 0x70,
} as const;

/** One BIT token. */
export interface BitToken {
  /** Token id (an ASCII letter: `'B'`, `'p'`, …). */
  id: number;
  /** Version of the token's data. */
  dataVersion: number;
  /** Size of the token's data. */
  dataSize: number;
  /** Offset of the token's data from the start of the PC-AT image. */
  dataOffset: number;
}

/** The BIT header and its tokens. */
export interface BitTable {
  /** Absolute offset of the header. */
  offset: number;
  /** BCD version (0x0100 = 1.00). */
  bcdVersion: number;
  /** Header size; tokens start this far after the header. */
  headerSize: number;
  /** Token size, the stride of the token array. */
  tokenSize: number;
  /** Number of tokens. */
  tokenEntries: number;
  /** Checksum byte. */
  checksum: number;
  /** The tokens, in table order. */
  tokens: BitToken[];
}

/** The VBIOS version from the BIOS-data token. */
export interface VbiosVersion {
  /** `BIOSVersion`, e.g. 0x90021700. */
  biosVersion: number;
  /** `BIOSOEMVersion`, e.g. 0x7b. */
  biosOemVersion: number;
  /** As NVIDIA's tools print it: `90.02.17.00.7B`. */
  text: string;
}

/**
 * Find the BIT in an image (the PC-AT image) and read its tokens.
 *
 * @param source The VBIOS.
 * @param image The image to search, by absolute offset and size.
 * @returns The header and tokens.
 * @throws {FirmwareFormatError} when the image holds no BIT signature, no
 *   candidate with a valid checksum, a header or token size smaller than the
 *   fields read, or tokens that run past the image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BIT_TOKEN, findBitTable } from "./bit.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const src = bufferSource(forgeVbios().bytes);
 * const bit = findBitTable(src, walkRomImages(src, 0)[0]);
 * assert(bit.tokens.some((t) => t.id === BIT_TOKEN.falconData));
 * ```
 */
export function findBitTable(
  source: ByteSource,
  image: ByteRange,
): BitTable {
  const region: Region = { offset: image.offset, size: image.size, name: "PC-AT image" };
  const end = region.offset + region.size;
  let rejected: { offset: number; sum: number } | undefined;
  let candidates = 0;
  let lastChecked = -1;
  scan: for (
    let chunkAt = region.offset;
    chunkAt + BIT_PATTERN.length <= end;
    chunkAt += BIT_SCAN_STEP
  ) {
    const length = Math.min(BIT_SCAN_CHUNK, end - chunkAt);
    const chunk = readIn(source, region, chunkAt, length, "bit").bytes;
    for (let i = 0; i + BIT_PATTERN.length <= chunk.length; i++) {
      if (!BIT_PATTERN.every((b, j) => chunk[i + j] === b)) continue;
      const at = chunkAt + i;
      // Chunks overlap, so a match near a chunk's end is seen again in the next one.
      if (at <= lastChecked) continue;
      lastChecked = at;
      const sum = headerChecksum(source, region, at);
      if (sum === 0) return readBitTable(source, region, at);
      rejected ??= { offset: at, sum };
      if (++candidates >= BIT_MAX_CANDIDATES) break scan;
    }
  }
  if (rejected) {
    failAt(
      source,
      rejected.offset,
      "bit.checksum",
      `the BIT header's bytes sum to 0x${hex(rejected.sum)}, not 0 mod 256`,
    );
  }
  return failAt(source, region.offset, "bit", "no BIT table (FF B8 'BIT' 00) in the PC-AT image");
}

/**
 * The first token with id `id`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bitToken } from "./bit.ts";
 * const table = { offset: 0, bcdVersion: 0x100, headerSize: 12, tokenSize: 6, tokenEntries: 1, checksum: 0,
 *   tokens: [{ id: 0x42, dataVersion: 2, dataSize: 37, dataOffset: 0x23e }] };
 * assert(bitToken(table, 0x42)?.dataOffset === 0x23e && bitToken(table, 0x70) === undefined);
 * ```
 */
export function bitToken(table: BitTable, id: number): BitToken | undefined {
  return table.tokens.find((t) => t.id === id);
}

/**
 * The VBIOS version from the BIOS-data token (5 bytes read), or `undefined`
 * when the table has no such token or its data is shorter than 5 bytes.
 *
 * @param source The VBIOS.
 * @param pcAt The PC-AT image, which token data offsets count from.
 * @param table Its BIT.
 * @returns The version.
 * @throws {FirmwareFormatError} when the token's data lies outside the image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findBitTable, readVbiosVersion } from "./bit.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const src = bufferSource(forgeVbios({ version: { biosVersion: 0x86041c00, biosOemVersion: 1 } }).bytes);
 * const pcAt = walkRomImages(src, 0)[0];
 * assert(readVbiosVersion(src, pcAt, findBitTable(src, pcAt))?.text === "86.04.1C.00.01");
 * ```
 */
export function readVbiosVersion(
  source: ByteSource,
  pcAt: ByteRange,
  table: BitTable,
): VbiosVersion | undefined {
  const token = bitToken(table, BIT_TOKEN.biosData);
  if (!token || token.dataSize < 5) return undefined;
  const r = readIn(source, pcAtRegion(pcAt), pcAt.offset + token.dataOffset, 5, "bit.biosData");
  const biosVersion = r.u32(0, "bit.biosData.biosVersion");
  const biosOemVersion = r.u8(4, "bit.biosData.biosOemVersion");
  return { biosVersion, biosOemVersion, text: formatVbiosVersion(biosVersion, biosOemVersion) };
}

/**
 * The falcon-data token's `FalconUcodeTablePtr` (4 bytes read): a pointer to
 * the PMU lookup table that counts the PC-AT and FWSEC images as contiguous.
 * `undefined` when the table has no falcon-data token.
 *
 * @param source The VBIOS.
 * @param pcAt The PC-AT image.
 * @param table Its BIT.
 * @returns The pointer.
 * @throws {FirmwareFormatError} when the token is not data version 2 with at
 *   least 4 bytes (what NVIDIA reads), or its data lies outside the image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findBitTable, readFalconDataPointer } from "./bit.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout } = forgeVbios();
 * const src = bufferSource(bytes);
 * const pcAt = walkRomImages(src, 0)[0];
 * assert(readFalconDataPointer(src, pcAt, findBitTable(src, pcAt)) === layout.falconUcodeTablePtr);
 * ```
 */
export function readFalconDataPointer(
  source: ByteSource,
  pcAt: ByteRange,
  table: BitTable,
): number | undefined {
  const tokens = table.tokens.filter((t) => t.id === BIT_TOKEN.falconData);
  if (tokens.length === 0) return undefined;
  const token = tokens.find((t) => t.dataVersion === 2 && t.dataSize >= 4);
  if (!token) {
    const t = tokens[0];
    return failAt(
      source,
      table.offset,
      "bit.falconData",
      `falcon-data token has data version ${t.dataVersion} and ${t.dataSize} bytes; ` +
        `expected version 2 with at least 4 bytes`,
    );
  }
  return readIn(source, pcAtRegion(pcAt), pcAt.offset + token.dataOffset, 4, "bit.falconData")
    .u32(0, "bit.falconData.falconUcodeTablePtr");
}

/**
 * Print a VBIOS version as NVIDIA's tools do: the four bytes of
 * `BIOSVersion` from the most significant, then the OEM byte, in hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatVbiosVersion } from "./bit.ts";
 * assert(formatVbiosVersion(0x90021700, 0x7b) === "90.02.17.00.7B");
 * ```
 */
export function formatVbiosVersion(biosVersion: number, biosOemVersion: number): string {
  return [24, 16, 8, 0].map((shift) => (biosVersion >>> shift) & 0xff)
    .concat(biosOemVersion & 0xff)
    .map((b) => b.toString(16).toUpperCase().padStart(2, "0"))
    .join(".");
}

function pcAtRegion(pcAt: ByteRange): Region {
  return { offset: pcAt.offset, size: pcAt.size, name: "PC-AT image" };
}

function headerChecksum(source: ByteSource, region: Region, at: number): number {
  const sizeAt = at + 8;
  if (sizeAt + 1 > region.offset + region.size) return -1;
  const headerSize = readIn(source, region, sizeAt, 1, "bit.headerSize").u8(0, "bit.headerSize");
  if (headerSize < BIT_HEADER_SIZE || at + headerSize > region.offset + region.size) return -1;
  const bytes = readIn(source, region, at, headerSize, "bit.header").bytes;
  return bytes.reduce((sum, b) => (sum + b) & 0xff, 0);
}

function readBitTable(source: ByteSource, region: Region, at: number): BitTable {
  const header = readIn(source, region, at, BIT_HEADER_SIZE, "bit.header");
  const table: BitTable = {
    offset: at,
    ...readFields(header, 0, BIT_HEADER_LAYOUT, "bit"),
    tokens: [],
  };
  if (table.tokenSize < BIT_TOKEN_SIZE) {
    header.fail(
      fieldOffset(BIT_HEADER_LAYOUT, "tokenSize"),
      "bit.tokenSize",
      `token size ${table.tokenSize} is under ${BIT_TOKEN_SIZE}`,
    );
  }
  const tokensAt = at + table.headerSize;
  const r = readIn(source, region, tokensAt, table.tokenEntries * table.tokenSize, "bit.tokens");
  for (let i = 0; i < table.tokenEntries; i++) {
    table.tokens.push(readFields(r, i * table.tokenSize, BIT_TOKEN_LAYOUT, `bit.tokens[${i}]`));
  }
  return table;
}
