import assert from "node:assert/strict";
import { computeFbLayout } from "../sim/acceptance/fb_layout.ts";
import { decodeWprMeta, validateWprMeta, WPR_META_U64_FIELDS } from "../sim/acceptance/wpr_meta.ts";
import { driverLayout, driverWprMeta } from "./_sim_driver.ts";
import { parseRiscvBootloader } from "../firmware/mod.ts";
import { forgeRiscvBootloader } from "../firmware/forge/mod.ts";

const GiB = 2 ** 30;
const bootloader = parseRiscvBootloader(forgeRiscvBootloader({ version: 5 }));
const chip = { chipset: 0x172, fbSize: 24 * GiB };
const imageSize = 63_000_000;
const simLayout = computeFbLayout({
  ...chip,
  displayFuse: 1,
  vgaWorkspaceRegister: 0,
  bootloaderSize: bootloader.ucode.length,
  gspImageSize: imageSize,
});
const firmware = {
  gspImageSize: imageSize,
  bootloaderSize: bootloader.ucode.length,
  bootloaderCodeOffset: bootloader.descriptor.monitorCodeOffset,
  bootloaderDataOffset: bootloader.descriptor.monitorDataOffset,
  bootloaderManifestOffset: bootloader.descriptor.manifestOffset,
  signatureSize: 4096,
};
const meta = (flags = 1) =>
  driverWprMeta({
    layout: driverLayout({ ...chip, bootloaderSize: bootloader.ucode.length, imageSize }),
    fbSize: chip.fbSize,
    imageSize,
    bootloader,
    signatureSize: 4096,
    level0: 0x1000n,
    flags,
  });

Deno.test("decode: u64 fields at 8 × index up to bootCount at 0xc8, then the tail", () => {
  assert.equal(WPR_META_U64_FIELDS.indexOf("bootCount") * 8, 0xc8);
  assert.equal(WPR_META_U64_FIELDS.indexOf("frtsOffset") * 8, 0x98);
  const bytes = meta();
  const view = new DataView(bytes.buffer);
  view.setUint32(0xf4, 7, true);
  view.setBigUint64(0xf8, 9n, true);
  bytes[0xd5] = 1;
  const decoded = decodeWprMeta(bytes);
  assert.equal(decoded.pmuReservedSize, 7);
  assert.equal(decoded.verified, 9n);
  assert.equal(decoded.partitionUnionZero, false);
  assert.equal(decoded.sizeOfRadix3Elf, BigInt(imageSize));
});

Deno.test("a hand-built meta matches the simulator's own layout", () => {
  const v = validateWprMeta(meta(), simLayout, firmware);
  assert(v.ok && v.notes.length === 0, v.ok ? "" : v.reason);
});

Deno.test("each wrong layout field is named, with expected and found values", () => {
  const bytes = meta();
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0x98, view.getBigUint64(0x98, true) - 0x1000n, true); // frtsOffset
  view.setBigUint64(0xb0, 0n, true); // fbSize
  bytes[0xe0] = 1; // the union
  bytes[0xf0] = 2; // vf partitions
  const v = validateWprMeta(bytes, simLayout, firmware);
  assert(!v.ok && "wrongFields" in v);
  assert.deepEqual(v.wrongFields.map((f) => f.field), [
    "frtsOffset",
    "fbSize",
    "partitionUnion",
    "gspFwHeapVfPartitionCount",
  ]);
  assert.equal(v.wrongFields[1].expected, `0x${(24 * GiB).toString(16)}`);
});

Deno.test("pointers must be set and page aligned", () => {
  const bytes = meta();
  new DataView(bytes.buffer).setBigUint64(0x10, 0x1001n, true);
  new DataView(bytes.buffer).setBigUint64(0x20, 0n, true);
  const v = validateWprMeta(bytes, simLayout, firmware);
  assert(!v.ok && "wrongFields" in v);
  assert.deepEqual(v.wrongFields.map((f) => f.field), [
    "sysmemAddrOfRadix3Elf",
    "sysmemAddrOfBootloader",
  ]);
});
