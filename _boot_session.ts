// One GPU's part of `bootAll` (boot_all.ts): open it, boot its GSP, hand the running GSP over,
// unload it, close it; reporting steps (and, when traced, waits) as they happen. The same class
// runs in the caller's thread and inside a Worker (_boot_all_worker.ts); what crosses a Worker's
// boundary is plain data, so errors are flattened here and rebuilt on the other side.

import { chipByName } from "./chips/chips.ts";
import { BootError, DeviceError, FalconryError } from "./errors.ts";
import { bootGsp, type Gsp, type GspStaticSummary } from "./gsp/boot.ts";
import { type BootStepEvent, GspBootError } from "./gsp/boot_steps.ts";
import type { FirmwareManifest } from "./loader/manifest_types.ts";
import { openGpu, type OpenGpuTarget } from "./open_gpu.ts";
import type { Device } from "./pci/device.ts";
import { type DeviceTracer, traceDevice, type TraceSpan, type TrackAnchor } from "./trace.ts";

/** What a simulated GPU is left holding; null for a real GPU, which cannot say. */
export type Residue = { block: string; what: string }[] | null;

/** What one GPU's boot needs. Plain data: it is posted to a Worker. */
export interface SessionRequest {
  /** The GPU. */
  target: OpenGpuTarget;
  /** Searched first for the firmware. */
  firmwareDir?: string;
  /** Default 570.144. */
  firmwareVersion?: string;
  /** A firmware file whose hash differs from the manifest's. */
  onFirmwareMismatch?: "warn" | "throw";
  /** The manifest to compare with (one without files for a forged set). */
  firmwareManifest?: FirmwareManifest;
  /** Record the waits and steps as trace spans. */
  trace?: boolean;
}

/** Where a session reports as it goes. */
export interface SessionEvents {
  /** A boot or unload step event. */
  step(event: BootStepEvent): void;
  /** A traced span (steps and waits), on the device clock. */
  span(span: TraceSpan): void;
  /** The device is open and traced: its track starts here. */
  anchor(anchor: TrackAnchor): void;
}

/** What a booted GSP tells its caller. Plain data. */
export interface BootedSummary {
  /** The chip's name. */
  chip: string;
  /** GSP-RM's static info. */
  staticInfo: GspStaticSummary;
  /** WPR2. */
  wpr2: { start: number; end: number };
  /** The boot's steps. */
  steps: { step: string; ms: number }[];
}

/** How a session's boot ended. */
export type SessionBootOutcome =
  | { ok: true; summary: BootedSummary }
  | { ok: false; error: unknown; residue: Residue };

/** How a session's unload ended. */
export interface SessionUnloadOutcome {
  /** What failed, if anything. */
  error?: unknown;
  /** What the GPU holds afterwards. */
  residue: Residue;
}

/** One GPU's session, wherever it runs. */
export interface GpuSession {
  /** Open and boot; never throws: the failure is in the outcome. */
  boot(request: SessionRequest, signal?: AbortSignal): Promise<SessionBootOutcome>;
  /** Unload the booted GSP (idempotent); never throws. */
  unload(signal?: AbortSignal): Promise<SessionUnloadOutcome>;
  /** Leave the GSP running. */
  keep(): Promise<void>;
  /** Close the device (after a failure, an unload or keep). */
  close(): Promise<void>;
}

/** The residue of a simulated GPU, or null for anything else. */
export function residueOf(device: unknown): Residue {
  const sim = device as { residue?: () => { block: string; what: string }[] } | undefined;
  return typeof sim?.residue === "function"
    ? sim.residue().map(({ block, what }) => ({ block, what }))
    : null;
}

/** A session in this thread. */
export class LocalSession implements GpuSession {
  readonly #events: SessionEvents;
  #device?: Device & AsyncDisposable;
  #tracer?: DeviceTracer;
  #gsp?: Gsp;
  #unloaded?: Promise<SessionUnloadOutcome>;

  /** @param events Where it reports. */
  constructor(events: SessionEvents) {
    this.#events = events;
  }

  #onStep = (event: BootStepEvent): void => {
    this.#tracer?.onStep(event);
    this.#events.step(event);
  };

  async boot(request: SessionRequest, signal?: AbortSignal): Promise<SessionBootOutcome> {
    try {
      signal?.throwIfAborted();
      this.#device = await openGpu(request.target);
    } catch (error) {
      return { ok: false, error, residue: null };
    }
    let device: Device = this.#device;
    if (request.trace) {
      this.#tracer = traceDevice(device, { sink: (span) => this.#events.span(span) });
      this.#events.anchor(this.#tracer.anchor());
      device = this.#tracer.device;
    }
    try {
      this.#gsp = await bootGsp(device, {
        firmwareDir: request.firmwareDir,
        firmwareVersion: request.firmwareVersion,
        onFirmwareMismatch: request.onFirmwareMismatch,
        firmwareManifest: request.firmwareManifest,
        signal,
        onStep: this.#onStep,
      });
    } catch (error) {
      this.#tracer?.flush();
      return { ok: false, error, residue: residueOf(this.#device) };
    }
    const gsp = this.#gsp;
    return {
      ok: true,
      summary: {
        chip: gsp.chip.name,
        staticInfo: gsp.staticInfo,
        wpr2: { start: gsp.wpr2.start, end: gsp.wpr2.end },
        steps: gsp.steps.map(({ step, ms }) => ({ step, ms })),
      },
    };
  }

  unload(signal?: AbortSignal): Promise<SessionUnloadOutcome> {
    this.#unloaded ??= this.#unload(signal);
    return this.#unloaded;
  }

  async #unload(signal?: AbortSignal): Promise<SessionUnloadOutcome> {
    let error: unknown;
    try {
      await this.#gsp?.unload({ signal, onStep: this.#onStep });
    } catch (e) {
      error = e;
    }
    this.#tracer?.flush();
    return { ...(error !== undefined ? { error } : {}), residue: residueOf(this.#device) };
  }

  keep(): Promise<void> {
    this.#gsp?.keep();
    return Promise.resolve();
  }

  async close(): Promise<void> {
    const device = this.#device;
    this.#device = undefined;
    await device?.[Symbol.asyncDispose]();
  }
}

/** An error flattened to cross a Worker's boundary. */
export interface SerializedError {
  /** Its class's name. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack (shown for bugs). */
  stack?: string;
  /** Whether it is a falconry error (else a bug). */
  falconry: boolean;
  /** A boot error's step. */
  step?: string;
  /** The hardware's code. */
  code?: number | string;
  /** A device error's address, problem and advice. */
  device?: { bdf: string; problem: string; todo?: string };
  /** A boot error's cleanup failures. */
  cleanup?: string[];
  /** Whether it was an abort. */
  aborted?: boolean;
}

/** Flatten an error for `postMessage`. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) {
    return { name: "Error", message: String(error), falconry: false };
  }
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    falconry: error instanceof FalconryError,
    ...(error instanceof BootError ? { step: error.step } : {}),
    ...(typeof code === "number" || typeof code === "string" ? { code } : {}),
    ...(error instanceof DeviceError
      ? { device: { bdf: error.bdf, problem: error.problem, todo: error.todo } }
      : {}),
    ...(error instanceof GspBootError && error.cleanupErrors.length
      ? { cleanup: error.cleanupErrors.map((e) => e instanceof Error ? e.message : String(e)) }
      : {}),
    ...(error.name === "AbortError" ? { aborted: true } : {}),
  };
}

/** Rebuild an error flattened by {@linkcode serializeError}, as close to its class as it can. */
export function deserializeError(data: SerializedError): Error {
  let error: Error;
  if (data.step !== undefined) {
    const boot = new GspBootError(data.step, new Error(data.message));
    if (typeof data.code === "number") (boot as { code?: number }).code = data.code;
    boot.cleanupErrors = (data.cleanup ?? []).map((m) => new Error(m));
    error = boot;
  } else if (data.device) {
    error = new DeviceError(data.device.bdf, data.device.problem, data.device.todo);
  } else if (data.falconry) {
    error = new FalconryError(data.message);
  } else if (data.aborted) {
    error = new DOMException(data.message, "AbortError");
  } else {
    error = new Error(data.message);
    error.name = data.name;
  }
  error.message = data.message;
  if (data.stack) error.stack = data.stack;
  return error;
}

/** The chip of a summary, as a `Gsp` names it. */
export function summaryChip(summary: BootedSummary) {
  const chip = chipByName(summary.chip);
  if (!chip) throw new FalconryError(`booted an unknown chip ${summary.chip}`);
  return chip;
}
