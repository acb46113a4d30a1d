/**
 * PFB: frame-buffer registers the boot path uses — the WPR2 bounds, the VRAM
 * size on Turing/GA100, GA100's MMU lock range, and the sysmem-flush page
 * registers, which move from architecture to architecture:
 *
 * | Families | Registers |
 * |---|---|
 * | Turing | `NV_PFB_NISO_FLUSH_SYSMEM_ADDR` (address >> 8) |
 * | GA100, GA10x, Ada | + `NV_PFB_NISO_FLUSH_SYSMEM_ADDR_HI` (address >> 40), written first |
 * | GH100 | `NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI/_LO` (raw address halves) |
 * | GB10x | HSHUB0 (0x870000) `NV_PFB_HSHUB_ZB_[EG_]PCIE_FLUSH_SYSMEM_ADDR_HI/_LO` |
 * | GB20x | `NV_PFB_FBHUB0_PCIE_FLUSH_SYSMEM_ADDR_HI/_LO` |
 *
 * The per-family choice is NVIDIA's HAL table (`g_kern_mem_sys_nvoc.c`,
 * `kmemsysProgramSysmemFlushBuffer`): GM107 for TU10x, GA100 for GA100–AD107,
 * GH100, GB100 for GB100/GB102, and GB10B for GB202–GB207.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PFB } from "./pfb.ts";
 * import { getField } from "./register.ts";
 * const hi = PFB.NV_PFB_PRI_MMU_WPR2_ADDR_HI;
 * assert(hi.offset === 0x1fa828);
 * // WPR2 ends at VAL << 12: a raw value of 0x000abcd0 means 0xabcd000.
 * assert(getField(hi, "VAL", 0x000abcd0) * 0x1000 === 0xabcd000);
 * ```
 *
 * @module
 */

import {
  ALL_FAMILIES,
  bit,
  bits,
  defineBlock,
  GA10X_AD10X,
  novaCore,
  published,
  TURING,
} from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the PFB registers (`?NAME`: only some families' layouts have it).
 */
export type PfbFields = {
  NV_PFB_PRI_MMU_WPR2_ADDR_LO: "VAL";
  NV_PFB_PRI_MMU_WPR2_ADDR_HI: "VAL";
  NV_PFB_PRI_MMU_LOCAL_MEMORY_RANGE: "LOWER_SCALE" | "LOWER_MAG" | "ECC_MODE";
  NV_PFB_PRI_MMU_LOCK_ADDR_LO: "VAL";
  NV_PFB_PRI_MMU_LOCK_ADDR_HI: "VAL";
  NV_PFB_NISO_FLUSH_SYSMEM_ADDR: "ADR_39_08";
  NV_PFB_NISO_FLUSH_SYSMEM_ADDR_HI: "ADR_63_40";
  NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO: "ADR";
  NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI: "ADR";
  NV_PFB_HSHUB_ZB_PCIE_FLUSH_SYSMEM_ADDR_LO: "ADR";
  NV_PFB_HSHUB_ZB_PCIE_FLUSH_SYSMEM_ADDR_HI: "ADR";
  NV_PFB_HSHUB_ZB_EG_PCIE_FLUSH_SYSMEM_ADDR_LO: "ADR";
  NV_PFB_HSHUB_ZB_EG_PCIE_FLUSH_SYSMEM_ADDR_HI: "ADR";
  NV_PFB_FBHUB0_PCIE_FLUSH_SYSMEM_ADDR_LO: "ADR";
  NV_PFB_FBHUB0_PCIE_FLUSH_SYSMEM_ADDR_HI: "ADR";
};

/** Names of the PFB registers. */
export type PfbRegister = keyof PfbFields;

/**
 * Bytes per unit of the WPR2 bounds: the header's `ALIGNMENT` is 0xc, so a
 * bound's byte address is `VAL << 12` (4 KiB).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WPR2_GRANULE } from "./pfb.ts";
 * assert(WPR2_GRANULE === 4096);
 * ```
 */
export const WPR2_GRANULE = 0x1000;

/** `NV_HSHUB0_PRIV_BASE` (gb100 `dev_hshub.h`): the HSHUB_ZB registers are relative to it. */
export const NV_HSHUB0_PRIV_BASE = 0x870000;

const HI_MASK_NOTE = "The header's ADR_MASK is 0x000fffff (a 52-bit address); nova-core " +
  "declares the field as 19:0.";
const LO_MASK_NOTE = "Hardware ignores bits 7:0 (ADR_MASK 0xffffff00); the flush triggers on the " +
  "LO write, so HI is written first.";

/**
 * PFB registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PFB } from "./pfb.ts";
 * assert(PFB.NV_PFB_NISO_FLUSH_SYSMEM_ADDR.offset === 0x100c10);
 * ```
 */
export const PFB: RegisterBlock<PfbFields> = defineBlock<PfbFields>("PFB", {
  NV_PFB_PRI_MMU_WPR2_ADDR_LO: {
    offset: 0x1fa824,
    fields: [bits("VAL", 31, 4)],
    chips: ALL_FAMILIES,
    doc: "WPR2 start (inclusive): VAL << 12. Must equal the FRTS start after FWSEC-FRTS.",
    source: `${published("turing/tu102/dev_fb.h")}; ${published("hopper/gh100/dev_fb.h")}`,
    note: "ALIGNMENT 0xc: the field holds address bits 39:12 (byte address = VAL << 12).",
  },
  NV_PFB_PRI_MMU_WPR2_ADDR_HI: {
    offset: 0x1fa828,
    fields: [bits("VAL", 31, 4)],
    chips: ALL_FAMILIES,
    doc: "WPR2 end (exclusive): VAL << 12; 0 means WPR2 is not set.",
    source: `${published("turing/tu102/dev_fb.h")}; ${published("hopper/gh100/dev_fb.h")}`,
    note: "ALIGNMENT 0xc.",
  },
  NV_PFB_PRI_MMU_LOCAL_MEMORY_RANGE: {
    offset: 0x100ce0,
    fields: [
      bits("LOWER_SCALE", 3, 0),
      bits("LOWER_MAG", 9, 4),
      bit("ECC_MODE", 30, { 0: "DISABLED", 1: "ENABLED" }),
    ],
    chips: ["tu10x", "tu11x", "ga100"],
    doc: "VRAM size on Turing/GA100: (LOWER_MAG << LOWER_SCALE) MiB, times 15/16 with ECC.",
    source: published("pascal/gp102/dev_fb.h"),
    note: "Published for GP102; NVIDIA's kmemsysReadUsableFbSize HAL table uses the GP102 " +
      "code on TU102–TU117 and GA100; " +
      "GB100 has another register of this name at 0x1fa3e0 (not used by the boot path).",
  },
  NV_PFB_PRI_MMU_LOCK_ADDR_LO: {
    offset: 0x1fa82c,
    fields: [bits("VAL", 31, 4)],
    chips: ["ga100"],
    doc: "VBIOS MMU lock start (VAL << 12); on GA100 the WPR end is clipped to it.",
    source: published("ampere/ga100/dev_fb.h"),
    note: "Read by NVIDIA (mem_mgr_ga100.c) on GA100; nova-core does not read it.",
  },
  NV_PFB_PRI_MMU_LOCK_ADDR_HI: {
    offset: 0x1fa830,
    fields: [bits("VAL", 31, 4)],
    chips: ["ga100"],
    doc: "VBIOS MMU lock end (VAL << 12).",
    source: published("ampere/ga100/dev_fb.h"),
  },
  NV_PFB_NISO_FLUSH_SYSMEM_ADDR: {
    offset: 0x100c10,
    fields: [bits("ADR_39_08", 31, 0)],
    chips: [...TURING, "ga100", ...GA10X_AD10X],
    doc: "Sysmem flush page address >> 8 (bits 39:8). Turing: the address must fit 40 bits.",
    source: `${published("maxwell/gm107/dev_fb.h")}; ${published("ampere/ga100/dev_fb.h")}`,
  },
  NV_PFB_NISO_FLUSH_SYSMEM_ADDR_HI: {
    offset: 0x100c40,
    fields: [bits("ADR_63_40", 23, 0)],
    chips: ["ga100", ...GA10X_AD10X],
    doc: "Sysmem flush page address >> 40; written before NV_PFB_NISO_FLUSH_SYSMEM_ADDR.",
    source: published("ampere/ga100/dev_fb.h"),
    note: "The header's HI_MASK is 0x7f.",
  },
  NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO: {
    offset: 0x100a34,
    fields: [bits("ADR", 31, 0)],
    chips: ["gh100"],
    doc: "Sysmem flush page address bits 31:0 (Hopper).",
    source: published("hopper/gh100/dev_fb.h"),
    note: LO_MASK_NOTE,
  },
  NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI: {
    offset: 0x100a38,
    fields: [bits("ADR", 31, 0)],
    chips: ["gh100"],
    doc: "Sysmem flush page address bits 63:32 (Hopper).",
    source: published("hopper/gh100/dev_fb.h"),
    note: HI_MASK_NOTE,
  },
  NV_PFB_HSHUB_ZB_PCIE_FLUSH_SYSMEM_ADDR_LO: {
    offset: NV_HSHUB0_PRIV_BASE + 0xe50,
    fields: [bits("ADR", 31, 0)],
    chips: ["gb10x"],
    doc: "Sysmem flush page address bits 31:0 (GB10x HSHUB0).",
    source: `${published("blackwell/gb100/dev_hshub_zb.h")}; ` +
      `${published("blackwell/gb100/dev_hshub.h")} (NV_HSHUB0_PRIV_BASE)`,
    note: LO_MASK_NOTE,
  },
  NV_PFB_HSHUB_ZB_PCIE_FLUSH_SYSMEM_ADDR_HI: {
    offset: NV_HSHUB0_PRIV_BASE + 0xe54,
    fields: [bits("ADR", 31, 0)],
    chips: ["gb10x"],
    doc: "Sysmem flush page address bits 63:32 (GB10x HSHUB0).",
    source: `${published("blackwell/gb100/dev_hshub_zb.h")}; ` +
      `${published("blackwell/gb100/dev_hshub.h")} (NV_HSHUB0_PRIV_BASE)`,
    note: HI_MASK_NOTE,
  },
  NV_PFB_HSHUB_ZB_EG_PCIE_FLUSH_SYSMEM_ADDR_LO: {
    offset: NV_HSHUB0_PRIV_BASE + 0x6c0,
    fields: [bits("ADR", 31, 0)],
    chips: ["gb10x"],
    doc: "Egress copy of the flush address, bits 31:0; programmed with the same address.",
    source: published("blackwell/gb100/dev_hshub_zb.h"),
    note: LO_MASK_NOTE,
  },
  NV_PFB_HSHUB_ZB_EG_PCIE_FLUSH_SYSMEM_ADDR_HI: {
    offset: NV_HSHUB0_PRIV_BASE + 0x6c4,
    fields: [bits("ADR", 31, 0)],
    chips: ["gb10x"],
    doc: "Egress copy of the flush address, bits 63:32.",
    source: published("blackwell/gb100/dev_hshub_zb.h"),
    note: HI_MASK_NOTE,
  },
  NV_PFB_FBHUB0_PCIE_FLUSH_SYSMEM_ADDR_LO: {
    offset: 0x8a1d58,
    fields: [bits("ADR", 31, 0)],
    chips: ["gb20x"],
    doc: "Sysmem flush page address bits 31:0 (GB20x).",
    source: published("blackwell/gb10b/dev_fbhub.h"),
    note: `${LO_MASK_NOTE} Published for GB10B; NVIDIA's HAL table uses the GB10B code on ` +
      `GB202–GB207 (${novaCore("regs.rs")} agrees).`,
  },
  NV_PFB_FBHUB0_PCIE_FLUSH_SYSMEM_ADDR_HI: {
    offset: 0x8a1d5c,
    fields: [bits("ADR", 31, 0)],
    chips: ["gb20x"],
    doc: "Sysmem flush page address bits 63:32 (GB20x).",
    source: published("blackwell/gb10b/dev_fbhub.h"),
    note: HI_MASK_NOTE,
  },
});
