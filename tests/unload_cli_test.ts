// Tests of scripts/unload.ts run as a subprocess, on simulated GPUs only: it
// unloads a GSP that `boot.ts --keep --sim-state FILE` left running in another
// process (WPR2 clear, the residue empty, step by step), and fails naming the
// path for a state file that is missing or not a simulated GPU's; usage
// errors exit 2.

import assert from "node:assert/strict";
import { SimulatedGpu } from "../sim/mod.ts";
import { assertJsonError, assertOneLineError, type CliRun, runScript } from "./_cli.ts";

const SCRIPT = new URL("../scripts/unload.ts", import.meta.url).pathname;
const BOOT = new URL("../scripts/boot.ts", import.meta.url).pathname;
// GSP-RM's queues belonged to the process that booted it: this one resets the GSP instead of
// sending UNLOADING_GUEST_DRIVER.
const UNLOAD_STEPS = ["gsp-suspend", "fwsec-sb", "booter-unload", "falcon-reset"];

// deno-lint-ignore no-explicit-any
type Json = any;

function unload(args: string[]): Promise<CliRun> {
  return runScript(SCRIPT, args);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "falconry-unload-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const [chip, firmware] of [["tu102", []], ["ga102", ["--forged"]]] as const) {
  Deno.test(`unload.ts --sim-state: a ${chip} GSP kept by boot.ts is unloaded${firmware.length ? ` (${firmware[0]})` : ""}, WPR2 clear`, async () => {
    await withTempDir(async (dir) => {
      const state = `${dir}/${chip}.json`;
      const kept = await runScript(BOOT, [
        "--sim",
        chip,
        ...firmware,
        "--keep",
        "--sim-state",
        state,
        "--json",
      ]);
      assert.equal(kept.code, 0, kept.stdout + kept.stderr);
      const wpr2 = JSON.parse(kept.stdout).wpr2;
      {
        await using gpu = await SimulatedGpu.open(state);
        assert.equal(gpu.pfb.wpr2()?.start, wpr2.start, "WPR2 set while the GSP runs");
      }

      const run = await unload(["--sim-state", state, ...firmware]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const lines = run.stdout.trimEnd().split("\n");
      assert.equal(
        lines[0],
        `unload ${chip}: simulated, virtual time, ${
          firmware.length ? "forged" : "real"
        } firmware 570.144, state in ${state}`,
      );
      const steps = lines.filter((l) => /^ {2,}✓ /.test(l)).map((l) => l.trim().split(/\s+/)[1]);
      assert.deepEqual(steps.filter((s) => UNLOAD_STEPS.includes(s)), UNLOAD_STEPS);
      assert.match(lines.at(-2)!, /^unloaded: GSP halted, WPR2 clear \(in [\d.]+ m?s\)$/);
      assert.equal(lines.at(-1), "residue: none (the simulated GPU is clean)");
      {
        await using gpu = await SimulatedGpu.open(state);
        assert.equal(gpu.pfb.wpr2(), undefined, "WPR2 clear in the saved state");
      }
    });
  });
}

Deno.test("unload.ts --json: one object, its steps and an empty residue", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    const kept = await runScript(BOOT, ["--sim", "tu102", "--keep", "--sim-state", state]);
    assert.equal(kept.code, 0, kept.stdout + kept.stderr);
    const run = await unload(["--sim-state", state, "--json"]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(doc), ["ok", "chip", "firmware", "steps", "residue"]);
    assert.equal(doc.ok, true);
    assert.equal(doc.chip, "tu102");
    const names = doc.steps.map((s: Json) => s.name);
    assert.deepEqual(names.filter((n: string) => UNLOAD_STEPS.includes(n)), UNLOAD_STEPS);
    assert.ok(doc.steps.every((s: Json) => Number.isFinite(s.ms) && s.ms >= 0));
    assert.deepEqual(doc.residue, []);
  });
});

Deno.test("unload.ts on a GPU whose GSP was already unloaded: nothing to do, exit 0", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    const booted = await runScript(BOOT, ["--sim", "tu102", "--sim-state", state]);
    assert.equal(booted.code, 0, booted.stdout + booted.stderr);
    const run = await unload(["--sim-state", state]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.slice(-2), [
      "nothing to unload: no GSP was running and WPR2 is clear",
      "residue: none (the simulated GPU is clean)",
    ]);
    assert.ok(!/✓ (gsp-suspend|fwsec-sb|booter-unload) /.test(run.stdout), run.stdout);
  });
});

Deno.test("unload.ts: a state file that is missing or not a simulated GPU's fails naming it", async () => {
  await withTempDir(async (dir) => {
    const text = `${dir}/notes.txt`;
    await Deno.writeTextFile(text, "not JSON");
    const other = `${dir}/other.json`;
    await Deno.writeTextFile(other, JSON.stringify({ hello: 1 }));
    const cases: [string[], string, string][] = [
      [["--sim-state", `${dir}/none.json`], `--sim-state ${dir}/none.json: no such file`, "path"],
      [["--sim-state", dir], `--sim-state ${dir}: is a directory, not a file`, "path"],
      [
        ["--sim-state", text],
        `--sim-state ${text}: not a simulated GPU's state (not JSON)`,
        "input",
      ],
      [
        ["--sim-state", other],
        `--sim-state ${other}: not a simulated GPU's state (no chip)`,
        "input",
      ],
      [
        ["--sim-state", text, "--firmware", `${dir}/none`],
        `--firmware ${dir}/none: no such directory`,
        "path",
      ],
    ];
    for (const [args, message, kind] of cases) {
      const run = await unload(args);
      assertOneLineError(run, 1);
      assert.equal(run.stderr, `error: ${message}\n`);
      assert.equal(
        assertJsonError(await unload([...args, "--json"]), 1, kind).error.message,
        message,
      );
    }
  });
});

Deno.test("unload.ts: usage errors exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [[], /exactly one of --device BDF and --sim-state FILE/],
    [["--device", "0000:01:00.0", "--sim-state", "x.json"], /exactly one of --device/],
    [["--sim", "tu102"], /Unknown option '--sim'/],
  ];
  for (const [args, pattern] of cases) {
    assertOneLineError(await unload(args), 2, pattern);
    assertJsonError(await unload([...args, "--json"]), 2, "usage");
  }
});
