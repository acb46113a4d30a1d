// WPR2 heap sizing (gsp/wpr_heap.ts): the reference's worked examples, the
// per-GiB rounding, the pre-scrubbed cap, overrides and vGPU, and agreement
// with nova-core's clamp rule on every real VRAM size.

import assert from "node:assert/strict";
import { CHIPS } from "../chips/chips.ts";
import { FB_LAYOUT_PARAMS, FbLayoutError, wprHeapSize } from "../gsp/mod.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

Deno.test("the reference's worked examples (§3.5)", () => {
  // TU102 8 GiB: 0 + 8 + align_up(768 KiB) = 1 + 96 = 105 MiB.
  assert.equal(wprHeapSize({ chip: "tu102", fbSize: 8 * GiB }).size, 105 * MiB);
  // GA102 24 GiB: 22 + 8 + align_up(2304 KiB) = 3 + 96 = 129 MiB.
  assert.equal(wprHeapSize({ chip: "ga102", fbSize: 24 * GiB }).size, 129 * MiB);
  // GH100 80 GiB: 22 + 14 + align_up(7680 KiB) = 8 + 96 = 140 MiB.
  assert.equal(wprHeapSize({ chip: "gh100", fbSize: 80 * GiB }).size, 140 * MiB);
});

Deno.test("base RM size and carve-out per architecture", () => {
  // The same 16 GiB (96 KiB × 16 = 1.5 MiB → 2 MiB) on each family.
  const expected: Record<string, number> = {
    tu10x: 0 + 8 + 2 + 96,
    tu11x: 0 + 8 + 2 + 96,
    ga100: 0 + 8 + 2 + 96,
    ga10x: 22 + 8 + 2 + 96,
    ad10x: 22 + 8 + 2 + 96,
    gh100: 22 + 14 + 2 + 96,
    gb10x: 22 + 14 + 2 + 96,
    gb20x: 22 + 14 + 2 + 96,
  };
  for (const chip of CHIPS) {
    const heap = wprHeapSize({ chip, fbSize: 16 * GiB });
    assert.equal(heap.size, expected[chip.family] * MiB, chip.name);
    assert.equal(heap.rule, "formula");
  }
});

Deno.test("VRAM counts in whole GiB, rounded up; the per-GiB term in whole MiB, rounded up", () => {
  const heap = (fbSize: number) => wprHeapSize({ chip: "tu102", fbSize }).size / MiB;
  assert.equal(heap(10 * GiB), 105); // 960 KiB → 1 MiB
  assert.equal(heap(10 * GiB + 4 * KiB), 106); // 11 GiB → 1056 KiB → 2 MiB
  assert.equal(heap(11 * GiB), 106);
  assert.equal(heap(21 * GiB), 106); // 2016 KiB → 2 MiB
  assert.equal(heap(22 * GiB), 107); // 2112 KiB → 3 MiB
  assert.equal(wprHeapSize({ chip: "tu102", fbSize: 22 * GiB }).fbSizeGiB, 22);
});

Deno.test("the pre-scrubbed cap: TU10x, TU11x and GA10x only, in whole MiB", () => {
  const prescrubbed = { below: 2 * MiB, above: 160 * MiB };
  // 256 − 2 − 160 = 94 MiB < 105 MiB on TU102.
  const tu = wprHeapSize({ chip: "tu102", fbSize: 8 * GiB, prescrubbed });
  assert.deepEqual([tu.size / MiB, tu.rule, tu.prescrubbedCap! / MiB], [94, "prescrubbed-cap", 94]);
  // Below the minimum (64 MiB) too: the cap wins, as NVIDIA applies it last.
  const tight = wprHeapSize({
    chip: "tu116",
    fbSize: 8 * GiB,
    prescrubbed: { below: 2 * MiB, above: 200 * MiB },
  });
  assert.equal(tight.size, 54 * MiB);
  // A cap that is not a whole MiB is floored (`>> 20`).
  const odd = wprHeapSize({
    chip: "ga104",
    fbSize: 8 * GiB,
    prescrubbed: { below: 2 * MiB, above: 160 * MiB + 4 * KiB },
  });
  assert.equal(odd.size, 93 * MiB);
  for (const chip of ["ga100", "ad102", "gh100", "gb202"]) {
    const heap = wprHeapSize({ chip, fbSize: 8 * GiB, prescrubbed });
    assert.equal(heap.prescrubbedCap, undefined, chip);
    assert.equal(heap.rule, "formula", chip);
  }
  assert.throws(
    () =>
      wprHeapSize({
        chip: "tu102",
        fbSize: 8 * GiB,
        prescrubbed: { below: 2 * MiB, above: 254 * MiB },
      }),
    FbLayoutError,
  );
});

Deno.test("overrides are clamped to [minimum, min(maximum, cap)]; vGPU is 581 MiB", () => {
  const override = (chip: string, overrideMiB: number) =>
    wprHeapSize({ chip, fbSize: 8 * GiB, overrideMiB }).size / MiB;
  assert.equal(override("tu102", 10), 64);
  assert.equal(override("tu102", 200), 200);
  assert.equal(override("tu102", 300), 256);
  assert.equal(override("ga102", 10), 88);
  assert.equal(override("ga102", 300), 280);
  const capped = wprHeapSize({
    chip: "ga102",
    fbSize: 8 * GiB,
    overrideMiB: 250,
    prescrubbed: { below: 2 * MiB, above: 70 * MiB },
  });
  assert.equal(capped.size, 184 * MiB);
  assert.throws(() => wprHeapSize({ chip: "tu102", fbSize: GiB, overrideMiB: 0 }), FbLayoutError);
  const vgpu = wprHeapSize({ chip: "ad102", fbSize: 48 * GiB, vgpu: true });
  assert.deepEqual([vgpu.size, vgpu.rule], [581 * MiB, "vgpu"]);
});

Deno.test("same heap as nova-core's clamp(formula, min, max − 1) from 1 to 192 GiB", () => {
  for (const chip of CHIPS) {
    const params = FB_LAYOUT_PARAMS[chip.family];
    for (let gib = 1; gib <= 192; gib++) {
      const fbSize = gib * GiB;
      const formula = params.heapOsCarveoutSize + params.heapBaseRmSize +
        Math.ceil(96 * KiB * gib / MiB) * MiB + 96 * MiB;
      const novaCore = Math.min(Math.max(formula, params.heapMinSize), params.heapMaxSize - 1);
      assert.equal(wprHeapSize({ chip, fbSize }).size, novaCore, `${chip.name} ${gib} GiB`);
    }
  }
});

Deno.test("bad VRAM sizes", () => {
  for (const fbSize of [0, -GiB, 1.5, NaN, 2 ** 53]) {
    assert.throws(() => wprHeapSize({ chip: "tu102", fbSize }), FbLayoutError, String(fbSize));
  }
});
