/**
 * PMC: the chip identification registers `NV_PMC_BOOT_0` and `NV_PMC_BOOT_42`.
 *
 * Source: NVIDIA open-gpu-kernel-modules `published/nv_ref.h` (the
 * architecture-independent definitions every chip shares). nova-core
 * (`regs.rs`) agrees on every offset and field it uses; it omits BOOT_42
 * `MINOR_EXTENDED_REVISION` (11:8). BOOT_42 also has `CHIP_ID` 29:20, which
 * overlaps `ARCHITECTURE` and `IMPLEMENTATION` and is left out here: the chip
 * id is `ARCHITECTURE << 4 | IMPLEMENTATION`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PMC } from "./pmc.ts";
 * import { decode } from "./register.ts";
 * const boot42 = decode(PMC.NV_PMC_BOOT_42, 0x172a1000);
 * assert(boot42.ARCHITECTURE === 0x17 && boot42.IMPLEMENTATION === 2);
 * ```
 *
 * @module
 */

import { bits, defineBlock, published } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the PMC registers (`?NAME`: only some families' layouts have it).
 */
export type PmcFields = {
  NV_PMC_BOOT_0:
    | "MINOR_REVISION"
    | "MAJOR_REVISION"
    | "ARCHITECTURE_1"
    | "IMPLEMENTATION"
    | "ARCHITECTURE_0";
  NV_PMC_BOOT_42:
    | "MINOR_EXTENDED_REVISION"
    | "MINOR_REVISION"
    | "MAJOR_REVISION"
    | "IMPLEMENTATION"
    | "ARCHITECTURE";
};

/** Names of the PMC registers. */
export type PmcRegister = keyof PmcFields;

const BOOT_42_ARCHITECTURES: Record<number, string> = {
  0x11: "GM100",
  0x12: "GM200",
  0x13: "GP100",
  0x14: "GV100",
  0x15: "GV110",
  0x16: "TU100",
  0x17: "GA100",
  0x18: "GH100",
  0x19: "AD100",
  0x1a: "GB100",
  0x1b: "GB200",
  0x1f: "AMODEL",
};

const BOOT_0_ARCHITECTURES: Record<number, string> = {
  0x16: "TU100",
  0x17: "GA100",
  0x18: "GH100",
  0x19: "AD100",
  0x1a: "GB100",
  0x1b: "GB200",
};

/**
 * PMC registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PMC } from "./pmc.ts";
 * assert(PMC.NV_PMC_BOOT_42.offset === 0xa00);
 * ```
 */
export const PMC: RegisterBlock<PmcFields> = defineBlock<PmcFields>("PMC", {
  NV_PMC_BOOT_0: {
    offset: 0x000000,
    fields: [
      bits("MINOR_REVISION", 3, 0),
      bits("MAJOR_REVISION", 7, 4),
      bits("ARCHITECTURE_1", 8, 8),
      bits("IMPLEMENTATION", 23, 20),
      bits("ARCHITECTURE_0", 28, 24, BOOT_0_ARCHITECTURES),
    ],
    doc: "Chip revision; ARCHITECTURE_1 == 0 with ARCHITECTURE_0 < 0xc (GF100) means pre-Fermi. " +
      "Written to every falcon's RM register after reset.",
    source: published("nv_ref.h"),
  },
  NV_PMC_BOOT_42: {
    offset: 0x000a00,
    fields: [
      bits("MINOR_EXTENDED_REVISION", 11, 8),
      bits("MINOR_REVISION", 15, 12),
      bits("MAJOR_REVISION", 19, 16),
      bits("IMPLEMENTATION", 23, 20),
      bits("ARCHITECTURE", 29, 24, BOOT_42_ARCHITECTURES),
    ],
    doc: "Chip identification: chipset id = ARCHITECTURE << 4 | IMPLEMENTATION; revision " +
      "MAJOR.MINOR.",
    source: published("nv_ref.h"),
  },
});
