/**
 * {@linkcode GpuStoppedAnsweringError}: a register read returned a PRI error
 * code (`0xbad0xxxx`) or all ones instead of the register's contents. The
 * value is never decoded as fields: it says that the GPU (or the engine)
 * stopped answering, and names NVIDIA's code (`registers/pri_error.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GpuStoppedAnsweringError } from "./gpu_stopped_answering.ts";
 *
 * const e = new GpuStoppedAnsweringError("GSP.NV_PFALCON_FALCON_CPUCTL", 0xbadf1100);
 * assert(e.status === "pri-error" && e.message.includes("FECS_PRI_DECODE"));
 * assert(e.message.startsWith("the GPU stopped answering"));
 * assert.equal(new GpuStoppedAnsweringError("X", 0xffffffff).status, "no-response");
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";
import { classifyRead, describePriError, type ReadStatus } from "../registers/pri_error.ts";

/** A read that returned a PRI error or all ones. */
export class GpuStoppedAnsweringError extends FalconryError {
  /** The register read (`ENGINE.NAME`). */
  readonly register: string;
  /** The raw value read. */
  readonly value: number;
  /** `pri-error` or `no-response`. */
  readonly status: Exclude<ReadStatus, "ok">;

  /**
   * Build the error.
   *
   * @param register The register read.
   * @param value The value it returned: a PRI error code or `0xffffffff`.
   */
  constructor(register: string, value: number) {
    super(
      `the GPU stopped answering: reading ${register} returned 0x${
        (value >>> 0).toString(16).padStart(8, "0")
      } (${describePriError(value)})`,
    );
    this.register = register;
    this.value = value >>> 0;
    const status = classifyRead(value);
    this.status = status === "ok" ? "pri-error" : status;
  }
}
