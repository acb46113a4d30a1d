/**
 * The mutators: byte-level ones (bit flips, boundary integers, truncation,
 * splices, a shifted view) and structure-aware ones that use a seed's
 * anatomy (`set-field`, `nudge-field`, `tangle`), and {@linkcode mutate},
 * which stacks 1 to 6 of them.
 *
 * @module
 */

import {
  type FuzzSeed,
  hx,
  type MutableInput,
  readUint,
  type SeedAnatomy,
  setField,
  writeUint,
} from "./_fuzz_anatomy.ts";
import type { FuzzRandom } from "./_fuzz_random.ts";

// Boundary values for offsets and sizes: small, sign bits, u16/u32/u64 edges, 2^53.
const INTERESTING: readonly bigint[] = (
  "0 1 2 3 4 7 8 0xf 0x10 0x18 0x20 0x3f 0x40 0x7f 0x80 0xff 0x100 0x200 0x1000 0x7fff " +
  "0x8000 0xffff 0x10000 0x7fffffff 0x80000000 0xfffffffe 0xffffffff 0x100000000 " +
  "0x1fffffffffffff 0x20000000000000 0x7fffffffffffffff 0x8000000000000000 0xffffffffffffffff"
).split(" ").map(BigInt);

/** A value worth writing: a boundary constant, one tied to the input size, or a structure start. */
function interestingValue(r: FuzzRandom, n: number, anatomy: SeedAnatomy, self: number): bigint {
  const choice = r.below(10);
  if (choice < 4) return r.pick(INTERESTING);
  if (choice < 7) {
    const near = r.pick([n, n >> 1, n * 2, self]);
    return BigInt(Math.max(0, near + r.pick([-8, -4, -2, -1, 0, 0, 1, 2, 4, 8])));
  }
  if (choice < 9 && anatomy.pointers.length > 0) {
    return BigInt(Math.max(0, r.pick(anatomy.pointers) + r.pick([0, 0, 0, -1, 1, -4, 4])));
  }
  return BigInt(r.u32());
}

/** An offset, half the time within the first KiB, where headers live. */
function position(r: FuzzRandom, n: number, width: number, align = 1): number {
  if (n < width) return -1;
  const limit = r.chance(0.5) ? Math.min(n, 1024) : n;
  const at = r.below(limit - width + 1);
  return at - (at % align);
}

const MAX_INPUT = 4 << 20;

function garbage(r: FuzzRandom, length: number, like: Uint8Array): Uint8Array {
  const out = new Uint8Array(length);
  switch (r.below(4)) {
    case 0:
      for (let i = 0; i < length; i++) out[i] = r.u32() & 0xff;
      return out;
    case 1:
      return out;
    case 2:
      return out.fill(0xff);
    default:
      for (let i = 0; i < length; i++) out[i] = like.length ? like[i % like.length] : 0;
      return out;
  }
}

interface Mutator {
  name: string;
  weight: number;
  structural: boolean;
  apply(input: MutableInput, seed: FuzzSeed, r: FuzzRandom): string;
}

const EMPTY = "skipped (empty input)";
const AT_SIZE_LIMIT = "skipped (input at the size limit)";

/** Cut the input to its first `length` bytes. */
function truncate(input: MutableInput, length: number): string {
  const n = input.bytes.length;
  input.bytes = input.bytes.subarray(0, length);
  return `to ${hx(length)} of ${hx(n)}`;
}

/** Replace `deleted` bytes at `at` with `inserted`, in a new buffer. */
function splice(
  input: MutableInput,
  at: number,
  deleted: number,
  inserted: Uint8Array = new Uint8Array(0),
): void {
  const old = input.bytes;
  const out = new Uint8Array(old.length - deleted + inserted.length);
  out.set(old.subarray(0, at));
  out.set(inserted, at);
  out.set(old.subarray(at + deleted), at + inserted.length);
  input.bytes = out;
}

const MUTATORS: readonly Mutator[] = [
  {
    name: "flip-bit",
    weight: 10,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n === 0) return EMPTY;
      const count = r.chance(0.7) ? 1 : 2 + r.below(7);
      const flipped: string[] = [];
      for (let i = 0; i < count; i++) {
        const at = position(r, n, 1);
        const bit = r.below(8);
        input.bytes[at] ^= 1 << bit;
        flipped.push(`${hx(at)}.${bit}`);
      }
      return flipped.join(" ");
    },
  },
  {
    name: "set-byte",
    weight: 6,
    structural: false,
    apply(input, _seed, r) {
      const at = position(r, input.bytes.length, 1);
      if (at < 0) return EMPTY;
      const value = r.chance(0.5) ? r.pick([0, 1, 0x7f, 0x80, 0xfe, 0xff]) : r.below(256);
      return writeUint(input.bytes, at, 1, value);
    },
  },
  {
    name: "flip-bytes",
    weight: 4,
    structural: false,
    apply(input, _seed, r) {
      const count = 1 + r.below(4);
      const at = position(r, input.bytes.length, count);
      if (at < 0) return EMPTY;
      const mask = 1 + r.below(255);
      for (let i = 0; i < count; i++) input.bytes[at + i] ^= mask;
      return `${count} bytes at ${hx(at)} ^= ${hx(mask)}`;
    },
  },
  {
    name: "set-int",
    weight: 12,
    structural: false,
    apply(input, seed, r) {
      const width = r.pick([2, 4, 4, 8] as const);
      const at = position(r, input.bytes.length, width, width);
      if (at < 0) return EMPTY;
      return writeUint(
        input.bytes,
        at,
        width,
        interestingValue(r, input.bytes.length, seed.anatomy, at),
      );
    },
  },
  {
    name: "add-int",
    weight: 5,
    structural: false,
    apply(input, _seed, r) {
      const width = r.pick([1, 2, 4, 8] as const);
      const at = position(r, input.bytes.length, width, width);
      if (at < 0) return EMPTY;
      const delta = BigInt(r.pick([-16, -8, -4, -2, -1, 1, 2, 4, 8, 16, 0x100, -0x100, 0x1000]));
      return writeUint(input.bytes, at, width, (readUint(input.bytes, at, width) ?? 0n) + delta) +
        ` (${delta >= 0n ? "+" : ""}${delta})`;
    },
  },
  {
    name: "truncate",
    weight: 4,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n === 0) return EMPTY;
      return truncate(input, r.chance(0.3) ? r.below(Math.min(n, 64)) : r.below(n));
    },
  },
  {
    name: "truncate-at-boundary",
    weight: 5,
    structural: false,
    apply(input, seed, r) {
      const n = input.bytes.length;
      const marks = [0, 1, 2, 4, 8, 16, 24, 64, ...seed.anatomy.boundaries];
      return truncate(
        input,
        Math.max(0, Math.min(n, r.pick(marks) + r.pick([-4, -2, -1, 0, 0, 0, 1, 2, 4]))),
      );
    },
  },
  {
    name: "extend",
    weight: 4,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      const count = Math.min(MAX_INPUT - n, r.pick([1, 2, 3, 4, 7, 8, 16, 64, 256, 4096, n + 1]));
      if (count <= 0) return AT_SIZE_LIMIT;
      splice(input, n, 0, garbage(r, count, input.bytes));
      return `by ${hx(count)} bytes`;
    },
  },
  {
    name: "copy-block",
    weight: 5,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n < 2) return EMPTY;
      const length = 1 + r.below(Math.min(n - 1, r.pick([4, 8, 64, 512, n])));
      const from = position(r, n, length);
      const to = position(r, n, length);
      input.bytes.copyWithin(to, from, from + length);
      return `${hx(length)} bytes ${hx(from)} -> ${hx(to)}`;
    },
  },
  {
    name: "insert-bytes",
    weight: 2,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      const count = Math.min(MAX_INPUT - n, r.pick([1, 2, 4, 8, 16, 512]));
      if (count <= 0) return AT_SIZE_LIMIT;
      const at = position(r, n + 1, 1);
      splice(input, at, 0, garbage(r, count, input.bytes));
      return `${hx(count)} bytes at ${hx(at)}`;
    },
  },
  {
    name: "delete-bytes",
    weight: 2,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n === 0) return EMPTY;
      const count = Math.min(n, r.pick([1, 2, 4, 8, 16, 512]));
      const at = position(r, n, count);
      splice(input, at, count);
      return `${hx(count)} bytes at ${hx(at)}`;
    },
  },
  {
    name: "offset-view",
    weight: 2,
    structural: false,
    apply(input, _seed, r) {
      // Same bytes, seen through a view that does not start at its buffer's
      // start: catches a DataView built on `bytes.buffer` without `byteOffset`.
      const shift = 1 + r.below(15);
      const host = new Uint8Array(input.bytes.length + shift + r.below(16)).fill(0xa5);
      host.set(input.bytes, shift);
      input.bytes = host.subarray(shift, shift + input.bytes.length);
      return `byteOffset ${shift}`;
    },
  },
  {
    name: "set-field",
    weight: 16,
    structural: true,
    apply(input, seed, r) {
      const field = r.pick(seed.anatomy.fields);
      return setField(
        input,
        field,
        interestingValue(r, input.bytes.length, seed.anatomy, field.offset),
      );
    },
  },
  {
    name: "nudge-field",
    weight: 7,
    structural: true,
    apply(input, seed, r) {
      const field = r.pick(seed.anatomy.fields);
      const value = readUint(input.bytes, field.offset, field.width) ?? 0n;
      const next = r.chance(0.3)
        ? value ^ (1n << BigInt(field.width * 8 - 1))
        : value + BigInt(r.pick([-16, -8, -4, -2, -1, 1, 2, 4, 8, 16]));
      return setField(input, field, next);
    },
  },
  {
    name: "tangle",
    weight: 14,
    structural: true,
    apply(input, seed, r) {
      const tangle = r.pick(seed.anatomy.tangles);
      return `${tangle.name}: ${tangle.apply(input, r)}`;
    },
  },
];

/**
 * Names of every mutator, in the form mutation steps start with
 * (`set-int u32@0x18=0xffffffff`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MUTATOR_NAMES } from "./_fuzz_mutators.ts";
 * assert(MUTATOR_NAMES.includes("tangle") && MUTATOR_NAMES.includes("truncate"));
 * ```
 */
export const MUTATOR_NAMES: readonly string[] = MUTATORS.map((m) => m.name);

/** A mutated input and how it was made. */
export interface Mutation {
  /** The mutated bytes (a copy; the seed is untouched). */
  bytes: Uint8Array;
  /** One line per mutation step, starting with the mutator's name. */
  steps: string[];
}

/**
 * Mutate a copy of a seed with 1 to 6 stacked mutations drawn from `rng`.
 * Structure-aware mutators (`set-field`, `nudge-field`, `tangle`) take part
 * when the seed's anatomy has fields or tangles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FuzzRandom } from "./_fuzz_random.ts";
 * import { mutate } from "./_fuzz_mutators.ts";
 * import { seedFromBytes } from "./_fuzz_seeds.ts";
 * import { forgeTlv } from "../firmware/forge/mod.ts";
 * const seed = seedFromBytes("tlv", "tiny", forgeTlv([["VERS", "1"]]));
 * const a = mutate(seed, new FuzzRandom(3)), b = mutate(seed, new FuzzRandom(3));
 * assert(a.steps.join() === b.steps.join());
 * ```
 */
export function mutate(seed: FuzzSeed, rng: FuzzRandom): Mutation {
  const input: MutableInput = { bytes: seed.bytes.slice() };
  const usable = MUTATORS.filter((m) =>
    !m.structural ||
    (m.name === "tangle" ? seed.anatomy.tangles.length > 0 : seed.anatomy.fields.length > 0)
  );
  const total = usable.reduce((sum, m) => sum + m.weight, 0);
  const count = rng.chance(0.55) ? 1 : rng.chance(0.6) ? 2 : 3 + rng.below(4);
  const steps: string[] = [];
  for (let i = 0; i < count; i++) {
    let ticket = rng.below(total);
    const mutator = usable.find((m) => (ticket -= m.weight) < 0) ?? usable[0];
    steps.push(`${mutator.name} ${mutator.apply(input, seed, rng)}`);
  }
  return { bytes: input.bytes, steps };
}
