/**
 * The driver's RPCs end to end against the simulator's GSP-RM model: the
 * boot order of reference §5.4 (SET_SYSTEM_INFO, SET_REGISTRY, the CPU
 * sequencer, INIT_DONE, GET_GSP_STATIC_INFO) and UNLOADING_GUEST_DRIVER,
 * then the failures: a bad checksum from GSP-RM, no INIT_DONE, an abort,
 * a failed RPC result.
 */

import assert from "node:assert/strict";
import { HardwareTimeoutError } from "../errors.ts";
import { GspBootArgs } from "../gsp/libos_args.ts";
import { GspMessageQueues, GspReceiveTimeoutError, MessageQueueError } from "../gsp/msgq.ts";
import { DEFAULT_REGISTRY, sendRegistry } from "../gsp/registry.ts";
import {
  decodeRpcHeader,
  encodeRpcHeader,
  RPC_EVENT,
  RPC_FUNCTION,
  RPC_RESULT,
  RpcError,
  rpcName,
  rpcResultName,
} from "../gsp/rpc.ts";
import { receiveAndRunSequencer, SequencerError } from "../gsp/sequencer.ts";
import { getGspStaticInfo } from "../gsp/static_info.ts";
import { GSP_SYSTEM_INFO, type GspSystemInfoInit, sendSystemInfo } from "../gsp/system_info.ts";
import { unloadGuestDriver, waitGspSuspended } from "../gsp/unloading_guest_driver.ts";
import { waitInitDone } from "../gsp/init_done.ts";
import { GSP_SYSTEM_INFO as MODEL_SYSTEM_INFO, MBOX0_SUSPENDED } from "../sim/gsp_rm/mod.ts";
import { falconRegisters } from "../registers/bind.ts";
import { CHIP, GspRmHarness, type HarnessOptions, SCRIPT_REGISTERS } from "./_gsp_rm_harness.ts";

const SYSTEM: GspSystemInfoInit = {
  chip: CHIP,
  bar0: 0xf600_0000n,
  bar1: 0xe000_0000n,
  bar3: 0xf000_0000n,
  bdf: "0000:01:00.0",
  vendor: 0x10de,
  device: 0x1e07,
  subsystemVendor: 0x10de,
  subsystemDevice: 0x12a4,
  revision: 0xa1,
};

function setUp(options: HarnessOptions = {}) {
  const h = new GspRmHarness(options);
  const args = GspBootArgs.allocate(h.dma, "tu10x");
  h.start(args.address);
  const queues = new GspMessageQueues(args.sharedMemory, {
    bar: h.bar,
    chip: CHIP,
    clock: h.clock,
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

async function bootToSequencer(
  { h, queues, sequencer }: ReturnType<typeof setUp>,
  signal?: AbortSignal,
) {
  await sendSystemInfo(queues, SYSTEM, { signal });
  await sendRegistry(queues, DEFAULT_REGISTRY, { signal });
  assert.equal(h.gsp.state, "awaiting-resume");
  return await receiveAndRunSequencer(queues, { ...sequencer, signal });
}

Deno.test("boot and unload against the GSP-RM model, in the reference's order", async () => {
  const s = setUp({ unrelatedEvents: true, initDurationNs: 1.2e9 });
  const { h, args, queues } = s;
  using _args = args;
  assert.equal(h.gsp.state, "awaiting-system-info", JSON.stringify(h.gsp.faults));

  const result = await bootToSequencer(s);
  // The model's script saves the GSP mailboxes, which hold the LibOS address.
  assert.deepEqual(result.regSaveArea.slice(0, 2), [...args.mailboxes]);
  assert.equal(result.executed, 10);
  assert.deepEqual(h.falconCalls, [
    "resetGsp",
    "startGsp",
    "waitGspHalted",
    "resetGspIntoRiscv",
    "startSec2",
  ]);
  assert.equal(h.bar.read32(SCRIPT_REGISTERS.handoff.addr), SCRIPT_REGISTERS.handoff.value);

  await waitInitDone(queues);
  // GSP-RM's init takes 1.2 s of modelled time; the wait polled every 1 ms of it.
  assert(h.manual.now() >= 1200, `${h.manual.now()} ms`);
  assert.equal(h.gsp.state, "ready");

  const info = await getGspStaticInfo(queues);
  assert.equal(info.name, "NVIDIA TITAN RTX");
  assert.equal(info.shortName, "TU102");
  assert.equal(info.unicodeName, "NVIDIA TITAN RTX");
  assert.equal(info.fbLength, 24n << 30n);

  await unloadGuestDriver(queues);
  await waitGspSuspended(h.bar, { chip: CHIP, clock: h.clock });
  assert.equal(h.gsp.state, "halted");
  assert(h.halted);
  const mbox0 = falconRegisters(CHIP, "GSP").MAILBOX0.readRaw(h.bar);
  assert.equal((mbox0 & MBOX0_SUSPENDED) >>> 0, MBOX0_SUSPENDED);

  // What GSP-RM received, decoded by its own tables.
  assert.deepEqual(h.gsp.violations, []);
  assert.deepEqual(h.gsp.faults, []);
  assert.deepEqual(
    [...h.gsp.registry],
    DEFAULT_REGISTRY.map((e) => [e.name, e.value]),
  );
  assert.equal(h.gsp.systemInfo?.length, GSP_SYSTEM_INFO.size);
  const sys = new DataView(h.gsp.systemInfo!.buffer, h.gsp.systemInfo!.byteOffset);
  assert.equal(sys.getBigUint64(MODEL_SYSTEM_INFO.gpuPhysAddr, true), SYSTEM.bar0);
  assert.equal(sys.getUint32(MODEL_SYSTEM_INFO.pciDeviceId, true), 0x1e07_10de);
  assert.equal(sys.getUint32(MODEL_SYSTEM_INFO.pciSubDeviceId, true), 0x12a4_10de);
  assert.equal(sys.getUint32(MODEL_SYSTEM_INFO.pciRevisionId, true), 0xa1);
  assert.equal(sys.getBigUint64(MODEL_SYSTEM_INFO.maxUserVa, true), (1n << 47n) - 4096n);
  assert.deepEqual(
    h.gsp.received.map((m) => rpcName(m.header.function)),
    ["GSP_SET_SYSTEM_INFO", "SET_REGISTRY", "GET_GSP_STATIC_INFO", "UNLOADING_GUEST_DRIVER"],
  );
  assert.deepEqual(
    h.gsp.received.map((m) => m.seqNum),
    [0, 1, 2, 3],
  );
  // Two UCODE_LIBOS_PRINT events were consumed and skipped on the way.
  assert.equal(queues.skipped, 2);
  assert.equal(queues.received, h.gsp.sent.length);
  // GSP-RM logged into the driver's buffers.
  assert(args.log("LOGRM")!.put > 0n);
  assert(args.log("LOGINIT")!.put > 0n);
});

Deno.test("a reply with a failed result is an RpcError naming the function and the code", async () => {
  const s = setUp();
  using _args = s.args;
  await sendSystemInfo(s.queues, SYSTEM);
  await sendRegistry(s.queues);
  // GSP-RM is waiting for the sequencer's resume: static info is refused.
  const e = await getGspStaticInfo(s.queues).catch((e) => e);
  assert(e instanceof RpcError);
  assert.equal(e.function, RPC_FUNCTION.GET_GSP_STATIC_INFO);
  assert.equal(e.result, RPC_RESULT.NV_ERR_INVALID_STATE.code);
  assert.equal(e.resultName, "NV_ERR_INVALID_STATE");
  assert.match(e.message, /GET_GSP_STATIC_INFO.*NV_ERR_INVALID_STATE/);
  // The sequencer event that arrived first was consumed and skipped.
  assert.equal(s.queues.skipped, 1);
});

Deno.test("a bad checksum from GSP-RM is a MessageQueueError naming the element", async () => {
  const s = setUp({ faults: ["gsp-rm-bad-checksum"] });
  using _args = s.args;
  const e = await bootToSequencer(s).catch((e) => e);
  assert(e instanceof MessageQueueError, String(e));
  assert.equal(e.queue, "status");
  assert.equal(e.slot, 0);
  assert.equal(e.seqNum, 0);
  assert.equal(e.field, "checkSum");
  assert.equal(e.function, RPC_EVENT.GSP_RUN_CPU_SEQUENCER);
  assert.match(e.message, /status queue element at slot 0 \(seqNum 0, GSP_RUN_CPU_SEQUENCER\)/);
  // The element stays in the queue, as NVIDIA's receive leaves it.
  assert.equal(s.args.sharedMemory.cpuReadPtr, 0);
  assert.equal(s.h.falconCalls.length, 0);
});

Deno.test("no GSP_INIT_DONE: the wait times out after 5 s of virtual time, naming the event", async () => {
  const s = setUp({ faults: ["gsp-rm-no-init-done"] });
  using _args = s.args;
  await bootToSequencer(s);
  const before = s.h.manual.now();
  const e = await waitInitDone(s.queues).catch((e) => e);
  assert(e instanceof GspReceiveTimeoutError, String(e));
  assert.equal(e.awaited, "GSP_INIT_DONE");
  assert.equal(e.timeoutMs, 5000);
  assert.match(e.message, /waiting for GSP_INIT_DONE/);
  assert.equal(s.h.manual.now() - before, 5000);
});

Deno.test("the sequencer's REG_POLL that never matches fails with its error code after 4 s", async () => {
  const s = setUp({ faults: ["gsp-rm-sequencer-poll-timeout"] });
  using _args = s.args;
  const before = s.h.manual.now();
  const e = await bootToSequencer(s).catch((e) => e);
  assert(e instanceof SequencerError, String(e));
  assert.equal(e.opcode, "REG_POLL");
  assert.equal(e.errorCode, 1);
  assert.equal(e.position, 7); // REG_WRITE (3 words) + REG_MODIFY (4 words)
  assert.equal(s.h.manual.now() - before, 4000);
  assert.equal(s.h.resumed, false);
});

Deno.test("an abort stops a wait at once with the signal's reason", async () => {
  const s = setUp({ faults: ["gsp-rm-no-init-done"] });
  using _args = s.args;
  await bootToSequencer(s);
  const controller = new AbortController();
  const reason = new Error("user pressed Ctrl-C");
  const start = s.h.manual.now();
  s.h.onSleep = () => {
    if (s.h.manual.now() - start >= 100) controller.abort(reason);
  };
  await assert.rejects(waitInitDone(s.queues, { signal: controller.signal }), (e) => e === reason);
  const elapsed = s.h.manual.now() - start;
  assert(elapsed >= 100 && elapsed <= 101, `aborted after ${elapsed} ms, not at the next poll`);
  // An already-aborted signal never sends.
  const sent = s.queues.sent;
  await assert.rejects(
    s.queues.send(RPC_FUNCTION.NOP, new Uint8Array(0), { signal: controller.signal }),
    (e) => e === reason,
  );
  assert.equal(s.queues.sent, sent);
});

Deno.test("messages wrap around both rings, multi-slot elements straddling the end", async () => {
  const s = setUp();
  using _args = s.args;
  await bootToSequencer(s);
  await waitInitDone(s.queues);
  // 10 000-byte payloads: 3 slots each way; 40 round trips pass slot 62 twice.
  let straddled = 0;
  for (let i = 0; i < 40; i++) {
    const before = s.args.sharedMemory.cpuWritePtr;
    const payload = new Uint8Array(10_000);
    const reply = await s.queues.call(RPC_FUNCTION.GET_GSP_STATIC_INFO, payload);
    assert.equal(reply.payload.length, 10_000);
    assert.equal(new TextDecoder().decode(reply.payload.subarray(1260, 1276)), "NVIDIA TITAN RTX");
    if (before + 3 > 63) straddled++;
  }
  assert(straddled >= 1, "no element crossed the ring's end");
  assert.deepEqual(s.h.gsp.faults, []);
  assert.deepEqual(s.h.gsp.violations, []);
});

Deno.test("RPC header and name tables", () => {
  const header = decodeRpcHeader(encodeRpcHeader(RPC_FUNCTION.SET_REGISTRY, 100));
  assert.equal(header.headerVersion, 0x0300_0000);
  assert.equal(header.signature, 0x4350_5256);
  assert.equal(header.length, 132);
  assert.equal(header.rpcResult, 0xffff_ffff);
  assert.equal(rpcName(RPC_EVENT.GSP_INIT_DONE), "GSP_INIT_DONE");
  assert.equal(rpcResultName(0xff10_0002), "RPC_INVALID_MESSAGE_FORMAT");
  const codes = Object.values(RPC_RESULT).map((r) => r.code);
  assert.equal(new Set(codes).size, codes.length, "result codes are unique");
});

Deno.test("an unload GSP-RM never acknowledges times out after 5 s naming MAILBOX0", async () => {
  const s = setUp({ faults: ["gsp-rm-unload-never-suspends"] });
  using _args = s.args;
  await bootToSequencer(s);
  await waitInitDone(s.queues);
  await unloadGuestDriver(s.queues);
  const before = s.h.manual.now();
  const e = await waitGspSuspended(s.h.bar, { chip: CHIP, clock: s.h.clock }).catch((e) => e);
  assert(e instanceof HardwareTimeoutError, String(e));
  assert.match(e.register, /MAILBOX0/);
  assert.equal(s.h.manual.now() - before, 5000);
});
