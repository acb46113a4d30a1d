/**
 * PCFG: the BAR0 mirror of the GPU's PCI configuration space, whose base and
 * size the driver sends to GSP-RM in `GSP_SET_SYSTEM_INFO`. Turing to Ada
 * mirror it at `NV_PCFG` (0x88000..0x88fff); GH100 and GB202–GB207 at
 * `NV_EP_PCFGM` (0x92000..0x92fff); GB100/GB102 have no mirror (NVIDIA's
 * `kbifGetPciConfigSpacePriMirror` returns `NV_ERR_NO_SUCH_DOMAIN` there,
 * where nova-core sends 0x92000).
 *
 * Each window is listed as an array of 1024 words.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PCFG } from "./pcfg.ts";
 * assert(PCFG.NV_EP_PCFGM.offset === 0x92000);
 * assert(!PCFG.NV_EP_PCFGM.chips?.includes("gb10x"));
 * ```
 *
 * @module
 */

import { bits, defineBlock, published, SEC2_PATH } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/** Field names of the PCFG windows. */
export type PcfgFields = {
  NV_PCFG: "VALUE";
  NV_EP_PCFGM: "VALUE";
};

/** Names of the PCFG windows. */
export type PcfgRegister = keyof PcfgFields;

/** Size in bytes of either mirror window. */
export const PCI_CONFIG_MIRROR_SIZE = 0x1000;

/**
 * PCI configuration-space mirror windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PCFG } from "./pcfg.ts";
 * assert(PCFG.NV_PCFG.array?.count === 1024);
 * ```
 */
export const PCFG: RegisterBlock<PcfgFields> = defineBlock<PcfgFields>("PCFG", {
  NV_PCFG: {
    offset: 0x088000,
    array: { count: PCI_CONFIG_MIRROR_SIZE / 4, stride: 4 },
    chips: SEC2_PATH,
    fields: [bits("VALUE", 31, 0)],
    doc: "PCI config space mirror (Turing–Ada): base and size go to GSP_SET_SYSTEM_INFO.",
    source: `${published("turing/tu102/dev_nv_xve.h")}; ${published("ampere/ga100/dev_nv_xve.h")}`,
  },
  NV_EP_PCFGM: {
    offset: 0x092000,
    array: { count: PCI_CONFIG_MIRROR_SIZE / 4, stride: 4 },
    chips: ["gh100", "gb20x"],
    fields: [bits("VALUE", 31, 0)],
    doc: "PCI config space mirror (GH100, GB20x); GB10x has none (send base 0, size 0).",
    source: `${published("hopper/gh100/dev_xtl_ep_pri.h")}; NVIDIA/open-gpu-kernel-modules ` +
      "src/nvidia/generated/g_kernel_bif_nvoc.c (kbifGetPciConfigSpacePriMirror HAL table)",
  },
});
