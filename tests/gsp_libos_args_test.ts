/**
 * The LibOS init args, RMARGS, the shared queue memory and the log buffers,
 * as the driver lays them out, read back with the GSP-RM model's own parsers
 * (sim/gsp_rm/init_args.ts, queue.ts, logs.ts), which have their own tables.
 */

import assert from "node:assert/strict";
import {
  decodeLibosInitArgs,
  encodeLibosInitArgs,
  GspBootArgs,
  libosRegionId,
  libosRegionName,
} from "../gsp/libos_args.ts";
import { LibosLogBuffer as DriverLogBuffer, logBuffersFor } from "../gsp/log_buffers.ts";
import { decodeRmArgs, encodeRmArgs, GSP_ARGUMENTS_CACHED } from "../gsp/rmargs.ts";
import { GSP_PAGE_SIZE, MSGQ_TX_HEADER, SHARED_MEMORY } from "../gsp/shared_memory.ts";
import {
  findLibosRegion,
  GspRmQueues,
  LibosLogBuffer as ModelLogBuffer,
  libosRegionId as modelRegionId,
  readLibosRegions,
  readRmArgs,
  SharedArea,
} from "../sim/gsp_rm/mod.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { SimDma } from "./_gsp_rm_harness.ts";

Deno.test("region ids pack the first character highest, as the model reads them", () => {
  for (
    const name of ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "LOGKRNL", "RMARGS", "A", "ABCDEFGH"]
  ) {
    assert.equal(libosRegionId(name), modelRegionId(name), name);
    assert.equal(libosRegionName(libosRegionId(name)), name);
  }
  // Little-endian bytes of the u64, first character last: "RMARGS" → "SGRAMR\0\0".
  const page = encodeLibosInitArgs([{ id: "RMARGS", pa: 0n, size: 4096 }]);
  assert.equal(new TextDecoder().decode(page.subarray(0, 6)), "SGRAMR");
  for (const bad of ["", "NINECHARS", "LOG\u00e9"]) {
    assert.throws(() => libosRegionId(bad), RangeError, bad);
  }
});

for (
  const [family, expected] of [
    ["tu10x", ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "RMARGS"]],
    ["ga100", ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "RMARGS"]],
    ["ga10x", ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "LOGKRNL", "RMARGS"]],
    ["ad10x", ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "LOGKRNL", "RMARGS"]],
  ] as const
) {
  Deno.test(`${family}: GSP-RM's parsers find every region, RMARGS and the linked queues`, () => {
    const memory = new SystemMemory();
    const dma = new SimDma(memory);
    {
      using args = GspBootArgs.allocate(dma, family);
      const regions = readLibosRegions(memory, args.address);
      assert.deepEqual(regions.map((r) => r.name), expected);
      assert.deepEqual(decodeLibosInitArgs(args.initArgs.bytes).map((r) => r.id), expected);
      for (const region of regions) {
        const found = findLibosRegion(
          regions,
          region.name,
          args.address,
          GSP_ARGUMENTS_CACHED.size,
        );
        assert.equal(found.kind, 1);
        assert.equal(found.loc, 1);
      }
      for (const log of args.logs) {
        const region = regions.find((r) => r.name === log.id)!;
        assert.equal(region.pa, log.buffer.iova);
        assert.equal(region.size, 0x10000n);
      }
      const rmArgsRegion = regions.find((r) => r.name === "RMARGS")!;
      const rmArgs = readRmArgs(memory, rmArgsRegion.pa);
      assert.equal(rmArgs.sharedMemPhysAddr, args.sharedMemory.iova);
      assert.equal(rmArgs.pageTableEntryCount, 0x81);
      assert.equal(rmArgs.cmdQueueOffset, 0x1000n);
      assert.equal(rmArgs.statQueueOffset, 0x41000n);
      assert.equal(rmArgs.dmemStack, true);
      assert.equal(rmArgs.srInPmTransition, false);

      // The model maps the area through the driver's page table and links the queues.
      const area = SharedArea.map(memory, rmArgs.sharedMemPhysAddr, rmArgs.pageTableEntryCount);
      assert.equal(area.size, SHARED_MEMORY.size);
      for (let page = 0; page < SHARED_MEMORY.pageTableEntryCount; page++) {
        assert.equal(
          area.iovaOf(page * GSP_PAGE_SIZE),
          args.sharedMemory.iova + BigInt(page * 4096),
        );
      }
      const queues = new GspRmQueues(area, rmArgs.cmdQueueOffset, rmArgs.statQueueOffset);
      queues.link();
      assert.equal(queues.commandQueue?.msgCount, 63);
      assert.equal(queues.commandQueue?.flags, MSGQ_TX_HEADER.flagSwapRx);
      // GSP-RM's status queue header, as the driver's pointer accessors see it.
      assert.equal(queues.statusQueue?.msgCount, SHARED_MEMORY.msgCount);
      assert.equal(queues.statusQueue?.rxHdrOff, SHARED_MEMORY.rxHeaderOffset);
      assert.equal(args.sharedMemory.gspWritePtr, 0);
      assert.equal(dma.live.size, expected.length + 2); // + shared memory, init-args page
    }
    assert.equal(dma.live.size, 0, "every buffer freed");
    assert.deepEqual(memory.live, []);
  });
}

Deno.test("log buffers: the model's records show through the driver's put pointer", () => {
  const memory = new SystemMemory();
  const dma = new SimDma(memory);
  using log = DriverLogBuffer.allocate(dma, { id: "LOGRM", size: 0x10000 });
  const model = ModelLogBuffer.open(memory, {
    index: 2,
    name: "LOGRM",
    id8: 0n,
    pa: log.buffer.iova,
    size: BigInt(log.size),
    kind: 1,
    loc: 1,
  });
  model.append("rpcSent", [0x1001, 0, 0], 1234n);
  assert.equal(log.put, 5n); // 3 arguments, the metadata word, the timestamp
  assert.deepEqual(log.lastWords(2).at(-1), 1234n);
  assert.deepEqual(log.lastWords(5).slice(0, 3), [0x1001n, 0n, 0n]);
  assert.throws(() => DriverLogBuffer.allocate(dma, { id: "X", size: 100 }), RangeError);
  assert.deepEqual(logBuffersFor("gh100").map((b) => b.size), Array(5).fill(0x10000));
});

Deno.test("RMARGS round-trips, resume values included", () => {
  const args = {
    sharedMemPhysAddr: 0xdead_beef_000n,
    pageTableEntryCount: 0x81,
    cmdQueueOffset: 0x1000,
    statQueueOffset: 0x41000,
    srOldLevel: 3,
    srFlags: 0,
    srInPmTransition: true,
    gpuInstance: 2,
    dmemStack: false,
  };
  assert.deepEqual(decodeRmArgs(encodeRmArgs(args)), args);
  assert.throws(() => decodeRmArgs(new Uint8Array(71)), RangeError);
});
