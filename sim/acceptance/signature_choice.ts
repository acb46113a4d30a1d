/**
 * Which signature the hardware accepts for an HS image, from the chip's fuse
 * register: the simulator's own rules (issue 9), straight from the reference.
 *
 * - **Booter** (nova-core-boot.md §3.7): with `version` from the fuse
 *   register ({@linkcode fuseVersionFromRegister}), version 0 takes the last
 *   signature; otherwise the index is the file's fuse version (`FUSE`,
 *   `signatureParams.fuseVersion`) minus `version`. An index outside the
 *   file's signatures means the file has none for this chip.
 * - **FWSEC, descriptor v3** (§3.3 step 6): `bit = 1 << version` must be set
 *   in the descriptor's `signatureVersions`; the index is the number of set
 *   bits below it.
 * - Either way, a selected signature that is all zeros is rejected: the
 *   production GA102 Booter's second signature is all zeros, and production
 *   VBIOSes leave the FWSEC signatures for unused versions zero
 *   (real-files.md).
 *
 * @example A production GA102 reads fuse mask 0x1 (version 1) and takes Booter signature 0
 * ```ts
 * import assert from "node:assert/strict";
 * import { booterSignatureChoice } from "./signature_choice.ts";
 * const sigs = [new Uint8Array(384).fill(7), new Uint8Array(384)];
 * const v = booterSignatureChoice({ fileFuseVersion: 1, signatures: sigs, fuseRegister: 0x1 });
 * assert(v.ok && v.index === 0 && v.fuseVersion === 1);
 * assert(!booterSignatureChoice({ fileFuseVersion: 1, signatures: sigs, fuseRegister: 0 }).ok);
 * ```
 *
 * @module
 */

import { fuseVersionFromRegister } from "./fuse_version.ts";
import { HS_ERROR, reject, type Verdict } from "./verdict.ts";
import { hex, isAllZero } from "./_util.ts";

/** The signature the hardware will accept. */
export interface SignatureChoice {
  /** Index into the file's signatures. */
  index: number;
  /** The fuse version the register encodes. */
  fuseVersion: number;
  /** The signature's bytes. */
  signature: Uint8Array;
}

/** Inputs of {@linkcode booterSignatureChoice}. */
export interface BooterSignatureInput {
  /** The file's `FUSE` (HS signature params `fuse_ver`). */
  fileFuseVersion: number;
  /** The file's signatures, in file order. */
  signatures: readonly Uint8Array[];
  /** The raw fuse register value (a bit mask; 0 on Turing). */
  fuseRegister: number;
}

/**
 * The Booter signature a chip accepts.
 *
 * @param input The file's fuse version and signatures, and the fuse register.
 * @returns The choice, or a rejection (`noSignatureForFuse`, `zeroSignature`).
 *
 * @example Turing: version 0 → the last (only) signature
 * ```ts
 * import assert from "node:assert/strict";
 * import { booterSignatureChoice } from "./signature_choice.ts";
 * const v = booterSignatureChoice({
 *   fileFuseVersion: 0, signatures: [new Uint8Array(16).fill(1)], fuseRegister: 0,
 * });
 * assert(v.ok && v.index === 0);
 * ```
 */
export function booterSignatureChoice(input: BooterSignatureInput): Verdict<SignatureChoice> {
  const fuseVersion = fuseVersionFromRegister(input.fuseRegister);
  const count = input.signatures.length;
  const index = fuseVersion === 0 ? count - 1 : input.fileFuseVersion - fuseVersion;
  if (index < 0 || index >= count) {
    return reject(
      HS_ERROR.noSignatureForFuse,
      `fuse register ${hex(input.fuseRegister)} (version ${fuseVersion}) with file fuse version ` +
        `${input.fileFuseVersion} selects signature ${index}; the file has ${count}`,
    );
  }
  return checked(input.signatures[index], index, fuseVersion);
}

/** Inputs of {@linkcode fwsecSignatureChoice}. */
export interface FwsecSignatureInput {
  /** The v3 descriptor's `signatureVersions` bit mask. */
  signatureVersions: number;
  /** The signatures after the descriptor, in order. */
  signatures: readonly Uint8Array[];
  /** The raw fuse register value for the descriptor's engine and ucode id. */
  fuseRegister: number;
}

/**
 * The FWSEC (descriptor v3) signature a chip accepts.
 *
 * @param input The descriptor's signature versions and signatures, and the fuse register.
 * @returns The choice, or a rejection (`noSignatureForFuse`, `zeroSignature`).
 *
 * @example Versions 0b110: fuse version 2 → index 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { fwsecSignatureChoice } from "./signature_choice.ts";
 * const sigs = [new Uint8Array(384).fill(1), new Uint8Array(384).fill(2)];
 * const v = fwsecSignatureChoice({ signatureVersions: 0b110, signatures: sigs, fuseRegister: 0b10 });
 * assert(v.ok && v.index === 1);
 * assert(!fwsecSignatureChoice({ signatureVersions: 0b110, signatures: sigs, fuseRegister: 0 }).ok);
 * ```
 */
export function fwsecSignatureChoice(input: FwsecSignatureInput): Verdict<SignatureChoice> {
  const fuseVersion = fuseVersionFromRegister(input.fuseRegister);
  const bit = 2 ** fuseVersion;
  if (Math.floor(input.signatureVersions / bit) % 2 !== 1) {
    return reject(
      HS_ERROR.noSignatureForFuse,
      `fuse version ${fuseVersion} (register ${hex(input.fuseRegister)}) is not in the ` +
        `descriptor's signature versions ${hex(input.signatureVersions)}`,
    );
  }
  let index = 0;
  for (let v = 0; v < fuseVersion; v++) {
    if (Math.floor(input.signatureVersions / 2 ** v) % 2 === 1) index++;
  }
  if (index >= input.signatures.length) {
    return reject(
      HS_ERROR.noSignatureForFuse,
      `fuse version ${fuseVersion} selects signature ${index}; the descriptor carries ` +
        `${input.signatures.length}`,
    );
  }
  return checked(input.signatures[index], index, fuseVersion);
}

function checked(
  signature: Uint8Array,
  index: number,
  fuseVersion: number,
): Verdict<SignatureChoice> {
  if (isAllZero(signature)) {
    return reject(
      HS_ERROR.zeroSignature,
      `signature ${index}, selected by fuse version ${fuseVersion}, is all zeros`,
      { index },
    );
  }
  return { ok: true, index, fuseVersion, signature };
}
