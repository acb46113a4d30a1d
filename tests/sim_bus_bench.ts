// MMIO operations per second through the simulated BAR0 (sim/bus.ts), next to
// the same accesses on a MappedMmio over plain memory (the cost floor of the
// Mmio interface in JavaScript). The module prints ops/s for each kind of
// access and the ratio to the floor, as medians of 21 interleaved pairs;
// Deno.bench then times the same loops on their own.
//
// Run: deno bench -A tests/sim_bus_bench.ts

import { MappedMmio } from "../pci/mmio.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import { SimulatedGpu } from "../sim/simulated_gpu.ts";

const OPS = 20_000;
const PAIRS = 21;

const gpu = new SimulatedGpu({ chip: "ga102", logCapacity: 4096 });
const regs = chipRegisters("ga102");
const gsp = falconRegisters("ga102", "GSP");
const floor = new MappedMmio(new ArrayBuffer(gpu.bus.size));
const boot42 = regs.PMC.BOOT_42.address;
const scratch = regs.PBUS.SW_SCRATCH.at(5).address;
const prom = regs.PROM.DATA.address;
const mailbox = gsp.MAILBOX0.address;

const kinds: Record<
  string,
  (bar: { read32(o: number): number; write32(o: number, v: number): void }) => void
> = {
  "read PMC BOOT_42": (bar) => {
    for (let i = 0; i < OPS; i++) bar.read32(boot42);
  },
  "write+read PBUS scratch": (bar) => {
    for (let i = 0; i < OPS; i += 2) {
      bar.write32(scratch, i);
      bar.read32(scratch);
    }
  },
  "read PROM words": (bar) => {
    for (let i = 0; i < OPS; i++) bar.read32(prom + ((i * 4) & 0xffffc));
  },
  "read GSP falcon MAILBOX0": (bar) => {
    for (let i = 0; i < OPS; i++) bar.read32(mailbox);
  },
};

function opsPerSecond(run: () => void): number {
  const start = performance.now();
  run();
  return OPS / ((performance.now() - start) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const [name, loop] of Object.entries(kinds)) {
  const sim: number[] = [];
  const base: number[] = [];
  for (let p = 0; p < PAIRS; p++) {
    sim.push(opsPerSecond(() => loop(gpu.bar0)));
    base.push(opsPerSecond(() => loop(floor)));
  }
  const s = median(sim);
  const b = median(base);
  console.log(
    `sim BAR0 ${name.padEnd(26)} ${(s / 1e6).toFixed(2).padStart(6)} M ops/s; ` +
      `MappedMmio floor ${(b / 1e6).toFixed(2).padStart(6)} M ops/s; floor/sim ${
        (b / s).toFixed(1)
      }×`,
  );
}

for (const [name, loop] of Object.entries(kinds)) {
  Deno.bench({ name: `sim BAR0: ${OPS} × ${name}`, group: name, fn: () => loop(gpu.bar0) });
  Deno.bench({
    name: `MappedMmio: ${OPS} × ${name}`,
    group: name,
    baseline: true,
    fn: () => loop(floor),
  });
}
