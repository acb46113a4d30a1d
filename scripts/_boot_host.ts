/**
 * `boot.ts --all`: boot every GPU of a host concurrently through
 * {@linkcode bootAll}, show each GPU's steps as they finish (each line
 * prefixed with the GPU), then unload them all (or keep them running), and
 * report one outcome per GPU, in the shape of `boot.ts`'s own `--json`
 * object with the GPU's name added as `id`.
 *
 * @module
 */

import { bootAll, type BootAllOptions } from "../boot_all.ts";
import type { OpenGpuTarget } from "../open_gpu.ts";
import type { TraceRecorder } from "../trace.ts";
import { residueLines, runningLines, StepView } from "./_boot_view.ts";
import { bootFailure, type BootOutcome } from "./boot.ts";
import { HOLD_REASON_DEVICE, holdUntilInterrupted } from "./_hold.ts";

/** What `boot.ts --all` asks for. */
export interface HostRun {
  /** The GPUs (PCI addresses or simulated GPUs). */
  targets: OpenGpuTarget[];
  /** The firmware root the boots read. */
  firmwareDir?: string;
  /** The firmware is a forged set (compared with nothing). */
  firmwareManifest?: BootAllOptions["firmwareManifest"];
  /**
   * Keep the GSPs running while this process lives: real GPUs' GSPs cannot outlive it (closing
   * a VFIO device resets the GPU), so they are held until the signal aborts, then unloaded.
   */
  keep?: boolean;
  /** Print nothing (`--json`). */
  quiet?: boolean;
  /** Where text goes (default: stdout). */
  write?: (text: string) => void;
  /** Ctrl-C. */
  signal?: AbortSignal;
  /** Records every step and wait, one track per GPU. */
  trace?: TraceRecorder;
  /** Each GPU in a Worker, all in this thread, or `auto` (default: see `boot_all.ts`). */
  isolation?: "worker" | "inline" | "auto";
  /** The outcome every GPU's starts from (chip, firmware origin). */
  outcome: (target: OpenGpuTarget) => BootOutcome;
}

/** One GPU's outcome: `boot.ts --json`'s object, with the GPU's name. */
export type GpuOutcome = { id: string } & BootOutcome;

/** What `boot.ts --all --json` prints. */
export interface HostOutcome {
  /** Whether every GPU booted (and unloaded). */
  ok: boolean;
  /** One outcome per GPU, in order. */
  gpus: GpuOutcome[];
  /** Whether Ctrl-C stopped it. */
  interrupted?: true;
  /** How long `--keep` held the GSPs running before Ctrl-C unloaded them, in ms. */
  heldMs?: number;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/**
 * A writer that puts `prefix` before every line it is given (text may come in pieces).
 *
 * @param prefix What every line starts with.
 * @param write Where whole lines go.
 * @returns The writer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prefixedWriter } from "./_boot_host.ts";
 * let out = "";
 * const write = prefixedWriter("gpu0 ", (t) => out += t);
 * write("a\nb");
 * write("c\n");
 * assert.equal(out, "gpu0 a\ngpu0 bc\n");
 * ```
 */
export function prefixedWriter(prefix: string, write: (text: string) => void) {
  let pending = "";
  return (text: string): void => {
    pending += text;
    for (let at = pending.indexOf("\n"); at >= 0; at = pending.indexOf("\n")) {
      write(`${prefix}${pending.slice(0, at + 1)}`);
      pending = pending.slice(at + 1);
    }
  };
}

/**
 * Boot every GPU concurrently, show it, unload (or keep) them all.
 *
 * @param run What to do.
 * @returns One outcome per GPU.
 */
export async function bootHost(run: HostRun): Promise<HostOutcome> {
  const write = run.write ?? writeStdout;
  const names = run.targets.map((t, i) => typeof t === "string" ? t : `${t.sim}#${i}`);
  const width = Math.max(0, ...names.map((n) => n.length)) + 1;
  const views = names.map((name) =>
    new StepView({ quiet: run.quiet, write: prefixedWriter(name.padEnd(width), write) })
  );
  let heldMs: number | undefined;
  const outcomes: GpuOutcome[] = run.targets.map((target, i) => ({
    id: names[i],
    ...run.outcome(target),
  }));
  try {
    await using host = await bootAll({
      targets: run.targets,
      firmwareDir: run.firmwareDir,
      firmwareManifest: run.firmwareManifest,
      signal: run.signal,
      trace: run.trace,
      isolation: run.isolation,
      // The unload's steps come here too.
      onStep: (event) => views[event.index].onStep(event),
    });
    host.results.forEach((result, i) => {
      const outcome = outcomes[i];
      outcome.id = result.gpu;
      if (!result.gsp) return;
      outcome.chip = result.gsp.chip.name;
      outcome.gpu = result.gsp.staticInfo.boardName;
      outcome.wpr2 = { start: result.gsp.wpr2.start, end: result.gsp.wpr2.end };
      for (const line of runningLines(result.gsp)) views[i].line(line);
    });
    const booted = host.results.filter((r) => r.ok).length;
    if (!run.quiet) write(`booted ${booted} of ${host.results.length} GPUs\n`);
    if (run.keep && booted > 0 && run.signal) {
      heldMs = await holdUntilInterrupted(
        run.signal,
        (line) => run.quiet ? console.error(line) : write(`${line}\n`),
        HOLD_REASON_DEVICE,
      );
    }
    if (booted > 0 && !run.quiet) write("unload:\n");
    // No signal: every unload runs to its end even after Ctrl-C, since stopping one halfway
    // would leave its WPR2 set.
    const unloaded = await host.unload();
    host.results.forEach((result, i) => {
      const outcome = outcomes[i];
      outcome.residue = result.ok ? unloaded[i].residue : result.residue;
      const error = result.error ?? unloaded[i].error;
      if (error) outcome.error = bootFailure(error, run.signal);
      if (!outcome.residue) return;
      for (const line of residueLines(outcome.residue, outcome.kept)) views[i].line(line);
    });
  } finally {
    outcomes.forEach((outcome, i) => {
      outcome.steps = views[i].steps;
      outcome.ok = outcome.error === undefined;
      views[i][Symbol.dispose]();
    });
  }
  return {
    ok: outcomes.every((o) => o.ok),
    gpus: outcomes,
    ...(heldMs !== undefined ? { heldMs } : {}),
  };
}
