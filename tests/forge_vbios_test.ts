import assert from "node:assert/strict";
import {
  forgeFalconUcodeDesc,
  forgeFwsecDmem,
  forgeVbios,
  type ForgeVbiosOptions,
} from "../firmware/forge/vbios.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { parseVbios } from "../firmware/vbios/vbios.ts";
import { patchFwsecFrts } from "../firmware/fwsec/patch.ts";

const MATRIX: ForgeVbiosOptions[] = (["none", 1, 2, 3] as const).flatMap((ifr) =>
  ([2, 3] as const).flatMap((descriptorVersion) =>
    [true, false].flatMap((efi) =>
      ([1, 2] as const).map((fwsecImages) => ({ ifr, descriptorVersion, efi, fwsecImages }))
    )
  )
);

Deno.test("forge vbios: deterministic, and the seed changes only filler", () => {
  for (const options of MATRIX) {
    const a = forgeVbios(options);
    const b = forgeVbios(options);
    assert.deepEqual(a.bytes, b.bytes, JSON.stringify(options));
  }
  const one = forgeVbios({ seed: 1 });
  const two = forgeVbios({ seed: 2 });
  assert.equal(one.bytes.length, two.bytes.length);
  assert.notDeepEqual(one.bytes, two.bytes);
  assert.deepEqual(one.layout.images, two.layout.images);
});

Deno.test("forge vbios: images are back to back in 512-byte blocks", () => {
  for (const options of MATRIX) {
    const { bytes, layout } = forgeVbios(options);
    let at = layout.romOffset;
    for (const image of layout.images) {
      assert.equal(image.offset, at);
      assert.equal(image.size % 512, 0);
      at += image.size;
    }
    assert.equal(at, bytes.length);
    assert.equal(layout.images[0].kind, "pc-at");
    assert.equal(layout.images.at(-1)?.kind, "nbsi");
  }
});

Deno.test("forge vbios: every combination parses back to what was forged", () => {
  for (const options of MATRIX) {
    const { bytes, layout } = forgeVbios(options);
    const info = parseVbios(bufferSource(bytes));
    const label = JSON.stringify(options);
    assert.equal(info.romOffset, layout.romOffset, label);
    assert.deepEqual(
      info.images.map((i) => ({ offset: i.offset, size: i.size, kind: i.kind })),
      layout.images,
      label,
    );
    assert.equal(info.version?.text, layout.versionText, label);
    assert.ok(info.fwsec, label);
    assert.deepEqual(info.fwsec.descriptor, layout.descriptor, label);
    assert.deepEqual(info.fwsec.signatures, layout.signatures, label);
    assert.deepEqual(info.fwsec.ucode, layout.ucode, label);
    assert.equal(info.fwsec.dmemMapper?.ucodeOffset, layout.mapperUcodeOffset, label);
    assert.equal(
      patchFwsecFrts(info.fwsec, { frtsOffset: 0, frtsSize: 0x100000 }, 0).command,
      0x15,
    );
  }
});

Deno.test("forge vbios: the BIT header checksum holds", () => {
  const { bytes, layout } = forgeVbios({ version: { biosVersion: 0x12345678, biosOemVersion: 9 } });
  const sum = bytes.subarray(layout.bitOffset, layout.bitOffset + 12).reduce((s, b) => s + b, 0);
  assert.equal(sum & 0xff, 0);
  assert.equal(layout.versionText, "12.34.56.78.09");
});

Deno.test("forge vbios: descriptor and DMEM helpers", () => {
  assert.equal(forgeFalconUcodeDesc({ descriptorVersion: 2 }).length, 60);
  assert.equal(
    forgeFalconUcodeDesc({ descriptorVersion: 3, signatureVersions: 0b1 }).length,
    44 + 384,
  );
  const dmem = forgeFwsecDmem({ dmemLoadSize: 0x200, cmdInBufferSize: 0x20 });
  assert.equal(dmem.dmem.length, 0x200);
  assert.deepEqual(
    dmem.dmem.subarray(dmem.cmdInBufferOffset, dmem.cmdInBufferOffset + 0x20),
    new Uint8Array(0x20),
  );
  assert.equal(
    new TextDecoder().decode(dmem.dmem.subarray(dmem.mapperOffset, dmem.mapperOffset + 4)),
    "DMAP",
  );
});
