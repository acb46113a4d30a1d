/**
 * The FSP's EMEM message queue, channel 0 (reference §4.2 with NVIDIA's
 * correction: the queue registers' stride is 8):
 *
 * - send: `EMEMC` = {AINCW, block 0, offset 0}; the message's words to
 *   `EMEMD`; `QUEUE_TAIL(0)` = length − 4 (the last word), then
 *   `QUEUE_HEAD(0)` = 0, which posts it;
 * - receive: poll `MSGQ_HEAD(0)` / `MSGQ_TAIL(0)` every 10 ms for 2 s until
 *   they differ; size = tail − head + 4 (the queue is not circular), at most
 *   the channel's 1 KiB; `EMEMC` = {AINCR}; the words from `EMEMD`; then
 *   `MSGQ_TAIL(0)` = 0 and `MSGQ_HEAD(0)` = 0.
 *
 * Every read is checked: a PRI error or all ones is "the GPU stopped
 * answering", never a queue pointer.
 *
 * @example A message round trip on a fake FSP that answers at once
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { FspQueue } from "./fsp_queue.ts";
 *
 * const words = new Map<number, number>();
 * let emem: number[] = [];
 * const bar0 = {
 *   read32: (at: number) => at === 0x8f2ac4 ? emem.shift() ?? 0 : words.get(at) ?? 0,
 *   write32: (at: number, value: number) => {
 *     if (at === 0x8f2ac4) emem.push(value);
 *     else words.set(at, value);
 *     if (at === 0x8f2c00) { // posted: answer with the same words
 *       words.set(0x8f2c84, words.get(0x8f2c04)!);
 *     }
 *   },
 * };
 * const queue = new FspQueue({ bar0, clock: new ManualClock() }, "gh100");
 * queue.send(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
 * const answer = await queue.receive();
 * assert.deepEqual([...answer], [1, 2, 3, 4, 5, 6, 7, 8]);
 * assert.equal(words.get(0x8f2c84), 0);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { ChipInfo } from "../chips/chips.ts";
import type { Clock } from "../pci/clock.ts";
import type { Mmio } from "../pci/mmio.ts";
import { pollValue } from "../pci/mmio.ts";
import { type FalconRegisters, falconRegisters } from "../registers/bind.ts";
import { readChecked } from "./_hw.ts";
import { FspProtocolError } from "./fsp_message.ts";
import { FSP_WAITS } from "./fsp_waits.ts";

const log = getLogger(["falconry", "gsp", "fsp_queue"]);

/** `FSP_EMEM_CHANNEL_RM_SIZE`: channel 0's EMEM, and so the largest message either way. */
export const FSP_CHANNEL_SIZE = 1024;
/** The only channel the driver uses. */
const CHANNEL = 0;

/** What the queue needs of a device. */
export interface FspQueueDevice {
  /** BAR0. */
  readonly bar0: Pick<Mmio, "read32" | "write32">;
  /** The device's clock (every wait). */
  readonly clock: Clock;
}

/** Channel 0 of a chip's FSP message queue. */
export class FspQueue {
  readonly #bar: Pick<Mmio, "read32" | "write32">;
  readonly #clock: Clock;
  readonly #regs: FalconRegisters;

  /**
   * Bind the queue.
   *
   * @param device BAR0 and the clock.
   * @param chip The chip (Hopper or later), by name or chip-table entry.
   */
  constructor(device: FspQueueDevice, chip: string | ChipInfo) {
    this.#bar = device.bar0;
    this.#clock = device.clock;
    this.#regs = falconRegisters(chip, "FSP");
  }

  /**
   * Write a message into EMEM and post it.
   *
   * @param message The bytes: a non-empty whole number of words, at most 1 KiB.
   * @throws {RangeError} For an empty, unaligned or oversized message.
   */
  send(message: Uint8Array): void {
    if (message.length === 0 || message.length % 4 !== 0 || message.length > FSP_CHANNEL_SIZE) {
      throw new RangeError(
        `an FSP message must be 4..${FSP_CHANNEL_SIZE} bytes in whole words, not ${message.length}`,
      );
    }
    const r = this.#regs;
    const bar = this.#bar;
    r.EMEMC.at(CHANNEL).write(bar, { AINCW: 1, BLK: 0, OFFS: 0 });
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    const data = r.EMEMD.at(CHANNEL);
    for (let at = 0; at < message.length; at += 4) data.writeRaw(bar, view.getUint32(at, true));
    r.QUEUE_TAIL.at(CHANNEL).writeRaw(bar, message.length - 4);
    r.QUEUE_HEAD.at(CHANNEL).writeRaw(bar, 0);
    log.debug("posted {bytes} bytes to the FSP", { bytes: message.length });
  }

  /** Whether a response is waiting (MSGQ head ≠ tail); reads only. */
  pending(): boolean {
    const { head, tail } = this.#pointers();
    return head !== tail;
  }

  #pointers(): { head: number; tail: number } {
    return {
      head: readChecked(this.#bar, this.#regs.MSGQ_HEAD.at(CHANNEL)),
      tail: readChecked(this.#bar, this.#regs.MSGQ_TAIL.at(CHANNEL)),
    };
  }

  /**
   * Wait for the FSP's response (every 10 ms, 2 s), read it and empty the queue.
   *
   * @param options The abort signal.
   * @returns The response's bytes.
   * @throws {HardwareTimeoutError} When no response comes.
   * @throws {FspProtocolError} When the pointers give a size that is not a 4..1024-byte message.
   */
  async receive(options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const wait = FSP_WAITS.response;
    await pollValue(() => this.pending() ? 1 : 0, (v) => v === 1, {
      intervalMs: wait.intervalMs,
      timeoutMs: wait.timeoutMs,
      clock: this.#clock,
      signal: options.signal,
      name: `${this.#regs.MSGQ_HEAD.at(CHANNEL).name} ≠ MSGQ_TAIL (an FSP response)`,
    });
    const r = this.#regs;
    const bar = this.#bar;
    const { head, tail } = this.#pointers();
    const size = tail - head + 4;
    try {
      if (size < 4 || size > FSP_CHANNEL_SIZE || size % 4 !== 0) {
        throw new FspProtocolError(
          "msgq",
          0,
          `MSGQ head 0x${head.toString(16)} and tail 0x${tail.toString(16)} give ${size} bytes; ` +
            `a response is 4..${FSP_CHANNEL_SIZE} bytes in whole words`,
        );
      }
      r.EMEMC.at(CHANNEL).write(bar, { AINCR: 1, BLK: 0, OFFS: 0 });
      const out = new Uint8Array(size);
      const view = new DataView(out.buffer);
      const data = r.EMEMD.at(CHANNEL);
      for (let at = 0; at < size; at += 4) view.setUint32(at, data.readRaw(bar), true);
      return out;
    } finally {
      // Emptied whatever was read: the FSP takes the next command only on an empty queue.
      r.MSGQ_TAIL.at(CHANNEL).writeRaw(bar, 0);
      r.MSGQ_HEAD.at(CHANNEL).writeRaw(bar, 0);
    }
  }
}
