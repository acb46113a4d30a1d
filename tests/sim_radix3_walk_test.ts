import assert from "node:assert/strict";
import { imageSha256, radix3Shape, walkRadix3 } from "../sim/acceptance/radix3_walk.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { faultingDmaView } from "../sim/dma.ts";
import { FaultInjector } from "../sim/faults.ts";
import { gspFirmwareForChip } from "../sim/acceptance/gsp_firmware.ts";
import { IOVA, mapRadix3 } from "./_sim_driver.ts";
import { realFirmwareTest } from "./_real.ts";

function image(size: number, seed = 7): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

Deno.test("radix3 shape: one level-2 page per 512 image pages", () => {
  assert.deepEqual(radix3Shape(512 * 4096), { imagePages: 512, level2Pages: 1, level1Pages: 1 });
  assert.deepEqual(radix3Shape(512 * 4096 + 1), {
    imagePages: 513,
    level2Pages: 2,
    level1Pages: 1,
  });
});

Deno.test("a hand-built radix3 over a non-page-multiple image maps exactly its bytes", () => {
  const img = image(3 * 512 * 4096 + 0xea0);
  const memory = new SystemMemory();
  const { level0, mappings } = mapRadix3(memory, img);
  const v = walkRadix3(memory, level0, img.length, { bytes: img });
  assert(v.ok, v.ok ? "" : v.reason);
  assert.equal(v.imagePages, 3 * 512 + 1);
  // Level 0, 1 level-1 page, 4 level-2 pages, and the image itself.
  assert.equal(v.bytesRead, 6 * 4096 + img.length);
  mappings.forEach((m) => m[Symbol.dispose]());
});

Deno.test("radix3 off by one page is refused and names page 0", () => {
  const img = image(40 * 4096);
  const memory = new SystemMemory();
  const { level0 } = mapRadix3(memory, img, 1);
  const v = walkRadix3(memory, level0, img.length, { bytes: img });
  assert(!v.ok && v.rule === "radix3" && v.mbox0 === HS_ERROR.radix3);
  assert.equal(v.detail?.page, 0);
});

Deno.test("a single wrong page is named", () => {
  const img = image(40 * 4096);
  const memory = new SystemMemory();
  const { level0 } = mapRadix3(memory, img);
  memory.write(IOVA.image + 17n * 4096n + 5n, new Uint8Array([img[17 * 4096 + 5] ^ 1]));
  const v = walkRadix3(memory, level0, img.length, { bytes: img });
  assert(!v.ok && v.detail?.page === 17);
});

Deno.test("one changed byte anywhere is caught: DMA side, last partial page, expected side", () => {
  const img = image(5 * 4096 + 100);
  for (const at of [0, 2 * 4096 + 4095, img.length - 1]) {
    const memory = new SystemMemory();
    const { level0 } = mapRadix3(memory, img);
    const iova = IOVA.image + BigInt(at);
    memory.write(iova, new Uint8Array([memory.read(iova, 1)[0] ^ 0x80]));
    const v = walkRadix3(memory, level0, img.length, { bytes: img });
    assert(!v.ok && v.rule === "radix3", `byte ${at} not caught`);
    assert.equal(v.detail?.page, Math.floor(at / 4096));
  }
  // The simulator's own copy changed after it was set up: the walk compares the bytes themselves.
  const memory = new SystemMemory();
  const { level0 } = mapRadix3(memory, img);
  const changed = img.slice();
  changed[3 * 4096 + 7] ^= 1;
  const v = walkRadix3(memory, level0, img.length, { bytes: changed, sha256: imageSha256(img) });
  assert(!v.ok && v.detail?.page === 3);
  assert(walkRadix3(memory, level0, img.length, { bytes: img }).ok);
});

Deno.test("bytes past the image's size in its last page are not read, so not compared", () => {
  const img = image(2 * 4096 + 10);
  const memory = new SystemMemory();
  const { level0 } = mapRadix3(memory, img);
  memory.write(IOVA.image + BigInt(img.length), new Uint8Array([0xff, 0xee]));
  const v = walkRadix3(memory, level0, img.length, { bytes: img });
  assert(v.ok, v.ok ? "" : v.reason);
  assert.equal(v.bytesRead, 3 * 4096 + img.length);
});

Deno.test("an armed dma-fault on an image page stops the walk although the page is mapped", () => {
  const img = image(8 * 4096);
  const memory = new SystemMemory();
  const { level0 } = mapRadix3(memory, img);
  const faults = new FaultInjector();
  faults.arm("dma-fault", { iova: IOVA.image + 5n * 4096n + 12n });
  const v = walkRadix3(faultingDmaView(memory, faults), level0, img.length, { bytes: img });
  assert(!v.ok && v.rule === "dmaFault" && v.detail?.iova === IOVA.image + 5n * 4096n);
  assert(walkRadix3(faultingDmaView(memory, faults), level0, img.length, { bytes: img }).ok);
});

Deno.test("the wrong size and a set level-0 entry beyond the tables are refused", () => {
  const img = image(8 * 4096);
  const memory = new SystemMemory();
  const { level0 } = mapRadix3(memory, img);
  const short = walkRadix3(memory, level0, img.length - 4096, { bytes: img });
  assert(!short.ok && short.rule === "radix3");
  memory.write(level0 + 8n, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
  const extra = walkRadix3(memory, level0, img.length, { bytes: img });
  assert(!extra.ok && extra.rule === "radix3" && extra.reason.includes("level-0 entry 1"));
});

Deno.test("an image page at an unmapped IOVA is a DMA fault with that IOVA", () => {
  const img = image(8 * 4096);
  const memory = new SystemMemory();
  const { level0, mappings } = mapRadix3(memory, img);
  mappings[1][Symbol.dispose](); // unmap the image
  const v = walkRadix3(memory, level0, img.length, { bytes: img });
  assert(!v.ok && v.rule === "dmaFault" && v.mbox0 === HS_ERROR.dmaFault);
  assert.equal(v.detail?.iova, IOVA.image);
});

realFirmwareTest(
  "the real GA102 570.144 GSP image (~63 MB) is walked and compared; one flipped bit is caught",
  ["nvidia/ga102/gsp/gsp-570.144.bin"],
  ([path]) => {
    const gsp = gspFirmwareForChip(Deno.readFileSync(path), 0x172, path);
    const memory = new SystemMemory();
    const { level0 } = mapRadix3(memory, gsp.image);
    const v = walkRadix3(memory, level0, gsp.image.length, { bytes: gsp.image });
    assert(v.ok, v.ok ? "" : v.reason);
    const shiftedMemory = new SystemMemory();
    const shifted = mapRadix3(shiftedMemory, gsp.image, 1);
    const bad = walkRadix3(shiftedMemory, shifted.level0, gsp.image.length, {
      bytes: gsp.image,
      sha256: imageSha256(gsp.image),
    });
    assert(!bad.ok && bad.rule === "radix3" && bad.detail?.page === 0);
    assert.match(bad.reason, /SHA-256 [0-9a-f]{16}…/);
    const middle = 7777 * 4096 + 1234;
    memory.write(IOVA.image + BigInt(middle), new Uint8Array([gsp.image[middle] ^ 0x10]));
    const flipped = walkRadix3(memory, level0, gsp.image.length, { bytes: gsp.image });
    assert(!flipped.ok && flipped.rule === "radix3" && flipped.detail?.page === 7777);
  },
);
