/**
 * `unload.ts`: unload a GSP that an earlier process left running
 * (`boot.ts --keep`), step by step: UNLOADING_GUEST_DRIVER, the wait for
 * suspend, then the chip's unload bundle (FWSEC-SB, Booter-unload).
 *
 * In simulation the GPU comes from the state file `boot.ts --keep
 * --sim-state FILE` saved; it is saved back there at the end, and what the
 * simulated GPU still holds (its residue) is reported.
 *
 * `--trace FILE` writes a Chrome/Perfetto trace-event JSON of every step and
 * wait of the unload.
 *
 * @example
 * ```sh
 * deno run -A scripts/boot.ts --sim tu102 --keep --sim-state /tmp/tu102.json
 * deno run -A scripts/unload.ts --sim-state /tmp/tu102.json
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";
import { unloadGsp } from "../gsp/boot.ts";
import { UNLOAD_STEPS } from "../gsp/boot_steps.ts";
import { openGpu, type OpenGpuTarget } from "../open_gpu.ts";
import { normalizeBdf } from "../pci/sysfs.ts";
import type { BootStepEvent } from "../gsp/boot_steps.ts";
import { msSince, showResidue, simHeading, StepView } from "./_boot_view.ts";
import { TRACE_OPTION, traceFile } from "./_trace_file.ts";
import { bootFailure, type BootOutcome, residueOf, simFirmware } from "./boot.ts";
import {
  formatDuration,
  formatHelp,
  type OptionSpecs,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";

const OPTIONS: OptionSpecs = {
  device: {
    type: "string",
    valueName: "BDF",
    description: "a GPU bound to vfio-pci whose GSP an earlier process left running",
  },
  "sim-state": {
    type: "string",
    valueName: "FILE",
    description: "a simulated GPU saved by `boot.ts --keep --sim-state FILE`",
  },
  firmware: {
    type: "string",
    valueName: "DIR",
    description: "a firmware root (default: FALCONRY_FIRMWARE_DIR, the cache, /lib/firmware; " +
      "in simulation forged files when none has the chip's set)",
  },
  forged: {
    type: "boolean",
    description: "in simulation, unload with forged firmware even if real exists",
  },
  trace: TRACE_OPTION,
};

const HELP = formatHelp({
  usage:
    "unload.ts (--device BDF | --sim-state FILE) [--firmware DIR | --forged] [--trace FILE] [--json]",
  summary: "Unload a GSP that an earlier process left running (boot.ts --keep).",
  description: `
Each step shows as it runs, with its duration. In simulation the GPU is
reopened from FILE and saved back to it at the end, and what it still holds
(its residue) is reported: nothing, after a clean unload.

With --json, stdout is one JSON object: {ok, chip, firmware, steps: [{name,
ms}], error?: {step, code, message, kind}, residue} (residue is null on a real
GPU).

--trace FILE writes a Chrome/Perfetto trace-event JSON (open it in
ui.perfetto.dev): every step and every wait, timed on the device's clock.`,
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

async function main(): Promise<number> {
  const args = await startCli(Deno.args, OPTIONS, HELP);
  if (args === undefined) return 0;
  if (args.positionals.length) throw new UsageError("unload.ts takes no positional arguments");
  const device = args.string("device");
  const state = args.string("sim-state");
  if ((device === undefined) === (state === undefined)) {
    throw new UsageError("give exactly one of --device BDF and --sim-state FILE");
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
  const outcome: BootOutcome = {
    ok: false,
    chip: chip ?? null,
    gpu: null,
    wpr2: null,
    firmware: firmware?.origin ?? null,
    kept: false,
    steps: [],
    residue: null,
  };
  view.line(
    chip !== undefined
      ? simHeading("unload", chip, { firmware: firmware!.origin, state })
      : `unload ${target}:`,
  );
  try {
    await using gpu = await openGpu(target);
    const tracer = trace?.device(gpu, typeof target === "string" ? target : target.sim);
    const onStep = (event: BootStepEvent) => {
      tracer?.onStep(event);
      view.onStep(event);
    };
    try {
      await unloadGsp(tracer?.device ?? gpu, {
        firmwareDir: firmware?.dir ?? firmwareDir,
        onStep,
      });
      const unloading = new Set<string>(UNLOAD_STEPS);
      view.line(
        view.steps.some((s) => unloading.has(s.name))
          ? `unloaded: GSP halted, WPR2 clear (in ${formatDuration(msSince(view, 0))})`
          : "nothing to unload: no GSP was running and WPR2 is clear",
      );
    } catch (e) {
      outcome.error = bootFailure(e);
    } finally {
      tracer?.flush();
      outcome.steps = view.steps;
      outcome.residue = residueOf(gpu);
    }
  } finally {
    await trace?.write();
  }
  outcome.ok = outcome.error === undefined;
  showResidue(view, outcome.residue, false);
  const { gpu: _gpu, wpr2: _wpr2, kept: _kept, ...json } = outcome;
  if (args.json) printJson(json);
  if (outcome.error) console.error(`error: ${outcome.error.message}`);
  return outcome.ok ? 0 : 1;
}

if (import.meta.main) await runMain(main);
