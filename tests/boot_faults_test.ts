// The fault matrix of the boot (gsp/boot.ts, gsp/hal_tu102.ts) on simulated TU102, GA102 and AD102 with
// the simulator's forged firmware:
//
// - every fault point the simulator registers (sim/faults.ts sec2PathPoints()), so that a new point
//   cannot be forgotten: a point missing from EXPECTED fails the matrix;
// - an abort at every wait: the boot is aborted at the first clock sleep of each step that
//   sleeps.
//
// Each case: the boot (or, for the unload's faults, the unload) fails with a GspBootError naming
// the step; the unwinding's own failures are attached, not swallowed; the residue is empty, or it
// is the residue EXPECTED says the hardware leaves (then the recovery EXPECTED names runs); and a
// second boot on the same simulated GPU succeeds. Deno's sanitizers check for leaks.

import assert from "node:assert/strict";
import { BootError } from "../errors.ts";
import { bootGsp, GspBootError } from "../gsp/mod.ts";
import type { Clock } from "../pci/clock.ts";
import type { Device } from "../pci/device.ts";
import { faultPointsFor } from "../sim/mod.ts";
import { chipByName } from "../chips/chips.ts";

/** The fault points of the SEC2 boot path (TU102, GA102 and AD102 share them). */
const sec2PathPoints = () => faultPointsFor(chipByName("tu102")!);
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { unloadGsp } from "../gsp/unload.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";

/** What a fault point does to a boot, and what it leaves. */
interface Expected {
  /** The step that fails. */
  step: string;
  /** The boot succeeds and the unload fails at `step`; or both succeed (`step: ""`). */
  during?: "boot" | "unload";
  /** Parameters to arm it with. */
  params?: Record<string, unknown>;
  /** The unwinding fails too (the fault is still armed while it runs): a cleanup error attached. */
  cleanupFails?: boolean;
  /**
   * Residue the hardware keeps after the unwinding: the blocks it may name (PFB at least), and how
   * the test recovers.
   */
  residue?: { blocks: string[]; recover: "unload" | "power-cycle"; why: string };
  /** Bus violations the fault itself causes (writes while the GPU did not answer…). */
  violations?: boolean;
}

const EXPECTED: Record<string, Expected> = {
  "bus-fall-off": {
    step: "fwsec-frts",
    params: { afterAccesses: 3000 },
    cleanupFails: true,
    residue: {
      blocks: ["GSP falcon", "PFB"],
      recover: "power-cycle",
      why: "a GPU off the bus takes no write: nothing can be unwound until a power cycle",
    },
    violations: true,
  },
  "fwsec-error-code": { step: "fwsec-frts" },
  "fwsec-hang": { step: "fwsec-frts", cleanupFails: true },
  "fwsec-wpr2-unset": { step: "fwsec-frts" },
  "gsp-rm-bad-checksum": { step: "sequencer", cleanupFails: true },
  "gsp-rm-never-halts-after-unload": { step: "", during: "unload" },
  "gsp-rm-no-init-done": { step: "init-done" },
  "gsp-rm-sequencer-poll-timeout": { step: "sequencer" },
  "gsp-rm-unload-never-suspends": { step: "gsp-suspend", during: "unload" },
  "dma-fault": { step: "fwsec-frts", violations: true },
  "booter-bad-signature": {
    step: "booter-load",
    cleanupFails: true,
    residue: {
      blocks: ["PFB"],
      recover: "unload",
      why: "the armed fault rejects Booter-unload's signature too, so WPR2 stays until an unload",
    },
  },
  "booter-timeout": {
    step: "booter-load",
    cleanupFails: true,
    residue: {
      blocks: ["PFB"],
      recover: "unload",
      why: "the armed fault hangs Booter-unload too, so WPR2 stays until an unload",
    },
  },
  "riscv-never-active": { step: "riscv-active" },
};

const CHIPS = ["tu102", "ga102", "ad102"];

Deno.test("fault matrix: every registered fault point has an expectation", () => {
  const points = sec2PathPoints().map((p) => p.name).sort();
  assert.deepEqual(points, Object.keys(EXPECTED).sort());
});

async function bootsCleanly(gpu: SimulatedGpu, root: string): Promise<void> {
  const gsp = await bootGsp(gpu, { firmwareDir: root });
  await gsp.unload();
  assert.deepEqual(gpu.residue(), []);
}

function blocks(gpu: SimulatedGpu): string[] {
  return [...new Set(gpu.residue().map((r) => r.block))].sort();
}

for (const chip of CHIPS) {
  for (const point of sec2PathPoints()) {
    const expected = EXPECTED[point.name];
    if (!expected) continue; // the test above fails
    const name = `fault matrix: ${chip}, ${point.name} fails ${
      expected.step || "nothing"
    } and leaves ${
      expected.residue ? `${expected.residue.blocks} (${expected.residue.why})` : "no residue"
    }`;
    Deno.test(name, async () => {
      const root = await forgedFirmwareRoot(chip);
      await using gpu = await gpuFor(chip, root);
      gpu.faults.arm(point.name, expected.params ?? {});
      let error: unknown;
      if (expected.during === "unload") {
        const gsp = await bootGsp(gpu, { firmwareDir: root });
        error = await gsp.unload().then(() => undefined, (e) => e);
      } else {
        error = await bootGsp(gpu, { firmwareDir: root }).then(
          (gsp) => assert.fail(`booted: ${gsp.staticInfo.boardName}`),
          (e) => e,
        );
      }
      if (expected.step === "") {
        assert.equal(error, undefined);
      } else {
        assert(error instanceof BootError && error instanceof GspBootError, String(error));
        assert.equal(error.step, expected.step, error.message);
        assert.equal(error.cleanupErrors.length > 0, expected.cleanupFails ?? false, error.message);
        if (expected.cleanupFails) {
          assert(error.cleanup instanceof SuppressedError);
          assert.match(error.message, /cleanup also failed/);
        }
      }
      gpu.faults.disarm(point.name);
      if (!expected.violations) assert.deepEqual(gpu.violations(), []);
      if (expected.residue) {
        const left = blocks(gpu);
        assert(left.includes("PFB"), JSON.stringify(gpu.residue()));
        assert(left.every((b) => expected.residue!.blocks.includes(b)), JSON.stringify(left));
        if (expected.residue.recover === "power-cycle") gpu.powerCycle();
        else await unloadGsp(gpu, { firmwareDir: root });
      }
      assert.deepEqual(gpu.residue(), []);
      await bootsCleanly(gpu, root);
    });
  }
}

/** The device with a clock that aborts `controller` at its `abortAt`-th sleep (from 1). */
function abortingDevice(gpu: SimulatedGpu, controller: AbortController, abortAt: number): {
  device: Device;
  sleeps: () => number;
} {
  let sleeps = 0;
  const clock: Clock = {
    now: () => gpu.clock.now(),
    sleep: (ms, signal) => {
      sleeps++;
      if (sleeps === abortAt) controller.abort(new DOMException("interrupted", "AbortError"));
      return gpu.clock.sleep(ms, signal);
    },
  };
  const device: Device = {
    info: gpu.info,
    bar0: gpu.bar0,
    config: gpu.config,
    dma: gpu.dma,
    readOnly: gpu.readOnly,
    reset: gpu.reset,
    clock,
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return { device, sleeps: () => sleeps };
}

for (const chip of CHIPS) {
  Deno.test(`abort matrix: ${chip}, an abort at the first wait of every step unwinds`, async (t) => {
    const root = await forgedFirmwareRoot(chip);
    // A clean boot, to learn which sleep starts each step's waits.
    const firstSleep = new Map<string, number>();
    const steps: string[] = [];
    {
      // Just powered on, so that the GFW-boot wait has to wait too.
      await using gpu = await gpuFor(chip, root, { justPoweredOn: true });
      const { device, sleeps } = abortingDevice(gpu, new AbortController(), 0);
      let step = "";
      let at = 0;
      const gsp = await bootGsp(device, {
        firmwareDir: root,
        onStep: (e) => {
          if (e.phase === "start") [step, at] = [e.step, sleeps()];
          if (e.phase === "start") steps.push(e.step);
          if (e.phase === "end" && sleeps() > at && !firstSleep.has(step)) {
            firstSleep.set(step, at + 1);
          }
        },
      });
      await gsp.unload();
    }
    assert(firstSleep.has("gfw-boot") && firstSleep.size >= 5, JSON.stringify([...firstSleep]));
    for (const [step, abortAt] of firstSleep) {
      await t.step(`abort in ${step}'s wait (sleep ${abortAt})`, async () => {
        await using gpu = await gpuFor(chip, root, { justPoweredOn: true });
        const controller = new AbortController();
        const { device } = abortingDevice(gpu, controller, abortAt);
        const error = await bootGsp(device, { firmwareDir: root, signal: controller.signal })
          .then(() => assert.fail("booted"), (e) => e);
        assert(error instanceof GspBootError, String(error));
        assert.equal(error.step, step, error.message);
        assert.match(error.message, /aborted/);
        assert.deepEqual(error.cleanupErrors, []);
        assert.deepEqual(gpu.residue(), []);
        assert.deepEqual(gpu.violations(), []);
        await bootsCleanly(gpu, root);
      });
    }
  });
}

for (const chip of CHIPS) {
  Deno.test(`abort matrix: ${chip}, an abort as each step starts unwinds`, async (t) => {
    const root = await forgedFirmwareRoot(chip);
    const order: string[] = [];
    {
      await using gpu = await gpuFor(chip, root);
      const gsp = await bootGsp(gpu, {
        firmwareDir: root,
        onStep: (e) => e.phase === "start" && order.push(e.step),
      });
      await gsp.unload();
    }
    for (const [i, step] of order.entries()) {
      await t.step(`abort as ${step} starts`, async () => {
        await using gpu = await gpuFor(chip, root);
        const controller = new AbortController();
        const error = await bootGsp(gpu, {
          firmwareDir: root,
          signal: controller.signal,
          onStep: (e) => {
            if (e.step === step && e.phase === "start") controller.abort();
          },
        }).then(() => assert.fail("booted"), (e) => e);
        assert(error instanceof GspBootError, String(error));
        // The step itself, or the next one that checks the signal, fails.
        assert(order.indexOf(error.step) >= i, `${error.step} before ${step}`);
        assert.match(error.message, /abort/);
        assert.deepEqual(error.cleanupErrors, []);
        assert.deepEqual(gpu.residue(), []);
        assert.deepEqual(gpu.violations(), []);
        await bootsCleanly(gpu, root);
      });
    }
  });
}

Deno.test("fault matrix: a fault in the unwinding is attached to the original error", async () => {
  const root = await forgedFirmwareRoot("ga102");
  await using gpu = await gpuFor("ga102", root);
  gpu.faults.arm("fwsec-error-code", { code: 0x7 });
  const error = await bootGsp(gpu, {
    firmwareDir: root,
    onStep: (e) => {
      // The HAL's unwinding runs FWSEC-SB: make it hang.
      if (e.step === "fwsec-sb" && e.phase === "start") gpu.faults.arm("fwsec-hang");
    },
  }).then(() => assert.fail("booted"), (e) => e);
  assert(error instanceof GspBootError, String(error));
  assert.equal(error.step, "fwsec-frts");
  assert.equal(error.code, 0x7);
  assert.equal(error.cleanupErrors.length, 1);
  const cleanup = error.cleanupErrors[0];
  assert(cleanup instanceof GspBootError && cleanup.step === "fwsec-sb", String(cleanup));
  assert.match(error.message, /cleanup also failed: fwsec-sb: .*timed out/);
  // The falcons were reset after all: nothing is left running.
  gpu.faults.disarm("fwsec-hang");
  gpu.faults.disarm("fwsec-error-code");
  assert.deepEqual(gpu.residue(), []);
  await bootsCleanly(gpu, root);
});
