/**
 * PROM: the VBIOS ROM visible through the 1 MiB window at BAR0 0x300000
 * (`registers/prom.ts`). Reads are 32-bit, little-endian; bytes past the
 * image read as erased flash (0xff). Writes are refused. The block counts the
 * bytes read (a boot should read only the tables and images it needs) and
 * charges each read the PROM's modelled cost (~3 µs on hardware).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PromBlock } from "./prom.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * const prom = new PromBlock("tu102", new Uint8Array([0x55, 0xaa, 1, 2]));
 * const base = chipRegisters("tu102").PROM.DATA.address;
 * assert.equal(prom.read(base), 0x0201aa55);
 * assert.equal(prom.read(base + 4), 0xffffffff);
 * assert.equal(prom.bytesRead, 8);
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../../chips/chips.ts";
import { FalconryError } from "../../errors.ts";
import { chipRegisters } from "../../registers/bind.ts";
import type { SimBlock } from "../block.ts";

/** What erased flash reads. */
const ERASED = 0xff;

/** The PROM block of a simulated chip. */
export class PromBlock implements SimBlock {
  /** Block name. */
  readonly name = "PROM";
  /** The window. */
  readonly ranges: readonly { start: number; end: number }[];
  /** The image as given. */
  readonly image: Uint8Array;
  readonly #base: number;
  readonly #words: Uint32Array;
  readonly #charge?: () => void;
  /** Bytes read through the window. */
  bytesRead = 0;

  /**
   * Build it.
   *
   * @param chip The chip (for the window's address).
   * @param image The VBIOS, at most the window's size.
   * @param charge Called on every read to charge its modelled cost.
   * @throws {FalconryError} For an image larger than the window.
   */
  constructor(chip: string | ChipInfo, image: Uint8Array, charge?: () => void) {
    const data = chipRegisters(chip).PROM.DATA;
    if (image.length > data.count) {
      throw new FalconryError(
        `VBIOS image of ${image.length} bytes does not fit the ${data.count}-byte PROM window`,
      );
    }
    this.#base = data.address;
    this.ranges = [{ start: data.address, end: data.address + data.count }];
    this.image = image;
    const bytes = new Uint8Array(data.count).fill(ERASED);
    bytes.set(image);
    this.#words = new Uint32Array(bytes.buffer);
    this.#charge = charge;
  }

  /**
   * Read a 32-bit word of the ROM.
   *
   * @param offset BAR0 byte offset in the window.
   */
  read(offset: number): number {
    this.bytesRead += 4;
    this.#charge?.();
    return this.#words[(offset - this.#base) >>> 2];
  }

  /** The ROM is not writable through the window. */
  write(): boolean {
    return false;
  }

  /**
   * `PROM_DATA(+offset)` for any offset in the window.
   *
   * @param offset BAR0 byte offset.
   */
  registerName(offset: number): string | undefined {
    const rel = offset - this.#base;
    return rel >= 0 && rel < this.#words.length * 4
      ? `PROM_DATA(+0x${rel.toString(16)})`
      : undefined;
  }
}
