/**
 * The falcon waits and their timeouts, as data: every wait the falcon driver
 * makes, with the interval between reads, the timeout and where the figure
 * comes from (`../shared/reference/nova-core-boot.md` §8; the files named
 * are nova-core's). Times are milliseconds of the device's clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_WAITS } from "./timeouts.ts";
 * assert.equal(FALCON_WAITS.halt.timeoutMs, 2000);
 * assert.equal(FALCON_WAITS.scrubbingGa102.timeoutMs, 20);
 * assert(!FALCON_WAITS.resetReady.fatal);
 * ```
 *
 * @module
 */

/** One wait: how often to read, for how long, and whether running out is an error. */
export interface FalconWait {
  /** Milliseconds between reads; 0 reads back to back (`pollValue`'s spin slices). */
  readonly intervalMs: number;
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number;
  /** Whether running out of time fails the operation (`false`: go on). */
  readonly fatal: boolean;
  /** Where the figure comes from. */
  readonly source: string;
}

/** The names of the falcon waits. */
export type FalconWaitName =
  | "resetReady"
  | "scrubbingTu102"
  | "scrubbingGa102"
  | "coreSelectValid"
  | "dmaChunkIdle"
  | "halt"
  | "riscvActive";

const wait = (intervalMs: number, timeoutMs: number, source: string, fatal = true): FalconWait =>
  Object.freeze({ intervalMs, timeoutMs, fatal, source });

/**
 * Every wait of the falcon driver (reference §8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_WAITS } from "./timeouts.ts";
 * assert.equal(FALCON_WAITS.dmaChunkIdle.intervalMs, 0);
 * ```
 */
export const FALCON_WAITS: Readonly<Record<FalconWaitName, FalconWait>> = Object.freeze({
  /** GA102 HAL: `HWCFG2.RESET_READY` before the reset pulse; hardware may never set it. */
  resetReady: wait(0, 0.15, "falcon/hal/ga102.rs (150 µs, timeout ignored)", false),
  /** TU102 HAL: `DMACTL` IMEM and DMEM scrubbing clear after the reset. */
  scrubbingTu102: wait(0, 10, "falcon/hal/tu102.rs"),
  /** GA102 HAL: `HWCFG2.MEM_SCRUBBING` clear after the reset (and after core select). */
  scrubbingGa102: wait(0, 20, "falcon/hal/ga102.rs"),
  /** GA102 HAL: `RISCV_BCR_CTRL.VALID` after selecting the Falcon core. */
  coreSelectValid: wait(0, 10, "falcon/hal/ga102.rs"),
  /** One 256-byte DMA chunk: `DMATRFCMD.IDLE`. */
  dmaChunkIdle: wait(0, 2000, "falcon.rs (per 256-byte chunk)"),
  /** `CPUCTL.HALTED` after a start. */
  halt: wait(0, 2000, "falcon.rs"),
  /** The RISC-V core reports active after GSP-RM is started. */
  riscvActive: wait(10, 5000, "gsp/boot.rs"),
});

/**
 * How long `ENGINE.RESET` is held before it is released: 10 µs
 * (nova-core `regs.rs`, reference §8 "Falcon ENGINE reset pulse").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ENGINE_RESET_HOLD_MS } from "./timeouts.ts";
 * assert.equal(ENGINE_RESET_HOLD_MS * 1000, 10);
 * ```
 */
export const ENGINE_RESET_HOLD_MS = 0.01;
