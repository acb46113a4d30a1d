/**
 * The register model: how a hardware register, its fields and its per-chip
 * variants are described as data, and the pure helpers that read, write and
 * decode register values with that data.
 *
 * A {@linkcode RegisterDef} is a table entry (one per register, in the block
 * files); {@linkcode resolveRegister} applies the variant for one chip family
 * and yields a {@linkcode ResolvedRegister}. Field helpers accept either.
 *
 * @example Decoding a falcon CPUCTL value
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON } from "./falcon.ts";
 * import { decode, getField, setField } from "./register.ts";
 *
 * const cpuctl = FALCON.NV_PFALCON_FALCON_CPUCTL;
 * assert(getField(cpuctl, "HALTED", 0x10) === 1);
 * assert(setField(cpuctl, "STARTCPU", 0, 1) === 0x2);
 * assert(decode(cpuctl, 0x50).ALIAS_EN === 1);
 * ```
 *
 * @module
 */

import type { ChipFamily } from "../chips/chips.ts";

/**
 * Hardware block a register belongs to (the file it is defined in).
 *
 * `FALCON`, `FALCON2`, `FBIF` and `FSP` registers are addressed from an
 * engine base (see `engines.ts`); the others are absolute BAR0 offsets.
 */
export type Block =
  | "PMC"
  | "PBUS"
  | "PFB"
  | "PGC6"
  | "FUSE"
  | "PROM"
  | "FALCON"
  | "FALCON2"
  | "FBIF"
  | "FSP"
  | "THERM"
  | "PDISP"
  | "PGSP"
  | "PCFG";

/**
 * Which engine base an engine-relative register is measured from:
 * the falcon block (`NV_PFALCON_*`), the second falcon block (`NV_PFALCON2_*`,
 * `NV_PRISCV_*`), the frame-buffer interface (`NV_PFALCON_FBIF_*`), or the
 * FSP's EMEM/queue window.
 */
export type BaseKind = "falcon" | "falcon2" | "fbif" | "fspQueue";

/** A falcon engine whose registers are addressed from a base. */
export type EngineName = "GSP" | "SEC2" | "FSP";

/** One bit field of a register: bits `hi:lo` inclusive, as OpenRM writes them. */
export interface FieldDef<N extends string = string> {
  /** Field name, OpenRM's upper-snake suffix (`HALTED` for `NV_PFALCON_FALCON_CPUCTL_HALTED`). */
  readonly name: N;
  /** Highest bit, 0..31. */
  readonly hi: number;
  /** Lowest bit, 0..hi. */
  readonly lo: number;
  /** Named values (`{ 1: "TRUE" }`), where a source names them. */
  readonly values?: Readonly<Record<number, string>>;
}

/** A register array: `count` instances, `stride` bytes apart. */
export interface RegisterArray {
  /** Number of instances. */
  readonly count: number;
  /** Bytes between instances. */
  readonly stride: number;
}

/** How a register differs on some chip families. */
export interface RegisterVariant<N extends string = string> {
  /** Families this variant applies to. */
  readonly chips: readonly ChipFamily[];
  /** Offset on these families, if it moves. */
  readonly offset?: number;
  /** Field layout on these families, if it differs. */
  readonly fields?: readonly FieldDef<N>[];
  /** Array shape on these families, if it differs. */
  readonly array?: RegisterArray;
  /** The public header this variant comes from, if not the register's. */
  readonly source?: string;
  /** Why this variant exists, or a disagreement between sources. */
  readonly note?: string;
}

/** What a block file writes for one register; `defineBlock` adds the name and block. */
export interface RegisterSpec<N extends string = string> {
  /** Offset: absolute BAR0 offset, or relative to `base` when set. */
  readonly offset: number;
  /** Engine base the offset is relative to; absent for absolute registers. */
  readonly base?: BaseKind;
  /** Access width in bits (default 32). */
  readonly width?: 8 | 32;
  /** Array shape, for `NAME(i)` registers. */
  readonly array?: RegisterArray;
  /** Fields, non-overlapping, within 0..width−1. */
  readonly fields: readonly FieldDef<N>[];
  /** Families where the register exists and the boot path uses it (absent: every family). */
  readonly chips?: readonly ChipFamily[];
  /** For engine-relative registers: the engines that have it (absent: every engine with the base). */
  readonly engines?: readonly EngineName[];
  /** Per-family differences; the first variant listing a family wins. */
  readonly variants?: readonly RegisterVariant<N>[];
  /** Other names for the same register and fields (OpenRM aliases). */
  readonly aliases?: readonly string[];
  /** What the boot path uses it for, in one line. */
  readonly doc: string;
  /** The public header(s) it comes from. */
  readonly source: string;
  /** Disagreements between sources, or caveats. */
  readonly note?: string;
}

/** A register table entry: a {@linkcode RegisterSpec} with its name and block. */
export interface RegisterDef<N extends string = string> extends RegisterSpec<N> {
  /** OpenRM's upper-snake name (`NV_PMC_BOOT_42`). */
  readonly name: string;
  /** Block (file) it belongs to. */
  readonly block: Block;
}

/** A register as it is on one chip family: the variant applied, no per-chip data left. */
export interface ResolvedRegister {
  /** OpenRM name. */
  readonly name: string;
  /** Block. */
  readonly block: Block;
  /** Absolute offset, or relative to `base`. */
  readonly offset: number;
  /** Engine base kind, for engine-relative registers. */
  readonly base?: BaseKind;
  /** Access width in bits. */
  readonly width: 8 | 32;
  /** Array shape, if an array. */
  readonly array?: RegisterArray;
  /** Fields on this family. */
  readonly fields: readonly FieldDef[];
  /** Engines restriction, if any. */
  readonly engines?: readonly EngineName[];
  /** Other names. */
  readonly aliases: readonly string[];
  /** What it is for. */
  readonly doc: string;
  /** Source header(s) for this family. */
  readonly source: string;
  /** Notes for this family (the register's and the variant's). */
  readonly note?: string;
}

/**
 * A block's field names per register, as each block file declares them:
 * `"NAME"` for a field every family has, `"?NAME"` for one that only some
 * families' layouts have. `defineBlock` checks the tables against it, and the
 * bound accessors (`bind.ts`) type their field names with it.
 */
export type FieldMap = { readonly [register: string]: string };

/** A field name of a {@linkcode FieldMap} entry without its `?` mark. */
export type FieldName<N extends string> = N extends `?${infer R}` ? R : N;

/** A block's registers, keyed by name, with their field names typed by the block's map. */
export type RegisterBlock<M extends FieldMap> = {
  readonly [P in keyof M]: RegisterDef<FieldName<M[P]>>;
};

/** Anything with fields: a {@linkcode RegisterDef} or a {@linkcode ResolvedRegister}. */
export type HasFields = {
  /** Register name, for error messages. */
  readonly name: string;
  /** Fields. */
  readonly fields: readonly FieldDef[];
};

/**
 * The mask of a field, in place (`0x10` for bit 4).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fieldMask } from "./register.ts";
 * assert(fieldMask({ name: "BLK", hi: 15, lo: 8 }) === 0xff00);
 * assert(fieldMask({ name: "ALL", hi: 31, lo: 0 }) === 0xffffffff);
 * ```
 */
export function fieldMask(field: FieldDef): number {
  return (widthMask(field.hi - field.lo + 1) * 2 ** field.lo) >>> 0;
}

function widthMask(width: number): number {
  return width >= 32 ? 0xffffffff : (2 ** width) - 1;
}

function fieldOf(reg: HasFields, name: string): FieldDef {
  const upper = name.toUpperCase();
  const field = reg.fields.find((f) => f.name === upper);
  if (!field) {
    throw new RangeError(
      `${reg.name} has no field ${name} (fields: ${reg.fields.map((f) => f.name).join(", ")})`,
    );
  }
  return field;
}

/**
 * Read one field out of a register value.
 *
 * @param reg The register (definition or resolved).
 * @param name Field name (case-insensitive).
 * @param value The 32-bit register value.
 * @returns The field value, shifted down.
 * @throws {RangeError} If the register has no such field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PMC } from "./pmc.ts";
 * import { getField } from "./register.ts";
 * assert(getField(PMC.NV_PMC_BOOT_42, "ARCHITECTURE", 0x17200000) === 0x17);
 * ```
 */
export function getField(reg: HasFields, name: string, value: number): number {
  const field = fieldOf(reg, name);
  return Math.floor((value >>> 0) / 2 ** field.lo) % 2 ** (field.hi - field.lo + 1);
}

/**
 * Return `value` with one field replaced.
 *
 * @param reg The register.
 * @param name Field name (case-insensitive).
 * @param value The current 32-bit register value.
 * @param fieldValue The new field value; must fit the field.
 * @returns The new 32-bit register value.
 * @throws {RangeError} If there is no such field or `fieldValue` does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON } from "./falcon.ts";
 * import { setField } from "./register.ts";
 * const v = setField(FALCON.NV_PFALCON_FALCON_DMATRFCMD, "SIZE", 0, 6);
 * assert(v === 0x600);
 * ```
 */
export function setField(reg: HasFields, name: string, value: number, fieldValue: number): number {
  const field = fieldOf(reg, name);
  const width = field.hi - field.lo + 1;
  if (!Number.isInteger(fieldValue) || fieldValue < 0 || fieldValue > widthMask(width)) {
    throw new RangeError(
      `${reg.name}.${field.name} (${field.hi}:${field.lo}) cannot hold ${fieldValue}`,
    );
  }
  const mask = fieldMask(field);
  const cleared = ((value >>> 0) & ~mask) >>> 0;
  return (cleared + fieldValue * 2 ** field.lo) >>> 0;
}

/**
 * Build a register value from named fields (unnamed bits are 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FBIF } from "./fbif.ts";
 * import { encode } from "./register.ts";
 * const v = encode(FBIF.NV_PFALCON_FBIF_TRANSCFG, { TARGET: 1, MEM_TYPE: 1 });
 * assert(v === 0x5);
 * ```
 */
export function encode(reg: HasFields, fields: Readonly<Record<string, number>>): number {
  let value = 0;
  for (const [name, fieldValue] of Object.entries(fields)) {
    value = setField(reg, name, value, fieldValue);
  }
  return value;
}

/**
 * Split a register value into its named fields.
 *
 * @returns A plain object `{ FIELD: value }` in field order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PMC } from "./pmc.ts";
 * import { decode } from "./register.ts";
 * const f = decode(PMC.NV_PMC_BOOT_42, 0x17200000);
 * assert(f.ARCHITECTURE === 0x17 && f.IMPLEMENTATION === 2);
 * ```
 */
export function decode(reg: HasFields, value: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const field of reg.fields) out[field.name] = getField(reg, field.name, value);
  return out;
}

/**
 * The bits of `value` that no field of `reg` covers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON } from "./falcon.ts";
 * import { unnamedBits } from "./register.ts";
 * assert(unnamedBits(FALCON.NV_PFALCON_FALCON_CPUCTL, 0x11) === 0x1);
 * ```
 */
export function unnamedBits(reg: HasFields, value: number): number {
  let named = 0;
  for (const field of reg.fields) named = (named | fieldMask(field)) >>> 0;
  return ((value >>> 0) & ~named) >>> 0;
}

/**
 * Apply the variant for one chip family to a register definition.
 *
 * @returns The register as it is on `family`, or `undefined` if it does not
 * exist there (or the boot path does not use it there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON2 } from "./riscv.ts";
 * import { resolveRegister } from "./register.ts";
 * assert(resolveRegister(FALCON2.NV_PRISCV_RISCV_CPUCTL, "tu10x")?.offset === 0x268);
 * assert(resolveRegister(FALCON2.NV_PRISCV_RISCV_CPUCTL, "ga10x")?.offset === 0x388);
 * assert(resolveRegister(FALCON2.NV_PRISCV_RISCV_CPUCTL, "ga100") === undefined);
 * ```
 */
export function resolveRegister(
  reg: RegisterDef,
  family: ChipFamily,
): ResolvedRegister | undefined {
  if (reg.chips && !reg.chips.includes(family)) return undefined;
  const variant = reg.variants?.find((v) => v.chips.includes(family));
  const notes = [reg.note, variant?.note].filter((n): n is string => n !== undefined);
  return {
    name: reg.name,
    block: reg.block,
    offset: variant?.offset ?? reg.offset,
    base: reg.base,
    width: reg.width ?? 32,
    array: variant?.array ?? reg.array,
    fields: variant?.fields ?? reg.fields,
    engines: reg.engines,
    aliases: reg.aliases ?? [],
    doc: reg.doc,
    source: variant?.source ?? reg.source,
    note: notes.length ? notes.join(" ") : undefined,
  };
}
