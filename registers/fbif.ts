/**
 * FBIF: the falcon frame-buffer interface, relative to each engine's FBIF
 * base (GSP 0x110600, SEC2 0x840600 — `NV_PGSP_FBIF_BASE`,
 * `NV_PSEC_FBIF_BASE`). The DMA loader points context 0 (or the generic
 * bootloader's context 4) at coherent system memory, physical addressing.
 *
 * Source: NVIDIA open-gpu-kernel-modules tu102/ga100/ga102 `dev_fbif_v4.h`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FBIF } from "./fbif.ts";
 * import { encode } from "./register.ts";
 * assert(encode(FBIF.NV_PFALCON_FBIF_CTL, { ALLOW_PHYS_NO_CTX: 1 }) === 0x80);
 * ```
 *
 * @module
 */

import { bit, bits, defineBlock, GA102_ON, novaCore, published } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the FBIF registers (`?NAME`: only some families' layouts have it).
 */
export type FbifFields = {
  NV_PFALCON_FBIF_TRANSCFG: "TARGET" | "MEM_TYPE" | "?ENGINE_ID_FLAG";
  NV_PFALCON_FBIF_CTL: "ALLOW_PHYS_NO_CTX";
};

/** Names of the FBIF registers. */
export type FbifRegister = keyof FbifFields;

const TRANSCFG_FIELDS = [
  bits("TARGET", 1, 0, { 0: "LOCAL_FB", 1: "COHERENT_SYSMEM", 2: "NONCOHERENT_SYSMEM" }),
  bit("MEM_TYPE", 2, { 0: "VIRTUAL", 1: "PHYSICAL" }),
];

/**
 * FBIF registers (relative to the FBIF base).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FBIF } from "./fbif.ts";
 * assert(FBIF.NV_PFALCON_FBIF_CTL.offset === 0x24);
 * ```
 */
export const FBIF: RegisterBlock<FbifFields> = defineBlock<FbifFields>("FBIF", {
  NV_PFALCON_FBIF_TRANSCFG: {
    offset: 0x00,
    base: "fbif",
    array: { count: 8, stride: 4 },
    fields: TRANSCFG_FIELDS,
    variants: [{
      chips: GA102_ON,
      fields: [...TRANSCFG_FIELDS, bit("ENGINE_ID_FLAG", 16, { 0: "BAR2_FN0" })],
      source: published("ampere/ga102/dev_fbif_v4.h"),
      note: `The header puts ENGINE_ID_FLAG at 16:16; ${novaCore("regs.rs")} declares 3:3.`,
    }],
    doc: "DMA context i: target memory and addressing mode.",
    source: `${published("turing/tu102/dev_fbif_v4.h")}; ${
      published("ampere/ga100/dev_fbif_v4.h")
    }`,
    note: "MEM_TYPE 0 = VIRTUAL is nova-core's name; the headers name only PHYSICAL.",
  },
  NV_PFALCON_FBIF_CTL: {
    offset: 0x24,
    base: "fbif",
    fields: [bit("ALLOW_PHYS_NO_CTX", 7, { 1: "ALLOW" })],
    doc: "Allow physical DMA without a context; set before PIO/DMA loading.",
    source: `${published("turing/tu102/dev_fbif_v4.h")}; ${
      published("ampere/ga102/dev_fbif_v4.h")
    }`,
  },
});
