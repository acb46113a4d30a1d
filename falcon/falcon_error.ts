/**
 * {@linkcode FalconError}: a falcon operation (reset, load, start, a wait)
 * failed. It is a `BootError` whose step names the engine and the operation
 * (`SEC2 falcon dma-load`), so that a boot that lets it through still says
 * which step failed; `cause` holds what went wrong underneath: a
 * `HardwareTimeoutError`, a {@linkcode GpuStoppedAnsweringError}, a
 * register-table error, or an `AbortSignal`'s reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BootError, HardwareTimeoutError } from "../errors.ts";
 * import { FalconError } from "./falcon_error.ts";
 *
 * const timeout = new HardwareTimeoutError("SEC2.NV_PFALCON_FALCON_CPUCTL", 0, 2000);
 * const e = new FalconError("SEC2", "wait-halt", timeout);
 * assert(e instanceof BootError && e.step === "SEC2 falcon wait-halt");
 * assert(e.cause === timeout && e.message.includes("2000 ms"));
 * ```
 *
 * @module
 */

import { BootError } from "../errors.ts";
import type { EngineName } from "../registers/register.ts";

/** What the falcon driver was doing. */
export type FalconOperation =
  | "reset"
  | "hold-in-reset"
  | "select-core"
  | "pio-load"
  | "dma-load"
  | "program-brom"
  | "read-signature-fuse"
  | "start"
  | "wait-halt"
  | "wait-riscv-active"
  | "mailboxes";

/** A falcon operation failed; `cause` says how. */
export class FalconError extends BootError {
  /** The engine. */
  readonly engine: EngineName;
  /** The operation. */
  readonly operation: FalconOperation;

  /**
   * Build the error; its step is `<engine> falcon <operation>`.
   *
   * @param engine The engine.
   * @param operation What the driver was doing.
   * @param cause What went wrong.
   */
  constructor(engine: EngineName, operation: FalconOperation, cause: unknown) {
    super(`${engine} falcon ${operation}`, cause);
    this.engine = engine;
    this.operation = operation;
  }
}
