/**
 * The steps of a GSP boot and unload, as the CLIs show them: stable names,
 * `start`/`end`/`fail` events timed on the device's clock, and the error
 * every failed step becomes ({@linkcode GspBootError}, a `BootError` naming
 * the step, with the hardware's code when there is one and the cleanup
 * failures attached).
 *
 * @example Running two steps and failing the second
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { BootSteps, GspBootError } from "./boot_steps.ts";
 *
 * const events: string[] = [];
 * const steps = new BootSteps(new ManualClock(), (e) => events.push(`${e.step}:${e.phase}`));
 * await steps.run("gfw-boot", () => Promise.resolve());
 * await assert.rejects(
 *   steps.run("vbios", () => Promise.reject(new Error("no ROM"))),
 *   (e) => e instanceof GspBootError && e.step === "vbios" && /no ROM/.test(e.message),
 * );
 * assert.deepEqual(events, ["gfw-boot:start", "gfw-boot:end", "vbios:start", "vbios:fail"]);
 * assert.deepEqual(steps.completed.map((s) => s.step), ["gfw-boot"]);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { BootError } from "../errors.ts";
import { FalconError } from "../falcon/falcon_error.ts";
import type { Clock } from "../pci/clock.ts";
import { RpcError } from "./rpc.ts";

const log = getLogger(["falconry", "gsp", "boot_steps"]);

/** The boot steps, in the order they run. */
export const BOOT_STEPS = [
  "identify",
  "firmware",
  "gfw-boot",
  "wpr2-check",
  "sysmem-flush",
  "vbios",
  "gsp-image",
  "fwsec-frts",
  "booter-load",
  "riscv-active",
  "system-info",
  "registry",
  "sequencer",
  "init-done",
  "static-info",
] as const;

/** The unload steps, in the order they run. */
export const UNLOAD_STEPS = [
  "unloading-guest-driver",
  "gsp-suspend",
  "fwsec-sb",
  "booter-unload",
  "falcon-reset",
] as const;

/**
 * The boot steps of the FSP path (GH100), in the order they run: no sequencer
 * (the FSP brings up the GSP's RISC-V core itself).
 */
export const GH100_BOOT_STEPS = [
  "identify",
  "firmware",
  "fsp-secure-boot",
  "fmc-boot-args",
  "fsp-cot-send",
  "fsp-cot-response",
  "lockdown-release",
  "riscv-active",
  "system-info",
  "registry",
  "init-done",
  "static-info",
] as const;

/** The unload steps of the FSP path (GH100), in the order they run. */
export const GH100_UNLOAD_STEPS = [
  "unloading-guest-driver",
  "gsp-suspend",
  "gsp-halt",
  "falcon-reset",
  "function-reset",
] as const;

/** A step's stable kebab-case name. */
export type BootStepName =
  | (typeof BOOT_STEPS)[number]
  | (typeof UNLOAD_STEPS)[number]
  | (typeof GH100_BOOT_STEPS)[number]
  | (typeof GH100_UNLOAD_STEPS)[number];

/** One step as it runs; the CLI shows these live. */
export interface BootStepEvent {
  /** The step's stable name. */
  readonly step: string;
  /** Where it is. */
  readonly phase: "start" | "end" | "fail";
  /** Duration on the device's clock, on `end` and `fail`. */
  readonly ms?: number;
  /** E.g. `WPR2 0x5f7600000..0x5fff00000`, or the error on `fail`. */
  readonly detail?: string;
}

/** Called for every step event. */
export type BootStepListener = (event: BootStepEvent) => void;

/** What a step may say about the hardware when it fails. */
export interface StepFailureInit {
  /** The hardware's own code (MBOX0, the FRTS error, the RPC result, the progress byte). */
  readonly code?: number;
}

/**
 * A failure inside a step, before it is named: the message decodes the
 * hardware's code, and `code` keeps the raw value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HardwareCodeError } from "./boot_steps.ts";
 * const e = new HardwareCodeError("SEC2 MAILBOX0 0x8", { code: 8 });
 * assert.equal(e.code, 8);
 * ```
 */
export class HardwareCodeError extends Error {
  /** The raw code. */
  readonly code?: number;

  /**
   * Construct it.
   *
   * @param message What happened, with the code decoded.
   * @param init The raw code; standard `cause`.
   */
  constructor(message: string, init: StepFailureInit & ErrorOptions = {}) {
    super(message, { cause: init.cause });
    this.name = "HardwareCodeError";
    this.code = init.code;
  }
}

/**
 * A boot or unload step failed. `step` is one of {@linkcode BOOT_STEPS} or
 * {@linkcode UNLOAD_STEPS}; `cause` is what went wrong underneath; `code`
 * the hardware's own value when one was read; `cleanup` the failures of the
 * unwinding that followed (a `SuppressedError` chain whose innermost
 * `suppressed` is this error), never swallowed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BootError } from "../errors.ts";
 * import { GspBootError } from "./boot_steps.ts";
 * const e = new GspBootError("booter-load", new Error("MBOX0 0x8"), 8);
 * assert(e instanceof BootError && e.step === "booter-load" && e.code === 8);
 * ```
 */
export class GspBootError extends BootError {
  /** The hardware's code, when the step read one. */
  readonly code?: number;
  /** Failures while unwinding after this error, outermost first. */
  cleanupErrors: unknown[] = [];
  /** The `SuppressedError` the unwinding produced (its innermost `suppressed` is this error). */
  cleanup?: SuppressedError;
  /** Where the crash bundle of this failure was written (`BootGspOptions.crashDir`). */
  crashBundle?: string;
  /** Why the crash bundle could not be written, when it could not. */
  crashBundleError?: string;

  /**
   * Construct it.
   *
   * @param step The step.
   * @param cause What went wrong.
   * @param code The hardware's code.
   */
  constructor(step: string, cause: unknown, code?: number) {
    super(step, cause);
    this.message = `${step}: ${causeMessage(cause)}`;
    this.code = code ?? codeOf(cause);
  }

  /**
   * Attach the failures of an unwinding that ran after this error.
   *
   * @param cleanup The `SuppressedError` chain.
   */
  attachCleanup(cleanup: SuppressedError): void {
    this.cleanup = cleanup;
    const errors: unknown[] = [];
    let e: unknown = cleanup;
    while (e instanceof SuppressedError) {
      errors.push(...leaves(e.error));
      e = e.suppressed;
    }
    this.cleanupErrors = errors;
    const list = errors.map((c) => c instanceof Error ? c.message : String(c)).join("; ");
    this.message += ` (cleanup also failed: ${list})`;
  }
}

/** The errors inside a `SuppressedError` tree (a disposer that itself unwound several). */
function leaves(error: unknown): unknown[] {
  if (!(error instanceof SuppressedError)) return [error];
  return [...leaves(error.error), ...leaves(error.suppressed)];
}

function codeOf(cause: unknown): number | undefined {
  for (let e = cause; e instanceof Error; e = e.cause) {
    if (e instanceof RpcError) return e.result;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "number") return code;
  }
  return undefined;
}

/** A falcon error's message without its own "boot step … failed:" prefix. */
function causeMessage(cause: unknown): string {
  if (cause instanceof FalconError) {
    return `${cause.engine} falcon ${cause.operation}: ${causeMessage(cause.cause)}`;
  }
  if (cause instanceof GspBootError) return cause.message;
  if (cause instanceof Error) {
    if (cause.name === "AbortError") return `aborted (${cause.message})`;
    return cause.message;
  }
  return String(cause);
}

/**
 * Turn whatever a boot sequence threw into its `GspBootError`: a
 * `SuppressedError` from an `await using` unwinding is opened, the original
 * error kept and the cleanup failures attached to it.
 *
 * @param error What was thrown.
 * @param step The step to name when the error names none.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GspBootError, toBootError } from "./boot_steps.ts";
 * const original = new GspBootError("fwsec-frts", new Error("FRTS error 0x5"));
 * const e = toBootError(new SuppressedError(new Error("FWSEC-SB failed"), original, ""), "boot");
 * assert.equal(e, original);
 * assert.equal(e.cleanupErrors.length, 1);
 * ```
 */
export function toBootError(error: unknown, step: string): GspBootError {
  if (error instanceof SuppressedError) {
    let inner: unknown = error;
    while (inner instanceof SuppressedError) inner = inner.suppressed;
    const original = toBootError(inner, step);
    original.attachCleanup(error);
    return original;
  }
  if (error instanceof GspBootError) return error;
  return new GspBootError(step, error);
}

/** A step that finished, with its duration on the device's clock. */
export interface CompletedStep {
  /** The step. */
  readonly step: string;
  /** Milliseconds. */
  readonly ms: number;
}

/** What a {@linkcode StepFailureHook} is told about a failed step. */
export interface StepFailure {
  /** The step that failed. */
  readonly step: string;
  /** Its error, not yet thrown: nothing has been unwound. */
  readonly error: GspBootError;
  /** How long the step ran, on the device's clock. */
  readonly ms: number;
  /** The steps that finished before it, in order. */
  readonly completed: readonly CompletedStep[];
}

/**
 * Called when a step fails, inside {@linkcode BootSteps.run} and awaited
 * before the error leaves it: the HALs unwind their own failures when their
 * `using` scope exits, so this is the last moment at which the GPU still
 * holds the state of the failure (a crash bundle is captured here). What it
 * throws is logged and never replaces the step's error.
 */
export type StepFailureHook = (failure: StepFailure) => Promise<void> | void;

/**
 * Runs steps: times them, reports them, names their failures.
 *
 * @example A failure hook sees the failure before the caller's cleanup runs
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { BootSteps } from "./boot_steps.ts";
 *
 * const seen: string[] = [];
 * const steps = new BootSteps(new ManualClock(), undefined, (f) => {
 *   seen.push(`hook ${f.step}`);
 * });
 * await assert.rejects(async () => {
 *   await using stack = new AsyncDisposableStack();
 *   stack.defer(() => void seen.push("unwound"));
 *   await steps.run("booter-load", () => Promise.reject(new Error("MBOX0 0x8")));
 * });
 * assert.deepEqual(seen, ["hook booter-load", "unwound"]);
 * ```
 */
export class BootSteps {
  readonly #clock: Clock;
  readonly #listener?: BootStepListener;
  /** Called for a failed step before its error propagates (see {@linkcode StepFailureHook}). */
  readonly onFailure?: StepFailureHook;
  /** The steps that finished, in order. */
  readonly completed: CompletedStep[] = [];

  /**
   * Construct it.
   *
   * @param clock The device's clock.
   * @param listener Called for every event (errors it throws are logged and ignored).
   * @param onFailure Awaited when a step fails, before its error leaves {@linkcode run}.
   */
  constructor(clock: Clock, listener?: BootStepListener, onFailure?: StepFailureHook) {
    this.#clock = clock;
    this.#listener = listener;
    this.onFailure = onFailure;
  }

  async #failureHook(failure: StepFailure): Promise<void> {
    if (!this.onFailure) return;
    try {
      await this.onFailure(failure);
    } catch (e) {
      log.warn("the failure hook of {step} threw: {error}", {
        step: failure.step,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  #emit(event: BootStepEvent): void {
    if (!this.#listener) return;
    try {
      this.#listener(event);
    } catch (e) {
      log.warn("a step listener threw on {step} {phase}: {error}", {
        step: event.step,
        phase: event.phase,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  /**
   * Run one step.
   *
   * @param step Its name.
   * @param body The work; it may return a detail line as `{ detail }`.
   * @returns What `body` returned.
   * @throws {GspBootError} Naming the step, with the cause inside (after the failure hook ran).
   */
  async run<T>(step: BootStepName, body: () => Promise<T>): Promise<T> {
    const started = this.#clock.now();
    this.#emit({ step, phase: "start" });
    try {
      const result = await body();
      const ms = this.#clock.now() - started;
      const detail = (result as { detail?: unknown } | undefined)?.detail;
      this.completed.push({ step, ms });
      this.#emit({
        step,
        phase: "end",
        ms,
        detail: typeof detail === "string" ? detail : undefined,
      });
      log.info("{step}: done in {ms} ms", { step, ms: ms.toFixed(3) });
      return result;
    } catch (e) {
      const ms = this.#clock.now() - started;
      const error = e instanceof GspBootError ? e : toBootError(e, step);
      this.#emit({ step, phase: "fail", ms, detail: error.message });
      log.debug("{step}: failed after {ms} ms: {error}", {
        step,
        ms: ms.toFixed(3),
        error: error.message,
      });
      await this.#failureHook({ step, error, ms, completed: [...this.completed] });
      throw error;
    }
  }
}
