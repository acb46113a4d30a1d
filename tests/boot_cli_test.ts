// Tests of scripts/boot.ts run as a subprocess, on simulated GPUs only: a full
// boot and unload (--json and the step lines), --inject list, injected faults
// (the failing step named, exit 1, the residue reported), --keep with
// --sim-state (a second boot is refused until unload.ts ran), Ctrl-C during a
// realistic boot (unwound, exit 130), usage errors (exit 2) and paths that do
// not exist (exit 1).

import assert from "node:assert/strict";
import * as stepNames from "../gsp/boot_steps.ts";
import { faultPoints } from "../sim/mod.ts";
import { assertJsonError, assertOneLineError, type CliRun, runScript } from "./_cli.ts";

const SCRIPT = new URL("../scripts/boot.ts", import.meta.url).pathname;
const UNLOAD = new URL("../scripts/unload.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = any;

/** The driver's boot and unload steps, in the order they run. */
const BOOT_STEPS: readonly string[] = stepNames.BOOT_STEPS;
const UNLOAD_STEPS: readonly string[] = stepNames.UNLOAD_STEPS;
const UNLOAD_ONLY = UNLOAD_STEPS.filter((s) => s !== "unloading-guest-driver");

/** Run boot.ts; failures write no crash bundle into the user's cache unless a test asks for one. */
function boot(args: string[], options: { env?: Record<string, string> } = {}): Promise<CliRun> {
  const bundles = args.some((a) => a === "--crash-dir" || a === "--no-crash-dir") ||
    options.env?.XDG_CACHE_HOME !== undefined;
  return runScript(SCRIPT, bundles ? args : [...args, "--no-crash-dir"], options);
}

/**
 * The failure's one `error:` line, last on stderr, with no stack trace; log
 * lines (LogTape's warnings) may come before it.
 */
function assertErrorLine(run: CliRun, code: number, pattern: RegExp): string {
  assert.equal(run.code, code, `exit ${run.code}\n${run.stdout}${run.stderr}`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.filter((l) => l.startsWith("error: ")).length, 1, run.stderr);
  assert.match(lines.at(-1)!, pattern);
  assert.ok(
    lines.slice(0, -1).every((l) => /^\d\d:\d\d:\d\d\.\d+ \[(WRN|ERR)\] /.test(l)),
    run.stderr,
  );
  assert.doesNotMatch(run.stderr, /^\s+at /m, "a stack trace");
  return lines.at(-1)!;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "falconry-boot-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The step names of a --json document, in order. */
function names(doc: Json): string[] {
  return doc.steps.map((s: Json) => s.name);
}

/** `expected` appear in `actual` in this order (other steps may come between). */
function assertInOrder(actual: string[], expected: readonly string[]): void {
  let at = 0;
  for (const name of actual) if (name === expected[at]) at++;
  assert.equal(at, expected.length, `${expected.join(",")} in order in ${actual.join(",")}`);
}

function assertWellFormedSteps(doc: Json): void {
  for (const step of doc.steps) {
    assert.equal(typeof step.name, "string");
    assert.ok(Number.isFinite(step.ms) && step.ms >= 0, JSON.stringify(step));
  }
}

for (const chip of ["tu102", "ga102"]) {
  Deno.test(`boot --sim ${chip} --json: every step, the GPU's name and WPR2, unloaded clean`, async () => {
    const run = await boot(["--sim", chip, "--json"]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.chip, chip);
    assert.equal(doc.kept, false);
    assert.ok(typeof doc.gpu === "string" && doc.gpu.length > 0, doc.gpu);
    assert.ok(doc.wpr2.start < doc.wpr2.end, JSON.stringify(doc.wpr2));
    assert.ok(["real", "forged"].includes(doc.firmware));
    assert.equal(doc.error, undefined);
    assertInOrder(names(doc), [...BOOT_STEPS, ...UNLOAD_STEPS]);
    assertWellFormedSteps(doc);
    assert.ok(doc.steps.every((s: Json) => !s.failed));
    assert.deepEqual(doc.residue, []);
  });
}

Deno.test("boot --sim tu102 --forged: one line per finished step, then the summary", async () => {
  const run = await boot(["--sim", "tu102", "--forged"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert.equal(lines[0], "boot tu102: simulated, virtual time, forged firmware 570.144");
  const stepLines = lines.filter((l) => /^ {2,}[✓✗] /.test(l));
  const stepNames = stepLines.map((l) => l.trim().split(/\s+/)[1]);
  assertInOrder(stepNames, [...BOOT_STEPS, ...UNLOAD_STEPS]);
  for (const line of stepLines) assert.match(line, /^ {2,}✓ [a-z0-9-]+ +\d+(\.\d)? m?s( {2}.*)?$/);
  // The durations line up in one column.
  const ends = new Set(stepLines.map((l) => l.match(/^.*?\d+(\.\d)? m?s/)![0].length));
  assert.equal(ends.size, 1, stepLines.join("\n"));
  const running = lines.findIndex((l) => l.startsWith("GSP-RM is running on tu102: "));
  assert.ok(running > 0, run.stdout);
  assert.match(lines[running], /: ".+" \(booted in [\d.]+ m?s\)$/);
  assert.match(lines[running + 1], /^ {2}WPR2 0x[0-9a-f]+\.\.0x[0-9a-f]+ \([\d.]+ MiB\)$/);
  assert.equal(lines[running + 2], "unload:");
  assert.match(lines.at(-2)!, /^unloaded: GSP halted, WPR2 clear \(in [\d.]+ m?s\)$/);
  assert.equal(lines.at(-1), "residue: none (the simulated GPU is clean)");
  assert.ok(lines.every((l) => l.length <= 100), run.stdout);
  assert.ok(!run.stdout.includes("\x1b"), "no escape codes when stdout is not a terminal");
});

Deno.test("boot --inject list: every fault point, one per line, name, owner and description", async () => {
  const run = await boot(["--inject", "list"]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  const points = faultPoints();
  assert.equal(lines.length, points.length);
  for (const [i, p] of points.entries()) {
    assert.ok(lines[i].startsWith(`${p.name} `), lines[i]);
    assert.ok(lines[i].includes(` ${p.owner} `), lines[i]);
    assert.ok(lines[i].includes(p.description), lines[i]);
  }
  const json = await boot(["--inject", "list", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(points)));
});

/**
 * Faults the boot must report at their step, each on a chip whose path has
 * it, and what the simulated GPU is left holding: nothing, when the unwinding
 * worked; WPR2, when the fault also defeats the unwinding (a Booter whose
 * signature the boot ROM rejects cannot run Booter-unload either), and then
 * the cleanup failure is attached to the error.
 */
const FAULTS: { chip: string; inject: string; step: string; residue: RegExp | null }[] = [
  { chip: "tu102", inject: "fwsec-error-code=code=0x1234", step: "fwsec-frts", residue: null },
  { chip: "tu102", inject: "gsp-rm-no-init-done", step: "init-done", residue: null },
  { chip: "ga102", inject: "booter-bad-signature", step: "booter-load", residue: /^WPR2 is set/ },
];

for (const { chip, inject, step, residue } of FAULTS) {
  Deno.test(`boot --sim ${chip} --inject ${inject}: fails at ${step}, unwinds, exit 1`, async () => {
    const run = await boot(["--sim", chip, "--inject", inject, "--json"]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.chip, chip);
    assert.equal(doc.gpu, null);
    assert.equal(doc.error.step, step, JSON.stringify(doc.error));
    assert.equal(doc.error.kind, "boot");
    assert.ok(doc.error.message.startsWith(`${step}: `), doc.error.message);
    assert.ok(doc.steps.some((s: Json) => s.name === step && s.failed), JSON.stringify(doc.steps));
    assertWellFormedSteps(doc);
    // What the unwinding ran is listed after the failure.
    const failedAt = names(doc).indexOf(step);
    assert.ok(names(doc).slice(failedAt + 1).includes("falcon-reset"), names(doc).join());
    if (residue === null) {
      assert.deepEqual(doc.residue, []);
    } else {
      assert.ok(doc.residue.some((r: Json) => residue.test(r.what)), JSON.stringify(doc.residue));
      assert.match(doc.error.message, /\(cleanup also failed: /);
    }
    assertErrorLine(run, 1, new RegExp(`^error: ${step}: `));
    assert.equal(run.stderr.trimEnd().split("\n").at(-1), `error: ${doc.error.message}`);
  });
}

Deno.test("boot --inject, every fault point: one JSON object, exit 0 or 1, the failing step named", async () => {
  // From the simulator's own list, so that a new point cannot be forgotten.
  const points = faultPoints().map((p) => p.name);
  const runs: CliRun[] = [];
  for (let i = 0; i < points.length; i += 4) {
    const batch = points.slice(i, i + 4);
    runs.push(
      ...await Promise.all(batch.map((p) => boot(["--sim", "tu102", "--inject", p, "--json"]))),
    );
  }
  const steps = new Set([...BOOT_STEPS, ...UNLOAD_STEPS]);
  for (const [i, point] of points.entries()) {
    const run = runs[i];
    const context = `${point}: exit ${run.code}\n${run.stdout}${run.stderr}`;
    assert.ok(run.code === 0 || run.code === 1, context);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.ok, run.code === 0, context);
    assert.ok(Array.isArray(doc.residue), context);
    assertWellFormedSteps(doc);
    if (doc.ok) continue;
    assert.ok(steps.has(doc.error.step), context);
    assert.ok(doc.steps.some((s: Json) => s.name === doc.error.step && s.failed), context);
    assert.equal(run.stderr.trimEnd().split("\n").at(-1), `error: ${doc.error.message}`, context);
  }
});

Deno.test("boot --inject fwsec-error-code=code=0x1234: the hardware's code is in the JSON", async () => {
  const run = await boot(["--sim", "tu102", "--inject", "fwsec-error-code=code=0x1234", "--json"]);
  assert.equal(JSON.parse(run.stdout).error.code, 0x1234, run.stdout);
});

Deno.test("boot --inject: the failing step is marked ✗ in the text output", async () => {
  const run = await boot(["--sim", "tu102", "--inject", "fwsec-error-code"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^ {2,}✗ fwsec-frts +\d+ m?s {2}\S/m);
  assert.match(run.stdout, /\nresidue: none \(the simulated GPU is clean\)\n$/);
  assert.ok(run.stdout.split("\n").every((l) => l.length <= 100), run.stdout);
});

Deno.test("boot --keep --sim-state, then unload.ts: across processes; a kept GPU refuses a boot", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    const kept = await boot(["--sim", "tu102", "--keep", "--sim-state", state, "--json"]);
    assert.equal(kept.code, 0, kept.stdout + kept.stderr);
    const doc = JSON.parse(kept.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.kept, true);
    assertInOrder(names(doc), BOOT_STEPS);
    assert.ok(!names(doc).some((n) => UNLOAD_STEPS.includes(n)), names(doc).join());
    assert.ok(doc.residue.some((r: Json) => /WPR2/.test(r.what)), JSON.stringify(doc.residue));

    const again = await boot(["--sim", "tu102", "--sim-state", state, "--json"]);
    assert.equal(again.code, 1, again.stdout + again.stderr);
    const refused = JSON.parse(again.stdout);
    assert.equal(refused.error.step, "wpr2-check");
    assert.match(refused.error.message, /GPU needs reset/);

    const unload = await runScript(UNLOAD, ["--sim-state", state, "--json"]);
    assert.equal(unload.code, 0, unload.stdout + unload.stderr);
    const unloaded = JSON.parse(unload.stdout);
    assert.equal(unloaded.ok, true);
    // GSP-RM's queues belonged to the process that booted it: this one resets the GSP instead.
    assertInOrder(names(unloaded), UNLOAD_ONLY);
    assert.deepEqual(unloaded.residue, []);

    const fresh = await boot(["--sim", "tu102", "--sim-state", state, "--json"]);
    assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
    assert.deepEqual(JSON.parse(fresh.stdout).residue, []);
  });
});

Deno.test("boot --keep: the text output says how to unload", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/ga102.json`;
    const run = await boot(["--sim", "ga102", "--keep", "--sim-state", state]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(
      run.stdout.includes(`kept running; state saved in ${state}; unload it with:\n  `),
      run.stdout,
    );
    assert.match(run.stdout, new RegExp(`scripts/unload\\.ts --sim-state ${state}\\n`));
    assert.match(run.stdout, /\nresidue \(expected: the GSP was kept running\):\n/);
    const unload = await runScript(UNLOAD, ["--sim-state", state]);
    assert.equal(unload.code, 0, unload.stdout + unload.stderr);
  });
});

Deno.test("boot: Ctrl-C during a realistic boot unwinds, then exits 130", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--sim", "tu102", "--realistic", "--inject", "fwsec-hang"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // Interrupt once the step before FWSEC-FRTS has finished: the boot hangs in FWSEC-FRTS.
  const before = BOOT_STEPS[BOOT_STEPS.indexOf("fwsec-frts") - 1];
  while (!stdout.includes(`✓ ${before} `)) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
  }
  assert.ok(stdout.includes(`✓ ${before} `), `${before} did not finish:\n${stdout}`);
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
  }
  const status = await child.status;
  const err = await stderr;
  assert.equal(status.code, 130, stdout + err);
  assert.match(stdout, /SIGINT: stopping; unwinding what was done/);
  assert.match(stdout, /^ {2}✗ fwsec-frts +[\d.]+ m?s {2}.*aborted/m);
  assert.match(stdout, /^ {2}✓ falcon-reset /m);
  assert.match(stdout, /\nresidue: none \(the simulated GPU is clean\)\n$/);
  assert.match(err, /^error: interrupted/m);
});

Deno.test("boot: usage errors exit 2 with one error line", async () => {
  const cases: [string[], RegExp][] = [
    [["--sim", "tu102", "--device", "0000:01:00.0"], /exactly one of --device BDF and --sim CHIP/],
    [[], /exactly one of --device BDF and --sim CHIP/],
    [["--device", "0000:01:00.0", "--inject", "fwsec-hang"], /--inject is for a simulated GPU/],
    [["--device", "0000:01:00.0", "--sim-state", "/tmp/x"], /--sim-state is for a simulated GPU/],
    [["--sim", "nv50"], /--sim nv50: not a simulated chip; known: tu102, /],
    [
      ["--sim", "tu102", "--inject", "fwsec-hnag"],
      /unknown fault point; did you mean fwsec-hang\?/,
    ],
    [["--sim", "tu102", "--inject", "fwsec-error-code=code"], /expected KEY=VALUE/],
    [["--sim", "tu102", "--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, pattern] of cases) {
    assertOneLineError(await boot(args), 2, pattern);
    assertJsonError(await boot([...args, "--json"]), 2, "usage");
  }
});

Deno.test("boot: a path that does not exist fails at once, naming it (exit 1)", async () => {
  await withTempDir(async (dir) => {
    const cases: [string[], string][] = [
      [
        ["--sim", "tu102", "--firmware", `${dir}/none`],
        `--firmware ${dir}/none: no such directory`,
      ],
      [["--sim", "tu102", "--vbios", `${dir}/none.rom`], `--vbios ${dir}/none.rom: no such file`],
      [
        ["--sim", "tu102", "--sim-state", `${dir}/no/state.json`],
        `--sim-state ${dir}/no/state.json: cannot be created: no such directory ${dir}/no`,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await boot(args);
      assertOneLineError(run, 1);
      assert.equal(run.stderr, `error: ${message}\n`);
      assert.equal(run.stdout, "");
      assert.equal(
        assertJsonError(await boot([...args, "--json"]), 1, "path").error.message,
        message,
      );
    }
  });
});

Deno.test("boot --help names every option", async () => {
  const run = await boot(["--help"]);
  assert.equal(run.code, 0);
  for (
    const option of [
      "--device BDF",
      "--sim CHIP",
      "--firmware DIR",
      "--vbios FILE",
      "--keep",
      "--inject POINT[=PARAMS]",
      "--sim-state FILE",
      "--json",
    ]
  ) {
    assert.ok(run.stdout.includes(option), option);
  }
  assert.match(run.stdout, /^Exit codes:$/m);
});

Deno.test("boot --all --sim: every GPU concurrently, one failing alone; one JSON result per GPU", async () => {
  const run = await boot([
    ...["--all", "--sim", "tu102,ga102", "--count", "2", "--forged", "--json"],
    ...["--inject", "3:fwsec-error-code=code=0x1234"],
  ]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.equal(doc.ok, false);
  assert.deepEqual(doc.gpus.map((g: Json) => g.id), ["tu102#0", "tu102#1", "ga102#2", "ga102#3"]);
  assert.deepEqual(doc.gpus.map((g: Json) => g.ok), [true, true, true, false]);
  for (const gpu of doc.gpus) {
    assert.deepEqual(gpu.residue, [], gpu.id);
    assert.equal(gpu.firmware, "forged");
    assertWellFormedSteps(gpu);
  }
  for (const gpu of doc.gpus.slice(0, 3)) {
    assertInOrder(names(gpu), [...BOOT_STEPS, ...UNLOAD_STEPS]);
    assert.match(gpu.gpu, /^NVIDIA /);
    assert.ok(gpu.wpr2.end > gpu.wpr2.start);
  }
  const failed = doc.gpus[3];
  assert.equal(failed.chip, "ga102");
  assert.deepEqual(
    { step: failed.error.step, code: failed.error.code, kind: failed.error.kind },
    { step: "fwsec-frts", code: 0x1234, kind: "boot" },
  );
  assert.ok(names(failed).slice(names(failed).indexOf("fwsec-frts")).includes("falcon-reset"));
  const errors = run.stderr.trimEnd().split("\n").filter((l) => l.startsWith("error: "));
  assert.deepEqual(errors, [`error: ga102#3: ${failed.error.message}`]);
});

Deno.test("boot --all --sim: each step line names its GPU; a summary, the unload, each residue", async () => {
  const run = await boot(["--all", "--sim", "tu102", "--count", "2", "--forged"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert.match(
    lines[0],
    /^boot 2 simulated GPUs concurrently: virtual time, tu102 forged firmware$/,
  );
  for (const gpu of ["tu102#0", "tu102#1"]) {
    for (const step of [...BOOT_STEPS, ...UNLOAD_STEPS]) {
      const line = new RegExp(`^${gpu.replace("#", "\\#")} +✓ ${step} +\\d+(\\.\\d)? m?s`, "m");
      assert.match(run.stdout, line);
    }
    assert.match(run.stdout, new RegExp(`^${gpu} GSP-RM is running on tu102: "NVIDIA `, "m"));
    assert.match(
      run.stdout,
      new RegExp(`^${gpu} residue: none \\(the simulated GPU is clean\\)$`, "m"),
    );
  }
  assert.ok(lines.includes("booted 2 of 2 GPUs"), run.stdout);
  assert.ok(lines.includes("unload:"), run.stdout);
  assert.equal(run.stderr, "");
});

Deno.test("boot --all: usage errors exit 2 with one error line", async () => {
  const cases: [string[], RegExp][] = [
    [["--all", "--device", "0000:01:00.0"], /give --device alone to boot one/],
    [["--all", "--sim", "tu102", "--keep"], /--keep with --all is for real GPUs/],
    [["--all", "--sim", "tu102", "--sim-state", "/tmp/s.json"], /does not go with --all/],
    [["--all", "--sim", "tu102,nv50"], /--sim nv50: not a simulated chip/],
    [
      ["--all", "--sim", "tu102", "--inject", "2:fwsec-hang"],
      /there is no GPU 2; the GPUs are 0 to 0/,
    ],
    [
      ["--all", "--sim", "tu102", "--count", "0"],
      /--count 0: expected a whole number from 1 to 64/,
    ],
    [["--all", "--realistic"], /--realistic is for simulated GPUs \(--all --sim CHIP/],
    [["--sim", "tu102", "--count", "2"], /--count goes with --all --sim CHIP/],
  ];
  for (const [args, pattern] of cases) {
    assertOneLineError(await boot(args), 2, pattern);
    assertJsonError(await boot([...args, "--json"]), 2, "usage");
  }
});

Deno.test("boot --help describes --all, --count and --trace", async () => {
  const run = await boot(["--help"]);
  assert.equal(run.code, 0);
  for (const option of ["--all", "--count N", "--trace FILE", "N:POINT"]) {
    assert.ok(run.stdout.includes(option), option);
  }
});

Deno.test("boot: a failed boot writes a crash bundle to the cache by default, and says where", async () => {
  await withTempDir(async (dir) => {
    const run = await boot(
      ["--sim", "tu102", "--forged", "--inject", "fwsec-error-code", "--json"],
      { env: { XDG_CACHE_HOME: dir } },
    );
    assert.equal(run.code, 1, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.error.step, "fwsec-frts");
    assert.ok(doc.error.crashBundle.startsWith(`${dir}/falconry/crash/`), doc.error.crashBundle);
    const index = JSON.parse(await Deno.readTextFile(`${doc.error.crashBundle}/index.json`));
    assert.equal(index.failure.step, "fwsec-frts");
    // The text view names the bundle and how to read it.
    const text = await boot(["--sim", "tu102", "--forged", "--inject", "fwsec-error-code"], {
      env: { XDG_CACHE_HOME: dir },
    });
    assert.match(text.stdout, /\ncrash bundle: \S+\/falconry\/crash\/\S+ \(.*crash\.ts /);
  });
});

Deno.test("boot: --crash-dir and --no-crash-dir contradict; a used --crash-dir is refused", async () => {
  await withTempDir(async (dir) => {
    const both = await boot(["--sim", "tu102", "--crash-dir", dir, "--no-crash-dir"]);
    assertErrorLine(both, 2, /contradict/);
    await Deno.writeTextFile(`${dir}/x`, "");
    const used = await boot(["--sim", "tu102", "--crash-dir", dir]);
    assertErrorLine(used, 1, /--crash-dir .*not empty/);
  });
});

Deno.test("boot --keep without --sim-state holds GSP-RM until SIGTERM, then unloads, exit 0", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--sim", "tu102", "--forged", "--keep", "--json"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  // With --json the step view goes to stderr; the hold announces itself there.
  while (!stderr.includes("press Ctrl-C or send SIGTERM")) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += value;
  }
  assert.match(stderr, /held running \(no --sim-state FILE/);
  child.kill("SIGTERM");
  const rest = await new Response(
    new ReadableStream({
      async pull(c) {
        const { value, done } = await reader.read();
        if (done) c.close();
        else c.enqueue(new TextEncoder().encode(value));
      },
    }),
  ).text();
  const status = await child.status;
  assert.equal(status.code, 0, stderr + rest);
  const doc = JSON.parse(await stdout);
  assert.equal(doc.ok, true);
  assert.equal(doc.kept, false);
  assert.equal(typeof doc.heldMs, "number");
  assert.ok(doc.steps.some((s: { name: string }) => s.name === "booter-unload"));
  assert.deepEqual(doc.residue, []);
});

Deno.test("boot --recover: a GPU left dirty by a kept boot is recovered, then booted", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    const kept = await boot(["--sim", "tu102", "--forged", "--keep", "--sim-state", state]);
    assert.equal(kept.code, 0, kept.stderr);
    const refused = await boot(["--sim", "tu102", "--forged", "--sim-state", state]);
    assertErrorLine(refused, 1, /GPU needs reset.*run reset\.ts or boot --recover/);
    const run = await boot(
      ["--sim", "tu102", "--forged", "--sim-state", state, "--recover", "--json"],
    );
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.recovery.ok, true);
    assert.deepEqual(
      doc.recovery.rungs.map((r: { name: string; outcome: string }) => `${r.name}:${r.outcome}`),
      ["unload:skipped", "unload-bundle:recovered"],
    );
    assert.ok(doc.steps.some((s: { name: string }) => s.name === "static-info"));
    assert.deepEqual(doc.residue, []);
  });
});

Deno.test("boot --sim gh100: the FSP path boots and unloads; an FSP refusal names its phase", async () => {
  const run = await boot(["--sim", "gh100", "--forged", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.equal(doc.chip, "gh100");
  assertInOrder(names(doc), ["fsp-secure-boot", "fsp-cot-send", "lockdown-release", "init-done"]);
  assert.deepEqual(doc.residue, []);
  const refused = await boot(["--sim", "gh100", "--forged", "--inject", "fsp-cot-error-response"]);
  assertErrorLine(refused, 1, /fsp-cot-response: .*0xa1.*\[phase cot-send\]/);
});
