/**
 * Binary layouts as data: each header a list of `{name, offset, size}`
 * little-endian fields. A parser reads its header through its layout table
 * ({@linkcode readFields}), so the table is exactly what the parser reads;
 * other code that needs to know where a field sits (the fuzzer, which
 * mutates fields by name) takes positions from the same table instead of
 * describing the layout again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FieldLayout, fieldOffset, layoutSize, readFields } from "./field_layout.ts";
 * import { ByteReader } from "./byte_reader.ts";
 *
 * const LAYOUT = [
 *   { name: "magic", offset: 0, size: 2 },
 *   { name: "length", offset: 2, size: 1 },
 * ] as const satisfies readonly FieldLayout[];
 * const fields = readFields(new ByteReader(new Uint8Array([0x55, 0xaa, 7])), 0, LAYOUT, "rom");
 * assert(fields.magic === 0xaa55 && fields.length === 7);
 * assert(fieldOffset(LAYOUT, "length") === 2 && layoutSize(LAYOUT) === 3);
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";

/** Width of a field in bytes: u8, u16, u24 (the PCI class code), u32 or u64. */
export type FieldSize = 1 | 2 | 3 | 4 | 8;

/** One little-endian field of a header. */
export interface FieldLayout<Name extends string = string> {
  /** The field's name, as the parsed result and error messages spell it. */
  readonly name: Name;
  /** Offset from the start of the header. */
  readonly offset: number;
  /** Width in bytes. */
  readonly size: FieldSize;
}

/**
 * Read every field of `layout` from `base` (relative to the reader), naming
 * errors `prefix.name`. A u64 must fit 2^53 (`ByteReader.u64Number`).
 *
 * @param r The reader.
 * @param base Where the header starts in the reader.
 * @param layout The header's fields.
 * @param prefix Prefix of the error field names (`"pcir"` gives `pcir.imageLen`).
 * @returns The values by name.
 * @throws {FirmwareFormatError} when a field lies outside the reader's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFields } from "./field_layout.ts";
 * import { ByteReader } from "./byte_reader.ts";
 * const r = new ByteReader(new Uint8Array([0, 1, 2, 3]));
 * assert(readFields(r, 1, [{ name: "code", offset: 0, size: 3 }], "x").code === 0x030201);
 * assert.throws(() => readFields(r, 2, [{ name: "w", offset: 0, size: 4 }], "x"), /x\.w/);
 * ```
 */
export function readFields<Name extends string>(
  r: ByteReader,
  base: number,
  layout: readonly FieldLayout<Name>[],
  prefix: string,
): Record<Name, number> {
  const out = {} as Record<Name, number>;
  for (const { name, offset, size } of layout) {
    const at = base + offset;
    const field = `${prefix}.${name}`;
    out[name] = size === 1
      ? r.u8(at, field)
      : size === 2
      ? r.u16(at, field)
      : size === 3
      ? r.u16(at, field) | r.u8(at + 2, field) << 16
      : size === 4
      ? r.u32(at, field)
      : r.u64Number(at, field);
  }
  return out;
}

/**
 * The offset of a named field.
 *
 * @param layout The header's fields.
 * @param name The field.
 * @returns Its offset from the start of the header.
 * @throws {RangeError} when the layout has no such field (a bug in the caller).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fieldOffset } from "./field_layout.ts";
 * assert(fieldOffset([{ name: "a", offset: 0, size: 4 }, { name: "b", offset: 4, size: 2 }], "b") === 4);
 * ```
 */
export function fieldOffset<Name extends string>(
  layout: readonly FieldLayout<Name>[],
  name: Name,
): number {
  const found = layout.find((f) => f.name === name);
  if (!found) throw new RangeError(`no field ${name} in the layout`);
  return found.offset;
}

/**
 * The bytes a layout spans: the end of its last field.
 *
 * @param layout The header's fields.
 * @returns The highest `offset + size`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutSize } from "./field_layout.ts";
 * assert(layoutSize([{ name: "a", offset: 8, size: 2 }, { name: "b", offset: 0, size: 4 }]) === 10);
 * ```
 */
export function layoutSize(layout: readonly FieldLayout[]): number {
  return Math.max(0, ...layout.map((f) => f.offset + f.size));
}
