/**
 * {@linkcode FalconResetGuard}: the unwinding of a falcon that a sequence has
 * loaded or started. Held by an `await using` line, it resets the falcon when
 * the scope ends, so that a failure leaves no code loaded or running; a
 * sequence that succeeds and hands the falcon on calls
 * {@linkcode FalconResetGuard.keep} first. A reset that fails while the scope
 * unwinds from another error is attached to that error (`SuppressedError`),
 * never swallowed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FalconResetGuard } from "./reset_guard.ts";
 * let resets = 0;
 * const reset = () => Promise.resolve(void resets++);
 * {
 *   await using _guard = new FalconResetGuard(reset);
 * }
 * {
 *   await using guard = new FalconResetGuard(reset);
 *   guard.keep();
 * }
 * assert.equal(resets, 1);
 * ```
 *
 * @module
 */

/** Resets a falcon on dispose unless told to keep it. */
export class FalconResetGuard implements AsyncDisposable {
  #reset: (() => Promise<void>) | undefined;

  /**
   * Wrap the reset.
   *
   * @param reset Resets the falcon; called at most once.
   */
  constructor(reset: () => Promise<void>) {
    this.#reset = reset;
  }

  /** Whether dispose will still reset the falcon. */
  get armed(): boolean {
    return this.#reset !== undefined;
  }

  /** Leave the falcon as it is when the scope ends. */
  keep(): void {
    this.#reset = undefined;
  }

  /** Reset the falcon, unless {@linkcode FalconResetGuard.keep} was called. */
  async [Symbol.asyncDispose](): Promise<void> {
    const reset = this.#reset;
    this.#reset = undefined;
    await reset?.();
  }
}
