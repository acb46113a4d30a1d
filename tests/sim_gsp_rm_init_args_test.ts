import assert from "node:assert/strict";
import {
  findLibosRegion,
  libosRegionId,
  libosRegionName,
  readLibosRegions,
  readRmArgs,
  SimGspRmFormatError,
} from "../sim/gsp_rm/init_args.ts";
import { Host, packId } from "./_sim_gsp_rm_host.ts";

Deno.test("region ids pack as the reference says, and unpack", () => {
  for (const name of ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "LOGKRNL", "RMARGS"]) {
    assert.equal(libosRegionId(name), packId(name), name);
    assert.equal(libosRegionName(packId(name)), name);
  }
  // "LOGINIT" = 4c 4f 47 49 4e 49 54; stored little-endian, its last character comes first.
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, libosRegionId("LOGINIT"), true);
  assert.deepEqual([...bytes], [0x54, 0x49, 0x4e, 0x49, 0x47, 0x4f, 0x4c, 0]);
});

Deno.test("the host's LibOS args and RMARGS read back field by field", () => {
  const host = new Host({ regions: ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "RMARGS"] });
  const regions = readLibosRegions(host.memory, host.libosArgsIova);
  assert.deepEqual(regions.map((r) => [r.index, r.name, r.kind, r.loc]), [
    [0, "LOGINIT", 1, 1],
    [1, "LOGINTR", 1, 1],
    [2, "LOGRM", 1, 1],
    [3, "LOGMNOC", 1, 1],
    [4, "RMARGS", 1, 1],
  ]);
  const rmargs = findLibosRegion(regions, "RMARGS", host.libosArgsIova, 72);
  assert.equal(rmargs.pa, host.rmArgsIova);
  const args = readRmArgs(host.memory, rmargs.pa);
  assert.equal(args.sharedMemPhysAddr, host.pageIova[0]);
  assert.equal(args.pageTableEntryCount, 0x81);
  assert.equal(args.cmdQueueOffset, 0x1000n);
  assert.equal(args.statQueueOffset, 0x41000n);
  assert.equal(args.dmemStack, true);
  assert.equal(args.srInPmTransition, false);
});

Deno.test("a region of the wrong kind, place or size is refused with its address", () => {
  const host = new Host();
  const view = new DataView(host.libosArgs.buffer);
  view.setUint8(2 * 32 + 24, 2); // LOGRM as radix3
  view.setBigUint64(3 * 32 + 16, 16n, true); // RMARGS of 16 bytes
  const regions = readLibosRegions(host.memory, host.libosArgsIova);
  assert.throws(
    () => findLibosRegion(regions, "LOGRM", host.libosArgsIova, 4096),
    (e: unknown) => e instanceof SimGspRmFormatError && e.iova === host.libosArgsIova + 64n,
  );
  assert.throws(() => findLibosRegion(regions, "RMARGS", host.libosArgsIova, 72), /size 16 < 72/);
});
