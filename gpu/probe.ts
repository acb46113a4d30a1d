/**
 * The read-only probe: what state a GPU's boot engines are in, read from an
 * allowlist of registers that have no read side effects, decoded with the
 * register tables.
 *
 * {@linkcode probeDevice} reads `NV_PMC_BOOT_0` and `NV_PMC_BOOT_42`,
 * identifies the chip, then reads {@linkcode PROBE_ALLOWLIST} as the tables
 * resolve it for that chip: the GSP and SEC2 falcons' `HWCFG2`, `CPUCTL`,
 * `MAILBOX0`/`MAILBOX1`, their RISC-V `CPUCTL`,
 * `CORE_SWITCH_RISCV_STATUS` and `BCR_CTRL`, and the WPR2 bounds. Every
 * offset and field comes from `registers/`; a register a chip does not have
 * (BCR_CTRL before GA102, SEC2's RISC-V block on Turing, RISC-V CPUCTL on
 * GA100) is skipped with the reason. Each register is read once, in table
 * order, through the `read32` it is given and nothing else; the probe cannot
 * write.
 *
 * A read of `0xffffffff` (the device fell off the bus or is in reset) or a
 * PRI error (NVIDIA's rule `(v & 0xfff00000) === 0xbad00000`, classified and
 * named by `registers/pri_error.ts`) is reported as such, with the error
 * named, never decoded as register contents. If BOOT_0 or BOOT_42 is unreadable the probe throws
 * `ChipNotRespondingError` (`identify.ts`).
 *
 * The report is a plain, JSON-ready object: register values and addresses
 * are hex strings (`"0x00000010"`), field values and sizes are numbers.
 *
 * @example Probe a fake GA102 whose registers all read 0 apart from BOOT
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeDevice } from "./probe.ts";
 * const regs: Record<number, number> = { 0x0: 0x172000a1, 0xa00: 0x172a1000 };
 * const report = probeDevice({ read32: (offset) => regs[offset] ?? 0 });
 * assert(report.chip.name === "ga102" && report.wpr2.status === "not-set");
 * assert(report.gspRiscvActive === false && report.reads === 16);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type BootPath, chipByName, type ChipInfo, falconHalOf, familyOf } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import { bindRegister, type BoundRegister, type RegisterReader } from "../registers/bind.ts";
import { FALCON } from "../registers/falcon.ts";
import { PFB, WPR2_GRANULE } from "../registers/pfb.ts";
import { PMC } from "../registers/pmc.ts";
import { classifyRead, describePriError, type ReadStatus } from "../registers/pri_error.ts";
import { type EngineName, type RegisterDef, unnamedBits } from "../registers/register.ts";
import { FALCON2 } from "../registers/riscv.ts";
import {
  type Bar0Reader,
  type ChipIdentity,
  decodeBoot42,
  identifyChip,
  UnsupportedChipError,
} from "./identify.ts";

export type { ReadStatus };

const log = getLogger(["falconry", "gpu", "probe"]);

/** One allowlisted register: a table entry and, for engine registers, the engine. */
export interface ProbeEntry {
  /** The register definition from `registers/`. */
  readonly register: RegisterDef;
  /** The engine whose copy is read (engine-relative registers only). */
  readonly engine?: EngineName;
}

/** The falcon engines the probe reads, in report order. */
export const PROBED_ENGINES: readonly EngineName[] = ["GSP", "SEC2"];

const FALCON_REGISTERS: readonly RegisterDef[] = [
  FALCON.NV_PFALCON_FALCON_HWCFG2,
  FALCON.NV_PFALCON_FALCON_CPUCTL,
  FALCON.NV_PFALCON_FALCON_MAILBOX0,
  FALCON.NV_PFALCON_FALCON_MAILBOX1,
  FALCON2.NV_PRISCV_RISCV_CPUCTL,
  FALCON2.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS,
  FALCON2.NV_PRISCV_RISCV_BCR_CTRL,
];

const BOOT_REGISTERS: readonly RegisterDef[] = [PMC.NV_PMC_BOOT_0, PMC.NV_PMC_BOOT_42];
const WPR2_LO = PFB.NV_PFB_PRI_MMU_WPR2_ADDR_LO;
const WPR2_HI = PFB.NV_PFB_PRI_MMU_WPR2_ADDR_HI;

/**
 * Every register the probe may read, in the order it reads them. Status and
 * identification registers only: none of them changes state when read.
 * Whether and where each exists is decided per chip by the tables.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROBE_ALLOWLIST } from "./probe.ts";
 * assert(PROBE_ALLOWLIST[0].register.name === "NV_PMC_BOOT_0");
 * assert(PROBE_ALLOWLIST.length === 18);
 * ```
 */
export const PROBE_ALLOWLIST: readonly ProbeEntry[] = Object.freeze([
  ...BOOT_REGISTERS.map((register) => ({ register })),
  ...PROBED_ENGINES.flatMap((engine) => FALCON_REGISTERS.map((register) => ({ register, engine }))),
  { register: WPR2_LO },
  { register: WPR2_HI },
]);

/** One register as read. */
export interface RegisterReading {
  /** `NAME`, or `ENGINE.NAME` for an engine register. */
  readonly name: string;
  /** Absolute BAR0 address, hex. */
  readonly address: string;
  /** Whether the value is register contents. */
  readonly status: ReadStatus;
  /** The 32-bit value read, hex (`0x00000010`). */
  readonly raw: string;
  /** Field values (status `ok` only); empty when the chip's tables publish no fields. */
  readonly fields?: Readonly<Record<string, number>>;
  /** Names of field values where the tables name them (status `ok` only). */
  readonly meanings?: Readonly<Record<string, string>>;
  /** Bits set outside every named field, hex (status `ok`, only when non-zero). */
  readonly unnamedBits?: string;
  /** What the error value means (status other than `ok`). */
  readonly error?: string;
}

/** An allowlisted register the chip does not have. */
export interface SkippedRegister {
  /** `NAME` or `ENGINE.NAME`. */
  readonly name: string;
  /** Why it was not read. */
  readonly reason: string;
}

/** Whether a RISC-V core is running, and which register said so. */
export interface RiscvState {
  /** True when running, false when not, null when no register could tell. */
  readonly active: boolean | null;
  /** `ENGINE.REGISTER.FIELD` the answer came from. */
  readonly source?: string;
  /** Why `active` is null. */
  readonly reason?: string;
}

/** One falcon engine's state. */
export interface FalconState {
  /** Engine name. */
  readonly engine: EngineName;
  /** Falcon `CPUCTL.HALTED`, null when unreadable. */
  readonly halted: boolean | null;
  /** The RISC-V core. */
  readonly riscv: RiscvState;
  /** `BCR_CTRL.CORE_SELECT` by name (`FALCON`, `RISCV`), null when absent or unreadable. */
  readonly coreSelect: string | null;
  /** A caveat about the readings (e.g. the GSP's registers are still locked by the FSP). */
  readonly note?: string;
  /** The registers read, in allowlist order. */
  readonly registers: readonly RegisterReading[];
  /** The allowlisted registers this chip does not have for the engine. */
  readonly skipped: readonly SkippedRegister[];
}

/** The WPR2 region as the MMU reports it. */
export interface Wpr2State {
  /** `set`, `not-set` (HI's field is 0) or `unreadable` (a bound read failed). */
  readonly status: "set" | "not-set" | "unreadable";
  /** First byte, hex (`LO[31:4] << 12`), when set. */
  readonly start?: string;
  /** End, exclusive, hex (`HI[31:4] << 12`), when set. */
  readonly end?: string;
  /** `end - start` in bytes, when set. */
  readonly size?: number;
  /** Why it is unreadable, or a caveat. */
  readonly reason?: string;
  /** The LO and HI readings. */
  readonly registers: readonly RegisterReading[];
}

/** The chip the registers were resolved for. */
export interface ProbedChip {
  /** Chip name (`ga102`). */
  readonly name: string;
  /** Architecture. */
  readonly arch: string;
  /** Family. */
  readonly family: string;
  /** How its GSP is booted. */
  readonly bootPath: BootPath;
  /** The chip BOOT_42 identifies, or null when the table does not know it. */
  readonly identifiedAs: string | null;
  /** BOOT_42 chipset id (`ARCHITECTURE << 4 | IMPLEMENTATION`), hex. */
  readonly chipset: string;
  /** BOOT_42 revision, `major.minor` in hex. */
  readonly revision: string;
  /** Why identification failed, when the caller named the chip. */
  readonly note?: string;
}

/** Everything the probe read and what it means. */
export interface ProbeReport {
  /** The chip. */
  readonly chip: ProbedChip;
  /** BOOT_0 and BOOT_42. */
  readonly boot: readonly RegisterReading[];
  /** GSP and SEC2, in that order. */
  readonly falcons: readonly FalconState[];
  /** WPR2. */
  readonly wpr2: Wpr2State;
  /** Whether the GSP's RISC-V core is running (null when no register could tell). */
  readonly gspRiscvActive: boolean | null;
  /** Number of 32-bit reads made. */
  readonly reads: number;
}

/** What {@linkcode probeDevice} needs: 32-bit reads, and the BAR size if known. */
export interface ProbeTarget extends Bar0Reader {
  /** BAR0 size in bytes; registers beyond it are skipped rather than read. */
  readonly size?: number;
}

const hex32 = (value: number): string => `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
const hexAddress = (value: number): string => `0x${value.toString(16).padStart(6, "0")}`;
const hex = (value: number): string => `0x${value.toString(16)}`;

function readingOf(
  name: string,
  bound: BoundRegister<string>,
  value: number,
): RegisterReading {
  const status = classifyRead(value);
  const base = { name, address: hexAddress(bound.address), status, raw: hex32(value) };
  if (status !== "ok") return { ...base, error: describePriError(value) };
  const { raw: _raw, ...fields } = bound.decode(value);
  const register = bound.register;
  const meanings: Record<string, string> = {};
  for (const field of register.fields) {
    const named = field.values?.[fields[field.name]!];
    if (named !== undefined) meanings[field.name] = named;
  }
  const rest = unnamedBits(register, value);
  return {
    ...base,
    fields: fields as Record<string, number>,
    ...(Object.keys(meanings).length ? { meanings } : {}),
    ...(rest && register.fields.length ? { unnamedBits: hex32(rest) } : {}),
  };
}

/**
 * An allowlisted register bound to one chip (and engine) by the typed
 * register tables, or why the chip does not have it.
 */
function place(entry: ProbeEntry, chip: ChipInfo): BoundRegister<string> | { reason: string } {
  const bound = bindRegister(entry.register, chip, entry.engine);
  return bound.present ? bound : { reason: bound.absentReason! };
}

const qualified = (entry: ProbeEntry): string =>
  entry.engine ? `${entry.engine}.${entry.register.name}` : entry.register.name;

/** Reads through `target`, once per address, counting and checking the BAR size. */
class Reader implements RegisterReader {
  reads = 0;
  readonly #target: ProbeTarget;
  readonly #cache = new Map<number, number>();

  constructor(target: ProbeTarget) {
    this.#target = target;
  }

  fits(address: number): boolean {
    return this.#target.size === undefined || address + 4 <= this.#target.size;
  }

  read32(address: number): number {
    const cached = this.#cache.get(address);
    if (cached !== undefined) return cached;
    const value = this.#target.read32(address) >>> 0;
    this.reads++;
    this.#cache.set(address, value);
    return value;
  }
}

function readEntry(
  reader: Reader,
  entry: ProbeEntry,
  chip: ChipInfo,
): RegisterReading | SkippedRegister {
  const name = qualified(entry);
  const where = place(entry, chip);
  if ("reason" in where) return { name, reason: where.reason };
  if (!reader.fits(where.address)) {
    return { name, reason: `${hexAddress(where.address)} is outside BAR0` };
  }
  const reading = readingOf(name, where, where.readRaw(reader));
  log.debug("{name} @ {address} = {raw} ({status})", { ...reading });
  return reading;
}

const isReading = (r: RegisterReading | SkippedRegister): r is RegisterReading => "raw" in r;

const ACTIVE_FIELD = "ACTIVE_STAT";

function riscvState(
  readings: readonly RegisterReading[],
  engine: EngineName,
  chip: ChipInfo,
): RiscvState {
  // The falcon HAL names the register that tells (CORE_SWITCH_RISCV_STATUS or RISCV_CPUCTL).
  const source = FALCON2[falconHalOf(chip).riscvActiveRegister];
  const read = readings.find((r) => r.name === `${engine}.${source.name}`);
  const hasField = read !== undefined &&
    bindRegister(source, chip, engine).register.fields.some((f) => f.name === ACTIVE_FIELD);
  const found = hasField ? { reading: read, name: `${read.name}.${ACTIVE_FIELD}` } : undefined;
  if (!found) {
    return {
      active: null,
      reason: `no RISC-V status register is published for ${engine} on ${chip.family}`,
    };
  }
  const { reading, name } = found;
  if (reading.status !== "ok") {
    return { active: null, source: name, reason: `${reading.name} read ${reading.raw}` };
  }
  return { active: reading.fields![ACTIVE_FIELD] === 1, source: name };
}

function fieldOf(
  readings: readonly RegisterReading[],
  name: string,
  field: string,
): number | undefined {
  const reading = readings.find((r) => r.name === name);
  return reading?.status === "ok" ? reading.fields?.[field] : undefined;
}

/**
 * On FSP-path chips the GSP's registers read 0 (or `0xbadf41xx`) until the
 * FSP releases its PRIV target mask (NVIDIA `kern_fsp_gh100.c`
 * `_kfspIsGspTargetMaskReleased`); HWCFG2 is the register NVIDIA tests.
 */
function lockNote(
  readings: readonly RegisterReading[],
  engine: EngineName,
  chip: ChipInfo,
): string | undefined {
  if (engine !== "GSP" || familyOf(chip).bootPath !== "fsp") return undefined;
  const hwcfg2 = readings.find((r) => r.name === `GSP.${FALCON.NV_PFALCON_FALCON_HWCFG2.name}`);
  if (hwcfg2?.raw !== hex32(0)) return undefined;
  return "HWCFG2 reads 0: the FSP still holds the GSP's PRIV target mask, so the GSP's " +
    "registers read 0 and say nothing about its state";
}

function falconState(reader: Reader, engine: EngineName, chip: ChipInfo): FalconState {
  const readings: RegisterReading[] = [];
  const skipped: SkippedRegister[] = [];
  for (const register of FALCON_REGISTERS) {
    const result = readEntry(reader, { register, engine }, chip);
    if (isReading(result)) readings.push(result);
    else skipped.push(result);
  }
  const note = lockNote(readings, engine, chip);
  if (note) {
    // Locked registers read 0: nothing can be concluded from them.
    const riscv = { active: null, reason: `${engine} registers are locked (see note)` };
    return { engine, halted: null, riscv, coreSelect: null, note, registers: readings, skipped };
  }
  const halted = fieldOf(readings, `${engine}.${FALCON.NV_PFALCON_FALCON_CPUCTL.name}`, "HALTED");
  const bcr = FALCON2.NV_PRISCV_RISCV_BCR_CTRL;
  const select = fieldOf(readings, `${engine}.${bcr.name}`, "CORE_SELECT");
  const bcrBound = bindRegister(bcr, chip, engine);
  const selectField = bcrBound.present
    ? bcrBound.register.fields.find((f) => f.name === "CORE_SELECT")
    : undefined;
  return {
    engine,
    halted: halted === undefined ? null : halted === 1,
    riscv: riscvState(readings, engine, chip),
    coreSelect: select === undefined ? null : selectField?.values?.[select] ?? String(select),
    registers: readings,
    skipped,
  };
}

function wpr2State(reader: Reader, chip: ChipInfo): Wpr2State {
  const results = [WPR2_LO, WPR2_HI].map((register) => readEntry(reader, { register }, chip));
  const registers = results.filter(isReading);
  if (registers.length !== results.length) {
    const why = results.filter((r) => !isReading(r)) as SkippedRegister[];
    return {
      status: "unreadable",
      reason: why.map((r) => `${r.name}: ${r.reason}`).join("; "),
      registers,
    };
  }
  const [lo, hi] = registers;
  const bad = registers.find((r) => r.status !== "ok");
  if (bad) return { status: "unreadable", reason: `${bad.name} read ${bad.raw}`, registers };
  const end = hi.fields!.VAL * WPR2_GRANULE;
  if (end === 0) return { status: "not-set", registers };
  const start = lo.fields!.VAL * WPR2_GRANULE;
  return {
    status: "set",
    start: hex(start),
    end: hex(end),
    size: Math.max(0, end - start),
    ...(start >= end ? { reason: "start is not below end" } : {}),
    registers,
  };
}

function identify(
  reader: Reader,
  requested: ChipInfo | undefined,
): { chip: ChipInfo; identity?: ChipIdentity; note?: string } {
  for (const register of BOOT_REGISTERS) {
    if (!reader.fits(register.offset)) {
      throw new FalconryError(
        `BAR0 is too small to hold ${register.name} at ${hexAddress(register.offset)}`,
      );
    }
  }
  try {
    const identity = identifyChip(reader);
    return { chip: requested ?? identity.chip, identity };
  } catch (e) {
    if (requested && e instanceof UnsupportedChipError) {
      return { chip: requested, note: e.message };
    }
    throw e;
  }
}

function chipOf(chip: string | ChipInfo | undefined): ChipInfo | undefined {
  if (chip === undefined || typeof chip !== "string") return chip;
  const info = chipByName(chip);
  if (!info) throw new FalconryError(`unknown chip "${chip}"`);
  return info;
}

/**
 * Read the allowlisted registers of a GPU through `bar0.read32` and decode
 * them for its chip.
 *
 * @param bar0 Something with `read32` (a `Mmio`, a simulator, a fake); its
 *   `size`, when present, bounds what is read.
 * @param chip Resolve the registers for this chip instead of the one BOOT_42
 *   names; an unknown BOOT_42 is then noted rather than fatal.
 * @returns The report.
 * @throws {ChipNotRespondingError} If BOOT_0 or BOOT_42 reads `0xffffffff` or a PRI error.
 * @throws {UnsupportedChipError} If the chip is not in the chip table and no `chip` was given.
 *
 * @example A GSP whose registers are still locked (PRI error) on a GA102
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeDevice } from "./probe.ts";
 * const regs: Record<number, number> = { 0x0: 0x172000a1, 0xa00: 0x172a1000, 0x1100f4: 0xbadf4100 };
 * const report = probeDevice({ read32: (offset) => regs[offset] ?? 0 });
 * const hwcfg2 = report.falcons[0].registers[0];
 * assert(hwcfg2.status === "pri-error" && hwcfg2.raw === "0xbadf4100" && !hwcfg2.fields);
 * ```
 */
export function probeDevice(bar0: ProbeTarget, chip?: string | ChipInfo): ProbeReport {
  const reader = new Reader(bar0);
  const { chip: info, identity, note } = identify(reader, chipOf(chip));
  const boot = BOOT_REGISTERS.map((register) => {
    const bound = bindRegister(register, info);
    return readingOf(register.name, bound, bound.readRaw(reader));
  });
  const falcons = PROBED_ENGINES.map((engine) => falconState(reader, engine, info));
  const wpr2 = wpr2State(reader, info);
  const gsp = falcons.find((f) => f.engine === "GSP");
  const boot42 = decodeBoot42(bindRegister(PMC.NV_PMC_BOOT_42, info).readRaw(reader));
  const report: ProbeReport = {
    chip: {
      name: info.name,
      arch: info.arch,
      family: info.family,
      bootPath: familyOf(info).bootPath,
      identifiedAs: identity?.name ?? null,
      chipset: hex(boot42.chipset),
      revision: `${boot42.majorRevision.toString(16)}.${boot42.minorRevision.toString(16)}`,
      ...(note ? { note } : {}),
    },
    boot,
    falcons,
    wpr2,
    gspRiscvActive: gsp?.riscv.active ?? null,
    reads: reader.reads,
  };
  log.info("{chip}: GSP RISC-V {active}, WPR2 {wpr2}, {reads} reads", {
    chip: info.name,
    active: report.gspRiscvActive,
    wpr2: wpr2.status,
    reads: reader.reads,
  });
  return report;
}
