/**
 * Probe reports ({@linkcode ProbeReport}) as Prometheus metrics, in the text
 * exposition format that node_exporter's textfile collector reads
 * (`--collector.textfile.directory`), so that a dirty GPU (WPR2 left set, the
 * GSP still running, a falcon not halted, PRI errors) shows on the dashboards
 * a fleet already has.
 *
 * {@linkcode formatPrometheus} is pure: reports in, text out. Every metric is
 * a gauge labelled with the GPU (`gpu="0000:01:00.0"`), written as the format
 * asks: one `# HELP` and one `# TYPE` line per metric, then its samples, one
 * per label set; label values escaped (`\\`, `\"`, `\n`); no timestamps (the
 * textfile collector refuses them); a newline at the end. A state the probe
 * could not read (a register that answered with a PRI error) has no sample
 * rather than a made-up value, and a GPU that could not be probed at all
 * reports only `falconry_gpu_probe_success 0`.
 *
 * | metric | labels | value |
 * | --- | --- | --- |
 * | `falconry_probe_gpus` | | GPUs listed |
 * | `falconry_gpu_probe_success` | gpu | 1 when the GPU was read |
 * | `falconry_gpu_info` | gpu, chip, arch, family, revision | 1 |
 * | `falconry_gpu_wpr2_set` | gpu | 1 when WPR2 is set |
 * | `falconry_gpu_wpr2_size_bytes` | gpu | WPR2's size (0 when not set) |
 * | `falconry_gpu_gsp_running` | gpu | 1 when the GSP's RISC-V core is active |
 * | `falconry_gpu_falcon_halted` | gpu, engine | 1 when the falcon's CPU is halted |
 * | `falconry_gpu_pri_errors` | gpu | reads that returned a PRI error or all ones |
 * | `falconry_gpu_register_reads` | gpu | registers read (nothing is written) |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeDevice } from "./probe.ts";
 * import { formatPrometheus } from "./prometheus.ts";
 * const regs: Record<number, number> = { 0x0: 0x172000a1, 0xa00: 0x172a1000 };
 * const report = probeDevice({ read32: (offset) => regs[offset] ?? 0 });
 * const text = formatPrometheus([
 *   { gpu: "0000:01:00.0", report },
 *   { gpu: "0000:02:00.0", error: "BOOT_0 reads 0xffffffff" },
 * ]);
 * assert.match(text, /^# HELP falconry_probe_gpus /);
 * assert(text.includes('falconry_gpu_info{gpu="0000:01:00.0",chip="ga102",'));
 * assert(text.includes('falconry_gpu_wpr2_set{gpu="0000:01:00.0"} 0\n'));
 * assert(text.includes('falconry_gpu_probe_success{gpu="0000:02:00.0"} 0\n'));
 * assert(text.endsWith("\n"));
 * ```
 *
 * @module
 */

import type { ProbeReport } from "./probe.ts";

/** One GPU to write: its report, or why it could not be probed. */
export interface PrometheusGpu {
  /** The `gpu` label: the PCI address (or a simulated GPU's state file). */
  readonly gpu: string;
  /** The probe's report, when it worked. */
  readonly report?: ProbeReport;
  /** Why there is no report (not written as a label: free text would make a new series each time). */
  readonly error?: string;
}

/** One sample: its labels (in order) and its value. */
interface Sample {
  readonly labels: readonly (readonly [string, string])[];
  readonly value: number;
}

/** A metric: its name, help text and how to get its samples from one GPU. */
interface MetricDef {
  readonly name: string;
  readonly help: string;
  readonly samples: (gpu: PrometheusGpu, report: ProbeReport | undefined) => Sample[];
}

const bool = (value: boolean): number => value ? 1 : 0;
const gpuLabel = (gpu: PrometheusGpu): [string, string] => ["gpu", gpu.gpu];
/** A sample of a probed GPU; none when it was not probed or `value` is unknown (null). */
const known = (
  gpu: PrometheusGpu,
  report: ProbeReport | undefined,
  value: (report: ProbeReport) => number | null,
): Sample[] => {
  const v = report ? value(report) : null;
  return v === null ? [] : [{ labels: [gpuLabel(gpu)], value: v }];
};

function priErrors(report: ProbeReport): number {
  const readings = [
    ...report.boot,
    ...report.falcons.flatMap((f) => f.registers),
    ...report.wpr2.registers,
  ];
  return readings.filter((r) => r.status !== "ok").length;
}

/** The metrics, in the order they are written. */
const METRICS: readonly MetricDef[] = [
  {
    name: "falconry_gpu_probe_success",
    help: "Whether falconry could read the GPU's state (1) or not (0).",
    samples: (gpu, report) => [{ labels: [gpuLabel(gpu)], value: bool(report !== undefined) }],
  },
  {
    name: "falconry_gpu_info",
    help: "The GPU's chip, architecture, family and revision, as labels; the value is 1.",
    samples: (gpu, report) =>
      report
        ? [{
          labels: [
            gpuLabel(gpu),
            ["chip", report.chip.name],
            ["arch", report.chip.arch],
            ["family", report.chip.family],
            ["revision", report.chip.revision],
          ],
          value: 1,
        }]
        : [],
  },
  {
    name: "falconry_gpu_wpr2_set",
    help:
      "Whether the WPR2 region is set (1): left set with no GSP running, the GPU needs a reset.",
    samples: (gpu, report) =>
      known(
        gpu,
        report,
        (r) => r.wpr2.status === "unreadable" ? null : bool(r.wpr2.status === "set"),
      ),
  },
  {
    name: "falconry_gpu_wpr2_size_bytes",
    help: "The size of the WPR2 region in bytes (0 when it is not set).",
    samples: (gpu, report) =>
      known(gpu, report, (r) => r.wpr2.status === "unreadable" ? null : r.wpr2.size ?? 0),
  },
  {
    name: "falconry_gpu_gsp_running",
    help: "Whether the GSP's RISC-V core is active (1), i.e. GSP-RM runs.",
    samples: (gpu, report) =>
      known(gpu, report, (r) => r.gspRiscvActive === null ? null : bool(r.gspRiscvActive)),
  },
  {
    name: "falconry_gpu_falcon_halted",
    help: "Whether the falcon engine's CPU is halted (1), per engine (GSP, SEC2).",
    samples: (gpu, report) =>
      (report?.falcons ?? []).flatMap((falcon) =>
        falcon.halted === null
          ? []
          : [{ labels: [gpuLabel(gpu), ["engine", falcon.engine]], value: bool(falcon.halted) }]
      ),
  },
  {
    name: "falconry_gpu_pri_errors",
    help: "How many register reads of this probe returned a PRI error (0xbadxxxxx) or all ones.",
    samples: (gpu, report) => known(gpu, report, priErrors),
  },
  {
    name: "falconry_gpu_register_reads",
    help: "How many registers the probe read (it writes none).",
    samples: (gpu, report) => known(gpu, report, (r) => r.reads),
  },
];

/**
 * A label value as the exposition format writes it: backslash, double quote
 * and line feed escaped.
 *
 * @param value The value.
 * @returns The escaped text (without the surrounding quotes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeLabelValue } from "./prometheus.ts";
 * assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Help text escapes backslash and line feed (not quotes). */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function sampleLine(name: string, sample: Sample): string {
  const labels = sample.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
  return `${name}${labels ? `{${labels}}` : ""} ${formatValue(sample.value)}`;
}

/**
 * The GPUs' states as a node_exporter textfile (see the module documentation).
 *
 * @param gpus One entry per GPU: its label, and its report or why there is none.
 * @returns The text, ending with a newline.
 * @throws {Error} When two GPUs share a label (their series would clash).
 */
export function formatPrometheus(gpus: readonly PrometheusGpu[]): string {
  const names = new Set<string>();
  for (const gpu of gpus) {
    if (names.has(gpu.gpu)) throw new Error(`two GPUs are both labelled ${gpu.gpu}`);
    names.add(gpu.gpu);
  }
  const lines = [
    "# HELP falconry_probe_gpus How many NVIDIA GPUs falconry listed on this host.",
    "# TYPE falconry_probe_gpus gauge",
    `falconry_probe_gpus ${gpus.length}`,
  ];
  for (const metric of METRICS) {
    const samples = gpus.flatMap((gpu) => metric.samples(gpu, gpu.report));
    if (samples.length === 0) continue;
    lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} gauge`);
    for (const sample of samples) lines.push(sampleLine(metric.name, sample));
  }
  return `${lines.join("\n")}\n`;
}
