import assert from "node:assert/strict";
import {
  buildRadix3,
  contiguousRadix3Addresses,
  GSP_PAGE_SIZE,
  RADIX3_ENTRIES_PER_PAGE,
  RADIX3_MAX_IMAGE_SIZE,
  type Radix3Addresses,
  radix3Layout,
  type Radix3Level,
  type Radix3Tables,
} from "../firmware/radix3.ts";
import { parseGspImage } from "../firmware/gsp_image.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { realFirmwareTest } from "./_real.ts";

/** The distinct real GSP images (the other chips link to these). */
const REAL_GSP_IMAGES = [
  "nvidia/tu102/gsp/gsp-570.144.bin",
  "nvidia/ga102/gsp/gsp-570.144.bin",
  "nvidia/tu102/gsp/gsp-535.113.01.bin",
  "nvidia/ga102/gsp/gsp-535.113.01.bin",
];

const GIB = 1 << 30;

function entry(table: Uint8Array, i: number): bigint {
  return new DataView(table.buffer, table.byteOffset, table.byteLength).getBigUint64(i * 8, true);
}

/** Scattered, distinct addresses: image pages in reverse order, tables in a separate window. */
function scattered(imagePages: number) {
  return {
    imagePageAddress: (i: number) => 0x10_0000_0000n + BigInt(imagePages - 1 - i) * 0x3000n,
    tablePageAddress: (level: Radix3Level, i: number) =>
      0x7f_0000_0000n + BigInt(level) * 0x1_0000_0000n + BigInt(i) * 0x5000n,
  };
}

/**
 * Walk the tables as the GSP bootloader does: DMA address of image byte
 * `offset`, given a lookup from a table page's address to its bytes.
 */
function translate(tables: Radix3Tables, offset: number): bigint {
  const pages = new Map<bigint, Uint8Array>();
  const add = (level: Uint8Array, addresses: bigint[]) =>
    addresses.forEach((a, i) => pages.set(a, level.subarray(i * 4096, (i + 1) * 4096)));
  const l = tables.layout;
  add(tables.level0, [tables.level0Address]);
  add(tables.level1, Array.from({ length: l.level1Pages }, (_, i) => entry(tables.level0, i)));
  const l1Entries = Array.from({ length: l.level2Pages }, (_, i) => entry(tables.level1, i));
  add(tables.level2, l1Entries);
  const page = Math.floor(offset / GSP_PAGE_SIZE);
  const i2 = page % 512;
  const i1 = Math.floor(page / 512) % 512;
  const i0 = Math.floor(page / 512 / 512);
  const l1 = pages.get(entry(pages.get(tables.level0Address)!, i0))!;
  const l2 = pages.get(entry(l1, i1))!;
  return entry(l2, i2) + BigInt(offset % GSP_PAGE_SIZE);
}

Deno.test("radix3Layout: page counts at the level boundaries", () => {
  const cases: [number, number, number, number][] = [
    // imageSize, imagePages, level2Pages, level1Pages
    [1, 1, 1, 1],
    [4096, 1, 1, 1],
    [4097, 2, 1, 1],
    [512 * 4096, 512, 1, 1],
    [512 * 4096 + 1, 513, 2, 1],
    [GIB, 262144, 512, 1],
    [GIB + 1, 262145, 513, 2],
    [RADIX3_MAX_IMAGE_SIZE, 512 ** 3, 512 ** 2, 512],
  ];
  for (const [size, imagePages, level2Pages, level1Pages] of cases) {
    const l = radix3Layout(size);
    assert.deepEqual(
      [l.imagePages, l.level2Pages, l.level1Pages, l.level0Pages],
      [imagePages, level2Pages, level1Pages, 1],
      `size ${size}`,
    );
    assert.equal(l.tablePages, 1 + level1Pages + level2Pages);
    assert.equal(l.imageSize, size);
  }
  assert.equal(RADIX3_MAX_IMAGE_SIZE, 2 ** 39);
  assert.equal(RADIX3_ENTRIES_PER_PAGE, 512);
});

Deno.test("radix3Layout: the real image sizes", () => {
  // 570.144 GA102+ and Turing, 535.113.01 GA102 and Turing.
  const sizes: [number, number, number][] = [
    [63541248, 15513, 31],
    [28528288, 6965, 14],
    [38043648, 9288, 19],
    [23737168, 5796, 12],
  ];
  for (const [size, pages, level2] of sizes) {
    const l = radix3Layout(size);
    assert.equal(l.imagePages, pages);
    assert.equal(l.level2Pages, level2);
    assert.equal(l.level1Pages, 1);
  }
});

Deno.test("radix3Layout rejects sizes it cannot map", () => {
  for (const bad of [0, -1, 0.5, NaN, Infinity, RADIX3_MAX_IMAGE_SIZE + 1, 2 ** 53]) {
    assert.throws(() => radix3Layout(bad), RangeError, `size ${bad}`);
  }
});

Deno.test("buildRadix3 on a small image: every entry, and zeros after the last one", () => {
  const imageSize = 3 * 4096 + 5;
  const addr = scattered(4);
  const t = buildRadix3({ imageSize, ...addr });
  assert.equal(t.level0.length, 4096);
  assert.equal(t.level1.length, 4096);
  assert.equal(t.level2.length, 4096);
  assert.equal(t.level0Address, addr.tablePageAddress(0, 0));
  assert.equal(entry(t.level0, 0), addr.tablePageAddress(1, 0));
  assert.equal(entry(t.level1, 0), addr.tablePageAddress(2, 0));
  for (let i = 0; i < 4; i++) assert.equal(entry(t.level2, i), addr.imagePageAddress(i));
  assert.ok(t.level0.subarray(8).every((b) => b === 0));
  assert.ok(t.level1.subarray(8).every((b) => b === 0));
  assert.ok(t.level2.subarray(32).every((b) => b === 0));
});

Deno.test("buildRadix3 on the 63 MB GA102 image: every entry, and a bootloader-like walk", () => {
  const imageSize = 63541248;
  const addr = scattered(15513);
  const t = buildRadix3({ imageSize, ...addr });
  assert.equal(t.level2.length, 31 * 4096);
  assert.equal(entry(t.level0, 0), addr.tablePageAddress(1, 0));
  assert.ok(t.level0.subarray(8).every((b) => b === 0));
  for (let i = 0; i < 31; i++) assert.equal(entry(t.level1, i), addr.tablePageAddress(2, i));
  assert.ok(t.level1.subarray(31 * 8).every((b) => b === 0));
  for (let i = 0; i < 15513; i++) assert.equal(entry(t.level2, i), addr.imagePageAddress(i));
  assert.ok(t.level2.subarray(15513 * 8).every((b) => b === 0));
  for (const offset of [0, 1, 4095, 4096, 512 * 4096 + 17, 30 * 512 * 4096, imageSize - 1]) {
    const page = Math.floor(offset / 4096);
    assert.equal(translate(t, offset), addr.imagePageAddress(page) + BigInt(offset % 4096));
  }
});

Deno.test("buildRadix3 over 1 GiB fills several level-0 entries (kgspCreateRadix3)", () => {
  const imageSize = GIB + 2 * 4096;
  const layout = radix3Layout(imageSize);
  const t = buildRadix3({ imageSize, ...contiguousRadix3Addresses(layout, 0x1000_0000n) });
  assert.equal(layout.level1Pages, 2);
  assert.equal(entry(t.level0, 0), 0x1000_1000n);
  assert.equal(entry(t.level0, 1), 0x1000_2000n);
  assert.equal(entry(t.level0, 2), 0n);
  assert.equal(entry(t.level1, 512), 0x1000_0000n + BigInt(3 + 512) * 4096n);
  const last = layout.imagePages - 1;
  assert.equal(
    translate(t, last * 4096),
    0x1000_0000n + BigInt(layout.tablePages + last) * 4096n,
  );
});

Deno.test("buildRadix3 writes into caller buffers and zeroes them first", () => {
  const layout = radix3Layout(40 * 4096);
  const dma = new Uint8Array(layout.tablePages * 4096 + 4096).fill(0xaa);
  const tables = {
    level0: dma.subarray(0, 4096),
    level1: dma.subarray(4096, 8192),
    level2: dma.subarray(8192, 12288),
  };
  const t = buildRadix3({
    imageSize: layout.imageSize,
    ...contiguousRadix3Addresses(layout, 0x4000_0000n),
    tables,
  });
  assert.equal(t.level2.buffer, dma.buffer);
  assert.equal(t.level2.byteOffset, 8192);
  assert.equal(entry(dma.subarray(8192), 39), 0x4000_0000n + BigInt(3 + 39) * 4096n);
  assert.ok(dma.subarray(8192 + 40 * 8, 12288).every((b) => b === 0));
  assert.ok(dma.subarray(12288).every((b) => b === 0xaa), "bytes past the tables untouched");
  assert.throws(
    () =>
      buildRadix3({
        imageSize: 513 * 4096,
        ...contiguousRadix3Addresses(radix3Layout(513 * 4096), 0n),
        tables: { level2: new Uint8Array(4096) },
      }),
    RangeError,
  );
});

Deno.test("buildRadix3 rejects unaligned, negative and too-large addresses", () => {
  const ok = scattered(1);
  const bad: [string, () => bigint][] = [
    ["unaligned", () => 0x1001n],
    ["negative", () => -4096n],
    ["too large", () => 1n << 64n],
  ];
  for (const [what, address] of bad) {
    assert.throws(
      () => buildRadix3({ imageSize: 10, ...ok, imagePageAddress: address }),
      RangeError,
      what,
    );
    assert.throws(
      () => buildRadix3({ imageSize: 10, ...ok, tablePageAddress: address }),
      RangeError,
      what,
    );
  }
  assert.equal(
    entry(
      buildRadix3({ imageSize: 10, ...ok, imagePageAddress: () => (1n << 64n) - 4096n }).level2,
      0,
    ),
    (1n << 64n) - 4096n,
  );
});

Deno.test("contiguousRadix3Addresses: tables then image, as NVIDIA's one allocation", () => {
  const layout = radix3Layout(63541248);
  const a = contiguousRadix3Addresses(layout, 0x2_0000_0000n);
  assert.equal(a.tablePageAddress(0, 0), 0x2_0000_0000n);
  assert.equal(a.tablePageAddress(1, 0), 0x2_0000_1000n);
  assert.equal(a.tablePageAddress(2, 30), 0x2_0000_0000n + 32n * 4096n);
  assert.equal(a.imagePageAddress(0), 0x2_0000_0000n + 33n * 4096n);
});

// --- The contiguous fast path against a reference -------------------------------------------
//
// A small, independent reference of the tables (one bigint per entry, as buildRadix3 was first
// written): the fast path must produce the same bytes and fail on the same entry.

interface Reference {
  level0: Uint8Array;
  level1: Uint8Array;
  level2: Uint8Array;
  level0Address: bigint;
}

function referenceRadix3(
  imageSize: number,
  image: (i: number) => bigint,
  table: (level: Radix3Level, i: number) => bigint,
): Reference | { bad: string } {
  const pages = (n: number) => Math.ceil(n / 512);
  const imagePages = Math.ceil(imageSize / 4096);
  const counts = [pages(pages(imagePages)), pages(imagePages), imagePages];
  const out = [0, 1, 2].map((level) => new Uint8Array(pages(counts[level]) * 4096 || 4096));
  out[0] = new Uint8Array(4096);
  const sources: [string, (i: number) => bigint][] = [
    ["level 1 table page", (i) => table(1, i)],
    ["level 2 table page", (i) => table(2, i)],
    ["image page", image],
  ];
  for (let level = 0; level < 3; level++) {
    const view = new DataView(out[level].buffer);
    const [what, address] = sources[level];
    for (let i = 0; i < counts[level]; i++) {
      const a = address(i);
      if (a < 0n || a >= 1n << 64n || a % 4096n !== 0n) return { bad: `${what} ${i}` };
      view.setBigUint64(i * 8, a, true);
    }
  }
  const root = table(0, 0);
  if (root < 0n || root >= 1n << 64n || root % 4096n !== 0n) return { bad: "level 0 table page 0" };
  return { level0: out[0], level1: out[1], level2: out[2], level0Address: root };
}

function assertSameAsReference(imageSize: number, addresses: Radix3Addresses, what: string): void {
  const want = referenceRadix3(
    imageSize,
    addresses.imagePageAddress,
    addresses.tablePageAddress,
  );
  if ("bad" in want) {
    assert.throws(
      () => buildRadix3({ imageSize, ...addresses }),
      (e: unknown) => e instanceof RangeError && e.message.includes(want.bad),
      `${what}: fails on ${want.bad}`,
    );
    return;
  }
  const got = buildRadix3({ imageSize, ...addresses });
  assert.equal(got.level0Address, want.level0Address, what);
  for (const level of ["level0", "level1", "level2"] as const) {
    assert.equal(got[level].length, want[level].length, `${what} ${level} length`);
    // A failed deepEqual over 100 kB tables would spend minutes diffing; name the first entry.
    const at = got[level].findIndex((b, i) => b !== want[level][i]);
    assert.equal(at, -1, `${what}: ${level} differs first in entry ${at >> 3}`);
  }
}

/** Bases that put the 2^32 carry inside level 2, at its start and end, and past 2^64. */
function bases(imageSize: number): bigint[] {
  const l = radix3Layout(imageSize);
  const span = BigInt((l.tablePages + l.imagePages) * 4096);
  return [
    0n,
    0x8000_0000n,
    (1n << 32n) - BigInt(l.tablePages + 7) * 4096n, // carry after image page 7
    (1n << 32n) - 4096n, // carry right after level 0
    0xffff_ffffn * 4096n,
    (1n << 64n) - span, // the last page is the last of the address space
    (1n << 64n) - span + 4096n, // one page too far: the last image page overflows
    (1n << 64n) - 4096n, // everything but level 0 overflows
    0x1000n + 1n, // unaligned
    -4096n, // negative
  ];
}

Deno.test("buildRadix3's contiguous fast path matches the reference on forged sizes", () => {
  const sizes = [1, 4095, 4096, 4097, 512 * 4096, 512 * 4096 + 1, 3 * 512 * 4096 + 100];
  for (const imageSize of sizes) {
    const layout = radix3Layout(imageSize);
    for (const base of bases(imageSize)) {
      assertSameAsReference(
        imageSize,
        contiguousRadix3Addresses(layout, base),
        `size ${imageSize} base 0x${base.toString(16)}`,
      );
    }
  }
});

Deno.test("buildRadix3's fast path over 1 GiB (several level-0 entries) matches the reference", () => {
  const imageSize = GIB + 5 * 4096;
  for (const base of [0n, (1n << 32n) - 4096n * 9n]) {
    assertSameAsReference(
      imageSize,
      contiguousRadix3Addresses(radix3Layout(imageSize), base),
      `base 0x${base.toString(16)}`,
    );
  }
});

Deno.test("buildRadix3 never takes the fast path for a callback the caller replaced", () => {
  const imageSize = 40 * 4096 + 3;
  const layout = radix3Layout(imageSize);
  const contiguous = contiguousRadix3Addresses(layout, 0x4000_0000n);
  const reversed = scattered(layout.imagePages);
  // A spread copy keeps the contiguous table callback and swaps the image one.
  assertSameAsReference(
    imageSize,
    { ...contiguous, imagePageAddress: reversed.imagePageAddress },
    "image replaced",
  );
  assertSameAsReference(
    imageSize,
    { ...contiguous, tablePageAddress: reversed.tablePageAddress },
    "tables replaced",
  );
  // Callbacks of another layout are still contiguous runs: what they return is what is written.
  const other = contiguousRadix3Addresses(radix3Layout(GIB + 1), 0x1_0000_0000n);
  assertSameAsReference(imageSize, other, "another layout's callbacks");
  // A wrapper around a contiguous callback is an ordinary callback.
  assertSameAsReference(
    imageSize,
    { ...contiguous, imagePageAddress: (i) => contiguous.imagePageAddress(i) + 0x1000n },
    "wrapped",
  );
});

realFirmwareTest(
  "buildRadix3 matches the reference for every real GSP image's .fwimage",
  REAL_GSP_IMAGES,
  (paths) => {
    for (const path of paths) {
      using source = fileSource(path);
      const { imageSize } = parseGspImage(source);
      const layout = radix3Layout(imageSize);
      for (const base of bases(imageSize)) {
        assertSameAsReference(
          imageSize,
          contiguousRadix3Addresses(layout, base),
          `${path} base 0x${base.toString(16)}`,
        );
      }
      assertSameAsReference(imageSize, scattered(layout.imagePages), `${path} scattered`);
    }
  },
);
