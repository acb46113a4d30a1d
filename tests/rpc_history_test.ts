// The RPC history (gsp/rpc_history.ts) as the message queues keep it: against the GSP-RM model
// it records every message each way with its queue sequence number, length, result and time on
// the device's clock, completes a command's record with its reply, keeps only the last N; every
// RPC timeout (a reply, an event, room in the command queue) names the pending RPC and the last
// ones in its message and carries the whole history; a boot that times out says it too.

import assert from "node:assert/strict";
import { HardwareTimeoutError } from "../errors.ts";
import { bootGsp, GspBootError } from "../gsp/mod.ts";
import { waitInitDone } from "../gsp/init_done.ts";
import { GspBootArgs } from "../gsp/libos_args.ts";
import { GspMessageQueues, GspReceiveTimeoutError, GspSendTimeoutError } from "../gsp/msgq.ts";
import { sendRegistry } from "../gsp/registry.ts";
import { RPC_EVENT, RPC_FUNCTION, RPC_HEADER, RPC_RESULT } from "../gsp/rpc.ts";
import {
  formatRpcHistory,
  RPC_HISTORY_CAPACITY,
  RpcHistory,
  summarizeRpcHistory,
} from "../gsp/rpc_history.ts";
import { receiveAndRunSequencer } from "../gsp/sequencer.ts";
import { GspSharedMemory } from "../gsp/shared_memory.ts";
import { getGspStaticInfo } from "../gsp/static_info.ts";
import { type GspSystemInfoInit, sendSystemInfo } from "../gsp/system_info.ts";
import { ManualClock } from "../pci/clock.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";
import { CHIP, FakeBar, GspRmHarness, type HarnessOptions, SimDma } from "./_gsp_rm_harness.ts";

const SYSTEM: GspSystemInfoInit = {
  chip: CHIP,
  bar0: 0xd000_0000n,
  bar1: 0xe000_0000n,
  bar3: 0xf000_0000n,
  bdf: "0000:01:00.0",
  vendor: 0x10de,
  device: 0x1e07,
  subsystemVendor: 0x10de,
  subsystemDevice: 0x12a4,
  revision: 0xa1,
};

function setUp(options: HarnessOptions & { historyCapacity?: number } = {}) {
  const h = new GspRmHarness(options);
  const args = GspBootArgs.allocate(h.dma, "tu10x");
  h.start(args.address);
  const queues = new GspMessageQueues(args.sharedMemory, {
    bar: h.bar,
    chip: CHIP,
    clock: h.clock,
    historyCapacity: options.historyCapacity,
  });
  const sequencer = {
    bar: h.bar,
    clock: h.clock,
    chip: CHIP,
    falcon: h.falcon,
    libosArgsAddress: args.address,
  };
  return { h, args, queues, sequencer };
}

async function bootToInitDone(s: ReturnType<typeof setUp>): Promise<void> {
  await sendSystemInfo(s.queues, SYSTEM);
  await sendRegistry(s.queues);
  await receiveAndRunSequencer(s.queues, s.sequencer);
  await waitInitDone(s.queues);
}

Deno.test("rpc history: a boot against the GSP-RM model, every message each way, replies completing their commands", async () => {
  const s = setUp();
  using _args = s.args;
  await bootToInitDone(s);
  const before = s.h.clock.now();
  await getGspStaticInfo(s.queues);
  const history = s.queues.history.snapshot();

  assert.deepEqual(history.sent.map((r) => [r.name, r.sequence]), [
    ["GSP_SET_SYSTEM_INFO", 0],
    ["SET_REGISTRY", 1],
    ["GET_GSP_STATIC_INFO", 2],
  ]);
  assert.deepEqual(history.received.map((r) => [r.name, r.sequence]), [
    ["GSP_RUN_CPU_SEQUENCER", 0],
    ["GSP_INIT_DONE", 1],
    ["GET_GSP_STATIC_INFO", 2],
  ]);
  assert.equal(history.sentTotal, s.queues.sent);
  assert.equal(history.receivedTotal, s.queues.received);
  assert.equal(history.pending, undefined);
  // Lengths are rpc.length: the 32-byte header plus the payload.
  for (const r of [...history.sent, ...history.received]) assert(r.length >= RPC_HEADER.size);
  // A command without a reply awaited has no result; the one that got its reply has it.
  const [systemInfo, , staticInfo] = history.sent;
  assert.equal(systemInfo.result, undefined);
  assert.equal(staticInfo.result, RPC_RESULT.SUCCESS.code);
  assert.equal(staticInfo.resultName, "SUCCESS");
  assert(staticInfo.at >= before && staticInfo.repliedAt! >= staticInfo.at);
  assert.equal(staticInfo.repliedAt, history.received.at(-1)!.at);
  // Times come from the device's clock and never go back.
  const times = [...history.sent, ...history.received].map((r) => r.at);
  assert(times.every((t) => t >= 0 && t <= s.h.clock.now()));
  assert.deepEqual(
    history.received.map((r) => r.at),
    [...history.received.map((r) => r.at)].sort((a, b) => a - b),
  );
  const table = formatRpcHistory(history);
  assert.match(table, /^nothing pending\n3 sent, 3 received\n/);
  assert.match(table, /received seq 2 +GET_GSP_STATIC_INFO \(65\) +\d+ bytes {2}SUCCESS/);
  assert.match(table, /sent +seq 2 +GET_GSP_STATIC_INFO \(65\) +\d+ bytes {2}SUCCESS, replied at/);
});

Deno.test("rpc history: only the last N of each direction are kept, the totals count all", async () => {
  const s = setUp({ historyCapacity: 4 });
  using _args = s.args;
  await bootToInitDone(s);
  for (let i = 0; i < 5; i++) await getGspStaticInfo(s.queues);
  const history = s.queues.history.snapshot();
  assert.equal(history.capacity, 4);
  assert.equal(history.sentTotal, 2 + 5);
  assert.equal(history.receivedTotal, 2 + 5);
  assert.deepEqual(history.sent.map((r) => r.sequence), [3, 4, 5, 6]);
  assert.deepEqual(history.received.map((r) => r.sequence), [3, 4, 5, 6]);
  assert(history.sent.every((r) => r.name === "GET_GSP_STATIC_INFO" && r.result === 0));
  assert.match(formatRpcHistory(history), /7 sent, 7 received \(the last 4 of each kept\)/);
  assert.equal(new RpcHistory({ clock: s.h.clock }).capacity, RPC_HISTORY_CAPACITY);
  assert.throws(() => new RpcHistory({ clock: s.h.clock, capacity: 0 }), RangeError);
});

Deno.test("rpc history: an event that never comes times out naming it as pending, with what came before", async () => {
  const s = setUp({ faults: ["gsp-rm-no-init-done"] });
  using _args = s.args;
  const e = await bootToInitDone(s).catch((e) => e);
  assert(e instanceof GspReceiveTimeoutError, String(e));
  assert.match(
    e.message,
    /waiting for GSP_INIT_DONE .*; RPC history: pending GSP_INIT_DONE \(4097\) \(event\) since [\d.]+ ms, waited 5000\.000 ms; last sent: SET_REGISTRY#1@[\d.]+, GSP_SET_SYSTEM_INFO#0@[\d.]+; last received: GSP_RUN_CPU_SEQUENCER#0@[\d.]+ SUCCESS$/,
  );
  const history = e.rpcHistory!;
  assert.equal(history.pending?.kind, "event");
  assert.equal(history.pending?.function, RPC_EVENT.GSP_INIT_DONE);
  assert.equal(history.pending?.waitedMs, 5000);
  assert.equal(history.sent.length, 2);
  // A failed wait stays pending: its answer never came (a crash bundle captured now shows it).
  assert.equal(s.queues.history.pending?.name, "GSP_INIT_DONE");
});

Deno.test("rpc history: a command whose reply never comes times out naming it, its sequence number and the wait", async () => {
  const dma = new SimDma(new SystemMemory());
  using shared = GspSharedMemory.allocate(dma);
  const clock = new ManualClock();
  const queues = new GspMessageQueues(shared, { bar: new FakeBar(), chip: CHIP, clock });
  await queues.send(RPC_FUNCTION.GSP_SET_SYSTEM_INFO, new Uint8Array(16));
  await clock.sleep(3);
  await queues.send(RPC_FUNCTION.SET_REGISTRY, new Uint8Array(8));
  await clock.sleep(4);
  // Nobody answers: a GSP that hung.
  const e = await queues.call(RPC_FUNCTION.GET_GSP_STATIC_INFO, new Uint8Array(0), {
    timeoutMs: 250,
  }).catch((e) => e);
  assert(e instanceof GspReceiveTimeoutError, String(e));
  assert.equal(e.timeoutMs, 250);
  assert.match(
    e.message,
    /RPC history: pending GET_GSP_STATIC_INFO \(65\) seq 2 \(reply\) since 7\.000 ms, waited 250\.000 ms; last sent: GET_GSP_STATIC_INFO#2@7\.000, SET_REGISTRY#1@3\.000, GSP_SET_SYSTEM_INFO#0@0\.000; nothing received$/,
  );
  assert.deepEqual(e.rpcHistory?.pending, {
    kind: "reply",
    function: RPC_FUNCTION.GET_GSP_STATIC_INFO,
    name: "GET_GSP_STATIC_INFO",
    sequence: 2,
    since: 7,
    waitedMs: 250,
  });
  assert.equal(e.rpcHistory?.sent.at(-1)?.result, undefined, "no reply, no result");
  assert.equal(e.rpcHistory?.sent.at(-1)?.length, RPC_HEADER.size);
});

Deno.test("rpc history: a command queue GSP-RM stopped reading times out with the history", async () => {
  const dma = new SimDma(new SystemMemory());
  using shared = GspSharedMemory.allocate(dma);
  const clock = new ManualClock();
  const queues = new GspMessageQueues(shared, { bar: new FakeBar(), chip: CHIP, clock });
  for (let i = 0; i < 62; i++) await queues.send(RPC_FUNCTION.NOP, new Uint8Array(0));
  const e = await queues.send(RPC_FUNCTION.SET_REGISTRY, new Uint8Array(0)).catch((e) => e);
  assert(e instanceof GspSendTimeoutError && e instanceof HardwareTimeoutError, String(e));
  assert.match(e.message, /free slots \(SET_REGISTRY needs 1\)/);
  assert.match(
    e.message,
    /RPC history: nothing pending; last sent: NOP#61@0\.000, NOP#60@0\.000, NOP#59@0\.000; nothing received$/,
  );
  assert.equal(e.rpcHistory.sentTotal, 62);
  assert.equal(e.rpcHistory.sent.length, RPC_HISTORY_CAPACITY);
});

Deno.test("rpc history: a boot whose GSP-RM never sends INIT_DONE fails naming the pending event and the RPCs before it", async () => {
  const root = await forgedFirmwareRoot("tu102");
  await using gpu = await gpuFor("tu102", root);
  gpu.faults.arm("gsp-rm-no-init-done");
  const e = await bootGsp(gpu, { firmwareDir: root }).then(
    () => assert.fail("booted"),
    (e) => e,
  );
  assert(e instanceof GspBootError, String(e));
  assert.equal(e.step, "init-done");
  assert.match(
    e.message,
    /^init-done: timed out .*; RPC history: pending GSP_INIT_DONE \(4097\) \(event\) .*last sent: SET_REGISTRY#1@.*, GSP_SET_SYSTEM_INFO#0@.*; last received: GSP_RUN_CPU_SEQUENCER#0@/,
  );
  const cause = e.cause;
  assert(cause instanceof GspReceiveTimeoutError);
  assert.equal(cause.rpcHistory?.pending?.name, "GSP_INIT_DONE");
  gpu.faults.disarm("gsp-rm-no-init-done");
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("rpc history: the one-line summary shows the newest first, at most `count` per direction", () => {
  const clock = new ManualClock();
  const history = new RpcHistory({ clock });
  for (let i = 0; i < 5; i++) history.sent({ function: 0, sequence: i, length: 32 });
  history.received({ function: 0x1006, sequence: 0, length: 64, result: 0x40 });
  const line = summarizeRpcHistory(history.snapshot(), 2);
  assert.equal(
    line,
    "nothing pending; last sent: NOP#4@0.000, NOP#3@0.000; last received: OS_ERROR_LOG#0@0.000 " +
      "NV_ERR_INVALID_STATE",
  );
});
