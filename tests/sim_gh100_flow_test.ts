// The GH100 boot through the FSP chain of trust, driven by hand through raw register writes
// (tests/_hand_boot_fsp.ts, straight from ../shared/reference/nova-core-boot.md §4 and NVIDIA's
// kern_fsp*.c), on a SimulatedGpu: the real linux-firmware gh100 570.144 files and forged ones.
// Each flow goes from the FSP's secure boot to the function reset after unload and must leave
// no residue, no write the hardware refuses and no read of an unmodelled register.

import assert from "node:assert/strict";
import { PRIV_TARGET_MASK_READ } from "../sim/falcon.ts";
import { decodeWpr2 } from "../sim/acceptance/wpr2_register.ts";
import { fspWprHeapSize } from "../sim/acceptance/fmc_boot.ts";
import {
  forgedFspFiles,
  FSP_FLOW_STEPS,
  FspHandBoot,
  type FspHandFirmware,
  parseFspFirmware,
  realFspFirmware,
  simulatedGh100For,
} from "./_hand_boot_fsp.ts";
import { realFirmwareRoot, REQUIRE_REAL } from "./_real.ts";

const root = realFirmwareRoot();
const realSet = root ? await realFspFirmware(root) : undefined;

const cases: { label: string; fw: FspHandFirmware | undefined; missing: string }[] = [
  {
    label: "real gh100 570.144 firmware",
    fw: realSet,
    missing: "real gh100 firmware missing; run `deno task firmware`",
  },
  { label: "forged firmware", fw: parseFspFirmware(forgedFspFiles(), "forged"), missing: "" },
];

const MiB = 2 ** 20;

for (const c of cases) {
  const name = `GH100 hand-driven boot and unload through the FSP: ${c.label}`;
  if (!c.fw && !REQUIRE_REAL) {
    Deno.test({ name: `${name} (skipped: ${c.missing})`, ignore: true, fn: () => {} });
    continue;
  }
  Deno.test(name, async () => {
    const fw = c.fw;
    assert(fw, `FALCONRY_REQUIRE_REAL_FIRMWARE=1 but ${c.missing}`);
    await using gpu = await simulatedGh100For(fw);
    const hb = new FspHandBoot(gpu, fw);
    const gspHwcfg2 = hb.gsp.HWCFG2;
    // Before the COT: the FSP holds the GSP's PRIV target mask.
    assert.equal(gspHwcfg2.readRaw(gpu.bar0), PRIV_TARGET_MASK_READ);
    await hb.bootToRiscv();
    const wpr2 = decodeWpr2({
      lo: hb.regs.PFB.PRI_MMU_WPR2_ADDR_LO.readRaw(gpu.bar0),
      hi: hb.regs.PFB.PRI_MMU_WPR2_ADDR_HI.readRaw(gpu.bar0),
    });
    // FRTS 1 MiB ending 2 MiB (frtsVidmemOffset) below the end of VRAM; WPR2 ends with it and
    // holds the FMC, the GSP image and at least the 140 MiB heap.
    assert.equal(wpr2?.end, gpu.model.fbSize - 2 * MiB);
    assert(wpr2!.end - wpr2!.start >= fspWprHeapSize(gpu.model.fbSize) + fw.gspImage.length);
    assert.equal(hb.reply?.errorCode, 0);
    assert.equal(gspHwcfg2.read(gpu.bar0).RISCV_BR_PRIV_LOCKDOWN, 0);
    await hb.sendInitCommands();
    await hb.waitInitDone();
    assert.equal(await hb.staticInfo(), "NVIDIA H100 PCIe");
    assert(hb.logPut("LOGINIT") > 0n && hb.logPut("LOGRM") > 0n);
    await hb.shutdownGsp();
    await hb.waitGspHalt();
    // Halted, not yet reset: the GSP falcon (started, not reset), the buffers, and WPR2, which
    // stays until the function reset (Hopper has no Booter-unload).
    assert.deepEqual(
      [...new Set(gpu.residue().map((r) => r.block))].sort(),
      ["DMA", "GSP falcon", "PFB"],
    );
    await hb.release();
    assert.deepEqual(hb.steps.map((s) => s.step), FSP_FLOW_STEPS);
    assert.deepEqual(gpu.violations(), []);
    assert.deepEqual(gpu.bus.unmodelledReads(), []);
    assert.deepEqual(gpu.residue(), []);
    assert.equal(gpu.pfb.wpr2(), undefined);
    // The host started no falcon: the FSP did, and only the GSP.
    assert.equal(gpu.stats().falcons.GSP.starts, 0);
    assert.equal(gpu.stats().falcons.SEC2.starts, 0);
    // The FLR gave the GSP back to the FSP, which boots again.
    assert.equal(gspHwcfg2.readRaw(gpu.bar0), PRIV_TARGET_MASK_READ);
    assert.notEqual(hb.regs.THERM.I2CS_SCRATCH.readRaw(gpu.bar0), 0xff);
  });
}

Deno.test("GH100 hand-driven boot: a second boot after the function reset succeeds", async () => {
  const fw = parseFspFirmware(forgedFspFiles(), "forged");
  await using gpu = await simulatedGh100For(fw);
  await new FspHandBoot(gpu, fw).run();
  const again = new FspHandBoot(gpu, fw);
  await again.run();
  // The second waited for the FSP's secure boot (2 s) after the first's FLR.
  const secureBoot = again.steps.find((s) => s.step === "fsp-secure-boot")!;
  const firstEnd = again.steps[0].atMs - 2000;
  assert(secureBoot.atMs >= firstEnd);
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("GH100: the simulator's own forged files boot by hand, and the real ones by folder", async () => {
  const { SimulatedGpu } = await import("../sim/simulated_gpu.ts");
  const { forgedFirmwareFiles } = await import("../sim/execution/firmware_set.ts");
  const files = forgedFirmwareFiles("gh100");
  const fw = parseFspFirmware(
    {
      fmc: files["fmc-570.144.bin"],
      bootloader: files["bootloader-570.144.bin"],
      gsp: files["gsp-570.144.bin"],
    },
    "forged",
  );
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  await new FspHandBoot(gpu, fw).run();
  assert.deepEqual(gpu.residue(), []);
  if (!realSet || !root) return;
  await using real = await SimulatedGpu.create({ chip: "gh100", firmwareDir: root });
  assert.deepEqual(real.execution.firmware.names.sort(), [
    "nvidia/gh100/gsp/bootloader-570.144.bin",
    "nvidia/gh100/gsp/fmc-570.144.bin",
    "nvidia/gh100/gsp/gsp-570.144.bin",
  ]);
  await new FspHandBoot(real, realSet).run();
  assert.deepEqual(real.residue(), []);
});
