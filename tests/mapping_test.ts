import assert from "node:assert/strict";
import { OsError } from "../errors.ts";
import { pageSize } from "../pci/libc.ts";
import { HUGE_PAGE_SIZE, mapFile, Mapping } from "../pci/mapping.ts";

Deno.test("mapFile maps a file shared: writes reach the file", () => {
  const path = Deno.makeTempFileSync();
  Deno.truncateSync(path, 3 * 4096);
  {
    using mapping = mapFile(path);
    assert.equal(mapping.length, 3 * 4096);
    assert.equal(mapping.hugePages, false);
    new DataView(mapping.buffer).setUint32(0x2004, 0xcafef00d, true);
  }
  assert.equal(new DataView(Deno.readFileSync(path).buffer).getUint32(0x2004, true), 0xcafef00d);
});

Deno.test("mapFile honours offset and length", () => {
  const path = Deno.makeTempFileSync();
  const data = new Uint8Array(2 * pageSize());
  data[pageSize() + 3] = 0x77;
  Deno.writeFileSync(path, data);
  using mapping = mapFile(path, { readOnly: true, offset: pageSize(), length: pageSize() });
  assert.equal(new Uint8Array(mapping.buffer)[3], 0x77);
});

Deno.test("dispose detaches the buffer: late access cannot reach unmapped memory", () => {
  const path = Deno.makeTempFileSync();
  Deno.truncateSync(path, 4096);
  const mapping = mapFile(path);
  const view = new Uint32Array(mapping.buffer);
  view[0] = 1;
  mapping[Symbol.dispose]();
  assert.equal(mapping.disposed, true);
  assert.equal(mapping.buffer.byteLength, 0);
  assert.equal(view.length, 0);
  assert.equal(view[0], undefined);
  assert.throws(() => Atomics.load(view, 0), TypeError);
  assert.throws(() => mapping.pointer, /already released/);
  mapping[Symbol.dispose](); // idempotent
});

Deno.test("anonymous memory is zeroed and private", () => {
  using memory = Mapping.anonymous(2 * pageSize());
  const bytes = new Uint8Array(memory.buffer);
  assert.ok(bytes.every((b) => b === 0));
  bytes.fill(0xab);
  assert.ok(memory.address > 0n);
});

Deno.test("2 MiB multiples try huge pages and fall back to small pages", () => {
  const hugeFree = Number(
    Deno.readTextFileSync("/proc/meminfo").match(/HugePages_Free:\s+(\d+)/)?.[1] ?? 0,
  );
  using memory = Mapping.anonymous(HUGE_PAGE_SIZE);
  assert.equal(memory.hugePages, hugeFree > 0);
  new Uint8Array(memory.buffer)[HUGE_PAGE_SIZE - 1] = 1;
  using small = Mapping.anonymous(HUGE_PAGE_SIZE, { hugePages: false });
  assert.equal(small.hugePages, false);
});

Deno.test("bad lengths and missing files are refused", () => {
  assert.throws(() => Mapping.anonymous(0), RangeError);
  assert.throws(() => Mapping.anonymous(1.5), RangeError);
  assert.throws(
    () => mapFile("/nonexistent/resource0", { hints: { ENOENT: "no such BAR" } }),
    (e: unknown) =>
      e instanceof OsError && e.call === "open" && e.message.endsWith("; no such BAR"),
  );
  const empty = Deno.makeTempFileSync();
  assert.throws(() => mapFile(empty), RangeError, "an empty file has nothing to map");
});
