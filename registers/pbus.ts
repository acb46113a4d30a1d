/**
 * PBUS: the software scratch registers the VBIOS's FWSEC reports through.
 *
 * `NV_PBUS_SW_SCRATCH(i)` and `NV_PBUS_VBIOS_SCRATCH(i)` are the same 64
 * registers at 0x1400 + 4i (NVIDIA tu102 `dev_bus.h` names both). After
 * FWSEC-FRTS, scratch 0x0e bits 31:16 hold the FRTS error code; after
 * FWSEC-SB (used at unload), scratch 0x15 bits 15:0 hold the SB error code
 * (NVIDIA `kernel_gsp_frts_tu102.c`: `NV_VBIOS_FWSECLIC_FRTS_ERR_CODE`,
 * `NV_VBIOS_FWSECLIC_SB_ERR_CODE`). The alias names follow nova-core's
 * `NV_PBUS_SW_SCRATCH_0E_FRTS_ERR`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PBUS } from "./pbus.ts";
 * import { getField } from "./register.ts";
 * assert(PBUS.NV_PBUS_SW_SCRATCH_0E_FRTS_ERR.offset === 0x1438);
 * assert(getField(PBUS.NV_PBUS_SW_SCRATCH_0E_FRTS_ERR, "FRTS_ERR_CODE", 0x00030000) === 3);
 * ```
 *
 * @module
 */

import { bits, defineBlock, published } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the PBUS registers (`?NAME`: only some families' layouts have it).
 */
export type PbusFields = {
  NV_PBUS_SW_SCRATCH: "FIELD";
  NV_PBUS_SW_SCRATCH_0E_FRTS_ERR: "FRTS_ERR_CODE";
  NV_PBUS_SW_SCRATCH_15_SB_ERR: "SB_ERR_CODE";
};

/** Names of the PBUS registers. */
export type PbusRegister = keyof PbusFields;

/**
 * PBUS registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PBUS } from "./pbus.ts";
 * assert(PBUS.NV_PBUS_SW_SCRATCH.array?.count === 64);
 * ```
 */
export const PBUS: RegisterBlock<PbusFields> = defineBlock<PbusFields>("PBUS", {
  NV_PBUS_SW_SCRATCH: {
    offset: 0x001400,
    array: { count: 64, stride: 4 },
    fields: [bits("FIELD", 31, 0)],
    aliases: ["NV_PBUS_VBIOS_SCRATCH"],
    doc: "Software scratch registers shared by VBIOS, FWSEC and the driver.",
    source: `${published("turing/tu102/dev_bus.h")}; ${published("ampere/ga100/dev_bus.h")}`,
  },
  NV_PBUS_SW_SCRATCH_0E_FRTS_ERR: {
    offset: 0x001400 + 0x0e * 4,
    fields: [bits("FRTS_ERR_CODE", 31, 16, { 0: "NONE" })],
    chips: ["tu10x", "tu11x", "ga10x", "ad10x"],
    doc: "FWSEC-FRTS result: 0 = success; checked after running FWSEC-FRTS (not on GA100).",
    source: "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/gsp/arch/turing/" +
      "kernel_gsp_frts_tu102.c (NV_VBIOS_FWSECLIC_SCRATCH_INDEX_0E)",
  },
  NV_PBUS_SW_SCRATCH_15_SB_ERR: {
    offset: 0x001400 + 0x15 * 4,
    fields: [bits("SB_ERR_CODE", 15, 0, { 0: "NONE" })],
    chips: ["tu10x", "tu11x", "ga100", "ga10x", "ad10x"],
    doc: "FWSEC-SB result (unload): 0 = success.",
    source: "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/gsp/arch/turing/" +
      "kernel_gsp_frts_tu102.c (NV_VBIOS_FWSECLIC_SCRATCH_INDEX_15)",
    note: "nova-core does not read it; NVIDIA's driver checks it after FWSEC-SB.",
  },
});
