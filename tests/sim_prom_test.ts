import assert from "node:assert/strict";
import type { ByteSource } from "../firmware/byte_source.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { extractFwsec } from "../firmware/fwsec/extract.ts";
import { parseVbios } from "../firmware/vbios/vbios.ts";
import type { Mmio } from "../pci/mmio.ts";
import { chipRegisters } from "../registers/bind.ts";
import { SIM_CHIP_NAMES } from "../sim/chip_model.ts";
import { PromBlock } from "../sim/blocks/prom.ts";
import { REALISTIC_LATENCY } from "../sim/latency.ts";
import { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { existsSync, REAL_VBIOS_PATH } from "./_real.ts";

/** The PROM window as a byte source, read the way nova-core does: 32-bit reads only. */
function promSource(bar0: Mmio, chip: string): ByteSource & { wordReads: number } {
  const data = chipRegisters(chip).PROM.DATA;
  const source = {
    size: data.count,
    name: "PROM",
    wordReads: 0,
    read(offset: number, length: number): Uint8Array {
      const first = offset - (offset % 4);
      const end = Math.ceil((offset + length) / 4) * 4;
      const out = new Uint8Array(end - first);
      const view = new DataView(out.buffer);
      for (let at = first; at < end; at += 4) {
        view.setUint32(at - first, bar0.read32(data.address + at), true);
        source.wordReads++;
      }
      return out.subarray(offset - first, offset - first + length);
    },
  };
  return source;
}

for (const chip of SIM_CHIP_NAMES) {
  Deno.test(`PROM: ${chip}'s forged VBIOS parses through BAR0, and the PROM counts the bytes`, async () => {
    await using gpu = await SimulatedGpu.create({ chip });
    const source = promSource(gpu.bar0, chip);
    const info = parseVbios(source);
    assert(info.fwsec, "FWSEC found through the PROM window");
    const expected = gpu.model.chip.family === "ga10x" || gpu.model.chip.family === "ad10x" ? 3 : 2;
    assert.equal(info.fwsec.descriptor.descriptorVersion, expected);
    assert.equal(gpu.prom.bytesRead, source.wordReads * 4);
    assert(gpu.prom.bytesRead < gpu.prom.image.length, "only what the parser needs is read");
    const direct = extractFwsec(bufferSource(gpu.prom.image));
    assert.deepEqual(info.fwsec.ucode, direct.ucode);
    assert.equal(gpu.bus.counts().PROM.reads, source.wordReads);
    assert.deepEqual(gpu.violations(), []);
    assert.deepEqual(gpu.bus.unmodelledReads(), []);
  });
}

Deno.test("PROM: each read costs the modelled ~3 µs of virtual time", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const before = gpu.clock.now();
  const base = chipRegisters("tu102").PROM.DATA.address;
  for (let i = 0; i < 1000; i++) gpu.bar0.read32(base + 4 * i);
  assert.equal(
    Math.round((gpu.clock.now() - before) * 1000) / 1000,
    1000 * REALISTIC_LATENCY.promReadMs,
  );
});

Deno.test("PROM: Ampere forged VBIOS has an all-zero fuse-version-0 signature; fuse default 1", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const fwsec = extractFwsec(bufferSource(gpu.prom.image));
  assert.equal(fwsec.signatures.length, 2);
  assert(fwsec.signatures[0].every((b) => b === 0));
  assert(fwsec.signatures[1].some((b) => b !== 0));
  assert.equal(gpu.model.fuseVersions?.GSP, 1);
});

Deno.test("PROM: a given VBIOS sets the default fuse version to its highest real signature", async () => {
  const vbios = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b1110, zeroSignatures: [2] })
    .bytes;
  await using gpu = new SimulatedGpu({ chip: "ad104", vbios });
  assert.equal(
    gpu.model.fuseVersions?.GSP,
    2,
    "version 3's signature is zero, version 2's is real",
  );
  await using chosen = new SimulatedGpu({ chip: "ad104", vbios, fuseVersion: 1 });
  assert.equal(chosen.model.fuseVersions?.GSP, 1);
});

Deno.test("PROM: bytes past the image read as erased flash; writes are refused", async () => {
  const block = new PromBlock("ga102", new Uint8Array([1, 2, 3]));
  const base = chipRegisters("ga102").PROM.DATA.address;
  assert.equal(block.read(base), 0xff030201);
  assert.equal(block.write(), false);
  assert.throws(() => new PromBlock("ga102", new Uint8Array(0x100001)), /does not fit/);
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  gpu.bar0.write32(base, 0);
  assert.equal(gpu.violations()[0].kind, "read-only-write");
});

Deno.test({
  name: "PROM: the real TU102 VBIOS given as a file parses through BAR0",
  ignore: !existsSync(REAL_VBIOS_PATH),
  async fn() {
    await using gpu = await SimulatedGpu.create({ chip: "tu102", vbios: REAL_VBIOS_PATH });
    const source = promSource(gpu.bar0, "tu102");
    const info = parseVbios(source);
    const file = parseVbios(bufferSource(await Deno.readFile(REAL_VBIOS_PATH)));
    assert.equal(info.version?.text, file.version?.text);
    assert.deepEqual(info.fwsec?.ucode, file.fwsec?.ucode);
    assert.equal(gpu.prom.bytesRead, source.wordReads * 4);
    assert(gpu.prom.bytesRead < 256 * 1024, `read ${gpu.prom.bytesRead} bytes of ~1 MiB`);
  },
});
