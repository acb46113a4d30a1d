/**
 * The tables of a VBIOS that lead to FWSEC, read in boot order: the IFR
 * header, the ROM image chain, the BIT of the PC-AT image, the VBIOS
 * version, the falcon-data pointer, the FWSEC section and the PMU lookup
 * table. Only their headers are read (about 1 KiB for the real TU102 VBIOS),
 * so that the same code can read a live PROM window, where every 32-bit word
 * costs about 3 µs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readVbiosLayout } from "./vbios_layout.ts";
 * import { bufferSource, countingSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const src = countingSource(bufferSource(forgeVbios({ ifr: 3 }).bytes));
 * const layout = readVbiosLayout(src);
 * assert(layout.ifr?.version === 3 && layout.pmuTable !== undefined);
 * assert(src.bytesRead < 2048);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";
import { failAt } from "./_source_reader.ts";
import { type BitTable, findBitTable, readFalconDataPointer, readVbiosVersion } from "./bit.ts";
import type { VbiosVersion } from "./bit.ts";
import { type FwsecSection, fwsecSection } from "./fwsec_section.ts";
import { type IfrHeader, locateRom } from "./ifr.ts";
import { type PmuTable, readPmuTable } from "./pmu_table.ts";
import { type RomImage, walkRomImages } from "./rom_images.ts";

const logger = getLogger(["falconry", "firmware", "vbios"]);

/** What {@linkcode readVbiosLayout} found. Offsets are absolute offsets in the source. */
export interface VbiosLayout {
  /** The IFR header, or `null` when the images start at offset 0. */
  ifr: IfrHeader | null;
  /** Offset of the first ROM image. */
  romOffset: number;
  /** The image chain, up to the image flagged last. */
  images: RomImage[];
  /** The first PC-AT image, which holds the BIT. */
  pcAtImage: RomImage;
  /** The BIT header and tokens. */
  bit: BitTable;
  /** The VBIOS version, when the BIT has a BIOS-data token. */
  version?: VbiosVersion;
  /** The falcon-data token's pointer to the PMU lookup table, when present. */
  falconUcodeTablePtr?: number;
  /** The FWSEC section, when the chain has FWSEC images. */
  fwsecSection?: FwsecSection;
  /** The PMU lookup table, when both of the above are present. */
  pmuTable?: PmuTable;
}

/**
 * Read the VBIOS tables up to the PMU lookup table.
 *
 * @param source The VBIOS: a file, a buffer or a PROM window.
 * @returns The tables found.
 * @throws {FirmwareFormatError} for a malformed IFR header, image chain, BIT
 *   or PMU table, or a chain without a PC-AT image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readVbiosLayout } from "./vbios_layout.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout: forged } = forgeVbios({ ifr: 1 });
 * const layout = readVbiosLayout(bufferSource(bytes));
 * assert(layout.romOffset === forged.romOffset && layout.fwsecSection?.offset === forged.fwsecOffset);
 * ```
 */
export function readVbiosLayout(source: ByteSource): VbiosLayout {
  const { ifr, romOffset } = locateRom(source);
  const images = walkRomImages(source, romOffset);
  const pcAtImage = images.find((i) => i.kind === "pc-at") ??
    failAt(source, romOffset, "romImage.codeType", "the image chain has no PC-AT image");
  const bit = findBitTable(source, pcAtImage);
  const version = readVbiosVersion(source, pcAtImage, bit);
  const falconUcodeTablePtr = readFalconDataPointer(source, pcAtImage, bit);
  const section = fwsecSection(images);
  const pmuTable = falconUcodeTablePtr !== undefined && section
    ? readPmuTable(source, section, falconUcodeTablePtr)
    : undefined;
  logger.debug(
    "VBIOS {version}: {count} images from 0x{romOffset}, BIT at 0x{bit}, FWSEC section at {fwsec}",
    {
      version: version?.text ?? "(no version)",
      count: images.length,
      romOffset: hex(romOffset),
      bit: hex(bit.offset),
      fwsec: section ? `0x${hex(section.offset)}` : "(none)",
    },
  );
  return {
    ifr,
    romOffset,
    images,
    pcAtImage,
    bit,
    version,
    falconUcodeTablePtr,
    fwsecSection: section,
    pmuTable,
  };
}
