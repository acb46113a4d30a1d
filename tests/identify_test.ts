// Tests of gpu/identify.ts: every chip of the table identified from
// synthesized BOOT_0/BOOT_42 values, pre-Fermi and pre-Turing rejection,
// unknown ids, and dead-device / PRI-error reads.

import assert from "node:assert/strict";
import { ARCHITECTURES, CHIPS } from "../chips/chips.ts";
import {
  ChipNotRespondingError,
  decodeBoot42,
  identifyChip,
  UnsupportedChipError,
} from "../gpu/identify.ts";
import { DeviceError, FalconryError } from "../errors.ts";

/** BOOT_0 as the hardware lays it out (nv_ref.h): arch split over 28:24 and 8. */
function boot0Of(arch: number, impl: number, major: number, minor: number): number {
  return (((arch & 0x1f) << 24) | (impl << 20) | (((arch >> 5) & 1) << 8) | (major << 4) |
    minor) >>>
    0;
}

/** BOOT_42: arch 29:24, impl 23:20, major 19:16, minor 15:12. */
function boot42Of(arch: number, impl: number, major: number, minor: number): number {
  return ((arch << 24) | (impl << 20) | (major << 16) | (minor << 12)) >>> 0;
}

/** Run `fn`, which must throw an instance of `type`, and return what it threw. */
function thrown<T extends Error>(fn: () => unknown, type: new (...args: never[]) => T): T {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    return e;
  }
  assert.fail(`expected ${type.name}, nothing was thrown`);
}

/** A fake BAR0 that records which offsets were read. */
function bar0(values: Record<number, number>) {
  const reads: number[] = [];
  return {
    reads,
    read32(offset: number): number {
      reads.push(offset);
      if (!(offset in values)) throw new Error(`unexpected read at 0x${offset.toString(16)}`);
      return values[offset];
    },
  };
}

Deno.test("identifyChip: every chip of CHIPS from synthesized registers", () => {
  for (const chip of CHIPS) {
    const arch = chip.chipsetId >> 4;
    const impl = chip.chipsetId & 0xf;
    const mmio = bar0({ 0x0: boot0Of(arch, impl, 0xa, 1), 0xa00: boot42Of(arch, impl, 0xa, 1) });
    const id = identifyChip(mmio);
    assert.equal(id.name, chip.name);
    assert.equal(id.chipset, chip.chipsetId);
    assert.equal(id.arch, chip.arch);
    assert.equal(id.family, chip.family);
    assert.equal(id.revision, "a.1");
    assert.equal(id.boot0, boot0Of(arch, impl, 0xa, 1));
    assert.equal(id.boot42, boot42Of(arch, impl, 0xa, 1));
    assert.equal(id.chip, chip);
    assert.deepEqual(mmio.reads, [0x0, 0xa00]);
  }
});

Deno.test("identifyChip: revision comes from BOOT_42 in hex, not from BOOT_0", () => {
  const id = identifyChip(
    bar0({ 0x0: boot0Of(0x19, 4, 0xa, 1), 0xa00: boot42Of(0x19, 4, 0xb, 0xc) }),
  );
  assert.equal(id.name, "ad104");
  assert.equal(id.revision, "b.c");
});

Deno.test("identifyChip: the chipset comes from BOOT_42 even if BOOT_0 says otherwise", () => {
  const id = identifyChip(
    bar0({ 0x0: boot0Of(0x16, 2, 0xa, 1), 0xa00: boot42Of(0x17, 2, 0xa, 1) }),
  );
  assert.equal(id.name, "ga102");
});

Deno.test("identifyChip: pre-Fermi BOOT_0 is rejected before BOOT_42 is read", () => {
  const mmio = bar0({ 0x0: 0x0b0000a1 }); // ARCHITECTURE_1 = 0, ARCHITECTURE_0 = 0xb (< GF100)
  const err = thrown(() => identifyChip(mmio), UnsupportedChipError);
  assert.match(err.message, /older than Fermi/);
  assert.match(err.message, /NV_PMC_BOOT_0 = 0x0b0000a1/);
  assert.deepEqual(mmio.reads, [0x0]);
  // Fermi (0xc) with ARCHITECTURE_1 = 0 passes the BOOT_0 test and fails on BOOT_42.
  const fermi = bar0({ 0x0: 0x0c0000a1, 0xa00: boot42Of(0x0c, 0, 0xa, 1) });
  assert.throws(() => identifyChip(fermi), /pre-Turing architecture 0xc/);
});

Deno.test("identifyChip: pre-Turing (GV100, arch 0x14) is rejected with the raw values", () => {
  const boot0 = boot0Of(0x14, 0, 0xa, 1);
  const boot42 = boot42Of(0x14, 0, 0xa, 1);
  const err = thrown(() => identifyChip(bar0({ 0x0: boot0, 0xa00: boot42 })), UnsupportedChipError);
  assert.match(err.message, /pre-Turing architecture 0x14/);
  assert.match(err.message, /NV_PMC_BOOT_0 = 0x140000a1/);
  assert.match(err.message, /NV_PMC_BOOT_42 = 0x140a1000/);
  assert.equal(err.boot0, boot0);
  assert.equal(err.boot42, boot42);
  assert.ok(err instanceof FalconryError && !(err instanceof DeviceError));
});

Deno.test("identifyChip: unknown chipset and unknown architecture", () => {
  const unknownImpl = bar0({ 0x0: boot0Of(0x17, 9, 0xa, 1), 0xa00: boot42Of(0x17, 9, 0xa, 1) });
  assert.throws(() => identifyChip(unknownImpl), /unknown ampere chipset 0x179.*0x179a1000/);
  const newest = Math.max(...ARCHITECTURES.map((a) => a.id));
  const arch = newest + 1;
  const future = bar0({ 0x0: boot0Of(arch, 2, 0xa, 1), 0xa00: boot42Of(arch, 2, 0xa, 1) });
  assert.throws(
    () => identifyChip(future),
    (e: unknown) =>
      e instanceof UnsupportedChipError &&
      e.message.includes(`unknown architecture 0x${arch.toString(16)}`),
  );
});

Deno.test("identifyChip: 0xffffffff and 0xbadfxxxx reads mean no usable device", () => {
  const dead = bar0({ 0x0: 0xffffffff });
  const err = thrown(() => identifyChip(dead), ChipNotRespondingError);
  assert.match(err.message, /NV_PMC_BOOT_0 .*0xffffffff: device not responding/);
  assert.deepEqual(dead.reads, [0x0]);

  const pri = bar0({ 0x0: boot0Of(0x17, 2, 0xa, 1), 0xa00: 0xbadf1100 });
  const priErr = thrown(() => identifyChip(pri), ChipNotRespondingError);
  assert.match(priErr.message, /NV_PMC_BOOT_42 \(BAR0 0x00000a00\) read 0xbadf1100: PRI error/);
  assert.equal(priErr.value, 0xbadf1100);
  assert.equal(priErr.offset, 0xa00);
  assert.ok(priErr instanceof FalconryError && !(priErr instanceof DeviceError));

  assert.throws(() => identifyChip(bar0({ 0x0: 0xbadf5040 })), /PRI error/);
  // A negative number from a signed read is the same value.
  assert.throws(() => identifyChip(bar0({ 0x0: -1 })), /device not responding/);
});

Deno.test("identifyChip: a host PRI timeout (0xbad00100) in BOOT_0 is not a chip", () => {
  // BOOT_42 holds a valid GA102 id: before the fix, only 0xbadfxxxx counted and the chip was
  // identified from BOOT_42 although BOOT_0 was a PRI error.
  for (const value of [0xbad00100, 0xbad00f00, 0xbad0b000, 0xbad0da00]) {
    const regs = bar0({ 0x0: value, 0xa00: 0x172a1000 });
    const err = thrown(() => identifyChip(regs), ChipNotRespondingError);
    assert.equal(err.value, value);
    assert.equal(err.register, "NV_PMC_BOOT_0");
    assert.match(err.message, /PRI error 0xbad0/);
    assert.deepEqual(regs.reads, [0x0], "BOOT_42 is not read after a bad BOOT_0");
  }
  const named = thrown(
    () => identifyChip(bar0({ 0x0: 0xbad00100, 0xa00: 0x172a1000 })),
    ChipNotRespondingError,
  );
  assert.match(named.message, /HOST_PRI_TIMEOUT/);
});

Deno.test("decodeBoot42: fields and chipset", () => {
  assert.deepEqual(decodeBoot42(0x1b2a1300), {
    architecture: 0x1b,
    implementation: 2,
    majorRevision: 0xa,
    minorRevision: 1,
    minorExtendedRevision: 3,
    chipset: 0x1b2,
  });
  assert.equal(decodeBoot42(0xffffffff).chipset, 0x3ff);
  assert.equal(decodeBoot42(0).chipset, 0);
});
