// trace.ts and `--trace FILE` (boot.ts, boot.ts --all, unload.ts): the file parses as Chrome
// trace-event JSON (checked here against the format's rules, not the recorder's code), with one
// complete ("X") event per step, named and timed as the step was, one track (pid) per GPU named
// with process_name metadata, and every wait inside the step it belongs to. The recording proxy
// folds a poll loop's sleeps into one wait named after its register, and passes the rest of the
// device through.

import assert from "node:assert/strict";
import { UNLOAD_STEPS } from "../gsp/boot_steps.ts";
import { pollValue } from "../pci/mmio.ts";
import { SimulatedGpu } from "../sim/mod.ts";
import { traceDevice, TraceRecorder, type TraceSpan } from "../trace.ts";
import { type CliRun, runScript } from "./_cli.ts";

const BOOT = new URL("../scripts/boot.ts", import.meta.url).pathname;
const UNLOAD = new URL("../scripts/unload.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = any;

interface Event {
  name: string;
  cat?: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

const PHASES = new Set(["B", "E", "X", "i", "I", "C", "M", "b", "e", "n", "s", "t", "f", "P"]);
const METADATA = new Set([
  "process_name",
  "process_labels",
  "process_sort_index",
  "thread_name",
  "thread_sort_index",
]);

/** Check a document against the trace-event format and return its events. */
function checkTraceDocument(doc: Json): Event[] {
  assert.equal(typeof doc, "object");
  assert(Array.isArray(doc.traceEvents), "traceEvents is an array");
  if (doc.displayTimeUnit !== undefined) assert(["ms", "ns"].includes(doc.displayTimeUnit));
  for (const e of doc.traceEvents) {
    const what = JSON.stringify(e);
    assert.equal(typeof e.name, "string", what);
    assert(PHASES.has(e.ph), what);
    assert(Number.isFinite(e.ts) && e.ts >= 0, what);
    assert(Number.isInteger(e.pid) && Number.isInteger(e.tid), what);
    if (e.args !== undefined) assert.equal(typeof e.args, "object", what);
    if (e.ph === "X") assert(Number.isFinite(e.dur) && e.dur >= 0, what);
    if (e.ph === "M") {
      assert(METADATA.has(e.name), what);
      assert(e.args && (typeof e.args.name === "string" || Number.isInteger(e.args.sort_index)));
    }
  }
  return doc.traceEvents;
}

async function readTrace(path: string): Promise<Event[]> {
  return checkTraceDocument(JSON.parse(await Deno.readTextFile(path)));
}

const complete = (events: Event[], cat: string, pid?: number) =>
  events.filter((e) => e.ph === "X" && e.cat === cat && (pid === undefined || e.pid === pid));

/** Each step's JSON record matches one complete event, in order, with its duration. */
function assertStepEvents(events: Event[], steps: { name: string; ms: number; failed?: true }[]) {
  assert.deepEqual(events.map((e) => e.name), steps.map((s) => s.name));
  events.forEach((e, i) => {
    // --json rounds to 0.1 ms; the trace keeps µs.
    assert(Math.abs(e.dur! / 1000 - steps[i].ms) <= 0.051, `${e.name} ${e.dur} µs ${steps[i].ms}`);
    assert.equal(e.args?.failed === true, steps[i].failed === true, e.name);
  });
}

/** Every wait lies inside a step of its track. */
function assertWaitsInsideSteps(events: Event[]) {
  for (const wait of complete(events, "wait")) {
    const inside = complete(events, "step", wait.pid).some((s) =>
      s.ts <= wait.ts + 0.001 && wait.ts + wait.dur! <= s.ts + s.dur! + 0.001
    );
    assert(inside, `${wait.name} at ${wait.ts} is inside no step`);
  }
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "falconry-trace-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ok(run: CliRun, code = 0): Json {
  assert.equal(run.code, code, run.stdout + run.stderr);
  return JSON.parse(run.stdout);
}

Deno.test("boot --trace: one complete event per step, one named track, the waits inside", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/boot.json`;
    const doc = ok(
      await runScript(BOOT, ["--sim", "tu102", "--forged", "--json", "--trace", path]),
    );
    const events = await readTrace(path);
    assertStepEvents(complete(events, "step"), doc.steps);
    assert.equal(new Set(events.map((e) => e.pid)).size, 1);
    const named = events.filter((e) => e.ph === "M" && e.name === "process_name");
    assert.deepEqual(named.map((e) => e.args?.name), ["tu102"]);
    assertWaitsInsideSteps(events);
    // The long waits are there, on the device clock: GSP-RM's ~1.2 s to INIT_DONE.
    const initDone = complete(events, "step").find((e) => e.name === "init-done")!;
    const waits = complete(events, "wait").filter((w) =>
      w.ts >= initDone.ts && w.ts < initDone.ts + initDone.dur!
    );
    assert(waits.reduce((sum, w) => sum + w.dur!, 0) > 0.9 * initDone.dur!);
  });
});

Deno.test("boot --trace on a failure: the failed step is marked, the unwinding follows", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/boot.json`;
    const run = await runScript(BOOT, [
      ...["--sim", "ga102", "--forged", "--json", "--trace", path],
      ...["--inject", "fwsec-error-code=code=0x1234"],
    ]);
    const doc = ok(run, 1);
    const steps = complete(await readTrace(path), "step");
    assertStepEvents(steps, doc.steps);
    const failed = steps.find((e) => e.args?.failed)!;
    assert.equal(failed.name, "fwsec-frts");
    assert.match(String(failed.args?.detail), /0x1234/);
    assert(steps.slice(steps.indexOf(failed)).some((e) => e.name === "falcon-reset"));
  });
});

Deno.test("boot --all --trace: one track per GPU, each with its steps", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/all.json`;
    const doc = ok(
      await runScript(BOOT, [
        "--all",
        "--sim",
        "tu102,ga102",
        "--forged",
        "--json",
        "--trace",
        path,
      ]),
    );
    const events = await readTrace(path);
    const names = new Map(
      events.filter((e) => e.ph === "M" && e.name === "process_name").map((e) => [
        e.args?.name,
        e.pid,
      ]),
    );
    assert.deepEqual([...names.keys()].sort(), ["ga102#1", "tu102#0"]);
    assert.equal(new Set(names.values()).size, 2);
    for (const gpu of doc.gpus) {
      assertStepEvents(complete(events, "step", names.get(gpu.id)), gpu.steps);
    }
    assertWaitsInsideSteps(events);
  });
});

Deno.test("unload --trace: the unload's steps and waits", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/tu102.json`;
    ok(
      await runScript(BOOT, [
        "--sim",
        "tu102",
        "--forged",
        "--keep",
        "--sim-state",
        state,
        "--json",
      ]),
    );
    const path = `${dir}/unload.json`;
    const doc = ok(
      await runScript(UNLOAD, ["--sim-state", state, "--forged", "--json", "--trace", path]),
    );
    const events = await readTrace(path);
    const steps = complete(events, "step");
    assertStepEvents(steps, doc.steps);
    // Another process has no queue to GSP-RM: the unload starts from the suspend.
    assert.deepEqual(
      steps.map((e) => e.name).filter((n) => (UNLOAD_STEPS as readonly string[]).includes(n)),
      UNLOAD_STEPS.filter((s) => s !== "unloading-guest-driver"),
    );
    assertWaitsInsideSteps(events);
  });
});

Deno.test("--trace naming a missing folder fails before anything runs (exit 1)", async () => {
  const run = await runScript(BOOT, ["--sim", "tu102", "--trace", "/no/such/dir/t.json"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /^error: --trace \/no\/such\/dir\/t\.json: cannot be created/m);
  assert.doesNotMatch(run.stdout, /identify/);
});

Deno.test("traceDevice: a poll loop is one wait named after its register; steps split waits", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const spans: TraceSpan[] = [];
  const tracer = traceDevice(gpu, { sink: (s) => spans.push(s), chip: "tu102" });
  const { device } = tracer;
  const poll = (offset: number, reads: number) => {
    let n = 0;
    return pollValue(() => (device.bar0.read32(offset), ++n), (v) => v === reads, {
      clock: device.clock,
      intervalMs: 2,
    });
  };
  tracer.onStep({ step: "gfw-boot", phase: "start" });
  await poll(0x110040, 4); // GSP MAILBOX0: 3 sleeps
  await poll(0x840040, 3); // SEC2 MAILBOX0: 2 sleeps, another register
  tracer.onStep({ step: "gfw-boot", phase: "end", ms: 10 });
  tracer.onStep({ step: "vbios", phase: "start" });
  await device.clock.sleep(7);
  await device.bar0.poll(0x0, () => true);
  tracer.onStep({ step: "vbios", phase: "fail", ms: 7, detail: "vbios: no ROM" });
  assert.deepEqual(spans.map((s) => [s.cat, s.name, s.args?.sleeps]), [
    ["wait", "wait GSP.NV_PFALCON_FALCON_MAILBOX0", 3],
    ["wait", "wait SEC2.NV_PFALCON_FALCON_MAILBOX0", 2],
    ["step", "gfw-boot", undefined],
    ["wait", "wait memory", 1],
    ["wait", "wait NV_PMC_BOOT_0", undefined],
    ["step", "vbios", undefined],
  ]);
  assert.deepEqual(spans.map((s) => s.durMs), [6, 4, 10, 7, 0, 7]);
  assert.equal(spans.at(-1)!.args?.failed, true);
  // The rest of the device is the device's own: its methods see their private state.
  assert.equal(device.info.bdf, gpu.info.bdf);
  assert.deepEqual((device as SimulatedGpu).residue(), []);
  assert.equal(device.config.read16(0), 0x10de);
});

Deno.test("TraceRecorder: tracks keep their wall-clock offset, each on its device's clock", () => {
  const recorder = new TraceRecorder({ wallOrigin: 10_000 });
  // A virtual clock at 5000 ms when the wall read 10 000.5 ms, and one at 0 ms 2 ms later.
  const a = recorder.track("a", { deviceMs: 5000, wallMs: 10_000.5 });
  const b = recorder.track("b", { deviceMs: 0, wallMs: 10_002.5 });
  a.add({ name: "identify", cat: "step", startMs: 5001, durMs: 0.25 });
  b.add({ name: "identify", cat: "step", startMs: 1, durMs: 1200 });
  const events = checkTraceDocument(JSON.parse(JSON.stringify(recorder.toJSON())));
  const spans = complete(events, "step");
  assert.deepEqual(spans.map((e) => [e.pid, e.ts, e.dur]), [[1, 1500, 250], [2, 3500, 1_200_000]]);
});
