/**
 * `reset.ts`: recover a GPU that an earlier boot left dirty ("WPR2 already
 * up, GPU needs reset"), by the recovery ladder of `gsp/recover.ts`: the
 * unload (through GSP-RM, when this process could reach it), the HAL's
 * unload bundle, a falcon reset, a function-level reset, a secondary bus
 * reset. It stops at the first rung after which WPR2 is clear and the
 * falcons halted, and shows each rung tried with the state after it and its
 * duration; when nothing works it says plainly that the GPU needs a power
 * cycle, and what was tried.
 *
 * In simulation the GPU comes from a state file (`boot.ts --keep --sim-state
 * FILE`, or any simulated GPU saved with its quirks) and is saved back there
 * at the end, with what it still holds (its residue).
 *
 * @example
 * ```sh
 * deno run -A scripts/boot.ts --sim tu102 --keep --sim-state /tmp/tu102.json
 * deno run -A scripts/reset.ts --sim-state /tmp/tu102.json
 * deno run -A scripts/reset.ts --device 0000:01:00.0 --method flr --json
 * ```
 *
 * @module
 */

import { TRACE_OPTION, traceFile } from "./_trace_file.ts";
import { FalconryError } from "../errors.ts";
import {
  describeRecoveryState,
  readRecoveryState,
  recover,
  RECOVERY_RUNGS,
  type RecoveryReport,
  type RecoveryRung,
  type RecoveryState,
  type RungName,
  type RungOutcome,
} from "../gsp/recover.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { openGpu, type OpenGpuTarget } from "../open_gpu.ts";
import { normalizeBdf } from "../pci/sysfs.ts";
import { showResidue, simHeading, STEP_NAME_WIDTH, StepView } from "./_boot_view.ts";
import { Interrupt, residueOf, simFirmware } from "./boot.ts";
import {
  describeFailure,
  formatDuration,
  formatHelp,
  type OptionSpecs,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";

/** What `--method` selects: the rungs of the ladder it runs. */
export const RESET_METHODS: Readonly<Record<string, readonly RungName[]>> = Object.freeze({
  auto: RECOVERY_RUNGS,
  unload: ["unload", "unload-bundle"],
  falcon: ["falcon-reset"],
  flr: ["flr"],
  bus: ["bus-reset"],
});

const OPTIONS: OptionSpecs = {
  device: {
    type: "string",
    valueName: "BDF",
    description: "a GPU bound to vfio-pci",
  },
  "sim-state": {
    type: "string",
    valueName: "FILE",
    description: "a simulated GPU's state file (boot.ts --keep --sim-state FILE); saved back",
  },
  method: {
    type: "string",
    valueName: "METHOD",
    default: "auto",
    description: "auto (the whole ladder), unload (unload and unload bundle), falcon, flr or bus",
  },
  firmware: {
    type: "string",
    valueName: "DIR",
    description: "a firmware root for the unload bundle (default: FALCONRY_FIRMWARE_DIR, the " +
      "cache, /lib/firmware; in simulation forged files when none has the chip's set)",
  },
  forged: {
    type: "boolean",
    description: "in simulation, use forged firmware even if real exists",
  },
  trace: TRACE_OPTION,
};

const HELP = formatHelp({
  usage: "reset.ts (--device BDF | --sim-state FILE) [--method auto|unload|falcon|flr|bus] " +
    "[--firmware DIR | --forged] [--trace FILE] [--json]",
  summary: "Recover a GPU left dirty (WPR2 set, a falcon running) without a power cycle.",
  description: `
The rungs, in order: unload (UNLOADING_GUEST_DRIVER through GSP-RM; only a
GSP this process booted can be reached, so here it is skipped), unload-bundle
(FWSEC-SB and Booter-unload, when WPR2 is set), falcon-reset, flr
(function-level reset), bus-reset (secondary bus reset; never on H100s, and
not while the GPU's audio function is bound to another driver). The ladder
stops at the first rung after which WPR2 is clear and the falcons halted.
After a reset the device is checked: config space answers within 60 s (else
it is re-enumerated once), BOOT_0 names the chip, GFW boot finishes, memory
decoding and bus mastering are enabled again.

Each rung prints with its duration (the device's clock) and the state after
it; a failure or refusal says why. It exits 0 when the GPU is clean at the
end (or was already), and 1 when it is not: then the last line says whether
the GPU needs a power cycle. Ctrl-C stops between waits and exits 130.

With --json, stdout is one JSON object: {ok, chip, before, rungs: [{name, ms,
state, outcome, error?, detail?}], verdict, needsPowerCycle, firmware,
residue} (state: {answering, wpr2, gsp, sec2, clean}; residue is null on a
real GPU).

--trace FILE writes a Chrome/Perfetto trace-event JSON (ui.perfetto.dev): each
rung, each step and wait inside it, timed on the device's clock.`,
  options: OPTIONS,
});

/** The chip of a simulated GPU's state file (SimulatedGpu.save's format). */
async function savedChip(path: string): Promise<string> {
  let saved: { chip?: unknown };
  try {
    saved = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new FalconryError(`--sim-state ${path}: not a simulated GPU's state (not JSON)`);
    }
    throw e;
  }
  if (typeof saved?.chip !== "string") {
    throw new FalconryError(`--sim-state ${path}: not a simulated GPU's state (no chip)`);
  }
  return saved.chip;
}

const MARKS: Readonly<Record<RungOutcome, string>> = {
  recovered: "✓",
  "not-recovered": "✗",
  failed: "✗",
  skipped: "–",
  refused: "⊘",
};

/**
 * A rung's line: mark, name, duration, outcome and the state after it (or why not).
 *
 * @param rung The rung as the ladder reports it.
 * @returns The line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRungLine } from "./reset.ts";
 * const state = {
 *   answering: true,
 *   wpr2: "clear",
 *   gsp: "halted",
 *   sec2: "halted",
 *   sysmemFlush: null,
 *   clean: true,
 * } as const;
 * assert.equal(
 *   formatRungLine({ name: "flr", ms: 330, state, outcome: "recovered", detail: "GFW boot done" }),
 *   "✓ flr                         330 ms  recovered: WPR2 clear, GSP halted, SEC2 halted " +
 *     "(GFW boot done)",
 * );
 * assert.match(
 *   formatRungLine({ name: "bus-reset", ms: 0, state, outcome: "refused", error: "H100" }),
 *   /^⊘ bus-reset +0 ms {2}refused: H100$/,
 * );
 * ```
 */
export function formatRungLine(rung: RecoveryRung): string {
  const head = `${MARKS[rung.outcome]} ${rung.name.padEnd(STEP_NAME_WIDTH + 2)}${
    formatDuration(rung.ms).padStart(8)
  }`;
  const why = rung.outcome === "skipped"
    ? rung.detail
    : rung.outcome === "refused"
    ? rung.error
    : rung.outcome === "failed"
    ? `${rung.error}; ${describeRecoveryState(rung.state)}`
    : describeRecoveryState(rung.state);
  const done = rung.outcome !== "skipped" && rung.detail ? ` (${rung.detail})` : "";
  return `${head}  ${rung.outcome}: ${why}${done}`;
}

/** `--json`'s rung: the report's, with the duration rounded to 0.1 ms. */
function jsonRung(rung: RecoveryRung): RecoveryRung {
  return { ...rung, ms: Math.round(rung.ms * 10) / 10 };
}

async function main(): Promise<number> {
  const args = await startCli(Deno.args, OPTIONS, HELP);
  if (args === undefined) return 0;
  const device = args.string("device");
  const state = args.string("sim-state");
  if ((device === undefined) === (state === undefined)) {
    throw new UsageError("give exactly one of --device BDF and --sim-state FILE");
  }
  const method = args.string("method") ?? "auto";
  const methods = Object.hasOwn(RESET_METHODS, method) ? RESET_METHODS[method] : undefined;
  if (!methods) {
    throw new UsageError(
      `--method ${method}: expected one of ${Object.keys(RESET_METHODS).join(", ")}`,
    );
  }
  if (args.flag("forged") && device !== undefined) {
    throw new UsageError("--forged applies to a simulated GPU (--sim-state) only");
  }
  const firmwareDir = args.string("firmware");
  if (firmwareDir !== undefined) requirePath(firmwareDir, "directory", "--firmware");
  if (state !== undefined) requirePath(state, "file", "--sim-state");
  const trace = traceFile(args.string("trace"));
  const chip = state !== undefined ? await savedChip(state) : undefined;
  await using firmware = chip !== undefined
    ? await simFirmware(chip, { dir: firmwareDir, forged: args.flag("forged") })
    : undefined;
  const target: OpenGpuTarget = chip !== undefined
    ? { sim: chip, state: state!, firmwareDir: firmware!.dir }
    : normalizeBdf(device!);
  using view = StepView.forStdout(args.json);
  using interrupt = new Interrupt(() => view.line("interrupted: stopping"));
  view.line(
    chip !== undefined
      ? simHeading("reset", chip, { firmware: firmware!.origin, state })
      : `reset ${target}:`,
  );
  const rungs: RecoveryRung[] = [];
  let report: RecoveryReport | undefined;
  let residue: { block: string; what: string }[] | null = null;
  let interrupted: string | undefined;
  let before: RecoveryState | undefined;
  try {
    await using opened = await openGpu(target);
    const tracer = trace?.device(opened, typeof target === "string" ? target : chip!);
    const gpu = tracer?.device ?? opened;
    before = readRecoveryState(gpu);
    view.line(`before: ${describeRecoveryState(before)}`);
    try {
      report = await recover(gpu, {
        firmwareDir: firmware?.dir ?? firmwareDir,
        // A forged set differs from linux-firmware's by design: compare it against nothing.
        firmwareManifest: firmware?.origin === "forged"
          ? { ...FIRMWARE_MANIFEST, files: {}, links: {} }
          : undefined,
        methods,
        signal: interrupt.signal,
        onStep: (event) => {
          tracer?.onStep(event);
          view.onStep(event);
        },
        onRung: (event) => {
          // Each rung is a span of its own in the trace, around the steps it ran.
          tracer?.onStep(
            event.phase === "start" ? { step: event.name, phase: "start" } : {
              step: event.name,
              phase: event.outcome === "failed" ? "fail" : "end",
              ms: event.ms,
              detail: event.detail ?? event.error,
            },
          );
          if (event.phase === "end") {
            const { phase: _phase, ...rung } = event;
            rungs.push(rung);
            view.line(formatRungLine(rung));
          }
        },
      });
    } catch (e) {
      if (!interrupt.signal.aborted) throw e;
      interrupted = describeFailure(e).json.error.message;
    } finally {
      tracer?.flush();
      residue = residueOf(opened);
    }
  } finally {
    await trace?.write();
  }
  const ok = report?.ok ?? false;
  const verdict = report?.verdict ??
    `interrupted after ${rungs.length} rung(s): ${interrupted}; the GPU may be in any state`;
  view.line(verdict);
  showResidue(view, residue, false);
  if (args.json) {
    printJson({
      ok,
      chip: report?.chip ?? chip ?? null,
      before: report?.before ?? before ?? null,
      rungs: rungs.map(jsonRung),
      verdict,
      needsPowerCycle: report?.needsPowerCycle ?? false,
      firmware: firmware?.origin ?? null,
      residue,
      ...(interrupted !== undefined ? { interrupted: true } : {}),
    });
  }
  if (interrupted !== undefined) {
    console.error(`error: ${verdict}`);
    return interrupt.code ?? 130;
  }
  if (!ok) console.error(`error: ${verdict}`);
  return ok ? 0 : 1;
}

if (import.meta.main) await runMain(main);
