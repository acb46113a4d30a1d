import assert from "node:assert/strict";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import {
  BIT_MAX_CANDIDATES,
  BIT_TOKEN,
  bitToken,
  findBitTable,
  formatVbiosVersion,
  readFalconDataPointer,
  readVbiosVersion,
} from "../firmware/vbios/bit.ts";
import { walkRomImages } from "../firmware/vbios/rom_images.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat } from "./_assert.ts";

/** Make a BIT header's 12 bytes sum to 0 again after an edit. */
function fixChecksum(bytes: Uint8Array, bit: number): void {
  bytes[bit + 11] = 0;
  const sum = bytes.subarray(bit, bit + 12).reduce((s, b) => s + b, 0);
  bytes[bit + 11] = (0x100 - (sum & 0xff)) & 0xff;
}

const PC_AT = { offset: 0, size: 0x800 };

Deno.test("bit: version formatting follows NVIDIA's byte order", () => {
  assert.equal(formatVbiosVersion(0x90021700, 0x7b), "90.02.17.00.7B");
  assert.equal(formatVbiosVersion(0x94020300, 0x01), "94.02.03.00.01");
  assert.equal(formatVbiosVersion(0, 0), "00.00.00.00.00");
});

Deno.test("bit: the forged table, version and falcon-data pointer", () => {
  const version = { biosVersion: 0x86041c00, biosOemVersion: 0x2a };
  const { bytes, layout } = forgeVbios({ version });
  const src = countingSource(bufferSource(bytes));
  const bit = findBitTable(src, PC_AT);
  assert.equal(bit.offset, layout.bitOffset);
  assert.equal(bit.bcdVersion, 0x100);
  assert.equal(bit.headerSize, 12);
  assert.equal(bit.tokenSize, 6);
  assert.equal(bit.tokenEntries, 3);
  assert.deepEqual(bit.tokens, [
    { id: 0x4e, dataVersion: 0, dataSize: 0, dataOffset: 0 },
    { id: 0x42, dataVersion: 2, dataSize: 8, dataOffset: 0xc0 },
    { id: 0x70, dataVersion: 2, dataSize: 4, dataOffset: 0xd0 },
  ]);
  assert.deepEqual(readVbiosVersion(src, PC_AT, bit), {
    ...version,
    text: "86.04.1C.00.2A",
  });
  assert.equal(readFalconDataPointer(src, PC_AT, bit), layout.falconUcodeTablePtr);
  assert.equal(bitToken(bit, BIT_TOKEN.falconData)?.dataOffset, 0xd0);
  assert.equal(bitToken(bit, 0x99), undefined);
  assert.ok(src.bytesRead < 512, `read ${src.bytesRead} bytes`);
});

Deno.test("bit: the search skips a candidate whose checksum fails", () => {
  const { bytes, layout } = forgeVbios();
  bytes.set([0xff, 0xb8, 0x42, 0x49, 0x54, 0x00, 0, 1, 12, 6, 1, 0x33], 0x1a);
  assert.equal(findBitTable(bufferSource(bytes), PC_AT).offset, layout.bitOffset);
});

Deno.test("bit: a search across a chunk boundary still finds the table", () => {
  const { bytes, layout } = forgeVbios();
  // Move the BIT so that its signature straddles the end of the first 256-byte chunk.
  const at = 0xfc;
  bytes.copyWithin(at, layout.bitOffset, layout.bitOffset + 12 + 18);
  bytes.fill(0, layout.bitOffset, layout.bitOffset + 6);
  const bit = findBitTable(bufferSource(bytes), PC_AT);
  assert.equal(bit.offset, at);
  assert.equal(bit.tokens.length, 3);
});

Deno.test("bit: missing table", () => {
  const { bytes, layout } = forgeVbios();
  bytes[layout.bitOffset + 4] = 0x58;
  throwsFormat(() => findBitTable(bufferSource(bytes), PC_AT), "bit", 0);
});

Deno.test("bit: bad checksum", () => {
  const { bytes, layout } = forgeVbios();
  bytes[layout.bitOffset + 11] ^= 1;
  throwsFormat(() => findBitTable(bufferSource(bytes), PC_AT), "bit.checksum", layout.bitOffset);
});

Deno.test("bit: token sizes and counts come from the header and are checked", () => {
  const small = forgeVbios();
  small.bytes[small.layout.bitOffset + 9] = 5;
  fixChecksum(small.bytes, small.layout.bitOffset);
  throwsFormat(() => findBitTable(bufferSource(small.bytes), PC_AT), "bit.tokenSize");

  const huge = forgeVbios();
  huge.bytes[huge.layout.bitOffset + 9] = 255;
  huge.bytes[huge.layout.bitOffset + 10] = 255;
  fixChecksum(huge.bytes, huge.layout.bitOffset);
  throwsFormat(() => findBitTable(bufferSource(huge.bytes), PC_AT), "bit.tokens");

  // A larger header and token size move the tokens.
  const wide = forgeVbios();
  const b = wide.layout.bitOffset;
  const tokens = wide.bytes.slice(b + 12, b + 12 + 18);
  wide.bytes[b + 8] = 16;
  wide.bytes[b + 9] = 8;
  wide.bytes.fill(0, b + 12, b + 16 + 24);
  for (let i = 0; i < 3; i++) wide.bytes.set(tokens.subarray(i * 6, i * 6 + 6), b + 16 + i * 8);
  const sum = wide.bytes.subarray(b, b + 16).reduce((s, x) => s + x, 0) - wide.bytes[b + 11];
  wide.bytes[b + 11] = (0x100 - (sum & 0xff)) & 0xff;
  const bit = findBitTable(bufferSource(wide.bytes), PC_AT);
  assert.deepEqual(bit.tokens.map((t) => t.id), [0x4e, 0x42, 0x70]);
  assert.equal(bit.tokens[2].dataOffset, 0xd0);
});

Deno.test("bit: falcon-data token must be version 2 with 4 bytes; data inside the image", () => {
  const { bytes, layout } = forgeVbios();
  const falconToken = layout.bitOffset + 12 + 2 * 6;
  bytes[falconToken + 1] = 1;
  const src = bufferSource(bytes);
  throwsFormat(
    () => readFalconDataPointer(src, PC_AT, findBitTable(src, PC_AT)),
    "bit.falconData",
    layout.bitOffset,
  );
  bytes[falconToken + 1] = 2;
  new DataView(bytes.buffer).setUint16(falconToken + 4, 0x7fe, true);
  throwsFormat(
    () => readFalconDataPointer(src, PC_AT, findBitTable(src, PC_AT)),
    "bit.falconData",
    0x7fe,
  );
  bytes[falconToken] = 0x71;
  assert.equal(readFalconDataPointer(src, PC_AT, findBitTable(src, PC_AT)), undefined);
});

Deno.test("bit: a short or missing BIOS-data token gives no version; data outside is an error", () => {
  const { bytes, layout } = forgeVbios();
  const biosToken = layout.bitOffset + 12 + 6;
  const src = bufferSource(bytes);
  new DataView(bytes.buffer).setUint16(biosToken + 2, 4, true);
  assert.equal(readVbiosVersion(src, PC_AT, findBitTable(src, PC_AT)), undefined);
  new DataView(bytes.buffer).setUint16(biosToken + 2, 8, true);
  new DataView(bytes.buffer).setUint16(biosToken + 4, 0xfffe, true);
  throwsFormat(() => readVbiosVersion(src, PC_AT, findBitTable(src, PC_AT)), "bit.biosData");
  bytes[biosToken] = 0x43;
  assert.equal(readVbiosVersion(src, PC_AT, findBitTable(src, PC_AT)), undefined);
});

realVbiosTest("bit: the real TU102 BIT, version 90.02.17.00.7B and falcon pointer", (bytes) => {
  const src = countingSource(bufferSource(bytes, "TU102.rom"));
  const pcAt = walkRomImages(bufferSource(bytes), 0x28600)[0];
  const bit = findBitTable(src, pcAt);
  assert.equal(bit.offset, 0x287b0);
  assert.equal(bit.bcdVersion, 0x100);
  assert.equal(bit.headerSize, 12);
  assert.equal(bit.tokenSize, 6);
  assert.equal(bit.tokenEntries, 17);
  assert.equal(bit.checksum, 0x46);
  assert.equal(
    String.fromCharCode(...bit.tokens.map((t) => t.id)),
    "2BCDIMNPSTUVxdpui",
  );
  assert.deepEqual(bitToken(bit, BIT_TOKEN.biosData), {
    id: 0x42,
    dataVersion: 2,
    dataSize: 37,
    dataOffset: 0x23e,
  });
  assert.deepEqual(bitToken(bit, BIT_TOKEN.falconData), {
    id: 0x70,
    dataVersion: 2,
    dataSize: 4,
    dataOffset: 0x3b5,
  });
  assert.deepEqual(readVbiosVersion(src, pcAt, bit), {
    biosVersion: 0x90021700,
    biosOemVersion: 0x7b,
    text: "90.02.17.00.7B",
  });
  assert.equal(readFalconDataPointer(src, pcAt, bit), 0xed24);
  // Two 256-byte scan chunks, the header twice, 17 tokens, 5 + 4 data bytes.
  assert.equal(src.bytesRead, 256 + 256 + 1 + 12 + 12 + 102 + 5 + 4);
});

/** An image of `decoys` BIT patterns whose header checksums fail, then a valid BIT. */
function decoyImage(decoys: number): { bytes: Uint8Array; bitAt: number } {
  const bitAt = 16 + decoys * 16;
  const bytes = new Uint8Array(bitAt + 64);
  const pattern = [0xff, 0xb8, 0x42, 0x49, 0x54, 0x00];
  for (let i = 0; i < decoys; i++) {
    const at = 16 + i * 16;
    bytes.set(pattern, at);
    bytes.set([0x00, 0x01, 12, 6, 0, 0x01], at + 6); // header sum is not 0 mod 256
  }
  bytes.set(pattern, bitAt);
  bytes.set([0x00, 0x01, 12, 6, 0], bitAt + 6);
  const sum = bytes.subarray(bitAt, bitAt + 11).reduce((s, b) => (s + b) & 0xff, 0);
  bytes[bitAt + 11] = (0x100 - sum) & 0xff;
  return { bytes, bitAt };
}

Deno.test("bit: decoys before the table are skipped, but only up to BIT_MAX_CANDIDATES", () => {
  const few = decoyImage(BIT_MAX_CANDIDATES - 1);
  const found = findBitTable(bufferSource(few.bytes), { offset: 0, size: few.bytes.length });
  assert.equal(found.offset, few.bitAt);

  // A crafted image packed with decoys costs a bounded number of reads, then fails.
  const many = decoyImage(100_000);
  const source = countingSource(bufferSource(many.bytes));
  throwsFormat(() => findBitTable(source, { offset: 0, size: many.bytes.length }), "bit.checksum");
  assert.ok(
    source.bytesRead < 64 * 1024,
    `read ${source.bytesRead} bytes of ${many.bytes.length}`,
  );
});
