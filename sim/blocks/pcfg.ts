/**
 * PCFG: the BAR0 mirror of PCI configuration space (`NV_PCFG`, 4 KiB at
 * 0x88000 on Turing–Ada; `NV_EP_PCFGM` at 0x92000 on GH100), whose base and size the driver sends to GSP-RM in
 * `GSP_SET_SYSTEM_INFO`. Reads return the configuration space's words;
 * writes go through to it, so the two views never disagree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PcfgBlock } from "./pcfg.ts";
 * import { SimConfigSpace } from "../config_space.ts";
 * import { simChipModel } from "../chip_model.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * const model = simChipModel("ga102");
 * const pcfg = new PcfgBlock(model, new SimConfigSpace(model));
 * assert.equal(pcfg.read(chipRegisters("ga102").PCFG.PCFG.address), 0x220410de);
 * ```
 *
 * @module
 */

import type { ConfigSpace } from "../../pci/device.ts";
import { chipRegisters } from "../../registers/bind.ts";
import type { SimBlock } from "../block.ts";
import type { SimChipModel } from "../chip_model.ts";

/** The PCFG mirror of a simulated chip. */
export class PcfgBlock implements SimBlock {
  /** Block name. */
  readonly name = "PCFG";
  /** The mirror window. */
  readonly ranges: readonly { start: number; end: number }[];
  readonly #base: number;
  readonly #config: ConfigSpace;

  /**
   * Build it.
   *
   * @param model The chip (for the window's address).
   * @param config The configuration space it mirrors.
   */
  constructor(model: SimChipModel, config: ConfigSpace) {
    const pcfg = chipRegisters(model.chip).PCFG;
    const mirror = pcfg.PCFG.present ? pcfg.PCFG : pcfg.EP_PCFGM;
    this.#base = mirror.address;
    this.ranges = [{ start: mirror.address, end: mirror.address + mirror.count * 4 }];
    this.#config = config;
  }

  /**
   * Read a configuration-space word through the mirror.
   *
   * @param offset BAR0 byte offset in the window.
   */
  read(offset: number): number {
    return this.#config.read32(offset - this.#base);
  }

  /**
   * Write a configuration-space word through the mirror.
   *
   * @param offset BAR0 byte offset in the window.
   * @param value The 32-bit value.
   */
  write(offset: number, value: number): boolean {
    this.#config.write32(offset - this.#base, value);
    return true;
  }

  /**
   * `NV_PCFG(+offset)` for any offset in the window.
   *
   * @param offset BAR0 byte offset.
   */
  registerName(offset: number): string | undefined {
    const rel = offset - this.#base;
    return rel >= 0 && rel < this.#config.size ? `NV_PCFG(+0x${rel.toString(16)})` : undefined;
  }
}
