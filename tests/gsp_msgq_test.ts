/**
 * The driver's message queues on their own: element encoding against an
 * independent checksum, round trips, wrap-around at the ring's end,
 * continuation records, the space timeout, and receive-side checks. The
 * GSP-RM model's end of the same queues is exercised in gsp_rpc_test.ts;
 * here its receive code reads what the driver wrote.
 */

import assert from "node:assert/strict";
import { HardwareTimeoutError } from "../errors.ts";
import {
  decodeElement,
  elementSlots,
  encodeElement,
  GspMessageQueues,
  GspReceiveTimeoutError,
  MessageQueueError,
  MSG_QUEUE_ELEMENT,
  queueChecksum,
  splitCommand,
} from "../gsp/msgq.ts";
import { RPC_FUNCTION } from "../gsp/rpc.ts";
import { GSP_PAGE_SIZE, GspSharedMemory, SHARED_MEMORY } from "../gsp/shared_memory.ts";
import { ManualClock } from "../pci/clock.ts";
import { GspRmQueues, SharedArea } from "../sim/gsp_rm/queue.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { FakeBar, SimDma } from "./_gsp_rm_harness.ts";

/** §5.2 read literally: byte i rotated left by 8·(i mod 8) into a u64, XORed; high32 ^ low32. */
function referenceChecksum(bytes: Uint8Array, length: number): number {
  let acc = 0n;
  for (let i = 0; i < length; i++) acc ^= BigInt(bytes[i]) << BigInt(8 * (i % 8));
  return Number((acc >> 32n) ^ (acc & 0xffff_ffffn));
}

function random(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function setUp() {
  const memory = new SystemMemory();
  const dma = new SimDma(memory);
  const shared = GspSharedMemory.allocate(dma);
  const bar = new FakeBar();
  const clock = new ManualClock();
  const queues = new GspMessageQueues(shared, { bar, chip: "tu102", clock });
  return { memory, dma, shared, bar, clock, queues };
}

/** Set GSP-RM's read pointer into the command queue (the status queue's rx header). */
function setGspReadPtr(shared: GspSharedMemory, slot: number) {
  new DataView(shared.buffer.bytes.buffer).setUint32(
    SHARED_MEMORY.statQueueOffset + SHARED_MEMORY.rxHeaderOffset,
    slot,
    true,
  );
}

/** Gather one command-queue element starting at `slot`, wrapping. */
function gather(shared: GspSharedMemory, slot: number): Uint8Array {
  const head = shared.slot("command", slot);
  const count = new DataView(head.buffer, head.byteOffset).getUint32(
    MSG_QUEUE_ELEMENT.elemCount,
    true,
  );
  const out = new Uint8Array(count * GSP_PAGE_SIZE);
  for (let i = 0; i < count; i++) {
    out.set(shared.slot("command", (slot + i) % SHARED_MEMORY.msgCount), i * GSP_PAGE_SIZE);
  }
  return out;
}

Deno.test("the checksum equals the reference's byte-rotation definition", () => {
  for (const length of [1, 7, 8, 9, 80, 4095, 4096, 12_345]) {
    const bytes = random(length + 8, length);
    bytes.fill(0, length); // _checkSum32 reads zero padding past the end
    assert.equal(
      queueChecksum(bytes, length),
      referenceChecksum(bytes, length),
      `length ${length}`,
    );
  }
});

Deno.test("elements round-trip at every size up to one element, checksum folding to 0", () => {
  for (const size of [0, 1, 4016, 4017, 8000, MSG_QUEUE_ELEMENT.rpcSizeMax - 32]) {
    const payload = random(size, size + 1);
    const element = encodeElement(41, RPC_FUNCTION.SET_REGISTRY, payload);
    const msgLen = 48 + 32 + size;
    assert.equal(element.length / GSP_PAGE_SIZE, Math.ceil(msgLen / GSP_PAGE_SIZE));
    assert.equal(elementSlots(32 + size), element.length / GSP_PAGE_SIZE);
    assert.equal(referenceChecksum(element, msgLen), 0);
    const message = decodeElement(element, { queue: "command", slot: 0 });
    assert.equal(message.seqNum, 41);
    assert.equal(message.function, RPC_FUNCTION.SET_REGISTRY);
    assert.equal(message.header.length, 32 + size);
    assert.deepEqual(message.payload, payload);
  }
  assert.throws(
    () => encodeElement(0, 73, new Uint8Array(MSG_QUEUE_ELEMENT.rpcSizeMax - 31)),
    RangeError,
  );
});

Deno.test("a flipped byte, a bad length or count is a MessageQueueError naming the field", () => {
  const element = encodeElement(5, RPC_FUNCTION.GET_GSP_STATIC_INFO, random(300, 3));
  const where = { queue: "status" as const, slot: 9 };
  const cases: [number, number, string][] = [
    [48 + 32 + 17, 0x01, "checkSum"], // a payload byte
    [MSG_QUEUE_ELEMENT.elemCount, 0, "elemCount"],
    [MSG_QUEUE_ELEMENT.elemCount, 17, "elemCount"],
    [48 + 8 + 1, 0x10, "rpc.length"], // length += 4096: past the element
    [48 + 4, 0, "checkSum"], // signature: caught by the checksum first
  ];
  for (const [offset, value, field] of cases) {
    const bad = element.slice();
    if (offset === MSG_QUEUE_ELEMENT.elemCount) {
      new DataView(bad.buffer).setUint32(offset, value, true);
    } else bad[offset] ^= value || 0xff;
    assert.throws(() => decodeElement(bad, where), (error) => {
      assert(error instanceof MessageQueueError);
      assert.equal(error.field, field, `offset ${offset}`);
      assert.equal(error.slot, 9);
      assert.equal(error.queue, "status");
      assert.equal(error.seqNum, 5);
      return true;
    });
  }
});

Deno.test("send: slots, write pointer, and one doorbell per message", async () => {
  const { shared, bar, queues } = setUp();
  using _shared = shared;
  await queues.send(RPC_FUNCTION.GSP_SET_SYSTEM_INFO, random(928, 1));
  await queues.send(RPC_FUNCTION.SET_REGISTRY, random(5000, 2));
  assert.equal(shared.cpuWritePtr, 1 + 2);
  assert.deepEqual(bar.writes, [[0x110c00, 0], [0x110c00, 0]]);
  const second = decodeElement(gather(shared, 1), { queue: "command", slot: 1 });
  assert.equal(second.seqNum, 1);
  assert.deepEqual(second.payload, random(5000, 2));
});

Deno.test("a message wraps from the last slot to slot 0", async () => {
  const { shared, queues } = setUp();
  using _shared = shared;
  shared.cpuWritePtr = 61;
  setGspReadPtr(shared, 61); // GSP-RM has consumed everything up to 61
  const payload = random(3 * 4096 - 200, 7);
  await queues.send(RPC_FUNCTION.SET_REGISTRY, payload);
  assert.equal(shared.cpuWritePtr, 1); // 61, 62, 0
  const message = decodeElement(gather(shared, 61), { queue: "command", slot: 61 });
  assert.equal(message.elemCount, 3);
  assert.deepEqual(message.payload, payload);
});

Deno.test("a command larger than one element goes out as continuation records", async () => {
  const { memory, shared, queues } = setUp();
  using _shared = shared;
  const payload = random(150_000, 11);
  const parts = splitCommand(RPC_FUNCTION.SET_REGISTRY, payload);
  assert.deepEqual(parts.map((p) => p.function), [73, 71, 71]);
  assert.deepEqual(parts.map((p) => p.payload.length), [65456, 65456, 19088]);
  await queues.send(RPC_FUNCTION.SET_REGISTRY, payload);
  assert.equal(queues.sent, 3);

  // GSP-RM's own receive code (the simulator's) reads them back.
  const area = SharedArea.map(memory, shared.iova, SHARED_MEMORY.pageTableEntryCount);
  const gsp = new GspRmQueues(
    area,
    BigInt(SHARED_MEMORY.cmdQueueOffset),
    BigInt(SHARED_MEMORY.statQueueOffset),
  );
  gsp.link();
  const received: Uint8Array[] = [];
  const functions: number[] = [];
  for (;;) {
    const result = gsp.receive();
    if (result.kind === "empty") break;
    assert.equal(result.kind, "message", JSON.stringify(result));
    if (result.kind !== "message") break;
    assert.equal(
      result.message.elemCount,
      Math.ceil((48 + 32 + result.message.payload.length) / 4096),
    );
    functions.push(result.message.header.function);
    received.push(result.message.payload);
  }
  assert.deepEqual(functions, [73, 71, 71]);
  const joined = new Uint8Array(received.reduce((n, p) => n + p.length, 0));
  received.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
  assert.deepEqual(joined, payload);
});

Deno.test("a full command queue times out after 1 s of virtual time", async () => {
  const { shared, clock, queues } = setUp();
  using _shared = shared;
  for (let i = 0; i < 62; i++) await queues.send(RPC_FUNCTION.NOP, new Uint8Array(0));
  assert.equal(queues.freeSlots(), 0);
  const e = await queues.send(RPC_FUNCTION.NOP, new Uint8Array(0)).catch((e) => e);
  assert(e instanceof HardwareTimeoutError, String(e));
  assert.equal(e.timeoutMs, 1000);
  assert.equal(clock.now(), 1000);
  assert.equal(shared.cpuWritePtr, 62);
});

Deno.test("receive: wraps, checks the sequence number, leaves a bad element in place", async () => {
  const { shared, clock, queues } = setUp();
  using _shared = shared;
  const status = (slot: number, bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length / 4096; i++) {
      shared.slot("status", (slot + i) % 63).set(bytes.subarray(i * 4096, (i + 1) * 4096));
    }
  };
  const setWrite = (slot: number) =>
    new DataView(shared.buffer.bytes.buffer).setUint32(
      SHARED_MEMORY.statQueueOffset + 16,
      slot,
      true,
    );
  // The status queue header GSP-RM writes when it links (msgqTxCreate).
  const header = new DataView(shared.buffer.bytes.buffer, SHARED_MEMORY.statQueueOffset, 32);
  [0, 0x40000, 0x1000, 63, 0, 1, 0x20, 0x1000].forEach((v, i) => header.setUint32(4 * i, v, true));
  // GSP-RM's element 0 sits across the ring's end (slots 62, 0).
  shared.cpuReadPtr = 62;
  status(62, encodeElement(0, 0x1001, random(5000, 5)));
  setWrite(1);
  const first = await queues.receive();
  assert.equal(first.name, "GSP_INIT_DONE");
  assert.deepEqual(first.payload, random(5000, 5));
  assert.equal(shared.cpuReadPtr, 1);

  // seqNum 5 where 1 is due.
  status(1, encodeElement(5, 0x1001, new Uint8Array(0)));
  setWrite(2);
  const e = await queues.receive().catch((e) => e);
  assert(e instanceof MessageQueueError);
  assert.equal(e.field, "seqNum");
  assert.equal(shared.cpuReadPtr, 1);

  // Nothing more: a timeout after 5 s naming what was awaited.
  shared.cpuReadPtr = 2;
  const before = clock.now();
  const t = await queues.receive({ awaited: "GSP_INIT_DONE" }).catch((e) => e);
  assert(t instanceof GspReceiveTimeoutError);
  assert.equal(t.awaited, "GSP_INIT_DONE");
  assert.equal(clock.now() - before, 5000);
});

Deno.test("receive refuses a status queue whose header disagrees with the layout", async () => {
  const { shared, queues } = setUp();
  using _shared = shared;
  const header = new DataView(shared.buffer.bytes.buffer, SHARED_MEMORY.statQueueOffset, 32);
  [0, 0x40000, 0x1000, 64, 1, 1, 0x20, 0x1000].forEach((v, i) => header.setUint32(4 * i, v, true));
  shared.slot("status", 0).set(encodeElement(0, 0x1001, new Uint8Array(0)));
  const e = await queues.receive().catch((e) => e);
  assert(e instanceof MessageQueueError, String(e));
  assert.equal(e.field, "msgqTxHeader.msgCount");
  assert.match(e.message, /GSP-RM wrote 64/);
});
