import assert from "node:assert/strict";
import { readBoardName, staticInfoPayload } from "../sim/gsp_rm/static_info.ts";

Deno.test("the board's names land at NVIDIA's ABI offsets", () => {
  const payload = staticInfoPayload(
    {
      boardName: "NVIDIA GeForce RTX 3090",
      chip: "GA102",
      fbSize: 24n << 30n,
      subsystemVendor: 0x10de,
      subsystemDevice: 0x147d,
    },
    2000,
  );
  const view = new DataView(payload.buffer);
  assert.equal(payload.length, 2000);
  assert.equal(readBoardName(payload), "NVIDIA GeForce RTX 3090");
  assert.equal(String.fromCharCode(...payload.subarray(1324, 1329)), "GA102");
  assert.equal(payload[1329], 0);
  const unicode = Array.from({ length: 23 }, (_, i) => view.getUint16(1388 + 2 * i, true));
  assert.equal(String.fromCharCode(...unicode), "NVIDIA GeForce RTX 3090");
  assert.equal(view.getBigUint64(1224, true), 24n << 30n);
  assert.equal(payload[1552], 1);
  assert.equal(view.getUint32(1556, true), 0x10de);
  assert.equal(view.getUint32(1560, true), 0x147d);
});

Deno.test("names are cut to 63 characters and keep their NUL", () => {
  const payload = staticInfoPayload({ boardName: "x".repeat(100), chip: "TU102" }, 1656);
  assert.equal(readBoardName(payload).length, 63);
  assert.equal(payload[1260 + 63], 0);
  assert.equal(payload[1552], 0, "no VBIOS ids given");
});
