/**
 * A simulated falcon engine (GSP or SEC2) on the simulated BAR0: its
 * IMEM and DMEM with PIO ports and tags, its DMA engine, ENGINE reset with
 * memory scrubbing, core select, BOOTVEC, CPUCTL start and halt, mailboxes,
 * the boot-ROM registers and the RISC-V status bits. Behaviour comes from
 * `../shared/reference/nova-core-boot.md` §3.4, §3.6, §3.10, §12 and §13;
 * every offset and field from `registers/` (`falconRegisters(chip, engine)`).
 *
 * The block decodes three BAR0 ranges, each from the first to the last
 * register it models: the falcon block (IRQSCLR … ENGINE), falcon2/RISC-V
 * (the boot-ROM registers, RISC-V status, BCR_CTRL; none for a Turing SEC2)
 * and FBIF (TRANSCFG(0..7), CTL). An offset inside a range that it does not
 * model reads `undefined` and writes `false`, which the bus turns into a PRI
 * error and a recorded violation.
 *
 * ## What the model does
 * - **Memories**: IMEM and DMEM of {@linkcode falconMemorySizes}, which HWCFG
 *   reports in 256-byte blocks. `IMEMC(i)`/`DMEMC(i)` hold a byte address
 *   (`BLK:OFFS`), `AINCW` and `AINCR`; a data write (read) moves the address
 *   by 4 when `AINCW` (`AINCR`) is set, so reading `IMEMD`/`DMEMD` has a side
 *   effect. Each IMEM block written takes the port's `IMEMT` tag and
 *   `IMEMC.SECURE`; a host read of a secure IMEM block returns
 *   {@linkcode SECURE_IMEM_READ}.
 * - **DMA**: writing `DMATRFCMD` runs one transfer at once (see
 *   `_falcon_dma.ts` for what the hardware requires); `IDLE` reads 1 again
 *   when it is done (at once, or after `dmaBytesPerMs` time). An IMEM block
 *   filled by DMA is tagged `DMATRFFBOFFS / 256`. A transfer the hardware
 *   refuses or an IOMMU fault **stops the falcon**: the DMA engine stays busy
 *   (`IDLE` reads 0) until the next reset, the CPU is halted with MAILBOX0 =
 *   {@linkcode FALCON_HALT_CODE}`.dmaFault`, a start is ignored, and
 *   {@linkcode SimFalcon.dmaError} says why.
 * - **Reset**: `ENGINE.RESET` = 1 holds the engine in reset and clears all
 *   its state (memories, tags, registers, CPU, RISC-V); the bit clears itself
 *   after `resetPulseMs` (or when written 0). Releasing it starts memory
 *   scrubbing, which takes `scrubMs` of clock time: `DMACTL` IMEM/DMEM
 *   scrubbing and (GA102+) `HWCFG2.MEM_SCRUBBING` read 1 meanwhile, and PIO,
 *   DMA and start are ignored (recorded in {@linkcode SimFalcon.violations}).
 *   `HWCFG2.RESET_READY` (GA10x/Ada) reads 1 unless a DMA is in flight. A
 *   block `reset()` (engine, function, bus, power) does the same at once.
 * - **Core select** (GA102+): `RISCV_BCR_CTRL` resets to the RISC-V core
 *   with `VALID` 0; a write sets `CORE_SELECT` and `BRFETCH`, and `VALID`
 *   reads 1 after it. The core a start runs on is in {@linkcode FalconStart}.
 * - **Start**: `CPUCTL.STARTCPU`, or `CPUCTL_ALIAS.STARTCPU` when
 *   `CPUCTL.ALIAS_EN` is set (the host cannot set ALIAS_EN: firmware does,
 *   {@linkcode SimFalcon.setAliasEnabled}); the other path is ignored and
 *   recorded. A start gathers a {@linkcode FalconStart} and calls `onStart`,
 *   the execution model, whose {@linkcode FalconOutcome} says what happens:
 *   halt with MAILBOX0/1 after a modelled time, hang, or RISC-V active.
 *   Without `onStart` the falcon halts at once with MAILBOX0 =
 *   {@linkcode FALCON_HALT_CODE}`.noFirmware`.
 * - **RISC-V**: Turing/GA100 GSP: `CORE_SWITCH_RISCV_STATUS.ACTIVE_STAT`;
 *   GA102+: `RISCV_CPUCTL.ACTIVE_STAT`, and `HALTED` once a RISC-V core that
 *   ran has halted. `HWCFG2.RISCV` is 1 for every GSP and for SEC2 from GA102
 *   on; `HWCFG2.RISCV_BR_PRIV_LOCKDOWN` exists on the GH100 layout only.
 *
 * @example A PIO load and a start without an execution model
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_HALT_CODE, SimFalcon } from "./falcon.ts";
 * import { SystemMemory } from "./system_memory.ts";
 * import { ManualClock } from "../pci/clock.ts";
 * import { falconRegisters } from "../registers/bind.ts";
 *
 * const falcon = new SimFalcon({
 *   chip: "tu102", engine: "SEC2", clock: new ManualClock(), memory: new SystemMemory(),
 * });
 * const r = falconRegisters("tu102", "SEC2");
 * falcon.write(r.IMEMC.at(0).address, r.IMEMC.encode({ AINCW: 1 }));
 * falcon.write(r.IMEMT.at(0).address, 7);
 * falcon.write(r.IMEMD.at(0).address, 0x11223344);
 * assert.deepEqual(falcon.imemBlocks()[0], { tag: 7, secure: false, method: "pio" });
 * falcon.write(r.CPUCTL.address, r.CPUCTL.encode({ STARTCPU: 1 }));
 * assert(falcon.isHalted);
 * assert.equal(falcon.read(r.MAILBOX0.address), FALCON_HALT_CODE.noFirmware);
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { chipByName, type ChipInfo, type FalconHal, falconHalOf } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import type { Clock } from "../pci/clock.ts";
import { type BoundRegister, type FalconRegisters, falconRegisters } from "../registers/bind.ts";
import type { SimBlock, SimRange, SimResetKind } from "./block.ts";
import type { DmaView } from "./system_memory.ts";
import { type DmaError, runDmaTransfer } from "./_falcon_dma.ts";
import {
  FALCON_BLOCK_SIZE,
  type FalconImemBlock,
  FalconMemory,
  type LoadMethod,
  PioPort,
} from "./_falcon_memory.ts";

export type { FalconImemBlock, LoadMethod } from "./_falcon_memory.ts";
export type { DmaError } from "./_falcon_dma.ts";
// The types the public surface names, so that this module documents completely on its own.
export type { Architecture, ChipFamily, ChipInfo, FalconHal } from "../chips/chips.ts";
export type { FalconryError } from "../errors.ts";
export type { Clock } from "../pci/clock.ts";
export type { SimBlock, SimRange, SimResetKind } from "./block.ts";
export type { DmaView } from "./system_memory.ts";

const log = getLogger(["falconry", "sim", "falcon"]);

/** The engines a {@linkcode SimFalcon} models. */
export type SimFalconEngine = "GSP" | "SEC2";

/**
 * MAILBOX0 values the simulated falcon itself halts with (simulator-defined;
 * equal to the acceptance rules' `HS_ERROR.unknownImage` and `.dmaFault`):
 * - `noFirmware`: started without an execution model (`onStart`);
 * - `dmaFault`: a DMA transfer the hardware refused, or an IOMMU fault;
 * - `modelError`: the execution model threw (a simulator bug; logged).
 */
export const FALCON_HALT_CODE = {
  noFirmware: 0x09,
  dmaFault: 0x10,
  modelError: 0x7f,
} as const;

/**
 * What a host read returns while the PRIV target mask is held (GH100:
 * `FECS_PRI_TARGET_MASK_VIOLATION` 0xbadf41 in bits 31:8). NVIDIA
 * (`_kfspIsGspTargetMaskReleased`) and nova-core ignore the low byte ("extra
 * error information"); the simulator sets it to 0x01 so that a host
 * comparing the whole word with 0xbadf4100 is caught.
 */
export const PRIV_TARGET_MASK_READ = 0xbadf4101;

/** What a host read of a secure IMEM block returns (envytools: "0xdead5ec1"). */
export const SECURE_IMEM_READ = 0xdead5ec1;

/**
 * `IMEMC`/`DMEMC` bit 25, AINCR (auto-increment on read): published in the
 * TU102 header, used by nouveau on every falcon; `registers/` names it only
 * for the Turing DMEMC.
 */
const AINCR_MASK = 1 << 25;
/**
 * `HWCFG.DMEM_SIZE` 17:9 in 256-byte blocks (nvgpu's `falcon_falcon_hwcfg`,
 * NVIDIA MODS); `registers/` names only IMEM_SIZE 8:0.
 */
const HWCFG_DMEM_SIZE_SHIFT = 9;
/** Both size fields are 9 bits wide. */
const HWCFG_SIZE_LIMIT = 0x1ff;

/** The BROM registers of falcon2 as programmed (GA102+). */
export interface FalconBromRegisters {
  /** `BROM_PARAADDR(0)`: DMEM offset of the signature. */
  pkcDataOffset: number;
  /** `BROM_ENGIDMASK`. */
  engineIdMask: number;
  /** `BROM_CURR_UCODE_ID`. */
  ucodeId: number;
  /** `MOD_SEL` algorithm (1 = RSA3K). */
  modSel: number;
}

/**
 * What the falcon holds when its CPU starts: everything an execution model
 * (the acceptance rules, GSP-RM) may check. Field names match the
 * acceptance rules' `LoadedFalcon` (`imem`, `imemBlocks`, `dmem`,
 * `dmemMethod`, `bootVector`, `brom`), which the wiring completes with the
 * signature fuse.
 */
export interface FalconStart {
  /** The chip. */
  chip: ChipInfo;
  /** The engine. */
  engine: SimFalconEngine;
  /**
   * The core that starts: `falcon`, or `riscv` when GA102+ `RISCV_BCR_CTRL`
   * selects the RISC-V core (or `RISCV_CPUCTL.STARTCPU` started it).
   */
  core: "falcon" | "riscv";
  /** Which register started it. */
  via: "CPUCTL" | "CPUCTL_ALIAS" | "RISCV_CPUCTL";
  /** A copy of the whole IMEM. */
  imem: Uint8Array;
  /** Per physical 256-byte IMEM block: tag, secure, method since reset; `undefined` if never written. */
  imemBlocks: (FalconImemBlock | undefined)[];
  /** A copy of the whole DMEM. */
  dmem: Uint8Array;
  /** Per 256-byte DMEM block: how it was last written since reset. */
  dmemBlocks: (LoadMethod | undefined)[];
  /** Method of the last DMEM write since reset (`pio` when none). */
  dmemMethod: LoadMethod;
  /** BOOTVEC. */
  bootVector: number;
  /** The BROM registers, when any was written since reset (GA102+ only). */
  brom?: FalconBromRegisters;
  /** MAILBOX0 and MAILBOX1 as the host left them. */
  mailbox0: number;
  /** MAILBOX1. */
  mailbox1: number;
  /** `FBIF_TRANSCFG(0..7)` raw values (the generic bootloader DMAs through them). */
  transcfg: number[];
  /** `FBIF_CTL` raw. */
  fbifCtl: number;
  /** `DMACTL` raw (as read). */
  dmactl: number;
  /** `RISCV_BCR_CTRL` raw (GA102+). */
  bcrCtrl?: number;
  /** System memory as the device sees it, for firmware that DMAs more (bootloaders, Booter). */
  dma: DmaView;
  /** Clock time of the start, in ms. */
  time: number;
}

/**
 * What the execution model says the started code does:
 * - `halt`: the CPU halts with MAILBOX0 (and MAILBOX1 when given) after
 *   `afterMs` of clock time from the start (0: at once);
 * - `hang`: it keeps running and never halts (until a reset);
 * - `riscv-active`: the RISC-V core is reported active after `afterMs`
 *   (GSP-RM running), with the mailboxes when given.
 *
 * `effect`, when given, runs when the outcome takes hold, just before the
 * halt or activation: what the firmware did to the rest of the chip (WPR2,
 * scratch registers) becomes visible when it finishes, not when it starts.
 * A save file cannot hold it: an outcome still pending when the GPU is saved
 * is restored without its effect.
 */
export type FalconOutcome =
  | { kind: "halt"; mailbox0: number; mailbox1?: number; afterMs?: number; effect?: () => void }
  | { kind: "hang" }
  | {
    kind: "riscv-active";
    afterMs?: number;
    mailbox0?: number;
    mailbox1?: number;
    effect?: () => void;
  };

/** Modelled times. */
export interface SimFalconTiming {
  /** Memory scrubbing after reset, ms; default 1 µs per 256-byte block of IMEM and DMEM. */
  scrubMs?: number;
  /** How long `ENGINE.RESET` stays set before it clears itself, ms; default 0.01 (10 µs). */
  resetPulseMs?: number;
  /** DMA speed in bytes per ms; default: transfers complete at once. */
  dmaBytesPerMs?: number;
}

/** Options of {@linkcode SimFalcon}. */
export interface SimFalconOptions {
  /** Chip name or chip-table entry. */
  chip: string | ChipInfo;
  /** `GSP` or `SEC2`. */
  engine: SimFalconEngine;
  /** Time for scrubbing, reset pulses, DMA and modelled run times. */
  clock: Clock;
  /** System memory as the device sees it (the DMA engine reads it). */
  memory: DmaView;
  /** The execution model, called at every start. */
  onStart?: (start: FalconStart) => FalconOutcome | Promise<FalconOutcome>;
  /**
   * Told when the falcon is reset (ENGINE, function, bus, power), after its
   * state is cleared: firmware models running on it lose their state.
   */
  onReset?: (kind: SimResetKind) => void;
  /** Override the memory sizes (multiples of 256, at most 511 blocks). */
  imemSize?: number;
  /** Override the DMEM size. */
  dmemSize?: number;
  /** Modelled times. */
  timing?: SimFalconTiming;
  /**
   * Whether another engine holds this falcon's PRIV target mask right now
   * (Hopper: the FSP holds the GSP's until the FMC has started GSP-RM).
   * While it does, every register reads {@linkcode PRIV_TARGET_MASK_READ}
   * and writes are dropped (recorded as violations). Asked at every access.
   */
  privTargetMasked?: () => boolean;
}

/** Counters for accounting and tests. */
export interface SimFalconCounters {
  /** Words written through IMEMD/DMEMD. */
  pioWordsWritten: number;
  /** Words read through IMEMD/DMEMD. */
  pioWordsRead: number;
  /** Bytes the DMA engine read from system memory. */
  dmaBytesRead: number;
  /** Bytes the DMA engine wrote to system memory. */
  dmaBytesWritten: number;
  /** CPU starts. */
  starts: number;
  /** Resets (ENGINE and block resets). */
  resets: number;
}

/** A saved state that does not fit this falcon. */
export class SimFalconStateError extends FalconryError {
  /** The field that is wrong. */
  readonly field: string;

  /**
   * Build it.
   *
   * @param field The field.
   * @param reason What is wrong.
   */
  constructor(field: string, reason: string) {
    super(`falcon state: ${field}: ${reason}`);
    this.field = field;
  }
}

const KiB = 1024;
const SIZE_64K = { imem: 64 * KiB, dmem: 64 * KiB } as const;

/**
 * IMEM and DMEM sizes in bytes, per falcon HAL and engine. Every entry is
 * 64 KiB: the Turing generic bootloader (start tag 253, two blocks, placed
 * at `0x10000 − size` by nova-core and at the top of IMEM as HWCFG reports it
 * by NVIDIA, §13) puts the top of the Turing GSP's IMEM at 64 KiB, and the
 * real images fit (Booter ≤ 60 KiB). No public source gives the other sizes:
 * they are the same assumption, kept as data so that a measured value
 * replaces one entry. Options override them; HWCFG reports what the model has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_MEMORY_SIZES } from "./falcon.ts";
 * assert.equal(FALCON_MEMORY_SIZES.ga102.SEC2.dmem, 0x10000);
 * ```
 */
export const FALCON_MEMORY_SIZES: Readonly<
  Record<FalconHal, Readonly<Record<SimFalconEngine, { imem: number; dmem: number }>>>
> = Object.freeze({
  tu102: { GSP: SIZE_64K, SEC2: SIZE_64K },
  ga102: { GSP: SIZE_64K, SEC2: SIZE_64K },
  gh100: { GSP: SIZE_64K, SEC2: SIZE_64K },
});

/**
 * IMEM and DMEM sizes of a chip's GSP or SEC2 falcon, in bytes (from
 * {@linkcode FALCON_MEMORY_SIZES}).
 *
 * @param chip The chip.
 * @param engine The engine.
 * @returns The sizes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { falconMemorySizes } from "./falcon.ts";
 * assert.deepEqual(falconMemorySizes("tu102", "GSP"), { imem: 0x10000, dmem: 0x10000 });
 * ```
 */
export function falconMemorySizes(
  chip: string | ChipInfo,
  engine: SimFalconEngine,
): { imem: number; dmem: number } {
  return { ...FALCON_MEMORY_SIZES[falconHalOf(chipInfo(chip)).name][engine] };
}

function chipInfo(chip: string | ChipInfo): ChipInfo {
  if (typeof chip !== "string") return chip;
  const info = chipByName(chip);
  if (!info) throw new FalconryError(`SimFalcon: unknown chip ${chip}`);
  return info;
}

function checkSize(what: string, size: number): number {
  const blocks = size / FALCON_BLOCK_SIZE;
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > HWCFG_SIZE_LIMIT) {
    throw new RangeError(
      `SimFalcon: ${what} size ${size} is not 1..${HWCFG_SIZE_LIMIT} blocks of 256 bytes`,
    );
  }
  return size;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown })?.then === "function";
}

/** The largest value a field holds on this chip (`BLK` is 15:8 on Turing, 23:8 later). */
function fieldMax(reg: BoundRegister<string>, name: string): number {
  const field = reg.register.fields.find((f) => f.name === name);
  return field ? 2 ** (field.hi - field.lo + 1) - 1 : 0;
}

function hasField(reg: BoundRegister<string>, name: string): boolean {
  return reg.present && reg.register.fields.some((f) => f.name === name);
}

/** The named fields of a value, unnamed bits dropped. */
function knownBits(reg: BoundRegister<string>, value: number): number {
  const fields: Record<string, number> = { ...reg.decode(value) };
  delete fields.raw;
  return reg.encode(fields);
}

interface Handler {
  read(): number;
  write?(value: number): void;
}

type BaseKind = "falcon" | "falcon2" | "fbif";

interface Pending {
  at: number;
  outcome: FalconOutcome;
}

/** Registers cleared by every reset. */
interface RegisterState {
  mailbox: [number, number];
  os: number;
  rm: number;
  bootVector: number;
  irqStat: number;
  requireCtx: number;
  dmaqNum: number;
  dmaBase: number;
  dmaBase1: number;
  dmaMemoryOffset: number;
  dmaSourceOffset: number;
  dmaCmd: number;
  transcfg: number[];
  fbifCtl: number;
  bromParaAddr: number;
  bromEngIdMask: number;
  bromUcodeId: number;
  modSel: number;
  bromWritten: boolean;
  coreSelect: number;
  brFetch: number;
  bcrValid: number;
  aliasEnabled: boolean;
}

function freshRegisters(): RegisterState {
  return {
    mailbox: [0, 0],
    os: 0,
    rm: 0,
    bootVector: 0,
    irqStat: 0,
    requireCtx: 1,
    dmaqNum: 0,
    dmaBase: 0,
    dmaBase1: 0,
    dmaMemoryOffset: 0,
    dmaSourceOffset: 0,
    dmaCmd: 0,
    transcfg: new Array(8).fill(0),
    fbifCtl: 0,
    bromParaAddr: 0,
    bromEngIdMask: 0,
    bromUcodeId: 0,
    modSel: 0,
    bromWritten: false,
    coreSelect: 1,
    brFetch: 0,
    bcrValid: 0,
    aliasEnabled: false,
  };
}

/**
 * One simulated falcon engine: a {@linkcode SimBlock} for the bus, plus the
 * hooks execution models use ({@linkcode SimFalcon.firmwareHalt},
 * {@linkcode SimFalcon.activateRiscv}, …) and the state tests and
 * `residue()` inspect.
 *
 * @example DMA from an unmapped IOVA stops the falcon
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_HALT_CODE, SimFalcon } from "./falcon.ts";
 * import { SystemMemory } from "./system_memory.ts";
 * import { ManualClock } from "../pci/clock.ts";
 * import { falconRegisters } from "../registers/bind.ts";
 *
 * const falcon = new SimFalcon({
 *   chip: "ga102", engine: "GSP", clock: new ManualClock(), memory: new SystemMemory(),
 * });
 * const r = falconRegisters("ga102", "GSP");
 * falcon.write(r.FBIF_CTL.address, r.FBIF_CTL.encode({ ALLOW_PHYS_NO_CTX: 1 }));
 * falcon.write(r.DMACTL.address, 0);
 * falcon.write(r.FBIF_TRANSCFG.at(0).address, r.FBIF_TRANSCFG.encode({ TARGET: 1, MEM_TYPE: 1 }));
 * falcon.write(r.DMATRFBASE.address, 0x1000);
 * falcon.write(r.DMATRFCMD.address, r.DMATRFCMD.encode({ SIZE: 6, IMEM: 1 }));
 * assert.equal(falcon.read(r.MAILBOX0.address), FALCON_HALT_CODE.dmaFault);
 * assert.equal(falcon.dmaError?.iova, 0x100000n);
 * ```
 */
export class SimFalcon implements SimBlock {
  /** `GSP falcon` or `SEC2 falcon`. */
  readonly name: string;
  /** The BAR0 ranges decoded: falcon, falcon2 (if any), FBIF. */
  readonly ranges: readonly SimRange[];
  /** The chip. */
  readonly chip: ChipInfo;
  /** The engine. */
  readonly engine: SimFalconEngine;
  /** IMEM bytes. */
  readonly imemSize: number;
  /** DMEM bytes. */
  readonly dmemSize: number;

  readonly #regs: FalconRegisters;
  readonly #clock: Clock;
  readonly #dma: DmaView;
  readonly #onStart?: SimFalconOptions["onStart"];
  readonly #onReset?: SimFalconOptions["onReset"];
  readonly #privTargetMasked?: () => boolean;
  readonly #scrubMs: number;
  readonly #resetPulseMs: number;
  readonly #dmaBytesPerMs?: number;
  readonly #hal: ReturnType<typeof falconHalOf>;
  readonly #handlers = new Map<number, Handler>();
  readonly #names = new Map<number, string>();

  readonly #imem: FalconMemory;
  readonly #dmem: FalconMemory;
  #imemPorts: PioPort[] = [];
  #dmemPorts: PioPort[] = [];
  #r: RegisterState = freshRegisters();
  #cpu: "halted" | "running" = "halted";
  #riscv: "off" | "active" | "halted" = "off";
  #resetAsserted = false;
  #resetReleaseAt: number | undefined;
  #scrubUntil = -Infinity;
  #dmaBusyUntil = -Infinity;
  #dmaError: DmaError | undefined;
  #pending: Pending | undefined;
  #generation = 0;
  #settling: Promise<void> = Promise.resolve();
  #wasResetSinceStart = true;
  #lockdown = false;
  #lastStart: FalconStart | undefined;
  #violations: string[] = [];
  #counters: SimFalconCounters = {
    pioWordsWritten: 0,
    pioWordsRead: 0,
    dmaBytesRead: 0,
    dmaBytesWritten: 0,
    starts: 0,
    resets: 0,
  };

  /**
   * Build the falcon, powered on and scrubbed, its CPU halted.
   *
   * @param options Chip, engine, clock, system memory, execution model.
   * @throws {FalconryError} For an unknown chip.
   * @throws {RangeError} For memory sizes HWCFG cannot report or bad timings.
   */
  constructor(options: SimFalconOptions) {
    this.chip = chipInfo(options.chip);
    this.engine = options.engine;
    this.name = `${options.engine} falcon`;
    this.#regs = falconRegisters(this.chip, options.engine);
    this.#hal = falconHalOf(this.chip);
    this.#clock = options.clock;
    this.#dma = options.memory;
    this.#onStart = options.onStart;
    this.#onReset = options.onReset;
    this.#privTargetMasked = options.privTargetMasked;
    const sizes = falconMemorySizes(this.chip, options.engine);
    this.imemSize = checkSize("IMEM", options.imemSize ?? sizes.imem);
    this.dmemSize = checkSize("DMEM", options.dmemSize ?? sizes.dmem);
    this.#imem = new FalconMemory(this.imemSize);
    this.#dmem = new FalconMemory(this.dmemSize);
    const timing = options.timing ?? {};
    this.#scrubMs = timing.scrubMs ?? (this.imemSize + this.dmemSize) / FALCON_BLOCK_SIZE / 1000;
    this.#resetPulseMs = timing.resetPulseMs ?? 0.01;
    this.#dmaBytesPerMs = timing.dmaBytesPerMs;
    for (const [what, ms] of [["scrubMs", this.#scrubMs], ["resetPulseMs", this.#resetPulseMs]]) {
      if (!(Number(ms) >= 0) || ms === Infinity) {
        throw new RangeError(`SimFalcon: timing.${what} ${ms} is not a finite delay ≥ 0`);
      }
    }
    if (this.#dmaBytesPerMs !== undefined && !(this.#dmaBytesPerMs > 0)) {
      throw new RangeError(`SimFalcon: timing.dmaBytesPerMs ${this.#dmaBytesPerMs} is not > 0`);
    }
    this.#clearState();
    this.ranges = this.#installHandlers();
  }

  // ---------------------------------------------------------------------------------------------
  // SimBlock

  /**
   * Read a register.
   *
   * @param offset BAR0 offset inside {@linkcode SimFalcon.ranges}.
   * @returns The value, or `undefined` for an offset the falcon does not model.
   */
  read(offset: number): number | undefined {
    const handler = this.#handlers.get(offset);
    if (!handler) return undefined;
    if (this.#privTargetMasked?.()) return PRIV_TARGET_MASK_READ;
    this.#tick();
    return handler.read() >>> 0;
  }

  /**
   * Write a register. A write to a read-only register is dropped and
   * recorded as a violation (it still counts as modelled).
   *
   * @param offset BAR0 offset inside {@linkcode SimFalcon.ranges}.
   * @param value The 32-bit value.
   * @returns `false` for an offset the falcon does not model.
   */
  write(offset: number, value: number): boolean {
    const handler = this.#handlers.get(offset);
    if (!handler) return false;
    if (this.#privTargetMasked?.()) {
      this.#violation(
        `write 0x${(value >>> 0).toString(16)} to 0x${hex(offset)} while the PRIV target mask ` +
          "is held (the FSP owns the GSP until the FMC has started GSP-RM)",
      );
      return true;
    }
    this.#tick();
    if (handler.write) handler.write(value >>> 0);
    else this.#violation(`write 0x${(value >>> 0).toString(16)} to read-only 0x${hex(offset)}`);
    return true;
  }

  /**
   * The name of the register the falcon models at an offset (for the bus's
   * access log), e.g. `GSP.NV_PFALCON_FALCON_IMEMC(0)`.
   *
   * @param offset BAR0 byte offset.
   * @returns The name, or `undefined` when nothing is modelled there.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SimFalcon } from "./falcon.ts";
   * import { SystemMemory } from "./system_memory.ts";
   * import { ManualClock } from "../pci/clock.ts";
   * import { falconRegisters } from "../registers/bind.ts";
   * const falcon = new SimFalcon({
   *   chip: "tu102", engine: "GSP", clock: new ManualClock(), memory: new SystemMemory(),
   * });
   * const r = falconRegisters("tu102", "GSP");
   * assert.equal(falcon.registerName(r.IMEMD.at(2).address), "GSP.NV_PFALCON_FALCON_IMEMD(2)");
   * assert.equal(falcon.registerName(r.IRQSTAT.address + 4), undefined);
   * ```
   */
  registerName(offset: number): string | undefined {
    return this.#names.get(offset);
  }

  /**
   * Apply a reset: every kind clears this falcon (memories, registers, CPU,
   * RISC-V, a DMA error) and starts scrubbing; `function`, `bus` and `power`
   * also drop the GH100 lockdown bit.
   *
   * @param kind Which reset.
   */
  reset(kind: SimResetKind): void {
    this.#assertReset(`${kind} reset`, kind);
    this.#releaseReset(this.#clock.now());
    if (kind !== "engine") this.#lockdown = false;
  }

  // ---------------------------------------------------------------------------------------------
  // State for residue and tests

  /** The CPU runs (started and not halted; includes a hang and an active RISC-V core). */
  get isRunning(): boolean {
    this.#tick();
    return this.#cpu === "running";
  }

  /** `CPUCTL.HALTED`. */
  get isHalted(): boolean {
    this.#tick();
    return this.#cpu === "halted";
  }

  /** The RISC-V core is active (GSP-RM running). */
  get riscvActive(): boolean {
    this.#tick();
    return this.#riscv === "active";
  }

  /** No start since the last reset (true for a falcon never started). */
  get wasResetSinceStart(): boolean {
    return this.#wasResetSinceStart;
  }

  /** `ENGINE.RESET` is asserted. */
  get inReset(): boolean {
    this.#tick();
    return this.#resetAsserted;
  }

  /** Memory scrubbing runs (after a reset). */
  get isScrubbing(): boolean {
    this.#tick();
    return this.#scrubbing(this.#clock.now());
  }

  /** Why the DMA engine stopped the falcon, until the next reset. */
  get dmaError(): DmaError | undefined {
    return this.#dmaError;
  }

  /** The last start's record. */
  get lastStart(): FalconStart | undefined {
    return this.#lastStart;
  }

  /** Host accesses the hardware ignores or refuses, in order. */
  get violations(): readonly string[] {
    return this.#violations;
  }

  /** PIO, DMA, start and reset counts. */
  get counters(): Readonly<SimFalconCounters> {
    return { ...this.#counters };
  }

  /** MAILBOX0 and MAILBOX1. */
  get mailboxes(): [number, number] {
    this.#tick();
    return [this.#r.mailbox[0], this.#r.mailbox[1]];
  }

  /** A copy of IMEM. */
  imemSnapshot(): Uint8Array {
    return this.#imem.bytes.slice();
  }

  /** A copy of DMEM. */
  dmemSnapshot(): Uint8Array {
    return this.#dmem.bytes.slice();
  }

  /** Per IMEM block: tag, secure, method since reset. */
  imemBlocks(): (FalconImemBlock | undefined)[] {
    return this.#imem.blocks.map((b) => (b ? { ...b } : undefined));
  }

  /** Per DMEM block: the method of its last write since reset. */
  dmemBlocks(): (LoadMethod | undefined)[] {
    return this.#dmem.blocks.map((b) => b?.method);
  }

  /**
   * Resolves once an asynchronous `onStart` has returned its outcome (at
   * once when none is pending).
   */
  settled(): Promise<void> {
    return this.#settling;
  }

  // ---------------------------------------------------------------------------------------------
  // Hooks for execution models (firmware effects)

  /**
   * The running code halts now (GSP-RM after unload, a firmware model's own
   * timing). An active RISC-V core halts too.
   *
   * @param mailbox0 MAILBOX0 to leave, if any.
   * @param mailbox1 MAILBOX1 to leave, if any.
   */
  firmwareHalt(mailbox0?: number, mailbox1?: number): void {
    this.#tick();
    this.#generation++;
    this.#pending = undefined;
    this.#halt(mailbox0, mailbox1);
  }

  /**
   * Start this engine's RISC-V core as firmware does (Booter starting GSP-RM
   * on the GSP): the core runs and reports active.
   */
  activateRiscv(): void {
    this.#tick();
    this.#cpu = "running";
    this.#riscv = "active";
    this.#wasResetSinceStart = false;
    log.debug("{engine}: RISC-V active", { engine: this.engine });
  }

  /**
   * Firmware writes a mailbox.
   *
   * @param index 0 or 1.
   * @param value The value.
   */
  writeMailbox(index: 0 | 1, value: number): void {
    this.#r.mailbox[index] = value >>> 0;
  }

  /**
   * Firmware raises SWGEN0 (GSP-RM: a message is queued).
   */
  raiseSwgen0(): void {
    this.#r.irqStat = this.#regs.IRQSTAT.update(this.#r.irqStat, { SWGEN0: 1 });
  }

  /**
   * Firmware writes DMEM (results a firmware model leaves behind).
   *
   * @param offset DMEM byte offset.
   * @param bytes What to write.
   * @throws {RangeError} When the bytes do not fit.
   */
  firmwareWriteDmem(offset: number, bytes: Uint8Array): void {
    if (!this.#dmem.contains(offset, bytes.length)) {
      throw new RangeError(`firmwareWriteDmem: ${bytes.length} bytes at ${offset} do not fit`);
    }
    this.#dmem.bytes.set(bytes, offset);
  }

  /**
   * Firmware enables or disables `CPUCTL_ALIAS` (`CPUCTL.ALIAS_EN`).
   *
   * @param enabled The new state.
   */
  setAliasEnabled(enabled: boolean): void {
    this.#r.aliasEnabled = enabled;
  }

  /**
   * The FSP sets or releases `HWCFG2.RISCV_BR_PRIV_LOCKDOWN` (GH100 layout only).
   *
   * @param locked The new state.
   */
  setPrivLockdown(locked: boolean): void {
    this.#lockdown = locked;
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence

  /**
   * The falcon's state as plain JSON-able data (memories in base64, times
   * relative to now).
   *
   * @returns The state.
   */
  snapshot(): unknown {
    const now = this.#tick();
    const rel = (t: number | undefined) =>
      t === undefined || t === -Infinity ? null : Math.max(0, t - now);
    return {
      version: 1,
      chip: this.chip.name,
      engine: this.engine,
      imem: Buffer.from(this.#imem.bytes).toString("base64"),
      imemBlocks: this.#imem.blocks.map((b) => b ?? null),
      imemLast: this.#imem.lastMethod ?? null,
      dmem: Buffer.from(this.#dmem.bytes).toString("base64"),
      dmemBlocks: this.#dmem.blocks.map((b) => b?.method ?? null),
      dmemLast: this.#dmem.lastMethod ?? null,
      imemPorts: this.#imemPorts.map((p) => ({ ...p })),
      dmemPorts: this.#dmemPorts.map((p) => ({ ...p })),
      registers: { ...this.#r, mailbox: [...this.#r.mailbox], transcfg: [...this.#r.transcfg] },
      cpu: this.#cpu,
      riscv: this.#riscv,
      resetAsserted: this.#resetAsserted,
      resetReleaseInMs: rel(this.#resetReleaseAt),
      scrubRemainingMs: rel(this.#scrubUntil),
      dmaBusyRemainingMs: rel(this.#dmaBusyUntil),
      dmaError: this.#dmaError
        ? { ...this.#dmaError, iova: this.#dmaError.iova?.toString() ?? null }
        : null,
      pending: this.#pending
        ? { inMs: Math.max(0, this.#pending.at - now), outcome: this.#pending.outcome }
        : null,
      wasResetSinceStart: this.#wasResetSinceStart,
      lockdown: this.#lockdown,
      violations: [...this.#violations],
      counters: { ...this.#counters },
    };
  }

  /**
   * Restore a state from {@linkcode SimFalcon.snapshot} of a falcon of the
   * same chip, engine and sizes. An asynchronous start still pending when it
   * was saved is lost: the falcon keeps running as if hung.
   *
   * @param state The saved state.
   * @throws {SimFalconStateError} When it does not fit.
   */
  restore(state: unknown): void {
    const s = state as Record<string, unknown>;
    const need = (cond: boolean, field: string, reason: string) => {
      if (!cond) throw new SimFalconStateError(field, reason);
    };
    need(typeof s === "object" && s !== null, "state", "not an object");
    need(s.version === 1, "version", `${s.version} is not 1`);
    need(s.chip === this.chip.name, "chip", `${s.chip} is not ${this.chip.name}`);
    need(s.engine === this.engine, "engine", `${s.engine} is not ${this.engine}`);
    const imem = Buffer.from(String(s.imem), "base64");
    const dmem = Buffer.from(String(s.dmem), "base64");
    need(imem.length === this.imemSize, "imem", `${imem.length} bytes, not ${this.imemSize}`);
    need(dmem.length === this.dmemSize, "dmem", `${dmem.length} bytes, not ${this.dmemSize}`);
    const imemBlocks = s.imemBlocks as (FalconImemBlock | null)[];
    const dmemBlocks = s.dmemBlocks as (LoadMethod | null)[];
    need(
      Array.isArray(imemBlocks) && imemBlocks.length === this.#imem.blocks.length,
      "imemBlocks",
      "wrong length",
    );
    need(
      Array.isArray(dmemBlocks) && dmemBlocks.length === this.#dmem.blocks.length,
      "dmemBlocks",
      "wrong length",
    );
    const ports = [s.imemPorts, s.dmemPorts] as PioPort[][];
    need(
      Array.isArray(ports[0]) && ports[0].length === this.#imemPorts.length,
      "imemPorts",
      "wrong length",
    );
    need(
      Array.isArray(ports[1]) && ports[1].length === this.#dmemPorts.length,
      "dmemPorts",
      "wrong length",
    );
    const registers = s.registers as RegisterState;
    need(
      typeof registers === "object" && registers !== null && Array.isArray(registers.mailbox) &&
        Array.isArray(registers.transcfg) && registers.transcfg.length === 8,
      "registers",
      "missing or malformed",
    );
    need(["halted", "running"].includes(s.cpu as string), "cpu", `${s.cpu}`);
    need(["off", "active", "halted"].includes(s.riscv as string), "riscv", `${s.riscv}`);
    const now = this.#clock.now();
    const abs = (v: unknown) => (typeof v === "number" ? now + v : undefined);
    this.#imem.bytes.set(imem);
    this.#imem.blocks = imemBlocks.map((b) => (b ? { ...b } : undefined));
    this.#imem.lastMethod = (s.imemLast as LoadMethod | null) ?? undefined;
    this.#dmem.bytes.set(dmem);
    this.#dmem.blocks = dmemBlocks.map((
      m,
    ) => (m ? { tag: 0, secure: false, method: m } : undefined));
    this.#dmem.lastMethod = (s.dmemLast as LoadMethod | null) ?? undefined;
    this.#imemPorts = (s.imemPorts as PioPort[]).map((p) => Object.assign(new PioPort(), p));
    this.#dmemPorts = (s.dmemPorts as PioPort[]).map((p) => Object.assign(new PioPort(), p));
    this.#r = {
      ...freshRegisters(),
      ...registers,
      mailbox: [registers.mailbox[0] >>> 0, registers.mailbox[1] >>> 0],
      transcfg: [...registers.transcfg],
    };
    this.#cpu = s.cpu as "halted" | "running";
    this.#riscv = s.riscv as "off" | "active" | "halted";
    this.#resetAsserted = s.resetAsserted === true;
    this.#resetReleaseAt = abs(s.resetReleaseInMs);
    this.#scrubUntil = abs(s.scrubRemainingMs) ?? -Infinity;
    this.#dmaBusyUntil = abs(s.dmaBusyRemainingMs) ?? -Infinity;
    const dmaError = s.dmaError as (DmaError & { iova: string | null }) | null;
    this.#dmaError = dmaError
      ? {
        reason: dmaError.reason,
        ...(dmaError.iova !== null ? { iova: BigInt(dmaError.iova) } : {}),
        ...(dmaError.length !== undefined ? { length: dmaError.length } : {}),
      }
      : undefined;
    const pending = s.pending as { inMs: number; outcome: FalconOutcome } | null;
    this.#generation++;
    this.#pending = pending ? { at: now + pending.inMs, outcome: pending.outcome } : undefined;
    this.#settling = Promise.resolve();
    this.#wasResetSinceStart = s.wasResetSinceStart === true;
    this.#lockdown = s.lockdown === true;
    this.#violations = [...(s.violations as string[] ?? [])];
    this.#counters = { ...this.#counters, ...(s.counters as SimFalconCounters) };
  }

  // ---------------------------------------------------------------------------------------------
  // Time, reset, start, halt

  #tick(): number {
    const now = this.#clock.now();
    if (this.#resetAsserted && this.#resetReleaseAt !== undefined && now >= this.#resetReleaseAt) {
      this.#releaseReset(this.#resetReleaseAt);
    }
    const pending = this.#pending;
    if (pending && pending.at <= now) {
      this.#pending = undefined;
      this.#apply(pending.outcome);
    }
    return now;
  }

  #scrubbing(now: number): boolean {
    return this.#resetAsserted || now < this.#scrubUntil;
  }

  /** Memories and ports are unusable: in reset or scrubbing. */
  #locked(what: string): boolean {
    const now = this.#clock.now();
    if (!this.#scrubbing(now)) return false;
    this.#violation(`${what} ${this.#resetAsserted ? "in reset" : "during memory scrubbing"}`);
    return true;
  }

  #clearState(): void {
    this.#imem.clear();
    this.#dmem.clear();
    this.#imemPorts = Array.from({ length: this.#regs.IMEMC.count }, () => new PioPort());
    this.#dmemPorts = Array.from({ length: this.#regs.DMEMC.count }, () => new PioPort());
    this.#r = freshRegisters();
    this.#cpu = "halted";
    this.#riscv = "off";
    this.#dmaBusyUntil = -Infinity;
    this.#dmaError = undefined;
    this.#pending = undefined;
    this.#generation++;
    this.#settling = Promise.resolve();
  }

  #assertReset(why: string, kind: SimResetKind): void {
    this.#clearState();
    this.#resetAsserted = true;
    this.#resetReleaseAt = this.#clock.now() + this.#resetPulseMs;
    this.#wasResetSinceStart = true;
    this.#counters.resets++;
    log.debug("{engine}: {why}", { engine: this.engine, why });
    this.#onReset?.(kind);
  }

  #releaseReset(at: number): void {
    this.#resetAsserted = false;
    this.#resetReleaseAt = undefined;
    this.#scrubUntil = at + this.#scrubMs;
  }

  #start(via: FalconStart["via"], core: FalconStart["core"]): void {
    const now = this.#clock.now();
    if (this.#locked(`${via}.STARTCPU`)) return;
    if (this.#dmaError) {
      this.#violation(`${via}.STARTCPU after a DMA error (${this.#dmaError.reason})`);
      return;
    }
    if (this.#cpu === "running") {
      this.#violation(`${via}.STARTCPU while the CPU runs`);
      return;
    }
    this.#cpu = "running";
    this.#wasResetSinceStart = false;
    this.#counters.starts++;
    const generation = ++this.#generation;
    const start = this.#startRecord(via, core, now);
    this.#lastStart = start;
    log.debug("{engine}: start via {via} on the {core} core at BOOTVEC {bootVector}", {
      engine: this.engine,
      via,
      core,
      bootVector: start.bootVector,
    });
    if (!this.#onStart) {
      this.#apply({ kind: "halt", mailbox0: FALCON_HALT_CODE.noFirmware });
      return;
    }
    let result: FalconOutcome | Promise<FalconOutcome>;
    try {
      result = this.#onStart(start);
    } catch (error) {
      this.#modelFailed(error, generation);
      return;
    }
    if (isPromiseLike(result)) {
      this.#settling = Promise.resolve(result).then(
        (outcome) => this.#schedule(outcome, generation, now),
        (error) => this.#modelFailed(error, generation),
      );
    } else {
      this.#schedule(result, generation, now);
    }
  }

  #schedule(outcome: FalconOutcome, generation: number, startedAt: number): void {
    if (generation !== this.#generation) return;
    if (outcome.kind === "hang") return;
    const afterMs = outcome.afterMs ?? 0;
    if (!(afterMs >= 0) || afterMs === Infinity) {
      this.#modelFailed(new RangeError(`outcome afterMs ${afterMs}`), generation);
      return;
    }
    const at = startedAt + afterMs;
    if (at <= this.#clock.now()) this.#apply(outcome);
    else this.#pending = { at, outcome };
  }

  #modelFailed(error: unknown, generation: number): void {
    log.error("{engine}: the execution model failed: {error}", { engine: this.engine, error });
    if (generation !== this.#generation) return;
    this.#violation(`execution model failed: ${error instanceof Error ? error.message : error}`);
    this.#halt(FALCON_HALT_CODE.modelError);
  }

  #apply(outcome: FalconOutcome): void {
    if (outcome.kind !== "hang") outcome.effect?.();
    if (outcome.kind === "halt") {
      this.#halt(outcome.mailbox0, outcome.mailbox1);
    } else if (outcome.kind === "riscv-active") {
      if (outcome.mailbox0 !== undefined) this.#r.mailbox[0] = outcome.mailbox0 >>> 0;
      if (outcome.mailbox1 !== undefined) this.#r.mailbox[1] = outcome.mailbox1 >>> 0;
      this.#riscv = "active";
      log.debug("{engine}: RISC-V active", { engine: this.engine });
    }
  }

  #halt(mailbox0?: number, mailbox1?: number): void {
    if (mailbox0 !== undefined) this.#r.mailbox[0] = mailbox0 >>> 0;
    if (mailbox1 !== undefined) this.#r.mailbox[1] = mailbox1 >>> 0;
    this.#cpu = "halted";
    if (this.#riscv === "active") this.#riscv = "halted";
    this.#r.irqStat = this.#regs.IRQSTAT.update(this.#r.irqStat, { HALT: 1 });
    log.debug("{engine}: halted, MAILBOX0 {mailbox0}", {
      engine: this.engine,
      mailbox0: this.#r.mailbox[0],
    });
  }

  #startRecord(via: FalconStart["via"], core: FalconStart["core"], now: number): FalconStart {
    const r = this.#r;
    return {
      chip: this.chip,
      engine: this.engine,
      core,
      via,
      imem: this.imemSnapshot(),
      imemBlocks: this.imemBlocks(),
      dmem: this.dmemSnapshot(),
      dmemBlocks: this.dmemBlocks(),
      dmemMethod: this.#dmem.lastMethod ?? "pio",
      bootVector: r.bootVector,
      ...(r.bromWritten
        ? {
          brom: {
            pkcDataOffset: r.bromParaAddr,
            engineIdMask: r.bromEngIdMask,
            ucodeId: r.bromUcodeId,
            modSel: r.modSel,
          },
        }
        : {}),
      mailbox0: r.mailbox[0],
      mailbox1: r.mailbox[1],
      transcfg: [...r.transcfg],
      fbifCtl: r.fbifCtl,
      dmactl: this.#dmactl(),
      ...(this.#regs.RISCV_BCR_CTRL.present ? { bcrCtrl: this.#bcrCtrl() } : {}),
      dma: this.#dma,
      time: now,
    };
  }

  #violation(what: string): void {
    this.#violations.push(what);
    log.warn("{falcon}: {what}", { falcon: this.name, what });
  }

  // ---------------------------------------------------------------------------------------------
  // Register behaviour

  #dmactl(): number {
    const scrubbing = this.#scrubbing(this.#clock.now()) ? 1 : 0;
    return this.#regs.DMACTL.encode({
      REQUIRE_CTX: this.#r.requireCtx,
      DMEM_SCRUBBING: scrubbing,
      IMEM_SCRUBBING: scrubbing,
      DMAQ_NUM: this.#r.dmaqNum,
    });
  }

  #bcrCtrl(): number {
    return this.#regs.RISCV_BCR_CTRL.encode({
      VALID: this.#r.bcrValid,
      CORE_SELECT: this.#r.coreSelect,
      BRFETCH: this.#r.brFetch,
    });
  }

  #hwcfg2(): number {
    const reg = this.#regs.HWCFG2;
    const now = this.#clock.now();
    const riscv = this.engine === "GSP" || this.#regs.RISCV_BCR_CTRL.present ? 1 : 0;
    const fields: Record<string, number> = { RISCV: riscv };
    if (hasField(reg, "MEM_SCRUBBING")) fields.MEM_SCRUBBING = this.#scrubbing(now) ? 1 : 0;
    if (hasField(reg, "RESET_READY")) fields.RESET_READY = now < this.#dmaBusyUntil ? 0 : 1;
    if (hasField(reg, "RISCV_BR_PRIV_LOCKDOWN")) {
      fields.RISCV_BR_PRIV_LOCKDOWN = this.#lockdown ? 1 : 0;
    }
    return reg.encode(fields);
  }

  /** CPUCTL by `HALTED | ALIAS_EN << 1`: a halt poll reads it thousands of times per start. */
  readonly #cpuctlValues: number[] = [];

  #cpuctl(): number {
    const key = (this.#cpu === "halted" ? 1 : 0) | (this.#r.aliasEnabled ? 2 : 0);
    return this.#cpuctlValues[key] ??= this.#regs.CPUCTL.encode({
      HALTED: key & 1,
      ALIAS_EN: key >> 1,
    });
  }

  #engine(): number {
    const reg = this.#regs.ENGINE;
    const fields: Record<string, number> = { RESET: this.#resetAsserted ? 1 : 0 };
    // GH100 layout: RESET_STATUS 0 = ASSERTED, 2 = DEASSERTED.
    if (hasField(reg, "RESET_STATUS")) fields.RESET_STATUS = this.#resetAsserted ? 0 : 2;
    return reg.encode(fields);
  }

  #writeEngine(value: number): void {
    const reset = this.#regs.ENGINE.decode(value).RESET;
    if (reset === 1 && !this.#resetAsserted) this.#assertReset("ENGINE.RESET asserted", "engine");
    else if (reset === 0 && this.#resetAsserted) this.#releaseReset(this.#clock.now());
  }

  #writeDmaCmd(value: number): void {
    if (this.#locked("DMATRFCMD")) return;
    if (this.#dmaError) {
      this.#violation(`DMATRFCMD after a DMA error (${this.#dmaError.reason})`);
      return;
    }
    const now = this.#clock.now();
    if (now < this.#dmaBusyUntil) {
      this.#violation("DMATRFCMD while a transfer is in flight");
      return;
    }
    const cmd = this.#regs.DMATRFCMD.decode(value);
    this.#r.dmaCmd = knownBits(this.#regs.DMATRFCMD, value);
    const transcfg = this.#regs.FBIF_TRANSCFG.decode(this.#r.transcfg[cmd.CTXDMA] ?? 0);
    const result = runDmaTransfer(
      {
        requireCtx: this.#r.requireCtx,
        allowPhysNoCtx: this.#regs.FBIF_CTL.decode(this.#r.fbifCtl).ALLOW_PHYS_NO_CTX,
        transcfg,
        cmd,
        base: this.#r.dmaBase,
        base1: this.#r.dmaBase1,
        memoryOffset: this.#r.dmaMemoryOffset,
        sourceOffset: this.#r.dmaSourceOffset,
      },
      { imem: this.#imem, dmem: this.#dmem },
      this.#dma,
    );
    if (!result.ok) {
      const { ok: _, ...error } = result;
      this.#dmaError = error;
      this.#dmaBusyUntil = Infinity;
      this.#generation++;
      this.#pending = undefined;
      this.#violation(`DMA stopped: ${error.reason}`);
      this.#halt(FALCON_HALT_CODE.dmaFault);
      return;
    }
    if (result.direction === "read") this.#counters.dmaBytesRead += result.bytes;
    else this.#counters.dmaBytesWritten += result.bytes;
    if (this.#dmaBytesPerMs !== undefined) {
      this.#dmaBusyUntil = now + result.bytes / this.#dmaBytesPerMs;
    }
  }

  #dmaCmdRead(): number {
    const idle = this.#clock.now() >= this.#dmaBusyUntil ? 1 : 0;
    return this.#regs.DMATRFCMD.update(this.#r.dmaCmd, { FULL: 0, IDLE: idle });
  }

  #memControlRead(reg: BoundRegister<string>, port: PioPort, withSecure: boolean): number {
    const fields: Record<string, number> = {
      OFFS: (port.address >>> 2) & fieldMax(reg, "OFFS"),
      BLK: Math.floor(port.address / FALCON_BLOCK_SIZE) & fieldMax(reg, "BLK"),
      AINCW: port.incrementOnWrite ? 1 : 0,
    };
    if (withSecure) fields.SECURE = port.secure ? 1 : 0;
    return (reg.encode(fields) | (port.incrementOnRead ? AINCR_MASK : 0)) >>> 0;
  }

  #memControlWrite(reg: BoundRegister<string>, port: PioPort, value: number): void {
    const v = reg.decode(value) as unknown as Record<string, number>;
    port.address = v.BLK * FALCON_BLOCK_SIZE + v.OFFS * 4;
    port.incrementOnWrite = v.AINCW === 1;
    port.incrementOnRead = (value & AINCR_MASK) !== 0;
    if ("SECURE" in v) port.secure = v.SECURE === 1;
  }

  #dataWrite(memory: FalconMemory, port: PioPort, what: string, value: number, imem: boolean) {
    if (this.#locked(`${what} write`)) return;
    if (memory.contains(port.address, 4)) {
      memory.writeWord(port.address, value, {
        tag: imem ? port.tag : 0,
        secure: imem ? port.secure : false,
        method: "pio",
      });
      this.#counters.pioWordsWritten++;
    } else {
      this.#violation(
        `${what} write at 0x${hex(port.address)} past the end (0x${hex(memory.size)})`,
      );
    }
    if (port.incrementOnWrite) port.address += 4;
  }

  #dataRead(memory: FalconMemory, port: PioPort, what: string, imem: boolean): number {
    if (this.#locked(`${what} read`)) return 0;
    let value = 0;
    if (memory.contains(port.address, 4)) {
      value = imem && memory.blockAt(port.address)?.secure
        ? SECURE_IMEM_READ
        : memory.readWord(port.address);
      this.#counters.pioWordsRead++;
    } else {
      this.#violation(
        `${what} read at 0x${hex(port.address)} past the end (0x${hex(memory.size)})`,
      );
    }
    if (port.incrementOnRead) port.address += 4;
    return value;
  }

  #startcpuBy(via: "CPUCTL" | "CPUCTL_ALIAS", value: number): void {
    const reg = via === "CPUCTL" ? this.#regs.CPUCTL : this.#regs.CPUCTL_ALIAS;
    if (reg.decode(value).STARTCPU !== 1) return;
    const aliasPath = via === "CPUCTL_ALIAS";
    if (aliasPath !== this.#r.aliasEnabled) {
      this.#violation(
        `${via}.STARTCPU ignored: CPUCTL.ALIAS_EN is ${this.#r.aliasEnabled ? 1 : 0}`,
      );
      return;
    }
    const core = this.#hal.selectsCore && this.#r.coreSelect === 1 ? "riscv" : "falcon";
    this.#start(via, core);
  }

  /** Wire every modelled register to its behaviour; returns the ranges they span. */
  #installHandlers(): SimRange[] {
    const r = this.#regs;
    const spans = new Map<BaseKind, { start: number; end: number }>();
    const on = (reg: BoundRegister<string>, handler: Handler | ((i: number) => Handler)) => {
      if (!reg.present) return;
      const kind = reg.register.base as BaseKind;
      for (let i = 0; i < reg.count; i++) {
        const address = reg.at(i).address;
        this.#handlers.set(address, typeof handler === "function" ? handler(i) : handler);
        this.#names.set(address, reg.at(i).name);
        const span = spans.get(kind) ?? { start: address, end: address + 4 };
        spans.set(kind, {
          start: Math.min(span.start, address),
          end: Math.max(span.end, address + 4),
        });
      }
    };
    const store = (
      reg: BoundRegister<string>,
      get: () => number,
      set: (v: number) => void,
    ): Handler => ({ read: get, write: (v) => set(knownBits(reg, v)) });

    on(r.IRQSTAT, { read: () => this.#r.irqStat });
    on(r.IRQSCLR, {
      read: () => 0,
      write: (v) => {
        this.#r.irqStat = (this.#r.irqStat & ~knownBits(r.IRQSCLR, v)) >>> 0;
      },
    });
    on(r.MAILBOX0, { read: () => this.#r.mailbox[0], write: (v) => (this.#r.mailbox[0] = v) });
    on(r.MAILBOX1, { read: () => this.#r.mailbox[1], write: (v) => (this.#r.mailbox[1] = v) });
    on(r.OS, { read: () => this.#r.os, write: (v) => (this.#r.os = v) });
    on(r.RM, { read: () => this.#r.rm, write: (v) => (this.#r.rm = v) });
    on(r.HWCFG2, { read: () => this.#hwcfg2() });
    on(r.HWCFG, {
      read: () =>
        (r.HWCFG.encode({ IMEM_SIZE: this.imemSize / FALCON_BLOCK_SIZE }) |
          ((this.dmemSize / FALCON_BLOCK_SIZE) << HWCFG_DMEM_SIZE_SHIFT)) >>> 0,
    });
    on(r.CPUCTL, { read: () => this.#cpuctl(), write: (v) => this.#startcpuBy("CPUCTL", v) });
    on(r.CPUCTL_ALIAS, {
      read: () => 0,
      write: (v) => this.#startcpuBy("CPUCTL_ALIAS", v),
    });
    on(r.BOOTVEC, store(r.BOOTVEC, () => this.#r.bootVector, (v) => (this.#r.bootVector = v)));
    on(r.DMACTL, {
      read: () => this.#dmactl(),
      write: (v) => {
        const f = r.DMACTL.decode(v);
        this.#r.requireCtx = f.REQUIRE_CTX;
        this.#r.dmaqNum = f.DMAQ_NUM;
      },
    });
    on(r.DMATRFBASE, store(r.DMATRFBASE, () => this.#r.dmaBase, (v) => (this.#r.dmaBase = v)));
    on(r.DMATRFBASE1, store(r.DMATRFBASE1, () => this.#r.dmaBase1, (v) => (this.#r.dmaBase1 = v)));
    on(
      r.DMATRFMOFFS,
      store(r.DMATRFMOFFS, () => this.#r.dmaMemoryOffset, (v) => (this.#r.dmaMemoryOffset = v)),
    );
    on(
      r.DMATRFFBOFFS,
      store(r.DMATRFFBOFFS, () => this.#r.dmaSourceOffset, (v) => (this.#r.dmaSourceOffset = v)),
    );
    on(r.DMATRFCMD, { read: () => this.#dmaCmdRead(), write: (v) => this.#writeDmaCmd(v) });
    on(r.IMEMC, (i) => ({
      read: () => this.#memControlRead(r.IMEMC, this.#imemPorts[i], true),
      write: (v) => this.#memControlWrite(r.IMEMC, this.#imemPorts[i], v),
    }));
    on(r.IMEMD, (i) => ({
      read: () => this.#dataRead(this.#imem, this.#imemPorts[i], `IMEMD(${i})`, true),
      write: (v) => this.#dataWrite(this.#imem, this.#imemPorts[i], `IMEMD(${i})`, v, true),
    }));
    on(r.IMEMT, (i) => ({
      read: () => this.#imemPorts[i].tag,
      write: (v) => (this.#imemPorts[i].tag = r.IMEMT.decode(v).TAG),
    }));
    on(r.DMEMC, (i) => ({
      read: () => this.#memControlRead(r.DMEMC, this.#dmemPorts[i], false),
      write: (v) => this.#memControlWrite(r.DMEMC, this.#dmemPorts[i], v),
    }));
    on(r.DMEMD, (i) => ({
      read: () => this.#dataRead(this.#dmem, this.#dmemPorts[i], `DMEMD(${i})`, false),
      write: (v) => this.#dataWrite(this.#dmem, this.#dmemPorts[i], `DMEMD(${i})`, v, false),
    }));
    on(r.ENGINE, { read: () => this.#engine(), write: (v) => this.#writeEngine(v) });

    // falcon2: boot-ROM parameters, RISC-V status, core select.
    const brom = (get: () => number, set: (v: number) => void) => ({
      read: get,
      write: (v: number) => {
        set(v);
        this.#r.bromWritten = true;
      },
    });
    on(r.MOD_SEL, brom(() => this.#r.modSel, (v) => (this.#r.modSel = r.MOD_SEL.decode(v).ALGO)));
    on(
      r.BROM_CURR_UCODE_ID,
      brom(
        () => this.#r.bromUcodeId,
        (v) => (this.#r.bromUcodeId = r.BROM_CURR_UCODE_ID.decode(v).VAL),
      ),
    );
    on(r.BROM_ENGIDMASK, brom(() => this.#r.bromEngIdMask, (v) => (this.#r.bromEngIdMask = v)));
    on(r.BROM_PARAADDR, brom(() => this.#r.bromParaAddr, (v) => (this.#r.bromParaAddr = v)));
    on(r.RISCV_CORE_SWITCH_RISCV_STATUS, {
      read: () =>
        r.RISCV_CORE_SWITCH_RISCV_STATUS.encode({ ACTIVE_STAT: this.#riscv === "active" ? 1 : 0 }),
    });
    on(r.RISCV_CPUCTL, {
      read: () => {
        const fields: Record<string, number> = {};
        if (hasField(r.RISCV_CPUCTL, "ACTIVE_STAT")) {
          fields.ACTIVE_STAT = this.#riscv === "active" ? 1 : 0;
        }
        if (hasField(r.RISCV_CPUCTL, "HALTED")) fields.HALTED = this.#riscv === "halted" ? 1 : 0;
        return r.RISCV_CPUCTL.encode(fields);
      },
      ...(hasField(r.RISCV_CPUCTL, "STARTCPU")
        ? {
          write: (v: number) => {
            if (r.RISCV_CPUCTL.decode(v).STARTCPU === 1) this.#start("RISCV_CPUCTL", "riscv");
          },
        }
        : {}),
    });
    on(r.RISCV_BCR_CTRL, {
      read: () => this.#bcrCtrl(),
      write: (v) => {
        const f = r.RISCV_BCR_CTRL.decode(v);
        this.#r.coreSelect = f.CORE_SELECT;
        this.#r.brFetch = f.BRFETCH;
        this.#r.bcrValid = 1;
      },
    });

    // FBIF.
    on(r.FBIF_TRANSCFG, (i) => ({
      read: () => this.#r.transcfg[i],
      write: (v) => (this.#r.transcfg[i] = knownBits(r.FBIF_TRANSCFG, v)),
    }));
    on(r.FBIF_CTL, store(r.FBIF_CTL, () => this.#r.fbifCtl, (v) => (this.#r.fbifCtl = v)));

    return [...spans.values()].sort((a, b) => a.start - b.start);
  }
}

function hex(n: number): string {
  return n.toString(16);
}
