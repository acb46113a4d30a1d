/**
 * What a crash bundle holds, read from a GPU at the moment a boot step
 * failed and before anything is unwound: the falcon (GSP, SEC2, FSP) and
 * RISC-V registers with their mailboxes, WPR2, the lock and flush
 * registers, the scratch registers (GFW boot, FRTS and SB errors, all 64
 * `SW_SCRATCH`, the I2CS scratch on the FSP path); the LibOS log buffers,
 * raw; the RPC history; the firmware files' names and sha256, the VBIOS
 * version and the chip.
 *
 * Every register comes from the register tables and is bound to the chip; a
 * register the chip does not have is listed as skipped with the reason. Only
 * status registers without read side effects are read (never IMEMD/DMEMD,
 * whose reads move the auto-increment). {@linkcode captureCrashEvidence}
 * never throws: a read that throws, returns all ones (the GPU stopped
 * answering) or a PRI error is recorded as such, and after
 * {@linkcode DEAD_GPU_READS} unanswered reads in a row the rest are recorded
 * as not read, so that a GPU off the bus does not stall the capture.
 *
 * @example A simulated TU102 before any boot: WPR2 clear, falcons halted
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { captureCrashEvidence } from "./crash_capture.ts";
 *
 * await using gpu = new SimulatedGpu({ chip: "tu102" });
 * const evidence = await captureCrashEvidence({ device: gpu });
 * assert.equal(evidence.chip?.name, "tu102");
 * assert.equal(evidence.registers.wpr2.status, "not-set");
 * assert.equal(evidence.registers.answering, true);
 * const gsp = evidence.registers.falcons.find((f) => f.engine === "GSP");
 * assert.equal(gsp?.riscvActive, false);
 * assert.equal(evidence.rpcHistory, null);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type ChipInfo, falconHalOf } from "../chips/chips.ts";
import { readVbiosLayout } from "../firmware/vbios/vbios_layout.ts";
import { identifyChip } from "../gpu/identify.ts";
import type { FirmwareSet } from "../loader/firmware_set.ts";
import { hashFileOnce } from "../loader/verify.ts";
import type { Device } from "../pci/device.ts";
import { bindRegister, type BoundRegister } from "../registers/bind.ts";
import { FALCON } from "../registers/falcon.ts";
import { PGC6 } from "../registers/gc6.ts";
import { PBUS } from "../registers/pbus.ts";
import { PFB, WPR2_GRANULE } from "../registers/pfb.ts";
import { PMC } from "../registers/pmc.ts";
import { classifyRead, describePriError } from "../registers/pri_error.ts";
import type { EngineName, RegisterDef } from "../registers/register.ts";
import { FALCON2 } from "../registers/riscv.ts";
import { THERM } from "../registers/therm.ts";
import type { LibosLogBuffer } from "./log_buffers.ts";
import { PromSource } from "./prom_source.ts";
import type { RpcHistory, RpcHistorySnapshot } from "./rpc_history.ts";

const log = getLogger(["falconry", "gsp", "crash_capture"]);

/** Unanswered reads in a row after which the capture stops reading registers. */
export const DEAD_GPU_READS = 8;

/** How one register read went. */
export type CapturedReadStatus =
  | "ok"
  | "pri-error"
  | "no-response"
  | "read-failed"
  | "not-read";

/** One register as captured. */
export interface CapturedRegister {
  /** `NAME`, `ENGINE.NAME` or `NAME(i)`, as the register tables name it. */
  readonly name: string;
  /** Absolute BAR0 address, hex. */
  readonly address: string;
  /** Whether `raw` is register contents. */
  readonly status: CapturedReadStatus;
  /** The 32-bit value read, hex (`0x00000010`), when a value came back. */
  readonly raw?: string;
  /** Field values (status `ok`). */
  readonly fields?: Readonly<Record<string, number>>;
  /** What went wrong (any status but `ok`). */
  readonly error?: string;
}

/** A register the chip does not have. */
export interface SkippedCapture {
  /** Its name. */
  readonly name: string;
  /** Why it was not read. */
  readonly reason: string;
}

/** Registers of one block or engine. */
export interface CapturedGroup {
  /** `PMC`, `GSP falcon`, `GSP RISC-V`, `PFB`, `scratch`… */
  readonly name: string;
  /** In table order. */
  readonly registers: readonly CapturedRegister[];
  /** Registers of the table the chip does not have. */
  readonly skipped: readonly SkippedCapture[];
}

/** One falcon's state, decoded from its group. */
export interface CapturedFalcon {
  /** `GSP`, `SEC2` or `FSP`. */
  readonly engine: EngineName;
  /** `CPUCTL.HALTED`, null when unreadable. */
  readonly halted: boolean | null;
  /** Whether its RISC-V core runs (the chip's RISC-V status register), null when unknown. */
  readonly riscvActive: boolean | null;
  /** MAILBOX0, hex, when readable. */
  readonly mailbox0?: string;
  /** MAILBOX1, hex, when readable. */
  readonly mailbox1?: string;
}

/** WPR2 as the MMU reported it. */
export interface CapturedWpr2 {
  /** `set`, `not-set`, or `unreadable`. */
  readonly status: "set" | "not-set" | "unreadable";
  /** First byte, hex. */
  readonly start?: string;
  /** End (exclusive), hex. */
  readonly end?: string;
  /** Why it is unreadable. */
  readonly reason?: string;
}

/** The registers of the bundle. */
export interface CapturedRegisters {
  /** Whether the GPU answered (BOOT_0 read as register contents). */
  readonly answering: boolean;
  /** BAR0 reads made. */
  readonly reads: number;
  /** Every group, in capture order. */
  readonly groups: readonly CapturedGroup[];
  /** WPR2, decoded. */
  readonly wpr2: CapturedWpr2;
  /** The falcons, decoded. */
  readonly falcons: readonly CapturedFalcon[];
}

/** One LibOS log buffer, raw. */
export interface CapturedLog {
  /** Region id (`LOGINIT`, `LOGINTR`, `LOGRM`…). */
  readonly id: string;
  /** The whole buffer as GSP-RM left it (u64[0] is the put pointer, then the page table, then the ring). */
  readonly bytes: Uint8Array;
  /** u64 words GSP-RM has written (u64[0]). */
  readonly put: bigint;
}

/** One firmware file. */
export interface CapturedFirmwareFile {
  /** Its role in the set (`booter_load`, `gsp`…). */
  readonly role: string;
  /** File name. */
  readonly name: string;
  /** Where it was read from. */
  readonly path: string;
  /** Size in bytes. */
  readonly size?: number;
  /** Lower-case hex sha256. */
  readonly sha256?: string;
  /** Why it could not be hashed. */
  readonly error?: string;
}

/** The firmware and VBIOS of the boot. */
export interface CapturedFirmware {
  /** Firmware version (`570.144`), when the set was loaded. */
  readonly version?: string;
  /** The set's files, by role. */
  readonly files: readonly CapturedFirmwareFile[];
  /** Why there are no files (the boot failed before the set was loaded). */
  readonly note?: string;
  /** The VBIOS version string, from the BIT's BIOS-data token. */
  readonly vbiosVersion?: string;
  /** Why the VBIOS version is missing. */
  readonly vbiosError?: string;
}

/** Everything captured, in memory. */
export interface CrashEvidence {
  /** The device's clock when the capture started (ms). */
  readonly deviceClockMs: number;
  /** The chip, when known. */
  readonly chip?: ChipInfo;
  /** The registers. */
  readonly registers: CapturedRegisters;
  /** The log buffers (none before they were allocated). */
  readonly logs: readonly CapturedLog[];
  /** The RPC history, or null before the queues existed. */
  readonly rpcHistory: RpcHistorySnapshot | null;
  /** Firmware files and VBIOS version. */
  readonly firmware: CapturedFirmware;
}

/** What the capture reads from. */
export interface CaptureSources {
  /** The GPU. */
  readonly device: Pick<Device, "bar0" | "clock">;
  /** The chip, when the boot identified it (else BOOT_0/BOOT_42 are tried). */
  readonly chip?: ChipInfo;
  /** The firmware set, when loaded. */
  readonly firmware?: FirmwareSet;
  /** The LibOS log buffers, when allocated. */
  readonly logs?: readonly LibosLogBuffer[];
  /** The queues' RPC history, when the queues exist. */
  readonly rpcHistory?: RpcHistory;
}

const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, "0")}`;
const hexAddress = (v: number): string => `0x${v.toString(16).padStart(6, "0")}`;
const hex = (v: number): string => `0x${v.toString(16)}`;
const message = (e: unknown): string => e instanceof Error ? e.message : String(e);

/** The falcon registers read per engine: status only, no read side effects. */
const FALCON_TABLE: readonly RegisterDef[] = [
  FALCON.NV_PFALCON_FALCON_HWCFG2,
  FALCON.NV_PFALCON_FALCON_CPUCTL,
  FALCON.NV_PFALCON_FALCON_MAILBOX0,
  FALCON.NV_PFALCON_FALCON_MAILBOX1,
  FALCON.NV_PFALCON_FALCON_OS,
  FALCON.NV_PFALCON_FALCON_RM,
  FALCON.NV_PFALCON_FALCON_IRQSTAT,
  FALCON.NV_PFALCON_FALCON_BOOTVEC,
  FALCON.NV_PFALCON_FALCON_HWCFG,
  FALCON.NV_PFALCON_FALCON_HWCFG1,
  FALCON.NV_PFALCON_FALCON_DMACTL,
  FALCON.NV_PFALCON_FALCON_ENGINE,
];

/** The RISC-V and BROM registers read per engine. */
const RISCV_TABLE: readonly RegisterDef[] = [
  FALCON2.NV_PRISCV_RISCV_CPUCTL,
  FALCON2.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS,
  FALCON2.NV_PRISCV_RISCV_BCR_CTRL,
  FALCON2.NV_PFALCON2_FALCON_MOD_SEL,
  FALCON2.NV_PFALCON2_FALCON_BROM_CURR_UCODE_ID,
  FALCON2.NV_PFALCON2_FALCON_BROM_ENGIDMASK,
  FALCON2.NV_PFALCON2_FALCON_BROM_PARAADDR,
];

const ENGINES: readonly EngineName[] = ["GSP", "SEC2", "FSP"];

/** The chip-wide groups: table entries, each whole array read element by element. */
const CHIP_TABLES: readonly { name: string; registers: readonly RegisterDef[] }[] = [
  { name: "PMC", registers: [PMC.NV_PMC_BOOT_0, PMC.NV_PMC_BOOT_42] },
  {
    name: "PFB",
    registers: [
      PFB.NV_PFB_PRI_MMU_WPR2_ADDR_LO,
      PFB.NV_PFB_PRI_MMU_WPR2_ADDR_HI,
      PFB.NV_PFB_PRI_MMU_LOCK_ADDR_LO,
      PFB.NV_PFB_PRI_MMU_LOCK_ADDR_HI,
      PFB.NV_PFB_PRI_MMU_LOCAL_MEMORY_RANGE,
      PFB.NV_PFB_NISO_FLUSH_SYSMEM_ADDR,
      PFB.NV_PFB_NISO_FLUSH_SYSMEM_ADDR_HI,
    ],
  },
  {
    name: "scratch",
    registers: [
      PGC6.NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK,
      PGC6.NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT,
      PGC6.NV_PGC6_AON_SECURE_SCRATCH_GROUP_42,
      PGC6.NV_PGC6_BSI_SECURE_SCRATCH_14,
      THERM.NV_THERM_I2CS_SCRATCH,
      PBUS.NV_PBUS_SW_SCRATCH_0E_FRTS_ERR,
      PBUS.NV_PBUS_SW_SCRATCH_15_SB_ERR,
      PBUS.NV_PBUS_SW_SCRATCH,
    ],
  },
];

/** Reads through BAR0, never throwing, and stops once the GPU no longer answers. */
class CaptureReader {
  reads = 0;
  #unanswered = 0;
  readonly #bar: Pick<Device["bar0"], "read32">;

  constructor(bar: Pick<Device["bar0"], "read32">) {
    this.#bar = bar;
  }

  get dead(): boolean {
    return this.#unanswered >= DEAD_GPU_READS;
  }

  read(bound: BoundRegister<string>): CapturedRegister {
    const base = { name: bound.name, address: hexAddress(bound.address) };
    if (this.dead) {
      return {
        ...base,
        status: "not-read",
        error: `the GPU stopped answering (${DEAD_GPU_READS} reads in a row without an answer)`,
      };
    }
    let value: number;
    try {
      value = this.#bar.read32(bound.address) >>> 0;
    } catch (e) {
      this.reads++;
      this.#unanswered++;
      return { ...base, status: "read-failed", error: message(e) };
    }
    this.reads++;
    const status = classifyRead(value);
    if (status !== "ok") {
      if (status === "no-response") this.#unanswered++;
      return { ...base, status, raw: hex32(value), error: describePriError(value) };
    }
    this.#unanswered = 0;
    const { raw: _raw, ...fields } = bound.decode(value) as Record<string, number>;
    return { ...base, status, raw: hex32(value), fields };
  }
}

function captureGroup(
  reader: CaptureReader,
  name: string,
  table: readonly RegisterDef[],
  chip: ChipInfo,
  engine?: EngineName,
): CapturedGroup {
  const registers: CapturedRegister[] = [];
  const skipped: SkippedCapture[] = [];
  for (const def of table) {
    const bound = bindRegister(def, chip, engine);
    if (!bound.present) {
      skipped.push({ name: bound.name, reason: bound.absentReason ?? "not on this chip" });
      continue;
    }
    for (let i = 0; i < bound.count; i++) registers.push(reader.read(bound.at(i)));
  }
  return { name, registers, skipped };
}

const find = (group: CapturedGroup | undefined, name: string) =>
  group?.registers.find((r) => r.name === name && r.status === "ok");

function falconOf(
  engine: EngineName,
  chip: ChipInfo,
  falcon: CapturedGroup,
  riscv: CapturedGroup,
): CapturedFalcon {
  const cpuctl = find(falcon, `${engine}.${FALCON.NV_PFALCON_FALCON_CPUCTL.name}`);
  const source = FALCON2[falconHalOf(chip).riscvActiveRegister];
  const active = find(riscv, `${engine}.${source.name}`)?.fields?.ACTIVE_STAT;
  const mailbox0 = find(falcon, `${engine}.${FALCON.NV_PFALCON_FALCON_MAILBOX0.name}`)?.raw;
  const mailbox1 = find(falcon, `${engine}.${FALCON.NV_PFALCON_FALCON_MAILBOX1.name}`)?.raw;
  return {
    engine,
    halted: cpuctl?.fields?.HALTED === undefined ? null : cpuctl.fields.HALTED === 1,
    riscvActive: active === undefined ? null : active === 1,
    ...(mailbox0 ? { mailbox0 } : {}),
    ...(mailbox1 ? { mailbox1 } : {}),
  };
}

function wpr2Of(pfb: CapturedGroup): CapturedWpr2 {
  const lo = pfb.registers.find((r) => r.name === PFB.NV_PFB_PRI_MMU_WPR2_ADDR_LO.name);
  const hi = pfb.registers.find((r) => r.name === PFB.NV_PFB_PRI_MMU_WPR2_ADDR_HI.name);
  if (!lo || !hi) return { status: "unreadable", reason: "the chip has no WPR2 registers" };
  const bad = [lo, hi].find((r) => r.status !== "ok");
  if (bad) return { status: "unreadable", reason: `${bad.name}: ${bad.error ?? bad.status}` };
  const end = hi.fields!.VAL * WPR2_GRANULE;
  if (end === 0) return { status: "not-set" };
  return { status: "set", start: hex(lo.fields!.VAL * WPR2_GRANULE), end: hex(end) };
}

/** The chip the boot named, else the one BOOT_0/BOOT_42 say, else none. */
function chipFor(sources: CaptureSources): ChipInfo | undefined {
  if (sources.chip) return sources.chip;
  try {
    return identifyChip(sources.device.bar0).chip;
  } catch (e) {
    log.info("crash capture: the chip is unknown ({error})", { error: message(e) });
    return undefined;
  }
}

/** BOOT_0 and BOOT_42 by their fixed addresses, for a GPU whose chip is unknown. */
function unknownChipRegisters(reader: CaptureReader): CapturedRegisters {
  const fixed = [PMC.NV_PMC_BOOT_0, PMC.NV_PMC_BOOT_42].map((def) =>
    reader.read({
      name: def.name,
      address: def.offset,
      decode: (raw: number) => ({ raw }),
    } as unknown as BoundRegister<string>)
  );
  return {
    answering: fixed[0].status === "ok",
    reads: reader.reads,
    groups: [{ name: "PMC", registers: fixed, skipped: [] }],
    wpr2: { status: "unreadable", reason: "the chip is unknown" },
    falcons: [],
  };
}

/**
 * Read the registers of the bundle.
 *
 * @param bar BAR0.
 * @param chip The chip (binds the tables); without one only BOOT_0/BOOT_42 are read.
 * @returns The groups, WPR2 and the falcons, decoded.
 */
export function captureRegisters(
  bar: Pick<Device["bar0"], "read32">,
  chip: ChipInfo | undefined,
): CapturedRegisters {
  const reader = new CaptureReader(bar);
  if (!chip) return unknownChipRegisters(reader);
  const groups: CapturedGroup[] = [];
  const falcons: CapturedFalcon[] = [];
  const [pmc, ...rest] = CHIP_TABLES;
  groups.push(captureGroup(reader, pmc.name, pmc.registers, chip));
  for (const engine of ENGINES) {
    const falcon = captureGroup(reader, `${engine} falcon`, FALCON_TABLE, chip, engine);
    const riscv = captureGroup(reader, `${engine} RISC-V`, RISCV_TABLE, chip, engine);
    if (falcon.registers.length === 0 && riscv.registers.length === 0) continue; // no such engine
    groups.push(falcon, riscv);
    falcons.push(falconOf(engine, chip, falcon, riscv));
  }
  for (const table of rest) groups.push(captureGroup(reader, table.name, table.registers, chip));
  const boot0 = groups[0].registers[0];
  return {
    answering: boot0?.status === "ok",
    reads: reader.reads,
    groups,
    wpr2: wpr2Of(groups.find((g) => g.name === "PFB")!),
    falcons,
  };
}

/**
 * Copy the log buffers as GSP-RM left them.
 *
 * @param logs The buffers.
 * @returns Their bytes, copied.
 */
export function captureLogs(logs: readonly LibosLogBuffer[]): CapturedLog[] {
  return logs.map((buffer) => ({
    id: buffer.id,
    bytes: buffer.buffer.bytes.slice(0, buffer.size),
    put: buffer.put,
  }));
}

async function captureFirmwareFiles(
  firmware: FirmwareSet | undefined,
): Promise<Pick<CapturedFirmware, "version" | "files" | "note">> {
  if (!firmware) {
    return { files: [], note: "the boot failed before the firmware set was loaded" };
  }
  const files = await Promise.all(
    Object.entries(firmware.paths).map(async ([role, path]): Promise<CapturedFirmwareFile> => {
      const name = path.slice(path.lastIndexOf("/") + 1);
      try {
        const { sha256, size } = await hashFileOnce(path);
        return { role, name, path, size, sha256 };
      } catch (e) {
        return { role, name, path, error: message(e) };
      }
    }),
  );
  return { version: firmware.version, files };
}

/** The VBIOS version from the BIT (a few KiB of PROM reads), or why not. */
function vbiosVersion(
  bar: Pick<Device["bar0"], "read32">,
  chip: ChipInfo | undefined,
  answering: boolean,
): Pick<CapturedFirmware, "vbiosVersion" | "vbiosError"> {
  if (!chip) return { vbiosError: "the chip is unknown" };
  if (!answering) return { vbiosError: "not read: the GPU stopped answering" };
  try {
    const version = readVbiosLayout(new PromSource(bar, chip)).version?.text;
    return version ? { vbiosVersion: version } : { vbiosError: "the BIT has no BIOS-data token" };
  } catch (e) {
    return { vbiosError: message(e) };
  }
}

/**
 * Capture everything a crash bundle holds. Never throws: what cannot be
 * read is recorded with the reason.
 *
 * @param sources The device and what the boot had built when it failed.
 * @returns The evidence, in memory.
 */
export async function captureCrashEvidence(sources: CaptureSources): Promise<CrashEvidence> {
  const deviceClockMs = sources.device.clock.now();
  const bar = sources.device.bar0;
  const chip = chipFor(sources);
  let registers: CapturedRegisters;
  try {
    registers = captureRegisters(bar, chip);
  } catch (e) {
    // Not expected (every read is guarded); the bundle is still worth writing.
    registers = {
      answering: false,
      reads: 0,
      groups: [],
      wpr2: { status: "unreadable", reason: `capture failed: ${message(e)}` },
      falcons: [],
    };
  }
  const firmwareFiles = await captureFirmwareFiles(sources.firmware);
  const firmware: CapturedFirmware = {
    ...firmwareFiles,
    ...vbiosVersion(bar, chip, registers.answering),
  };
  return {
    deviceClockMs,
    ...(chip ? { chip } : {}),
    registers,
    logs: captureLogs(sources.logs ?? []),
    rpcHistory: sources.rpcHistory?.snapshot() ?? null,
    firmware,
  };
}
