// The TU102-family boot HAL alone (gsp/hal_tu102.ts): up to Booter-load and back through its
// own unwinding; the dirty-GPU refusal before any write; the hardware's codes in its errors
// (GFW boot progress, FWSEC's SW_SCRATCH(0xe), all-ones reads); the local unwind after FWSEC-FRTS
// fails (FWSEC-SB, then Booter-unload only when WPR2 is set).

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { Falcon } from "../falcon/falcon.ts";
import { GpuStoppedAnsweringError } from "../falcon/gpu_stopped_answering.ts";
import {
  type BootStepEvent,
  BootSteps,
  GspBootArgs,
  type GspBootContext,
  GspBootError,
  gspHalFor,
  TU102_GSP_HAL,
} from "../gsp/mod.ts";
import { loadFirmwareSet } from "../loader/firmware_set.ts";
import type { Device } from "../pci/device.ts";
import type { Mmio } from "../pci/mmio.ts";
import { chipRegisters } from "../registers/bind.ts";
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";

async function context(
  gpu: SimulatedGpu,
  chipName: string,
  events: BootStepEvent[],
  bar0: Mmio = gpu.bar0,
): Promise<GspBootContext & Disposable> {
  const chip = chipByName(chipName)!;
  const device: Device = {
    info: gpu.info,
    bar0,
    config: gpu.config,
    dma: gpu.dma,
    readOnly: false,
    clock: gpu.clock,
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const firmware = await loadFirmwareSet({
    chip,
    dir: await forgedFirmwareRoot(chipName),
    onMismatch: "warn",
  });
  const bootArgs = GspBootArgs.allocate(gpu.dma, chip.family);
  return {
    device,
    chip,
    regs: chipRegisters(chip),
    gsp: new Falcon(device, chip, "GSP"),
    sec2: new Falcon(device, chip, "SEC2"),
    firmware,
    bootArgs,
    steps: new BootSteps(gpu.clock, (e) => events.push(e)),
    [Symbol.dispose]: () => bootArgs[Symbol.dispose](),
  };
}

const ends = (events: BootStepEvent[]) =>
  events.filter((e) => e.phase === "end").map((e) => e.step);

for (const chip of ["tu102", "ga102", "ad102", "ga100"]) {
  Deno.test(`TU102 HAL: ${chip} boots to Booter-load, and its disposal unwinds everything`, async () => {
    assert.equal(gspHalFor(chipByName(chip)!), TU102_GSP_HAL);
    await using gpu = await gpuFor(chip, await forgedFirmwareRoot(chip));
    const events: BootStepEvent[] = [];
    {
      using ctx = await context(gpu, chip, events);
      {
        await using booted = await TU102_GSP_HAL.boot(ctx);
        const hi = ctx.regs.PFB.PRI_MMU_WPR2_ADDR_HI.read(gpu.bar0).VAL;
        assert.equal(booted.wpr2.end, hi * 4096);
        assert(booted.hasUnloadBundle);
        assert.equal(booted.osVersion, ctx.firmware.bootloader.descriptor.appVersion);
        // GSP-RM runs: Booter-load started it (its queues are the caller's to use).
        assert(ctx.gsp.isRiscvActive());
      }
    }
    const frts = chip === "ga100" ? [] : ["fwsec-frts"];
    assert.deepEqual(ends(events), [
      "gfw-boot",
      "wpr2-check",
      "sysmem-flush",
      "vbios",
      "gsp-image",
      ...frts,
      "booter-load",
      "fwsec-sb",
      "booter-unload",
      "falcon-reset",
    ]);
    assert.deepEqual(gpu.residue(), []);
    assert.deepEqual(gpu.violations(), []);
  });
}

Deno.test("TU102 HAL: a set WPR2 is refused at wpr2-check with no write at all", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await gpuFor("tu102", root);
  const events: BootStepEvent[] = [];
  using ctx = await context(gpu, "tu102", events);
  const booted = await TU102_GSP_HAL.boot(ctx);
  const writes = () => Object.values(gpu.stats().mmio).reduce((n, c) => n + c.writes, 0);
  const before = writes();
  const error = await TU102_GSP_HAL.boot(ctx).catch((e) => e);
  assert(error instanceof GspBootError && error.step === "wpr2-check", String(error));
  assert.match(
    error.message,
    /WPR2 is already set \(0x[0-9a-f]+\.\.0x[0-9a-f]+\): the GPU needs reset/,
  );
  assert.equal(writes(), before);
  await booted[Symbol.asyncDispose]();
  assert.deepEqual(gpu.residue().filter((r) => r.block !== "DMA"), []);
});

Deno.test("TU102 HAL: FWSEC-FRTS's error is decoded, and the HAL unwinds FWSEC-SB locally", async () => {
  const root = await forgedFirmwareRoot("ga102");
  await using gpu = await gpuFor("ga102", root);
  gpu.faults.arm("fwsec-error-code", { code: 0x5 });
  const events: BootStepEvent[] = [];
  {
    using ctx = await context(gpu, "ga102", events);
    const error = await TU102_GSP_HAL.boot(ctx).catch((e) => e);
    assert(error instanceof GspBootError && error.step === "fwsec-frts", String(error));
    assert.equal(error.code, 0x5);
    assert.match(error.message, /SW_SCRATCH\(0xe\) error 0x5 \(falconry simulator: .*not 1 MiB\)/);
  }
  // The local unwind ran the bundle: FWSEC-SB, and Booter-unload found no WPR2 to release.
  assert.deepEqual(ends(events).slice(-3), ["fwsec-sb", "booter-unload", "falcon-reset"]);
  assert.match(
    events.find((e) => e.step === "booter-unload" && e.phase === "end")!.detail!,
    /not set/,
  );
  assert.deepEqual(gpu.residue(), []);
});

/** BAR0 with one register reading a fixed value. */
function overriding(bar: Mmio, offset: number, value: number): Mmio {
  return {
    size: bar.size,
    name: bar.name,
    read32: (o) => (o === offset ? value : bar.read32(o)),
    write32: (o, v) => bar.write32(o, v),
    poll: (o, p, options) => bar.poll(o, p, options),
  };
}

Deno.test("TU102 HAL: GFW boot that never completes times out with its progress decoded", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await gpuFor("tu102", root);
  const regs = chipRegisters("tu102");
  const bar = overriding(gpu.bar0, regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.address, 0x3c);
  {
    using ctx = await context(gpu, "tu102", [], bar);
    const started = gpu.clock.now();
    const error = await TU102_GSP_HAL.boot(ctx).catch((e) => e);
    assert(error instanceof GspBootError && error.step === "gfw-boot", String(error));
    assert.equal(error.code, 0x3c);
    assert.match(error.message, /progress 0x3c \(devinit still running/);
    assert(gpu.clock.now() - started >= 4000);
  }
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("TU102 HAL: an all-ones read is 'the GPU stopped answering', not WPR2", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await gpuFor("tu102", root);
  const regs = chipRegisters("tu102");
  const bar = overriding(gpu.bar0, regs.PFB.PRI_MMU_WPR2_ADDR_HI.address, 0xffffffff);
  {
    using ctx = await context(gpu, "tu102", [], bar);
    const error = await TU102_GSP_HAL.boot(ctx).catch((e) => e);
    assert(error instanceof GspBootError && error.step === "wpr2-check", String(error));
    assert(error.cause instanceof GpuStoppedAnsweringError);
    assert.match(error.message, /the GPU stopped answering/);
  }
  assert.deepEqual(gpu.residue(), []);
});
