import assert from "node:assert/strict";
import { ManualClock } from "../pci/clock.ts";
import type { ConfigSpace } from "../pci/device.ts";
import {
  busTopology,
  restoreHeader,
  saveHeader,
  waitUntilAnswering,
} from "../pci/_reset_support.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

/** Reads that answer `script` in turn (the last value repeats), with the clock time of each. */
function scripted(clock: ManualClock, script: number[]) {
  const times: number[] = [];
  let i = 0;
  return {
    times,
    read: () => {
      times.push(clock.now());
      return script[Math.min(i++, script.length - 1)];
    },
  };
}

Deno.test("the wait doubles its delay as pci_dev_wait does, and treats RRS (0x0001) as not ready", async () => {
  const clock = new ManualClock();
  const device = scripted(clock, [0xffffffff, 0xffff0001, 0xffff0001, 0xffffffff, 0x1e0710de]);
  const waited = await waitUntilAnswering(device.read, { bdf: "x", clock, what: "FLR" });
  assert.deepEqual(device.times, [0, 1, 3, 7, 15]);
  assert.equal(waited, 15);
});

Deno.test("a device that answers at once costs no wait", async () => {
  const clock = new ManualClock();
  assert.equal(await waitUntilAnswering(() => 0x1e0710de, { bdf: "x", clock, what: "FLR" }), 0);
  assert.equal(clock.sleeps, 0);
});

Deno.test("the wait ends exactly at its timeout, naming the last value read", async () => {
  const clock = new ManualClock();
  await assert.rejects(
    waitUntilAnswering(() => 0xffff0001, {
      bdf: "0000:01:00.0",
      clock,
      what: "FLR",
      timeoutMs: 100,
    }),
    /0000:01:00\.0: after FLR, config space still reads 0xffff0001 after 100 ms.*power cycle/,
  );
  assert.equal(clock.now(), 100);
});

function memoryConfig(bytes: Uint8Array, writes: string[]): ConfigSpace {
  const v = new DataView(bytes.buffer);
  return {
    size: bytes.length,
    read8: (o) => v.getUint8(o),
    read16: (o) => v.getUint16(o, true),
    read32: (o) => v.getUint32(o, true),
    write8: (o, x) => {
      writes.push(`8@${o.toString(16)}`);
      v.setUint8(o, x);
    },
    write16: (o, x) => {
      writes.push(`16@${o.toString(16)}`);
      v.setUint16(o, x, true);
    },
    write32: (o, x) => {
      writes.push(`32@${o.toString(16)}`);
      v.setUint32(o, x, true);
    },
  };
}

Deno.test("the header is restored highest dword first, Command last, Status untouched", () => {
  const bytes = new Uint8Array(256);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x1e0710de, true);
  v.setUint16(0x04, 0x0006, true);
  v.setUint16(0x06, 0x0010, true);
  v.setUint32(0x10, 0xf6000000, true);
  v.setUint32(0x14, 0xe000000c, true);
  v.setUint32(0x3c, 0x0000010b, true);
  const writes: string[] = [];
  const config = memoryConfig(bytes, writes);
  const saved = saveHeader(config)!;
  // what a reset leaves: decode off, BARs and interrupt line cleared, an error bit in Status
  v.setUint16(0x04, 0, true);
  v.setUint16(0x06, 0x2010, true);
  v.setUint32(0x10, 0, true);
  v.setUint32(0x14, 0, true);
  v.setUint32(0x3c, 0x00000100, true);
  assert.deepEqual(restoreHeader(config, saved), [0x3c, 0x14, 0x10, 0x04]);
  assert.deepEqual(writes, ["32@3c", "32@14", "32@10", "16@4"]);
  assert.equal(v.getUint16(0x04, true), 0x0006);
  assert.equal(v.getUint16(0x06, true), 0x2010, "Status (write-one-to-clear) left alone");
  assert.deepEqual(restoreHeader(config, saved), [], "nothing differs any more");
});

Deno.test("a header saved from a device that does not answer is not kept", () => {
  for (const ids of [0xffffffff, 0xffff0001]) {
    const bytes = new Uint8Array(256);
    new DataView(bytes.buffer).setUint32(0, ids, true);
    assert.equal(saveHeader(memoryConfig(bytes, [])), undefined);
  }
  assert.deepEqual(restoreHeader(memoryConfig(new Uint8Array(256), []), undefined), []);
});

Deno.test("topology: the parent bridge and every function below it, from sysfs links", () => {
  using tree = buildSysfsTree();
  const gpu = busTopology(tree.devicePath("0000:01:00.0"));
  assert.equal(gpu.bridge?.bdf, "0000:00:01.0");
  assert.equal(gpu.bridge?.device, 0x1901);
  assert.deepEqual(
    gpu.functions.map((f) => [f.bdf, f.driver, f.iommuGroup]),
    [
      ["0000:01:00.0", "nouveau", 12],
      ["0000:01:00.1", "snd_hda_intel", 12],
      ["0000:01:00.2", "xhci_hcd", 12],
      ["0000:01:00.3", "nvidia-gpu", 12],
    ],
  );
  const rootPort = busTopology(tree.devicePath("0000:00:01.0"));
  assert.equal(rootPort.bridge, null, "a function on the root bus has no bridge");
});
