/**
 * PROM: the 1 MiB window through which BAR0 reads the VBIOS ROM, and the IFR
 * ("NVGI") header fields at the start of the ROM that say where the PCI
 * option-ROM images begin.
 *
 * The IFR fields are named `NV_PBUS_IFR_FMT_FIXED*` by NVIDIA (tu102
 * `dev_bus.h`) and are offsets within the ROM; they are listed here at their
 * BAR0 address through the PROM window (0x300000 + offset). Reads are 32-bit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROM } from "./prom.ts";
 * import { getField } from "./register.ts";
 * const fixed1 = PROM.NV_PBUS_IFR_FMT_FIXED1;
 * assert(getField(fixed1, "FIXED_DATA_SIZE", 0x00140200) === 0x14);
 * ```
 *
 * @module
 */

import { bits, defineBlock, published } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the PROM registers (`?NAME`: only some families' layouts have it).
 */
export type PromFields = {
  NV_PROM_DATA: "VALUE";
  NV_PBUS_IFR_FMT_FIXED0: "SIGNATURE";
  NV_PBUS_IFR_FMT_FIXED1: "VERSIONSW" | "FIXED_DATA_SIZE";
  NV_PBUS_IFR_FMT_FIXED2: "TOTAL_DATA_SIZE";
};

/** Names of the PROM registers. */
export type PromRegister = keyof PromFields;

/** Base of the PROM window in BAR0. */
export const NV_PROM_BASE = 0x300000;

/**
 * PROM registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROM } from "./prom.ts";
 * assert(PROM.NV_PROM_DATA.array?.count === 0x100000);
 * ```
 */
export const PROM: RegisterBlock<PromFields> = defineBlock<PromFields>("PROM", {
  NV_PROM_DATA: {
    offset: NV_PROM_BASE,
    width: 8,
    array: { count: 0x100000, stride: 1 },
    fields: [bits("VALUE", 7, 0)],
    doc: "VBIOS ROM bytes (read as 32-bit words; scan limit 1 MiB).",
    source: published("turing/tu102/dev_ext_devices.h"),
  },
  NV_PBUS_IFR_FMT_FIXED0: {
    offset: NV_PROM_BASE + 0x0,
    fields: [bits("SIGNATURE", 31, 0, { 0x4947564e: "VALUE" })],
    doc: 'IFR signature: "NVGI" (0x4947564e) when an IFR header precedes the ROM images.',
    source: published("turing/tu102/dev_bus.h"),
  },
  NV_PBUS_IFR_FMT_FIXED1: {
    offset: NV_PROM_BASE + 0x4,
    fields: [bits("VERSIONSW", 15, 8), bits("FIXED_DATA_SIZE", 30, 16)],
    doc: "IFR version (1, 2 or 3) and fixed-data size; v1/v2: ROM offset at FIXED_DATA_SIZE + 4.",
    source: published("turing/tu102/dev_bus.h"),
  },
  NV_PBUS_IFR_FMT_FIXED2: {
    offset: NV_PROM_BASE + 0x8,
    fields: [bits("TOTAL_DATA_SIZE", 19, 0)],
    doc: "IFR v3: total data size; the flash status offset is read at that offset.",
    source: published("turing/tu102/dev_bus.h"),
  },
});
