/**
 * Private helpers for writing the register tables: `defineBlock`, the chip
 * family groups the tables use (computed from the chip table's boot path,
 * falcon HAL and architecture, never written as lists), and short builders
 * for source paths and one-bit fields.
 *
 * @module
 */

import { type ChipFamily, familiesOfArchitecture, familiesWhere } from "../chips/chips.ts";
import type {
  Block,
  FieldDef,
  FieldMap,
  FieldName,
  RegisterBlock,
  RegisterDef,
  RegisterSpec,
} from "./register.ts";

/** Every family, oldest first. */
export const ALL_FAMILIES: readonly ChipFamily[] = familiesWhere(() => true);
/** Turing. */
export const TURING: readonly ChipFamily[] = familiesOfArchitecture("turing");
/** Chips booted through SEC2 and Booter (Turing, Ampere, Ada). */
export const SEC2_PATH: readonly ChipFamily[] = familiesWhere((f) => f.bootPath === "sec2");
/** Chips booted through the FSP chain of trust (Hopper, Blackwell). */
export const FSP_PATH: readonly ChipFamily[] = familiesWhere((f) => f.bootPath === "fsp");
/** GA100 and everything after it. */
export const GA100_ON: readonly ChipFamily[] = ALL_FAMILIES.filter((f) => !TURING.includes(f));
/** Turing and GA100, the chips of the TU102 falcon HAL. */
export const TU102_HAL: readonly ChipFamily[] = familiesWhere((f) => f.falconHal === "tu102");
/** GA10x and Ada, the chips of the GA102 falcon HAL. */
export const GA10X_AD10X: readonly ChipFamily[] = familiesWhere((f) => f.falconHal === "ga102");
/** Hopper and Blackwell, the chips of the GH100 falcon HAL (GH100 register layouts). */
export const GH100_HAL: readonly ChipFamily[] = familiesWhere((f) => f.falconHal === "gh100");
/** GA102 and everything after it (GA100 excluded): every HAL but TU102's. */
export const GA102_ON: readonly ChipFamily[] = ALL_FAMILIES.filter((f) => !TU102_HAL.includes(f));

/** A path in NVIDIA's open-gpu-kernel-modules `published` headers (read at 595.45.04). */
export function published(path: string): string {
  return `NVIDIA/open-gpu-kernel-modules src/common/inc/swref/published/${path}`;
}

/** A file in nova-core (`drivers/gpu/nova-core`), for facts no NVIDIA header publishes. */
export function novaCore(path: string): string {
  return `nova-core drivers/gpu/nova-core/${path}`;
}

/** A one-bit field, optionally with named values. */
export function bit<const N extends string>(
  name: N,
  at: number,
  values?: Record<number, string>,
): FieldDef<N> {
  return values ? { name, hi: at, lo: at, values } : { name, hi: at, lo: at };
}

/** A multi-bit field `hi:lo`. */
export function bits<const N extends string>(
  name: N,
  hi: number,
  lo: number,
  values?: Record<number, string>,
): FieldDef<N> {
  return values ? { name, hi, lo, values } : { name, hi, lo };
}

/** Named values of a boolean status bit as OpenRM spells them. */
export const TRUE_FALSE: Readonly<Record<number, string>> = { 0: "FALSE", 1: "TRUE" };

function freeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) freeze(inner);
  }
  return value;
}

/**
 * Name every spec of a block after its key, tag it with the block and freeze
 * it. The block's {@linkcode FieldMap} `M` is given explicitly: TypeScript
 * then rejects a field name the map does not list.
 */
export function defineBlock<M extends FieldMap>(
  block: Block,
  specs: { readonly [P in keyof M]: RegisterSpec<FieldName<M[P]>> },
): RegisterBlock<M> {
  const out = {} as Record<keyof M, RegisterDef>;
  for (const name of Object.keys(specs) as (keyof M & string)[]) {
    out[name] = freeze({ name, block, ...specs[name] });
  }
  return Object.freeze(out) as RegisterBlock<M>;
}
