import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import {
  isRomSignature,
  MAX_ROM_IMAGES,
  readRomImage,
  ROM_CODE_TYPE,
  romImageKind,
  walkRomImages,
} from "../firmware/vbios/rom_images.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat, view } from "./_assert.ts";

/** Absolute offset of an image's PCIR in forged bytes. */
function pcirOf(bytes: Uint8Array, imageOffset: number): number {
  return imageOffset + view(bytes).getUint16(imageOffset + 0x18, true);
}

Deno.test("rom images: signatures and code types", () => {
  assert.ok(isRomSignature(0xaa55) && isRomSignature(0x4e56) && isRomSignature(0xbb77));
  assert.ok(!isRomSignature(0x55aa) && !isRomSignature(0));
  assert.equal(romImageKind(ROM_CODE_TYPE.pcAt), "pc-at");
  assert.equal(romImageKind(ROM_CODE_TYPE.efi), "efi");
  assert.equal(romImageKind(ROM_CODE_TYPE.nbsi), "nbsi");
  assert.equal(romImageKind(ROM_CODE_TYPE.fwsec), "fwsec");
  assert.equal(romImageKind(0x01), "unknown");
});

Deno.test("rom images: the forged chain walks to the NBSI image, 62 bytes per image", () => {
  const { bytes, layout } = forgeVbios();
  const src = countingSource(bufferSource(bytes));
  const images = walkRomImages(src, 0);
  assert.deepEqual(
    images.map((i) => ({ offset: i.offset, size: i.size, kind: i.kind })),
    layout.images,
  );
  assert.deepEqual(images.map((i) => i.last), [false, false, false, false, true]);
  assert.deepEqual(images.map((i) => i.romSignature), [0xaa55, 0xaa55, 0x4e56, 0x4e56, 0x4e56]);
  assert.deepEqual(images.map((i) => i.pcir.signature), ["PCIR", "PCIR", "NPDS", "NPDS", "NPDS"]);
  assert.equal(src.bytesRead, 5 * 62);
  const [pcAt, efi, , , nbsi] = images;
  assert.equal(pcAt.pcir.vendorId, 0x10de);
  assert.equal(pcAt.pcir.classCode, 0x030000);
  assert.equal(pcAt.npde?.subimageLen, 4);
  // EFI: the PCIR says last, the NPDE (which wins) says not.
  assert.equal(efi.pcir.lastImage, 0x80);
  assert.equal(efi.npde?.privLastImage, 0);
  assert.equal(efi.npde?.nvPciDataExtRev, 0x100);
  // NBSI: no NPDE, last by its code type and its PCIR flag.
  assert.equal(nbsi.npde, null);
  assert.equal(nbsi.codeType, 0x70);
});

Deno.test("rom images: with no EFI image and one FWSEC image the chain is shorter", () => {
  const { bytes, layout } = forgeVbios({ efi: false, fwsecImages: 1, ifr: 2 });
  const images = walkRomImages(bufferSource(bytes), layout.romOffset);
  assert.deepEqual(images.map((i) => i.kind), ["pc-at", "fwsec", "nbsi"]);
  assert.equal(images[0].offset, 0x800);
  assert.deepEqual(images.map((i) => i.index), [0, 1, 2]);
});

Deno.test("rom images: the NPDE size wins over the PCIR size", () => {
  const { bytes, layout } = forgeVbios();
  const efi = layout.images[1];
  // Grow the EFI image's PCIR length; the NPDE still says 2 blocks.
  view(bytes).setUint16(pcirOf(bytes, efi.offset) + 0x10, 0x40, true);
  const images = walkRomImages(bufferSource(bytes), 0);
  assert.equal(images[1].size, 0x400);
  assert.equal(images[1].pcir.imageLen, 0x40);
  assert.equal(images.length, 5);
});

Deno.test("rom images: an NPDE of an unknown revision is ignored", () => {
  const { bytes, layout } = forgeVbios();
  const pcAt = layout.images[0];
  view(bytes).setUint16(pcAt.offset + 0x64, 0x200, true);
  const image = readRomImage(bufferSource(bytes), { offset: 0, size: bytes.length }, 0, 0);
  assert.equal(image.npde, null);
  assert.equal(image.size, 0x800);
});

Deno.test("rom images: wrong ROM signature", () => {
  const { bytes, layout } = forgeVbios();
  bytes[0] = 0;
  throwsFormat(() => walkRomImages(bufferSource(bytes), 0), "romImage.signature", 0);
  const other = forgeVbios().bytes;
  other[layout.images[2].offset + 1] = 0;
  throwsFormat(
    () => walkRomImages(bufferSource(other), 0),
    "romImage.signature",
    layout.images[2].offset,
  );
});

Deno.test("rom images: wrong PCIR signature", () => {
  const { bytes } = forgeVbios();
  bytes[0x40] = 0x58;
  throwsFormat(() => walkRomImages(bufferSource(bytes), 0), "pcir.signature", 0x40);
});

Deno.test("rom images: PCIR pointer out of range", () => {
  const { bytes, layout } = forgeVbios();
  view(bytes).setUint16(0x18, 0xffff, true);
  throwsFormat(() => walkRomImages(bufferSource(bytes), 0), "romImage.pciDataStructPtr", 0x18);
  // Inside the ROM but past the image: a valid PCIR copied to the EFI image's last 16 bytes.
  const other = forgeVbios().bytes;
  const efi = layout.images[1];
  const pcir = pcirOf(other, efi.offset);
  other.copyWithin(efi.offset + 0x3f0, pcir, pcir + 0x18);
  view(other).setUint16(efi.offset + 0x18, 0x3f0, true);
  throwsFormat(
    () => walkRomImages(bufferSource(other), 0),
    "romImage.pciDataStructPtr",
    efi.offset + 0x18,
  );
});

Deno.test("rom images: zero-length images are errors", () => {
  const { bytes, layout } = forgeVbios();
  const nbsi = layout.images[4];
  view(bytes).setUint16(pcirOf(bytes, nbsi.offset) + 0x10, 0, true);
  throwsFormat(() => walkRomImages(bufferSource(bytes), 0), "pcir.imageLen");
  const other = forgeVbios();
  const npdeAt = other.layout.images[2].offset + 0x40;
  view(other.bytes).setUint16(npdeAt + 8, 0, true);
  throwsFormat(() => walkRomImages(bufferSource(other.bytes), 0), "npde.subimageLen", npdeAt + 8);
});

Deno.test("rom images: a truncated file is an error", () => {
  const { bytes, layout } = forgeVbios();
  const cut = bytes.subarray(0, layout.images[3].offset + 0x100);
  throwsFormat(() => walkRomImages(bufferSource(cut), 0), "npde.subimageLen");
  throwsFormat(() => walkRomImages(bufferSource(bytes.subarray(0, 0x10)), 0), "romImage.header");
});

Deno.test("rom images: a chain without a last image ends at the source's end", () => {
  const { bytes, layout } = forgeVbios();
  const nbsi = layout.images[4];
  const pcir = pcirOf(bytes, nbsi.offset);
  bytes[pcir + 0x14] = 0x01;
  bytes[pcir + 0x15] = 0;
  throwsFormat(() => walkRomImages(bufferSource(bytes), 0), "pcir.lastImage", nbsi.offset);
});

Deno.test("rom images: a looping chain stops after MAX_ROM_IMAGES images", () => {
  const { bytes, layout } = forgeVbios();
  const efi = bytes.slice(layout.images[1].offset, layout.images[1].offset + 0x400);
  const many = new Uint8Array(0x400 * (MAX_ROM_IMAGES + 8));
  for (let i = 0; i < MAX_ROM_IMAGES + 8; i++) many.set(efi, i * 0x400);
  throwsFormat(
    () => walkRomImages(bufferSource(many), 0),
    "pcir.lastImage",
    MAX_ROM_IMAGES * 0x400,
  );
});

Deno.test("rom images: every error is a FirmwareFormatError, never a RangeError", () => {
  const { bytes } = forgeVbios();
  for (let at = 0; at < 0x100; at++) {
    const copy = bytes.slice();
    copy[at] ^= 0xff;
    try {
      walkRomImages(bufferSource(copy), 0);
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `flip at 0x${at.toString(16)}: ${e}`);
    }
  }
});

realVbiosTest("rom images: the real TU102 chain is PC-AT, EFI, two FWSEC, NBSI", (bytes) => {
  const src = countingSource(bufferSource(bytes, "TU102.rom"));
  const images = walkRomImages(src, 0x28600);
  assert.deepEqual(
    images.map((i) => [i.offset, i.kind, i.size, i.last]),
    [
      [0x28600, "pc-at", 0xec00, false],
      [0x37200, "efi", 0x11600, false],
      [0x48800, "fwsec", 0xc000, false],
      [0x54800, "fwsec", 0x22600, false],
      [0x76e00, "nbsi", 0x1c00, true],
    ],
  );
  assert.deepEqual(images.map((i) => i.romSignature), [0xaa55, 0xaa55, 0x4e56, 0x4e56, 0x4e56]);
  assert.deepEqual(images.map((i) => i.pciDataStructPtr), [0x170, 0x1c, 0xf0, 0x20, 0x20]);
  assert.deepEqual(images.map((i) => i.pcir.deviceId), [0x1e04, 0x1e04, 0x1e00, 0x1e00, 0]);
  assert.deepEqual(images.map((i) => i.npde?.nvPciDataExtRev ?? null), [
    0x101,
    0x100,
    0x101,
    0x101,
    null,
  ]);
  assert.equal(images[1].pcir.lastImage, 0x80, "EFI PCIR says last; its NPDE overrides");
  assert.equal(src.bytesRead, 5 * 62);
  // The second copy of the flash holds the same chain 0x79000 further on.
  const copy = walkRomImages(bufferSource(bytes), 0xa1600);
  assert.deepEqual(
    copy.map((i) => [i.offset - 0x79000, i.kind, i.size]),
    images.map((i) => [i.offset, i.kind, i.size]),
  );
});
