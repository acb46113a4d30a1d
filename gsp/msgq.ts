/**
 * The driver's end of the GSP message queues: it writes commands into the
 * command queue and rings the doorbell, and reads GSP-RM's replies and
 * events from the status queue.
 *
 * A message is one `GSP_MSG_QUEUE_ELEMENT` spanning `elemCount` 4 KiB slots
 * (NVIDIA 570.144 `message_queue_priv.h`, `message_queue_cpu.c`; reference
 * §5.2, §13):
 *
 * | off  | field                                                               |
 * | ---- | ------------------------------------------------------------------- |
 * | 0x00 | authTagBuffer[16], aadBuffer[16] (zero without confidential compute) |
 * | 0x20 | checkSum: makes the XOR fold of the message zero                    |
 * | 0x24 | seqNum: the sender's message counter                                |
 * | 0x28 | elemCount: slots used = ceil((48 + rpc.length) / 4096)              |
 * | 0x30 | the RPC header (32 bytes, `rpc.ts`), then the payload               |
 *
 * The message is `48 + rpc.length` bytes (`GSP_MSG_QUEUE_ELEMENT_HDR_SIZE`
 * = 48, the offset of the RPC header) and at most 64 KiB
 * (`GSP_MSG_QUEUE_ELEMENT_SIZE_MAX`). The checksum (`_checkSum32`) XORs the
 * little-endian u64 words covering those bytes, zero-padded to 8, and folds
 * the high half into the low. A command larger than one element is split as
 * NVIDIA's `_issueRpcLarge` (vgpu/rpc.c) does: the first message carries
 * `GSP_MSG_QUEUE_RPC_SIZE_MAX` (65488) bytes of RPC header and payload, each
 * further one is a `CONTINUATION_RECORD` with the next 65456 bytes.
 *
 * A message may wrap from slot 62 to slot 0. The write pointer moves only
 * after every slot is written and a barrier has ordered them; the doorbell
 * (`NV_PGSP_QUEUE_HEAD(0)` ← 0) follows another barrier.
 *
 * @example Encode an element and decode it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeElement, encodeElement, queueChecksum } from "./msgq.ts";
 * import { RPC_FUNCTION } from "./rpc.ts";
 * const element = encodeElement(7, RPC_FUNCTION.SET_REGISTRY, new Uint8Array([1, 2, 3]));
 * assert.equal(element.length, 4096);
 * assert.equal(queueChecksum(element, 48 + 32 + 3), 0);
 * const message = decodeElement(element, { queue: "command", slot: 0 });
 * assert.equal(message.seqNum, 7);
 * assert.deepEqual([...message.payload], [1, 2, 3]);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { ChipInfo } from "../chips/chips.ts";
import { FalconryError, HardwareTimeoutError } from "../errors.ts";
import type { Clock } from "../pci/clock.ts";
import { pollValue, writeBarrier } from "../pci/mmio.ts";
import { chipRegisters, type RegisterWriter } from "../registers/bind.ts";
import {
  decodeRpcHeader,
  encodeRpcHeader,
  RPC_FUNCTION,
  RPC_HEADER,
  RPC_RESULT,
  RpcError,
  type RpcHeader,
  rpcName,
} from "./rpc.ts";
import { RpcHistory, type RpcHistorySnapshot, summarizeRpcHistory } from "./rpc_history.ts";
import {
  GSP_PAGE_SIZE,
  type GspSharedMemory,
  MSGQ_TX_HEADER,
  type QueueName,
  SHARED_MEMORY,
} from "./shared_memory.ts";

const log = getLogger(["falconry", "gsp", "msgq"]);

/** `GSP_MSG_QUEUE_ELEMENT` field offsets and limits. */
export const MSG_QUEUE_ELEMENT = {
  authTag: 0x00,
  aad: 0x10,
  checkSum: 0x20,
  seqNum: 0x24,
  elemCount: 0x28,
  /** `GSP_MSG_QUEUE_ELEMENT_HDR_SIZE`: where the RPC header starts; `rpc.length` counts from here. */
  headerSize: 0x30,
  /** `GSP_MSG_QUEUE_ELEMENT_SIZE_MAX`: 16 slots. */
  maxSize: 0x10000,
  /** `GSP_MSG_QUEUE_RPC_SIZE_MAX`: RPC header + payload bytes in one element. */
  rpcSizeMax: 0x10000 - 0x30,
  /** Slots one element may span. */
  maxSlots: 0x10000 / GSP_PAGE_SIZE,
} as const;

/** Payload bytes the first element of a split command carries. */
const FIRST_PAYLOAD_MAX = MSG_QUEUE_ELEMENT.rpcSizeMax - RPC_HEADER.size;

/**
 * Waits of the queues, from reference §8 (nova-core `gsp/cmdq.rs`): space
 * in the command queue is polled back to back (nova-core: every 1 µs) for
 * up to 1 s; each message from GSP-RM is polled for every 1 ms, up to 5 s.
 */
export const QUEUE_TIMEOUTS = {
  spaceTimeoutMs: 1000,
  spaceIntervalMs: 0,
  receiveTimeoutMs: 5000,
  receiveIntervalMs: 1,
} as const;

/**
 * `_checkSum32`: XOR of the little-endian u64 words covering `length` bytes
 * (the last word zero-padded), high half XOR low half.
 *
 * @param bytes The message, from the element's first byte.
 * @param length Bytes covered: `48 + rpc.length`.
 * @returns The 32-bit checksum; a well-formed element folds to 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queueChecksum } from "./msgq.ts";
 * const bytes = new Uint8Array(12);
 * bytes[0] = 1; // low half of word 0
 * bytes[4] = 2; // high half of word 0
 * bytes[8] = 4; // low half of word 1 (zero-padded)
 * assert.equal(queueChecksum(bytes, 9), 1 ^ 2 ^ 4);
 * ```
 */
export function queueChecksum(bytes: Uint8Array, length: number): number {
  if (length > bytes.length) {
    throw new RangeError(`checksum over ${length} of ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const whole = length & ~7;
  let lo = 0;
  let hi = 0;
  for (let at = 0; at < whole; at += 8) {
    lo ^= view.getUint32(at, true);
    hi ^= view.getUint32(at + 4, true);
  }
  for (let at = whole; at < length; at++) {
    const byte = bytes[at] << (8 * (at & 3));
    if ((at & 7) < 4) lo ^= byte;
    else hi ^= byte;
  }
  return (lo ^ hi) >>> 0;
}

/**
 * Slots a message of `rpcLength` bytes (RPC header + payload) occupies.
 *
 * @param rpcLength `rpc.length`.
 * @returns `ceil((48 + rpcLength) / 4096)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elementSlots } from "./msgq.ts";
 * assert.equal(elementSlots(32), 1);
 * assert.equal(elementSlots(4096 - 48), 1);
 * assert.equal(elementSlots(4096 - 47), 2);
 * ```
 */
export function elementSlots(rpcLength: number): number {
  return Math.ceil((MSG_QUEUE_ELEMENT.headerSize + rpcLength) / GSP_PAGE_SIZE);
}

/**
 * Build one element: header, RPC header, payload, checksum; zero elsewhere.
 *
 * @param seqNum The sender's message counter.
 * @param fn Function number.
 * @param payload Payload bytes; `48 + 32 + length` must fit 64 KiB.
 * @returns `elemCount` whole slots.
 */
export function encodeElement(seqNum: number, fn: number, payload: Uint8Array): Uint8Array {
  const rpcLength = RPC_HEADER.size + payload.length;
  const msgLen = MSG_QUEUE_ELEMENT.headerSize + rpcLength;
  if (msgLen > MSG_QUEUE_ELEMENT.maxSize) {
    throw new RangeError(
      `a ${msgLen}-byte message exceeds one queue element (${MSG_QUEUE_ELEMENT.maxSize} bytes); ` +
        `split it into continuation records`,
    );
  }
  const elemCount = elementSlots(rpcLength);
  const element = new Uint8Array(elemCount * GSP_PAGE_SIZE);
  const view = new DataView(element.buffer);
  view.setUint32(MSG_QUEUE_ELEMENT.seqNum, seqNum >>> 0, true);
  view.setUint32(MSG_QUEUE_ELEMENT.elemCount, elemCount, true);
  element.set(encodeRpcHeader(fn, payload.length), MSG_QUEUE_ELEMENT.headerSize);
  element.set(payload, MSG_QUEUE_ELEMENT.headerSize + RPC_HEADER.size);
  view.setUint32(MSG_QUEUE_ELEMENT.checkSum, queueChecksum(element, msgLen), true);
  return element;
}

/** Where an element sits, for error messages. */
export interface ElementLocation {
  /** Which queue. */
  readonly queue: QueueName;
  /** Its first slot. */
  readonly slot: number;
}

/** A decoded element. */
export interface GspMessage {
  /** `seqNum`. */
  readonly seqNum: number;
  /** Slots it used. */
  readonly elemCount: number;
  /** The RPC header. */
  readonly header: RpcHeader;
  /** `function` (= `header.function`). */
  readonly function: number;
  /** Its name (`GSP_INIT_DONE`). */
  readonly name: string;
  /** `rpc.length − 32` bytes after the RPC header (a copy). */
  readonly payload: Uint8Array<ArrayBuffer>;
}

/**
 * A queue element that breaks the protocol: a checksum that does not fold to
 * zero, an impossible length or slot count, an unexpected sequence number, a
 * bad RPC header. It names the queue, the slot, the field and (when read) the
 * sequence number and function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageQueueError } from "./msgq.ts";
 * const e = new MessageQueueError({ queue: "status", slot: 3 }, "checkSum", "folds to 0x1", 2);
 * assert.match(e.message, /status queue element at slot 3 \(seqNum 2\)/);
 * ```
 */
export class MessageQueueError extends FalconryError {
  /** Which queue. */
  readonly queue: QueueName;
  /** The element's first slot. */
  readonly slot: number;
  /** `seqNum`, when it could be read. */
  readonly seqNum?: number;
  /** The function, when it could be read. */
  readonly function?: number;
  /** The field at fault (`checkSum`, `elemCount`, `rpc.length`, …). */
  readonly field: string;
  /** What is wrong. */
  readonly reason: string;

  /**
   * Construct it.
   *
   * @param where Queue and slot.
   * @param field The field at fault.
   * @param reason What is wrong.
   * @param seqNum The element's sequence number, if read.
   * @param fn The element's function, if read.
   */
  constructor(where: ElementLocation, field: string, reason: string, seqNum?: number, fn?: number) {
    const what = [
      seqNum === undefined ? undefined : `seqNum ${seqNum}`,
      fn === undefined ? undefined : rpcName(fn),
    ].filter(Boolean).join(", ");
    super(
      `${where.queue} queue element at slot ${where.slot}${what ? ` (${what})` : ""}: ` +
        `${field}: ${reason}`,
    );
    this.queue = where.queue;
    this.slot = where.slot;
    this.seqNum = seqNum;
    this.function = fn;
    this.field = field;
    this.reason = reason;
  }
}

/**
 * Decode and check one element (its slots already gathered in order).
 *
 * @param bytes The element's slots, at least one.
 * @param where Queue and first slot, for errors.
 * @returns The message.
 * @throws {MessageQueueError} naming the element and the field at fault.
 */
export function decodeElement(bytes: Uint8Array, where: ElementLocation): GspMessage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seqNum = view.getUint32(MSG_QUEUE_ELEMENT.seqNum, true);
  const elemCount = view.getUint32(MSG_QUEUE_ELEMENT.elemCount, true);
  const header = decodeRpcHeader(bytes, MSG_QUEUE_ELEMENT.headerSize);
  const fail = (field: string, reason: string) =>
    new MessageQueueError(where, field, reason, seqNum, header.function);
  if (elemCount < 1 || elemCount > MSG_QUEUE_ELEMENT.maxSlots) {
    throw fail("elemCount", `${elemCount} is outside 1..${MSG_QUEUE_ELEMENT.maxSlots}`);
  }
  const msgLen = MSG_QUEUE_ELEMENT.headerSize + header.length;
  if (header.length < RPC_HEADER.size || msgLen > elemCount * GSP_PAGE_SIZE) {
    throw fail(
      "rpc.length",
      `${header.length} does not fit ${RPC_HEADER.size}..${
        elemCount * GSP_PAGE_SIZE - MSG_QUEUE_ELEMENT.headerSize
      } (elemCount ${elemCount})`,
    );
  }
  if (bytes.length < elemCount * GSP_PAGE_SIZE) {
    throw fail("elemCount", `${elemCount} slots, ${bytes.length} bytes given`);
  }
  const residue = queueChecksum(bytes, msgLen);
  if (residue !== 0) {
    throw fail(
      "checkSum",
      `the ${msgLen}-byte message folds to 0x${residue.toString(16).padStart(8, "0")}, not 0 ` +
        `(stored checkSum 0x${view.getUint32(MSG_QUEUE_ELEMENT.checkSum, true).toString(16)})`,
    );
  }
  if (header.headerVersion !== RPC_HEADER.version) {
    throw fail("rpc.header_version", `0x${header.headerVersion.toString(16)}, expected 0x03000000`);
  }
  if (header.signature !== RPC_HEADER.signatureValid) {
    throw fail("rpc.signature", `0x${header.signature.toString(16)}, expected 0x43505256 ("VRPC")`);
  }
  const payloadAt = MSG_QUEUE_ELEMENT.headerSize + RPC_HEADER.size;
  return {
    seqNum,
    elemCount,
    header,
    function: header.function,
    name: rpcName(header.function),
    payload: bytes.slice(payloadAt, MSG_QUEUE_ELEMENT.headerSize + header.length),
  };
}

/** One message to put on the command queue. */
export interface OutgoingMessage {
  /** Function number (`CONTINUATION_RECORD` for the tail of a split command). */
  readonly function: number;
  /** Payload bytes. */
  readonly payload: Uint8Array;
}

/**
 * Split a command into the messages that carry it: itself when it fits one
 * element, else a first part with as much payload as fits and
 * `CONTINUATION_RECORD`s with the rest (NVIDIA `_issueRpcLarge`).
 *
 * @param fn Function number.
 * @param payload The whole payload.
 * @returns The messages, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitCommand } from "./msgq.ts";
 * const parts = splitCommand(73, new Uint8Array(100_000));
 * assert.deepEqual(parts.map((p) => [p.function, p.payload.length]), [[73, 65456], [71, 34544]]);
 * ```
 */
export function splitCommand(fn: number, payload: Uint8Array): OutgoingMessage[] {
  if (payload.length <= FIRST_PAYLOAD_MAX) return [{ function: fn, payload }];
  const parts: OutgoingMessage[] = [{
    function: fn,
    payload: payload.subarray(0, FIRST_PAYLOAD_MAX),
  }];
  for (let at = FIRST_PAYLOAD_MAX; at < payload.length; at += FIRST_PAYLOAD_MAX) {
    parts.push({
      function: RPC_FUNCTION.CONTINUATION_RECORD,
      payload: payload.subarray(at, Math.min(payload.length, at + FIRST_PAYLOAD_MAX)),
    });
  }
  return parts;
}

/**
 * Waiting for a message from GSP-RM took longer than its timeout. The
 * message ends with the RPC history (the pending RPC, the last ones sent and
 * received); `rpcHistory` holds all of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { GspReceiveTimeoutError } from "./msgq.ts";
 * import { RpcHistory } from "./rpc_history.ts";
 * const history = new RpcHistory({ clock: new ManualClock() });
 * history.awaiting(0x1001, "event");
 * const e = new GspReceiveTimeoutError("GSP_INIT_DONE", 0, 5000, history.snapshot());
 * assert.match(e.message, /RPC history: pending GSP_INIT_DONE/);
 * assert.equal(e.rpcHistory?.pending?.name, "GSP_INIT_DONE");
 * ```
 */
export class GspReceiveTimeoutError extends HardwareTimeoutError {
  /** What was awaited (`GSP_INIT_DONE`, `a reply to GET_GSP_STATIC_INFO`). */
  readonly awaited: string;
  /** The RPC history when time ran out. */
  readonly rpcHistory?: RpcHistorySnapshot;

  /**
   * Construct it.
   *
   * @param awaited What was awaited.
   * @param lastValue The status queue's write pointer when time ran out.
   * @param timeoutMs The timeout.
   * @param rpcHistory The RPC history then.
   */
  constructor(
    awaited: string,
    lastValue: number,
    timeoutMs: number,
    rpcHistory?: RpcHistorySnapshot,
  ) {
    super(`GSP status queue write pointer, waiting for ${awaited}`, lastValue, timeoutMs);
    this.awaited = awaited;
    this.rpcHistory = rpcHistory;
    if (rpcHistory) this.message += `; RPC history: ${summarizeRpcHistory(rpcHistory)}`;
  }
}

/**
 * GSP-RM freed no room in the command queue in time (it stopped reading
 * commands). The message ends with the RPC history; `rpcHistory` holds all
 * of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HardwareTimeoutError } from "../errors.ts";
 * import { ManualClock } from "../pci/clock.ts";
 * import { GspSendTimeoutError } from "./msgq.ts";
 * import { RpcHistory } from "./rpc_history.ts";
 * const history = new RpcHistory({ clock: new ManualClock() });
 * const e = new GspSendTimeoutError("GSP command queue free slots", 0, 1000, history.snapshot());
 * assert(e instanceof HardwareTimeoutError);
 * assert.match(e.message, /RPC history: nothing pending; nothing sent/);
 * ```
 */
export class GspSendTimeoutError extends HardwareTimeoutError {
  /** The RPC history when time ran out. */
  readonly rpcHistory: RpcHistorySnapshot;

  /**
   * Construct it.
   *
   * @param register What was polled.
   * @param lastValue The free slots when time ran out.
   * @param timeoutMs The timeout.
   * @param rpcHistory The RPC history then.
   */
  constructor(
    register: string,
    lastValue: number,
    timeoutMs: number,
    rpcHistory: RpcHistorySnapshot,
  ) {
    super(register, lastValue, timeoutMs);
    this.rpcHistory = rpcHistory;
    this.message += `; RPC history: ${summarizeRpcHistory(rpcHistory)}`;
  }
}

/** Options of a wait. */
export interface WaitOptions {
  /** Stop early; the wait rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Per-message timeout; default {@linkcode QUEUE_TIMEOUTS}.receiveTimeoutMs. */
  readonly timeoutMs?: number;
}

/** What {@linkcode GspMessageQueues} needs from the device. */
export interface MessageQueueOptions {
  /** BAR0, for the doorbell. */
  readonly bar: RegisterWriter;
  /** The chip, to place the doorbell register. */
  readonly chip: string | ChipInfo;
  /** The device's clock. */
  readonly clock: Clock;
  /** Messages the RPC history keeps per direction; default `RPC_HISTORY_CAPACITY` (32). */
  readonly historyCapacity?: number;
}

/**
 * The driver's end of both queues over a {@linkcode GspSharedMemory}.
 *
 * `send` posts a command (split when large); `receive` takes the next
 * message; `waitFor` consumes and skips unrelated messages until the wanted
 * one; `call` sends and waits for the reply under one lock, and turns a
 * failed `rpc_result` into an {@linkcode RpcError}.
 *
 * @example
 * See `tests/gsp_msgq_test.ts` (against the GSP-RM model) for a round trip.
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { chipRegisters } from "../registers/bind.ts";
 * import { GspMessageQueues } from "./msgq.ts";
 * import { GspSharedMemory } from "./shared_memory.ts";
 * const dma = {
 *   alloc(size: number) {
 *     return { bytes: new Uint8Array(size), iova: 0x1000n, size, [Symbol.dispose]() {} };
 *   },
 * };
 * using shared = GspSharedMemory.allocate(dma);
 * const doorbells: number[] = [];
 * const bar = { write32: (offset: number) => void doorbells.push(offset) };
 * const queues = new GspMessageQueues(shared, { bar, chip: "tu102", clock: new ManualClock() });
 * await queues.send(72, new Uint8Array(16));
 * assert.equal(shared.cpuWritePtr, 1);
 * assert.deepEqual(doorbells, [chipRegisters("tu102").PGSP.QUEUE_HEAD.address]);
 * ```
 */
export class GspMessageQueues {
  readonly #shared: GspSharedMemory;
  readonly #bar: RegisterWriter;
  readonly #clock: Clock;
  readonly #doorbell: { writeRaw(bar: RegisterWriter, value: number): void };
  #txSeqNum = 0;
  #rxSeqNum = 0;
  #statusHeaderChecked = false;
  #lock: Promise<unknown> = Promise.resolve();
  /** Messages sent (continuation records included). */
  sent = 0;
  /** Messages received. */
  received = 0;
  /** Messages consumed and skipped by {@linkcode waitFor}. */
  skipped = 0;
  /** The last messages in each direction and the pending wait, on the device's clock. */
  readonly history: RpcHistory;

  /**
   * Construct it over laid-out shared memory.
   *
   * @param shared The shared memory (its command queue header written).
   * @param options BAR0, chip and clock.
   */
  constructor(shared: GspSharedMemory, options: MessageQueueOptions) {
    this.#shared = shared;
    this.#bar = options.bar;
    this.#clock = options.clock;
    this.#doorbell = chipRegisters(options.chip).PGSP.QUEUE_HEAD.at(0);
    this.history = new RpcHistory({ clock: options.clock, capacity: options.historyCapacity });
  }

  /** The next command's `seqNum`. */
  get nextSeqNum(): number {
    return this.#txSeqNum;
  }

  /** Free slots in the command queue (one always stays empty). */
  freeSlots(): number {
    const n = SHARED_MEMORY.msgCount;
    const write = this.#shared.cpuWritePtr;
    const read = this.#shared.gspReadPtr;
    if (read >= n) return 0;
    return (read + n - write - 1) % n;
  }

  /** Messages GSP-RM has written and the driver not yet consumed. */
  available(): number {
    const n = SHARED_MEMORY.msgCount;
    const write = this.#shared.gspWritePtr;
    if (write >= n) return 0;
    return (write + n - this.#shared.cpuReadPtr) % n;
  }

  /**
   * Post a command: split it if needed, wait for space, write each
   * message's slots (wrapping at the ring's end), move the write pointer,
   * ring the doorbell.
   *
   * @param fn Function number.
   * @param payload Payload bytes.
   * @param options Abort signal.
   * @throws {GspSendTimeoutError} when GSP-RM frees no space within 1 s.
   */
  async send(
    fn: number,
    payload: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    for (const part of splitCommand(fn, payload)) {
      await this.#sendOne(part, options.signal);
    }
  }

  async #sendOne(part: OutgoingMessage, signal?: AbortSignal): Promise<void> {
    const element = encodeElement(this.#txSeqNum, part.function, part.payload);
    const slots = element.length / GSP_PAGE_SIZE;
    if (this.freeSlots() < slots) {
      const name = `GSP command queue free slots (${rpcName(part.function)} needs ${slots})`;
      try {
        await pollValue(() => this.freeSlots(), (free) => free >= slots, {
          timeoutMs: QUEUE_TIMEOUTS.spaceTimeoutMs,
          intervalMs: QUEUE_TIMEOUTS.spaceIntervalMs,
          clock: this.#clock,
          signal,
          name,
        });
      } catch (error) {
        if (!(error instanceof HardwareTimeoutError)) throw error;
        throw new GspSendTimeoutError(
          name,
          error.lastValue,
          error.timeoutMs,
          this.history.snapshot(),
        );
      }
    }
    signal?.throwIfAborted();
    const first = this.#shared.cpuWritePtr;
    for (let i = 0; i < slots; i++) {
      this.#shared.slot("command", (first + i) % SHARED_MEMORY.msgCount)
        .set(element.subarray(i * GSP_PAGE_SIZE, (i + 1) * GSP_PAGE_SIZE));
    }
    writeBarrier();
    this.#shared.cpuWritePtr = (first + slots) % SHARED_MEMORY.msgCount;
    writeBarrier();
    this.#doorbell.writeRaw(this.#bar, 0);
    this.history.sent({
      function: part.function,
      sequence: this.#txSeqNum,
      length: RPC_HEADER.size + part.payload.length,
    });
    log.debug("sent {name} seqNum {seqNum} in slots {first}+{slots}", {
      name: rpcName(part.function),
      seqNum: this.#txSeqNum,
      first,
      slots,
    });
    this.#txSeqNum = (this.#txSeqNum + 1) >>> 0;
    this.sent++;
  }

  /**
   * Take the next message off the status queue, waiting for one.
   *
   * @param options Signal and timeout; `awaited` names the wait in a timeout error.
   * @returns The message (consumed).
   * @throws {GspReceiveTimeoutError} when nothing arrives in time.
   * @throws {MessageQueueError} for a corrupt element (left in the queue).
   */
  async receive(options: WaitOptions & { awaited?: string } = {}): Promise<GspMessage> {
    const timeoutMs = options.timeoutMs ?? QUEUE_TIMEOUTS.receiveTimeoutMs;
    if (this.available() === 0) {
      try {
        await pollValue(() => this.available(), (n) => n > 0, {
          timeoutMs,
          intervalMs: QUEUE_TIMEOUTS.receiveIntervalMs,
          clock: this.#clock,
          signal: options.signal,
        });
      } catch (error) {
        if (error instanceof HardwareTimeoutError) {
          throw new GspReceiveTimeoutError(
            options.awaited ?? "any message",
            this.#shared.gspWritePtr,
            timeoutMs,
            this.history.snapshot(),
          );
        }
        throw error;
      }
    }
    return this.#take();
  }

  /** The status queue header GSP-RM wrote must describe the layout the driver reads. */
  #checkStatusHeader(where: ElementLocation): void {
    if (this.#statusHeaderChecked) return;
    const header = this.#shared.statusHeader();
    const expected: Record<string, number> = {
      version: MSGQ_TX_HEADER.currentVersion,
      queueSize: SHARED_MEMORY.queueSize,
      msgSize: GSP_PAGE_SIZE,
      msgCount: SHARED_MEMORY.msgCount,
      rxHdrOff: SHARED_MEMORY.rxHeaderOffset,
      entryOff: SHARED_MEMORY.entryOffset,
    };
    for (const [field, value] of Object.entries(expected)) {
      const actual = header[field as keyof typeof header];
      if (actual !== value) {
        throw new MessageQueueError(
          where,
          `msgqTxHeader.${field}`,
          `GSP-RM wrote ${actual}, the driver's layout has ${value}`,
        );
      }
    }
    this.#statusHeaderChecked = true;
  }

  #take(): GspMessage {
    const n = SHARED_MEMORY.msgCount;
    const first = this.#shared.cpuReadPtr;
    const where: ElementLocation = { queue: "status", slot: first };
    this.#checkStatusHeader(where);
    const head = this.#shared.slot("status", first);
    const elemCount = new DataView(head.buffer, head.byteOffset, 64)
      .getUint32(MSG_QUEUE_ELEMENT.elemCount, true);
    const avail = this.available();
    if (elemCount < 1 || elemCount > Math.min(avail, MSG_QUEUE_ELEMENT.maxSlots)) {
      throw new MessageQueueError(
        where,
        "elemCount",
        `${elemCount}, but ${avail} slot(s) are written (at most ${MSG_QUEUE_ELEMENT.maxSlots})`,
      );
    }
    const element = new Uint8Array(elemCount * GSP_PAGE_SIZE);
    for (let i = 0; i < elemCount; i++) {
      element.set(this.#shared.slot("status", (first + i) % n), i * GSP_PAGE_SIZE);
    }
    const message = decodeElement(element, where);
    if (message.seqNum !== this.#rxSeqNum) {
      throw new MessageQueueError(
        where,
        "seqNum",
        `expected ${this.#rxSeqNum}`,
        message.seqNum,
        message.function,
      );
    }
    writeBarrier();
    this.#shared.cpuReadPtr = (first + elemCount) % n;
    this.#rxSeqNum = (this.#rxSeqNum + 1) >>> 0;
    this.received++;
    this.history.received({
      function: message.function,
      sequence: message.seqNum,
      length: message.header.length,
      result: message.header.rpcResult,
    });
    log.debug("received {name} seqNum {seqNum} result {result}", {
      name: message.name,
      seqNum: message.seqNum,
      result: message.header.rpcResult,
    });
    return message;
  }

  /**
   * Receive until a message with function `fn` arrives, consuming and
   * skipping the others (GSP-RM sends log and other events at any time).
   * Each message gets the full timeout.
   *
   * @param fn The function or event awaited.
   * @param options Signal and per-message timeout.
   * @returns The message.
   * @throws {GspReceiveTimeoutError} naming `fn` when none arrives in time.
   */
  async waitFor(fn: number, options: WaitOptions = {}): Promise<GspMessage> {
    return await this.#waitFor(fn, options, { kind: "event" });
  }

  async #waitFor(
    fn: number,
    options: WaitOptions,
    awaited: { kind: "reply" | "event"; sequence?: number },
  ): Promise<GspMessage> {
    // A wait that fails (timeout, abort) leaves the RPC pending: its answer never came, and a
    // crash bundle captured after the failure must still show it.
    this.history.awaiting(fn, awaited.kind, awaited.sequence);
    for (;;) {
      const message = await this.receive({ ...options, awaited: rpcName(fn) });
      if (message.function === fn) return message;
      this.skipped++;
      log.info("skipped {name} while waiting for {awaited}", {
        name: message.name,
        awaited: rpcName(fn),
      });
    }
  }

  /**
   * Send a command and wait for its reply, under the queue lock; a reply
   * whose `rpc_result` is not success is an {@linkcode RpcError}.
   *
   * @param fn Function number.
   * @param payload Payload bytes.
   * @param options Signal and per-message timeout.
   * @returns The reply.
   */
  call(fn: number, payload: Uint8Array, options: WaitOptions = {}): Promise<GspMessage> {
    const run = async () => {
      const sequence = this.#txSeqNum;
      await this.send(fn, payload, options);
      const reply = await this.#waitFor(fn, options, { kind: "reply", sequence });
      if (reply.header.rpcResult !== RPC_RESULT.SUCCESS.code) {
        throw new RpcError(fn, reply.header.rpcResult);
      }
      return reply;
    };
    const result = this.#lock.then(run, run);
    this.#lock = result.catch(() => {});
    return result;
  }
}
