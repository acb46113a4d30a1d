// Tests of gsp/hal_gh100.ts through bootGsp on a simulated GH100: a full boot and unload with the
// real linux-firmware gh100 570.144 files (skipped, with the reason, when absent) and with the
// simulator's forged set; the steps in their order (no CPU sequencer on the FSP path), the FSP's
// secure-boot wait after a reset, the unload's undo counted at the device, a dirty GPU refused
// before anything is written, and the FSP's error code decoded in the BootError.

import assert from "node:assert/strict";
import { bootGsp } from "../gsp/boot.ts";
import {
  BootSteps,
  GH100_BOOT_STEPS,
  GH100_UNLOAD_STEPS,
  GspBootError,
} from "../gsp/boot_steps.ts";
import { Falcon } from "../falcon/falcon.ts";
import { PhasedBootError } from "../gsp/fsp_phase.ts";
import { unloadLeftoverGh100 } from "../gsp/hal_gh100.ts";
import { FSP_ERROR_CODES } from "../registers/boot_codes.ts";
import { chipRegisters } from "../registers/bind.ts";
import { WPR2_GRANULE } from "../registers/pfb.ts";
import {
  bootOptions,
  countingDevice,
  forgedGh100Root,
  gh100FirmwareCases,
  gh100For,
} from "./_gh100.ts";

const regs = chipRegisters("gh100");

function wpr2Of(gpu: { bar0: { read32(at: number): number } }): { start: number; end: number } {
  const hi = regs.PFB.PRI_MMU_WPR2_ADDR_HI.read(gpu.bar0).VAL;
  const lo = regs.PFB.PRI_MMU_WPR2_ADDR_LO.read(gpu.bar0).VAL;
  return { start: lo * WPR2_GRANULE, end: hi * WPR2_GRANULE };
}

for (const firmware of await gh100FirmwareCases()) {
  Deno.test({
    name: `gh100: full boot and unload with ${firmware.label} firmware${
      firmware.skip ? ` (skipped: ${firmware.skip})` : ""
    }`,
    ignore: firmware.skip !== undefined,
    fn: async () => {
      const root = firmware.root!;
      await using gpu = await gh100For(root);
      const { device, counts } = countingDevice(gpu);
      const events: string[] = [];
      const gsp = await bootGsp(
        device,
        bootOptions(root, firmware.forged, {
          onStep: (e) => e.phase === "start" && events.push(e.step),
        }),
      );
      assert.deepEqual(events, GH100_BOOT_STEPS);
      assert.deepEqual(gsp.steps.map((s) => s.step), GH100_BOOT_STEPS);
      assert.equal(gsp.chip.name, "gh100");
      assert.match(gsp.staticInfo.boardName, /H100/);
      // WPR2 is the FSP's: the driver reports what the registers say.
      assert.deepEqual(gsp.wpr2, wpr2Of(gpu));
      assert(gsp.wpr2.start > 0 && gsp.wpr2.start < gsp.wpr2.end);
      // Booting undid nothing.
      assert.deepEqual([counts.flr, counts.falconResets], [0, 0]);

      const unload: string[] = [];
      await gsp.unload({ onStep: (e) => e.phase === "start" && unload.push(e.step) });
      assert.deepEqual(unload, GH100_UNLOAD_STEPS);
      assert.deepEqual([counts.flr, counts.falconResets], [1, 1]);
      assert(counts.cpuctlReads > 0, "the halt wait read RISCV_CPUCTL");
      assert.deepEqual(wpr2Of(gpu), { start: 0, end: 0 });
      assert.deepEqual(gpu.residue(), []);
      assert.deepEqual(gpu.violations(), []);

      // The function reset restarted the FSP's secure boot: the next boot waits for it, then boots.
      const second = await bootGsp(gpu, bootOptions(root, firmware.forged));
      const secureBoot = second.steps.find((s) => s.step === "fsp-secure-boot")!;
      assert(secureBoot.ms > 0, `secure-boot wait ${secureBoot.ms} ms`);
      await second.unload();
      assert.deepEqual(gpu.residue(), []);
    },
  });
}

Deno.test("gh100: a GPU whose WPR2 is set is refused in before-cot, nothing written", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  const kept = await bootGsp(gpu, bootOptions(root, true));
  kept.keep(); // an earlier boot left GSP-RM running
  const { device, counts } = countingDevice(gpu);
  const error = await bootGsp(device, bootOptions(root, true)).then(
    () => assert.fail("booted over a running GSP-RM"),
    (e) => e,
  );
  assert(error instanceof PhasedBootError, String(error));
  assert.equal(error.step, "fsp-secure-boot");
  assert.equal(error.phase, "before-cot");
  assert.match(error.message, /WPR2 is already set .*GPU needs reset/);
  assert.equal(counts.writes, 0);
  assert.equal(counts.flr, 0);
  // What the message says to do works: a reset, and the GPU boots. (The kept boot's DMA
  // memory stays mapped: that process never freed it.)
  await gpu.reset.functionLevel();
  assert.deepEqual([...new Set(gpu.residue().map((r) => r.block))], ["DMA"]);
  const gsp = await bootGsp(gpu, bootOptions(root, true));
  await gsp.unload();
});

for (const code of [0x9e, 0x9f, 0xa1, 0x1234]) {
  Deno.test(`gh100: the FSP's COT error 0x${code.toString(16)} is decoded in the BootError`, async () => {
    const root = await forgedGh100Root();
    await using gpu = await gh100For(root);
    gpu.faults.arm("fsp-cot-error-response", { code });
    const error = await bootGsp(gpu, bootOptions(root, true)).then(
      () => assert.fail("booted"),
      (e) => e,
    );
    assert(error instanceof GspBootError && error instanceof PhasedBootError, String(error));
    assert.equal(error.step, "fsp-cot-response");
    assert.equal(error.phase, "cot-send");
    assert.equal(error.code, code);
    const known = FSP_ERROR_CODES[code];
    assert.match(
      error.message,
      new RegExp(`error 0x${code.toString(16)} \\(${known ? known.name : "no public source"}`),
    );
    gpu.faults.disarm("fsp-cot-error-response");
    assert.deepEqual(gpu.residue(), []);
  });
}

Deno.test("gh100: unloadLeftoverGh100 takes down a GSP-RM another boot left running", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  const kept = await bootGsp(gpu, bootOptions(root, true));
  kept.keep();
  const { device, counts } = countingDevice(gpu);
  const steps: string[] = [];
  await unloadLeftoverGh100({
    device,
    regs,
    gsp: new Falcon(device, "gh100", "GSP"),
    steps: new BootSteps(device.clock, (e) => e.phase === "start" && steps.push(e.step)),
  });
  assert.deepEqual(steps, ["falcon-reset", "function-reset"]);
  assert.deepEqual([counts.flr, counts.falconResets], [1, 1]);
  assert.deepEqual(wpr2Of(gpu), { start: 0, end: 0 });
  // Only the kept process's DMA memory is left, which that process never freed.
  assert.deepEqual([...new Set(gpu.residue().map((r) => r.block))], ["DMA"]);
  // Nothing running: nothing to do, nothing written.
  const before = counts.writes;
  await unloadLeftoverGh100({
    device,
    regs,
    gsp: new Falcon(device, "gh100", "GSP"),
    steps: new BootSteps(device.clock),
  });
  assert.equal(counts.writes, before);
  const gsp = await bootGsp(gpu, bootOptions(root, true));
  await gsp.unload();
});
