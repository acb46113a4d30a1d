/**
 * What a {@linkcode FalconLoadMap} asks of a falcon, checked against the
 * image and the falcon's IMEM before a register is touched: the IMEM
 * segments in load order (non-secure first, then secure) with the tag of
 * their first 256-byte block, the DMEM segment, and the boot address. The
 * PIO and DMA loaders both work from this plan, so a map loads the same
 * bytes, tags and secure bits either way.
 *
 * Tags: an IMEM block answers to its virtual address / 256. The DMA engine
 * tags each block with its source offset (`DMATRFFBOFFS / 256`, image offset
 * / 256), so the plan gives PIO the same tag, `srcStart / 256`. nova-core
 * (reference §3.6) derives the PIO tag from `dstStart`; the two agree on
 * every map that is loaded by PIO (Booter on Turing and GA100 loads each
 * segment at its own image offset) and differ only for a map that moves code
 * (the GA102 Booter layout, which is DMA-loaded and tagged by source).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planFalconLoad } from "./load_plan.ts";
 *
 * const image = new Uint8Array(0x600);
 * const plan = planFalconLoad(image, {
 *   imemNonSecure: { srcStart: 0, dstStart: 0, length: 0x100 },
 *   imemSecure: { srcStart: 0x200, dstStart: 0x200, length: 0x200 },
 *   dmem: { srcStart: 0x400, dstStart: 0, length: 0x104 },
 *   bootAddress: 0,
 * }, { imemSize: 0x10000 });
 * assert.deepEqual(plan.imem.map((s) => [s.secure, s.tag]), [[false, 0], [true, 2]]);
 * assert.throws(
 *   () => planFalconLoad(image, { imemSecure: { srcStart: 0x500, dstStart: 0, length: 0x200 },
 *     dmem: { srcStart: 0, dstStart: 0, length: 0 }, bootAddress: 0 }, { imemSize: 0x10000 }),
 *   /loadMap\.imemSecure/,
 * );
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import type { FalconLoadMap, FalconLoadSegment } from "../firmware/falcon_load.ts";

/** Bytes per IMEM block (one tag), per DMA chunk, per HWCFG size unit. */
export const FALCON_BLOCK_BYTES = 256;

/** One IMEM segment to load. */
export interface PlannedImemSegment {
  /** Which part of the map: `imemNonSecure` or `imemSecure`. */
  readonly part: "imemNonSecure" | "imemSecure";
  /** Image offset of the first byte (a multiple of 256). */
  readonly srcStart: number;
  /** IMEM address of the first byte (a multiple of 256). */
  readonly dstStart: number;
  /** Bytes. */
  readonly length: number;
  /** Loaded as secure code. */
  readonly secure: boolean;
  /** Tag of the first block; block n gets `tag + n`. */
  readonly tag: number;
}

/** A checked load map. */
export interface FalconLoadPlan {
  /** IMEM segments, non-secure first; empty ones left out. */
  readonly imem: readonly PlannedImemSegment[];
  /** The DMEM segment (`length` may be 0). */
  readonly dmem: FalconLoadSegment;
  /** BOOTVEC. */
  readonly bootAddress: number;
}

/** Options for {@linkcode planFalconLoad}. */
export interface PlanFalconLoadOptions {
  /** IMEM size in bytes, as HWCFG reports it. */
  imemSize: number;
  /** The image's file name, for errors. */
  file?: string;
}

/**
 * Check a load map against an image and an IMEM size.
 *
 * @param image The (patched) image the map's `srcStart`s index.
 * @param map Where each part goes.
 * @param options IMEM size and file name.
 * @returns The plan.
 * @throws {FirmwareFormatError} naming `loadMap.<part>.<field>` when a
 *   segment lies outside the image or IMEM, or an IMEM segment is not
 *   256-byte aligned, or the DMEM destination is not 4-byte aligned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planFalconLoad } from "./load_plan.ts";
 * const plan = planFalconLoad(new Uint8Array(0x300), {
 *   imemSecure: { srcStart: 0x100, dstStart: 0, length: 0x100 },
 *   dmem: { srcStart: 0x200, dstStart: 0, length: 0x100 },
 *   bootAddress: 0x100,
 * }, { imemSize: 0x10000 });
 * assert.equal(plan.imem[0].tag, 1);
 * ```
 */
export function planFalconLoad(
  image: Uint8Array,
  map: FalconLoadMap,
  options: PlanFalconLoadOptions,
): FalconLoadPlan {
  const fail = (field: string, offset: number, reason: string): never => {
    throw new FirmwareFormatError({
      file: options.file,
      offset,
      field: `loadMap.${field}`,
      reason,
    });
  };
  const inImage = (part: string, s: FalconLoadSegment) => {
    for (const key of ["srcStart", "dstStart", "length"] as const) {
      if (!Number.isSafeInteger(s[key]) || s[key] < 0) {
        fail(`${part}.${key}`, 0, `${s[key]} is not a whole number ≥ 0`);
      }
    }
    if (s.srcStart + s.length > image.length) {
      fail(
        `${part}.length`,
        s.srcStart,
        `0x${hex(s.srcStart)} + 0x${hex(s.length)} bytes is past the 0x${
          hex(image.length)
        }-byte image`,
      );
    }
  };
  const imem: PlannedImemSegment[] = [];
  for (const part of ["imemNonSecure", "imemSecure"] as const) {
    const s = map[part];
    if (s === undefined) continue;
    inImage(part, s);
    if (s.length === 0) continue;
    for (const key of ["srcStart", "dstStart"] as const) {
      if (s[key] % FALCON_BLOCK_BYTES !== 0) {
        fail(`${part}.${key}`, s.srcStart, `0x${hex(s[key])} is not a multiple of 256`);
      }
    }
    const end = s.dstStart + roundUp(s.length, FALCON_BLOCK_BYTES);
    if (end > options.imemSize) {
      fail(
        `${part}.dstStart`,
        s.srcStart,
        `IMEM 0x${hex(s.dstStart)}..0x${hex(end)} is past the 0x${hex(options.imemSize)}-byte IMEM`,
      );
    }
    imem.push({ part, ...s, secure: part === "imemSecure", tag: s.srcStart / FALCON_BLOCK_BYTES });
  }
  inImage("dmem", map.dmem);
  if (map.dmem.dstStart % 4 !== 0) {
    fail("dmem.dstStart", map.dmem.srcStart, `0x${hex(map.dmem.dstStart)} is not 4-byte aligned`);
  }
  if (!Number.isInteger(map.bootAddress) || map.bootAddress < 0 || map.bootAddress >= 2 ** 32) {
    fail("bootAddress", 0, `${map.bootAddress} is not a 32-bit address`);
  }
  return { imem, dmem: { ...map.dmem }, bootAddress: map.bootAddress };
}

/**
 * `n` rounded up to a multiple of `unit`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundUp } from "./load_plan.ts";
 * assert.deepEqual([0, 1, 256, 257].map((n) => roundUp(n, 256)), [0, 256, 256, 512]);
 * ```
 */
export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}

function hex(n: number): string {
  return n.toString(16);
}
