/**
 * The simulated GPU's DMA allocator: zeroed host buffers mapped into
 * {@linkcode SystemMemory} at IOVAs the simulated engines can reach. Each
 * buffer is a live mapping until it is disposed; IOVAs are never handed out
 * twice, so a device access through a stale address faults instead of
 * reaching a newer buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimDmaAllocator } from "./dma.ts";
 * import { SimDmaFault, SystemMemory } from "./system_memory.ts";
 *
 * const memory = new SystemMemory();
 * const dma = new SimDmaAllocator(memory);
 * {
 *   using buffer = dma.alloc(100, { align: 0x10000 });
 *   assert.equal(buffer.size, 4096);
 *   assert.equal(buffer.iova % 0x10000n, 0n);
 *   buffer.bytes[3] = 7;
 *   assert.equal(memory.read(buffer.iova + 3n, 1)[0], 7);
 *   assert.equal(dma.live, 1);
 * }
 * assert.equal(dma.live, 0);
 * assert.throws(() => memory.read(0x1_0000_0000n, 1), SimDmaFault);
 * ```
 *
 * @module
 */

import type { DmaAllocator, DmaAllocOptions, DmaBuffer } from "../pci/device.ts";
import { type FaultInjector, type FaultPoint, registerFaultPoint } from "./faults.ts";
import { type DmaView, SimDmaFault, type SystemMemory } from "./system_memory.ts";

/**
 * Freed large buffers (1 MiB and up), by size, kept for the next simulated GPU. A fresh buffer's
 * pages fault in on first touch (7,000 of them for a GSP image, 5–10 µs each in a VM), which real
 * DMA memory does not: VFIO pins it when it is mapped. Up to {@linkcode FREE_LARGE_BUDGET} bytes
 * are kept, enough for eight GPUs booting at once (`bootAll`).
 */
const FREE_LARGE = new Map<number, ArrayBuffer[]>();
/** At most this many bytes of freed buffers are kept. */
const FREE_LARGE_BUDGET = 512 << 20;
let freeLargeBytes = 0;

/** Page size of the simulated IOMMU. */
export const SIM_PAGE_SIZE = 4096;
/** First IOVA handed out (4 GiB, as the VFIO backend's default window starts). */
export const SIM_IOVA_BASE = 1n << 32n;

/** Options for {@linkcode SimDmaAllocator}. */
export interface SimDmaAllocatorOptions {
  /** First IOVA (default 4 GiB). */
  readonly base?: bigint;
}

/** A {@linkcode DmaAllocator} over simulated system memory. */
export class SimDmaAllocator implements DmaAllocator {
  readonly #memory: SystemMemory;
  #next: bigint;
  #live = 0;
  /** Bytes allocated so far. */
  bytesAllocated = 0;

  /**
   * Build it.
   *
   * @param memory Where the buffers are mapped.
   * @param options The first IOVA.
   */
  constructor(memory: SystemMemory, options: SimDmaAllocatorOptions = {}) {
    this.#memory = memory;
    this.#next = options.base ?? SIM_IOVA_BASE;
  }

  /** Buffers not yet disposed. */
  get live(): number {
    return this.#live;
  }

  /**
   * Allocate zeroed DMA memory.
   *
   * @param size Bytes, rounded up to whole pages.
   * @param options IOVA alignment, a power of two (default the page size).
   * @returns The buffer; dispose it to unmap.
   * @throws {RangeError} For a size that is not a positive integer or a bad alignment.
   */
  alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
    if (!Number.isInteger(size) || size <= 0) {
      throw new RangeError(`DMA allocation of ${size} bytes: the size must be a positive integer`);
    }
    const align = options.align ?? SIM_PAGE_SIZE;
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
      throw new RangeError(`DMA alignment ${align} is not a power of two`);
    }
    const bytesSize = Math.ceil(size / SIM_PAGE_SIZE) * SIM_PAGE_SIZE;
    const a = BigInt(Math.max(align, SIM_PAGE_SIZE));
    const iova = (this.#next + a - 1n) / a * a;
    this.#next = iova + BigInt(bytesSize);
    const reused = FREE_LARGE.get(bytesSize)?.pop();
    if (reused) {
      freeLargeBytes -= bytesSize;
      new Uint8Array(reused).fill(0);
    }
    const bytes = new Uint8Array(reused ?? new ArrayBuffer(bytesSize));
    const mapping = this.#memory.map(iova, bytes);
    this.#live++;
    this.bytesAllocated += bytesSize;
    let disposed = false;
    return {
      bytes,
      iova,
      size: bytesSize,
      [Symbol.dispose]: () => {
        if (disposed) return;
        disposed = true;
        mapping[Symbol.dispose]();
        this.#live--;
        if (bytesSize >= 1 << 20 && freeLargeBytes + bytesSize <= FREE_LARGE_BUDGET) {
          // Detached from every view the host still holds: a stale view cannot write into it.
          const list = FREE_LARGE.get(bytesSize) ?? [];
          list.push(bytes.buffer.transfer());
          FREE_LARGE.set(bytesSize, list);
          freeLargeBytes += bytesSize;
        }
      },
    };
  }
}

/** The IOMMU's fault point: a device DMA access is refused. */
export const DMA_FAULT: FaultPoint = registerFaultPoint({
  name: "dma-fault",
  description: "the IOMMU refuses a device DMA access although the mapping is live (as after " +
    "a revoked or torn-down mapping): the engine that made it stops with a DMA error",
  owner: "IOMMU",
  parameters: "afterAccesses: let n device accesses through first (default 0: the next one); " +
    "iova: only an access that covers this IOVA",
});

/**
 * System memory as the device sees it, with the `dma-fault` fault point:
 * while it is armed, the chosen device access throws {@linkcode SimDmaFault}
 * as an unmapped IOVA would, and the point disarms itself.
 *
 * @param memory The real view.
 * @param faults Where `dma-fault` is armed.
 * @param busMaster Whether the device may master DMA (config command bit 2);
 *   while it may not, every access fails, as the root port would refuse it.
 * @returns A view to hand the simulated engines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultingDmaView } from "./dma.ts";
 * import { FaultInjector } from "./faults.ts";
 * import { SimDmaFault, SystemMemory } from "./system_memory.ts";
 * const memory = new SystemMemory();
 * using _m = memory.map(0x1000n, new Uint8Array(4096));
 * const faults = new FaultInjector();
 * const view = faultingDmaView(memory, faults);
 * faults.arm("dma-fault", { afterAccesses: 1 });
 * view.read(0x1000n, 4);
 * assert.throws(() => view.read(0x1000n, 4), SimDmaFault);
 * assert.equal(view.read(0x1000n, 4).length, 4); // fired once
 * ```
 */
export function faultingDmaView(
  memory: DmaView,
  faults: FaultInjector,
  busMaster: () => boolean = () => true,
): DmaView {
  let passed = 0;
  const check = (iova: bigint, length: number, access: "read" | "write") => {
    if (!busMaster()) throw new SimDmaFault(iova, length, access);
    const armed = faults.armed(DMA_FAULT.name);
    if (!armed) {
      passed = 0;
      return;
    }
    const target = typeof armed.iova === "bigint"
      ? armed.iova
      : typeof armed.iova === "number"
      ? BigInt(armed.iova)
      : undefined;
    if (target !== undefined && (target < iova || target >= iova + BigInt(length))) return;
    const after = typeof armed.afterAccesses === "number" ? armed.afterAccesses : 0;
    if (passed++ < after) return;
    faults.disarm(DMA_FAULT.name);
    passed = 0;
    faults.fired(DMA_FAULT.name, `${access} of ${length} bytes at IOVA 0x${iova.toString(16)}`);
    throw new SimDmaFault(iova, length, access);
  };
  return {
    read(iova: bigint, length: number): Uint8Array {
      check(iova, length, "read");
      return memory.read(iova, length);
    },
    write(iova: bigint, bytes: Uint8Array): void {
      check(iova, bytes.length, "write");
      memory.write(iova, bytes);
    },
  };
}
