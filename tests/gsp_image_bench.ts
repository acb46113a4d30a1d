// P1: preparing the GSP image. Goal: falconry's preparation from the path
// (headers and signature in two reads, or none when the header cache has
// them; .fwimage straight into the pool's "DMA" region; radix3 tables in the
// same region) costs at most 1.1× one plain read of the whole file.
//
// Both sides read into page-aligned memory from the same allocator (anonymous
// mmap) and of the same length, so both buffers sit at page offset 0, and both are touched
// before timing (first touch: scripts/bench_first_touch.ts). Deno.bench times
// each side on its own; the P1 figure is the median of interleaved pairs,
// which scripts/bench_gsp_image.ts prints as a ratio.
//
// Run: deno bench -A tests/gsp_image_bench.ts

import { FAMILIES } from "../chips/chips.ts";
import { forgeGspImage } from "../firmware/forge/elf.ts";
import { gspSignature, parseGspImage } from "../firmware/gsp_image.ts";
import {
  buildRadix3,
  contiguousRadix3Addresses,
  GSP_PAGE_SIZE,
  radix3Layout,
} from "../firmware/radix3.ts";
import { fileSource, GspMemoryPool, loadGspImage } from "../loader/gsp_image.ts";
import * as libc from "../pci/libc.ts";
import { findRealFirmware } from "./_real.ts";

const REAL = "nvidia/ga102/gsp/gsp-570.144.bin";
const GA102_IMAGE_SIZE = 63541248;

function forgedFile(): string {
  const path = Deno.makeTempFileSync({ prefix: "falconry-p1-", suffix: ".bin" });
  Deno.writeFileSync(path, forgeGspImage({ imageSize: GA102_IMAGE_SIZE }));
  globalThis.addEventListener("unload", () => Deno.removeSync(path));
  return path;
}

const realPath = findRealFirmware(REAL);
const path = realPath ?? forgedFile();
const label = realPath
  ? "real ga102 gsp-570.144.bin"
  : "forged 63 MB GSP image (real gsp-570.144.bin missing)";
const fileSize = Deno.statSync(path).size;
const image = (() => {
  using source = fileSource(path);
  return parseGspImage(source).image;
})();
const layout = radix3Layout(image.size);
const regionLength = (layout.tablePages + layout.imagePages) * GSP_PAGE_SIZE;
// Page-aligned anonymous memory, as DMA memory is, for both sides.
const allocate = (n: number) =>
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(
    libc.mmap(n, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS, -1, 0),
    n,
  ));
const pool = new GspMemoryPool({ allocate });
pool.reserve(regionLength);
const fileBuffer = allocate(Math.max(regionLength, fileSize)).subarray(0, fileSize).fill(0);
const signatureSection = FAMILIES.ga10x.gspSignatureSection;

async function readWhole(into: Uint8Array): Promise<void> {
  using file = await Deno.open(path);
  for (let done = 0; done < into.length;) {
    const n = await file.read(into.subarray(done));
    if (n === null || n === 0) throw new Error(`${path} ended after ${done} bytes`);
    done += n;
  }
}

Deno.bench({
  name: `p1 baseline: read the whole ${label} into a touched buffer`,
  group: "p1",
  baseline: true,
  async fn() {
    await readWhole(fileBuffer);
  },
});

Deno.bench({
  name: `p1 falconry: loadGspImage(${label}), headers parsed (first load in a process)`,
  group: "p1",
  async fn() {
    using gsp = await loadGspImage(path, { signatureSection, pool, headerCache: false });
    if (gsp.imageSize !== image.size) throw new Error(`image size ${gsp.imageSize}`);
  },
});

Deno.bench({
  name: `p1 falconry: loadGspImage(${label}), headers cached (later loads)`,
  group: "p1",
  async fn() {
    using gsp = await loadGspImage(path, { signatureSection, pool });
    if (gsp.imageSize !== image.size) throw new Error(`image size ${gsp.imageSize}`);
  },
});

Deno.bench({
  name: `p1 reference: read only .fwimage of ${label} into the same region`,
  group: "p1",
  async fn() {
    const region = pool.take(regionLength);
    try {
      using source = fileSource(path);
      const start = layout.tablePages * GSP_PAGE_SIZE;
      await source.readInto(image.offset, region.subarray(start, start + image.size));
    } finally {
      pool.give(region);
    }
  },
});

Deno.bench({
  name: "radix3 tables for the 63 MB image, contiguous addresses (no bigint per entry)",
  group: "radix3",
  fn() {
    buildRadix3({ imageSize: image.size, ...contiguousRadix3Addresses(layout, 0x1_0000_0000n) });
  },
});

Deno.bench({
  name: "radix3 tables for the 63 MB image, scattered addresses from a callback",
  group: "radix3",
  fn() {
    buildRadix3({
      imageSize: image.size,
      imagePageAddress: (i) => 0x1_0000_0000n + BigInt(layout.imagePages - 1 - i) * 0x3000n,
      tablePageAddress: (level, i) => 0x7f_0000_0000n + BigInt(level * 512 + i) * 0x1000n,
    });
  },
});

Deno.bench({
  name: `headers and signature of ${label} (two reads)`,
  group: "headers",
  fn() {
    using source = fileSource(path);
    gspSignature(parseGspImage(source), source, signatureSection);
  },
});
