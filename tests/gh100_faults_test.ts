// The fault matrix of the GH100 boot (gsp/hal_gh100.ts through gsp/boot.ts) on a simulated GH100
// with the simulator's forged firmware:
//
// - every fault point the simulator registers for the FSP path (sim/mod.ts faultPointsFor), so
//   that a new point cannot be forgotten: a point missing from EXPECTED fails the matrix;
// - an abort at the first clock sleep of every step that waits (the FSP's secure boot, its COT
//   response, the lockdown release, and the common waits), and an abort as each step starts.
//
// Each case: the boot (or, for the unload's faults, the unload) fails with a PhasedBootError that
// names the step and, for a boot, the phase; the unwinding's own failures are attached, not
// swallowed; the residue is empty; and a second boot on the same simulated GPU succeeds. Deno's
// sanitizers check for leaks.

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { bootGsp } from "../gsp/boot.ts";
import { GH100_BOOT_STEPS, GspBootError } from "../gsp/boot_steps.ts";
import { type FspBootPhase, PhasedBootError } from "../gsp/fsp_phase.ts";
import { phaseOfStep } from "../gsp/hal_gh100.ts";
import { faultPointsFor, type SimulatedGpu } from "../sim/mod.ts";
import { bootOptions, bootsCleanly, countingDevice, forgedGh100Root, gh100For } from "./_gh100.ts";

const GH100 = chipByName("gh100")!;

/** What a fault point does to a GH100 boot. */
interface Expected {
  /** The step that fails. */
  step: string;
  /** The phase it fails in (a boot's failure). */
  phase?: FspBootPhase;
  /** The boot succeeds and the unload fails at `step`. */
  during?: "unload";
  /** Parameters to arm it with. */
  params?: Record<string, unknown>;
  /** The cleanup failures attached, by step (the fault is still armed while it unwinds). */
  cleanup?: string[];
  /** The fault leaves violations (writes to a GPU that is off the bus…). */
  violations?: boolean;
  /** Recover with a power cycle before the next boot (a GPU off the bus). */
  powerCycle?: boolean;
  /** Why, when it is not obvious. */
  why?: string;
}

const EXPECTED: Record<string, Expected> = {
  "bus-fall-off": {
    step: "fsp-cot-response",
    phase: "cot-send",
    params: { atOffset: 0x8f2c00, write: true },
    cleanup: ["function-reset"],
    violations: true,
    powerCycle: true,
    why: "the GPU falls off the bus as the COT message is posted: the response wait reads all " +
      "ones, and no reset reaches it",
  },
  "fsp-cot-error-response": { step: "fsp-cot-response", phase: "cot-send" },
  "fsp-fmc-dma-fault": { step: "fsp-cot-response", phase: "cot-send" },
  "fsp-no-response": { step: "fsp-cot-response", phase: "cot-send" },
  "fsp-lockdown-held": {
    step: "lockdown-release",
    phase: "after-response",
    cleanup: ["falcon-reset", "gsp-halt"],
    why: "the lockdown hides the GSP from the halt wait and the falcon reset; the function " +
      "reset ends it",
  },
  "gsp-never-halts": {
    step: "gsp-halt",
    during: "unload",
    why: "the falcon reset and the function reset after the wait still run",
  },
  "gsp-rm-bad-checksum": {
    step: "init-done",
    phase: "after-response",
    cleanup: ["unloading-guest-driver"],
    why: "the shutdown RPC's receive meets the same bad message",
  },
  "gsp-rm-never-halts-after-unload": { step: "gsp-halt", during: "unload" },
  "gsp-rm-no-init-done": { step: "init-done", phase: "after-response" },
  "gsp-rm-unload-never-suspends": {
    step: "gsp-suspend",
    during: "unload",
    cleanup: ["gsp-halt"],
  },
  "dma-fault": {
    step: "fsp-cot-response",
    phase: "cot-send",
    why: "the FSP's first DMA (the FMC image) faults",
  },
};

Deno.test("gh100 fault matrix: every FSP-path fault point has an expectation", () => {
  const points = faultPointsFor(GH100).map((p) => p.name).sort();
  assert.deepEqual(points, Object.keys(EXPECTED).sort());
});

function stepOf(e: unknown): string {
  return e instanceof GspBootError ? e.step : String(e);
}

for (const point of faultPointsFor(GH100)) {
  const expected = EXPECTED[point.name];
  if (!expected) continue; // the test above fails
  const name = `gh100 fault matrix: ${point.name} fails ${expected.step}${
    expected.phase ? ` in ${expected.phase}` : ` during the ${expected.during}`
  }${expected.why ? ` (${expected.why})` : ""}`;
  Deno.test(name, async () => {
    const root = await forgedGh100Root();
    await using gpu = await gh100For(root);
    gpu.faults.arm(point.name, expected.params ?? {});
    let error: unknown;
    if (expected.during === "unload") {
      const gsp = await bootGsp(gpu, bootOptions(root, true));
      error = await gsp.unload().then(() => assert.fail("unloaded"), (e) => e);
    } else {
      error = await bootGsp(gpu, bootOptions(root, true)).then(
        (gsp) => assert.fail(`booted: ${gsp.staticInfo.boardName}`),
        (e) => e,
      );
    }
    assert(error instanceof GspBootError, String(error));
    assert.equal(error.step, expected.step, error.message);
    if (expected.phase) {
      assert(error instanceof PhasedBootError, error.message);
      assert.equal(error.phase, expected.phase);
      assert.equal(phaseOfStep(error.step as (typeof GH100_BOOT_STEPS)[number]), error.phase);
    }
    assert.deepEqual(error.cleanupErrors.map(stepOf).sort(), expected.cleanup ?? [], error.message);
    if (expected.cleanup) assert.match(error.message, /cleanup also failed/);
    gpu.faults.disarm(point.name);
    if (!expected.violations) assert.deepEqual(gpu.violations(), []);
    if (expected.powerCycle) gpu.powerCycle();
    assert.deepEqual(gpu.residue(), []);
    assert.deepEqual(await bootsCleanly(gpu, root, true), []);
  });
}

Deno.test("gh100 fault matrix: a fault in the unwinding is attached to the original error", async () => {
  const root = await forgedGh100Root();
  await using gpu = await gh100For(root);
  gpu.faults.arm("gsp-rm-no-init-done");
  const error = await bootGsp(
    gpu,
    bootOptions(root, true, {
      onStep: (e) => {
        // The after-response undo waits for the halt: make the GSP never halt.
        if (e.step === "init-done" && e.phase === "start") gpu.faults.arm("gsp-never-halts");
      },
    }),
  ).then(() => assert.fail("booted"), (e) => e);
  assert(error instanceof PhasedBootError, String(error));
  assert.equal(error.step, "init-done");
  assert.equal(error.phase, "after-response");
  assert.deepEqual(error.cleanupErrors.map(stepOf), ["gsp-halt"]);
  assert.match(error.message, /cleanup also failed: gsp-halt: .*did not halt in 5000 ms/);
  gpu.faults.disarm("gsp-never-halts");
  gpu.faults.disarm("gsp-rm-no-init-done");
  // The falcon reset and the function reset ran after the failed wait: nothing is left.
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(await bootsCleanly(gpu, root, true), []);
});

/** A GH100 whose FSP has just been reset: its secure boot runs again, so that wait waits. */
async function freshGh100(root: string): Promise<SimulatedGpu> {
  const gpu = await gh100For(root);
  await gpu.reset.functionLevel();
  return gpu;
}

/** Cleanup failures an abort may leave: GSP-RM, never told to unload, does not halt by itself. */
const ABORT_CLEANUP: Partial<Record<string, string[]>> = { "lockdown-release": ["gsp-halt"] };

Deno.test("gh100 abort matrix: an abort at the first wait of every step unwinds", async (t) => {
  const root = await forgedGh100Root();
  const firstSleep = new Map<string, number>();
  {
    await using gpu = await freshGh100(root);
    const { device, sleeps } = countingDevice(gpu);
    let step = "";
    let at = 0;
    const gsp = await bootGsp(
      device,
      bootOptions(root, true, {
        onStep: (e) => {
          if (e.phase === "start") [step, at] = [e.step, sleeps()];
          if (e.phase === "end" && sleeps() > at && !firstSleep.has(step)) {
            firstSleep.set(step, at + 1);
          }
        },
      }),
    );
    await gsp.unload();
  }
  // Every new wait of the FSP path is among them.
  for (const step of ["fsp-secure-boot", "fsp-cot-response", "lockdown-release"]) {
    assert(firstSleep.has(step), `${step} never waited: ${JSON.stringify([...firstSleep])}`);
  }
  for (const [step, abortAt] of firstSleep) {
    await t.step(`abort in ${step}'s wait (sleep ${abortAt})`, async () => {
      await using gpu = await freshGh100(root);
      const controller = new AbortController();
      const { device } = countingDevice(gpu, { controller, abortAt });
      const error = await bootGsp(device, bootOptions(root, true, { signal: controller.signal }))
        .then(() => assert.fail("booted"), (e) => e);
      assert(error instanceof PhasedBootError, String(error));
      assert.equal(error.step, step, error.message);
      assert.equal(error.phase, phaseOfStep(step as (typeof GH100_BOOT_STEPS)[number]));
      assert.match(error.message, /aborted/);
      assert.deepEqual(error.cleanupErrors.map(stepOf), ABORT_CLEANUP[step] ?? [], error.message);
      assert.deepEqual(gpu.residue(), []);
      assert.deepEqual(gpu.violations(), []);
      assert.deepEqual(await bootsCleanly(gpu, root, true), []);
    });
  }
});

Deno.test("gh100 abort matrix: an abort as each step starts unwinds", async (t) => {
  const root = await forgedGh100Root();
  for (const [i, step] of GH100_BOOT_STEPS.entries()) {
    await t.step(`abort as ${step} starts`, async () => {
      await using gpu = await gh100For(root);
      const controller = new AbortController();
      const error = await bootGsp(
        gpu,
        bootOptions(root, true, {
          signal: controller.signal,
          onStep: (e) => {
            if (e.step === step && e.phase === "start") controller.abort();
          },
        }),
      ).then(() => assert.fail("booted"), (e) => e);
      assert(error instanceof PhasedBootError, String(error));
      // The step itself, or the next one that checks the signal, fails, in its own phase.
      const failed = GH100_BOOT_STEPS.indexOf(error.step as (typeof GH100_BOOT_STEPS)[number]);
      assert(failed >= i, `${error.step} before ${step}`);
      assert.equal(error.phase, phaseOfStep(GH100_BOOT_STEPS[failed]));
      assert.match(error.message, /abort/);
      assert.deepEqual(
        error.cleanupErrors.map(stepOf),
        ABORT_CLEANUP[error.step] ?? [],
        error.message,
      );
      assert.deepEqual(gpu.residue(), []);
      assert.deepEqual(gpu.violations(), []);
      assert.deepEqual(await bootsCleanly(gpu, root, true), []);
    });
  }
});
