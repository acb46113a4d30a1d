/**
 * FALCON2: the second falcon register block (`NV_PFALCON2_FALCON_*`, boot-ROM
 * parameters) and the RISC-V core registers (`NV_PRISCV_RISCV_*`), at offsets
 * relative to each engine's falcon2 base (GSP 0x111000; SEC2 0x841000 from
 * GA102 on).
 *
 * Sources: NVIDIA open-gpu-kernel-modules ga102 `dev_falcon_second_pri.h` and
 * `dev_riscv_pri.h` for tu102, ga100, ga102, gh100 and gb202. What changes:
 * - RISC-V "active": Turing and GA100 read `CORE_SWITCH_RISCV_STATUS` (0x240)
 *   bit 0; GA102 and later read `RISCV_CPUCTL` (0x388) bit 7.
 * - `RISCV_CPUCTL` is at 0x268 on TU102 (no fields published) and 0x388 on
 *   GA102, GH100 and GB202; GA100 publishes none. `HALTED` is bit 4 (nova-core
 *   had bit 0 until July 2026).
 * - The boot-ROM registers and `BCR_CTRL` are used by nova-core's GA102
 *   falcon HAL only (GA102 and later).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON2 } from "./riscv.ts";
 * import { getField, resolveRegister } from "./register.ts";
 * const cpuctl = resolveRegister(FALCON2.NV_PRISCV_RISCV_CPUCTL, "gh100")!;
 * assert(cpuctl.offset === 0x388 && getField(cpuctl, "ACTIVE_STAT", 0x80) === 1);
 * ```
 *
 * @module
 */

import {
  bit,
  bits,
  defineBlock,
  GA102_ON,
  GA10X_AD10X,
  GH100_HAL,
  novaCore,
  published,
  TRUE_FALSE,
  TU102_HAL,
  TURING,
} from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the falcon2 / RISC-V registers (`?NAME`: only some families' layouts have it).
 */
export type Falcon2Fields = {
  NV_PFALCON2_FALCON_MOD_SEL: "ALGO";
  NV_PFALCON2_FALCON_BROM_CURR_UCODE_ID: "VAL";
  NV_PFALCON2_FALCON_BROM_ENGIDMASK: "VALUE";
  NV_PFALCON2_FALCON_BROM_PARAADDR: "VALUE";
  NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS: "ACTIVE_STAT";
  NV_PRISCV_RISCV_CPUCTL: "?HALTED" | "?ACTIVE_STAT" | "?STARTCPU" | "?STOPPED";
  NV_PRISCV_RISCV_BCR_CTRL: "VALID" | "CORE_SELECT" | "BRFETCH";
};

/** Names of the falcon2 / RISC-V registers. */
export type Falcon2Register = keyof Falcon2Fields;

const SECOND = published("ampere/ga102/dev_falcon_second_pri.h");

/**
 * Falcon2 and RISC-V registers (relative to the falcon2 base).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON2 } from "./riscv.ts";
 * assert(FALCON2.NV_PRISCV_RISCV_BCR_CTRL.offset === 0x668);
 * ```
 */
export const FALCON2: RegisterBlock<Falcon2Fields> = defineBlock<Falcon2Fields>("FALCON2", {
  NV_PFALCON2_FALCON_MOD_SEL: {
    offset: 0x180,
    base: "falcon2",
    fields: [bits("ALGO", 7, 0, { 1: "RSA3K" })],
    chips: GA102_ON,
    doc: "Boot-ROM signature algorithm; set to RSA3K before starting an HS image.",
    source: SECOND,
    note: "nova-core also names 0 = AES; the header names only RSA3K.",
  },
  NV_PFALCON2_FALCON_BROM_CURR_UCODE_ID: {
    offset: 0x198,
    base: "falcon2",
    fields: [bits("VAL", 7, 0)],
    chips: GA102_ON,
    doc: "Boot-ROM parameter: ucode id of the HS image.",
    source: SECOND,
  },
  NV_PFALCON2_FALCON_BROM_ENGIDMASK: {
    offset: 0x19c,
    base: "falcon2",
    fields: [bits("VALUE", 31, 0)],
    chips: GA102_ON,
    doc: "Boot-ROM parameter: engine-id mask of the HS image.",
    source: SECOND,
    note: "No field published; VALUE is nova-core's name.",
  },
  NV_PFALCON2_FALCON_BROM_PARAADDR: {
    offset: 0x210,
    base: "falcon2",
    array: { count: 1, stride: 4 },
    fields: [bits("VALUE", 31, 0)],
    chips: GA102_ON,
    doc: "Boot-ROM parameter: DMEM offset of the signature (pkc_data_offset).",
    source: SECOND,
    note: `Published as an array without a size; only element 0 is used (${novaCore("regs.rs")}).`,
  },
  NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS: {
    offset: 0x240,
    base: "falcon2",
    engines: ["GSP"],
    fields: [bit("ACTIVE_STAT", 0, { 1: "ACTIVE" })],
    chips: TU102_HAL,
    doc: "Turing/GA100: the GSP's RISC-V core is running when ACTIVE_STAT is 1 (poll 10 ms, 5 s).",
    source: `${published("turing/tu102/dev_riscv_pri.h")}; ${
      published("ampere/ga100/dev_riscv_pri.h")
    }`,
  },
  NV_PRISCV_RISCV_CPUCTL: {
    offset: 0x388,
    base: "falcon2",
    fields: [bit("HALTED", 4, { 1: "TRUE" }), bit("ACTIVE_STAT", 7, { 1: "ACTIVE" })],
    chips: [...TURING, ...GA102_ON],
    variants: [
      {
        chips: TURING,
        offset: 0x268,
        fields: [],
        source: published("turing/tu102/dev_riscv_pri.h"),
        note: "TU102 publishes the offset only; the Turing boot path reads " +
          "CORE_SWITCH_RISCV_STATUS instead.",
      },
      {
        chips: GH100_HAL,
        fields: [
          bit("STARTCPU", 0, TRUE_FALSE),
          bit("HALTED", 4, TRUE_FALSE),
          bit("STOPPED", 5),
          bit("ACTIVE_STAT", 7, { 0: "INACTIVE", 1: "ACTIVE" }),
        ],
        source: `${published("hopper/gh100/dev_riscv_pri.h")}; ${
          published("blackwell/gb202/dev_riscv_pri.h")
        } (offset only)`,
        note: "GB10x/GB20x assumed to match GH100's fields (GB202 publishes the offset only).",
      },
    ],
    doc: "RISC-V core state (GA102+): ACTIVE_STAT after boot, HALTED after unload.",
    source: published("ampere/ga102/dev_riscv_pri.h"),
  },
  NV_PRISCV_RISCV_BCR_CTRL: {
    offset: 0x668,
    base: "falcon2",
    fields: [
      bit("VALID", 0, TRUE_FALSE),
      bit("CORE_SELECT", 4, { 0: "FALCON", 1: "RISCV" }),
      bit("BRFETCH", 8, TRUE_FALSE),
    ],
    chips: GA102_ON,
    doc: "Boot configuration: select the Falcon core before loading (poll VALID, 10 ms).",
    source: published("ampere/ga102/dev_riscv_pri.h"),
    note: `Published for GA102 only; used on ${GA10X_AD10X.join("/")} and assumed unchanged ` +
      "after (GH100 publishes BCR_DMACFG at 0x66c next to it).",
  },
});
