/**
 * Loading falcon memory by PIO, through port 0 of `IMEMC`/`IMEMT`/`IMEMD`
 * and `DMEMC`/`DMEMD` (reference §3.6, §12): the control register takes the
 * byte address as `BLK:OFFS` with `AINCW` (and `SECURE` for IMEM); each
 * 256-byte IMEM block is preceded by its tag in `IMEMT`; the data goes in as
 * little-endian words, the last one zero-padded. The data registers are only
 * ever written: a read of `IMEMD`/`DMEMD` moves the port's address, so no
 * read-modify-write may touch them.
 *
 * @example Load 300 bytes of secure code at IMEM 0x200, tags from 7
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { FalconIo } from "./_io.ts";
 * import { pioLoadImem } from "./pio.ts";
 *
 * const writes: [number, number][] = [];
 * const bar0 = {
 *   read32: () => 0,
 *   write32: (offset: number, value: number) => void writes.push([offset, value]),
 * };
 * const io = new FalconIo({ bar0, clock: undefined!, dma: undefined! } as never,
 *   chipByName("tu102")!, "SEC2");
 * pioLoadImem(io, new Uint8Array(300).fill(1), { dstStart: 0x200, secure: true, tag: 7 });
 * assert.deepEqual(writes[0], [io.regs.IMEMC.at(0).address, 0x1000_0000 | 1 << 24 | 0x200]);
 * assert.deepEqual(writes[1], [io.regs.IMEMT.at(0).address, 7]);
 * assert.equal(writes.filter(([o]) => o === io.regs.IMEMT.at(0).address).length, 2);
 * assert.equal(writes.filter(([o]) => o === io.regs.IMEMD.at(0).address).length, 75);
 * ```
 *
 * @module
 */

import type { FalconIo } from "./_io.ts";
import { FALCON_BLOCK_BYTES } from "./load_plan.ts";

/** The PIO port the driver uses (each engine has 4 IMEM and 8 DMEM ports). */
const PORT = 0;

/** Where an IMEM PIO load goes. */
export interface PioImemTarget {
  /** IMEM byte address, a multiple of 256. */
  dstStart: number;
  /** Load as secure code (`IMEMC.SECURE`). */
  secure: boolean;
  /** Tag of the first 256-byte block; block n gets `tag + n`. */
  tag: number;
}

/** The little-endian word at `at`, bytes past the end read as 0. */
function wordAt(data: Uint8Array, at: number): number {
  if (at + 4 <= data.length) {
    return (data[at] | data[at + 1] << 8 | data[at + 2] << 16 | data[at + 3] << 24) >>> 0;
  }
  let word = 0;
  for (let i = 0; i < 4 && at + i < data.length; i++) word |= data[at + i] << (8 * i);
  return word >>> 0;
}

/** The `BLK`/`OFFS` fields of a byte address. */
function addressFields(address: number): { BLK: number; OFFS: number } {
  return {
    BLK: Math.floor(address / FALCON_BLOCK_BYTES),
    OFFS: (address % FALCON_BLOCK_BYTES) >>> 2,
  };
}

/**
 * Write code into IMEM by PIO, one tag per 256-byte block.
 *
 * @param io The engine's registers.
 * @param data The code.
 * @param target IMEM address, secure bit, first tag.
 * @throws {RangeError} When `dstStart` is not a multiple of 256.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pioLoadImem } from "./pio.ts";
 * assert.throws(
 *   () => pioLoadImem(undefined as never, new Uint8Array(4), { dstStart: 4, secure: false, tag: 0 }),
 *   RangeError,
 * );
 * ```
 */
export function pioLoadImem(io: FalconIo, data: Uint8Array, target: PioImemTarget): void {
  if (target.dstStart % FALCON_BLOCK_BYTES !== 0) {
    throw new RangeError(
      `IMEM PIO destination 0x${target.dstStart.toString(16)} is not 256-aligned`,
    );
  }
  const { bar, regs } = io;
  const imemt = regs.IMEMT.at(PORT);
  const imemd = regs.IMEMD.at(PORT);
  regs.IMEMC.at(PORT).write(bar, {
    ...addressFields(target.dstStart),
    AINCW: 1,
    SECURE: target.secure ? 1 : 0,
  });
  for (let block = 0; block * FALCON_BLOCK_BYTES < data.length; block++) {
    imemt.write(bar, { TAG: target.tag + block });
    const start = block * FALCON_BLOCK_BYTES;
    const end = Math.min(start + FALCON_BLOCK_BYTES, data.length);
    for (let at = start; at < end; at += 4) imemd.writeRaw(bar, wordAt(data, at));
  }
}

/**
 * Write data into DMEM by PIO.
 *
 * @param io The engine's registers.
 * @param data The bytes.
 * @param dstStart DMEM byte address, a multiple of 4.
 * @throws {RangeError} When `dstStart` is not a multiple of 4.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pioLoadDmem } from "./pio.ts";
 * assert.throws(() => pioLoadDmem(undefined as never, new Uint8Array(4), 2), RangeError);
 * ```
 */
export function pioLoadDmem(io: FalconIo, data: Uint8Array, dstStart: number): void {
  if (dstStart % 4 !== 0) {
    throw new RangeError(`DMEM PIO destination 0x${dstStart.toString(16)} is not 4-byte aligned`);
  }
  const { bar, regs } = io;
  const dmemd = regs.DMEMD.at(PORT);
  regs.DMEMC.at(PORT).write(bar, { ...addressFields(dstStart), AINCW: 1 });
  for (let at = 0; at < data.length; at += 4) dmemd.writeRaw(bar, wordAt(data, at));
}
