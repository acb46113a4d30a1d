/**
 * `boot.ts`: boot the GSP on a GPU, step by step, and unload it again.
 *
 * On a simulated GPU (`--sim CHIP`) or a real one bound to vfio-pci
 * (`--device BDF`), it runs the boot, showing each step as it runs with its
 * duration, then the chip, the GPU's name (GSP-RM's static info) and the
 * WPR2 range; then it unloads the GSP, step by step, unless `--keep` leaves it
 * running: saved for `unload.ts` with `--sim-state`, otherwise held until
 * Ctrl-C (a real GPU's GSP cannot outlive the process that opened it through
 * VFIO). A failure names its step and the hardware's own code, and the
 * unwinding that followed is shown too; a crash bundle of the state before
 * the unwinding is written (`--crash-dir`). `--recover` first climbs the
 * recovery ladder on a dirty GPU. Ctrl-C unwinds, then exits 130.
 *
 * `--inject POINT[=PARAMS]` arms one of the simulator's fault points
 * (`--inject list` lists them), so that a failure and its unwinding can be
 * watched without a GPU.
 *
 * `--all` boots every NVIDIA GPU of the host concurrently (`boot_all.ts`),
 * or with `--sim CHIP[,CHIP…] [--count N]` that many simulated GPUs, each
 * with its own lock, unwinding and result; every step line is prefixed with
 * its GPU, and `--json` prints one object with a result per GPU.
 * `--trace FILE` writes a Chrome/Perfetto trace of every step and wait, one
 * track per GPU.
 *
 * @example
 * ```sh
 * deno run -A scripts/boot.ts --sim tu102
 * deno run -A scripts/boot.ts --sim ga102 --inject booter-bad-signature --json
 * deno run -A scripts/boot.ts --sim tu102 --keep --sim-state /tmp/tu102.json
 * deno run -A scripts/unload.ts --sim-state /tmp/tu102.json
 * deno run -A scripts/boot.ts --all --sim tu102 --count 8 --realistic --trace /tmp/boot.json
 * ```
 *
 * @module
 */

import { relative } from "node:path";
import { chipByName } from "../chips/chips.ts";
import { DEFAULT_FIRMWARE_VERSION, firmwareFiles } from "../chips/firmware_files.ts";
import { BootError } from "../errors.ts";
import { bootGsp, type Gsp } from "../gsp/boot.ts";
import type { BootStepEvent } from "../gsp/boot_steps.ts";
import { locateFirmware } from "../loader/locate.ts";
import { bootTargets } from "../boot_all.ts";
import { openGpu, type OpenGpuTarget } from "../open_gpu.ts";
import { normalizeBdf } from "../pci/sysfs.ts";
import {
  faultPoints,
  forgedFirmwareFiles,
  SIM_CHIP_NAMES,
  SIM_FSP_CHIP_NAMES,
} from "../sim/mod.ts";
import { crashDirProblem, defaultCrashDir } from "../gsp/crash_bundle.ts";
import { recover, type RecoveryReport } from "../gsp/recover.ts";
import { formatRungLine } from "./reset.ts";
import { HOLD_REASON_DEVICE, HOLD_REASON_SIM, holdUntilInterrupted } from "./_hold.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { msSince, runningLines, showResidue, simHeading, StepView } from "./_boot_view.ts";
import {
  describeFailure,
  formatDuration,
  formatHelp,
  type OptionSpecs,
  type ParsedArgs,
  PathError,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";
import { DENO } from "./_deno_command.ts";
import { bootHost, type HostOutcome } from "./_boot_host.ts";
import { TRACE_OPTION, type TraceFile, traceFile } from "./_trace_file.ts";

/** Every chip `--sim` takes: the SEC2 path's, then the FSP path's. */
const SIM_CHIPS: readonly string[] = [...SIM_CHIP_NAMES, ...SIM_FSP_CHIP_NAMES];

/** One `--inject` request: a fault point and its parameters. */
export interface InjectRequest {
  /** The fault point's name. */
  point: string;
  /** Its parameters (empty when none were given). */
  params: Record<string, unknown>;
}

/**
 * Parse `--inject POINT[=PARAMS]`. PARAMS is a JSON object
 * (`fwsec-error-code={"code":4660}`) or `key=value` pairs separated by
 * commas (`fwsec-error-code=code=0x1234`), whose values are read as numbers
 * (decimal or `0x` hex), `true`/`false`, or else kept as text.
 *
 * @param text The option's value.
 * @param known The fault points' names.
 * @returns The request.
 * @throws {UsageError} for an unknown point or parameters that do not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInject } from "./boot.ts";
 * const known = ["fwsec-error-code", "bus-fall-off"];
 * assert.deepEqual(parseInject("fwsec-error-code=code=0x1234", known), {
 *   point: "fwsec-error-code",
 *   params: { code: 0x1234 },
 * });
 * assert.deepEqual(parseInject('bus-fall-off={"afterAccesses":5}', known).params, { afterAccesses: 5 });
 * assert.deepEqual(parseInject("bus-fall-off", known).params, {});
 * assert.throws(() => parseInject("fwsec-eror-code", known), /did you mean fwsec-error-code\?/);
 * assert.throws(() => parseInject("bus-fall-off=afterAccesses", known), /expected KEY=VALUE/);
 * ```
 */
export function parseInject(text: string, known: readonly string[]): InjectRequest {
  const at = text.indexOf("=");
  const point = at < 0 ? text : text.slice(0, at);
  if (!known.includes(point)) {
    const near = closest(point, known);
    throw new UsageError(
      `--inject ${point}: unknown fault point${
        near ? `; did you mean ${near}?` : ""
      } (\`--inject list\` lists them)`,
    );
  }
  return { point, params: at < 0 ? {} : parseParams(point, text.slice(at + 1)) };
}

function parseParams(point: string, text: string): Record<string, unknown> {
  if (text.trimStart().startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--inject ${point}: parameters are not JSON: ${(e as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new UsageError(`--inject ${point}: parameters must be a JSON object`);
    }
    return value as Record<string, unknown>;
  }
  const params: Record<string, unknown> = {};
  for (const pair of text.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new UsageError(
        `--inject ${point}=${text}: expected KEY=VALUE[,KEY=VALUE…] or a JSON object`,
      );
    }
    params[pair.slice(0, eq).trim()] = paramValue(pair.slice(eq + 1).trim());
  }
  return params;
}

function paramValue(text: string): unknown {
  if (/^(0x[0-9a-f]+|-?\d+(\.\d+)?)$/i.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  return text;
}

/** The known name closest to `name` (edit distance at most a third of its length), if any. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/**
 * The fault points, one line each: name, owner, what the host sees, and the
 * parameters it takes.
 *
 * @returns The lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultPointLines } from "./boot.ts";
 * assert(faultPointLines().some((l) => l.startsWith("bus-fall-off ")));
 * ```
 */
export function faultPointLines(): string[] {
  const points = faultPoints();
  const nameWidth = Math.max(...points.map((p) => p.name.length)) + 2;
  const ownerWidth = Math.max(...points.map((p) => p.owner.length)) + 2;
  return points.map((p) =>
    `${p.name.padEnd(nameWidth)}${p.owner.padEnd(ownerWidth)}${p.description}${
      p.parameters ? ` [parameters: ${p.parameters}]` : ""
    }`
  );
}

/** Where a simulated GPU's firmware comes from. */
export interface SimFirmware extends AsyncDisposable {
  /** The firmware root the boot reads (and the simulator recognises). */
  readonly dir: string;
  /** `real` (linux-firmware's files) or `forged`. */
  readonly origin: "real" | "forged";
}

/**
 * The firmware for a boot of a simulated `chip`: the root `dir` names, else
 * the real files wherever the loader finds them (FALCONRY_FIRMWARE_DIR, the
 * cache, /lib/firmware), else (or with `forged`) a temporary root holding
 * the simulator's forged set, removed on dispose.
 *
 * @param chip The chip's name.
 * @param options `dir` (`--firmware`) and `forged` (`--forged`).
 * @returns The root and where its files come from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simFirmware } from "./boot.ts";
 * await using firmware = await simFirmware("tu102", { forged: true });
 * assert.equal(firmware.origin, "forged");
 * assert((await Deno.stat(`${firmware.dir}/nvidia/tu102/gsp/booter_load-570.144.bin`)).isFile);
 * ```
 */
export async function simFirmware(
  chip: string,
  options: { dir?: string; forged?: boolean } = {},
): Promise<SimFirmware> {
  const keep = () => Promise.resolve();
  if (options.dir !== undefined) {
    return { dir: options.dir, origin: "real", [Symbol.asyncDispose]: keep };
  }
  if (!options.forged) {
    const located = await locateFirmware({ chip, version: DEFAULT_FIRMWARE_VERSION });
    const root = located.files.find((f) => f.root)?.root;
    if (located.ok && root) return { dir: root.dir, origin: "real", [Symbol.asyncDispose]: keep };
  }
  const dir = await Deno.makeTempDir({ prefix: "falconry-forged-" });
  const info = chipByName(chip)!;
  const forged = forgedFirmwareFiles(info);
  const wanted = new Set(firmwareFiles(info, DEFAULT_FIRMWARE_VERSION).map((f) => f.path));
  for (const [name, bytes] of Object.entries(forged)) {
    const path = `nvidia/${info.name}/gsp/${name}`;
    if (!wanted.has(path)) continue;
    await Deno.mkdir(`${dir}/nvidia/${info.name}/gsp`, { recursive: true });
    await Deno.writeFile(`${dir}/${path}`, bytes);
  }
  return {
    dir,
    origin: "forged",
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** What one boot (and unload) did, as `--json` prints it. */
export interface BootOutcome {
  /** Whether everything asked for worked. */
  ok: boolean;
  /** The chip's name. */
  chip: string | null;
  /** The GPU's name from GSP-RM's static info, once it was read. */
  gpu: string | null;
  /** The WPR2 range GSP-RM runs in, once it was set. */
  wpr2: { start: number; end: number } | null;
  /** `real` or `forged` firmware (null on a real GPU, where the loader finds it). */
  firmware: "real" | "forged" | null;
  /** Whether the GSP was left running (`--keep`). */
  kept: boolean;
  /** How long `--keep` held the GSP running before Ctrl-C unloaded it, in ms (wall time). */
  heldMs?: number;
  /** What `--recover` did before the boot: each rung, and the verdict. */
  recovery?: Pick<RecoveryReport, "ok" | "rungs" | "verdict" | "needsPowerCycle">;
  /** Every step that finished, boot and unload, in order. */
  steps: { name: string; ms: number; failed?: true; detail?: string }[];
  /** What failed: the step, the hardware's code when there is one, and the message. */
  error?: {
    step: string | null;
    code: string | number | null;
    message: string;
    kind: string;
    /** Where the crash bundle of the state before the unwinding went. */
    crashBundle?: string;
    /** Why no crash bundle could be written. */
    crashBundleError?: string;
  };
  /** What a simulated GPU was left holding (empty when clean); null on a real GPU. */
  residue: { block: string; what: string }[] | null;
  /** Whether Ctrl-C (or SIGTERM) stopped it. */
  interrupted?: true;
}

/**
 * An abort controller that SIGINT and SIGTERM trigger. A second signal
 * exits at once with the signal's code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Interrupt } from "./boot.ts";
 * using interrupt = new Interrupt(() => {});
 * assert(!interrupt.signal.aborted && interrupt.code === undefined);
 * ```
 */
export class Interrupt implements Disposable {
  /** Aborted by the first signal. */
  readonly controller: AbortController = new AbortController();
  /** The exit code the first signal asks for (130, 143), once one came. */
  code: number | undefined;
  readonly #listeners: [Deno.Signal, () => void][] = [];

  /** @param onFirst Told of the first signal (to say that the unwinding runs). */
  constructor(onFirst: (signal: Deno.Signal) => void) {
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const listener = () => {
        if (this.code !== undefined) Deno.exit(this.code);
        this.code = code;
        onFirst(signal);
        this.controller.abort(new DOMException(`interrupted (${signal})`, "AbortError"));
      };
      Deno.addSignalListener(signal, listener);
      this.#listeners.push([signal, listener]);
    }
  }

  /** The signal to give the boot. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stop listening. */
  [Symbol.dispose](): void {
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** A device the CLI opened: the driver's view, and the simulator's when simulated. */
type OpenedGpu = Awaited<ReturnType<typeof openGpu>>;

/**
 * The residue a simulated GPU reports, or null for a real one.
 *
 * @param gpu The opened device.
 * @returns Its leftovers, or null when it cannot say (real hardware).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { residueOf } from "./boot.ts";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * await using gpu = await SimulatedGpu.create({ chip: "tu102" });
 * assert.deepEqual(residueOf(gpu), []);
 * assert.equal(residueOf({}), null);
 * ```
 */
export function residueOf(gpu: unknown): { block: string; what: string }[] | null {
  const sim = gpu as { residue?: () => { block: string; what: string }[] };
  return typeof sim.residue === "function"
    ? sim.residue().map(({ block, what }) => ({ block, what }))
    : null;
}

/**
 * The failure's step, code and message for `--json`; bugs are rethrown. An
 * abort that reached the caller unwrapped is reported as an interruption.
 *
 * @param e What the boot or unload threw.
 * @param signal The boot's abort signal.
 * @returns The `error` of the JSON.
 * @throws What it was given, when that is a bug (not a falconry error).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootFailure } from "./boot.ts";
 * import { BootError } from "../errors.ts";
 * const e = Object.assign(new BootError("booter-load", new Error("MBOX0 0x8")), { code: 8 });
 * assert.deepEqual(bootFailure(e), {
 *   step: "booter-load",
 *   code: 8,
 *   message: "boot step booter-load failed: MBOX0 0x8",
 *   kind: "boot",
 * });
 * assert.throws(() => bootFailure(new TypeError("a bug")), TypeError);
 * ```
 */
export function bootFailure(e: unknown, signal?: AbortSignal): NonNullable<BootOutcome["error"]> {
  if (signal?.aborted && e === signal.reason) {
    return { step: null, code: null, message: String((e as Error).message), kind: "interrupted" };
  }
  const failure = describeFailure(e);
  if (failure.internal) throw e;
  const { code, crashBundle, crashBundleError } = e as {
    code?: unknown;
    crashBundle?: string;
    crashBundleError?: string;
  };
  return {
    step: e instanceof BootError ? e.step : null,
    code: typeof code === "string" || typeof code === "number" ? code : null,
    message: failure.json.error.message,
    kind: failure.json.error.kind,
    ...(crashBundle !== undefined ? { crashBundle } : {}),
    ...(crashBundleError !== undefined ? { crashBundleError } : {}),
  };
}

/** What {@linkcode bootAndUnload} needs. */
export interface BootRun {
  /** The device to open. */
  target: OpenGpuTarget;
  /** The firmware root for the boot (undefined: the loader looks). */
  firmwareDir?: string;
  /** The firmware is a forged set: nothing to compare with linux-firmware's manifest. */
  forgedFirmware?: boolean;
  /** Leave the GSP running. */
  keep?: boolean;
  /**
   * With `keep`: the GSP cannot outlive this process (why, for the user); hold it running until
   * the signal aborts, then unload it.
   */
  holdReason?: string;
  /** Climb the recovery ladder before the boot (`--recover`). */
  recover?: boolean;
  /** Where a failed boot's crash bundle goes. */
  crashDir?: string;
  /** How to tell the user to unload a kept GSP. */
  unloadHint?: string;
  /** Where steps go. */
  view: StepView;
  /** Aborts the boot (Ctrl-C). */
  signal?: AbortSignal;
  /** Records every step and wait of the boot and unload (`--trace`). */
  trace?: TraceFile;
  /** The GPU's track name in the trace (default: its PCI address or chip). */
  traceLabel?: string;
}

/**
 * Open the GPU, boot the GSP showing each step, show what runs, then unload
 * it (or keep it), and say what the simulated GPU was left holding.
 *
 * @param run What to do.
 * @param outcome Filled in as it goes (so that an interrupted run reports what it did).
 * @returns The outcome.
 *
 * @example A simulated TU102 with forged firmware, nothing printed
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootAndUnload, simFirmware } from "./boot.ts";
 * import { StepView } from "./_boot_view.ts";
 * await using firmware = await simFirmware("tu102", { forged: true });
 * using view = new StepView({ quiet: true });
 * const outcome = await bootAndUnload(
 *   { target: { sim: "tu102", firmwareDir: firmware.dir }, firmwareDir: firmware.dir, view },
 *   { ok: false, chip: "tu102", gpu: null, wpr2: null, firmware: "forged", kept: false, steps: [], residue: null },
 * );
 * assert(outcome.ok && outcome.steps.some((s) => s.name === "booter-unload"));
 * assert.deepEqual(outcome.residue, []);
 * ```
 */
export async function bootAndUnload(run: BootRun, outcome: BootOutcome): Promise<BootOutcome> {
  const { view } = run;
  const first = view.steps.length;
  await using gpu: OpenedGpu = await openGpu(run.target);
  const label = run.traceLabel ??
    (typeof run.target === "string" ? run.target : run.target.sim);
  const tracer = run.trace?.device(gpu, label);
  const onStep = (event: BootStepEvent) => {
    tracer?.onStep(event);
    view.onStep(event);
  };
  try {
    await bootThenUnload(run, tracer?.device ?? gpu, outcome, onStep);
  } finally {
    tracer?.flush();
    outcome.steps = view.steps.slice(first);
    outcome.residue = residueOf(gpu);
  }
  outcome.ok = outcome.error === undefined;
  return outcome;
}

async function bootThenUnload(
  run: BootRun,
  gpu: OpenedGpu,
  outcome: BootOutcome,
  onStep: (event: BootStepEvent) => void,
): Promise<void> {
  const { view } = run;
  // A forged set differs from linux-firmware's by design: compare it against nothing.
  const firmwareManifest = run.forgedFirmware
    ? { ...FIRMWARE_MANIFEST, files: {}, links: {} }
    : undefined;
  if (run.recover) {
    view.line("recover:");
    let report: RecoveryReport;
    try {
      report = await recover(gpu, {
        firmwareDir: run.firmwareDir,
        firmwareManifest,
        signal: run.signal,
        onStep,
        onRung: (event) => {
          if (event.phase === "end") view.line(`  ${formatRungLine(event)}`);
        },
      });
    } catch (e) {
      outcome.error = { ...bootFailure(e, run.signal), step: "recover" };
      return;
    }
    const { ok, rungs, verdict, needsPowerCycle } = report;
    outcome.recovery = { ok, rungs, verdict, needsPowerCycle };
    view.line(verdict);
    if (!ok) {
      outcome.error = {
        step: "recover",
        code: null,
        message: verdict,
        kind: needsPowerCycle ? "power-cycle" : "recover",
      };
      return;
    }
    view.line("boot:");
  }
  let gsp: Gsp;
  try {
    gsp = await bootGsp(gpu, {
      firmwareDir: run.firmwareDir,
      firmwareManifest,
      signal: run.signal,
      onStep,
      crashDir: run.crashDir,
    });
  } catch (e) {
    outcome.error = bootFailure(e, run.signal);
    showCrashBundle(view, outcome.error);
    return;
  }
  // From here the GSP runs: if showing it fails, it is unloaded all the same.
  await using guard = new AsyncDisposableStack();
  guard.use(gsp);
  outcome.chip = gsp.chip.name;
  outcome.gpu = gsp.staticInfo.boardName;
  outcome.wpr2 = { start: gsp.wpr2.start, end: gsp.wpr2.end };
  for (const line of runningLines(gsp)) view.line(line);
  guard.move();
  if (run.keep && run.holdReason === undefined) {
    gsp.keep();
    outcome.kept = true;
    if (run.unloadHint) view.line(run.unloadHint);
    return;
  }
  if (run.keep && run.signal) {
    // Under --json stdout is the JSON alone, but the person waiting must learn how to end the hold.
    const say = (line: string) => view.quiet ? console.error(line) : view.line(line);
    outcome.heldMs = await holdUntilInterrupted(run.signal, say, run.holdReason!);
  }
  view.line("unload:");
  const first = view.steps.length;
  try {
    // No signal: the unload runs to its end even after Ctrl-C, since stopping it halfway
    // would leave WPR2 set.
    await gsp.unload({ onStep });
    view.line(`unloaded: GSP halted, WPR2 clear (in ${formatDuration(msSince(view, first))})`);
  } catch (e) {
    outcome.error = bootFailure(e);
  }
}

/** Say where the crash bundle went, or why it could not be written. */
function showCrashBundle(view: StepView, error: NonNullable<BootOutcome["error"]>): void {
  if (error.crashBundle !== undefined) {
    view.line(
      `crash bundle: ${error.crashBundle} (${scriptCommand("crash.ts", error.crashBundle)})`,
    );
  } else if (error.crashBundleError !== undefined) {
    view.line(`crash bundle not written: ${error.crashBundleError}`);
  }
}

const OPTIONS: OptionSpecs = {
  device: {
    type: "string",
    valueName: "BDF",
    description: "a GPU bound to vfio-pci (0000:01:00.0); writes to it",
  },
  sim: {
    type: "string",
    valueName: "CHIP",
    description: `a simulated GPU: ${SIM_CHIPS.join(", ")}`,
  },
  firmware: {
    type: "string",
    valueName: "DIR",
    description:
      "a firmware root (nvidia/<chip>/gsp/…); default: FALCONRY_FIRMWARE_DIR, the cache, " +
      "/lib/firmware; in simulation forged files when none has the chip's set",
  },
  forged: {
    type: "boolean",
    description: "in simulation, boot forged firmware even if real exists",
  },
  vbios: {
    type: "string",
    valueName: "FILE",
    description:
      "in simulation, the VBIOS in the simulated PROM (default: one forged for the chip)",
  },
  keep: {
    type: "boolean",
    description: "leave the GSP running: saved with --sim-state for unload.ts; otherwise held " +
      "until Ctrl-C, then unloaded (a real GPU's GSP cannot outlive this process)",
  },
  recover: {
    type: "boolean",
    description:
      "first climb the recovery ladder (as reset.ts) on a GPU an earlier boot left dirty",
  },
  "crash-dir": {
    type: "string",
    valueName: "DIR",
    description: "where a failed boot's crash bundle goes (default: a new folder under " +
      "~/.cache/falconry/crash/); DIR must not exist, or be empty",
  },
  "no-crash-dir": {
    type: "boolean",
    description: "write no crash bundle",
  },
  inject: {
    type: "string",
    valueName: "POINT[=PARAMS]",
    multiple: true,
    description: "in simulation, arm a fault point (repeatable); `--inject list` lists them",
  },
  "sim-state": {
    type: "string",
    valueName: "FILE",
    description:
      "in simulation, reopen the GPU from FILE when it exists, and save it there at the end",
  },
  realistic: {
    type: "boolean",
    description: "in simulation, take the real hardware's time (sleeps) instead of virtual time",
  },
  all: {
    type: "boolean",
    description: "boot every NVIDIA GPU concurrently; with --sim CHIP[,CHIP…], simulated ones",
  },
  count: {
    type: "string",
    valueName: "N",
    description: "with --all --sim, N GPUs of each chip (default 1)",
  },
  trace: TRACE_OPTION,
};

const HELP = formatHelp({
  usage: "boot.ts (--device BDF | --sim CHIP) [--firmware DIR | --forged] [--vbios FILE]\n" +
    "               [--keep] [--sim-state FILE] [--inject POINT[=PARAMS]] [--realistic]\n" +
    "               [--recover] [--crash-dir DIR | --no-crash-dir] [--trace FILE] [--json]\n" +
    "       boot.ts --all [--sim CHIP[,CHIP…] [--count N]] [--inject [N:]POINT[=PARAMS]] …",
  summary: "Boot the GSP, step by step, then unload it (or keep it running with --keep).",
  description: `
Each step shows as it runs, with its duration on the device's clock (virtual
time in simulation, unless --realistic). Then the chip, the GPU's name from
GSP-RM's static info and the WPR2 range; then the unload, step by step. A
failure names its step and the hardware's own code; the unwinding that follows
is shown, and in simulation what the GPU was left holding (its residue).
Ctrl-C unwinds, then exits 130; a second Ctrl-C exits at once.

--keep leaves GSP-RM running. A simulated GPU with --sim-state FILE is saved
there for unload.ts. Otherwise (a real GPU, or no state file) the GSP cannot
outlive this process: closing a VFIO device resets the GPU, and GSP-RM's
queues are this process's DMA memory. So it is held running until Ctrl-C or
SIGTERM, then unloaded, and the exit code is 0.

A dirty GPU (WPR2 already set by an earlier boot) is refused before anything
is written: "GPU needs reset". --recover first climbs the recovery ladder (as
reset.ts: the unload bundle, a falcon reset, FLR, a bus reset where allowed)
and boots only when the GPU came out clean.

When a step fails, a crash bundle of the state before any unwinding (falcon
and RISC-V registers, mailboxes, WPR2, scratch registers, the GSP's log
buffers, the RPC history, the firmware's hashes) is written to --crash-dir DIR,
by default to a new folder under ~/.cache/falconry/crash/; crash.ts DIR shows
it. --no-crash-dir writes none.

--inject POINT[=PARAMS] arms a fault point of the simulator: PARAMS is a JSON
object or KEY=VALUE pairs separated by commas (fwsec-error-code=code=0x1234).
--inject list prints every point: name, owner, what the host sees.

With --json, stdout is one JSON object: {ok, chip, gpu, wpr2, firmware, kept,
steps: [{name, ms}], error?: {step, code, message, kind, crashBundle?},
recovery?, heldMs?, residue} (residue is null on a real GPU). The exit code is
0, 1 when the boot or unload failed, 130 after Ctrl-C.

--all boots every NVIDIA GPU of the host concurrently, each with its own lock,
unwinding and result; with --sim CHIP[,CHIP…] it boots simulated GPUs instead
(--count N of each), named CHIP#INDEX, each in a Worker of its own when the
machine has a core for each. Each step line starts with its GPU. --inject
N:POINT arms a fault on GPU N only (--inject POINT on every one). With --json,
stdout is {ok, gpus: [{id, …the object above}]}; the exit code is 1 when any
GPU failed.

--trace FILE writes a Chrome/Perfetto trace-event JSON (open it in
ui.perfetto.dev): every step and every wait as a complete event, timed on the
device's clock, one track per GPU.`,
  options: OPTIONS,
});

interface Validated {
  target: OpenGpuTarget;
  realistic?: boolean;
  vbios?: string;
  bdf?: string;
  chip?: string;
  firmwareDir?: string;
  forged: boolean;
  keep: boolean;
  state?: string;
  recover: boolean;
  crashDir?: string;
}

/** `--crash-dir DIR`, `--no-crash-dir`, or the default folder for this target. */
function crashDirOf(args: ParsedArgs, target: string): string | undefined {
  const dir = args.string("crash-dir");
  if (dir !== undefined && args.flag("no-crash-dir")) {
    throw new UsageError("--crash-dir and --no-crash-dir contradict each other");
  }
  if (args.flag("no-crash-dir")) return undefined;
  if (dir === undefined) return defaultCrashDir(target);
  const problem = crashDirProblem(dir);
  if (problem !== undefined) throw new PathError(dir, "directory", problem, "--crash-dir");
  return dir;
}

function validate(args: ParsedArgs): Validated {
  if (args.positionals.length) throw new UsageError("boot.ts takes no positional arguments");
  const device = args.string("device");
  const sim = args.string("sim");
  if ((device === undefined) === (sim === undefined)) {
    throw new UsageError("give exactly one of --device BDF and --sim CHIP");
  }
  if (args.values.count !== undefined) throw new UsageError("--count goes with --all --sim CHIP");
  const injects = (args.values.inject as string[] | undefined) ?? [];
  const state = args.string("sim-state");
  const keep = args.flag("keep");
  const firmwareDir = args.string("firmware");
  if (device !== undefined) {
    for (const flag of ["inject", "sim-state", "vbios", "forged", "realistic"]) {
      if (args.values[flag] !== undefined && args.values[flag] !== false) {
        throw new UsageError(`--${flag} is for a simulated GPU (--sim), not --device`);
      }
    }
  }
  const chip = sim?.toLowerCase();
  if (chip !== undefined && !SIM_CHIPS.includes(chip)) {
    throw new UsageError(`--sim ${sim}: not a simulated chip; known: ${SIM_CHIPS.join(", ")}`);
  }
  if (firmwareDir !== undefined && args.flag("forged")) {
    throw new UsageError("--forged and --firmware contradict each other");
  }
  if (firmwareDir !== undefined) requirePath(firmwareDir, "directory", "--firmware");
  const vbios = args.string("vbios");
  if (vbios !== undefined) requirePath(vbios, "file", "--vbios");
  const known = faultPoints().map((p) => p.name);
  const inject = injects.map((text) => parseInject(text, known));
  const recover = args.flag("recover");
  if (device !== undefined) {
    const bdf = normalizeBdf(device);
    const crashDir = crashDirOf(args, bdf);
    return { target: bdf, bdf, firmwareDir, forged: false, keep, recover, crashDir };
  }
  if (state !== undefined) requireStateParent(state);
  return {
    target: {
      sim: chip!,
      ...(vbios !== undefined ? { vbios } : {}),
      ...(state !== undefined ? { state } : {}),
      ...(args.flag("realistic") ? { realistic: true } : {}),
      ...(inject.length ? { inject: inject.map(({ point, params }) => ({ point, params })) } : {}),
    },
    chip,
    realistic: args.flag("realistic"),
    vbios,
    firmwareDir,
    forged: args.flag("forged"),
    keep,
    state,
    recover,
    crashDir: crashDirOf(args, `sim-${chip}`),
  };
}

/** What `--all` boots. */
interface HostPlan {
  /** The simulated chips, one per GPU, in order; empty for the host's real GPUs. */
  chips: string[];
  /** The fault points of each GPU, by index. */
  inject: InjectRequest[][];
  realistic: boolean;
  vbios?: string;
  firmwareDir?: string;
  forged: boolean;
  keep: boolean;
}

/** Flags `--all` does not take, and why. */
const NOT_WITH_ALL: Readonly<Record<string, string>> = {
  device: "--all boots every GPU; give --device alone to boot one",
  "sim-state": "--sim-state keeps one simulated GPU; it does not go with --all",
  recover: "--recover goes with one GPU: run reset.ts on each dirty GPU, then boot --all",
  "crash-dir": "--crash-dir is for one GPU (--device or --sim)",
};

/** The flags only a simulated GPU takes. */
const SIM_ONLY = ["inject", "vbios", "forged", "realistic", "count"];

function validateAll(args: ParsedArgs): HostPlan {
  if (args.positionals.length) throw new UsageError("boot.ts takes no positional arguments");
  for (const [flag, why] of Object.entries(NOT_WITH_ALL)) {
    if (args.values[flag] !== undefined) throw new UsageError(why);
  }
  const sim = args.string("sim");
  const keep = args.flag("keep");
  if (sim === undefined) {
    for (const flag of SIM_ONLY) {
      if (args.values[flag] !== undefined && args.values[flag] !== false) {
        throw new UsageError(`--${flag} is for simulated GPUs (--all --sim CHIP[,CHIP…])`);
      }
    }
  }
  const listed = sim === undefined ? [] : sim.toLowerCase().split(",").map((c) => c.trim());
  for (const chip of listed) {
    if (!SIM_CHIPS.includes(chip)) {
      throw new UsageError(
        `--sim ${chip}: not a simulated chip; known: ${SIM_CHIPS.join(", ")}`,
      );
    }
  }
  if (sim !== undefined && keep) {
    throw new UsageError("--keep with --all is for real GPUs: simulated ones would not be saved");
  }
  const firmwareDir = args.string("firmware");
  if (firmwareDir !== undefined && args.flag("forged")) {
    throw new UsageError("--forged and --firmware contradict each other");
  }
  if (firmwareDir !== undefined) requirePath(firmwareDir, "directory", "--firmware");
  const vbios = args.string("vbios");
  if (vbios !== undefined) requirePath(vbios, "file", "--vbios");
  const count = args.integer("count", 1, 64) ?? 1;
  const chips = listed.flatMap((chip) => Array.from({ length: count }, () => chip));
  const known = faultPoints().map((p) => p.name);
  const inject: InjectRequest[][] = chips.map(() => []);
  for (const text of (args.values.inject as string[] | undefined) ?? []) {
    const at = /^(\d+):(.*)$/.exec(text);
    const request = parseInject(at ? at[2] : text, known);
    if (!at) {
      for (const list of inject) list.push(request);
      continue;
    }
    const index = Number(at[1]);
    if (index >= chips.length) {
      throw new UsageError(
        `--inject ${text}: there is no GPU ${index}; the GPUs are 0 to ${chips.length - 1}`,
      );
    }
    inject[index].push(request);
  }
  return {
    chips,
    inject,
    realistic: args.flag("realistic"),
    vbios,
    firmwareDir,
    forged: args.flag("forged"),
    keep,
  };
}

/** `--all`: every GPU concurrently. */
async function mainAll(args: ParsedArgs): Promise<number> {
  const plan = validateAll(args);
  const trace = traceFile(args.string("trace"));
  const say = (text: string) => {
    if (!args.json) console.log(text);
  };
  using interrupt = new Interrupt((signal) => {
    say(`${signal}: stopping; every GPU unwinds what was done (again to exit at once)`);
  });
  await using firmwares = new AsyncDisposableStack();
  const byChip = new Map<string, SimFirmware>();
  for (const chip of new Set(plan.chips)) {
    byChip.set(
      chip,
      firmwares.use(await simFirmware(chip, { dir: plan.firmwareDir, forged: plan.forged })),
    );
  }
  // The simulated falcons recognise the files of their chip's root, the ones its boot loads.
  const targets: OpenGpuTarget[] = plan.chips.length
    ? plan.chips.map((chip, i) => ({
      sim: chip,
      firmwareDir: byChip.get(chip)!.dir,
      ...(plan.vbios !== undefined ? { vbios: plan.vbios } : {}),
      ...(plan.realistic ? { realistic: true } : {}),
      ...(plan.inject[i].length ? { inject: plan.inject[i] } : {}),
    }))
    : await bootTargets({});
  const forged = [...byChip.values()].some((f) => f.origin === "forged");
  say(
    plan.chips.length
      ? `boot ${targets.length} simulated GPUs concurrently: ${
        plan.realistic ? "real time" : "virtual time"
      }, ${[...byChip].map(([chip, f]) => `${chip} ${f.origin} firmware`).join(", ")}`
      : `boot ${targets.length} GPUs concurrently: ${targets.join(", ") || "none found"}`,
  );
  let outcome: HostOutcome;
  try {
    outcome = await bootHost({
      targets,
      firmwareDir: plan.chips.length ? undefined : plan.firmwareDir,
      firmwareManifest: forged ? { ...FIRMWARE_MANIFEST, files: {}, links: {} } : undefined,
      keep: plan.keep,
      quiet: args.json,
      signal: interrupt.signal,
      trace: trace?.recorder,
      outcome: (target) => ({
        ok: false,
        chip: typeof target === "string" ? null : target.sim,
        gpu: null,
        wpr2: null,
        firmware: typeof target === "string" ? null : byChip.get(target.sim)!.origin,
        kept: false,
        steps: [],
        residue: null,
      }),
    });
  } finally {
    await trace?.write();
  }
  if (interrupt.code !== undefined) outcome.interrupted = true;
  if (args.json) printJson(outcome);
  for (const gpu of outcome.gpus) {
    if (gpu.error) console.error(`error: ${gpu.id}: ${gpu.error.message}`);
  }
  if (outcome.heldMs !== undefined) return outcome.ok ? 0 : 1;
  return interrupt.code ?? (outcome.ok ? 0 : 1);
}

/** The state file may not exist yet, but its folder must, and it must not be a folder. */
function requireStateParent(state: string): void {
  let isDirectory = false;
  try {
    isDirectory = Deno.statSync(state).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    const parent = state.includes("/") ? state.slice(0, state.lastIndexOf("/")) || "/" : ".";
    try {
      requirePath(parent, "directory");
    } catch (e) {
      if (!(e instanceof PathError)) throw e;
      throw new PathError(
        state,
        "file",
        `cannot be created: ${e.problem} ${parent}`,
        "--sim-state",
      );
    }
    return;
  }
  if (isDirectory) requirePath(state, "file", "--sim-state");
}

/**
 * How to run a script of this folder from where the user is, as hints print it.
 *
 * @param script The script's file name.
 * @param args Its arguments.
 * @returns The command line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scriptCommand } from "./boot.ts";
 * assert.match(scriptCommand("unload.ts", "--sim-state s.json"), /^npx -y deno@\S+ run -A \S*unload\.ts --sim-state s\.json$/);
 * ```
 */
export function scriptCommand(script: string, args: string): string {
  const path = relative(Deno.cwd(), new URL(`./${script}`, import.meta.url).pathname);
  return `${DENO} run -A ${path} ${args}`;
}

async function main(): Promise<number> {
  const args = await startCli(Deno.args, OPTIONS, HELP);
  if (args === undefined) return 0;
  const injects = (args.values.inject as string[] | undefined) ?? [];
  if (injects.includes("list")) {
    if (args.json) printJson(faultPoints());
    else for (const line of faultPointLines()) console.log(line);
    return 0;
  }
  if (args.flag("all")) return await mainAll(args);
  const v = validate(args);
  const trace = traceFile(args.string("trace"));
  using view = StepView.forStdout(args.json);
  using interrupt = new Interrupt((signal) => {
    view.line(`${signal}: stopping; unwinding what was done (again to exit at once)`);
  });
  await using firmware = v.chip !== undefined
    ? await simFirmware(v.chip, { dir: v.firmwareDir, forged: v.forged })
    : undefined;
  const target = typeof v.target === "string"
    ? v.target
    // The simulated falcons recognise the files of this root, the ones the boot loads.
    : { ...v.target, firmwareDir: firmware!.dir };
  const outcome: BootOutcome = {
    ok: false,
    chip: v.chip ?? null,
    gpu: null,
    wpr2: null,
    firmware: firmware?.origin ?? null,
    kept: false,
    steps: [],
    residue: null,
  };
  view.line(
    v.chip !== undefined
      ? simHeading("boot", v.chip, {
        firmware: firmware!.origin,
        realistic: v.realistic,
        vbios: v.vbios,
        state: v.state,
      })
      : `boot ${v.bdf}:`,
  );
  const unloadHint = v.state !== undefined
    ? `kept running; state saved in ${v.state}; unload it with:\n  ${
      scriptCommand("unload.ts", `--sim-state ${v.state}`)
    }`
    : `kept running; unload it with:\n  ${scriptCommand("unload.ts", `--device ${v.bdf}`)}`;
  try {
    await bootAndUnload({
      target,
      firmwareDir: firmware?.dir ?? v.firmwareDir,
      forgedFirmware: firmware?.origin === "forged",
      keep: v.keep,
      holdReason: v.state !== undefined
        ? undefined
        : v.bdf !== undefined
        ? HOLD_REASON_DEVICE
        : HOLD_REASON_SIM,
      recover: v.recover,
      crashDir: v.crashDir,
      unloadHint,
      view,
      signal: interrupt.signal,
      trace,
      traceLabel: v.bdf ?? v.chip,
    }, outcome);
  } finally {
    await trace?.write();
  }
  if (interrupt.code !== undefined) outcome.interrupted = true;
  showResidue(view, outcome.residue, outcome.kept);
  if (args.json) printJson(outcome);
  if (outcome.error) {
    const at = outcome.error.step ? ` at ${outcome.error.step}` : "";
    console.error(
      interrupt.code !== undefined
        ? `error: interrupted${at}; unwound: ${outcome.error.message}`
        : `error: ${outcome.error.message}`,
    );
  }
  // Under --keep without a state file, Ctrl-C is how the hold ends: not an interruption.
  if (outcome.heldMs !== undefined) return outcome.ok ? 0 : 1;
  return interrupt.code ?? (outcome.ok ? 0 : 1);
}

if (import.meta.main) await runMain(main);
