// The falcon HALs (falcon/hal*.ts): chosen from the chip table, and each one's
// waits, timeouts and register choices against the simulator, with a BAR0
// wrapper that pins a register's bits to make a wait run out.

import assert from "node:assert/strict";
import { chipByName, CHIPS, falconHalOf } from "../chips/chips.ts";
import { HardwareTimeoutError } from "../errors.ts";
import {
  Falcon,
  FALCON_WAITS,
  FalconError,
  falconHalFor,
  GA102_FALCON_HAL,
  GpuStoppedAnsweringError,
  TU102_FALCON_HAL,
} from "../falcon/mod.ts";
import { FalconIo } from "../falcon/_io.ts";
import type { Mmio } from "../pci/mmio.ts";
import { RegisterAccessError } from "../registers/bind.ts";
import { falconRegisters } from "../registers/bind.ts";
import { SimulatedGpu } from "../sim/simulated_gpu.ts";

/** BAR0 of `gpu` with the reads of one address passed through `transform`, and writes counted. */
function pinned(gpu: SimulatedGpu, address: number, transform: (value: number) => number) {
  const bus = gpu.bar0;
  const writes = new Map<number, number>();
  const bar0: Mmio = {
    size: bus.size,
    name: bus.name,
    read32: (offset) => (offset === address ? transform(bus.read32(offset)) : bus.read32(offset)),
    write32: (offset, value) => {
      writes.set(offset, (writes.get(offset) ?? 0) + 1);
      bus.write32(offset, value);
    },
    poll: (offset, predicate, options) => bus.poll(offset, predicate, options),
  };
  return { device: { bar0, clock: gpu.clock, dma: gpu.dma }, writes };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => undefined, (e) => e);
}

Deno.test("every chip's falcon HAL is the chip table's: PIO, no BROM, no fuses on TU102 only", () => {
  for (const chip of CHIPS) {
    const hal = falconHalFor(chip);
    assert.equal(hal.info, falconHalOf(chip), chip.name);
    const tu102 = hal.info.name === "tu102";
    assert.equal(
      hal.signatureFuseVersion,
      (tu102 ? TU102_FALCON_HAL : GA102_FALCON_HAL).signatureFuseVersion,
    );
    assert.equal(hal.info.loadMethod, tu102 ? "pio" : "dma", chip.name);
  }
  assert.equal(falconHalFor(chipByName("ga100")!).info.name, "tu102");
  assert.equal(falconHalFor(chipByName("gh100")!).programBrom, GA102_FALCON_HAL.programBrom);
});

Deno.test("TU102 HAL: scrubbing that never ends times out after 10 ms on DMACTL", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const r = falconRegisters("tu102", "SEC2");
  const stuck = r.DMACTL.encode({ IMEM_SCRUBBING: 1 });
  const { device } = pinned(gpu, r.DMACTL.address, (v) => v | stuck);
  const falcon = new Falcon(device, "tu102", "SEC2");
  const t0 = gpu.clock.now();
  const error = await failure(falcon.reset());
  assert(error instanceof FalconError && error.operation === "reset");
  assert(error.cause instanceof HardwareTimeoutError);
  assert.equal(error.cause.register, "SEC2.NV_PFALCON_FALCON_DMACTL");
  assert.equal(error.cause.timeoutMs, FALCON_WAITS.scrubbingTu102.timeoutMs);
  assert.equal(error.cause.timeoutMs, 10);
  // The 10 µs hold, then exactly the 10 ms wait.
  assert(Math.abs(gpu.clock.now() - t0 - 10.01) < 1e-6, `${gpu.clock.now() - t0}`);
});

Deno.test("GA102 HAL: scrubbing that never ends times out after 20 ms on HWCFG2", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga104" });
  const r = falconRegisters("ga104", "GSP");
  const stuck = r.HWCFG2.encode({ MEM_SCRUBBING: 1 });
  const { device } = pinned(gpu, r.HWCFG2.address, (v) => v | stuck);
  const error = await failure(new Falcon(device, "ga104", "GSP").reset());
  assert(error instanceof FalconError && error.cause instanceof HardwareTimeoutError);
  assert.equal(error.cause.register, "GSP.NV_PFALCON_FALCON_HWCFG2");
  assert.equal(error.cause.timeoutMs, 20);
});

Deno.test("GA102 HAL: RESET_READY that never comes costs 150 µs and is not an error", async () => {
  await using gpu = new SimulatedGpu({ chip: "ad104" });
  const r = falconRegisters("ad104", "SEC2");
  const ready = r.HWCFG2.encode({ RESET_READY: 1 });
  const normal = new Falcon(gpu, "ad104", "SEC2");
  let t0 = gpu.clock.now();
  await normal.reset();
  const fast = gpu.clock.now() - t0;
  const { device } = pinned(gpu, r.HWCFG2.address, (v) => (v & ~ready) >>> 0);
  t0 = gpu.clock.now();
  await new Falcon(device, "ad104", "SEC2").reset();
  const slow = gpu.clock.now() - t0;
  assert(slow - fast >= FALCON_WAITS.resetReady.timeoutMs - 1e-9, `${slow} vs ${fast}`);
  assert(!gpu.falcons.SEC2.isScrubbing && !gpu.falcons.SEC2.inReset);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("GA102 HAL: the Falcon core is selected only when another core is", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const r = falconRegisters("ga102", "SEC2");
  const { device, writes } = pinned(gpu, -1, (v) => v);
  await new Falcon(device, "ga102", "SEC2").reset();
  assert.equal(writes.get(r.RISCV_BCR_CTRL.address), 1, "after a reset the sim is on RISC-V");
  const io = new FalconIo(device, chipByName("ga102")!, "SEC2");
  await GA102_FALCON_HAL.selectCore(io, "falcon");
  assert.equal(writes.get(r.RISCV_BCR_CTRL.address), 1, "already on Falcon: nothing written");
});

Deno.test("GA102 HAL: a core select that never becomes VALID times out after 10 ms", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const r = falconRegisters("ga102", "GSP");
  const valid = r.RISCV_BCR_CTRL.encode({ VALID: 1 });
  const { device } = pinned(gpu, r.RISCV_BCR_CTRL.address, (v) => (v & ~valid) >>> 0);
  const error = await failure(new Falcon(device, "ga102", "GSP").reset());
  assert(error instanceof FalconError && error.cause instanceof HardwareTimeoutError);
  assert.equal(error.cause.register, "GSP.NV_PRISCV_RISCV_BCR_CTRL");
  assert.equal(error.cause.timeoutMs, 10);
});

Deno.test("BROM programming: GA102 writes the four registers, TU102 writes none", async () => {
  const params = { pkcDataOffset: 0x3c, engineIdMask: 0x400, ucodeId: 9 };
  {
    await using gpu = new SimulatedGpu({ chip: "ga102" });
    const falcon = new Falcon(gpu, "ga102", "GSP");
    const r = falconRegisters("ga102", "GSP");
    await falcon.reset();
    falcon.programBrom(params);
    assert.equal(r.BROM_PARAADDR.at(0).readRaw(gpu.bar0), 0x3c);
    assert.equal(r.BROM_ENGIDMASK.readRaw(gpu.bar0), 0x400);
    assert.equal(r.BROM_CURR_UCODE_ID.read(gpu.bar0).VAL, 9);
    assert.equal(r.MOD_SEL.read(gpu.bar0).ALGO, 1);
    assert.deepEqual(gpu.violations(), []);
  }
  {
    await using gpu = new SimulatedGpu({ chip: "tu102" });
    const falcon = new Falcon(gpu, "tu102", "GSP");
    await falcon.reset();
    const before = gpu.stats().mmio["GSP falcon"].writes;
    falcon.programBrom(params);
    assert.equal(gpu.stats().mmio["GSP falcon"].writes, before);
  }
});

Deno.test("RISC-V active: CORE_SWITCH_RISCV_STATUS on the TU102 GSP, RISCV_CPUCTL on GA102", async () => {
  for (const chip of ["tu102", "ga102"]) {
    await using gpu = new SimulatedGpu({
      chip,
      falconModels: { GSP: () => ({ kind: "riscv-active", afterMs: 30 }) },
    });
    const gsp = new Falcon(gpu, chip, "GSP");
    await gsp.resetToRiscv();
    assert(!gsp.isRiscvActive());
    gsp.start();
    const t0 = gpu.clock.now();
    await gsp.waitRiscvActive();
    assert(gsp.isRiscvActive());
    const waited = gpu.clock.now() - t0;
    // Read every 10 ms: active at 30 ms is seen at the 30 ms read.
    assert(waited >= 30 && waited <= 40, `${chip}: ${waited} ms`);
    await gsp.reset();
    assert.deepEqual(gpu.residue(), []);
  }
  await using tu = new SimulatedGpu({ chip: "tu102" });
  const error = (() => {
    try {
      new Falcon(tu, "tu102", "SEC2").isRiscvActive();
    } catch (e) {
      return e;
    }
  })();
  assert(error instanceof FalconError && error.cause instanceof RegisterAccessError);
});

Deno.test("RISC-V active that never comes times out after 5 s, read every 10 ms", async () => {
  await using gpu = new SimulatedGpu({
    chip: "ad102",
    falconModels: { GSP: () => ({ kind: "hang" }) },
  });
  const gsp = new Falcon(gpu, "ad102", "GSP");
  await gsp.resetToRiscv();
  gsp.start();
  const t0 = gpu.clock.now();
  const error = await failure(gsp.waitRiscvActive());
  assert(error instanceof FalconError && error.cause instanceof HardwareTimeoutError);
  assert.equal(error.cause.timeoutMs, 5000);
  assert(Math.abs(gpu.clock.now() - t0 - 5000) < 1e-6);
  await gsp.reset();
});

Deno.test("a PRI error during a wait names NVIDIA's code and is never decoded as fields", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const r = falconRegisters("tu102", "GSP");
  // 0xbadf1200: FECS_PRI_RESET. Decoded as DMACTL it would read "scrubbing done".
  const { device } = pinned(gpu, r.DMACTL.address, () => 0xbadf1200);
  const t0 = gpu.clock.now();
  const error = await failure(new Falcon(device, "tu102", "GSP").reset());
  assert(error instanceof FalconError && error.cause instanceof GpuStoppedAnsweringError);
  assert.equal(error.cause.status, "pri-error");
  assert.match(error.cause.message, /FECS_PRI_RESET/);
  assert(gpu.clock.now() - t0 < 1, "it fails at the first read, not at the timeout");
});
