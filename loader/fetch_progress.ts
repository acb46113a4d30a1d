/**
 * What a fetch tells its caller while it runs: each step when it starts
 * and, during the download, the bytes so far (every ~200 ms), as
 * {@linkcode FetchProgress}; and each step when it ends, with its duration,
 * as {@linkcode FetchStep}. The steps, in order: `sources`, `wait` (only
 * when another fetch held the cache), `update`, `download`, `list`,
 * `extract`, `verify`, `install`.
 *
 * @example A progress line from the events
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeProgress } from "./fetch_progress.ts";
 * const line = describeProgress({ step: "download", elapsedMs: 2000, bytes: 20 << 20, totalBytes: 80 << 20, bytesPerSecond: 10 << 20 });
 * assert(line === "download 20.0 / 80.0 MiB (25%), 10.0 MiB/s, 2.0 s");
 * ```
 *
 * @module
 */

/** One finished step of a fetch, for a CLI to show. */
export interface FetchStep {
  /** Short name: `sources`, `wait`, `update`, `download`, `list`, `extract`, `verify`, `install`. */
  readonly step: string;
  /** What was done, for a person. */
  readonly message: string;
  /** How long it took. */
  readonly durationMs: number;
}

/** Where a running fetch is: sent when a step starts and while it downloads. */
export interface FetchProgress {
  /** The step under way (see {@linkcode FetchStep}). */
  readonly step: string;
  /** What it is doing, when there is something to say (`another fetch (pid 7) is running`). */
  readonly message?: string;
  /** Time since the step started. */
  readonly elapsedMs: number;
  /** Bytes downloaded so far (the `download` step). */
  readonly bytes?: number;
  /** The package's size, when apt's lists give it. */
  readonly totalBytes?: number;
  /** Average rate since the download started. */
  readonly bytesPerSecond?: number;
}

/**
 * `bytes` in MiB with one decimal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMiB } from "./fetch_progress.ts";
 * assert(formatMiB(3 << 19) === "1.5 MiB");
 * ```
 */
export function formatMiB(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/**
 * One line for a person: the step, the bytes (and share of the total) so
 * far, the rate, and the time spent in the step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeProgress } from "./fetch_progress.ts";
 * assert(describeProgress({ step: "extract", elapsedMs: 1234 }) === "extract 1.2 s");
 * assert(describeProgress({ step: "download", elapsedMs: 500, bytes: 1 << 20 }) === "download 1.0 MiB, 0.5 s");
 * ```
 */
export function describeProgress(progress: FetchProgress): string {
  const parts: string[] = [];
  if (progress.message) parts.push(progress.message);
  if (progress.bytes !== undefined) {
    const total = progress.totalBytes;
    parts.push(
      total
        ? `${(progress.bytes / (1 << 20)).toFixed(1)} / ${formatMiB(total)} (${
          Math.floor(100 * progress.bytes / total)
        }%)`
        : formatMiB(progress.bytes),
    );
  }
  if (progress.bytesPerSecond !== undefined) parts.push(`${formatMiB(progress.bytesPerSecond)}/s`);
  parts.push(`${(progress.elapsedMs / 1000).toFixed(1)} s`);
  return `${progress.step} ${parts.join(", ")}`;
}

/** The callbacks a fetch (or an install) reports through. */
export interface StepCallbacks {
  /** Called after each step. */
  onStep?: (step: FetchStep) => void;
  /** Called when a step starts, and while it downloads (about every 200 ms). */
  onProgress?: (progress: FetchProgress) => void;
}
