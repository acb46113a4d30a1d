/**
 * `fuzz.ts`: throw mutated firmware at every firmware parser and check that
 * each one returns or throws a `FirmwareFormatError`, quickly.
 *
 * The mutations are split evenly across the targets and run round-robin in
 * a Worker, with a watchdog that stops a parse that never returns. Every
 * finding names the command that replays it (`--replay`); `--save-input`
 * then writes the input to a file. The exit code is 1 when there is a
 * finding.
 *
 * @example
 * ```sh
 * deno task fuzz                                     # 500000 mutations (capped at 900 s)
 * deno run -A scripts/fuzz.ts --mutations 20000 --target booter --target tlv
 * deno run -A scripts/fuzz.ts --seed 7 --target vbios --replay=1234 --save-input /tmp/in.rom
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import {
  DEFAULT_SLOW_MS,
  findFuzzTarget,
  formatFuzzReport,
  FUZZ_TARGETS,
  type FuzzReport,
  replayFuzz,
  runFuzzIsolated,
  SELF_TEST_TARGETS,
} from "./_fuzz.ts";
import {
  formatDuration,
  formatHelp,
  type OptionSpecs,
  printJson,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";

const log = getLogger(["falconry", "scripts", "fuzz"]);

const OPTIONS: OptionSpecs = {
  mutations: {
    type: "string",
    valueName: "N",
    default: "20000",
    description: "mutations in total, split evenly across the targets",
  },
  seconds: {
    type: "string",
    valueName: "S",
    description: "optional outer time cap for long runs (default: none; the budget is --mutations)",
  },
  seed: { type: "string", valueName: "N", default: "1", description: "seed of the run (u32)" },
  target: {
    type: "string",
    valueName: "NAME",
    multiple: true,
    description: "fuzz only this target (repeatable); default: all",
  },
  "slow-ms": {
    type: "string",
    valueName: "MS",
    default: String(DEFAULT_SLOW_MS),
    description: "a parse slower than this (measured twice) is a finding; 0 turns the check off",
  },
  replay: {
    type: "string",
    valueName: "ITERATION",
    description: "rebuild one input of one --target and run it once (negative: a seed input)",
  },
  "save-input": {
    type: "string",
    valueName: "FILE",
    description: "with --replay: write the input to FILE",
  },
};

const HELP = formatHelp({
  usage: "fuzz.ts [--mutations N] [--seed N] [--target NAME]... [--seconds S] [--json]",
  summary: "Fuzz every firmware parser with mutated real and forged firmware.",
  description: `
Each target parses mutated inputs; it must return or throw FirmwareFormatError
within --slow-ms. The budget is --mutations, split evenly across the targets:
the same seed and count do the same work on any machine. Anything else (TypeError, RangeError, a stack overflow, a
broken invariant of the result, a slow parse, a parse that never returns) is a
finding, printed with the seed, target and iteration that replay it.
Real firmware is used where found (deno task firmware), forged files always.

Targets: ${FUZZ_TARGETS.map((t) => t.name).join(", ")}
Self-tests (must fail): ${SELF_TEST_TARGETS.map((t) => t.name).join(", ")}`,
  options: OPTIONS,
});

function wholeNumber(name: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isSafeInteger(value)) {
    throw new UsageError(`--${name} ${text}: expected a whole number`);
  }
  if (value < min || value > max) {
    throw new UsageError(`--${name} ${value}: expected ${min}..${max}`);
  }
  return value;
}

function targetNames(given: string[]): string[] {
  for (const name of given) {
    try {
      findFuzzTarget(name);
    } catch (e) {
      throw new UsageError(`--target: ${(e as Error).message}`);
    }
  }
  return given.length > 0 ? given : FUZZ_TARGETS.map((t) => t.name);
}

function replay(targets: string[], seed: number, iterationText: string, saveTo?: string): number {
  if (targets.length !== 1) throw new UsageError("--replay needs exactly one --target");
  const iteration = wholeNumber("replay", iterationText, -(2 ** 31), 2 ** 31 - 1);
  const result = replayFuzz(findFuzzTarget(targets[0]), seed, iteration);
  if (saveTo) Deno.writeFileSync(saveTo, result.bytes);
  const error = result.error instanceof Error
    ? (result.error.stack ?? `${result.error.name}: ${result.error.message}`)
    : result.error === undefined
    ? undefined
    : String(result.error);
  console.log(
    [
      `${
        targets[0]
      } seed ${seed} iteration ${iteration}: ${result.input}, ${result.bytes.length} bytes`,
      ...result.steps.map((s) => `  step: ${s}`),
      `${result.result} in ${result.ms.toFixed(2)} ms`,
      ...(error ? [error] : []),
      ...(saveTo ? [`input written to ${saveTo}`] : []),
    ].join("\n"),
  );
  return result.result === "finding" ? 1 : 0;
}

async function main(): Promise<number> {
  const args = await startCli(Deno.args, OPTIONS, HELP);
  if (args === undefined) return 0;
  const seed = wholeNumber("seed", args.string("seed"), 0, 0xffffffff);
  const targets = targetNames((args.values.target as string[] | undefined) ?? []);
  const replayAt = args.string("replay");
  if (replayAt !== undefined) return replay(targets, seed, replayAt, args.string("save-input"));
  if (args.string("save-input")) throw new UsageError("--save-input goes with --replay");

  const mutations = wholeNumber("mutations", args.string("mutations"), 0, 1e9);
  const secondsText = args.string("seconds");
  const seconds = secondsText === undefined
    ? undefined
    : wholeNumber("seconds", secondsText, 1, 7 * 24 * 3600);
  const slowMsValue = wholeNumber("slow-ms", args.string("slow-ms"), 0, 600_000);
  const slowMs = slowMsValue === 0 ? null : slowMsValue;
  log.info("fuzzing {targets} with seed {seed}: {mutations} mutations{cap}", {
    targets: targets.join(", "),
    seed,
    mutations,
    cap: seconds === undefined ? "" : ` (capped at ${seconds} s)`,
  });
  let nextLine = 0;
  const onProgress = (r: FuzzReport) => {
    if (args.json || r.elapsedMs < nextLine) return;
    nextLine = r.elapsedMs + 10_000;
    const findings = r.targets.reduce((n, t) => n + t.findings, 0);
    console.error(
      `fuzz: ${r.mutations}/${mutations} mutations, ${findings} finding(s), ` +
        `${formatDuration(r.elapsedMs)}`,
    );
  };
  const report = await runFuzzIsolated({
    targets,
    seed,
    mutations,
    seconds,
    slowMs,
    onProgress,
    progressMs: 2000,
  });
  if (args.json) printJson(report);
  else console.log(formatFuzzReport(report));
  return report.findings.length > 0 ? 1 : 0;
}

if (import.meta.main) await runMain(main);
