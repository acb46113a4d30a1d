// The execution model end to end: `new SimulatedGpu({ chip })`, with no
// option but the chip, boots GSP-RM and unloads it when driven by hand from
// the reference (tests/_hand_boot.ts) with the simulator's default forged
// firmware; the modelled durations are counted on the virtual clock (and
// slept in realistic mode); a reset ends GSP-RM; GSP-RM survives a save and
// reopen, and the new process can unload it.

import assert from "node:assert/strict";
import { SimulatedGpu } from "../sim/mod.ts";
import { forgedFirmwareFiles } from "../sim/execution/mod.ts";
import { REALISTIC_LATENCY } from "../sim/latency.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import { HandBoot, HandBootError, type HandFirmware, parseFirmwareSet } from "./_hand_boot.ts";

function handFirmware(chip: string): HandFirmware {
  const files = Object.fromEntries(
    Object.entries(forgedFirmwareFiles(chip)).map(([name, bytes]) => [name.split("-")[0], bytes]),
  );
  return parseFirmwareSet(chip, files, "forged");
}

/** Boot to GSP_INIT_DONE, every SEC2-path chip running the CPU sequencer. */
async function bootToReady(hb: HandBoot): Promise<void> {
  await hb.bootToRiscv();
  await hb.sendInitCommands();
  await hb.runSequencer();
  await hb.waitInitDone();
}

function stepTime(hb: HandBoot, step: string): number {
  const found = hb.steps.find((s) => s.step === step);
  assert(found, `no step ${step} in ${hb.steps.map((s) => s.step).join(", ")}`);
  return found.atMs;
}

for (const chip of ["tu102", "tu116", "ga102", "ga104", "ad102"]) {
  Deno.test(`${chip}: new SimulatedGpu({ chip }) boots GSP-RM and unloads it, by hand`, async () => {
    await using gpu = new SimulatedGpu({ chip });
    using hb = new HandBoot(gpu, handFirmware(chip));
    await bootToReady(hb);
    assert.equal(gpu.gspRm.state, "ready");
    assert(gpu.falcons.GSP.riscvActive);
    const name = await hb.staticInfo();
    assert.match(name, new RegExp(gpu.model.board));

    // The modelled durations, counted on the virtual clock.
    const frts = stepTime(hb, "fwsec-frts");
    const booter = stepTime(hb, "booter-load");
    const initDone = stepTime(hb, "init-done");
    assert(booter - frts >= REALISTIC_LATENCY.booterLoadMs, `Booter took ${booter - frts} ms`);
    assert(initDone - booter >= REALISTIC_LATENCY.gspRmInitMs, `init took ${initDone - booter}`);
    assert(frts >= REALISTIC_LATENCY.fwsecFrtsMs);

    await hb.shutdownGsp();
    // Exactly LIBOS_INTERRUPT_PROCESSOR_SUSPENDED: NVIDIA's _kgspIsProcessorSuspended compares.
    assert.equal(gpu.falcons.GSP.mailboxes[0], 0x8000_0000);
    assert(!gpu.falcons.GSP.riscvActive);
    await hb.fwsecSb();
    await hb.booterUnload();
    assert.equal(gpu.pfb.wpr2(), undefined);
    assert.equal(gpu.gspRm.model, undefined);
    await hb.release();
    assert.deepEqual(gpu.residue(), []);
    assert.deepEqual(gpu.violations(), []);
  });
}

Deno.test("a boot with GSP-RM running leaves residue; a function-level reset ends it", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  using hb = new HandBoot(gpu, handFirmware("ga102"));
  await bootToReady(hb);
  const blocks = gpu.residue().map((r) => r.block);
  for (const block of ["PFB", "GSP falcon", "GSP-RM"]) assert(blocks.includes(block), block);
  await gpu.reset.functionLevel();
  assert.equal(gpu.gspRm.model, undefined);
  assert.equal(gpu.pfb.wpr2(), undefined);
  assert.deepEqual(gpu.residue().filter((r) => r.block !== "DMA"), []);
});

Deno.test("a second FWSEC-FRTS while GSP-RM runs: FWSEC refuses, WPR2 stays", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  using hb = new HandBoot(gpu, handFirmware("tu102"), { mistakes: { skipWpr2Check: true } });
  await bootToReady(hb);
  const wpr2 = gpu.pfb.wpr2();
  const frts = chipRegisters("tu102").PBUS.SW_SCRATCH.at(0xe);
  await hb.resetFalcon(hb.gsp);
  assert.equal(gpu.gspRm.model, undefined, "the GSP reset ends GSP-RM");
  await assert.rejects(hb.fwsecFrts(), HandBootError);
  assert.equal(frts.readRaw(gpu.bar0) >>> 16, 0x0001); // FRTS_ERROR.wpr2AlreadySet
  assert.deepEqual(gpu.pfb.wpr2(), wpr2);
});

Deno.test("save and reopen: GSP-RM keeps running; its queues died with the process; unload works", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    {
      await using gpu = new SimulatedGpu({ chip: "tu102" });
      using hb = new HandBoot(gpu, handFirmware("tu102"));
      await bootToReady(hb);
      await gpu.save(path);
    }
    await using again = await SimulatedGpu.open(path);
    assert.equal(again.gspRm.state, "ready");
    assert(again.falcons.GSP.riscvActive);
    assert(again.residue().some((r) => r.block === "GSP-RM"));
    using hb = new HandBoot(again, handFirmware("tu102"));
    // GSP-RM has not stopped: Booter-unload refuses to tear WPR2 down under it.
    const refused = await hb.booterUnload().then(() => undefined, (e) => e as HandBootError);
    assert.equal(refused?.value, HS_ERROR.gspNotStopped);
    // A doorbell: GSP-RM reaches for queues that were in the dead process's memory.
    const head = chipRegisters("tu102").PGSP.QUEUE_HEAD.at(0);
    again.bar0.write32(head.address, 0);
    assert.equal(again.gspRm.state, "failed");
    assert.equal(again.gspRm.model?.faults[0].what, "dma-fault");
    assert(!again.falcons.GSP.riscvActive);
    // Now the GSP is halted and Booter-unload clears WPR2.
    await hb.booterUnload();
    assert.equal(again.pfb.wpr2(), undefined);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("CORE_RESUME with the GSP not reset: SEC2-RTOS refuses, GSP-RM keeps waiting", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  using hb = new HandBoot(gpu, handFirmware("tu102"));
  await hb.bootToRiscv();
  await hb.sendInitCommands();
  assert.equal(gpu.gspRm.state, "awaiting-resume");
  // Skip the sequencer's CORE_RESET: start SEC2 with GSP-RM's core still running.
  hb.startCpu(hb.sec2);
  await gpu.bar0.poll(hb.sec2.CPUCTL.address, (v) => hb.sec2.CPUCTL.decode(v).HALTED === 1, {
    timeoutMs: 100,
  });
  assert.equal(hb.sec2.MAILBOX0.readRaw(gpu.bar0), HS_ERROR.resumeRefused);
  const handoff = chipRegisters("tu102").PGC6.BSI_SECURE_SCRATCH_14;
  assert.equal(handoff.read(gpu.bar0).BOOT_STAGE_3_HANDOFF, 0);
  assert.equal(gpu.gspRm.state, "awaiting-resume");
});

Deno.test("a host start of the GSP's RISC-V core with code loaded halts it (only Booter starts it)", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const r = falconRegisters("ga102", "GSP");
  await gpu.bar0.poll(r.HWCFG2.address, (v) => r.HWCFG2.decode(v).MEM_SCRUBBING === 0, {
    timeoutMs: 10,
  });
  gpu.bar0.write32(r.IMEMC.at(0).address, r.IMEMC.encode({ AINCW: 1 }));
  for (let i = 0; i < 64; i++) gpu.bar0.write32(r.IMEMD.at(0).address, i);
  gpu.bar0.write32(r.RISCV_BCR_CTRL.address, r.RISCV_BCR_CTRL.encode({ CORE_SELECT: 1 }));
  gpu.bar0.write32(r.CPUCTL.address, r.CPUCTL.encode({ STARTCPU: 1 }));
  assert.equal(r.MAILBOX0.readRaw(gpu.bar0), HS_ERROR.unknownImage);
  assert(!gpu.falcons.GSP.riscvActive);
});

Deno.test("realistic mode sleeps FWSEC-FRTS, Booter and GSP-RM init for real", async () => {
  await using gpu = new SimulatedGpu({ chip: "ad102", realistic: true });
  using hb = new HandBoot(gpu, handFirmware("ad102"));
  const start = performance.now();
  await bootToReady(hb);
  const elapsed = performance.now() - start;
  const modelled = REALISTIC_LATENCY.fwsecFrtsMs + REALISTIC_LATENCY.booterLoadMs +
    REALISTIC_LATENCY.gspRmInitMs;
  assert(elapsed >= modelled, `${elapsed} ms < ${modelled} ms`);
  assert.equal(gpu.gspRm.state, "ready");
});
