/**
 * Memory mappings as `Disposable`s: a file or device region mapped shared, or
 * anonymous memory for DMA.
 *
 * A mapping exposes its memory as an `ArrayBuffer` over the mapped pages
 * (`Deno.UnsafePointerView.getArrayBuffer`, no copy). Disposing first
 * detaches that buffer (`transfer(0)` copies nothing), so every view over it
 * becomes empty and a late access throws instead of touching unmapped memory,
 * then unmaps.
 *
 * @example Map a file and read it through a view
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapFile } from "./mapping.ts";
 * const path = Deno.makeTempFileSync();
 * Deno.writeFileSync(path, new Uint8Array(4096).fill(7));
 * {
 *   using mapping = mapFile(path, { readOnly: true });
 *   assert(new Uint8Array(mapping.buffer)[100] === 7);
 * }
 * ```
 *
 * @module
 */

import { FalconryError, OsError } from "../errors.ts";
import {
  type ErrnoHints,
  MAP_ANONYMOUS,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MAP_SHARED,
  mmap,
  munmap,
  O_RDONLY,
  O_RDWR,
  O_SYNC,
  openFile,
  PROT_READ,
  PROT_WRITE,
} from "./libc.ts";

/** Size of a default huge page on x86_64 and 4 KiB-page aarch64 kernels. */
export const HUGE_PAGE_SIZE = 2 * 1024 * 1024;

/** How to map a file or a region of a device file descriptor. */
export interface MapOptions {
  /** Map `PROT_READ` only (and open the file `O_RDONLY`). */
  readOnly?: boolean;
  /** Offset into the file, a multiple of the page size. Defaults to 0. */
  offset?: number | bigint;
  /** Bytes to map. Defaults to the file's size. */
  length?: number;
  /** Hints per errno name for error messages. */
  hints?: ErrnoHints;
}

/**
 * One `mmap`ed region, unmapped on dispose.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Mapping } from "./mapping.ts";
 * using memory = Mapping.anonymous(8192);
 * new Uint8Array(memory.buffer)[0] = 1;
 * assert(memory.length === 8192 && memory.address !== 0n);
 * ```
 */
export class Mapping implements Disposable {
  #pointer: Deno.PointerObject | null;
  #buffer: ArrayBuffer;

  private constructor(
    pointer: Deno.PointerObject,
    /** Mapped bytes. */
    readonly length: number,
    /** Whether the memory is backed by huge pages. */
    readonly hugePages: boolean,
    /** What was mapped, for messages. */
    readonly name: string,
  ) {
    this.#pointer = pointer;
    this.#buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, length);
  }

  /**
   * Map `length` bytes of `fd` at `offset`, shared: writes reach the file or device.
   *
   * @param fd An open descriptor; it may be closed afterwards, the mapping stays.
   * @param length Bytes to map.
   * @param options Protection, offset, the path for messages, hints.
   * @returns The mapping.
   *
   * @example
   * ```ts
   * import { Mapping } from "./mapping.ts";
   * import { O_RDWR, openFile } from "./libc.ts";
   * const path = Deno.makeTempFileSync();
   * Deno.truncateSync(path, 4096);
   * using file = openFile(path, O_RDWR);
   * using mapping = Mapping.shared(file.fd, 4096, { path });
   * new Uint8Array(mapping.buffer)[0] = 0x5a;
   * ```
   */
  static shared(
    fd: number,
    length: number,
    options: MapOptions & { path?: string } = {},
  ): Mapping {
    checkLength(length, options.path ?? `fd ${fd}`);
    const prot = options.readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
    const pointer = mmap(length, prot, MAP_SHARED, fd, options.offset ?? 0, {
      path: options.path,
      hints: options.hints,
    });
    return new Mapping(pointer, length, false, options.path ?? `fd ${fd}`);
  }

  /**
   * Zeroed, private, anonymous read/write memory. When `length` is a multiple
   * of 2 MiB, huge pages are tried first (fewer IOMMU entries, physically
   * contiguous 2 MiB blocks); without reserved huge pages it falls back to
   * normal pages.
   *
   * @param length Bytes; a multiple of the page size.
   * @param options `hugePages: false` to skip the huge-page attempt.
   * @returns The mapping.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Mapping } from "./mapping.ts";
   * using memory = Mapping.anonymous(2 * 1024 * 1024);
   * assert(typeof memory.hugePages === "boolean");
   * ```
   */
  static anonymous(length: number, options: { hugePages?: boolean } = {}): Mapping {
    checkLength(length, "anonymous memory");
    const prot = PROT_READ | PROT_WRITE;
    if ((options.hugePages ?? true) && length % HUGE_PAGE_SIZE === 0) {
      try {
        const pointer = mmap(length, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        return new Mapping(pointer, length, true, "anonymous huge pages");
      } catch (e) {
        // No huge pages reserved (ENOMEM) or none supported (EINVAL): use small pages.
        if (!(e instanceof OsError)) throw e;
      }
    }
    const pointer = mmap(length, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return new Mapping(pointer, length, false, "anonymous memory");
  }

  /** The mapped memory. Detached (length 0) after dispose. */
  get buffer(): ArrayBuffer {
    return this.#buffer;
  }

  /** The start address; throws after dispose. */
  get pointer(): Deno.PointerObject {
    if (!this.#pointer) throw new FalconryError(`${this.name}: mapping already released`);
    return this.#pointer;
  }

  /** The start address as a number for the kernel (e.g. a DMA map's `vaddr`). */
  get address(): bigint {
    return Deno.UnsafePointer.value(this.pointer);
  }

  /** Whether it has been unmapped. */
  get disposed(): boolean {
    return this.#pointer === null;
  }

  /** Detach the buffer, then unmap. Later calls do nothing. */
  [Symbol.dispose](): void {
    const pointer = this.#pointer;
    if (!pointer) return;
    this.#pointer = null;
    this.#buffer = this.#buffer.transfer(0);
    munmap(pointer, this.length, { path: this.name });
  }
}

function checkLength(length: number, name: string): void {
  if (!Number.isSafeInteger(length) || length <= 0) {
    throw new RangeError(`${name}: cannot map ${length} bytes`);
  }
}

/**
 * Open `path`, map it shared and close the descriptor (the mapping keeps the
 * file referenced). Writable mappings are opened `O_SYNC`; for a sysfs
 * `resourceN` file the kernel maps the BAR uncached either way.
 *
 * @param path File to map, e.g. `/sys/bus/pci/devices/0000:01:00.0/resource0`.
 * @param options Read-only, offset, length (default: the file's size), hints.
 * @returns The mapping.
 *
 * @example
 * ```ts
 * import { mapFile } from "./mapping.ts";
 * const path = Deno.makeTempFileSync();
 * Deno.truncateSync(path, 8192);
 * using mapping = mapFile(path);
 * new Uint32Array(mapping.buffer)[1] = 42;
 * ```
 */
export function mapFile(path: string, options: MapOptions = {}): Mapping {
  const flags = options.readOnly ? O_RDONLY : O_RDWR | O_SYNC;
  using file = openFile(path, flags, 0, options.hints);
  const length = options.length ?? Deno.statSync(path).size;
  return Mapping.shared(file.fd, length, { ...options, path });
}
