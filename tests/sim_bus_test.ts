import assert from "node:assert/strict";
import { ManualClock } from "../pci/clock.ts";
import { HardwareTimeoutError } from "../errors.ts";
import { chipRegisters } from "../registers/bind.ts";
import { describePriError, isPriError, NO_RESPONSE, priErrorCode } from "../registers/pri_error.ts";
import type { SimBlock } from "../sim/block.ts";
import { SimBus, UNMODELLED_READ_VALUE } from "../sim/bus.ts";
import { FaultInjector } from "../sim/faults.ts";
import { PbusBlock } from "../sim/blocks/pbus.ts";
import { PmcBlock } from "../sim/blocks/pmc.ts";
import { simChipModel } from "../sim/chip_model.ts";

const model = simChipModel("ga102");
const regs = chipRegisters("ga102");

function busWith(options: { faults?: FaultInjector; logCapacity?: number } = {}) {
  const clock = new ManualClock();
  const bus = new SimBus([new PmcBlock(model), new PbusBlock(model)], { clock, ...options });
  return { bus, clock };
}

/** A block that decodes part of one page only. */
function halfPage(name: string, start: number, end: number): SimBlock & { value: number } {
  return {
    name,
    ranges: [{ start, end }],
    value: 0,
    read(offset: number) {
      return offset === start ? this.value : undefined;
    },
    write(offset: number, v: number) {
      if (offset !== start) return false;
      this.value = v;
      return true;
    },
  };
}

Deno.test("bus: routes reads and writes to the block that decodes the offset", () => {
  const { bus } = busWith();
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), model.boot42);
  regs.PBUS.SW_SCRATCH.at(5).writeRaw(bus, 0xdeadbeef);
  assert.equal(regs.PBUS.SW_SCRATCH.at(5).readRaw(bus), 0xdeadbeef);
  assert.deepEqual(bus.counts(), {
    PMC: { reads: 1, writes: 0 },
    PBUS: { reads: 1, writes: 1 },
  });
  assert.deepEqual(bus.violations(), []);
});

Deno.test("bus: an unmodelled read answers the host PRI timeout code and is recorded", () => {
  const { bus, clock } = busWith();
  clock.advance(3);
  const inPmcPage = regs.PMC.BOOT_0.address + 4;
  const outsideEveryBlock = regs.PMC.BOOT_0.address + 0x10_0000 - 4;
  const a = bus.read32(inPmcPage);
  const b = bus.read32(outsideEveryBlock);
  for (const v of [a, b]) {
    assert(isPriError(v));
    assert.equal(v, UNMODELLED_READ_VALUE);
    assert.equal(priErrorCode(v)?.name, "HOST_PRI_TIMEOUT");
  }
  assert.match(describePriError(a), /HOST_PRI_TIMEOUT/);
  assert.deepEqual(bus.unmodelledReads(), [
    { offset: inPmcPage, block: "PMC", timeMs: 3 },
    { offset: outsideEveryBlock, block: undefined, timeMs: 3 },
  ]);
  assert.deepEqual(bus.counts()["(none)"], { reads: 1, writes: 0 });
});

Deno.test("bus: writes to unmodelled and read-only registers are violations", () => {
  const { bus } = busWith();
  const unmodelled = regs.PMC.BOOT_0.address + 8;
  bus.write32(unmodelled, 1);
  regs.PMC.BOOT_42.writeRaw(bus, 0);
  assert.equal(
    regs.PMC.BOOT_42.readRaw(bus),
    model.boot42,
    "the read-only register kept its value",
  );
  const v = bus.violations();
  assert.equal(v.length, 2);
  assert.deepEqual(
    v.map(({ kind, offset, block, register }) => ({ kind, offset, block, register })),
    [
      { kind: "unmodelled-write", offset: unmodelled, block: "PMC", register: undefined },
      {
        kind: "read-only-write",
        offset: regs.PMC.BOOT_42.address,
        block: "PMC",
        register: "NV_PMC_BOOT_42",
      },
    ],
  );
});

Deno.test("bus: offsets must be aligned and inside BAR0", () => {
  const { bus } = busWith();
  assert.throws(() => bus.read32(2), RangeError);
  assert.throws(() => bus.write32(bus.size, 0), RangeError);
  assert.throws(() => bus.read32(-4), RangeError);
});

Deno.test("bus: blocks sharing a page are routed by their exact ranges; overlaps are refused", () => {
  const clock = new ManualClock();
  const low = halfPage("LOW", 0x5000, 0x5800);
  const high = halfPage("HIGH", 0x5800, 0x6000);
  const bus = new SimBus([low, high], { clock });
  bus.write32(0x5000, 1);
  bus.write32(0x5800, 2);
  assert.equal(low.value, 1);
  assert.equal(high.value, 2);
  assert.equal(bus.read32(0x5800), 2);
  assert.throws(() => bus.add(halfPage("CLASH", 0x5400, 0x5c00)), /overlaps LOW/);
  assert.throws(() => bus.add(halfPage("FAR", bus.size, bus.size + 4)), /outside BAR0/);
});

Deno.test("bus: the access log is a bounded ring and dumps with register names", () => {
  const { bus, clock } = busWith({ logCapacity: 3 });
  regs.PMC.BOOT_0.readRaw(bus);
  clock.advance(1);
  regs.PMC.BOOT_42.readRaw(bus);
  regs.PBUS.SW_SCRATCH.at(0xe).writeRaw(bus, 0x30000);
  bus.read32(regs.PMC.BOOT_0.address + 4);
  const log = bus.accessLog();
  assert.equal(log.length, 3, "only the last three are kept");
  assert.equal(bus.accessCount, 4);
  assert.deepEqual(log.map((a) => [a.op, a.offset, a.status]), [
    ["read", regs.PMC.BOOT_42.address, "ok"],
    ["write", regs.PBUS.SW_SCRATCH.at(0xe).address, "ok"],
    ["read", regs.PMC.BOOT_0.address + 4, "unmodelled"],
  ]);
  const dump = bus.dumpAccessLog().split("\n");
  assert.equal(dump.length, 3);
  assert.match(dump[0], /1\.000 ms {2}R {2}0x000a00 {2}PMC\.NV_PMC_BOOT_42/);
  assert.match(dump[1], /W {2}0x001438 {2}PBUS\.NV_PBUS_SW_SCRATCH\(14\) +0x00030000$/);
  assert.match(dump[2], /\[unmodelled\]$/);
  bus.clearAccounting();
  assert.deepEqual(bus.accessLog(), []);
  assert.deepEqual(bus.unmodelledReads(), []);
});

Deno.test("bus: poll waits on the device clock", async () => {
  const { bus, clock } = busWith();
  const scratch = regs.PBUS.SW_SCRATCH.at(1);
  // The value changes after the third read, whatever the machine's load: no real timer races
  // the virtual clock.
  let reads = 0;
  const becomesOne = (v: number) => {
    if (++reads === 3) scratch.writeRaw(bus, 1);
    return v === 1;
  };
  assert.equal(await bus.poll(scratch.address, becomesOne, { timeoutMs: 50, intervalMs: 1 }), 1);
  assert.equal(reads, 4);
  await assert.rejects(
    bus.poll(scratch.address, (v) => v === 2, { timeoutMs: 40, intervalMs: 10 }),
    HardwareTimeoutError,
  );
  assert(clock.now() >= 40);
});

Deno.test("bus: while silenced (a reset) reads are all ones and writes are lost", () => {
  const { bus, clock } = busWith();
  bus.silence(10);
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), NO_RESPONSE);
  regs.PBUS.SW_SCRATCH.at(0).writeRaw(bus, 5);
  assert.equal(bus.violations()[0].kind, "write-without-response");
  clock.advance(10);
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), model.boot42);
  assert.equal(regs.PBUS.SW_SCRATCH.at(0).readRaw(bus), 0, "the write was lost");
});

Deno.test("bus-fall-off: after N accesses every read is 0xffffffff, until power-on", () => {
  const faults = new FaultInjector();
  const { bus } = busWith({ faults });
  faults.arm("bus-fall-off", { afterAccesses: 2 });
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), model.boot42);
  assert.equal(regs.PMC.BOOT_0.readRaw(bus), model.boot0);
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), NO_RESPONSE);
  assert.equal(regs.PBUS.SW_SCRATCH.at(3).readRaw(bus), NO_RESPONSE);
  assert(bus.fallenOff);
  assert.equal(faults.history()[0].name, "bus-fall-off");
  faults.disarm("bus-fall-off");
  bus.powerOn();
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), model.boot42);
});

Deno.test("bus-fall-off: at the first write to a chosen register (a boot step)", () => {
  const faults = new FaultInjector();
  const { bus } = busWith({ faults });
  const step = regs.PBUS.SW_SCRATCH.at(7);
  faults.arm("bus-fall-off", { atOffset: step.address, write: true });
  assert.equal(step.readRaw(bus), 0, "a read of the register does not trigger it");
  step.writeRaw(bus, 1);
  assert.equal(step.readRaw(bus), NO_RESPONSE);
  assert.equal(bus.violations().at(-1)?.kind, "write-without-response");
  assert.match(faults.history()[0].detail, /first write to 0x141c/);
});

Deno.test("bus-fall-off: at a device clock time, or at once without a trigger", () => {
  const faults = new FaultInjector();
  const { bus, clock } = busWith({ faults });
  faults.arm("bus-fall-off", { atTimeMs: 5 });
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), model.boot42);
  clock.advance(5);
  assert.equal(regs.PMC.BOOT_42.readRaw(bus), NO_RESPONSE);
  const now = busWith({ faults: new FaultInjector() });
  const f = new FaultInjector();
  const immediate = new SimBus([new PmcBlock(model)], { clock: now.clock, faults: f });
  f.arm("bus-fall-off");
  assert.equal(regs.PMC.BOOT_0.readRaw(immediate), NO_RESPONSE);
});
