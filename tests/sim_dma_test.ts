import assert from "node:assert/strict";
import { SimDmaAllocator } from "../sim/dma.ts";
import { SimDmaFault, SystemMemory } from "../sim/system_memory.ts";

Deno.test("sim DMA: buffers are zeroed, page-rounded, aligned and mapped at their IOVA", () => {
  const memory = new SystemMemory();
  const dma = new SimDmaAllocator(memory);
  using a = dma.alloc(1);
  using b = dma.alloc(8192, { align: 1 << 20 });
  assert.equal(a.size, 4096);
  assert(a.bytes.every((x) => x === 0));
  assert.equal(b.iova % (1n << 20n), 0n);
  assert(b.iova >= a.iova + 4096n, "no overlap");
  b.bytes.set([1, 2, 3], 4095);
  assert.deepEqual([...memory.read(b.iova + 4095n, 3)], [1, 2, 3]);
  memory.write(a.iova, new Uint8Array([9]));
  assert.equal(a.bytes[0], 9, "device writes reach the host buffer");
  assert.equal(dma.live, 2);
  assert.equal(memory.live.length, 2);
});

Deno.test("sim DMA: dispose unmaps; the IOVA is never reused, so stale addresses fault", () => {
  const memory = new SystemMemory();
  const dma = new SimDmaAllocator(memory);
  const first = dma.alloc(4096);
  const iova = first.iova;
  first[Symbol.dispose]();
  first[Symbol.dispose]();
  assert.equal(dma.live, 0);
  assert.throws(() => memory.read(iova, 4), SimDmaFault);
  using second = dma.alloc(4096);
  assert.notEqual(second.iova, iova);
  assert.throws(() => memory.read(iova, 4), SimDmaFault);
});

Deno.test("sim DMA: bad sizes and alignments are refused", () => {
  const dma = new SimDmaAllocator(new SystemMemory());
  assert.throws(() => dma.alloc(0), RangeError);
  assert.throws(() => dma.alloc(1.5), RangeError);
  assert.throws(() => dma.alloc(4096, { align: 3000 }), RangeError);
});

Deno.test("dma-fault: a falcon DMA from a live mapping stops the falcon while the point is armed", async () => {
  const { SimulatedGpu } = await import("../sim/simulated_gpu.ts");
  const { FALCON_HALT_CODE } = await import("../sim/falcon.ts");
  const { falconRegisters } = await import("../registers/bind.ts");
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  using buffer = gpu.dma.alloc(4096);
  const r = falconRegisters("ga102", "GSP");
  const dmaToImem = () => {
    r.FBIF_CTL.write(gpu.bar0, { ALLOW_PHYS_NO_CTX: 1 });
    r.DMACTL.writeRaw(gpu.bar0, 0);
    r.FBIF_TRANSCFG.at(0).write(gpu.bar0, { TARGET: 1, MEM_TYPE: 1 });
    r.DMATRFBASE.writeRaw(gpu.bar0, Number(buffer.iova >> 8n));
    r.DMATRFCMD.write(gpu.bar0, { SIZE: 6, IMEM: 1 });
  };
  const dmaError = () => gpu.falcons.GSP.dmaError;
  dmaToImem();
  assert.equal(dmaError(), undefined, "the mapping is live: no fault");
  assert(gpu.memory.bytesRead >= 256);
  gpu.faults.arm("dma-fault");
  dmaToImem();
  assert.equal(r.MAILBOX0.readRaw(gpu.bar0), FALCON_HALT_CODE.dmaFault);
  assert.equal(dmaError()?.iova, buffer.iova);
  assert.equal(gpu.faults.armed("dma-fault"), undefined, "it fired once");
  assert.match(gpu.faults.history()[0].detail, /read of 256 bytes at IOVA 0x100000000/);
});

Deno.test("sim DMA: with bus mastering off in the command register, falcon DMA fails", async () => {
  const { SimulatedGpu } = await import("../sim/simulated_gpu.ts");
  const { falconRegisters } = await import("../registers/bind.ts");
  const { PCI_CONFIG } = await import("../pci/device.ts");
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  using buffer = gpu.dma.alloc(4096);
  const r = falconRegisters("ga102", "GSP");
  gpu.config.write16(PCI_CONFIG.command, PCI_CONFIG.commandMemory);
  r.FBIF_CTL.write(gpu.bar0, { ALLOW_PHYS_NO_CTX: 1 });
  r.DMACTL.writeRaw(gpu.bar0, 0);
  r.FBIF_TRANSCFG.at(0).write(gpu.bar0, { TARGET: 1, MEM_TYPE: 1 });
  r.DMATRFBASE.writeRaw(gpu.bar0, Number(buffer.iova >> 8n));
  r.DMATRFCMD.write(gpu.bar0, { SIZE: 6, IMEM: 1 });
  assert.equal(gpu.falcons.GSP.dmaError?.iova, buffer.iova);
  assert.equal(gpu.memory.bytesRead, 0, "nothing reached system memory");
});
