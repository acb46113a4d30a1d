// Bound register reads against raw read32 on a MappedMmio over an ArrayBuffer. The bound read
// precomputes the address and fields when binding, so per call it reads once and splits the
// value without a string lookup. Prints the median ratio of interleaved pairs of timed batches.

import { MappedMmio } from "../pci/mmio.ts";
import { falconRegisters } from "../registers/bind.ts";

const bar0 = new MappedMmio(new ArrayBuffer(16 << 20), { name: "bench BAR0" });
const gsp = falconRegisters("ga102", "GSP");
const cpuctl = gsp.CPUCTL;
const address = cpuctl.address;
bar0.write32(address, 0x10);
const BATCH = 20_000;

function rawBatch(): number {
  let sum = 0;
  for (let i = 0; i < BATCH; i++) sum += (bar0.read32(address) >>> 4) & 1;
  return sum;
}

function boundBatch(): number {
  let sum = 0;
  for (let i = 0; i < BATCH; i++) sum += cpuctl.read(bar0).HALTED;
  return sum;
}

function boundRawBatch(): number {
  let sum = 0;
  for (let i = 0; i < BATCH; i++) sum += (cpuctl.readRaw(bar0) >>> 4) & 1;
  return sum;
}

Deno.bench({ name: "raw read32 + shift (CPUCTL.HALTED)", group: "read", baseline: true }, () => {
  rawBatch();
});
Deno.bench({ name: "bound CPUCTL.read(bar0).HALTED", group: "read" }, () => {
  boundBatch();
});
Deno.bench({ name: "bound CPUCTL.readRaw(bar0)", group: "read" }, () => {
  boundRawBatch();
});

function time(run: () => number): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

function medianRatio(candidate: () => number, baseline: () => number, pairs = 201): number {
  for (let i = 0; i < 50; i++) candidate() + baseline();
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // Interleave, alternating which runs first.
    const [a, b] = i % 2 ? [time(candidate), time(baseline)] : [0, time(baseline)];
    const c = i % 2 ? a : time(candidate);
    ratios.push(c / b);
  }
  ratios.sort((x, y) => x - y);
  return ratios[ratios.length >> 1];
}

if (import.meta.main || Deno.args.includes("--ratio")) {
  console.log(
    `bound read (decoded) / raw read32: ${medianRatio(boundBatch, rawBatch).toFixed(2)}×; ` +
      `bound readRaw / raw read32: ${medianRatio(boundRawBatch, rawBatch).toFixed(2)}× ` +
      "(median of interleaved pairs)",
  );
}
