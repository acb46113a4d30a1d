/**
 * Time for every wait and delay that touches a device: the {@linkcode Clock}
 * interface, the {@linkcode systemClock} that real backends carry, and the
 * {@linkcode ManualClock} whose time moves only when told, for tests and the
 * simulator.
 *
 * A device carries its clock (`Device.clock`), and everything that polls a
 * register or waits a fixed delay asks that clock, never `performance.now`
 * or `setTimeout` directly. On a virtual clock a two-second timeout then
 * costs no real time, while the modelled time is still counted.
 *
 * @example The same wait on a virtual clock takes no real time
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Clock, ManualClock } from "./clock.ts";
 *
 * async function settle(clock: Clock): Promise<number> {
 *   const start = clock.now();
 *   await clock.sleep(250); // e.g. a reset hold time
 *   return clock.now() - start;
 * }
 * assert.equal(await settle(new ManualClock()), 250);
 * ```
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";

/** A source of time and delays. */
export interface Clock {
  /**
   * The current time in milliseconds, from an arbitrary origin; it never goes backwards.
   *
   * @returns Milliseconds.
   */
  now(): number;
  /**
   * Wait `ms` milliseconds of this clock's time. `sleep(0)` yields to the event loop once.
   *
   * @param ms Milliseconds, finite and ≥ 0 (a `RangeError` rejection otherwise).
   * @param signal Stop early: the promise rejects with the signal's reason.
   * @returns A promise that resolves when the time has passed.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function checkDelay(ms: number): void {
  if (!(ms >= 0) || ms === Infinity) {
    throw new RangeError(`sleep: ${ms} ms is not a finite delay ≥ 0`);
  }
}

/**
 * Resolve through `schedule` (a timer or an immediate), or reject with the
 * signal's reason as soon as it aborts; either way, nothing is left behind:
 * neither the timer nor the abort listener.
 */
function cancellable(
  signal: AbortSignal | undefined,
  schedule: (done: () => void) => () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = schedule(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One turn of the event loop: timers and I/O callbacks get to run. */
function nextTurn(done: () => void): () => void {
  const handle = setImmediate(done);
  return () => clearImmediate(handle);
}

/**
 * Wall-clock time: `performance.now()` and `setTimeout`. What the sysfs and
 * VFIO backends carry. `sleep(0)` yields with `setImmediate` rather than a
 * zero timer, which the event loop clamps to about a millisecond.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./clock.ts";
 * const start = systemClock.now();
 * await systemClock.sleep(2);
 * assert(systemClock.now() - start >= 1);
 * await assert.rejects(systemClock.sleep(10_000, AbortSignal.abort(new Error("stop"))), /stop/);
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now(): number {
    return performance.now();
  },
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      checkDelay(ms);
    } catch (e) {
      return Promise.reject(e);
    }
    if (ms === 0) return cancellable(signal, nextTurn);
    return cancellable(signal, (done) => {
      const timer = setTimeout(done, ms);
      return () => clearTimeout(timer);
    });
  },
});

/** Options for {@linkcode ManualClock}. */
export interface ManualClockOptions {
  /** The time `now()` starts at, in milliseconds. Defaults to 0. */
  start?: number;
}

/**
 * Virtual time: `now()` moves only through {@linkcode ManualClock.advance}
 * and {@linkcode ManualClock.sleep}. A sleep advances the clock by its delay
 * and resolves after one turn of the event loop (so timers, I/O and other
 * tasks still run), without waiting in real time.
 *
 * It models one waiter at a time, as a driver polling a device is: the
 * delays of concurrent sleeps add up rather than overlap. An aborted sleep
 * rejects with the signal's reason and does not advance the clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock({ start: 1000 });
 * await clock.sleep(5);
 * clock.advance(0.5); // a modelled register access
 * assert.equal(clock.now(), 1005.5);
 * assert.equal(clock.sleeps, 1);
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #sleeps = 0;

  /**
   * Start the clock.
   *
   * @param options The starting time.
   */
  constructor(options: ManualClockOptions = {}) {
    const start = options.start ?? 0;
    if (!Number.isFinite(start)) throw new RangeError(`ManualClock: start ${start} is not finite`);
    this.#now = start;
  }

  /**
   * The virtual time.
   *
   * @returns Milliseconds.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ManualClock } from "./clock.ts";
   * assert.equal(new ManualClock().now(), 0);
   * ```
   */
  now(): number {
    return this.#now;
  }

  /** How many sleeps have completed (each one advanced the clock). */
  get sleeps(): number {
    return this.#sleeps;
  }

  /**
   * Move time forward, e.g. by the modelled cost of an operation.
   *
   * @param ms Milliseconds, finite and ≥ 0.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ManualClock } from "./clock.ts";
   * const clock = new ManualClock();
   * clock.advance(3);
   * assert.equal(clock.now(), 3);
   * assert.throws(() => clock.advance(-1), RangeError);
   * ```
   */
  advance(ms: number): void {
    checkDelay(ms);
    this.#now += ms;
  }

  /**
   * Advance the clock by `ms` after one turn of the event loop.
   *
   * @param ms Milliseconds, finite and ≥ 0.
   * @param signal Stop early: the promise rejects with the signal's reason.
   * @returns A promise that resolves once the clock has advanced.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ManualClock } from "./clock.ts";
   * const clock = new ManualClock();
   * const controller = new AbortController();
   * const pending = clock.sleep(1000, controller.signal);
   * controller.abort(new Error("cancelled"));
   * await assert.rejects(pending, /cancelled/);
   * assert.equal(clock.now(), 0);
   * ```
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      checkDelay(ms);
    } catch (e) {
      return Promise.reject(e);
    }
    return cancellable(signal, (done) =>
      nextTurn(() => {
        this.#now += ms;
        this.#sleeps++;
        done();
      }));
  }
}
