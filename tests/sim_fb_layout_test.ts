import assert from "node:assert/strict";
import { computeFbLayout, vgaWorkspaceBase, wprHeapSize } from "../sim/acceptance/fb_layout.ts";
import { driverLayout } from "./_sim_driver.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

Deno.test("heap sizes of the reference's worked examples (§3.5)", () => {
  const farElf = (fb: number) => fb - 40 * MiB;
  assert.equal(wprHeapSize(0x162, 8 * GiB, farElf(8 * GiB)), 105 * MiB);
  assert.equal(wprHeapSize(0x172, 24 * GiB, farElf(24 * GiB)), 129 * MiB);
  // 96 KiB per started GiB, rounded up to MiB: 48 GiB adds 5 MiB over 8 GiB's 1 MiB.
  assert.equal(wprHeapSize(0x192, 48 * GiB, farElf(48 * GiB)), (22 + 8 + 96 + 5) * MiB);
});

Deno.test("NVIDIA's pre-scrubbed cap: the heap shrinks when the image sits low (TU10x, GA10x only)", () => {
  const fb = 24 * GiB;
  // 200 MiB above the image, plus the 1 MiB meta slot and the 1 MiB non-WPR heap below the
  // heap (NVIDIA kgspGetFwHeapSize_IMPL): at most 256 − 202 = 54 MiB of heap.
  const elfStart = fb - 200 * MiB;
  assert.equal(wprHeapSize(0x172, fb, elfStart), 54 * MiB);
  assert.equal(wprHeapSize(0x162, fb, elfStart), 54 * MiB);
  // The part above the image counts in whole MiB, rounded up: 200.5 MiB leaves 53 MiB.
  assert.equal(wprHeapSize(0x172, fb, elfStart - MiB / 2), 53 * MiB);
  assert.equal(wprHeapSize(0x192, fb, elfStart), 129 * MiB); // Ada runs the scrubber: no cap
  assert.equal(wprHeapSize(0x170, fb, elfStart), 107 * MiB); // GA100: no cap (LibOS2: 8 + 96 + 3)
});

Deno.test("VGA workspace base: display fuse and PDISP register (§3.5)", () => {
  const fb = 16 * GiB;
  const reg = (addr: number) => ((addr / 65536) << 8) | 0x8;
  assert.equal(vgaWorkspaceBase(fb, 1, reg(fb - 0x40000)), fb - MiB); // no display: ignored
  assert.equal(vgaWorkspaceBase(fb, 0, reg(fb - 0x40000)), fb - 0x40000);
  assert.equal(vgaWorkspaceBase(fb, 0, reg(fb - 0x40000) & ~0x8), fb - MiB); // not valid
  assert.equal(vgaWorkspaceBase(fb, 0, reg(fb - 8 * MiB)), fb - 0x20000); // below: last 128 KiB
});

for (
  const [chipset, fbSize, imageSize, bootloaderSize] of [
    [0x162, 11 * GiB, 28_542_040, 4096],
    [0x172, 24 * GiB, 63_000_000, 24_576],
    [0x192, 24 * GiB, 63_000_000, 36_864],
    [0x170, 40 * GiB, 28_542_040, 4096],
  ] as const
) {
  Deno.test(`layout of chipset 0x${chipset.toString(16)} matches the hand-computed driver layout`, () => {
    const sim = computeFbLayout({
      chipset,
      fbSize,
      displayFuse: 1,
      vgaWorkspaceRegister: 0,
      bootloaderSize,
      gspImageSize: imageSize,
    });
    const drv = driverLayout({ chipset, fbSize, bootloaderSize, imageSize });
    assert.equal(sim.frts.start, drv.frtsStart);
    assert.equal(sim.frts.end - sim.frts.start, chipset === 0x170 ? 0 : MiB);
    assert.equal(sim.boot.start, drv.bootStart);
    assert.equal(sim.elf.start, drv.elfStart);
    assert.equal(sim.wpr2Heap.start, drv.heapStart);
    assert.equal(sim.wpr2.start, drv.wpr2Start);
    assert.equal(sim.nonWprHeap.start, drv.nonWprStart);
    assert.equal(sim.wprEnd, drv.wprEnd);
    assert.equal(sim.wpr2.end, sim.frts.end);
  });
}

Deno.test("GA100: WPR end clipped to the MMU lock address (§13)", () => {
  const fb = 40 * GiB;
  const base = { chipset: 0x170, fbSize: fb, displayFuse: 1, vgaWorkspaceRegister: 0 };
  const sizes = { bootloaderSize: 4096, gspImageSize: 28_542_040 };
  const free = computeFbLayout({ ...base, ...sizes });
  const locked = computeFbLayout({ ...base, ...sizes, mmuLockStart: fb - 64 * MiB });
  assert.equal(free.wprEnd, fb - MiB);
  assert.equal(locked.wprEnd, fb - 64 * MiB);
  assert.equal(locked.boot.end <= locked.wprEnd, true);
  // The clip applies to GA100 only.
  const ga102 = computeFbLayout({ ...base, ...sizes, chipset: 0x172, mmuLockStart: fb - 64 * MiB });
  assert.equal(ga102.wprEnd, fb - MiB);
});
