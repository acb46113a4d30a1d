// Tests of gsp/fsp_phase.ts: a failure inside a phase is named by that phase before the `await
// using` scopes around it unwind, so the unwinding's failures attach to it (a SuppressedError
// chain opened by toBootError), the step and the hardware code are kept, and an error that already
// names a phase keeps the innermost one.

import assert from "node:assert/strict";
import { BootSteps, GspBootError, HardwareCodeError, toBootError } from "../gsp/boot_steps.ts";
import { inPhase, PhasedBootError, withPhase } from "../gsp/fsp_phase.ts";
import { ManualClock } from "../pci/clock.ts";

Deno.test("inPhase: the phase is named, then the scope's failing undo is attached to it", async () => {
  const steps = new BootSteps(new ManualClock());
  const undone: string[] = [];
  const run = async () => {
    await using scope = new AsyncDisposableStack();
    scope.defer(() => {
      undone.push("function-reset");
      throw new Error("reset refused");
    });
    await inPhase(
      "cot-send",
      () =>
        steps.run(
          "fsp-cot-response" as never,
          () => Promise.reject(new HardwareCodeError("FSP error 0xa1", { code: 0xa1 })),
        ),
    );
  };
  const thrown = await run().then(() => assert.fail("no error"), (e) => e);
  assert(thrown instanceof SuppressedError, String(thrown));
  const error = toBootError(thrown, "identify");
  assert(error instanceof PhasedBootError && error instanceof GspBootError);
  assert.equal(error.phase, "cot-send");
  assert.equal(error.step, "fsp-cot-response");
  assert.equal(error.code, 0xa1);
  assert.deepEqual(undone, ["function-reset"]);
  assert.deepEqual(error.cleanupErrors.map((e) => (e as Error).message), ["reset refused"]);
  assert.match(error.message, /\[phase cot-send\].*cleanup also failed: reset refused/);
});

Deno.test("withPhase: an error that names a phase keeps the innermost one", () => {
  const inner = withPhase(new GspBootError("lockdown-release", new Error("x")), "after-response");
  assert.equal(withPhase(inner, "cot-send"), inner);
  const plain = withPhase(new Error("not a step error"), "before-cot", "fsp-secure-boot");
  assert.equal(plain.step, "fsp-secure-boot");
  assert.equal(plain.phase, "before-cot");
});

Deno.test("withPhase: cleanup attached before the phase is named stays attached", () => {
  const original = new GspBootError("init-done", new Error("no INIT_DONE"));
  original.attachCleanup(new SuppressedError(new Error("GSP never halted"), original, ""));
  const named = withPhase(original, "after-response");
  assert.equal(named.cleanupErrors.length, 1);
  assert(named.cleanup instanceof SuppressedError);
  assert.match(named.message, /GSP never halted.*\[phase after-response\]/);
});
