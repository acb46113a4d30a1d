/**
 * What the fuzzer knows about a seed's structure (its *anatomy*): header
 * fields with their positions, structure boundaries, pointer values and
 * format-specific "tangles". Field positions come from the parsers' own
 * layout tables ({@linkcode FieldLayout}), so a layout is described once.
 *
 * @module
 */

import type { FieldLayout } from "../firmware/mod.ts";
import type { FuzzRandom } from "./_fuzz_random.ts";

/** The bytes being mutated; length-changing mutators replace `bytes`. */
export interface MutableInput {
  /** The current bytes. */
  bytes: Uint8Array;
}

/** A header field of a seed: where it is and how wide. */
export interface FieldSpot {
  /** Dotted name, e.g. `hsHeader.sigProdOffset` or `images[2].pcir.imageLen`. */
  name: string;
  /** Offset in the seed. */
  offset: number;
  /** Width in bytes. */
  width: 1 | 2 | 4 | 8;
}

/** A structure-aware mutation bound to one seed's structures (a loop, an overlap, an edge). */
export interface Tangle {
  /** Name, e.g. `elf.string-table-is-header-table`. */
  name: string;
  /** Apply it; returns what it did. */
  apply(input: MutableInput, rng: FuzzRandom): string;
}

/** What the fuzzer knows about a seed's structure, found by parsing the unmutated seed. */
export interface SeedAnatomy {
  /** Header fields. */
  fields: FieldSpot[];
  /** Offsets where structures start or end: truncation points. */
  boundaries: number[];
  /** Values worth writing into offset fields: starts of structures (loops, overlaps). */
  pointers: number[];
  /** Format-specific structure mutations. */
  tangles: Tangle[];
}

/** The formats seeds come in; each has its own anatomy. */
export type SeedFormat =
  | "booter"
  | "riscv-bootloader"
  | "gen-bootloader"
  | "elf"
  | "tlv"
  | "vbios";

/** One seed input. */
export interface FuzzSeed {
  /** Where it came from, e.g. `tu102/booter_load-570.144.bin` or `forged booter (ga102-like)`. */
  name: string;
  /** A file name that detection by name recognises. */
  fileName: string;
  /** Its format. */
  format: SeedFormat;
  /** Whether it is a real file (not forged). */
  real: boolean;
  /** The bytes (never mutated in place). */
  bytes: Uint8Array;
  /** Its structure. */
  anatomy: SeedAnatomy;
}

/** A target's seeds and the real files it would have used but did not find. */
export interface SeedSet {
  /** The seeds. */
  seeds: FuzzSeed[];
  /** Real files (relative paths or the VBIOS path) that are missing. */
  missingRealFiles: string[];
}

/** Widths the fuzzer reads and writes. */
export type Width = 1 | 2 | 4 | 8;

/** `0x…` of a number. */
export const hx = (n: number | bigint): string => `0x${n.toString(16)}`;

/** The little-endian unsigned value at `offset`, or `undefined` outside the bytes. */
export function readUint(bytes: Uint8Array, offset: number, width: Width): bigint | undefined {
  if (offset < 0 || offset + width > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (width) {
    case 1:
      return BigInt(bytes[offset]);
    case 2:
      return BigInt(view.getUint16(offset, true));
    case 4:
      return BigInt(view.getUint32(offset, true));
    case 8:
      return view.getBigUint64(offset, true);
  }
}

/** Write a little-endian value (wrapped to the width); returns what it did. */
export function writeUint(
  bytes: Uint8Array,
  offset: number,
  width: Width,
  value: bigint | number,
): string {
  const v = BigInt.asUintN(width * 8, BigInt(value));
  const where = `u${width * 8}@${hx(offset)}`;
  if (offset < 0 || offset + width > bytes.length) return `${where} skipped (outside the input)`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (width) {
    case 1:
      bytes[offset] = Number(v);
      break;
    case 2:
      view.setUint16(offset, Number(v), true);
      break;
    case 4:
      view.setUint32(offset, Number(v), true);
      break;
    case 8:
      view.setBigUint64(offset, v, true);
      break;
  }
  return `${where}=${hx(v)}`;
}

/** Set a field of the input to a value; returns what it did. */
export function setField(input: MutableInput, field: FieldSpot, value: bigint | number): string {
  return `${field.name} ${writeUint(input.bytes, field.offset, field.width, value)}`;
}

/** Collects a seed's anatomy. */
export class AnatomyBuilder implements SeedAnatomy {
  fields: FieldSpot[] = [];
  boundaries: number[] = [];
  pointers: number[] = [];
  tangles: Tangle[] = [];

  /** Add the fields of a parser's layout table at `base`, named `prefix.name` (u24s are skipped). */
  struct(prefix: string, base: number, layout: readonly FieldLayout[]): this {
    for (const { name, offset, size } of layout) {
      if (size === 3) continue;
      this.fields.push({ name: `${prefix}.${name}`, offset: base + offset, width: size });
    }
    return this;
  }

  /** Add consecutive fields of one width, named after a parser's field list. */
  words(prefix: string, base: number, names: readonly string[], width: Width = 4): this {
    return this.struct(
      prefix,
      base,
      names.map((name, i) => ({ name, offset: i * width, size: width })),
    );
  }

  /** The field of that name, if the seed has it. */
  field(name: string): FieldSpot | undefined {
    return this.fields.find((f) => f.name === name);
  }

  /** Offsets where structures start or end. */
  mark(...offsets: number[]): this {
    for (const o of offsets) if (Number.isSafeInteger(o) && o >= 0) this.boundaries.push(o);
    return this;
  }

  /** Values worth writing into offset fields. */
  point(...offsets: number[]): this {
    for (const o of offsets) if (Number.isSafeInteger(o) && o >= 0) this.pointers.push(o);
    return this;
  }

  /** A format-specific mutation. */
  tangle(name: string, apply: (input: MutableInput, rng: FuzzRandom) => string): this {
    this.tangles.push({ name, apply });
    return this;
  }

  /** A tangle that sets one of `choices` (a field and the values worth trying) to one value. */
  setOneOf(
    name: string,
    choices: readonly (readonly [FieldSpot | undefined, readonly bigint[]])[],
  ): this {
    const usable = choices.filter((c): c is readonly [FieldSpot, readonly bigint[]] =>
      c[0] !== undefined && c[1].length > 0
    );
    if (usable.length === 0) return this;
    return this.tangle(name, (input, r) => {
      const [field, values] = r.pick(usable);
      return setField(input, field, r.pick(values));
    });
  }

  /** The anatomy, boundaries and pointers sorted and unique. */
  done(): SeedAnatomy {
    const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
    return {
      fields: this.fields,
      boundaries: uniq(this.boundaries),
      pointers: uniq(this.pointers),
      tangles: this.tangles,
    };
  }
}

/** The whole, non-negative numbers among `values`, as bigints. */
export const big = (...values: number[]): bigint[] =>
  values.filter((v) => Number.isSafeInteger(v) && v >= 0).map((v) => BigInt(v));
