/**
 * The radix3 walk Booter makes through DMA to find the GSP image
 * (nova-core-boot.md §3.9), with the simulator's own code: all entries are
 * little-endian u64 DMA addresses of 4 KiB pages; level 0 is one page whose
 * entry `i` is the address of level-1 page `i`; level 1 has one entry per
 * page of the level-2 table; level 2 has one entry per 4 KiB page of the
 * image. It reads every image page (the last one only up to the image's
 * size) and compares each, byte for byte, with the same page of the image it
 * expects, as Booter's hash and signature check would refuse any byte that
 * differs; on a mismatch it names the first page that differs.
 *
 * The pages are compared where they lie in system memory
 * ({@linkcode withInPlaceReads}), not copied: the walk reads 28–63 MB on
 * every boot.
 *
 * A read outside every live mapping is a `SimDmaFault`; the walk turns it
 * into a `dmaFault` verdict with the IOVA, as the falcon would stop on an
 * IOMMU fault.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { radix3Shape } from "./radix3_walk.ts";
 * assert.deepEqual(radix3Shape(63_000_000), { imagePages: 15381, level2Pages: 31, level1Pages: 1 });
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { type DmaView, SimDmaFault, withInPlaceReads } from "../system_memory.ts";
import { HS_ERROR, reject, type Verdict } from "./verdict.ts";
import { hex } from "./_util.ts";

const PAGE = 4096;
const ENTRIES = PAGE / 8;

/** How many pages each level has for an image size. */
export interface Radix3Shape {
  /** Image pages (level-2 entries). */
  imagePages: number;
  /** Level-2 table pages (level-1 entries). */
  level2Pages: number;
  /** Level-1 table pages (level-0 entries). */
  level1Pages: number;
}

/**
 * The table sizes for an image.
 *
 * @param imageSize Bytes.
 * @returns Pages per level.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { radix3Shape } from "./radix3_walk.ts";
 * assert.deepEqual(radix3Shape(4096), { imagePages: 1, level2Pages: 1, level1Pages: 1 });
 * ```
 */
export function radix3Shape(imageSize: number): Radix3Shape {
  const imagePages = Math.ceil(imageSize / PAGE);
  const level2Pages = Math.ceil(imagePages / ENTRIES);
  const level1Pages = Math.ceil(level2Pages / ENTRIES);
  return { imagePages, level2Pages, level1Pages };
}

/** The image the walk must find. */
export interface ExpectedImage {
  /** The `.fwimage` bytes: every page the walk reads is compared with them. */
  bytes: Uint8Array;
  /** Their SHA-256 in hex, when known: it names the image in a rejection. */
  sha256?: string;
}

/** A walk that found exactly the image. */
export interface Radix3Walk {
  /** Image pages read and found equal to the expected image's. */
  imagePages: number;
  /** Bytes read through DMA, tables included. */
  bytesRead: number;
}

/**
 * SHA-256 of an image, in hex (for {@linkcode ExpectedImage.sha256}).
 *
 * @param bytes The image.
 * @returns 64 hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageSha256 } from "./radix3_walk.ts";
 * assert.equal(imageSha256(new Uint8Array()).slice(0, 8), "e3b0c442");
 * ```
 */
export function imageSha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Walk the radix3 tables at `level0` and check they map exactly the image.
 *
 * @param dma The device's view of system memory.
 * @param level0 `sysmemAddrOfRadix3Elf`.
 * @param size `sizeOfRadix3Elf`.
 * @param expected The image it must find.
 * @returns The walk, or a rejection: `radix3` (wrong size, wrong bytes, with
 *   `detail.page`) or `dmaFault` (with `detail.iova`).
 *
 * @example A level-0 page that is not mapped
 * ```ts
 * import assert from "node:assert/strict";
 * import { walkRadix3 } from "./radix3_walk.ts";
 * import { SystemMemory } from "../system_memory.ts";
 * const v = walkRadix3(new SystemMemory(), 0x1000n, 4096, { bytes: new Uint8Array(4096) });
 * assert(!v.ok && v.rule === "dmaFault" && v.detail?.iova === 0x1000n);
 * ```
 */
export function walkRadix3(
  dma: DmaView,
  level0: bigint,
  size: number,
  expected: ExpectedImage,
): Verdict<Radix3Walk> {
  if (size !== expected.bytes.length) {
    return reject(
      HS_ERROR.radix3,
      `sizeOfRadix3Elf is ${hex(size)}, the GSP image is ${hex(expected.bytes.length)} bytes`,
    );
  }
  try {
    // Every page is looked at and let go before the next read: views, not copies.
    return withInPlaceReads(() => walk(dma, level0, size, expected));
  } catch (e) {
    if (e instanceof SimDmaFault) {
      return reject(HS_ERROR.dmaFault, `radix3 walk: ${e.message}`, {
        iova: e.iova,
        length: e.length,
      });
    }
    throw e;
  }
}

function walk(
  dma: DmaView,
  level0: bigint,
  size: number,
  expected: ExpectedImage,
): Verdict<Radix3Walk> {
  let bytesRead = 0;
  const read = (iova: bigint, length: number) => {
    bytesRead += length;
    return dma.read(iova, length);
  };
  const shape = radix3Shape(size);
  const level0View = entries(read(level0, PAGE));
  for (let i = shape.level1Pages; i < ENTRIES; i++) {
    if (level0View.getBigUint64(8 * i, true) !== 0n) {
      return reject(
        HS_ERROR.radix3,
        `level-0 entry ${i} is set; the image needs ${shape.level1Pages}`,
      );
    }
  }
  const level1Addresses: bigint[] = [];
  for (let i = 0; i < shape.level1Pages; i++) {
    level1Addresses.push(level0View.getBigUint64(8 * i, true));
  }
  const level2Addresses: bigint[] = [];
  for (const level1 of level1Addresses) {
    const page = entries(read(level1, PAGE));
    for (let j = 0; j < ENTRIES && level2Addresses.length < shape.level2Pages; j++) {
      level2Addresses.push(page.getBigUint64(8 * j, true));
    }
  }
  const image = expected.bytes;
  const compare = pageComparer();
  let firstBad: { page: number; iova: bigint } | undefined;
  // Pages that lie back to back in one backing store are compared as one run: a memcmp per page
  // costs more in call overhead than in comparing. A run that differs is searched page by page.
  let run: { got: Uint8Array; firstPage: number; iovas: bigint[] } | undefined;
  const flush = () => {
    if (!run || firstBad) return;
    const { got, firstPage, iovas } = run;
    if (compare(got, image, firstPage * PAGE)) return;
    for (let i = 0; i < iovas.length; i++) {
      const offset = i * PAGE;
      const piece = got.subarray(offset, Math.min(offset + PAGE, got.length));
      if (!compare(piece, image, (firstPage + i) * PAGE)) {
        firstBad = { page: firstPage + i, iova: iovas[i] };
        return;
      }
    }
  };
  let page = 0;
  for (const level2 of level2Addresses) {
    const table = entries(read(level2, PAGE));
    for (let k = 0; k < ENTRIES && page < shape.imagePages; k++, page++) {
      const offset = page * PAGE;
      const length = Math.min(PAGE, size - offset);
      const iova = table.getBigUint64(8 * k, true);
      // Booter reads the whole image before it checks it: a later unmapped page still faults.
      const got = read(iova, length);
      if (
        run && run.got.buffer === got.buffer &&
        run.got.byteOffset + run.got.length === got.byteOffset && run.got.length % PAGE === 0
      ) {
        run.got = new Uint8Array(got.buffer, run.got.byteOffset, run.got.length + got.length);
        run.iovas.push(iova);
      } else {
        flush();
        run = { got, firstPage: page, iovas: [iova] };
      }
    }
  }
  flush();
  if (firstBad) {
    const name = expected.sha256 ? ` (SHA-256 ${expected.sha256.slice(0, 16)}…)` : "";
    return reject(
      HS_ERROR.radix3,
      `the radix3 tables map bytes that are not the GSP image${name}: first wrong page ` +
        `${firstBad.page} (image offset ${hex(firstBad.page * PAGE)}, IOVA ` +
        `0x${firstBad.iova.toString(16)})`,
      { page: firstBad.page },
    );
  }
  return { ok: true, imagePages: shape.imagePages, bytesRead };
}

function entries(page: Uint8Array): DataView {
  return new DataView(page.buffer, page.byteOffset, page.byteLength);
}

/**
 * `(got, image, offset) => got equals image[offset, offset + got.length)`,
 * by `memcmp`, through Buffers made once per backing store (a walk's pages
 * share the few buffers of their mappings).
 */
function pageComparer(): (got: Uint8Array, image: Uint8Array, offset: number) => boolean {
  const buffers = new Map<ArrayBufferLike, Buffer>();
  const view = (bytes: Uint8Array, start: number, length: number) => {
    let whole = buffers.get(bytes.buffer);
    if (!whole) {
      whole = Buffer.from(bytes.buffer);
      buffers.set(bytes.buffer, whole);
    }
    const at = bytes.byteOffset + start;
    return whole.subarray(at, at + length);
  };
  return (got, image, offset) =>
    offset + got.length <= image.length &&
    view(got, 0, got.length).equals(view(image, offset, got.length));
}
