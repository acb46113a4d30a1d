// P1: preparing the GSP image. Goal: falconry's preparation from the path
// (headers, .fwimage straight into preallocated "DMA" memory, signature,
// radix3) costs at most 1.2× one plain read of the whole file into a
// preallocated buffer.
//
// Run: deno bench -A tests/gsp_image_bench.ts

import { FAMILIES } from "../chips/chips.ts";
import { forgeGspImage } from "../firmware/forge/elf.ts";
import { GSP_PAGE_SIZE } from "../firmware/radix3.ts";
import { loadGspImage } from "../loader/gsp_image.ts";
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
const fileBuffer = new Uint8Array(fileSize);
const shiftedBuffer = new Uint8Array(fileSize + 64).subarray(64);
// The image is smaller than the file; page-rounding the file size bounds it.
const dmaMemory = new Uint8Array(Math.ceil(fileSize / GSP_PAGE_SIZE) * GSP_PAGE_SIZE);

Deno.bench({
  name: `p1 baseline: read the whole ${label} into a preallocated buffer`,
  group: "p1",
  baseline: true,
  async fn() {
    using file = await Deno.open(path);
    for (let done = 0; done < fileSize;) {
      const n = await file.read(fileBuffer.subarray(done));
      if (n === null || n === 0) throw new Error(`${path} ended after ${done} bytes`);
      done += n;
    }
  },
});

// On the AMD EPYC this was measured on, the kernel's copy to user space runs
// about 3× slower when the page-cache source and the destination share their
// offset within a 4 KiB page (4K aliasing). Reading the file from offset 0 into
// a page-aligned buffer hits that; .fwimage starts at file offset 0x40, so the
// loader never does. This second reference reads the whole file into the
// buffer at +64 bytes, the same relative alignment the loader gets.
Deno.bench({
  name: `p1 reference: read the whole ${label} into a preallocated buffer at +64 bytes`,
  group: "p1",
  async fn() {
    using file = await Deno.open(path);
    for (let done = 0; done < fileSize;) {
      const n = await file.read(shiftedBuffer.subarray(done));
      if (n === null || n === 0) throw new Error(`${path} ended after ${done} bytes`);
      done += n;
    }
  },
});

Deno.bench({
  name: `p1 falconry: loadGspImage(${label}) into preallocated memory`,
  group: "p1",
  async fn() {
    const gsp = await loadGspImage(path, {
      signatureSection: FAMILIES.ga10x.gspSignatureSection,
      allocate: () => dmaMemory,
    });
    if (gsp.imageSize !== GA102_IMAGE_SIZE) throw new Error(`image size ${gsp.imageSize}`);
  },
});
