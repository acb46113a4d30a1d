/**
 * A boot, an unload or a reset as a Chrome/Perfetto trace: every step and
 * every wait of a GPU as a complete (`"X"`) trace event on that GPU's own
 * track, timed on the device's clock, so that a person can look at a boot
 * (in `ui.perfetto.dev` or `chrome://tracing`) instead of reading it.
 *
 * Two halves, so that the recording can run where the device is (a Worker)
 * and the file be assembled where the tracks meet:
 *
 * - {@linkcode traceDevice} wraps a {@linkcode Device} in a recording proxy:
 *   the driver's waits (`clock.sleep` in its poll loops, `bar0.poll`) become
 *   {@linkcode TraceSpan}s, consecutive sleeps of one poll folded into one
 *   wait named after the register it reads; its `onStep` listener turns the
 *   boot's step events into step spans. Nothing in the driver changes.
 * - {@linkcode TraceRecorder} gives each GPU a track (its own `pid`, named
 *   with `process_name` metadata) and turns spans into trace events, in µs.
 *   Each track starts at the wall time its device was first seen, and runs on
 *   its device's clock from there: virtual time for a simulated GPU, real time
 *   on hardware or in realistic mode.
 *
 * The recorder is pure: {@linkcode TraceRecorder.toJSON} gives the document,
 * and the caller writes it where it likes.
 *
 * @example Tracing a boot of a simulated TU102
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgedFirmwareFiles, SimulatedGpu } from "./sim/mod.ts";
 * import { bootGsp } from "./gsp/boot.ts";
 * import { FIRMWARE_MANIFEST } from "./loader/manifest.ts";
 * import { traceDevice, TraceRecorder } from "./trace.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/nvidia/tu102/gsp`, { recursive: true });
 * for (const [name, bytes] of Object.entries(forgedFirmwareFiles("tu102"))) {
 *   await Deno.writeFile(`${dir}/nvidia/tu102/gsp/${name}`, bytes);
 * }
 * const recorder = new TraceRecorder();
 * {
 *   await using gpu = new SimulatedGpu({ chip: "tu102" });
 *   const tracer = traceDevice(gpu);
 *   const track = recorder.track("tu102", tracer.anchor());
 *   tracer.sink = (span) => track.add(span);
 *   await using _gsp = await bootGsp(tracer.device, {
 *     firmwareDir: dir,
 *     firmwareManifest: { ...FIRMWARE_MANIFEST, files: {}, links: {} }, // a forged set
 *     onStep: tracer.onStep,
 *   });
 * }
 * const doc = recorder.toJSON();
 * const steps = doc.traceEvents.filter((e) => e.ph === "X" && e.cat === "step");
 * assert(steps.some((e) => e.name === "init-done" && e.dur! > 1000_000)); // > 1 s modelled
 * assert(doc.traceEvents.some((e) => e.ph === "X" && e.cat === "wait"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { chipByName, type ChipInfo } from "./chips/chips.ts";
import type { BootStepEvent } from "./gsp/boot_steps.ts";
import type { Clock } from "./pci/clock.ts";
import type { Device } from "./pci/device.ts";
import type { Mmio, PollOptions } from "./pci/mmio.ts";
import { findByOffset } from "./registers/catalog.ts";

/** One thing that took time on a GPU, on its device's clock. */
export interface TraceSpan {
  /** The step's name (`fwsec-frts`), or `wait <register>` for a wait. */
  readonly name: string;
  /** `step` (a boot, unload or reset step) or `wait` (a poll or a delay inside one). */
  readonly cat: "step" | "wait";
  /** When it began, in ms on the device's clock. */
  readonly startMs: number;
  /** How long it took, in ms on the device's clock. */
  readonly durMs: number;
  /** What the trace viewer shows when the span is selected. */
  readonly args?: Readonly<Record<string, string | number | boolean>>;
}

/** Where a track starts: its device clock's time and the wall time (epoch ms) at that moment. */
export interface TrackAnchor {
  /** The device clock's `now()`. */
  readonly deviceMs: number;
  /** {@linkcode wallNow} at the same moment. */
  readonly wallMs: number;
}

/** One trace event, as the Chrome trace-event format defines it. */
export interface TraceEvent {
  /** What it is. */
  readonly name: string;
  /** Its category (`step`, `wait`, or `__metadata` for `M` events). */
  readonly cat: string;
  /** `X` (a complete event with a duration) or `M` (metadata: track names). */
  readonly ph: "X" | "M";
  /** Start, µs since the trace began. */
  readonly ts: number;
  /** Duration in µs (`X` only). */
  readonly dur?: number;
  /** The track's process id: one per GPU. */
  readonly pid: number;
  /** The track's thread id. */
  readonly tid: number;
  /** Shown on selection; for `M` events, the name. */
  readonly args?: Readonly<Record<string, unknown>>;
}

/** The document a trace file holds (the JSON object form of the trace-event format). */
export interface TraceDocument {
  /** Every event: the track names first, then the spans in time order. */
  readonly traceEvents: TraceEvent[];
  /** How the viewer shows times. */
  readonly displayTimeUnit: "ms";
  /** What recorded it. */
  readonly otherData: { readonly tool: "falconry"; readonly clock: "device" };
}

/**
 * The wall time as epoch milliseconds, comparable between Workers (whose
 * `performance.now()` each start at their own origin).
 *
 * @returns `performance.timeOrigin + performance.now()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wallNow } from "./trace.ts";
 * assert(Math.abs(wallNow() - Date.now()) < 1000);
 * ```
 */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

const MICROS = 1000;
/** Of two spans starting together, which comes first. */
const CAT_ORDER: Readonly<Record<string, number>> = { step: 0, wait: 1 };

/** Rounds to a nanosecond, so that the JSON holds no floating-point noise. */
function micros(ms: number): number {
  return Math.round(ms * MICROS * 1000) / 1000;
}

/**
 * One GPU's track in a {@linkcode TraceRecorder}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraceRecorder } from "./trace.ts";
 * const recorder = new TraceRecorder({ wallOrigin: 1000 });
 * const track = recorder.track("0000:01:00.0", { deviceMs: 50, wallMs: 1002 });
 * track.add({ name: "gfw-boot", cat: "step", startMs: 51, durMs: 0.5 });
 * const [span] = recorder.toJSON().traceEvents.filter((e) => e.ph === "X");
 * assert.deepEqual([span.ts, span.dur, span.pid], [3000, 500, track.pid]);
 * ```
 */
export class TraceTrack {
  /** The track's process id. */
  readonly pid: number;
  /** The track's thread id. */
  readonly tid: number;
  /** What the viewer calls it (the GPU). */
  readonly label: string;
  readonly #offsetMs: number;
  readonly #push: (event: TraceEvent) => void;

  /**
   * Made by {@linkcode TraceRecorder.track}.
   *
   * @param init Its ids, name, where it starts and where events go.
   */
  constructor(init: {
    pid: number;
    tid: number;
    label: string;
    anchor: TrackAnchor;
    wallOrigin: number;
    push: (event: TraceEvent) => void;
  }) {
    this.pid = init.pid;
    this.tid = init.tid;
    this.label = init.label;
    this.#offsetMs = init.anchor.wallMs - init.wallOrigin - init.anchor.deviceMs;
    this.#push = init.push;
  }

  /**
   * Add a span as a complete event.
   *
   * @param span The span, on this track's device clock.
   */
  add(span: TraceSpan): void {
    this.#push({
      name: span.name,
      cat: span.cat,
      ph: "X",
      ts: micros(span.startMs + this.#offsetMs),
      dur: micros(Math.max(0, span.durMs)),
      pid: this.pid,
      tid: this.tid,
      ...(span.args ? { args: span.args } : {}),
    });
  }
}

/**
 * Collects the tracks of one trace file.
 *
 * @example Two GPUs, one track each
 * ```ts
 * import assert from "node:assert/strict";
 * import { TraceRecorder, wallNow } from "./trace.ts";
 * const recorder = new TraceRecorder();
 * for (const label of ["tu102#0", "ga102#1"]) {
 *   recorder.track(label, { deviceMs: 0, wallMs: wallNow() })
 *     .add({ name: "identify", cat: "step", startMs: 0, durMs: 1 });
 * }
 * const doc = recorder.toJSON();
 * const names = doc.traceEvents.filter((e) => e.name === "process_name");
 * assert.deepEqual(names.map((e) => e.args?.name), ["tu102#0", "ga102#1"]);
 * assert.equal(new Set(doc.traceEvents.map((e) => e.pid)).size, 2);
 * ```
 */
export class TraceRecorder {
  readonly #metadata: TraceEvent[] = [];
  readonly #spans: TraceEvent[] = [];
  readonly #wallOrigin: number;
  readonly #zeroAtFirstSpan: boolean;
  #nextPid = 1;

  /**
   * Start a trace.
   *
   * @param options `wallOrigin`: the epoch ms the trace's time 0 stands for (default: the
   *   first span's start).
   */
  constructor(options: { wallOrigin?: number } = {}) {
    this.#wallOrigin = options.wallOrigin ?? wallNow();
    this.#zeroAtFirstSpan = options.wallOrigin === undefined;
  }

  /**
   * A new track: its own pid, named `label`.
   *
   * @param label The GPU (a PCI address, `tu102#3`).
   * @param anchor The device clock's time and the wall time when the track starts.
   * @returns The track.
   */
  track(label: string, anchor: TrackAnchor): TraceTrack {
    const pid = this.#nextPid++;
    const tid = 1;
    const meta = (name: string, args: Record<string, unknown>): TraceEvent => ({
      name,
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid,
      tid,
      args,
    });
    this.#metadata.push(
      meta("process_name", { name: label }),
      meta("process_sort_index", { sort_index: pid }),
      meta("thread_name", { name: "steps and waits" }),
    );
    return new TraceTrack({
      pid,
      tid,
      label,
      anchor,
      wallOrigin: this.#wallOrigin,
      push: (event) => this.#spans.push(event),
    });
  }

  /** How many spans were recorded. */
  get spanCount(): number {
    return this.#spans.length;
  }

  /**
   * The trace-event document: track names, then the spans by start time;
   * at one instant the steps first, in the order they ran, then the waits,
   * longest first, so that viewers nest each wait inside its step.
   *
   * @returns The document, ready for `JSON.stringify`.
   */
  toJSON(): TraceDocument {
    // A stable sort: steps of one instant keep the order they ran in.
    const spans = [...this.#spans].sort((a, b) =>
      a.ts - b.ts || CAT_ORDER[a.cat] - CAT_ORDER[b.cat] ||
      (a.cat === "wait" ? (b.dur ?? 0) - (a.dur ?? 0) : 0)
    );
    // Time 0 is the first span, not the moment the recorder was made (a Worker takes a while
    // to open its GPU).
    const first = this.#zeroAtFirstSpan && spans.length ? spans[0].ts : 0;
    return {
      traceEvents: [
        ...this.#metadata,
        ...spans.map((e) => ({ ...e, ts: micros((e.ts - first) / MICROS) })),
      ],
      displayTimeUnit: "ms",
      otherData: { tool: "falconry", clock: "device" },
    };
  }
}

/** A wait being recorded: sleeps of one poll loop, folded together. */
interface OpenWait {
  startMs: number;
  endMs: number;
  sleeps: number;
  sleptMs: number;
  register: number | undefined;
}

/** Sleeps this close together (device ms), polling the same register, are one wait. */
const WAIT_MERGE_GAP_MS = 5;

/** A device wrapped by {@linkcode traceDevice}. */
export interface DeviceTracer {
  /** The device to hand the driver: the same device, its waits recorded. */
  readonly device: Device;
  /** Pass as the boot's (or unload's) `onStep`: records each step. */
  readonly onStep: (event: BootStepEvent) => void;
  /** Where spans go (settable, so that a track can be made once the device is open). */
  sink: (span: TraceSpan) => void;
  /** The device clock and wall time now, to start a track at. */
  anchor(): TrackAnchor;
  /** End the wait being recorded, if any (the next step event does it too). */
  flush(): void;
}

/**
 * Wrap `device` so that its waits are recorded. The proxy hands the driver
 * the same registers, memory and config space; only `clock.sleep`,
 * `bar0.poll` and `bar0.read32` (to learn which register a poll loop reads)
 * pass through the recorder.
 *
 * @param device The device.
 * @param options `sink` for the spans (settable later), `chip` to name registers
 *   before the `identify` step says it.
 * @returns The proxy and its step listener.
 *
 * @example A poll loop on the device clock is one wait, named after its register
 * ```ts
 * import assert from "node:assert/strict";
 * import { pollValue } from "./pci/mmio.ts";
 * import { SimulatedGpu } from "./sim/mod.ts";
 * import { type TraceSpan, traceDevice } from "./trace.ts";
 * await using gpu = new SimulatedGpu({ chip: "ga102" });
 * const spans: TraceSpan[] = [];
 * const tracer = traceDevice(gpu, { sink: (s) => spans.push(s), chip: "ga102" });
 * const { device } = tracer;
 * let reads = 0;
 * tracer.onStep({ step: "gfw-boot", phase: "start" });
 * await pollValue(() => (device.bar0.read32(0x110040), ++reads), (n) => n === 5, {
 *   clock: device.clock,
 * });
 * tracer.onStep({ step: "gfw-boot", phase: "end", ms: 4 });
 * assert.deepEqual(spans.map((s) => [s.cat, s.name]), [
 *   ["wait", "wait GSP.NV_PFALCON_FALCON_MAILBOX0"],
 *   ["step", "gfw-boot"],
 * ]);
 * assert.equal(spans[0].args?.sleeps, 4);
 * ```
 */
export function traceDevice(
  device: Device,
  options: { sink?: (span: TraceSpan) => void; chip?: string } = {},
): DeviceTracer {
  const inner = device.clock;
  let chip: ChipInfo | undefined = options.chip ? chipByName(options.chip) : undefined;
  let open: OpenWait | undefined;
  let readSinceSleep: number | undefined;
  const started = new Map<string, number>();
  const tracer: DeviceTracer = {
    device: undefined as unknown as Device,
    sink: options.sink ?? (() => {}),
    anchor: () => ({ deviceMs: inner.now(), wallMs: wallNow() }),
    flush,
    onStep,
  };

  function registerName(offset: number | undefined): string {
    if (offset === undefined) return "memory";
    const hit = chip ? findByOffset(chip, offset)[0] : undefined;
    if (!hit) return `0x${offset.toString(16)}`;
    const name = hit.instance.qualifiedName;
    return hit.instance.register.array ? `${name}(${hit.index})` : name;
  }

  function flush(): void {
    if (!open) return;
    const wait = open;
    open = undefined;
    tracer.sink({
      name: `wait ${registerName(wait.register)}`,
      cat: "wait",
      startMs: wait.startMs,
      durMs: wait.endMs - wait.startMs,
      args: {
        sleeps: wait.sleeps,
        sleptMs: Math.round(wait.sleptMs * 1000) / 1000,
        ...(wait.register !== undefined ? { offset: `0x${wait.register.toString(16)}` } : {}),
      },
    });
  }

  function onStep(event: BootStepEvent): void {
    flush();
    readSinceSleep = undefined;
    const now = inner.now();
    if (event.phase === "start") {
      started.set(event.step, now);
      return;
    }
    const startMs = started.get(event.step) ?? now - (event.ms ?? 0);
    started.delete(event.step);
    if (event.step === "identify" && event.phase === "end" && event.detail) {
      chip = chipByName(event.detail.split(" ")[0]) ?? chip;
    }
    tracer.sink({
      name: event.step,
      cat: "step",
      startMs,
      durMs: now - startMs,
      args: {
        ...(event.phase === "fail" ? { failed: true } : {}),
        ...(event.detail ? { detail: event.detail } : {}),
      },
    });
  }

  const clock: Clock = {
    now: () => inner.now(),
    sleep: async (ms, signal) => {
      const start = inner.now();
      const register = readSinceSleep;
      if (!open || start - open.endMs > WAIT_MERGE_GAP_MS || open.register !== register) {
        flush();
        open = { startMs: start, endMs: start, sleeps: 0, sleptMs: 0, register };
      }
      const wait = open;
      try {
        await inner.sleep(ms, signal);
      } finally {
        const end = inner.now();
        wait.endMs = end;
        wait.sleeps++;
        wait.sleptMs += end - start;
        readSinceSleep = undefined;
      }
    },
  };

  const bar = device.bar0;
  const bar0: Mmio = {
    get size() {
      return bar.size;
    },
    get name() {
      return bar.name;
    },
    read32: (offset) => {
      readSinceSleep = offset;
      return bar.read32(offset);
    },
    write32: (offset, value) => bar.write32(offset, value),
    poll: async (offset: number, predicate: (value: number) => boolean, poll?: PollOptions) => {
      flush();
      const start = inner.now();
      try {
        return await bar.poll(offset, predicate, poll);
      } finally {
        tracer.sink({
          name: `wait ${registerName(offset)}`,
          cat: "wait",
          startMs: start,
          durMs: inner.now() - start,
          args: { offset: `0x${offset.toString(16)}` },
        });
      }
    },
  };

  (tracer as { device: Device }).device = new Proxy(device, {
    get(target, property) {
      if (property === "clock") return clock;
      if (property === "bar0") return bar0;
      const value = Reflect.get(target, property, target);
      // Methods run on the device itself: a class's private fields are not on the proxy.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return tracer;
}
