/**
 * Typed register access, resolved once per chip: bind the tables to one chip
 * (and one engine) once, then read, write and modify registers by short name
 * with field names that TypeScript checks and every address precomputed.
 *
 * - {@linkcode chipRegisters}`(chip)`: the absolute registers, by block and
 *   short name (the `NV_<BLOCK>_` prefix dropped): `regs.PMC.BOOT_42`,
 *   `regs.PBUS.SW_SCRATCH.at(0xe)`.
 * - {@linkcode falconRegisters}`(chip, engine)`: one engine's falcon,
 *   falcon2/RISC-V, FBIF and FSP-queue registers: `gsp.CPUCTL`,
 *   `gsp.RISCV_CPUCTL`, `gsp.FBIF_TRANSCFG.at(0)`, `fsp.QUEUE_HEAD.at(0)`.
 *
 * Each {@linkcode BoundRegister} has `read(bar)` (the fields by name plus
 * `raw`), `readRaw(bar)`, `write(bar, fields)` (unnamed bits 0),
 * `writeRaw(bar, value)`, `modify(bar, fields)` (read, replace the named
 * fields, write), and the pure `decode(value)` / `encode(fields)` for a
 * simulator or a test without a bar. Array registers are reached through
 * `.at(i)`, with `i` checked against the array's size; `read`/`write` on an
 * array itself throws. The bar is anything with `read32`/`write32`: a
 * `pci/` `Mmio`, a simulator, a fake.
 *
 * A register the tables do not place on the chip (or the engine) is still a
 * property of the bound object, so the type does not depend on the chip; it
 * has `present: false`, and every access to it throws
 * {@linkcode RegisterAccessError} naming the chip and the register. A field
 * that only some families' layouts have (`?NAME` in the block's field map) is
 * optional in what `read` returns, and writing it on a chip without it
 * throws.
 *
 * @example Bound once, then used without lookups
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipRegisters, falconRegisters } from "./bind.ts";
 *
 * const words = new Map<number, number>([[0xa00, 0x172a1000], [0x110100, 0x10]]);
 * const bar0 = {
 *   read32: (offset: number) => words.get(offset) ?? 0,
 *   write32: (offset: number, value: number) => void words.set(offset, value >>> 0),
 * };
 * const regs = chipRegisters("ga102");
 * assert(regs.PMC.BOOT_42.read(bar0).ARCHITECTURE === 0x17);
 * const gsp = falconRegisters("ga102", "GSP");
 * assert(gsp.CPUCTL.address === 0x110100 && gsp.CPUCTL.read(bar0).HALTED === 1);
 * gsp.CPUCTL.modify(bar0, { STARTCPU: 1 });
 * assert(words.get(0x110100) === 0x12);
 * regs.PBUS.SW_SCRATCH.at(0xe).writeRaw(bar0, 7);
 * assert(words.get(0x1438) === 7);
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import { chipInfoOf } from "./catalog.ts";
import { engineBase, engineInfo } from "./engines.ts";
import { FALCON, type FalconFields } from "./falcon.ts";
import { FBIF, type FbifFields } from "./fbif.ts";
import { FSP, type FspFields } from "./fsp.ts";
import { FUSE, type FuseFields } from "./fuse.ts";
import { PGC6, type Pgc6Fields } from "./gc6.ts";
import { PGSP, type PgspFields } from "./gsp.ts";
import { PBUS, type PbusFields } from "./pbus.ts";
import { PCFG, type PcfgFields } from "./pcfg.ts";
import { PDISP, type PdispFields } from "./pdisp.ts";
import { PFB, type PfbFields } from "./pfb.ts";
import { PMC, type PmcFields } from "./pmc.ts";
import { PROM, type PromFields } from "./prom.ts";
import {
  type EngineName,
  type FieldMap,
  type FieldName,
  type RegisterDef,
  type ResolvedRegister,
  resolveRegister,
} from "./register.ts";
import { FALCON2, type Falcon2Fields } from "./riscv.ts";
import { THERM, type ThermFields } from "./therm.ts";

/** What reading needs: a 32-bit read at a BAR0 offset (a `pci/` `Mmio` has it). */
export interface RegisterReader {
  /** Read the 32-bit register at a byte offset. */
  read32(offset: number): number;
}

/** What writing needs: a 32-bit write at a BAR0 offset. */
export interface RegisterWriter {
  /** Write the 32-bit register at a byte offset. */
  write32(offset: number, value: number): void;
}

/** Field names of a field-map entry that every family has. */
export type AlwaysNames<N extends string> = N extends `?${string}` ? never : N;
/** Field names of a field-map entry that only some families have. */
export type SometimesNames<N extends string> = N extends `?${infer R}` ? R : never;

/**
 * A register's value split into fields: the fields every family has are
 * numbers, the others are optional; `raw` is the whole 32-bit value.
 */
export type RegisterValue<N extends string> =
  & { readonly [K in AlwaysNames<N>]: number }
  & { readonly [K in SometimesNames<N>]?: number }
  & { readonly raw: number };

/** Field values to write: any subset of the register's fields. */
export type FieldValues<N extends string> = { readonly [K in FieldName<N>]?: number };

/**
 * One register bound to a chip (and an engine): its address is computed, its
 * fields are resolved for the chip's layout.
 *
 * `N` is the register's entry in its block's field map (`"HALTED" | "?RESET_READY"`).
 */
export interface BoundRegister<N extends string> {
  /** `NAME` or `ENGINE.NAME` (OpenRM's full name), with `(i)` for an array element. */
  readonly name: string;
  /** Whether the tables place the register on this chip and engine. */
  readonly present: boolean;
  /** Why the register is absent (only when `present` is false). */
  readonly absentReason?: string;
  /** Absolute BAR0 address (of element 0 for an array). */
  readonly address: number;
  /** Number of elements: 1 for a plain register. */
  readonly count: number;
  /** The register as resolved for the chip (fields, source, notes). */
  readonly register: ResolvedRegister;
  /**
   * Element `index` of an array register (`index` 0 of a plain register is itself).
   *
   * @throws {RegisterAccessError} If `index` is not an integer in 0..count−1.
   */
  at(index: number): BoundRegister<N>;
  /** Read the fields; `raw` holds the whole value. */
  read(bar: RegisterReader): RegisterValue<N>;
  /** Read the raw 32-bit value. */
  readRaw(bar: RegisterReader): number;
  /** Write `fields`; bits no given field covers are written 0. */
  write(bar: RegisterWriter, fields: FieldValues<N>): void;
  /** Write a raw 32-bit value. */
  writeRaw(bar: RegisterWriter, value: number): void;
  /** Read, replace the given fields, write back; returns the value written. */
  modify(bar: RegisterReader & RegisterWriter, fields: FieldValues<N>): number;
  /** Split a value into the fields (pure). */
  decode(value: number): RegisterValue<N>;
  /** Build a value from fields, unnamed bits 0 (pure). */
  encode(fields: FieldValues<N>): number;
  /** Return `value` with the given fields replaced (pure). */
  update(value: number, fields: FieldValues<N>): number;
}

/**
 * A register access the bound tables cannot do: the register does not exist
 * on the chip or engine, an array index is out of range, a field is unknown
 * or its value does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { falconRegisters, RegisterAccessError } from "./bind.ts";
 * const sec2 = falconRegisters("tu102", "SEC2");
 * assert(!sec2.RISCV_BCR_CTRL.present);
 * assert.throws(() => sec2.RISCV_BCR_CTRL.readRaw({ read32: () => 0 }), RegisterAccessError);
 * ```
 */
export class RegisterAccessError extends FalconryError {
  /** The chip the registers were bound to. */
  readonly chip: string;
  /** `NAME` or `ENGINE.NAME`. */
  readonly register: string;

  /**
   * Build the error; the message starts with the chip and the register.
   *
   * @param chip Chip name.
   * @param register Register name.
   * @param reason What is wrong.
   */
  constructor(chip: string, register: string, reason: string) {
    super(`${chip}: ${register}: ${reason}`);
    this.chip = chip;
    this.register = register;
  }
}

interface CompiledField {
  readonly name: string;
  readonly lo: number;
  readonly mask: number;
  readonly hi: number;
}

const widthMask = (width: number): number => (width >= 32 ? 0xffffffff : 2 ** width - 1);

function compileFields(register: ResolvedRegister): CompiledField[] {
  return register.fields.map((f) => ({
    name: f.name,
    lo: f.lo,
    hi: f.hi,
    mask: widthMask(f.hi - f.lo + 1),
  }));
}

class Bound<N extends string> implements BoundRegister<N> {
  readonly name: string;
  readonly present = true;
  readonly address: number;
  readonly count: number;
  readonly register: ResolvedRegister;
  readonly #chip: string;
  readonly #fields: readonly CompiledField[];
  readonly #byName: ReadonlyMap<string, CompiledField>;
  readonly #stride: number;
  readonly #isArray: boolean;
  #elements?: Bound<N>[];

  constructor(
    chip: string,
    name: string,
    address: number,
    register: ResolvedRegister,
    element?: { fields: readonly CompiledField[]; byName: ReadonlyMap<string, CompiledField> },
  ) {
    this.#chip = chip;
    this.name = name;
    this.address = address;
    this.register = register;
    this.#isArray = element === undefined && register.array !== undefined;
    this.count = this.#isArray ? register.array!.count : 1;
    this.#stride = register.array?.stride ?? 0;
    this.#fields = element?.fields ?? compileFields(register);
    this.#byName = element?.byName ?? new Map(this.#fields.map((f) => [f.name, f]));
  }

  #fail(reason: string): never {
    throw new RegisterAccessError(this.#chip, this.name, reason);
  }

  #plain(): void {
    if (this.#isArray) this.#fail(`an array of ${this.count}: use .at(i)`);
  }

  at(index: number): BoundRegister<N> {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      this.#fail(`index ${index} out of range (0..${this.count - 1})`);
    }
    if (!this.#isArray) return this;
    this.#elements ??= [];
    return this.#elements[index] ??= new Bound<N>(
      this.#chip,
      `${this.name}(${index})`,
      this.address + index * this.#stride,
      this.register,
      { fields: this.#fields, byName: this.#byName },
    );
  }

  decode(value: number): RegisterValue<N> {
    const v = value >>> 0;
    const out: Record<string, number> = { raw: v };
    for (const f of this.#fields) out[f.name] = ((v >>> f.lo) & f.mask) >>> 0;
    return out as RegisterValue<N>;
  }

  update(value: number, fields: FieldValues<N>): number {
    let v = value >>> 0;
    for (const [name, fieldValue] of Object.entries(fields) as [string, number | undefined][]) {
      if (fieldValue === undefined) continue;
      const f = this.#byName.get(name) ??
        this.#fail(
          `no field ${name} on this chip (fields: ${
            this.#fields.map((x) => x.name).join(", ") || "none"
          })`,
        );
      if (!Number.isInteger(fieldValue) || fieldValue < 0 || fieldValue > f.mask) {
        this.#fail(`field ${name} (${f.hi}:${f.lo}) cannot hold ${fieldValue}`);
      }
      const inPlace = (f.mask * 2 ** f.lo) >>> 0;
      v = (((v & ~inPlace) >>> 0) + fieldValue * 2 ** f.lo) >>> 0;
    }
    return v;
  }

  encode(fields: FieldValues<N>): number {
    return this.update(0, fields);
  }

  readRaw(bar: RegisterReader): number {
    this.#plain();
    return bar.read32(this.address) >>> 0;
  }

  read(bar: RegisterReader): RegisterValue<N> {
    return this.decode(this.readRaw(bar));
  }

  writeRaw(bar: RegisterWriter, value: number): void {
    this.#plain();
    bar.write32(this.address, value >>> 0);
  }

  write(bar: RegisterWriter, fields: FieldValues<N>): void {
    this.writeRaw(bar, this.encode(fields));
  }

  modify(bar: RegisterReader & RegisterWriter, fields: FieldValues<N>): number {
    const value = this.update(this.readRaw(bar), fields);
    this.writeRaw(bar, value);
    return value;
  }
}

/** A register the tables do not place on the chip or engine: every access throws. */
class Absent<N extends string> implements BoundRegister<N> {
  readonly name: string;
  readonly present = false;
  readonly absentReason: string;
  readonly #chip: string;

  constructor(chip: string, name: string, reason: string) {
    this.#chip = chip;
    this.name = name;
    this.absentReason = reason;
  }

  #fail(): never {
    throw new RegisterAccessError(this.#chip, this.name, this.absentReason);
  }

  get address(): number {
    return this.#fail();
  }
  get count(): number {
    return this.#fail();
  }
  get register(): ResolvedRegister {
    return this.#fail();
  }
  at(): BoundRegister<N> {
    return this.#fail();
  }
  read(): RegisterValue<N> {
    return this.#fail();
  }
  readRaw(): number {
    return this.#fail();
  }
  write(): void {
    this.#fail();
  }
  writeRaw(): void {
    this.#fail();
  }
  modify(): number {
    return this.#fail();
  }
  decode(): RegisterValue<N> {
    return this.#fail();
  }
  encode(): number {
    return this.#fail();
  }
  update(): number {
    return this.#fail();
  }
}

/**
 * Bind one register definition to a chip (and an engine, for engine-relative
 * registers): the lower-level form of {@linkcode chipRegisters} and
 * {@linkcode falconRegisters}.
 *
 * @throws {RegisterAccessError} If an engine-relative register is bound without an engine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bindRegister } from "./bind.ts";
 * import { FALCON2 } from "./riscv.ts";
 * assert(bindRegister(FALCON2.NV_PRISCV_RISCV_CPUCTL, "tu102", "GSP").address === 0x111268);
 * assert(!bindRegister(FALCON2.NV_PRISCV_RISCV_CPUCTL, "ga100", "GSP").present);
 * ```
 */
export function bindRegister<F extends string>(
  def: RegisterDef<F>,
  chip: string | ChipInfo,
  engine?: EngineName,
): BoundRegister<F> {
  const info = chipInfoOf(chip);
  const name = engine && def.base !== undefined ? `${engine}.${def.name}` : def.name;
  const resolved = resolveRegister(def, info.family);
  if (!resolved) {
    return new Absent(
      info.name,
      name,
      `not in the register tables for ${info.family} (only ${def.chips?.join(", ")})`,
    );
  }
  if (resolved.base === undefined) return new Bound(info.name, name, resolved.offset, resolved);
  if (engine === undefined) {
    throw new RegisterAccessError(info.name, name, "engine-relative: bind it with an engine");
  }
  if (resolved.engines && !resolved.engines.includes(engine)) {
    return new Absent(info.name, name, `only ${resolved.engines.join(", ")} has it`);
  }
  const base = engineBase(engine, resolved.base, info.family);
  if (base === undefined) {
    return new Absent(info.name, name, `${engine} has no ${resolved.base} block on ${info.family}`);
  }
  return new Bound(info.name, name, base + resolved.offset, resolved);
}

/** Short name of an absolute register: `NV_<BLOCK>_` dropped, else `NV_`. */
export type AbsoluteShort<K, B extends string> = K extends `NV_${B}_${infer S}` ? S
  : K extends `NV_${infer S}` ? S
  : K;

/** A block bound to a chip: its registers by short name. */
export type BoundBlock<M extends FieldMap, B extends string> = {
  readonly [K in keyof M & string as AbsoluteShort<K, B>]: BoundRegister<M[K]>;
};

/** Every absolute register of a chip, by block and short name. */
export type ChipRegisters = {
  /** Chip identification. */
  readonly PMC: BoundBlock<PmcFields, "PMC">;
  /** Software scratch. */
  readonly PBUS: BoundBlock<PbusFields, "PBUS">;
  /** Frame buffer: WPR2, VRAM size, sysmem flush. */
  readonly PFB: BoundBlock<PfbFields, "PFB">;
  /** GC6 island scratch. */
  readonly PGC6: BoundBlock<Pgc6Fields, "PGC6">;
  /** Fuses. */
  readonly FUSE: BoundBlock<FuseFields, "FUSE">;
  /** The VBIOS ROM window. */
  readonly PROM: BoundBlock<PromFields, "PROM">;
  /** Display. */
  readonly PDISP: BoundBlock<PdispFields, "PDISP">;
  /** The PCI configuration mirror. */
  readonly PCFG: BoundBlock<PcfgFields, "PCFG">;
  /** Thermal scratch. */
  readonly THERM: BoundBlock<ThermFields, "THERM">;
  /** The GSP queue doorbell. */
  readonly PGSP: BoundBlock<PgspFields, "PGSP">;
  /** The chip they are bound to. */
  readonly chip: ChipInfo;
};

/** Short name of an engine register: its `NV_PFALCON_FALCON_`, `NV_PFALCON2_FALCON_`, `NV_PRISCV_`, `NV_PFALCON_` or `NV_PFSP_` prefix dropped. */
export type EngineShort<K> = K extends `NV_PFALCON_FALCON_${infer S}` ? S
  : K extends `NV_PFALCON2_FALCON_${infer S}` ? S
  : K extends `NV_PRISCV_${infer S}` ? S
  : K extends `NV_PFALCON_${infer S}` ? S
  : K extends `NV_PFSP_${infer S}` ? S
  : K;

/** Field maps of every engine-relative block: falcon, falcon2/RISC-V, FBIF, FSP queue. */
export type EngineFields = FalconFields & Falcon2Fields & FbifFields & FspFields;

/** One engine's registers bound to a chip, by short name, with the chip and engine. */
export type FalconRegisters =
  & {
    readonly [K in keyof EngineFields & string as EngineShort<K>]: BoundRegister<
      EngineFields[K]
    >;
  }
  & {
    /** The chip they are bound to. */
    readonly chip: ChipInfo;
    /** The engine. */
    readonly engine: EngineName;
  };

const ABSOLUTE_PREFIX = /^NV_/;
const ENGINE_PREFIXES = [
  "NV_PFALCON_FALCON_",
  "NV_PFALCON2_FALCON_",
  "NV_PRISCV_",
  "NV_PFALCON_",
  "NV_PFSP_",
];

/**
 * The short name a bound object uses for a register: for an engine register
 * its falcon/RISC-V/FBIF/FSP prefix dropped (`CPUCTL`, `RISCV_CPUCTL`,
 * `FBIF_CTL`, `QUEUE_HEAD`); for an absolute register `NV_<BLOCK>_` dropped
 * (`BOOT_42`, `SW_SCRATCH`), or `NV_` when the name does not carry its block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shortRegisterName } from "./bind.ts";
 * import { FALCON2 } from "./riscv.ts";
 * import { PMC } from "./pmc.ts";
 * assert(shortRegisterName(FALCON2.NV_PRISCV_RISCV_BCR_CTRL) === "RISCV_BCR_CTRL");
 * assert(shortRegisterName(PMC.NV_PMC_BOOT_42) === "BOOT_42");
 * ```
 */
export function shortRegisterName(def: Pick<RegisterDef, "name" | "block" | "base">): string {
  if (def.base !== undefined) {
    const prefix = ENGINE_PREFIXES.find((p) => def.name.startsWith(p));
    return prefix ? def.name.slice(prefix.length) : def.name;
  }
  const own = `NV_${def.block}_`;
  return def.name.startsWith(own)
    ? def.name.slice(own.length)
    : def.name.replace(ABSOLUTE_PREFIX, "");
}

function bindBlock(
  block: Readonly<Record<string, RegisterDef>>,
  chip: ChipInfo,
  engine?: EngineName,
): Record<string, BoundRegister<string>> {
  const out: Record<string, BoundRegister<string>> = {};
  for (const def of Object.values(block)) {
    out[shortRegisterName(def)] = bindRegister(def, chip, engine);
  }
  return out;
}

const chipCache = new Map<string, ChipRegisters>();
const engineCache = new Map<string, FalconRegisters>();

/**
 * Bind every absolute register to a chip. The result is frozen and cached per
 * chip, so binding again is free.
 *
 * @param chip A chip name (`"ga102"`) or chip-table entry.
 * @throws {FalconryError} If the chip name is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipRegisters } from "./bind.ts";
 * const regs = chipRegisters("tu102");
 * assert(regs.FUSE.STATUS_OPT_DISPLAY.address === 0x21c04);
 * assert(regs.PFB.PRI_MMU_WPR2_ADDR_HI.decode(0x000abcd0).VAL === 0xabcd);
 * assert.throws(() => regs.PBUS.SW_SCRATCH.at(64), /index 64 out of range \(0\.\.63\)/);
 * ```
 */
export function chipRegisters(chip: string | ChipInfo): ChipRegisters {
  const info = chipInfoOf(chip);
  const cached = chipCache.get(info.name);
  if (cached) return cached;
  const blocks = { PMC, PBUS, PFB, PGC6, FUSE, PROM, PDISP, PCFG, THERM, PGSP };
  const out: Record<string, unknown> = { chip: info };
  for (const [name, block] of Object.entries(blocks)) {
    out[name] = Object.freeze(bindBlock(block, info));
  }
  const bound = Object.freeze(out) as unknown as ChipRegisters;
  chipCache.set(info.name, bound);
  return bound;
}

/**
 * Bind one engine's registers (falcon, falcon2/RISC-V, FBIF, FSP queue) to a
 * chip. Frozen and cached per chip and engine.
 *
 * @param chip A chip name or chip-table entry.
 * @param engine `GSP`, `SEC2` or `FSP`.
 * @throws {RegisterAccessError} If the chip has no such engine (FSP before Hopper).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { falconRegisters } from "./bind.ts";
 * const sec2 = falconRegisters("ga102", "SEC2");
 * assert(sec2.CPUCTL.address === 0x840100 && sec2.RISCV_BCR_CTRL.address === 0x841668);
 * assert(sec2.CPUCTL.encode({ STARTCPU: 1 }) === 0x2);
 * assert(falconRegisters("gh100", "FSP").QUEUE_HEAD.at(1).address === 0x8f2c08);
 * ```
 */
export function falconRegisters(chip: string | ChipInfo, engine: EngineName): FalconRegisters {
  const info = chipInfoOf(chip);
  const key = `${info.name}.${engine}`;
  const cached = engineCache.get(key);
  if (cached) return cached;
  if (!engineInfo(engine).chips.includes(info.family)) {
    throw new RegisterAccessError(info.name, engine, `not an engine of ${info.name}`);
  }
  const out: Record<string, unknown> = {
    ...bindBlock(FALCON, info, engine),
    ...bindBlock(FALCON2, info, engine),
    ...bindBlock(FBIF, info, engine),
    ...bindBlock(FSP, info, engine),
    chip: info,
    engine,
  };
  const bound = Object.freeze(out) as unknown as FalconRegisters;
  engineCache.set(key, bound);
  return bound;
}
