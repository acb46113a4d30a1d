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
import { FalconryError } from "../errors.ts";
import type { RegisterBlock, RegisterDef } from "./register.ts";

/**
 * Field names of the FUSE registers (`?NAME`: only some families' layouts have it).
 */
export type FuseFields = {
  NV_FUSE_STATUS_OPT_DISPLAY: "DATA";
  NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION: "DATA";
  NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION: "DATA";
  NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION: "DATA";
};

/** Names of the FUSE registers. */
export type FuseRegister = keyof FuseFields;

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
export const FUSE: RegisterBlock<FuseFields> = defineBlock<FuseFields>("FUSE", {
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

/**
 * The signature version a fuse register value stands for. The register holds
 * a bit mask in 15:0; the version is the index of its highest set bit plus
 * one, and 0 when it reads 0 (nova-core `signature_reg_fuse_version`:
 * `16 − clz16`).
 *
 * @param value The raw 32-bit register value; bits 31:16 are ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fuseVersionOf } from "./fuse.ts";
 * assert.deepEqual([0, 0x1, 0x3, 0x8000].map(fuseVersionOf), [0, 1, 2, 16]);
 * ```
 */
export function fuseVersionOf(value: number): number {
  const mask = value & 0xffff;
  return mask === 0 ? 0 : 32 - Math.clz32(mask);
}

/** No signature fuse register for an (engine id mask, ucode id) pair. */
export class SignatureFuseError extends FalconryError {
  /** The engine id mask asked for. */
  readonly engineIdMask: number;
  /** The ucode id asked for. */
  readonly ucodeId: number;

  /**
   * Build the error.
   *
   * @param engineIdMask The engine id mask.
   * @param ucodeId The ucode id.
   * @param reason What is wrong with them.
   */
  constructor(engineIdMask: number, ucodeId: number, reason: string) {
    super(
      `no signature fuse for engine id mask 0x${engineIdMask.toString(16)}, ucode id ` +
        `${ucodeId}: ${reason}`,
    );
    this.engineIdMask = engineIdMask;
    this.ucodeId = ucodeId;
  }
}

/** Which fuse register and element hold a ucode's signature version. */
export interface SignatureFuse {
  /** The fuse register array (`NV_FUSE_OPT_FPF_{SEC2,NVDEC,GSP}_UCODE1_VERSION`). */
  readonly register: RegisterDef<"DATA">;
  /** The element: ucode id − 1. */
  readonly index: number;
}

/** Engine id mask bit → fuse register, in the order nova-core tests them (reference §3.6). */
const FUSE_BY_ENGINE_BIT: readonly (readonly [number, RegisterDef<"DATA">])[] = [
  [1 << 0, FUSE.NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION],
  [1 << 2, FUSE.NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION],
  [1 << 10, FUSE.NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION],
];

/**
 * The fuse register that holds the signature version of a ucode, from its
 * signature parameters: engine id mask bit 0 → SEC2, bit 2 → NVDEC, bit 10
 * → GSP (the first of these bits set wins); ucode id 1..16 → element id − 1.
 *
 * @throws {SignatureFuseError} If the mask has none of those bits or the ucode id is not 1..16.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressOf } from "./catalog.ts";
 * import { signatureFuse } from "./fuse.ts";
 * const { register, index } = signatureFuse(0x400, 1);
 * assert(addressOf(register, "ga102", { index }) === 0x8241c0);
 * assert(addressOf(signatureFuse(0x1, 3).register, "ga102", { index: 2 }) === 0x824148);
 * ```
 */
export function signatureFuse(engineIdMask: number, ucodeId: number): SignatureFuse {
  if (!Number.isInteger(ucodeId) || ucodeId < 1 || ucodeId > 16) {
    throw new SignatureFuseError(engineIdMask, ucodeId, "the ucode id must be 1..16");
  }
  const hit = FUSE_BY_ENGINE_BIT.find(([bit]) => (engineIdMask & bit) !== 0);
  if (!hit) {
    throw new SignatureFuseError(
      engineIdMask,
      ucodeId,
      "the mask has none of bit 0 (SEC2), bit 2 (NVDEC) or bit 10 (GSP)",
    );
  }
  return { register: hit[1], index: ucodeId - 1 };
}
