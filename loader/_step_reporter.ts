/**
 * Timing a fetch's steps and telling the caller: a log line and an
 * `onStep` call when a step ends, `onProgress` calls when one starts and
 * while it runs.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { FetchProgress, StepCallbacks } from "./fetch_progress.ts";

const log = getLogger(["falconry", "loader", "fetch"]);

/** Reports the steps of one fetch; a step lasts from its `begin` (or the last `end`) to its `end`. */
export class StepReporter {
  #callbacks: StepCallbacks;
  #since = performance.now();
  #step = "";

  constructor(callbacks: StepCallbacks) {
    this.#callbacks = callbacks;
  }

  /** A step starts. */
  begin(step: string, message?: string): void {
    this.#step = step;
    this.#since = performance.now();
    this.#callbacks.onProgress?.({ step, message, elapsedMs: 0 });
  }

  /** News from the running step. */
  progress(update: Omit<FetchProgress, "step" | "elapsedMs">): void {
    const elapsedMs = performance.now() - this.#since;
    this.#callbacks.onProgress?.({ step: this.#step, elapsedMs, ...update });
  }

  /** Time since the running step began. */
  get elapsedMs(): number {
    return performance.now() - this.#since;
  }

  /** A step ended. */
  end(step: string, message: string): void {
    const now = performance.now();
    const durationMs = now - this.#since;
    this.#since = now;
    log.info("{step}: {message} ({ms} ms)", { step, message, ms: Math.round(durationMs) });
    this.#callbacks.onStep?.({ step, message, durationMs });
  }
}
