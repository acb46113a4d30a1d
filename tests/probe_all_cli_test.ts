// Tests of `probe.ts --all`, `--format prometheus` and `--sim-state`, run as a subprocess over
// the fixture sysfs tree (tests/_sysfs_fixture.ts) whose resource0 files hold BAR0 images
// (tests/_probe_fixture.ts), and over simulated GPUs saved by boot.ts. The Prometheus output is
// checked with the exposition format's rules (tests/_prometheus_format.ts); a GPU that cannot be
// probed is reported and the others still are; nothing is written, to a BAR or to a state file.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type ParsedFamily, parseExposition } from "./_prometheus_format.ts";
import { type CliRun, runScript } from "./_cli.ts";
import { bootedImage, gh100LockedImage, turingImage, writeBar0File } from "./_probe_fixture.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

const PROBE = new URL("../scripts/probe.ts", import.meta.url).pathname;
const BOOT = new URL("../scripts/boot.ts", import.meta.url).pathname;
const UNLOAD = new URL("../scripts/unload.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = any;

/** The fixture's five NVIDIA GPUs: four with plausible images, 06:00.0 reading all zeros. */
function tree() {
  const t = buildSysfsTree();
  const resource0 = (bdf: string) => `${t.devicePath(bdf)}/resource0`;
  writeBar0File(resource0("0000:01:00.0"), turingImage("tu102"));
  writeBar0File(resource0("0000:02:00.0"), bootedImage("ga102"));
  writeBar0File(resource0("0000:03:00.0"), gh100LockedImage());
  writeBar0File(resource0("0000:05:00.0"), bootedImage("ad102"));
  return Object.assign(t, {
    resource0,
    args: (...extra: string[]) => ["--sysfs-root", t.root, ...extra],
  });
}

function probe(args: string[]): Promise<CliRun> {
  return runScript(PROBE, args, { flags: ["-A", "--no-prompt"] });
}

function value(families: ParsedFamily[], name: string, labels: Record<string, string>) {
  const family = families.find((f) => f.name === name);
  return family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

function sha256(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

const ALL = ["0000:01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:05:00.0", "0000:06:00.0"];

Deno.test("probe --all --format prometheus: every GPU's state, valid textfile metrics, exit 0", async () => {
  using t = tree();
  const before = ALL.map((bdf) => sha256(t.resource0(bdf)));
  const run = await probe(t.args("--all", "--format", "prometheus"));
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const families = parseExposition(run.stdout);
  assert.equal(value(families, "falconry_probe_gpus", {}), 5);
  const success = families.find((f) => f.name === "falconry_gpu_probe_success")!;
  assert.deepEqual(success.samples.map((s) => [s.labels.gpu, s.value]), [
    ["0000:01:00.0", 1],
    ["0000:02:00.0", 1],
    ["0000:03:00.0", 1],
    ["0000:05:00.0", 1],
    ["0000:06:00.0", 0],
  ]);
  const chips = families.find((f) => f.name === "falconry_gpu_info")!.samples;
  assert.deepEqual(chips.map((s) => s.labels.chip), ["tu102", "ga102", "gh100", "ad102"]);
  assert.equal(value(families, "falconry_gpu_wpr2_set", { gpu: "0000:02:00.0" }), 1);
  assert.equal(value(families, "falconry_gpu_wpr2_set", { gpu: "0000:01:00.0" }), 0);
  assert.equal(value(families, "falconry_gpu_gsp_running", { gpu: "0000:05:00.0" }), 1);
  assert.equal(
    value(families, "falconry_gpu_falcon_halted", { gpu: "0000:02:00.0", engine: "SEC2" }),
    1,
  );
  // The GPU that could not be probed is named on stderr, as a warning, not as a failure.
  assert.match(run.stderr, /0000:06:00\.0: not probed: /);
  assert.doesNotMatch(run.stderr, /^error: /m);
  assert.deepEqual(ALL.map((bdf) => sha256(t.resource0(bdf))), before, "nothing written");
});

Deno.test("probe --all: text and JSON report every GPU, and the one that failed; exit 1", async () => {
  using t = tree();
  const json = await probe(t.args("--all", "--json"));
  assert.equal(json.code, 1, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.deepEqual(doc.map((g: Json) => g.device?.bdf ?? g.gpu), ALL);
  assert.deepEqual(doc.map((g: Json) => g.chip?.name ?? null), [
    "tu102",
    "ga102",
    "gh100",
    "ad102",
    null,
  ]);
  assert.equal(doc[4].error.kind, "device");
  assert.match(doc[4].error.message, /^0000:06:00\.0: /);
  const text = await probe(t.args("--all"));
  assert.equal(text.code, 1);
  for (const bdf of ALL.slice(0, 4)) assert.match(text.stdout, new RegExp(`^${bdf}  `, "m"));
  assert.match(text.stdout, /^0000:06:00\.0 {2}not probed: /m);
  assert.deepEqual(
    text.stderr.trimEnd().split("\n").filter((l) => l.startsWith("error: ")).length,
    1,
  );
});

Deno.test("probe --device --format prometheus: one GPU", async () => {
  using t = tree();
  const run = await probe(t.args("--device", "02:00.0", "--format", "prometheus"));
  assert.equal(run.code, 0, run.stderr);
  const families = parseExposition(run.stdout);
  assert.equal(value(families, "falconry_probe_gpus", {}), 1);
  assert.equal(value(families, "falconry_gpu_gsp_running", { gpu: "0000:02:00.0" }), 1);
});

Deno.test("probe --sim-state: a simulated GPU kept running, then unloaded; the file is not written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "falconry-probe-sim-" });
  try {
    const state = `${dir}/tu102 "a".json`;
    const boot = await runScript(BOOT, [
      "--sim",
      "tu102",
      "--forged",
      "--keep",
      "--sim-state",
      state,
    ]);
    assert.equal(boot.code, 0, boot.stdout + boot.stderr);
    const before = sha256(state);
    const running = await probe(["--sim-state", state, "--format", "prometheus"]);
    assert.equal(running.code, 0, running.stderr);
    assert.equal(sha256(state), before, "the state file is not saved back");
    let families = parseExposition(running.stdout);
    assert.equal(value(families, "falconry_gpu_info", { gpu: state, chip: "tu102" }), 1);
    assert.equal(value(families, "falconry_gpu_wpr2_set", { gpu: state }), 1);
    assert.equal(value(families, "falconry_gpu_gsp_running", { gpu: state }), 1);
    assert.ok(running.stdout.includes(`gpu="${dir}/tu102 \\"a\\".json"`), running.stdout);
    const unload = await runScript(UNLOAD, ["--sim-state", state, "--forged"]);
    assert.equal(unload.code, 0, unload.stdout + unload.stderr);
    const after = await probe(["--sim-state", state, "--format", "prometheus"]);
    families = parseExposition(after.stdout);
    assert.equal(value(families, "falconry_gpu_wpr2_set", { gpu: state }), 0);
    assert.equal(value(families, "falconry_gpu_gsp_running", { gpu: state }), 0);
    assert.equal(value(families, "falconry_gpu_falcon_halted", { gpu: state, engine: "GSP" }), 1);
    const text = await probe(["--sim-state", state]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /WPR2: not set/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probe: format usage errors exit 2", async () => {
  using t = tree();
  const cases: [string[], RegExp][] = [
    [["--format", "xml", "--all"], /--format xml: expected text, json, prometheus/],
    [["--json", "--format", "prometheus", "--all"], /--json and --format prometheus contradict/],
    [["--all", "--device", "02:00.0"], /--device BDF or --all, not both/],
    [["--format", "prometheus"], /needs GPUs to probe/],
  ];
  for (const [args, pattern] of cases) {
    const run = await probe(t.args(...args));
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stderr, pattern);
  }
  const missing = await probe(["--sim-state", "/no/such/state.json"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: --sim-state \/no\/such\/state\.json: no such file/m);
});
