import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import {
  advertisesFlr,
  capabilities,
  type ConfigReader,
  findCapability,
  MAX_CAPABILITIES,
  PCI_CAP_ID,
} from "../pci/pci_capability.ts";

function space(edit: (bytes: Uint8Array, v: DataView) => void, size = 256): ConfigReader {
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  v.setUint16(0x06, 0x0010, true);
  edit(bytes, v);
  return {
    size,
    read8: (o) => v.getUint8(o),
    read16: (o) => v.getUint16(o, true),
    read32: (o) => v.getUint32(o, true),
  };
}

/** A TU102-like list: PM 0x60 → MSI 0x68 → PCIe 0x78 → vendor 0xb4. */
function tu102(devcap: number): ConfigReader {
  return space((b, v) => {
    b[0x34] = 0x60;
    [[0x60, 0x01, 0x68], [0x68, 0x05, 0x78], [0x78, 0x10, 0xb4], [0xb4, 0x09, 0x00]]
      .forEach(([at, id, next]) => {
        b[at] = id;
        b[at + 1] = next;
      });
    v.setUint32(0x78 + 4, devcap, true);
  });
}

Deno.test("the list is walked in order and FLR read from DEVCAP bit 28", () => {
  const config = tu102(0x10008fe1 | (1 << 28));
  assert.deepEqual(capabilities(config).map((c) => [c.id, c.offset]), [
    [0x01, 0x60],
    [0x05, 0x68],
    [0x10, 0x78],
    [0x09, 0xb4],
  ]);
  assert.equal(findCapability(config, PCI_CAP_ID.pcie), 0x78);
  assert.equal(advertisesFlr(config), true);
  assert.equal(advertisesFlr(tu102(0x00008fe1)), false, "bit 28 clear");
});

Deno.test("no list when the Status bit is clear or the device reads all ones", () => {
  const clear = space((b, v) => {
    v.setUint16(0x06, 0, true);
    b[0x34] = 0x60;
    b[0x60] = 0x10;
  });
  assert.deepEqual(capabilities(clear), []);
  const dead = space((b) => b.fill(0xff));
  assert.deepEqual(capabilities(dead), []);
  assert.equal(advertisesFlr(dead), false);
});

Deno.test("the low two bits of pointers are ignored, pointers below 0x40 end the list", () => {
  const config = space((b) => {
    b[0x34] = 0x63; // 0x60
    b[0x60] = 0x10;
    b[0x61] = 0x3c; // below the header's end: stop
  });
  assert.deepEqual(capabilities(config), [{ id: 0x10, offset: 0x60 }]);
});

Deno.test("a CardBus bridge's list starts at 0x14", () => {
  const config = space((b) => {
    b[0x0e] = 0x82; // multi-function, type 2
    b[0x14] = 0x80;
    b[0x80] = 0x01;
  });
  assert.deepEqual(capabilities(config), [{ id: 0x01, offset: 0x80 }]);
});

Deno.test("a loop is refused with the offset that points back", () => {
  const config = space((b) => {
    b[0x34] = 0x40;
    b[0x40] = 0x01;
    b[0x41] = 0x80;
    b[0x80] = 0x05;
    b[0x81] = 0x40;
  });
  assert.throws(() => capabilities(config, "0000:01:00.0"), (e: unknown) => {
    assert.ok(e instanceof DeviceError);
    assert.equal(e.bdf, "0000:01:00.0");
    assert.match(e.message, /the pointer at 0x81 points back to 0x40/);
    return true;
  });
  const self = space((b) => {
    b[0x34] = 0x50;
    b[0x50] = 0x01;
    b[0x51] = 0x50;
  });
  assert.throws(() => findCapability(self, PCI_CAP_ID.pcie), /0x51 points back to 0x50/);
});

Deno.test("a list filling every slot is walked once: 48 entries, the kernel's bound", () => {
  // 0x40 … 0xfc holds exactly 48 dword-aligned entries, so without a repeat
  // no list can be longer; the last one pointing back is caught as a loop.
  const full = (lastNext: number) =>
    space((b) => {
      b[0x34] = 0x40;
      for (let i = 0; i < MAX_CAPABILITIES; i++) {
        const at = 0x40 + 4 * i;
        b[at] = 0x09;
        b[at + 1] = i === MAX_CAPABILITIES - 1 ? lastNext : at + 4;
      }
    });
  assert.equal(capabilities(full(0)).length, MAX_CAPABILITIES);
  assert.throws(() => capabilities(full(0x40)), /0xfd points back to 0x40/);
});

Deno.test("id 0xff ends the walk (a function that stopped answering mid-list)", () => {
  const config = space((b) => {
    b[0x34] = 0x60;
    b[0x60] = 0x01;
    b[0x61] = 0x70;
    b[0x70] = 0xff;
    b[0x71] = 0x60;
  });
  assert.deepEqual(capabilities(config), [{ id: 0x01, offset: 0x60 }]);
});
