/**
 * DMA memory behind an IOMMU: anonymous memory (huge pages when the size is
 * a multiple of 2 MiB, small pages otherwise), kept out of forked children,
 * and mapped at an IOVA from an {@linkcode IovaAllocator} through a
 * {@linkcode DmaMapper} (the VFIO container in practice, a recorder in tests).
 *
 * The memory is not `mlock`ed: `VFIO_IOMMU_MAP_DMA` pins the pages itself
 * and charges them to `RLIMIT_MEMLOCK`. In the kernel's
 * `drivers/vfio/vfio_iommu_type1.c`, `vfio_pin_pages_remote()` pins each
 * page (`pin_user_pages`/`get_user_pages` with `FOLL_LONGTERM`), checks
 * `mm->locked_vm` plus the new pages against `RLIMIT_MEMLOCK`, and
 * `vfio_lock_acct()` adds them to `mm->locked_vm` (directly in older
 * kernels, through `__account_locked_vm()` in `mm/util.c` in current ones).
 * `mlock(2)` charges the same counter (`mm/mlock.c`: `do_mlock()` checks
 * `mm->locked_vm`, `mlock_fixup()` adds to it), and type1 does not look for
 * `VM_LOCKED`. So an `mlock` before the map counts every page twice, and a
 * user without `CAP_IPC_LOCK` would hit the limit at half the memory. A
 * pinned page stays resident and in place, which is all the device needs.
 *
 * Each buffer is a `Disposable` that undoes exactly what was done, in reverse:
 * IOMMU unmap (which unpins and uncharges), IOVA release, munmap. A failure
 * half-way through an allocation undoes the steps already taken.
 *
 * @example With a mapper that only records (no IOMMU needed)
 * ```ts
 * import assert from "node:assert/strict";
 * import { IommuDmaAllocator, type DmaMapper } from "./vfio_dma.ts";
 * import { IovaAllocator } from "./iova.ts";
 * const maps: bigint[] = [];
 * const mapper: DmaMapper = { map: (_v, iova) => void maps.push(iova), unmap: () => {} };
 * using dma = new IommuDmaAllocator(mapper, new IovaAllocator(), { name: "test" });
 * using buffer = dma.alloc(100);
 * buffer.bytes[0] = 1;
 * assert(buffer.size === 4096 && maps[0] === buffer.iova);
 * ```
 *
 * @module
 */

import { DeviceError, FalconryError } from "../errors.ts";
import type { DmaAllocator, DmaAllocOptions, DmaBuffer } from "./device.ts";
import type { IovaAllocator } from "./iova.ts";
import { ioctl, type IoctlFunction, MADV_DONTFORK, madvise, pageSize } from "./libc.ts";
import { HUGE_PAGE_SIZE, Mapping } from "./mapping.ts";
import { decodeDmaUnmap, encodeDmaMap, encodeDmaUnmap, VFIO_IOCTL } from "./vfio_abi.ts";

/** Maps process memory into a device's address space and back. */
export interface DmaMapper {
  /**
   * Make `[vaddr, vaddr + size)` reachable by the device at `iova`.
   * @param vaddr Process virtual address.
   * @param iova Device address.
   * @param size Bytes.
   */
  map(vaddr: bigint, iova: bigint, size: bigint): void;
  /**
   * Remove the mapping at `iova`.
   * @param iova Device address.
   * @param size Bytes.
   */
  unmap(iova: bigint, size: bigint): void;
}

/** VFIO_IOMMU_MAP_DMA fails with ENOMEM when pinning would pass RLIMIT_MEMLOCK. */
const LOCKED_MEMORY_HINT =
  "raise the locked-memory limit (`ulimit -l unlimited`, or LimitMEMLOCK=infinity for a service)";

/**
 * A {@linkcode DmaMapper} over a VFIO type1 container descriptor.
 *
 * @param containerFd The container (`/dev/vfio/vfio`) with an IOMMU set.
 * @param path The container's path, for errors.
 * @param call The ioctl to use; tests pass a fake kernel.
 * @returns The mapper.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vfioDmaMapper } from "./vfio_dma.ts";
 * const mapper = vfioDmaMapper(-1, "/dev/vfio/vfio"); // calls fail with EBADF until given a real container
 * assert(typeof mapper.map === "function");
 * ```
 */
export function vfioDmaMapper(
  containerFd: number,
  path: string,
  call: IoctlFunction = ioctl,
): DmaMapper {
  return {
    map(vaddr, iova, size) {
      call(
        containerFd,
        VFIO_IOCTL.VFIO_IOMMU_MAP_DMA,
        encodeDmaMap({ vaddr, iova, size }),
        "VFIO_IOMMU_MAP_DMA",
        {
          path,
          hints: {
            ENOMEM: LOCKED_MEMORY_HINT,
            EINVAL: `IOVA 0x${iova.toString(16)} is outside the IOMMU's valid ranges or misaligned`,
            EEXIST: `IOVA 0x${iova.toString(16)} is already mapped`,
          },
        },
      );
    },
    unmap(iova, size) {
      const request = encodeDmaUnmap(iova, size);
      call(containerFd, VFIO_IOCTL.VFIO_IOMMU_UNMAP_DMA, request, "VFIO_IOMMU_UNMAP_DMA", {
        path,
      });
      const unmapped = decodeDmaUnmap(request).size;
      if (unmapped !== size) {
        throw new FalconryError(
          `VFIO_IOMMU_UNMAP_DMA at 0x${iova.toString(16)} unmapped ${unmapped} of ${size} bytes`,
        );
      }
    },
  };
}

/** Options for {@linkcode IommuDmaAllocator}. */
export interface IommuDmaAllocatorOptions {
  /** For messages, e.g. the device's BDF. */
  name: string;
  /** Refuse allocations (a read-only device does no DMA). */
  readOnly?: boolean;
  /** Try huge pages for 2 MiB multiples. Defaults to true. */
  hugePages?: boolean;
}

class IommuDmaBuffer implements DmaBuffer {
  readonly bytes: Uint8Array<ArrayBuffer>;
  #stack: DisposableStack | null;
  #onDispose: (buffer: IommuDmaBuffer) => void;

  constructor(
    memory: Mapping,
    readonly iova: bigint,
    readonly size: number,
    stack: DisposableStack,
    onDispose: (buffer: IommuDmaBuffer) => void,
  ) {
    this.bytes = new Uint8Array(memory.buffer);
    this.#stack = stack;
    this.#onDispose = onDispose;
  }

  [Symbol.dispose](): void {
    const stack = this.#stack;
    if (!stack) return;
    this.#stack = null;
    this.#onDispose(this);
    stack.dispose();
  }
}

/**
 * A {@linkcode DmaAllocator} over an IOMMU. Disposing it disposes every
 * buffer still allocated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IommuDmaAllocator } from "./vfio_dma.ts";
 * import { IovaAllocator } from "./iova.ts";
 * const dma = new IommuDmaAllocator({ map() {}, unmap() {} }, new IovaAllocator(), { name: "t" });
 * const a = dma.alloc(8192, { align: 0x10000 });
 * assert.equal(a.iova % 0x10000n, 0n);
 * assert.equal(dma.live, 1);
 * dma[Symbol.dispose]();
 * assert.equal(dma.live, 0);
 * assert.equal(a.bytes.length, 0);
 * ```
 */
export class IommuDmaAllocator implements DmaAllocator, Disposable {
  readonly #mapper: DmaMapper;
  readonly #iova: IovaAllocator;
  readonly #options: IommuDmaAllocatorOptions;
  readonly #live = new Set<IommuDmaBuffer>();
  #closed = false;

  /**
   * Allocate through `mapper` at addresses from `iova`.
   *
   * @param mapper Performs the IOMMU mappings.
   * @param iova Hands out device addresses.
   * @param options Name, read-only mode, huge pages.
   */
  constructor(mapper: DmaMapper, iova: IovaAllocator, options: IommuDmaAllocatorOptions) {
    this.#mapper = mapper;
    this.#iova = iova;
    this.#options = options;
  }

  /** Number of buffers allocated and not yet disposed. */
  get live(): number {
    return this.#live.size;
  }

  /**
   * Allocate zeroed memory and map it for the device.
   *
   * @param size Bytes; rounded up to whole pages (2 MiB multiples get huge pages when available).
   * @param options IOVA alignment (default: the page size; 2 MiB for huge pages).
   * @returns The buffer.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { IommuDmaAllocator } from "./vfio_dma.ts";
   * import { IovaAllocator } from "./iova.ts";
   * using dma = new IommuDmaAllocator({ map() {}, unmap() {} }, new IovaAllocator(), { name: "t" });
   * using b = dma.alloc(1);
   * assert(b.bytes.every((x) => x === 0));
   * ```
   */
  alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
    const name = this.#options.name;
    if (this.#closed) throw new FalconryError(`${name}: DMA allocator is closed`);
    if (this.#options.readOnly) {
      throw new DeviceError(
        name,
        "opened read-only; refusing to allocate DMA memory",
        "open with readOnly: false",
      );
    }
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new RangeError(`${name}: cannot allocate ${size} bytes of DMA memory`);
    }
    const page = pageSize();
    const length = Math.ceil(size / page) * page;
    using stack = new DisposableStack();
    const memory = stack.use(Mapping.anonymous(length, { hugePages: this.#options.hugePages }));
    // A forked child (Deno.Command) must not share these pages copy-on-write: a write by
    // this process would then move it to a fresh page the device does not see.
    madvise(memory.pointer, length, MADV_DONTFORK);
    // No mlock: MAP_DMA pins the pages and charges RLIMIT_MEMLOCK itself; an mlock would
    // charge them a second time (see the module comment).
    const align = Math.max(options.align ?? page, memory.hugePages ? HUGE_PAGE_SIZE : page);
    const iova = this.#iova.alloc(length, align);
    stack.defer(() => void this.#iova.free(iova));
    this.#mapper.map(memory.address, iova, BigInt(length));
    stack.defer(() => this.#mapper.unmap(iova, BigInt(length)));
    const buffer = new IommuDmaBuffer(
      memory,
      iova,
      length,
      stack.move(),
      (b) => this.#live.delete(b),
    );
    this.#live.add(buffer);
    return buffer;
  }

  /** Dispose every live buffer; errors are collected, not swallowed. */
  [Symbol.dispose](): void {
    this.#closed = true;
    using stack = new DisposableStack();
    for (const buffer of this.#live) stack.use(buffer);
  }
}
