// gpu/prometheus.ts: probe reports as node_exporter textfile metrics. The output is checked with
// the exposition format's own rules (tests/_prometheus_format.ts: HELP and TYPE lines once and
// before the samples, names, label escaping, one sample per series, no timestamps, the final
// newline), and each metric's value against the register image it was probed from.

import assert from "node:assert/strict";
import { probeDevice } from "../gpu/probe.ts";
import { escapeLabelValue, formatPrometheus, type PrometheusGpu } from "../gpu/prometheus.ts";
import { FALCON } from "../registers/mod.ts";
import { type ParsedFamily, parseExposition } from "./_prometheus_format.ts";
import {
  bootedImage,
  fakeBar0,
  GA102_WPR2,
  gh100LockedImage,
  setRegister,
  turingImage,
} from "./_probe_fixture.ts";

function sample(families: ParsedFamily[], name: string, labels: Record<string, string>) {
  const family = families.find((f) => f.name === name);
  return family?.samples.find((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v) &&
    Object.keys(s.labels).length >= Object.keys(labels).length
  )?.value;
}

function host(): PrometheusGpu[] {
  const withPriError = setRegister(
    turingImage("tu102"),
    "tu102",
    FALCON.NV_PFALCON_FALCON_MAILBOX0,
    0xbadf1100,
    "SEC2",
  );
  return [
    { gpu: "0000:01:00.0", report: probeDevice(fakeBar0(withPriError)) },
    { gpu: "0000:02:00.0", report: probeDevice(fakeBar0(bootedImage("ga102"))) },
    { gpu: "0000:03:00.0", report: probeDevice(fakeBar0(gh100LockedImage())) },
    { gpu: "0000:04:00.0", error: "BOOT_0 reads 0xffffffff: the GPU is off the bus" },
  ];
}

Deno.test("prometheus: the text follows the exposition format's rules", () => {
  const text = formatPrometheus(host());
  const families = parseExposition(text);
  assert(text.endsWith("\n") && !text.endsWith("\n\n"));
  for (const family of families) {
    assert.equal(family.type, "gauge", family.name);
    assert(family.help && family.help.length > 10, family.name);
    assert.match(family.name, /^falconry_/);
  }
  assert.doesNotMatch(text, /\} \S+ \d+$/m, "no timestamps");
});

Deno.test("prometheus: every probed GPU's state, from its registers", () => {
  const families = parseExposition(formatPrometheus(host()));
  const value = (name: string, labels: Record<string, string>) => sample(families, name, labels);
  assert.equal(value("falconry_probe_gpus", {}), 4);
  // GA102 after a boot: WPR2 set, GSP running, both falcons halted.
  const ga102 = { gpu: "0000:02:00.0" };
  assert.equal(value("falconry_gpu_info", { ...ga102, chip: "ga102", family: "ga10x" }), 1);
  assert.equal(value("falconry_gpu_wpr2_set", ga102), 1);
  assert.equal(value("falconry_gpu_wpr2_size_bytes", ga102), GA102_WPR2.end - GA102_WPR2.start);
  assert.equal(value("falconry_gpu_gsp_running", ga102), 1);
  assert.equal(value("falconry_gpu_falcon_halted", { ...ga102, engine: "GSP" }), 1);
  assert.equal(value("falconry_gpu_falcon_halted", { ...ga102, engine: "SEC2" }), 1);
  assert.equal(value("falconry_gpu_pri_errors", ga102), 0);
  // TU102: WPR2 not set, and the SEC2 mailbox read a PRI error.
  const tu102 = { gpu: "0000:01:00.0" };
  assert.equal(value("falconry_gpu_wpr2_set", tu102), 0);
  assert.equal(value("falconry_gpu_wpr2_size_bytes", tu102), 0);
  assert.equal(value("falconry_gpu_pri_errors", tu102), 1);
  assert.equal(value("falconry_gpu_probe_success", tu102), 1);
  // GH100 with the GSP still locked by the FSP: its GSP state is unknown, so it has no sample.
  const gh100 = { gpu: "0000:03:00.0" };
  assert.equal(value("falconry_gpu_gsp_running", gh100), undefined);
  assert.equal(value("falconry_gpu_falcon_halted", { ...gh100, engine: "GSP" }), undefined);
  assert.equal(value("falconry_gpu_info", { ...gh100, chip: "gh100" }), 1);
  // The GPU that could not be probed says only that.
  const dead = { gpu: "0000:04:00.0" };
  assert.equal(value("falconry_gpu_probe_success", dead), 0);
  for (const family of families.filter((f) => f.name !== "falconry_gpu_probe_success")) {
    assert(family.samples.every((s) => s.labels.gpu !== dead.gpu), family.name);
  }
});

Deno.test("prometheus: one sample per series, one HELP and TYPE per metric", () => {
  const text = formatPrometheus(host());
  const helps = text.match(/^# HELP (\S+)/gm)!;
  assert.equal(new Set(helps).size, helps.length);
  const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
  const series = samples.map((l) => l.slice(0, l.lastIndexOf(" ")));
  assert.equal(new Set(series).size, series.length);
  assert.throws(
    () => formatPrometheus([...host(), { gpu: "0000:01:00.0", error: "again" }]),
    /two GPUs are both labelled 0000:01:00\.0/,
  );
});

Deno.test("prometheus: label values with a backslash, a quote and a newline are escaped", () => {
  const label = 'state\\dir/"gpu"\nfile.json';
  const report = probeDevice(fakeBar0(bootedImage("ad102")));
  const text = formatPrometheus([{ gpu: label, report }]);
  assert(text.includes(`gpu="${escapeLabelValue(label)}"`));
  assert(text.includes('gpu="state\\\\dir/\\"gpu\\"\\nfile.json"'));
  const families = parseExposition(text);
  const running = families.find((f) => f.name === "falconry_gpu_gsp_running")!;
  assert.equal(running.samples[0].labels.gpu, label);
  // Every line is one line: the newline in the label is escaped, not written.
  assert(text.split("\n").every((l) => l === "" || /^(# |falconry_)/.test(l)));
});

Deno.test("prometheus: the checker itself refuses what breaks the rules", () => {
  const bad: [string, RegExp][] = [
    ["a 1", /does not end with a newline/],
    ['# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /given twice/],
    ["a 1\n# HELP a late\n", /HELP of a after its samples/],
    ["# TYPE a gauge\n# TYPE a gauge\na 1\n", /second TYPE/],
    ['a{x="1\\q"} 1\n', /not an escape/],
    ["a 1 1700000000000\n", /timestamp/],
    ['a 1\nb 1\na{x="2"} 1\n', /continues after another family/],
    ['a{__x="1"} 1\n', /reserved/],
    ["1a 1\n", /metric name/],
  ];
  for (const [text, why] of bad) assert.throws(() => parseExposition(text), why, text);
});
