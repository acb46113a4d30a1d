/**
 * The signature fuses as the boot ROM reads them: which register holds the
 * version for an HS image's engine and ucode id, and how the register's bit
 * mask becomes a version.
 *
 * From nova-core-boot.md §3.6 (checked against NVIDIA's published
 * `ampere/ga100/dev_fuse.h`, §12): the registers are arrays of 16 indexed by
 * ucode id − 1; engine id mask bit 0 (SEC2) → `0x824140`, bit 2 (NVDEC) →
 * `0x824100`, bit 10 (GSP) → `0x8241c0`; bits 15:0 hold a *bit mask*, and the
 * version is the position of its highest set bit plus one (0 when none is
 * set). Turing has no such fuse: NVIDIA's TU102 code uses version 0 without
 * reading anything (§12), so a Turing model passes register value 0.
 *
 * This is the simulator's own conversion (the golden rule of issue 9): it
 * does not call the driver's fuse helpers.
 *
 * @example A production GA102: fuse bit 0 set → version 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { fuseVersionFromRegister, signatureFuseRegister } from "./fuse_version.ts";
 * assert.equal(fuseVersionFromRegister(0x1), 1);
 * assert.equal(fuseVersionFromRegister(0x3), 2); // not 3: the register is a mask
 * assert.equal(signatureFuseRegister(0x1, 3), 0x824148);
 * ```
 *
 * @module
 */

/** Fuse register base per engine-id-mask bit (§3.6). */
const FUSE_BASE_BY_ENGINE_BIT: ReadonlyMap<number, number> = new Map([
  [0, 0x824140], // SEC2: NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION
  [2, 0x824100], // NVDEC: NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION
  [10, 0x8241c0], // GSP: NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION
]);

/**
 * Ucode ids the fuse arrays cover (UCODE1..UCODE16).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FUSE_UCODE_IDS } from "./fuse_version.ts";
 * assert.equal(FUSE_UCODE_IDS.max - FUSE_UCODE_IDS.min + 1, 16);
 * ```
 */
export const FUSE_UCODE_IDS = { min: 1, max: 16 } as const;

/**
 * The signature fuse version a fuse register value encodes: the index of the
 * highest set bit of bits 15:0, plus one; 0 when they are all clear.
 *
 * @param register The raw 32-bit register value.
 * @returns 0–16.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fuseVersionFromRegister } from "./fuse_version.ts";
 * assert.deepEqual([0, 1, 2, 4, 0x8000, 0x10000].map(fuseVersionFromRegister), [0, 1, 2, 3, 16, 0]);
 * ```
 */
export function fuseVersionFromRegister(register: number): number {
  const mask = register & 0xffff;
  return mask === 0 ? 0 : 32 - Math.clz32(mask);
}

/**
 * The BAR0 offset of the fuse register the boot ROM reads for an HS image,
 * from the engine id mask and ucode id programmed into BROM_ENGIDMASK and
 * BROM_CURR_UCODE_ID (GA102 and later).
 *
 * @param engineIdMask The engine id mask (the lowest known engine bit counts, as in nova-core).
 * @param ucodeId The ucode id, 1–16.
 * @returns The register offset, or `undefined` when the id is out of range or
 *   the mask names no engine with fuses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signatureFuseRegister } from "./fuse_version.ts";
 * assert.equal(signatureFuseRegister(0x400, 9), 0x8241c0 + 4 * 8); // GSP, FWSEC ucode 9
 * assert.equal(signatureFuseRegister(0x1, 0), undefined);
 * assert.equal(signatureFuseRegister(0x2, 3), undefined);
 * ```
 */
export function signatureFuseRegister(engineIdMask: number, ucodeId: number): number | undefined {
  if (!Number.isInteger(ucodeId) || ucodeId < FUSE_UCODE_IDS.min || ucodeId > FUSE_UCODE_IDS.max) {
    return undefined;
  }
  for (const [bit, base] of FUSE_BASE_BY_ENGINE_BIT) {
    if (engineIdMask & (1 << bit)) return base + 4 * (ucodeId - 1);
  }
  return undefined;
}
