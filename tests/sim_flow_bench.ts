// The hand-driven TU102 boot flow (tests/_hand_boot.ts: GFW boot to
// Booter-unload through raw BAR0 accesses) on a SimulatedGpu with its virtual
// clock: the wall time it takes, the hardware time the simulator models for
// it, and the MMIO operations per second through the simulated BAR0 during
// the flow. Printed as medians of runs that interleave the firmware sets
// (forged, and the real linux-firmware 570.144 set when present), with the
// ratio of modelled to wall time; Deno.bench then times each flow alone.
//
// Run: deno bench -A tests/sim_flow_bench.ts

import {
  forgedFirmware,
  type HandFirmware,
  realFirmware,
  runFlow,
  simulatedGpuFor,
} from "./_hand_boot.ts";
import { chipRegisters } from "../registers/bind.ts";
import { knownTu102Vbios, realFirmwareRoot } from "./_real.ts";

const CHIP = "tu102";
const RUNS = 7;
const vbios = knownTu102Vbios();
const root = realFirmwareRoot();
const sets: [string, HandFirmware][] = [["forged firmware", forgedFirmware(CHIP)]];
const real = root ? await realFirmware(CHIP, root) : undefined;
if (real) sets.push(["real 570.144 firmware", real]);

interface Run {
  wallMs: number;
  modelledMs: number;
  mmio: number;
}

async function once(fw: HandFirmware): Promise<Run> {
  await using gpu = await simulatedGpuFor(CHIP, fw, { vbios });
  const start = performance.now();
  await runFlow(gpu, fw);
  const wallMs = performance.now() - start;
  const mmio = Object.values(gpu.stats().mmio).reduce((n, b) => n + b.reads + b.writes, 0);
  return { wallMs, modelledMs: gpu.clock.now(), mmio };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = new Map<string, Run[]>(sets.map(([name]) => [name, []]));
await once(sets[0][1]); // warm-up: JIT, parsing caches
for (let i = 0; i < RUNS; i++) {
  for (const [name, fw] of sets) runs.get(name)!.push(await once(fw));
}

const vbiosName = vbios ? "real TU102 VBIOS" : "forged VBIOS";
for (const [name, list] of runs) {
  const wall = median(list.map((r) => r.wallMs));
  const modelled = median(list.map((r) => r.modelledMs));
  const mmio = median(list.map((r) => r.mmio));
  const opsPerSecond = median(list.map((r) => r.mmio / (r.wallMs / 1000)));
  console.log(
    `TU102 hand-driven flow, ${name}, ${vbiosName}: wall ${wall.toFixed(0)} ms, modelled ` +
      `hardware time ${modelled.toFixed(0)} ms (${(modelled / wall).toFixed(1)}× real time), ` +
      `${mmio} MMIO accesses, ${(opsPerSecond / 1e6).toFixed(2)} M MMIO ops/s over the flow`,
  );
}

// The bus alone: back-to-back accesses on the same simulated GPU model.
{
  const OPS = 20_000;
  await using gpu = await simulatedGpuFor(CHIP, sets[0][1], { vbios });
  const regs = chipRegisters(CHIP);
  const boot0 = regs.PMC.BOOT_0.address;
  const scratch = regs.PBUS.SW_SCRATCH.at(5).address;
  const loops: Record<string, () => void> = {
    "read32 PMC BOOT_0": () => {
      for (let i = 0; i < OPS; i++) gpu.bar0.read32(boot0);
    },
    "write32+read32 PBUS scratch": () => {
      for (let i = 0; i < OPS; i += 2) {
        gpu.bar0.write32(scratch, i);
        gpu.bar0.read32(scratch);
      }
    },
  };
  for (const [name, loop] of Object.entries(loops)) {
    const rates: number[] = [];
    for (let i = 0; i < 21; i++) {
      const start = performance.now();
      loop();
      rates.push(OPS / ((performance.now() - start) / 1000));
    }
    console.log(`simulated BAR0 ${name}: ${(median(rates) / 1e6).toFixed(2)} M ops/s`);
  }
}

for (const [name, fw] of sets) {
  Deno.bench({
    name: `TU102 hand-driven flow (${name}, ${vbiosName}), virtual clock`,
    fn: async () => {
      await once(fw);
    },
  });
}
