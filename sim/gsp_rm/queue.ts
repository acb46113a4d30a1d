/**
 * The message queues as GSP-RM sees them: a shared area in system memory
 * reached through its own page table, the command queue (host → GSP) whose
 * header the host wrote, and the status queue (GSP → host) whose header
 * GSP-RM writes when it links.
 *
 * Everything here follows NVIDIA's shared `msgq` library and message-queue
 * code (open-gpu-kernel-modules 570.144: `src/common/shared/msgq/msgq.c`,
 * which is built for both the CPU and the GSP, and
 * `src/nvidia/src/kernel/gpu/gsp/message_queue_cpu.c`):
 * - Layout: page table (one u64 DMA address per 4 KiB page of the whole
 *   area, the table's own pages included), then each queue: `msgqTxHeader`
 *   at +0, `msgqRxHeader` at +0x20, slots of 4 KiB from `entryOff`.
 * - Both sides set `MSGQ_FLAGS_SWAP_RX`, so each side's *read* pointer lives
 *   in the rx header of its *own* queue: GSP-RM's read pointer into the
 *   command queue is `statusQueue.rx.readPtr`, the host's read pointer into
 *   the status queue is `cmdQueue.rx.readPtr`. Pointers count slots (pages)
 *   modulo `msgCount`; one slot always stays empty.
 * - Linking checks the other side's header as `msgqRxLink` does (return
 *   codes −6…−10).
 * - Receiving mirrors `GspMsgQueueReceiveStatus`: up to three attempts; the
 *   checksum (XOR of the u64 words of `48 + rpc.length` bytes, folded to 32
 *   bits, must be 0) and then the sequence number are checked; an element
 *   with an older sequence number is consumed and skipped ("attempting
 *   recovery"); any other failure leaves the element in the queue and is
 *   returned. The 48 + length must lie within 80 … 65536 bytes.
 *   GSP-RM's own receive path is not public; NVIDIA's CPU-side routine is
 *   the same protocol in the other direction, so the model applies it.
 *
 * @example XOR-fold checksum
 * ```ts
 * import assert from "node:assert/strict";
 * import { queueChecksum } from "./queue.ts";
 * const words = new Uint8Array(16);
 * new DataView(words.buffer).setBigUint64(0, 0x11111111_22222222n, true);
 * new DataView(words.buffer).setBigUint64(8, 0x00000000_00000001n, true);
 * assert.equal(queueChecksum(words, 16), (0x11111111 ^ 0x22222223) >>> 0);
 * ```
 *
 * @module
 */

import type { DmaView } from "../system_memory.ts";
import { SimGspRmFormatError } from "./init_args.ts";
import { decodeRpcHeader, type RpcHeader } from "./rpc.ts";
import { GSP_PAGE_SIZE, MSG_QUEUE_ELEMENT, MSGQ_TX_HEADER, RPC_HEADER } from "./structs.ts";

/**
 * `_checkSum32` (message_queue_priv.h): XOR of the little-endian u64 words
 * that cover `length` bytes (the last word read whole), high half XOR low half.
 *
 * @param bytes The element, at least `ceil(length / 8) * 8` bytes.
 * @param length Bytes the checksum covers.
 * @returns The 32-bit checksum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queueChecksum } from "./queue.ts";
 * assert.equal(queueChecksum(new Uint8Array(8), 8), 0);
 * ```
 */
export function queueChecksum(bytes: Uint8Array, length: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lo = 0;
  let hi = 0;
  for (let at = 0; at < length; at += 8) {
    lo ^= view.getUint32(at, true);
    hi ^= view.getUint32(at + 4, true);
  }
  return (lo ^ hi) >>> 0;
}

/**
 * The shared queue area, addressed by offset and reached through its page
 * table, as LibOS maps it for GSP-RM.
 */
export class SharedArea {
  readonly #dma: DmaView;
  readonly #pages: readonly bigint[];

  private constructor(dma: DmaView, pages: readonly bigint[]) {
    this.#dma = dma;
    this.#pages = pages;
  }

  /**
   * Read the page table at `sharedMemPhysAddr` (its first page there, any
   * further table page through the entries already read).
   *
   * @param dma System memory as the GSP sees it.
   * @param sharedMemPhysAddr `MESSAGE_QUEUE_INIT_ARGUMENTS.sharedMemPhysAddr`.
   * @param pageTableEntryCount Pages in the area, table included.
   * @returns The mapped area.
   * @throws {SimGspRmFormatError} when the count cannot even hold its own table.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SystemMemory } from "../system_memory.ts";
   * import { SharedArea } from "./queue.ts";
   * const memory = new SystemMemory();
   * const bytes = new Uint8Array(8192);
   * const view = new DataView(bytes.buffer);
   * view.setBigUint64(0, 0x10000n, true);
   * view.setBigUint64(8, 0x11000n, true);
   * bytes[4096 + 5] = 42;
   * using _m = memory.map(0x10000n, bytes);
   * const area = SharedArea.map(memory, 0x10000n, 2);
   * assert.equal(area.read(4096 + 5, 1)[0], 42);
   * assert.equal(area.size, 8192);
   * ```
   */
  static map(dma: DmaView, sharedMemPhysAddr: bigint, pageTableEntryCount: number): SharedArea {
    const tablePages = Math.ceil((pageTableEntryCount * 8) / GSP_PAGE_SIZE);
    if (pageTableEntryCount < 1 || tablePages > pageTableEntryCount) {
      throw new SimGspRmFormatError(
        "rmArgs.messageQueueInitArguments.pageTableEntryCount",
        sharedMemPhysAddr,
        `${pageTableEntryCount} entries cannot map their own page table`,
      );
    }
    const pages: bigint[] = [];
    for (let page = 0; page < tablePages; page++) {
      const base = page === 0 ? sharedMemPhysAddr : pages[page];
      const count = Math.min(GSP_PAGE_SIZE / 8, pageTableEntryCount - page * (GSP_PAGE_SIZE / 8));
      const bytes = dma.read(base, count * 8);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++) pages.push(view.getBigUint64(i * 8, true));
    }
    return new SharedArea(dma, pages);
  }

  /** Bytes mapped. */
  get size(): number {
    return this.#pages.length * GSP_PAGE_SIZE;
  }

  /**
   * The DMA address behind an offset.
   *
   * @param offset Offset into the area.
   * @returns The page table entry plus the offset within the page.
   */
  iovaOf(offset: number): bigint {
    return this.#pages[Math.floor(offset / GSP_PAGE_SIZE)] + BigInt(offset % GSP_PAGE_SIZE);
  }

  /**
   * Read bytes, page by page.
   *
   * @param offset Offset into the area.
   * @param length Bytes.
   * @returns A copy.
   * @throws {RangeError} beyond the area; {SimDmaFault} when a page is unmapped.
   */
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.#each(offset, length, (at, iova, chunk) => out.set(this.#dma.read(iova, chunk), at));
    return out;
  }

  /**
   * Write bytes, page by page.
   *
   * @param offset Offset into the area.
   * @param bytes What to write.
   * @throws {RangeError} beyond the area; {SimDmaFault} when a page is unmapped.
   */
  write(offset: number, bytes: Uint8Array): void {
    this.#each(
      offset,
      bytes.length,
      (at, iova, chunk) => this.#dma.write(iova, bytes.subarray(at, at + chunk)),
    );
  }

  /**
   * Read a little-endian u32.
   *
   * @param offset Offset into the area.
   * @returns The value.
   */
  u32(offset: number): number {
    const b = this.read(offset, 4);
    return new DataView(b.buffer).getUint32(0, true);
  }

  /**
   * Write a little-endian u32.
   *
   * @param offset Offset into the area.
   * @param value The value.
   */
  setU32(offset: number, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.write(offset, b);
  }

  #each(
    offset: number,
    length: number,
    visit: (at: number, iova: bigint, chunk: number) => void,
  ): void {
    if (offset < 0 || offset + length > this.size) {
      throw new RangeError(
        `offset 0x${offset.toString(16)}+${length} is outside the ${this.size}-byte shared area`,
      );
    }
    let at = 0;
    while (at < length) {
      const chunk = Math.min(length - at, GSP_PAGE_SIZE - ((offset + at) % GSP_PAGE_SIZE));
      visit(at, this.iovaOf(offset + at), chunk);
      at += chunk;
    }
  }
}

/** A `msgqTxHeader` as read. */
export interface MsgqTxHeader {
  /** `version`. */
  readonly version: number;
  /** `size`: bytes of the queue, headers included. */
  readonly size: number;
  /** `msgSize`: bytes per slot. */
  readonly msgSize: number;
  /** `msgCount`: slots. */
  readonly msgCount: number;
  /** `writePtr`: next slot the writer fills. */
  readonly writePtr: number;
  /** `flags`. */
  readonly flags: number;
  /** `rxHdrOff`. */
  readonly rxHdrOff: number;
  /** `entryOff`. */
  readonly entryOff: number;
}

function readTxHeader(area: SharedArea, offset: number): MsgqTxHeader {
  const b = area.read(offset, MSGQ_TX_HEADER.size);
  const v = new DataView(b.buffer);
  const h = MSGQ_TX_HEADER;
  return {
    version: v.getUint32(h.version, true),
    size: v.getUint32(h.queueSize, true),
    msgSize: v.getUint32(h.msgSize, true),
    msgCount: v.getUint32(h.msgCount, true),
    writePtr: v.getUint32(h.writePtr, true),
    flags: v.getUint32(h.flags, true),
    rxHdrOff: v.getUint32(h.rxHdrOff, true),
    entryOff: v.getUint32(h.entryOff, true),
  };
}

/** A message GSP-RM took off the command queue. */
export interface ReceivedMessage {
  /** The element's `seqNum`. */
  readonly seqNum: number;
  /** Slots it used. */
  readonly elemCount: number;
  /** Its RPC header. */
  readonly header: RpcHeader;
  /** `rpc.length − 32` bytes after the RPC header. */
  readonly payload: Uint8Array;
}

/** Why a receive failed; the element stays in the queue. */
export type ReceiveFailure =
  | "checksum"
  | "sequence"
  | "incomplete"
  | "length";

/** What {@linkcode GspRmQueues.receive} found. */
export type ReceiveResult =
  | { readonly kind: "empty"; readonly skipped: number }
  | { readonly kind: "message"; readonly message: ReceivedMessage; readonly skipped: number }
  | {
    readonly kind: "failed";
    readonly reason: ReceiveFailure;
    readonly detail: string;
    readonly skipped: number;
  };

/** Tries per receive (`nMaxRetries` in `GspMsgQueueReceiveStatus`). */
const RECEIVE_TRIES = 3;

/**
 * GSP-RM's end of the two queues: it reads the command queue and writes the
 * status queue.
 *
 * @example
 * See `tests/sim_gsp_rm_queue_test.ts` for a full round trip against a
 * hand-written host side.
 * ```ts
 * import assert from "node:assert/strict";
 * import { GspRmQueues } from "./queue.ts";
 * assert.equal(typeof GspRmQueues.prototype.receive, "function");
 * ```
 */
export class GspRmQueues {
  readonly #area: SharedArea;
  readonly #cmdOffset: number;
  readonly #statOffset: number;
  readonly #cmdSize: number;
  readonly #statSize: number;
  #cmd: MsgqTxHeader | undefined;
  #stat: MsgqTxHeader | undefined;
  #readPtr = 0;
  #writePtr = 0;
  #rxSeqNum = 0;
  #txSeqNum = 0;

  /**
   * Construct it over a mapped area.
   *
   * @param area The shared area.
   * @param cmdQueueOffset `cmdQueueOffset` from RMARGS.
   * @param statQueueOffset `statQueueOffset` from RMARGS.
   * @throws {SimGspRmFormatError} when the offsets do not split the area into two queues.
   */
  constructor(area: SharedArea, cmdQueueOffset: bigint, statQueueOffset: bigint) {
    const cmd = Number(cmdQueueOffset);
    const stat = Number(statQueueOffset);
    if (
      cmd % GSP_PAGE_SIZE !== 0 || stat % GSP_PAGE_SIZE !== 0 || cmd <= 0 || stat <= cmd ||
      stat >= area.size
    ) {
      throw new SimGspRmFormatError(
        "rmArgs.messageQueueInitArguments.cmdQueueOffset",
        area.iovaOf(0),
        `queue offsets 0x${cmd.toString(16)}/0x${stat.toString(16)} do not split the ` +
          `0x${area.size.toString(16)}-byte area into two page-aligned queues`,
      );
    }
    this.#area = area;
    this.#cmdOffset = cmd;
    this.#statOffset = stat;
    this.#cmdSize = stat - cmd;
    this.#statSize = area.size - stat;
  }

  /** The command queue's header as linked (undefined before {@linkcode link}). */
  get commandQueue(): MsgqTxHeader | undefined {
    return this.#cmd;
  }

  /** The status queue's header as GSP-RM wrote it (undefined before {@linkcode link}). */
  get statusQueue(): MsgqTxHeader | undefined {
    return this.#stat;
  }

  /** Next sequence number GSP-RM expects from the host. */
  get expectedSeqNum(): number {
    return this.#rxSeqNum;
  }

  /** Next sequence number GSP-RM sends. */
  get nextSeqNum(): number {
    return this.#txSeqNum;
  }

  /**
   * `msgqTxCreate` on the status queue, then `msgqRxLink` on the command
   * queue: write GSP-RM's header, check the host's, zero the read pointer.
   *
   * @throws {SimGspRmFormatError} naming the `msgqRxLink` check that failed.
   */
  link(): void {
    const h = MSGQ_TX_HEADER;
    const rxHdrOff = Math.ceil(h.size / h.headerAlign) * h.headerAlign;
    const entryOff = Math.ceil((rxHdrOff + h.rxHeaderSize) / GSP_PAGE_SIZE) * GSP_PAGE_SIZE;
    const stat: MsgqTxHeader = {
      version: h.currentVersion,
      size: this.#statSize,
      msgSize: GSP_PAGE_SIZE,
      msgCount: Math.floor((this.#statSize - entryOff) / GSP_PAGE_SIZE),
      writePtr: 0,
      flags: h.flagSwapRx,
      rxHdrOff,
      entryOff,
    };
    if (this.#statSize < entryOff + GSP_PAGE_SIZE) {
      throw this.#linkError("statusQueue.size", this.#statOffset, "too small for one slot");
    }
    const bytes = new Uint8Array(h.size);
    const v = new DataView(bytes.buffer);
    v.setUint32(h.version, stat.version, true);
    v.setUint32(h.queueSize, stat.size, true);
    v.setUint32(h.msgSize, stat.msgSize, true);
    v.setUint32(h.msgCount, stat.msgCount, true);
    v.setUint32(h.writePtr, 0, true);
    v.setUint32(h.flags, stat.flags, true);
    v.setUint32(h.rxHdrOff, stat.rxHdrOff, true);
    v.setUint32(h.entryOff, stat.entryOff, true);
    this.#area.write(this.#statOffset, bytes);
    this.#stat = stat;

    const cmd = readTxHeader(this.#area, this.#cmdOffset);
    const checks: [boolean, number, string, string][] = [
      [this.#cmdSize < cmd.entryOff + GSP_PAGE_SIZE, -6, "entryOff", "no room for one slot"],
      [
        cmd.size !== this.#cmdSize,
        -7,
        "size",
        `0x${cmd.size.toString(16)} ≠ 0x${this.#cmdSize.toString(16)}`,
      ],
      [cmd.msgSize !== GSP_PAGE_SIZE, -8, "msgSize", `${cmd.msgSize} ≠ ${GSP_PAGE_SIZE}`],
      [cmd.version !== h.currentVersion, -9, "version", `${cmd.version} ≠ ${h.currentVersion}`],
      [cmd.rxHdrOff < h.size, -10, "rxHdrOff", `${cmd.rxHdrOff} < ${h.size}`],
      [cmd.entryOff < rxHdrOff + h.rxHeaderSize, -10, "entryOff", `${cmd.entryOff} too small`],
      [
        cmd.msgCount !== Math.floor((this.#cmdSize - cmd.entryOff) / GSP_PAGE_SIZE),
        -10,
        "msgCount",
        `${cmd.msgCount} ≠ (size − entryOff) / msgSize`,
      ],
    ];
    const failed = checks.find(([bad]) => bad);
    if (failed) {
      const [, code, field, reason] = failed;
      throw this.#linkError(
        `commandQueue.msgqTxHeader.${field}`,
        this.#cmdOffset,
        `${reason} (msgqRxLink ${code})`,
      );
    }
    this.#cmd = cmd;
    this.#readPtr = 0;
    this.#area.setU32(this.#statOffset + stat.rxHdrOff + h.rxReadPtr, 0);
  }

  /**
   * Elements the host has written and GSP-RM not yet consumed
   * (`msgqRxGetReadAvailable`: a write pointer ≥ msgCount reads as none).
   *
   * @returns Slots available.
   */
  available(): number {
    const cmd = this.#linked();
    const writePtr = this.#area.u32(this.#cmdOffset + MSGQ_TX_HEADER.writePtr);
    if (writePtr >= cmd.msgCount) return 0;
    return (writePtr + cmd.msgCount - this.#readPtr) % cmd.msgCount;
  }

  /**
   * Take the next message off the command queue, as `GspMsgQueueReceiveStatus` does.
   *
   * @returns Nothing, a message (consumed), or why it failed (left in the queue).
   */
  receive(): ReceiveResult {
    this.#linked();
    let tries = RECEIVE_TRIES;
    let seqMismatchDiff = 0xffff_ffff;
    let skipped = 0;
    let failure: { reason: ReceiveFailure; detail: string } | undefined;
    for (let attempt = 0; attempt < tries; attempt++) {
      failure = undefined;
      const avail = this.available();
      // NV_WARN_NOTHING_TO_DO, also after skipping stale elements.
      if (avail === 0) return { kind: "empty", skipped };
      const first = this.#slot(0);
      const firstView = new DataView(first.buffer);
      const elemCount = firstView.getUint32(MSG_QUEUE_ELEMENT.elemCount, true);
      const slots = Math.max(1, elemCount);
      if (slots > avail) {
        failure = {
          reason: "incomplete",
          detail: `elemCount ${elemCount} but only ${avail} slots written`,
        };
        continue;
      }
      const element = new Uint8Array(slots * GSP_PAGE_SIZE);
      element.set(first, 0);
      for (let i = 1; i < slots; i++) element.set(this.#slot(i), i * GSP_PAGE_SIZE);
      const view = new DataView(element.buffer);
      const rpcLength = view.getUint32(MSG_QUEUE_ELEMENT.headerSize + RPC_HEADER.length, true);
      const msgLen = MSG_QUEUE_ELEMENT.headerSize + rpcLength;
      if (msgLen > element.length || msgLen > MSG_QUEUE_ELEMENT.maxSize) {
        // The firmware's staging copy holds elemCount pages; beyond them it
        // would checksum whatever its buffer held before, which cannot match.
        failure = {
          reason: "checksum",
          detail: `rpc.length ${rpcLength} runs past the ${slots} slot(s) the element claims`,
        };
        continue;
      }
      const sum = queueChecksum(element, msgLen);
      if (sum !== 0) {
        failure = { reason: "checksum", detail: `checksum residue 0x${sum.toString(16)} ≠ 0` };
        continue;
      }
      const seqNum = view.getUint32(MSG_QUEUE_ELEMENT.seqNum, true);
      if (seqNum !== this.#rxSeqNum) {
        failure = { reason: "sequence", detail: `seqNum ${seqNum}, expected ${this.#rxSeqNum}` };
        const diff = (this.#rxSeqNum - seqNum) >>> 0;
        if (seqNum < this.#rxSeqNum && diff < seqMismatchDiff) {
          seqMismatchDiff = diff;
          this.#consume(slots);
          skipped++;
          tries++;
        }
        continue;
      }
      if (msgLen < MSG_QUEUE_ELEMENT.headerSize + RPC_HEADER.size) {
        return {
          kind: "failed",
          reason: "length",
          detail: `rpc.length ${rpcLength} < ${RPC_HEADER.size} (NV_ERR_INVALID_PARAM_STRUCT)`,
          skipped,
        };
      }
      const header = decodeRpcHeader(element, MSG_QUEUE_ELEMENT.headerSize);
      const payloadAt = MSG_QUEUE_ELEMENT.headerSize + RPC_HEADER.size;
      this.#rxSeqNum = (this.#rxSeqNum + 1) >>> 0;
      this.#consume(slots);
      return {
        kind: "message",
        message: {
          seqNum,
          elemCount,
          header,
          payload: element.slice(payloadAt, MSG_QUEUE_ELEMENT.headerSize + rpcLength),
        },
        skipped,
      };
    }
    return {
      kind: "failed",
      reason: failure?.reason ?? "incomplete",
      detail: failure?.detail ?? "no attempt",
      skipped,
    };
  }

  /**
   * Free slots in the status queue (`msgqTxGetFreeSpace`: the host's read
   * pointer ≥ msgCount reads as none).
   *
   * @returns Slots GSP-RM may fill.
   */
  freeSlots(): number {
    const stat = this.#linkedStat();
    const readPtr = this.#area.u32(this.#cmdOffset + this.#linked().rxHdrOff);
    if (readPtr >= stat.msgCount) return 0;
    return (readPtr + stat.msgCount - this.#writePtr - 1) % stat.msgCount;
  }

  /**
   * Put one message on the status queue: element header, RPC header and
   * payload, checksum, then the write pointer.
   *
   * @param rpc The RPC header and payload (`rpc.length` bytes).
   * @param corruptChecksum Write a checksum that does not fold to zero (a fault point).
   * @returns False when the queue has no room; nothing was written then.
   */
  send(rpc: Uint8Array, corruptChecksum = false): boolean {
    const stat = this.#linkedStat();
    const msgLen = MSG_QUEUE_ELEMENT.headerSize + rpc.length;
    if (msgLen > MSG_QUEUE_ELEMENT.maxSize) {
      throw new RangeError(`a ${msgLen}-byte message exceeds one queue element`);
    }
    const elemCount = Math.ceil(msgLen / GSP_PAGE_SIZE);
    if (this.freeSlots() < elemCount) return false;
    const element = new Uint8Array(elemCount * GSP_PAGE_SIZE);
    const view = new DataView(element.buffer);
    element.set(rpc, MSG_QUEUE_ELEMENT.headerSize);
    view.setUint32(MSG_QUEUE_ELEMENT.seqNum, this.#txSeqNum, true);
    view.setUint32(MSG_QUEUE_ELEMENT.elemCount, elemCount, true);
    const sum = queueChecksum(element, msgLen);
    view.setUint32(MSG_QUEUE_ELEMENT.checkSum, corruptChecksum ? ~sum >>> 0 : sum, true);
    for (let i = 0; i < elemCount; i++) {
      const slot = (this.#writePtr + i) % stat.msgCount;
      this.#area.write(
        this.#statOffset + stat.entryOff + slot * stat.msgSize,
        element.subarray(i * GSP_PAGE_SIZE, (i + 1) * GSP_PAGE_SIZE),
      );
    }
    this.#writePtr = (this.#writePtr + elemCount) % stat.msgCount;
    this.#area.setU32(this.#statOffset + MSGQ_TX_HEADER.writePtr, this.#writePtr);
    this.#txSeqNum = (this.#txSeqNum + 1) >>> 0;
    return true;
  }

  #slot(i: number): Uint8Array {
    const cmd = this.#linked();
    const slot = (this.#readPtr + i) % cmd.msgCount;
    return this.#area.read(this.#cmdOffset + cmd.entryOff + slot * cmd.msgSize, cmd.msgSize);
  }

  #consume(slots: number): void {
    const cmd = this.#linked();
    const stat = this.#linkedStat();
    this.#readPtr = (this.#readPtr + slots) % cmd.msgCount;
    this.#area.setU32(this.#statOffset + stat.rxHdrOff + MSGQ_TX_HEADER.rxReadPtr, this.#readPtr);
  }

  #linked(): MsgqTxHeader {
    if (!this.#cmd) throw new Error("GspRmQueues used before link()");
    return this.#cmd;
  }

  #linkedStat(): MsgqTxHeader {
    if (!this.#stat) throw new Error("GspRmQueues used before link()");
    return this.#stat;
  }

  #linkError(field: string, offset: number, reason: string): SimGspRmFormatError {
    return new SimGspRmFormatError(field, this.#area.iovaOf(offset), reason);
  }
}
