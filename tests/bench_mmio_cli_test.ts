// Tests of scripts/bench_mmio.ts as a command: it starts and fails like every
// other script (usage errors exit 2 with one `error:` line, --log-level and
// --json work), and its JSON names the comparisons it makes. No timing is
// asserted: speed is the bench's output, not a test's condition.

import assert from "node:assert/strict";
import { assertJsonError, assertOneLineError, runScript } from "./_cli.ts";

const SCRIPT = new URL("../scripts/bench_mmio.ts", import.meta.url).pathname;

Deno.test("bench_mmio: bad options are usage errors in one line, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^error: Unknown option '--bogus'; see --help$/],
    [
      ["--iterations", "-5"],
      /^error: --iterations needs a value; a value that starts with "-" is written --iterations=VALUE/,
    ],
    [["--iterations=-5"], /^error: --iterations -5: expected a whole number from 1000 to /],
    [["--iterations", "abc"], /^error: --iterations abc: expected a whole number from 1000 to /],
    [["--iterations", "999"], /^error: --iterations 999: expected a whole number from 1000 to /],
    [["--rounds", "0"], /^error: --rounds 0: expected a whole number from 1 to 1000$/],
    [["--log-level", "loud"], /^error: --log-level loud: expected trace, debug/],
  ];
  const runs = await Promise.all(cases.map(([args]) => runScript(SCRIPT, args)));
  for (const [i, [args, pattern]] of cases.entries()) {
    assertOneLineError(runs[i], 2, pattern);
    assert.equal(runs[i].stdout, "", args.join(" "));
  }
  assertJsonError(await runScript(SCRIPT, ["--iterations", "abc", "--json"]), 2, "usage");
});

Deno.test("bench_mmio --json --log-level debug: write32 against a plain store, read32 against Atomics.load", async () => {
  const run = await runScript(SCRIPT, [
    "--iterations",
    "1000",
    "--rounds",
    "3",
    "--json",
    "--log-level",
    "debug",
  ]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.equal(doc.iterations, 1000);
  assert.equal(doc.rounds, 3);
  for (const name of ["read32", "atomicsLoad", "write32", "plainStore", "atomicsStore"]) {
    assert.ok(doc.nsPerOp[name] > 0, name);
    assert.ok(doc.medianNsPerOp[name] > 0, name);
  }
  for (const ratio of ["readRatio", "writeRatio", "writeVsAtomicsStore"]) {
    assert.ok(Number.isFinite(doc[ratio]) && doc[ratio] > 0, ratio);
  }
  assert.equal(doc.goal, 1.5);
  assert.equal(doc.met, doc.readRatio <= 1.5);
});

Deno.test("bench_mmio --help: the comparisons, the options and the exit codes", async () => {
  const run = await runScript(SCRIPT, ["--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^Usage: bench_mmio\.ts /);
  assert.match(run.stdout, /view\[i\] = v/);
  for (const option of ["--iterations N", "--rounds R", "--check", "--json", "--log-level"]) {
    assert.ok(run.stdout.includes(option), option);
  }
  assert.match(run.stdout, /^Exit codes:$/m);
});
