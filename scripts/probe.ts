/**
 * `probe.ts`: look at NVIDIA GPUs without changing anything.
 *
 * - no argument: list the NVIDIA GPUs sysfs knows, with device id, bound
 *   driver, IOMMU group and BAR0 size;
 * - `--device BDF`: open that GPU read-only through sysfs (allowed while
 *   nvidia, nouveau or vfio-pci owns it), read the probe's allowlist of
 *   status registers (`gpu/probe.ts`) and print the chip, the GSP and SEC2
 *   falcon states with their fields decoded, WPR2, and whether the GSP's
 *   RISC-V core runs. BAR0 is mapped `PROT_READ` from a file opened
 *   `O_RDONLY`: the probe cannot write.
 *
 * - `--all`: probe every NVIDIA GPU sysfs lists, each on its own; one that
 *   cannot be probed is reported and the others still are;
 * - `--sim-state FILE` (repeatable): probe a simulated GPU saved by
 *   `boot.ts --sim-state FILE`, through a read-only view of its BAR0 (the
 *   file is not written back).
 *
 * `--format prometheus` writes the probed GPUs' states (chip, WPR2 set, GSP
 * running, falcons halted, PRI errors seen) as node_exporter textfile metrics
 * (`gpu/prometheus.ts`); a GPU that could not be probed is
 * `falconry_gpu_probe_success 0` there, and the exit code stays 0 so that
 * the file is still written.
 *
 * `--sysfs-root DIR` takes every sysfs path, `resource0` included, from DIR
 * instead of `/sys` (for containers and tests). `--json` (`--format json`)
 * prints one JSON document. Problems (no such device, not an NVIDIA GPU, no permission to map
 * BAR0, a device that does not answer) print one line naming the device and
 * what to do, and exit 1.
 *
 * @example
 * ```sh
 * deno run -A scripts/probe.ts
 * sudo deno run -A scripts/probe.ts --device 0000:01:00.0
 * deno run -A scripts/probe.ts --device 01:00.0 --json --sysfs-root /tmp/sys-copy
 * sudo deno run -A scripts/probe.ts --all --format prometheus > /var/lib/node_exporter/falconry.prom
 * deno run -A scripts/probe.ts --sim-state /tmp/tu102.json --format prometheus
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import {
  ChipNotRespondingError,
  type FalconState,
  probeDevice,
  type ProbeReport,
  type RegisterReading,
  UnsupportedChipError,
  type Wpr2State,
} from "../gpu/mod.ts";
import {
  DEFAULT_SYSFS_ROOT,
  type DeviceInfo,
  listNvidiaGpus,
  normalizeBdf,
  openDevice,
  type SysfsPciDevice,
} from "../pci/mod.ts";
import { DeviceError, FalconryError, OsError } from "../errors.ts";
import { formatPrometheus, type PrometheusGpu } from "../gpu/prometheus.ts";
import { findRegisters } from "../registers/mod.ts";
import { SimulatedGpu } from "../sim/mod.ts";
import {
  describeFailure,
  formatHelp,
  type OptionSpecs,
  type ParsedArgs,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";

const log = getLogger(["falconry", "scripts", "probe"]);

const OPTIONS: OptionSpecs = {
  device: {
    type: "string",
    valueName: "BDF",
    description: "probe this GPU read-only (DDDD:BB:DD.F or BB:DD.F) instead of listing",
  },
  all: {
    type: "boolean",
    description: "probe every NVIDIA GPU under the sysfs root, each read-only",
  },
  "sim-state": {
    type: "string",
    valueName: "FILE",
    multiple: true,
    description: "probe a simulated GPU saved in FILE (boot.ts --sim-state), read-only; repeatable",
  },
  format: {
    type: "string",
    valueName: "FORMAT",
    description: "text (default), json (= --json) or prometheus (node_exporter textfile metrics)",
  },
  "sysfs-root": {
    type: "string",
    valueName: "DIR",
    default: DEFAULT_SYSFS_ROOT,
    description: "take every sysfs path, resource0 included, from DIR",
  },
};

const HELP = formatHelp({
  usage: "probe.ts [--device BDF | --all] [--sim-state FILE]… [--sysfs-root DIR]\n" +
    "                [--format text|json|prometheus] [--json]",
  summary: "List NVIDIA GPUs, or read GPUs' boot state without writing anything.",
  description: `
Without --device, lists the NVIDIA GPUs (VGA and 3D controller functions of
vendor 10de) under DIR/bus/pci/devices: address, device id, bound driver,
IOMMU group and BAR0 size.

With --device, opens the GPU read-only through sysfs (BAR0 mapped read-only
from DIR/bus/pci/devices/BDF/resource0; reading is allowed while the nvidia,
nouveau or vfio-pci driver owns the GPU), identifies the chip from BOOT_0 and
BOOT_42, and reads only status registers that have no read side effects: the
GSP and SEC2 falcons' HWCFG2, CPUCTL, MAILBOX0/1, their RISC-V CPUCTL,
CORE_SWITCH_RISCV_STATUS and BCR_CTRL where the chip has them, and the WPR2
bounds. Reads that return 0xffffffff or a PRI error (0xbadxxxxx) are shown as
such. Mapping resource0 needs root.

--all probes every GPU of the listing that way, and --sim-state FILE a
simulated GPU saved by boot.ts. A GPU that cannot be probed is reported, and
the others are probed all the same; the exit code is then 1.

--format prometheus prints the states as Prometheus metrics for node_exporter's
textfile collector (falconry_gpu_wpr2_set, falconry_gpu_gsp_running,
falconry_gpu_falcon_halted, falconry_gpu_pri_errors, …, labelled gpu="BDF");
a GPU that cannot be probed is falconry_gpu_probe_success 0, and the exit code
stays 0. Write to a temporary file and rename it into the collector's folder.`,
  options: OPTIONS,
});

/** One GPU as listed. */
interface GpuListing {
  bdf: string;
  vendor: string;
  device: string;
  class: string;
  driver: string | null;
  iommuGroup: number | null;
  numaNode: number | null;
  bar0Size: number | null;
}

const hexId = (n: number, width: number): string => `0x${n.toString(16).padStart(width, "0")}`;
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

function formatSize(bytes: number | null): string {
  if (bytes === null) return "-";
  if (bytes >= GIB && bytes % GIB === 0) return `${bytes / GIB} GiB`;
  if (bytes >= MIB) {
    return `${Number.isInteger(bytes / MIB) ? bytes / MIB : (bytes / MIB).toFixed(1)} MiB`;
  }
  return `${bytes / 1024} KiB`;
}

function listingOf(info: DeviceInfo, bar0Size: number | null): GpuListing {
  return {
    bdf: info.bdf,
    vendor: hexId(info.vendor, 4),
    device: hexId(info.device, 4),
    class: hexId(info.class, 6),
    driver: info.driver,
    iommuGroup: info.iommuGroup,
    numaNode: info.numaNode,
    bar0Size,
  };
}

function bar0SizeOf(gpu: SysfsPciDevice): number | null {
  const bar0 = gpu.resources[0];
  return bar0 && bar0.size > 0n ? Number(bar0.size) : null;
}

async function list(root: string, json: boolean): Promise<number> {
  const rows = (await listNvidiaGpus(root)).map((gpu) => listingOf(gpu, bar0SizeOf(gpu)));
  log.debug("{count} NVIDIA GPU(s) under {root}", { count: rows.length, root });
  if (json) {
    printJson(rows);
    return 0;
  }
  if (!rows.length) {
    console.log(`no NVIDIA GPU in ${root}/bus/pci/devices`);
    return 0;
  }
  const table = [
    ["BDF", "ID", "DRIVER", "IOMMU GROUP", "BAR0"],
    ...rows.map((r) => [
      r.bdf,
      `${r.vendor.slice(2)}:${r.device.slice(2)}`,
      r.driver ?? "-",
      r.iommuGroup === null ? "-" : String(r.iommuGroup),
      formatSize(r.bar0Size),
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
  }
  return 0;
}

/** Turn what can go wrong while opening and probing into one line naming the device. */
function explain(bdf: string, e: unknown): unknown {
  if (e instanceof ChipNotRespondingError) {
    return new DeviceError(
      bdf,
      e.message,
      `the GPU is in reset, powered down or off the bus: check \`lspci -vv -s ${bdf}\` and ` +
        "the kernel log; a reboot (or a PCI remove and rescan) brings it back",
    );
  }
  if (e instanceof UnsupportedChipError) {
    return new DeviceError(bdf, e.message, "falconry supports Turing (TU10x) and later GPUs");
  }
  if (e instanceof OsError) {
    const permission = e.errnoName === "EACCES" || e.errnoName === "EPERM";
    return new DeviceError(
      bdf,
      `cannot open it read-only through sysfs: ${e.message}`,
      permission
        ? "run the probe as root (sudo)"
        : "check that resource0 in its sysfs directory is the device's BAR0",
    );
  }
  if (e instanceof FalconryError && !(e instanceof DeviceError)) {
    return new DeviceError(bdf, e.message);
  }
  return e;
}

/** Registers with more fields than this print only their non-zero fields. */
const MAX_FIELDS_SHOWN = 6;

function valueText(value: number): string {
  return value > 9 ? `0x${value.toString(16)}` : String(value);
}

/** Whether the register is one field spanning all 32 bits (a mailbox): its fields repeat the raw value. */
function isWholeWord(chip: string, name: string): boolean {
  const fields = findRegisters(chip, name)[0]?.instance.register.fields ?? [];
  return fields.length === 1 && fields[0].hi === 31 && fields[0].lo === 0;
}

function readingText(chip: string, reading: RegisterReading): string {
  if (reading.status !== "ok") return `[${reading.status}] ${reading.error}`;
  const fields = Object.entries(reading.fields ?? {});
  if (!fields.length) return "(no fields published for this chip)";
  if (isWholeWord(chip, reading.name)) return "";
  // Long layouts (GH100's HWCFG2 has 20 fields) show only what is set.
  const shown = fields.length > MAX_FIELDS_SHOWN
    ? fields.filter(([, value]) => value !== 0)
    : fields;
  const text = shown.map(([name, value]) => {
    const meaning = reading.meanings?.[name];
    return `${name}=${valueText(value)}${meaning ? ` (${meaning})` : ""}`;
  });
  if (shown.length < fields.length) text.push("(other fields 0)");
  if (reading.unnamedBits) text.push(`unnamed bits ${reading.unnamedBits}`);
  return text.join(" ");
}

function readingLines(
  chip: string,
  readings: readonly RegisterReading[],
  prefix = "",
): string[] {
  const names = readings.map((r) => r.name.slice(prefix.length));
  const width = Math.max(0, ...names.map((n) => n.length));
  return readings.map((r, i) =>
    `  ${r.address}  ${names[i].padEnd(width)}  ${r.raw}  ${readingText(chip, r)}`.trimEnd()
  );
}

function falconSummary(falcon: FalconState): string {
  if (falcon.note) return `${falcon.engine} falcon: state unknown, its registers are locked`;
  const parts = [
    falcon.halted === null ? "falcon state unknown" : falcon.halted ? "halted" : "not halted",
    falcon.riscv.active !== null
      ? `RISC-V core ${falcon.riscv.active ? "active" : "inactive"}`
      : falcon.riscv.source
      ? "RISC-V core state unknown"
      : "no RISC-V status register",
  ];
  if (falcon.coreSelect !== null) parts.push(`core select ${falcon.coreSelect}`);
  return `${falcon.engine} falcon: ${parts.join(", ")}`;
}

function wpr2Summary(wpr2: Wpr2State): string {
  if (wpr2.status === "not-set") return "WPR2: not set";
  if (wpr2.status === "unreadable") return `WPR2: unreadable (${wpr2.reason})`;
  const caveat = wpr2.reason ? `; ${wpr2.reason}` : "";
  return `WPR2: set, ${wpr2.start} .. ${wpr2.end} (${formatSize(wpr2.size ?? 0)}${caveat})`;
}

function gspSummary(report: ProbeReport): string {
  const gsp = report.falcons.find((f) => f.engine === "GSP");
  const riscv = gsp?.riscv;
  if (!riscv || riscv.active === null) {
    return `GSP RISC-V core: unknown (${riscv?.reason ?? "GSP not probed"})`;
  }
  return `GSP RISC-V core: ${riscv.active ? "active" : "inactive"} (${riscv.source} = ${
    riscv.active ? 1 : 0
  })`;
}

function printReport(listing: GpuListing, report: ProbeReport): void {
  const { chip } = report;
  const path = chip.bootPath === "sec2" ? "SEC2 and Booter" : "the FSP";
  const lines = [
    `${listing.bdf}  ${chip.name} (${chip.arch}, family ${chip.family}, GSP booted through ${path}), ` +
    `revision ${chip.revision}, driver ${listing.driver ?? "none"}`,
  ];
  if (chip.identifiedAs === null && chip.note) lines.push(`  note: ${chip.note}`);
  lines.push(...readingLines(chip.name, report.boot));
  for (const falcon of report.falcons) {
    lines.push("", falconSummary(falcon));
    if (falcon.note) lines.push(`  note: ${falcon.note}`);
    lines.push(...readingLines(chip.name, falcon.registers, `${falcon.engine}.`));
    for (const s of falcon.skipped) {
      lines.push(`  skipped ${s.name.slice(falcon.engine.length + 1)}: ${s.reason}`);
    }
  }
  lines.push("", wpr2Summary(report.wpr2), ...readingLines(chip.name, report.wpr2.registers));
  lines.push("", gspSummary(report), `${report.reads} registers read, nothing written`);
  console.log(lines.join("\n"));
}

/** One probed GPU: its listing (real GPUs) and report, or what went wrong. */
interface Probed {
  /** The PCI address, or the simulated GPU's state file. */
  gpu: string;
  listing: GpuListing | null;
  report?: ProbeReport;
  error?: unknown;
}

async function probeReal(text: string, root: string): Promise<Probed> {
  const bdf = normalizeBdf(text);
  try {
    await using gpu = await openDevice(bdf, {
      readOnly: true,
      backend: "sysfs",
      sysfsRoot: root,
    });
    const listing = listingOf(gpu.info, gpu.bar0.size);
    return { gpu: bdf, listing, report: probeDevice(gpu.bar0) };
  } catch (e) {
    throw explain(bdf, e);
  }
}

/** A simulated GPU's state file, reopened read-only and not saved back. */
async function probeSimulated(path: string): Promise<Probed> {
  await using gpu = await SimulatedGpu.open(path, { readOnly: true });
  return { gpu: path, listing: listingOf(gpu.info, gpu.bar0.size), report: probeDevice(gpu.bar0) };
}

/** Probe one GPU; a falconry failure is kept in the result, a bug is thrown. */
async function settle(gpu: string, run: () => Promise<Probed>): Promise<Probed> {
  try {
    return await run();
  } catch (e) {
    if (describeFailure(e).internal) throw e;
    return { gpu, listing: null, error: e };
  }
}

type Format = "text" | "json" | "prometheus";
const FORMATS: readonly Format[] = ["text", "json", "prometheus"];

function formatOf(parsed: ParsedArgs): Format {
  const format = parsed.string("format");
  if (format === undefined) return parsed.json ? "json" : "text";
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format ${format}: expected ${FORMATS.join(", ")}`);
  }
  if (parsed.json && format !== "json") {
    throw new UsageError(`--json and --format ${format} contradict each other`);
  }
  return format as Format;
}

function jsonOf(probed: Probed): unknown {
  if (probed.report) return { device: probed.listing, ...probed.report };
  return { gpu: probed.gpu, device: null, error: describeFailure(probed.error).json.error };
}

/** Print the probed GPUs in `format`; returns the exit code. */
function show(probed: readonly Probed[], format: Format, many: boolean): number {
  const failed = probed.filter((p) => p.error !== undefined);
  if (format === "prometheus") {
    const gpus: PrometheusGpu[] = probed.map((p) =>
      p.report ? { gpu: p.gpu, report: p.report } : {
        gpu: p.gpu,
        error: describeFailure(p.error).json.error.message,
      }
    );
    Deno.stdout.writeSync(new TextEncoder().encode(formatPrometheus(gpus)));
    for (const p of failed) {
      log.warning("{gpu}: not probed: {error}", {
        gpu: p.gpu,
        error: describeFailure(p.error).json.error.message,
      });
    }
    return 0;
  }
  if (!many) {
    const [one] = probed;
    if (one.error !== undefined) throw one.error;
    if (format === "json") printJson(jsonOf(one));
    else printReport(one.listing ?? noListing(one.gpu), one.report!);
    return 0;
  }
  if (format === "json") printJson(probed.map(jsonOf));
  else {
    probed.forEach((p, i) => {
      if (i > 0) console.log("");
      if (p.report) printReport(p.listing ?? noListing(p.gpu), p.report);
      else console.log(`${p.gpu}  not probed: ${describeFailure(p.error).json.error.message}`);
    });
    if (!probed.length) console.log("no NVIDIA GPU to probe");
  }
  for (const p of failed) console.error(`error: ${describeFailure(p.error).json.error.message}`);
  return failed.length ? 1 : 0;
}

function noListing(gpu: string): GpuListing {
  return {
    bdf: gpu,
    vendor: "-",
    device: "-",
    class: "-",
    driver: null,
    iommuGroup: null,
    numaNode: null,
    bar0Size: null,
  };
}

/** Deno refuses /sys and FFI without -A; say so in one line instead of a stack. */
async function withPermissionHint<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new FalconryError(
        `Deno refused: ${(e as Error).message.split("\n")[0]}; run with -A (the probe reads ` +
          "sysfs and maps BAR0 through libc)",
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * The sysfs root must be a directory holding `bus/pci/devices`: a typo'd
 * path fails naming it instead of listing no GPU.
 */
async function checkSysfsRoot(root: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FalconryError(`--sysfs-root ${root}: no such directory`, { cause: e });
    }
    throw e;
  }
  if (!info.isDirectory) {
    throw new FalconryError(`--sysfs-root ${root}: not a directory`);
  }
  const devices = `${root.replace(/\/+$/, "")}/bus/pci/devices`;
  const found = await Deno.stat(devices).then((i) => i.isDirectory, () => false);
  if (!found) {
    throw new FalconryError(
      `--sysfs-root ${root}: no ${devices} directory, so it is not a sysfs tree`,
    );
  }
}

async function main(args: readonly string[]): Promise<number> {
  const parsed = await startCli(args, OPTIONS, HELP);
  if (parsed === undefined) return 0;
  if (parsed.positionals.length) throw new UsageError("probe.ts takes no positional arguments");
  const root = parsed.string("sysfs-root") ?? DEFAULT_SYSFS_ROOT;
  const format = formatOf(parsed);
  const device = parsed.string("device");
  const all = parsed.flag("all");
  const states = (parsed.values["sim-state"] as string[] | undefined) ?? [];
  if (device !== undefined && all) throw new UsageError("give --device BDF or --all, not both");
  for (const state of states) requirePath(state, "file", "--sim-state");
  if (device === undefined && !all && !states.length) {
    if (format === "prometheus") {
      throw new UsageError(
        "--format prometheus needs GPUs to probe: --all, --device or --sim-state",
      );
    }
    await withPermissionHint(async () => {
      await checkSysfsRoot(root);
      return 0;
    });
    return await withPermissionHint(() => list(root, format === "json"));
  }
  const probed: Promise<Probed>[] = [];
  if (device !== undefined || all) {
    await withPermissionHint(async () => {
      await checkSysfsRoot(root);
      return 0;
    });
    const bdfs = all ? (await listNvidiaGpus(root)).map((g) => g.bdf) : [device!];
    for (const bdf of bdfs) {
      probed.push(settle(bdf, () => withPermissionHint(() => probeReal(bdf, root))));
    }
  }
  for (const state of states) probed.push(settle(state, () => probeSimulated(state)));
  const many = all || probed.length > 1;
  return show(await Promise.all(probed), format, many);
}

if (import.meta.main) await runMain(() => main(Deno.args));
