import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DeviceError, HardwareTimeoutError } from "../errors.ts";
import { ManualClock, systemClock } from "../pci/clock.ts";
import { mapFile } from "../pci/mapping.ts";
import { MappedMmio, pollValue, writeBarrier } from "../pci/mmio.ts";

const BAR_SIZE = 0x10000;

function standIn(): string {
  const path = Deno.makeTempFileSync({ prefix: "resource0-" });
  const bytes = new Uint8Array(BAR_SIZE);
  new DataView(bytes.buffer).setUint32(0, 0x162000a1, true); // a TU102 BOOT_0
  Deno.writeFileSync(path, bytes);
  return path;
}

function sha256(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

Deno.test("read32 and write32 go through the mapping to the file", () => {
  const path = standIn();
  {
    using mapping = mapFile(path);
    using bar0 = new MappedMmio(mapping.buffer, { name: "test BAR0" });
    assert.equal(bar0.size, BAR_SIZE);
    assert.equal(bar0.read32(0), 0x162000a1);
    bar0.write32(0x110000 % BAR_SIZE, 0xdeadbeef);
    bar0.write32(BAR_SIZE - 4, -1);
    assert.equal(bar0.read32(BAR_SIZE - 4), 0xffffffff);
  }
  const file = new DataView(Deno.readFileSync(path).buffer);
  assert.equal(file.getUint32(0x110000 % BAR_SIZE, true), 0xdeadbeef);
  assert.equal(file.getUint32(BAR_SIZE - 4, true), 0xffffffff);
});

Deno.test("a write through one mapping is read through another (what a device sees)", () => {
  const path = standIn();
  using a = mapFile(path);
  using b = mapFile(path);
  const writer = new MappedMmio(a.buffer);
  const reader = new MappedMmio(b.buffer);
  writer.write32(0x40, 0x1234);
  assert.equal(reader.read32(0x40), 0x1234);
});

Deno.test("offsets are bounds-checked and 4-byte aligned", () => {
  const bar0 = new MappedMmio(new ArrayBuffer(BAR_SIZE), { name: "BAR0" });
  for (
    const bad of [
      BAR_SIZE,
      BAR_SIZE + 4,
      -4,
      2,
      3,
      1.5,
      NaN,
      Infinity,
      2 ** 31,
      2 ** 32,
      2 ** 32 + 4,
    ]
  ) {
    assert.throws(() => bar0.read32(bad), RangeError, `read32(${bad})`);
    assert.throws(() => bar0.write32(bad, 0), RangeError, `write32(${bad})`);
  }
  assert.throws(
    () => bar0.read32(0x10002),
    /BAR0: offset 0x10002 is not a 4-byte aligned offset below 0x10000/,
  );
  assert.equal(bar0.read32(BAR_SIZE - 4), 0);
});

Deno.test("the offset check holds at the 2 GiB limit and for wrapped negatives", () => {
  const bar = new MappedMmio(new ArrayBuffer(0x8000_0000)); // untouched pages cost nothing
  assert.equal(bar.read32(0x7fff_fffc), 0);
  bar.write32(0x7fff_fffc, 5);
  assert.equal(bar.read32(0x7fff_fffc), 5);
  for (const bad of [-(2 ** 31), -(2 ** 31) + 4, -4, 2 ** 31, 2 ** 32 - 4, 2 ** 32 + 0x7fff_fffc]) {
    assert.throws(() => bar.read32(bad), RangeError, `read32(${bad})`);
    assert.throws(() => bar.write32(bad, 1), RangeError, `write32(${bad})`);
  }
  assert.throws(() => new MappedMmio(new ArrayBuffer(0x8000_0004)), RangeError);
});

Deno.test("write32 takes uint32 values and int32 bit patterns only", () => {
  const bar0 = new MappedMmio(new ArrayBuffer(16));
  bar0.write32(0, 0x80000000 | 0); // negative int32
  assert.equal(bar0.read32(0), 0x80000000);
  for (const bad of [2 ** 32, -(2 ** 31) - 1, 1.5, NaN]) {
    assert.throws(() => bar0.write32(4, bad), RangeError, String(bad));
  }
  assert.equal(bar0.read32(4), 0, "a refused write stores nothing");
});

Deno.test("read-only: every write throws before touching anything; the file is unchanged", () => {
  const path = standIn();
  const before = sha256(path);
  {
    using mapping = mapFile(path, { readOnly: true });
    using bar0 = new MappedMmio(mapping.buffer, {
      name: "0000:01:00.0 BAR0",
      readOnly: true,
      bdf: "0000:01:00.0",
    });
    assert.equal(bar0.read32(0), 0x162000a1);
    assert.throws(
      () => bar0.write32(0x100, 1),
      (e: unknown) =>
        e instanceof DeviceError && e.bdf === "0000:01:00.0" &&
        e.message.includes("opened read-only; refused to write 0x1 to 0000:01:00.0 BAR0+0x100"),
    );
    assert.throws(() => bar0.write32(0, 0xffffffff), DeviceError);
  }
  assert.equal(sha256(path), before);
});

Deno.test("poll returns the value once the predicate holds", async () => {
  const path = standIn();
  using a = mapFile(path);
  using b = mapFile(path);
  const device = new MappedMmio(a.buffer);
  const bar0 = new MappedMmio(b.buffer);
  assert.equal(bar0.clock, systemClock, "the default clock is the system clock");
  let reads = 0;
  setTimeout(() => device.write32(0x10, 0x8000_0001), 20);
  const value = await bar0.poll(0x10, (v) => {
    reads++;
    return (v & 1) === 1;
  }, { timeoutMs: 2000, intervalMs: 1 });
  assert.equal(value, 0x80000001);
  assert.ok(reads >= 2, "the value was not there at the first read: the poll waited");
});

Deno.test("poll on a virtual clock: the register turns ready after 7 ms of modelled time", async () => {
  const clock = new ManualClock();
  const memory = new ArrayBuffer(0x100);
  const bar0 = new MappedMmio(memory, { clock });
  const device = new MappedMmio(memory);
  let reads = 0;
  const value = await bar0.poll(0x20, (v) => {
    reads++;
    if (clock.now() >= 7) device.write32(0x20, 0x1); // the simulated hardware finishes
    return v === 1;
  }, { timeoutMs: 2000, intervalMs: 1 });
  assert.equal(value, 1);
  assert.equal(
    reads,
    9,
    "reads at 0…7 ms see 0; the write lands at 7 ms, the read at 8 ms sees it",
  );
  assert.equal(clock.now(), 8);
});

Deno.test("poll with intervalMs 0 spins but still lets timers run", async () => {
  const bar0 = new MappedMmio(new ArrayBuffer(16));
  setTimeout(() => bar0.write32(8, 7), 10);
  assert.equal(await bar0.poll(8, (v) => v === 7, { timeoutMs: 2000, intervalMs: 0 }), 7);
});

Deno.test("poll times out after exactly the modelled time, with the last value and the register name", async () => {
  const clock = new ManualClock();
  const bar0 = new MappedMmio(new ArrayBuffer(0x200), { name: "0000:01:00.0 BAR0", clock });
  bar0.write32(0x100, 0x10);
  let reads = 0;
  await assert.rejects(
    bar0.poll(0x100, (v) => {
      reads++;
      return v === 0;
    }, { timeoutMs: 30 }),
    (e: unknown) => {
      assert.ok(e instanceof HardwareTimeoutError);
      assert.equal(e.lastValue, 0x10);
      assert.equal(e.timeoutMs, 30);
      assert.equal(e.register, "0000:01:00.0 BAR0+0x100");
      return true;
    },
  );
  assert.equal(clock.now(), 30, "30 ms of virtual time, no more");
  assert.equal(reads, 31, "one read a millisecond from 0 to 29 ms, and one more at the deadline");
  assert.equal(clock.sleeps, 30);
  await assert.rejects(
    bar0.poll(0x100, () => false, {
      timeoutMs: 5,
      intervalMs: 0,
      name: "NV_PFALCON_FALCON_CPUCTL",
    }),
    /waiting on NV_PFALCON_FALCON_CPUCTL \(last value 0x00000010\)/,
  );
});

Deno.test("poll honours an AbortSignal, before and during the wait", async () => {
  const bar0 = new MappedMmio(new ArrayBuffer(16));
  const controller = new AbortController();
  let reads = 0;
  setTimeout(() => controller.abort(new Error("user pressed ^C")), 15);
  // A 60 s interval: the poll rejects only because the abort interrupts the sleep (and the
  // test's timer sanitizer shows that the sleep's timer was cleared).
  await assert.rejects(
    bar0.poll(0, () => {
      reads++;
      return false;
    }, { timeoutMs: 120_000, intervalMs: 60_000, signal: controller.signal }),
    /user pressed \^C/,
  );
  assert.equal(reads, 1, "aborted during the first sleep");
  await assert.rejects(
    bar0.poll(0, () => true, { signal: AbortSignal.abort(new Error("already")) }),
    /already/,
  );
  await assert.rejects(
    bar0.poll(0, () => false, { timeoutMs: 5000, intervalMs: 0, signal: AbortSignal.timeout(10) }),
    (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
  );
});

Deno.test("poll rejects bad offsets and options without waiting", async () => {
  const bar0 = new MappedMmio(new ArrayBuffer(16));
  await assert.rejects(bar0.poll(16, () => true), RangeError);
  await assert.rejects(bar0.poll(0, () => true, { timeoutMs: -1 }), RangeError);
});

Deno.test("pollValue checks once more after the deadline", async () => {
  const clock = new ManualClock();
  let reads = 0;
  // The first read fails; the sleep is clipped to the 5 ms deadline; the read after it,
  // at the deadline, succeeds and wins over the timeout.
  const value = await pollValue(() => ++reads, (v) => v === 2, {
    timeoutMs: 5,
    intervalMs: 20,
    clock,
  });
  assert.equal(value, 2);
  assert.equal(clock.now(), 5);
});

Deno.test("pollValue waits only on its clock: intervals are clipped to the deadline", async () => {
  const clock = new ManualClock({ start: 1000 });
  const readTimes: number[] = [];
  await assert.rejects(
    pollValue(() => readTimes.push(clock.now()), () => false, {
      timeoutMs: 30,
      intervalMs: 7,
      clock,
    }),
    HardwareTimeoutError,
  );
  assert.deepEqual(readTimes, [1000, 1007, 1014, 1021, 1028, 1030]);
});

Deno.test("pollValue with intervalMs 0 reads 1000 times per modelled millisecond", async () => {
  const clock = new ManualClock();
  let reads = 0;
  await assert.rejects(
    pollValue(() => ++reads, () => false, { timeoutMs: 5, intervalMs: 0, clock }),
    HardwareTimeoutError,
  );
  assert.equal(clock.now(), 5);
  assert.equal(reads, 5 * 1000 + 1, "five slices of 1000 reads, and one at the deadline");
  assert.equal(clock.sleeps, 5);
});

Deno.test("pollValue on a virtual clock stops at an abort without advancing further", async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  let reads = 0;
  await assert.rejects(
    pollValue(
      () => {
        if (++reads === 4) controller.abort(new Error("stop"));
        return 0;
      },
      () => false,
      { timeoutMs: 1000, intervalMs: 10, signal: controller.signal, clock },
    ),
    /stop/,
  );
  assert.equal(reads, 4);
  assert.equal(clock.now(), 30, "the sleep after the fourth read never happened");
});

Deno.test("after dispose every access throws 'closed'", () => {
  const bar0 = new MappedMmio(new ArrayBuffer(16), { name: "BAR0" });
  bar0[Symbol.dispose]();
  assert.equal(bar0.size, 0);
  assert.throws(() => bar0.read32(0), /BAR0 is closed/);
  assert.throws(() => bar0.write32(0, 1), /BAR0 is closed/);
});

Deno.test("sizes must be multiples of 4", () => {
  assert.throws(() => new MappedMmio(new ArrayBuffer(6)), RangeError);
});

Deno.test("writeBarrier orders buffer writes before a doorbell (callable, no side effects)", () => {
  const ring = new Uint8Array(64);
  const bar0 = new MappedMmio(new ArrayBuffer(16));
  ring.set([1, 2, 3, 4]);
  writeBarrier();
  bar0.write32(0, 1);
  assert.deepEqual([...ring.subarray(0, 4)], [1, 2, 3, 4]);
  assert.equal(bar0.read32(0), 1);
});
