// Tests of firmware/gsp_image.ts (headers, version, signatures) and
// loader/gsp_image.ts (file source, loading the image into preallocated memory).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FirmwareFormatError, FirmwareNotFoundError } from "../errors.ts";
import { type ChipFamily, CHIPS, FAMILIES } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import { forgeElf, forgeGspImage, GSP_SIGNATURE_SECTIONS_TU } from "../firmware/forge/elf.ts";
import { patternBytes } from "../firmware/forge/_writer.ts";
import { parseElf, requireSection, SHT_NOBITS } from "../firmware/elf.ts";
import { GSP_MAX_VERSION_SIZE, gspSignature, parseGspImage } from "../firmware/gsp_image.ts";
import { contiguousRadix3Addresses, radix3Layout } from "../firmware/radix3.ts";
import {
  fileSource,
  type GspHeaderCache,
  GspMemoryPool,
  loadGspImage,
  type LoadGspImageOptions,
} from "../loader/gsp_image.ts";
import { loadFirmwareSet } from "../loader/firmware_set.ts";
import { realFirmwareTest } from "./_real.ts";
import { assertFormatError } from "./_assert.ts";

async function rejectsFormatError(promise: Promise<unknown>, field: string) {
  const caught = await promise.then(() => undefined, (e) => e);
  assert.ok(caught instanceof FirmwareFormatError, `expected FirmwareFormatError, got ${caught}`);
  assert.equal(caught.field, field, caught.message);
  return caught;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const isZero = (b: Uint8Array) => b.every((x) => x === 0);
const sig = (family: string) => `.fwsignature_${family}`;

function tempFile(bytes: Uint8Array): string {
  const path = Deno.makeTempFileSync({ prefix: "falconry-gsp-", suffix: ".bin" });
  Deno.writeFileSync(path, bytes);
  return path;
}

// ---- Forged images ----------------------------------------------------------

Deno.test("parseGspImage on a forged image: image range, version, signature sections", () => {
  const bytes = forgeGspImage({ imageSize: 12345, version: "535.113.01" });
  const gsp = parseGspImage(bytes, "gsp.bin");
  assert.equal(gsp.file, "gsp.bin");
  assert.deepEqual(gsp.image, { offset: 0x40, size: 12345 });
  assert.equal(gsp.imageSize, 12345);
  assert.equal(gsp.version, "535.113.01");
  assert.deepEqual(
    gsp.signatureSections.map((s) => s.name),
    ["gb20x", "cc_gb10x", "gb10x", "cc_gh100", "gh100", "ad10x", "ga10x"].map(sig),
  );
  assert.ok(gsp.signatureSections.every((s) => s.size === 4096));
  const ga10x = gspSignature(gsp, bytes, sig("ga10x"));
  assert.deepEqual(ga10x, patternBytes(4096, 0x6e5f + 1 + 6));
  assert.notDeepEqual(gspSignature(gsp, bytes, sig("ad10x")), ga10x);
});

Deno.test("parseGspImage reads only the headers and .fwversion", () => {
  const bytes = forgeGspImage({ imageSize: 4 << 20, signatureSections: GSP_SIGNATURE_SECTIONS_TU });
  const src = countingSource(bufferSource(bytes));
  const gsp = parseGspImage(src);
  const strtab = gsp.elf.sections[gsp.elf.stringTableIndex];
  assert.equal(src.bytesRead, 16 + 64 + gsp.elf.sections.length * 64 + strtab.size + 8);
  gspSignature(gsp, src, sig("tu10x"));
  assert.equal(src.reads, 6);
});

Deno.test("gspSignature: a missing section lists the ones the file has", () => {
  const bytes = forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_TU });
  const gsp = parseGspImage(bytes, "tu102/gsp-570.144.bin");
  const e = assertFormatError(
    () => gspSignature(gsp, bytes, sig("ga10x")),
    "elf.section(.fwsignature_ga10x)",
    gsp.elf.sectionHeaderOffset,
  );
  assert.equal(e.file, "tu102/gsp-570.144.bin");
  assert.match(e.reason, /\.fwsignature_ga100, \.fwsignature_tu11x, \.fwsignature_tu10x/);
});

Deno.test("errors: not an ELF64, missing or empty .fwimage, bad .fwversion", () => {
  const elf32 = forgeElf({ elfClass: 32, sections: [{ name: ".fwimage", size: 16 }] });
  assertFormatError(() => parseGspImage(elf32), "elf.ident.class", 4);
  const noImage = forgeElf({ sections: [{ name: ".fwversion", data: new Uint8Array([0x31, 0]) }] });
  const missing = assertFormatError(() => parseGspImage(noImage, "g.bin"), "elf.section(.fwimage)");
  assert.match(missing.reason, /\.fwversion, \.shstrtab/);
  assert.equal(missing.file, "g.bin");
  const version = (data: Uint8Array) =>
    forgeElf({ sections: [{ name: ".fwimage", size: 8 }, { name: ".fwversion", data }] });
  assertFormatError(
    () => parseGspImage(forgeElf({ sections: [{ name: ".fwimage", size: 0 }] })),
    "elf.section(.fwimage)",
  );
  assertFormatError(
    () => parseGspImage(forgeElf({ sections: [{ name: ".fwimage", size: 8, type: SHT_NOBITS }] })),
    "elf.section(.fwimage)",
  );
  assertFormatError(
    () => parseGspImage(forgeElf({ sections: [{ name: ".fwimage", size: 8 }] })),
    "elf.section(.fwversion)",
  );
  assertFormatError(
    () => parseGspImage(version(new Uint8Array([0, 0]))),
    "elf.section(.fwversion)",
  );
  const ctl = version(new Uint8Array([0x35, 0x0a, 0x37, 0]));
  const fwversion = requireSection(parseElf(ctl), ".fwversion");
  assertFormatError(() => parseGspImage(ctl), "elf.section(.fwversion)", fwversion.offset + 1);
  assertFormatError(
    () => parseGspImage(version(new Uint8Array(GSP_MAX_VERSION_SIZE + 1).fill(0x31))),
    "elf.section(.fwversion)",
  );
  assert.equal(parseGspImage(version(new Uint8Array([0x39, 0, 0, 0]))).version, "9");
});

Deno.test("errors: truncated and corrupt forged images give FirmwareFormatErrors", () => {
  const bytes = forgeGspImage({ imageSize: 3000 });
  for (const cut of [0, 10, 64, 100, 3064, bytes.length - 64, bytes.length - 1]) {
    assert.throws(() => parseGspImage(bytes.subarray(0, cut)), FirmwareFormatError, `cut ${cut}`);
  }
  const gsp = parseGspImage(bytes);
  const image = requireSection(gsp.elf, ".fwimage");
  const past = bytes.slice();
  new DataView(past.buffer).setBigUint64(image.headerOffset + 24, BigInt(bytes.length), true);
  assertFormatError(() => parseGspImage(past), "elf.section[1].offset", image.headerOffset);
});

Deno.test("3000 random header mutations give a result or a FirmwareFormatError", () => {
  const sample = forgeGspImage({ imageSize: 100, signatureSections: GSP_SIGNATURE_SECTIONS_TU });
  const tail = parseElf(sample).sections.find((s) => s.name === ".fwsignature_tu10x")!;
  const start = tail.offset + tail.size; // .shstrtab and the section header table
  const rand = patternBytes(3000 * 3, 11);
  for (let i = 0; i < 3000; i++) {
    const bytes = sample.slice();
    const span = i % 4 === 0 ? 64 : sample.length - start;
    const where = (i % 4 === 0 ? 0 : start) + (rand[i * 3] << 8 | rand[i * 3 + 1]) % span;
    bytes[where] = rand[i * 3 + 2];
    try {
      const gsp = parseGspImage(bytes);
      for (const s of gsp.signatureSections) gspSignature(gsp, bytes, s.name);
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `mutation at ${where}: ${e}`);
    }
  }
});

// ---- The loader on forged files ---------------------------------------------

Deno.test("loadGspImage fills allocated memory and zeroes the last page's tail", async () => {
  const bytes = forgeGspImage({ imageSize: 3 * 4096 + 100, seed: 4 });
  const path = tempFile(bytes);
  try {
    const memory = new Uint8Array(5 * 4096).fill(0xee);
    const requested: number[] = [];
    const gsp = await loadGspImage(path, {
      signatureSection: sig("gh100"),
      allocate: (n) => (requested.push(n), memory),
    });
    assert.deepEqual(requested, [4 * 4096]);
    assert.equal(gsp.path, path);
    assert.equal(gsp.version, "570.144");
    assert.equal(gsp.imageSize, 3 * 4096 + 100);
    assert.equal(gsp.image.buffer, memory.buffer);
    assert.equal(gsp.imageBuffer.length, 4 * 4096);
    assert.deepEqual(gsp.image, bytes.subarray(0x40, 0x40 + 3 * 4096 + 100));
    assert.ok(isZero(gsp.imageBuffer.subarray(3 * 4096 + 100)));
    assert.ok(memory.subarray(4 * 4096).every((b) => b === 0xee), "past the request untouched");
    assert.deepEqual(gsp.signature, patternBytes(4096, 4 + 1 + 4));
    const layout = radix3Layout(gsp.imageSize);
    const expected = contiguousRadix3Addresses(layout, 0n);
    assert.deepEqual(gsp.radix3.layout, layout);
    assert.equal(gsp.radix3.level0Address, 0n);
    const l2 = new DataView(gsp.radix3.level2.buffer);
    for (let i = 0; i < 4; i++) {
      assert.equal(l2.getBigUint64(i * 8, true), expected.imagePageAddress(i));
    }
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("loadGspImage uses the caller's DMA addresses", async () => {
  const path = tempFile(forgeGspImage({ imageSize: 8192 }));
  try {
    const gsp = await loadGspImage(path, {
      signatureSection: sig("ga10x"),
      imagePageAddress: (i) => 0xabc000n + BigInt(i) * 0x10000n,
      tablePageAddress: (level, i) => 0x100000n * BigInt(level + 1) + BigInt(i) * 4096n,
    });
    const entry = (t: Uint8Array, i: number) =>
      new DataView(t.buffer, t.byteOffset).getBigUint64(i * 8, true);
    assert.equal(gsp.radix3.level0Address, 0x100000n);
    assert.equal(entry(gsp.radix3.level0, 0), 0x200000n);
    assert.equal(entry(gsp.radix3.level1, 0), 0x300000n);
    assert.equal(entry(gsp.radix3.level2, 1), 0xabc000n + 0x10000n);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("loadGspImage errors name the path", async () => {
  const bytes = forgeGspImage({ imageSize: 8192 });
  const path = tempFile(bytes);
  const cut = tempFile(bytes.subarray(0, 5000));
  try {
    const missing = await rejectsFormatError(
      loadGspImage(path, { signatureSection: sig("gh10x") }),
      "elf.section(.fwsignature_gh10x)",
    );
    assert.equal(missing.file, path);
    assert.match(missing.message, /\.fwsignature_gh100/);
    const truncated = await rejectsFormatError(
      loadGspImage(cut, { signatureSection: sig("ga10x") }),
      "elf.shoff",
    );
    assert.equal(truncated.file, cut);
    await assert.rejects(
      loadGspImage(path, {
        signatureSection: sig("ga10x"),
        allocate: (n) => new Uint8Array(n - 1),
      }),
      RangeError,
    );
    await assert.rejects(
      loadGspImage(`${path}.absent`, { signatureSection: sig("ga10x") }),
      FirmwareNotFoundError,
    );
  } finally {
    Deno.removeSync(path);
    Deno.removeSync(cut);
  }
});

Deno.test("fileSource: positioned reads, a file that shrinks, and closing", async () => {
  const bytes = patternBytes(10000, 3);
  const path = tempFile(bytes);
  try {
    {
      using src = fileSource(path, { readBehind: 0, readAhead: 0 });
      assert.equal(src.size, 10000);
      assert.equal(src.name, path);
      assert.deepEqual(src.read(9990, 10), bytes.subarray(9990));
      assert.deepEqual(src.read(0, 3), bytes.subarray(0, 3));
      const target = new Uint8Array(5000);
      await src.readInto(4000, target);
      assert.deepEqual(target, bytes.subarray(4000, 9000));
      assertFormatError(() => src.read(9999, 2), "read", 9999);
      Deno.truncateSync(path, 6000);
      assertFormatError(() => src.read(5000, 2000), "read", 6000);
      await rejectsFormatError(src.readInto(5000, new Uint8Array(2000)), "read");
      src.close();
      src.close();
    }
    const src = fileSource(path);
    src[Symbol.dispose]();
    assert.throws(() => src.read(0, 1));
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("fileSource: read windows serve nearby reads, and a shrunk file fails past its end", () => {
  const bytes = patternBytes(200_000, 5);
  const path = tempFile(bytes);
  try {
    using src = fileSource(path, { readBehind: 1000, readAhead: 100 });
    // Each read copies: changing what one returned leaves the window intact.
    const first = src.read(150_000, 10);
    first.fill(0);
    assert.deepEqual(src.read(150_000, 10), bytes.subarray(150_000, 150_010));
    assert.equal(src.reads, 1);
    assert.deepEqual(src.read(149_000, 1110), bytes.subarray(149_000, 150_110)); // the window's ends
    assert.equal(src.reads, 1);
    assert.deepEqual(src.read(150_105, 10), bytes.subarray(150_105, 150_115)); // past the end
    assert.equal(src.reads, 2);
    assert.deepEqual(src.read(0, 4), bytes.subarray(0, 4)); // a third window drops the oldest
    assert.deepEqual(src.read(149_050, 4), bytes.subarray(149_050, 149_054)); // only the first had it
    assert.equal(src.reads, 4);
    // A read longer than 1 MiB is not windowed; the window at the end of a file is clamped.
    assert.deepEqual(src.read(199_990, 10), bytes.subarray(199_990));
    // The file shrinks after it was opened: a window may come back short, but not the request.
    Deno.truncateSync(path, 100_000);
    assert.deepEqual(src.read(99_950, 40), bytes.subarray(99_950, 99_990));
    assertFormatError(() => src.read(120_000, 10), "read", 120_000);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("fileSource: a GSP image's headers and signature take two reads", () => {
  const bytes = forgeGspImage({ imageSize: 4 << 20, signatureSections: GSP_SIGNATURE_SECTIONS_TU });
  const path = tempFile(bytes);
  try {
    using src = fileSource(path);
    const gsp = parseGspImage(src);
    assert.deepEqual(gspSignature(gsp, src, sig("tu10x")), gspSignature(gsp, bytes, sig("tu10x")));
    assert.equal(src.reads, 2);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("loadGspImage reuses a pool's region across loads and gives it back on dispose", async () => {
  const bytes = forgeGspImage({ imageSize: 600 * 4096 + 7, seed: 9 });
  const path = tempFile(bytes);
  try {
    const allocated: number[] = [];
    const pool = new GspMemoryPool({ allocate: (n) => (allocated.push(n), new Uint8Array(n)) });
    const layout = radix3Layout(600 * 4096 + 7);
    // Its headers unknown, the file is read early into a region sized for all of it after 0x40.
    const early = radix3Layout(bytes.length - 0x40);
    const regionLength = (early.tablePages + early.imagePages) * 4096;
    let region: Uint8Array | undefined;
    for (let boot = 0; boot < 3; boot++) {
      using gsp = await loadGspImage(path, { signatureSection: sig("ga10x"), pool });
      region ??= gsp.region;
      assert.equal(gsp.region, region, `boot ${boot} reuses the region`);
      // Tables, then the image: the region is what the default addresses describe.
      assert.equal(gsp.radix3.level0.byteOffset, 0);
      assert.equal(gsp.radix3.level2.byteOffset, 2 * 4096);
      assert.equal(gsp.imageBuffer.byteOffset, layout.tablePages * 4096);
      assert.deepEqual(gsp.image, bytes.subarray(0x40, 0x40 + gsp.imageSize));
      assert.ok(isZero(gsp.imageBuffer.subarray(gsp.imageSize)));
      // The file's sections after .fwimage, read early, do not stay in the region.
      assert.ok(isZero(region!.subarray(layout.tablePages * 4096 + gsp.imageSize)));
      assert.equal(gsp.fileReads, 3); // the image (read early), then the head and the tail
      const dma = new DataView(region!.buffer, region!.byteOffset);
      const at = (address: bigint) => Number(address);
      // Walk the tables through the region as the bootloader walks them through DMA addresses.
      const l1 = dma.getBigUint64(at(gsp.radix3.level0Address), true);
      const l2 = dma.getBigUint64(at(l1) + 8 * 0, true);
      const page601 = dma.getBigUint64(at(l2) + 8 * 600, true);
      assert.deepEqual(
        region!.subarray(at(page601), at(page601) + 7),
        bytes.subarray(0x40 + 600 * 4096, 0x40 + 600 * 4096 + 7),
      );
      region!.fill(0xa5, layout.tablePages * 4096 + gsp.imageSize); // the next boot zeroes it
    }
    assert.deepEqual(allocated, [regionLength]);
    assert.equal(pool.reuses, 2);
    // A load that fails gives its region back too.
    await rejectsFormatError(
      loadGspImage(path, { signatureSection: sig("gh10x"), pool }),
      "elf.section(.fwsignature_gh10x)",
    );
    const cut = tempFile(bytes.subarray(0, bytes.length - 1));
    try {
      await assert.rejects(loadGspImage(cut, { signatureSection: sig("ga10x"), pool }));
    } finally {
      Deno.removeSync(cut);
    }
    using again = await loadGspImage(path, { signatureSection: sig("ga10x"), pool });
    assert.equal(again.region, region);
    assert.throws(() => pool.give(new Uint8Array(4)), RangeError);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("loadGspImage: an image that is not right after the ELF header is read again", async () => {
  const image = patternBytes(300 * 4096 + 5, 21);
  // .fwversion first: .fwimage does not start at 0x40, so the early read guessed wrong.
  const bytes = forgeElf({
    sections: [
      { name: ".fwversion", data: new TextEncoder().encode("570.144\0") },
      { name: ".fwimage", data: image, flags: 3 },
      { name: sig("ga10x"), data: patternBytes(4096, 3) },
    ],
  });
  const path = tempFile(bytes);
  try {
    const pool = new GspMemoryPool();
    for (let load = 0; load < 2; load++) {
      using gsp = await loadGspImage(path, {
        signatureSection: sig("ga10x"),
        pool,
        headerCache: false,
      });
      assert.notEqual(gsp.headers.image.offset, 0x40);
      assert.equal(sha256(gsp.image), sha256(image));
      assert.ok(isZero(gsp.imageBuffer.subarray(gsp.imageSize)));
      assert.equal(gsp.radix3.layout.imagePages, 301);
    }
    // The early read's region went back to the pool and served every later take.
    assert.equal(pool.allocations, 1);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("GspMemoryPool: smallest fit, keep limit, reserve, and a short allocation", () => {
  const pool = new GspMemoryPool({ keep: 2 });
  const [a, b, c] = [3, 1, 2].map((pages) => pool.take(pages * 4096));
  [a, b, c].forEach((r) => pool.give(r));
  // a was dropped (keep 2); b is the smallest that fits, then c.
  assert.ok(pool.take(4096) === b && pool.take(4096) === c);
  assert.ok(pool.take(4096) !== a);
  assert.equal(pool.allocations, 4);
  assert.throws(() => pool.give(a), RangeError, "given back twice");
  const reserved = new GspMemoryPool();
  reserved.reserve(8192);
  assert.equal(reserved.take(8192).length, 8192);
  assert.equal(reserved.reuses, 1);
  const short = new GspMemoryPool({ allocate: (n) => new Uint8Array(n - 1) });
  assert.throws(() => short.take(4096), RangeError);
});

// ---- The real files -----------------------------------------------------------

const TU_FAMILIES: ChipFamily[] = ["tu10x", "tu11x", "ga100"];

/** `.fwimage` sizes of the real files (readelf). */
function expectedImageSize(family: ChipFamily, version: string): number {
  const turing = TU_FAMILIES.includes(family);
  return version === "570.144" ? (turing ? 28528288 : 63541248) : (turing ? 23737168 : 38043648);
}

/** Lengths of the real files. */
function expectedFileSize(family: ChipFamily, version: string): number {
  const turing = TU_FAMILIES.includes(family);
  return version === "570.144" ? (turing ? 28542040 : 63571696) : (turing ? 23750944 : 38061600);
}

/** Signature sections of the real files, in file order. */
function expectedSignatureSections(family: ChipFamily, version: string): string[] {
  if (TU_FAMILIES.includes(family)) return ["ga100", "tu11x", "tu10x"].map(sig);
  const ga102 = ["cc_gh100", "gh100", "ad10x", "ga10x"];
  return (version === "570.144" ? ["gb20x", "cc_gb10x", "gb10x", ...ga102] : ga102).map(sig);
}

for (const chip of CHIPS) {
  for (const version of FIRMWARE_VERSIONS) {
    for (const f of firmwareFiles(chip, version).filter((f) => f.kind === "gsp-image")) {
      realFirmwareTest(`real ${f.path}: headers, image and signatures`, [f.path], ([path]) => {
        using src = fileSource(path);
        const gsp = parseGspImage(src);
        const family = FAMILIES[chip.family];
        assert.equal(src.size, expectedFileSize(chip.family, version));
        assert.equal(gsp.version, version);
        assert.equal(gsp.imageSize, expectedImageSize(chip.family, version));
        assert.deepEqual(gsp.image, { offset: 0x40, size: gsp.imageSize });
        // The section header table closes the file, and every section lies before it.
        assert.equal(gsp.elf.sectionHeaderOffset + gsp.elf.sections.length * 64, src.size);
        for (const s of gsp.elf.sections) {
          assert.ok(s.offset + s.size <= gsp.elf.sectionHeaderOffset, s.name);
        }
        assert.deepEqual(
          gsp.signatureSections.map((s) => s.name),
          expectedSignatureSections(chip.family, version),
        );
        assert.ok(gsp.signatureSections.every((s) => s.size === 4096));
        for (const name of [family.gspSignatureSection, family.gspCcSignatureSection]) {
          if (name === undefined) continue;
          const signature = gspSignature(gsp, src, name);
          assert.equal(signature.length, 4096, name);
          assert.ok(!isZero(signature), `${name} is all zeros`);
        }
      });
    }
  }
}

realFirmwareTest(
  "real 570.144 TU/GA100 image: .fwsignature_ga100 and _tu10x both exist and differ",
  ["nvidia/ga100/gsp/gsp-570.144.bin"],
  ([path]) => {
    using src = fileSource(path);
    const gsp = parseGspImage(src);
    const ga100 = gspSignature(gsp, src, FAMILIES.ga100.gspSignatureSection);
    const tu10x = gspSignature(gsp, src, sig("tu10x"));
    assert.equal(FAMILIES.ga100.gspSignatureSection, sig("ga100"));
    assert.notDeepEqual(ga100, tu10x);
  },
);

realFirmwareTest(
  "real ga102 570.144 image: nova-core's .fwsignature_gh10x is missing, the error lists gh100",
  ["nvidia/gh100/gsp/gsp-570.144.bin"],
  ([path]) => {
    using src = fileSource(path);
    const gsp = parseGspImage(src, path);
    const e = assertFormatError(
      () => gspSignature(gsp, src, sig("gh10x")),
      "elf.section(.fwsignature_gh10x)",
    );
    assert.match(e.reason, /\.fwsignature_gh100/);
    assert.equal(e.file, path);
  },
);

realFirmwareTest(
  "real ga102 gsp-570.144.bin: loadGspImage reads the 63 MB image exactly, radix3 over 15513 pages",
  ["nvidia/ga102/gsp/gsp-570.144.bin"],
  async ([path]) => {
    const gsp = await loadGspImage(path, {
      signatureSection: FAMILIES.ga10x.gspSignatureSection,
      headerCache: false,
    });
    assert.equal(gsp.fileReads, 3, "the head, the tail (headers and signature), .fwimage");
    const file = Deno.readFileSync(path);
    assert.equal(gsp.imageSize, 63541248);
    assert.equal(gsp.imageBuffer.length, 63541248); // already page-aligned
    assert.equal(sha256(gsp.image), sha256(file.subarray(0x40, 0x40 + 63541248)));
    assert.deepEqual(gsp.signature, file.subarray(0x3c9f06c, 0x3c9f06c + 4096));
    assert.equal(gsp.radix3.layout.imagePages, 15513);
    assert.equal(gsp.radix3.layout.level2Pages, 31);
    assert.equal(gsp.radix3.level2.length, 31 * 4096);
  },
);

realFirmwareTest(
  "real tu102 gsp-570.144.bin: a not page-aligned image gets its last page's tail zeroed",
  ["nvidia/tu102/gsp/gsp-570.144.bin"],
  async ([path]) => {
    const memory = new Uint8Array(28528640).fill(0x5a);
    const gsp = await loadGspImage(path, {
      signatureSection: FAMILIES.tu10x.gspSignatureSection,
      allocate: () => memory,
    });
    assert.equal(gsp.imageSize, 28528288);
    assert.equal(gsp.imageBuffer.length, 6965 * 4096);
    assert.ok(isZero(memory.subarray(28528288)), "352-byte tail zeroed");
    const file = Deno.readFileSync(path);
    assert.equal(sha256(gsp.image), sha256(file.subarray(0x40, 0x40 + 28528288)));
    assert.equal(gsp.radix3.layout.level2Pages, 14);
  },
);

// ---- The header cache -----------------------------------------------------------

const settle = () => new Promise((done) => setTimeout(done, 250));

Deno.test("loadGspImage parses a file once; a changed or just-written file is parsed again", async () => {
  const path = tempFile(forgeGspImage({ imageSize: 3 * 4096, seed: 21 }));
  try {
    const headerCache: GspHeaderCache = new Map();
    const load = (options: Partial<LoadGspImageOptions> = {}) =>
      loadGspImage(path, { signatureSection: sig("ga10x"), headerCache, ...options });
    // Just written: its times may not yet tell a second write from the first.
    assert.equal((await load()).fileReads, 3);
    assert.equal((await load()).fileReads, 3);
    assert.equal(headerCache.size, 0);
    await settle();
    const first = await load();
    const second = await load();
    assert.equal(first.fileReads, 3);
    assert.equal(second.fileReads, 1, "only .fwimage is read");
    assert.equal(second.headers, first.headers);
    assert.ok(Object.isFrozen(second.headers.elf.sections[1]));
    assert.deepEqual(second.signature, first.signature);
    second.signature.fill(0); // a copy: the cached one is untouched
    assert.deepEqual((await load()).signature, first.signature);
    assert.deepEqual(second.image, first.image);
    // Another signature section of the same file: only the tail is read again.
    const gh100 = await load({ signatureSection: sig("gh100") });
    assert.equal(gh100.fileReads, 2);
    assert.notDeepEqual(gh100.signature, first.signature);
    // Rewritten (new bytes, new size): a new identity, parsed again.
    Deno.writeFileSync(path, forgeGspImage({ imageSize: 2 * 4096, seed: 22 }));
    await settle();
    const changed = await load();
    assert.equal(changed.fileReads, 3);
    assert.equal(changed.imageSize, 2 * 4096);
    assert.notDeepEqual(changed.signature, first.signature);
    // headerCache: false parses every time.
    assert.equal((await load({ headerCache: false })).fileReads, 3);
  } finally {
    Deno.removeSync(path);
  }
});

realFirmwareTest(
  "loadFirmwareSet leaves the GSP headers for loadGspImage, which then reads only .fwimage",
  ["nvidia/ga102/gsp/gsp-570.144.bin", "nvidia/ga102/gsp/booter_load-570.144.bin"],
  async () => {
    const set = await loadFirmwareSet({ chip: "ga102", version: "570.144" });
    using gsp = await loadGspImage(set.paths.gsp, { signatureSection: set.gspSignatureSection });
    assert.equal(gsp.fileReads, 1);
    assert.equal(gsp.headers, set.gspImage);
    assert.deepEqual(gsp.signature, set.gspSignature);
  },
);
