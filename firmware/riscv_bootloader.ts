/**
 * The GSP RISC-V bootloader (`bootloader-*.bin`): an nvfw bin header, an
 * `RM_RISCV_UCODE_DESC` at `binHeader.headerOffset`, and the ucode at
 * `binHeader.dataOffset`. The descriptor's offsets count from the start of the
 * ucode.
 *
 * The descriptor's length follows its version (NVIDIA's `rmRiscvUcode.h`):
 * version 4 is 19 u32 (76 bytes, Turing and GA100); version 5 adds
 * `fbReservedSize` and `bSignedAsCode` (84 bytes, GA102 and later). The ucode
 * is taken from the bin header, never from a fixed offset after the
 * descriptor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRiscvBootloader } from "./riscv_bootloader.ts";
 * import { forgeRiscvBootloader } from "./forge/hs_firmware.ts";
 *
 * const bl = parseRiscvBootloader(forgeRiscvBootloader({ version: 5 }));
 * assert(bl.descriptorSize === 84 && bl.descriptor.version === 5);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type BinHeader, parseBinHeader } from "./bin_header.ts";
import { ByteReader, hex } from "./byte_reader.ts";

const logger = getLogger(["falconry", "firmware", "riscv-bootloader"]);

/**
 * `RM_RISCV_UCODE_DESC`. Offsets count from the start of the ucode. NVIDIA's
 * Hungarian `b` prefix is dropped (`bIsMonitorEnabled` → `isMonitorEnabled`).
 */
export interface RiscvUcodeDescriptor {
  /** Structure version: 4 or 5. */
  version: number;
  /** Ucode offset of the bootloader code (0 with size 0 on Hopper/Blackwell). */
  bootloaderOffset: number;
  /** Size of the bootloader code. */
  bootloaderSize: number;
  /** Ucode offset of the bootloader parameters. */
  bootloaderParamOffset: number;
  /** Size of the bootloader parameters. */
  bootloaderParamSize: number;
  /** Ucode offset of an embedded RISC-V ELF (unused: 0). */
  riscvElfOffset: number;
  /** Size of the embedded ELF. */
  riscvElfSize: number;
  /** Changelist number of the image. */
  appVersion: number;
  /** Ucode offset of the manifest the boot ROM reads. */
  manifestOffset: number;
  /** Size of the manifest. */
  manifestSize: number;
  /** Ucode offset of the monitor data (the WPR meta's `bootloaderDataOffset`). */
  monitorDataOffset: number;
  /** Size of the monitor data. */
  monitorDataSize: number;
  /** Ucode offset of the monitor code (the WPR meta's `bootloaderCodeOffset`). */
  monitorCodeOffset: number;
  /** Size of the monitor code. */
  monitorCodeSize: number;
  /** `bIsMonitorEnabled`: 1 when the monitor parts are used. */
  isMonitorEnabled: number;
  /** Ucode offset of the software BROM code (unused: 0). */
  swbromCodeOffset: number;
  /** Size of the software BROM code. */
  swbromCodeSize: number;
  /** Ucode offset of the software BROM data (unused: 0). */
  swbromDataOffset: number;
  /** Size of the software BROM data. */
  swbromDataSize: number;
  /** Version 5 only: total size of the FB carve-out (image and reserved space). */
  fbReservedSize?: number;
  /** Version 5 only: `bSignedAsCode`, 1 when the whole image is signed as code. */
  signedAsCode?: number;
}

/** A parsed RISC-V bootloader file. */
export interface RiscvBootloader {
  /** The bin header. */
  binHeader: BinHeader;
  /** The descriptor. */
  descriptor: RiscvUcodeDescriptor;
  /** The descriptor's size in bytes for its version (76 or 84). */
  descriptorSize: number;
  /** The ucode: the bin payload, a view into the file. */
  ucode: Uint8Array;
}

/** The descriptor's u32 fields in file order (version 4 has the first 19). */
export const RISCV_UCODE_DESC_FIELDS: readonly (keyof RiscvUcodeDescriptor)[] = [
  "version",
  "bootloaderOffset",
  "bootloaderSize",
  "bootloaderParamOffset",
  "bootloaderParamSize",
  "riscvElfOffset",
  "riscvElfSize",
  "appVersion",
  "manifestOffset",
  "manifestSize",
  "monitorDataOffset",
  "monitorDataSize",
  "monitorCodeOffset",
  "monitorCodeSize",
  "isMonitorEnabled",
  "swbromCodeOffset",
  "swbromCodeSize",
  "swbromDataOffset",
  "swbromDataSize",
  "fbReservedSize",
  "signedAsCode",
];

/** Descriptor size in bytes per known version. */
export const RISCV_UCODE_DESC_SIZES: Readonly<Record<number, number>> = { 4: 76, 5: 84 };

/** The (offset, size) pairs that must lie in the ucode. */
const RANGES: readonly [keyof RiscvUcodeDescriptor, keyof RiscvUcodeDescriptor][] = [
  ["bootloaderOffset", "bootloaderSize"],
  ["bootloaderParamOffset", "bootloaderParamSize"],
  ["riscvElfOffset", "riscvElfSize"],
  ["manifestOffset", "manifestSize"],
  ["monitorDataOffset", "monitorDataSize"],
  ["monitorCodeOffset", "monitorCodeSize"],
  ["swbromCodeOffset", "swbromCodeSize"],
  ["swbromDataOffset", "swbromDataSize"],
];

/**
 * Parse a RISC-V bootloader file and check that every range its descriptor
 * names lies inside the ucode.
 *
 * @param bytes The whole file.
 * @param file File name for error messages.
 * @returns The headers and the ucode (a view into `bytes`).
 * @throws {FirmwareFormatError} when the file is truncated, the magic is
 *   wrong, the descriptor version is not 4 or 5, or an offset or range is out
 *   of bounds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRiscvBootloader } from "./riscv_bootloader.ts";
 * import { forgeRiscvBootloader } from "./forge/hs_firmware.ts";
 *
 * const file = forgeRiscvBootloader({ version: 4 });
 * const bl = parseRiscvBootloader(file, "bootloader-535.113.01.bin");
 * assert(bl.descriptorSize === 76 && bl.descriptor.fbReservedSize === undefined);
 * assert(bl.ucode.length === bl.binHeader.dataSize);
 * ```
 */
export function parseRiscvBootloader(bytes: Uint8Array, file?: string): RiscvBootloader {
  const binHeader = parseBinHeader(bytes, file);
  const r = new ByteReader(bytes, { file });
  const at = binHeader.headerOffset;
  const version = r.u32(at, "descriptor.version");
  const descriptorSize = RISCV_UCODE_DESC_SIZES[version];
  if (descriptorSize === undefined) {
    r.fail(
      at,
      "descriptor.version",
      `unknown RM_RISCV_UCODE_DESC version ${version} (known: ${
        Object.keys(RISCV_UCODE_DESC_SIZES).join(", ")
      })`,
    );
  }
  r.check(at, descriptorSize, "descriptor");
  const descriptor = {} as Record<keyof RiscvUcodeDescriptor, number>;
  RISCV_UCODE_DESC_FIELDS.slice(0, descriptorSize / 4).forEach((name, i) => {
    descriptor[name] = r.u32(at + 4 * i, `descriptor.${name}`);
  });

  const ucode = bytes.subarray(binHeader.dataOffset, binHeader.dataOffset + binHeader.dataSize);
  for (const [offsetName, sizeName] of RANGES) {
    const start = descriptor[offsetName];
    const size = descriptor[sizeName];
    if (start + size > ucode.length) {
      r.fail(
        at + 4 * RISCV_UCODE_DESC_FIELDS.indexOf(offsetName),
        `descriptor.${offsetName}`,
        `range 0x${hex(start)}+0x${
          hex(size)
        } (${sizeName}) is outside the ${ucode.length}-byte ucode`,
      );
    }
  }
  logger.debug("riscv bootloader {file}: descriptor v{version}, ucode {size} bytes", {
    file: file ?? "<bytes>",
    version,
    size: ucode.length,
  });
  return { binHeader, descriptor, descriptorSize, ucode };
}
