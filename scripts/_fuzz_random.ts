/**
 * The fuzzer's randomness: a small seeded PRNG and the per-iteration seed
 * that makes every input reproducible from three numbers (run seed, target,
 * iteration).
 *
 * @module
 */

/**
 * A small, fast, seeded PRNG (sfc32, seeded through splitmix32). The same seed
 * gives the same sequence on every machine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FuzzRandom } from "./_fuzz_random.ts";
 * const a = new FuzzRandom(7), b = new FuzzRandom(7);
 * assert(a.u32() === b.u32() && a.below(10) < 10);
 * ```
 */
export class FuzzRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * Seed it.
   *
   * @param seed Any number; only its low 32 bits count.
   */
  constructor(seed: number) {
    let s = seed >>> 0;
    const splitmix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = splitmix();
    this.#b = splitmix();
    this.#c = splitmix();
    this.#d = splitmix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** The next 32 random bits as an unsigned number. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A whole number in `[0, n)` (0 when `n <= 1`). */
  below(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() < p * 0x100000000;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/**
 * The PRNG seed of one iteration: a hash of the run's seed, the target name
 * and the iteration number. It makes every input reproducible on its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { iterationSeed } from "./_fuzz_random.ts";
 * assert(iterationSeed(1, "tlv", 5) === iterationSeed(1, "tlv", 5));
 * assert(iterationSeed(1, "tlv", 5) !== iterationSeed(1, "tlv", 6));
 * ```
 */
export function iterationSeed(seed: number, target: string, iteration: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (seed >>> 0), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h ^ (iteration | 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
