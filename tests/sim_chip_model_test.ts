import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { identifyChip } from "../gpu/identify.ts";
import { chipRegisters } from "../registers/bind.ts";
import { fuseVersionOf } from "../registers/fuse.ts";
import {
  defaultFuseVersion,
  fuseMaskOf,
  SIM_CHIP_NAMES,
  simChipModel,
  UnknownSimChipError,
} from "../sim/chip_model.ts";
import { SimulatedGpu } from "../sim/simulated_gpu.ts";

Deno.test("chip model: every Turing, Ampere and Ada chip is simulated by name", () => {
  const expected = [
    "tu102",
    "tu104",
    "tu106",
    "tu117",
    "tu116",
    "ga100",
    "ga102",
    "ga103",
    "ga104",
    "ga106",
    "ga107",
    "ad102",
    "ad103",
    "ad104",
    "ad106",
    "ad107",
  ];
  assert.deepEqual([...SIM_CHIP_NAMES].sort(), expected.sort());
});

for (const name of SIM_CHIP_NAMES) {
  Deno.test(`chip model: identifyChip reads ${name} from a SimulatedGpu's BOOT_0/BOOT_42`, async () => {
    await using gpu = await SimulatedGpu.create({ chip: name });
    const id = identifyChip(gpu.bar0);
    const chip = chipByName(name)!;
    assert.equal(id.name, name);
    assert.equal(id.chipset, chip.chipsetId);
    assert.equal(id.family, chip.family);
    assert.equal(id.revision, "a.1");
    assert.equal(gpu.config.read16(0), 0x10de);
    assert.equal(gpu.config.read16(2), gpu.model.pciDeviceId);
    assert.equal(gpu.info.device, gpu.model.pciDeviceId);
    assert.deepEqual(gpu.violations(), []);
    assert.deepEqual(gpu.bus.unmodelledReads(), []);
  });
}

Deno.test("chip model: each chip has its own PCI device id and a VRAM size", () => {
  const ids = SIM_CHIP_NAMES.map((n) => simChipModel(n).pciDeviceId);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(simChipModel("tu102").pciDeviceId, 0x1e04, "the RTX 2080 Ti of TU102.rom");
  assert.equal(simChipModel("tu102").fbSize, 11 * 2 ** 30);
  assert.equal(simChipModel("ga102").fbSize, 24 * 2 ** 30);
  assert.equal(simChipModel("tu117").fbSize, 4 * 2 ** 30);
  assert.equal(simChipModel("ga104", { fbSizeMiB: 16384 }).fbSize, 16 * 2 ** 30);
});

Deno.test("chip model: VRAM size reaches the registers each family reads it from", async () => {
  for (const name of ["tu102", "ga100", "ga102", "ad104"]) {
    await using gpu = new SimulatedGpu({ chip: name });
    const regs = chipRegisters(name);
    const range = regs.PFB.PRI_MMU_LOCAL_MEMORY_RANGE;
    const usable = regs.PGC6.AON_SECURE_SCRATCH_GROUP_42;
    const mib = range.present
      ? (() => {
        const v = range.read(gpu.bar0);
        return v.LOWER_MAG * 2 ** v.LOWER_SCALE;
      })()
      : usable.readRaw(gpu.bar0);
    assert.equal(mib * 2 ** 20, gpu.model.fbSize, name);
  }
});

Deno.test("chip model: fuses hold bit masks; a production GA102 gives version ≥ 1", () => {
  const ga102 = simChipModel("ga102");
  assert(ga102.fuses.SEC2.every((m) => fuseVersionOf(m) >= 1));
  assert(ga102.fuses.GSP.every((m) => fuseVersionOf(m) >= 1));
  assert.equal(ga102.fuses.GSP.length, 16);
  const v3 = simChipModel("ad102", { fuseVersion: 3, fuseVersions: { SEC2: 2 } });
  assert.equal(v3.fuses.GSP[0], 0b111);
  assert.equal(v3.fuses.SEC2[15], 0b11);
  assert.deepEqual(simChipModel("tu106").fuses.GSP, []);
  assert.equal(defaultFuseVersion("tu106"), undefined);
  assert.equal(defaultFuseVersion("ga100"), 0);
  assert.throws(() => simChipModel("tu102", { fuseVersion: 1 }), /no signature fuses/);
  assert.throws(() => simChipModel("ga102", { fuseVersion: 17 }), RangeError);
  assert.throws(() => fuseMaskOf(-1), RangeError);
});

Deno.test("chip model: fuse registers read the masks through BAR0; Turing has none", async () => {
  await using ga = new SimulatedGpu({ chip: "ga106", fuseVersion: 2 });
  const fuse = chipRegisters("ga106").FUSE;
  assert.equal(fuse.OPT_FPF_GSP_UCODE1_VERSION.at(0).readRaw(ga.bar0), 0b11);
  assert.equal(fuseVersionOf(fuse.OPT_FPF_SEC2_UCODE1_VERSION.at(2).readRaw(ga.bar0)), 2);
  assert.equal(fuse.STATUS_OPT_DISPLAY.read(ga.bar0).DATA, 0, "display present");
  await using a100 = new SimulatedGpu({ chip: "ga100" });
  assert.equal(chipRegisters("ga100").FUSE.STATUS_OPT_DISPLAY.read(a100.bar0).DATA, 1);
  assert.equal(a100.info.class, 0x030200);
  assert(!chipRegisters("tu102").FUSE.OPT_FPF_GSP_UCODE1_VERSION.present);
});

Deno.test("chip model: unknown chips and FSP-path chips are refused by name", () => {
  assert.throws(() => simChipModel("nv50"), UnknownSimChipError);
  assert.throws(() => simChipModel("gb202"), /fsp path/);
  assert.throws(() => new SimulatedGpu({ chip: "gb202" }), UnknownSimChipError);
});
