/**
 * `crash.ts DIR`: a crash bundle's summary for a person — the step that
 * failed and its error, the chip, WPR2, the falcons' states and mailboxes,
 * the last RPCs and the pending one, the log buffers' sizes, the firmware
 * files and the VBIOS version. `--registers` lists every register captured;
 * `--json` prints the whole bundle as one JSON object.
 *
 * It checks the bundle first (`readCrashBundle`): a folder that is half
 * written (a `.NAME.partial-XXXX` folder left by a crash while writing),
 * damaged (a file missing, or not of its size and sha256) or not a crash
 * bundle at all is refused with one `error:` line saying which.
 *
 * @example
 * ```sh
 * deno run -A scripts/boot.ts --sim tu102 --inject booter-bad-signature --crash-dir /tmp/crash
 * deno run -A scripts/crash.ts /tmp/crash
 * deno run -A scripts/crash.ts /tmp/crash --json
 * ```
 *
 * @module
 */

import type { CapturedFalcon, CapturedRegisters } from "../gsp/crash_capture.ts";
import { type CrashBundle, readCrashBundle } from "../gsp/crash_bundle.ts";
import { formatRpcHistory } from "../gsp/rpc_history.ts";
import {
  formatDuration,
  formatHelp,
  type OptionSpecs,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";

const OPTIONS: OptionSpecs = {
  registers: { type: "boolean", description: "list every register captured, with its fields" },
};

const HELP = formatHelp({
  usage: "crash.ts DIR [--registers] [--json]",
  summary: "Show a crash bundle (boot.ts --crash-dir DIR): what failed, and the GPU's state then.",
  description: `
A crash bundle is written when a boot step fails, before anything is
unwound: the falcon and RISC-V registers, WPR2 and the scratch registers,
the GSP log buffers (raw), the RPC history, and the firmware files' names
and sha256. This prints its summary; --registers adds every register.

With --json, stdout is one JSON object: {path, index, registers,
rpcHistory, firmware, logs} (the files of the bundle, parsed).

A folder that is half written, damaged or not a crash bundle is refused
(exit 1), naming what is wrong.`,
  options: OPTIONS,
});

function falconLine(f: CapturedFalcon): string {
  const state = f.halted === null ? "state unreadable" : f.halted ? "halted" : "running";
  const riscv = f.riscvActive === null ? "" : `, RISC-V ${f.riscvActive ? "active" : "not active"}`;
  const mailboxes = f.mailbox0 !== undefined
    ? `, MAILBOX0 ${f.mailbox0} MAILBOX1 ${f.mailbox1 ?? "?"}`
    : "";
  return `${f.engine.padEnd(5)}${state}${riscv}${mailboxes}`;
}

function wpr2Line(registers: CapturedRegisters): string {
  const w = registers.wpr2;
  if (w.status === "set") {
    const size = Number(BigInt(w.end!) - BigInt(w.start!));
    return `set ${w.start}..${w.end} (${formatBytes(size)})`;
  }
  return w.status === "not-set" ? "clear" : `unreadable (${w.reason})`;
}

function formatBytes(n: number): string {
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function readCounts(registers: CapturedRegisters): string {
  const counts = new Map<string, number>();
  for (const r of registers.groups.flatMap((g) => g.registers)) {
    counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  }
  const parts = [...counts].map(([status, n]) => `${n} ${status}`);
  return `${parts.join(", ")}; the GPU ${
    registers.answering ? "answered" : "did not answer (BOOT_0 unreadable)"
  }`;
}

const indent = (text: string, by = "        "): string =>
  text.split("\n").map((line) => by + line).join("\n");

/** The summary a person reads. */
export function summarizeBundle(bundle: CrashBundle, withRegisters = false): string {
  const { index, registers, firmware, rpcHistory } = bundle;
  const f = index.failure;
  const lines: string[] = [];
  lines.push(
    `crash bundle ${bundle.path}`,
    `written  ${index.createdAt} (device clock ${index.deviceClockMs.toFixed(3)} ms)`,
    `device   ${index.device.bdf} (${hex4(index.device.vendor)}:${hex4(index.device.device)})`,
    `chip     ${
      index.chip ? `${index.chip.name} (${index.chip.arch}, ${index.chip.family})` : "unknown"
    }`,
    `failed   ${f.step} after ${formatDuration(f.stepMs)}${
      f.code === undefined ? "" : `, code 0x${f.code.toString(16)}`
    }`,
    indent(`${f.message}`),
    indent(`(${f.errorName})`),
  );
  if (f.completedSteps.length) {
    lines.push(
      `before   ${f.completedSteps.map((s) => `${s.step} ${formatDuration(s.ms)}`).join(", ")}`,
    );
  }
  lines.push(`WPR2     ${wpr2Line(registers)}`);
  registers.falcons.forEach((falcon, i) => {
    lines.push(`${i === 0 ? "falcons  " : "         "}${falconLine(falcon)}`);
  });
  lines.push(`registers ${readCounts(registers)}`);
  const history = rpcHistory.history;
  lines.push("RPCs");
  lines.push(indent(history ? formatRpcHistory(history) : `none (${rpcHistory.note})`));
  lines.push(
    `logs     ${
      bundle.logs.length
        ? bundle.logs.map((l) => `${l.id} ${formatBytes(l.bytes)}, ${l.put} words written`)
          .join("; ")
        : "none (the boot failed before they were allocated)"
    }`,
  );
  lines.push(
    `VBIOS    ${firmware.vbiosVersion ?? `unknown (${firmware.vbiosError ?? "not read"})`}`,
  );
  lines.push(`firmware ${firmware.version ?? `none (${firmware.note ?? "not loaded"})`}`);
  for (const file of firmware.files) {
    lines.push(
      indent(
        `${file.name}  ${
          file.sha256 ? `sha256 ${file.sha256}, ${formatBytes(file.size ?? 0)}` : file.error
        }`,
      ),
    );
  }
  if (withRegisters) {
    for (const group of registers.groups) {
      lines.push(`${group.name}:`);
      for (const r of group.registers) {
        const fields = r.fields && Object.keys(r.fields).length > 1
          ? `  ${Object.entries(r.fields).map(([k, v]) => `${k}=0x${v.toString(16)}`).join(" ")}`
          : "";
        lines.push(
          indent(
            `${r.address}  ${r.name.padEnd(48)} ${r.raw ?? "--------"}  ${
              r.status === "ok" ? fields.trimStart() : `${r.status}: ${r.error}`
            }`.trimEnd(),
            "  ",
          ),
        );
      }
      for (const s of group.skipped) lines.push(indent(`${s.name}: not on this chip`, "  "));
    }
  }
  return lines.join("\n");
}

const hex4 = (n: number): string => n.toString(16).padStart(4, "0");

async function main(): Promise<number> {
  const args = await startCli(Deno.args, OPTIONS, HELP, true);
  if (args === undefined) return 0;
  if (args.positionals.length !== 1) {
    throw new UsageError(
      `crash.ts takes one crash bundle folder, ${args.positionals.length} given; see --help`,
    );
  }
  const dir = requirePath(args.positionals[0], "directory");
  const bundle = await readCrashBundle(dir);
  if (args.json) {
    printJson({
      path: bundle.path,
      index: bundle.index,
      registers: bundle.registers,
      rpcHistory: bundle.rpcHistory,
      firmware: bundle.firmware,
      logs: bundle.logs.map((l) => ({ ...l, put: l.put.toString() })),
    });
  } else {
    console.log(summarizeBundle(bundle, args.flag("registers")));
  }
  return 0;
}

if (import.meta.main) await runMain(main);
