import assert from "node:assert/strict";
import {
  encodeSequencerPayload,
  realisticSequencerScript,
  type SequencerCommand,
} from "../sim/gsp_rm/sequencer_script.ts";
import { decodeSequencer } from "./_sim_gsp_rm_host.ts";

const ALL: SequencerCommand[] = [
  { op: "REG_WRITE", addr: 0x100, value: 0x11 },
  { op: "REG_MODIFY", addr: 0x200, mask: 0xf0, value: 0x30 },
  { op: "REG_POLL", addr: 0x300, mask: 0x1, value: 0x1, timeoutUs: 500, error: 1 },
  { op: "DELAY_US", us: 25 },
  { op: "REG_STORE", addr: 0x400, index: 7 },
  { op: "CORE_RESET" },
  { op: "CORE_START" },
  { op: "CORE_WAIT_FOR_HALT" },
  { op: "CORE_RESUME" },
];

Deno.test("every opcode packs as rmgspseq.h lays it out, cmdIndex = end position in words", () => {
  const payload = encodeSequencerPayload(ALL, 64);
  const words = [...new Uint32Array(payload.buffer.slice(40, 40 + 4 * 26))];
  assert.deepEqual(words, [
    0,
    0x100,
    0x11,
    1,
    0x200,
    0xf0,
    0x30,
    2,
    0x300,
    0x1,
    0x1,
    500,
    1,
    3,
    25,
    4,
    0x400,
    7,
    5,
    6,
    7,
    8,
    0,
    0,
    0,
    0,
  ]);
  const decoded = decodeSequencer(payload);
  assert.equal(decoded.cmdIndex, 22);
  assert.equal(decoded.endPosition, 22);
  assert.equal(decoded.bufferSizeDWord, 64);
  assert.equal(payload.length, 40 + 64 * 4);
  assert.deepEqual(new Uint32Array(payload.buffer.slice(8, 40)), new Uint32Array(8));
});

Deno.test("cmdIndex must stay below bufferSizeDWord", () => {
  assert.throws(() => encodeSequencerPayload(ALL, 22), RangeError);
  assert.equal(decodeSequencer(encodeSequencerPayload(ALL, 23)).cmdIndex, 22);
});

Deno.test("the realistic script uses every opcode and the caller's registers", () => {
  const script = realisticSequencerScript({
    handoff: { addr: 0x840100, value: 0xabc },
    modify: { addr: 0x110624, mask: 0x80, value: 0x80 },
    mailbox0: 0x110040,
    mailbox1: 0x110044,
    delayUs: 3,
    pollTimeoutUs: 2000,
  });
  const decoded = decodeSequencer(encodeSequencerPayload(script, 256));
  assert.deepEqual(decoded.commands.map((c) => c.opcode), [0, 1, 2, 3, 4, 4, 5, 6, 7, 8]);
  assert.deepEqual(decoded.commands[0].args, [0x840100, 0xabc]);
  assert.deepEqual(decoded.commands[2].args, [0x840100, 0xffffffff, 0xabc, 2000, 1]);
  assert.deepEqual(decoded.commands[3].args, [3]);
  assert.equal(decoded.cmdIndex, 25);
});
