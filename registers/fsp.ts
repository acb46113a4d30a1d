/**
 * FSP: the Foundation Security Processor's EMEM window and message queues
 * (Hopper and later), relative to the FSP queue base 0x8f2000, plus the FSP
 * falcon's common scratch group 2 (relative to the FSP falcon base 0x8f0000).
 *
 * Source: NVIDIA open-gpu-kernel-modules gh100 `dev_fsp_pri.h` (gb100 and
 * gb202 publish scratch group 2 only). Every queue array has stride **8**
 * (`NV_PFSP_QUEUE_HEAD(i)` = 0x8f2c00 + 8i); only channel 0 is used.
 *
 * @example Queue head of channel 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { FSP } from "./fsp.ts";
 * const head = FSP.NV_PFSP_QUEUE_HEAD;
 * assert(0x8f2000 + head.offset + 1 * head.array!.stride === 0x8f2c08);
 * ```
 *
 * @module
 */

import { bit, bits, defineBlock, FSP_PATH, published, TRUE_FALSE } from "./_define.ts";
import type { RegisterBlock } from "./register.ts";

/**
 * Field names of the FSP registers (`?NAME`: only some families' layouts have it).
 */
export type FspFields = {
  NV_PFSP_EMEMC: "OFFS" | "BLK" | "AINCW" | "AINCR";
  NV_PFSP_EMEMD: "DATA";
  NV_PFSP_QUEUE_HEAD: "ADDRESS";
  NV_PFSP_QUEUE_TAIL: "ADDRESS";
  NV_PFSP_MSGQ_HEAD: "VAL";
  NV_PFSP_MSGQ_TAIL: "VAL";
  NV_PFSP_FALCON_COMMON_SCRATCH_GROUP_2: "VAL";
};

/** Names of the FSP registers. */
export type FspRegister = keyof FspFields;

const GH100 = published("hopper/gh100/dev_fsp_pri.h");
const CHANNELS = { count: 8, stride: 8 } as const;

/**
 * FSP registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FSP } from "./fsp.ts";
 * assert(FSP.NV_PFSP_MSGQ_TAIL.offset === 0xc84);
 * ```
 */
export const FSP: RegisterBlock<FspFields> = defineBlock<FspFields>("FSP", {
  NV_PFSP_EMEMC: {
    offset: 0xac0,
    base: "fspQueue",
    array: CHANNELS,
    chips: FSP_PATH,
    fields: [
      bits("OFFS", 7, 2),
      bits("BLK", 15, 8),
      bit("AINCW", 24, TRUE_FALSE),
      bit("AINCR", 25, TRUE_FALSE),
    ],
    doc: "EMEM port control: AINCW=1 to send, AINCR=1 to receive, from block 0 offset 0.",
    source: GH100,
  },
  NV_PFSP_EMEMD: {
    offset: 0xac4,
    base: "fspQueue",
    array: CHANNELS,
    chips: FSP_PATH,
    fields: [bits("DATA", 31, 0)],
    doc: "EMEM port data (little-endian words).",
    source: GH100,
  },
  NV_PFSP_QUEUE_HEAD: {
    offset: 0xc00,
    base: "fspQueue",
    array: CHANNELS,
    chips: FSP_PATH,
    fields: [bits("ADDRESS", 31, 0)],
    doc: "Command queue head: written 0 after TAIL to post a message.",
    source: GH100,
  },
  NV_PFSP_QUEUE_TAIL: {
    offset: 0xc04,
    base: "fspQueue",
    array: CHANNELS,
    chips: FSP_PATH,
    fields: [bits("ADDRESS", 31, 0)],
    doc: "Command queue tail: message length − 4 (points at the last word).",
    source: GH100,
  },
  NV_PFSP_MSGQ_HEAD: {
    offset: 0xc80,
    base: "fspQueue",
    array: CHANNELS,
    chips: FSP_PATH,
    fields: [bits("VAL", 31, 0)],
    doc: "Response queue head; a response is pending when HEAD != TAIL (reset to 0 after).",
    source: GH100,
  },
  NV_PFSP_MSGQ_TAIL: {
    offset: 0xc84,
    base: "fspQueue",
    array: CHANNELS,
    chips: FSP_PATH,
    fields: [bits("VAL", 31, 0)],
    doc: "Response queue tail: response size = TAIL − HEAD + 4.",
    source: GH100,
  },
  NV_PFSP_FALCON_COMMON_SCRATCH_GROUP_2: {
    offset: 0x320,
    base: "falcon",
    engines: ["FSP"],
    array: { count: 4, stride: 4 },
    chips: FSP_PATH,
    fields: [bits("VAL", 31, 0)],
    doc: "FSP status/error scratch (NVIDIA reads it to report FSP boot failures).",
    source: `${GH100}; ${published("blackwell/gb100/dev_fsp_pri.h")}; ` +
      published("blackwell/gb202/dev_fsp_pri.h"),
    note: "At 0x8f0320 + 4i, i.e. the generic falcon scratch group 2 (falcon + 0x320): the " +
      "evidence that the FSP falcon starts at 0x8f0000, not 0x8f2000.",
  },
});
