/**
 * PMC: the chip identification registers, read-only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PmcBlock } from "./pmc.ts";
 * import { simChipModel } from "../chip_model.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * const pmc = new PmcBlock(simChipModel("ga104"));
 * const boot42 = chipRegisters("ga104").PMC.BOOT_42;
 * assert.equal(boot42.decode(pmc.read(boot42.address)!).IMPLEMENTATION, 4);
 * assert.equal(pmc.write(boot42.address, 0), false);
 * ```
 *
 * @module
 */

import { chipRegisters } from "../../registers/bind.ts";
import type { SimBlock } from "../block.ts";
import type { SimChipModel } from "../chip_model.ts";
import { RegisterFileBlock } from "./register_file.ts";

/** The PMC block of a simulated chip. */
export class PmcBlock extends RegisterFileBlock implements SimBlock {
  /**
   * Build it.
   *
   * @param model The chip.
   */
  constructor(model: SimChipModel) {
    const pmc = chipRegisters(model.chip).PMC;
    super("PMC", [
      { register: pmc.BOOT_0, access: "ro", resetValue: model.boot0, persistent: false },
      { register: pmc.BOOT_42, access: "ro", resetValue: model.boot42, persistent: false },
    ]);
  }
}
