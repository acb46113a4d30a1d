// The simulated GH100 itself (sim/chip_model.ts, sim/execution/fsp.ts, sim/falcon.ts's PRIV
// target mask): its ids and VRAM, the FSP's secure boot, its EMEM port and queue registers
// (nova-core-boot.md §4.1–4.2 with §12's stride-8 correction), the GSP's 0xbadf41xx reads, the
// forged firmware set, the fault points' scope and the save file.

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { parseFmc } from "../firmware/fmc.ts";
import { parseRiscvBootloader } from "../firmware/riscv_bootloader.ts";
import { gspSignature, parseGspImage } from "../firmware/gsp_image.ts";
import { identifyChip } from "../gpu/identify.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import { findRealFirmware, REQUIRE_REAL } from "./_real.ts";
import {
  faultPointsFor,
  forgedFirmwareFiles,
  PRIV_TARGET_MASK_READ,
  SIM_CHIP_NAMES,
  SIM_FSP_CHIP_NAMES,
  simChipModel,
  SimulatedGpu,
} from "../sim/mod.ts";

const fsp = falconRegisters("gh100", "FSP");
const gsp = falconRegisters("gh100", "GSP");
const regs = chipRegisters("gh100");

Deno.test("GH100 model: an H100 PCIe (0x2331), 80 GiB, no display, identified as gh100", async () => {
  const model = simChipModel("gh100");
  assert.equal(model.pciDeviceId, 0x2331);
  assert.equal(model.fbSize, 80 * 2 ** 30);
  assert.equal(model.display, false);
  assert.equal(model.pciClass, 0x030200);
  assert.deepEqual(SIM_FSP_CHIP_NAMES, ["gh100"]);
  assert(!SIM_CHIP_NAMES.includes("gh100"), "SIM_CHIP_NAMES stays the SEC2 path");
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  const id = identifyChip(gpu.bar0);
  assert.equal(id.name, "gh100");
  assert.equal(id.chipset, 0x180);
  assert.equal(regs.PGC6.AON_SECURE_SCRATCH_GROUP_42.readRaw(gpu.bar0), 80 * 1024);
  assert.equal(gpu.config.read16(2), 0x2331);
  // The PCI config mirror is NV_EP_PCFGM on Hopper.
  assert.equal(gpu.bar0.read32(0x92000), 0x2331_10de);
  assert.deepEqual(gpu.violations(), []);
  assert.deepEqual(gpu.bus.unmodelledReads(), []);
});

Deno.test("GH100 model: secure boot reads 0xff, restarts for 2 s after an FLR and a power cycle", async () => {
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  const scratch = regs.THERM.I2CS_SCRATCH;
  assert.equal(scratch.address, 0x0200bc);
  assert.equal(scratch.readRaw(gpu.bar0), 0xff);
  const resetAt = gpu.clock.now();
  await gpu.reset.functionLevel();
  assert.equal(scratch.readRaw(gpu.bar0), 0);
  await gpu.bar0.poll(scratch.address, (v) => v === 0xff, { timeoutMs: 5000, intervalMs: 10 });
  const took = gpu.clock.now() - resetAt;
  assert(took >= 2000 && took <= 2010, `${took} ms`);
  gpu.powerCycle();
  assert.equal(scratch.readRaw(gpu.bar0), 0);
  await using fresh = new SimulatedGpu({ chip: "gh100", justPoweredOn: true });
  assert.equal(scratch.readRaw(fresh.bar0), 0);
  await fresh.clock.sleep(2000);
  assert.equal(scratch.readRaw(fresh.bar0), 0xff);
});

Deno.test("GH100 model: every GSP falcon register reads 0xbadf41xx until the FMC runs", async () => {
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  for (const reg of [gsp.HWCFG2, gsp.MAILBOX0, gsp.CPUCTL, gsp.RISCV_CPUCTL, gsp.FBIF_CTL]) {
    const value = reg.readRaw(gpu.bar0);
    assert.equal(value, PRIV_TARGET_MASK_READ, reg.name);
    assert.equal((value & 0xffffff00) >>> 0, 0xbadf4100, "NVIDIA's test masks the low byte");
  }
  gsp.MAILBOX0.writeRaw(gpu.bar0, 0x1234);
  assert.equal(gpu.violations().length, 1);
  assert.match(JSON.stringify(gpu.violations()[0]), /PRIV target mask/);
  // SEC2 is not the FSP's to hold.
  const sec2 = falconRegisters("gh100", "SEC2");
  assert.notEqual(sec2.HWCFG2.readRaw(gpu.bar0), PRIV_TARGET_MASK_READ);
});

Deno.test("GH100 model: EMEM auto-increments on write and read, carrying into BLK", async () => {
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  const bar0 = gpu.bar0;
  assert.equal(fsp.EMEMC.at(0).address, 0x8f2ac0);
  assert.equal(fsp.EMEMD.at(0).address, 0x8f2ac4);
  fsp.EMEMC.at(0).write(bar0, { AINCW: 1, BLK: 0, OFFS: 62 });
  for (let i = 0; i < 4; i++) fsp.EMEMD.at(0).writeRaw(bar0, 0x1000 + i);
  const { OFFS, BLK, AINCW, AINCR } = fsp.EMEMC.at(0).read(bar0);
  assert.deepEqual({ OFFS, BLK, AINCW, AINCR }, { OFFS: 2, BLK: 1, AINCW: 1, AINCR: 0 });
  fsp.EMEMC.at(0).write(bar0, { AINCR: 1, BLK: 0, OFFS: 62 });
  const words = Array.from({ length: 4 }, () => fsp.EMEMD.at(0).readRaw(bar0));
  assert.deepEqual(words, [0x1000, 0x1001, 0x1002, 0x1003]);
  // Without AINCR a read leaves the address where it is.
  fsp.EMEMC.at(0).write(bar0, { BLK: 1, OFFS: 0 });
  assert.equal(fsp.EMEMD.at(0).readRaw(bar0), 0x1002);
  assert.equal(fsp.EMEMD.at(0).readRaw(bar0), 0x1002);
  // Port 1 has its own address into the same EMEM.
  fsp.EMEMC.at(1).write(bar0, { AINCR: 1, BLK: 0, OFFS: 63 });
  assert.equal(fsp.EMEMD.at(1).readRaw(bar0), 0x1001);
  assert.deepEqual(gpu.execution.fsp!.violations, []);
});

Deno.test("GH100 model: the queue registers have stride 8; only channel 0 rings the FSP", async () => {
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  const bar0 = gpu.bar0;
  assert.deepEqual(
    [fsp.QUEUE_HEAD.at(1), fsp.QUEUE_TAIL.at(1), fsp.MSGQ_HEAD.at(1), fsp.MSGQ_TAIL.at(1)]
      .map((r) => r.address),
    [0x8f2c08, 0x8f2c0c, 0x8f2c88, 0x8f2c8c],
  );
  fsp.QUEUE_TAIL.at(1).writeRaw(bar0, 0x10);
  assert.equal(fsp.QUEUE_TAIL.at(1).readRaw(bar0), 0x10);
  assert.equal(fsp.QUEUE_TAIL.at(0).readRaw(bar0), 0, "channel 0 is a separate register");
  fsp.QUEUE_HEAD.at(1).writeRaw(bar0, 0);
  assert.match(gpu.execution.fsp!.violations.join(), /channel 1/);
  assert.deepEqual(gpu.violations().map((v) => "block" in v ? v.block : v.kind), ["FSP"]);
  assert.equal(gpu.execution.fsp!.state, "idle");
});

Deno.test("GH100 model: the forged set parses with firmware/ and has the RSA-3072 sizes", () => {
  const files = forgedFirmwareFiles("gh100");
  assert.deepEqual(Object.keys(files).sort(), [
    "bootloader-570.144.bin",
    "fmc-570.144.bin",
    "gsp-570.144.bin",
  ]);
  const fmc = parseFmc(files["fmc-570.144.bin"], "fmc-570.144.bin");
  assert.deepEqual(
    { hash: fmc.sizes.hash, publicKey: fmc.sizes.publicKey, signature: fmc.sizes.signature },
    { hash: 48, publicKey: 384, signature: 384 },
  );
  assert.equal(parseRiscvBootloader(files["bootloader-570.144.bin"]).descriptor.version, 5);
  const image = parseGspImage(files["gsp-570.144.bin"]);
  assert.equal(gspSignature(image, files["gsp-570.144.bin"], ".fwsignature_gh100").length, 4096);
});

Deno.test("GH100 model: SEC2-path fault points do not apply to GH100, nor FSP ones to TU102", () => {
  const gh100 = new Set(faultPointsFor(chipByName("gh100")!).map((p) => p.name));
  const tu102 = new Set(faultPointsFor(chipByName("tu102")!).map((p) => p.name));
  for (const name of ["fwsec-hang", "booter-timeout", "gsp-rm-sequencer-poll-timeout"]) {
    assert(tu102.has(name) && !gh100.has(name), name);
  }
  for (const name of ["bus-fall-off", "dma-fault", "gsp-rm-no-init-done"]) {
    assert(tu102.has(name) && gh100.has(name), name);
  }
});

Deno.test("GH100 model: a save file keeps the FSP's hand-over of the GSP", async () => {
  const path = await Deno.makeTempFile();
  try {
    {
      await using gpu = new SimulatedGpu({ chip: "gh100" });
      await gpu.save(path);
    }
    {
      await using masked = await SimulatedGpu.open(path);
      assert.equal(gsp.HWCFG2.readRaw(masked.bar0), PRIV_TARGET_MASK_READ);
      assert.equal(regs.THERM.I2CS_SCRATCH.readRaw(masked.bar0), 0xff);
    }
  } finally {
    await Deno.remove(path);
  }
});

const realFmc = findRealFirmware("nvidia/gh100/gsp/fmc-570.144.bin");
const fmcTest = "GH100 model: the real fmc file is known by its manifest hash under any name";
if (!realFmc && !REQUIRE_REAL) {
  Deno.test({
    name: `${fmcTest} (skipped: real gh100 firmware missing; run \`deno task firmware\`)`,
    ignore: true,
    fn: () => {},
  });
} else {
  Deno.test(fmcTest, async () => {
    assert(realFmc, "FALCONRY_REQUIRE_REAL_FIRMWARE=1 but the real gh100 fmc is missing");
    const bytes = await Deno.readFile(realFmc);
    await using gpu = new SimulatedGpu({ chip: "gh100", firmware: { "blob.bin": bytes } });
    const fmc = gpu.execution.firmware.fmc();
    assert.equal(fmc?.name, "blob.bin");
    assert.equal(fmc?.parsed.sizes.signature, 384);
  });
}
