import assert from "node:assert/strict";
import { PCI_CONFIG } from "../pci/device.ts";
import { PCIE_CAPABILITY_OFFSET, SimConfigSpace } from "../sim/config_space.ts";
import { simChipModel } from "../sim/chip_model.ts";

const model = simChipModel("ga102");

/** Walk the capability list as the kernel does: id → offset. */
function capabilities(config: SimConfigSpace): Map<number, number> {
  const found = new Map<number, number>();
  for (let at = config.read8(0x34); at !== 0; at = config.read8(at + 1)) {
    found.set(config.read8(at), at);
    assert(found.size < 48, "the list ends");
  }
  return found;
}

Deno.test("config space: ids, class, revision, header", () => {
  const config = new SimConfigSpace(model);
  assert.equal(config.size, 4096);
  assert.equal(config.read16(PCI_CONFIG.vendorId), 0x10de);
  assert.equal(config.read16(PCI_CONFIG.deviceId), 0x2204);
  assert.equal(config.read32(8), (0x030000 << 8 | 0xa1) >>> 0);
  assert.equal(config.read16(6) & 0x10, 0x10, "capability list present");
  assert.equal(config.read16(0x2c), 0x10de);
});

Deno.test("config space: BAR sizing reads back the size masks", () => {
  const config = new SimConfigSpace(model);
  const sizes: number[] = [];
  for (const [offset, is64] of [[0x10, false], [0x14, true], [0x1c, true]] as const) {
    config.write32(offset, 0xffffffff);
    if (is64) config.write32(offset + 4, 0xffffffff);
    const low = config.read32(offset) & ~0xf;
    const high = is64 ? config.read32(offset + 4) : 0xffffffff;
    sizes.push(Number(~((BigInt(high) << 32n) | BigInt(low >>> 0)) & 0xffffffffffffn) + 1);
  }
  assert.deepEqual(sizes, [16 << 20, 256 << 20, 32 << 20]);
  assert.equal(config.read32(0x14) & 0xf, 0xc, "BAR1: 64-bit prefetchable");
  assert.equal(config.read32(0x24) & 1, 1, "BAR5: I/O");
});

Deno.test("config space: PM, MSI and PCIe capabilities; DEVCAP advertises FLR", () => {
  const config = new SimConfigSpace(model);
  const caps = capabilities(config);
  assert.deepEqual([...caps.keys()], [0x01, 0x05, 0x10]);
  const pcie = caps.get(0x10)!;
  assert.equal(pcie, PCIE_CAPABILITY_OFFSET);
  assert.equal((config.read32(pcie + 4) >>> 28) & 1, 1);
});

Deno.test("config space: only writable bits change; the command register", () => {
  const config = new SimConfigSpace(model);
  config.write16(PCI_CONFIG.command, 0xffff);
  assert.equal(config.read16(PCI_CONFIG.command), 0x0547);
  config.write16(PCI_CONFIG.vendorId, 0);
  assert.equal(config.read16(PCI_CONFIG.vendorId), 0x10de);
  assert.throws(() => config.read32(2), RangeError);
  assert.throws(() => config.read8(4096), RangeError);
});

Deno.test("config space: BCR_FLR starts an FLR; reads are all ones while it does not answer", () => {
  let answering = true;
  let flrs = 0;
  const config = new SimConfigSpace(model, {
    answering: () => answering,
    onFunctionLevelReset: () => {
      flrs++;
      answering = false;
    },
  });
  config.write16(PCI_CONFIG.command, PCI_CONFIG.commandMemory | PCI_CONFIG.commandBusMaster);
  const saved = config.saveState();
  const devctl = PCIE_CAPABILITY_OFFSET + 8;
  config.write16(devctl, config.read16(devctl) | 0x8000);
  assert.equal(flrs, 1);
  assert.equal(config.read16(0), 0xffff);
  assert.equal(config.read32(0), 0xffffffff);
  assert.equal(config.read8(8), 0xff);
  config.write16(PCI_CONFIG.command, 0x6);
  config.resetToPowerOn();
  answering = true;
  assert.equal(config.read16(PCI_CONFIG.command), 0, "an FLR clears the command register");
  assert.equal(config.read16(devctl) & 0x8000, 0, "BCR_FLR reads 0");
  config.restoreState(saved);
  assert.equal(config.read16(PCI_CONFIG.command), 0x6);
});
