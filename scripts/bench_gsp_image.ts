/**
 * P1: the GSP image from its path to DMA-ready memory (`loadGspImage`:
 * headers and signature in two reads, `.fwimage` straight into the memory,
 * the radix3 tables) against one plain read of the whole file.
 *
 * Goal: at most 1.1× the plain read, measured as the median of interleaved
 * pairs. Both sides read into memory allocated the same way: the loader's
 * region comes from a {@linkcode GspMemoryPool} whose allocator made the
 * baseline's buffer too (page-aligned anonymous `mmap` by default, as DMA
 * memory is; `--allocator array-buffer` for `new Uint8Array`, which V8 places
 * 16 bytes into a page), with the same length, so both sit at the same
 * offset within a page; both are touched before the first timed run (first
 * touch is measured by `bench_first_touch.ts`). The order within each round
 * rotates, so that a drift of the machine's speed weighs on every side alike.
 * The loader runs twice per round: parsing the headers (`headerCache:
 * false`, a file's first load in a process) and with them cached (every
 * later load, and the first after `loadFirmwareSet`). An informative read
 * takes exactly the `.fwimage` bytes into the loader's memory: the loader's
 * cost over it is what parsing, signature and tables add, and its cost over
 * the baseline is what reading from file offset 0x40 into a page start costs
 * the kernel's copy.
 *
 * Wall time counts waiting for a CPU, which other processes on a busy
 * machine inflate at random; the CPU-time ratio (user + system, all threads)
 * is printed next to it, with the load average (and a warning when it is
 * above the CPU count: the wall-time ratios are then not falconry's alone).
 *
 * ```sh
 * deno run -A scripts/bench_gsp_image.ts [--pairs 31] [--allocator mmap] [--file PATH] [--check]
 * ```
 *
 * @module
 */

import process from "node:process";
import { FAMILIES } from "../chips/mod.ts";
import { forgeGspImage } from "../firmware/forge/mod.ts";
import { GSP_PAGE_SIZE, parseGspImage, radix3Layout } from "../firmware/mod.ts";
import {
  fileSource,
  firmwareSearchDirs,
  type GspHeaderCache,
  GspMemoryPool,
  loadGspImage,
} from "../loader/mod.ts";
import { libc } from "../pci/mod.ts";
import {
  formatHelp,
  type OptionSpecs,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";

const GOAL = 1.1;
const REAL = "nvidia/ga102/gsp/gsp-570.144.bin";
const GA102_IMAGE_SIZE = 63541248;

const OPTIONS: OptionSpecs = {
  pairs: { type: "string", valueName: "N", default: "31", description: "timed pairs (≥ 15)" },
  file: {
    type: "string",
    valueName: "PATH",
    description: `GSP image to load (default: the real ${REAL}, else a forged 63 MB one)`,
  },
  allocator: {
    type: "string",
    valueName: "KIND",
    default: "mmap",
    description: "memory for both sides: mmap (page-aligned, as DMA memory is) or array-buffer",
  },
  check: {
    type: "boolean",
    description: `exit 1 when either median ratio is above ${GOAL}`,
  },
};

/** Allocators for both sides of the comparison. */
const ALLOCATORS: Record<string, (byteLength: number) => Uint8Array> = {
  "array-buffer": (n) => new Uint8Array(n),
  // Page-aligned, as DMA memory is; the mapping lives as long as the process.
  mmap: (n) =>
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(
      libc.mmap(n, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS, -1, 0),
      n,
    )),
};

const HELP = formatHelp({
  usage: "bench_gsp_image.ts [--pairs N] [--file PATH] [--allocator KIND] [--json] [--check]",
  summary: "P1: loadGspImage against one plain read of the file, as the median of pairs.",
  options: OPTIONS,
});

interface Timing {
  /** Wall-clock milliseconds of each run, in pair order. */
  runs: number[];
  median: number;
  /** CPU milliseconds (user + system, every thread of the process) of each run. */
  cpuRuns: number[];
  cpuMedian: number;
}

/** What one bench run found. */
export interface P1Result {
  file: string;
  forged: boolean;
  fileSize: number;
  imageSize: number;
  pairs: number;
  /** How both sides' memory was allocated. */
  allocator: string;
  /** Offsets within a 4 KiB page of the baseline's buffer and of the loader's image. */
  pageOffsets: { baseline: number; loaderImage: number };
  baseline: Timing;
  /** `loadGspImage` parsing the headers (the first load of a file in a process). */
  loader: Timing;
  /** `loadGspImage` with the headers from the header cache (later loads, or after `loadFirmwareSet`). */
  cachedLoader: Timing;
  sameBytes: Timing;
  /** Median of loader ÷ baseline per pair: P1. */
  ratio: number;
  /** Lower and upper quartile of the per-pair ratios. */
  ratioQuartiles: [number, number];
  /** Median of cached loader ÷ baseline per pair. */
  cachedRatio: number;
  /** Lower and upper quartile of those. */
  cachedRatioQuartiles: [number, number];
  /** Median of loader ÷ reading only `.fwimage` into the same memory, per pair. */
  overheadRatio: number;
  /** Median of cached loader ÷ baseline per pair in CPU time. */
  cachedCpuRatio: number;
  /**
   * Median of loader ÷ baseline per pair in CPU time: what the work costs,
   * without the waits for a CPU that other processes add to wall time.
   */
  cpuRatio: number;
  goal: number;
  /** The highest 1-minute load average seen (before and after the pairs), and the CPU count. */
  machine: { loadAverage: number; cpus: number };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))];
}

/** The page offset of a buffer's first byte (through FFI: the only way to see an address). */
function pageOffset(bytes: Uint8Array): number {
  const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>));
  return Number(BigInt(address) % BigInt(GSP_PAGE_SIZE));
}

async function readWhole(path: string, into: Uint8Array): Promise<void> {
  using file = await Deno.open(path);
  for (let done = 0; done < into.length;) {
    const n = await file.read(into.subarray(done));
    if (n === null || n === 0) throw new Error(`${path} ended after ${done} bytes`);
    done += n;
  }
}

async function time(fn: () => Promise<void>): Promise<[wall: number, cpu: number]> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return [wall, (used.user + used.system) / 1000];
}

async function measure(
  path: string,
  forged: boolean,
  pairs: number,
  allocator: string,
): Promise<P1Result> {
  const fileSize = (await Deno.stat(path)).size;
  const signatureSection = FAMILIES.ga10x.gspSignatureSection;
  const imageRange = (() => {
    using source = fileSource(path);
    return parseGspImage(source).image;
  })();
  const layout = radix3Layout(imageRange.size);
  const regionLength = (layout.tablePages + layout.imagePages) * GSP_PAGE_SIZE;
  // One allocator for both sides, and the same length, so both buffers come
  // from the same allocation path and sit at the same offset within a page.
  const allocate = ALLOCATORS[allocator];
  const pool = new GspMemoryPool({ allocate });
  const headerCache: GspHeaderCache = new Map();
  const baselineBuffer = allocate(Math.max(regionLength, fileSize)).subarray(0, fileSize);
  // Both are touched before timing: the baseline by a read, the region by a load.
  let loaderImage: Uint8Array;
  {
    // This load also fills the header cache of the cached steps.
    using gsp = await loadGspImage(path, { signatureSection, pool, headerCache });
    loaderImage = gsp.image;
  }

  const order = ["baseline", "loader", "cachedLoader", "sameBytes"] as const;
  const runs = Object.fromEntries(order.map((s) => [s, [] as number[]])) as Record<
    typeof order[number],
    number[]
  >;
  const cpuRuns = structuredClone(runs);
  const steps = {
    baseline: () => readWhole(path, baselineBuffer),
    loader: async () => {
      using gsp = await loadGspImage(path, { signatureSection, pool, headerCache: false });
      if (gsp.image.byteOffset !== loaderImage.byteOffset) throw new Error("pool not reused");
    },
    cachedLoader: async () => {
      using gsp = await loadGspImage(path, { signatureSection, pool, headerCache });
      if (gsp.fileReads !== 1) throw new Error(`headers not cached: ${gsp.fileReads} reads`);
    },
    sameBytes: async () => {
      using source = fileSource(path);
      await source.readInto(imageRange.offset, loaderImage);
    },
  };
  const loadBefore = Deno.loadavg()[0];
  // Untimed rounds first, so that every step runs compiled code.
  for (let i = 0; i < 3; i++) for (const step of order) await steps[step]();
  for (let i = 0; i < pairs; i++) {
    // Rotate the order so each step runs first, second and third equally often.
    for (let k = 0; k < order.length; k++) {
      const step = order[(i + k) % order.length];
      const [wall, cpu] = await time(steps[step]);
      runs[step].push(wall);
      cpuRuns[step].push(cpu);
    }
  }
  const ratios = runs.loader.map((t, i) => t / runs.baseline[i]);
  const overheads = runs.loader.map((t, i) => t / runs.sameBytes[i]);
  const cpuRatios = cpuRuns.loader.map((t, i) => t / cpuRuns.baseline[i]);
  const cachedRatios = runs.cachedLoader.map((t, i) => t / runs.baseline[i]);
  const cachedCpuRatios = cpuRuns.cachedLoader.map((t, i) => t / cpuRuns.baseline[i]);
  const timing = (step: keyof typeof runs): Timing => ({
    runs: runs[step],
    median: median(runs[step]),
    cpuRuns: cpuRuns[step],
    cpuMedian: median(cpuRuns[step]),
  });
  return {
    file: path,
    forged,
    fileSize,
    imageSize: imageRange.size,
    pairs,
    allocator,
    pageOffsets: { baseline: pageOffset(baselineBuffer), loaderImage: pageOffset(loaderImage) },
    baseline: timing("baseline"),
    loader: timing("loader"),
    cachedLoader: timing("cachedLoader"),
    sameBytes: timing("sameBytes"),
    ratio: median(ratios),
    ratioQuartiles: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
    overheadRatio: median(overheads),
    cpuRatio: median(cpuRatios),
    cachedRatio: median(cachedRatios),
    cachedRatioQuartiles: [quantile(cachedRatios, 0.25), quantile(cachedRatios, 0.75)],
    cachedCpuRatio: median(cachedCpuRatios),
    goal: GOAL,
    machine: {
      loadAverage: Math.max(loadBefore, Deno.loadavg()[0]),
      cpus: navigator.hardwareConcurrency,
    },
  };
}

async function main(args: readonly string[]): Promise<number> {
  const parsed = await startCli(args, OPTIONS, HELP);
  if (parsed === undefined) return 0;
  const pairs = Number(parsed.string("pairs"));
  if (!Number.isSafeInteger(pairs) || pairs < 15) {
    throw new UsageError(`--pairs ${parsed.string("pairs")}: expected an integer ≥ 15`);
  }
  const allocator = parsed.string("allocator")!;
  if (!Object.hasOwn(ALLOCATORS, allocator)) {
    throw new UsageError(
      `--allocator ${allocator}: expected ${Object.keys(ALLOCATORS).join(" or ")}`,
    );
  }
  const named = parsed.string("file");
  let path = named === undefined ? undefined : requirePath(named, "file", "--file");
  let forged = false;
  if (path === undefined) {
    path = firmwareSearchDirs().map(({ dir }) => `${dir}/${REAL}`).find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
  }
  let temp: string | undefined;
  if (path === undefined) {
    temp = await Deno.makeTempFile({ prefix: "falconry-p1-", suffix: ".bin" });
    await Deno.writeFile(temp, forgeGspImage({ imageSize: GA102_IMAGE_SIZE }));
    path = temp;
    forged = true;
  }
  try {
    const r = await measure(path, forged, pairs, allocator);
    if (parsed.json) printJson(r);
    else printResult(r);
    return parsed.flag("check") && Math.max(r.ratio, r.cachedRatio) > GOAL ? 1 : 0;
  } finally {
    if (temp) await Deno.remove(temp);
  }
}

function printResult(r: P1Result): void {
  const ms = (t: number) => `${t.toFixed(2)} ms`;
  console.log(
    `P1 ${r.forged ? "forged 63 MB image (real file missing)" : r.file}: ` +
      `${(r.fileSize / 2 ** 20).toFixed(1)} MiB file, ${r.pairs} interleaved pairs, ` +
      `${r.allocator} buffers at page offsets 0x${
        r.pageOffsets.baseline.toString(16)
      } (baseline) and ` +
      `0x${r.pageOffsets.loaderImage.toString(16)} (image)`,
  );
  const line = (what: string, t: Timing) =>
    console.log(`  ${what.padEnd(38)} median ${ms(t.median)} (CPU ${ms(t.cpuMedian)})`);
  line("baseline, one read of the whole file:", r.baseline);
  line("loadGspImage, headers parsed:", r.loader);
  line("loadGspImage, headers cached:", r.cachedLoader);
  line("reading only .fwimage (reference):", r.sameBytes);
  const quartiles = (q: number[]) => q.map((x) => x.toFixed(3)).join("–");
  const verdict = (ratio: number) => ratio <= r.goal ? "met" : "NOT met";
  console.log(
    `P1 ratio ${r.ratio.toFixed(3)}× (quartiles ${quartiles(r.ratioQuartiles)}) parsing the ` +
      `headers (a file's first load in a process), goal ≤ ${r.goal}× ${verdict(r.ratio)}; ` +
      `CPU time ${r.cpuRatio.toFixed(3)}×; over reading .fwimage alone ` +
      `${r.overheadRatio.toFixed(3)}×`,
  );
  console.log(
    `P1 ratio ${r.cachedRatio.toFixed(3)}× (quartiles ${quartiles(r.cachedRatioQuartiles)}) ` +
      `with the headers cached (later loads, or after loadFirmwareSet), ` +
      `${verdict(r.cachedRatio)}; CPU time ${r.cachedCpuRatio.toFixed(3)}×`,
  );
  const { loadAverage, cpus } = r.machine;
  console.log(
    `  machine: load average up to ${loadAverage.toFixed(2)} on ${cpus} CPUs` +
      (loadAverage > cpus
        ? "; BUSY: wall times include waits for a CPU, the ratios are not falconry's alone"
        : ""),
  );
}

if (import.meta.main) await runMain(() => main(Deno.args));
