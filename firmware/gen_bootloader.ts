/**
 * The generic falcon bootloader (`gen_bootloader-570.144.bin`, Turing and
 * GA100), which loads FWSEC into the GSP falcon: an nvfw bin header, nouveau's
 * `nvfw_bl_desc` (six u32) at `binHeader.headerOffset`, and the payload at
 * `binHeader.dataOffset`. The descriptor's code and data offsets count from
 * the start of the payload.
 *
 * The real file is 816 bytes, the same for every Turing chip and GA100: start
 * tag 253, DMEM load offset 0, 512 bytes of code at payload offset 0 and 256
 * bytes of data at 512.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGenBootloader } from "./gen_bootloader.ts";
 * import { forgeGenBootloader } from "./forge/hs_firmware.ts";
 *
 * const bl = parseGenBootloader(forgeGenBootloader());
 * assert(bl.descriptor.startTag === 253 && bl.code.length === 512);
 * ```
 *
 * @module
 */

import { type BinHeader, parseBinHeader } from "./bin_header.ts";
import { ByteReader, hex } from "./byte_reader.ts";

/** `nvfw_bl_desc`. Code and data offsets count from the start of the payload. */
export interface GenBootloaderDescriptor {
  /** `start_tag`: the IMEM tag (address / 256) the bootloader runs at. */
  startTag: number;
  /** `dmem_load_off`: DMEM offset for the DMEM descriptor the driver fills in. */
  dmemLoadOffset: number;
  /** `code_off`: payload offset of the code. */
  codeOffset: number;
  /** `code_size`: size of the code. */
  codeSize: number;
  /** `data_off`: payload offset of the data. */
  dataOffset: number;
  /** `data_size`: size of the data. */
  dataSize: number;
}

/** A parsed generic bootloader file. */
export interface GenBootloader {
  /** The bin header. */
  binHeader: BinHeader;
  /** The descriptor. */
  descriptor: GenBootloaderDescriptor;
  /** The code, a view into the file. */
  code: Uint8Array;
  /** The data, a view into the file. */
  data: Uint8Array;
}

/** Size of `nvfw_bl_desc`. */
export const GEN_BOOTLOADER_DESC_SIZE = 24;

/**
 * The fields of `nvfw_bl_desc` in file order: six u32, field `i` at
 * `binHeader.headerOffset + 4 * i`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GEN_BOOTLOADER_DESC_FIELDS, GEN_BOOTLOADER_DESC_SIZE } from "./gen_bootloader.ts";
 * assert(4 * GEN_BOOTLOADER_DESC_FIELDS.length === GEN_BOOTLOADER_DESC_SIZE);
 * ```
 */
export const GEN_BOOTLOADER_DESC_FIELDS: readonly (keyof GenBootloaderDescriptor)[] = [
  "startTag",
  "dmemLoadOffset",
  "codeOffset",
  "codeSize",
  "dataOffset",
  "dataSize",
];

/**
 * Parse a generic bootloader file and check that its code and data lie in the payload.
 *
 * @param bytes The whole file.
 * @param file File name for error messages.
 * @returns The headers, the code and the data (views into `bytes`).
 * @throws {FirmwareFormatError} when the file is truncated, the magic is
 *   wrong, or the code or data range falls outside the payload.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGenBootloader } from "./gen_bootloader.ts";
 * import { forgeGenBootloader } from "./forge/hs_firmware.ts";
 *
 * const file = forgeGenBootloader({ codeSize: 256, dataSize: 64 });
 * const bl = parseGenBootloader(file, "gen_bootloader-570.144.bin");
 * assert(bl.code.length === 256 && bl.data.length === 64);
 * ```
 */
export function parseGenBootloader(bytes: Uint8Array, file?: string): GenBootloader {
  const binHeader = parseBinHeader(bytes, file);
  const r = new ByteReader(bytes, { file });
  const at = binHeader.headerOffset;
  r.check(at, GEN_BOOTLOADER_DESC_SIZE, "descriptor");
  const descriptor = {} as GenBootloaderDescriptor;
  GEN_BOOTLOADER_DESC_FIELDS.forEach((name, i) => {
    descriptor[name] = r.u32(at + 4 * i, `descriptor.${name}`);
  });
  const payload = bytes.subarray(binHeader.dataOffset, binHeader.dataOffset + binHeader.dataSize);
  const part = (offsetName: "codeOffset" | "dataOffset", size: number): Uint8Array => {
    const start = descriptor[offsetName];
    if (start + size > payload.length) {
      r.fail(
        at + 4 * GEN_BOOTLOADER_DESC_FIELDS.indexOf(offsetName),
        `descriptor.${offsetName}`,
        `range 0x${hex(start)}+0x${hex(size)} is outside the ${payload.length}-byte payload`,
      );
    }
    return payload.subarray(start, start + size);
  };
  const code = part("codeOffset", descriptor.codeSize);
  const data = part("dataOffset", descriptor.dataSize);
  return { binHeader, descriptor, code, data };
}
