/**
 * Anatomy of ELF files (GSP images, FMC): header and section-header fields
 * from the parser's own layout tables, and tangles that loop the string
 * table, overlap sections and push ranges past the end.
 *
 * @module
 */

import {
  ELF_HEADER_LAYOUT,
  ELF_SECTION_LAYOUT,
  type ElfFile,
  layoutSize,
  parseElf,
  SHT_NOBITS,
} from "../firmware/mod.ts";
import { AnatomyBuilder, big, hx, readUint, type SeedAnatomy, setField } from "./_fuzz_anatomy.ts";

/** An ELF file's anatomy. */
export function elfAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  let e: ElfFile;
  try {
    e = parseElf(bytes);
  } catch {
    return a.done();
  }
  const cls = e.elfClass;
  const entry = layoutSize(ELF_SECTION_LAYOUT[cls]);
  const headerSize = layoutSize(ELF_HEADER_LAYOUT[cls]);
  const n = bytes.length;
  const shoff = e.sectionHeaderOffset;
  const shnum = e.sections.length;
  const tableSize = shnum * entry;
  a.struct("elf", 0, ELF_HEADER_LAYOUT[cls]).mark(16, headerSize, shoff, shoff + tableSize, n)
    .point(0, headerSize, shoff);
  for (const s of e.sections) {
    a.struct(`section[${s.index}]`, s.headerOffset, ELF_SECTION_LAYOUT[cls])
      .mark(s.headerOffset, s.offset, s.offset + s.size).point(s.offset, s.headerOffset);
  }
  const h = (name: string) => a.field(`elf.${name}`)!;
  const sec = (i: number, name: string) => a.field(`section[${i}].${name}`)!;
  const strtab = e.sections[e.stringTableIndex];
  const real = e.sections.filter((s) => s.index > 0);
  if (real.length === 0) return a.done();
  const huge = cls === 64
    ? big(0xffffffff, 2 ** 53 - 1).concat([2n ** 63n, 2n ** 64n - 1n])
    : big(0xffffffff, 0x80000000);
  a.tangle("elf.string-table-is-header-table", (input, r) =>
    [
      setField(input, sec(strtab.index, "offset"), shoff),
      setField(input, sec(strtab.index, "size"), r.pick(big(tableSize, tableSize + 1, entry))),
    ].join(", "))
    .tangle("elf.section-over-headers", (input, r) => {
      const s = r.pick(real);
      return setField(
        input,
        sec(s.index, "offset"),
        r.pick(big(0, shoff, shoff + entry * r.below(shnum))),
      );
    })
    .setOneOf("elf.shstrndx", [[
      h("shstrndx"),
      big(0, 1, shnum - 1, shnum, 0xfeff, 0xff00, 0xffff),
    ]])
    .setOneOf("elf.shnum", [[
      h("shnum"),
      big(
        0,
        1,
        Math.floor((n - shoff) / entry),
        Math.floor((n - shoff) / entry) + 1,
        4096,
        4097,
        0xffff,
      ),
    ]])
    .setOneOf("elf.shoff", [[
      h("shoff"),
      big(0, 1, headerSize - 1, n - tableSize, n - tableSize + 1, n).concat(huge),
    ]])
    .setOneOf("elf.shentsize", [[h("shentsize"), big(0, 1, 39, 40, 41, 63, 64, 65, 0xffff)]])
    .tangle("elf.name-without-terminator", (input, r) => {
      const from = strtab.offset + r.below(strtab.size);
      const to = Math.min(strtab.offset + strtab.size, input.bytes.length);
      if (from < to) input.bytes.fill(0x41, from, to);
      return `string table ${hx(from)}..${hx(to)} filled with 'A'`;
    })
    .tangle("elf.name-index-past-table", (input, r) => {
      const s = r.pick(e.sections);
      return setField(
        input,
        sec(s.index, "name"),
        r.pick(big(strtab.size - 1, strtab.size, strtab.size + 1, 0xffffffff)),
      );
    })
    .setOneOf("elf.string-table-shape", [
      [
        sec(strtab.index, "size"),
        big(0, 1, 1 << 20, (1 << 20) + 1, n - strtab.offset, n - strtab.offset + 1),
      ],
      [sec(strtab.index, "type"), big(0, 1, 3, SHT_NOBITS)],
    ])
    .tangle("elf.section-range-overflow", (input, r) => {
      const s = r.pick(real);
      return [
        setField(input, sec(s.index, "offset"), r.pick(big(n, n - 1).concat(huge))),
        setField(input, sec(s.index, "size"), r.pick(big(1, n).concat(huge))),
      ].join(", ");
    })
    .tangle("elf.section-size-edge", (input, r) => {
      const s = r.pick(real);
      const sizes = big(0, 1, 47, 48, 49, 96, 97, 255, 256, 257, 383, 384, 385, 4096);
      return setField(
        input,
        sec(s.index, "size"),
        r.pick(sizes.concat(big(n - s.offset, n - s.offset + 1))),
      );
    })
    .tangle("elf.duplicate-name", (input, r) => {
      const from = r.pick(real);
      const to = r.pick(real);
      const name = readUint(input.bytes, sec(from.index, "name").offset, 4) ?? 0n;
      return `section ${to.index} takes the name of ${from.index}: ` +
        setField(input, sec(to.index, "name"), name);
    })
    .tangle("elf.rename-section", (input, r) => {
      const s = r.pick(real);
      const nameIndex = Number(readUint(bytes, sec(s.index, "name").offset, 4) ?? 0n);
      const at = strtab.offset + nameIndex + r.below(Math.max(1, s.name.length));
      if (at < input.bytes.length) input.bytes[at] ^= 0x20;
      return `section ${s.index} (${s.name}) renamed at ${hx(at)}`;
    })
    .tangle("elf.section-type", (input, r) => {
      const s = r.pick(real);
      return setField(input, sec(s.index, "type"), r.pick(big(0, 1, 3, 7, SHT_NOBITS, 0xffffffff)));
    })
    .setOneOf("elf.class-swap", [[h("class"), big(0, 1, 2, 3)]]);
  return a.done();
}
