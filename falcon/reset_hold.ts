/**
 * {@linkcode FalconResetHold}: a falcon held in reset (`ENGINE.RESET` = 1)
 * for as long as a `using` line keeps it; disposing it releases the reset,
 * after which the engine scrubs its memories (the next `Falcon.reset()` or
 * load waits for that).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FalconResetHold } from "./reset_hold.ts";
 * const log: string[] = [];
 * {
 *   using held = new FalconResetHold(() => log.push("released"));
 *   assert(!held.released);
 * }
 * assert.deepEqual(log, ["released"]);
 * ```
 *
 * @module
 */

/** A falcon kept in reset until disposed. */
export class FalconResetHold implements Disposable {
  #release: (() => void) | undefined;

  /**
   * Wrap the release.
   *
   * @param release Writes `ENGINE.RESET` = 0; called once, on the first dispose.
   */
  constructor(release: () => void) {
    this.#release = release;
  }

  /** Whether the reset has been released. */
  get released(): boolean {
    return this.#release === undefined;
  }

  /** Release the reset (once). */
  [Symbol.dispose](): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}
