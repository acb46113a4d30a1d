/**
 * The IFR ("NVGI") header some VBIOS dumps and PROM windows start with, and
 * where the PCI ROM images start after it.
 *
 * A dump made with nvflash, and the PROM window of chips whose hardware does
 * not skip it (GA100), begins with an IFR block instead of the first ROM
 * image. Layout (NVIDIA `published/turing/tu102/dev_bus.h`, read as in
 * `kernel_gsp_vbios_tu102.c`):
 *
 * | offset | field |
 * |---|---|
 * | 0x0 | FIXED0: signature `"NVGI"` (0x4947564e) |
 * | 0x4 | FIXED1: bits 15:8 version, bits 30:16 fixed data size |
 * | 0x8 | FIXED2: bits 19:0 total data size |
 *
 * Versions 1 and 2 keep the ROM offset in the u32 at `fixedDataSize + 4`.
 * Version 3 keeps a flash-status offset in the u32 at `totalDataSize`; the
 * ROM directory (`"RFRD"`) sits 4 KiB after it and holds the ROM offset at +8.
 * A source that starts with a PCI ROM signature, or with anything but
 * `"NVGI"`, has its images at offset 0.
 *
 * @example The real TU102 dump is IFR v3 with its images at 0x28600
 * ```ts
 * import assert from "node:assert/strict";
 * import { locateRom } from "./ifr.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout } = forgeVbios({ ifr: 3 });
 * const rom = locateRom(bufferSource(bytes));
 * assert(rom.ifr?.version === 3 && rom.romOffset === layout.romOffset);
 * ```
 *
 * @module
 */

import { hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";
import { type FieldLayout, fieldOffset, readFields } from "../field_layout.ts";
import { failAt, readIn, wholeSource } from "./_source_reader.ts";
import { isRomSignature } from "./rom_images.ts";

/** FIXED0 of an IFR header: `"NVGI"` read as a little-endian u32. */
export const IFR_SIGNATURE = 0x4947564e;
/** Signature of the IFR v3 ROM directory: `"RFRD"` read as a little-endian u32. */
export const ROM_DIRECTORY_SIGNATURE = 0x44524652;
/** Distance from the IFR v3 flash-status offset to the ROM directory. */
export const ROM_DIRECTORY_DISTANCE = 4096;
/** Size of the fixed IFR header read first (FIXED0..FIXED2). */
export const IFR_FIXED_HEADER_SIZE = 12;

/**
 * The IFR header's fixed words: `"NVGI"`, then `fixed1` (bits 30:16 the fixed
 * data size, 15:8 the version) and `fixed2` (bits 19:0 the total data size).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IFR_FIXED_HEADER_SIZE, IFR_HEADER_LAYOUT } from "./ifr.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(IFR_HEADER_LAYOUT) === IFR_FIXED_HEADER_SIZE);
 * ```
 */
export const IFR_HEADER_LAYOUT: readonly FieldLayout<"signature" | "fixed1" | "fixed2">[] = [
  { name: "signature", offset: 0, size: 4 },
  { name: "fixed1", offset: 4, size: 4 },
  { name: "fixed2", offset: 8, size: 4 },
];

/**
 * The IFR v3 ROM directory's fields (`"RFRD"` 4 KiB after the flash status
 * offset), of which the parser reads the signature and the ROM offset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ROM_DIRECTORY_LAYOUT } from "./ifr.ts";
 * import { fieldOffset } from "../field_layout.ts";
 * assert(fieldOffset(ROM_DIRECTORY_LAYOUT, "romOffset") === 8);
 * ```
 */
export const ROM_DIRECTORY_LAYOUT: readonly FieldLayout<"signature" | "romOffset">[] = [
  { name: "signature", offset: 0, size: 4 },
  { name: "romOffset", offset: 8, size: 4 },
];

/** A parsed IFR header. Offsets are absolute offsets in the source. */
export interface IfrHeader {
  /** FIXED1 bits 15:8 (`VERSIONSW`): 1, 2 or 3. */
  version: number;
  /** FIXED1 bits 30:16. Versions 1 and 2 keep the ROM offset at `fixedDataSize + 4`. */
  fixedDataSize: number;
  /** FIXED2 bits 19:0. Version 3 keeps the flash-status offset at this offset. */
  totalDataSize: number;
  /** Version 3: the u32 at `totalDataSize`. */
  flashStatusOffset?: number;
  /** Version 3: `flashStatusOffset + 4096`, where `"RFRD"` is. */
  romDirectoryOffset?: number;
  /** Where the first PCI ROM image starts. */
  romOffset: number;
}

/** Where a source's PCI ROM images start, and the IFR header that said so. */
export interface RomLocation {
  /** The IFR header, or `null` when the source has none. */
  ifr: IfrHeader | null;
  /** Absolute offset of the first PCI ROM image. */
  romOffset: number;
}

/**
 * Find where the PCI ROM images of a VBIOS source start. Reads 12 bytes, plus
 * 4 and 12 more for an IFR v3 header.
 *
 * @param source The VBIOS: a file, a buffer or a live PROM window.
 * @returns The IFR header (if any) and the offset of the first ROM image.
 * @throws {FirmwareFormatError} for a source under 2 bytes, an unknown IFR
 *   version, a missing `"RFRD"` directory, or a ROM offset that is not
 *   4-byte aligned or past the end of the source (a cut file).
 *
 * @example A plain ROM starts at 0
 * ```ts
 * import assert from "node:assert/strict";
 * import { locateRom } from "./ifr.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const rom = locateRom(bufferSource(forgeVbios().bytes));
 * assert(rom.ifr === null && rom.romOffset === 0);
 * ```
 */
export function locateRom(source: ByteSource): RomLocation {
  const all = wholeSource(source);
  const head = readIn(source, all, 0, Math.min(IFR_FIXED_HEADER_SIZE, source.size), "ifr");
  if (head.length < 2) {
    failAt(source, 0, "ifr.signature", `a ${source.size}-byte source holds no VBIOS`);
  }
  if (isRomSignature(head.u16(0, "romImage.signature"))) return { ifr: null, romOffset: 0 };
  if (head.length < IFR_FIXED_HEADER_SIZE) return { ifr: null, romOffset: 0 };
  const { signature: ifrSignature, fixed1, fixed2 } = readFields(head, 0, IFR_HEADER_LAYOUT, "ifr");
  if (ifrSignature !== IFR_SIGNATURE) return { ifr: null, romOffset: 0 };
  const version = (fixed1 >>> 8) & 0xff;
  const fixedDataSize = (fixed1 >>> 16) & 0x7fff;
  const totalDataSize = fixed2 & 0xfffff;
  let ifr: IfrHeader;
  if (version === 1 || version === 2) {
    const romOffset = readIn(source, all, fixedDataSize + 4, 4, "ifr.romOffset")
      .u32(0, "ifr.romOffset");
    ifr = { version, fixedDataSize, totalDataSize, romOffset };
  } else if (version === 3) {
    const flashStatusOffset = readIn(source, all, totalDataSize, 4, "ifr.flashStatusOffset")
      .u32(0, "ifr.flashStatusOffset");
    const romDirectoryOffset = flashStatusOffset + ROM_DIRECTORY_DISTANCE;
    const directory = readIn(source, all, romDirectoryOffset, 12, "ifr.romDirectory");
    const { signature, romOffset } = readFields(
      directory,
      0,
      ROM_DIRECTORY_LAYOUT,
      "ifr.romDirectory",
    );
    if (signature !== ROM_DIRECTORY_SIGNATURE) {
      failAt(
        source,
        romDirectoryOffset,
        "ifr.romDirectory.signature",
        `expected "RFRD" 4 KiB after the flash status offset 0x${hex(flashStatusOffset)}, ` +
          `found 0x${hex(signature)}`,
      );
    }
    ifr = {
      version,
      fixedDataSize,
      totalDataSize,
      flashStatusOffset,
      romDirectoryOffset,
      romOffset,
    };
  } else {
    return failAt(source, 4, "ifr.version", `IFR version ${version} is not 1, 2 or 3`);
  }
  const romOffsetField = version === 3
    ? ifr.romDirectoryOffset! + fieldOffset(ROM_DIRECTORY_LAYOUT, "romOffset")
    : fixedDataSize + 4;
  if (ifr.romOffset % 4 !== 0) {
    failAt(
      source,
      romOffsetField,
      "ifr.romOffset",
      `ROM offset 0x${hex(ifr.romOffset)} is not 4-byte aligned`,
    );
  }
  if (ifr.romOffset >= source.size) {
    failAt(
      source,
      romOffsetField,
      "ifr.romOffset",
      `ROM offset 0x${hex(ifr.romOffset)} is past the end of the ${source.size}-byte ` +
        `(0x${hex(source.size)}) source: the file is cut short, or the IFR header is wrong`,
    );
  }
  return { ifr, romOffset: ifr.romOffset };
}
