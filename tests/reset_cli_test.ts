// Tests of scripts/reset.ts run as a subprocess, on simulated GPUs only: it recovers a GPU that
// `boot.ts --keep` left running GSP-RM (each rung shown with its state and duration, the state
// file saved back clean), prints one JSON object with --json, says plainly when a GPU needs a
// power cycle (exit 1), runs only the rungs --method names; bad paths exit 1 naming them, usage
// errors exit 2, and --json prints JSON in every outcome.

import assert from "node:assert/strict";
import { SimulatedGpu } from "../sim/mod.ts";
import { assertJsonError, assertOneLineError, type CliRun, runScript } from "./_cli.ts";

const SCRIPT = new URL("../scripts/reset.ts", import.meta.url).pathname;
const BOOT = new URL("../scripts/boot.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = any;

function reset(args: string[]): Promise<CliRun> {
  return runScript(SCRIPT, args);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "falconry-reset-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A tu102 whose GSP-RM boot.ts kept running, saved to `state`. */
async function keptGpu(state: string): Promise<void> {
  const kept = await runScript(BOOT, [
    "--sim",
    "tu102",
    "--forged",
    "--keep",
    "--sim-state",
    state,
  ]);
  assert.equal(kept.code, 0, kept.stdout + kept.stderr);
}

Deno.test("reset.ts --sim-state: a GSP-RM kept by boot.ts is cleared by the unload bundle", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    await keptGpu(state);
    const run = await reset(["--sim-state", state, "--forged"]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stderr, "");
    const lines = run.stdout.trimEnd().split("\n");
    assert.equal(
      lines[0],
      `reset tu102: simulated, virtual time, forged firmware 570.144, state in ${state}`,
    );
    assert.match(lines[1], /^before: WPR2 0x[0-9a-f]+\.\.0x[0-9a-f]+, GSP riscv-active, SEC2 /);
    const rungs = lines.filter((l) => /^[✓✗–⊘] /.test(l));
    assert.equal(rungs.length, 2, run.stdout);
    assert.match(rungs[0], /^– unload +0 ms {2}skipped: GSP-RM runs, but this process holds no/);
    assert.match(
      rungs[1],
      /^✓ unload-bundle +\d+ ms {2}recovered: WPR2 clear, GSP halted, SEC2 halted \(FWSEC-SB, /,
    );
    // The bundle's own steps show above its line.
    for (const step of ["fwsec-sb", "booter-unload", "falcon-reset"]) {
      assert.match(run.stdout, new RegExp(`^ {2}✓ ${step} `, "m"), step);
    }
    assert.deepEqual(lines.slice(-2), [
      "recovered by unload-bundle: WPR2 clear, GSP halted, SEC2 halted",
      "residue: none (the simulated GPU is clean)",
    ]);
    {
      await using gpu = await SimulatedGpu.open(state);
      assert.equal(gpu.pfb.wpr2(), undefined, "WPR2 clear in the saved state");
    }
    // Again: nothing to do.
    const again = await reset(["--sim-state", state, "--forged", "--json"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const doc = JSON.parse(again.stdout);
    assert.deepEqual(doc.rungs, []);
    assert.equal(doc.verdict, "nothing to do: WPR2 clear, GSP halted, SEC2 halted");
  });
});

Deno.test("reset.ts --json: one object with each rung's name, duration and state", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    await keptGpu(state);
    const run = await reset(["--sim-state", state, "--forged", "--json"]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(doc), [
      "ok",
      "chip",
      "before",
      "rungs",
      "verdict",
      "needsPowerCycle",
      "firmware",
      "residue",
    ]);
    assert.equal(doc.ok, true);
    assert.equal(doc.chip, "tu102");
    assert.equal(doc.firmware, "forged");
    assert.equal(doc.before.gsp, "riscv-active");
    assert.match(doc.before.wpr2.start, /^0x[0-9a-f]+$/);
    assert.deepEqual(doc.rungs.map((r: Json) => [r.name, r.outcome]), [
      ["unload", "skipped"],
      ["unload-bundle", "recovered"],
    ]);
    for (const rung of doc.rungs) {
      assert(Number.isFinite(rung.ms) && rung.ms >= 0);
      assert.deepEqual(Object.keys(rung.state).sort(), [
        "answering",
        "clean",
        "gsp",
        "sec2",
        "sysmemFlush",
        "wpr2",
      ]);
    }
    assert(doc.rungs[1].ms > 0);
    assert.deepEqual(doc.rungs[1].state, {
      answering: true,
      wpr2: "clear",
      gsp: "halted",
      sec2: "halted",
      sysmemFlush: null,
      clean: true,
    });
    assert.match(doc.verdict, /^recovered by unload-bundle/);
    assert.equal(doc.needsPowerCycle, false);
    assert.deepEqual(doc.residue, []);
  });
});

Deno.test("reset.ts: a GPU that never comes back needs a power cycle, exit 1", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    {
      await using gpu = new SimulatedGpu({ chip: "tu102", quirks: { neverReturns: true } });
      gpu.pfb.setWpr2(0x2_bfe0_0000, 0x2_bff0_0000);
      await gpu.save(state);
    }
    const run = await reset(["--sim-state", state, "--forged", "--method", "flr"]);
    const line = assertOneLineError(run, 1, /^error: the GPU needs a power cycle: config space/);
    assert.match(run.stdout, /^✗ flr +\d+\.\d s {2}failed: .*not ready 65535ms/m);
    assert.equal(run.stdout.trimEnd().split("\n").at(-2), line.slice("error: ".length));

    const json = await reset(["--sim-state", state, "--forged", "--json"]);
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.needsPowerCycle, true);
    assert.equal(doc.before.answering, false, "still silent from the first run");
    assert.deepEqual(doc.rungs.map((r: Json) => [r.name, r.outcome]), [
      ["unload", "skipped"],
      ["unload-bundle", "skipped"],
      ["falcon-reset", "skipped"],
      ["flr", "failed"],
      ["bus-reset", "failed"],
    ]);
    assert.equal(doc.rungs[4].state.answering, false);
    assert.match(doc.verdict, /^the GPU needs a power cycle: .*re-enumeration did not find/);
  });
});

Deno.test("reset.ts --method: only the rungs it names; a rung left out is named", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    await keptGpu(state);
    const falcon = await reset(["--sim-state", state, "--forged", "--method", "falcon", "--json"]);
    assert.equal(falcon.code, 1, falcon.stdout + falcon.stderr);
    const doc = JSON.parse(falcon.stdout);
    assert.deepEqual(doc.rungs.map((r: Json) => [r.name, r.outcome]), [
      ["falcon-reset", "not-recovered"],
    ]);
    assert.notEqual(doc.rungs[0].state.wpr2, "clear", "a falcon reset leaves WPR2");
    assert.equal(doc.needsPowerCycle, false);
    assert.match(doc.verdict, /^not recovered: WPR2 0x.*\(unload, unload-bundle, flr, bus-reset\)/);

    const flr = await reset(["--sim-state", state, "--forged", "--method", "flr"]);
    assert.equal(flr.code, 0, flr.stdout + flr.stderr);
    assert.match(
      flr.stdout,
      /^✓ flr +\d+ ms {2}recovered: WPR2 clear, GSP halted, SEC2 halted \(GFW boot done in \d+ ms\)$/m,
    );
    assert.match(flr.stdout, /^recovered by flr: /m);
  });
});

Deno.test("reset.ts: --help, --version", async () => {
  const help = await reset(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: reset\.ts \(--device BDF \| --sim-state FILE\)/);
  assert.match(help.stdout, /--method METHOD +auto \(the whole ladder\)/);
  assert.match(help.stdout, /Exit codes:/);
  const json = await reset(["--help", "--json"]);
  assert.match(JSON.parse(json.stdout).help, /^Usage: reset\.ts/);
  const version = await reset(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^falconry \S+ \(firmware manifest: /);
});

Deno.test("reset.ts: a state file that is missing or not a simulated GPU's fails naming it", async () => {
  await withTempDir(async (dir) => {
    const text = `${dir}/notes.txt`;
    await Deno.writeTextFile(text, "not JSON");
    const cases: [string[], string, string][] = [
      [["--sim-state", `${dir}/none.json`], `--sim-state ${dir}/none.json: no such file`, "path"],
      [
        ["--sim-state", text],
        `--sim-state ${text}: not a simulated GPU's state (not JSON)`,
        "input",
      ],
    ];
    for (const [args, message, kind] of cases) {
      const run = await reset(args);
      assertOneLineError(run, 1);
      assert.equal(run.stderr, `error: ${message}\n`);
      assert.equal(
        assertJsonError(await reset([...args, "--json"]), 1, kind).error.message,
        message,
      );
    }
  });
});

Deno.test("reset.ts: usage errors exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [[], /exactly one of --device BDF and --sim-state FILE/],
    [["--device", "0000:01:00.0", "--sim-state", "x.json"], /exactly one of --device/],
    [["--sim-state", "x.json", "--method", "reboot"], /--method reboot: expected one of auto, /],
    [["--device", "0000:01:00.0", "--forged"], /--forged applies to a simulated GPU/],
    [["--sim-state", "x.json", "extra"], /Unexpected argument 'extra'/],
  ];
  for (const [args, pattern] of cases) {
    assertOneLineError(await reset(args), 2, pattern);
    assertJsonError(await reset([...args, "--json"]), 2, "usage");
  }
});

Deno.test("reset --trace: every rung and the steps inside it, as complete trace events", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    await keptGpu(state);
    const trace = `${dir}/reset.json`;
    const run = await reset(["--sim-state", state, "--forged", "--trace", trace]);
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(await Deno.readTextFile(trace));
    const complete = (doc.traceEvents as { ph: string; name: string; ts: number; dur: number }[])
      .filter((e) => e.ph === "X");
    const span = (name: string) => complete.find((e) => e.name === name);
    const rung = span("unload-bundle"), sb = span("fwsec-sb"), unload = span("booter-unload");
    assert(rung && sb && unload, complete.map((e) => e.name).join(", "));
    // The unload bundle's own steps lie inside its rung.
    for (const step of [sb, unload]) {
      assert(step.ts >= rung.ts && step.ts + step.dur <= rung.ts + rung.dur + 1e-3, step.name);
    }
    assert(complete.some((e) => e.name.startsWith("wait ")));
  });
});
