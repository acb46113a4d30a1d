// GspFwWprMeta (gsp/wpr_meta.ts): every field at its offset for a TU102 layout
// worked out by hand, the per-family flags default, the FSP-path variant, the
// unions, round trips, typed errors, and acceptance by the simulator's own
// validator (sim/acceptance/wpr_meta.ts) on every SEC2-path chip.

import assert from "node:assert/strict";
import { CHIPS } from "../chips/chips.ts";
import { FirmwareFormatError } from "../errors.ts";
import {
  buildFspWprMeta,
  buildWprMeta,
  computeFbLayout,
  computeFbSizes,
  decodeWprMeta,
  encodeWprMeta,
  type FbLayout,
  FbLayoutError,
  GSP_FW_FLAGS,
  GSP_FW_WPR_META_MAGIC,
  laysOutFb,
  WPR_META_FIELDS,
  wprMetaOf,
  type WprMetaSysmem,
} from "../gsp/mod.ts";
import { computeFbLayout as simComputeFbLayout } from "../sim/acceptance/fb_layout.ts";
import { validateWprMeta } from "../sim/acceptance/wpr_meta.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const TU_SIZES = { gspImageSize: 28528288, bootloaderSize: 4096 };
const sysmemFor = (bootloaderSize: number, codeOffset = 0, dataOffset = 0): WprMetaSysmem => ({
  radix3Address: 0x1_2345_6000n,
  bootloader: {
    dmaAddress: 0x1_0000_0000n,
    size: bootloaderSize,
    codeOffset,
    dataOffset,
    manifestOffset: 0,
  },
  signature: { dmaAddress: 0x1_0000_8000n, size: 4096 },
});

Deno.test("TU102 24 GiB: every field at its offset", () => {
  const layout = computeFbLayout({ chip: "tu102", fbSize: 24 * GiB, ...TU_SIZES });
  const bytes = buildWprMeta(layout, sysmemFor(4096));
  assert.equal(bytes.length, 256);
  const view = new DataView(bytes.buffer);
  const u64 = (offset: number) => `0x${view.getBigUint64(offset, true).toString(16)}`;
  // The magic's bytes, little-endian, as Booter compares them.
  assert.deepEqual([...bytes.subarray(0, 8)], [0xb3, 0x60, 0x1a, 0x37, 0x21, 0xae, 0x3a, 0xdc]);
  // The layout values are those worked out in tests/fb_layout_test.ts.
  const expected: [number, string][] = [
    [0x00, "0xdc3aae21371a60b3"], // magic
    [0x08, "0x1"], // revision
    [0x10, "0x123456000"], // sysmemAddrOfRadix3Elf
    [0x18, "0x1b34ea0"], // sizeOfRadix3Elf = 28528288
    [0x20, "0x100000000"], // sysmemAddrOfBootloader
    [0x28, "0x1000"], // sizeOfBootloader
    [0x30, "0x0"], // bootloaderCodeOffset
    [0x38, "0x0"], // bootloaderDataOffset
    [0x40, "0x0"], // bootloaderManifestOffset
    [0x48, "0x100008000"], // sysmemAddrOfSignature
    [0x50, "0x1000"], // sizeOfSignature
    [0x58, "0x5f7500000"], // gspFwRsvdStart = non-WPR heap start
    [0x60, "0x5f7500000"], // nonWprHeapOffset
    [0x68, "0x100000"], // nonWprHeapSize
    [0x70, "0x5f7600000"], // gspFwWprStart
    [0x78, "0x5f7700000"], // gspFwHeapOffset
    [0x80, "0x6b00000"], // gspFwHeapSize = 107 MiB
    [0x88, "0x5fe2c0000"], // gspFwOffset
    [0x90, "0x5ffdff000"], // bootBinOffset
    [0x98, "0x5ffe00000"], // frtsOffset
    [0xa0, "0x100000"], // frtsSize
    [0xa8, "0x5fff00000"], // gspFwWprEnd
    [0xb0, "0x600000000"], // fbSize
    [0xb8, "0x5fff00000"], // vgaWorkspaceOffset
    [0xc0, "0x100000"], // vgaWorkspaceSize
    [0xc8, "0x0"], // bootCount
    [0xd0, "0x0"], // partition union, 32 bytes of zeros
    [0xd8, "0x0"],
    [0xe0, "0x0"],
    [0xe8, "0x0"],
    [0xf8, "0x0"], // verified
  ];
  assert.deepEqual(expected.map(([o]) => [o, u64(o)]), expected);
  assert.equal(view.getUint8(0xf0), 0); // gspFwHeapVfPartitionCount
  assert.equal(view.getUint8(0xf1), GSP_FW_FLAGS.CLOCK_BOOST); // flags: NVIDIA's default
  assert.equal(view.getUint16(0xf2, true), 0); // padding
  assert.equal(view.getUint32(0xf4, true), 0); // pmuReservedSize
});

Deno.test("field table: naturally aligned, covers 256 bytes but the padding, overlaps only in the union", () => {
  const covered = new Array<string[]>(256).fill([]).map(() => [] as string[]);
  for (const f of WPR_META_FIELDS) {
    assert.equal(f.offset % f.size, 0, `${f.name} is naturally aligned`);
    for (let i = f.offset; i < f.offset + f.size; i++) covered[i].push(f.name);
  }
  const holes = covered.flatMap((names, i) => (names.length === 0 ? [i] : []));
  assert.deepEqual(holes, [0xf2, 0xf3]); // the padding
  const shared = new Set(covered.filter((n) => n.length > 1).map((n) => n.sort().join("+")));
  assert.deepEqual([...shared].sort(), [
    "elfCodeSize+sysmemAddrOfCrashReportQueue",
    "elfDataOffset+sysmemAddrOfCrashReportQueue",
    "elfDataSize+sizeOfCrashReportQueue",
  ]);
});

Deno.test("flags default per family, and an explicit value wins", () => {
  for (const chip of CHIPS.filter((c) => laysOutFb(c))) {
    const sizes = chip.family === "ga10x" || chip.family === "ad10x"
      ? { gspImageSize: 63541248, bootloaderSize: 36864 }
      : TU_SIZES;
    const layout = computeFbLayout({ chip, fbSize: 16 * GiB, ...sizes });
    const meta = wprMetaOf(layout, sysmemFor(sizes.bootloaderSize));
    assert.equal(meta.flags, GSP_FW_FLAGS.CLOCK_BOOST, chip.name);
  }
  const layout = computeFbLayout({ chip: "tu102", fbSize: 8 * GiB, ...TU_SIZES });
  assert.equal(wprMetaOf(layout, { ...sysmemFor(4096), flags: 0 }).flags, 0);
  assert.throws(() => wprMetaOf(layout, { ...sysmemFor(4096), flags: 0x100 }), FbLayoutError);
});

Deno.test("FSP path: sizes only, every FB offset 0, no clock boost", () => {
  const sizes = computeFbSizes({ chip: "gb202", fbSize: 32 * GiB });
  const bytes = buildFspWprMeta(sizes, {
    gspImageSize: 63541248,
    ...sysmemFor(200704, 45568, 2560),
  });
  const meta = decodeWprMeta(bytes);
  assert.equal(meta.magic, GSP_FW_WPR_META_MAGIC);
  assert.equal(meta.sizeOfRadix3Elf, 63541248n);
  assert.equal(meta.sizeOfBootloader, 200704n);
  assert.equal(meta.bootloaderCodeOffset, 45568n);
  assert.equal(meta.bootloaderDataOffset, 2560n);
  assert.equal(meta.nonWprHeapSize, 0x220000n); // 2 MiB + 128 KiB, not rounded up
  assert.equal(meta.gspFwHeapSize, 135n * 2n ** 20n); // 22 + 14 + 3 + 96 MiB
  assert.equal(meta.frtsSize, 0x100000n);
  assert.equal(meta.vgaWorkspaceSize, 0x20000n);
  assert.equal(meta.pmuReservedSize, 0x1820000);
  assert.equal(meta.flags, 0);
  for (
    const field of [
      "gspFwRsvdStart",
      "nonWprHeapOffset",
      "gspFwWprStart",
      "gspFwHeapOffset",
      "gspFwOffset",
      "bootBinOffset",
      "frtsOffset",
      "gspFwWprEnd",
      "fbSize",
      "vgaWorkspaceOffset",
    ] as const
  ) {
    assert.equal(meta[field], 0n, field);
  }
});

Deno.test("CrashCat queue goes into the second union; round trips", () => {
  const layout = computeFbLayout({ chip: "ga100", fbSize: 40 * GiB, ...TU_SIZES });
  const sysmem = {
    ...sysmemFor(4096),
    crashReportQueue: { dmaAddress: 0xabc_d000n, size: 0x1000 },
  };
  const bytes = buildWprMeta(layout, sysmem);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getBigUint64(0xe0, true), 0xabcd000n);
  assert.equal(view.getUint32(0xe8, true), 0x1000);
  assert.equal(view.getUint32(0xd0, true), 0); // partitionRpcPadding
  const meta = decodeWprMeta(bytes);
  assert.equal(meta.elfDataOffset, 0xabcd000); // the same bytes, read the other way
  assert.deepEqual(encodeWprMeta(meta), bytes);
  // Round trip of arbitrary bytes (except the padding, which encode writes as 0).
  const random = crypto.getRandomValues(new Uint8Array(256));
  random[0xf2] = random[0xf3] = 0;
  assert.deepEqual(encodeWprMeta(decodeWprMeta(random)), random);
});

Deno.test("typed errors", () => {
  const layout = computeFbLayout({ chip: "tu102", fbSize: 8 * GiB, ...TU_SIZES });
  const fieldOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert(e instanceof FbLayoutError, String(e));
      return e.field;
    }
    assert.fail("no error");
  };
  assert.equal(fieldOf(() => buildWprMeta(layout, sysmemFor(8192))), "bootloader.size");
  assert.equal(
    fieldOf(() => buildWprMeta(layout, { ...sysmemFor(4096), radix3Address: 1n << 64n })),
    "radix3Address",
  );
  assert.equal(
    fieldOf(() => buildWprMeta(layout, { ...sysmemFor(4096), radix3Address: -1n })),
    "radix3Address",
  );
  assert.equal(
    fieldOf(() =>
      buildWprMeta(layout, {
        ...sysmemFor(4096),
        signature: { dmaAddress: 0x1000n, size: 1.5 },
      })
    ),
    "signature.size",
  );
  const short = (() => {
    try {
      decodeWprMeta(new Uint8Array(200), "meta.bin");
    } catch (e) {
      return e;
    }
  })();
  assert(short instanceof FirmwareFormatError && short.file === "meta.bin");
});

// The simulator validates a WPR meta against the layout it computes itself.
function simAccepts(layout: FbLayout, bytes: Uint8Array, sysmem: WprMetaSysmem): string[] {
  const simLayout = simComputeFbLayout({
    chipset: layout.chip.chipsetId,
    fbSize: layout.fb.size,
    displayFuse: 1,
    vgaWorkspaceRegister: 0,
    bootloaderSize: layout.boot.size,
    gspImageSize: layout.elf.size,
  });
  const verdict = validateWprMeta(bytes, simLayout, {
    gspImageSize: layout.elf.size,
    bootloaderSize: layout.boot.size,
    bootloaderCodeOffset: sysmem.bootloader.codeOffset,
    bootloaderDataOffset: sysmem.bootloader.dataOffset,
    bootloaderManifestOffset: sysmem.bootloader.manifestOffset,
    signatureSize: sysmem.signature.size,
  });
  if (verdict.ok) return [];
  const wrong = (verdict as { wrongFields?: { field: string; expected: string; found: string }[] })
    .wrongFields ?? [];
  return [verdict.reason, ...wrong.map((w) => `${w.field}: want ${w.expected}, got ${w.found}`)];
}

Deno.test("the simulator's Booter accepts the driver's meta on every SEC2-path chip", () => {
  let checked = 0;
  for (const chip of CHIPS.filter((c) => laysOutFb(c))) {
    const sizes = chip.family === "ga10x"
      ? { gspImageSize: 63541248, bootloaderSize: 24576, code: 6144 }
      : chip.family === "ad10x"
      ? { gspImageSize: 63541248, bootloaderSize: 36864, code: 18432 }
      : { ...TU_SIZES, code: 0 };
    for (const fbSize of [4 * GiB, 11 * GiB, 24 * GiB, 48 * GiB, 96 * GiB]) {
      const layout = computeFbLayout({ chip, fbSize, ...sizes });
      const sysmem = sysmemFor(sizes.bootloaderSize, sizes.code, sizes.code ? 2048 : 0);
      const bytes = buildWprMeta(layout, sysmem);
      assert.deepEqual(simAccepts(layout, bytes, sysmem), [], `${chip.name} ${fbSize / GiB} GiB`);
      checked++;
    }
  }
  assert.equal(checked, 16 * 5);
});
