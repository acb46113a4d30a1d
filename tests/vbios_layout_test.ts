import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { readVbiosLayout } from "../firmware/vbios/vbios_layout.ts";
import { realVbiosTest } from "./_real.ts";

function throwsFormat(fn: () => unknown, field: string, offset?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FirmwareFormatError, `not a FirmwareFormatError: ${e}`);
    assert.equal(e.field, field, e.message);
    if (offset !== undefined) assert.equal(e.offset, offset, e.message);
    return true;
  });
}

for (const ifr of ["none", 1, 2, 3] as const) {
  Deno.test(`vbios layout: forged VBIOS with IFR ${ifr} reads back what was forged`, () => {
    const version = { biosVersion: 0x90041800 + (ifr === "none" ? 0 : ifr), biosOemVersion: 3 };
    const { bytes, layout: forged } = forgeVbios({ ifr, version });
    const src = countingSource(bufferSource(bytes));
    const layout = readVbiosLayout(src);
    assert.equal(layout.ifr?.version ?? "none", ifr);
    assert.equal(layout.romOffset, forged.romOffset);
    assert.deepEqual(
      layout.images.map((i) => ({ offset: i.offset, size: i.size, kind: i.kind })),
      forged.images,
    );
    assert.equal(layout.pcAtImage, layout.images[0]);
    assert.equal(layout.bit.offset, forged.bitOffset);
    assert.equal(layout.version?.text, forged.versionText);
    assert.equal(layout.falconUcodeTablePtr, forged.falconUcodeTablePtr);
    assert.equal(layout.fwsecSection?.offset, forged.fwsecOffset);
    assert.equal(layout.fwsecSection?.pcAtSize, forged.pcAtSize);
    assert.equal(layout.pmuTable?.offset, forged.pmuTableOffset);
    assert.ok(src.bytesRead < 1024, `read ${src.bytesRead} bytes`);
  });
}

Deno.test("vbios layout: without a falcon-data token there is no PMU table", () => {
  const { bytes, layout: forged } = forgeVbios();
  bytes[forged.bitOffset + 12 + 2 * 6] = 0x71;
  const layout = readVbiosLayout(bufferSource(bytes));
  assert.equal(layout.falconUcodeTablePtr, undefined);
  assert.equal(layout.pmuTable, undefined);
  assert.equal(layout.fwsecSection?.offset, forged.fwsecOffset);
});

Deno.test("vbios layout: without FWSEC images there is no section and no PMU table", () => {
  const { bytes, layout: forged } = forgeVbios({ fwsecImages: 1 });
  const fwsec = forged.images[2];
  const pcir = fwsec.offset + new DataView(bytes.buffer).getUint16(fwsec.offset + 0x18, true);
  bytes[pcir + 0x14] = 0x01;
  const layout = readVbiosLayout(bufferSource(bytes));
  assert.equal(layout.images[2].kind, "unknown");
  assert.equal(layout.fwsecSection, undefined);
  assert.equal(layout.pmuTable, undefined);
  assert.equal(layout.falconUcodeTablePtr, forged.falconUcodeTablePtr);
});

Deno.test("vbios layout: a chain without a PC-AT image is an error", () => {
  const { bytes } = forgeVbios();
  bytes[0x40 + 0x14] = 0x01;
  throwsFormat(() => readVbiosLayout(bufferSource(bytes)), "romImage.codeType", 0);
});

Deno.test("vbios layout: errors name the source", () => {
  const { bytes, layout } = forgeVbios();
  bytes[layout.bitOffset + 11] ^= 0x10;
  assert.throws(
    () => readVbiosLayout(bufferSource(bytes, "board.rom")),
    (e: unknown) => e instanceof FirmwareFormatError && e.file === "board.rom",
  );
});

realVbiosTest("vbios layout: the real TU102 tables cost about 1 KiB of reads", (bytes) => {
  const src = countingSource(bufferSource(bytes, "TU102.rom"));
  const layout = readVbiosLayout(src);
  assert.equal(layout.ifr?.version, 3);
  assert.equal(layout.romOffset, 0x28600);
  assert.deepEqual(layout.images.map((i) => i.kind), ["pc-at", "efi", "fwsec", "fwsec", "nbsi"]);
  assert.equal(layout.version?.text, "90.02.17.00.7B");
  assert.equal(layout.falconUcodeTablePtr, 0xed24);
  assert.deepEqual(layout.fwsecSection, { offset: 0x48800, size: 0x30200, pcAtSize: 0xec00 });
  assert.equal(layout.pmuTable?.entryCount, 16);
  // IFR 28 + images 310 + BIT 648 + PMU table 102.
  assert.equal(src.bytesRead, 28 + 310 + 648 + 102);
});
