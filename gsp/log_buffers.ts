/**
 * LibOS log buffers: system memory GSP-RM writes its encoded logs into
 * (LOGINIT for early init and crash dumps, LOGINTR, LOGRM, LOGMNOC, and
 * LOGKRNL where the LibOS kernel logs separately).
 *
 * Layout (NVIDIA 570.144 `kernel_gsp.c` `_setupLogBufferBaremetal`, nouveau
 * r535 `create_pte_array`; reference §5.1): the driver zeroes the buffer and
 * puts the DMA address of each of its own 4 KiB pages at u64[1…pages]; u64[0]
 * is the put pointer, the number of u64 words GSP-RM has written so far.
 *
 * Which buffers, and their sizes (release builds): `_kgspInitLibosLoggingStructures`
 * in 570.144 `kernel_gsp.c` — LOGINIT, LOGINTR, LOGRM and LOGMNOC of 64 KiB
 * each on every chip, then LOGKRNL (64 KiB) on the GA10x, AD10x, GH100, GB10x
 * and GB20x families (not on TU10x, TU11x or GA100).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logBuffersFor } from "./log_buffers.ts";
 * assert.deepEqual(logBuffersFor("tu10x").map((b) => b.id), ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC"]);
 * assert.equal(logBuffersFor("ga10x").at(-1)?.id, "LOGKRNL");
 * ```
 *
 * @module
 */

import type { ChipFamily } from "../chips/chips.ts";
import type { DmaAllocator, DmaBuffer } from "../pci/device.ts";
import { GSP_PAGE_SIZE } from "./shared_memory.ts";

/** One log buffer to allocate. */
export interface LogBufferSpec {
  /** LibOS region id, e.g. `LOGRM`. */
  readonly id: string;
  /** Bytes, a whole number of GSP pages. */
  readonly size: number;
}

const LOG_SIZE = 0x10000;

/** Every chip's buffers, in NVIDIA's order (LOGINIT must be first). */
const COMMON_LOGS: readonly LogBufferSpec[] = [
  { id: "LOGINIT", size: LOG_SIZE },
  { id: "LOGINTR", size: LOG_SIZE },
  { id: "LOGRM", size: LOG_SIZE },
  { id: "LOGMNOC", size: LOG_SIZE },
];

/** Families whose LibOS kernel logs into its own LOGKRNL buffer. */
const KERNEL_LOG_FAMILIES: ReadonlySet<ChipFamily> = new Set<ChipFamily>([
  "ga10x",
  "ad10x",
  "gh100",
  "gb10x",
  "gb20x",
]);

/**
 * The log buffers GSP-RM expects on a chip family.
 *
 * @param family The chip family.
 * @returns Ids and sizes, in order.
 */
export function logBuffersFor(family: ChipFamily): readonly LogBufferSpec[] {
  return KERNEL_LOG_FAMILIES.has(family)
    ? [...COMMON_LOGS, { id: "LOGKRNL", size: LOG_SIZE }]
    : COMMON_LOGS;
}

/** One allocated log buffer. */
export class LibosLogBuffer implements Disposable {
  /** Region id. */
  readonly id: string;
  /** The DMA buffer. */
  readonly buffer: DmaBuffer;
  readonly #view: DataView;

  private constructor(id: string, buffer: DmaBuffer) {
    this.id = id;
    this.buffer = buffer;
    this.#view = new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset, buffer.size);
  }

  /**
   * Allocate a buffer and write its page table.
   *
   * @param dma Where to allocate.
   * @param spec Id and size.
   * @returns The buffer; dispose it to free it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LibosLogBuffer } from "./log_buffers.ts";
   * const dma = {
   *   alloc(size: number) {
   *     return { bytes: new Uint8Array(size), iova: 0x4_0000n, size, [Symbol.dispose]() {} };
   *   },
   * };
   * using log = LibosLogBuffer.allocate(dma, { id: "LOGRM", size: 0x10000 });
   * const view = new DataView(log.buffer.bytes.buffer);
   * assert.equal(view.getBigUint64(8, true), 0x4_0000n); // page 0
   * assert.equal(view.getBigUint64(16 * 8, true), 0x4_f000n); // page 15
   * assert.equal(log.put, 0n);
   * ```
   */
  static allocate(dma: DmaAllocator, spec: LogBufferSpec): LibosLogBuffer {
    if (spec.size <= 0 || spec.size % GSP_PAGE_SIZE !== 0) {
      throw new RangeError(`${spec.id}: ${spec.size} bytes is not a whole number of GSP pages`);
    }
    const buffer = dma.alloc(spec.size);
    const log = new LibosLogBuffer(spec.id, buffer);
    buffer.bytes.fill(0, 0, spec.size);
    for (let page = 0; page < spec.size / GSP_PAGE_SIZE; page++) {
      log.#view.setBigUint64(8 * (1 + page), buffer.iova + BigInt(page * GSP_PAGE_SIZE), true);
    }
    return log;
  }

  /** The region size GSP-RM is given. */
  get size(): number {
    return this.buffer.size;
  }

  /** u64 words GSP-RM has written (u64[0]). */
  get put(): bigint {
    return this.#view.getBigUint64(0, true);
  }

  /**
   * The last `count` words written (oldest first), for a crash report; the
   * ring holds `size/8 − 1` words after the put pointer.
   *
   * @param count Words wanted.
   * @returns Up to `count` words.
   */
  lastWords(count: number): bigint[] {
    const ring = BigInt(this.size / 8 - 1);
    const put = this.put;
    const n = put < BigInt(count) ? put : BigInt(count);
    const words: bigint[] = [];
    for (let k = put - n; k < put; k++) {
      words.push(this.#view.getBigUint64(8 * Number(1n + (k % ring)), true));
    }
    return words;
  }

  /** Free the buffer. */
  [Symbol.dispose](): void {
    this.buffer[Symbol.dispose]();
  }
}
