import assert from "node:assert/strict";
import { GspRmQueues, queueChecksum, SharedArea } from "../sim/gsp_rm/queue.ts";
import { SimGspRmFormatError } from "../sim/gsp_rm/init_args.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import {
  CMDQ,
  FN,
  Host,
  PAGE,
  QUEUE_SLOTS,
  SHARED_PAGES,
  STATQ,
  xorFold,
} from "./_sim_gsp_rm_host.ts";

function linked() {
  const host = new Host();
  const area = SharedArea.map(host.memory, host.pageIova[0], SHARED_PAGES);
  const queues = new GspRmQueues(area, BigInt(CMDQ), BigInt(STATQ));
  queues.link();
  return { host, area, queues };
}

function rpc(fn: number, payloadLength: number): Uint8Array {
  const bytes = new Uint8Array(32 + payloadLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x03000000, true);
  view.setUint32(4, 0x43505256, true);
  view.setUint32(8, bytes.length, true);
  view.setUint32(12, fn, true);
  for (let i = 32; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  return bytes;
}

Deno.test("queueChecksum agrees with an independent u64 XOR fold at every length", () => {
  const bytes = new Uint8Array(256 + 8);
  for (let i = 0; i < 256; i++) bytes[i] = (i * 131 + 17) & 0xff;
  for (let length = 1; length <= 256; length++) {
    const padded = bytes.slice(0, Math.ceil(length / 8) * 8);
    padded.fill(0, length);
    assert.equal(queueChecksum(padded, length), xorFold(bytes, length), `length ${length}`);
  }
});

Deno.test("the shared area is reached through its page table, not its first address", () => {
  const { host, area } = linked();
  host.pages[5][PAGE - 1] = 0xaa;
  host.pages[6][0] = 0xbb;
  assert.deepEqual([...area.read(5 * PAGE + PAGE - 1, 2)], [0xaa, 0xbb]);
  area.write(7 * PAGE + PAGE - 2, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual([...host.pages[7].subarray(PAGE - 2)], [1, 2]);
  assert.deepEqual([...host.pages[8].subarray(0, 2)], [3, 4]);
  assert.equal(area.iovaOf(9 * PAGE + 4), host.pageIova[9] + 4n);
  assert.throws(() => area.read(area.size - 1, 2), RangeError);
});

Deno.test("a page table count that cannot hold its own table is refused", () => {
  const memory = new SystemMemory();
  using _m = memory.map(0x1000n, new Uint8Array(PAGE));
  assert.throws(() => SharedArea.map(memory, 0x1000n, 0), SimGspRmFormatError);
});

Deno.test("queue offsets that do not split the area are refused", () => {
  const { area } = linked();
  assert.throws(() => new GspRmQueues(area, 0x1000n, 0x1000n), SimGspRmFormatError);
  assert.throws(() => new GspRmQueues(area, 0x1800n, 0x41000n), SimGspRmFormatError);
  assert.throws(() => new GspRmQueues(area, 0x1000n, BigInt(area.size)), SimGspRmFormatError);
});

Deno.test("the status queue fills at msgCount − 1 slots and frees as the host reads", () => {
  const { host, queues } = linked();
  for (let i = 0; i < QUEUE_SLOTS - 1; i++) {
    assert(queues.send(rpc(FN.INIT_DONE, 0)), `message ${i}`);
  }
  assert.equal(queues.freeSlots(), 0);
  assert.equal(queues.send(rpc(FN.INIT_DONE, 0)), false);
  const messages = host.receiveAll();
  assert.equal(messages.length, QUEUE_SLOTS - 1);
  assert.deepEqual(messages.map((m) => m.seqNum), [...Array(QUEUE_SLOTS - 1).keys()]);
  assert(messages.every((m) => m.checksumOk));
  assert.equal(queues.freeSlots(), QUEUE_SLOTS - 1);
  // A two-slot message wraps around the ring's end.
  assert(queues.send(rpc(FN.GET_GSP_STATIC_INFO, 5000)));
  const [big] = host.receiveAll();
  assert.equal(big.elemCount, 2);
  assert(big.checksumOk);
  assert.equal(big.payload.length, 5000);
  assert.equal(big.payload[4999], ((32 + 4999) * 7) & 0xff);
});

Deno.test("pointers out of range read as no data and no space, as msgq does", () => {
  const { host, queues } = linked();
  host.setU32(CMDQ + 0x10, QUEUE_SLOTS);
  assert.equal(queues.available(), 0);
  assert.deepEqual(queues.receive(), { kind: "empty", skipped: 0 });
  host.setU32(CMDQ + 0x20, QUEUE_SLOTS + 3);
  assert.equal(queues.freeSlots(), 0);
});

Deno.test("each msgqRxLink check is applied to the host's header", () => {
  const cases: [Record<string, number>, RegExp][] = [
    [{ entryOff: 0x40000 }, /entryOff.*-6/],
    [{ size: 0x41000 }, /size.*-7/],
    [{ msgSize: 0x2000 }, /msgSize.*-8/],
    [{ version: 2 }, /version.*-9/],
    [{ rxHdrOff: 0x10 }, /rxHdrOff.*-10/],
    [{ entryOff: 0x20 }, /entryOff.*-10/],
    [{ msgCount: 62 }, /msgCount.*-10/],
  ];
  for (const [header, message] of cases) {
    const host = new Host({ cmdHeader: header });
    const area = SharedArea.map(host.memory, host.pageIova[0], SHARED_PAGES);
    const queues = new GspRmQueues(area, BigInt(CMDQ), BigInt(STATQ));
    assert.throws(() => queues.link(), message, JSON.stringify(header));
  }
});
