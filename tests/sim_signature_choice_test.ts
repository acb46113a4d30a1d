import assert from "node:assert/strict";
import { booterSignatureChoice, fwsecSignatureChoice } from "../sim/acceptance/signature_choice.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";

const sig = (fill: number, size = 384) => new Uint8Array(size).fill(fill);

Deno.test("Booter: register 0 takes the last signature; otherwise FUSE − version", () => {
  const sigs = [sig(1), sig(2), sig(3), sig(4)];
  const pick = (fuseRegister: number) => {
    const v = booterSignatureChoice({ fileFuseVersion: 3, signatures: sigs, fuseRegister });
    return v.ok ? v.index : v.rule;
  };
  assert.equal(pick(0), 3);
  assert.equal(pick(0b1), 2); // version 1
  assert.equal(pick(0b11), 1); // version 2 (mask 0x3), not 3
  assert.equal(pick(0b100), 0); // version 3
  assert.equal(pick(0b1000), "noSignatureForFuse"); // version 4 > FUSE
});

Deno.test("Booter: the selected signature must not be all zeros (GA102's second)", () => {
  const sigs = [sig(9), sig(0)];
  const v = booterSignatureChoice({ fileFuseVersion: 1, signatures: sigs, fuseRegister: 0 });
  assert(!v.ok);
  assert.equal(v.rule, "zeroSignature");
  assert.equal(v.mbox0, HS_ERROR.zeroSignature);
  const production = booterSignatureChoice({
    fileFuseVersion: 1,
    signatures: sigs,
    fuseRegister: 1,
  });
  assert(production.ok && production.index === 0 && production.signature[0] === 9);
});

Deno.test("FWSEC v3: bit = 1 << version must be set; index = set bits below", () => {
  const sigs = [sig(1), sig(2), sig(3)];
  const pick = (signatureVersions: number, fuseRegister: number) => {
    const v = fwsecSignatureChoice({ signatureVersions, signatures: sigs, fuseRegister });
    return v.ok ? v.index : v.rule;
  };
  assert.equal(pick(0b111, 0), 0);
  assert.equal(pick(0b111, 0b1), 1);
  assert.equal(pick(0b111, 0b11), 2);
  assert.equal(pick(0b1011, 0b100), 2); // version 3: bits 0 and 1 below it
  assert.equal(pick(0b1010, 0), "noSignatureForFuse"); // bit 0 not set
  assert.equal(pick(0b111, 0b100), "noSignatureForFuse"); // version 3 not signed
});

Deno.test("FWSEC v3: a zero signature for the fuse's version is refused", () => {
  const v = fwsecSignatureChoice({
    signatureVersions: 0b11,
    signatures: [sig(0), sig(5)],
    fuseRegister: 0,
  });
  assert(!v.ok && v.rule === "zeroSignature" && v.detail?.index === 0);
});
