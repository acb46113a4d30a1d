// The recovery ladder (gsp/recover.ts) on simulated GPUs:
//
// - a GPU left dirty by each TU102-family fault point, as a process that died at the failure
//   leaves it (the state saved at the failing step, before any unwinding; or, when the boot
//   succeeds, GSP-RM left running), reopened and recovered; then it boots and unloads cleanly;
// - each rung shown to be needed: a case the rungs below it do not help, and the ladder
//   restricted to those rungs failing on the same GPU;
// - the PCI side: a board without FLR recovering through the bus reset, an H100 whose bus reset
//   is refused, an audio function blocking a per-function bus reset, a device that falls off
//   the bus and needs re-enumeration, one that never comes back ("needs a power cycle");
// - refusal on a read-only device, an abort, an unknown rung.

import assert from "node:assert/strict";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { bootGsp } from "../gsp/boot.ts";
import {
  checkGpuClean,
  GpuNeedsResetError,
  readRecoveryState,
  recover,
  type RecoverOptions,
  type RecoveryReport,
  type RungEvent,
  type RungName,
} from "../gsp/recover.ts";
import { PCI_CONFIG } from "../pci/device.ts";
import { faultPoints, SimulatedGpu, type SimulatedGpuOptions } from "../sim/mod.ts";
import { PCIE_CAPABILITY_OFFSET } from "../sim/config_space.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";

/** Forged firmware differs from linux-firmware's by design: compare it against nothing. */
const FORGED_MANIFEST = { ...FIRMWARE_MANIFEST, files: {}, links: {} };

/** The fault points of the FSP path (GH100), named in the session's contract: not this family's. */
const FSP_PATH_POINTS = new Set([
  "fsp-cot-error-response",
  "fsp-no-response",
  "fsp-lockdown-held",
  "fsp-fmc-dma-fault",
  "gsp-never-halts",
]);

/**
 * What a process that died at each TU102-family fault point leaves, and the rung that recovers
 * it: the unload bundle when WPR2 is set; the falcon reset when only a falcon or the stale
 * sysmem flush page is left; a power cycle for a GPU off the bus.
 */
const CRASHES: Record<
  string,
  { rung: RungName | "power-cycle"; params?: Record<string, unknown>; violations?: true }
> = {
  "bus-fall-off": { rung: "power-cycle", params: { afterAccesses: 3000 } },
  // The falcon's own record of the IOMMU fault is saved with it.
  "dma-fault": { rung: "falcon-reset", violations: true },
  "fwsec-error-code": { rung: "falcon-reset" },
  "fwsec-hang": { rung: "falcon-reset" },
  "fwsec-wpr2-unset": { rung: "falcon-reset" },
  "booter-bad-signature": { rung: "unload-bundle" },
  "booter-timeout": { rung: "unload-bundle" },
  "riscv-never-active": { rung: "unload-bundle" },
  "gsp-rm-bad-checksum": { rung: "unload-bundle" },
  "gsp-rm-no-init-done": { rung: "unload-bundle" },
  "gsp-rm-sequencer-poll-timeout": { rung: "unload-bundle" },
  // These fire during an unload: the process exits with GSP-RM running instead.
  "gsp-rm-never-halts-after-unload": { rung: "unload-bundle" },
  "gsp-rm-unload-never-suspends": { rung: "unload-bundle" },
};

const CHIPS = ["tu102", "ga102", "ad102"];

function options(root: string, more: RecoverOptions = {}): RecoverOptions {
  return { firmwareDir: root, firmwareManifest: FORGED_MANIFEST, ...more };
}

function outcomes(report: RecoveryReport): string[] {
  return report.rungs.map((r) => `${r.name}:${r.outcome}`);
}

/**
 * No WPR2, no falcon running, no RISC-V core: as the simulator itself sees it. No write the
 * hardware would not take, unless the fault itself caused one (`faultViolations`).
 */
function assertClean(gpu: SimulatedGpu, report: RecoveryReport, faultViolations = false): void {
  assert(report.ok, report.verdict);
  assert.equal(report.needsPowerCycle, false);
  assert.equal(gpu.pfb.wpr2(), undefined, "WPR2");
  for (const falcon of Object.values(gpu.falcons)) {
    assert(!falcon.isRunning && !falcon.riscvActive, `${falcon.name} still runs`);
  }
  if (!faultViolations) assert.deepEqual(gpu.violations(), []);
}

/** A boot and an unload on the recovered GPU work, and leave nothing behind. */
async function bootsCleanly(gpu: SimulatedGpu, root: string): Promise<void> {
  const gsp = await bootGsp(gpu, { firmwareDir: root, firmwareManifest: FORGED_MANIFEST });
  await gsp.unload();
  assert.deepEqual(gpu.residue(), []);
}

/**
 * Boot with `point` armed, and save the GPU as it is when the first step fails, before any
 * unwinding (a process killed there); when the boot succeeds, keep GSP-RM running and save it.
 */
async function crashState(
  chip: string,
  root: string,
  point: string,
  params: Record<string, unknown> = {},
): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: `falconry-crash-${chip}-`, suffix: ".json" });
  await using gpu = await gpuFor(chip, root);
  gpu.faults.arm(point, params);
  let saved: Promise<void> | undefined;
  try {
    const gsp = await bootGsp(gpu, {
      firmwareDir: root,
      firmwareManifest: FORGED_MANIFEST,
      // save() takes its snapshot before its first await: this is the state of the failure.
      onStep: (e) => void (e.phase === "fail" && (saved ??= gpu.save(path))),
    });
    gsp.keep();
    saved = gpu.save(path);
  } catch (e) {
    assert(saved, `the boot failed without a failed step: ${e}`);
  }
  await saved;
  return path;
}

/** A simulated GPU whose boot failed at Booter-load and whose unwinding left WPR2 set. */
async function dirtyGpu(
  root: string,
  extra: Omit<SimulatedGpuOptions, "chip"> = {},
): Promise<SimulatedGpu> {
  const gpu = await gpuFor("tu102", root, extra);
  // The armed fault rejects Booter-unload's signature too: the unwinding cannot clear WPR2.
  gpu.faults.arm("booter-bad-signature");
  await assert.rejects(bootGsp(gpu, { firmwareDir: root, firmwareManifest: FORGED_MANIFEST }));
  assert(gpu.pfb.wpr2(), "WPR2 left set");
  return gpu;
}

Deno.test("recover: every registered fault point is this family's crash case or the FSP path's", () => {
  const points = faultPoints().map((p) => p.name).filter((p) => !FSP_PATH_POINTS.has(p));
  assert.deepEqual(points.sort(), Object.keys(CRASHES).sort());
});

for (const chip of CHIPS) {
  for (const point of faultPoints()) {
    const expected = CRASHES[point.name];
    if (!expected) continue;
    Deno.test(`recover: ${chip} left dirty at ${point.name}: ${expected.rung}`, async () => {
      const root = await forgedFirmwareRoot(chip);
      const state = await crashState(chip, root, point.name, expected.params);
      try {
        await using gpu = await SimulatedGpu.open(state, { firmwareDir: root });
        assert.notDeepEqual(gpu.residue(), [], "the crash left the GPU dirty");
        const report = await recover(gpu, options(root));
        assert(!report.before.clean, JSON.stringify(report.before));
        if (expected.rung === "power-cycle") {
          assert(!report.ok && report.needsPowerCycle, report.verdict);
          assert.match(
            report.verdict,
            /^the GPU needs a power cycle: config space still reads 0xffff/,
          );
          assert.deepEqual(outcomes(report).slice(-2), ["flr:failed", "bus-reset:failed"]);
          assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0xffff);
          gpu.powerCycle();
        } else {
          assertClean(gpu, report, expected.violations);
          assert.equal(report.rungs.at(-1)!.name, expected.rung, outcomes(report).join(" "));
          assert.match(report.verdict, new RegExp(`^recovered by ${expected.rung}: WPR2 clear`));
          // Nothing the failure left survives: not even the flush page of the dead process.
          assert.deepEqual(gpu.residue(), []);
        }
        await bootsCleanly(gpu, root);
      } finally {
        await Deno.remove(state);
      }
    });
  }
}

Deno.test("recover: a clean GPU needs nothing", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const report = await recover(gpu);
  assert(report.ok);
  assert.deepEqual(report.rungs, []);
  assert.match(report.verdict, /^nothing to do: WPR2 clear, GSP halted, SEC2 halted$/);
});

// ------------------------------------------------------------------------------------------------
// Each rung needed

Deno.test("recover: rung 1, unload, is the one that reaches a GSP this process booted", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await gpuFor("tu102", root);
  const gsp = await bootGsp(gpu, { firmwareDir: root, firmwareManifest: FORGED_MANIFEST });
  const steps: string[] = [];
  const report = await recover(gpu, options(root, { gsp, onStep: (e) => steps.push(e.step) }));
  assert.deepEqual(outcomes(report), ["unload:recovered"]);
  assert(steps.includes("unloading-guest-driver") && steps.includes("gsp-suspend"), `${steps}`);
  assertClean(gpu, report);
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("recover: rung 1 unloads a GSP of this process whose GSP-RM died, freeing its memory", async () => {
  const root = await forgedFirmwareRoot("ga102");
  await using gpu = await gpuFor("ga102", root);
  const gsp = await bootGsp(gpu, { firmwareDir: root, firmwareManifest: FORGED_MANIFEST });
  gpu.falcons.GSP.reset("engine"); // GSP-RM is gone; WPR2 and the DMA memory are not
  const report = await recover(gpu, options(root, { gsp }));
  assert.equal(report.before.gsp, "halted");
  assert.deepEqual(outcomes(report), ["unload:recovered"]);
  assertClean(gpu, report);
  assert.deepEqual(gpu.residue(), [], "the boot's DMA buffers were freed");
});

Deno.test("recover: rung 2, the unload bundle, clears a GSP-RM another process left", async () => {
  const root = await forgedFirmwareRoot("tu102");
  const state = await crashState("tu102", root, "gsp-rm-no-init-done");
  try {
    {
      // Rung 1 cannot reach it: its queues belonged to the dead process.
      await using gpu = await SimulatedGpu.open(state, { firmwareDir: root });
      const report = await recover(gpu, options(root, { methods: ["unload"] }));
      assert(!report.ok && !report.needsPowerCycle);
      assert.deepEqual(outcomes(report), ["unload:skipped"]);
      assert.match(report.rungs[0].detail!, /holds no queues/);
      assert.match(report.verdict, /^not recovered: WPR2 0x.*may help$/);
      assert(gpu.falcons.GSP.riscvActive);
    }
    await using gpu = await SimulatedGpu.open(state, { firmwareDir: root });
    const report = await recover(gpu, options(root));
    assert.deepEqual(outcomes(report), ["unload:skipped", "unload-bundle:recovered"]);
    assertClean(gpu, report);
  } finally {
    await Deno.remove(state);
  }
});

Deno.test("recover: rung 3, a falcon reset, stops a hung FWSEC the unload rungs pass by", async () => {
  const root = await forgedFirmwareRoot("ga102");
  const state = await crashState("ga102", root, "fwsec-hang");
  try {
    {
      await using gpu = await SimulatedGpu.open(state, { firmwareDir: root });
      const report = await recover(gpu, options(root, { methods: ["unload", "unload-bundle"] }));
      assert.deepEqual(outcomes(report), ["unload:skipped", "unload-bundle:skipped"]);
      assert.match(report.rungs[1].detail!, /WPR2 is clear/);
      assert(gpu.falcons.GSP.isRunning, "FWSEC still runs");
    }
    await using gpu = await SimulatedGpu.open(state, { firmwareDir: root });
    const report = await recover(gpu, options(root));
    assert.deepEqual(outcomes(report), [
      "unload:skipped",
      "unload-bundle:skipped",
      "falcon-reset:recovered",
    ]);
    assert.equal(report.before.gsp, "running");
    assert.match(report.rungs[2].detail!, /stale sysmem flush page 0x[0-9a-f]+ unregistered/);
    assertClean(gpu, report);
    assert.deepEqual(gpu.residue(), []);
  } finally {
    await Deno.remove(state);
  }
});

Deno.test("recover: rung 4, FLR, when Booter-unload is refused and a falcon reset keeps WPR2", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await dirtyGpu(root);
  const report = await recover(gpu, options(root));
  assert.deepEqual(outcomes(report), [
    "unload:skipped",
    "unload-bundle:failed",
    "falcon-reset:not-recovered",
    "flr:recovered",
  ]);
  assert.match(report.rungs[1].error!, /booter-unload/i);
  assert.notEqual(report.rungs[2].state.wpr2, "clear", "a falcon reset leaves WPR2");
  const flr = report.rungs[3];
  assert.match(flr.detail!, /GFW boot done in \d+ ms/);
  assert(flr.ms >= gpu.latency.flrMs + gpu.latency.gfwBootMs, `${flr.ms} ms`);
  const command = gpu.config.read16(PCI_CONFIG.command);
  assert.equal(command & 0x6, 0x6, "memory decoding and bus mastering on");
  assertClean(gpu, report);
  gpu.faults.disarm("booter-bad-signature");
  await bootsCleanly(gpu, root);
});

Deno.test("recover: rung 5, the bus reset, revives a GPU that never returns from FLR", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await dirtyGpu(root, { quirks: { flrNeverReturns: true } });
  {
    const below = await recover(gpu, options(root, { methods: ["unload-bundle", "flr"] }));
    assert.deepEqual(outcomes(below), ["unload-bundle:failed", "flr:failed"]);
    assert.match(below.rungs[1].detail!, /re-enumerated; .*rescan did not find the device/);
    assert(below.needsPowerCycle, "without the bus reset nothing is left");
    assert.match(below.verdict, /^the GPU needs a power cycle: config space still reads 0xffff/);
  }
  const report = await recover(gpu, options(root));
  assert.equal(report.before.answering, false);
  assert.deepEqual(outcomes(report), [
    "unload:skipped",
    "unload-bundle:skipped",
    "falcon-reset:skipped",
    "flr:failed",
    "bus-reset:recovered",
  ]);
  assertClean(gpu, report);
  gpu.faults.disarm("booter-bad-signature");
  await bootsCleanly(gpu, root);
});

// ------------------------------------------------------------------------------------------------
// The PCI side

Deno.test("recover: a board without FLR recovers through the bus reset", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await dirtyGpu(root, { quirks: { noFlr: true } });
  const devcap = gpu.config.read32(PCIE_CAPABILITY_OFFSET + 4);
  assert.equal((devcap >>> 28) & 1, 0, "DEVCAP does not advertise FLR");
  const report = await recover(gpu, options(root));
  assert.deepEqual(outcomes(report).slice(-2), ["flr:refused", "bus-reset:recovered"]);
  assert.match(report.rungs.at(-2)!.error!, /does not advertise function-level reset/);
  assertClean(gpu, report);
});

Deno.test("recover: BCR_FLR on a board without FLR resets nothing", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102", quirks: { noFlr: true } });
  gpu.pfb.setWpr2(0x2_bfe0_0000, 0x2_bff0_0000);
  const devctl = PCIE_CAPABILITY_OFFSET + 8;
  gpu.config.write16(devctl, gpu.config.read16(devctl) | 0x8000);
  assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0x10de);
  assert(gpu.pfb.wpr2());
  await assert.rejects(gpu.reset.functionLevel(), /DEVCAP bit 28/);
});

for (const chip of ["gh100", "tu102"]) {
  Deno.test(`recover: an H100 id (${chip} model) whose FLR fails and whose bus reset is refused`, async () => {
    await using gpu = new SimulatedGpu({
      chip,
      pciDeviceId: 0x2342, // in the kernel's quirk_nvidia_no_bus_reset range 0x2340–0x237f
      quirks: { flrNeverReturns: true },
    });
    gpu.pfb.setWpr2(0x5_fe00_0000, 0x5_ff00_0000);
    const report = await recover(gpu);
    assert(!report.ok && report.needsPowerCycle);
    const bus = report.rungs.at(-1)!;
    assert.equal(bus.name, "bus-reset");
    assert.equal(bus.outcome, "refused");
    assert.match(bus.error!, /forbids a bus reset .*hard-rebooted.*4c207e7121fa/);
    assert.match(report.verdict, /^the GPU needs a power cycle: .*bus-reset refused/);
    // Nothing was done to it: a refused bus reset touches nothing.
    assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0xffff, "still stuck after the FLR");
  });
}

Deno.test("recover: an H100's WPR2 is cleared by FLR, the I2CS scratch awaited", async () => {
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  gpu.pfb.setWpr2(0x5_fe00_0000, 0x5_ff00_0000);
  const report = await recover(gpu);
  assert(report.ok, report.verdict);
  assert.equal(report.rungs.at(-1)!.name, "flr");
  assert.match(report.rungs.find((r) => r.name === "unload-bundle")!.detail!, /FSP/);
  assert.match(report.rungs.at(-1)!.detail!, /GFW boot done/);
  assert.equal(gpu.pfb.wpr2(), undefined);
});

Deno.test("recover: the audio function on the bus blocks a per-function bus reset", async () => {
  const root = await forgedFirmwareRoot("tu102");
  {
    await using gpu = await dirtyGpu(root, {
      quirks: { noFlr: true, audioFunctionDriver: "snd_hda_intel" },
    });
    const report = await recover(gpu, options(root));
    assert.deepEqual(outcomes(report).slice(-2), ["flr:refused", "bus-reset:refused"]);
    assert.match(
      report.rungs.at(-1)!.error!,
      /0000:01:00\.1 \(the GPU's HDA audio function\) shares the bus and is bound to snd_hda_intel: bind 0000:01:00\.1 to vfio-pci/,
    );
    assert(report.needsPowerCycle);
    assert(gpu.pfb.wpr2(), "nothing reset it");
  }
  // Both functions bound to vfio-pci: the bus can be reset.
  await using gpu = await dirtyGpu(root, {
    quirks: { noFlr: true, audioFunctionDriver: "vfio-pci" },
  });
  const report = await recover(gpu, options(root));
  assert.equal(outcomes(report).at(-1), "bus-reset:recovered");
  assertClean(gpu, report);
});

Deno.test("recover: a GPU that drops off the bus after FLR comes back by re-enumeration", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await dirtyGpu(root, { quirks: { dropsOffAfterReset: true } });
  const report = await recover(gpu, options(root));
  const flr = report.rungs.at(-1)!;
  assert.equal(`${flr.name}:${flr.outcome}`, "flr:recovered");
  assert.match(flr.error ?? "", /^$/, "the rung reports no error once the device is back");
  assert.match(flr.detail!, /read 0xffff \d+ ms after the reset: re-enumerated; GFW boot done/);
  // The rescan left the function disabled; the check enabled decoding and mastering again.
  assert.equal(gpu.config.read16(PCI_CONFIG.command) & 0x6, 0x6);
  assertClean(gpu, report);
  gpu.faults.disarm("booter-bad-signature");
  await bootsCleanly(gpu, root);
});

Deno.test("recover: re-enumeration is no reset, and leaves the function disabled", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  gpu.pfb.setWpr2(0x5_fe00_0000, 0x5_ff00_0000);
  await gpu.reset.reenumerate();
  assert.equal(gpu.config.read16(PCI_CONFIG.command) & 0x6, 0);
  assert.equal(gpu.bar0.read32(0), 0xffffffff, "memory decoding off");
  gpu.config.write16(PCI_CONFIG.command, 0x6);
  assert.deepEqual(gpu.pfb.wpr2(), { start: 0x5_fe00_0000, end: 0x5_ff00_0000 });
});

Deno.test("recover: a GPU that never comes back needs a power cycle", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await dirtyGpu(root, { quirks: { neverReturns: true } });
  const report = await recover(gpu, options(root));
  assert(!report.ok && report.needsPowerCycle);
  assert.deepEqual(outcomes(report).slice(-2), ["flr:failed", "bus-reset:failed"]);
  assert.match(
    report.verdict,
    /^the GPU needs a power cycle: config space still reads 0xffff \d+ ms after the secondary bus reset, and a re-enumeration did not find the device \(tried: unload skipped .*flr failed .*bus-reset failed/,
  );
  // The kernel's wait (65.5 s) and the check's own 60 s bound it, on the device's clock.
  assert(report.rungs.at(-1)!.ms >= 60_000 && report.rungs.at(-1)!.ms < 70_000);
  assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0xffff);
  gpu.powerCycle();
  gpu.faults.disarm("booter-bad-signature");
  await bootsCleanly(gpu, root);
});

Deno.test("recover: a GPU saved off the bus after a reset is still waiting for its rescan", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    {
      await using gpu = new SimulatedGpu({ chip: "tu102", quirks: { dropsOffAfterReset: true } });
      await assert.rejects(gpu.reset.bus(), /re-enumerate it/);
      await gpu.save(path);
    }
    await using gpu = await SimulatedGpu.open(path);
    assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0xffff);
    const report = await recover(gpu);
    assert(report.ok, report.verdict);
    assert.match(report.rungs.at(-1)!.detail!, /re-enumerated/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("recover: a read-only device gets every rung refused, and nothing is written", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102", readOnly: true });
  gpu.pfb.setWpr2(0x2_bfe0_0000, 0x2_bff0_0000);
  const report = await recover(gpu);
  assert(!report.ok && !report.needsPowerCycle);
  assert.deepEqual(outcomes(report), [
    "unload:refused",
    "unload-bundle:refused",
    "falcon-reset:refused",
    "flr:refused",
    "bus-reset:refused",
  ]);
  assert.match(report.verdict, /^nothing was tried: the device is open read-only/);
  assert(gpu.pfb.wpr2());
  assert.deepEqual(gpu.violations(), []);
  assert.equal(gpu.bus.counts().PMC?.writes ?? 0, 0);
  for (const method of ["flr", "bus", "reenumerate"] as const) {
    assert.match(gpu.reset.refusal(method)!, /read-only/);
  }
  await assert.rejects(gpu.reset.functionLevel(), /function-level reset refused: .*read-only/);
});

Deno.test("recover: onRung sees each rung start and end; an abort stops the ladder", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await dirtyGpu(root, { quirks: { neverReturns: true } });
  const events: string[] = [];
  const controller = new AbortController();
  const stop = new Error("stop");
  const onRung = (e: RungEvent) => {
    events.push(`${e.phase} ${e.name}`);
    if (e.phase === "start" && e.name === "flr") controller.abort(stop);
  };
  await assert.rejects(
    recover(gpu, options(root, { onRung, signal: controller.signal })),
    (e) => e === stop,
  );
  assert.deepEqual(events, [
    "start unload",
    "end unload",
    "start unload-bundle",
    "end unload-bundle",
    "start falcon-reset",
    "end falcon-reset",
    "start flr",
  ]);
  await assert.rejects(recover(gpu, { signal: AbortSignal.abort(stop) }), (e) => e === stop);
});

Deno.test("recover: an unknown rung is refused before anything is done", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  gpu.pfb.setWpr2(0x2_bfe0_0000, 0x2_bff0_0000);
  await assert.rejects(
    recover(gpu, { methods: ["power-cycle" as RungName] }),
    /unknown rung power-cycle/,
  );
  assert.equal(readRecoveryState(gpu).clean, false);
});

Deno.test("checkGpuClean: a boot without recovery refuses a dirty GPU, then accepts it", async () => {
  const root = await forgedFirmwareRoot("tu102");
  const state = await crashState("tu102", root, "riscv-never-active");
  try {
    await using gpu = await SimulatedGpu.open(state, { firmwareDir: root });
    const writes = () => Object.values(gpu.bus.counts()).reduce((n, c) => n + c.writes, 0);
    const before = writes();
    await assert.rejects(checkGpuClean(gpu), (e) => {
      assert(e instanceof GpuNeedsResetError);
      assert.match(e.message, /: GPU needs reset: run reset\.ts or boot --recover \(WPR2 0x/);
      assert.equal(e.state.clean, false);
      return true;
    });
    assert.equal(writes(), before, "the check only reads");
    assert((await recover(gpu, options(root))).ok);
    assert((await checkGpuClean(gpu)).clean);
  } finally {
    await Deno.remove(state);
  }
});

Deno.test("recover and checkGpuClean let a GFW boot in progress finish before judging", async () => {
  for (const check of ["recover", "checkGpuClean"] as const) {
    await using gpu = new SimulatedGpu({ chip: "ad102", justPoweredOn: true });
    const start = gpu.clock.now();
    const state = check === "recover" ? (await recover(gpu)).before : await checkGpuClean(gpu);
    assert(state.clean);
    assert(gpu.clock.now() - start >= gpu.latency.gfwBootMs, `${check}: waited for devinit`);
  }
});
