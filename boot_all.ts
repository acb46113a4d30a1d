/**
 * Boot the GSP of every NVIDIA GPU on a host at once: {@linkcode bootAll}.
 *
 * Without `targets`, it lists the NVIDIA GPUs sysfs knows and opens each one
 * writable through {@linkcode openGpu} (VFIO, which takes the device's own
 * lock); with `targets` it boots those (PCI addresses, or simulated GPUs such
 * as `{ sim: "tu102", realistic: true }`). Every GPU boots concurrently, each
 * with its own device, lock, unwinding and result: one GPU's failure, even in
 * opening it, leaves the others to finish, and a failed GPU is closed as soon
 * as its own unwinding ends.
 *
 * Where the boots run (`isolation`):
 *
 * - `"inline"`: all in the caller's thread. A real GPU's boot is mostly
 *   waiting on the hardware, and the boots share the process's caches (the
 *   firmware hashes, the GSP image's DMA memory pool).
 * - `"worker"`: each in a Worker of its own, so that the CPU work of
 *   simulated GPUs (their firmware checks: about 350 ms per realistic TU102
 *   boot with the real firmware, measured by `scripts/bench_boot_all.ts`)
 *   runs on separate cores instead of queueing on one thread. A Worker costs
 *   its own start (about 0.5 s to load the modules) and its own caches, so it
 *   pays only with a core per GPU. Its log records at the levels this thread's
 *   `["falconry"]` loggers take are emitted here, by loggers of the same category.
 * - `"auto"` (the default): Workers when every target is simulated and the
 *   machine has more cores than there are GPUs, else inline.
 *
 * The caller owns what is returned, a {@linkcode HostBoot}: every result has
 * its `gsp` handle when it booted; disposing the `HostBoot` unloads every
 * GSP still running (concurrently) and closes every device.
 *
 * @example Four simulated GPUs, one of them failing
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootAll } from "./boot_all.ts";
 * import { forgedFirmwareFiles } from "./sim/mod.ts";
 * import { FIRMWARE_MANIFEST } from "./loader/manifest.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/nvidia/ga102/gsp`, { recursive: true });
 * for (const [name, bytes] of Object.entries(forgedFirmwareFiles("ga102"))) {
 *   await Deno.writeFile(`${dir}/nvidia/ga102/gsp/${name}`, bytes);
 * }
 * const target = { sim: "ga102", firmwareDir: dir };
 * {
 *   await using host = await bootAll({
 *     targets: [target, target, { ...target, inject: [{ point: "gsp-rm-no-init-done" }] }, target],
 *     firmwareDir: dir,
 *     firmwareManifest: { ...FIRMWARE_MANIFEST, files: {}, links: {} }, // a forged set
 *     isolation: "inline",
 *   });
 *   assert.deepEqual(host.results.map((r) => r.ok), [true, true, false, true]);
 *   assert.equal(host.results[2].error?.step, "init-done");
 *   assert.deepEqual(host.results[2].residue, []); // its own unwinding cleaned it up
 *   assert.equal(host.results[0].gsp?.chip.name, "ga102");
 *   const unloaded = await host.unload();
 *   assert(unloaded.every((u) => u.ok && u.residue?.length === 0));
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger, type LogLevel } from "npm:@logtape/logtape@2.4.2";
import {
  type BootedSummary,
  deserializeError,
  type GpuSession,
  LocalSession,
  type Residue,
  type SerializedError,
  type SessionBootOutcome,
  type SessionEvents,
  type SessionRequest,
  type SessionUnloadOutcome,
  summaryChip,
} from "./_boot_session.ts";
import type { WorkerCommand } from "./_boot_all_worker.ts";
import type { ChipInfo } from "./chips/chips.ts";
import type { Gsp, GspStaticSummary } from "./gsp/boot.ts";
import type { BootStepEvent, GspBootError } from "./gsp/boot_steps.ts";
import type { FirmwareManifest } from "./loader/manifest_types.ts";
import type { OpenGpuTarget } from "./open_gpu.ts";
import { DEFAULT_SYSFS_ROOT, listNvidiaGpus, normalizeBdf } from "./pci/sysfs.ts";
import type { TraceRecorder, TraceSpan, TraceTrack, TrackAnchor } from "./trace.ts";
import { wallNow } from "./trace.ts";

export type { Residue };

const log = getLogger(["falconry", "boot_all"]);

/** A step event of one GPU. */
export interface GpuStepEvent extends BootStepEvent {
  /** The GPU: its PCI address, or `chip#index` for a simulated one. */
  readonly gpu: string;
  /** Its place in the targets. */
  readonly index: number;
}

/** Options of {@linkcode bootAll}. */
export interface BootAllOptions {
  /** Stops every boot still running; each unwinds and reports an abort. */
  signal?: AbortSignal;
  /** The GPUs to boot (default: every NVIDIA GPU sysfs lists, by PCI address). */
  targets?: readonly OpenGpuTarget[];
  /** Where sysfs is, to list the GPUs when no `targets` are given (default `/sys`). */
  sysfsRoot?: string;
  /**
   * Searched first for the firmware by every GPU's boot; else a simulated target's own
   * `firmwareDir`, else the loader's search order.
   */
  firmwareDir?: string;
  /** Default 570.144. */
  firmwareVersion?: string;
  /** A firmware file whose hash differs from the manifest: `warn` (default) or `throw`. */
  onFirmwareMismatch?: "warn" | "throw";
  /** The manifest to compare the files with (one without files for a forged set). */
  firmwareManifest?: FirmwareManifest;
  /** Every GPU's step events as they come, the unload's (through the `HostBoot`) included. */
  onStep?: (event: GpuStepEvent) => void;
  /** Record every step and wait, one track per GPU (also during the unload). */
  trace?: TraceRecorder;
  /** Each boot in its own Worker, all in this thread, or `auto` (default; see the module doc). */
  isolation?: "worker" | "inline" | "auto";
}

/** A finished step of one GPU. */
export interface GpuStep {
  /** The step's name. */
  readonly step: string;
  /** Its duration on the device's clock, ms. */
  readonly ms: number;
  /** Present when it failed. */
  readonly failed?: true;
}

/** What happened to one GPU. */
export interface BootAllResult {
  /** The GPU: its PCI address, or `chip#index` for a simulated one. */
  readonly gpu: string;
  /** What was asked for. */
  readonly target: OpenGpuTarget;
  /** Whether its GSP runs. */
  readonly ok: boolean;
  /** The running GSP (owned by the {@linkcode HostBoot}: it unloads it when disposed). */
  readonly gsp?: Gsp;
  /** Why it did not boot: a `GspBootError` naming the step, or the error opening it. */
  readonly error?: Error & Partial<Pick<GspBootError, "step" | "code">>;
  /** Its finished steps, the failed one and the unwinding's included. */
  readonly steps: readonly GpuStep[];
  /** What a simulated GPU holds after a failure (empty after a clean unwinding); else null. */
  readonly residue: Residue;
}

/** What the unload of one GPU did. */
export interface UnloadAllResult {
  /** The GPU. */
  readonly gpu: string;
  /** Whether it unloaded (true as well for a GPU that never booted). */
  readonly ok: boolean;
  /** Why it did not unload. */
  readonly error?: Error & Partial<Pick<GspBootError, "step" | "code">>;
  /** Its unload steps. */
  readonly steps: readonly GpuStep[];
  /** What a simulated GPU holds now; null for a real one. */
  readonly residue: Residue;
}

/** The PCI address of a target, or `chip#index` for a simulated one. */
function gpuName(target: OpenGpuTarget, index: number): string {
  return typeof target === "string" ? normalizeBdf(target) : `${target.sim}#${index}`;
}

/** Collects one GPU's steps and sends its events where they go. */
class GpuReporter implements SessionEvents {
  steps: GpuStep[] = [];
  #track?: TraceTrack;

  constructor(
    readonly gpu: string,
    readonly index: number,
    readonly options: Pick<BootAllOptions, "onStep" | "trace">,
  ) {}

  step(event: BootStepEvent): void {
    if (event.phase !== "start") {
      this.steps.push({
        step: event.step,
        ms: event.ms ?? 0,
        ...(event.phase === "fail" ? { failed: true as const } : {}),
      });
    }
    try {
      this.options.onStep?.({ ...event, gpu: this.gpu, index: this.index });
    } catch (e) {
      log.warn("onStep threw for {gpu}: {error}", { gpu: this.gpu, error: String(e) });
    }
  }

  span(span: TraceSpan): void {
    this.#track ??= this.options.trace?.track(this.gpu, {
      deviceMs: span.startMs,
      wallMs: wallNow(),
    });
    this.#track?.add(span);
  }

  anchor(anchor: TrackAnchor): void {
    this.#track ??= this.options.trace?.track(this.gpu, anchor);
  }

  /** The steps since the last call. */
  take(): GpuStep[] {
    const steps = this.steps;
    this.steps = [];
    return steps;
  }
}

type WorkerReply =
  | { type: "step"; event: BootStepEvent }
  | { type: "span"; span: TraceSpan }
  | { type: "anchor"; anchor: TrackAnchor }
  | { type: "booted"; outcome: PlainBootOutcome }
  | { type: "unloaded"; outcome: { error?: SerializedError; residue: Residue } }
  | { type: "kept" }
  | { type: "closed" }
  | { type: "log"; record: { category: string[]; level: LogLevel; rawMessage: string } }
  | { type: "crashed"; error: SerializedError };

type PlainBootOutcome =
  | { ok: true; summary: BootedSummary }
  | { ok: false; error: SerializedError; residue: Residue };

const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** The lowest level this thread's falconry loggers take, or null when they take none. */
function lowestLogLevel(): LogLevel | null {
  const logger = getLogger(["falconry", "boot_all"]);
  return LOG_LEVELS.find((level) => logger.isEnabledFor(level)) ?? null;
}

/** A session in a Worker of its own. */
class WorkerSession implements GpuSession {
  readonly #worker: Worker;
  readonly #events: SessionEvents;
  #waiting?: { type: string; resolve: (reply: WorkerReply) => void; reject: (e: Error) => void };
  #unloaded?: Promise<SessionUnloadOutcome>;
  #closed = false;

  constructor(events: SessionEvents) {
    this.#events = events;
    this.#worker = new Worker(new URL("./_boot_all_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (message: MessageEvent<WorkerReply>) => this.#receive(message.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(new Error(`the boot Worker failed: ${event.message}`));
    };
  }

  #receive(reply: WorkerReply): void {
    switch (reply.type) {
      case "step":
        return this.#events.step(reply.event);
      case "span":
        return this.#events.span(reply.span);
      case "anchor":
        return this.#events.anchor(reply.anchor);
      case "crashed":
        return this.#fail(deserializeError(reply.error));
      case "log": {
        // The Worker's record, emitted by this thread's logger of the same category.
        const { category, ...record } = reply.record;
        return getLogger(category).emit(
          record as Parameters<ReturnType<typeof getLogger>["emit"]>[0],
        );
      }
    }
    const waiting = this.#waiting;
    if (waiting?.type === reply.type) {
      this.#waiting = undefined;
      waiting.resolve(reply);
    }
  }

  #fail(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }

  #ask(command: WorkerCommand, reply: WorkerReply["type"]): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      this.#waiting = { type: reply, resolve, reject };
      this.#worker.postMessage(command);
    });
  }

  async boot(request: SessionRequest, signal?: AbortSignal): Promise<SessionBootOutcome> {
    const onAbort = () =>
      this.#worker.postMessage({ type: "abort", reason: String(signal?.reason?.message ?? "") });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      const reply = await this.#ask(
        { type: "boot", request, logLevel: lowestLogLevel() },
        "booted",
      ) as {
        outcome: PlainBootOutcome;
      };
      const outcome = reply.outcome;
      return outcome.ok ? outcome : { ...outcome, error: deserializeError(outcome.error) };
    } catch (error) {
      return { ok: false, error, residue: null };
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  unload(): Promise<SessionUnloadOutcome> {
    this.#unloaded ??= (async () => {
      try {
        const { outcome } = await this.#ask({ type: "unload" }, "unloaded") as {
          outcome: { error?: SerializedError; residue: Residue };
        };
        return {
          ...(outcome.error ? { error: deserializeError(outcome.error) } : {}),
          residue: outcome.residue,
        };
      } catch (error) {
        return { error, residue: null };
      }
    })();
    return this.#unloaded;
  }

  async keep(): Promise<void> {
    await this.#ask({ type: "keep" }, "kept");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#ask({ type: "close" }, "closed");
    } finally {
      this.#worker.terminate();
    }
  }
}

/** The running GSP of one GPU, as its `BootAllResult` hands it over. */
class SessionGsp implements Gsp {
  readonly chip: ChipInfo;
  readonly staticInfo: GspStaticSummary;
  readonly wpr2: { readonly start: number; readonly end: number };
  readonly steps: readonly { step: string; ms: number }[];
  #kept = false;

  constructor(
    summary: BootedSummary,
    readonly session: GpuSession,
    readonly reporter: GpuReporter,
  ) {
    this.chip = summaryChip(summary);
    this.staticInfo = summary.staticInfo;
    this.wpr2 = summary.wpr2;
    this.steps = summary.steps;
  }

  get kept(): boolean {
    return this.#kept;
  }

  async unload(
    options: { signal?: AbortSignal; onStep?: (e: BootStepEvent) => void } = {},
  ): Promise<void> {
    if (this.#kept) return;
    const extra = options.onStep;
    const reporter = this.reporter;
    const step = reporter.step.bind(reporter);
    if (extra) {
      reporter.step = (event) => {
        step(event);
        extra(event);
      };
    }
    try {
      const { error } = await this.session.unload(options.signal);
      if (error !== undefined) throw error;
    } finally {
      reporter.step = step;
    }
  }

  keep(): void {
    this.#kept = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unload();
  }
}

/**
 * Every GPU's result, and the GSPs that run; disposing it unloads them all
 * (concurrently) and closes every device (and ends the Workers), then throws
 * an `AggregateError` of the unload failures, if any. Dispose it even when
 * every GSP was unloaded through its own handle.
 */
export interface HostBoot extends AsyncDisposable {
  /** One result per GPU, in the order of the targets. */
  readonly results: readonly BootAllResult[];
  /** Whether every GPU booted. */
  readonly ok: boolean;
  /** The GSPs that run. */
  readonly booted: Gsp[];
  /**
   * Unload every GSP still running, concurrently, then close every device
   * (idempotent; disposing does the same). A GSP handed on with `keep()`
   * is left running.
   *
   * @returns One result per GPU, in the order of the targets.
   */
  unload(): Promise<UnloadAllResult[]>;
  /** Leave every running GSP as it is and close the devices (`--keep`). */
  keep(): Promise<void>;
}

/** The {@linkcode HostBoot} of {@linkcode bootAll}. */
class HostBootResults implements HostBoot {
  readonly results: readonly BootAllResult[];
  readonly #sessions: readonly (GpuSession | undefined)[];
  readonly #reporters: readonly GpuReporter[];
  #done?: Promise<UnloadAllResult[]>;

  constructor(
    results: readonly BootAllResult[],
    sessions: readonly (GpuSession | undefined)[],
    reporters: readonly GpuReporter[],
  ) {
    this.results = results;
    this.#sessions = sessions;
    this.#reporters = reporters;
  }

  get ok(): boolean {
    return this.results.every((r) => r.ok);
  }

  get booted(): Gsp[] {
    return this.results.flatMap((r) => r.gsp ? [r.gsp] : []);
  }

  unload(): Promise<UnloadAllResult[]> {
    this.#done ??= Promise.all(this.results.map((result, i) => this.#unloadOne(result, i)));
    return this.#done;
  }

  async #unloadOne(result: BootAllResult, index: number): Promise<UnloadAllResult> {
    const session = this.#sessions[index];
    const reporter = this.#reporters[index];
    if (!session || !result.gsp) {
      return { gpu: result.gpu, ok: true, steps: [], residue: result.residue };
    }
    let error: unknown;
    let residue: Residue = null;
    const gsp = result.gsp as SessionGsp;
    try {
      // The unload's steps reach bootAll's `onStep` through the GPU's reporter.
      if (gsp.kept) await session.keep();
      else await gsp.unload();
    } catch (e) {
      error = e;
    }
    if (!gsp.kept) residue = (await session.unload()).residue;
    try {
      await session.close();
    } catch (e) {
      error ??= e;
    }
    return {
      gpu: result.gpu,
      ok: error === undefined,
      ...(error !== undefined ? { error: asError(error) } : {}),
      steps: reporter.take(),
      residue,
    };
  }

  async keep(): Promise<void> {
    for (const gsp of this.booted) gsp.keep();
    await this.unload();
  }

  /**
   * Unload and close (see {@linkcode HostBoot.unload}).
   *
   * @throws {AggregateError} With every GPU's unload failure, when any failed.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    const failed = (await this.unload()).filter((u) => !u.ok);
    if (failed.length) {
      throw new AggregateError(
        failed.map((u) => u.error),
        `unload failed on ${failed.map((u) => u.gpu).join(", ")}`,
      );
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Where the boots of `targets` run: `auto` picks Workers when every target is
 * simulated (their CPU work is what a Worker moves off the thread) and the
 * machine has a core for each GPU and one more, else this thread.
 *
 * @param isolation What was asked.
 * @param targets The GPUs.
 * @param cores The machine's cores (default: `navigator.hardwareConcurrency`).
 * @returns `worker` or `inline`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isolationFor } from "./boot_all.ts";
 * const eight = Array(8).fill({ sim: "tu102" });
 * assert.equal(isolationFor("auto", eight, 16), "worker");
 * assert.equal(isolationFor("auto", eight, 2), "inline");
 * assert.equal(isolationFor("auto", ["0000:01:00.0", "0000:02:00.0"], 16), "inline");
 * assert.equal(isolationFor("worker", eight, 2), "worker");
 * ```
 */
export function isolationFor(
  isolation: "worker" | "inline" | "auto",
  targets: readonly OpenGpuTarget[],
  cores: number = navigator.hardwareConcurrency,
): "worker" | "inline" {
  if (isolation !== "auto") return isolation;
  const simulated = targets.every((t) => typeof t !== "string");
  return simulated && targets.length > 1 && cores > targets.length ? "worker" : "inline";
}

/**
 * The GPUs to boot: the targets given, else every NVIDIA GPU sysfs lists.
 *
 * @param options `targets` and `sysfsRoot`.
 * @returns The targets.
 */
export async function bootTargets(
  options: Pick<BootAllOptions, "targets" | "sysfsRoot">,
): Promise<OpenGpuTarget[]> {
  if (options.targets) return [...options.targets];
  const gpus = await listNvidiaGpus(options.sysfsRoot ?? DEFAULT_SYSFS_ROOT);
  return gpus.map((gpu) => gpu.bdf);
}

/**
 * Boot every GPU concurrently (see the module documentation).
 *
 * @param options Targets, firmware, signal, step listener, trace, isolation.
 * @returns Every GPU's result; the caller owns it (dispose it to unload and close).
 * @throws {OsError} Only when the GPUs cannot be listed; a GPU's own failure is in its result.
 */
export async function bootAll(options: BootAllOptions = {}): Promise<HostBoot> {
  const targets = await bootTargets(options);
  const request = (target: OpenGpuTarget): SessionRequest => ({
    target,
    // A simulated GPU's own firmware root is the one its falcons recognise.
    firmwareDir: options.firmwareDir ??
      (typeof target === "string" ? undefined : target.firmwareDir),
    firmwareVersion: options.firmwareVersion,
    onFirmwareMismatch: options.onFirmwareMismatch,
    firmwareManifest: options.firmwareManifest,
    trace: options.trace !== undefined,
  });
  const reporters = targets.map((target, i) => new GpuReporter(gpuName(target, i), i, options));
  const isolation = isolationFor(options.isolation ?? "auto", targets);
  const sessions: GpuSession[] = reporters.map((reporter) =>
    isolation === "inline" ? new LocalSession(reporter) : new WorkerSession(reporter)
  );
  log.info("booting {count} GPU(s) ({isolation}): {gpus}", {
    count: targets.length,
    isolation,
    gpus: reporters.map((r) => r.gpu).join(", "),
  });
  const results = await Promise.all(targets.map(async (target, i): Promise<BootAllResult> => {
    const reporter = reporters[i];
    const session = sessions[i];
    const outcome = await session.boot(request(target), options.signal);
    const base = { gpu: reporter.gpu, target };
    if (outcome.ok) {
      const gsp = new SessionGsp(outcome.summary, session, reporter);
      return { ...base, ok: true, gsp, steps: reporter.take(), residue: null };
    }
    // Nothing to hand over: close it now, so that its lock is free at once.
    await session.close().catch((e) =>
      log.warn("closing {gpu}: {error}", {
        gpu: reporter.gpu,
        error: String(e),
      })
    );
    log.info("{gpu} did not boot: {error}", { gpu: reporter.gpu, error: String(outcome.error) });
    return {
      ...base,
      ok: false,
      error: asError(outcome.error),
      steps: reporter.take(),
      residue: outcome.residue,
    };
  }));
  return new HostBootResults(
    results,
    results.map((r, i) => r.ok ? sessions[i] : undefined),
    reporters,
  );
}
