// FWSEC signature selection by fuse version (firmware/fwsec/signature.ts), and which fuse
// versions an image carries a real (non-zero) signature for.

import assert from "node:assert/strict";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeVbios, type ForgeVbiosOptions } from "../firmware/forge/vbios.ts";
import { extractFwsec, type FwsecFirmware } from "../firmware/fwsec/extract.ts";
import { patchFwsecFrts } from "../firmware/fwsec/patch.ts";
import {
  highestSignedFuseVersion,
  selectFwsecSignature,
  signatureSlots,
  signedFuseVersions,
} from "../firmware/fwsec/signature.ts";
import { throwsFormat } from "./_assert.ts";
import { realVbiosTest } from "./_real.ts";

const REGION = { frtsOffset: 0x1ff00000, frtsSize: 0x100000 };

function forged(options: ForgeVbiosOptions): FwsecFirmware {
  return extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 3, ...options }).bytes));
}

Deno.test("signature: v3 selection by fuse version and the bitmask", () => {
  const fwsec = forged({ signatureVersions: 0b1011_0100 });
  assert.equal(fwsec.signatures.length, 4);
  assert.equal(selectFwsecSignature(fwsec, 2), 0);
  assert.equal(selectFwsecSignature(fwsec, 4), 1);
  assert.equal(selectFwsecSignature(fwsec, 5), 2);
  assert.equal(selectFwsecSignature(fwsec, 7), 3);
  // Versions without a bit, including 16 to 32, which a u16 bitmask cannot name.
  for (const fuseVersion of [0, 1, 3, 6, 8, 15, 16, 32]) {
    throwsFormat(
      () => selectFwsecSignature(fwsec, fuseVersion),
      "descriptor.signatureVersions",
      fwsec.descriptorOffset + 0x28,
    );
  }
  for (const notAVersion of [33, 0x8000, -1, 1.5]) {
    assert.throws(() => selectFwsecSignature(fwsec, notAVersion), RangeError, `${notAVersion}`);
  }
});

Deno.test("signature: a fuse register's bit mask is not a version", () => {
  // A chip whose fuse register reads 0b0100 has fuse version 3 (highest set bit + 1), which
  // selects signature 1 here; taking the register value 4 as the version would select none.
  const fwsec = forged({ signatureVersions: 0b1010 });
  assert.equal(selectFwsecSignature(fwsec, 3), 1);
  throwsFormat(() => selectFwsecSignature(fwsec, 4), "descriptor.signatureVersions");
  assert.equal(patchFwsecFrts(fwsec, REGION, 3).signatureIndex, 1);
});

Deno.test("signature: the first signature left as zeros, as production VBIOSes do", () => {
  const { bytes, layout } = forgeVbios({ descriptorVersion: 3, zeroSignatures: [0] });
  assert.ok(layout.signatures[0].every((b) => b === 0), "the forge zeroed signature 0");
  assert.ok(layout.signatures[1].some((b) => b !== 0));
  const fwsec = extractFwsec(bufferSource(bytes));
  assert.deepEqual(signatureSlots(fwsec), [
    { fuseVersion: 0, index: 0, allZero: true },
    { fuseVersion: 1, index: 1, allZero: false },
    { fuseVersion: 2, index: 2, allZero: false },
  ]);
  assert.deepEqual(signedFuseVersions(fwsec), [1, 2]);
  assert.equal(highestSignedFuseVersion(fwsec), 2);
  // Version 0, the one a tool without a GPU used to assume, is refused with the signature named.
  throwsFormat(() => patchFwsecFrts(fwsec, REGION, 0), "signatures[0]");
  assert.equal(patchFwsecFrts(fwsec, REGION, highestSignedFuseVersion(fwsec)!).signatureIndex, 2);
});

Deno.test("signature: the highest signed version skips zeroed signatures above it", () => {
  const fwsec = forged({ signatureVersions: 0b1101, zeroSignatures: [2] });
  assert.deepEqual(signedFuseVersions(fwsec), [0, 2]);
  assert.equal(highestSignedFuseVersion(fwsec), 2);
  throwsFormat(() => selectFwsecSignature(fwsec, 3), "signatures[2]");
});

Deno.test("signature: no signed version when every signature is zeros, or for v2", () => {
  const allZero = forged({ signatureVersions: 0b11, zeroSignatures: [0, 1] });
  assert.deepEqual(signedFuseVersions(allZero), []);
  assert.equal(highestSignedFuseVersion(allZero), undefined);
  const v2 = extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 2 }).bytes));
  assert.deepEqual(signatureSlots(v2), []);
  assert.equal(highestSignedFuseVersion(v2), undefined);
  assert.throws(() => selectFwsecSignature(v2, 0), RangeError);
});

Deno.test("signature: slots past the signatures the descriptor holds are left out", () => {
  const fwsec = forged({ signatureVersions: 0b111 });
  const short: FwsecFirmware = { ...fwsec, signatures: fwsec.signatures.slice(0, 2) };
  assert.deepEqual(signatureSlots(short).map((s) => s.fuseVersion), [0, 1]);
  throwsFormat(() => selectFwsecSignature(short, 2), "descriptor.signatureCount");
});

realVbiosTest("signature: the real TU102 VBIOS (descriptor v2) needs no fuse version", (bytes) => {
  const fwsec = extractFwsec(bufferSource(bytes));
  assert.equal(fwsec.descriptor.descriptorVersion, 2);
  assert.equal(highestSignedFuseVersion(fwsec), undefined);
  assert.equal(patchFwsecFrts(fwsec, REGION, 0).signatureIndex, undefined);
});
