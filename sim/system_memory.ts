/**
 * Simulated system memory as the GPU sees it through the IOMMU: a set of
 * live DMA mappings, each an IOVA range backed by the bytes the host wrote.
 *
 * Every device-side access (a falcon's DMA engine, Booter walking the radix3
 * tables, GSP-RM reading its queues) goes through {@linkcode DmaView}. An
 * access that is not wholly inside one live mapping is a
 * {@linkcode SimDmaFault}, as an IOMMU fault would be on real hardware: the
 * simulated engine that made it stops with an error instead of reading
 * whatever happens to be there.
 *
 * @example A mapping, a device read, and a fault
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimDmaFault, SystemMemory } from "./system_memory.ts";
 *
 * const memory = new SystemMemory();
 * const bytes = new Uint8Array(4096);
 * bytes.set([1, 2, 3, 4], 16);
 * using mapping = memory.map(0x10_0000n, bytes);
 * assert.deepEqual([...memory.read(0x10_0010n, 4)], [1, 2, 3, 4]);
 * assert.throws(() => memory.read(0x10_0ffen, 4), SimDmaFault);
 * mapping[Symbol.dispose]();
 * assert.throws(() => memory.read(0x10_0010n, 4), SimDmaFault);
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** What a simulated engine can do to system memory. */
export interface DmaView {
  /**
   * Read device-visible memory.
   *
   * @param iova The first byte's I/O virtual address.
   * @param length Bytes to read.
   * @returns A copy of the bytes; inside {@linkcode withInPlaceReads}, a
   *   {@linkcode SystemMemory} returns a view of the mapped bytes instead.
   * @throws {SimDmaFault} when the range is not inside one live mapping.
   */
  read(iova: bigint, length: number): Uint8Array;
  /**
   * Write device-visible memory.
   *
   * @param iova The first byte's I/O virtual address.
   * @param bytes What to write.
   * @throws {SimDmaFault} when the range is not inside one live mapping.
   */
  write(iova: bigint, bytes: Uint8Array): void;
}

/**
 * A device access outside every live DMA mapping: what an IOMMU fault is on
 * real hardware.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimDmaFault } from "./system_memory.ts";
 * const fault = new SimDmaFault(0x1000n, 4, "read");
 * assert.match(fault.message, /0x1000/);
 * ```
 */
export class SimDmaFault extends FalconryError {
  /** The faulting address. */
  readonly iova: bigint;
  /** Bytes the access covered. */
  readonly length: number;
  /** Which way the access went. */
  readonly access: "read" | "write";

  /**
   * Construct it.
   *
   * @param iova The faulting address.
   * @param length Bytes the access covered.
   * @param access Read or write.
   */
  constructor(iova: bigint, length: number, access: "read" | "write") {
    super(
      `DMA ${access} of ${length} bytes at IOVA 0x${iova.toString(16)} is outside every live ` +
        `mapping (IOMMU fault)`,
    );
    this.iova = iova;
    this.length = length;
    this.access = access;
  }
}

/** One live mapping; dispose it to unmap. */
export interface SystemMemoryMapping extends Disposable {
  /** Its first IOVA. */
  readonly iova: bigint;
  /** The backing bytes (shared with the host side). */
  readonly bytes: Uint8Array;
}

interface Range {
  readonly start: bigint;
  readonly end: bigint;
  readonly bytes: Uint8Array;
}

/**
 * The simulator's system memory: live mappings by IOVA, with byte counts of
 * what the device read and wrote.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SystemMemory } from "./system_memory.ts";
 * const memory = new SystemMemory();
 * using _m = memory.map(0x2000n, new Uint8Array(8192));
 * memory.write(0x2ff0n, new Uint8Array([9]));
 * assert.equal(memory.read(0x2ff0n, 1)[0], 9);
 * assert.equal(memory.bytesRead, 1);
 * assert.equal(memory.live.length, 1);
 * ```
 */
export class SystemMemory implements DmaView {
  #ranges: Range[] = [];
  #lastHit: Range | undefined;
  /** Bytes the device has read. */
  bytesRead = 0;
  /** Bytes the device has written. */
  bytesWritten = 0;

  /**
   * Make `bytes` reachable by the device at `iova`.
   *
   * @param iova First IOVA; the range must not overlap a live mapping.
   * @param bytes The backing memory; the device sees later host writes to it.
   * @returns The mapping; dispose it to unmap.
   * @throws {RangeError} when the range is empty or overlaps a live mapping.
   */
  map(iova: bigint, bytes: Uint8Array): SystemMemoryMapping {
    const end = iova + BigInt(bytes.length);
    if (bytes.length === 0 || iova < 0n) {
      throw new RangeError(`cannot map ${bytes.length} bytes at IOVA 0x${iova.toString(16)}`);
    }
    const clash = this.#ranges.find((r) => iova < r.end && r.start < end);
    if (clash) {
      throw new RangeError(
        `IOVA 0x${iova.toString(16)}..0x${end.toString(16)} overlaps the live mapping at ` +
          `0x${clash.start.toString(16)}`,
      );
    }
    const range: Range = { start: iova, end, bytes };
    this.#ranges.push(range);
    return {
      iova,
      bytes,
      [Symbol.dispose]: () => {
        this.#ranges = this.#ranges.filter((r) => r !== range);
        if (this.#lastHit === range) this.#lastHit = undefined;
      },
    };
  }

  /** The live mappings, as `{ iova, size }`, lowest first. */
  get live(): { iova: bigint; size: number }[] {
    return [...this.#ranges]
      .sort((a, b) => (a.start < b.start ? -1 : 1))
      .map((r) => ({ iova: r.start, size: r.bytes.length }));
  }

  /**
   * Read device-visible memory.
   *
   * @param iova First byte.
   * @param length Bytes.
   * @returns A copy; inside {@linkcode withInPlaceReads}, a view of the mapped bytes.
   */
  read(iova: bigint, length: number): Uint8Array {
    const { range, offset } = this.#find(iova, length, "read");
    this.bytesRead += length;
    return inPlaceDepth > 0
      ? range.bytes.subarray(offset, offset + length)
      : range.bytes.slice(offset, offset + length);
  }

  /**
   * Write device-visible memory.
   *
   * @param iova First byte.
   * @param bytes What to write.
   */
  write(iova: bigint, bytes: Uint8Array): void {
    const { range, offset } = this.#find(iova, bytes.length, "write");
    this.bytesWritten += bytes.length;
    range.bytes.set(bytes, offset);
  }

  #find(iova: bigint, length: number, access: "read" | "write"): { range: Range; offset: number } {
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`DMA ${access} length ${length} is not a byte count`);
    }
    const end = iova + BigInt(length);
    // Device accesses come in runs within one mapping (a table, then the image's pages).
    const last = this.#lastHit;
    const range = last && last.start <= iova && end <= last.end
      ? last
      : this.#ranges.find((r) => r.start <= iova && end <= r.end);
    if (!range) throw new SimDmaFault(iova, length, access);
    this.#lastHit = range;
    return { range, offset: Number(iova - range.start) };
  }
}

/** Nesting depth of {@linkcode withInPlaceReads} scopes now running. */
let inPlaceDepth = 0;

/**
 * Run `inspect` with every {@linkcode SystemMemory.read} returning a view of
 * the mapped bytes instead of a copy, for a simulated engine that only
 * looks at what it reads (Booter comparing the 28–63 MB GSP image page by
 * page) and would otherwise copy every page. It is a scope rather than a
 * method of {@linkcode DmaView} because engines reach memory through
 * wrappers (the IOMMU's fault points) that forward only `read` and `write`.
 *
 * Everything else about a read is unchanged: it goes through the same
 * {@linkcode DmaView} (fault points and bus-master checks included), faults
 * outside a live mapping and counts in {@linkcode SystemMemory.bytesRead}.
 * The views are valid only while `inspect` runs: it must be synchronous
 * (a returned promise is refused, as the scope would end before it ran),
 * must not write through them, and must not keep them.
 *
 * @param inspect The synchronous work that reads device memory.
 * @returns What `inspect` returned.
 * @throws {TypeError} When `inspect` returns a promise.
 *
 * @example A view inside the scope, a copy outside it
 * ```ts
 * import assert from "node:assert/strict";
 * import { SystemMemory, withInPlaceReads } from "./system_memory.ts";
 * const memory = new SystemMemory();
 * const bytes = new Uint8Array(4096);
 * using _m = memory.map(0x1000n, bytes);
 * assert.equal(withInPlaceReads(() => memory.read(0x1010n, 4).buffer), bytes.buffer);
 * assert.notEqual(memory.read(0x1010n, 4).buffer, bytes.buffer);
 * assert.equal(memory.bytesRead, 8);
 * ```
 */
export function withInPlaceReads<T>(inspect: () => T): T {
  inPlaceDepth++;
  try {
    const result = inspect();
    if (result instanceof Promise) {
      result.catch(() => {}); // its views may already be stale: refused below, not awaited
      throw new TypeError("withInPlaceReads: the work must be synchronous, not return a promise");
    }
    return result;
  } finally {
    inPlaceDepth--;
  }
}
