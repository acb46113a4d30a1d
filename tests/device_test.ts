import assert from "node:assert/strict";
import { ManualClock } from "../pci/clock.ts";
import type { Device } from "../pci/device.ts";
import { PCI_CONFIG } from "../pci/device.ts";
import { MappedMmio } from "../pci/mmio.ts";

Deno.test("PCI_CONFIG offsets and bits match linux/pci_regs.h", () => {
  assert.deepEqual(PCI_CONFIG, {
    vendorId: 0x00,
    deviceId: 0x02,
    command: 0x04,
    commandMemory: 0x2,
    commandBusMaster: 0x4,
  });
  let header: string;
  try {
    header = Deno.readTextFileSync("/usr/include/linux/pci_regs.h");
  } catch {
    return; // no kernel headers installed; the literal check above stands
  }
  const define = (name: string) =>
    parseInt(header.match(new RegExp(`#define\\s+${name}\\s+(0x[0-9a-f]+)`))![1], 16);
  assert.equal(define("PCI_VENDOR_ID"), PCI_CONFIG.vendorId);
  assert.equal(define("PCI_DEVICE_ID"), PCI_CONFIG.deviceId);
  assert.equal(define("PCI_COMMAND"), PCI_CONFIG.command);
  assert.equal(define("PCI_COMMAND_MEMORY"), PCI_CONFIG.commandMemory);
  assert.equal(define("PCI_COMMAND_MASTER"), PCI_CONFIG.commandBusMaster);
});

Deno.test("an object with the Device shape can stand in for hardware", async () => {
  const clock = new ManualClock();
  const bar0 = new MappedMmio(new ArrayBuffer(0x1000), { name: "sim BAR0", clock });
  let disposed = false;
  const sim: Device = {
    info: {
      bdf: "0000:01:00.0",
      vendor: 0x10de,
      device: 0x1e07,
      subsystemVendor: 0,
      subsystemDevice: 0,
      revision: 0xa1,
      class: 0x030000,
      driver: null,
      iommuGroup: null,
      numaNode: null,
    },
    bar0,
    config: {
      size: 256,
      read8: () => 0,
      read16: () => 0x10de,
      read32: () => 0,
      write8() {},
      write16() {},
      write32() {},
    },
    dma: {
      alloc(size) {
        const bytes = new Uint8Array(size);
        return { bytes, iova: 0x1000n, size, [Symbol.dispose]() {} };
      },
    },
    readOnly: false,
    clock,
    [Symbol.asyncDispose]() {
      disposed = true;
      return Promise.resolve();
    },
  };
  {
    await using device = sim;
    device.bar0.write32(0x10, 1);
    using buffer = device.dma.alloc(64);
    assert.equal(buffer.bytes.length, 64);
    assert.equal(device.config.read16(0), 0x10de);
    // Waits go through the device's clock: a 100 ms poll on a virtual clock is instant.
    await assert.rejects(device.bar0.poll(0x20, (v) => v === 1, { timeoutMs: 100 }), /timed out/);
    await device.clock.sleep(5);
    assert.equal(device.clock.now(), 105);
  }
  assert.ok(disposed);
});
