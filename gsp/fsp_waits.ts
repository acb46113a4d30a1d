/**
 * The waits of the FSP boot path and its unwinding, as data: how often to
 * read, for how long, and where the figure comes from (reference §8; the
 * files named are nova-core's). Times are milliseconds of the device's
 * clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FSP_WAITS } from "./fsp_waits.ts";
 * assert.deepEqual(
 *   [FSP_WAITS.secureBoot.intervalMs, FSP_WAITS.secureBoot.timeoutMs],
 *   [10, 5000],
 * );
 * assert.equal(FSP_WAITS.lockdownRelease.timeoutMs, 30_000);
 * ```
 *
 * @module
 */

/** One wait. */
export interface FspWait {
  /** Milliseconds between reads. */
  readonly intervalMs: number;
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number;
  /** Where the figure comes from. */
  readonly source: string;
}

/** The names of the FSP-path waits. */
export type FspWaitName = "secureBoot" | "response" | "lockdownRelease" | "gspHalt";

const wait = (intervalMs: number, timeoutMs: number, source: string): FspWait =>
  Object.freeze({ intervalMs, timeoutMs, source });

/**
 * Every wait of the FSP path (reference §8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FSP_WAITS } from "./fsp_waits.ts";
 * assert.equal(FSP_WAITS.response.timeoutMs, 2000);
 * assert.equal(FSP_WAITS.gspHalt.intervalMs, 10);
 * ```
 */
export const FSP_WAITS: Readonly<Record<FspWaitName, FspWait>> = Object.freeze({
  /** `NV_THERM_I2CS_SCRATCH` reads 0xff: the FSP's secure boot is done. */
  secureBoot: wait(10, 5000, "fsp.rs"),
  /** The FSP's message queue holds a response (MSGQ head ≠ tail). */
  response: wait(10, 2000, "falcon/fsp.rs (T @ 5f523741)"),
  /** The GSP-FMC releases the GSP's PRIV lockdown, or reports an error in MAILBOX0. */
  lockdownRelease: wait(10, 30_000, "gsp/hal/gh100.rs"),
  /** The GSP's RISC-V core halts (FSP unload bundle). */
  gspHalt: wait(10, 5000, "gsp/hal/gh100.rs"),
});
