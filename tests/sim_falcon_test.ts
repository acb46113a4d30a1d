// The simulated falcon driven by hand with raw register writes, straight from
// ../shared/reference/nova-core-boot.md §3.4, §3.6, §3.10, §12–13: no driver code.

import assert from "node:assert/strict";
import { ManualClock } from "../pci/clock.ts";
import { pollValue } from "../pci/mmio.ts";
import { chipRegisters, type FalconRegisters, falconRegisters } from "../registers/bind.ts";
import {
  FALCON_HALT_CODE,
  type FalconOutcome,
  type FalconStart,
  SECURE_IMEM_READ,
  SimFalcon,
  type SimFalconEngine,
  SimFalconStateError,
} from "../sim/falcon.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";
import type { LoadedFalcon } from "../sim/acceptance/hs_image.ts";
import { HardwareTimeoutError } from "../errors.ts";

interface Rig {
  falcon: SimFalcon;
  r: FalconRegisters;
  clock: ManualClock;
  memory: SystemMemory;
  starts: FalconStart[];
  bar: { read32(offset: number): number; write32(offset: number, value: number): void };
}

function rig(
  chip: string,
  engine: SimFalconEngine,
  outcome?: (start: FalconStart) => FalconOutcome | Promise<FalconOutcome>,
): Rig {
  const clock = new ManualClock();
  const memory = new SystemMemory();
  const starts: FalconStart[] = [];
  const falcon = new SimFalcon({
    chip,
    engine,
    clock,
    memory,
    onStart: outcome &&
      ((start) => {
        starts.push(start);
        return outcome(start);
      }),
  });
  const bar = {
    read32(offset: number): number {
      const v = falcon.read(offset);
      if (v === undefined) throw new Error(`unmodelled read 0x${offset.toString(16)}`);
      return v;
    },
    write32(offset: number, value: number): void {
      if (!falcon.write(offset, value)) {
        throw new Error(`unmodelled write 0x${offset.toString(16)}`);
      }
    },
  };
  return { falcon, r: falconRegisters(chip, engine), clock, memory, starts, bar };
}

const poll = (t: Rig, read: () => number, ok: (v: number) => boolean, timeoutMs: number) =>
  pollValue(read, ok, { timeoutMs, intervalMs: Math.min(1, timeoutMs / 100), clock: t.clock });

/** TU102 HAL reset (§3.6): ENGINE pulse with a 10 µs hold, then DMACTL scrubbing clear. */
async function resetTu102(t: Rig): Promise<void> {
  const { r, bar } = t;
  r.ENGINE.write(bar, { RESET: 1 });
  await t.clock.sleep(0.01);
  r.ENGINE.write(bar, { RESET: 0 });
  await poll(t, () => r.DMACTL.readRaw(bar), (v) => {
    const f = r.DMACTL.decode(v);
    return f.DMEM_SCRUBBING === 0 && f.IMEM_SCRUBBING === 0;
  }, 10);
}

/** GA102 HAL reset (§3.6): RESET_READY, pulse, MEM_SCRUBBING, core select Falcon, VALID. */
async function resetGa102(t: Rig): Promise<void> {
  const { r, bar } = t;
  r.HWCFG2.readRaw(bar);
  // nova-core ignores this timeout: the hardware may never set RESET_READY.
  await poll(t, () => r.HWCFG2.readRaw(bar), (v) => r.HWCFG2.decode(v).RESET_READY === 1, 0.15)
    .catch((e) => assert(e instanceof HardwareTimeoutError));
  r.ENGINE.write(bar, { RESET: 1 });
  await t.clock.sleep(0.01);
  r.ENGINE.write(bar, { RESET: 0 });
  await poll(t, () => r.HWCFG2.readRaw(bar), (v) => r.HWCFG2.decode(v).MEM_SCRUBBING === 0, 20);
  if (r.RISCV_BCR_CTRL.read(bar).CORE_SELECT !== 0) {
    r.RISCV_BCR_CTRL.write(bar, { CORE_SELECT: 0 });
    await poll(t, () => r.RISCV_BCR_CTRL.readRaw(bar), (v) => (v & 1) === 1, 10);
  }
  await poll(t, () => r.HWCFG2.readRaw(bar), (v) => r.HWCFG2.decode(v).MEM_SCRUBBING === 0, 20);
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

function words(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(i * 4, true));
}

/** PIO IMEM load (§3.6): IMEMC {secure, aincw, dst}; per 256-byte block IMEMT then IMEMD words. */
function pioImem(t: Rig, dst: number, bytes: Uint8Array, secure: boolean, startTag: number) {
  const { r, bar } = t;
  r.IMEMC.at(0).write(bar, {
    SECURE: secure ? 1 : 0,
    AINCW: 1,
    BLK: dst >> 8,
    OFFS: (dst & 0xff) >> 2,
  });
  words(bytes).forEach((w, i) => {
    if (i % 64 === 0) r.IMEMT.at(0).write(bar, { TAG: startTag + i / 64 });
    r.IMEMD.at(0).writeRaw(bar, w);
  });
}

function pioDmem(t: Rig, dst: number, bytes: Uint8Array) {
  const { r, bar } = t;
  r.DMEMC.at(0).write(bar, { AINCW: 1, BLK: dst >> 8, OFFS: (dst & 0xff) >> 2 });
  for (const w of words(bytes)) r.DMEMD.at(0).writeRaw(bar, w);
}

Deno.test("TU102 SEC2: PIO load with tags, start hands onStart the exact memories", async () => {
  const t = rig("tu102", "SEC2", () => ({ kind: "halt", mailbox0: 0, afterMs: 35 }));
  const { r, bar } = t;
  await resetTu102(t);
  r.FBIF_CTL.write(bar, { ALLOW_PHYS_NO_CTX: 1 });
  r.DMACTL.writeRaw(bar, 0);
  const nonSecure = pattern(256, 1);
  const secure = pattern(768, 2);
  const data = pattern(512, 3);
  pioImem(t, 0, nonSecure, false, 0);
  pioImem(t, 0x100, secure, true, 0x10);
  pioDmem(t, 0x200, data);
  r.BOOTVEC.writeRaw(bar, 0x1000);
  r.MAILBOX0.writeRaw(bar, 0xcafe);
  r.MAILBOX1.writeRaw(bar, 0xbeef);
  r.CPUCTL.write(bar, { STARTCPU: 1 });

  assert.equal(t.starts.length, 1);
  const start = t.starts[0];
  assert.equal(start.core, "falcon");
  assert.equal(start.via, "CPUCTL");
  assert.deepEqual(start.imem.subarray(0, 0x400), Uint8Array.from([...nonSecure, ...secure]));
  assert.deepEqual(start.dmem.subarray(0x200, 0x400), data);
  assert.deepEqual(start.imemBlocks.slice(0, 5), [
    { tag: 0, secure: false, method: "pio" },
    { tag: 0x10, secure: true, method: "pio" },
    { tag: 0x11, secure: true, method: "pio" },
    { tag: 0x12, secure: true, method: "pio" },
    undefined,
  ]);
  assert.deepEqual(start.dmemBlocks.slice(1, 5), [undefined, "pio", "pio", undefined]);
  assert.equal(start.dmemMethod, "pio");
  assert.equal(start.bootVector, 0x1000);
  assert.equal(start.brom, undefined);
  assert.equal(start.bcrCtrl, undefined);
  assert.deepEqual([start.mailbox0, start.mailbox1], [0xcafe, 0xbeef]);
  assert.equal(t.falcon.counters.pioWordsWritten, (256 + 768 + 512) / 4);
  // The record is what the acceptance rules take, once the wiring adds the fuse.
  const loaded: LoadedFalcon = { ...start, signatureFuse: 0 };
  assert.equal(loaded.imemBlocks.length, 256);

  // Halts after the modelled 35 ms, found by polling CPUCTL.HALTED as §3.6 does.
  assert.equal(r.CPUCTL.read(bar).HALTED, 0);
  assert(t.falcon.isRunning && !t.falcon.wasResetSinceStart);
  await poll(t, () => r.CPUCTL.readRaw(bar), (v) => r.CPUCTL.decode(v).HALTED === 1, 2000);
  assert(t.clock.now() >= 35);
  assert.equal(r.MAILBOX0.readRaw(bar), 0);
  assert.equal(r.MAILBOX1.readRaw(bar), 0xbeef);
  assert.equal(r.IRQSTAT.read(bar).HALT, 1);
  r.IRQSCLR.write(bar, { HALT: 1 });
  assert.equal(r.IRQSTAT.read(bar).HALT, 0);
  assert.deepEqual(t.falcon.violations, []);
});

Deno.test("GA102 GSP: DMA load through FBIF_TRANSCFG(0) with BROM params", async () => {
  const t = rig("ga102", "GSP", () => ({ kind: "halt", mailbox0: 0 }));
  const { r, bar } = t;
  await resetGa102(t);
  // The image: secure code at image offset 0x300 → IMEM 0, data at 0x900 → DMEM 0.
  const image = pattern(0xb00, 9);
  const iova = 0x123_4560_0000n; // above 2^40: DMATRFBASE1 is needed
  using _m = t.memory.map(iova, image.slice());
  r.FBIF_CTL.write(bar, { ALLOW_PHYS_NO_CTX: 1 });
  r.DMACTL.writeRaw(bar, 0);
  r.FBIF_TRANSCFG.at(0).write(bar, { TARGET: 1, MEM_TYPE: 1 });
  const dmaChunks = async (base: bigint, src: number, dst: number, len: number, imem: boolean) => {
    r.DMATRFBASE.writeRaw(bar, Number((base >> 8n) & 0xffffffffn));
    r.DMATRFBASE1.writeRaw(bar, Number(base >> 40n));
    for (let pos = 0; pos < len; pos += 256) {
      r.DMATRFMOFFS.writeRaw(bar, dst + pos);
      r.DMATRFFBOFFS.writeRaw(bar, src + pos);
      r.DMATRFCMD.write(bar, { SIZE: 6, IMEM: imem ? 1 : 0, SEC: imem ? 1 : 0 });
      await poll(t, () => r.DMATRFCMD.readRaw(bar), (v) => r.DMATRFCMD.decode(v).IDLE === 1, 2000);
    }
  };
  await dmaChunks(iova, 0x300, 0, 0x600, true); // IMEM: base = buffer, FBOFFS = src + pos
  await dmaChunks(iova + 0x900n, 0, 0, 0x200, false); // DMEM: base = buffer + src, FBOFFS = pos
  r.BROM_PARAADDR.at(0).writeRaw(bar, 0x40);
  r.BROM_ENGIDMASK.writeRaw(bar, 0x400);
  r.BROM_CURR_UCODE_ID.write(bar, { VAL: 9 });
  r.MOD_SEL.write(bar, { ALGO: 1 });
  r.BOOTVEC.writeRaw(bar, 0x300);
  r.CPUCTL.write(bar, { STARTCPU: 1 });

  const [start] = t.starts;
  assert.equal(start.core, "falcon");
  assert.deepEqual(start.imem.subarray(0, 0x600), image.subarray(0x300, 0x900));
  assert.deepEqual(start.dmem.subarray(0, 0x200), image.subarray(0x900, 0xb00));
  assert.deepEqual(
    start.imemBlocks.slice(0, 7),
    [3, 4, 5, 6, 7, 8].map((tag) => ({ tag, secure: true, method: "dma" })).concat([undefined!]),
  );
  assert.equal(start.dmemMethod, "dma");
  assert.deepEqual(start.brom, { pkcDataOffset: 0x40, engineIdMask: 0x400, ucodeId: 9, modSel: 1 });
  assert.equal(start.bootVector, 0x300);
  assert.equal(r.FBIF_TRANSCFG.decode(start.transcfg[0]).TARGET, 1);
  assert.equal(r.RISCV_BCR_CTRL.decode(start.bcrCtrl!).CORE_SELECT, 0);
  assert.equal(t.falcon.counters.dmaBytesRead, 0x800);
  assert.equal(t.falcon.counters.pioWordsWritten, 0);
  assert(t.falcon.isHalted);
  assert.deepEqual(t.falcon.violations, []);
});

Deno.test("reading IMEMD/DMEMD auto-increments with AINCR; secure IMEM reads back 0xdead5ec1", () => {
  const t = rig("tu102", "GSP");
  const { r, bar } = t;
  pioImem(t, 0, pattern(256, 4), false, 0);
  pioImem(t, 0x100, pattern(256, 5), true, 1);
  const aincr = 1 << 25; // IMEMC/DMEMC.AINCR (TU102 header); registers/ lacks it on IMEMC
  r.IMEMC.at(1).writeRaw(bar, r.IMEMC.encode({ BLK: 0, OFFS: 1 }) | aincr);
  const expected = words(pattern(256, 4));
  assert.equal(r.IMEMD.at(1).readRaw(bar), expected[1]);
  assert.equal(r.IMEMD.at(1).readRaw(bar), expected[2]);
  assert.equal(r.IMEMC.at(1).read(bar).OFFS, 3);
  // Without AINCR the address stays.
  r.IMEMC.at(1).write(bar, { OFFS: 1 });
  assert.equal(r.IMEMD.at(1).readRaw(bar), expected[1]);
  assert.equal(r.IMEMD.at(1).readRaw(bar), expected[1]);
  // Secure blocks are not readable by the host.
  r.IMEMC.at(1).write(bar, { BLK: 1 });
  assert.equal(r.IMEMD.at(1).readRaw(bar), SECURE_IMEM_READ);
  // DMEM: a read-modify-write through DMEMD with AINCR/AINCW lands one word off.
  pioDmem(t, 0, Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]));
  r.DMEMC.at(0).writeRaw(bar, r.DMEMC.encode({ AINCW: 1 }) | aincr);
  const first = r.DMEMD.at(0).readRaw(bar);
  r.DMEMD.at(0).writeRaw(bar, first | 0x100);
  assert.deepEqual([...t.falcon.dmemSnapshot().subarray(0, 12)], [
    1,
    0,
    0,
    0,
    1,
    1,
    0,
    0,
    3,
    0,
    0,
    0,
  ]);
  assert.equal(t.falcon.counters.pioWordsRead, 6);
});

Deno.test("DMA from an unmapped IOVA stops the falcon with MAILBOX0 = dmaFault", async () => {
  const t = rig("ga102", "SEC2", () => ({ kind: "halt", mailbox0: 0 }));
  const { r, bar } = t;
  using _m = t.memory.map(0x10_0000n, new Uint8Array(0x1000));
  r.FBIF_CTL.write(bar, { ALLOW_PHYS_NO_CTX: 1 });
  r.DMACTL.writeRaw(bar, 0);
  r.FBIF_TRANSCFG.at(0).write(bar, { TARGET: 1, MEM_TYPE: 1 });
  r.DMATRFBASE.writeRaw(bar, 0x10_0000 >> 8);
  r.DMATRFFBOFFS.writeRaw(bar, 0x1000 - 0x80); // the chunk runs past the mapping's end
  r.DMATRFCMD.write(bar, { SIZE: 6, IMEM: 1, SEC: 1 });
  assert.equal(r.MAILBOX0.readRaw(bar), FALCON_HALT_CODE.dmaFault);
  assert.deepEqual(t.falcon.dmaError, {
    reason: t.falcon.dmaError!.reason,
    iova: 0x10_0f80n,
    length: 256,
  });
  assert.match(t.falcon.dmaError!.reason, /IOMMU fault/);
  assert(t.falcon.isHalted);
  // The transfer never completes: the §3.6 idle poll times out.
  await assert.rejects(
    poll(t, () => r.DMATRFCMD.readRaw(bar), (v) => r.DMATRFCMD.decode(v).IDLE === 1, 2000),
    HardwareTimeoutError,
  );
  // A start is ignored; MAILBOX0 keeps the error.
  r.CPUCTL.write(bar, { STARTCPU: 1 });
  assert.equal(t.starts.length, 0);
  assert.equal(r.MAILBOX0.readRaw(bar), FALCON_HALT_CODE.dmaFault);
  assert.match(t.falcon.violations.at(-1)!, /STARTCPU after a DMA error/);
  // Only a reset clears it.
  await resetGa102(t);
  assert.equal(t.falcon.dmaError, undefined);
  assert.equal(r.DMATRFCMD.read(bar).IDLE, 1);
  assert.equal(r.MAILBOX0.readRaw(bar), 0);
});

Deno.test("DMA the hardware refuses: REQUIRE_CTX, no ALLOW_PHYS_NO_CTX, virtual, local FB", () => {
  const cases: [string, (t: Rig) => void, RegExp][] = [
    ["DMACTL left at reset", (t) => t.r.DMACTL.write(t.bar, { REQUIRE_CTX: 1 }), /REQUIRE_CTX/],
    ["FBIF_CTL clear", (t) => t.r.FBIF_CTL.writeRaw(t.bar, 0), /ALLOW_PHYS_NO_CTX/],
    [
      "virtual",
      (t) => t.r.FBIF_TRANSCFG.at(0).write(t.bar, { TARGET: 1, MEM_TYPE: 0 }),
      /virtual/,
    ],
    [
      "local FB",
      (t) => t.r.FBIF_TRANSCFG.at(0).write(t.bar, { TARGET: 0, MEM_TYPE: 1 }),
      /not system memory/,
    ],
    ["misaligned", (t) => t.r.DMATRFMOFFS.writeRaw(t.bar, 0x80), /not aligned/],
  ];
  for (const [name, spoil, reason] of cases) {
    const t = rig("ga102", "GSP");
    const { r, bar } = t;
    using _m = t.memory.map(0x10_0000n, new Uint8Array(0x1000));
    r.FBIF_CTL.write(bar, { ALLOW_PHYS_NO_CTX: 1 });
    r.DMACTL.writeRaw(bar, 0);
    r.FBIF_TRANSCFG.at(0).write(bar, { TARGET: 1, MEM_TYPE: 1 });
    r.DMATRFBASE.writeRaw(bar, 0x10_0000 >> 8);
    spoil(t);
    r.DMATRFCMD.write(bar, { SIZE: 6, IMEM: 1 });
    assert.match(t.falcon.dmaError?.reason ?? "", reason, name);
    assert.equal(r.MAILBOX0.readRaw(bar), FALCON_HALT_CODE.dmaFault, name);
    assert.equal(t.falcon.counters.dmaBytesRead, 0, name);
  }
});

Deno.test("the ENGINE reset clears the falcon, self-clears, and scrubbing takes virtual time", async () => {
  const t = rig("ga102", "GSP", () => ({ kind: "hang" }));
  const { r, bar, falcon } = t;
  pioDmem(t, 0, pattern(256, 6));
  r.MAILBOX0.writeRaw(bar, 5);
  r.BOOTVEC.writeRaw(bar, 0x100);
  r.CPUCTL.write(bar, { STARTCPU: 1 });
  assert(falcon.isRunning && !falcon.wasResetSinceStart);

  r.ENGINE.write(bar, { RESET: 1 });
  assert(falcon.inReset && falcon.isHalted && falcon.wasResetSinceStart);
  assert.equal(r.ENGINE.read(bar).RESET, 1);
  t.clock.advance(0.01); // the pulse clears itself after 10 µs
  assert.equal(r.ENGINE.read(bar).RESET, 0);
  // Scrubbing runs: 512 blocks of 256 bytes at 1 µs each.
  assert.equal(r.HWCFG2.read(bar).MEM_SCRUBBING, 1);
  assert.equal(r.DMACTL.read(bar).IMEM_SCRUBBING, 1);
  r.DMEMD.at(0).writeRaw(bar, 1); // ignored while scrubbing
  assert.match(falcon.violations.at(-1)!, /DMEMD\(0\) write during memory scrubbing/);
  const released = t.clock.now();
  await poll(t, () => r.HWCFG2.readRaw(bar), (v) => r.HWCFG2.decode(v).MEM_SCRUBBING === 0, 20);
  assert(t.clock.now() - released >= 0.5);
  assert.equal(r.DMACTL.read(bar).DMEM_SCRUBBING, 0);
  // Everything is back to its reset value.
  assert(falcon.dmemSnapshot().every((b) => b === 0));
  assert(falcon.dmemBlocks().every((b) => b === undefined));
  assert.equal(r.MAILBOX0.readRaw(bar), 0);
  assert.equal(r.BOOTVEC.readRaw(bar), 0);
  assert.equal(r.DMACTL.read(bar).REQUIRE_CTX, 1);
  assert.equal(r.CPUCTL.read(bar).HALTED, 1);
  assert.equal(falcon.counters.resets, 1);
});

Deno.test("a block reset clears this falcon only; the GH100 layout has lockdown and RESET_STATUS", () => {
  const a = rig("gh100", "GSP");
  const b = rig("gh100", "SEC2");
  a.r.MAILBOX0.writeRaw(a.bar, 1);
  b.r.MAILBOX0.writeRaw(b.bar, 2);
  a.falcon.setPrivLockdown(true);
  assert.equal(a.r.HWCFG2.read(a.bar).RISCV_BR_PRIV_LOCKDOWN, 1);
  assert.equal(a.r.ENGINE.read(a.bar).RESET_STATUS, 2);
  a.falcon.reset("engine");
  assert.equal(a.r.MAILBOX0.readRaw(a.bar), 0);
  assert.equal(b.r.MAILBOX0.readRaw(b.bar), 2);
  assert.equal(a.r.HWCFG2.read(a.bar).RISCV_BR_PRIV_LOCKDOWN, 1); // the FSP's, not the engine's
  a.falcon.reset("function");
  assert.equal(a.r.HWCFG2.read(a.bar).RISCV_BR_PRIV_LOCKDOWN, 0);
  // GA102's HWCFG2 has no lockdown bit, TU102's no MEM_SCRUBBING.
  assert.equal(
    rig("ga102", "GSP").r.HWCFG2.read({ read32: () => 0 }).RISCV_BR_PRIV_LOCKDOWN,
    undefined,
  );
  assert.equal(rig("tu102", "GSP").r.HWCFG2.read({ read32: () => 0 }).MEM_SCRUBBING, undefined);
});

Deno.test("HWCFG reports the memory sizes; HWCFG2.RISCV per engine", () => {
  for (
    const [chip, engine, riscv] of [
      ["tu102", "GSP", 1],
      ["tu102", "SEC2", 0],
      ["ga102", "SEC2", 1],
      ["ad102", "GSP", 1],
    ] as const
  ) {
    const t = rig(chip, engine);
    const hwcfg = t.r.HWCFG.readRaw(t.bar);
    assert.equal(t.r.HWCFG.decode(hwcfg).IMEM_SIZE * 256, t.falcon.imemSize);
    assert.equal(((hwcfg >>> 9) & 0x1ff) * 256, t.falcon.dmemSize);
    assert.equal(t.r.HWCFG2.read(t.bar).RISCV, riscv, `${chip} ${engine}`);
  }
  const small = new SimFalcon({
    chip: "tu102",
    engine: "GSP",
    clock: new ManualClock(),
    memory: new SystemMemory(),
    imemSize: 0x8000,
  });
  const r = falconRegisters("tu102", "GSP");
  assert.equal(r.HWCFG.decode(small.read(r.HWCFG.address)!).IMEM_SIZE, 0x80);
  assert.throws(
    () =>
      new SimFalcon({
        ...small,
        chip: "tu102",
        engine: "GSP",
        clock: new ManualClock(),
        memory: new SystemMemory(),
        imemSize: 100,
      }),
    RangeError,
  );
});

Deno.test("Turing generic bootloader at the top of IMEM as HWCFG reports it (§13)", () => {
  const t = rig("tu102", "GSP", () => ({ kind: "halt", mailbox0: 0 }));
  const { r, bar } = t;
  const code = pattern(512, 8);
  const top = r.HWCFG.read(bar).IMEM_SIZE * 256 - code.length;
  pioImem(t, top, code, false, 253);
  pioDmem(t, 0, pattern(84, 1).slice(0, 84));
  r.BOOTVEC.writeRaw(bar, 253 << 8);
  r.CPUCTL.write(bar, { STARTCPU: 1 });
  const [start] = t.starts;
  assert.equal(top, 0xfe00);
  assert.deepEqual(start.imemBlocks.slice(-2), [
    { tag: 253, secure: false, method: "pio" },
    { tag: 254, secure: false, method: "pio" },
  ]);
  assert.deepEqual(start.imem.subarray(top), code);
  // The port's address has run past the top: BLK wraps in its 8-bit Turing field.
  assert.deepEqual([r.IMEMC.at(0).read(bar).BLK, r.IMEMC.at(0).read(bar).OFFS], [0, 0]);
});

Deno.test("core select on GA102: RISC-V after reset, VALID after a write, recorded at start", async () => {
  const t = rig("ga102", "GSP", () => ({ kind: "riscv-active", afterMs: 1 }));
  const { r, bar } = t;
  const bcr = r.RISCV_BCR_CTRL.read(bar);
  assert.deepEqual([bcr.CORE_SELECT, bcr.VALID], [1, 0]);
  r.CPUCTL.write(bar, { STARTCPU: 1 });
  assert.equal(t.starts[0].core, "riscv");
  assert.equal(r.RISCV_CPUCTL.read(bar).ACTIVE_STAT, 0);
  await t.clock.sleep(1);
  assert.equal(r.RISCV_CPUCTL.read(bar).ACTIVE_STAT, 1);
  assert(t.falcon.riscvActive && t.falcon.isRunning);
  t.falcon.firmwareHalt(0x8000_0000);
  assert.deepEqual(r.RISCV_CPUCTL.read(bar).HALTED, 1);
  assert.equal(r.RISCV_CPUCTL.read(bar).ACTIVE_STAT, 0);
  assert.equal(r.MAILBOX0.readRaw(bar), 0x8000_0000);
  await resetGa102(t);
  assert.deepEqual(r.RISCV_BCR_CTRL.read(bar).VALID, 1);
  r.CPUCTL.write(bar, { STARTCPU: 1 });
  assert.equal(t.starts[1].core, "falcon");
  // TU102 has no BCR_CTRL: the Turing GSP reports RISC-V through CORE_SWITCH_RISCV_STATUS.
  const tu = rig("tu102", "GSP");
  assert(!tu.r.RISCV_BCR_CTRL.present);
  assert.equal(tu.r.RISCV_CORE_SWITCH_RISCV_STATUS.read(tu.bar).ACTIVE_STAT, 0);
  tu.falcon.activateRiscv();
  assert.equal(tu.r.RISCV_CORE_SWITCH_RISCV_STATUS.read(tu.bar).ACTIVE_STAT, 1);
});

Deno.test("CPUCTL_ALIAS starts the CPU only when ALIAS_EN, and CPUCTL only when not", () => {
  const t = rig("ga102", "SEC2", () => ({ kind: "halt", mailbox0: 0 }));
  const { r, bar, falcon } = t;
  r.CPUCTL_ALIAS.write(bar, { STARTCPU: 1 });
  assert.equal(t.starts.length, 0);
  assert.match(falcon.violations.at(-1)!, /CPUCTL_ALIAS.STARTCPU ignored: CPUCTL.ALIAS_EN is 0/);
  falcon.setAliasEnabled(true);
  assert.equal(r.CPUCTL.read(bar).ALIAS_EN, 1);
  r.CPUCTL.write(bar, { STARTCPU: 1 });
  assert.equal(t.starts.length, 0);
  r.CPUCTL_ALIAS.write(bar, { STARTCPU: 1 });
  assert.equal(t.starts.length, 1);
  assert.equal(t.starts[0].via, "CPUCTL_ALIAS");
});

Deno.test("outcomes: no model, async model, hang, a model that throws", async () => {
  const none = rig("tu102", "GSP");
  none.r.CPUCTL.write(none.bar, { STARTCPU: 1 });
  assert(none.falcon.isHalted);
  assert.equal(none.r.MAILBOX0.readRaw(none.bar), FALCON_HALT_CODE.noFirmware);

  const later = rig("ga102", "SEC2", async (start) => {
    await Promise.resolve();
    return { kind: "halt", mailbox0: start.mailbox0 + 1, mailbox1: 7, afterMs: 5 };
  });
  later.r.MAILBOX0.writeRaw(later.bar, 41);
  later.r.CPUCTL.write(later.bar, { STARTCPU: 1 });
  await later.falcon.settled();
  assert(later.falcon.isRunning);
  await later.clock.sleep(5);
  assert.deepEqual(later.falcon.mailboxes, [42, 7]);

  const hang = rig("ga102", "GSP", () => ({ kind: "hang" }));
  hang.r.CPUCTL.write(hang.bar, { STARTCPU: 1 });
  await assert.rejects(
    poll(hang, () => hang.r.CPUCTL.readRaw(hang.bar), (v) => (v & 0x10) !== 0, 2000),
    HardwareTimeoutError,
  );
  hang.r.CPUCTL.write(hang.bar, { STARTCPU: 1 });
  assert.match(hang.falcon.violations.at(-1)!, /STARTCPU while the CPU runs/);

  const broken = rig("ga102", "GSP", () => {
    throw new Error("bug");
  });
  broken.r.CPUCTL.write(broken.bar, { STARTCPU: 1 });
  assert.equal(broken.falcon.mailboxes[0], FALCON_HALT_CODE.modelError);

  // A reset while an async model is still thinking drops its outcome.
  let release!: () => void;
  const slow = rig("ga102", "GSP", () =>
    new Promise<FalconOutcome>((resolve) => {
      release = () => resolve({ kind: "halt", mailbox0: 3 });
    }));
  slow.r.CPUCTL.write(slow.bar, { STARTCPU: 1 });
  slow.falcon.reset("engine");
  release();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(slow.falcon.mailboxes[0], 0);
});

Deno.test("ranges: only modelled registers; unknown offsets are undefined; PGSP queue outside", () => {
  const t = rig("ga102", "GSP");
  const { falcon, r } = t;
  assert.equal(falcon.ranges.length, 3);
  const inside = (o: number) => falcon.ranges.some((x) => x.start <= o && o < x.end);
  const unknown = r.IRQSTAT.address + 4; // between IRQSTAT and MAILBOX0
  assert(inside(unknown));
  assert.equal(falcon.read(unknown), undefined);
  assert.equal(falcon.write(unknown, 1), false);
  assert(!inside(chipRegisters("ga102").PGSP.QUEUE_HEAD.address));
  for (const reg of [r.CPUCTL, r.ENGINE, r.RISCV_BCR_CTRL, r.BROM_PARAADDR, r.FBIF_CTL]) {
    assert(inside(reg.address), reg.name);
  }
  // A Turing SEC2 has no falcon2 block at all.
  assert.equal(rig("tu102", "SEC2").falcon.ranges.length, 2);
  // Read-only registers drop writes and say so.
  assert.equal(falcon.write(r.HWCFG.address, 0), true);
  assert.match(falcon.violations.at(-1)!, /read-only/);
});

Deno.test("the falcon's halt codes are the acceptance rules' codes", () => {
  assert.equal(FALCON_HALT_CODE.noFirmware, HS_ERROR.unknownImage);
  assert.equal(FALCON_HALT_CODE.dmaFault, HS_ERROR.dmaFault);
  assert(!(Object.values(HS_ERROR) as number[]).includes(FALCON_HALT_CODE.modelError));
});

Deno.test("snapshot/restore round-trips through JSON; a mismatched state is refused", async () => {
  const t = rig("tu102", "GSP", () => ({ kind: "halt", mailbox0: 9, afterMs: 10 }));
  const { r, bar } = t;
  pioImem(t, 0x200, pattern(512, 7), true, 0x40);
  pioDmem(t, 0x100, pattern(256, 8));
  r.BOOTVEC.writeRaw(bar, 0x4000);
  r.FBIF_TRANSCFG.at(4).write(bar, { TARGET: 1, MEM_TYPE: 1 });
  r.CPUCTL.write(bar, { STARTCPU: 1 });
  t.clock.advance(4);
  const saved = JSON.parse(JSON.stringify(t.falcon.snapshot()));

  const u = rig("tu102", "GSP");
  u.clock.advance(1000);
  u.falcon.restore(saved);
  assert.deepEqual(u.falcon.imemSnapshot(), t.falcon.imemSnapshot());
  assert.deepEqual(u.falcon.dmemSnapshot(), t.falcon.dmemSnapshot());
  assert.deepEqual(u.falcon.imemBlocks(), t.falcon.imemBlocks());
  assert.deepEqual(u.falcon.dmemBlocks(), t.falcon.dmemBlocks());
  assert.equal(u.r.BOOTVEC.readRaw(u.bar), 0x4000);
  assert.equal(u.r.FBIF_TRANSCFG.at(4).readRaw(u.bar), t.r.FBIF_TRANSCFG.at(4).readRaw(bar));
  assert(u.falcon.isRunning && !u.falcon.wasResetSinceStart);
  await u.clock.sleep(6); // the pending halt keeps its remaining 6 ms
  assert.equal(u.falcon.mailboxes[0], 9);
  assert.deepEqual(u.falcon.counters, t.falcon.counters);

  assert.throws(() => rig("ga102", "GSP").falcon.restore(saved), SimFalconStateError);
  assert.throws(() => rig("tu102", "SEC2").falcon.restore(saved), /engine/);
  assert.throws(() => u.falcon.restore({ ...saved, version: 2 }), /version/);
});

Deno.test("a timed DMA: IDLE and RESET_READY read 0 until the transfer's time has passed", async () => {
  const clock = new ManualClock();
  const memory = new SystemMemory();
  const falcon = new SimFalcon({
    chip: "ad102",
    engine: "SEC2",
    clock,
    memory,
    timing: { dmaBytesPerMs: 1024 },
  });
  const r = falconRegisters("ad102", "SEC2");
  const image = pattern(512, 10);
  using _m = memory.map(0x20_0000n, image.slice());
  falcon.write(r.FBIF_CTL.address, r.FBIF_CTL.encode({ ALLOW_PHYS_NO_CTX: 1 }));
  falcon.write(r.DMACTL.address, 0);
  falcon.write(r.FBIF_TRANSCFG.at(0).address, r.FBIF_TRANSCFG.encode({ TARGET: 2, MEM_TYPE: 1 }));
  falcon.write(r.DMATRFBASE.address, 0x20_0000 >> 8);
  falcon.write(r.DMATRFMOFFS.address, 0x100);
  falcon.write(r.DMATRFFBOFFS.address, 0x100);
  falcon.write(r.DMATRFCMD.address, r.DMATRFCMD.encode({ SIZE: 6 })); // DMEM
  assert.equal(r.DMATRFCMD.decode(falcon.read(r.DMATRFCMD.address)!).IDLE, 0);
  assert.equal(r.HWCFG2.decode(falcon.read(r.HWCFG2.address)!).RESET_READY, 0);
  falcon.write(r.DMATRFCMD.address, r.DMATRFCMD.encode({ SIZE: 6 }));
  assert.match(falcon.violations.at(-1)!, /in flight/);
  await clock.sleep(0.25);
  assert.equal(r.DMATRFCMD.decode(falcon.read(r.DMATRFCMD.address)!).IDLE, 1);
  assert.equal(r.HWCFG2.decode(falcon.read(r.HWCFG2.address)!).RESET_READY, 1);
  assert.deepEqual(falcon.dmemSnapshot().subarray(0x100, 0x200), image.subarray(0x100, 0x200));
  assert.deepEqual(falcon.dmemBlocks().slice(0, 3), [undefined, "dma", undefined]);
  assert.equal(falcon.counters.dmaBytesRead, 256);
});

Deno.test("a DMA write (falcon to system memory) and a small transfer", () => {
  const t = rig("ga102", "GSP");
  const { r, bar } = t;
  const host = new Uint8Array(0x1000);
  using _m = t.memory.map(0x40_0000n, host);
  pioDmem(t, 0, pattern(256, 11));
  r.FBIF_CTL.write(bar, { ALLOW_PHYS_NO_CTX: 1 });
  r.DMACTL.writeRaw(bar, 0);
  r.FBIF_TRANSCFG.at(3).write(bar, { TARGET: 1, MEM_TYPE: 1 });
  r.DMATRFBASE.writeRaw(bar, 0x40_0000 >> 8);
  r.DMATRFMOFFS.writeRaw(bar, 0x10);
  r.DMATRFFBOFFS.writeRaw(bar, 0x800);
  r.DMATRFCMD.write(bar, { SIZE: 2, WRITE: 1, CTXDMA: 3 }); // 16 bytes
  assert.deepEqual(host.subarray(0x800, 0x810), pattern(256, 11).subarray(0x10, 0x20));
  assert.equal(host[0x810], 0);
  assert.equal(t.falcon.counters.dmaBytesWritten, 16);
  assert.equal(r.DMATRFCMD.read(bar).IDLE, 1);
});
