// bootGsp and unloadGsp (gsp/boot.ts, gsp/unload.ts) on simulated TU102, GA100, GA102 and AD102, with
// the real linux-firmware 570.144 set (skipped with the reason when absent) and the simulator's
// forged set; TU102 also with the real VBIOS. After each unload the GPU is clean (no residue, no
// violation) and boots again.

import assert from "node:assert/strict";
import { BootError } from "../errors.ts";
import { bootGsp, type BootStepEvent, GspBootError, unloadGsp } from "../gsp/mod.ts";
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { firmwareCases, forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";
import { knownTu102Vbios, REAL_VBIOS_PATH, REQUIRE_REAL } from "./_real.ts";

const BOOT_ORDER = [
  "identify",
  "firmware",
  "gfw-boot",
  "wpr2-check",
  "sysmem-flush",
  "vbios",
  "gsp-image",
  "fwsec-frts",
  "booter-load",
  "riscv-active",
  "system-info",
  "registry",
  "sequencer",
  "init-done",
  "static-info",
];
const UNLOAD_ORDER = [
  "unloading-guest-driver",
  "gsp-suspend",
  "fwsec-sb",
  "booter-unload",
  "falcon-reset",
];

/** GA100 has no FRTS region (NVIDIA's `kgspGetFrtsSize_GA100` is 0): Booter-load alone sets WPR2. */
function bootOrderOf(chip: string): string[] {
  return chip === "ga100" ? BOOT_ORDER.filter((s) => s !== "fwsec-frts") : BOOT_ORDER;
}

function assertClean(gpu: SimulatedGpu): void {
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(gpu.violations(), []);
}

/** Boot, check what the boot reports, unload, check the GPU is clean; the events seen. */
async function bootAndUnload(gpu: SimulatedGpu, root: string): Promise<BootStepEvent[]> {
  const events: BootStepEvent[] = [];
  const gsp = await bootGsp(gpu, { firmwareDir: root, onStep: (e) => events.push(e) });
  assert.deepEqual(gsp.steps.map((s) => s.step), bootOrderOf(gpu.model.chip.name));
  assert.equal(gsp.chip.name, gpu.model.chip.name);
  assert.match(gsp.staticInfo.boardName, new RegExp(gpu.model.board.replace(/[()]/g, ".")));
  assert(gsp.wpr2.start < gsp.wpr2.end && gsp.wpr2.end <= gpu.model.fbSize);
  assert.deepEqual(gpu.residue().map((r) => r.block).includes("PFB"), true); // WPR2 is up
  const unloadEvents: BootStepEvent[] = [];
  await gsp.unload({ onStep: (e) => unloadEvents.push(e) });
  await gsp.unload(); // idempotent
  await gsp[Symbol.asyncDispose]();
  assert.deepEqual(
    unloadEvents.filter((e) => e.phase === "end").map((e) => e.step),
    UNLOAD_ORDER,
  );
  assertClean(gpu);
  return events;
}

for (const chip of ["tu102", "ga100", "ga102", "ad102"]) {
  for (const fw of await firmwareCases(chip)) {
    const name = `bootGsp: ${chip}, ${fw.label} firmware: boot, unload, boot again`;
    if (fw.skip && !REQUIRE_REAL) {
      Deno.test({ name: `${name} (skipped: ${fw.skip})`, ignore: true, fn: () => {} });
      continue;
    }
    Deno.test(name, async () => {
      assert(fw.root, `FALCONRY_REQUIRE_REAL_FIRMWARE=1 but ${fw.skip}`);
      await using gpu = await gpuFor(chip, fw.root);
      const events = await bootAndUnload(gpu, fw.root);
      // Every step starts, then ends, with a duration on the device's clock.
      for (const step of bootOrderOf(chip)) {
        const mine = events.filter((e) => e.step === step);
        assert.deepEqual(mine.map((e) => e.phase), ["start", "end"], step);
        assert(mine[1].ms! >= 0);
      }
      // WPR2 comes up at FWSEC-FRTS, or on GA100 (no FRTS) at Booter-load.
      const wpr2Step = chip === "ga100" ? "booter-load" : "fwsec-frts";
      assert.match(events.find((e) => e.step === wpr2Step && e.phase === "end")!.detail!, /WPR2/);
      await bootAndUnload(gpu, fw.root); // the same GPU boots again
    });
  }
}

const realVbios = knownTu102Vbios();
for (const fw of await firmwareCases("tu102")) {
  const name = `bootGsp: tu102 with the real TU102 VBIOS, ${fw.label} firmware`;
  const skip = fw.skip ?? (realVbios ? undefined : `no real TU102 VBIOS at ${REAL_VBIOS_PATH}`);
  if (skip && !REQUIRE_REAL) {
    Deno.test({ name: `${name} (skipped: ${skip})`, ignore: true, fn: () => {} });
    continue;
  }
  Deno.test(name, async () => {
    assert(fw.root && realVbios, `FALCONRY_REQUIRE_REAL_FIRMWARE=1 but ${skip}`);
    await using gpu = await gpuFor("tu102", fw.root, { vbios: realVbios });
    const events = await bootAndUnload(gpu, fw.root);
    const vbios = events.find((e) => e.step === "vbios" && e.phase === "end")!;
    assert.match(vbios.detail!, /FWSEC v2 from VBIOS 90\.02\./);
    // Only the images FWSEC needs came through the PROM, not the whole 1 MiB.
    assert(gpu.stats().promBytesRead < gpu.prom.image.length / 4);
  });
}

Deno.test("bootGsp: a GPU whose WPR2 is set is refused before anything is written", async () => {
  const root = await forgedFirmwareRoot("ga102");
  await using gpu = await gpuFor("ga102", root);
  const gsp = await bootGsp(gpu, { firmwareDir: root });
  gsp.keep(); // an earlier boot left GSP-RM running
  const writes = () => Object.values(gpu.stats().mmio).reduce((n, c) => n + c.writes, 0);
  const before = writes();
  const error = await bootGsp(gpu, { firmwareDir: root }).catch((e) => e);
  assert(error instanceof BootError && error instanceof GspBootError);
  assert.equal(error.step, "wpr2-check");
  assert.match(error.message, /GPU needs reset/);
  assert.equal(writes(), before);
  await gsp.unload(); // keep() handed the GSP over: unloading it is now a no-op
  assert.notDeepEqual(gpu.residue(), []);
  await unloadGsp(gpu, { firmwareDir: root });
  // keep() leaves the first boot's DMA buffers mapped (a process would free them on exit).
  assert.deepEqual(gpu.residue().filter((r) => r.block !== "DMA"), []);
  assert.deepEqual(gpu.violations(), []);
  const kept = gpu.residue().length;
  const gsp2 = await bootGsp(gpu, { firmwareDir: root });
  await gsp2.unload();
  assert.equal(gpu.residue().length, kept);
});

Deno.test("unloadGsp: a GSP left running by another process (saved state) is unloaded", async () => {
  const root = await forgedFirmwareRoot("tu102");
  const dir = await Deno.makeTempDir();
  try {
    const state = `${dir}/gpu.json`;
    {
      await using gpu = await gpuFor("tu102", root);
      const gsp = await bootGsp(gpu, { firmwareDir: root });
      gsp.keep();
      await gpu.save(state);
    }
    const { SimulatedGpu } = await import("../sim/simulated_gpu.ts");
    const { forgedFirmwareFiles } = await import("../sim/execution/firmware_set.ts");
    await using gpu = await SimulatedGpu.open(state, { firmware: forgedFirmwareFiles("tu102") });
    assert(gpu.residue().some((r) => /WPR2/.test(r.what)));
    const steps: string[] = [];
    await unloadGsp(gpu, {
      firmwareDir: root,
      onStep: (e) => e.phase === "end" && steps.push(e.step),
    });
    assert.deepEqual(steps, [
      "identify",
      "firmware",
      "vbios",
      "gsp-suspend",
      "fwsec-sb",
      "booter-unload",
      "falcon-reset",
      "sysmem-flush",
    ]);
    assertClean(gpu);
    await bootAndUnload(gpu, root);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unloadGsp: nothing running is nothing to do", async () => {
  const root = await forgedFirmwareRoot("ad102");
  await using gpu = await gpuFor("ad102", root);
  await unloadGsp(gpu, { firmwareDir: root });
  assertClean(gpu);
  assert.equal(Object.values(gpu.stats().mmio).reduce((n, c) => n + c.writes, 0), 0);
});

Deno.test("bootGsp: every chip in the table has a boot HAL (SEC2 path or FSP path)", async () => {
  const { CHIPS, familyOf } = await import("../chips/chips.ts");
  const { gspHalFor } = await import("../gsp/hal.ts");
  for (const chip of CHIPS) {
    assert.equal(
      gspHalFor(chip).name,
      familyOf(chip).bootPath === "fsp" ? "gh100" : "tu102",
      chip.name,
    );
  }
});
