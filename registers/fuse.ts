/**
 * FUSE: the display fuse and the per-ucode signature-version fuses that pick
 * which signature of an HS image to patch in.
 *
 * The `…_UCODE1_VERSION` registers are arrays of 16 (`UCODE1`…`UCODE16` in
 * NVIDIA's header), indexed by ucode id − 1; the version is the position of
 * the highest set bit of bits 15:0, plus one. NVIDIA's TU102 code returns
 * fuse version 0 without reading any fuse, so these apply from GA100 on.
 * On Blackwell the same offsets are written `NV_FUSE0_PRI_BASE` (0x820000) +
 * `NV_FUSE_ZB_*` (gb100 `dev_fuse_zb.h`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FUSE } from "./fuse.ts";
 * assert(FUSE.NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION.offset === 0x8241c0);
 * ```
 *
 * @module
 */

import { ALL_FAMILIES, bit, bits, defineBlock, GA100_ON, published, TURING } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/** Names of the FUSE registers. */
export type FuseRegister =
  | "NV_FUSE_STATUS_OPT_DISPLAY"
  | "NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION"
  | "NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION"
  | "NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION";

const VERSION_NOTE = "Array of 16 (UCODE1..UCODE16), index = ucode id − 1.";

/**
 * FUSE registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FUSE } from "./fuse.ts";
 * import { resolveRegister } from "./register.ts";
 * assert(resolveRegister(FUSE.NV_FUSE_STATUS_OPT_DISPLAY, "tu10x")?.offset === 0x21c04);
 * ```
 */
export const FUSE: RegisterBlock<FuseRegister> = defineBlock("FUSE", {
  NV_FUSE_STATUS_OPT_DISPLAY: {
    offset: 0x820c04,
    fields: [bit("DATA", 0, { 0: "ENABLE" })],
    chips: ALL_FAMILIES,
    variants: [{
      chips: TURING,
      offset: 0x021c04,
      source: published("maxwell/gm107/dev_fuse.h"),
      note: "Turing keeps the GM107 fuse block at 0x21000 (tu102 dev_fuse.h places its other " +
        "fuses there too).",
    }],
    doc: "DATA == 0: display present, so the VGA workspace base is read from PDISP.",
    source: `${published("ampere/ga100/dev_fuse.h")}; ` +
      `${published("blackwell/gb100/dev_fuse_zb.h")} (NV_FUSE0_PRI_BASE + 0xc04)`,
  },
  NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION: {
    offset: 0x824100,
    array: { count: 16, stride: 4 },
    fields: [bits("DATA", 15, 0)],
    chips: GA100_ON,
    doc: "Signature fuse version for ucodes with engine-id mask bit 2 (NVDEC).",
    source: published("ampere/ga100/dev_fuse.h"),
    note: VERSION_NOTE,
  },
  NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION: {
    offset: 0x824140,
    array: { count: 16, stride: 4 },
    fields: [bits("DATA", 15, 0)],
    chips: GA100_ON,
    doc: "Signature fuse version for ucodes with engine-id mask bit 0 (SEC2, e.g. Booter).",
    source: `${published("ampere/ga100/dev_fuse.h")}; ${
      published("blackwell/gb100/dev_fuse_zb.h")
    }`,
    note: VERSION_NOTE,
  },
  NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION: {
    offset: 0x8241c0,
    array: { count: 16, stride: 4 },
    fields: [bits("DATA", 15, 0)],
    chips: GA100_ON,
    doc: "Signature fuse version for ucodes with engine-id mask bit 10 (GSP, e.g. FWSEC).",
    source: `${published("ampere/ga100/dev_fuse.h")}; ${
      published("blackwell/gb100/dev_fuse_zb.h")
    }`,
    note: VERSION_NOTE,
  },
});
