// The FSP path's fault points (sim/execution/faults.ts): each one armed in a GH100 boot driven
// by hand (tests/_hand_boot_fsp.ts) shows the hardware's symptom to the host, and a function
// reset (with a falcon reset first where the GSP is the host's) leaves the GPU clean for the
// next boot.

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { FSP_ERROR } from "../sim/acceptance/fsp_error.ts";
import { PRIV_TARGET_MASK_READ } from "../sim/falcon.ts";
import { faultPointsFor } from "../sim/mod.ts";
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import {
  forgedFspFiles,
  FspHandBoot,
  parseFspFirmware,
  simulatedGh100For,
} from "./_hand_boot_fsp.ts";
import { HandBootError } from "./_hand_boot.ts";

const fw = parseFspFirmware(forgedFspFiles(), "forged");

/** Up to the COT reply. */
async function sendCot(gpu: SimulatedGpu): Promise<{ hb: FspHandBoot; error?: HandBootError }> {
  const hb = new FspHandBoot(gpu, fw);
  await hb.waitSecureBoot();
  hb.buildLibos();
  hb.buildFspWprMeta();
  hb.buildFmcBootArgs();
  hb.sendCot();
  const error = await hb.receiveReply().then(() => undefined, (e) => e);
  return { hb, error };
}

/** The FLR clears what the fault left; the next boot succeeds. */
async function recovers(gpu: SimulatedGpu, hb: FspHandBoot): Promise<void> {
  hb[Symbol.dispose]();
  await gpu.reset.functionLevel();
  assert.deepEqual(gpu.residue(), []);
  assert.equal(gpu.pfb.wpr2(), undefined);
  gpu.faults.armedNames.forEach((name) => gpu.faults.disarm(name));
  await new FspHandBoot(gpu, fw).run();
  assert.deepEqual(gpu.residue(), []);
}

const FSP_POINTS = [
  "fsp-cot-error-response",
  "fsp-fmc-dma-fault",
  "fsp-lockdown-held",
  "fsp-no-response",
  "gsp-never-halts",
];

Deno.test("FSP faults: the five points apply to GH100 only", () => {
  const gh100 = faultPointsFor(chipByName("gh100")!).map((p) => p.name);
  const tu102 = faultPointsFor(chipByName("tu102")!).map((p) => p.name);
  for (const name of FSP_POINTS) {
    assert(gh100.includes(name), name);
    assert(!tu102.includes(name), name);
  }
});

Deno.test("FSP faults: fsp-cot-error-response answers its code; nothing is placed", async () => {
  for (const [params, code] of [[{}, FSP_ERROR.invalidData], [{ code: 0x9f }, 0x9f]] as const) {
    await using gpu = await simulatedGh100For(fw);
    gpu.faults.arm("fsp-cot-error-response", params);
    const { hb, error } = await sendCot(gpu);
    assert(error instanceof HandBootError, String(error));
    assert.equal(error.value, code);
    assert.equal(hb.reply?.commandNvdmType, 0x14);
    assert.equal(gpu.pfb.wpr2(), undefined);
    assert.equal(hb.gsp.HWCFG2.readRaw(gpu.bar0), PRIV_TARGET_MASK_READ);
    assert.equal(gpu.faults.history()[0].name, "fsp-cot-error-response");
    await recovers(gpu, hb);
  }
});

Deno.test("FSP faults: fsp-no-response takes the message and never answers", async () => {
  await using gpu = await simulatedGh100For(fw);
  gpu.faults.arm("fsp-no-response");
  const { hb, error } = await sendCot(gpu);
  assert(error instanceof HandBootError && /no reply/.test(error.message), String(error));
  // Taken off the queue (HEAD = TAIL), but MSGQ stays empty.
  assert.equal(
    hb.fsp.QUEUE_HEAD.at(0).readRaw(gpu.bar0),
    hb.fsp.QUEUE_TAIL.at(0).readRaw(gpu.bar0),
  );
  assert.equal(hb.fsp.MSGQ_HEAD.at(0).readRaw(gpu.bar0), hb.fsp.MSGQ_TAIL.at(0).readRaw(gpu.bar0));
  assert.match(gpu.residue().map((r) => r.what).join(), /never answered/);
  await recovers(gpu, hb);
});

Deno.test("FSP faults: fsp-lockdown-held answers 0 and sets WPR2 but the GSP stays masked", async () => {
  await using gpu = await simulatedGh100For(fw);
  gpu.faults.arm("fsp-lockdown-held");
  const { hb, error } = await sendCot(gpu);
  assert.equal(error, undefined);
  assert.equal(hb.reply?.errorCode, 0);
  assert.notEqual(gpu.pfb.wpr2(), undefined);
  const timeout = await hb.waitLockdownRelease(1000).then(() => undefined, (e) => e);
  assert(timeout instanceof HandBootError && timeout.step === "lockdown-release", String(timeout));
  assert.equal(hb.gsp.RISCV_CPUCTL.readRaw(gpu.bar0), PRIV_TARGET_MASK_READ);
  assert.equal(gpu.gspRm.state, "stopped");
  // The host cannot reset the GSP while the FSP holds it: the write is refused.
  hb.gsp.ENGINE.write(gpu.bar0, { RESET: 1 });
  assert.match(gpu.violations().map((v) => "detail" in v ? v.detail : "").join(), /PRIV target/);
  await recovers(gpu, hb);
});

Deno.test("FSP faults: fsp-fmc-dma-fault answers 0x9e", async () => {
  await using gpu = await simulatedGh100For(fw);
  gpu.faults.arm("fsp-fmc-dma-fault");
  const { hb, error } = await sendCot(gpu);
  assert(error instanceof HandBootError && error.value === FSP_ERROR.invalidState, String(error));
  assert.equal(gpu.execution.fsp!.lastRejection?.rule, "fmcDma");
  assert.match(gpu.faults.history()[0].detail, /FMC image/);
  assert.equal(gpu.pfb.wpr2(), undefined);
  await recovers(gpu, hb);
});

Deno.test("FSP faults: gsp-never-halts suspends GSP-RM but the core never halts", async () => {
  await using gpu = await simulatedGh100For(fw);
  gpu.faults.arm("gsp-never-halts");
  const hb = new FspHandBoot(gpu, fw);
  await hb.bootToRiscv();
  await hb.sendInitCommands();
  await hb.waitInitDone();
  await hb.shutdownGsp(); // MBOX0 = 0x80000000
  const timeout = await hb.waitGspHalt(1000).then(() => undefined, (e) => e);
  assert(timeout instanceof HandBootError && timeout.step === "gsp-halt", String(timeout));
  assert.equal(hb.gsp.RISCV_CPUCTL.read(gpu.bar0).ACTIVE_STAT, 1);
  assert.equal(gpu.faults.history()[0].name, "gsp-never-halts");
  // A falcon reset still stops it (the GSP is the host's by now); then the FLR.
  await hb.resetFalcon(hb.gsp);
  assert.equal(hb.gsp.RISCV_CPUCTL.read(gpu.bar0).ACTIVE_STAT, 0);
  await recovers(gpu, hb);
});

Deno.test("FSP faults: the points shared with the SEC2 path show their symptom on GH100", async (t) => {
  await t.step("dma-fault: the FSP's first DMA (the FMC image) faults; reply 0x9e", async () => {
    await using gpu = await simulatedGh100For(fw);
    gpu.faults.arm("dma-fault");
    const { hb, error } = await sendCot(gpu);
    assert(error instanceof HandBootError && error.value === FSP_ERROR.invalidState, String(error));
    assert.equal(gpu.faults.history()[0].name, "dma-fault");
    await recovers(gpu, hb);
  });
  await t.step("gsp-rm-no-init-done: INIT_DONE never comes", async () => {
    await using gpu = await simulatedGh100For(fw);
    gpu.faults.arm("gsp-rm-no-init-done");
    const hb = new FspHandBoot(gpu, fw);
    await hb.bootToRiscv();
    await hb.sendInitCommands();
    const error = await hb.waitInitDone().then(() => undefined, (e) => e);
    assert(error instanceof HandBootError && error.step === "init-done", String(error));
    await hb.resetFalcon(hb.gsp);
    await recovers(gpu, hb);
  });
  await t.step(
    "gsp-rm-bad-checksum: the first message (INIT_DONE) fails its checksum",
    async () => {
      await using gpu = await simulatedGh100For(fw);
      gpu.faults.arm("gsp-rm-bad-checksum");
      const hb = new FspHandBoot(gpu, fw);
      await hb.bootToRiscv();
      await hb.sendInitCommands();
      const error = await hb.waitInitDone().then(() => undefined, (e) => e);
      assert(error instanceof HandBootError && /checksum/.test(error.message), String(error));
      await hb.resetFalcon(hb.gsp);
      await recovers(gpu, hb);
    },
  );
  await t.step("gsp-rm-unload-never-suspends: MBOX0 never reads suspended", async () => {
    await using gpu = await simulatedGh100For(fw);
    gpu.faults.arm("gsp-rm-unload-never-suspends");
    const hb = new FspHandBoot(gpu, fw);
    await hb.bootToRiscv();
    await hb.sendInitCommands();
    await hb.waitInitDone();
    const error = await hb.shutdownGsp().then(() => undefined, (e) => e);
    assert.match(String(error), /suspended/);
    await hb.resetFalcon(hb.gsp);
    await recovers(gpu, hb);
  });
  await t.step("gsp-rm-never-halts-after-unload: suspended, never halted", async () => {
    await using gpu = await simulatedGh100For(fw);
    gpu.faults.arm("gsp-rm-never-halts-after-unload");
    const hb = new FspHandBoot(gpu, fw);
    await hb.bootToRiscv();
    await hb.sendInitCommands();
    await hb.waitInitDone();
    await hb.shutdownGsp();
    const error = await hb.waitGspHalt(500).then(() => undefined, (e) => e);
    assert(error instanceof HandBootError && error.step === "gsp-halt", String(error));
    await hb.resetFalcon(hb.gsp);
    await recovers(gpu, hb);
  });
});
