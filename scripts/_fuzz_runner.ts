/**
 * The fuzz runner: runs targets round-robin over a fixed number of
 * mutations (optionally capped by time), classifies every outcome, replays
 * one iteration, and runs the loop in a Worker with a watchdog for parsers
 * that never return.
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { DENO } from "./_deno_command.ts";
import type { FuzzSeed, SeedSet } from "./_fuzz_anatomy.ts";
import { mutate, type Mutation } from "./_fuzz_mutators.ts";
import { FuzzRandom, iterationSeed } from "./_fuzz_random.ts";
import { attempt, findFuzzTarget, type FuzzTarget, InvariantError } from "./_fuzz_targets.ts";

export const DEFAULT_SLOW_MS = 250;

/** What a finding is. */
export type FindingKind = "exception" | "invariant" | "slow" | "hang" | "crash";

/** An input that broke the contract. */
export interface FuzzFinding {
  /** Exception, broken invariant, slow parse, hang (watchdog), or a crashed worker. */
  kind: FindingKind;
  /** Target name. */
  target: string;
  /** The run's seed. */
  seed: number;
  /** The iteration; negative for the unmutated seed input `-iteration − 1`. */
  iteration: number;
  /** The seed input's name. */
  input: string;
  /** The mutation steps. */
  steps: string[];
  /** Size of the mutated input. */
  inputSize: number;
  /** `Name: message` of what escaped (or the timing). */
  error: string;
  /** Its stack, when there is one. */
  stack?: string;
  /** Parse time in ms (slow findings: the two measurements' minimum). */
  ms?: number;
  /** How many inputs failed the same way (same kind, target, error and place). */
  count: number;
  /** A command that replays it. */
  reproduce: string;
}

/** Per-target figures. */
export interface FuzzTargetStats {
  /** Target name. */
  target: string;
  /** Seed inputs used. */
  seeds: number;
  /** Of which real files. */
  realSeeds: number;
  /** Real files it would have used but did not find. */
  missingRealFiles: string[];
  /** Seed inputs the parser rejected unmutated (the fuzzing there is shallow). */
  seedRejections: { input: string; error: string }[];
  /** Mutated inputs run. */
  mutations: number;
  /** Of which parsed. */
  accepted: number;
  /** Of which rejected with a FirmwareFormatError. */
  rejected: number;
  /** Findings (all occurrences). */
  findings: number;
  /** How often each error field was named (indices folded to `[]`): a rough coverage measure. */
  errorFields: Record<string, number>;
  /** The slowest parse in ms. */
  slowestMs: number;
  /** Its iteration. */
  slowestIteration: number;
  /** Its seed input. */
  slowestInput: string;
  /** Time spent parsing, in ms. */
  parseMs: number;
}

/** What a run did. */
export interface FuzzReport {
  /** The run's seed. */
  seed: number;
  /** Mutations asked for (all targets together). */
  mutationsRequested: number;
  /** Outer time cap in seconds, or `null` when the mutation count alone bounds the run. */
  secondsBudget: number | null;
  /** Slow-parse limit in ms, or `null` when slow parses are not findings. */
  slowMs: number | null;
  /** Mutations run. */
  mutations: number;
  /** Wall time in ms. */
  elapsedMs: number;
  /** Why it stopped. */
  stoppedBy: "count" | "time" | "finding" | "hang" | "crash";
  /** Per target. */
  targets: FuzzTargetStats[];
  /** Distinct findings (see `count` for repeats). */
  findings: FuzzFinding[];
  /** The slowest parse of the run. */
  slowest: { target: string; iteration: number; input: string; ms: number } | null;
}

/** Options for {@linkcode runFuzz}. */
export interface FuzzOptions {
  /** The targets. */
  targets: readonly FuzzTarget[];
  /** Seed of the run (default 1). */
  seed?: number;
  /** Mutations in total, split evenly across the targets (default 20000). */
  mutations?: number;
  /**
   * An outer time cap in seconds for long runs (default none): the budget is
   * the mutation count, so a run does the same work on any machine.
   */
  seconds?: number;
  /**
   * A parse slower than this (twice) is a finding (default
   * {@linkcode DEFAULT_SLOW_MS}); `null` turns the wall-clock check off, as
   * the test suite does.
   */
  slowMs?: number | null;
  /** Stop at the first finding. */
  stopAtFirstFinding?: boolean;
  /** Called with a snapshot of the report about every `progressMs`. */
  onProgress?: (report: FuzzReport) => void;
  /** Snapshot interval in ms (default 1000). */
  progressMs?: number;
  /**
   * Watchdog cells (`Int32Array` on a `SharedArrayBuffer`, 4 elements): target
   * index, iteration, heartbeat, and 1 while parsing. Set by the isolated runner.
   */
  progress?: Int32Array;
}

const PROGRESS = { target: 0, iteration: 1, heartbeat: 2, state: 3 } as const;
const STATE = { idle: 0, parsing: 1, setup: 2 } as const;

function reproduceCommand(seed: number, target: string, iteration: number): string {
  return `${DENO} run -A scripts/fuzz.ts --seed ${seed} --target ${target} --replay=${iteration}`;
}

function describeError(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: typeof e, message: String(e) };
}

/** The place a finding comes from: the first stack frame outside this file, or the message's shape. */
function findingSignature(kind: FindingKind, target: string, e: unknown): string {
  const { name, message, stack } = describeError(e);
  const frame =
    (stack ?? "").split("\n").slice(1).find((l) => !/\/scripts\/_fuzz\w*\.ts/.test(l)) ??
      "";
  return `${kind}|${target}|${name}|${frame.trim() || message.replace(/[0-9a-fx]+/gi, "#")}`;
}

/** Build the mutated (or, for a negative iteration, unmutated) input of an iteration. */
function buildInput(
  target: FuzzTarget,
  seeds: readonly FuzzSeed[],
  runSeed: number,
  iteration: number,
): { seed: FuzzSeed; mutation: Mutation } {
  if (iteration < 0) {
    const seed = seeds[(-iteration - 1) % seeds.length];
    return { seed, mutation: { bytes: seed.bytes, steps: ["(unmutated)"] } };
  }
  const seed = seeds[iteration % seeds.length];
  return {
    seed,
    mutation: mutate(seed, new FuzzRandom(iterationSeed(runSeed, target.name, iteration))),
  };
}

interface Outcome {
  result: "accepted" | "rejected" | "finding";
  error?: unknown;
  ms: number;
}

function execute(target: FuzzTarget, bytes: Uint8Array, seed: FuzzSeed): Outcome {
  const start = performance.now();
  try {
    target.run(bytes, seed);
    return { result: "accepted", ms: performance.now() - start };
  } catch (error) {
    const ms = performance.now() - start;
    return { result: error instanceof FirmwareFormatError ? "rejected" : "finding", error, ms };
  }
}

function emptyStats(target: FuzzTarget, set: SeedSet): FuzzTargetStats {
  return {
    target: target.name,
    seeds: set.seeds.length,
    realSeeds: set.seeds.filter((s) => s.real).length,
    missingRealFiles: set.missingRealFiles,
    seedRejections: [],
    mutations: 0,
    accepted: 0,
    rejected: 0,
    findings: 0,
    errorFields: {},
    slowestMs: 0,
    slowestIteration: 0,
    slowestInput: "",
    parseMs: 0,
  };
}

/**
 * Fuzz `targets` in this thread: check every seed input unmutated, then run
 * the mutations round-robin across the targets until the count is reached
 * (or the optional `seconds` cap). A parser that never returns hangs this call; use
 * {@linkcode runFuzzIsolated} for a watchdog.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { findFuzzTarget, runFuzz } from "./_fuzz.ts";
 * const report = runFuzz({ targets: [findFuzzTarget("gen-bootloader")], mutations: 500 });
 * assert(report.mutations === 500);
 * ```
 */
export function runFuzz(options: FuzzOptions): FuzzReport {
  const started = performance.now();
  const runSeed = (options.seed ?? 1) >>> 0;
  const requested = Math.max(0, Math.floor(options.mutations ?? 20000));
  const seconds = options.seconds ?? null;
  const slowMs = options.slowMs === undefined ? DEFAULT_SLOW_MS : options.slowMs;
  const deadline = seconds === null ? Infinity : started + seconds * 1000;
  const progress = options.progress ?? new Int32Array(4);
  const findings = new Map<string, FuzzFinding>();
  let stoppedBy: FuzzReport["stoppedBy"] = "count";

  Atomics.store(progress, PROGRESS.state, STATE.setup);
  const plans = options.targets.map((target, index) => {
    const set = target.seeds();
    if (set.seeds.length === 0) throw new RangeError(`fuzz target ${target.name} has no seeds`);
    const quota = Math.floor(requested / options.targets.length) +
      (index < requested % options.targets.length ? 1 : 0);
    return { target, index, seeds: set.seeds, quota, stats: emptyStats(target, set) };
  });
  type Plan = (typeof plans)[number];

  const snapshot = (): FuzzReport => {
    const targets = plans.map((p) => ({ ...p.stats, errorFields: { ...p.stats.errorFields } }));
    const slowestStats = targets.reduce<FuzzTargetStats | undefined>(
      (best, s) => (s.mutations > 0 && (!best || s.slowestMs > best.slowestMs) ? s : best),
      undefined,
    );
    return {
      seed: runSeed,
      mutationsRequested: requested,
      secondsBudget: seconds,
      slowMs,
      mutations: targets.reduce((n, s) => n + s.mutations, 0),
      elapsedMs: performance.now() - started,
      stoppedBy,
      targets,
      findings: [...findings.values()].map((f) => ({ ...f })),
      slowest: slowestStats
        ? {
          target: slowestStats.target,
          iteration: slowestStats.slowestIteration,
          input: slowestStats.slowestInput,
          ms: slowestStats.slowestMs,
        }
        : null,
    };
  };

  const record = (
    plan: Plan,
    iteration: number,
    seed: FuzzSeed,
    mutation: Mutation,
    kind: FindingKind,
    error: unknown,
    ms?: number,
  ) => {
    plan.stats.findings++;
    const key = findingSignature(kind, plan.target.name, error);
    const known = findings.get(key);
    if (known) {
      known.count++;
      return;
    }
    const { name, message, stack: errorStack } = describeError(error);
    // A slow parse's stack is the harness's own; it says nothing.
    const stack = kind === "slow" ? undefined : errorStack;
    findings.set(key, {
      kind,
      target: plan.target.name,
      seed: runSeed,
      iteration,
      input: seed.name,
      steps: mutation.steps,
      inputSize: mutation.bytes.length,
      error: `${name}: ${message}`,
      stack,
      ms,
      count: 1,
      reproduce: reproduceCommand(runSeed, plan.target.name, iteration),
    });
  };

  const runOne = (plan: Plan, iteration: number): Outcome => {
    const { seed, mutation } = buildInput(plan.target, plan.seeds, runSeed, iteration);
    Atomics.store(progress, PROGRESS.target, plan.index);
    Atomics.store(progress, PROGRESS.iteration, iteration);
    Atomics.add(progress, PROGRESS.heartbeat, 1);
    Atomics.store(progress, PROGRESS.state, STATE.parsing);
    const outcome = execute(plan.target, mutation.bytes, seed);
    if (slowMs !== null && outcome.result !== "finding" && outcome.ms > slowMs) {
      // A second run tells a slow parser from a GC pause or a busy machine.
      const again = execute(plan.target, mutation.bytes, seed);
      if (again.ms > slowMs) {
        const ms = Math.min(outcome.ms, again.ms);
        const slow = new Error(`parse took ${ms.toFixed(0)} ms (limit ${slowMs} ms)`);
        record(plan, iteration, seed, mutation, "slow", slow, ms);
      }
    }
    Atomics.store(progress, PROGRESS.state, STATE.idle);
    const s = plan.stats;
    if (iteration >= 0) {
      s.mutations++;
      s.parseMs += outcome.ms;
      if (outcome.ms > s.slowestMs) {
        s.slowestMs = outcome.ms;
        s.slowestIteration = iteration;
        s.slowestInput = seed.name;
      }
      if (outcome.result === "accepted") s.accepted++;
      if (outcome.result === "rejected") s.rejected++;
    }
    if (outcome.result === "rejected") {
      const field = (outcome.error as FirmwareFormatError).field.replace(/\[\d+\]/g, "[]");
      s.errorFields[field] = (s.errorFields[field] ?? 0) + 1;
      if (iteration < 0) {
        s.seedRejections.push({ input: seed.name, error: (outcome.error as Error).message });
      }
    }
    if (outcome.result === "finding") {
      const kind = outcome.error instanceof InvariantError ? "invariant" : "exception";
      record(plan, iteration, seed, mutation, kind, outcome.error);
    }
    return outcome;
  };

  const stop = (): boolean => options.stopAtFirstFinding === true && findings.size > 0;
  for (const plan of plans) {
    for (let i = 0; i < plan.seeds.length && !stop(); i++) runOne(plan, -1 - i);
  }
  let nextProgress = performance.now() + (options.progressMs ?? 1000);
  let active = plans.filter((p) => p.quota > 0);
  while (active.length > 0) {
    if (stop()) {
      stoppedBy = "finding";
      break;
    }
    if (performance.now() > deadline) {
      stoppedBy = "time";
      break;
    }
    for (const plan of active) runOne(plan, plan.stats.mutations);
    active = active.filter((p) => p.stats.mutations < p.quota);
    if (options.onProgress && performance.now() > nextProgress) {
      options.onProgress(snapshot());
      nextProgress = performance.now() + (options.progressMs ?? 1000);
    }
  }
  return snapshot();
}

/** What {@linkcode replayFuzz} found. */
export interface FuzzReplay {
  /** The seed input's name. */
  input: string;
  /** The mutation steps. */
  steps: string[];
  /** The input bytes. */
  bytes: Uint8Array;
  /** Parsed, rejected with a FirmwareFormatError, or a finding. */
  result: "accepted" | "rejected" | "finding";
  /** What was thrown, if anything. */
  error?: unknown;
  /** Parse time in ms. */
  ms: number;
}

/**
 * Rebuild one iteration's input and run the target on it once.
 *
 * @example
 * ```ts ignore
 * import { findFuzzTarget, replayFuzz } from "./_fuzz.ts";
 * const replay = replayFuzz(findFuzzTarget("tlv"), 1, 42);
 * console.log(replay.steps, replay.result);
 * ```
 */
export function replayFuzz(target: FuzzTarget, seed: number, iteration: number): FuzzReplay {
  const { seeds } = target.seeds();
  const { seed: input, mutation } = buildInput(target, seeds, seed >>> 0, iteration);
  const outcome = execute(target, mutation.bytes, input);
  return { input: input.name, steps: mutation.steps, bytes: mutation.bytes, ...outcome };
}

/** Options for {@linkcode runFuzzIsolated}. */
export interface IsolatedFuzzOptions extends Omit<FuzzOptions, "targets" | "progress"> {
  /** Target names (see {@linkcode findFuzzTarget}). */
  targets: readonly string[];
  /** A parse that makes no progress for this long is a hang (default 10000 ms). */
  watchdogMs?: number;
}

interface WorkerRequest {
  targets: readonly string[];
  options: Omit<FuzzOptions, "targets" | "progress" | "onProgress">;
  progress: Int32Array;
}

type WorkerReply = { type: "progress" | "done"; report: FuzzReport };

/**
 * The worker side of {@linkcode runFuzzIsolated}: take one request, run it,
 * post progress snapshots and the final report. Called by the worker script.
 *
 * @example
 * ```ts ignore
 * import { fuzzWorkerMain } from "./_fuzz_runner.ts";
 * fuzzWorkerMain(); // inside a Worker
 * ```
 */
export function fuzzWorkerMain(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
    postMessage(message: WorkerReply): void;
  };
  scope.onmessage = (e) => {
    const { targets, options, progress } = e.data;
    const report = runFuzz({
      ...options,
      targets: targets.map(findFuzzTarget),
      progress,
      onProgress: (r) => scope.postMessage({ type: "progress", report: r }),
    });
    scope.postMessage({ type: "done", report });
  };
}

/**
 * Fuzz in a Worker with a watchdog: when one parse makes no progress for
 * `watchdogMs`, the worker is terminated and the report ends with a `hang`
 * finding naming the target and iteration (its input is rebuilt here, not
 * run). A worker that dies otherwise gives a `crash` finding. After a hang or
 * a crash the figures are those of the worker's last progress snapshot.
 *
 * @throws {RangeError} for an unknown target name.
 *
 * @example
 * ```ts ignore
 * import { runFuzzIsolated } from "./_fuzz_runner.ts";
 * const report = await runFuzzIsolated({ targets: ["tlv", "elf"], mutations: 10000 });
 * console.log(report.mutations, report.findings.length);
 * ```
 */
export function runFuzzIsolated(options: IsolatedFuzzOptions): Promise<FuzzReport> {
  const targets = options.targets.map(findFuzzTarget);
  const progress = new Int32Array(new SharedArrayBuffer(16));
  const watchdogMs = options.watchdogMs ?? 10_000;
  const script = `import { fuzzWorkerMain } from ${
    JSON.stringify(import.meta.url)
  }; fuzzWorkerMain();`;
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(script)}`, {
    type: "module",
  });
  const started = performance.now();
  const runSeed = (options.seed ?? 1) >>> 0;
  const { onProgress, watchdogMs: _w, targets: _t, ...rest } = options;
  let last: FuzzReport | undefined;

  return new Promise<FuzzReport>((resolve) => {
    let beat = -1;
    let beatAt = performance.now();
    const finish = (report: FuzzReport) => {
      clearInterval(timer);
      worker.terminate();
      resolve(report);
    };
    const failed = (kind: "hang" | "crash", error: string): FuzzReport => {
      const base = last ?? blankReport(options, targets, runSeed);
      const index = Atomics.load(progress, PROGRESS.target);
      const iteration = Atomics.load(progress, PROGRESS.iteration);
      const target = targets[index] ?? targets[0];
      const rebuilt = attempt(() => buildInput(target, target.seeds().seeds, runSeed, iteration));
      return {
        ...base,
        elapsedMs: performance.now() - started,
        stoppedBy: kind,
        findings: [...base.findings, {
          kind,
          target: target.name,
          seed: runSeed,
          iteration,
          input: rebuilt?.seed.name ?? "?",
          steps: rebuilt?.mutation.steps ?? [],
          inputSize: rebuilt?.mutation.bytes.length ?? 0,
          error,
          count: 1,
          reproduce: reproduceCommand(runSeed, target.name, iteration),
        }],
      };
    };
    const timer = setInterval(() => {
      const now = performance.now();
      const current = Atomics.load(progress, PROGRESS.heartbeat);
      if (current !== beat || Atomics.load(progress, PROGRESS.state) !== STATE.parsing) {
        beat = current;
        beatAt = now;
        return;
      }
      if (now - beatAt > watchdogMs) {
        finish(failed("hang", `no return after ${(now - beatAt).toFixed(0)} ms (watchdog)`));
      }
    }, Math.min(250, watchdogMs / 4));
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      last = e.data.report;
      if (e.data.type === "done") finish(e.data.report);
      else onProgress?.(e.data.report);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      finish(failed("crash", `worker died: ${e.message}`));
    };
    worker.postMessage(
      { targets: options.targets, options: rest, progress } satisfies WorkerRequest,
    );
  });
}

function blankReport(
  options: IsolatedFuzzOptions,
  targets: readonly FuzzTarget[],
  seed: number,
): FuzzReport {
  return {
    seed,
    mutationsRequested: options.mutations ?? 20000,
    secondsBudget: options.seconds ?? null,
    slowMs: options.slowMs === undefined ? DEFAULT_SLOW_MS : options.slowMs,
    mutations: 0,
    elapsedMs: 0,
    stoppedBy: "crash",
    targets: targets.map((t) => emptyStats(t, t.seeds())),
    findings: [],
    slowest: null,
  };
}
