/**
 * The VBIOS as a {@linkcode ByteSource} read through the PROM window (BAR0
 * `0x300000`, 1 MiB), so that the VBIOS parsers (`firmware/vbios/`), which
 * read lazily, pull only the images they need from the flash instead of a
 * blind 1 MiB scan (reference §3.2).
 *
 * The window is read 32 bits at a time (the reference's `try_read32`); the
 * last word read is kept, so byte-by-byte reads of one word cost one BAR0
 * read. A read that returns a PRI error or all ones is data here (an erased
 * flash reads all ones): the boot step checks that the GPU still answers
 * when the parse fails.
 *
 * @example Reading a forged VBIOS from a simulated GPU's PROM
 * ```ts
 * import assert from "node:assert/strict";
 * import { extractFwsec } from "../firmware/fwsec/extract.ts";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { PromSource } from "./prom_source.ts";
 *
 * await using gpu = new SimulatedGpu({ chip: "ga102" });
 * const prom = new PromSource(gpu.bar0, "ga102");
 * const fwsec = extractFwsec(prom);
 * assert.equal(fwsec.descriptor.descriptorVersion, 3);
 * assert(prom.bytesRead < prom.size);
 * assert.equal(prom.bytesRead, prom.wordsRead * 4);
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../chips/chips.ts";
import { type ByteSource, checkRange } from "../firmware/byte_source.ts";
import type { Mmio } from "../pci/mmio.ts";
import { chipRegisters } from "../registers/bind.ts";

/** The VBIOS through the PROM window, one 32-bit read per word. */
export class PromSource implements ByteSource {
  /** The window's size (1 MiB). */
  readonly size: number;
  /** For errors. */
  readonly name = "PROM";
  readonly #bar: Pick<Mmio, "read32">;
  readonly #base: number;
  #cachedAt = -1;
  #cached = 0;
  #words = 0;

  /**
   * Read a chip's PROM window.
   *
   * @param bar BAR0.
   * @param chip The chip (places the window).
   */
  constructor(bar: Pick<Mmio, "read32">, chip: string | ChipInfo) {
    const data = chipRegisters(chip).PROM.DATA;
    this.#bar = bar;
    this.#base = data.address;
    this.size = data.count;
  }

  /** BAR0 reads made so far. */
  get wordsRead(): number {
    return this.#words;
  }

  /** Bytes read from the flash so far (4 per BAR0 read). */
  get bytesRead(): number {
    return this.#words * 4;
  }

  #word(at: number): number {
    if (at !== this.#cachedAt) {
      this.#cached = this.#bar.read32(this.#base + at);
      this.#cachedAt = at;
      this.#words++;
    }
    return this.#cached;
  }

  /**
   * Read `length` bytes at `offset` of the window.
   *
   * @param offset Byte offset.
   * @param length Bytes.
   * @returns A new array.
   * @throws {FirmwareFormatError} For a range outside the window.
   */
  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    const end = offset + length;
    for (let at = offset & ~3; at < end; at += 4) {
      const word = this.#word(at);
      const from = Math.max(at, offset);
      const to = Math.min(at + 4, end);
      for (let p = from; p < to; p++) out[p - offset] = (word >>> (8 * (p - at))) & 0xff;
    }
    return out;
  }
}
