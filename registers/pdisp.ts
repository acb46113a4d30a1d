/**
 * PDISP: the display engine's VGA workspace base, which sets the top of the
 * frame-buffer layout on chips with a display (SEC2 boot path).
 *
 * Source: NVIDIA open-gpu-kernel-modules `published/disp/v04_00/dev_disp.h`
 * (read by NVIDIA's `kern_disp_0400.c`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PDISP } from "./pdisp.ts";
 * import { getField } from "./register.ts";
 * const base = PDISP.NV_PDISP_VGA_WORKSPACE_BASE;
 * const raw = 0x0017ff08; // valid, ADDR 0x17ff
 * assert(getField(base, "STATUS", raw) === 1);
 * assert(getField(base, "ADDR", raw) * 0x10000 === 0x17ff0000);
 * ```
 *
 * @module
 */

import { bit, bits, defineBlock, published, SEC2_PATH } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the PDISP registers (`?NAME`: only some families' layouts have it).
 */
export type PdispFields = {
  NV_PDISP_VGA_WORKSPACE_BASE: "STATUS" | "ADDR";
};

/** Names of the PDISP registers. */
export type PdispRegister = keyof PdispFields;

/**
 * PDISP registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PDISP } from "./pdisp.ts";
 * assert(PDISP.NV_PDISP_VGA_WORKSPACE_BASE.offset === 0x625f04);
 * ```
 */
export const PDISP: RegisterBlock<PdispFields> = defineBlock<PdispFields>("PDISP", {
  NV_PDISP_VGA_WORKSPACE_BASE: {
    offset: 0x625f04,
    chips: SEC2_PATH,
    fields: [bit("STATUS", 3, { 1: "VALID" }), bits("ADDR", 31, 8)],
    doc: "VGA workspace: if STATUS is VALID, it starts at ADDR << 16 in VRAM (read only when " +
      "the display fuse says a display is present).",
    source: published("disp/v04_00/dev_disp.h"),
  },
});
