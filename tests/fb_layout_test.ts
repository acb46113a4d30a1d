// The driver's FB layout (gsp/fb_layout.ts, gsp/fb_memory_map.ts): concrete
// layouts worked out by hand from NVIDIA's kgspCalculateFbLayout_TU102
// formulas, invariants over every SEC2-path chip and many VRAM sizes, typed
// errors, and a cross-check against the simulator's independent code
// (sim/acceptance/fb_layout.ts) on the real firmware sizes.

import assert from "node:assert/strict";
import { CHIPS, FAMILIES } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import { parseGspImage } from "../firmware/gsp_image.ts";
import { parseRiscvBootloader } from "../firmware/riscv_bootloader.ts";
import {
  computeFbLayout,
  computeFbSizes,
  type FbLayout,
  FbLayoutError,
  type FbLayoutInput,
  fbMemoryMap,
  laysOutFb,
  vgaWorkspaceStart,
} from "../gsp/mod.ts";
import { computeFbLayout as simComputeFbLayout } from "../sim/acceptance/fb_layout.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { realFirmwareTest } from "./_real.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// The sizes of the real linux-firmware files (parsed below by a real-firmware
// test that keeps these literals honest): the .fwimage of gsp-<v>.bin and the
// ucode (bin payload) of bootloader-<v>.bin.
const REAL_SIZES = {
  "570.144": {
    tu: { gspImageSize: 28528288, bootloaderSize: 4096 }, // tu10x, tu11x, ga100
    ga10x: { gspImageSize: 63541248, bootloaderSize: 24576 },
    ad10x: { gspImageSize: 63541248, bootloaderSize: 36864 },
  },
  "535.113.01": {
    tu: { gspImageSize: 23737168, bootloaderSize: 4096 },
    ga10x: { gspImageSize: 38043648, bootloaderSize: 20480 },
    ad10x: { gspImageSize: 38043648, bootloaderSize: 32768 },
  },
} as const;

type Version = keyof typeof REAL_SIZES;
const realSizesOf = (family: string, version: Version = "570.144") =>
  REAL_SIZES[version][family === "ga10x" ? "ga10x" : family === "ad10x" ? "ad10x" : "tu"];

const hex = (n: number) => `0x${n.toString(16)}`;

/** The ranges a test states, by name, as [start, end]. */
function assertRanges(layout: FbLayout, expected: Record<string, [number, number]>): void {
  for (const [name, [start, end]] of Object.entries(expected)) {
    const r = layout[name as keyof FbLayout] as { start: number; end: number };
    assert.deepEqual(
      [hex(r.start), hex(r.end)],
      [hex(start), hex(end)],
      `${name}: got ${hex(r.start)}..${hex(r.end)}`,
    );
  }
}

Deno.test("TU102 24 GiB (Titan RTX), 570.144, no display: every region by hand", () => {
  const fb = 24 * GiB; // 0x600000000
  const layout = computeFbLayout({ chip: "tu102", fbSize: fb, ...REAL_SIZES["570.144"].tu });
  // VGA: no display → fb − 1 MiB (PRAMIN) = 0x5fff00000.
  // WPR end = align_down(0x5fff00000, 128 KiB) = 0x5fff00000; FRTS 1 MiB below it.
  // Boot: align_down(0x5ffe00000 − 0x1000, 4 KiB) = 0x5ffdff000.
  // ELF: 0x5ffdff000 − 0x1b34ea0 (28528288) = 0x5fe2ca160 → align_down 64 KiB = 0x5fe2c0000.
  // Heap: LibOS2 → 0 + 8 MiB + align_up(96 KiB × 24 = 2304 KiB, 1 MiB) = 3 MiB + 96 MiB = 107 MiB
  //   (0x6b00000). Cap: 256 − (1 + 1) − align_up(fb − 0x5fe2c0000 = 0x1d40000, 1 MiB) = 256 − 2 − 30
  //   = 224 MiB, not binding. Start align_down(0x5fe2c0000 − 0x6b00000 = 0x5f77c0000, 1 MiB)
  //   = 0x5f7700000; end align_down(0x5fe2c0000, 1 MiB) = 0x5fe200000 (0x6b00000 = 107 MiB).
  // WPR2 start = heap start − 1 MiB (meta slot) = 0x5f7600000; non-WPR heap 1 MiB below.
  assertRanges(layout, {
    fb: [0, 0x600000000],
    vgaWorkspace: [0x5fff00000, 0x600000000],
    frts: [0x5ffe00000, 0x5fff00000],
    boot: [0x5ffdff000, 0x5ffe00000],
    elf: [0x5fe2c0000, 0x5fe2c0000 + 0x1b34ea0],
    wpr2Heap: [0x5f7700000, 0x5fe200000],
    wprMeta: [0x5f7600000, 0x5f7700000],
    wpr2: [0x5f7600000, 0x5fff00000],
    nonWprHeap: [0x5f7500000, 0x5f7600000],
  });
  assert.equal(layout.heap.size, 107 * MiB);
  assert.equal(layout.heap.prescrubbedCap, 224 * MiB);
  assert.equal(layout.heap.rule, "formula");
  assert.equal(layout.wpr2.size, 137 * MiB); // 0x5fff00000 − 0x5f7600000 = 0x8900000
  assert.equal(layout.pmuReservedSize, 0);
  assert.equal(layout.vfPartitionCount, 0);
});

Deno.test("TU102 11 GiB (2080 Ti) with a valid PDISP base inside the last MiB", () => {
  const fb = 11 * GiB; // 0x2c0000000
  // PDISP: STATUS_VALID (bit 3) and ADDR (31:8) = 0x2bffe → 0x2bffe << 16 = 0x2bffe0000, which is
  // above fb − 1 MiB = 0x2bff00000: kept. The WPR end is align_down(0x2bffe0000, 128 KiB) =
  // 0x2bffe0000 (it is 128 KiB aligned), so everything sits 896 KiB higher than without display.
  const layout = computeFbLayout({
    chip: "tu102",
    fbSize: fb,
    vgaWorkspace: { displayPresent: true, pdispVgaWorkspaceBase: (0x2bffe << 8) | 0x8 },
    ...REAL_SIZES["570.144"].tu,
  });
  // Boot: 0x2bfee0000 − 0x1000 = 0x2bfedf000. ELF: 0x2bfedf000 − 0x1b34ea0 = 0x2be3aa160 →
  // 0x2be3a0000. Heap: 8 + align_up(96 KiB × 11 = 1056 KiB) = 2 + 96 = 106 MiB (0x6a00000):
  // start align_down(0x2be3a0000 − 0x6a00000 = 0x2b79a0000) = 0x2b7900000, end 0x2be300000.
  assertRanges(layout, {
    vgaWorkspace: [0x2bffe0000, 0x2c0000000],
    frts: [0x2bfee0000, 0x2bffe0000],
    boot: [0x2bfedf000, 0x2bfee0000],
    elf: [0x2be3a0000, 0x2be3a0000 + 0x1b34ea0],
    wpr2Heap: [0x2b7900000, 0x2be300000],
    wpr2: [0x2b7800000, 0x2bffe0000],
    nonWprHeap: [0x2b7700000, 0x2b7800000],
  });
  assert.equal(layout.heap.size, 106 * MiB);
});

Deno.test("GA102 24 GiB (RTX 3090), 570.144: LibOS3 heap of 129 MiB", () => {
  const layout = computeFbLayout({
    chip: "ga102",
    fbSize: 24 * GiB,
    ...REAL_SIZES["570.144"].ga10x,
  });
  // Boot: 0x5ffe00000 − 0x6000 = 0x5ffdfa000. ELF: 0x5ffdfa000 − 0x3c99000 = 0x5fc161000 →
  // 0x5fc160000. Heap: 22 + 8 + 3 + 96 = 129 MiB (0x8100000); cap 256 − 2 − align_up(0x3ea0000)
  // = 256 − 2 − 63 = 191 MiB, not binding. Start align_down(0x5fc160000 − 0x8100000 =
  // 0x5f4060000) = 0x5f4000000; end 0x5fc100000.
  assertRanges(layout, {
    frts: [0x5ffe00000, 0x5fff00000],
    boot: [0x5ffdfa000, 0x5ffe00000],
    elf: [0x5fc160000, 0x5ffdf9000],
    wpr2Heap: [0x5f4000000, 0x5fc100000],
    wpr2: [0x5f3f00000, 0x5fff00000],
    nonWprHeap: [0x5f3e00000, 0x5f3f00000],
  });
  assert.equal(layout.heap.size, 129 * MiB);
  assert.equal(layout.heap.prescrubbedCap, 191 * MiB);
});

Deno.test("AD102 24 GiB (RTX 4090), 570.144: no pre-scrubbed cap (scrubber ucode)", () => {
  const layout = computeFbLayout({
    chip: "ad102",
    fbSize: 24 * GiB,
    ...REAL_SIZES["570.144"].ad10x,
  });
  // Boot: 0x5ffe00000 − 0x9000 = 0x5ffdf7000. ELF: 0x5ffdf7000 − 0x3c99000 = 0x5fc15e000 →
  // 0x5fc150000. Heap 129 MiB as on GA102: start align_down(0x5f4050000) = 0x5f4000000.
  assertRanges(layout, {
    boot: [0x5ffdf7000, 0x5ffe00000],
    elf: [0x5fc150000, 0x5ffde9000],
    wpr2Heap: [0x5f4000000, 0x5fc100000],
    wpr2: [0x5f3f00000, 0x5fff00000],
    nonWprHeap: [0x5f3e00000, 0x5f3f00000],
  });
  assert.equal(layout.heap.prescrubbedCap, undefined);
});

Deno.test("GA100 40 GiB (A100): no FRTS; the MMU lock clips the WPR end", () => {
  const fb = 40 * GiB; // 0xa00000000
  const plain = computeFbLayout({ chip: "ga100", fbSize: fb, ...REAL_SIZES["570.144"].tu });
  // No FRTS: boot sits right under the WPR end 0x9fff00000: 0x9ffeff000.
  // ELF 0x9ffeff000 − 0x1b34ea0 = 0x9fe3ca160 → 0x9fe3c0000. Heap 8 + align_up(3840 KiB) = 4 +
  // 96 = 108 MiB (0x6c00000), no cap on GA100: start align_down(0x9f77c0000) = 0x9f7700000.
  assertRanges(plain, {
    frts: [0x9fff00000, 0x9fff00000],
    boot: [0x9ffeff000, 0x9fff00000],
    elf: [0x9fe3c0000, 0x9fe3c0000 + 0x1b34ea0],
    wpr2Heap: [0x9f7700000, 0x9fe300000],
    wpr2: [0x9f7600000, 0x9fff00000],
  });
  assert.equal(plain.heap.prescrubbedCap, undefined);

  // A lock starting 0x9fc3f1000 (4 KiB granular, not 128 KiB aligned): NVIDIA takes
  // min(lock, VGA) = 0x9fc3f1000, then align_down 128 KiB = 0x9fc3e0000.
  const locked = computeFbLayout({
    chip: "ga100",
    fbSize: fb,
    mmuLock: { start: 0x9fc3f1000, end: 0xa00000000 },
    ...REAL_SIZES["570.144"].tu,
  });
  assert.equal(locked.wpr2.end, 0x9fc3e0000);
  assert.deepEqual(locked.mmuLocked, { start: 0x9fc3f1000, end: 0x9fff00000, size: 0x3b0f000 });
  // An invalid lock (end below start) is ignored, as memmgrReadMmuLock_GA100 says.
  const invalid = computeFbLayout({
    chip: "ga100",
    fbSize: fb,
    mmuLock: { start: 0x9fc3f1000, end: 0x1000 },
    ...REAL_SIZES["570.144"].tu,
  });
  assert.equal(invalid.wpr2.end, plain.wpr2.end);
});

Deno.test("VGA workspace rules", () => {
  const fb = 8 * GiB;
  const at = (raw: number, displayPresent = true) =>
    vgaWorkspaceStart(fb, { displayPresent, pdispVgaWorkspaceBase: raw });
  const valid = (address: number) => ((address / 0x10000) << 8) | 0x8;
  assert.equal(vgaWorkspaceStart(fb), fb - MiB);
  assert.equal(at(valid(fb - 0x40000), false), fb - MiB); // no display: the register is not read
  assert.equal(at(valid(fb - 0x40000) & ~0x8), fb - MiB); // STATUS not valid
  assert.equal(at(valid(fb - 0x40000)), fb - 0x40000); // inside the last MiB: kept
  assert.equal(at(valid(fb - MiB)), fb - MiB); // exactly fb − 1 MiB: kept
  assert.equal(at(valid(fb - MiB - 0x10000)), fb - 128 * KiB); // below: the last 128 KiB
  assert.throws(() => at(valid(fb)), FbLayoutError); // at the end of VRAM
  assert.throws(() => at(-1), /32-bit/);
  assert.throws(() => at(2 ** 32), /32-bit/);
});

Deno.test("a VGA base that is not 128 KiB aligned moves the WPR end down to 128 KiB", () => {
  const fb = 16 * GiB;
  const layout = computeFbLayout({
    chip: "tu104",
    fbSize: fb,
    vgaWorkspace: {
      displayPresent: true,
      pdispVgaWorkspaceBase: ((fb - 0x30000) / 0x10000) << 8 | 8,
    },
    ...REAL_SIZES["570.144"].tu,
  });
  assert.equal(layout.vgaWorkspace.start, fb - 0x30000);
  assert.equal(layout.wpr2.end, fb - 0x40000); // align_down(fb − 192 KiB, 128 KiB)
  assert.equal(fbMemoryMap(layout).find((r) => r.kind === "padding" && !r.inWpr2)?.size, 0x10000);
});

// Every SEC2-path chip, both firmware versions, VRAM from 4 to 96 GiB and some odd sizes.
const FB_SIZES = [4, 6, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 80, 96].map((g) => g * GiB)
  .concat([10560 * MiB, 7 * GiB + 4 * KiB, 3 * GiB + 768 * MiB]);

Deno.test("invariants: ordered, aligned, inside VRAM, WPR2 below the VGA workspace", () => {
  let checked = 0;
  for (const chip of CHIPS.filter((c) => laysOutFb(c))) {
    for (const version of Object.keys(REAL_SIZES) as Version[]) {
      for (const fbSize of FB_SIZES) {
        const l = computeFbLayout({ chip, fbSize, ...realSizesOf(chip.family, version) });
        const ctx = `${chip.name} ${version} ${hex(fbSize)}`;
        assert(l.nonWprHeap.start >= 0, ctx);
        assert.equal(l.nonWprHeap.end, l.wpr2.start, ctx);
        assert.equal(l.wprMeta.start, l.wpr2.start, ctx);
        assert.equal(l.wprMeta.size, MiB, ctx);
        assert.equal(l.wprMeta.end, l.wpr2Heap.start, ctx);
        assert(l.wpr2Heap.end <= l.elf.start && l.elf.start - l.wpr2Heap.end < MiB, ctx);
        assert(l.elf.end <= l.boot.start && l.boot.start - l.elf.end < 64 * KiB, ctx);
        assert(l.boot.end <= l.frts.start && l.frts.start - l.boot.end < 4 * KiB, ctx);
        assert.equal(l.frts.end, l.wpr2.end, ctx);
        assert(l.wpr2.end <= l.vgaWorkspace.start && l.vgaWorkspace.end === fbSize, ctx);
        assert.equal(l.frts.size, FAMILIES[chip.family].frtsSize, ctx);
        assert.equal(l.nonWprHeap.size, MiB, ctx);
        assert.equal(l.wpr2Heap.start % MiB, 0, ctx);
        assert.equal(l.wpr2Heap.end % MiB, 0, ctx);
        assert.equal(l.wpr2.start % MiB, 0, ctx);
        assert.equal(l.wpr2.end % (128 * KiB), 0, ctx);
        assert.equal(l.elf.start % (64 * KiB), 0, ctx);
        assert.equal(l.boot.start % (4 * KiB), 0, ctx);
        assert(l.wpr2Heap.size >= l.heap.size - MiB && l.wpr2Heap.size <= l.heap.size, ctx);
        // Everything the firmware needs before GSP-RM scrubs lies in the top 256 MiB.
        if (l.heap.prescrubbedCap !== undefined) assert(fbSize - l.nonWprHeap.start <= 256 * MiB);
        const map = fbMemoryMap(l);
        assert.equal(map[0].start, 0, ctx);
        assert.equal(map.at(-1)!.end, fbSize, ctx);
        for (let i = 1; i < map.length; i++) assert.equal(map[i].start, map[i - 1].end, ctx);
        assert(map.every((r) => r.size > 0 && r.size === r.end - r.start), ctx);
        checked++;
      }
    }
  }
  assert.equal(checked, 16 * 2 * FB_SIZES.length);
});

Deno.test("typed errors for impossible inputs", () => {
  const base: FbLayoutInput = { chip: "tu102", fbSize: 8 * GiB, ...REAL_SIZES["570.144"].tu };
  const failure = (patch: Partial<FbLayoutInput>) => {
    try {
      computeFbLayout({ ...base, ...patch });
    } catch (e) {
      return e;
    }
    assert.fail(`no error for ${JSON.stringify(patch)}`);
  };
  const field = (patch: Partial<FbLayoutInput>) => {
    const e = failure(patch);
    assert(e instanceof FbLayoutError, String(e));
    return e.field;
  };
  assert.equal(field({ fbSize: 0 }), "fbSize");
  assert.equal(field({ fbSize: 8 * GiB + 1 }), "fbSize"); // not a whole 4 KiB page
  assert.equal(field({ fbSize: 1.5 }), "fbSize");
  assert.equal(field({ fbSize: 2 ** 60 }), "fbSize"); // not a safe integer
  assert.equal(field({ gspImageSize: 0 }), "gspImageSize");
  assert.equal(field({ bootloaderSize: -4096 }), "bootloaderSize");
  assert.equal(field({ fbSize: 16 * MiB }), "fbSize"); // smaller than the image
  assert.equal(field({ fbSize: 64 * MiB }), "fbSize"); // the image fits, the heap does not
  assert.match((failure({ fbSize: 64 * MiB }) as Error).message, /too small/);
  assert.equal(field({ mmuLock: { start: 0, end: 8 * GiB } }), "mmuLock.start"); // not GA100
  assert.equal(field({ vfPartitionCount: 300 }), "vfPartitionCount");
  // An image too large for the 256 MiB the firmware pre-scrubs on Turing.
  assert.equal(field({ gspImageSize: 254 * MiB }), "gspImageSize");
  // Not FbLayoutErrors: an unknown chip, a chip on the FSP path.
  const unknown = failure({ chip: "nv50" });
  assert(unknown instanceof FalconryError && /unknown chip/.test(unknown.message));
  const fsp = failure({ chip: "gh100" });
  assert(fsp instanceof FalconryError && /FSP/.test(fsp.message));
});

Deno.test("smallest VRAM that holds the TU117 layout (570.144)", () => {
  // Above the ELF: 1 (VGA) + 1 (FRTS) + boot and image aligned → the ELF starts 30 MiB − 0x40000
  // below the top (see the 24 GiB case: 0x600000000 − 0x5fe2c0000 = 0x1d40000). Below it: the
  // heap (≥ 105 MiB for 1 GiB of VRAM), the meta slot and the non-WPR heap.
  const ok = computeFbLayout({ chip: "tu117", fbSize: 256 * MiB, ...REAL_SIZES["570.144"].tu });
  assert(ok.nonWprHeap.start > 0);
  // 136 MiB: VGA 135, FRTS 134..135, boot 134 MiB − 4 KiB, ELF align_down(134 MiB − 4 KiB −
  // 27.21 MiB, 64 KiB) = 106.75 MiB; heap 8 + 1 + 96 = 105 MiB → start align_down(1.75 MiB) =
  // 1 MiB, WPR2 start 0, non-WPR heap start −1 MiB: too small. 137 MiB shifts all by 1 MiB: fits,
  // with the non-WPR heap at 0.
  assert.throws(
    () => computeFbLayout({ chip: "tu117", fbSize: 136 * MiB, ...REAL_SIZES["570.144"].tu }),
    /too small/,
  );
  const fits = computeFbLayout({ chip: "tu117", fbSize: 137 * MiB, ...REAL_SIZES["570.144"].tu });
  assert.equal(fits.nonWprHeap.start, 0);
});

Deno.test("vGPU: a fixed 581 MiB heap and the VF count; a heap override is clamped", () => {
  const vgpu = computeFbLayout({
    chip: "ad102",
    fbSize: 48 * GiB,
    vfPartitionCount: 32,
    ...REAL_SIZES["570.144"].ad10x,
  });
  assert.equal(vgpu.heap.rule, "vgpu");
  assert.equal(vgpu.wpr2Heap.size, 581 * MiB);
  assert.equal(vgpu.vfPartitionCount, 32);
  const big = computeFbLayout({
    chip: "ga102",
    fbSize: 24 * GiB,
    heapSizeOverrideMiB: 1000,
    ...REAL_SIZES["570.144"].ga10x,
  });
  // Override clamped to min(280 MiB, the pre-scrubbed cap of 191 MiB).
  assert.equal(big.heap.rule, "override");
  assert.equal(big.wpr2Heap.size, 191 * MiB);
});

Deno.test("FSP path sizes (GH100, GB100, GB202)", () => {
  const gh100 = computeFbSizes({ chip: "gh100", fbSize: 80 * GiB });
  // 22 + 14 + align_up(96 KiB × 80 = 7680 KiB) = 8 + 96 = 140 MiB.
  assert.equal(gh100.wpr2HeapSize, 140 * MiB);
  assert.equal(gh100.nonWprHeapSize, 2 * MiB);
  assert.equal(gh100.frtsSize, MiB);
  assert.equal(gh100.pmuReservedSize, 0);
  assert.equal(gh100.vgaWorkspaceSize, 128 * KiB);
  const gb100 = computeFbSizes({ chip: "gb100", fbSize: 192 * GiB });
  // 22 + 14 + align_up(96 KiB × 192 = 18 MiB) + 96 = 150 MiB: no maximum, no cap on this path.
  assert.equal(gb100.wpr2HeapSize, 150 * MiB);
  assert.equal(gb100.pmuReservedSize, 0x1820000); // align_up(24 MiB + 4 KiB, 128 KiB)
  const gb202 = computeFbSizes({ chip: "gb202", fbSize: 32 * GiB });
  assert.equal(gb202.nonWprHeapSize, 2 * MiB + 128 * KiB);
  assert.equal(gb202.wpr2HeapSize, (22 + 14 + 3 + 96) * MiB);
});

// The simulator's layout code was written separately from the same reference;
// the two must agree on every real configuration. Where the pre-scrubbed cap or
// an unaligned MMU lock come into play they may not: see the next test.
function simLayout(
  input: FbLayoutInput & { chip: string },
  vgaRegister = 0,
  mmuLockStart?: number,
) {
  const chip = CHIPS.find((c) => c.name === input.chip)!;
  return simComputeFbLayout({
    chipset: chip.chipsetId,
    fbSize: input.fbSize,
    displayFuse: input.vgaWorkspace?.displayPresent ? 0 : 1,
    vgaWorkspaceRegister: vgaRegister,
    bootloaderSize: input.bootloaderSize,
    gspImageSize: input.gspImageSize,
    ...(mmuLockStart !== undefined ? { mmuLockStart } : {}),
  });
}

function compareWithSim(input: FbLayoutInput & { chip: string }, vgaRegister = 0): string[] {
  const mine = computeFbLayout(input);
  const sim = simLayout(input, vgaRegister, input.mmuLock?.start);
  const pairs: [string, { start: number; end: number }, { start: number; end: number }][] = [
    ["vga", mine.vgaWorkspace, sim.vga],
    ["frts", mine.frts, sim.frts],
    ["boot", mine.boot, sim.boot],
    ["elf", mine.elf, sim.elf],
    ["wpr2Heap", mine.wpr2Heap, sim.wpr2Heap],
    ["wpr2", mine.wpr2, sim.wpr2],
    ["nonWprHeap", mine.nonWprHeap, sim.nonWprHeap],
  ];
  const diffs = pairs.filter(([, a, b]) => a.start !== b.start || a.end !== b.end)
    .map(([n, a, b]) =>
      `${n}: driver ${hex(a.start)}..${hex(a.end)}, sim ${hex(b.start)}..${hex(b.end)}`
    );
  if (mine.heap.size !== sim.heapSize) {
    diffs.push(`heap: driver ${mine.heap.size / MiB} MiB, sim ${sim.heapSize / MiB} MiB`);
  }
  if (mine.wpr2.end !== sim.wprEnd) {
    diffs.push(`wprEnd: ${hex(mine.wpr2.end)} vs ${hex(sim.wprEnd)}`);
  }
  return diffs;
}

Deno.test("cross-check with sim/acceptance/fb_layout.ts: every chip, both versions, VGA cases", () => {
  let compared = 0;
  for (const chip of CHIPS.filter((c) => laysOutFb(c))) {
    for (const version of Object.keys(REAL_SIZES) as Version[]) {
      for (const fbSize of FB_SIZES) {
        const vgaCases: [VgaCase, number][] = [
          [undefined, 0],
          [{ displayPresent: true, pdispVgaWorkspaceBase: 0 }, 0],
          [{ displayPresent: true, pdispVgaWorkspaceBase: 0x108 }, 0x108],
          [vgaAt(fbSize - 0x30000), vgaAt(fbSize - 0x30000).pdispVgaWorkspaceBase],
          [vgaAt(fbSize - MiB), vgaAt(fbSize - MiB).pdispVgaWorkspaceBase],
        ];
        for (const [vgaWorkspace, raw] of vgaCases) {
          const input = {
            chip: chip.name,
            fbSize,
            ...(vgaWorkspace ? { vgaWorkspace } : {}),
            ...realSizesOf(chip.family, version),
          };
          assert.deepEqual(
            compareWithSim(input, raw),
            [],
            `${chip.name} ${version} ${hex(fbSize)}`,
          );
          compared++;
        }
      }
    }
  }
  assert.equal(compared, 16 * 2 * FB_SIZES.length * 5);
});

type VgaCase = { displayPresent: boolean; pdispVgaWorkspaceBase: number } | undefined;
const vgaAt = (address: number) => ({
  displayPresent: true,
  pdispVgaWorkspaceBase: ((address / 0x10000) << 8) | 0x8,
});

Deno.test("cross-check: an unaligned MMU lock and the pre-scrubbed cap agree too", () => {
  // 1. GA100's MMU lock at an address that is not 128 KiB aligned. NVIDIA
  //    (kgspCalculateFbLayout_TU102, 570.144): vbiosReservedOffset = min(mmuLockLo,
  //    vgaWorkspaceOffset), then gspFwWprEnd = NV_ALIGN_DOWN64(vbiosReservedOffset, 0x20000).
  //    Both sides take the minimum first, then align.
  for (const start of [0x9fc3f1000, 0x9fc3e0000]) {
    assert.deepEqual(
      compareWithSim({
        chip: "ga100",
        fbSize: 40 * GiB,
        mmuLock: { start, end: 40 * GiB },
        ...REAL_SIZES["570.144"].tu,
      }),
      [],
      hex(start),
    );
  }
  const sim = simLayout(
    { chip: "ga100", fbSize: 40 * GiB, ...REAL_SIZES["570.144"].tu },
    0,
    0x9fc3f1000,
  );
  assert.equal(sim.wprEnd, 0x9fc3e0000);

  // 2. The pre-scrubbed cap, which binds only with an image far larger than the real ones
  //    (here 150 MB on GA102). NVIDIA (kgspGetFwHeapSize_IMPL, 570.144): cap = (256 MiB −
  //    (anterior + posterior)) >> 20 MiB, anterior = 1 MiB meta slot + 1 MiB non-WPR heap,
  //    posterior = align_up(fb − gspFwOffset, 1 MiB).
  const big = {
    chip: "ga102",
    fbSize: 24 * GiB,
    gspImageSize: 150 * MiB + 12345,
    bootloaderSize: 24576,
  };
  assert.deepEqual(compareWithSim(big), []);
  const mine = computeFbLayout(big);
  assert.equal(mine.heap.rule, "prescrubbed-cap");
  assert(24 * GiB - mine.nonWprHeap.start <= 256 * MiB);
  assert(24 * GiB - simLayout(big).nonWprHeap.start <= 256 * MiB);
});

// Only the headers: the images are 28–63 MB.
function gspImageSizeOf(path: string): number {
  using source = fileSource(path);
  return parseGspImage(source, path).imageSize;
}

realFirmwareTest(
  "the real firmware has the sizes these tests assume (570.144 and 535.113.01)",
  [
    "nvidia/tu102/gsp/gsp-570.144.bin",
    "nvidia/tu102/gsp/bootloader-570.144.bin",
    "nvidia/ga102/gsp/bootloader-570.144.bin",
    "nvidia/ad102/gsp/bootloader-570.144.bin",
    "nvidia/ga102/gsp/gsp-570.144.bin",
    "nvidia/tu102/gsp/gsp-535.113.01.bin",
    "nvidia/tu102/gsp/bootloader-535.113.01.bin",
    "nvidia/ga102/gsp/bootloader-535.113.01.bin",
    "nvidia/ad102/gsp/bootloader-535.113.01.bin",
    "nvidia/ga102/gsp/gsp-535.113.01.bin",
  ],
  async (paths) => {
    const image = (p: string) => gspImageSizeOf(p);
    const ucode = async (p: string) => parseRiscvBootloader(await Deno.readFile(p)).ucode.length;
    const [tuGsp, tuBl, gaBl, adBl, gaGsp, tuGspOld, tuBlOld, gaBlOld, adBlOld, gaGspOld] = paths;
    assert.deepEqual(
      {
        "570.144": {
          tu: { gspImageSize: await image(tuGsp), bootloaderSize: await ucode(tuBl) },
          ga10x: { gspImageSize: await image(gaGsp), bootloaderSize: await ucode(gaBl) },
          ad10x: { gspImageSize: await image(gaGsp), bootloaderSize: await ucode(adBl) },
        },
        "535.113.01": {
          tu: { gspImageSize: await image(tuGspOld), bootloaderSize: await ucode(tuBlOld) },
          ga10x: { gspImageSize: await image(gaGspOld), bootloaderSize: await ucode(gaBlOld) },
          ad10x: { gspImageSize: await image(gaGspOld), bootloaderSize: await ucode(adBlOld) },
        },
      },
      REAL_SIZES,
    );
  },
);

realFirmwareTest(
  "every SEC2-path chip's own real files lay out and match the simulator",
  CHIPS.filter((c) => laysOutFb(c)).flatMap((c) => [
    `nvidia/${c.name}/gsp/gsp-570.144.bin`,
    `nvidia/${c.name}/gsp/bootloader-570.144.bin`,
  ]),
  async (paths) => {
    const chips = CHIPS.filter((c) => laysOutFb(c));
    for (const [i, chip] of chips.entries()) {
      const gspImageSize = gspImageSizeOf(paths[2 * i]);
      const bootloaderSize = parseRiscvBootloader(await Deno.readFile(paths[2 * i + 1])).ucode
        .length;
      for (const fbSize of FB_SIZES) {
        const input = { chip: chip.name, fbSize, gspImageSize, bootloaderSize };
        assert.deepEqual(compareWithSim(input), [], `${chip.name} ${hex(fbSize)}`);
      }
    }
  },
);
