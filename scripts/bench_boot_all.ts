/**
 * P5: N simulated GPUs in realistic mode (real-hardware waits on the system
 * clock) booting concurrently through `bootAll`, against one booting alone.
 * Goal: the N-GPU boot takes ≤ 1.2× the wall time of one.
 *
 * Each pair is one single-GPU `bootAll` and one N-GPU `bootAll`, timed from
 * the call to its return (opening the GPUs, the boots, and in Worker mode the
 * Workers' start-up); pairs alternate which goes first, so that a slow moment
 * of the machine falls on both. The ratio printed is the median of the pairs'
 * ratios. Every boot is unloaded after its timing, and must end clean (no
 * residue), or the bench fails. One untimed warm-up of each comes first.
 *
 * With `--isolation both` (the default), Worker and inline mode are measured
 * in turn. The machine's core count is printed: N Workers cannot boot in
 * parallel on fewer cores than the CPU work of N boots needs.
 *
 * ```sh
 * deno run -A scripts/bench_boot_all.ts [--gpus 8] [--pairs 3] [--chip tu102]
 *   [--firmware real|forged] [--isolation worker|inline|both] [--json] [--check]
 * ```
 *
 * @module
 */

import { availableParallelism } from "node:os";
import { bootAll, isolationFor } from "../boot_all.ts";
import { chipByName } from "../chips/mod.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { simFirmware } from "./boot.ts";
import { formatHelp, type OptionSpecs, printJson, runMain, startCli, UsageError } from "./_cli.ts";

const GOAL_RATIO = 1.2;
const ISOLATIONS = {
  worker: ["worker"],
  inline: ["inline"],
  both: ["worker", "inline"],
} as const;
type Isolation = "worker" | "inline";

const OPTIONS: OptionSpecs = {
  gpus: { type: "string", valueName: "N", default: "8", description: "GPUs booted at once" },
  pairs: {
    type: "string",
    valueName: "N",
    default: "3",
    description: "interleaved (one GPU, N GPUs) pairs timed",
  },
  chip: { type: "string", valueName: "CHIP", default: "tu102", description: "simulated chip" },
  firmware: {
    type: "string",
    valueName: "KIND",
    default: "real",
    description: "real (linux-firmware's, forged when absent) or forged",
  },
  isolation: {
    type: "string",
    valueName: "MODE",
    default: "both",
    description: "worker (each boot in a Worker), inline (one thread) or both",
  },
  check: { type: "boolean", description: "exit 1 when the goal is missed" },
};

const HELP = formatHelp({
  usage: "bench_boot_all.ts [--gpus N] [--pairs N] [--chip CHIP] [--firmware KIND]\n" +
    "                         [--isolation worker|inline|both] [--json] [--check]",
  summary: `P5: N realistic simulated GPUs booting at once, against one; goal ≤ ${GOAL_RATIO}×.`,
  options: OPTIONS,
});

/** One isolation mode's figures. */
export interface BootAllBenchResult {
  isolation: Isolation;
  chip: string;
  firmware: "real" | "forged";
  gpus: number;
  cores: number;
  /** Wall ms of each one-GPU boot. */
  oneMs: number[];
  /** Wall ms of each N-GPU boot. */
  manyMs: number[];
  /** Each pair's ratio. */
  ratios: number[];
  /** Their median. */
  ratio: number;
  /**
   * The median of one GPU's boot steps added up on its clock, ms: in realistic mode the
   * system clock, so the modelled waits plus the CPU work inside the steps.
   */
  stepsMs: number;
  goal: number;
  met: boolean;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Boot `count` GPUs at once; the wall ms of `bootAll`, and the first GPU's steps' ms. */
async function bootMany(
  count: number,
  chip: string,
  firmware: { dir: string; origin: "real" | "forged" },
  isolation: Isolation,
): Promise<{ wallMs: number; stepsMs: number }> {
  const target = { sim: chip, firmwareDir: firmware.dir, realistic: true };
  const started = performance.now();
  await using host = await bootAll({
    targets: Array.from({ length: count }, () => target),
    firmwareDir: firmware.dir,
    // A forged set differs from linux-firmware's by design: compare it against nothing.
    firmwareManifest: firmware.origin === "forged"
      ? { ...FIRMWARE_MANIFEST, files: {}, links: {} }
      : undefined,
    isolation,
  });
  const wallMs = performance.now() - started;
  const failed = host.results.filter((r) => !r.ok);
  if (failed.length) {
    throw new Error(`${failed[0].gpu} did not boot: ${failed[0].error?.message}`);
  }
  const unloaded = await host.unload();
  const dirty = unloaded.find((u) => !u.ok || (u.residue?.length ?? 0) > 0);
  if (dirty) {
    throw new Error(
      `${dirty.gpu} did not unload clean: ${dirty.error?.message ?? JSON.stringify(dirty.residue)}`,
    );
  }
  const stepsMs = host.results[0].gsp!.steps.reduce((sum, s) => sum + s.ms, 0);
  return { wallMs, stepsMs };
}

async function measure(
  isolation: Isolation,
  chip: string,
  firmware: { dir: string; origin: "real" | "forged" },
  gpus: number,
  pairs: number,
): Promise<BootAllBenchResult> {
  await bootMany(1, chip, firmware, isolation);
  await bootMany(gpus, chip, firmware, isolation);
  const oneMs: number[] = [];
  const manyMs: number[] = [];
  const steps: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? [1, gpus] : [gpus, 1];
    for (const count of order) {
      const { wallMs, stepsMs } = await bootMany(count, chip, firmware, isolation);
      (count === 1 ? oneMs : manyMs).push(wallMs);
      if (count === 1) steps.push(stepsMs);
    }
  }
  const ratios = oneMs.map((one, i) => manyMs[i] / one);
  const ratio = median(ratios);
  return {
    isolation,
    chip,
    firmware: firmware.origin,
    gpus,
    cores: availableParallelism(),
    oneMs,
    manyMs,
    ratios,
    ratio,
    stepsMs: median(steps),
    goal: GOAL_RATIO,
    met: ratio <= GOAL_RATIO,
  };
}

function printResult(r: BootAllBenchResult): void {
  const ms = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
  console.log(
    `P5 ${r.isolation}: ${r.ratio.toFixed(2)}× (median of ${r.ratios.length} pairs: ` +
      `${r.ratios.map((x) => x.toFixed(2)).join(", ")}); goal ≤ ${r.goal}× ${
        r.met ? "met" : "NOT met"
      }`,
  );
  console.log(
    `  ${r.gpus}× ${r.chip} (${r.firmware} firmware, realistic) ${ms(r.manyMs)} ms; ` +
      `one ${ms(r.oneMs)} ms (its steps ${r.stepsMs.toFixed(0)} ms); ${r.cores} cores`,
  );
}

async function main(args: readonly string[]): Promise<number> {
  const parsed = await startCli(args, OPTIONS, HELP);
  if (parsed === undefined) return 0;
  const gpus = parsed.integer("gpus", 1, 64)!;
  const pairs = parsed.integer("pairs", 1, 100)!;
  const chip = parsed.string("chip")!;
  if (!chipByName(chip)) throw new UsageError(`--chip ${chip}: not a known chip`);
  const kind = parsed.string("firmware")!;
  if (kind !== "real" && kind !== "forged") {
    throw new UsageError(`--firmware ${kind}: expected real or forged`);
  }
  const isolation = parsed.string("isolation")!;
  if (!Object.hasOwn(ISOLATIONS, isolation)) {
    throw new UsageError(`--isolation ${isolation}: expected worker, inline or both`);
  }
  await using firmware = await simFirmware(chip, { forged: kind === "forged" });
  const results: BootAllBenchResult[] = [];
  for (const mode of ISOLATIONS[isolation as keyof typeof ISOLATIONS]) {
    const result = await measure(mode, chip, firmware, gpus, pairs);
    results.push(result);
    if (!parsed.json) printResult(result);
  }
  const auto = isolationFor("auto", Array(gpus).fill({ sim: chip }));
  if (parsed.json) printJson({ auto, results });
  else console.log(`(bootAll's default, isolation "auto", picks ${auto} on this machine)`);
  return parsed.flag("check") && results.some((r) => !r.met) ? 1 : 0;
}

if (import.meta.main) await runMain(() => main(Deno.args));
