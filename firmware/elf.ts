/**
 * ELF32 and ELF64 little-endian section readers over a {@linkcode ByteSource}.
 *
 * NVIDIA packs the GSP-RM image (`gsp-*.bin`, ELF64) and the FSP's FMC
 * (`fmc-*.bin`, ELF32) as ELF files whose section names are keys. These
 * readers fetch only the ELF header, the section header table and the
 * section-name string table, so that a loader can find the 63 MB
 * `.fwimage` of a GSP image without reading it. Every offset, size and count
 * is checked against the source before it is used.
 *
 * Layouts: the System V ABI (`Elf32_Ehdr`/`Elf64_Ehdr`, `Elf32_Shdr`/`Elf64_Shdr`).
 *
 * @example Finding a section
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSection, parseElf, sectionBytes } from "./elf.ts";
 * import { bufferSource } from "./byte_source.ts";
 * import { forgeElf } from "./forge/elf.ts";
 *
 * const src = bufferSource(forgeElf({ sections: [{ name: "hash", data: new Uint8Array(48) }] }));
 * const elf = parseElf(src);
 * assert(sectionBytes(src, findSection(elf, "hash")!).length === 48);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { parseNamedSource } from "./_named_source.ts";
import { ByteReader, hex } from "./byte_reader.ts";
import { bufferSource, type ByteSource, checkRange } from "./byte_source.ts";
import { type FieldLayout, layoutSize } from "./field_layout.ts";

/** `sh_type` of a section that occupies no file space (`.bss`). */
export const SHT_NOBITS = 8;
/** `sh_type` of a string table. */
export const SHT_STRTAB = 3;
/** `sh_type` of a section with program-defined contents. */
export const SHT_PROGBITS = 1;

/**
 * The most sections a file may declare. NVIDIA's firmware ELF files have
 * at most 14; the limit keeps a corrupt count from making the reader fetch
 * megabytes of header table.
 */
export const ELF_MAX_SECTIONS = 4096;

/** The longest section name accepted, terminator included. */
export const ELF_MAX_NAME_LENGTH = 4096;

/** The largest section-name string table the reader fetches (1 MiB). */
export const ELF_MAX_STRING_TABLE_SIZE = 1 << 20;

/** One section header, with its name resolved. */
export interface ElfSection {
  /** Index in the section header table. */
  index: number;
  /** Name from the section-name string table (`""` when the file has none). */
  name: string;
  /** `sh_type` (1 PROGBITS, 3 STRTAB, 8 NOBITS, …). */
  type: number;
  /** `sh_flags`. */
  flags: number;
  /** `sh_addr`. */
  address: number;
  /** `sh_offset`: file offset of the section's bytes. */
  offset: number;
  /** `sh_size` in bytes. */
  size: number;
  /** `sh_link`: index of an associated section. */
  link: number;
  /** `sh_info`: extra information, meaning set by the type. */
  info: number;
  /** `sh_addralign`. */
  addressAlign: number;
  /** `sh_entsize`: size of each entry for tables of fixed-size entries. */
  entrySize: number;
  /** File offset of this section's header, for error messages. */
  headerOffset: number;
}

/** What {@linkcode parseElf} found: every ELF header field and the sections. */
export interface ElfFile {
  /** 32 or 64 (`EI_CLASS`). */
  elfClass: 32 | 64;
  /** `EI_OSABI`. */
  osAbi: number;
  /** `EI_ABIVERSION`. */
  abiVersion: number;
  /** `e_machine` (0xf3 RISC-V, 0 none). */
  machine: number;
  /** `e_type` (1 REL, 2 EXEC, 0 none). */
  type: number;
  /** `e_version` (1). */
  elfVersion: number;
  /** `e_entry`: entry point (a `bigint`, as ELF64 addresses may exceed 2^53). */
  entry: bigint;
  /** `e_phoff`: file offset of the program header table (0 when there is none). */
  programHeaderOffset: number;
  /** `e_flags`. */
  flags: number;
  /** `e_ehsize`: size of this header (52 or 64). */
  headerSize: number;
  /** `e_phentsize`. */
  programHeaderEntrySize: number;
  /** `e_phnum`. */
  programHeaderCount: number;
  /** `e_shentsize`. */
  sectionHeaderEntrySize: number;
  /** `e_shnum`. */
  sectionHeaderCount: number;
  /** `e_shoff`: file offset of the section header table. */
  sectionHeaderOffset: number;
  /** `e_shstrndx`: index of the section-name string table (0 when there is none). */
  stringTableIndex: number;
  /** Size of the source, in bytes. */
  fileSize: number;
  /** Every section header, in table order (index 0 is the null section). */
  sections: ElfSection[];
}

/** The ELF identification bytes the parser reads (`e_ident[EI_CLASS…EI_ABIVERSION]`). */
const ELF_IDENT_LAYOUT: readonly FieldLayout[] = [
  { name: "class", offset: 4, size: 1 },
  { name: "data", offset: 5, size: 1 },
  { name: "identVersion", offset: 6, size: 1 },
  { name: "osAbi", offset: 7, size: 1 },
  { name: "abiVersion", offset: 8, size: 1 },
];

/** The ELF header's fields after the identification, by class: ELF64 widens the three words. */
function headerLayout(word: 4 | 8): FieldLayout[] {
  const fields: [string, 2 | 4 | 8][] = [
    ["type", 2],
    ["machine", 2],
    ["version", 4],
    ["entry", word],
    ["phoff", word],
    ["shoff", word],
    ["flags", 4],
    ["ehsize", 2],
    ["phentsize", 2],
    ["phnum", 2],
    ["shentsize", 2],
    ["shnum", 2],
    ["shstrndx", 2],
  ];
  let offset = 16;
  return fields.map(([name, size]) => {
    const field = { name, offset, size };
    offset += size;
    return field;
  });
}

/** A section header's fields, by class: ELF64 widens flags, addr, offset, size, addralign, entsize. */
function sectionLayout(word: 4 | 8): FieldLayout[] {
  const fields: [string, 4 | 8][] = [
    ["name", 4],
    ["type", 4],
    ["flags", word],
    ["addr", word],
    ["offset", word],
    ["size", word],
    ["link", 4],
    ["info", 4],
    ["addralign", word],
    ["entsize", word],
  ];
  let offset = 0;
  return fields.map(([name, size]) => {
    const field = { name, offset, size };
    offset += size;
    return field;
  });
}

/**
 * The ELF header's fields (System V gABI), by class: the identification
 * bytes the parser reads, then `e_type` to `e_shstrndx`. Names are the gABI's
 * without the `e_` prefix (`identVersion` is `EI_VERSION`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ELF_HEADER_LAYOUT } from "./elf.ts";
 * import { fieldOffset, layoutSize } from "./field_layout.ts";
 * assert(layoutSize(ELF_HEADER_LAYOUT[64]) === 64 && layoutSize(ELF_HEADER_LAYOUT[32]) === 52);
 * assert(fieldOffset(ELF_HEADER_LAYOUT[64], "shoff") === 40);
 * ```
 */
export const ELF_HEADER_LAYOUT: Readonly<Record<32 | 64, readonly FieldLayout[]>> = {
  32: [...ELF_IDENT_LAYOUT, ...headerLayout(4)],
  64: [...ELF_IDENT_LAYOUT, ...headerLayout(8)],
};

/**
 * A section header's fields (System V gABI), by class. Names are the gABI's
 * without the `sh_` prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ELF_SECTION_LAYOUT } from "./elf.ts";
 * import { layoutSize } from "./field_layout.ts";
 * assert(layoutSize(ELF_SECTION_LAYOUT[32]) === 40 && layoutSize(ELF_SECTION_LAYOUT[64]) === 64);
 * ```
 */
export const ELF_SECTION_LAYOUT: Readonly<Record<32 | 64, readonly FieldLayout[]>> = {
  32: sectionLayout(4),
  64: sectionLayout(8),
};

type HeaderField =
  | "type"
  | "machine"
  | "version"
  | "entry"
  | "phoff"
  | "shoff"
  | "flags"
  | "ehsize"
  | "phentsize"
  | "phnum"
  | "shentsize"
  | "shnum"
  | "shstrndx";
type SectionField =
  | "name"
  | "type"
  | "flags"
  | "addr"
  | "offset"
  | "size"
  | "link"
  | "info"
  | "addralign"
  | "entsize";

interface ClassLayout {
  headerSize: number;
  sectionHeaderSize: number;
  /** Reads an address/offset/size-sized field. */
  word: (r: ByteReader, offset: number, field: string) => number;
  header: Record<HeaderField, number>;
  section: Record<SectionField, number>;
}

const u32Word = (r: ByteReader, offset: number, field: string): number => r.u32(offset, field);
const u64Word = (r: ByteReader, offset: number, field: string): number =>
  r.u64Number(offset, field);

const offsets = <K extends string>(layout: readonly FieldLayout[]): Record<K, number> =>
  Object.fromEntries(layout.map((f) => [f.name, f.offset])) as Record<K, number>;

const IDENT = offsets<"class" | "data" | "identVersion" | "osAbi" | "abiVersion">(
  ELF_IDENT_LAYOUT,
);

// The parser reads through the exported tables' offsets; the two classes differ in word width.
const LAYOUTS: Record<32 | 64, ClassLayout> = {
  32: {
    headerSize: layoutSize(ELF_HEADER_LAYOUT[32]),
    sectionHeaderSize: layoutSize(ELF_SECTION_LAYOUT[32]),
    word: u32Word,
    header: offsets(ELF_HEADER_LAYOUT[32]),
    section: offsets(ELF_SECTION_LAYOUT[32]),
  },
  64: {
    headerSize: layoutSize(ELF_HEADER_LAYOUT[64]),
    sectionHeaderSize: layoutSize(ELF_SECTION_LAYOUT[64]),
    word: u64Word,
    header: offsets(ELF_HEADER_LAYOUT[64]),
    section: offsets(ELF_SECTION_LAYOUT[64]),
  },
};

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
const SHN_LORESERVE = 0xff00;

function readChecked(source: ByteSource, offset: number, length: number, field: string) {
  checkRange(source, offset, length, field);
  return source.read(offset, length);
}

/**
 * Parse the ELF header and every section header of `source`, reading only
 * the headers and the section-name string table.
 *
 * @param source The file (a {@linkcode ByteSource}), or its bytes.
 * @param file File name for errors; defaults to the source's name.
 * @returns The header fields and the sections.
 * @throws {FirmwareFormatError} On a bad magic, class, byte order or version, a
 *   section header table or section outside the file, a count over
 *   {@linkcode ELF_MAX_SECTIONS}, or a name outside the string table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseElf } from "./elf.ts";
 * import { forgeElf } from "./forge/elf.ts";
 * const image = { name: "image", data: new Uint8Array(8) };
 * const elf = parseElf(forgeElf({ elfClass: 32, sections: [image] }));
 * assert(elf.elfClass === 32 && elf.sections.some((s) => s.name === "image"));
 * ```
 */
export function parseElf(source: ByteSource | Uint8Array, file?: string): ElfFile {
  return parseNamedSource(source, file, parseElfSource);
}

function parseElfSource(source: ByteSource, file: string | undefined): ElfFile {
  if (source.size < 16) {
    throw new FirmwareFormatError({
      file,
      offset: 0,
      field: "elf.ident",
      reason: `file is ${source.size} bytes, shorter than the 16-byte ELF identification`,
    });
  }
  const ident = new ByteReader(readChecked(source, 0, 16, "elf.ident"), { file });
  ELF_MAGIC.forEach((b, i) => {
    if (ident.bytes[i] !== b) {
      ident.fail(0, "elf.ident.magic", `expected 7f 45 4c 46, found ${hexBytes(ident.bytes, 4)}`);
    }
  });
  const classByte = ident.u8(IDENT.class, "elf.ident.class");
  const elfClass: 32 | 64 | undefined = classByte === 1 ? 32 : classByte === 2 ? 64 : undefined;
  if (elfClass === undefined) {
    return ident.fail(
      IDENT.class,
      "elf.ident.class",
      `expected 1 (ELF32) or 2 (ELF64), found ${classByte}`,
    );
  }
  const data = ident.u8(IDENT.data, "elf.ident.data");
  if (data !== ELFDATA2LSB) {
    ident.fail(IDENT.data, "elf.ident.data", `expected 1 (little-endian), found ${data}`);
  }
  const identVersion = ident.u8(IDENT.identVersion, "elf.ident.version");
  if (identVersion !== EV_CURRENT) {
    ident.fail(IDENT.identVersion, "elf.ident.version", `expected 1, found ${identVersion}`);
  }

  const layout = LAYOUTS[elfClass];
  const h = layout.header;
  const header = new ByteReader(readChecked(source, 0, layout.headerSize, "elf.header"), { file });
  const type = header.u16(h.type, "elf.type");
  const machine = header.u16(h.machine, "elf.machine");
  const version = header.u32(h.version, "elf.version");
  if (version !== EV_CURRENT) header.fail(h.version, "elf.version", `expected 1, found ${version}`);
  const shoff = layout.word(header, h.shoff, "elf.shoff");
  const shentsize = header.u16(h.shentsize, "elf.shentsize");
  const shnum = header.u16(h.shnum, "elf.shnum");
  const shstrndx = header.u16(h.shstrndx, "elf.shstrndx");

  const base: Omit<ElfFile, "sections"> = {
    elfClass,
    osAbi: ident.u8(IDENT.osAbi, "elf.ident.osAbi"),
    abiVersion: ident.u8(IDENT.abiVersion, "elf.ident.abiVersion"),
    machine,
    type,
    elfVersion: version,
    entry: elfClass === 64
      ? header.u64(h.entry, "elf.entry")
      : BigInt(header.u32(h.entry, "elf.entry")),
    programHeaderOffset: layout.word(header, h.phoff, "elf.phoff"),
    flags: header.u32(h.flags, "elf.flags"),
    headerSize: header.u16(h.ehsize, "elf.ehsize"),
    programHeaderEntrySize: header.u16(h.phentsize, "elf.phentsize"),
    programHeaderCount: header.u16(h.phnum, "elf.phnum"),
    sectionHeaderEntrySize: shentsize,
    sectionHeaderCount: shnum,
    sectionHeaderOffset: shoff,
    stringTableIndex: shstrndx,
    fileSize: source.size,
  };
  if (shoff === 0 || shnum === 0) {
    // An ELF file may have no section table; extended numbering (e_shnum 0
    // with a table present) never occurs in NVIDIA's firmware.
    if (shoff !== 0) {
      header.fail(h.shnum, "elf.shnum", "0 sections with a section header table present");
    }
    return { ...base, stringTableIndex: 0, sections: [] };
  }
  if (shentsize !== layout.sectionHeaderSize) {
    header.fail(
      h.shentsize,
      "elf.shentsize",
      `expected ${layout.sectionHeaderSize} for ELF${elfClass}, found ${shentsize}`,
    );
  }
  if (shnum > ELF_MAX_SECTIONS) {
    header.fail(h.shnum, "elf.shnum", `${shnum} sections exceed the limit of ${ELF_MAX_SECTIONS}`);
  }
  const tableSize = shnum * shentsize;
  if (shoff + tableSize > source.size) {
    header.fail(
      h.shoff,
      "elf.shoff",
      `section header table 0x${hex(shoff)}+0x${hex(tableSize)} (${shnum} × ${shentsize}) ` +
        `ends past the ${source.size}-byte file`,
    );
  }
  if (shstrndx >= shnum) {
    header.fail(
      h.shstrndx,
      "elf.shstrndx",
      shstrndx >= SHN_LORESERVE
        ? `reserved index 0x${hex(shstrndx)} (extended numbering) is not supported`
        : `string table index ${shstrndx} is not below the section count ${shnum}`,
    );
  }

  const table = new ByteReader(readChecked(source, shoff, tableSize, "elf.sectionHeaders"), {
    file,
    base: shoff,
  });
  const raw = Array.from({ length: shnum }, (_, index) => readSection(table, layout, index));
  raw.forEach((s) => checkSectionRange(s, source.size, file));

  const names = shstrndx === 0 ? undefined : readStringTable(source, raw[shstrndx], file);
  const sections = raw.map(({ nameIndex, ...s }): ElfSection => ({
    ...s,
    name: names === undefined ? "" : sectionName(names, s.index, s.headerOffset, nameIndex),
  }));
  return { ...base, sections };
}

interface RawSection extends Omit<ElfSection, "name"> {
  nameIndex: number;
}

function readSection(table: ByteReader, layout: ClassLayout, index: number): RawSection {
  const at = index * layout.sectionHeaderSize;
  const f = layout.section;
  const field = (n: string) => `elf.section[${index}].${n}`;
  return {
    index,
    nameIndex: table.u32(at + f.name, field("name")),
    type: table.u32(at + f.type, field("type")),
    flags: layout.word(table, at + f.flags, field("flags")),
    address: layout.word(table, at + f.addr, field("address")),
    offset: layout.word(table, at + f.offset, field("offset")),
    size: layout.word(table, at + f.size, field("size")),
    link: table.u32(at + f.link, field("link")),
    info: table.u32(at + f.info, field("info")),
    addressAlign: layout.word(table, at + f.addralign, field("addressAlign")),
    entrySize: layout.word(table, at + f.entsize, field("entrySize")),
    headerOffset: table.base + at,
  };
}

function checkSectionRange(s: RawSection, fileSize: number, file: string | undefined): void {
  if (s.type === SHT_NOBITS || s.index === 0) return;
  if (s.offset > fileSize || s.size > fileSize - s.offset) {
    throw new FirmwareFormatError({
      file,
      offset: s.headerOffset,
      field: `elf.section[${s.index}].offset`,
      reason: `section bytes 0x${hex(s.offset)}+0x${
        hex(s.size)
      } end past the ${fileSize}-byte file`,
    });
  }
}

function readStringTable(
  source: ByteSource,
  s: RawSection,
  file: string | undefined,
): ByteReader {
  const fail = (reason: string): never => {
    throw new FirmwareFormatError({
      file,
      offset: s.headerOffset,
      field: `elf.section[${s.index}]`,
      reason: `section-name string table ${reason}`,
    });
  };
  if (s.type === SHT_NOBITS) fail("has no bytes in the file (SHT_NOBITS)");
  if (s.size === 0) fail("is empty");
  if (s.size > ELF_MAX_STRING_TABLE_SIZE) {
    fail(`is ${s.size} bytes, over the ${ELF_MAX_STRING_TABLE_SIZE}-byte limit`);
  }
  return new ByteReader(readChecked(source, s.offset, s.size, "elf.stringTable"), {
    file,
    base: s.offset,
  });
}

function sectionName(
  names: ByteReader,
  index: number,
  headerOffset: number,
  nameIndex: number,
): string {
  const field = `elf.section[${index}].name`;
  if (nameIndex >= names.length) {
    throw new FirmwareFormatError({
      file: names.file,
      offset: headerOffset,
      field,
      reason: `name offset 0x${hex(nameIndex)} is outside the ${names.length}-byte string table`,
    });
  }
  return names.cstring(nameIndex, Math.min(names.length - nameIndex, ELF_MAX_NAME_LENGTH), field);
}

function hexBytes(bytes: Uint8Array, count: number): string {
  return Array.from(bytes.subarray(0, count), (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * The first section called `name`, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSection, parseElf } from "./elf.ts";
 * import { forgeElf } from "./forge/elf.ts";
 * const elf = parseElf(forgeElf({ sections: [{ name: ".fwversion", data: new Uint8Array(8) }] }));
 * assert(findSection(elf, ".fwversion")?.size === 8);
 * assert(findSection(elf, ".missing") === undefined);
 * ```
 */
export function findSection(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

/**
 * The first section called `name`; a missing section is a
 * {@linkcode FirmwareFormatError} that lists the sections the file has.
 *
 * @param elf The parsed file.
 * @param name The section name.
 * @param file File name for the error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseElf, requireSection } from "./elf.ts";
 * import { forgeElf } from "./forge/elf.ts";
 * const elf = parseElf(forgeElf({ sections: [{ name: "hash", data: new Uint8Array(48) }] }));
 * assert(requireSection(elf, "hash").size === 48);
 * try { requireSection(elf, "image"); } catch (e) { assert(String(e).includes("hash")); }
 * ```
 */
export function requireSection(elf: ElfFile, name: string, file?: string): ElfSection {
  const section = findSection(elf, name);
  if (section) return section;
  const have = elf.sections.filter((s) => s.index !== 0).map((s) => s.name || `#${s.index}`);
  throw new FirmwareFormatError({
    file,
    offset: elf.sectionHeaderOffset,
    field: `elf.section(${name})`,
    reason: `no section named ${name}; the file has ${have.join(", ") || "no sections"}`,
  });
}

/**
 * The bytes of `section`, read from `source` (a view when the source is a buffer).
 *
 * @throws {FirmwareFormatError} When the section has no bytes in the file
 *   (`SHT_NOBITS`) or lies outside the source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseElf, requireSection, sectionBytes } from "./elf.ts";
 * import { bufferSource } from "./byte_source.ts";
 * import { forgeElf } from "./forge/elf.ts";
 * const k = { name: "k", data: new Uint8Array([1, 2, 3]) };
 * const src = bufferSource(forgeElf({ sections: [k] }));
 * assert(sectionBytes(src, requireSection(parseElf(src), "k"))[2] === 3);
 * ```
 */
export function sectionBytes(source: ByteSource | Uint8Array, section: ElfSection): Uint8Array {
  const src = source instanceof Uint8Array ? bufferSource(source) : source;
  if (section.type === SHT_NOBITS) {
    throw new FirmwareFormatError({
      file: src.name,
      offset: section.headerOffset,
      field: `elf.section(${section.name})`,
      reason: "section has no bytes in the file (SHT_NOBITS)",
    });
  }
  return readChecked(src, section.offset, section.size, `elf.section(${section.name})`);
}
