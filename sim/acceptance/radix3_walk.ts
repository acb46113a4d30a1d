/**
 * The radix3 walk Booter makes through DMA to find the GSP image
 * (nova-core-boot.md §3.9), with the simulator's own code: all entries are
 * little-endian u64 DMA addresses of 4 KiB pages; level 0 is one page whose
 * entry `i` is the address of level-1 page `i`; level 1 has one entry per
 * page of the level-2 table; level 2 has one entry per 4 KiB page of the
 * image. It reads every image page (the last one only up to the image's
 * size), hashes what it read with SHA-256, and compares it with the hash of
 * the image it expects; on a mismatch it names the first page that differs.
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
import { type DmaView, SimDmaFault } from "../system_memory.ts";
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
  /** The `.fwimage` bytes (to name the first wrong page). */
  bytes: Uint8Array;
  /** Their SHA-256 in hex, when already known (computed otherwise). */
  sha256?: string;
}

/** A walk that found exactly the image. */
export interface Radix3Walk {
  /** SHA-256 of what was read. */
  sha256: string;
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
  let bytesRead = 0;
  const read = (iova: bigint, length: number) => {
    bytesRead += length;
    return dma.read(iova, length);
  };
  try {
    const shape = radix3Shape(size);
    const level0Page = read(level0, PAGE);
    const level0View = entries(level0Page);
    for (let i = shape.level1Pages; i < ENTRIES; i++) {
      if (level0View.getBigUint64(8 * i, true) !== 0n) {
        return reject(
          HS_ERROR.radix3,
          `level-0 entry ${i} is set; the image needs ${shape.level1Pages}`,
        );
      }
    }
    const level2Addresses: bigint[] = [];
    for (let i = 0; i < shape.level1Pages; i++) {
      const page = entries(read(level0View.getBigUint64(8 * i, true), PAGE));
      for (let j = 0; j < ENTRIES && level2Addresses.length < shape.level2Pages; j++) {
        level2Addresses.push(page.getBigUint64(8 * j, true));
      }
    }
    const hash = createHash("sha256");
    let firstBadPage = -1;
    let page = 0;
    for (const level2 of level2Addresses) {
      const table = entries(read(level2, PAGE));
      for (let k = 0; k < ENTRIES && page < shape.imagePages; k++, page++) {
        const length = Math.min(PAGE, size - page * PAGE);
        const got = read(table.getBigUint64(8 * k, true), length);
        hash.update(got);
        if (firstBadPage < 0 && !samePage(got, expected.bytes, page * PAGE)) firstBadPage = page;
      }
    }
    const sha256 = hash.digest("hex");
    const want = expected.sha256 ?? imageSha256(expected.bytes);
    if (sha256 !== want) {
      return reject(
        HS_ERROR.radix3,
        `the radix3 tables map bytes with SHA-256 ${sha256.slice(0, 16)}…, not the GSP image ` +
          `(${want.slice(0, 16)}…); first wrong page: ${firstBadPage}`,
        { page: firstBadPage },
      );
    }
    return { ok: true, sha256, bytesRead };
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

function entries(page: Uint8Array): DataView {
  return new DataView(page.buffer, page.byteOffset, page.byteLength);
}

function samePage(got: Uint8Array, image: Uint8Array, offset: number): boolean {
  const want = image.subarray(offset, offset + got.length);
  return want.length === got.length && asBuffer(want).equals(asBuffer(got));
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
