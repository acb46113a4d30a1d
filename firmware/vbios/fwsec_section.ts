/**
 * The FWSEC section: the first FWSEC image and every image after it, and the
 * pointer arithmetic that reaches into it.
 *
 * The falcon-data pointer (BIT token 0x70) and the PMU lookup table's
 * descriptor pointers were made for a ROM where the FWSEC images follow the
 * PC-AT image directly. On real boards an EFI image sits between them, so a
 * pointer minus the PC-AT image's size is an offset from the start of the
 * first FWSEC image; images after it continue the section (nova-core
 * `vbios.rs`; NVIDIA `kernel_gsp_vbios_tu102.c` computes the same as
 * `expansionRomOffset = firstFwsecOffset − pcAtSize`; nouveau `base.c` as
 * `imaged_addr − image0_size`). Because images are back to back, the section
 * is one contiguous range of the source and is read in place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fwsecSection, readFwsec } from "./fwsec_section.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout } = forgeVbios();
 * const src = bufferSource(bytes);
 * const section = fwsecSection(walkRomImages(src, 0))!;
 * const pmu = readFwsec(src, section, layout.falconUcodeTablePtr, 1, "pmuTable.version");
 * assert(pmu.base === layout.pmuTableOffset && pmu.u8(0, "version") === 1);
 * ```
 *
 * @module
 */

import { type ByteReader, hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";
import { failAt, readIn } from "./_source_reader.ts";
import type { RomImage } from "./rom_images.ts";

/** Where the FWSEC section is and how pointers map into it. */
export interface FwsecSection {
  /** Absolute offset of the first FWSEC image. */
  offset: number;
  /** Bytes from there to the end of the last image. */
  size: number;
  /** Size of the PC-AT image; a pointer minus this is an offset into the section. */
  pcAtSize: number;
}

/**
 * The FWSEC section of an image chain, or `undefined` when the chain has no
 * PC-AT image or no FWSEC image after it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fwsecSection } from "./fwsec_section.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const images = walkRomImages(bufferSource(forgeVbios().bytes), 0);
 * const section = fwsecSection(images)!;
 * assert(section.offset === images[2].offset && section.pcAtSize === images[0].size);
 * ```
 */
export function fwsecSection(images: readonly RomImage[]): FwsecSection | undefined {
  const pcAt = images.find((i) => i.kind === "pc-at");
  const first = images.find((i) => i.kind === "fwsec" && (!pcAt || i.index > pcAt.index));
  const last = images.at(-1);
  if (!pcAt || !first || !last) return undefined;
  return {
    offset: first.offset,
    size: last.offset + last.size - first.offset,
    pcAtSize: pcAt.size,
  };
}

/**
 * The absolute offset a pointer refers to, after checking that `length`
 * bytes there lie inside the section.
 *
 * @param source The VBIOS (for errors).
 * @param section The FWSEC section.
 * @param pointer A falcon-data or descriptor pointer.
 * @param length Bytes that must fit at the pointer.
 * @param field The field the pointer came from, for errors.
 * @returns The absolute offset.
 * @throws {FirmwareFormatError} when the pointer is below the PC-AT size or
 *   the range runs past the section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fwsecOffset } from "./fwsec_section.ts";
 * import { bufferSource } from "../byte_source.ts";
 * const section = { offset: 0x48800, size: 0x30200, pcAtSize: 0xec00 };
 * assert(fwsecOffset(bufferSource(new Uint8Array(0x100000)), section, 0xed24, 6, "p") === 0x48924);
 * ```
 */
export function fwsecOffset(
  source: ByteSource,
  section: FwsecSection,
  pointer: number,
  length: number,
  field: string,
): number {
  const relative = pointer - section.pcAtSize;
  if (relative < 0 || relative + length > section.size) {
    failAt(
      source,
      section.offset + Math.max(0, relative),
      field,
      `pointer 0x${hex(pointer)} minus the PC-AT size 0x${hex(section.pcAtSize)} does not leave ` +
        `0x${hex(length)} bytes inside the 0x${hex(section.size)}-byte FWSEC section`,
    );
  }
  return section.offset + relative;
}

/**
 * Read `length` bytes at a pointer into the FWSEC section; the reader's
 * errors report absolute offsets.
 *
 * @param source The VBIOS.
 * @param section The FWSEC section.
 * @param pointer A falcon-data or descriptor pointer.
 * @param length Bytes to read.
 * @param field What is read, for errors.
 * @returns A reader based at the absolute offset.
 * @throws {FirmwareFormatError} as {@linkcode fwsecOffset} does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFwsec } from "./fwsec_section.ts";
 * import { bufferSource } from "../byte_source.ts";
 * const bytes = new Uint8Array(0x1000);
 * bytes[0x810] = 7;
 * const r = readFwsec(bufferSource(bytes), { offset: 0x800, size: 0x800, pcAtSize: 0x200 }, 0x210, 1, "x");
 * assert(r.u8(0, "x") === 7);
 * ```
 */
export function readFwsec(
  source: ByteSource,
  section: FwsecSection,
  pointer: number,
  length: number,
  field: string,
): ByteReader {
  const at = fwsecOffset(source, section, pointer, length, field);
  return readIn(source, { ...section, name: "FWSEC section" }, at, length, field);
}
