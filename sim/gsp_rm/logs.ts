/**
 * LibOS log buffers (LOGINIT, LOGINTR, LOGRM, …) written the way the
 * firmware writes them, so that whatever captures them (a crash bundle, a
 * decoder) reads real structure.
 *
 * Layout (NVIDIA open-gpu-kernel-modules 570.144: `_setupLogBufferBaremetal`
 * in kernel_gsp.c, the decoder `libosExtractLog_ReadRecord` in
 * `src/common/uproc/os/libos-v3.1.0/lib/liblogdecode.c`):
 * - the host zeroes the buffer, puts the DMA address of each of its 4 KiB
 *   pages at u64[1…pages] and names the buffer in the LibOS init args with
 *   `pa` = its first page;
 * - u64[0] is the put pointer: the count of u64 words written so far (it
 *   only grows; the ring index is `put mod (size/8 − 1)`);
 * - record words go to u64[1 + (k mod (size/8 − 1))], so the first records
 *   overwrite the page table, which LibOS read when it started;
 * - a record is its arguments, then the address of its `libosLogMetadata`
 *   in the firmware's `.fwlogging_*` section, then a timestamp in ns (the
 *   decoder reads timestamp, metadata and arguments backwards from put).
 *
 * The simulated firmware has no ELF; its metadata addresses are the ones in
 * {@linkcode GSP_RM_LOG_FORMATS}, which stands in for that section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GSP_RM_LOG_FORMATS } from "./logs.ts";
 * const names = Object.keys(GSP_RM_LOG_FORMATS);
 * assert(names.includes("rpcReceived") && names.includes("queueCorrupted"));
 * ```
 *
 * @module
 */

import type { DmaView } from "../system_memory.ts";
import type { LibosRegion } from "./init_args.ts";
import { GSP_PAGE_SIZE } from "./structs.ts";

/** `LOG_LEVEL_*` (libos_log.h). */
export const LIBOS_LOG_LEVEL = { INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4 } as const;

/** One entry of the stand-in `.fwlogging` metadata. */
export interface LogFormat {
  /** Address of its `libosLogMetadata`, the word a record carries. */
  readonly meta: bigint;
  /** `printLevel`. */
  readonly level: number;
  /** The printf format. */
  readonly format: string;
  /** `argumentCount`. */
  readonly argumentCount: number;
}

const INIT_SECTION = 0x0100_0000n;
const RM_SECTION = 0x0200_0000n;

function format(section: bigint, slot: number, level: number, text: string): LogFormat {
  const argumentCount = (text.match(/%[a-z]+/g) ?? []).length;
  return { meta: section + BigInt(slot * 0x20), level, format: text, argumentCount };
}

const { INFO, NOTICE, WARNING, ERROR } = LIBOS_LOG_LEVEL;

/** A message the simulated GSP-RM logs. */
export type LogMessage =
  | "libosStart"
  | "rmArgs"
  | "queuesLinked"
  | "initFailed"
  | "doorbell"
  | "rpcReceived"
  | "rpcSent"
  | "protocolViolation"
  | "badRpcHeader"
  | "queueCorrupted"
  | "staleSkipped"
  | "sequencerSent"
  | "resumed"
  | "initDone"
  | "unloading"
  | "statusQueueFull";

/** Every message the simulated GSP-RM logs, by name. */
export const GSP_RM_LOG_FORMATS: Readonly<Record<LogMessage, LogFormat>> = {
  libosStart: format(INIT_SECTION, 0, NOTICE, "LIBOS: init args at 0x%llx, %d regions"),
  rmArgs: format(INIT_SECTION, 1, INFO, "GSP-RM: RMARGS at 0x%llx, shared area 0x%llx, %d pages"),
  queuesLinked: format(
    INIT_SECTION,
    2,
    INFO,
    "GSP-RM: queues linked, cmd %d slots, status %d slots",
  ),
  initFailed: format(INIT_SECTION, 3, ERROR, "GSP-RM: init failed at step %d (0x%llx)"),
  doorbell: format(RM_SECTION, 0, INFO, "INTR: command queue doorbell, %d slots pending"),
  rpcReceived: format(RM_SECTION, 1, INFO, "RPC: received function 0x%x seq %d length %d"),
  rpcSent: format(RM_SECTION, 2, INFO, "RPC: sent function 0x%x seq %d result 0x%x"),
  protocolViolation: format(RM_SECTION, 3, WARNING, "RPC: function 0x%x out of order in state %d"),
  badRpcHeader: format(RM_SECTION, 4, ERROR, "RPC: bad header version 0x%x signature 0x%x"),
  queueCorrupted: format(
    RM_SECTION,
    5,
    ERROR,
    "MSGQ: receive failed (%d) at seq %d; queue stopped",
  ),
  staleSkipped: format(RM_SECTION, 6, WARNING, "MSGQ: skipped %d stale element(s)"),
  sequencerSent: format(RM_SECTION, 7, NOTICE, "GSP-RM: CPU sequencer sent, %d words"),
  resumed: format(RM_SECTION, 8, NOTICE, "GSP-RM: resumed after CPU sequencer"),
  initDone: format(RM_SECTION, 9, NOTICE, "GSP-RM: init done"),
  unloading: format(RM_SECTION, 10, NOTICE, "GSP-RM: unloading, new level %d"),
  statusQueueFull: format(RM_SECTION, 11, WARNING, "MSGQ: status queue full, %d message(s) held"),
};

/**
 * One LibOS log buffer, opened as LibOS opens it: the page table read once,
 * then records appended through it.
 */
export class LibosLogBuffer {
  /** The region's id ("LOGRM"). */
  readonly name: string;
  readonly #dma: DmaView;
  readonly #pages: readonly bigint[];
  readonly #entries: bigint;
  #put = 0n;

  private constructor(name: string, dma: DmaView, pages: readonly bigint[], size: number) {
    this.name = name;
    this.#dma = dma;
    this.#pages = pages;
    this.#entries = BigInt(size / 8 - 1);
  }

  /**
   * Open the buffer a LibOS region names: read its page table at u64[1…].
   *
   * @param dma System memory as the GSP sees it.
   * @param region The region (contiguous sysmem, a whole number of pages).
   * @returns The buffer.
   * @throws {SimDmaFault} when the region is not mapped.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SystemMemory } from "../system_memory.ts";
   * import { LibosLogBuffer } from "./logs.ts";
   * const memory = new SystemMemory();
   * const bytes = new Uint8Array(8192);
   * const view = new DataView(bytes.buffer);
   * view.setBigUint64(8, 0x20000n, true);
   * view.setBigUint64(16, 0x21000n, true);
   * using _m = memory.map(0x20000n, bytes);
   * const log = LibosLogBuffer.open(memory, {
   *   index: 0, name: "LOGRM", id8: 0n, pa: 0x20000n, size: 8192n, kind: 1, loc: 1,
   * });
   * log.append("initDone", [], 1000n);
   * assert.equal(view.getBigUint64(0, true), 2n); // meta + timestamp
   * assert.equal(view.getBigUint64(16, true), 1000n);
   * ```
   */
  static open(dma: DmaView, region: LibosRegion): LibosLogBuffer {
    const size = Number(region.size);
    const pageCount = Math.floor(size / GSP_PAGE_SIZE);
    const table = dma.read(region.pa + 8n, pageCount * 8);
    const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
    const pages = Array.from({ length: pageCount }, (_, i) => view.getBigUint64(i * 8, true));
    return new LibosLogBuffer(region.name, dma, pages, pageCount * GSP_PAGE_SIZE);
  }

  /** Words written so far (the value of u64[0]). */
  get put(): bigint {
    return this.#put;
  }

  /**
   * Append one record and publish the new put pointer.
   *
   * @param message Which message.
   * @param args Its arguments, as many as the format takes.
   * @param timestampNs When, in ns.
   * @throws {RangeError} when the argument count is wrong.
   */
  append(message: LogMessage, args: readonly (bigint | number)[], timestampNs: bigint): void {
    const entry = GSP_RM_LOG_FORMATS[message];
    if (args.length !== entry.argumentCount) {
      throw new RangeError(`${message} takes ${entry.argumentCount} arguments, got ${args.length}`);
    }
    for (const arg of args) this.#word(BigInt.asUintN(64, BigInt(arg)));
    this.#word(entry.meta);
    this.#word(BigInt.asUintN(64, timestampNs));
    this.#store(0n, this.#put);
  }

  #word(value: bigint): void {
    this.#store(1n + (this.#put % this.#entries), value);
    this.#put++;
  }

  #store(wordIndex: bigint, value: bigint): void {
    const offset = Number(wordIndex) * 8;
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, value, true);
    const page = this.#pages[Math.floor(offset / GSP_PAGE_SIZE)];
    this.#dma.write(page + BigInt(offset % GSP_PAGE_SIZE), bytes);
  }
}
