/**
 * PDISP: the VGA workspace base, read-only, on chips with a display. The
 * workspace sits in the last MiB of VRAM (the PRAMIN-sized window below the
 * end that the reference's FB layout starts from), with the valid bit set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PdispBlock } from "./pdisp.ts";
 * import { simChipModel } from "../chip_model.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * const model = simChipModel("tu102");
 * const base = chipRegisters("tu102").PDISP.VGA_WORKSPACE_BASE;
 * const v = base.decode(new PdispBlock(model).read(base.address)!);
 * assert.equal(v.STATUS, 1);
 * assert.equal(v.ADDR * 0x10000, model.fbSize - 0x100000);
 * ```
 *
 * @module
 */

import { chipRegisters } from "../../registers/bind.ts";
import type { SimBlock } from "../block.ts";
import type { SimChipModel } from "../chip_model.ts";
import { RegisterFileBlock } from "./register_file.ts";

/** Bytes per unit of the workspace address field (it holds address bits 31:16 and up). */
const WORKSPACE_GRANULE = 0x10000;
/** The workspace's size below the end of VRAM (PRAMIN's 1 MiB). */
const WORKSPACE_SIZE = 0x100000;

/** The PDISP block of a simulated chip with a display. */
export class PdispBlock extends RegisterFileBlock implements SimBlock {
  /**
   * Build it.
   *
   * @param model The chip (it must have a display).
   * @param workspaceBase Byte address of the VGA workspace (default: 1 MiB below the end of VRAM).
   */
  constructor(model: SimChipModel, workspaceBase = model.fbSize - WORKSPACE_SIZE) {
    const base = chipRegisters(model.chip).PDISP.VGA_WORKSPACE_BASE;
    super("PDISP", [{
      register: base,
      access: "ro",
      resetValue: base.encode({ STATUS: 1, ADDR: Math.floor(workspaceBase / WORKSPACE_GRANULE) }),
      persistent: false,
    }]);
  }
}
