// The fault points of the simulated GPU (issue 9): every one listed by
// faultPoints(), armable on a GPU, owned; and each firmware point produces the
// hardware's symptom in a boot driven by hand from the reference
// (tests/_hand_boot.ts), on the simulator's default forged firmware.

import assert from "node:assert/strict";
import { faultPoints, SimulatedGpu } from "../sim/mod.ts";
import { forgedFirmwareFiles } from "../sim/execution/mod.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";
import { chipRegisters } from "../registers/bind.ts";
import { HandBoot, HandBootError, type HandFirmware, parseFirmwareSet } from "./_hand_boot.ts";

/** The simulator's own forged set, as the hand driver takes it (by role). */
function handFirmware(chip: string): HandFirmware {
  const files = Object.fromEntries(
    Object.entries(forgedFirmwareFiles(chip)).map(([name, bytes]) => [name.split("-")[0], bytes]),
  );
  return parseFirmwareSet(chip, files, "forged");
}

/** The issue's list, by the names the simulator gives them. */
const ISSUE_POINTS = [
  "fwsec-error-code",
  "fwsec-hang",
  "fwsec-wpr2-unset",
  "booter-bad-signature",
  "booter-timeout",
  "riscv-never-active",
  "gsp-rm-bad-checksum",
  "gsp-rm-no-init-done",
  "gsp-rm-sequencer-poll-timeout",
  "dma-fault",
  "gsp-rm-unload-never-suspends",
  "gsp-rm-never-halts-after-unload",
  "bus-fall-off",
];

Deno.test("faultPoints() lists every point of the issue, each owned, described and armable", async () => {
  const points = faultPoints();
  const names = points.map((p) => p.name);
  for (const name of ISSUE_POINTS) assert(names.includes(name), `${name} is not registered`);
  assert.equal(new Set(names).size, names.length);
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  for (const point of points) {
    assert(point.owner.length > 0, `${point.name} has no owner`);
    assert(point.description.length > 20, `${point.name} says nothing of its symptom`);
    gpu.faults.arm(point.name, {});
    assert.deepEqual(gpu.faults.armed(point.name), {});
    gpu.faults.disarm(point.name);
    assert.equal(gpu.faults.armed(point.name), undefined);
  }
});

/** A TU102 with the default forged firmware and a hand driver, the fault armed. */
function armed(name: string, parameters: Record<string, unknown> = {}, chip = "tu102") {
  const gpu = new SimulatedGpu({ chip });
  gpu.faults.arm(name, parameters);
  const hb = new HandBoot(gpu, handFirmware(chip));
  return { gpu, hb, regs: chipRegisters(chip) };
}

async function rejects(step: Promise<unknown>, stepName: string): Promise<HandBootError> {
  try {
    await step;
  } catch (e) {
    assert(e instanceof HandBootError, String(e));
    assert.equal(e.step, stepName, e.message);
    return e;
  }
  assert.fail(`${stepName} did not fail`);
}

Deno.test("fwsec-error-code: FRTS halts with MBOX0 0, the code in SW_SCRATCH(0xe) 31:16, no WPR2", async () => {
  const { gpu, hb, regs } = armed("fwsec-error-code", { code: 0x1234 });
  await using _gpu = gpu;
  using _hb = hb;
  await hb.waitGfwBoot();
  hb.readVbios();
  hb.computeLayout();
  await rejects(hb.fwsecFrts(), "fwsec-frts");
  assert.equal(regs.PBUS.SW_SCRATCH.at(0xe).readRaw(gpu.bar0) >>> 16, 0x1234);
  assert.equal(gpu.falcons.GSP.mailboxes[0], 0);
  assert(gpu.falcons.GSP.isHalted);
  assert.equal(gpu.pfb.wpr2(), undefined);
  assert.equal(gpu.faults.history()[0].name, "fwsec-error-code");
});

Deno.test("fwsec-hang: FWSEC never halts; the host's wait times out", async () => {
  const { gpu, hb } = armed("fwsec-hang");
  await using _gpu = gpu;
  using _hb = hb;
  await hb.waitGfwBoot();
  hb.readVbios();
  hb.computeLayout();
  await rejects(hb.fwsecFrts(), "fwsec-frts");
  assert(gpu.falcons.GSP.isRunning);
  assert.equal(gpu.pfb.wpr2(), undefined);
  assert(gpu.residue().some((r) => r.block === "GSP falcon" && /running/.test(r.what)));
});

Deno.test("fwsec-wpr2-unset: FRTS reports success but WPR2 stays unset", async () => {
  const { gpu, hb, regs } = armed("fwsec-wpr2-unset");
  await using _gpu = gpu;
  using _hb = hb;
  await hb.waitGfwBoot();
  hb.readVbios();
  hb.computeLayout();
  await rejects(hb.fwsecFrts(), "fwsec-frts");
  assert.equal(regs.PBUS.SW_SCRATCH.at(0xe).readRaw(gpu.bar0) >>> 16, 0);
  assert.equal(gpu.falcons.GSP.mailboxes[0], 0);
  assert.equal(gpu.pfb.wpr2(), undefined);
});

/** Up to Booter-load: FRTS, LibOS args, GSP reset into RISC-V, WPR meta. */
async function upToBooter(hb: HandBoot) {
  await hb.waitGfwBoot();
  hb.registerFlushPage();
  hb.readVbios();
  hb.computeLayout();
  await hb.fwsecFrts();
  hb.buildLibos();
  await hb.prepareGsp();
  hb.buildWprMeta();
}

Deno.test("booter-bad-signature: SEC2 halts with HS_ERROR.wrongSignature", async () => {
  const { gpu, hb } = armed("booter-bad-signature");
  await using _gpu = gpu;
  using _hb = hb;
  await upToBooter(hb);
  const e = await rejects(hb.booterLoad(), "booter-load");
  assert.equal(e.value, HS_ERROR.wrongSignature);
  assert.equal(gpu.falcons.SEC2.mailboxes[0], HS_ERROR.wrongSignature);
  assert.equal(gpu.gspRm.model, undefined);
});

Deno.test("booter-timeout: Booter never halts; SEC2 keeps running", async () => {
  const { gpu, hb } = armed("booter-timeout");
  await using _gpu = gpu;
  using _hb = hb;
  await upToBooter(hb);
  await rejects(hb.booterLoad(), "booter-load");
  assert(gpu.falcons.SEC2.isRunning);
  assert.equal(gpu.gspRm.model, undefined);
});

Deno.test("riscv-never-active: Booter-load succeeds and sets WPR2, the GSP core never comes up", async () => {
  const { gpu, hb } = armed("riscv-never-active");
  await using _gpu = gpu;
  using _hb = hb;
  await upToBooter(hb);
  await hb.booterLoad();
  assert.notEqual(gpu.pfb.wpr2(), undefined);
  await rejects(hb.startGspRm(), "riscv-active");
  assert(!gpu.falcons.GSP.riscvActive);
});

/** Booted to RISC-V active with init commands sent. */
async function booted(hb: HandBoot) {
  await hb.bootToRiscv();
  await hb.sendInitCommands();
}

Deno.test("gsp-rm-bad-checksum: the host rejects GSP-RM's first message", async () => {
  const { gpu, hb } = armed("gsp-rm-bad-checksum");
  await using _gpu = gpu;
  using _hb = hb;
  await booted(hb);
  await assert.rejects(hb.runSequencer(), HandBootError);
  assert(gpu.faults.history().some((f) => f.name === "gsp-rm-bad-checksum"));
});

Deno.test("gsp-rm-sequencer-poll-timeout: the sequencer's REG_POLL never succeeds", async () => {
  const { gpu, hb } = armed("gsp-rm-sequencer-poll-timeout");
  await using _gpu = gpu;
  using _hb = hb;
  await booted(hb);
  await assert.rejects(hb.runSequencer(), HandBootError);
  assert.equal(gpu.gspRm.state, "awaiting-resume");
});

Deno.test("gsp-rm-no-init-done: the wait for GSP_INIT_DONE times out", async () => {
  const { gpu, hb } = armed("gsp-rm-no-init-done");
  await using _gpu = gpu;
  using _hb = hb;
  await booted(hb);
  await hb.runSequencer();
  await rejects(hb.waitInitDone(), "init-done");
  assert.equal(gpu.gspRm.state, "init-withheld");
});

/** Booted to GSP_INIT_DONE. */
async function ready(hb: HandBoot) {
  await booted(hb);
  await hb.runSequencer();
  await hb.waitInitDone();
}

Deno.test("gsp-rm-unload-never-suspends: MBOX0 never reads suspended; Booter-unload refuses", async () => {
  const { gpu, hb } = armed("gsp-rm-unload-never-suspends");
  await using _gpu = gpu;
  using _hb = hb;
  await ready(hb);
  await assert.rejects(hb.shutdownGsp());
  assert.notEqual(gpu.falcons.GSP.mailboxes[0], 0x8000_0000);
  assert(gpu.falcons.GSP.riscvActive);
  const e = await rejects(hb.booterUnload(), "booter-unload");
  assert.equal(e.value, HS_ERROR.gspNotStopped);
  assert.notEqual(gpu.pfb.wpr2(), undefined);
});

Deno.test("gsp-rm-never-halts-after-unload: suspended, never halted", async () => {
  const { gpu, hb } = armed("gsp-rm-never-halts-after-unload");
  await using _gpu = gpu;
  using _hb = hb;
  await ready(hb);
  await hb.shutdownGsp().catch(() => {});
  assert.equal(gpu.falcons.GSP.mailboxes[0], 0x8000_0000);
  assert(gpu.falcons.GSP.riscvActive, "still running");
  assert.equal(gpu.gspRm.state, "suspended");
});
