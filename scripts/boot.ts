/**
 * `boot.ts`: boot the GSP on a GPU, step by step, and unload it again.
 *
 * On a simulated GPU (`--sim CHIP`) or a real one bound to vfio-pci
 * (`--device BDF`), it runs the boot, showing each step as it runs with its
 * duration, then the chip, the GPU's name (GSP-RM's static info) and the
 * WPR2 range; then it unloads the GSP, step by step, unless `--keep` leaves it
 * running for `unload.ts`. A failure names its step and the hardware's own
 * code, and the unwinding that followed is shown too. Ctrl-C unwinds, then
 * exits 130.
 *
 * `--inject POINT[=PARAMS]` arms one of the simulator's fault points
 * (`--inject list` lists them), so that a failure and its unwinding can be
 * watched without a GPU.
 *
 * @example
 * ```sh
 * deno run -A scripts/boot.ts --sim tu102
 * deno run -A scripts/boot.ts --sim ga102 --inject booter-bad-signature --json
 * deno run -A scripts/boot.ts --sim tu102 --keep --sim-state /tmp/tu102.json
 * deno run -A scripts/unload.ts --sim-state /tmp/tu102.json
 * ```
 *
 * @module
 */

import { relative } from "node:path";
import { chipByName } from "../chips/chips.ts";
import { DEFAULT_FIRMWARE_VERSION, firmwareFiles } from "../chips/firmware_files.ts";
import { BootError } from "../errors.ts";
import { bootGsp, type Gsp } from "../gsp/boot.ts";
import { locateFirmware } from "../loader/locate.ts";
import { openGpu, type OpenGpuTarget } from "../open_gpu.ts";
import { normalizeBdf } from "../pci/sysfs.ts";
import { faultPoints, forgedFirmwareFiles, SIM_CHIP_NAMES } from "../sim/mod.ts";
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
  /** Every step that finished, boot and unload, in order. */
  steps: { name: string; ms: number; failed?: true; detail?: string }[];
  /** What failed: the step, the hardware's code when there is one, and the message. */
  error?: { step: string | null; code: string | number | null; message: string; kind: string };
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
  const code = (e as { code?: unknown }).code;
  return {
    step: e instanceof BootError ? e.step : null,
    code: typeof code === "string" || typeof code === "number" ? code : null,
    message: failure.json.error.message,
    kind: failure.json.error.kind,
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
  /** How to tell the user to unload a kept GSP. */
  unloadHint?: string;
  /** Where steps go. */
  view: StepView;
  /** Aborts the boot (Ctrl-C). */
  signal?: AbortSignal;
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
  try {
    await bootThenUnload(run, gpu, outcome);
  } finally {
    outcome.steps = view.steps.slice(first);
    outcome.residue = residueOf(gpu);
  }
  outcome.ok = outcome.error === undefined;
  return outcome;
}

async function bootThenUnload(run: BootRun, gpu: OpenedGpu, outcome: BootOutcome): Promise<void> {
  const { view } = run;
  let gsp: Gsp;
  try {
    gsp = await bootGsp(gpu, {
      firmwareDir: run.firmwareDir,
      // A forged set differs from linux-firmware's by design: compare it against nothing.
      firmwareManifest: run.forgedFirmware
        ? { ...FIRMWARE_MANIFEST, files: {}, links: {} }
        : undefined,
      signal: run.signal,
      onStep: view.onStep,
    });
  } catch (e) {
    outcome.error = bootFailure(e, run.signal);
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
  if (run.keep) {
    gsp.keep();
    outcome.kept = true;
    if (run.unloadHint) view.line(run.unloadHint);
    return;
  }
  view.line("unload:");
  const first = view.steps.length;
  try {
    // No signal: the unload runs to its end even after Ctrl-C, since stopping it halfway
    // would leave WPR2 set.
    await gsp.unload({ onStep: view.onStep });
    view.line(`unloaded: GSP halted, WPR2 clear (in ${formatDuration(msSince(view, first))})`);
  } catch (e) {
    outcome.error = bootFailure(e);
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
    description: `a simulated GPU: ${SIM_CHIP_NAMES.join(", ")}`,
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
    description: "leave the GSP running (in simulation with --sim-state); unload.ts unloads it",
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
};

const HELP = formatHelp({
  usage: "boot.ts (--device BDF | --sim CHIP) [--firmware DIR | --forged] [--vbios FILE]\n" +
    "               [--keep] [--sim-state FILE] [--inject POINT[=PARAMS]] [--realistic] [--json]",
  summary: "Boot the GSP, step by step, then unload it (or keep it running with --keep).",
  description: `
Each step shows as it runs, with its duration on the device's clock (virtual
time in simulation, unless --realistic). Then the chip, the GPU's name from
GSP-RM's static info and the WPR2 range; then the unload, step by step. A
failure names its step and the hardware's own code; the unwinding that follows
is shown, and in simulation what the GPU was left holding (its residue).
Ctrl-C unwinds, then exits 130; a second Ctrl-C exits at once.

--inject POINT[=PARAMS] arms a fault point of the simulator: PARAMS is a JSON
object or KEY=VALUE pairs separated by commas (fwsec-error-code=code=0x1234).
--inject list prints every point: name, owner, what the host sees.

With --json, stdout is one JSON object: {ok, chip, gpu, wpr2, firmware, kept,
steps: [{name, ms}], error?: {step, code, message, kind}, residue} (residue is
null on a real GPU). The exit code is 0, 1 when the boot or unload failed, 130
after Ctrl-C.`,
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
}

function validate(args: ParsedArgs): Validated {
  if (args.positionals.length) throw new UsageError("boot.ts takes no positional arguments");
  const device = args.string("device");
  const sim = args.string("sim");
  if ((device === undefined) === (sim === undefined)) {
    throw new UsageError("give exactly one of --device BDF and --sim CHIP");
  }
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
  if (chip !== undefined && !SIM_CHIP_NAMES.includes(chip)) {
    throw new UsageError(`--sim ${sim}: not a simulated chip; known: ${SIM_CHIP_NAMES.join(", ")}`);
  }
  if (sim !== undefined && keep && state === undefined) {
    throw new UsageError(
      "--keep on a simulated GPU needs --sim-state FILE, where the running GSP is saved for unload.ts",
    );
  }
  if (firmwareDir !== undefined && args.flag("forged")) {
    throw new UsageError("--forged and --firmware contradict each other");
  }
  if (firmwareDir !== undefined) requirePath(firmwareDir, "directory", "--firmware");
  const vbios = args.string("vbios");
  if (vbios !== undefined) requirePath(vbios, "file", "--vbios");
  const known = faultPoints().map((p) => p.name);
  const inject = injects.map((text) => parseInject(text, known));
  if (device !== undefined) {
    const bdf = normalizeBdf(device);
    return { target: bdf, bdf, firmwareDir, forged: false, keep };
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
  };
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
  const v = validate(args);
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
  await bootAndUnload({
    target,
    firmwareDir: firmware?.dir ?? v.firmwareDir,
    forgedFirmware: firmware?.origin === "forged",
    keep: v.keep,
    unloadHint,
    view,
    signal: interrupt.signal,
  }, outcome);
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
  return interrupt.code ?? (outcome.ok ? 0 : 1);
}

if (import.meta.main) await runMain(main);
