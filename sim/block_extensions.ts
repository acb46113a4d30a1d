/**
 * Optional abilities a simulated hardware block may have beyond
 * {@linkcode SimBlock} (`block.ts`): naming its registers, saving and
 * restoring its state, and reporting what a clean unwind should have left
 * behind. The simulator asks a block for each ability it implements; none is
 * required, so any {@linkcode SimBlock} plugs into the bus.
 *
 * @example A block with all three abilities
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SimBlock } from "./block.ts";
 * import {
 *   isSimPersistent,
 *   isSimResidueSource,
 *   type SimNamedRegisters,
 *   type SimPersistent,
 *   type SimResidueSource,
 * } from "./block_extensions.ts";
 *
 * class Latch implements SimBlock, SimNamedRegisters, SimPersistent, SimResidueSource {
 *   readonly name = "LATCH";
 *   readonly ranges = [{ start: 0x2000, end: 0x2004 }];
 *   value = 0;
 *   read(offset: number) { return offset === 0x2000 ? this.value : undefined; }
 *   write(offset: number, value: number) { return offset === 0x2000 && ((this.value = value), true); }
 *   registerName(offset: number) { return offset === 0x2000 ? "LATCH" : undefined; }
 *   snapshot() { return { value: this.value }; }
 *   restore(state: unknown) { this.value = (state as { value: number }).value; }
 *   residue() { return this.value ? [{ block: this.name, what: "latch still set" }] : []; }
 * }
 * const latch = new Latch();
 * latch.write(0x2000, 1);
 * assert(isSimPersistent(latch) && isSimResidueSource(latch));
 * assert.equal(latch.residue()[0].what, "latch still set");
 * ```
 *
 * @module
 */

import type { SimBlock } from "./block.ts";

/** A block that can name the registers it models (for the access log and violations). */
export interface SimNamedRegisters {
  /**
   * The name of the register at a BAR0 offset, or `undefined` when the block
   * does not model one there.
   *
   * @param offset BAR0 byte offset.
   */
  registerName(offset: number): string | undefined;
}

/** A block whose state can be saved to a file and restored in another process. */
export interface SimPersistent {
  /**
   * The block's persistent state, as JSON-compatible data.
   *
   * @returns Plain data (numbers, strings, arrays, objects).
   */
  snapshot(): unknown;
  /**
   * Put back a state that {@linkcode snapshot} returned (possibly in another process).
   *
   * @param state What `snapshot` returned.
   */
  restore(state: unknown): void;
}

/** One thing a clean unwind should have removed. */
export interface SimResidue {
  /** The block that holds it. */
  readonly block: string;
  /** What is left, in words (`WPR2 is set (0x…–0x…)`). */
  readonly what: string;
}

/** A block that can say what state a clean unwind should have removed. */
export interface SimResidueSource {
  /**
   * What is left behind.
   *
   * @returns One entry per leftover; empty when the block is clean.
   */
  residue(): readonly SimResidue[];
}

/**
 * Whether a block can name its registers.
 *
 * @param block Any block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasRegisterNames } from "./block_extensions.ts";
 * assert(!hasRegisterNames({ name: "X", ranges: [], read: () => 0, write: () => true }));
 * ```
 */
export function hasRegisterNames(block: SimBlock): block is SimBlock & SimNamedRegisters {
  return typeof (block as Partial<SimNamedRegisters>).registerName === "function";
}

/**
 * Whether a block can save and restore its state.
 *
 * @param block Any block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSimPersistent } from "./block_extensions.ts";
 * assert(!isSimPersistent({ name: "X", ranges: [], read: () => 0, write: () => true }));
 * ```
 */
export function isSimPersistent(block: object): block is SimPersistent {
  const b = block as Partial<SimPersistent>;
  return typeof b.snapshot === "function" && typeof b.restore === "function";
}

/**
 * Whether an object reports residue.
 *
 * @param source Any block or model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSimResidueSource } from "./block_extensions.ts";
 * assert(isSimResidueSource({ residue: () => [] }));
 * ```
 */
export function isSimResidueSource(source: object): source is SimResidueSource {
  return typeof (source as Partial<SimResidueSource>).residue === "function";
}
