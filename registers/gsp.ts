/**
 * PGSP: GSP-specific registers outside the generic falcon block — the command
 * queue doorbell the driver writes after posting an RPC.
 *
 * Source: NVIDIA open-gpu-kernel-modules tu102/ga102 `dev_gsp.h` (and gb20b,
 * which also publishes `NV_PGSP_QUEUE_TAIL`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PGSP } from "./gsp.ts";
 * assert(PGSP.NV_PGSP_QUEUE_HEAD.offset === 0x110c00);
 * ```
 *
 * @module
 */

import { bits, defineBlock, published } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the PGSP registers (`?NAME`: only some families' layouts have it).
 */
export type PgspFields = {
  NV_PGSP_QUEUE_HEAD: "ADDRESS";
};

/** Names of the PGSP registers. */
export type PgspRegister = keyof PgspFields;

/**
 * PGSP registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PGSP } from "./gsp.ts";
 * assert(PGSP.NV_PGSP_QUEUE_HEAD.array?.stride === 8);
 * ```
 */
export const PGSP: RegisterBlock<PgspFields> = defineBlock<PgspFields>("PGSP", {
  NV_PGSP_QUEUE_HEAD: {
    offset: 0x110c00,
    array: { count: 8, stride: 8 },
    fields: [bits("ADDRESS", 31, 0)],
    doc: "Command-queue doorbell: write 0 to element 0 after advancing the CPU write pointer.",
    source: `${published("turing/tu102/dev_gsp.h")}; ${published("ampere/ga102/dev_gsp.h")}`,
  },
});
