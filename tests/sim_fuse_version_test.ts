import assert from "node:assert/strict";
import { fuseVersionFromRegister, signatureFuseRegister } from "../sim/acceptance/fuse_version.ts";

Deno.test("fuse version: highest set bit of 15:0 plus one, 0 when clear", () => {
  const cases: [number, number][] = [
    [0, 0],
    [0x1, 1],
    [0x2, 2],
    [0x3, 2], // a mask, not a number: 0x3 is version 2, never 3
    [0x7, 3],
    [0x80, 8],
    [0xffff, 16],
    [0xffff_0000, 0], // bits above 15 are not the field
    [0x1_0001, 1],
  ];
  for (const [register, version] of cases) {
    assert.equal(fuseVersionFromRegister(register), version, `register 0x${register.toString(16)}`);
  }
});

Deno.test("fuse register: engine bit and ucode id pick the array element (§3.6)", () => {
  assert.equal(signatureFuseRegister(0x0001, 1), 0x824140);
  assert.equal(signatureFuseRegister(0x0001, 16), 0x824140 + 60);
  assert.equal(signatureFuseRegister(0x0004, 2), 0x824104);
  assert.equal(signatureFuseRegister(0x0400, 3), 0x8241c8);
  assert.equal(signatureFuseRegister(0x0001, 17), undefined);
  assert.equal(signatureFuseRegister(0x0008, 3), undefined);
});
