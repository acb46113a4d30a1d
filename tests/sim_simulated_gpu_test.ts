import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import { identifyChip } from "../gpu/identify.ts";
import { ManualClock, systemClock } from "../pci/clock.ts";
import { PCI_CONFIG } from "../pci/device.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import { NO_RESPONSE, priErrorCode } from "../registers/pri_error.ts";
import { PCIE_CAPABILITY_OFFSET } from "../sim/config_space.ts";
import { faultPoints } from "../sim/faults.ts";
import { REALISTIC_LATENCY } from "../sim/latency.ts";
import { SimSaveFileError, SimulatedGpu } from "../sim/simulated_gpu.ts";

const WPR2 = { start: 0x5_fe00_0000, end: 0x5_ff00_0000 };
const hang = () => ({ kind: "hang" as const });

function startGsp(gpu: SimulatedGpu): void {
  falconRegisters(gpu.model.chip, "GSP").CPUCTL.write(gpu.bar0, { STARTCPU: 1 });
}

Deno.test("SimulatedGpu: the virtual clock by default, the system clock when realistic", async () => {
  await using virtual = new SimulatedGpu({ chip: "ga102" });
  assert(virtual.clock instanceof ManualClock);
  await using real = new SimulatedGpu({ chip: "ga102", realistic: true });
  // The system clock's time, wrapped so that its sleeps let GSP-RM run (execution/sim_clock.ts).
  assert(Math.abs(real.clock.now() - systemClock.now()) < 1000);
  assert.notEqual(real.clock, systemClock);
  const start = performance.now();
  const base = chipRegisters("ga102").PROM.DATA.address;
  for (let i = 0; i < 100; i++) real.bar0.read32(base + 4 * i);
  assert(performance.now() - start >= 100 * REALISTIC_LATENCY.promReadMs, "PROM reads take time");
});

Deno.test("SimulatedGpu: GFW boot reaches 0xff after the modelled delay, with the virtual clock", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102", justPoweredOn: true });
  const pgc6 = chipRegisters("tu102").PGC6;
  const progress = pgc6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
  const plm = pgc6.AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK;
  assert.equal(plm.read(gpu.bar0).READ_PROTECTION_LEVEL0, 0);
  assert.equal(
    priErrorCode(progress.readRaw(gpu.bar0))?.name,
    "FECS_PRI_CLIENT_PRIV_LEVEL_VIOLATION",
    "the CPU may not read the progress yet",
  );
  gpu.clock instanceof ManualClock && gpu.clock.advance(REALISTIC_LATENCY.gfwBootMs / 2);
  const halfway = progress.read(gpu.bar0).PROGRESS;
  assert(halfway > 0 && halfway < 0xff, `progress ${halfway} halfway`);
  const wallStart = performance.now();
  await gpu.bar0.poll(progress.address, (v) => progress.decode(v).PROGRESS === 0xff, {
    timeoutMs: 4000,
    intervalMs: 1,
  });
  assert.equal(plm.read(gpu.bar0).READ_PROTECTION_LEVEL0, 1);
  assert(gpu.clock.now() >= REALISTIC_LATENCY.gfwBootMs);
  assert(gpu.clock.now() < REALISTIC_LATENCY.gfwBootMs + 2);
  assert(performance.now() - wallStart < REALISTIC_LATENCY.gfwBootMs, "no real waiting");
});

Deno.test("SimulatedGpu: FLR clears WPR2, falcons and scratch; config space answers 0xffff meanwhile", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102", falconModels: { GSP: hang } });
  const regs = chipRegisters("ga102");
  gpu.config.write16(PCI_CONFIG.command, PCI_CONFIG.commandMemory | PCI_CONFIG.commandBusMaster);
  gpu.pfb.setWpr2(WPR2.start, WPR2.end);
  regs.PBUS.SW_SCRATCH.at(0xe).writeRaw(gpu.bar0, 0x10000);
  startGsp(gpu);
  await gpu.clock.sleep(0);
  assert(gpu.falcons.GSP.isRunning);
  assert.deepEqual(gpu.residue().map((r) => r.block).sort(), ["GSP falcon", "PFB"]);

  // Raw FLR through DEVCTL: nothing waits, so the recovery window is visible.
  const devctl = PCIE_CAPABILITY_OFFSET + 8;
  gpu.config.write16(devctl, gpu.config.read16(devctl) | 0x8000);
  assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0xffff);
  assert.equal(regs.PMC.BOOT_0.readRaw(gpu.bar0), NO_RESPONSE);
  (gpu.clock as ManualClock).advance(REALISTIC_LATENCY.flrMs);
  assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0x10de);
  assert.equal(gpu.config.read16(PCI_CONFIG.command), 0, "a raw FLR leaves config at power-on");
  assert.equal(regs.PMC.BOOT_0.readRaw(gpu.bar0), NO_RESPONSE, "memory decoding is off");
  gpu.config.write16(PCI_CONFIG.command, PCI_CONFIG.commandMemory | PCI_CONFIG.commandBusMaster);
  assert.equal(regs.PMC.BOOT_0.readRaw(gpu.bar0), gpu.model.boot0);
  assert.equal(regs.PFB.PRI_MMU_WPR2_ADDR_HI.readRaw(gpu.bar0), 0);
  assert.equal(regs.PBUS.SW_SCRATCH.at(0xe).readRaw(gpu.bar0), 0);
  assert(!gpu.falcons.GSP.isRunning);
  assert.deepEqual(gpu.residue(), []);
  const progress = regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
  const plm = regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK;
  assert.equal(plm.read(gpu.bar0).READ_PROTECTION_LEVEL0, 0, "GFW boot runs again");
  await gpu.bar0.poll(progress.address, (v) => (v & 0xff) === 0xff, { timeoutMs: 4000 });
  assert(gpu.clock.now() >= REALISTIC_LATENCY.flrMs + REALISTIC_LATENCY.gfwBootMs);
});

Deno.test("SimulatedGpu: reset.functionLevel() and reset.bus() wait, restore config, clear WPR2", async () => {
  for (const kind of ["functionLevel", "bus"] as const) {
    await using gpu = new SimulatedGpu({ chip: "ad102", falconModels: { SEC2: hang } });
    gpu.config.write16(PCI_CONFIG.command, PCI_CONFIG.commandMemory | PCI_CONFIG.commandBusMaster);
    gpu.pfb.setWpr2(WPR2.start, WPR2.end);
    falconRegisters("ad102", "SEC2").CPUCTL.write(gpu.bar0, { STARTCPU: 1 });
    await gpu.clock.sleep(0);
    const before = gpu.clock.now();
    await gpu.reset[kind]();
    const took = gpu.clock.now() - before;
    assert.equal(took, kind === "bus" ? REALISTIC_LATENCY.busResetMs : REALISTIC_LATENCY.flrMs);
    assert.equal(gpu.config.read16(PCI_CONFIG.command), 0x6, "the saved config was restored");
    assert.equal(gpu.pfb.wpr2(), undefined, kind);
    assert(!gpu.falcons.SEC2.isRunning, kind);
    assert.equal(identifyChip(gpu.bar0).name, "ad102");
    assert.deepEqual(gpu.residue(), []);
  }
});

Deno.test("SimulatedGpu: WPR2 survives everything but FLR, bus reset and power", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu104" });
  gpu.pfb.setWpr2(WPR2.start, WPR2.end);
  for (const falcon of Object.values(gpu.falcons)) falcon.reset("engine");
  assert.deepEqual(gpu.pfb.wpr2(), WPR2, "a falcon reset leaves WPR2");
  gpu.powerCycle();
  assert.equal(gpu.pfb.wpr2(), undefined);
});

Deno.test("SimulatedGpu: a quirky device id never returns from FLR until a bus reset", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102", pciDeviceId: 0x2b85 });
  await assert.rejects(gpu.reset.functionLevel(), (e: unknown) => {
    assert(e instanceof DeviceError);
    assert.match(e.message, /not ready 65535ms/);
    assert.match(e.message, /secondary bus reset/);
    return true;
  });
  assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0xffff);
  assert.equal(gpu.bar0.read32(0), NO_RESPONSE);
  await gpu.reset.bus();
  assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0x10de);
  assert.equal(identifyChip(gpu.bar0).name, "ga102");
  await using normal = new SimulatedGpu({ chip: "ga102" });
  await normal.reset.functionLevel();
  assert.equal(normal.config.read16(PCI_CONFIG.vendorId), 0x10de);
});

Deno.test("SimulatedGpu: falling off the bus at a chosen step; resets cannot help, power can", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const regs = chipRegisters("tu102");
  const step = falconRegisters("tu102", "GSP").MAILBOX0;
  gpu.faults.arm("bus-fall-off", { atOffset: step.address, write: true });
  assert.equal(regs.PMC.BOOT_42.readRaw(gpu.bar0), gpu.model.boot42);
  step.writeRaw(gpu.bar0, 0x1234);
  for (const r of [regs.PMC.BOOT_42, regs.PMC.BOOT_0, regs.PFB.PRI_MMU_WPR2_ADDR_HI, step]) {
    assert.equal(r.readRaw(gpu.bar0), NO_RESPONSE, r.name);
  }
  assert.equal(gpu.config.read16(0), 0xffff);
  await assert.rejects(gpu.reset.functionLevel(), /fallen off the bus/);
  gpu.faults.disarm("bus-fall-off");
  gpu.powerCycle();
  assert.equal(regs.PMC.BOOT_42.readRaw(gpu.bar0), gpu.model.boot42);
  assert.equal(gpu.faults.history()[0].name, "bus-fall-off");
  assert(faultPoints().find((p) => p.name === "bus-fall-off")?.owner === "bus");
});

Deno.test("SimulatedGpu: residue lists live DMA mappings and a registered flush page", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga104" });
  const pfb = chipRegisters("ga104").PFB;
  {
    using page = gpu.dma.alloc(4096);
    pfb.NISO_FLUSH_SYSMEM_ADDR_HI.writeRaw(gpu.bar0, Number(page.iova >> 40n));
    pfb.NISO_FLUSH_SYSMEM_ADDR.writeRaw(gpu.bar0, Number((page.iova >> 8n) & 0xffffffffn));
    assert.equal(gpu.pfb.sysmemFlushAddress(), page.iova);
    const residue = gpu.residue();
    assert.deepEqual(residue.map((r) => r.block), ["PFB", "DMA"]);
    assert.match(residue[1].what, /live DMA mapping at IOVA 0x100000000 \(4096 bytes\)/);
    pfb.NISO_FLUSH_SYSMEM_ADDR.writeRaw(gpu.bar0, 0);
    pfb.NISO_FLUSH_SYSMEM_ADDR_HI.writeRaw(gpu.bar0, 0);
  }
  assert.deepEqual(gpu.residue(), []);
  gpu.addResidueSource({ residue: () => [{ block: "GSP-RM", what: "queue still mapped" }] });
  assert.deepEqual(gpu.residue(), [{ block: "GSP-RM", what: "queue still mapped" }]);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("SimulatedGpu: read-only devices refuse BAR0 writes", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102", readOnly: true, bdf: "0000:65:00.0" });
  assert.equal(identifyChip(gpu.bar0).name, "ga102");
  assert.throws(() => gpu.bar0.write32(0x1400, 1), (e: unknown) => {
    assert(e instanceof DeviceError && e.bdf === "0000:65:00.0");
    return true;
  });
});

Deno.test("SimulatedGpu: a VBIOS path needs create(); a bad save file is refused", async () => {
  assert.throws(() => new SimulatedGpu({ chip: "ga102", vbios: "/x.rom" }), /create\(\)/);
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, JSON.stringify({ format: "other" }));
    await assert.rejects(SimulatedGpu.open(path), SimSaveFileError);
    await Deno.writeTextFile(path, "{");
    await assert.rejects(SimulatedGpu.open(path), SimSaveFileError);
  } finally {
    await Deno.remove(path);
  }
});

const SECOND_PROCESS = `
import { SimulatedGpu } from ${
  JSON.stringify(new URL("../sim/simulated_gpu.ts", import.meta.url).href)
};
import { chipRegisters } from ${
  JSON.stringify(new URL("../registers/bind.ts", import.meta.url).href)
};
const path = Deno.args[0];
const gpu = await SimulatedGpu.open(path);
const regs = chipRegisters(gpu.model.chip);
const out = {
  chip: gpu.model.chip.name,
  fuse: gpu.model.fuseVersions,
  wpr2Hi: regs.PFB.PRI_MMU_WPR2_ADDR_HI.readRaw(gpu.bar0),
  wpr2Lo: regs.PFB.PRI_MMU_WPR2_ADDR_LO.readRaw(gpu.bar0),
  scratch: regs.PBUS.SW_SCRATCH.at(0x15).readRaw(gpu.bar0),
  residue: gpu.residue().map((r) => r.block),
  clock: gpu.clock.now(),
};
gpu.pfb.clearWpr2(); // what Booter-unload does
await gpu.save(path);
console.log(JSON.stringify(out));
`;

Deno.test("SimulatedGpu: save, reopen in a second Deno process, unload there, see it here", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/gpu.json`;
    const script = `${dir}/second.ts`;
    await Deno.writeTextFile(script, SECOND_PROCESS);
    {
      await using gpu = new SimulatedGpu({
        chip: "ga102",
        fuseVersion: 2,
        falconModels: { GSP: hang },
      });
      gpu.pfb.setWpr2(WPR2.start, WPR2.end);
      chipRegisters("ga102").PBUS.SW_SCRATCH.at(0x15).writeRaw(gpu.bar0, 0xabcd);
      startGsp(gpu);
      await gpu.clock.sleep(0);
      (gpu.clock as ManualClock).advance(1000);
      await gpu.save(path);
    }
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", script, path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(result.success, new TextDecoder().decode(result.stderr));
    const seen = JSON.parse(new TextDecoder().decode(result.stdout));
    assert.equal(seen.chip, "ga102");
    assert.deepEqual(seen.fuse, { SEC2: 2, GSP: 2, NVDEC: 2 });
    assert.equal(seen.wpr2Hi * 0x1000 / 16, WPR2.end, "WPR2 kept across processes");
    assert.equal(seen.wpr2Lo * 0x1000 / 16, WPR2.start);
    assert.equal(seen.scratch, 0xabcd);
    assert.deepEqual(seen.residue.sort(), ["GSP falcon", "PFB"]);
    assert(seen.clock >= 1000);
    await using again = await SimulatedGpu.open(path);
    assert.equal(again.pfb.wpr2(), undefined, "the second process's unload is seen here");
    assert(again.falcons.GSP.isRunning, "the falcon state persisted");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SimulatedGpu: the PCFG mirror shows config space; stats count; closed after dispose", async () => {
  const gpu = new SimulatedGpu({ chip: "tu106" });
  const mirror = chipRegisters("tu106").PCFG.PCFG;
  assert.equal(mirror.at(0).readRaw(gpu.bar0), gpu.config.read32(0));
  mirror.at(1).writeRaw(gpu.bar0, PCI_CONFIG.commandMemory);
  assert.equal(gpu.config.read16(PCI_CONFIG.command), PCI_CONFIG.commandMemory);
  const stats = gpu.stats();
  assert.deepEqual(stats.mmio.PCFG, { reads: 1, writes: 1 });
  assert.equal(stats.promBytesRead, 0);
  assert.equal(stats.falcons.GSP.starts, 0);
  await gpu[Symbol.asyncDispose]();
  assert(gpu.disposed);
  assert.throws(() => gpu.bar0.read32(0), /closed/);
  assert.throws(() => gpu.config.read16(0), /closed/);
});

Deno.test("SimulatedGpu: a VBIOS file that cannot be read is named in the error", async () => {
  await assert.rejects(
    SimulatedGpu.create({ chip: "tu102", vbios: "/nonexistent/board.rom" }),
    /\/nonexistent\/board\.rom: cannot read the VBIOS/,
  );
});

Deno.test("SimulatedGpu: the access log names every register, falcon ones from the catalogue", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const gsp = falconRegisters("ga102", "GSP");
  gsp.MAILBOX0.writeRaw(gpu.bar0, 0x1234);
  chipRegisters("ga102").PMC.BOOT_42.readRaw(gpu.bar0);
  const dump = gpu.bus.dumpAccessLog().split("\n");
  assert.match(
    dump[0],
    /W {2}0x110040 {2}GSP falcon\.GSP\.NV_PFALCON_FALCON_MAILBOX0 +0x00001234$/,
  );
  assert.match(dump[1], /R {2}0x000a00 {2}PMC\.NV_PMC_BOOT_42/);
});
