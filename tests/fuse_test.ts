// Tests of registers/fuse.ts: the fuse-version rule and the fuse register of a ucode.

import assert from "node:assert/strict";
import { addressOf } from "../registers/catalog.ts";
import { FUSE, fuseVersionOf, signatureFuse, SignatureFuseError } from "../registers/fuse.ts";

Deno.test("fuseVersionOf: highest set bit + 1, 0 when 0", () => {
  assert.equal(fuseVersionOf(0), 0);
  assert.equal(fuseVersionOf(0x1), 1);
  assert.equal(fuseVersionOf(0x3), 2);
  assert.equal(fuseVersionOf(0x8000), 16);
  assert.equal(fuseVersionOf(0x4), 3);
  assert.equal(fuseVersionOf(0xffff), 16);
  // Bits 31:16 are not part of the DATA field.
  assert.equal(fuseVersionOf(0xffff0000), 0);
  assert.equal(fuseVersionOf(0x10002), 2);
});

Deno.test("signatureFuse: engine id mask bit → fuse array, ucode id → element", () => {
  const cases: [number, number, string, number][] = [
    [0x1, 3, "NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION", 0x824148],
    [0x4, 1, "NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION", 0x824100],
    [0x400, 16, "NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION", 0x8241fc],
  ];
  for (const [mask, ucode, name, address] of cases) {
    const fuse = signatureFuse(mask, ucode);
    assert.equal(fuse.register.name, name);
    assert.equal(fuse.index, ucode - 1);
    assert.equal(addressOf(fuse.register, "ga102", { index: fuse.index }), address);
  }
  assert.equal(signatureFuse(0x405, 1).register, FUSE.NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION);
});

Deno.test("signatureFuse: a typed error for a mask or ucode id without a fuse", () => {
  for (const [mask, ucode] of [[0x2, 1], [0, 1], [0x1, 0], [0x1, 17], [0x400, 1.5]]) {
    assert.throws(
      () => signatureFuse(mask, ucode),
      (e: unknown) =>
        e instanceof SignatureFuseError && e.engineIdMask === mask && e.ucodeId === ucode,
    );
  }
});
