// The crash capture (gsp/crash_capture.ts) on its own: it never throws out of a GPU that stopped
// answering (reads that throw, return all ones from the start, or start to mid-capture), and
// stops reading after DEAD_GPU_READS unanswered reads; a firmware file gone since the boot is
// recorded, not thrown; what it decodes (WPR2, the falcons, RISC-V) agrees with the read-only
// probe (gpu/probe.ts) on a GPU whose GSP-RM runs; every log buffer of the family is kept.

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { bootGsp, GspBootError } from "../gsp/mod.ts";
import { readCrashBundle } from "../gsp/crash_bundle.ts";
import { captureCrashEvidence, captureRegisters, DEAD_GPU_READS } from "../gsp/crash_capture.ts";
import { probeDevice } from "../gpu/probe.ts";
import { loadFirmwareSet } from "../loader/firmware_set.ts";
import type { Device } from "../pci/device.ts";
import type { Mmio } from "../pci/mmio.ts";
import { SimulatedGpu } from "../sim/mod.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";

/** The device with BAR0 reads going through `read32` instead. */
function withReads(gpu: SimulatedGpu, read32: (offset: number) => number): Device {
  const bar0: Mmio = Object.create(gpu.bar0, { read32: { value: read32 } });
  return {
    info: gpu.info,
    bar0,
    config: gpu.config,
    dma: gpu.dma,
    readOnly: gpu.readOnly,
    reset: gpu.reset,
    clock: gpu.clock,
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

Deno.test("crash capture: BAR0 reads that throw (the device was removed) are recorded, and stop after a few", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  let reads = 0;
  const device = withReads(gpu, () => {
    reads++;
    throw new Error("BAR0 mapping gone (device removed)");
  });
  const chip = chipByName("ga102")!;
  const evidence = await captureCrashEvidence({ device, chip });
  const all = evidence.registers.groups.flatMap((g) => g.registers);
  assert.equal(evidence.registers.answering, false);
  assert.equal(all.filter((r) => r.status === "read-failed").length, DEAD_GPU_READS);
  assert(all.slice(DEAD_GPU_READS).every((r) => r.status === "not-read"));
  assert.match(all[0].error ?? "", /device removed/);
  assert.equal(reads, DEAD_GPU_READS, "no read after the GPU was seen gone (the VBIOS neither)");
  assert.equal(evidence.registers.wpr2.status, "unreadable");
  assert.deepEqual(
    evidence.registers.falcons.map((f) => [f.engine, f.halted, f.riscvActive]),
    [["GSP", null, null], ["SEC2", null, null]],
  );
  assert.match(evidence.firmware.vbiosError ?? "", /stopped answering/);
});

Deno.test("crash capture: a GPU that answers all ones from the start: the chip is unknown, BOOT_0/BOOT_42 say why", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const device = withReads(gpu, () => 0xffff_ffff);
  const evidence = await captureCrashEvidence({ device });
  assert.equal(evidence.chip, undefined);
  const [pmc] = evidence.registers.groups;
  assert.deepEqual(pmc.registers.map((r) => [r.name, r.status, r.raw]), [
    ["NV_PMC_BOOT_0", "no-response", "0xffffffff"],
    ["NV_PMC_BOOT_42", "no-response", "0xffffffff"],
  ]);
  assert.match(pmc.registers[0].error ?? "", /all ones/);
  assert.equal(evidence.registers.wpr2.reason, "the chip is unknown");
  assert.equal(evidence.firmware.vbiosError, "the chip is unknown");
});

Deno.test("crash capture: a GPU that falls off the bus mid-capture keeps what was read before", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  let reads = 0;
  const device = withReads(gpu, (offset) => ++reads > 20 ? 0xffff_ffff : gpu.bar0.read32(offset));
  const registers = captureRegisters(device.bar0, chipByName("tu102")!);
  const all = registers.groups.flatMap((g) => g.registers);
  assert(all.slice(0, 20).every((r) => r.status === "ok" || r.status === "pri-error"));
  assert.deepEqual(
    all.slice(20, 20 + DEAD_GPU_READS).map((r) => r.status),
    Array(DEAD_GPU_READS).fill("no-response"),
  );
  assert(all.slice(20 + DEAD_GPU_READS).every((r) => r.status === "not-read"));
  assert.equal(registers.reads, 20 + DEAD_GPU_READS);
  assert.equal(registers.answering, true, "BOOT_0 was read before");
});

Deno.test("crash capture: a firmware file removed since the boot is recorded with the reason", async () => {
  const root = await Deno.makeTempDir({ prefix: "falconry-capture-" });
  try {
    const forged = await forgedFirmwareRoot("tu102");
    await Deno.mkdir(`${root}/nvidia/tu102/gsp`, { recursive: true });
    for (const entry of Deno.readDirSync(`${forged}/nvidia/tu102/gsp`)) {
      await Deno.copyFile(
        `${forged}/nvidia/tu102/gsp/${entry.name}`,
        `${root}/nvidia/tu102/gsp/${entry.name}`,
      );
    }
    const firmware = await loadFirmwareSet({
      chip: "tu102",
      version: "570.144",
      dir: root,
      onMismatch: "warn",
    });
    await Deno.remove(firmware.paths["booter_unload"]);
    await using gpu = new SimulatedGpu({ chip: "tu102" });
    const evidence = await captureCrashEvidence({ device: gpu, firmware });
    const gone = evidence.firmware.files.find((f) => f.role === "booter_unload")!;
    assert.equal(gone.sha256, undefined);
    assert.match(gone.error ?? "", /No such file/);
    assert(
      evidence.firmware.files.filter((f) => f !== gone).every((f) =>
        /^[0-9a-f]{64}$/.test(f.sha256!)
      ),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("crash capture: WPR2 and the falcons agree with the read-only probe while GSP-RM runs", async () => {
  const root = await forgedFirmwareRoot("ga102");
  await using gpu = await gpuFor("ga102", root);
  const gsp = await bootGsp(gpu, { firmwareDir: root });
  try {
    const captured = captureRegisters(gpu.bar0, chipByName("ga102")!);
    const probe = probeDevice(gpu.bar0);
    assert.equal(captured.wpr2.status, "set");
    assert.deepEqual(
      { status: captured.wpr2.status, start: captured.wpr2.start, end: captured.wpr2.end },
      { status: probe.wpr2.status, start: probe.wpr2.start, end: probe.wpr2.end },
    );
    assert.equal(BigInt(captured.wpr2.start!), BigInt(gsp.wpr2.start));
    for (const falcon of probe.falcons) {
      const mine = captured.falcons.find((f) => f.engine === falcon.engine)!;
      assert.equal(mine.halted, falcon.halted, falcon.engine);
      assert.equal(mine.riscvActive, falcon.riscv.active, falcon.engine);
    }
    assert.equal(captured.falcons.find((f) => f.engine === "GSP")?.riscvActive, true);
  } finally {
    await gsp.unload();
  }
});

Deno.test("crash capture: a GA102 boot's bundle keeps every log buffer of the family, LOGKRNL too", async () => {
  const root = await forgedFirmwareRoot("ga102");
  const parent = await Deno.makeTempDir({ prefix: "falconry-capture-" });
  try {
    await using gpu = await gpuFor("ga102", root);
    gpu.faults.arm("gsp-rm-no-init-done");
    const error = await bootGsp(gpu, { firmwareDir: root, crashDir: `${parent}/b` })
      .then(() => assert.fail("booted"), (e) => e);
    assert(error instanceof GspBootError && error.crashBundle, String(error));
    const bundle = await readCrashBundle(error.crashBundle);
    assert.deepEqual(bundle.logs.map((l) => l.id), [
      "LOGINIT",
      "LOGINTR",
      "LOGRM",
      "LOGMNOC",
      "LOGKRNL",
    ]);
    assert(bundle.logs.find((l) => l.id === "LOGRM")!.put > 0n);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
