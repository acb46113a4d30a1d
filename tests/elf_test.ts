import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import {
  ELF_MAX_SECTIONS,
  findSection,
  parseElf,
  requireSection,
  sectionBytes,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_STRTAB,
} from "../firmware/elf.ts";
import { forgeElf, forgeGspImage } from "../firmware/forge/elf.ts";
import { patternBytes } from "../firmware/forge/_writer.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { realFirmwareTest } from "./_real.ts";
import { assertFormatError } from "./_assert.ts";

function patch(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

const hashData = patternBytes(48, 1);
const textData = patternBytes(1000, 2);
const sample64 = forgeElf({
  sections: [
    { name: ".text", data: textData, flags: 6, address: 0x1000, align: 16 },
    { name: ".bss", type: SHT_NOBITS, size: 0x10000, flags: 3 },
    { name: "hash", data: hashData },
  ],
});
const sample32 = forgeElf({
  elfClass: 32,
  tableAt: "start",
  sections: [{ name: "hash", data: hashData, align: 4 }, {
    name: "image",
    data: textData,
    align: 4,
  }],
});

Deno.test("parseElf reads an ELF64: header fields, section names, offsets and sizes", () => {
  const elf = parseElf(sample64);
  assert.equal(elf.elfClass, 64);
  assert.equal(elf.machine, 0xf3);
  assert.equal(elf.type, 1);
  assert.equal(elf.fileSize, sample64.length);
  assert.deepEqual(elf.sections.map((s) => s.name), ["", ".text", ".bss", "hash", ".shstrtab"]);
  assert.equal(elf.stringTableIndex, 4);
  const text = requireSection(elf, ".text");
  assert.equal(text.index, 1);
  assert.equal(text.type, SHT_PROGBITS);
  assert.equal(text.flags, 6);
  assert.equal(text.address, 0x1000);
  assert.equal(text.offset, 64); // 64 is already 16-aligned
  assert.equal(text.size, 1000);
  assert.equal(text.headerOffset, elf.sectionHeaderOffset + 64);
  assert.deepEqual(sectionBytes(sample64, text), textData);
  assert.deepEqual(sectionBytes(bufferSource(sample64), requireSection(elf, "hash")), hashData);
  assert.equal(requireSection(elf, ".shstrtab").type, SHT_STRTAB);
  assert.equal(requireSection(elf, ".bss").size, 0x10000);
});

Deno.test("parseElf reads an ELF32 with the table first, as fmc-*.bin has it", () => {
  const elf = parseElf(sample32);
  assert.equal(elf.elfClass, 32);
  assert.equal(elf.machine, 0);
  assert.equal(elf.type, 0);
  assert.equal(elf.sectionHeaderOffset, 52);
  assert.equal(elf.stringTableIndex, 1);
  assert.deepEqual(elf.sections.map((s) => s.name), ["", ".shstrtab", "hash", "image"]);
  assert.equal(requireSection(elf, "hash").offset % 4, 0);
  assert.deepEqual(sectionBytes(sample32, requireSection(elf, "image")), textData);
});

Deno.test("parseElf reads only the headers and the string table", () => {
  const bytes = forgeGspImage({ imageSize: 1 << 20 });
  const src = countingSource(bufferSource(bytes));
  const elf = parseElf(src);
  const strtab = elf.sections[elf.stringTableIndex];
  // ident + header + section table + string table, nothing of the 1 MiB image.
  assert.equal(src.bytesRead, 16 + 64 + elf.sections.length * 64 + strtab.size);
  assert.equal(src.reads, 4);
});

Deno.test("findSection, requireSection and sectionBytes", () => {
  const elf = parseElf(sample64);
  assert.equal(findSection(elf, "image"), undefined);
  const err = assertFormatError(() => requireSection(elf, "image", "x.bin"), "elf.section(image)");
  assert.equal(err.file, "x.bin");
  assert.match(err.message, /\.text, \.bss, hash, \.shstrtab/);
  assertFormatError(() => sectionBytes(sample64, requireSection(elf, ".bss")), "elf.section(.bss)");
});

Deno.test("an ELF without a section table has no sections", () => {
  const bytes = patch(sample64, (v) => {
    v.setBigUint64(40, 0n, true);
    v.setUint16(60, 0, true);
  });
  assert.deepEqual(parseElf(bytes).sections, []);
});

Deno.test("errors: truncated headers", () => {
  for (const length of [0, 3, 15]) {
    assertFormatError(() => parseElf(sample64.subarray(0, length)), "elf.ident", 0);
  }
  for (const length of [16, 40, 63]) {
    assertFormatError(() => parseElf(sample64.subarray(0, length)), "elf.header");
  }
  assertFormatError(() => parseElf(sample32.subarray(0, 51)), "elf.header");
  // The section table is at the end of an ELF64 forged like gsp-*.bin.
  assertFormatError(() => parseElf(sample64.subarray(0, sample64.length - 1)), "elf.shoff", 40);
});

Deno.test("errors: bad magic, class, byte order, versions, entry size", () => {
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint8(1, 0x46))),
    "elf.ident.magic",
    0,
  );
  assertFormatError(() => parseElf(patch(sample64, (v) => v.setUint8(4, 3))), "elf.ident.class", 4);
  assertFormatError(() => parseElf(patch(sample64, (v) => v.setUint8(5, 2))), "elf.ident.data", 5);
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint8(6, 0))),
    "elf.ident.version",
    6,
  );
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint32(20, 2, true))),
    "elf.version",
    20,
  );
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint16(58, 40, true))),
    "elf.shentsize",
    58,
  );
  assertFormatError(
    () => parseElf(patch(sample32, (v) => v.setUint16(46, 64, true))),
    "elf.shentsize",
    46,
  );
  // An ELF64 header read as ELF32 finds e_shoff = e_shnum = 0 (e_phoff, e_flags): no sections.
  const misread = parseElf(patch(sample64, (v) => v.setUint8(4, 1)));
  assert.equal(misread.elfClass, 32);
  assert.deepEqual(misread.sections, []);
  assertFormatError(() => requireSection(misread, ".text"), "elf.section(.text)");
});

Deno.test("errors: section header table past EOF and huge counts", () => {
  const size = sample64.length;
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setBigUint64(40, BigInt(size), true))),
    "elf.shoff",
    40,
  );
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setBigUint64(40, 1n << 60n, true))),
    "elf.shoff",
    40,
  );
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint16(60, 0xffff, true))),
    "elf.shnum",
    60,
  );
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint16(60, ELF_MAX_SECTIONS, true))),
    "elf.shoff",
    40,
  );
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint16(60, 0, true))),
    "elf.shnum",
    60,
  );
});

Deno.test("errors: shstrndx out of range or unusable", () => {
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint16(62, 5, true))),
    "elf.shstrndx",
    62,
  );
  const xindex = assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint16(62, 0xffff, true))),
    "elf.shstrndx",
  );
  assert.match(xindex.reason, /extended numbering/);
  const elf = parseElf(sample64);
  // shstrndx pointing at the NOBITS section, and at a section of 2 MiB.
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint16(62, 2, true))),
    "elf.section[2]",
    elf.sections[2].headerOffset,
  );
  const huge = patch(sample64, (v) => {
    v.setUint32(elf.sections[1].headerOffset + 4, SHT_NOBITS, true);
    v.setBigUint64(elf.sections[1].headerOffset + 32, 2n << 20n, true);
    v.setUint16(62, 1, true);
  });
  assertFormatError(() => parseElf(huge), "elf.section[1]");
});

Deno.test("errors: section offset or size past EOF, overflow, names outside the table", () => {
  const elf = parseElf(sample64);
  const hash = requireSection(elf, "hash");
  const at = hash.headerOffset;
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setBigUint64(at + 24, BigInt(sample64.length), true))),
    `elf.section[${hash.index}].offset`,
    at,
  );
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setBigUint64(at + 32, BigInt(sample64.length), true))),
    `elf.section[${hash.index}].offset`,
    at,
  );
  // Sizes that would overflow a double are refused before any arithmetic.
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setBigUint64(at + 32, (1n << 64n) - 1n, true))),
    `elf.section[${hash.index}].size`,
    at + 32,
  );
  const strtab = elf.sections[elf.stringTableIndex];
  assertFormatError(
    () => parseElf(patch(sample64, (v) => v.setUint32(at, strtab.size, true))),
    `elf.section[${hash.index}].name`,
    at,
  );
  // A string table without a final NUL: the last name runs off its end.
  const unterminated = patch(sample64, (v) => v.setUint8(strtab.offset + strtab.size - 1, 0x41));
  assertFormatError(() => parseElf(unterminated), `elf.section[${strtab.index}].name`);
  // A NOBITS section may point anywhere.
  const bss = requireSection(elf, ".bss");
  const far = patch(sample64, (v) => v.setBigUint64(bss.headerOffset + 24, 1n << 40n, true));
  assert.equal(requireSection(parseElf(far), ".bss").offset, 2 ** 40);
});

Deno.test("errors: a 300000-byte section name is refused, not spread into a string", () => {
  const long = forgeElf({ sections: [{ name: "x".repeat(300000), data: new Uint8Array(4) }] });
  const elf = assertFormatError(() => parseElf(long), "elf.section[1].name");
  assert.match(elf.reason, /no NUL terminator within 4096 bytes/);
  const ok = parseElf(
    forgeElf({ sections: [{ name: "y".repeat(4000), data: new Uint8Array(4) }] }),
  );
  assert.equal(ok.sections[1].name.length, 4000);
});

Deno.test("errors name the file", () => {
  const err = assertFormatError(() => parseElf(new Uint8Array(8), "gsp.bin"), "elf.ident");
  assert.equal(err.file, "gsp.bin");
  assert.match(err.message, /^gsp\.bin: /);
  const named = assertFormatError(
    () => parseElf(bufferSource(new Uint8Array(20), "fmc.bin")),
    "elf.ident.magic",
  );
  assert.equal(named.file, "fmc.bin");
});

Deno.test("truncations and 3000 mutations give a result or a FirmwareFormatError", () => {
  for (const sample of [sample64, sample32]) {
    for (let length = 0; length <= sample.length; length++) {
      try {
        parseElf(sample.subarray(0, length));
      } catch (e) {
        assert.ok(e instanceof FirmwareFormatError, `length ${length}: ${e}`);
      }
    }
  }
  const rand = patternBytes(3000 * 3, 77);
  for (let i = 0; i < 3000; i++) {
    const sample = i % 2 ? sample64 : sample32;
    // Mutate the headers (first 64 bytes and the table) where errors live.
    const tableStart = i % 2 ? parseElf(sample64).sectionHeaderOffset : 52;
    const span = i % 3 === 0 ? 64 : sample.length - tableStart;
    const where = (i % 3 === 0 ? 0 : tableStart) + (rand[i * 3] * 256 + rand[i * 3 + 1]) % span;
    const bytes = patch(sample, (v) => v.setUint8(where, rand[i * 3 + 2]));
    try {
      const elf = parseElf(bytes);
      for (const s of elf.sections) {
        if (s.type !== SHT_NOBITS && s.index !== 0) sectionBytes(bytes, s);
      }
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `mutation at ${where}: ${e}`);
    }
  }
});

realFirmwareTest(
  "real gsp-570.144.bin (ga102) and fmc-570.144.bin (gh100): ELF headers",
  ["nvidia/ga102/gsp/gsp-570.144.bin", "nvidia/gh100/gsp/fmc-570.144.bin"],
  ([gspPath, fmcPath]) => {
    {
      using src = fileSource(gspPath);
      const elf = parseElf(src);
      assert.equal(elf.elfClass, 64);
      assert.equal(elf.machine, 0xf3); // RISC-V
      assert.equal(elf.type, 1); // REL
      assert.equal(elf.sectionHeaderOffset, 63570800);
      assert.equal(elf.sections.length, 14);
      assert.equal(elf.stringTableIndex, 13);
      assert.equal(elf.sections[1].name, ".fwimage");
      assert.equal(elf.sections[1].offset, 0x40);
      assert.equal(elf.sectionHeaderOffset + 14 * 64, src.size);
      assert.equal(requireSection(elf, ".symtab").size, 0x60);
    }
    {
      using src = fileSource(fmcPath);
      const elf = parseElf(src);
      assert.equal(elf.elfClass, 32);
      assert.equal(elf.machine, 0);
      assert.equal(elf.sectionHeaderOffset, 52);
      assert.equal(elf.stringTableIndex, 1);
      assert.deepEqual(elf.sections.map((s) => s.name), [
        "",
        ".shstrtab",
        "hash",
        "signature",
        "publickey",
        "image",
      ]);
      const image = requireSection(elf, "image");
      assert.equal(image.offset + image.size, src.size);
    }
  },
);

realFirmwareTest(
  "elf: every header field of the real GA102 GSP image and GH100 FMC",
  ["nvidia/ga102/gsp/gsp-570.144.bin", "nvidia/gh100/gsp/fmc-570.144.bin"],
  ([gspPath, fmcPath]) => {
    {
      using gsp = fileSource(gspPath);
      const elf = parseElf(gsp);
      assert.equal(elf.elfClass, 64);
      assert.equal(elf.machine, 0xf3);
      assert.equal(elf.type, 1);
      assert.equal(elf.elfVersion, 1);
      assert.equal(elf.entry, 0n);
      assert.equal(elf.headerSize, 64);
      assert.equal(elf.programHeaderCount, 0);
      assert.equal(elf.sectionHeaderEntrySize, 64);
      assert.equal(elf.sectionHeaderCount, 14);
      assert.equal(elf.sectionHeaderOffset + 14 * 64, gsp.size, "the section table ends the file");
      const image = elf.sections.find((s) => s.name === ".fwimage")!;
      assert.deepEqual(
        [image.offset, image.size, image.addressAlign, image.link, image.info, image.entrySize],
        [0x40, 63541248, 1, 0, 0, 0],
      );
    }
    using fmc = fileSource(fmcPath);
    const elf = parseElf(fmc);
    assert.equal(elf.elfClass, 32);
    assert.equal(elf.headerSize, 52);
    assert.equal(elf.sectionHeaderEntrySize, 40);
    assert.equal(elf.sectionHeaderCount, 6);
    assert.equal(elf.sectionHeaderOffset, 52);
    assert.equal(elf.stringTableIndex, 1);
  },
);
