/**
 * First touch: what it costs to read the 63 MB GSP image into memory that
 * was never touched, by the way that memory is obtained, against memory that
 * was (a buffer reused from an earlier boot).
 *
 * Each way runs in fresh processes, since a process's freed memory makes its
 * next allocation cheaper: `new Uint8Array` (what `loadGspImage` allocates
 * without a pool), anonymous `mmap` with 4 KiB pages, with `MAP_POPULATE`,
 * with transparent huge pages (`madvise(MADV_HUGEPAGE)` on a 2 MiB-aligned
 * range), and with huge pages populated up front (`MADV_POPULATE_WRITE`).
 * Then, in one process, five boots through `loadGspImage` with and without
 * a {@linkcode GspMemoryPool}.
 *
 * ```sh
 * deno run -A scripts/bench_first_touch.ts [--processes 5] [--file PATH] [--json]
 * ```
 *
 * @module
 */

import { FAMILIES } from "../chips/mod.ts";
import { forgeGspImage } from "../firmware/forge/mod.ts";
import { parseGspImage } from "../firmware/mod.ts";
import { fileSource, firmwareSearchDirs, GspMemoryPool, loadGspImage } from "../loader/mod.ts";
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

const REAL = "nvidia/ga102/gsp/gsp-570.144.bin";
const GA102_IMAGE_SIZE = 63541248;
const HUGE_PAGE = 2 << 20;

const WAYS = [
  "array-buffer",
  "mmap",
  "mmap-populate",
  "mmap-huge",
  "mmap-huge-populate",
] as const;
type Way = typeof WAYS[number];

const OPTIONS: OptionSpecs = {
  processes: {
    type: "string",
    valueName: "N",
    default: "5",
    description: "fresh processes per way of allocating",
  },
  file: {
    type: "string",
    valueName: "PATH",
    description: `GSP image (default: the real ${REAL}, else a forged 63 MB one)`,
  },
  child: { type: "string", valueName: "WAY", description: "(internal) measure one way and exit" },
};

const HELP = formatHelp({
  usage: "bench_first_touch.ts [--processes N] [--file PATH] [--json]",
  summary: "First touch of the GSP image's memory: fresh, mmap, MAP_POPULATE, huge pages, reuse.",
  options: OPTIONS,
});

/** One process's figures for one way, in milliseconds. */
interface ChildResult {
  way: Way;
  /** Allocating (and populating, where the way does). */
  setup: number;
  /** The first read of `.fwimage` into the memory: first touch included. */
  firstRead: number;
  /** A second read into the same memory: what a reused buffer costs. */
  secondRead: number;
  /** Transparent huge pages the process held after the first read, in kB. */
  anonHugeKb: number;
}

function anonHugeKb(): number {
  const status = Deno.readTextFileSync("/proc/self/smaps_rollup");
  return Number(/^AnonHugePages:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
}

function allocate(way: Way, length: number): Uint8Array {
  if (way === "array-buffer") return new Uint8Array(length);
  const huge = way.startsWith("mmap-huge");
  const flags = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS |
    (way === "mmap-populate" ? libc.MAP_POPULATE : 0);
  const mapped = Math.ceil(length / HUGE_PAGE) * HUGE_PAGE + (huge ? HUGE_PAGE : 0);
  const pointer = libc.mmap(mapped, libc.PROT_READ | libc.PROT_WRITE, flags, -1, 0);
  let start = pointer;
  if (huge) {
    const address = BigInt(Deno.UnsafePointer.value(pointer));
    const aligned = (address + BigInt(HUGE_PAGE - 1)) & ~BigInt(HUGE_PAGE - 1);
    start = Deno.UnsafePointer.create(aligned)!;
    libc.madvise(start, mapped - HUGE_PAGE, libc.MADV_HUGEPAGE);
    if (way === "mmap-huge-populate") {
      libc.madvise(start, mapped - HUGE_PAGE, libc.MADV_POPULATE_WRITE);
    }
  }
  // The mapping lives as long as the process: this is a one-shot measurement.
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(start, length));
}

async function child(way: Way, path: string): Promise<ChildResult> {
  using source = fileSource(path);
  const { image } = parseGspImage(source);
  libc.pageSize(); // loads libc through FFI, which is not what is measured
  const t0 = performance.now();
  const memory = allocate(way, image.size);
  const t1 = performance.now();
  await source.readInto(image.offset, memory);
  const t2 = performance.now();
  await source.readInto(image.offset, memory);
  const t3 = performance.now();
  return { way, setup: t1 - t0, firstRead: t2 - t1, secondRead: t3 - t2, anonHugeKb: anonHugeKb() };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function runChild(way: Way, path: string): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--child", way, "--file", path, "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${way}: child failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  }
  return JSON.parse(text);
}

/** Five boots in one process: a fresh buffer each time, or a pool's region reused. */
async function boots(path: string, pooled: boolean): Promise<number[]> {
  const signatureSection = FAMILIES.ga10x.gspSignatureSection;
  const pool = new GspMemoryPool();
  const times: number[] = [];
  for (let boot = 0; boot < 5; boot++) {
    const started = performance.now();
    const gsp = await loadGspImage(path, {
      signatureSection,
      ...(pooled ? { pool } : { allocate: (n) => new Uint8Array(n) }),
    });
    times.push(performance.now() - started);
    gsp[Symbol.dispose]();
  }
  return times;
}

/** What the bench found. */
export interface FirstTouchResult {
  file: string;
  imageSize: number;
  processes: number;
  /** Medians over the processes, per way. */
  ways: Record<Way, Omit<ChildResult, "way"> & { runs: ChildResult[] }>;
  /** Five boots in one process, milliseconds each. */
  boots: { fresh: number[]; pooled: number[] };
  transparentHugePages: string;
}

async function main(args: readonly string[]): Promise<number> {
  const parsed = await startCli(args, OPTIONS, HELP);
  if (parsed === undefined) return 0;
  const named = parsed.string("file");
  const childWay = parsed.string("child");
  if (childWay !== undefined) {
    if (!(WAYS as readonly string[]).includes(childWay)) {
      throw new UsageError(`--child ${childWay}: expected one of ${WAYS.join(", ")}`);
    }
    printJson(await child(childWay as Way, requirePath(named!, "file", "--file")));
    return 0;
  }
  const processes = Number(parsed.string("processes"));
  if (!Number.isSafeInteger(processes) || processes < 1) {
    throw new UsageError(`--processes ${parsed.string("processes")}: expected an integer ≥ 1`);
  }
  let path = named === undefined ? undefined : requirePath(named, "file", "--file");
  path ??= firmwareSearchDirs().map(({ dir }) => `${dir}/${REAL}`).find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  let temp: string | undefined;
  if (path === undefined) {
    temp = await Deno.makeTempFile({ prefix: "falconry-touch-", suffix: ".bin" });
    await Deno.writeFile(temp, forgeGspImage({ imageSize: GA102_IMAGE_SIZE }));
    path = temp;
  }
  try {
    const runs: ChildResult[] = [];
    // Interleave the ways so that a drift of the machine's load weighs on all alike.
    for (let i = 0; i < processes; i++) {
      for (const way of WAYS) runs.push(await runChild(way, path));
    }
    const ways = Object.fromEntries(WAYS.map((way) => {
      const mine = runs.filter((r) => r.way === way);
      const med = (k: "setup" | "firstRead" | "secondRead" | "anonHugeKb") =>
        median(mine.map((r) => r[k]));
      return [way, {
        setup: med("setup"),
        firstRead: med("firstRead"),
        secondRead: med("secondRead"),
        anonHugeKb: med("anonHugeKb"),
        runs: mine,
      }];
    })) as FirstTouchResult["ways"];
    const result: FirstTouchResult = {
      file: path,
      imageSize: (() => {
        using source = fileSource(path);
        return parseGspImage(source).imageSize;
      })(),
      processes,
      ways,
      boots: { fresh: await boots(path, false), pooled: await boots(path, true) },
      transparentHugePages: await Deno.readTextFile("/sys/kernel/mm/transparent_hugepage/enabled")
        .then((t) => t.trim(), () => "unknown"),
    };
    if (parsed.json) printJson(result);
    else printResult(result);
    return 0;
  } finally {
    if (temp) await Deno.remove(temp);
  }
}

function printResult(r: FirstTouchResult): void {
  const ms = (t: number) => `${t.toFixed(1).padStart(7)} ms`;
  console.log(
    `First touch, ${(r.imageSize / 2 ** 20).toFixed(1)} MiB .fwimage of ${r.file}; ` +
      `medians of ${r.processes} fresh processes per way; THP: ${r.transparentHugePages}`,
  );
  console.log(
    `  ${"way".padEnd(20)}${"setup".padStart(10)}${"1st read".padStart(10)}` +
      `${"2nd read".padStart(10)}  1st/2nd  huge pages`,
  );
  for (const [way, w] of Object.entries(r.ways)) {
    console.log(
      `  ${way.padEnd(20)}${ms(w.setup)}${ms(w.firstRead)}${ms(w.secondRead)}` +
        `  ${((w.setup + w.firstRead) / w.secondRead).toFixed(1).padStart(6)}×  ` +
        `${(w.anonHugeKb / 1024).toFixed(0)} MiB`,
    );
  }
  const list = (t: number[]) => t.map((x) => x.toFixed(1)).join(", ");
  console.log(`  loadGspImage, 5 boots, fresh buffer each: ${list(r.boots.fresh)} ms`);
  console.log(`  loadGspImage, 5 boots, GspMemoryPool:     ${list(r.boots.pooled)} ms`);
}

if (import.meta.main) await runMain(() => main(Deno.args));
