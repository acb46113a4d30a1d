// Tests of gsp/fsp_queue.ts: the FSP's EMEM queue (nova-core-boot.md §4.2) against a small FSP
// model written here from the reference: EMEMC's auto-increment on write and read, the queue
// pointers at stride 8 (channel 0 only), the order of the writes that post a message, the
// response's size from MSGQ head/tail, the wait's interval and timeout on the device's clock,
// the abort, and reads that are PRI errors.

import assert from "node:assert/strict";
import { HardwareTimeoutError } from "../errors.ts";
import { GpuStoppedAnsweringError } from "../falcon/gpu_stopped_answering.ts";
import { FSP_CHANNEL_SIZE, FspQueue } from "../gsp/fsp_queue.ts";
import { FspProtocolError } from "../gsp/fsp_message.ts";
import { ManualClock } from "../pci/clock.ts";

const EMEMC = 0x8f2ac0;
const EMEMD = 0x8f2ac4;
const QUEUE_HEAD = 0x8f2c00;
const QUEUE_TAIL = 0x8f2c04;
const MSGQ_HEAD = 0x8f2c80;
const MSGQ_TAIL = 0x8f2c84;
const AINCW = 1 << 24;
const AINCR = 1 << 25;

/** An FSP as §4.2 describes it: EMEM with an auto-incrementing port, and the queue pointers. */
class FakeFsp {
  readonly emem = new Uint32Array(FSP_CHANNEL_SIZE / 4);
  readonly writes: [number, number][] = [];
  readonly regs = new Map<number, number>();
  ememc = 0;
  /** The message posted last (words). */
  posted?: number[];
  /** Called when a message is posted; may place a response. */
  onPost?: (words: number[]) => void;
  /** A register that reads a PRI error. */
  poisoned?: number;

  read32 = (at: number): number => {
    if (at === this.poisoned) return 0xbadf1100;
    if (at === EMEMD) {
      assert(this.ememc & AINCR, "EMEMD read without AINCR");
      const word = this.#offset();
      this.ememc += 4;
      return this.emem[word];
    }
    return this.regs.get(at) ?? 0;
  };

  write32 = (at: number, value: number): void => {
    this.writes.push([at, value >>> 0]);
    if (at === EMEMC) this.ememc = value;
    else if (at === EMEMD) {
      assert(this.ememc & AINCW, "EMEMD write without AINCW");
      this.emem[this.#offset()] = value;
      this.ememc += 4;
    } else {
      this.regs.set(at, value >>> 0);
      if (at === QUEUE_HEAD) {
        const words = (this.regs.get(QUEUE_TAIL)! + 4) / 4;
        this.posted = [...this.emem.subarray(0, words)];
        this.onPost?.(this.posted);
      }
    }
  };

  #offset(): number {
    return ((this.ememc >>> 8 & 0xff) * 256 + (this.ememc & 0xfc)) / 4;
  }

  /** Put a response in EMEM and set the message queue's pointers. */
  respond(words: number[]): void {
    this.emem.set(words);
    this.regs.set(MSGQ_HEAD, 0);
    this.regs.set(MSGQ_TAIL, words.length * 4 - 4);
  }
}

function bytesOf(words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  words.forEach((w, i) => new DataView(out.buffer).setUint32(i * 4, w, true));
  return out;
}

Deno.test("send: EMEMC with AINCW from block 0, the words, then TAIL = len − 4, then HEAD = 0", () => {
  const fsp = new FakeFsp();
  const queue = new FspQueue({ bar0: fsp, clock: new ManualClock() }, "gh100");
  const words = [0xc0000000, 0x1410de7e, 0x11223344, 0x55667788];
  queue.send(bytesOf(words));
  assert.deepEqual(fsp.writes, [
    [EMEMC, AINCW],
    ...words.map((w) => [EMEMD, w]),
    [QUEUE_TAIL, 12],
    [QUEUE_HEAD, 0],
  ]);
  assert.deepEqual(fsp.posted, words);
});

Deno.test("send: empty, unaligned and oversized messages are refused before any write", () => {
  const fsp = new FakeFsp();
  const queue = new FspQueue({ bar0: fsp, clock: new ManualClock() }, "gh100");
  for (const length of [0, 6, FSP_CHANNEL_SIZE + 4]) {
    assert.throws(() => queue.send(new Uint8Array(length)), RangeError, `${length} bytes`);
  }
  assert.deepEqual(fsp.writes, []);
  queue.send(new Uint8Array(FSP_CHANNEL_SIZE)); // the channel's size itself fits
});

Deno.test("receive: waits in 10 ms steps, reads tail − head + 4 bytes with AINCR, empties the queue", async () => {
  const fsp = new FakeFsp();
  const clock = new ManualClock();
  const queue = new FspQueue({ bar0: fsp, clock }, "gh100");
  const answer = [0xc0000000, 0x1510de7e, 1, 0x14, 0];
  setTimeoutOnClock(clock, 35, () => fsp.respond(answer));
  const got = await queue.receive();
  assert.deepEqual(got, bytesOf(answer));
  assert.equal(clock.now(), 40); // the first 10 ms tick after the response appeared
  assert.equal(fsp.regs.get(MSGQ_HEAD), 0);
  assert.equal(fsp.regs.get(MSGQ_TAIL), 0);
  const ememc = fsp.writes.find(([at]) => at === EMEMC)![1];
  assert.equal(ememc, AINCR);
  assert.equal(queue.pending(), false);
});

/** Run `fn` once the manual clock reaches `at` ms (checked at every sleep). */
function setTimeoutOnClock(clock: ManualClock, at: number, fn: () => void): void {
  const sleep = clock.sleep.bind(clock);
  let done = false;
  clock.sleep = async (ms: number, signal?: AbortSignal) => {
    await sleep(ms, signal);
    if (!done && clock.now() >= at) {
      done = true;
      fn();
    }
  };
}

Deno.test("receive: no response in 2 s is a timeout on the device's clock", async () => {
  const fsp = new FakeFsp();
  const clock = new ManualClock();
  const queue = new FspQueue({ bar0: fsp, clock }, "gh100");
  await assert.rejects(queue.receive(), HardwareTimeoutError);
  assert.equal(clock.now(), 2000);
});

Deno.test("receive: an abort stops the wait with the signal's reason", async () => {
  const fsp = new FakeFsp();
  const clock = new ManualClock();
  const queue = new FspQueue({ bar0: fsp, clock }, "gh100");
  const controller = new AbortController();
  setTimeoutOnClock(clock, 50, () => controller.abort(new Error("stop here")));
  await assert.rejects(queue.receive({ signal: controller.signal }), /stop here/);
  assert(clock.now() < 2000);
});

Deno.test("receive: pointers that give no sane size fail, and the queue is still emptied", async () => {
  const fsp = new FakeFsp();
  const queue = new FspQueue({ bar0: fsp, clock: new ManualClock() }, "gh100");
  fsp.regs.set(MSGQ_HEAD, 0);
  fsp.regs.set(MSGQ_TAIL, FSP_CHANNEL_SIZE + 64);
  await assert.rejects(
    queue.receive(),
    (e) => e instanceof FspProtocolError && e.field === "msgq" && /1092 bytes/.test(e.message),
  );
  assert.equal(fsp.regs.get(MSGQ_TAIL), 0);
});

Deno.test("receive: a PRI error on MSGQ_TAIL is the GPU that stopped answering", async () => {
  const fsp = new FakeFsp();
  fsp.poisoned = MSGQ_TAIL;
  const queue = new FspQueue({ bar0: fsp, clock: new ManualClock() }, "gh100");
  await assert.rejects(queue.receive(), GpuStoppedAnsweringError);
});
