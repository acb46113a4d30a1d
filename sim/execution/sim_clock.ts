/**
 * Clocks that tell the simulated firmware when time passes, so that GSP-RM
 * makes progress while the host waits (it sends GSP_INIT_DONE ~1.2 s after
 * it starts, whether or not the host touches a register meanwhile).
 *
 * - {@linkcode SimManualClock}: the virtual clock a simulated GPU uses by
 *   default; a {@linkcode ManualClock} that calls its listeners after every
 *   `advance` and `sleep`.
 * - {@linkcode notifyingClock}: wraps any other clock (the system clock of
 *   realistic mode) so that its `sleep` calls the listeners when it returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../../pci/clock.ts";
 * import { SimManualClock } from "./sim_clock.ts";
 * const clock = new SimManualClock();
 * const seen: number[] = [];
 * clock.onTick(() => seen.push(clock.now()));
 * clock.advance(2);
 * await clock.sleep(3);
 * assert.deepEqual(seen, [2, 5]);
 * assert(clock instanceof ManualClock);
 * ```
 *
 * @module
 */

import { type Clock, ManualClock, type ManualClockOptions } from "../../pci/clock.ts";

/** Something told when time has passed. */
export type TickListener = () => void;

/** A clock that tells listeners when time passed. */
export interface TickingClock extends Clock {
  /**
   * Be told after time passes.
   *
   * @param listener Called with no arguments.
   */
  onTick(listener: TickListener): void;
}

/** The virtual clock of a simulated GPU: a {@linkcode ManualClock} with listeners. */
export class SimManualClock extends ManualClock implements TickingClock {
  readonly #listeners: TickListener[] = [];

  /**
   * Start the clock.
   *
   * @param options The starting time.
   */
  constructor(options: ManualClockOptions = {}) {
    super(options);
  }

  /**
   * Be told after every `advance` and `sleep`.
   *
   * @param listener Called with no arguments.
   */
  onTick(listener: TickListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Move time forward, then tell the listeners.
   *
   * @param ms Milliseconds, finite and ≥ 0.
   */
  override advance(ms: number): void {
    super.advance(ms);
    if (ms > 0) this.#tick();
  }

  /**
   * Sleep as {@linkcode ManualClock.sleep} does, then tell the listeners.
   *
   * @param ms Milliseconds, finite and ≥ 0.
   * @param signal Stop early.
   * @returns A promise that resolves once the clock has advanced.
   */
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await super.sleep(ms, signal);
    this.#tick();
  }

  #tick(): void {
    for (const listener of this.#listeners) listener();
  }
}

/**
 * Wrap a clock so that its sleeps tell listeners when they return.
 *
 * @param inner The clock (the system clock, a clock of your own).
 * @returns A clock with the same time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "../../pci/clock.ts";
 * import { notifyingClock } from "./sim_clock.ts";
 * const clock = notifyingClock(systemClock);
 * let ticks = 0;
 * clock.onTick(() => ticks++);
 * await clock.sleep(1);
 * assert.equal(ticks, 1);
 * ```
 */
export function notifyingClock(inner: Clock): TickingClock {
  const listeners: TickListener[] = [];
  // One reading per synchronous burst of register accesses: every access asks the time (the bus
  // log, the falcons' state machines), and a burst is one instant, as under the virtual clock.
  // The reading is dropped at the next microtask, so any wait sees time move.
  let reading: number | undefined;
  const forget = () => {
    reading = undefined;
  };
  return {
    now: () => {
      if (reading === undefined) {
        reading = inner.now();
        queueMicrotask(forget);
      }
      return reading;
    },
    sleep: async (ms: number, signal?: AbortSignal) => {
      await inner.sleep(ms, signal);
      for (const listener of listeners) listener();
    },
    onTick: (listener) => void listeners.push(listener),
  };
}
