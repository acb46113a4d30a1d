/**
 * The contract between the simulator's BAR0 bus and its hardware blocks.
 *
 * Each block (PMC, PBUS, PFB, PROM, each falcon, …) is one class that
 * decodes a few BAR0 ranges and adds behaviour to the registers the tables in
 * `registers/` place there. The bus routes an offset to the block whose range
 * holds it. A block answers `undefined` for a read, or `false` for a write,
 * of an offset it does not model: the bus then answers a read with a host PRI
 * error (`0xbad0xxxx`, as the hardware's PRI does) and records a write as a
 * violation, so tests can assert that a flow touched only modelled registers.
 *
 * @example A one-register block
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SimBlock } from "./block.ts";
 *
 * class Scratch implements SimBlock {
 *   readonly name = "SCRATCH";
 *   readonly ranges = [{ start: 0x1400, end: 0x1500 }];
 *   #value = 0;
 *   read(offset: number) { return offset === 0x1438 ? this.#value : undefined; }
 *   write(offset: number, value: number) {
 *     if (offset !== 0x1438) return false;
 *     this.#value = value >>> 0;
 *     return true;
 *   }
 *   reset() { this.#value = 0; }
 * }
 * const block = new Scratch();
 * assert.equal(block.write(0x1438, 5), true);
 * assert.equal(block.read(0x1438), 5);
 * assert.equal(block.read(0x1400), undefined);
 * ```
 *
 * @module
 */

/** A half-open range of BAR0 byte offsets, `start <= offset < end`. */
export interface SimRange {
  /** First offset. */
  readonly start: number;
  /** One past the last offset. */
  readonly end: number;
}

/**
 * What resets a block sees:
 * - `engine`: the block's own engine reset (a falcon's ENGINE register);
 * - `function`: a function-level reset (FLR) of the GPU;
 * - `bus`: a secondary bus reset;
 * - `power`: a cold boot (power cycle), the only one that clears what
 *   survives a warm reboot.
 */
export type SimResetKind = "engine" | "function" | "bus" | "power";

/** One hardware block on the simulated BAR0. */
export interface SimBlock {
  /** For traces and messages (`PMC`, `GSP falcon`). */
  readonly name: string;
  /** The BAR0 ranges the block decodes; blocks never overlap. */
  readonly ranges: readonly SimRange[];
  /**
   * Read a register.
   *
   * @param offset BAR0 byte offset, 4-byte aligned, inside one of `ranges`.
   * @returns The value, or `undefined` for an offset the block does not model.
   */
  read(offset: number): number | undefined;
  /**
   * Write a register.
   *
   * @param offset BAR0 byte offset, 4-byte aligned, inside one of `ranges`.
   * @param value The 32-bit value (uint32).
   * @returns `false` for an offset the block does not model.
   */
  write(offset: number, value: number): boolean;
  /**
   * Apply a reset's effect on the block's state.
   *
   * @param kind Which reset.
   */
  reset?(kind: SimResetKind): void;
}
