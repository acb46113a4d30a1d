/**
 * The radix3 page tables through which the GSP bootloader finds the GSP-RM
 * image in system memory (`GspFwWprMeta.sysmemAddrOfRadix3Elf` holds the
 * level-0 address).
 *
 * Every table entry is a little-endian u64 DMA address, and every page is
 * 4 KiB (512 entries):
 * - level 2: one entry per 4 KiB page of the image, in order (the image
 *   pages need not be contiguous);
 * - level 1: one entry per page of the level-2 table;
 * - level 0: one page, one entry per page of the level-1 table.
 * Unused entries are zero.
 *
 * Sources: NVIDIA's `kgspCreateRadix3_IMPL` (open-gpu-kernel-modules,
 * `kernel_gsp.c`) fills level 0 with every level-1 page; nouveau's
 * `nvkm_gsp_radix3_sg` and nova-core's `GspFirmware` give level 1 one page
 * and write only level-0 entry 0. Both agree for images up to 1 GiB (512 × 512
 * pages), which covers every real image; beyond that NVIDIA's form is used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRadix3, radix3Layout } from "./radix3.ts";
 * const layout = radix3Layout(63541248);
 * assert(layout.imagePages === 15513 && layout.level2Pages === 31);
 * assert(layout.level1Pages === 1);
 * const tables = buildRadix3({
 *   imageSize: 8192,
 *   imagePageAddress: (i) => 0x100000n + BigInt(i) * 4096n,
 *   tablePageAddress: (level, i) => 0x10000n * BigInt(level + 1) + BigInt(i) * 4096n,
 * });
 * assert(new DataView(tables.level2.buffer).getBigUint64(8, true) === 0x101000n);
 * ```
 *
 * @module
 */

/** Page size of the GSP's radix3 tables and of the image pages they map. */
export const GSP_PAGE_SIZE = 4096;
/** u64 entries in one table page. */
export const RADIX3_ENTRIES_PER_PAGE: number = GSP_PAGE_SIZE / 8;
/**
 * The largest image three levels under one level-0 page can map:
 * 512³ pages of 4 KiB (512 GiB). nouveau and nova-core stop at 1 GiB.
 */
export const RADIX3_MAX_IMAGE_SIZE: number = RADIX3_ENTRIES_PER_PAGE ** 3 * GSP_PAGE_SIZE;

/** A radix3 table level: 0 (root), 1, or 2 (entries point at image pages). */
export type Radix3Level = 0 | 1 | 2;

/** Page counts of the image and of each table level. */
export interface Radix3Layout {
  /** Image size in bytes. */
  imageSize: number;
  /** 4 KiB pages of the image (the last may be partly used). */
  imagePages: number;
  /** Pages of the level-0 table (always 1). */
  level0Pages: number;
  /** Pages of the level-1 table. */
  level1Pages: number;
  /** Pages of the level-2 table. */
  level2Pages: number;
  /** All table pages, `level0Pages + level1Pages + level2Pages`. */
  tablePages: number;
}

const pagesFor = (entries: number) => Math.ceil(entries / RADIX3_ENTRIES_PER_PAGE);

/**
 * Page counts for an image of `imageSize` bytes.
 *
 * @throws {RangeError} Unless `0 < imageSize <= RADIX3_MAX_IMAGE_SIZE` (an integer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { radix3Layout } from "./radix3.ts";
 * const l = radix3Layout(28528288); // 570.144 Turing .fwimage, not page-aligned
 * assert(l.imagePages === 6965 && l.level2Pages === 14 && l.tablePages === 16);
 * ```
 */
export function radix3Layout(imageSize: number): Radix3Layout {
  if (!Number.isSafeInteger(imageSize) || imageSize <= 0 || imageSize > RADIX3_MAX_IMAGE_SIZE) {
    throw new RangeError(
      `radix3 image size ${imageSize} is not an integer in 1..${RADIX3_MAX_IMAGE_SIZE}`,
    );
  }
  const imagePages = Math.ceil(imageSize / GSP_PAGE_SIZE);
  const level2Pages = pagesFor(imagePages);
  const level1Pages = pagesFor(level2Pages);
  const level0Pages = pagesFor(level1Pages);
  return {
    imageSize,
    imagePages,
    level0Pages,
    level1Pages,
    level2Pages,
    tablePages: level0Pages + level1Pages + level2Pages,
  };
}

/** The three tables, ready to be placed at the addresses they were built for. */
export interface Radix3Tables {
  /** Page counts. */
  layout: Radix3Layout;
  /** Level 0 (`level0Pages × 4096` bytes). */
  level0: Uint8Array;
  /** Level 1 (`level1Pages × 4096` bytes). */
  level1: Uint8Array;
  /** Level 2 (`level2Pages × 4096` bytes). */
  level2: Uint8Array;
  /** DMA address of the level-0 page (`sysmemAddrOfRadix3Elf`). */
  level0Address: bigint;
}

/** Inputs to {@linkcode buildRadix3}. */
export interface BuildRadix3Options {
  /** Image size in bytes. */
  imageSize: number;
  /** DMA address of image page `page` (4 KiB-aligned). */
  imagePageAddress: (page: number) => bigint;
  /** DMA address of page `page` of table `level` (4 KiB-aligned). */
  tablePageAddress: (level: Radix3Level, page: number) => bigint;
  /**
   * Buffers to write the tables into (for instance the DMA memory they will
   * live in); each must hold at least that level's pages. Missing ones are
   * allocated.
   */
  tables?: { level0?: Uint8Array; level1?: Uint8Array; level2?: Uint8Array };
}

const PAGE_MASK = BigInt(GSP_PAGE_SIZE - 1);
const U64_LAST_PAGE = (1n << 64n) - BigInt(GSP_PAGE_SIZE);
const TWO_32 = 2 ** 32;

/**
 * Address callbacks made by {@linkcode contiguousRadix3Addresses}, mapped to
 * the address of each level's page 0: `address(i) = first + i × 4096`. Keyed
 * by the function itself, so a callback the caller replaced (even inside a
 * spread copy of the object) is never mistaken for a contiguous one.
 */
const imageStarts = new WeakMap<(page: number) => bigint, bigint>();
const tableStarts = new WeakMap<(level: Radix3Level, page: number) => bigint, bigint[]>();

/**
 * Build the radix3 tables for an image whose pages and table pages sit at
 * the given DMA addresses. Each table is zeroed first, then filled.
 *
 * Callbacks from {@linkcode contiguousRadix3Addresses} are recognised and
 * filled as 32-bit halves without a `bigint` per entry (about 20× faster on
 * the 63 MB image); any other callback is called once per entry.
 *
 * @throws {RangeError} On a bad image size, an address that is not a 4 KiB
 *   aligned u64, or a supplied buffer that is too small.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRadix3, contiguousRadix3Addresses, radix3Layout } from "./radix3.ts";
 * const layout = radix3Layout(3 * 4096);
 * const addresses = contiguousRadix3Addresses(layout, 0x80000000n);
 * const tables = buildRadix3({ imageSize: layout.imageSize, ...addresses });
 * const entry = (t: Uint8Array, i: number) =>
 *   new DataView(t.buffer, t.byteOffset).getBigUint64(i * 8, true);
 * assert(tables.level0Address === 0x80000000n);
 * assert(entry(tables.level0, 0) === 0x80001000n);
 * assert(entry(tables.level1, 0) === 0x80002000n);
 * assert(entry(tables.level2, 2) === 0x80005000n);
 * ```
 */
export function buildRadix3(options: BuildRadix3Options): Radix3Tables {
  const layout = radix3Layout(options.imageSize);
  const tableBytes = (level: Radix3Level, pages: number, supplied?: Uint8Array) => {
    const size = pages * GSP_PAGE_SIZE;
    if (supplied && supplied.length < size) {
      throw new RangeError(
        `radix3 level ${level} needs ${size} bytes, the supplied buffer has ${supplied.length}`,
      );
    }
    const bytes = supplied ? supplied.subarray(0, size) : new Uint8Array(size);
    if (supplied) bytes.fill(0);
    return bytes;
  };
  const level0 = tableBytes(0, layout.level0Pages, options.tables?.level0);
  const level1 = tableBytes(1, layout.level1Pages, options.tables?.level1);
  const level2 = tableBytes(2, layout.level2Pages, options.tables?.level2);

  const { imagePageAddress, tablePageAddress } = options;
  const tableStart = tableStarts.get(tablePageAddress);
  const tablePage = (level: Radix3Level) => (page: number) =>
    checkedAddress(tablePageAddress(level, page), level, page);
  writeEntries(level0, layout.level1Pages, tablePage(1), tableStart?.[1]);
  writeEntries(level1, layout.level2Pages, tablePage(2), tableStart?.[2]);
  writeEntries(
    level2,
    layout.imagePages,
    (page) => checkedAddress(imagePageAddress(page), "image", page),
    imageStarts.get(imagePageAddress),
  );
  return { layout, level0, level1, level2, level0Address: tablePage(0)(0) };
}

/**
 * Write `count` u64 entries. With `first` (the address of entry 0 of a
 * contiguous run) that is a valid run, the entries are written as low and
 * high 32-bit halves with plain numbers; otherwise, or when some address of
 * the run is bad, `address` is called per entry (and throws its usual error).
 */
function writeEntries(
  target: Uint8Array,
  count: number,
  address: (i: number) => bigint,
  first?: bigint,
): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  if (first !== undefined && isContiguousRun(first, count)) {
    let low = Number(first & 0xffff_ffffn);
    let high = Number(first >> 32n);
    for (let at = 0, end = count * 8; at < end; at += 8) {
      view.setUint32(at, low, true);
      view.setUint32(at + 4, high, true);
      low += GSP_PAGE_SIZE;
      if (low >= TWO_32) {
        low -= TWO_32;
        high++;
      }
    }
    return;
  }
  for (let i = 0; i < count; i++) view.setBigUint64(i * 8, address(i), true);
}

/** Whether `first + i × 4096` is a 4 KiB-aligned u64 for every `i < count`. */
function isContiguousRun(first: bigint, count: number): boolean {
  return first >= 0n && (first & PAGE_MASK) === 0n &&
    first + BigInt(Math.max(count - 1, 0) * GSP_PAGE_SIZE) <= U64_LAST_PAGE;
}

/** Checks one address; `kind` and `page` only name it in the error (built lazily: hot path). */
function checkedAddress(address: bigint, kind: Radix3Level | "image", page: number): bigint {
  const what = () => kind === "image" ? `image page ${page}` : `level ${kind} table page ${page}`;
  if (typeof address !== "bigint" || BigInt.asUintN(64, address) !== address) {
    throw new RangeError(`radix3: DMA address of ${what()} (${address}) is not a u64 bigint`);
  }
  if ((address & PAGE_MASK) !== 0n) {
    throw new RangeError(
      `radix3: DMA address of ${what()} (0x${address.toString(16)}) is not 4 KiB-aligned`,
    );
  }
  return address;
}

/** Address callbacks for {@linkcode buildRadix3}. */
export interface Radix3Addresses {
  /** DMA address of image page `page`. */
  imagePageAddress: (page: number) => bigint;
  /** DMA address of page `page` of table `level`. */
  tablePageAddress: (level: Radix3Level, page: number) => bigint;
}

/**
 * Addresses for one contiguous region at `base` laid out as NVIDIA's
 * `kgspCreateRadix3` lays out its single allocation: level 0, then level 1,
 * then level 2, then the image pages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contiguousRadix3Addresses, radix3Layout } from "./radix3.ts";
 * const a = contiguousRadix3Addresses(radix3Layout(63541248), 0n);
 * assert(a.tablePageAddress(2, 0) === 0x2000n && a.imagePageAddress(0) === 0x21000n);
 * ```
 */
export function contiguousRadix3Addresses(layout: Radix3Layout, base: bigint): Radix3Addresses {
  const levelStart = [0, layout.level0Pages, layout.level0Pages + layout.level1Pages];
  // Page numbers stay below 2^27, so their byte offsets are exact doubles.
  const tablePageAddress = (level: Radix3Level, i: number) =>
    base + BigInt((levelStart[level] + i) * GSP_PAGE_SIZE);
  const imagePageAddress = (i: number) => base + BigInt((layout.tablePages + i) * GSP_PAGE_SIZE);
  if (typeof base === "bigint") {
    tableStarts.set(
      tablePageAddress,
      levelStart.map((_, level) => tablePageAddress(level as Radix3Level, 0)),
    );
    imageStarts.set(imagePageAddress, imagePageAddress(0));
  }
  return { tablePageAddress, imagePageAddress };
}
