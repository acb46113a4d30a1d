/**
 * The memory the driver and GSP-RM share for their RPC queues (`GspMem`):
 * one DMA allocation holding a page table of itself, the command queue
 * (driver → GSP) and the status queue (GSP → driver).
 *
 * Layout (`../shared/reference/nova-core-boot.md` §5.1; nouveau r535
 * `r535_gsp_shared_init`; NVIDIA 570.144 `msgq_priv.h` for the headers):
 *
 * | offset    | what                                                            |
 * | --------- | --------------------------------------------------------------- |
 * | `0x00000` | 129 × u64: the DMA address of each 4 KiB page of this area       |
 * | `0x01000` | command queue: `msgqTxHeader` at +0, `msgqRxHeader` at +0x20,   |
 * |           | 63 slots of 4 KiB from +0x1000                                  |
 * | `0x41000` | status queue, same layout; GSP-RM writes its headers            |
 *
 * Both sides set `MSGQ_FLAGS_SWAP_RX`, so each side's *read* pointer lives
 * in the rx header of its *own* queue: the driver's read pointer into the
 * status queue is the command queue's `rx.readPtr`, GSP-RM's read pointer
 * into the command queue is the status queue's `rx.readPtr`. Pointers count
 * slots modulo 63; one slot always stays empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GspSharedMemory, SHARED_MEMORY } from "./shared_memory.ts";
 * const dma = {
 *   alloc(size: number) {
 *     return { bytes: new Uint8Array(size), iova: 0x10_0000n, size, [Symbol.dispose]() {} };
 *   },
 * };
 * using shared = GspSharedMemory.allocate(dma);
 * assert.equal(shared.buffer.size, SHARED_MEMORY.size);
 * const view = new DataView(shared.buffer.bytes.buffer);
 * assert.equal(view.getBigUint64(8 * 3, true), 0x10_3000n); // page 3's PTE
 * assert.equal(view.getUint32(SHARED_MEMORY.cmdQueueOffset + 12, true), 63); // msgCount
 * ```
 *
 * @module
 */

import type { DmaAllocator, DmaBuffer } from "../pci/device.ts";

import { GSP_PAGE_SIZE } from "../firmware/radix3.ts";

/** GSP page: the unit of queue slots, pointers and page table entries. */
export { GSP_PAGE_SIZE };

const QUEUE_SIZE = 0x40000;
const QUEUE_PAGES = (2 * QUEUE_SIZE) / GSP_PAGE_SIZE;
const PTE_PAGES = Math.ceil((QUEUE_PAGES * 8) / GSP_PAGE_SIZE);

/** Sizes and offsets of `GspMem`, in bytes (counts where named so). */
export interface SharedMemoryLayout {
  /** Bytes of each queue, headers included. */
  readonly queueSize: number;
  /** Page table entries. */
  readonly pageTableEntryCount: number;
  /** Bytes of the whole area. */
  readonly size: number;
  /** The command queue's offset. */
  readonly cmdQueueOffset: number;
  /** The status queue's offset. */
  readonly statQueueOffset: number;
  /** The rx header's offset inside a queue. */
  readonly rxHeaderOffset: number;
  /** The first slot's offset inside a queue. */
  readonly entryOffset: number;
  /** Slots per queue. */
  readonly msgCount: number;
}

/** Sizes and offsets of `GspMem`. */
export const SHARED_MEMORY: SharedMemoryLayout = {
  /** Bytes of each queue, headers included (`msgqTxHeader.size`). */
  queueSize: QUEUE_SIZE,
  /** Page table entries: every page of the area, the table's own included (0x81). */
  pageTableEntryCount: QUEUE_PAGES + PTE_PAGES,
  /** Bytes of the whole area (0x81000). */
  size: PTE_PAGES * GSP_PAGE_SIZE + 2 * QUEUE_SIZE,
  /** The command queue (driver → GSP). */
  cmdQueueOffset: PTE_PAGES * GSP_PAGE_SIZE,
  /** The status queue (GSP → driver). */
  statQueueOffset: PTE_PAGES * GSP_PAGE_SIZE + QUEUE_SIZE,
  /** `msgqTxHeader.rxHdrOff`: the rx header right after the 32-byte tx header. */
  rxHeaderOffset: 0x20,
  /** `msgqTxHeader.entryOff`: the first slot, one page in. */
  entryOffset: GSP_PAGE_SIZE,
  /** Slots per queue (63). */
  msgCount: (QUEUE_SIZE - GSP_PAGE_SIZE) / GSP_PAGE_SIZE,
};

/** `msgqTxHeader` (32 bytes) field offsets, and `msgqRxHeader.readPtr`. */
export const MSGQ_TX_HEADER = {
  size: 32,
  version: 0x00,
  queueSize: 0x04,
  msgSize: 0x08,
  msgCount: 0x0c,
  writePtr: 0x10,
  flags: 0x14,
  rxHdrOff: 0x18,
  entryOff: 0x1c,
  /** `MSGQ_VERSION`. */
  currentVersion: 0,
  /** `MSGQ_FLAGS_SWAP_RX`. */
  flagSwapRx: 1,
  /** `msgqRxHeader.readPtr`, at `rxHdrOff`. */
  rxReadPtr: 0,
} as const;

/** A `msgqTxHeader`. */
export interface MsgqTxHeader {
  /** `version`. */
  readonly version: number;
  /** `size`: bytes of the queue, headers included. */
  readonly queueSize: number;
  /** `msgSize`: bytes per slot. */
  readonly msgSize: number;
  /** `msgCount`: slots. */
  readonly msgCount: number;
  /** `writePtr`: the next slot the writer fills. */
  readonly writePtr: number;
  /** `flags`. */
  readonly flags: number;
  /** `rxHdrOff`: the rx header's offset in the queue. */
  readonly rxHdrOff: number;
  /** `entryOff`: the first slot's offset in the queue. */
  readonly entryOff: number;
}

/** Which queue. */
export type QueueName = "command" | "status";

/**
 * `GspMem` in a DMA buffer: the page table and the command queue header
 * written at allocation, and the four ring pointers.
 */
export class GspSharedMemory implements Disposable {
  /** The DMA buffer. */
  readonly buffer: DmaBuffer;
  readonly #view: DataView;
  readonly #words: Uint32Array;

  private constructor(buffer: DmaBuffer) {
    this.buffer = buffer;
    this.#view = new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset, buffer.size);
    this.#words = new Uint32Array(buffer.bytes.buffer, buffer.bytes.byteOffset, buffer.size / 4);
  }

  /**
   * Allocate and lay out `GspMem`: every page table entry, and the command
   * queue's tx header (the status queue's header is GSP-RM's to write).
   *
   * @param dma Where to allocate (`device.dma`).
   * @returns The shared memory; dispose it to free the buffer.
   */
  static allocate(dma: DmaAllocator): GspSharedMemory {
    const buffer = dma.alloc(SHARED_MEMORY.size);
    try {
      if (buffer.size < SHARED_MEMORY.size || buffer.bytes.byteOffset % 8 !== 0) {
        throw new RangeError(
          `GSP shared memory needs 0x${SHARED_MEMORY.size.toString(16)} aligned bytes, ` +
            `the allocator gave 0x${buffer.size.toString(16)}`,
        );
      }
      const shared = new GspSharedMemory(buffer);
      shared.#layOut();
      return shared;
    } catch (error) {
      buffer[Symbol.dispose]();
      throw error;
    }
  }

  #layOut(): void {
    const v = this.#view;
    for (let page = 0; page < SHARED_MEMORY.pageTableEntryCount; page++) {
      v.setBigUint64(page * 8, this.buffer.iova + BigInt(page * GSP_PAGE_SIZE), true);
    }
    const h = MSGQ_TX_HEADER;
    const at = SHARED_MEMORY.cmdQueueOffset;
    v.setUint32(at + h.version, h.currentVersion, true);
    v.setUint32(at + h.queueSize, SHARED_MEMORY.queueSize, true);
    v.setUint32(at + h.msgSize, GSP_PAGE_SIZE, true);
    v.setUint32(at + h.msgCount, SHARED_MEMORY.msgCount, true);
    v.setUint32(at + h.writePtr, 0, true);
    v.setUint32(at + h.flags, h.flagSwapRx, true);
    v.setUint32(at + h.rxHdrOff, SHARED_MEMORY.rxHeaderOffset, true);
    v.setUint32(at + h.entryOff, SHARED_MEMORY.entryOffset, true);
  }

  /** The DMA address GSP-RM is given (`sharedMemPhysAddr`). */
  get iova(): bigint {
    return this.buffer.iova;
  }

  /** The driver's write pointer into the command queue (`cmdq.tx.writePtr`). */
  get cpuWritePtr(): number {
    return this.#load(SHARED_MEMORY.cmdQueueOffset + MSGQ_TX_HEADER.writePtr);
  }

  set cpuWritePtr(slot: number) {
    this.#store(SHARED_MEMORY.cmdQueueOffset + MSGQ_TX_HEADER.writePtr, slot);
  }

  /** GSP-RM's read pointer into the command queue (`statq.rx.readPtr`). */
  get gspReadPtr(): number {
    return this.#load(SHARED_MEMORY.statQueueOffset + SHARED_MEMORY.rxHeaderOffset);
  }

  /** GSP-RM's write pointer into the status queue (`statq.tx.writePtr`). */
  get gspWritePtr(): number {
    return this.#load(SHARED_MEMORY.statQueueOffset + MSGQ_TX_HEADER.writePtr);
  }

  /** The driver's read pointer into the status queue (`cmdq.rx.readPtr`). */
  get cpuReadPtr(): number {
    return this.#load(SHARED_MEMORY.cmdQueueOffset + SHARED_MEMORY.rxHeaderOffset);
  }

  set cpuReadPtr(slot: number) {
    this.#store(SHARED_MEMORY.cmdQueueOffset + SHARED_MEMORY.rxHeaderOffset, slot);
  }

  /**
   * The status queue's `msgqTxHeader` as GSP-RM wrote it when it linked the queues.
   *
   * @returns Its fields.
   */
  statusHeader(): MsgqTxHeader {
    const at = SHARED_MEMORY.statQueueOffset;
    const h = MSGQ_TX_HEADER;
    const field = (offset: number) => this.#load(at + offset);
    return {
      version: field(h.version),
      queueSize: field(h.queueSize),
      msgSize: field(h.msgSize),
      msgCount: field(h.msgCount),
      writePtr: field(h.writePtr),
      flags: field(h.flags),
      rxHdrOff: field(h.rxHdrOff),
      entryOff: field(h.entryOff),
    };
  }

  /**
   * One 4 KiB slot of a queue, as a live view of the DMA memory.
   *
   * @param queue Which queue.
   * @param slot 0 … 62.
   * @returns The slot's bytes.
   */
  slot(queue: QueueName, slot: number): Uint8Array {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SHARED_MEMORY.msgCount) {
      throw new RangeError(`queue slot ${slot} is outside 0..${SHARED_MEMORY.msgCount - 1}`);
    }
    const base = queue === "command" ? SHARED_MEMORY.cmdQueueOffset : SHARED_MEMORY.statQueueOffset;
    const at = base + SHARED_MEMORY.entryOffset + slot * GSP_PAGE_SIZE;
    return this.buffer.bytes.subarray(at, at + GSP_PAGE_SIZE);
  }

  // GSP-RM writes these words concurrently: one Atomics.load each, never hoisted out of a poll.
  #load(offset: number): number {
    return Atomics.load(this.#words, offset >>> 2);
  }

  #store(offset: number, value: number): void {
    this.#words[offset >>> 2] = value >>> 0;
  }

  /** Free the DMA buffer. */
  [Symbol.dispose](): void {
    this.buffer[Symbol.dispose]();
  }
}
