/**
 * The GSP-RM image file, `gsp-<version>.bin`: an ELF64 whose `.fwimage`
 * section is the image GSP-RM runs from (mapped through the radix3 page
 * tables), whose `.fwversion` holds the version text, and whose
 * `.fwsignature_<family>` sections (4096 bytes each) hold the signatures the
 * GSP bootloader checks, one per chip family.
 *
 * {@linkcode parseGspImage} reads only the headers and `.fwversion`, so a
 * loader can then read the 28–63 MB `.fwimage` straight into DMA memory.
 * Which signature section a chip uses is a table in `chips/` (nova-core,
 * nouveau and NVIDIA differ for GA100); callers look the name up there and
 * pass it to {@linkcode gspSignature}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspSignature, parseGspImage } from "./gsp_image.ts";
 * import { forgeGspImage } from "./forge/elf.ts";
 * const bytes = forgeGspImage({ imageSize: 8192 });
 * const gsp = parseGspImage(bytes, "gsp-570.144.bin");
 * assert(gsp.version === "570.144" && gsp.image.size === 8192);
 * assert(gspSignature(gsp, bytes, ".fwsignature_ga10x").length === 4096);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { parseNamedSource } from "./_named_source.ts";
import { hex } from "./byte_reader.ts";
import { bufferSource, type ByteSource } from "./byte_source.ts";
import {
  type ElfFile,
  type ElfSection,
  findSection,
  parseElf,
  requireSection,
  sectionBytes,
  SHT_NOBITS,
} from "./elf.ts";
import { RADIX3_MAX_IMAGE_SIZE } from "./radix3.ts";

/** The section holding the image GSP-RM runs from. */
export const GSP_IMAGE_SECTION = ".fwimage";
/** The section holding the firmware version text. */
export const GSP_VERSION_SECTION = ".fwversion";
/** Prefix of the per-family signature sections. */
export const GSP_SIGNATURE_PREFIX = ".fwsignature_";
/** The longest `.fwversion` accepted (the real ones are 8 and 11 bytes). */
export const GSP_MAX_VERSION_SIZE = 256;

/** Where a section's bytes are in the file. */
export interface FileRange {
  /** File offset. */
  offset: number;
  /** Size in bytes. */
  size: number;
}

/** One `.fwsignature_*` section. */
export interface GspSignatureSection extends FileRange {
  /** Section name, e.g. `.fwsignature_ga10x`. */
  name: string;
}

/** What {@linkcode parseGspImage} found. */
export interface GspImage {
  /** The file name used in errors, if known. */
  file?: string;
  /** The ELF headers. */
  elf: ElfFile;
  /** Where `.fwimage` is. */
  image: FileRange;
  /** `.fwimage` size in bytes (GspFwWprMeta's `sizeOfRadix3Elf`). */
  imageSize: number;
  /** The `.fwversion` text without its NUL, e.g. `570.144`. */
  version: string;
  /** Every `.fwsignature_*` section, in file order. */
  signatureSections: GspSignatureSection[];
}

/**
 * Parse the headers of a GSP image and read its `.fwversion`.
 *
 * @param source The file as a {@linkcode ByteSource} (only headers are read) or its bytes.
 * @param file File name for errors; defaults to the source's name.
 * @throws {FirmwareFormatError} When the file is not an ELF64, or `.fwimage`
 *   or `.fwversion` is missing, empty or malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGspImage } from "./gsp_image.ts";
 * import { forgeGspImage, GSP_SIGNATURE_SECTIONS_TU } from "./forge/elf.ts";
 * const gsp = parseGspImage(forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_TU }));
 * assert(gsp.signatureSections.map((s) => s.name).includes(".fwsignature_ga100"));
 * ```
 */
export function parseGspImage(source: ByteSource | Uint8Array, file?: string): GspImage {
  return parseNamedSource(source, file, parseGspImageSource);
}

function parseGspImageSource(source: ByteSource, file: string | undefined): GspImage {
  const elf = parseElf(source, file);
  if (elf.elfClass !== 64) {
    throw new FirmwareFormatError({
      file,
      offset: 4,
      field: "elf.ident.class",
      reason: `a GSP image is an ELF64, found ELF${elf.elfClass}`,
    });
  }
  const image = requireData(elf, GSP_IMAGE_SECTION, file);
  if (image.size > RADIX3_MAX_IMAGE_SIZE) {
    fail(image, file, `${image.size} bytes exceed the radix3 limit of ${RADIX3_MAX_IMAGE_SIZE}`);
  }
  const versionSection = requireData(elf, GSP_VERSION_SECTION, file);
  if (versionSection.size > GSP_MAX_VERSION_SIZE) {
    fail(versionSection, file, `${versionSection.size} bytes, over ${GSP_MAX_VERSION_SIZE}`);
  }
  const version = versionText(sectionBytes(source, versionSection), versionSection, file);
  const signatureSections = elf.sections
    .filter((s) => s.name.startsWith(GSP_SIGNATURE_PREFIX))
    .map((s) => ({ name: s.name, offset: s.offset, size: s.size }));
  return {
    file,
    elf,
    image: { offset: image.offset, size: image.size },
    imageSize: image.size,
    version,
    signatureSections,
  };
}

/** A section that must exist, occupy file bytes and not be empty. */
function requireData(elf: ElfFile, name: string, file: string | undefined): ElfSection {
  const section = requireSection(elf, name, file);
  if (section.type === SHT_NOBITS) fail(section, file, "has no bytes in the file (SHT_NOBITS)");
  if (section.size === 0) fail(section, file, "is empty");
  return section;
}

function fail(section: ElfSection, file: string | undefined, reason: string): never {
  throw new FirmwareFormatError({
    file,
    offset: section.headerOffset,
    field: `elf.section(${section.name})`,
    reason: `${section.name} ${reason}`,
  });
}

function versionText(bytes: Uint8Array, section: ElfSection, file: string | undefined): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  const text = bytes.subarray(0, end);
  const bad = text.findIndex((b) => b < 0x20 || b > 0x7e);
  if (end === 0 || bad >= 0) {
    throw new FirmwareFormatError({
      file,
      offset: section.offset + Math.max(bad, 0),
      field: `elf.section(${section.name})`,
      reason: end === 0
        ? "version text is empty"
        : `version text has a non-printable byte 0x${hex(text[bad])}`,
    });
  }
  return String.fromCharCode(...text);
}

/**
 * The signature bytes of `sectionName` (a copy when the source is a file, a
 * view when it is a buffer).
 *
 * @param gsp The parsed image.
 * @param source The same file or bytes `gsp` was parsed from.
 * @param sectionName The chip family's section, from `chips/` (`FAMILIES[f].gspSignatureSection`).
 * @throws {FirmwareFormatError} When the section is missing (the message lists
 *   the signature sections the file has) or empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspSignature, parseGspImage } from "./gsp_image.ts";
 * import { forgeGspImage, GSP_SIGNATURE_SECTIONS_TU } from "./forge/elf.ts";
 * const bytes = forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_TU });
 * const gsp = parseGspImage(bytes);
 * assert(gspSignature(gsp, bytes, ".fwsignature_tu10x").length === 4096);
 * try { gspSignature(gsp, bytes, ".fwsignature_gh10x"); }
 * catch (e) { assert(String(e).includes(".fwsignature_tu11x")); }
 * ```
 */
export function gspSignature(
  gsp: GspImage,
  source: ByteSource | Uint8Array,
  sectionName: string,
): Uint8Array {
  const src = source instanceof Uint8Array ? bufferSource(source, gsp.file) : source;
  const section = findSection(gsp.elf, sectionName);
  if (!section) {
    const have = gsp.signatureSections.map((s) => s.name).join(", ") || "none";
    throw new FirmwareFormatError({
      file: gsp.file,
      offset: gsp.elf.sectionHeaderOffset,
      field: `elf.section(${sectionName})`,
      reason: `no signature section ${sectionName}; the file has ${have}`,
    });
  }
  if (section.type === SHT_NOBITS) fail(section, gsp.file, "has no bytes in the file (SHT_NOBITS)");
  if (section.size === 0) fail(section, gsp.file, "is empty");
  try {
    return sectionBytes(src, section);
  } catch (e) {
    throw e instanceof FirmwareFormatError && gsp.file !== undefined ? e.withFile(gsp.file) : e;
  }
}
