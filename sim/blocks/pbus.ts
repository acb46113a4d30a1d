/**
 * PBUS: the 64 software scratch registers (`NV_PBUS_SW_SCRATCH`, also named
 * `NV_PBUS_VBIOS_SCRATCH`) that VBIOS, FWSEC and the driver share. FWSEC-FRTS
 * reports its error code in scratch 0xe bits 31:16, FWSEC-SB in scratch
 * 0x15 bits 15:0; the firmware models set them through
 * {@linkcode PbusBlock.setFrtsError} and {@linkcode PbusBlock.setSbError}.
 * The host may read and write every scratch register. Resets clear them
 * (VBIOS devinit runs again after an FLR or a bus reset).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PbusBlock } from "./pbus.ts";
 * import { simChipModel } from "../chip_model.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * const pbus = new PbusBlock(simChipModel("tu102"));
 * pbus.setFrtsError(0x3);
 * const frts = chipRegisters("tu102").PBUS.SW_SCRATCH_0E_FRTS_ERR;
 * assert.equal(frts.decode(pbus.read(frts.address)!).FRTS_ERR_CODE, 3);
 * pbus.reset("function");
 * assert.equal(pbus.read(frts.address), 0);
 * ```
 *
 * @module
 */

import { chipRegisters } from "../../registers/bind.ts";
import type { SimBlock } from "../block.ts";
import type { SimChipModel } from "../chip_model.ts";
import { RegisterFileBlock } from "./register_file.ts";

/** The PBUS block of a simulated chip. */
export class PbusBlock extends RegisterFileBlock implements SimBlock {
  readonly #pbus;

  /**
   * Build it.
   *
   * @param model The chip.
   */
  constructor(model: SimChipModel) {
    const pbus = chipRegisters(model.chip).PBUS;
    const scratch = pbus.SW_SCRATCH;
    super(
      "PBUS",
      Array.from({ length: scratch.count }, (_, i) => ({ register: scratch.at(i) })),
    );
    this.#pbus = pbus;
  }

  /**
   * FWSEC-FRTS's result: scratch 0xe bits 31:16 (0 = success), other bits kept.
   *
   * @param code The 16-bit error code.
   */
  setFrtsError(code: number): void {
    // Bits 31:16 of scratch 0xe (§13), through the array element: the tables name the
    // FRTS_ERR alias only for the families whose drivers read it (not GA100).
    const reg = this.#pbus.SW_SCRATCH.at(0xe);
    const kept = this.registers.get(reg) & 0xffff;
    this.registers.set(reg, (kept | ((code & 0xffff) << 16)) >>> 0);
  }

  /**
   * FWSEC-SB's result: scratch 0x15 bits 15:0 (0 = success), other bits kept.
   *
   * @param code The 16-bit error code.
   */
  setSbError(code: number): void {
    // Bits 15:0 of scratch 0x15 (§13), through the array element as for FRTS.
    const reg = this.#pbus.SW_SCRATCH.at(0x15);
    const kept = this.registers.get(reg) & 0xffff_0000;
    this.registers.set(reg, (kept | (code & 0xffff)) >>> 0);
  }

  /**
   * A scratch register's value, as the model sees it.
   *
   * @param index 0…63.
   */
  scratch(index: number): number {
    return this.registers.get(this.#pbus.SW_SCRATCH.at(index));
  }

  /**
   * Set a scratch register from the model's side.
   *
   * @param index 0…63.
   * @param value The 32-bit value.
   */
  setScratch(index: number, value: number): void {
    this.registers.set(this.#pbus.SW_SCRATCH.at(index), value);
  }
}
