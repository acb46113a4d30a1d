// The GPU-host suite: boot and unload the GSP of a real GPU, and unwind from an abort at every
// step and at the first wait of every step, checking after each case that WPR2 is clear and the
// GSP halted. It writes to the GPU, so it runs only when both variables say so:
//
//   FALCONRY_TEST_DEVICE=0000:01:00.0 FALCONRY_TEST_ALLOW_BOOT=1 deno test -A tests/gpu_host_boot_test.ts
//
// The GPU must be bound to vfio-pci (openDevice refuses one a kernel driver holds). With
// FALCONRY_TEST_DEVICE alone, tests/pci_hardware_test.ts runs its read-only checks and these skip.

import assert from "node:assert/strict";
import { bootGsp, type BootStepEvent, GspBootError } from "../gsp/mod.ts";
import { probeDevice } from "../gpu/mod.ts";
import { openGpu } from "../open_gpu.ts";
import type { Clock } from "../pci/clock.ts";
import type { Device } from "../pci/device.ts";

const bdf = Deno.env.get("FALCONRY_TEST_DEVICE");
const allowBoot = Deno.env.get("FALCONRY_TEST_ALLOW_BOOT") === "1";
const firmwareDir = Deno.env.get("FALCONRY_FIRMWARE_DIR");

/** Why these tests skip, or "" when they run. */
export function gpuHostSkipReason(device: string | undefined, allow: boolean): string {
  if (!device) return "FALCONRY_TEST_DEVICE not set";
  if (!allow) return "FALCONRY_TEST_ALLOW_BOOT=1 not set: booting writes to the GPU";
  return "";
}

const skip = gpuHostSkipReason(bdf, allowBoot);
const named = (name: string) => skip ? `${name} (skipped: ${skip})` : name;

/** WPR2 clear and the GSP's RISC-V core not running: the state the next boot needs. */
function assertClean(device: Device, when: string): void {
  const report = probeDevice(device.bar0);
  assert.equal(report.wpr2.status, "not-set", `${when}: WPR2 is still set`);
  assert.equal(report.gspRiscvActive, false, `${when}: the GSP is still running`);
}

/** `device` with a clock that aborts `controller` at its `abortAt`-th sleep (from 1). */
function abortingDevice(device: Device, controller: AbortController, abortAt: number) {
  let sleeps = 0;
  const clock: Clock = {
    now: () => device.clock.now(),
    sleep: (ms, signal) => {
      sleeps++;
      if (sleeps === abortAt) controller.abort(new DOMException("interrupted", "AbortError"));
      return device.clock.sleep(ms, signal);
    },
  };
  const wrapped: Device = {
    info: device.info,
    bar0: device.bar0,
    config: device.config,
    dma: device.dma,
    readOnly: device.readOnly,
    reset: device.reset,
    clock,
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return { device: wrapped, sleeps: () => sleeps };
}

Deno.test("gpu host: the skip reasons say what is missing", () => {
  assert.match(gpuHostSkipReason(undefined, true), /FALCONRY_TEST_DEVICE/);
  assert.match(gpuHostSkipReason("0000:01:00.0", false), /FALCONRY_TEST_ALLOW_BOOT/);
  assert.equal(gpuHostSkipReason("0000:01:00.0", true), "");
});

type Open = () => Promise<Device>;

async function bootTwice(open: Open): Promise<void> {
  {
    await using gpu = await open();
    assertClean(gpu, "before the boot");
    for (const round of [1, 2]) {
      const gsp = await bootGsp(gpu, { firmwareDir });
      assert.ok(gsp.staticInfo.boardName.length > 0);
      assert.ok(gsp.wpr2.end > gsp.wpr2.start);
      await gsp.unload();
      assertClean(gpu, `after unload ${round}`);
    }
  }
}

async function abortAtEachStep(open: Open, t: Deno.TestContext): Promise<void> {
  {
    await using gpu = await open();
    const order: string[] = [];
    const gsp = await bootGsp(gpu, {
      firmwareDir,
      onStep: (e: BootStepEvent) => void (e.phase === "start" && order.push(e.step)),
    });
    await gsp.unload();
    for (const [i, step] of order.entries()) {
      await t.step(`abort as ${step} starts`, async () => {
        const controller = new AbortController();
        const error = await bootGsp(gpu, {
          firmwareDir,
          signal: controller.signal,
          onStep: (e) => void (e.step === step && e.phase === "start" && controller.abort()),
        }).then(() => assert.fail("booted"), (e) => e);
        assert.ok(error instanceof GspBootError, String(error));
        assert.ok(order.indexOf(error.step) >= i, `${error.step} failed before ${step}`);
        assert.deepEqual(error.cleanupErrors, []);
        assertClean(gpu, `after the abort at ${step}`);
      });
    }
  }
}

async function abortAtEachFirstWait(open: Open, t: Deno.TestContext): Promise<void> {
  {
    await using gpu = await open();
    // A clean boot, counting sleeps, to learn which sleep is each step's first wait.
    const firstSleep = new Map<string, number>();
    {
      const { device, sleeps } = abortingDevice(gpu, new AbortController(), 0);
      let step = "";
      let at = 0;
      const gsp = await bootGsp(device, {
        firmwareDir,
        onStep: (e) => {
          if (e.phase === "start") [step, at] = [e.step, sleeps()];
          if (e.phase === "end" && sleeps() > at && !firstSleep.has(step)) {
            firstSleep.set(step, at + 1);
          }
        },
      });
      await gsp.unload();
    }
    for (const [step, abortAt] of firstSleep) {
      await t.step(`abort in ${step}'s first wait`, async () => {
        const controller = new AbortController();
        const { device } = abortingDevice(gpu, controller, abortAt);
        const error = await bootGsp(device, { firmwareDir, signal: controller.signal })
          .then(() => assert.fail("booted"), (e) => e);
        assert.ok(error instanceof GspBootError, String(error));
        assert.deepEqual(error.cleanupErrors, []);
        assertClean(gpu, `after the abort in ${step}`);
      });
    }
  }
}

const CASES = [
  ["boot and unload the GSP, then boot again", (open: Open) => bootTwice(open)],
  ["an abort as each boot step starts unwinds to a clean GPU", abortAtEachStep],
  ["an abort at the first wait of each step unwinds to a clean GPU", abortAtEachFirstWait],
] as const;

for (const [name, run] of CASES) {
  Deno.test({
    name: named(`gpu host: ${name}`),
    ignore: skip !== "",
    fn: (t) => run(() => openGpu(bdf!), t),
  });
  // The same checks on a simulated GPU, so that the suite itself is known to work before it
  // meets hardware (a simulated GPU boots from just powered on, so GFW boot waits too).
  Deno.test(`gpu host suite on a simulated TU102: ${name}`, (t) =>
    run(() => openGpu({ sim: "tu102", firmwareDir }), t));
}
