// The staged unwinding of gsp/hal_gh100.ts, one named test per phase (issue 11): a boot fails in
// that phase, and exactly that phase's undo runs, counted at the device (function-level resets,
// GSP falcon resets, reads of the GSP's RISC-V halt bit) and seen in the step events:
//
// - before-cot: nothing undone on the GPU (no reset of any kind, no halt wait), host memory freed
//   and the sysmem flush page unregistered;
// - cot-send: one function-level reset, no falcon reset, no halt wait;
// - after-response: the halt wait, then the GSP falcon reset, then the function-level reset; the
//   FMC boot args stay DMA-mapped until the GSP has halted (and the falcon was reset).
//
// After each: the typed error names the step and the phase, the simulated GPU's residue is empty
// (no DMA mapping left either), and the next boot succeeds.

import assert from "node:assert/strict";
import { bootGsp } from "../gsp/boot.ts";
import type { BootStepEvent } from "../gsp/boot_steps.ts";
import { PhasedBootError } from "../gsp/fsp_phase.ts";
import { chipRegisters } from "../registers/bind.ts";
import type { SimulatedGpu } from "../sim/mod.ts";
import { bootOptions, bootsCleanly, countingDevice, forgedGh100Root, gh100For } from "./_gh100.ts";

const UNDO_STEPS = [
  "unloading-guest-driver",
  "gsp-suspend",
  "gsp-halt",
  "falcon-reset",
  "function-reset",
];

/** The IOVAs of the simulated GPU's live DMA mappings, from its residue. */
function liveIovas(gpu: SimulatedGpu): bigint[] {
  return gpu.residue().flatMap((r) => {
    const m = r.block === "DMA" ? r.what.match(/IOVA (0x[0-9a-f]+)/) : null;
    return m ? [BigInt(m[1])] : [];
  });
}

/** Boot, expecting a failure; the events, the error and the device's counts. */
async function failingBoot(
  gpu: SimulatedGpu,
  root: string,
  options: { abortWhen?: (e: BootStepEvent) => boolean; onEvent?: (e: BootStepEvent) => void } = {},
) {
  const controller = new AbortController();
  const { device, counts } = countingDevice(gpu);
  const events: BootStepEvent[] = [];
  const error = await bootGsp(
    device,
    bootOptions(root, true, {
      signal: controller.signal,
      onStep: (e) => {
        events.push(e);
        options.onEvent?.(e);
        if (options.abortWhen?.(e)) controller.abort(new DOMException("stop", "AbortError"));
      },
    }),
  ).then(() => assert.fail("booted"), (e) => e);
  assert(error instanceof PhasedBootError, String(error));
  const undo = events.filter((e) => e.phase === "start" && UNDO_STEPS.includes(e.step)).map((e) =>
    e.step
  );
  return { error, counts, undo };
}

Deno.test("phase before-cot: a failure resets nothing, frees the host memory and the flush page", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  // The abort lands while the FMC boot args are being built: the GSP image is in DMA memory.
  const { error, counts, undo } = await failingBoot(gpu, root, {
    abortWhen: (e) => e.step === "fmc-boot-args" && e.phase === "start",
  });
  assert.equal(error.step, "fmc-boot-args");
  assert.equal(error.phase, "before-cot");
  assert.match(error.message, /aborted/);
  assert.deepEqual(undo, []);
  assert.deepEqual([counts.flr, counts.falconResets, counts.cpuctlReads], [0, 0, 0]);
  // The only writes: the sysmem flush page, registered (HI, LO) and unregistered with the memory.
  const pfb = chipRegisters("gh100").PFB;
  assert.deepEqual(
    [...counts.written].sort(),
    [pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.address, pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI.address],
  );
  assert.equal(counts.writes, 4);
  assert.deepEqual(error.cleanupErrors, []);
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(await bootsCleanly(gpu, root, true), []);
});

Deno.test("phase cot-send: a failure is undone by one function reset, and nothing else", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  gpu.faults.arm("fsp-no-response");
  const { error, counts, undo } = await failingBoot(gpu, root);
  gpu.faults.disarm("fsp-no-response");
  assert.equal(error.step, "fsp-cot-response");
  assert.equal(error.phase, "cot-send");
  assert.match(error.message, /did not answer the COT message in 2000 ms/);
  assert.deepEqual(undo, ["function-reset"]);
  assert.equal(counts.flr, 1);
  assert.equal(counts.falconResets, 0);
  assert.equal(counts.cpuctlReads, 0);
  assert.deepEqual(error.cleanupErrors, []);
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(await bootsCleanly(gpu, root, true), []);
});

Deno.test("phase after-response: halt wait, falcon reset, function reset, boot args mapped until halted", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  gpu.faults.arm("gsp-rm-no-init-done");
  let bootParams: bigint | undefined;
  const mappedAt = new Map<string, boolean>();
  const { error, counts, undo } = await failingBoot(gpu, root, {
    onEvent: (e) => {
      const m = e.step === "fmc-boot-args" && e.phase === "end"
        ? e.detail?.match(/boot params at (0x[0-9a-f]+)/)
        : null;
      if (m) bootParams = BigInt(m[1]);
      if (e.phase === "end" && bootParams !== undefined) {
        mappedAt.set(e.step, liveIovas(gpu).includes(bootParams));
      }
    },
  });
  gpu.faults.disarm("gsp-rm-no-init-done");
  assert.equal(error.step, "init-done");
  assert.equal(error.phase, "after-response");
  // The common steps' guard shuts GSP-RM down first; then this phase's undo, in its order.
  assert.deepEqual(undo, UNDO_STEPS);
  assert.deepEqual([counts.flr, counts.falconResets], [1, 1]);
  assert(counts.cpuctlReads > 0, "the halt wait read RISCV_CPUCTL.HALTED");
  assert.deepEqual(error.cleanupErrors, []);
  assert(bootParams !== undefined);
  assert.equal(mappedAt.get("gsp-halt"), true, "boot params unmapped before the GSP halted");
  assert.equal(mappedAt.get("falcon-reset"), true);
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(await bootsCleanly(gpu, root, true), []);
});

Deno.test("phase after-response: the lockdown-release step's own failure runs the same undo", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  // An abort in the lockdown wait: the FMC goes on and starts GSP-RM, which nobody asked to stop.
  let waits = 0;
  const { error, counts, undo } = await failingBoot(gpu, root, {
    abortWhen: (e) => e.step === "lockdown-release" && e.phase === "start" && waits++ === 0,
  });
  assert.equal(error.step, "lockdown-release");
  assert.equal(error.phase, "after-response");
  assert.deepEqual(undo, ["gsp-halt", "falcon-reset", "function-reset"]);
  assert.deepEqual([counts.flr, counts.falconResets], [1, 1]);
  assert(counts.cpuctlReads > 0);
  // GSP-RM was never told to unload, so it did not halt by itself: reported, not swallowed; the
  // falcon reset after it stopped the core, and the function reset cleaned up.
  for (const cleanup of error.cleanupErrors) {
    assert.match(String((cleanup as Error).message), /^gsp-halt: .*did not halt/);
  }
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(await bootsCleanly(gpu, root, true), []);
});

Deno.test("unload: the after-response undo, after the shutdown RPC, boot args freed last", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  const { device, counts } = countingDevice(gpu);
  const gsp = await bootGsp(device, bootOptions(root, true));
  const order: string[] = [];
  let mappedBeforeReset = 0;
  await gsp.unload({
    onStep: (e) => {
      if (e.phase === "start") order.push(e.step);
      if (e.step === "function-reset" && e.phase === "start") {
        mappedBeforeReset = liveIovas(gpu).length;
      }
    },
  });
  assert.deepEqual(order, UNDO_STEPS);
  assert.deepEqual([counts.flr, counts.falconResets], [1, 1]);
  assert(mappedBeforeReset > 0, "DMA memory was freed before the function reset");
  assert.deepEqual(gpu.residue(), []);
});
