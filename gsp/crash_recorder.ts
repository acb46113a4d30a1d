/**
 * The crash bundle of a boot: {@linkcode CrashRecorder} is the
 * {@linkcode StepFailureHook} `bootGsp` gives its {@linkcode BootSteps} when
 * `BootGspOptions.crashDir` is set. The boot tells it what it builds as it
 * goes (the chip, the firmware set, the log buffers, the RPC history); when
 * a step fails, inside `BootSteps.run` and so before the HAL or the boot
 * unwinds anything, it captures the GPU's state ({@linkcode captureCrashEvidence})
 * and writes the bundle ({@linkcode writeCrashBundle}) to `crashDir`. Only
 * the first failure is recorded (the unwinding's own failures come after
 * it and would see a state the unwinding already changed). The failed
 * step's `GspBootError` gets `crashBundle` (the path) or, when the bundle
 * could not be written, `crashBundleError`; a bundle that cannot be written
 * never replaces the boot's error.
 *
 * Without a `crashDir` the recorder does nothing and holds nothing.
 *
 * @example A step fails: the bundle holds the state from before the unwinding
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { chipRegisters } from "../registers/bind.ts";
 * import { BootSteps, GspBootError } from "./boot_steps.ts";
 * import { readCrashBundle } from "./crash_bundle.ts";
 * import { CrashRecorder } from "./crash_recorder.ts";
 *
 * const parent = await Deno.makeTempDir();
 * const dir = `${parent}/crash`;
 * await using gpu = new SimulatedGpu({ chip: "tu102" });
 * const recorder = new CrashRecorder(gpu, dir);
 * const steps = new BootSteps(gpu.clock, undefined, recorder.onFailure);
 * const scratch = chipRegisters("tu102").PBUS.SW_SCRATCH.at(0x20);
 * const error = await (async () => {
 *   await using stack = new AsyncDisposableStack();
 *   scratch.writeRaw(gpu.bar0, 0x1234);
 *   stack.defer(() => scratch.writeRaw(gpu.bar0, 0)); // the unwinding
 *   await steps.run("fwsec-frts", () => Promise.reject(new Error("FRTS error 0x5")));
 * })().catch((e) => e);
 * assert(error instanceof GspBootError && error.crashBundle !== undefined);
 * const bundle = await readCrashBundle(error.crashBundle);
 * const captured = bundle.registers.groups.flatMap((g) => g.registers)
 *   .find((r) => r.name === "NV_PBUS_SW_SCRATCH(32)");
 * assert.equal(captured?.raw, "0x00001234"); // as it was before the unwinding cleared it
 * assert.equal(scratch.readRaw(gpu.bar0), 0);
 * await Deno.remove(parent, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { ChipInfo } from "../chips/chips.ts";
import type { FirmwareSet } from "../loader/firmware_set.ts";
import type { Device } from "../pci/device.ts";
import type { StepFailure, StepFailureHook } from "./boot_steps.ts";
import { type CrashFailure, writeCrashBundle } from "./crash_bundle.ts";
import { captureCrashEvidence } from "./crash_capture.ts";
import type { LibosLogBuffer } from "./log_buffers.ts";
import type { RpcHistory } from "./rpc_history.ts";

const log = getLogger(["falconry", "gsp", "crash_recorder"]);

/** What the boot has built so far, for the capture. */
export interface CrashRecorderParts {
  /** The chip. */
  readonly chip?: ChipInfo;
  /** The firmware set (names and hashes go into the bundle). */
  readonly firmware?: FirmwareSet;
  /** The LibOS log buffers. */
  readonly logs?: readonly LibosLogBuffer[];
  /** The queues' RPC history. */
  readonly rpcHistory?: RpcHistory;
}

/** The error's class and its causes' (`GspBootError ← GspReceiveTimeoutError`). */
function errorNames(error: unknown): string {
  const names: string[] = [];
  for (let e = error; e instanceof Error && names.length < 6; e = e.cause) names.push(e.name);
  return names.join(" ← ");
}

/** What failed, for {@linkcode recordCrashBundle}. */
export interface CrashCause {
  /** The step, or the operation (`reset`), that failed. */
  readonly step: string;
  /** What went wrong. */
  readonly message: string;
  /** The hardware's code, when there is one. */
  readonly code?: number;
  /** The error's class and its causes' (`GspBootError ← HardwareCodeError`). */
  readonly errorName?: string;
  /** How long the step ran (device clock, ms). */
  readonly stepMs?: number;
  /** The steps that finished before it. */
  readonly completedSteps?: readonly { readonly step: string; readonly ms: number }[];
}

/**
 * Capture a GPU's state now and write it as a crash bundle: for code that
 * is about to change that state outside a boot (a reset ladder before its
 * first rung, a tool that found a GPU stuck). A boot uses
 * {@linkcode CrashRecorder} instead.
 *
 * @param device The GPU.
 * @param crashDir The bundle's folder (must not exist, or be empty).
 * @param cause What failed.
 * @param parts What else is known (chip, firmware, log buffers, RPC history).
 * @returns The bundle's path.
 * @throws {CrashBundleError} When `crashDir` cannot take a bundle; OS errors writing it.
 *
 * @example Before resetting a GPU a crashed driver left with WPR2 set
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { readCrashBundle } from "./crash_bundle.ts";
 * import { recordCrashBundle } from "./crash_recorder.ts";
 * const parent = await Deno.makeTempDir();
 * {
 *   await using gpu = new SimulatedGpu({ chip: "ga102" });
 *   const path = await recordCrashBundle(gpu, `${parent}/before-reset`, {
 *     step: "reset",
 *     message: "WPR2 already set: resetting the GPU",
 *   });
 *   assert.equal((await readCrashBundle(path)).index.failure.step, "reset");
 * }
 * await Deno.remove(parent, { recursive: true });
 * ```
 */
export async function recordCrashBundle(
  device: Device,
  crashDir: string,
  cause: CrashCause,
  parts: CrashRecorderParts = {},
): Promise<string> {
  const failure: CrashFailure = {
    step: cause.step,
    message: cause.message,
    ...(cause.code === undefined ? {} : { code: cause.code }),
    errorName: cause.errorName ?? "",
    stepMs: cause.stepMs ?? 0,
    completedSteps: cause.completedSteps?.map(({ step, ms }) => ({ step, ms })) ?? [],
  };
  const evidence = await captureCrashEvidence({ device, ...parts });
  return await writeCrashBundle(crashDir, { failure, device: device.info, evidence });
}

/** Records the first failed step of a boot (and of its unload) as a crash bundle. */
export class CrashRecorder {
  readonly #device: Device;
  readonly #crashDir: string | undefined;
  #parts: CrashRecorderParts = {};
  #recorded = false;

  /**
   * Construct it.
   *
   * @param device The GPU.
   * @param crashDir The bundle's folder (must not exist, or be empty); undefined: record nothing.
   */
  constructor(device: Device, crashDir: string | undefined) {
    this.#device = device;
    this.#crashDir = crashDir;
  }

  /** Whether a failure has been recorded (or its recording attempted). */
  get recorded(): boolean {
    return this.#recorded;
  }

  /**
   * Tell the recorder what the boot has built (later parts add to earlier ones).
   *
   * @param parts Chip, firmware, log buffers, RPC history.
   */
  add(parts: CrashRecorderParts): void {
    if (this.#crashDir === undefined) return;
    this.#parts = { ...this.#parts, ...parts };
  }

  /** The failure hook for {@linkcode BootSteps}; undefined without a crash folder. */
  get onFailure(): StepFailureHook | undefined {
    return this.#crashDir === undefined ? undefined : (failure) => this.#record(failure);
  }

  async #record(failure: StepFailure): Promise<void> {
    if (this.#recorded || this.#crashDir === undefined) return;
    this.#recorded = true;
    const { error } = failure;
    try {
      error.crashBundle = await recordCrashBundle(this.#device, this.#crashDir, {
        step: failure.step,
        message: error.message,
        code: error.code,
        errorName: errorNames(error),
        stepMs: failure.ms,
        completedSteps: failure.completed,
      }, this.#parts);
      log.info("{step} failed; crash bundle written to {path}", {
        step: failure.step,
        path: error.crashBundle,
      });
    } catch (e) {
      error.crashBundleError = e instanceof Error ? e.message : String(e);
      log.error("{step} failed, and its crash bundle could not be written: {error}", {
        step: failure.step,
        error: error.crashBundleError,
      });
    }
  }
}
