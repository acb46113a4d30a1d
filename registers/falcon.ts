/**
 * FALCON: the falcon core registers (`NV_PFALCON_FALCON_*`), at offsets
 * relative to each engine's falcon base (GSP 0x110000, SEC2 0x840000, FSP
 * 0x8f0000; see `engines.ts`).
 *
 * Source: NVIDIA open-gpu-kernel-modules `published/<arch>/<chip>/dev_falcon_v4.h`
 * (tu102, ga100, ga102 + `dev_falcon_v4_addendum.h`, gh100). What changes:
 * - `DMATRFMOFFS.OFFS` is 15:0 on Turing, 23:0 from GA100 on.
 * - `IMEMC`/`DMEMC` `BLK` is 15:8 on Turing, 23:8 from GA100 on; with `OFFS`
 *   7:2 the pair is the byte address (nova-core calls 15:0 `offs`).
 * - `HWCFG2`: Turing/GA100 publish only `RISCV` (10); GA102/Ada add
 *   `MEM_SCRUBBING` (12) and `RESET_READY` (31, addendum); GH100 publishes
 *   the full layout with `RISCV_BR_PRIV_LOCKDOWN` (13) and bits 31:24
 *   `PRGN_RSVD_FUSE` (no `RESET_READY`). No Blackwell header publishes
 *   HWCFG2; the GH100 layout is used for GB10x/GB20x as nova-core does.
 * - `ENGINE` is published per engine (`NV_PGSP_FALCON_ENGINE` 0x1103c0,
 *   `NV_PSEC_FALCON_ENGINE` 0x8403c0); GH100/GB100 add `RESET_STATUS` 10:8.
 * - `HWCFG1` and `DMACTL` bits 6:3/7 appear only in the NVSwitch LR10 falcon
 *   header (and nova-core).
 *
 * @example Absolute address of the GSP's CPUCTL on GA102
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON } from "./falcon.ts";
 * import { engineBase } from "./engines.ts";
 * const cpuctl = FALCON.NV_PFALCON_FALCON_CPUCTL;
 * assert(engineBase("GSP", "falcon", "ga10x")! + cpuctl.offset === 0x110100);
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
  GH100_HAL,
  novaCore,
  published,
  TRUE_FALSE,
  TURING,
} from "./_define.ts";
import type { FieldDef, RegisterBlock } from "./register.ts";

/**
 * Field names of the falcon core registers (`?NAME`: only some families' layouts have it).
 */
export type FalconFields = {
  NV_PFALCON_FALCON_IRQSCLR: "HALT" | "SWGEN0";
  NV_PFALCON_FALCON_IRQSTAT: "HALT" | "SWGEN0";
  NV_PFALCON_FALCON_MAILBOX0: "DATA";
  NV_PFALCON_FALCON_MAILBOX1: "DATA";
  NV_PFALCON_FALCON_OS: "VERSION";
  NV_PFALCON_FALCON_RM: "VALUE";
  NV_PFALCON_FALCON_HWCFG2:
    | "RISCV"
    | "?MEM_SCRUBBING"
    | "?RESET_READY"
    | "?SHA"
    | "?BMEM"
    | "?PKCBOOT"
    | "?DBGMODE"
    | "?KMEM"
    | "?HSCODE_REVOCATION"
    | "?STRAP_FUN"
    | "?VHR"
    | "?HS"
    | "?SECUREBUS"
    | "?RISCV_PL3_DISABLE"
    | "?RISCV_BR_PRIV_LOCKDOWN"
    | "?BOOT_FROM_HS"
    | "?RISCV_BR_ADPAIR"
    | "?SCP"
    | "?GDMA"
    | "?SE_LITE"
    | "?PRGN_RSVD_FUSE";
  NV_PFALCON_FALCON_CPUCTL: "STARTCPU" | "HALTED" | "ALIAS_EN";
  NV_PFALCON_FALCON_BOOTVEC: "VALUE";
  NV_PFALCON_FALCON_HWCFG: "IMEM_SIZE";
  NV_PFALCON_FALCON_DMACTL:
    | "REQUIRE_CTX"
    | "DMEM_SCRUBBING"
    | "IMEM_SCRUBBING"
    | "DMAQ_NUM"
    | "SECURE_STAT";
  NV_PFALCON_FALCON_DMATRFBASE: "BASE";
  NV_PFALCON_FALCON_DMATRFMOFFS: "OFFS";
  NV_PFALCON_FALCON_DMATRFCMD:
    | "FULL"
    | "IDLE"
    | "SEC"
    | "IMEM"
    | "WRITE"
    | "SIZE"
    | "CTXDMA"
    | "SET_DMTAG";
  NV_PFALCON_FALCON_DMATRFFBOFFS: "OFFS";
  NV_PFALCON_FALCON_DMATRFBASE1: "BASE";
  NV_PFALCON_FALCON_HWCFG1: "CORE_REV" | "SECURITY_MODEL" | "CORE_REV_SUBVERSION";
  NV_PFALCON_FALCON_CPUCTL_ALIAS: "STARTCPU";
  NV_PFALCON_FALCON_IMEMC: "OFFS" | "BLK" | "AINCW" | "SECURE";
  NV_PFALCON_FALCON_IMEMD: "DATA";
  NV_PFALCON_FALCON_IMEMT: "TAG";
  NV_PFALCON_FALCON_DMEMC: "OFFS" | "BLK" | "AINCW" | "?AINCR";
  NV_PFALCON_FALCON_DMEMD: "DATA";
  NV_PFALCON_FALCON_ENGINE: "RESET" | "?RESET_STATUS";
};

/** Names of the falcon core registers. */
export type FalconRegister = keyof FalconFields;

const TU102 = published("turing/tu102/dev_falcon_v4.h");
const GA100 = published("ampere/ga100/dev_falcon_v4.h");
const GA102 = published("ampere/ga102/dev_falcon_v4.h");
const GH100 = published("hopper/gh100/dev_falcon_v4.h");
const LR10 = published("nvswitch/lr10/dev_falcon_v4.h");

const ENABLE: Record<number, string> = { 0: "DISABLE", 1: "ENABLE" };

/** GH100's HWCFG2 layout (also used for Blackwell, which publishes none). */
const HWCFG2_GH100 = [
  bit("SHA", 0, ENABLE),
  bit("BMEM", 1, ENABLE),
  bit("PKCBOOT", 2, ENABLE),
  bit("DBGMODE", 3, ENABLE),
  bit("KMEM", 4, ENABLE),
  bit("HSCODE_REVOCATION", 5, ENABLE),
  bit("STRAP_FUN", 6, ENABLE),
  bit("VHR", 7, ENABLE),
  bit("HS", 8, ENABLE),
  bit("SECUREBUS", 9, ENABLE),
  bit("RISCV", 10, ENABLE),
  bit("RISCV_PL3_DISABLE", 11, TRUE_FALSE),
  bit("MEM_SCRUBBING", 12, { 0: "DONE", 1: "PENDING" }),
  bit("RISCV_BR_PRIV_LOCKDOWN", 13, { 0: "UNLOCK", 1: "LOCK" }),
  bit("BOOT_FROM_HS", 14, TRUE_FALSE),
  bit("RISCV_BR_ADPAIR", 15, ENABLE),
  bit("SCP", 16, ENABLE),
  bit("GDMA", 17, ENABLE),
  bit("SE_LITE", 18, ENABLE),
  bits("PRGN_RSVD_FUSE", 31, 24, { 0: "DEFAULT" }),
];

const memControlFields = <const N extends string>(
  blkHi: number,
  extra: readonly FieldDef<N>[],
): FieldDef<"OFFS" | "BLK" | "AINCW" | N>[] => [
  bits("OFFS", 7, 2),
  bits("BLK", blkHi, 8),
  bit("AINCW", 24, TRUE_FALSE),
  ...extra,
];

/**
 * Falcon core registers (engine-relative).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON } from "./falcon.ts";
 * assert(FALCON.NV_PFALCON_FALCON_HWCFG2.offset === 0xf4);
 * assert(FALCON.NV_PFALCON_FALCON_IMEMC.array?.stride === 16);
 * ```
 */
export const FALCON: RegisterBlock<FalconFields> = defineBlock<FalconFields>("FALCON", {
  NV_PFALCON_FALCON_IRQSCLR: {
    offset: 0x004,
    base: "falcon",
    fields: [bit("HALT", 4, { 1: "SET" }), bit("SWGEN0", 6, { 1: "SET" })],
    doc: "Interrupt clear; the driver clears the GSP's SWGEN0 at start-up.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_IRQSTAT: {
    offset: 0x008,
    base: "falcon",
    fields: [bit("HALT", 4, { 1: "TRUE" }), bit("SWGEN0", 6, { 1: "TRUE" })],
    doc: "Interrupt status (SWGEN0: GSP message queue has data).",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_MAILBOX0: {
    offset: 0x040,
    base: "falcon",
    fields: [bits("DATA", 31, 0)],
    doc: "Mailbox 0: boot argument in (e.g. WPR-meta address low), status out (0 = success).",
    source: `${TU102}; ${GH100}`,
  },
  NV_PFALCON_FALCON_MAILBOX1: {
    offset: 0x044,
    base: "falcon",
    fields: [bits("DATA", 31, 0)],
    doc: "Mailbox 1: high half of a boot argument, second status word.",
    source: `${TU102}; ${GH100}`,
  },
  NV_PFALCON_FALCON_OS: {
    offset: 0x080,
    base: "falcon",
    fields: [bits("VERSION", 31, 0)],
    doc: "OS version: the GSP bootloader's app version is written here before RISC-V starts.",
    source: `${TU102}; ${GH100} (OS_VERSION)`,
  },
  NV_PFALCON_FALCON_RM: {
    offset: 0x084,
    base: "falcon",
    fields: [bits("VALUE", 31, 0)],
    doc: "Written with the raw NV_PMC_BOOT_0 after every falcon reset.",
    source: TU102,
    note: "No field published; VALUE is nova-core's name for the whole register.",
  },
  NV_PFALCON_FALCON_HWCFG2: {
    offset: 0x0f4,
    base: "falcon",
    fields: [bit("RISCV", 10, { 1: "ENABLE" })],
    variants: [
      {
        chips: GA10X_AD10X,
        fields: [
          bit("RISCV", 10, { 1: "ENABLE" }),
          bit("MEM_SCRUBBING", 12, { 0: "DONE" }),
          bit("RESET_READY", 31, TRUE_FALSE),
        ],
        source: `${GA102}; ${published("ampere/ga102/dev_falcon_v4_addendum.h")}`,
        note: "RESET_READY may never be set by hardware: nova-core polls it 150 µs and goes on.",
      },
      {
        chips: GH100_HAL,
        fields: HWCFG2_GH100,
        source: GH100,
        note: "No Blackwell header publishes HWCFG2; GB10x/GB20x assumed to match GH100. " +
          "On the GSP, a raw 0 or 0xbadf41xx means the FSP still owns the PRIV target mask.",
      },
    ],
    doc: "Falcon capabilities and state: RISC-V present, memory scrubbing, lockdown.",
    source: `${TU102}; ${GA100}`,
  },
  NV_PFALCON_FALCON_CPUCTL: {
    offset: 0x100,
    base: "falcon",
    fields: [
      bit("STARTCPU", 1, TRUE_FALSE),
      bit("HALTED", 4, { 1: "TRUE" }),
      bit("ALIAS_EN", 6, TRUE_FALSE),
    ],
    doc: "Start the falcon CPU (or use CPUCTL_ALIAS when ALIAS_EN), poll HALTED.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_BOOTVEC: {
    offset: 0x104,
    base: "falcon",
    fields: [bits("VALUE", 31, 0)],
    doc: "Boot vector: IMEM address the falcon starts at.",
    source: `${TU102}; ${GA102}`,
    note: "No field published; VALUE is nova-core's name.",
  },
  NV_PFALCON_FALCON_HWCFG: {
    offset: 0x108,
    base: "falcon",
    fields: [bits("IMEM_SIZE", 8, 0)],
    doc: "IMEM size in 256-byte blocks; the generic bootloader is loaded at its top.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_DMACTL: {
    offset: 0x10c,
    base: "falcon",
    fields: [
      bit("REQUIRE_CTX", 0, { 0: "FALSE" }),
      bit("DMEM_SCRUBBING", 1, { 0: "DONE" }),
      bit("IMEM_SCRUBBING", 2, { 0: "DONE" }),
      bits("DMAQ_NUM", 6, 3),
      bit("SECURE_STAT", 7),
    ],
    doc: "DMA control; written 0 before loading. Turing HAL: scrubbing done when bits 1 and 2 " +
      "read 0.",
    source: `${TU102}; ${LR10} (DMAQ_NUM, SECURE_STAT)`,
  },
  NV_PFALCON_FALCON_DMATRFBASE: {
    offset: 0x110,
    base: "falcon",
    fields: [bits("BASE", 31, 0)],
    doc: "DMA source base: address >> 8, low 32 bits.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_DMATRFMOFFS: {
    offset: 0x114,
    base: "falcon",
    fields: [bits("OFFS", 23, 0)],
    variants: [{ chips: TURING, fields: [bits("OFFS", 15, 0)], source: TU102 }],
    doc: "DMA destination offset in IMEM/DMEM.",
    source: `${GA100}; ${GA102}`,
  },
  NV_PFALCON_FALCON_DMATRFCMD: {
    offset: 0x118,
    base: "falcon",
    fields: [
      bit("FULL", 0, TRUE_FALSE),
      bit("IDLE", 1, TRUE_FALSE),
      bits("SEC", 3, 2),
      bit("IMEM", 4, TRUE_FALSE),
      bit("WRITE", 5, TRUE_FALSE),
      bits("SIZE", 10, 8, { 6: "256B" }),
      bits("CTXDMA", 14, 12),
      bit("SET_DMTAG", 16, { 1: "TRUE" }),
    ],
    doc: "Start one DMA chunk (SIZE 6 = 256 B, IMEM, SEC 1 = secure); poll IDLE.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_DMATRFFBOFFS: {
    offset: 0x11c,
    base: "falcon",
    fields: [bits("OFFS", 31, 0)],
    doc: "DMA source offset from DMATRFBASE.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_DMATRFBASE1: {
    offset: 0x128,
    base: "falcon",
    fields: [bits("BASE", 8, 0)],
    doc: "DMA source base, high bits: address >> 40.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_HWCFG1: {
    offset: 0x12c,
    base: "falcon",
    fields: [
      bits("CORE_REV", 3, 0, {
        1: "1_0",
        2: "2_0",
        3: "3_0",
        4: "4_0",
        5: "5_0",
        6: "6_0",
        7: "7_0",
      }),
      bits("SECURITY_MODEL", 5, 4, { 0: "NONE", 2: "LIGHT", 3: "HEAVY" }),
      bits("CORE_REV_SUBVERSION", 7, 6),
    ],
    doc: "Falcon core revision and security model (debug information).",
    source: `${LR10}; ${novaCore("regs.rs")}`,
    note: "Only the NVSwitch LR10 falcon header publishes HWCFG1 (it also lists bits 31:8).",
  },
  NV_PFALCON_FALCON_CPUCTL_ALIAS: {
    offset: 0x130,
    base: "falcon",
    fields: [bit("STARTCPU", 1, TRUE_FALSE)],
    doc: "Start the CPU when CPUCTL.ALIAS_EN is set.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_IMEMC: {
    offset: 0x180,
    base: "falcon",
    array: { count: 4, stride: 16 },
    fields: memControlFields(23, [bit("SECURE", 28)]),
    variants: [{ chips: TURING, fields: memControlFields(15, [bit("SECURE", 28)]), source: TU102 }],
    doc: "IMEM PIO port control: byte address (BLK:OFFS), auto-increment, secure.",
    source: `${GA100}; ${GA102}`,
    note: `Port count 4 from ${novaCore("regs.rs")}; the header gives only the stride.`,
  },
  NV_PFALCON_FALCON_IMEMD: {
    offset: 0x184,
    base: "falcon",
    array: { count: 4, stride: 16 },
    fields: [bits("DATA", 31, 0)],
    doc: "IMEM PIO data (little-endian words).",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_IMEMT: {
    offset: 0x188,
    base: "falcon",
    array: { count: 4, stride: 16 },
    fields: [bits("TAG", 15, 0)],
    doc: "IMEM tag of the next 256-byte block written through the port.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_DMEMC: {
    offset: 0x1c0,
    base: "falcon",
    array: { count: 8, stride: 8 },
    fields: memControlFields(23, []),
    variants: [{
      chips: TURING,
      fields: memControlFields(15, [bit("AINCR", 25, TRUE_FALSE)]),
      source: TU102,
      note: "Only the TU102 header lists AINCR (25).",
    }],
    doc: "DMEM PIO port control: byte address (BLK:OFFS), auto-increment.",
    source: `${GA100}; ${GA102}`,
    note: `Port count 8 from ${novaCore("regs.rs")}.`,
  },
  NV_PFALCON_FALCON_DMEMD: {
    offset: 0x1c4,
    base: "falcon",
    array: { count: 8, stride: 8 },
    fields: [bits("DATA", 31, 0)],
    doc: "DMEM PIO data.",
    source: `${TU102}; ${GA102}`,
  },
  NV_PFALCON_FALCON_ENGINE: {
    offset: 0x3c0,
    base: "falcon",
    engines: ["GSP", "SEC2"],
    chips: ALL_FAMILIES,
    fields: [bit("RESET", 0, TRUE_FALSE)],
    variants: [{
      chips: GH100_HAL,
      fields: [
        bit("RESET", 0, { 0: "DEASSERT", 1: "ASSERT" }),
        bits("RESET_STATUS", 10, 8, { 0: "ASSERTED", 2: "DEASSERTED" }),
      ],
      source: `${published("hopper/gh100/dev_gsp.h")}; ${published("blackwell/gb100/dev_gsp.h")}`,
    }],
    doc: "Engine reset: pulse RESET (1, wait 10 µs, 0).",
    source: `${published("turing/tu102/dev_gsp.h")} (NV_PGSP_FALCON_ENGINE); ` +
      `${published("turing/tu102/dev_sec_pri.h")} (NV_PSEC_FALCON_ENGINE)`,
    note: "OpenRM names it per engine; nova-core's NV_PFALCON_FALCON_ENGINE is kept. " +
      "No FSP ENGINE register is published (the host never resets the FSP).",
  },
});
