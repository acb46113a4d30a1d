import assert from "node:assert/strict";
import {
  describeQuirk,
  RESET_QUIRKS,
  type ResetQuirk,
  resetQuirksFor,
} from "../pci/reset_quirks.ts";

Deno.test("the kernel's NVIDIA no-bus-reset mask: (id & 0xffc0) == 0x2340, nothing else", () => {
  for (let id = 0; id <= 0xffff; id++) {
    const kernel = (id & 0xffc0) === 0x2340 || id === 0x22ce || id === 0x22d0;
    const table = resetQuirksFor(0x10de, id).some((q) => q.kind === "no-bus-reset");
    assert.equal(table, kernel, `10de:${id.toString(16)}`);
  }
});

Deno.test("H100 SXM5 (2330) and PCIe (2331) are outside the kernel's mask; GH100 0x2342 inside", () => {
  assert.deepEqual(resetQuirksFor(0x10de, 0x2330), []);
  assert.deepEqual(resetQuirksFor(0x10de, 0x2331), []);
  assert.equal(resetQuirksFor(0x10de, 0x2342)[0].status, "confirmed");
});

Deno.test("the reverted T4 entry is not in the table", () => {
  assert.deepEqual(resetQuirksFor(0x10de, 0x1eb8), []);
});

Deno.test("GB202 no-FLR-recovery entries are reported, not confirmed, with their source", () => {
  for (const id of [0x2b85, 0x2b87, 0x2b8c]) {
    const [quirk] = resetQuirksFor(0x10de, id);
    assert.equal(quirk.kind, "no-flr-recovery");
    assert.equal(quirk.status, "reported");
    assert.match(quirk.source, /tinygrad\/tinygrad\/pull\/18199/);
  }
  assert.deepEqual(resetQuirksFor(0x10de, 0x2b86), [], "only the reported ids");
});

Deno.test("every entry names a source, a reason and a sane id range; the table is frozen", () => {
  for (const quirk of RESET_QUIRKS) {
    assert.ok(quirk.source.length > 10 && quirk.reason.length > 10);
    assert.ok(quirk.device.first <= quirk.device.last && quirk.device.last <= 0xffff);
    assert.ok(Object.isFrozen(quirk) && Object.isFrozen(quirk.device));
  }
  assert.ok(Object.isFrozen(RESET_QUIRKS));
  assert.throws(() => (RESET_QUIRKS as ResetQuirk[]).push(RESET_QUIRKS[0]), TypeError);
});

Deno.test("users extend the table; other vendors do not match NVIDIA entries", () => {
  const mine: ResetQuirk = {
    vendor: 0x1002,
    device: { first: 0x73a0, last: 0x73bf },
    kind: "no-bus-reset",
    status: "reported",
    source: "site runbook 7",
    reason: "hangs the host after a bus reset",
  };
  assert.deepEqual(resetQuirksFor(0x1002, 0x73bf, [mine]), [mine]);
  assert.deepEqual(resetQuirksFor(0x1002, 0x2342), [], "vendor must match");
  assert.deepEqual(resetQuirksFor(0x1002, 0x73bf), [], "not built in");
  const both = resetQuirksFor(0x10de, 0x2342, [{
    ...mine,
    vendor: 0x10de,
    device: { first: 0x2342, last: 0x2342 },
  }]);
  assert.equal(both.length, 2);
  assert.equal(both[0].status, "confirmed", "built-in first");
});

Deno.test("describeQuirk says what is forbidden, why, where from, and what to do", () => {
  const bus = describeQuirk(resetQuirksFor(0x10de, 0x2342)[0], "0000:41:00.0");
  assert.match(bus, /forbids a bus reset of 0000:41:00\.0 \(10de:2340–237f, confirmed\)/);
  assert.match(bus, /power-cycle/);
  const flr = describeQuirk(resetQuirksFor(0x10de, 0x2b87)[0], "0000:01:00.0");
  assert.match(flr, /forbids a function-level reset of 0000:01:00\.0 \(10de:2b87, reported\)/);
  assert.match(flr, /use the bus reset instead/);
});
