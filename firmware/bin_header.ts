/**
 * The `nvfw_bin_hdr` that opens NVIDIA's Booter, scrubber, RISC-V bootloader
 * and generic bootloader files: a magic, a version, and where the
 * file-specific header and the payload sit.
 *
 * What the real files (linux-firmware, 535.113.01 and 570.144) show: the
 * magic is 0x10de, the version 1, the specific header starts right after this
 * one at offset 24, and the payload runs to the end of the file. `binSize` is
 * *not* the file length but the length rounded up to 256 bytes (61304 →
 * 61440), so it is reported and never checked.
 *
 * @example Reading the header of a synthetic Booter
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBinHeader } from "./bin_header.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * const bin = parseBinHeader(forgeBooter());
 * assert(bin.binMagic === 0x10de && bin.headerOffset === 24);
 * ```
 *
 * @module
 */

import { ByteReader, hex } from "./byte_reader.ts";

/** The `bin_magic` of every nvfw bin file (NVIDIA's PCI vendor id). */
export const BIN_MAGIC = 0x10de;

/** Size of `nvfw_bin_hdr`: six little-endian u32. */
export const BIN_HEADER_SIZE = 24;

/** `nvfw_bin_hdr`, at offset 0 of the file. All offsets are from the start of the file. */
export interface BinHeader {
  /** `bin_magic`, always {@linkcode BIN_MAGIC}. */
  binMagic: number;
  /** `bin_ver`, 1 in every real file. */
  binVersion: number;
  /** `bin_size`: the file length rounded up to 256 bytes in the real files; informational. */
  binSize: number;
  /** `header_offset`: file offset of the file-specific header (HS header, descriptor). */
  headerOffset: number;
  /** `data_offset`: file offset of the payload (the ucode image). */
  dataOffset: number;
  /** `data_size`: payload length in bytes. */
  dataSize: number;
}

/**
 * The fields of `nvfw_bin_hdr` in file order: six u32, field `i` at offset `4 * i`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BIN_HEADER_FIELDS } from "./bin_header.ts";
 * assert(4 * BIN_HEADER_FIELDS.indexOf("dataOffset") === 16);
 * ```
 */
export const BIN_HEADER_FIELDS: readonly (keyof BinHeader)[] = [
  "binMagic",
  "binVersion",
  "binSize",
  "headerOffset",
  "dataOffset",
  "dataSize",
];

/**
 * Parse and check the `nvfw_bin_hdr` at the start of `bytes`.
 *
 * Checks the magic, that `headerOffset` lies inside the file and that the
 * payload `[dataOffset, dataOffset + dataSize)` lies inside the file.
 *
 * @param bytes The whole file.
 * @param file File name for error messages.
 * @returns The header fields.
 * @throws {FirmwareFormatError} when the file is shorter than 24 bytes, the
 *   magic is wrong, or an offset is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBinHeader, BIN_MAGIC } from "./bin_header.ts";
 * import { forgeGenBootloader } from "./forge/hs_firmware.ts";
 *
 * const file = forgeGenBootloader();
 * const bin = parseBinHeader(file, "gen_bootloader-570.144.bin");
 * assert(bin.binMagic === BIN_MAGIC);
 * assert(bin.dataOffset + bin.dataSize === file.length);
 * ```
 */
export function parseBinHeader(bytes: Uint8Array, file?: string): BinHeader {
  const r = new ByteReader(bytes, { file });
  r.check(0, BIN_HEADER_SIZE, "binHeader");
  const header = {} as BinHeader;
  BIN_HEADER_FIELDS.forEach((name, i) => {
    header[name] = r.u32(4 * i, `binHeader.${name}`);
  });
  if (header.binMagic !== BIN_MAGIC) {
    r.fail(
      0,
      "binHeader.binMagic",
      `expected 0x${hex(BIN_MAGIC)}, found 0x${hex(header.binMagic)}`,
    );
  }
  if (header.headerOffset >= bytes.length) {
    r.fail(
      12,
      "binHeader.headerOffset",
      `0x${hex(header.headerOffset)} is past the end of the ${bytes.length}-byte file: ` +
        "it is cut short, or the header is wrong",
    );
  }
  if (header.dataOffset > bytes.length) {
    r.fail(
      16,
      "binHeader.dataOffset",
      `0x${hex(header.dataOffset)} is past the end of the ${bytes.length}-byte file: ` +
        "it is cut short, or the header is wrong",
    );
  }
  if (header.dataOffset + header.dataSize > bytes.length) {
    r.fail(
      20,
      "binHeader.dataSize",
      `payload 0x${hex(header.dataOffset)}+0x${hex(header.dataSize)} needs ` +
        `${header.dataOffset + header.dataSize} bytes, but the file has only ${bytes.length}: ` +
        "it is cut short",
    );
  }
  return header;
}
