// Tests of gsp/fsp_flush_page.ts on a simulated GH100, whose PFB decodes the FBHUB flush pair: the
// page registered (HI then LO) is the one the GPU reports, disposing unregisters and frees it, and
// a page whose registers a function reset already cleared is only freed (nothing written).

import assert from "node:assert/strict";
import { HopperFlushPage } from "../gsp/fsp_flush_page.ts";
import { chipRegisters } from "../registers/bind.ts";
import { SimulatedGpu } from "../sim/mod.ts";

const regs = chipRegisters("gh100");
const HI = regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI.address;
const LO = regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.address;

Deno.test("HopperFlushPage: registered HI then LO, unregistered and freed on dispose", async () => {
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  const writes: number[] = [];
  const bar = {
    read32: (at: number) => gpu.bar0.read32(at),
    write32: (at: number, v: number) => (writes.push(at), gpu.bar0.write32(at, v)),
  };
  {
    using page = new HopperFlushPage(bar, regs, gpu.dma);
    assert.deepEqual(writes, [HI, LO]);
    const iova = (BigInt(gpu.bar0.read32(HI)) << 32n) | BigInt(gpu.bar0.read32(LO));
    assert.equal(iova, page.page.iova);
    assert(gpu.residue().some((r) => r.what.includes("sysmem flush page")));
  }
  assert.deepEqual(writes, [HI, LO, HI, LO]);
  assert.deepEqual([gpu.bar0.read32(HI), gpu.bar0.read32(LO)], [0, 0]);
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("HopperFlushPage: after a function reset cleared it, dispose writes nothing", async () => {
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  let writes = 0;
  const bar = {
    read32: (at: number) => gpu.bar0.read32(at),
    write32: (at: number, v: number) => (writes++, gpu.bar0.write32(at, v)),
  };
  {
    using _page = new HopperFlushPage(bar, regs, gpu.dma);
    await gpu.reset.functionLevel();
  }
  assert.equal(writes, 2);
  assert.deepEqual(gpu.residue(), []);
});
