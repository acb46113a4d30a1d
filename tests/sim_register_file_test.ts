import assert from "node:assert/strict";
import { chipRegisters } from "../registers/bind.ts";
import { pagesOf, RegisterFile } from "../sim/blocks/register_file.ts";

const scratch = chipRegisters("ga102").PBUS.SW_SCRATCH;

Deno.test("register file: read/write keeps only the writable bits", () => {
  const r = scratch.at(0);
  const file = new RegisterFile([{
    register: r,
    writableMask: 0x0000ffff,
    resetValue: 0xabcd0000,
  }]);
  assert.equal(file.write(r.address, 0x12345678), true);
  assert.equal(file.read(r.address), 0xabcd5678);
});

Deno.test("register file: read-only refuses the host but the model may set it", () => {
  const r = scratch.at(1);
  const file = new RegisterFile([{ register: r, access: "ro", resetValue: 7 }]);
  assert.equal(file.write(r.address, 1), false);
  assert.equal(file.read(r.address), 7);
  file.set(r, 9);
  assert.equal(file.read(r.address), 9);
  assert.equal(file.get(r), 9);
});

Deno.test("register file: write-1-to-clear clears exactly the bits written as 1", () => {
  const r = scratch.at(2);
  const file = new RegisterFile([{ register: r, access: "w1c", resetValue: 0b1111 }]);
  file.write(r.address, 0b0101);
  assert.equal(file.read(r.address), 0b1010);
  file.write(r.address, 0);
  assert.equal(file.read(r.address), 0b1010, "writing 0 changes nothing");
});

Deno.test("register file: self-clearing bits act once and read back 0", () => {
  const r = scratch.at(3);
  const pulses: number[] = [];
  const file = new RegisterFile([{
    register: r,
    selfClearing: 0x1,
    onWrite: (written) => pulses.push(written & 1),
  }]);
  file.write(r.address, 0x101);
  assert.equal(file.read(r.address), 0x100);
  assert.deepEqual(pulses, [1]);
});

Deno.test("register file: computed reads, resets by kind, snapshots by name", () => {
  const live = scratch.at(4);
  const kept = scratch.at(5);
  const cleared = scratch.at(6);
  let now = 1;
  const file = new RegisterFile([
    { register: live, read: (stored) => stored + now, persistent: false },
    { register: kept, clearedBy: ["power"] },
    { register: cleared, resetValue: 3 },
  ]);
  now = 41;
  assert.equal(file.read(live.address), 41);
  file.write(kept.address, 8);
  file.write(cleared.address, 9);
  file.reset("function");
  assert.equal(file.read(kept.address), 8, "survives a function-level reset");
  assert.equal(file.read(cleared.address), 3);
  const saved = file.snapshot();
  assert.deepEqual(Object.keys(saved).sort(), [kept.name, cleared.name].sort());
  file.reset("power");
  assert.equal(file.read(kept.address), 0);
  file.restore(saved);
  assert.equal(file.read(kept.address), 8);
  assert.equal(file.read(scratch.at(7).address), undefined, "unmodelled");
  assert.equal(file.write(scratch.at(7).address, 1), false);
  assert.throws(() => file.add({ register: kept }), /already holds/);
});

Deno.test("register file: pagesOf merges neighbouring 4 KiB pages", () => {
  assert.deepEqual(pagesOf([0x118234, 0x1180f8, 0x1183a4]), [{ start: 0x118000, end: 0x119000 }]);
  assert.deepEqual(pagesOf([0x1000, 0x3000]), [
    { start: 0x1000, end: 0x2000 },
    { start: 0x3000, end: 0x4000 },
  ]);
});
