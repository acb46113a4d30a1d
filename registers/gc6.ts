/**
 * PGC6: the always-on (AON) and boot-sequence-interface (BSI) scratch
 * registers in the GC6 island, which survive the GPU's low-power state and
 * carry boot progress between VBIOS, FWSEC, Booter and the driver.
 *
 * Source: NVIDIA open-gpu-kernel-modules tu102/ga102 `dev_gc6_island.h` and
 * `dev_gc6_island_addendum.h`.
 *
 * @example Is GFW boot (devinit) complete?
 * ```ts
 * import assert from "node:assert/strict";
 * import { PGC6 } from "./gc6.ts";
 * import { getField } from "./register.ts";
 * const progress = getField(PGC6.NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT, "PROGRESS", 0xff);
 * assert(progress === 0xff);
 * ```
 *
 * @module
 */

import { bit, bits, defineBlock, GA102_ON, published, SEC2_PATH } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the PGC6 registers (`?NAME`: only some families' layouts have it).
 */
export type Pgc6Fields = {
  NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK: "READ_PROTECTION_LEVEL0";
  NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT: "PROGRESS";
  NV_PGC6_AON_SECURE_SCRATCH_GROUP_42: "VALUE";
  NV_PGC6_BSI_SECURE_SCRATCH_14: "BOOT_STAGE_3_HANDOFF";
};

/** Names of the PGC6 registers. */
export type Pgc6Register = keyof Pgc6Fields;

/**
 * PGC6 registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PGC6 } from "./gc6.ts";
 * assert(PGC6.NV_PGC6_BSI_SECURE_SCRATCH_14.offset === 0x1180f8);
 * ```
 */
export const PGC6: RegisterBlock<Pgc6Fields> = defineBlock<Pgc6Fields>("PGC6", {
  NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK: {
    offset: 0x118128,
    fields: [bit("READ_PROTECTION_LEVEL0", 0, { 0: "DISABLE", 1: "ENABLE" })],
    chips: SEC2_PATH,
    doc: "GFW-boot wait, part 1: level 0 (the CPU) may read scratch group 05 once bit 0 is set.",
    source: `${published("turing/tu102/dev_gc6_island.h")}; ` +
      published("ampere/ga102/dev_gc6_island.h"),
    note: "The header also defines READ_PROTECTION 3:0, which overlaps bit 0 and is left out.",
  },
  NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT: {
    offset: 0x118234,
    fields: [bits("PROGRESS", 7, 0, { 0xff: "COMPLETED" })],
    chips: SEC2_PATH,
    aliases: ["NV_PGC6_AON_SECURE_SCRATCH_GROUP_05"],
    doc: "GFW-boot wait, part 2: devinit is done when PROGRESS == 0xff (poll 1 ms, 4 s).",
    source: `${published("turing/tu102/dev_gc6_island_addendum.h")}; ` +
      published("ampere/ga102/dev_gc6_island_addendum.h"),
    note: "Alias of NV_PGC6_AON_SECURE_SCRATCH_GROUP_05(0) (0x118234 + 4i; no size published).",
  },
  NV_PGC6_AON_SECURE_SCRATCH_GROUP_42: {
    offset: 0x1183a4,
    fields: [bits("VALUE", 31, 0)],
    chips: GA102_ON,
    aliases: ["NV_USABLE_FB_SIZE_IN_MB"],
    doc: "Usable VRAM size in MiB (GA102 and later; Turing/GA100 use LOCAL_MEMORY_RANGE).",
    source: `${published("ampere/ga102/dev_gc6_island.h")}; ` +
      published("ampere/ga102/dev_gc6_island_addendum.h"),
    note: "Published for GA102; NVIDIA's kmemsysReadUsableFbSize HAL table reads it on " +
      "GA102–AD107, GH100 and GB100–GB207 (GP102 code, LOCAL_MEMORY_RANGE, on TU10x/GA100).",
  },
  NV_PGC6_BSI_SECURE_SCRATCH_14: {
    offset: 0x1180f8,
    fields: [bit("BOOT_STAGE_3_HANDOFF", 26, { 1: "VALUE_DONE" })],
    chips: SEC2_PATH,
    doc: "Sequencer CORE_RESUME: SEC2 has handed GSP-RM over when bit 26 is set (poll 2 s).",
    source: `${published("turing/tu102/dev_gc6_island.h")}; ` +
      published("turing/tu102/dev_gc6_island_addendum.h"),
  },
});
