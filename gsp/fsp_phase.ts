/**
 * The phases of an FSP-path boot (issue 11), and the error that names the
 * phase a failure happened in. Each phase undoes something different, and
 * the HAL (`hal_gh100.ts`) gives each its own `await using` scope:
 *
 * | phase | steps | what a failure undoes |
 * |---|---|---|
 * | `before-cot` | `identify` … `fmc-boot-args` | nothing on the GPU (host memory is freed) |
 * | `cot-send` | `fsp-cot-send`, `fsp-cot-response` | a function-level reset |
 * | `after-response` | `lockdown-release` and every later step | wait for the GSP to halt, falcon reset, function-level reset |
 *
 * The FMC boot args stay DMA-mapped until the GSP has halted: the memory
 * scope encloses the three.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GspBootError } from "./boot_steps.ts";
 * import { FSP_BOOT_PHASES, PhasedBootError, withPhase } from "./fsp_phase.ts";
 * const e = withPhase(new GspBootError("fsp-cot-response", new Error("0xa1"), 0xa1), "cot-send");
 * assert(e instanceof GspBootError && e instanceof PhasedBootError);
 * assert.equal(e.phase, "cot-send");
 * assert.equal(e.step, "fsp-cot-response");
 * assert.equal(e.code, 0xa1);
 * assert.deepEqual(FSP_BOOT_PHASES, ["before-cot", "cot-send", "after-response"]);
 * ```
 *
 * @module
 */

import { GspBootError, toBootError } from "./boot_steps.ts";

/** The phases, in order. */
export const FSP_BOOT_PHASES = ["before-cot", "cot-send", "after-response"] as const;

/** One phase of an FSP-path boot. */
export type FspBootPhase = (typeof FSP_BOOT_PHASES)[number];

/**
 * A {@linkcode GspBootError} that also names the boot's phase, and so which
 * undo ran after it. The step, the cause, the hardware's code and the
 * cleanup failures are the original error's.
 */
export class PhasedBootError extends GspBootError {
  /** The phase the failure happened in. */
  readonly phase: FspBootPhase;

  /**
   * Construct it from the step's error.
   *
   * @param phase The phase.
   * @param original The error the step failed with.
   */
  constructor(phase: FspBootPhase, original: GspBootError) {
    super(original.step, original.cause, original.code);
    this.phase = phase;
    this.message = `${original.message} [phase ${phase}]`;
    this.cleanupErrors = original.cleanupErrors;
    this.cleanup = original.cleanup;
    this.crashBundle = original.crashBundle;
    this.crashBundleError = original.crashBundleError;
    if (original.stack) this.stack = original.stack;
  }
}

/**
 * The error, as a {@linkcode PhasedBootError} of `phase`. An error that
 * already names a phase keeps it (the innermost phase is where it failed).
 *
 * @param error What was thrown (a `SuppressedError` is opened as `toBootError` does).
 * @param phase The phase.
 * @param step The step to name when the error names none.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withPhase } from "./fsp_phase.ts";
 * const inner = withPhase(new Error("boom"), "cot-send", "fsp-cot-send");
 * assert.equal(withPhase(inner, "after-response").phase, "cot-send");
 * ```
 */
export function withPhase(
  error: unknown,
  phase: FspBootPhase,
  step = "identify",
): PhasedBootError {
  const named = toBootError(error, step);
  if (named instanceof PhasedBootError) return named;
  return new PhasedBootError(phase, named);
}

/**
 * Run one phase's work: a failure leaves it as a {@linkcode PhasedBootError}
 * before any `await using` scope around the call unwinds, so that the
 * unwinding's failures attach to it.
 *
 * @param phase The phase.
 * @param body The work.
 * @returns What `body` returned.
 * @throws {PhasedBootError} Naming the phase.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inPhase, PhasedBootError } from "./fsp_phase.ts";
 * await assert.rejects(
 *   inPhase("before-cot", () => Promise.reject(new Error("no FSP"))),
 *   (e) => e instanceof PhasedBootError && e.phase === "before-cot",
 * );
 * ```
 */
export async function inPhase<T>(phase: FspBootPhase, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    throw withPhase(e, phase);
  }
}
