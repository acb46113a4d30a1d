import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import {
  findTlvBlock,
  parseTlv,
  TLV_MAGIC,
  tlvBytes,
  tlvSignature,
  tlvString,
  tlvU32,
} from "../firmware/tlv.ts";
import { forgeBooterTlv, forgeFmcTlv, forgeGspTlv, forgeTlv } from "../firmware/forge/tlv.ts";
import { patternBytes } from "../firmware/forge/_writer.ts";
import { assertFormatError } from "./_assert.ts";

const u32le = (bytes: Uint8Array, at: number) =>
  new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);

Deno.test("forgeTlv lays blocks out as {tag, u32 length, value padded to 4}", () => {
  const bytes = forgeTlv([["VERS", "1.2"], ["BLOB", new Uint8Array([1, 2, 3, 4, 5])], [
    "SIZE",
    0x12345678,
  ]]);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "NVFWVERS");
  assert.equal(u32le(bytes, 8), 3);
  assert.equal(new TextDecoder().decode(bytes.subarray(12, 15)), "1.2");
  assert.equal(bytes[15], 0); // padding
  assert.equal(new TextDecoder().decode(bytes.subarray(16, 20)), "BLOB");
  assert.equal(u32le(bytes, 20), 5);
  assert.deepEqual([...bytes.subarray(24, 32)], [1, 2, 3, 4, 5, 0, 0, 0]);
  assert.equal(u32le(bytes, 40), 0x12345678);
  assert.equal(bytes.length, 44);
});

Deno.test("parseTlv: blocks, offsets and getters", () => {
  const tlv = parseTlv(
    forgeTlv([["VERS", "570.144"], ["BLOB", new Uint8Array([9, 8, 7, 6, 5])], ["UCID", 3]]),
    "x.tlv",
  );
  assert.equal(tlv.file, "x.tlv");
  assert.deepEqual(tlv.blocks.map((b) => [b.tag, b.offset, b.value.length]), [
    ["VERS", 4, 7],
    ["BLOB", 20, 5],
    ["UCID", 36, 4],
  ]);
  assert.equal(tlvString(tlv, "VERS"), "570.144");
  assert.deepEqual([...tlvBytes(tlv, "BLOB")], [9, 8, 7, 6, 5]);
  assert.equal(tlvU32(tlv, "UCID"), 3);
  assert.equal(findTlvBlock(tlv, "NSIG"), undefined);
});

Deno.test("a forged gsp.tlv has VERS, SIZE, FILE and the chip's SIGN", () => {
  const signature = patternBytes(4096, 5);
  const tlv = parseTlv(forgeGspTlv({ imageSize: 63541248, signature }), "gsp.tlv");
  assert.equal(tlvString(tlv, "VERS"), "570.144");
  assert.equal(tlvU32(tlv, "SIZE"), 63541248);
  assert.equal(tlvString(tlv, "FILE"), "gsp.bin");
  assert.deepEqual(tlvBytes(tlv, "SIGN"), signature);
});

Deno.test("a forged booter_load.tlv has every tag BooterFirmware reads and two signatures", () => {
  const tlv = parseTlv(forgeBooterTlv(), "booter_load.tlv");
  const tags = ["DAOF", "DASZ", "CDOF", "CDSZ", "PLOC", "FUSE", "ENID", "UCID", "A0CO", "A0CS"];
  const values = tags.map((t) => tlvU32(tlv, t));
  assert.deepEqual(values, [0xb00, 0x500, 0, 0x100, 0xc40, 1, 1, 3, 0x100, 0xa00]);
  assert.equal(tlvU32(tlv, "NSIG"), 2);
  assert.equal(tlvBytes(tlv, "SIGN").length, 768);
  assert.equal(tlvBytes(tlv, "BLOB").length, 0x1000);
  const [first, last] = [tlvSignature(tlv, 0), tlvSignature(tlv, 1)];
  assert.equal(first.length, 384);
  assert.deepEqual(tlvSignature(tlv), last);
  assert.notDeepEqual(first, last);
  assert.deepEqual(first, tlvBytes(tlv, "SIGN").subarray(0, 384));
});

Deno.test("a forged fmc.tlv has a 48-byte HASH and Blackwell-sized PKEY/SIGN", () => {
  const tlv = parseTlv(forgeFmcTlv({ publicKeySize: 97, signatureSize: 96, imageSize: 100 }));
  assert.equal(tlvBytes(tlv, "HASH").length, 48);
  assert.equal(tlvBytes(tlv, "PKEY").length, 97);
  assert.equal(tlvBytes(tlv, "SIGN").length, 96);
  assert.equal(tlvBytes(tlv, "BLOB").length, 100);
});

Deno.test("duplicate tags: the first one wins", () => {
  const tlv = parseTlv(forgeTlv([["VERS", "a"], ["FUSE", 2], ["VERS", "b"], ["FUSE", 7]]));
  assert.equal(tlv.blocks.length, 4);
  assert.equal(tlvString(tlv, "VERS"), "a");
  assert.equal(tlvU32(tlv, "FUSE"), 2);
});

Deno.test("errors: magic, header, length and trailing bytes", () => {
  assertFormatError(() => parseTlv(new Uint8Array(0)), "tlv.magic", 0);
  assertFormatError(() => parseTlv(new TextEncoder().encode("NVF")), "tlv.magic", 0);
  assertFormatError(() => parseTlv(forgeTlv([["VERS", "1"]], { magic: "NVFX" })), "tlv.magic", 0);
  const good = forgeTlv([["VERS", "1"], ["BLOB", new Uint8Array(6)]]);
  // Every cut inside the stream leaves a partial header or a short value.
  for (let cut = 5; cut < good.length; cut++) {
    if (cut === 16) continue; // the end of the VERS block: a valid one-block file
    assert.throws(() => parseTlv(good.subarray(0, cut)), FirmwareFormatError, `cut ${cut}`);
  }
  const trailing = new Uint8Array(good.length + 4);
  trailing.set(good);
  assertFormatError(() => parseTlv(trailing), "tlv.block[2]", good.length);
  // A length of 0xffffffff neither overflows nor reads past the end.
  const huge = good.slice();
  new DataView(huge.buffer).setUint32(16 + 4, 0xffffffff, true);
  assertFormatError(() => parseTlv(huge), "tlv.block[1](BLOB).length", 20);
  // The stored size counts the padding: length 7 in a 4-byte slot is short.
  const padded = forgeTlv([["VERS", "1234"]]);
  new DataView(padded.buffer).setUint32(8, 5, true);
  assertFormatError(() => parseTlv(padded), "tlv.block[0](VERS).length", 8);
});

Deno.test("errors: non-ASCII tag and missing VERS", () => {
  const bad = forgeTlv([["VERS", "1"], ["BLOB", new Uint8Array(4)]]);
  bad[16] = 0xc2;
  assertFormatError(() => parseTlv(bad), "tlv.block[1].tag", 16);
  const noVers = assertFormatError(() => parseTlv(forgeTlv([["SIZE", 1]]), "a.tlv"), "tlv.VERS");
  assert.equal(noVers.file, "a.tlv");
  assertFormatError(() => parseTlv(new TextEncoder().encode(TLV_MAGIC)), "tlv.VERS");
});

Deno.test("errors from the getters", () => {
  const tlv = parseTlv(
    forgeTlv([
      ["VERS", "1\n"],
      ["EMPT", new Uint8Array(0)],
      ["SHRT", new Uint8Array(3)],
      ["NAME", "gsp\0"],
    ]),
    "g.tlv",
  );
  const missing = assertFormatError(() => tlvBytes(tlv, "BLOB"), "tlv.BLOB", 4);
  assert.match(missing.reason, /VERS, EMPT, SHRT, NAME/);
  assert.equal(missing.file, "g.tlv");
  assertFormatError(() => tlvBytes(tlv, "EMPT"), "tlv.EMPT");
  assertFormatError(() => tlvU32(tlv, "SHRT"), "tlv.SHRT");
  assert.equal(tlvU32(tlv, "NAME"), 0x00707367); // any 4 bytes are a u32
  assertFormatError(() => tlvString(tlv, "VERS"), "tlv.VERS", 4 + 8 + 1);
  assertFormatError(() => tlvString(tlv, "NAME"), "tlv.NAME");
  assert.equal(tlvString(tlv, "EMPT"), "");
});

Deno.test("tlvString decodes long values", () => {
  const text = "a".repeat(300000);
  assert.equal(tlvString(parseTlv(forgeTlv([["VERS", "1"], ["NOTE", text]])), "NOTE"), text);
});

Deno.test("tlvSignature: NSIG and SIGN rules", () => {
  const sig = (nsig: number | Uint8Array, sign?: Uint8Array) =>
    parseTlv(forgeTlv([["VERS", "1"], ["NSIG", nsig], ...(sign ? [["SIGN", sign] as const] : [])]));
  const three = sig(3, new Uint8Array([1, 1, 2, 2, 3, 3]));
  assert.deepEqual([...tlvSignature(three, 1)], [2, 2]);
  assert.deepEqual([...tlvSignature(three)], [3, 3]);
  assertFormatError(() => tlvSignature(three, 3), "tlv.SIGN");
  assertFormatError(() => tlvSignature(three, -1), "tlv.SIGN");
  assertFormatError(() => tlvSignature(three, 0.5), "tlv.SIGN");
  assertFormatError(() => tlvSignature(sig(0, new Uint8Array(4))), "tlv.NSIG");
  assertFormatError(() => tlvSignature(sig(4, new Uint8Array(6))), "tlv.SIGN");
  assertFormatError(() => tlvSignature(sig(1)), "tlv.SIGN");
  assertFormatError(() => tlvSignature(sig(1, new Uint8Array(0))), "tlv.SIGN");
  assertFormatError(() => tlvSignature(sig(new Uint8Array(2), new Uint8Array(4))), "tlv.NSIG");
  assertFormatError(
    () => tlvSignature(parseTlv(forgeTlv([["VERS", "1"], ["SIGN", new Uint8Array(4)]]))),
    "tlv.NSIG",
  );
});

Deno.test("4000 random mutations of a booter TLV give a result or a FirmwareFormatError", () => {
  const sample = forgeBooterTlv({ signatureSize: 16 });
  const rand = patternBytes(4000 * 3, 31);
  for (let i = 0; i < 4000; i++) {
    const bytes = sample.slice();
    // Headers live in the first bytes and around the tags; hit them often.
    const where = (rand[i * 3] << 8 | rand[i * 3 + 1]) % (i % 2 ? 256 : bytes.length);
    bytes[where] = rand[i * 3 + 2];
    try {
      const tlv = parseTlv(bytes);
      tlvString(tlv, "VERS");
      tlvSignature(tlv);
      tlvU32(tlv, "PLOC");
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `mutation at ${where}: ${e}`);
    }
  }
});
