import assert from "node:assert/strict";
import { GspRm, type GspRmOptions } from "../sim/gsp_rm/gsp_rm.ts";
import { GSP_RM_LOG_FORMATS } from "../sim/gsp_rm/logs.ts";
import {
  CMDQ,
  decodeLog,
  decodeSequencer,
  FN,
  Host,
  type HostOptions,
  PAGE,
  QUEUE_SLOTS,
  registryPayload,
  STATQ,
  systemInfoPayload,
  unloadPayload,
} from "./_sim_gsp_rm_host.ts";

// GSP falcon registers from the reference §3.6 (PFALCON base 0x110000).
const SEQUENCER_REGISTERS = {
  handoff: { addr: 0x110080, value: 0x5a5a0001 },
  modify: { addr: 0x110624, mask: 0x80, value: 0x80 },
  mailbox0: 0x110040,
  mailbox1: 0x110044,
};

const BOARD = { boardName: "NVIDIA GeForce RTX 2080 Ti", chip: "TU102", fbSize: 11n << 30n };

function boot(hostOptions: HostOptions = {}, options: Partial<GspRmOptions> = {}) {
  const host = new Host(hostOptions);
  const gsp = new GspRm({
    dma: host.memory,
    effects: host.chip,
    board: BOARD,
    sequencer: SEQUENCER_REGISTERS,
    ...options,
  });
  gsp.start();
  return { host, gsp };
}

function initialise(host: Host, gsp: GspRm) {
  host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload());
  host.send(
    FN.SET_REGISTRY,
    registryPayload([["RMSecBusResetEnable", 1], ["RMForcePcieConfigSave", 1], [
      "RMDevidCheckIgnore",
      1,
    ]]),
  );
  gsp.poll();
}

Deno.test("start writes the status queue header and links the command queue", () => {
  const { host, gsp } = boot();
  assert.equal(gsp.state, "awaiting-system-info");
  // msgqTxHeader as msgqTxCreate writes it: version 0, 0x40000 bytes, 4 KiB slots, 63 of them,
  // writePtr 0, SWAP_RX, rx header at 0x20, slots at 0x1000.
  assert.deepEqual(host.statusHeader(), [0, 0x40000, 0x1000, 63, 0, 1, 0x20, 0x1000]);
  assert.equal(gsp.rmArgs?.pageTableEntryCount, 0x81);
  assert.deepEqual(gsp.regions.map((r) => r.name), ["LOGINIT", "LOGINTR", "LOGRM", "RMARGS"]);
  assert.deepEqual(gsp.faults, []);
});

Deno.test("boot on the SEC2 path: system info, registry, sequencer, resume, INIT_DONE, static info, unload", () => {
  const { host, gsp } = boot();
  initialise(host, gsp);
  assert.equal(gsp.state, "awaiting-resume");
  assert.equal(host.gspReadPtr(), 2, "two one-slot commands consumed");
  assert.equal(gsp.registry.get("RMDevidCheckIgnore"), 1);
  assert.equal(gsp.registry.size, 3);

  const [sequencer, ...rest] = host.receiveAll();
  assert.deepEqual(rest, []);
  assert.equal(sequencer.function, FN.RUN_CPU_SEQUENCER);
  assert(sequencer.checksumOk);
  assert.equal(sequencer.seqNum, 0);
  assert.equal(sequencer.headerVersion, 0x03000000);
  assert.equal(sequencer.signature, 0x43505256);
  const script = decodeSequencer(sequencer.payload);
  assert(script.cmdIndex < script.bufferSizeDWord);
  assert.equal(script.endPosition, script.cmdIndex, "cmdIndex is the end position in words");
  assert.deepEqual(
    [...new Set(script.commands.map((c) => c.opcode))].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.equal(script.commands.at(-1)?.opcode, 8, "CORE_RESUME comes last");
  const write = script.commands.find((c) => c.opcode === 0)!;
  const poll = script.commands.find((c) => c.opcode === 2)!;
  assert.deepEqual(write.args, [0x110080, 0x5a5a0001]);
  assert.deepEqual(poll.args.slice(0, 3), [0x110080, 0xffffffff, 0x5a5a0001], "satisfiable poll");
  const stores = script.commands.filter((c) => c.opcode === 4).map((c) => c.args);
  assert.deepEqual(stores, [[0x110040, 0], [0x110044, 1]]);

  // No INIT_DONE until the chip reports the CORE_RESUME handshake.
  gsp.poll();
  gsp.poll();
  assert.deepEqual(host.receiveAll(), []);
  host.chip.resumed = true;
  gsp.poll();
  const [initDone] = host.receiveAll();
  assert.equal(initDone.function, FN.INIT_DONE);
  assert.equal(initDone.result, 0);
  assert.equal(initDone.seqNum, 1);
  assert.equal(gsp.state, "ready");

  const request = new Uint8Array(1656);
  host.send(FN.GET_GSP_STATIC_INFO, request);
  gsp.poll();
  const [info] = host.receiveAll();
  assert.equal(info.function, FN.GET_GSP_STATIC_INFO);
  assert.equal(info.result, 0);
  assert.equal(info.payload.length, 1656);
  const name = new TextDecoder().decode(info.payload.subarray(1260, 1260 + 26));
  assert.equal(name, BOARD.boardName);
  assert.equal(info.payload[1260 + 26], 0);
  assert.equal(new TextDecoder().decode(info.payload.subarray(1324, 1329)), "TU102");
  assert.equal(
    new DataView(info.payload.buffer, info.payload.byteOffset).getBigUint64(1224, true),
    11n << 30n,
  );

  host.send(FN.UNLOADING_GUEST_DRIVER, unloadPayload(0));
  gsp.poll();
  const [unload] = host.receiveAll();
  assert.equal(unload.function, FN.UNLOADING_GUEST_DRIVER);
  assert.equal(unload.result, 0);
  // Exactly the suspended value: NVIDIA's _kgspIsProcessorSuspended compares for equality.
  assert.equal(host.chip.mailbox[0], 0x8000_0000, "MBOX0 = LIBOS_INTERRUPT_PROCESSOR_SUSPENDED");
  assert(host.chip.halted);
  assert.equal(gsp.state, "halted");
  assert.deepEqual(gsp.violations, []);
  assert.deepEqual(gsp.faults, []);

  // A halted GSP serves nothing.
  host.send(FN.GET_GSP_STATIC_INFO, request);
  gsp.poll();
  assert.deepEqual(host.receiveAll(), []);
});

Deno.test("the FSP path (no sequencer) sends INIT_DONE right after SET_REGISTRY", () => {
  const { host, gsp } = boot({}, { sequencer: undefined });
  initialise(host, gsp);
  const messages = host.receiveAll();
  assert.deepEqual(messages.map((m) => m.function), [FN.INIT_DONE]);
  assert.equal(gsp.state, "ready");
});

Deno.test("regions are found by id, whatever their position, with LOGMNOC and LOGKRNL present", () => {
  const { host, gsp } = boot({
    regions: ["RMARGS", "LOGKRNL", "LOGRM", "LOGMNOC", "LOGINTR", "LOGINIT"],
  });
  assert.equal(gsp.state, "awaiting-system-info");
  initialise(host, gsp);
  assert.equal(host.receiveAll()[0].function, FN.RUN_CPU_SEQUENCER);
});

Deno.test("ring pointers wrap page by page in both queues, multi-slot elements included", () => {
  const { host, gsp } = boot({}, { sequencer: undefined });
  initialise(host, gsp);
  host.receiveAll();
  const request = new Uint8Array(1656);
  for (let round = 0; round < 2 * QUEUE_SLOTS + 5; round++) {
    if (round % 10 === 3) {
      // A two-slot command (80 + 6000 bytes), which straddles the ring's end on some rounds.
      host.send(FN.SET_REGISTRY, registryPayload([["RMPadding", round]], 6000));
    }
    host.send(FN.GET_GSP_STATIC_INFO, request);
    gsp.poll();
    const replies = host.receiveAll();
    assert.equal(replies.length, 1, `round ${round}`);
    assert(replies[0].checksumOk);
    assert.equal(replies[0].result, 0);
  }
  assert.equal(host.gspReadPtr(), host.writePtr);
  assert.equal(host.u32(STATQ + 0x10), host.readPtr);
  // SET_REGISTRY after init is out of order, recorded each time, and consumed.
  assert(gsp.violations.every((v) => v.what === "out-of-order" && v.function === FN.SET_REGISTRY));
  assert.equal(gsp.violations.length, 13);
  assert.deepEqual(gsp.faults, []);
});

Deno.test("LibOS logs: put pointers and records a decoder can walk backwards", () => {
  const { host, gsp } = boot();
  initialise(host, gsp);
  host.chip.resumed = true;
  gsp.poll();
  const init = decodeLog(host.logs.get("LOGINIT")!.bytes, GSP_RM_LOG_FORMATS);
  assert.deepEqual(init.map((r) => r.name), ["libosStart", "rmArgs", "queuesLinked"]);
  assert.equal(init[0].args[0], host.libosArgsIova);
  assert.equal(init[1].args[1], host.pageIova[0]);
  assert(init[1].timestamp < init[2].timestamp);
  const rm = decodeLog(host.logs.get("LOGRM")!.bytes, GSP_RM_LOG_FORMATS);
  assert.deepEqual(rm.map((r) => r.name), [
    "rpcReceived",
    "rpcReceived",
    "rpcSent",
    "sequencerSent",
    "resumed",
    "rpcSent",
    "initDone",
  ]);
  assert.deepEqual(rm[0].args, [72n, 0n, 32n + 920n]);
  assert.equal(rm[5].args[0], 0x1001n);
  const intr = decodeLog(host.logs.get("LOGINTR")!.bytes, GSP_RM_LOG_FORMATS);
  assert.deepEqual(intr.map((r) => r.args), [[2n]]);
  // The records overwrote the page table after LibOS read it (u64[1] onwards).
  const logView = new DataView(host.logs.get("LOGRM")!.bytes.buffer);
  assert.equal(logView.getBigUint64(8, true), 72n);
});

Deno.test("wrong order: SET_REGISTRY first is recorded, ignored, and boot waits for the right one", () => {
  const { host, gsp } = boot();
  host.send(FN.SET_REGISTRY, registryPayload([["RMSecBusResetEnable", 1]]));
  host.send(FN.GET_GSP_STATIC_INFO, new Uint8Array(1656));
  gsp.poll();
  assert.equal(gsp.state, "awaiting-system-info");
  assert.deepEqual(gsp.violations.map((v) => [v.what, v.function]), [
    ["out-of-order", FN.SET_REGISTRY],
    ["out-of-order", FN.GET_GSP_STATIC_INFO],
  ]);
  const replies = host.receiveAll();
  assert.deepEqual(replies.map((m) => [m.function, m.result]), [[FN.GET_GSP_STATIC_INFO, 0x40]]);
  initialise(host, gsp);
  assert.equal(gsp.state, "awaiting-resume");
  assert.equal(host.receiveAll()[0].function, FN.RUN_CPU_SEQUENCER);
});

Deno.test("a short GspSystemInfo and an unmodelled function are recorded", () => {
  const { host, gsp } = boot();
  host.send(FN.GSP_SET_SYSTEM_INFO, new Uint8Array(100));
  gsp.poll();
  assert.equal(gsp.violations[0].what, "short-payload");
  assert.equal(gsp.state, "awaiting-registry");
  host.send(FN.GSP_RM_CONTROL, new Uint8Array(16));
  gsp.poll();
  assert.equal(gsp.violations[1].what, "unmodelled-function");
  assert.deepEqual(host.receiveAll().map((m) => m.result), [0xff100001]);
});

Deno.test("bad checksum from the host: the element stays, the queue stops, no reply", () => {
  const { host, gsp } = boot();
  host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload(), (view) => {
    view.setUint32(0x20, view.getUint32(0x20, true) ^ 1, true);
  });
  host.send(FN.SET_REGISTRY, registryPayload([["RMSecBusResetEnable", 1]]));
  gsp.poll();
  assert.equal(gsp.state, "queue-stopped");
  assert.equal(gsp.faults[0].what, "queue-corrupted");
  assert.match(gsp.faults[0].detail, /^checksum/);
  assert.equal(host.gspReadPtr(), 0, "nothing consumed");
  assert.deepEqual(host.receiveAll(), []);
  assert.equal(gsp.systemInfo, undefined);
  // Later polls do nothing: the firmware stopped serving.
  gsp.poll();
  assert.equal(gsp.faults.length, 1);
  const rm = decodeLog(host.logs.get("LOGRM")!.bytes, GSP_RM_LOG_FORMATS);
  assert.deepEqual(rm.map((r) => r.name), ["queueCorrupted"]);
  assert.deepEqual(rm[0].args, [1n, 0n]);
  assert(!host.chip.halted);
});

Deno.test("a payload byte changed after the checksum is caught too", () => {
  const { host, gsp } = boot();
  host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload(), (_view, bytes) => {
    bytes[80 + 500] ^= 0x40;
  });
  gsp.poll();
  assert.equal(gsp.state, "queue-stopped");
  assert.match(gsp.faults[0].detail, /^checksum/);
});

Deno.test("malformed elements: each is refused the way the firmware's receive refuses it", () => {
  const cases: {
    name: string;
    send: (host: Host) => void;
    reason: RegExp;
  }[] = [
    {
      name: "elemCount beyond the slots written",
      send: (host) => {
        const bytes = host.element(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload(), (view) => {
          view.setUint32(0x28, 3, true);
          view.setUint32(0x20, 0, true);
          view.setUint32(0x20, fold(view), true);
        });
        host.sendRaw(bytes, 1);
      },
      reason: /^incomplete/,
    },
    {
      name: "rpc.length beyond the element and the ring's largest message",
      send: (host) =>
        host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload(), (view) => {
          view.setUint32(0x38, 0x20000, true);
        }),
      reason: /^checksum: rpc\.length/,
    },
    {
      name: "rpc.length below the RPC header, checksum right",
      send: (host) =>
        host.send(FN.GSP_SET_SYSTEM_INFO, new Uint8Array(0), (view) => {
          view.setUint32(0x38, 8, true);
          view.setUint32(0x20, 0, true);
          view.setUint32(0x20, foldLength(view, 48 + 8), true);
        }),
      reason: /^length/,
    },
    {
      name: "a sequence number from the future",
      send: (host) => {
        host.seq = 5;
        host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload());
      },
      reason: /^sequence: seqNum 5, expected 0/,
    },
  ];
  for (const c of cases) {
    const { host, gsp } = boot();
    c.send(host);
    gsp.poll();
    assert.equal(gsp.state, "queue-stopped", c.name);
    assert.equal(gsp.faults.length, 1, c.name);
    assert.match(gsp.faults[0].detail, c.reason, c.name);
    assert.equal(host.gspReadPtr(), 0, c.name);
    assert.deepEqual(host.receiveAll(), [], c.name);
  }
});

Deno.test("a stale sequence number is consumed and skipped, the next element served", () => {
  const { host, gsp } = boot();
  host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload());
  gsp.poll();
  host.seq = 0; // replay an old element
  host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload());
  host.seq = 1;
  host.send(FN.SET_REGISTRY, registryPayload([["RMSecBusResetEnable", 1]]));
  gsp.poll();
  assert.equal(gsp.state, "awaiting-resume");
  assert.deepEqual(gsp.faults, []);
  const rm = decodeLog(host.logs.get("LOGRM")!.bytes, GSP_RM_LOG_FORMATS);
  assert(rm.some((r) => r.name === "staleSkipped" && r.args[0] === 1n));
});

Deno.test("a bad RPC header version or signature gets RPC_INVALID_MESSAGE_FORMAT", () => {
  for (const [field, value] of [[0x30, 0x02000000], [0x34, 0x12345678]]) {
    const { host, gsp } = boot();
    host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload(), (view) => {
      view.setUint32(field, value, true);
      view.setUint32(0x20, 0, true);
      view.setUint32(0x20, fold(view), true);
    });
    gsp.poll();
    assert.equal(gsp.state, "awaiting-system-info");
    assert.equal(gsp.violations[0].what, "bad-rpc-header");
    const [reply] = host.receiveAll();
    assert.equal(reply.result, 0xff100002);
    assert.equal(host.gspReadPtr(), 1, "consumed");
  }
});

Deno.test("init failures halt the core and say why", () => {
  const cases: { name: string; options: HostOptions; what: string; field: RegExp }[] = [
    {
      name: "LOGRM missing",
      options: { regions: ["LOGINIT", "LOGINTR", "RMARGS"] },
      what: "libos-args",
      field: /libosArgs\.LOGRM.*missing/,
    },
    {
      name: "RMARGS missing",
      options: { regions: ["LOGINIT", "LOGINTR", "LOGRM"] },
      what: "libos-args",
      field: /libosArgs\.RMARGS/,
    },
    {
      name: "command queue msgCount wrong",
      options: { cmdHeader: { msgCount: 64 } },
      what: "queue-link",
      field: /msgCount.*msgqRxLink -10/,
    },
    {
      name: "command queue size wrong",
      options: { cmdHeader: { size: 0x20000 } },
      what: "queue-link",
      field: /size.*msgqRxLink -7/,
    },
    {
      name: "command queue version wrong",
      options: { cmdHeader: { version: 1 } },
      what: "queue-link",
      field: /version.*msgqRxLink -9/,
    },
  ];
  for (const c of cases) {
    const { host, gsp } = boot(c.options);
    assert.equal(gsp.state, "failed", c.name);
    assert.equal(gsp.faults[0].what, c.what, c.name);
    assert.match(gsp.faults[0].detail, c.field, c.name);
    assert(host.chip.halted, c.name);
  }
  // With LOGINIT available, the panic is in the log.
  const { host } = boot({ cmdHeader: { msgSize: 0x800 } });
  const init = decodeLog(host.logs.get("LOGINIT")!.bytes, GSP_RM_LOG_FORMATS);
  assert.equal(init.at(-1)?.name, "initFailed");
});

Deno.test("a shared-area page that is not mapped is an IOMMU fault", () => {
  const host = new Host();
  // Point the page-table entry of the status queue's header page at nothing.
  const view = new DataView(host.pages[0].buffer);
  view.setBigUint64((STATQ / PAGE) * 8, 0x7_0000_0000n, true);
  const gsp = new GspRm({ dma: host.memory, effects: host.chip, board: BOARD });
  gsp.start();
  assert.equal(gsp.state, "failed");
  assert.equal(gsp.faults[0].what, "dma-fault");
  assert(host.chip.halted);
  assert.equal(host.u32(CMDQ + 0x20), 0);
});

function foldLength(view: DataView, length: number): number {
  let lo = 0;
  let hi = 0;
  for (let at = 0; at < length; at += 8) {
    lo ^= view.getUint32(at, true);
    hi ^= view.getUint32(at + 4, true);
  }
  return (lo ^ hi) >>> 0;
}

function fold(view: DataView): number {
  return foldLength(view, 48 + view.getUint32(0x38, true));
}

Deno.test("a full status queue holds replies until the host reads, in order", () => {
  const { host, gsp } = boot({}, { sequencer: undefined });
  initialise(host, gsp);
  for (let i = 0; i < QUEUE_SLOTS - 1; i++) host.send(FN.GET_GSP_STATIC_INFO, new Uint8Array(1656));
  gsp.poll();
  assert.equal(gsp.faults.map((f) => f.what).join(), "status-queue-full");
  const first = host.receiveAll();
  assert.equal(first.length, QUEUE_SLOTS - 1, "INIT_DONE and 61 replies fill the ring");
  gsp.poll();
  const rest = host.receiveAll();
  assert.equal(rest.length, 1);
  assert.deepEqual(
    [...first, ...rest].map((m) => m.seqNum),
    [...Array(QUEUE_SLOTS).keys()],
  );
});

Deno.test("GSP_INIT_DONE waits for the modelled init time on the virtual clock", () => {
  const { host, gsp } = boot({}, { initDurationNs: 1.2e9 });
  initialise(host, gsp);
  host.receiveAll();
  host.chip.resumed = true;
  gsp.poll();
  assert.equal(gsp.state, "initialising");
  assert.deepEqual(host.receiveAll(), []);
  host.chip.time += 1.2e9;
  gsp.poll();
  assert.deepEqual(host.receiveAll().map((m) => m.function), [FN.INIT_DONE]);
  assert.equal(gsp.state, "ready");
});

Deno.test("unrelated events come before the sequencer and INIT_DONE when asked for", () => {
  const { host, gsp } = boot({}, { unrelatedEvents: true });
  initialise(host, gsp);
  host.chip.resumed = true;
  gsp.poll();
  const messages = host.receiveAll();
  assert.deepEqual(messages.map((m) => m.function), [
    0x100c,
    FN.RUN_CPU_SEQUENCER,
    0x100c,
    FN.INIT_DONE,
  ]);
  assert.deepEqual(messages.map((m) => m.seqNum), [0, 1, 2, 3]);
  const print = messages[0].payload;
  const size = new DataView(print.buffer, print.byteOffset).getUint32(4, true);
  assert.equal(
    new TextDecoder().decode(print.subarray(8, 8 + size)),
    "GSP-RM: requesting CPU sequencer\n",
  );
});
