/**
 * The fuzz report for people.
 *
 * @module
 */

import type { FuzzReport } from "./_fuzz_runner.ts";

/**
 * The report for people: one row per target, the totals, the slowest parse,
 * and each finding with the command that replays it.
 *
 * @example
 * ```ts ignore
 * import { formatFuzzReport } from "./_fuzz_report.ts";
 * import { runFuzz } from "./_fuzz_runner.ts";
 * import { findFuzzTarget } from "./_fuzz_targets.ts";
 * console.log(formatFuzzReport(runFuzz({ targets: [findFuzzTarget("tlv")], mutations: 100 })));
 * ```
 */
export function formatFuzzReport(report: FuzzReport): string {
  const head = [
    "target",
    "seeds",
    "real",
    "mutations",
    "parsed",
    "rejected",
    "fields",
    "findings",
    "parse s",
    "slowest",
  ];
  const rows = report.targets.map((s) => [
    s.target,
    String(s.seeds),
    String(s.realSeeds),
    String(s.mutations),
    String(s.accepted),
    String(s.rejected),
    String(Object.keys(s.errorFields).length),
    String(s.findings),
    (s.parseMs / 1000).toFixed(1),
    `${s.slowestMs.toFixed(1)} ms`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const seconds = report.elapsedMs / 1000;
  const out = [line(head), ...rows.map(line), ""];
  out.push(
    `${report.mutations} mutations in ${seconds.toFixed(1)} s ` +
      `(${Math.round(report.mutations / Math.max(seconds, 1e-3))}/s), seed ${report.seed}, ` +
      `stopped by ${report.stoppedBy}; ${report.findings.length} distinct finding(s)`,
  );
  if (report.slowest) {
    const s = report.slowest;
    out.push(
      `slowest parse: ${s.ms.toFixed(1)} ms (${s.target}, iteration ${s.iteration}, ${s.input}); ` +
        (report.slowMs === null ? "no limit" : `limit ${report.slowMs} ms`),
    );
  }
  for (const s of report.targets) {
    if (s.missingRealFiles.length > 0) {
      out.push(
        `${s.target}: real files missing, fuzzed forged ones: ${s.missingRealFiles.join(", ")}`,
      );
    }
    for (const r of s.seedRejections) out.push(`${s.target}: seed ${r.input} rejected: ${r.error}`);
  }
  for (const f of report.findings) {
    out.push(
      "",
      `FINDING (${f.kind}) in ${f.target}, ${f.count}×: ${f.error}`,
      `  input: ${f.input}, iteration ${f.iteration}, ${f.inputSize} bytes`,
      ...f.steps.map((s) => `  step: ${s}`),
      `  replay: ${f.reproduce}`,
    );
    if (f.stack) out.push(...f.stack.split("\n").slice(1, 6).map((l) => `  ${l.trim()}`));
  }
  return out.join("\n");
}
