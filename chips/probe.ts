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
 * PRI error (`0xbadfxxxx`, or one of the host PRI codes `0xbad0xxxx`) is
 * reported as such, with the error named, never decoded as register
 * contents. If BOOT_0 or BOOT_42 is unreadable the probe throws
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
import { FalconryError } from "../errors.ts";
import { engineBase } from "../registers/engines.ts";
import { FALCON } from "../registers/falcon.ts";
import { PFB } from "../registers/pfb.ts";
import { PMC } from "../registers/pmc.ts";
import {
  decode,
  type EngineName,
  isPriError,
  type RegisterDef,
  type ResolvedRegister,
  resolveRegister,
  unnamedBits,
} from "../registers/register.ts";
import { FALCON2 } from "../registers/riscv.ts";
import { type BootPath, chipByName, type ChipInfo, familyOf } from "./chips.ts";
import {
  type Bar0Reader,
  type ChipIdentity,
  decodeBoot42,
  identifyChip,
  UnsupportedChipError,
} from "./identify.ts";

const log = getLogger(["falconry", "chips", "probe"]);

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
/** WPR2 bounds are in 4 KiB units: the header's `ALIGNMENT` is 0xc, so the address is `VAL << 12`. */
const WPR2_GRANULE = 2 ** 12;

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

/**
 * What a read returned: register contents, a PRI error code, or all ones
 * (nothing answered).
 */
export type ReadStatus = "ok" | "pri-error" | "no-response";

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

/**
 * PRI error codes: bits 31:8 of a value the priv ring returns instead of
 * register contents. Sources: NVIDIA open-gpu-kernel-modules
 * `published/maxwell/gm107/dev_pri_ringstation_sys.h`
 * (`NV_PPRIV_SYS_PRI_ERROR_CODE_*`, the codes with an OpenRM name below) and
 * `kern_fsp_gh100.c` (`0xBADF41YY`: the GSP's PRIV target mask is still
 * held); NVIDIA nvgpu `ga10b` priv ring decoder and `hw_pri_ringstation_sys`
 * header for the rest.
 */
const PRI_ERROR_CODES: Readonly<Record<number, string>> = {
  0xbad001: "HOST_PRI_TIMEOUT: host timed out waiting for the priv ring",
  0xbad00f: "HOST_FECS_ERR: the priv ring reported an error to the host",
  0xbad0b0: "HOST_FB_ACK_TIMEOUT: frame buffer ack timeout",
  0xbadf10: "FECS_PRI_TIMEOUT: the target did not answer",
  0xbadf11: "FECS_PRI_DECODE: no register at this address",
  0xbadf12: "FECS_PRI_RESET: the target is in reset",
  0xbadf13: "FECS_PRI_FLOORSWEEP: the target is floorswept",
  0xbadf14: "FECS_PRI_STUCK_ACK: the target's ack is stuck",
  0xbadf15: "FECS_PRI_0_EXPECTED_ACK: unexpected ack",
  0xbadf16: "FECS_PRI_FENCE_ERROR: fence error",
  0xbadf17: "FECS_PRI_SUBID_ERROR: sub-id error",
  0xbadf18: "read data wait violation",
  0xbadf19: "write byte-enable error",
  0xbadf20: "FECS_PRI_ORPHAN: orphaned request (GPC/FBP)",
  0xbadf21: "power-ok timeout",
  0xbadf22: "orphaned request, GPC/FBP power-gated",
  0xbadf23: "the target is power-gated",
  0xbadf24: "orphaned request (GCGPC)",
  0xbadf25: "decode error (GCGPC)",
  0xbadf26: "local priv decode error",
  0xbadf27: "priv request poisoned",
  0xbadf28: "bad transaction type",
  0xbadf30: "FECS_DEAD_RING: the priv ring is dead",
  0xbadf31: "the priv ring is dead (low power)",
  0xbadf40: "FECS_TRAP: access trapped",
  0xbadf41: "target mask violation: access to this engine is blocked " +
    "(on Hopper/Blackwell the FSP still holds the GSP's PRIV target mask)",
  0xbadf50: "FECS_PRI_CLIENT_ERR: the target reported an error",
  0xbadf51: "priv level violation: the register is locked down",
  0xbadf52: "indirect priv level violation",
  0xbadf53: "local priv ring error",
  0xbadf54: "falcon memory priv level violation",
  0xbadf55: "route error",
  0xbadf56: "custom error",
  0xbadf57: "source enable violation",
  0xbadf59: "indirect source enable violation",
  0xbadf60: "locked by a security sensor",
};

/** The value a read returns when nothing answers: the PCIe completion of a dead or absent device. */
const ALL_ONES = 0xffffffff;

const hex32 = (value: number): string => `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
const hexAddress = (value: number): string => `0x${value.toString(16).padStart(6, "0")}`;
const hex = (value: number): string => `0x${value.toString(16)}`;

/**
 * Whether a value read is a PRI error code rather than register contents:
 * `0xbadfxxxx` ({@linkcode isPriError}) or one of the host PRI codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPriErrorValue } from "./probe.ts";
 * assert(isPriErrorValue(0xbadf4100) && isPriErrorValue(0xbad00100));
 * assert(!isPriErrorValue(0xbad12345) && !isPriErrorValue(0x10));
 * ```
 */
export function isPriErrorValue(value: number): boolean {
  return isPriError(value) || Object.hasOwn(PRI_ERROR_CODES, (value >>> 8) & 0xffffff);
}

/**
 * Name the error in a PRI error value: the code (bits 31:8), what it means,
 * and the detail byte (bits 7:0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describePriError } from "./probe.ts";
 * assert(describePriError(0xbadf4100).startsWith("PRI error 0xbadf41 (target mask violation"));
 * assert(describePriError(0xbadf1002).endsWith("detail 0x02"));
 * ```
 */
export function describePriError(value: number): string {
  const code = (value >>> 8) & 0xffffff;
  const meaning = PRI_ERROR_CODES[code] ?? "unknown PRI error code";
  const detail = (value & 0xff).toString(16).padStart(2, "0");
  return `PRI error ${hex(code)} (${meaning}), detail 0x${detail}`;
}

function classify(value: number): { status: ReadStatus; error?: string } {
  if (value === ALL_ONES) {
    return {
      status: "no-response",
      error: "read all ones: the device fell off the bus or is in reset (or BAR0 is not decoded)",
    };
  }
  if (isPriErrorValue(value)) return { status: "pri-error", error: describePriError(value) };
  return { status: "ok" };
}

function readingOf(
  name: string,
  address: number,
  register: ResolvedRegister | RegisterDef,
  value: number,
): RegisterReading {
  const { status, error } = classify(value);
  const base = { name, address: hexAddress(address), status, raw: hex32(value) };
  if (status !== "ok") return { ...base, error };
  const fields = decode(register, value);
  const meanings: Record<string, string> = {};
  for (const field of register.fields) {
    const named = field.values?.[fields[field.name]];
    if (named !== undefined) meanings[field.name] = named;
  }
  const rest = unnamedBits(register, value);
  return {
    ...base,
    fields,
    ...(Object.keys(meanings).length ? { meanings } : {}),
    ...(rest && register.fields.length ? { unnamedBits: hex32(rest) } : {}),
  };
}

/** Where an allowlisted register is on one chip, or why it is not there. */
type Placement =
  | { readonly address: number; readonly register: ResolvedRegister }
  | { readonly reason: string };

function place(entry: ProbeEntry, chip: ChipInfo): Placement {
  const { register, engine } = entry;
  const resolved = resolveRegister(register, chip.family);
  if (!resolved) {
    return {
      reason: `not in the register tables for ${chip.family} (only ${register.chips?.join(", ")})`,
    };
  }
  if (resolved.base === undefined) return { address: resolved.offset, register: resolved };
  if (engine === undefined) throw new FalconryError(`${register.name} needs an engine`);
  if (resolved.engines && !resolved.engines.includes(engine)) {
    return { reason: `only ${resolved.engines.join(", ")} has it` };
  }
  const base = engineBase(engine, resolved.base, chip.family);
  if (base === undefined) {
    return { reason: `${engine} has no ${resolved.base} block on ${chip.family}` };
  }
  return { address: base + resolved.offset, register: resolved };
}

const qualified = (entry: ProbeEntry): string =>
  entry.engine ? `${entry.engine}.${entry.register.name}` : entry.register.name;

/** Reads through `target`, once per address, counting and checking the BAR size. */
class Reader {
  reads = 0;
  readonly #target: ProbeTarget;
  readonly #cache = new Map<number, number>();

  constructor(target: ProbeTarget) {
    this.#target = target;
  }

  fits(address: number): boolean {
    return this.#target.size === undefined || address + 4 <= this.#target.size;
  }

  read(address: number): number {
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
  const reading = readingOf(name, where.address, where.register, reader.read(where.address));
  log.debug("{name} @ {address} = {raw} ({status})", { ...reading });
  return reading;
}

const isReading = (r: RegisterReading | SkippedRegister): r is RegisterReading => "raw" in r;

/** The first register of `sources` read for the engine that has `field`. */
function fieldSource(
  readings: readonly RegisterReading[],
  engine: EngineName,
  chip: ChipInfo,
  sources: readonly RegisterDef[],
  field: string,
): { reading: RegisterReading; name: string } | undefined {
  for (const register of sources) {
    const resolved = resolveRegister(register, chip.family);
    if (!resolved?.fields.some((f) => f.name === field)) continue;
    const reading = readings.find((r) => r.name === `${engine}.${register.name}`);
    if (reading) return { reading, name: `${reading.name}.${field}` };
  }
  return undefined;
}

/** Registers that tell whether a RISC-V core runs, in order of preference (GA102+, then TU102/GA100). */
const RISCV_ACTIVE_SOURCES: readonly RegisterDef[] = [
  FALCON2.NV_PRISCV_RISCV_CPUCTL,
  FALCON2.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS,
];
const ACTIVE_FIELD = "ACTIVE_STAT";

function riscvState(
  readings: readonly RegisterReading[],
  engine: EngineName,
  chip: ChipInfo,
): RiscvState {
  const found = fieldSource(readings, engine, chip, RISCV_ACTIVE_SOURCES, ACTIVE_FIELD);
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
  const selectField = resolveRegister(bcr, chip.family)?.fields.find((f) =>
    f.name === "CORE_SELECT"
  );
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
    const identity = identifyChip({ read32: (offset) => reader.read(offset) });
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
  const boot = BOOT_REGISTERS.map((register) =>
    readingOf(register.name, register.offset, register, reader.read(register.offset))
  );
  const falcons = PROBED_ENGINES.map((engine) => falconState(reader, engine, info));
  const wpr2 = wpr2State(reader, info);
  const gsp = falcons.find((f) => f.engine === "GSP");
  const boot42 = decodeBoot42(reader.read(PMC.NV_PMC_BOOT_42.offset));
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
