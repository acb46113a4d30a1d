// The unwinding matrix of the boot (gsp/boot.ts, gsp/hal_tu102.ts) on simulated TU102, GA102 and
// AD102 with the simulator's forged firmware (issue 10, "Tests and measures"): a boot fault, and a
// second fault that hits the unwinding itself. The boot fault fails the HAL's boot (the HAL
// unwinds: the unload bundle, then the falcon resets) or a later step (Gsp.boot's guard unwinds:
// the shutdown RPC, then the same bundle).
//
// The cases are generated from sec2PathPoints() (sim/faults.ts), so that a new point cannot be
// forgotten: a point missing from BOOT_POINTS fails the matrix. Each boot fault is combined with
// every unwinding fault that applies to it:
//
// - FWSEC-SB hangs (always run);
// - Booter-unload fails: its signature is rejected, or it hangs (run only when WPR2 is set, that is
//   when the boot failed after FWSEC-FRTS set it);
// - both at once.
//
// The second fault is armed from the boot's step listener as its unwinding step starts; the boot
// fault is disarmed as the first unwinding step starts, so that the unwinding fails of the second
// fault alone. A baseline boot per point (the boot fault alone) gives the error to keep.
//
// Each case: the error is the baseline's (step, code, message; the original error is kept); its
// cleanupErrors name exactly the unwinding steps that failed, and so does its message; the residue
// is exactly what the unwinding could not undo (WPR2 in PFB when Booter-unload failed: the falcon
// resets that end the unwinding leave no falcon running), reported rather than hidden; a boot
// refuses that GPU; the recovery (`unloadGsp`, or a function-level reset) leaves no residue and a
// second boot on the same simulated GPU succeeds. Deno's sanitizers check for leaks.

import assert from "node:assert/strict";
import { bootGsp, GspBootError } from "../gsp/mod.ts";
import { unloadGsp } from "../gsp/unload.ts";
import { faultPointsFor } from "../sim/mod.ts";
import { chipByName } from "../chips/chips.ts";

/** The fault points of the SEC2 boot path (TU102, GA102 and AD102 share them). */
const sec2PathPoints = () => faultPointsFor(chipByName("tu102")!);
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";

/** A boot fault point: the step it fails, or why it is not in this matrix. */
type BootPoint =
  | {
    /** The HAL step that fails. */
    step: string;
    /** WPR2 is set when the step fails (FWSEC-FRTS set it), so the unwinding runs Booter-unload. */
    wpr2Set: boolean;
    /** The fault itself causes bus violations on some chips (a DMA fault). */
    violations?: boolean;
    /** The step is after the HAL's boot: Gsp.boot's guard unwinds (else the HAL does). */
    guard?: boolean;
    /** Unwinding steps that fail of the boot fault's aftermath alone (none unless listed). */
    unwindFails?: string[];
  }
  | { skip: string };

const BOOT_POINTS: Record<string, BootPoint> = {
  "bus-fall-off": {
    skip: "the GPU is off the bus: no unwinding step reaches it, so there is nothing for a " +
      "second fault to hit (boot_faults_test.ts covers it, with a power cycle)",
  },
  "dma-fault": { step: "fwsec-frts", wpr2Set: false, violations: true },
  "fwsec-error-code": { step: "fwsec-frts", wpr2Set: false },
  "fwsec-hang": { step: "fwsec-frts", wpr2Set: false },
  "fwsec-wpr2-unset": { step: "fwsec-frts", wpr2Set: false },
  "booter-bad-signature": { step: "booter-load", wpr2Set: true },
  "booter-timeout": { step: "booter-load", wpr2Set: true },
  // After the HAL's boot returned: Gsp.boot's guard runs the full unload, whose bundle is the same.
  "riscv-never-active": { step: "riscv-active", wpr2Set: true, guard: true },
  "gsp-rm-bad-checksum": {
    step: "sequencer",
    wpr2Set: true,
    guard: true,
    // The corrupt element stays at the head of the status queue: the shutdown RPC's reply read
    // meets it again, even with the fault disarmed.
    unwindFails: ["unloading-guest-driver"],
  },
  "gsp-rm-never-halts-after-unload": { skip: "a fault of the unload, not of the boot" },
  "gsp-rm-no-init-done": { step: "init-done", wpr2Set: true, guard: true },
  "gsp-rm-sequencer-poll-timeout": { step: "sequencer", wpr2Set: true, guard: true },
  "gsp-rm-unload-never-suspends": { skip: "a fault of the unload, not of the boot" },
};

/** A fault armed as an unwinding step starts. */
interface UnwindFault {
  /** The unwinding step it hits. */
  step: "fwsec-sb" | "booter-unload";
  /** The point armed as that step starts. */
  point: string;
  /** What the step's error says. */
  message: RegExp;
}

/** How the test brings back a GPU the unwinding left WPR2 on (both clear it: resets.md §1). */
type Recovery = "unload" | "function-level reset";

/**
 * The unwinding's faults, alone and together. `needsWpr2`: Booter-unload runs only then;
 * `recover`: how the residue it leaves is cleared (each recovery is used at least once).
 */
const UNWIND_FAULTS: {
  name: string;
  faults: UnwindFault[];
  needsWpr2: boolean;
  recover: Recovery;
}[] = [
  {
    name: "FWSEC-SB hangs",
    faults: [{ step: "fwsec-sb", point: "fwsec-hang", message: /timed out/ }],
    needsWpr2: false,
    recover: "unload",
  },
  {
    name: "Booter-unload's signature is rejected",
    faults: [{ step: "booter-unload", point: "booter-bad-signature", message: /MAILBOX0/ }],
    needsWpr2: true,
    recover: "unload",
  },
  {
    name: "Booter-unload hangs",
    faults: [{ step: "booter-unload", point: "booter-timeout", message: /timed out/ }],
    needsWpr2: true,
    recover: "function-level reset",
  },
  {
    name: "FWSEC-SB and Booter-unload hang",
    faults: [
      { step: "fwsec-sb", point: "fwsec-hang", message: /timed out/ },
      { step: "booter-unload", point: "booter-timeout", message: /timed out/ },
    ],
    needsWpr2: true,
    recover: "unload",
  },
];

/** The unwinding's steps, in order: the guard's shutdown RPC, then the HAL's unload bundle. */
const UNWIND_STEPS = ["unloading-guest-driver", "gsp-suspend", "fwsec-sb", "booter-unload"];

const CHIPS = ["tu102", "ga102", "ad102"];

Deno.test("unwinding matrix: every registered fault point is classified", () => {
  const points = sec2PathPoints().map((p) => p.name).sort();
  assert.deepEqual(points, Object.keys(BOOT_POINTS).sort());
});

/** The steps of a clean boot, in order; the HAL's are those before `riscv-active`. */
async function bootSteps(chip: string, root: string): Promise<{ hal: string[]; guard: string[] }> {
  await using gpu = await gpuFor(chip, root);
  const order: string[] = [];
  const gsp = await bootGsp(gpu, {
    firmwareDir: root,
    onStep: (e) => e.phase === "start" && order.push(e.step),
  });
  await gsp.unload();
  const end = order.indexOf("riscv-active");
  assert(end > 0, JSON.stringify(order));
  return { hal: order.slice(0, end), guard: order.slice(end) };
}

async function bootsCleanly(gpu: SimulatedGpu, root: string): Promise<void> {
  const gsp = await bootGsp(gpu, { firmwareDir: root });
  await gsp.unload();
  assert.deepEqual(gpu.residue(), []);
}

/** The steps the cleanup errors name, sorted. */
function stepsOf(errors: unknown[]): string[] {
  return errors.map((c) => c instanceof GspBootError ? c.step : String(c)).sort();
}

/** A boot error's message without the cleanup failures it lists. */
function headOf(message: string): string {
  return message.split(" (cleanup also failed: ")[0];
}

/**
 * Boot with `point` armed; as each unwinding step starts, disarm it (the unwinding then fails only
 * of the faults armed for it) and arm only that step's faults. The boot's error.
 */
async function failingBoot(
  gpu: SimulatedGpu,
  root: string,
  point: string,
  faults: UnwindFault[],
): Promise<unknown> {
  gpu.faults.arm(point);
  const error = await bootGsp(gpu, {
    firmwareDir: root,
    onStep: (e) => {
      if (e.phase !== "start" || !UNWIND_STEPS.includes(e.step)) return;
      gpu.faults.disarm(point);
      for (const f of faults) gpu.faults.disarm(f.point);
      for (const f of faults) if (f.step === e.step) gpu.faults.arm(f.point);
    },
  }).then((gsp) => assert.fail(`booted: ${gsp.staticInfo.boardName}`), (e) => e);
  for (const f of faults) gpu.faults.disarm(f.point);
  gpu.faults.disarm(point);
  return error;
}

for (const chip of CHIPS) {
  Deno.test(`unwinding matrix: ${chip}, every boot fault`, async (t) => {
    const root = await forgedFirmwareRoot(chip);
    const steps = await bootSteps(chip, root);
    for (const point of sec2PathPoints()) {
      const expected = BOOT_POINTS[point.name];
      if (!expected || "skip" in expected) continue; // the test above fails for a missing one
      const phase = expected.guard ? steps.guard : steps.hal;
      assert(phase.includes(expected.step), `${expected.step} is not in ${phase}`);
      // The boot fault alone (disarmed as the unwinding starts): the error the matrix must keep,
      // and an unwinding that leaves nothing.
      const baseline = await (async () => {
        await using gpu = await gpuFor(chip, root);
        const error = await failingBoot(gpu, root, point.name, []);
        assert(error instanceof GspBootError, String(error));
        assert.equal(error.step, expected.step, error.message);
        assert.deepEqual(stepsOf(error.cleanupErrors), expected.unwindFails ?? [], error.message);
        assert.deepEqual(gpu.residue(), []);
        return error;
      })();
      for (const unwind of UNWIND_FAULTS) {
        if (unwind.needsWpr2 && !expected.wpr2Set) continue;
        const failing = unwind.faults.map((f) => f.step);
        const leavesWpr2 = failing.includes("booter-unload");
        await t.step(
          `${point.name} fails ${expected.step}, then ${unwind.name}: ${
            leavesWpr2 ? `WPR2 left and reported, cleared by ${unwind.recover}` : "nothing left"
          }`,
          async () => {
            await using gpu = await gpuFor(chip, root);
            const error = await failingBoot(gpu, root, point.name, unwind.faults);

            // The original error is kept.
            assert(error instanceof GspBootError, String(error));
            assert.equal(error.step, expected.step, error.message);
            assert.equal(error.code, baseline.code, error.message);
            assert.equal(headOf(error.message), headOf(baseline.message));
            // The unwinding's failures are attached, one per failing step, naming it.
            const cleanups = error.cleanupErrors;
            assert.deepEqual(
              stepsOf(cleanups),
              [...new Set([...failing, ...expected.unwindFails ?? []])].sort(),
              error.message,
            );
            for (const f of unwind.faults) {
              const cleanup = cleanups.find((c) => c instanceof GspBootError && c.step === f.step);
              assert.match(String((cleanup as Error).message), f.message);
              assert(
                gpu.faults.history().some((h) => h.name === f.point),
                `${f.point} never fired`,
              );
            }
            assert(error.cleanup instanceof SuppressedError);
            assert.match(error.message, /cleanup also failed: /);
            for (const step of failing) assert.match(error.message, new RegExp(`${step}: `));
            if (!expected.violations) assert.deepEqual(gpu.violations(), []);

            // The residue is reported: WPR2 when Booter-unload failed; the falcons were reset.
            const blocks = [...new Set(gpu.residue().map((r) => r.block))].sort();
            assert.deepEqual(blocks, leavesWpr2 ? ["PFB"] : [], JSON.stringify(gpu.residue()));
            if (leavesWpr2) {
              // A boot refuses the dirty GPU until the unload has run.
              const refused = await bootGsp(gpu, { firmwareDir: root }).then(
                () => assert.fail("booted a GPU with WPR2 set"),
                (e) => e,
              );
              assert(refused instanceof GspBootError, String(refused));
              assert.equal(refused.step, "wpr2-check", refused.message);
              assert.match(refused.message, /needs reset|WPR2/i);
              if (unwind.recover === "unload") await unloadGsp(gpu, { firmwareDir: root });
              else await gpu.reset.functionLevel();
            }
            assert.deepEqual(gpu.residue(), []);
            await bootsCleanly(gpu, root);
          },
        );
      }
    }
  });
}
