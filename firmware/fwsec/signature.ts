/**
 * Which of a version-3 FWSEC's signatures a chip needs, and which fuse
 * versions the image can serve at all.
 *
 * The descriptor's `signatureVersions` has bit `v` set for every fuse version
 * `v` it carries a signature for, in bit order (NVIDIA `kernel_gsp_fwsec.c`,
 * nova-core `firmware/fwsec.rs`): the signature for version `v` is the one
 * whose index is the number of set bits below bit `v`. The fuse version is
 * the chip's, converted from its fuse register's bit mask (highest set bit
 * plus one, 0 when the register reads 0).
 *
 * Production VBIOSes leave the signatures for fuse versions that no
 * production chip has as all zeros; {@linkcode signedFuseVersions} and
 * {@linkcode highestSignedFuseVersion} tell those apart from real ones, so
 * that a tool without a GPU can pick what the board itself would select.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { highestSignedFuseVersion, selectFwsecSignature } from "./signature.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const fwsec = extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 3 }).bytes));
 * const version = highestSignedFuseVersion(fwsec);
 * assert(version === 2 && selectFwsecSignature(fwsec, version) === 2);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../../errors.ts";
import { hex } from "../byte_reader.ts";
import { MAX_FUSE_VERSION } from "../falcon_load.ts";
import { fieldOffset } from "../field_layout.ts";
import {
  BCRT30_RSA3K_SIG_SIZE,
  FALCON_UCODE_DESC_V3_LAYOUT,
  FALCON_UCODE_DESC_V3_SIZE,
} from "./descriptor.ts";
import type { FwsecFirmware } from "./extract.ts";

/** One fuse version an FWSEC image has a signature slot for. */
export interface FwsecSignatureSlot {
  /** The fuse version (a set bit of `signatureVersions`). */
  fuseVersion: number;
  /** Index of its signature in `fwsec.signatures`. */
  index: number;
  /** Whether the signature is all zeros (a placeholder, not a signature). */
  allZero: boolean;
}

/**
 * The index of the signature a version-3 FWSEC needs for a fuse version:
 * with `bit = 1 << fuseVersion`, `signatureVersions` must have `bit` set,
 * and the index is the number of set bits of `signatureVersions` below it.
 *
 * @param fwsec Extracted FWSEC with a version-3 descriptor.
 * @param fuseVersion The chip's signature fuse version for the descriptor's
 *   ucode id (0–32), already converted from the fuse register's bit mask.
 * @returns The index into `fwsec.signatures`.
 * @throws {RangeError} when the descriptor is not version 3 or the fuse
 *   version is not a whole number 0–32.
 * @throws {FirmwareFormatError} when `signatureVersions` lacks the bit (a u16
 *   has none for versions 16 and up), the index is past the signatures, or
 *   the signature is all zeros.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectFwsecSignature } from "./signature.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const fwsec = extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 3, signatureVersions: 0b1010 }).bytes));
 * assert(selectFwsecSignature(fwsec, 1) === 0 && selectFwsecSignature(fwsec, 3) === 1);
 * assert.throws(() => selectFwsecSignature(fwsec, 2), /no signature for fuse version 2/);
 * ```
 */
export function selectFwsecSignature(fwsec: FwsecFirmware, fuseVersion: number): number {
  const d = fwsec.descriptor;
  if (d.descriptorVersion !== 3) {
    throw new RangeError("only version-3 FWSEC descriptors carry signatures");
  }
  if (!Number.isInteger(fuseVersion) || fuseVersion < 0 || fuseVersion > MAX_FUSE_VERSION) {
    throw new RangeError(
      `fuse version ${fuseVersion} is not 0–${MAX_FUSE_VERSION} ` +
        "(convert the fuse register's bit mask to a version first)",
    );
  }
  const fail = (at: number, field: string, reason: string): never => {
    throw new FirmwareFormatError({ offset: fwsec.descriptorOffset + at, field, reason });
  };
  const bit = 2 ** fuseVersion;
  if (fuseVersion >= 16 || (d.signatureVersions & bit) === 0) {
    fail(
      fieldOffset(FALCON_UCODE_DESC_V3_LAYOUT, "signatureVersions"),
      "descriptor.signatureVersions",
      `no signature for fuse version ${fuseVersion}: versions 0x${hex(d.signatureVersions)}`,
    );
  }
  const index = popcount(d.signatureVersions & (bit - 1));
  if (index >= fwsec.signatures.length) {
    fail(
      fieldOffset(FALCON_UCODE_DESC_V3_LAYOUT, "signatureCount"),
      "descriptor.signatureCount",
      `fuse version ${fuseVersion} selects signature ${index}, but there are ` +
        `${fwsec.signatures.length}`,
    );
  }
  if (fwsec.signatures[index].every((b) => b === 0)) {
    fail(
      FALCON_UCODE_DESC_V3_SIZE + index * BCRT30_RSA3K_SIG_SIZE,
      `signatures[${index}]`,
      `signature ${index} (fuse version ${fuseVersion}) is all zeros`,
    );
  }
  return index;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n >>> 0; v !== 0; v &= v - 1) count++;
  return count;
}

/**
 * Every fuse version `signatureVersions` names, lowest first, with the index
 * of its signature and whether that signature is all zeros. A version whose
 * index is past the signatures the descriptor holds is left out. Version-2
 * descriptors carry no signatures: the list is empty.
 *
 * @param fwsec Extracted FWSEC.
 * @returns The slots, lowest fuse version first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signatureSlots } from "./signature.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes } = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b1010, zeroSignatures: [0] });
 * const slots = signatureSlots(extractFwsec(bufferSource(bytes)));
 * assert.deepEqual(slots, [
 *   { fuseVersion: 1, index: 0, allZero: true },
 *   { fuseVersion: 3, index: 1, allZero: false },
 * ]);
 * ```
 */
export function signatureSlots(fwsec: FwsecFirmware): FwsecSignatureSlot[] {
  const d = fwsec.descriptor;
  if (d.descriptorVersion !== 3) return [];
  const slots: FwsecSignatureSlot[] = [];
  for (let fuseVersion = 0; fuseVersion < 16; fuseVersion++) {
    if ((d.signatureVersions & (1 << fuseVersion)) === 0) continue;
    const index = slots.length;
    const signature = fwsec.signatures[index];
    if (signature === undefined) break;
    slots.push({ fuseVersion, index, allZero: signature.every((b) => b === 0) });
  }
  return slots;
}

/**
 * The fuse versions an FWSEC image carries a non-zero signature for, lowest
 * first: the versions {@linkcode selectFwsecSignature} accepts. Empty for a
 * version-2 descriptor (which needs no signature) and for an image whose
 * signatures are all placeholders.
 *
 * @param fwsec Extracted FWSEC.
 * @returns The fuse versions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signedFuseVersions } from "./signature.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes } = forgeVbios({ descriptorVersion: 3, zeroSignatures: [0] });
 * assert.deepEqual(signedFuseVersions(extractFwsec(bufferSource(bytes))), [1, 2]);
 * ```
 */
export function signedFuseVersions(fwsec: FwsecFirmware): number[] {
  return signatureSlots(fwsec).filter((s) => !s.allZero).map((s) => s.fuseVersion);
}

/**
 * The highest fuse version an FWSEC image carries a non-zero signature for:
 * what a board's own chip most likely selects, for tools that have the VBIOS
 * but no GPU to read the fuse from. `undefined` when there is none (a
 * version-2 descriptor, or only placeholder signatures).
 *
 * @param fwsec Extracted FWSEC.
 * @returns The fuse version, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { highestSignedFuseVersion } from "./signature.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const v3 = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b0110, zeroSignatures: [1] });
 * assert(highestSignedFuseVersion(extractFwsec(bufferSource(v3.bytes))) === 1);
 * assert(highestSignedFuseVersion(extractFwsec(bufferSource(forgeVbios().bytes))) === undefined);
 * ```
 */
export function highestSignedFuseVersion(fwsec: FwsecFirmware): number | undefined {
  return signedFuseVersions(fwsec).at(-1);
}
