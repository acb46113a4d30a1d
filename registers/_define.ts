/**
 * Private helpers for writing the register tables: `defineBlock`, the chip
 * family groups the tables use, and short builders for source paths and
 * one-bit fields.
 *
 * @module
 */

import type { ChipFamily } from "../chips/chips.ts";
import type { Block, FieldDef, RegisterBlock, RegisterDef, RegisterSpec } from "./register.ts";

/** Every family, oldest first. */
export const ALL_FAMILIES: readonly ChipFamily[] = [
  "tu10x",
  "tu11x",
  "ga100",
  "ga10x",
  "ad10x",
  "gh100",
  "gb10x",
  "gb20x",
];
/** Turing. */
export const TURING: readonly ChipFamily[] = ["tu10x", "tu11x"];
/** Chips booted through SEC2 and Booter (Turing, Ampere, Ada). */
export const SEC2_PATH: readonly ChipFamily[] = ["tu10x", "tu11x", "ga100", "ga10x", "ad10x"];
/** Chips booted through the FSP chain of trust (Hopper, Blackwell). */
export const FSP_PATH: readonly ChipFamily[] = ["gh100", "gb10x", "gb20x"];
/** GA100 and everything after it. */
export const GA100_ON: readonly ChipFamily[] = ALL_FAMILIES.slice(2);
/** GA102 and everything after it (GA100 excluded). */
export const GA102_ON: readonly ChipFamily[] = ALL_FAMILIES.slice(3);
/** GA10x and Ada, the chips the GA102 falcon HAL was written for. */
export const GA10X_AD10X: readonly ChipFamily[] = ["ga10x", "ad10x"];
/** Turing and GA100, the chips of nova-core's TU102 falcon HAL. */
export const TU102_HAL: readonly ChipFamily[] = ["tu10x", "tu11x", "ga100"];

/** A path in NVIDIA's open-gpu-kernel-modules `published` headers (read at 595.45.04). */
export function published(path: string): string {
  return `NVIDIA/open-gpu-kernel-modules src/common/inc/swref/published/${path}`;
}

/** A file in nova-core (`drivers/gpu/nova-core`), for facts no NVIDIA header publishes. */
export function novaCore(path: string): string {
  return `nova-core drivers/gpu/nova-core/${path}`;
}

/** A one-bit field, optionally with named values. */
export function bit(name: string, at: number, values?: Record<number, string>): FieldDef {
  return values ? { name, hi: at, lo: at, values } : { name, hi: at, lo: at };
}

/** A multi-bit field `hi:lo`. */
export function bits(
  name: string,
  hi: number,
  lo: number,
  values?: Record<number, string>,
): FieldDef {
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
 * Name every spec of a block after its key, tag it with the block and freeze it.
 */
export function defineBlock<K extends string>(
  block: Block,
  specs: { readonly [P in K]: RegisterSpec },
): RegisterBlock<K> {
  const out = {} as Record<K, RegisterDef>;
  for (const name of Object.keys(specs) as K[]) {
    out[name] = freeze({ name, block, ...specs[name] });
  }
  return Object.freeze(out);
}
