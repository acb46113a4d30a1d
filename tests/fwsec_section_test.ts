import assert from "node:assert/strict";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { fwsecOffset, fwsecSection, readFwsec } from "../firmware/vbios/fwsec_section.ts";
import { type RomImage, walkRomImages } from "../firmware/vbios/rom_images.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat } from "./_assert.ts";

Deno.test("fwsec section: starts at the first FWSEC image and runs to the chain's end", () => {
  const { bytes, layout } = forgeVbios();
  const images = walkRomImages(bufferSource(bytes), 0);
  const last = layout.images.at(-1)!;
  assert.deepEqual(fwsecSection(images), {
    offset: layout.fwsecOffset,
    size: last.offset + last.size - layout.fwsecOffset,
    pcAtSize: 0x800,
  });
  assert.equal(layout.fwsecOffset, layout.images[2].offset, "after the EFI image");
});

Deno.test("fwsec section: a pointer minus the PC-AT size skips the EFI image", () => {
  const { bytes, layout } = forgeVbios({ efi: true });
  const src = bufferSource(bytes);
  const section = fwsecSection(walkRomImages(src, 0))!;
  // The pointer counts as if FWSEC followed the PC-AT image directly.
  assert.equal(layout.falconUcodeTablePtr, 0x800 + (layout.pmuTableOffset - layout.fwsecOffset));
  assert.equal(
    fwsecOffset(src, section, layout.falconUcodeTablePtr, 6, "p"),
    layout.pmuTableOffset,
  );
  // The descriptor sits in the second FWSEC image: the section continues through it.
  assert.equal(fwsecOffset(src, section, layout.descPtr, 60, "d"), layout.descriptorOffset);
  const r = readFwsec(src, section, layout.descPtr, 4, "descriptor.hdr");
  assert.equal(r.base, layout.descriptorOffset);
  assert.equal(r.u32(0, "hdr"), layout.descriptor.hdr);
});

Deno.test("fwsec section: none without a PC-AT image or without FWSEC images", () => {
  const images = walkRomImages(bufferSource(forgeVbios().bytes), 0);
  assert.equal(fwsecSection(images.filter((i) => i.kind !== "fwsec")), undefined);
  assert.equal(fwsecSection(images.filter((i) => i.kind !== "pc-at")), undefined);
  assert.equal(fwsecSection([] as RomImage[]), undefined);
});

Deno.test("fwsec section: pointers below the PC-AT size or past the section are errors", () => {
  const src = bufferSource(new Uint8Array(0x4000));
  const section = { offset: 0x1000, size: 0x1000, pcAtSize: 0x800 };
  assert.equal(fwsecOffset(src, section, 0x800, 0x1000, "x"), 0x1000);
  throwsFormat(() => fwsecOffset(src, section, 0x7ff, 1, "pmuTable.header"), "pmuTable.header");
  throwsFormat(() => fwsecOffset(src, section, 0x1800, 1, "x"), "x", 0x2000);
  throwsFormat(() => fwsecOffset(src, section, 0x17ff, 2, "x"), "x", 0x1fff);
  throwsFormat(() => readFwsec(src, section, 0xffffffff, 4, "descriptor.hdr"), "descriptor.hdr");
});

realVbiosTest("fwsec section: the real TU102 section and its pointers", (bytes) => {
  const src = bufferSource(bytes, "TU102.rom");
  const section = fwsecSection(walkRomImages(src, 0x28600))!;
  assert.deepEqual(section, { offset: 0x48800, size: 0x30200, pcAtSize: 0xec00 });
  // Falcon-data pointer 0xed24 → PMU table in the first FWSEC image.
  assert.equal(fwsecOffset(src, section, 0xed24, 6, "p"), 0x48924);
  // Production descriptor pointer 0x2da24 → the second FWSEC image.
  assert.equal(fwsecOffset(src, section, 0x2da24, 60, "d"), 0x67624);
});
