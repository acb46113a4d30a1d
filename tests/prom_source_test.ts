// PromSource (gsp/prom_source.ts): the VBIOS read through the PROM window 32 bits at a time, the
// last word cached, and (P3) only the images FWSEC needs read, against the bytes of those images.

import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { extractFwsec } from "../firmware/fwsec/extract.ts";
import { readVbiosLayout } from "../firmware/vbios/vbios_layout.ts";
import { PromSource } from "../gsp/prom_source.ts";
import { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { knownTu102Vbios, REAL_VBIOS_PATH, REQUIRE_REAL } from "./_real.ts";

const NV_PROM_BASE = 0x300000;

Deno.test("PromSource: bytes at any offset and length are the ROM's", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const prom = new PromSource(gpu.bar0, "tu102");
  const rom = gpu.prom.image;
  assert.equal(prom.size, 0x100000);
  for (const [offset, length] of [[0, 4], [1, 1], [3, 6], [0x1ff, 0x203], [7, 0]]) {
    assert.deepEqual(prom.read(offset, length), rom.subarray(offset, offset + length));
  }
});

Deno.test("PromSource: byte-by-byte reads of one word cost one BAR0 read", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const reads: number[] = [];
  const bar = { read32: (o: number) => (reads.push(o), gpu.bar0.read32(o)) };
  const prom = new PromSource(bar, "ga102");
  for (let i = 0; i < 4; i++) prom.read(0x10 + i, 1);
  assert.deepEqual(reads, [NV_PROM_BASE + 0x10]);
  prom.read(0x12, 4); // two words, the first still cached
  assert.deepEqual(reads, [NV_PROM_BASE + 0x10, NV_PROM_BASE + 0x14]);
  assert.equal(prom.wordsRead, 2);
  assert.equal(prom.bytesRead, 8);
});

Deno.test("PromSource: a range past the window is a FirmwareFormatError naming PROM", async () => {
  await using gpu = new SimulatedGpu({ chip: "ad102" });
  const prom = new PromSource(gpu.bar0, "ad102");
  assert.throws(
    () => prom.read(0xffffe, 4),
    (e) => e instanceof FirmwareFormatError && e.file === "PROM",
  );
  assert.throws(() => prom.read(-1, 1), FirmwareFormatError);
});

/** P3: PROM bytes read to reach FWSEC, over the bytes of the PC-AT image and the FWSEC section. */
async function p3(chip: string, vbios?: string): Promise<{ read: number; needed: number }> {
  await using gpu = await SimulatedGpu.create({ chip, vbios });
  const prom = new PromSource(gpu.bar0, chip);
  const fwsec = extractFwsec(prom);
  const layout = readVbiosLayout(bufferSource(gpu.prom.image));
  assert.deepEqual(fwsec.ucode, extractFwsec(bufferSource(gpu.prom.image)).ucode);
  assert.equal(gpu.stats().promBytesRead, prom.bytesRead);
  return { read: prom.bytesRead, needed: layout.pcAtImage.size + layout.fwsecSection!.size };
}

for (const chip of ["tu102", "ga102", "ad102"]) {
  Deno.test(`PromSource (P3): ${chip} forged VBIOS: FWSEC read with ≤ 1.5× the needed images`, async () => {
    const { read, needed } = await p3(chip);
    assert(read <= 1.5 * needed, `${read} bytes read for ${needed} needed`);
  });
}

const real = knownTu102Vbios();
if (real || REQUIRE_REAL) {
  Deno.test("PromSource (P3): the real TU102 VBIOS: FWSEC read with ≤ 1.5× the needed images", async () => {
    assert(real, `FALCONRY_REQUIRE_REAL_FIRMWARE=1 but no VBIOS at ${REAL_VBIOS_PATH}`);
    const { read, needed } = await p3("tu102", real);
    assert(read <= 1.5 * needed, `${read} bytes read for ${needed} needed`);
    assert(read < Deno.statSync(real).size / 4); // no blind 1 MiB scan
  });
} else {
  Deno.test({
    name: `PromSource (P3): the real TU102 VBIOS (skipped: no VBIOS at ${REAL_VBIOS_PATH})`,
    ignore: true,
    fn: () => {},
  });
}
