/**
 * The CPU sequencer interpreter against a Map-backed BAR0 and recorded
 * falcon operations, on a virtual clock: every opcode, REG_STORE's save
 * area, REG_POLL's microsecond timeout, cmdIndex as the end position, bounds
 * checks, CORE_RESUME's handshake, and aborts.
 */

import assert from "node:assert/strict";
import { HardwareTimeoutError } from "../errors.ts";
import {
  decodeSequencerPayload,
  runSequencer,
  type RunSequencerOptions,
  SEQ_OPCODE,
  SequencerError,
  type SequencerFalconOps,
} from "../gsp/sequencer.ts";
import { ManualClock } from "../pci/clock.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import { FakeBar } from "./_gsp_rm_harness.ts";

const { REG_WRITE, REG_MODIFY, REG_POLL, DELAY_US, REG_STORE } = SEQ_OPCODE;
const { CORE_RESET, CORE_START, CORE_WAIT_FOR_HALT, CORE_RESUME } = SEQ_OPCODE;

/** Pack a payload by hand: header, then the words, then zeros up to bufferSizeDWord. */
function payload(words: number[], options: { cmdIndex?: number; bufferSizeDWord?: number } = {}) {
  const bufferSizeDWord = options.bufferSizeDWord ?? words.length + 8;
  const all = new Uint32Array(10 + Math.max(bufferSizeDWord, words.length));
  all[0] = bufferSizeDWord;
  all[1] = options.cmdIndex ?? words.length;
  all.set(words, 10);
  return new Uint8Array(all.buffer);
}

function setUp(chip = "tu102") {
  const bar = new FakeBar();
  const clock = new ManualClock();
  const calls: string[] = [];
  const gsp = falconRegisters(chip, "GSP");
  const sec2 = falconRegisters(chip, "SEC2");
  const handoff = chipRegisters(chip).PGC6.BSI_SECURE_SCRATCH_14;
  const falcon: SequencerFalconOps = {
    resetGsp: () => (calls.push("resetGsp"), Promise.resolve()),
    startGsp: () => void calls.push("startGsp"),
    waitGspHalted: (timeoutMs) => (calls.push(`waitGspHalted ${timeoutMs}`), Promise.resolve()),
    resetGspIntoRiscv: () => (calls.push("resetGspIntoRiscv"), Promise.resolve()),
    startSec2: () => {
      calls.push(
        `startSec2 mbox ${gsp.MAILBOX1.readRaw(bar).toString(16)}:${
          gsp.MAILBOX0.readRaw(bar).toString(16)
        }`,
      );
      handoff.writeRaw(bar, 1 << 26);
    },
    isGspRiscvActive: () => true,
  };
  const options: RunSequencerOptions = {
    bar,
    clock,
    chip,
    falcon,
    libosArgsAddress: 0x12_3456_7000n,
    osVersion: 0x570144,
  };
  return { bar, clock, calls, gsp, sec2, handoff, falcon, options };
}

const A = 0x0011_0000; // a register inside BAR0
const B = 0x0011_0004;

Deno.test("every opcode, in one script", async () => {
  const s = setUp("ga102");
  s.bar.words.set(B, 0xffff_0f0f);
  s.bar.words.set(s.gsp.FBIF_CTL.address, 0x3);
  s.bar.words.set(s.gsp.DMACTL.address, 0x7f);
  s.bar.words.set(0x1000, 0xcafe);
  const script = [
    REG_WRITE,
    A,
    0x1234_5678,
    REG_MODIFY,
    B,
    0x0000_ff00,
    0x0000_aa00,
    REG_POLL,
    A,
    0xffff_0000,
    0x1234_0000,
    100,
    7,
    DELAY_US,
    2500,
    REG_STORE,
    A,
    0,
    REG_STORE,
    0x1000,
    7,
    CORE_RESET,
    CORE_START,
    CORE_WAIT_FOR_HALT,
    CORE_RESUME,
  ];
  const result = await runSequencer(payload(script), s.options);
  assert.equal(result.executed, 10);
  assert.equal(s.bar.read32(A), 0x1234_5678);
  assert.equal(s.bar.read32(B), 0xffff_aa0f); // (old & ~mask) | val
  assert.deepEqual(result.regSaveArea, [0x1234_5678, 0, 0, 0, 0, 0, 0, 0xcafe]);
  assert.equal(s.clock.now(), 2.5); // DELAY_US 2500 µs; the poll matched at once
  // CORE_RESET: falcon reset, then ALLOW_PHYS_NO_CTX set and DMACTL cleared.
  assert.equal(s.gsp.FBIF_CTL.read(s.bar).ALLOW_PHYS_NO_CTX, 1);
  assert.equal(s.bar.read32(s.gsp.DMACTL.address), 0);
  assert.deepEqual(s.calls, [
    "resetGsp",
    "startGsp",
    "waitGspHalted 2000",
    "resetGspIntoRiscv",
    "startSec2 mbox 12:34567000",
  ]);
  // GA102: FALCON_OS carries the app version after the resume.
  assert.equal(s.gsp.OS.readRaw(s.bar), 0x570144);
});

Deno.test("CORE_RESUME on TU102 leaves FALCON_OS alone; SEC2 MAILBOX0 ≠ 0 fails", async () => {
  const s = setUp("tu102");
  await runSequencer(payload([CORE_RESUME]), s.options);
  assert.equal(s.bar.words.has(s.gsp.OS.address), false);

  const t = setUp("tu102");
  t.falcon.startSec2 = () => {
    t.handoff.writeRaw(t.bar, 1 << 26);
    t.sec2.MAILBOX0.writeRaw(t.bar, 0xbad);
  };
  const e = await runSequencer(payload([CORE_RESUME]), t.options).catch((e) => e);
  assert(e instanceof SequencerError);
  assert.equal(e.field, "SEC2 MAILBOX0");
  assert.match(e.message, /0xbad/);
});

Deno.test("CORE_RESUME waits 4 s for the SEC2 handoff, then fails naming it", async () => {
  const s = setUp("tu102");
  s.falcon.startSec2 = () => {};
  const e = await runSequencer(payload([CORE_RESUME]), s.options).catch((e) => e);
  assert(e instanceof SequencerError);
  assert(e.cause instanceof HardwareTimeoutError);
  assert.match(e.message, /BOOT_STAGE_3_HANDOFF/);
  assert.equal(s.clock.now(), 4000);
});

Deno.test("cmdIndex is the end position in words: commands after it never run", async () => {
  const s = setUp();
  const words = [REG_WRITE, A, 1, DELAY_US, 10, REG_WRITE, B, 2];
  const p = payload(words, { cmdIndex: 5, bufferSizeDWord: 16 });
  const script = decodeSequencerPayload(p);
  assert.deepEqual(script.commands.map((c) => [c.position, c.op]), [[0, "REG_WRITE"], [
    3,
    "DELAY_US",
  ]]);
  await runSequencer(p, s.options);
  assert.equal(s.bar.read32(A), 1);
  assert.equal(s.bar.words.has(B), false);
});

Deno.test("malformed headers and scripts are SequencerErrors naming the field", () => {
  const cases: [Uint8Array, string, number][] = [
    [payload([CORE_START], { cmdIndex: 16, bufferSizeDWord: 16 }), "cmdIndex", -1],
    [payload([CORE_START], { cmdIndex: 1, bufferSizeDWord: 0 }), "bufferSizeDWord", -1],
    [payload([DELAY_US, 1, 99]), "opcode", 2],
    [payload([REG_WRITE, A], { cmdIndex: 2 }), "payload", 0],
    [new Uint8Array(39), "payload", -1],
  ];
  for (const [bytes, field, position] of cases) {
    assert.throws(() => decodeSequencerPayload(bytes), (e) => {
      assert(e instanceof SequencerError);
      assert.equal(e.field, field);
      assert.equal(e.position, position);
      return true;
    });
  }
  // cmdIndex past the words actually sent.
  const short = payload([CORE_START], { bufferSizeDWord: 1000 }).subarray(0, 44);
  new DataView(short.buffer).setUint32(4, 5, true);
  assert.throws(() => decodeSequencerPayload(short), /cmdIndex/);
});

Deno.test("an address outside BAR0 or unaligned is refused before any access", async () => {
  for (const addr of [0x100_0000, 0xffff_fffc, A + 2]) {
    const s = setUp();
    const e = await runSequencer(payload([REG_WRITE, A, 5, REG_WRITE, addr, 1]), s.options)
      .catch((e) => e);
    assert(e instanceof SequencerError, `0x${addr.toString(16)}`);
    assert.equal(e.field, "addr");
    assert.equal(e.position, 3);
    assert.equal(e.opcode, "REG_WRITE");
    assert.deepEqual(s.bar.writes, [[A, 5]]);
  }
});

Deno.test("REG_STORE keeps the value in regSaveArea[index]; index 8 is refused", async () => {
  const s = setUp();
  s.bar.words.set(A, 0xabcd);
  const result = await runSequencer(payload([REG_STORE, A, 3]), s.options);
  assert.equal(result.regSaveArea[3], 0xabcd);
  const e = await runSequencer(payload([REG_STORE, A, 8]), s.options).catch((e) => e);
  assert(e instanceof SequencerError);
  assert.equal(e.field, "index");
});

Deno.test("REG_POLL's timeout is in microseconds, 0 meaning 4 s, and keeps its error code", async () => {
  for (const [timeoutUs, expectedMs] of [[2500, 2.5], [0, 4000], [1_000_000, 1000]]) {
    const s = setUp();
    const e = await runSequencer(payload([REG_POLL, A, 1, 1, timeoutUs, 0x42]), s.options)
      .catch((e) => e);
    assert(e instanceof SequencerError, String(e));
    assert.equal(e.errorCode, 0x42);
    assert.equal(e.field, "timeout");
    assert(e.cause instanceof HardwareTimeoutError);
    assert(Math.abs(s.clock.now() - expectedMs) < 1e-9, `${timeoutUs} µs took ${s.clock.now()} ms`);
  }
  // A value that arrives in time is accepted.
  const s = setUp();
  let reads = 0;
  const read32 = s.bar.read32.bind(s.bar);
  s.bar.read32 = (offset) => (offset === A && ++reads > 5000 ? 1 : read32(offset));
  await runSequencer(payload([REG_POLL, A, 1, 1, 10_000, 0]), s.options);
  assert(s.clock.now() > 0 && s.clock.now() <= 10);
});

Deno.test("an abort stops DELAY_US and REG_POLL with the signal's reason", async () => {
  for (const words of [[DELAY_US, 1_000_000], [REG_POLL, A, 1, 1, 0, 0]]) {
    const s = setUp();
    const controller = new AbortController();
    const reason = new Error("stop");
    const run = runSequencer(payload(words), { ...s.options, signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(run, (e) => e === reason);
    assert(s.clock.now() < 1000);
  }
});
