/**
 * An allocator of I/O virtual addresses: the addresses a device uses for DMA
 * once the IOMMU maps them to our memory.
 *
 * First fit over a sorted free list: allocations are page-sized multiples at
 * the requested power-of-two alignment, and freed ranges merge with their
 * neighbours and are reused.
 *
 * The default window is [4 GiB, 1 TiB): above the 32-bit hole, where x86
 * reserves the MSI range 0xfee00000, and below 2^40 so that every address
 * fits the narrowest register that takes one (Turing's sysmem flush page
 * register holds `address >> 8` in 32 bits) and every GPU's DMA mask (47
 * bits and up).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IovaAllocator } from "./iova.ts";
 * const iova = new IovaAllocator();
 * const a = iova.alloc(4096);
 * const b = iova.alloc(8192, 0x10000);
 * assert(a === 0x1_0000_0000n && b % 0x10000n === 0n);
 * iova.free(a);
 * assert(iova.alloc(4096) === a);
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** A half-open address range `[start, end)`. */
export interface IovaRange {
  /** First address. */
  readonly start: bigint;
  /** One past the last address. */
  readonly end: bigint;
}

/** The window {@linkcode IovaAllocator} uses when given none: [4 GiB, 1 TiB). */
export const DEFAULT_IOVA_WINDOW: IovaRange = { start: 1n << 32n, end: 1n << 40n };

/** Options for {@linkcode IovaAllocator}. */
export interface IovaAllocatorOptions {
  /** Usable ranges; defaults to {@linkcode DEFAULT_IOVA_WINDOW}. */
  ranges?: readonly IovaRange[];
  /** Granule of every allocation, a power of two. Defaults to 4096. */
  pageSize?: number;
}

function isPowerOfTwo(n: bigint): boolean {
  return n > 0n && (n & (n - 1n)) === 0n;
}

function alignUp(value: bigint, align: bigint): bigint {
  return (value + align - 1n) & ~(align - 1n);
}

/**
 * The part of `window` the IOMMU can map, given its valid ranges (as
 * `VFIO_IOMMU_GET_INFO` reports them, inclusive `end`s already converted to
 * exclusive ones).
 *
 * @param valid Ranges the IOMMU accepts.
 * @param window Ranges the caller wants to use.
 * @returns The overlap, sorted, empty pieces dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intersectRanges } from "./iova.ts";
 * const r = intersectRanges([{ start: 0n, end: 0xfee00000n }, { start: 0xfef00000n, end: 1n << 48n }],
 *   [{ start: 1n << 32n, end: 1n << 40n }]);
 * assert(r.length === 1 && r[0].start === 1n << 32n);
 * ```
 */
export function intersectRanges(
  valid: readonly IovaRange[],
  window: readonly IovaRange[],
): IovaRange[] {
  const out: IovaRange[] = [];
  for (const a of valid) {
    for (const b of window) {
      const start = a.start > b.start ? a.start : b.start;
      const end = a.end < b.end ? a.end : b.end;
      if (start < end) out.push({ start, end });
    }
  }
  return out.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
}

/**
 * Hands out aligned IOVA ranges and takes them back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IovaAllocator } from "./iova.ts";
 * const iova = new IovaAllocator({ ranges: [{ start: 0x10000n, end: 0x20000n }] });
 * assert(iova.alloc(1) === 0x10000n);   // rounded up to one page
 * assert(iova.alloc(4096) === 0x11000n);
 * ```
 */
export class IovaAllocator {
  #free: IovaRange[];
  readonly #allocated = new Map<bigint, bigint>();
  /** Granule of every allocation. */
  readonly pageSize: bigint;

  /**
   * Start with every usable range free.
   *
   * @param options Usable ranges and page size.
   */
  constructor(options: IovaAllocatorOptions = {}) {
    this.pageSize = BigInt(options.pageSize ?? 4096);
    if (!isPowerOfTwo(this.pageSize)) {
      throw new RangeError(`IOVA page size ${this.pageSize} is not a power of two`);
    }
    const ranges = options.ranges ?? [DEFAULT_IOVA_WINDOW];
    this.#free = intersectRanges(ranges, [{ start: 0n, end: 1n << 64n }])
      .map((r) => ({ start: alignUp(r.start, this.pageSize), end: r.end & ~(this.pageSize - 1n) }))
      .filter((r) => r.start < r.end);
  }

  /** The free ranges, sorted (a copy). */
  get freeRanges(): IovaRange[] {
    return this.#free.map((r) => ({ ...r }));
  }

  /**
   * Reserve `size` bytes (rounded up to pages) at an `align`-aligned address.
   *
   * @param size Bytes.
   * @param align A power of two; at least the page size is used.
   * @returns The start address.
   * @throws {FalconryError} when no free range fits.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { IovaAllocator } from "./iova.ts";
   * const iova = new IovaAllocator();
   * assert(iova.alloc(2 << 20, 2 << 20) % (2n << 20n) === 0n);
   * ```
   */
  alloc(size: number | bigint, align: number | bigint = this.pageSize): bigint {
    const want = alignUp(BigInt(size), this.pageSize);
    let alignment = BigInt(align);
    if (want <= 0n || !isPowerOfTwo(alignment)) {
      throw new RangeError(`IOVA allocation of ${size} bytes aligned to ${align} is invalid`);
    }
    if (alignment < this.pageSize) alignment = this.pageSize;
    for (let i = 0; i < this.#free.length; i++) {
      const range = this.#free[i];
      const start = alignUp(range.start, alignment);
      const end = start + want;
      if (end > range.end) continue;
      const pieces: IovaRange[] = [];
      if (range.start < start) pieces.push({ start: range.start, end: start });
      if (end < range.end) pieces.push({ start: end, end: range.end });
      this.#free.splice(i, 1, ...pieces);
      this.#allocated.set(start, want);
      return start;
    }
    throw new FalconryError(
      `IOVA space exhausted: no free ${want}-byte range aligned to 0x${alignment.toString(16)}`,
    );
  }

  /**
   * Return a range from {@linkcode IovaAllocator.alloc}.
   *
   * @param iova The address `alloc` returned.
   * @returns The size that was reserved.
   * @throws {RangeError} for an address that is not allocated (a double free).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { IovaAllocator } from "./iova.ts";
   * const iova = new IovaAllocator();
   * assert(iova.free(iova.alloc(100)) === 4096n);
   * ```
   */
  free(iova: bigint): bigint {
    const size = this.#allocated.get(iova);
    if (size === undefined) {
      throw new RangeError(`IOVA 0x${iova.toString(16)} is not allocated`);
    }
    this.#allocated.delete(iova);
    let start = iova;
    let end = iova + size;
    let i = this.#free.findIndex((r) => r.start >= end);
    if (i < 0) i = this.#free.length;
    const before = this.#free[i - 1];
    const after = this.#free[i];
    let first = i;
    let count = 0;
    if (before && before.end === start) {
      start = before.start;
      first = i - 1;
      count++;
    }
    if (after && after.start === end) {
      end = after.end;
      count++;
    }
    this.#free.splice(first, count, { start, end });
    return size;
  }
}
