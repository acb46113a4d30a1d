/**
 * FUSE: the display fuse and the per-ucode signature fuses, read-only. The
 * signature fuses hold bit masks as the hardware does (`registers/fuse.ts`
 * `fuseVersionOf` reads the version back); Turing has none, so a read there
 * is a PRI error as on hardware without the register.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FuseBlock } from "./fuse.ts";
 * import { simChipModel } from "../chip_model.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * import { fuseVersionOf } from "../../registers/fuse.ts";
 * const fuse = new FuseBlock(simChipModel("ga102", { fuseVersion: 2 }));
 * const sec2 = chipRegisters("ga102").FUSE.OPT_FPF_SEC2_UCODE1_VERSION.at(2);
 * assert.equal(fuseVersionOf(fuse.read(sec2.address)!), 2);
 * assert.equal(fuse.write(sec2.address, 0), false);
 * ```
 *
 * @module
 */

import { chipRegisters } from "../../registers/bind.ts";
import type { SimBlock } from "../block.ts";
import type { FuseEngine, SimChipModel } from "../chip_model.ts";
import { RegisterFileBlock, type RegisterSpec } from "./register_file.ts";

/** The FUSE block of a simulated chip. */
export class FuseBlock extends RegisterFileBlock implements SimBlock {
  /**
   * Build it.
   *
   * @param model The chip; its fuse masks are burnt in.
   */
  constructor(model: SimChipModel) {
    const fuse = chipRegisters(model.chip).FUSE;
    const arrays: Record<FuseEngine, typeof fuse.OPT_FPF_SEC2_UCODE1_VERSION> = {
      SEC2: fuse.OPT_FPF_SEC2_UCODE1_VERSION,
      GSP: fuse.OPT_FPF_GSP_UCODE1_VERSION,
      NVDEC: fuse.OPT_FPF_NVDEC_UCODE1_VERSION,
    };
    const specs: RegisterSpec[] = [{
      register: fuse.STATUS_OPT_DISPLAY,
      access: "ro",
      resetValue: fuse.STATUS_OPT_DISPLAY.encode({ DATA: model.display ? 0 : 1 }),
      persistent: false,
    }];
    for (const [engine, masks] of Object.entries(model.fuses) as [FuseEngine, number[]][]) {
      masks.forEach((mask, i) =>
        specs.push({
          register: arrays[engine].at(i),
          access: "ro",
          resetValue: arrays[engine].encode({ DATA: mask }),
          persistent: false,
        })
      );
    }
    super("FUSE", specs);
  }
}
