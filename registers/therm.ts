/**
 * THERM: the I2CS scratch register in which the FSP reports that its secure
 * boot is complete (Hopper and later). It moves on GB20x.
 *
 * Source: NVIDIA open-gpu-kernel-modules gh100/gb100/gb202 `dev_therm.h` and
 * `dev_therm_addendum.h` (`NV_THERM_I2CS_SCRATCH_FSP_BOOT_COMPLETE_STATUS`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { THERM } from "./therm.ts";
 * import { resolveRegister } from "./register.ts";
 * assert(resolveRegister(THERM.NV_THERM_I2CS_SCRATCH, "gb10x")?.offset === 0x0200bc);
 * assert(resolveRegister(THERM.NV_THERM_I2CS_SCRATCH, "gb20x")?.offset === 0xad00bc);
 * ```
 *
 * @module
 */

import { bits, defineBlock, FSP_PATH, published } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the THERM registers (`?NAME`: only some families' layouts have it).
 */
export type ThermFields = {
  NV_THERM_I2CS_SCRATCH: "STATUS";
};

/** Names of the THERM registers. */
export type ThermRegister = keyof ThermFields;

/**
 * THERM registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { THERM } from "./therm.ts";
 * assert(THERM.NV_THERM_I2CS_SCRATCH.aliases?.includes("NV_THERM_I2CS_SCRATCH_FSP_BOOT_COMPLETE"));
 * ```
 */
export const THERM: RegisterBlock<ThermFields> = defineBlock<ThermFields>("THERM", {
  NV_THERM_I2CS_SCRATCH: {
    offset: 0x0200bc,
    chips: FSP_PATH,
    variants: [{
      chips: ["gb20x"],
      offset: 0xad00bc,
      source: `${published("blackwell/gb202/dev_therm.h")}; ` +
        published("blackwell/gb202/dev_therm_addendum.h"),
    }],
    fields: [bits("STATUS", 31, 0, { 0x00: "FAILED", 0xff: "SUCCESS" })],
    aliases: ["NV_THERM_I2CS_SCRATCH_FSP_BOOT_COMPLETE"],
    doc: "FSP secure boot complete when 0xff (poll 10 ms, 5 s) before any FSP message.",
    source: `${published("hopper/gh100/dev_therm.h")}; ` +
      `${published("hopper/gh100/dev_therm_addendum.h")}; ${
        published("blackwell/gb100/dev_therm.h")
      }`,
    note: "The plain register's field is DATA 31:0; the FSP_BOOT_COMPLETE alias's field is " +
      "STATUS 31:0, used here.",
  },
});
