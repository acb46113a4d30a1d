import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { parseVbios } from "../firmware/vbios/vbios.ts";
import { realVbiosTest } from "./_real.ts";

for (const descriptorVersion of [2, 3] as const) {
  for (const ifr of ["none", 1, 2, 3] as const) {
    Deno.test(`vbios: parse forged descriptor v${descriptorVersion} with IFR ${ifr}`, () => {
      const { bytes, layout } = forgeVbios({ ifr, descriptorVersion });
      const info = parseVbios(bufferSource(bytes));
      assert.equal(info.ifr?.version ?? "none", ifr);
      assert.equal(info.romOffset, layout.romOffset);
      assert.deepEqual(info.images.map((i) => i.kind), ["pc-at", "efi", "fwsec", "fwsec", "nbsi"]);
      assert.equal(info.version?.text, layout.versionText);
      assert.ok(info.fwsec);
      assert.deepEqual(info.fwsec.descriptor, layout.descriptor);
      assert.deepEqual(info.fwsec.signatures, layout.signatures);
      assert.deepEqual(info.fwsec.ucode, layout.ucode);
      assert.equal(info.fwsec.vbiosVersion, layout.versionText);
    });
  }
}

Deno.test("vbios: a PMU table without a production FWSEC entry gives no fwsec", () => {
  const { bytes } = forgeVbios({ fwsecApplicationId: 0x86 });
  const info = parseVbios(bufferSource(bytes));
  assert.equal(info.fwsec, undefined);
  assert.equal(info.pmuTable?.entryCount, 4);
});

Deno.test("vbios: a broken FWSEC descriptor is an error, not a silent omission", () => {
  const { bytes, layout } = forgeVbios();
  bytes[layout.descriptorOffset + 1] = 7;
  assert.throws(
    () => parseVbios(bufferSource(bytes)),
    (e: unknown) => e instanceof FirmwareFormatError && e.field === "descriptor.version",
  );
});

Deno.test("vbios: the result is JSON-friendly", () => {
  const info = parseVbios(bufferSource(forgeVbios({ ifr: 3 }).bytes));
  const json = JSON.parse(JSON.stringify({ ...info, fwsec: { ...info.fwsec, ucode: undefined } }));
  assert.equal(json.ifr.romOffset, 0x3000);
  assert.equal(json.bit.tokens.length, 3);
  assert.equal(json.fwsec.descriptor.descriptorVersion, 2);
});

realVbiosTest("vbios: the real TU102 VBIOS", (bytes) => {
  const info = parseVbios(bufferSource(bytes, "TU102.rom"));
  assert.equal(info.version?.text, "90.02.17.00.7B");
  assert.deepEqual(
    info.images.map((i) => [i.kind, i.codeType, i.last]),
    [
      ["pc-at", 0x00, false],
      ["efi", 0x03, false],
      ["fwsec", 0xe0, false],
      ["fwsec", 0xe0, false],
      ["nbsi", 0x70, true],
    ],
  );
  assert.equal(info.fwsec?.descriptor.descriptorVersion, 2);
  assert.equal(info.fwsec?.descriptorOffset, 0x67624);
  assert.equal(info.fwsec?.dmemMapper?.ucodeOffset, 0x9980);
});
