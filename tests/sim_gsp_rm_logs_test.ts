import assert from "node:assert/strict";
import { GSP_RM_LOG_FORMATS, LibosLogBuffer } from "../sim/gsp_rm/logs.ts";
import { SystemMemory } from "../sim/system_memory.ts";

function buffer(pages: number) {
  const memory = new SystemMemory();
  // Pages mapped out of order: LibOS must follow the page table, not assume contiguity.
  const backing = Array.from({ length: pages }, () => new Uint8Array(4096));
  const iovas = backing.map((_, i) => 0x10_0000n + BigInt((pages - 1 - i) * 0x2000));
  backing.forEach((bytes, i) => memory.map(iovas[i], bytes));
  iovas.forEach((iova, i) => {
    const at = 8 + i * 8;
    new DataView(backing[Math.floor(at / 4096)].buffer).setBigUint64(at % 4096, iova, true);
  });
  const log = LibosLogBuffer.open(memory, {
    index: 0,
    name: "LOGRM",
    id8: 0n,
    pa: iovas[0],
    size: BigInt(pages * 4096),
    kind: 1,
    loc: 1,
  });
  const flat = () => {
    const out = new Uint8Array(pages * 4096);
    backing.forEach((b, i) => out.set(b, i * 4096));
    return out;
  };
  return { log, flat };
}

Deno.test("records go through the page table and wrap; put keeps counting", () => {
  const { log, flat } = buffer(2);
  const entries = (2 * 4096) / 8 - 1;
  let written = 0n;
  for (let i = 0; i < 400; i++) {
    log.append("rpcReceived", [0x48, i, 952], BigInt(i) * 10n);
    written += 5n;
  }
  assert.equal(log.put, written);
  const bytes = flat();
  assert.equal(new DataView(bytes.buffer).getBigUint64(0, true), written);
  assert(written > BigInt(entries));
  // Walk back only as many whole records as the ring still holds.
  const last = decodeLastRecords(bytes, Math.floor(entries / 5));
  assert.equal(last.at(-1)?.args[1], 399n);
  assert.equal(last.at(-1)?.timestamp, 3990n);
  assert.deepEqual(
    last.map((r) => Number(r.args[1])),
    [...Array(last.length).keys()].map((k) => 400 - last.length + k),
  );
});

Deno.test("an argument count that does not match the format is refused", () => {
  const { log } = buffer(1);
  assert.throws(() => log.append("initDone", [1], 0n), RangeError);
  assert.throws(() => log.append("rpcSent", [1, 2], 0n), RangeError);
});

Deno.test("every format's argument count matches its conversions, and metadata addresses are unique", () => {
  const metas = Object.values(GSP_RM_LOG_FORMATS).map((f) => f.meta);
  assert.equal(new Set(metas).size, metas.length);
  for (const [name, f] of Object.entries(GSP_RM_LOG_FORMATS)) {
    assert.equal((f.format.match(/%[a-z]+/g) ?? []).length, f.argumentCount, name);
  }
});

/** The newest `count` rpcReceived records, read backwards from put as liblogdecode.c does. */
function decodeLastRecords(bytes: Uint8Array, count: number) {
  const view = new DataView(bytes.buffer);
  const entries = BigInt(bytes.length / 8 - 1);
  const word = (k: bigint) => view.getBigUint64(Number(8n * (1n + (k % entries))), true);
  const records: { args: bigint[]; timestamp: bigint }[] = [];
  let p = view.getBigUint64(0, true);
  for (let i = 0; i < count; i++) {
    const timestamp = word(p - 1n);
    assert.equal(word(p - 2n), GSP_RM_LOG_FORMATS.rpcReceived.meta);
    records.unshift({ args: [word(p - 5n), word(p - 4n), word(p - 3n)], timestamp });
    p -= 5n;
  }
  return records;
}
