import assert from "node:assert/strict";
import { type GspRmFaultName, gspRmFaultPoints } from "../sim/gsp_rm/faults.ts";
import { GspRm } from "../sim/gsp_rm/gsp_rm.ts";
import {
  decodeSequencer,
  FN,
  Host,
  registryPayload,
  systemInfoPayload,
  unloadPayload,
} from "./_sim_gsp_rm_host.ts";

function bootWith(fault: GspRmFaultName) {
  const host = new Host();
  const gsp = new GspRm({
    dma: host.memory,
    effects: host.chip,
    board: { boardName: "NVIDIA TITAN RTX", chip: "TU102" },
    sequencer: {
      handoff: { addr: 0x110080, value: 1 },
      modify: { addr: 0x110624, mask: 0x80, value: 0x80 },
      mailbox0: 0x110040,
      mailbox1: 0x110044,
    },
    faults: [fault],
  });
  gsp.start();
  host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload());
  host.send(FN.SET_REGISTRY, registryPayload([["RMSecBusResetEnable", 1]]));
  gsp.poll();
  return { host, gsp };
}

function resumeAndUnload(host: Host, gsp: GspRm) {
  host.chip.resumed = true;
  gsp.poll();
  const boot = host.receiveAll();
  host.send(FN.UNLOADING_GUEST_DRIVER, unloadPayload(0));
  gsp.poll();
  return { boot, unload: host.receiveAll() };
}

const SYMPTOMS: Record<GspRmFaultName, () => void> = {
  "gsp-rm-bad-checksum": () => {
    const { host, gsp } = bootWith("gsp-rm-bad-checksum");
    const [sequencer] = host.receiveAll();
    assert.equal(sequencer.function, FN.RUN_CPU_SEQUENCER);
    assert.equal(sequencer.checksumOk, false);
    // Only that message: INIT_DONE afterwards is sound.
    host.chip.resumed = true;
    gsp.poll();
    const [initDone] = host.receiveAll();
    assert.equal(initDone.function, FN.INIT_DONE);
    assert(initDone.checksumOk);
  },
  "gsp-rm-sequencer-poll-timeout": () => {
    const { host } = bootWith("gsp-rm-sequencer-poll-timeout");
    const script = decodeSequencer(host.receiveAll()[0].payload).commands;
    const write = script.find((c) => c.opcode === 0)!;
    const poll = script.find((c) => c.opcode === 2)!;
    assert.equal(poll.args[0], write.args[0], "polls the register it wrote");
    // A register that reads back what was written never satisfies the poll.
    assert.notEqual(write.args[1] & poll.args[1], poll.args[2]);
    assert.equal(poll.args[4], 1, "GSP_SEQUENCER_BUFFER_ERR_TIMEOUT1");
  },
  "gsp-rm-no-init-done": () => {
    const { host, gsp } = bootWith("gsp-rm-no-init-done");
    assert.equal(host.receiveAll()[0].function, FN.RUN_CPU_SEQUENCER);
    host.chip.resumed = true;
    for (let i = 0; i < 5; i++) gsp.poll();
    assert.deepEqual(host.receiveAll(), []);
    assert.equal(gsp.state, "init-withheld");
    // The host's error path can still unload it.
    host.send(FN.UNLOADING_GUEST_DRIVER, unloadPayload(0));
    gsp.poll();
    assert.equal(host.receiveAll()[0].function, FN.UNLOADING_GUEST_DRIVER);
    assert(host.chip.halted);
  },
  "gsp-rm-unload-never-suspends": () => {
    const { host, gsp } = bootWith("gsp-rm-unload-never-suspends");
    const { boot, unload } = resumeAndUnload(host, gsp);
    assert.deepEqual(boot.map((m) => m.function), [FN.RUN_CPU_SEQUENCER, FN.INIT_DONE]);
    assert.equal(unload[0].function, FN.UNLOADING_GUEST_DRIVER);
    assert.equal(host.chip.mailbox[0] >>> 31, 0);
    assert(!host.chip.halted);
    assert.equal(gsp.state, "ready");
  },
  "gsp-rm-never-halts-after-unload": () => {
    const { host, gsp } = bootWith("gsp-rm-never-halts-after-unload");
    const { unload } = resumeAndUnload(host, gsp);
    assert.equal(unload[0].result, 0);
    assert.equal(host.chip.mailbox[0] >>> 31, 1);
    assert(!host.chip.halted);
    assert.equal(gsp.state, "suspended");
  },
};

Deno.test("every listed fault point has a symptom test", () => {
  assert.deepEqual(
    gspRmFaultPoints().map((f) => f.name).sort(),
    Object.keys(SYMPTOMS).sort(),
  );
});

for (const point of gspRmFaultPoints()) {
  Deno.test(`fault point ${point.name}: ${point.symptom}`, () => SYMPTOMS[point.name]());
}

Deno.test("without fault points the same flow halts cleanly after unload", () => {
  const host = new Host();
  const gsp = new GspRm({
    dma: host.memory,
    effects: host.chip,
    board: { boardName: "NVIDIA TITAN RTX", chip: "TU102" },
  });
  gsp.start();
  host.send(FN.GSP_SET_SYSTEM_INFO, systemInfoPayload());
  host.send(FN.SET_REGISTRY, registryPayload([["RMSecBusResetEnable", 1]]));
  gsp.poll();
  const { boot, unload } = resumeAndUnload(host, gsp);
  assert(boot.every((m) => m.checksumOk));
  assert.equal(unload.length, 1);
  assert.equal(host.chip.mailbox[0] >>> 31, 1);
  assert(host.chip.halted);
});
