/**
 * Hopper's sysmem flush page (reference §3.11; NVIDIA `dev_fb.h` for gh100):
 * one DMA page whose address the FB hub flushes to, registered through the
 * FBHUB pair: `NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI` (address bits 51:32)
 * first, then `…_LO` (bits 31:0; bits 7:0 ignored), whose write arms the
 * flush. Disposing it unregisters the page (both halves 0, only if the
 * registers still hold its address: a function reset may have cleared them)
 * and frees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipRegisters } from "../registers/bind.ts";
 * import { HopperFlushPage } from "./fsp_flush_page.ts";
 * const regs = chipRegisters("gh100");
 * const words = new Map<number, number>();
 * const bar = { read32: (a: number) => words.get(a) ?? 0, write32: (a: number, v: number) => void words.set(a, v) };
 * const dma = { alloc: (size: number) => ({ bytes: new Uint8Array(size), iova: 0x12_3456_7000n, size, [Symbol.dispose]() {} }) };
 * {
 *   using page = new HopperFlushPage(bar, regs, dma);
 *   assert.equal(words.get(regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI.address), 0x12);
 *   assert.equal(words.get(regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.address), 0x34567000);
 *   assert.equal(page.page.iova, 0x12_3456_7000n);
 * }
 * assert.equal(words.get(regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.address), 0);
 * ```
 *
 * @module
 */

import type { DmaAllocator, DmaBuffer } from "../pci/device.ts";
import type { Mmio } from "../pci/mmio.ts";
import type { ChipRegisters } from "../registers/bind.ts";
import { hex } from "./_hw.ts";

/** The high register holds address bits 51:32. */
const HI_BITS = 20;

/** Hopper's sysmem flush page, registered; dispose to unregister and free it. */
export class HopperFlushPage implements Disposable {
  /** The page. */
  readonly page: DmaBuffer;
  readonly #bar: Pick<Mmio, "read32" | "write32">;
  readonly #regs: ChipRegisters;

  /**
   * Allocate the page and register it.
   *
   * @param bar BAR0.
   * @param regs The chip's registers (Hopper: the FBHUB pair is present).
   * @param dma Where to allocate.
   * @throws {RangeError} When the page's address does not fit 52 bits.
   * @throws {RegisterAccessError} On a chip without the FBHUB pair.
   */
  constructor(bar: Pick<Mmio, "read32" | "write32">, regs: ChipRegisters, dma: DmaAllocator) {
    this.#bar = bar;
    this.#regs = regs;
    this.page = dma.alloc(4096, { align: 4096 });
    try {
      const high = this.page.iova >> 32n;
      if (high >> BigInt(HI_BITS) !== 0n) {
        throw new RangeError(`the flush page at ${hex(this.page.iova)} is above 2^52`);
      }
      regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI.writeRaw(bar, Number(high));
      regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.writeRaw(bar, this.#low());
    } catch (e) {
      this.page[Symbol.dispose]();
      throw e;
    }
  }

  #low(): number {
    return Number(this.page.iova & 0xffff_ff00n);
  }

  /** Unregister the page if the registers still hold it, then free it. */
  [Symbol.dispose](): void {
    try {
      const pfb = this.#regs.PFB;
      const lo = pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO;
      const hi = pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI;
      if (
        lo.readRaw(this.#bar) === this.#low() &&
        hi.readRaw(this.#bar) === Number(this.page.iova >> 32n)
      ) {
        hi.writeRaw(this.#bar, 0);
        lo.writeRaw(this.#bar, 0);
      }
    } finally {
      this.page[Symbol.dispose]();
    }
  }
}
