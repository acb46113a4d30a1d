import assert from "node:assert/strict";
import { forgeFalconUcodeDesc } from "../firmware/forge/vbios.ts";
import {
  BCRT30_RSA3K_SIG_SIZE,
  FALCON_UCODE_DESC_V2_SIZE,
  FALCON_UCODE_DESC_V3_SIZE,
  fwsecLoadMap,
  fwsecUcodeLength,
  parseFalconUcodeDesc,
  parseFalconUcodeDescHeader,
} from "../firmware/fwsec/descriptor.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat, view } from "./_assert.ts";

Deno.test("descriptor: sizes", () => {
  assert.equal(FALCON_UCODE_DESC_V2_SIZE, 60);
  assert.equal(FALCON_UCODE_DESC_V3_SIZE, 44);
  assert.equal(BCRT30_RSA3K_SIG_SIZE, 384);
});

Deno.test("descriptor: the hdr word splits into flags, version and header size", () => {
  assert.deepEqual(parseFalconUcodeDescHeader(0x003c0201), {
    hdr: 0x003c0201,
    flags: 1,
    descriptorVersion: 2,
    headerSize: 60,
  });
  assert.deepEqual(parseFalconUcodeDescHeader(0x04ac0301), {
    hdr: 0x04ac0301,
    flags: 1,
    descriptorVersion: 3,
    headerSize: 0x4ac,
  });
});

Deno.test("descriptor: version 2 fields and load map", () => {
  const bytes = forgeFalconUcodeDesc({ descriptorVersion: 2, imemVirtBase: 0x200 });
  const { descriptor, signatures } = parseFalconUcodeDesc(bytes, { base: 0x1000 });
  assert.deepEqual(descriptor, {
    hdr: 0x003c0201,
    flags: 1,
    descriptorVersion: 2,
    headerSize: 60,
    storedSize: 0x1400,
    uncompressedSize: 0x1400,
    virtualEntry: 0,
    interfaceOffset: 0x40,
    imemPhysBase: 0,
    imemLoadSize: 0x1000,
    imemVirtBase: 0x200,
    imemSecBase: 0x300,
    imemSecSize: 0xf00,
    dmemOffset: 0x1000,
    dmemPhysBase: 0,
    dmemLoadSize: 0x400,
    altImemLoadSize: 0x1000,
    altDmemLoadSize: 0x800,
  });
  assert.deepEqual(signatures, []);
  assert.deepEqual(fwsecLoadMap(descriptor), {
    imemNonSecure: { srcStart: 0, dstStart: 0, length: 0x100 },
    imemSecure: { srcStart: 0x100, dstStart: 0x100, length: 0xf00 },
    dmem: { srcStart: 0x1000, dstStart: 0, length: 0x400 },
    bootAddress: 0x200,
  });
  assert.equal(fwsecUcodeLength(descriptor), 0x1400);
});

Deno.test("descriptor: version 3 fields, signatures and load map", () => {
  const bytes = forgeFalconUcodeDesc({ descriptorVersion: 3, signatureVersions: 0b1011 });
  const { descriptor, signatures } = parseFalconUcodeDesc(bytes);
  assert.equal(descriptor.descriptorVersion, 3);
  if (descriptor.descriptorVersion !== 3) return;
  assert.equal(descriptor.headerSize, 44 + 3 * 384);
  assert.equal(descriptor.signatureCount, 3);
  assert.equal(descriptor.signatureVersions, 0b1011);
  assert.equal(descriptor.pkcDataOffset, 0x400);
  assert.equal(descriptor.engineIdMask, 0x400);
  assert.equal(descriptor.ucodeId, 9);
  assert.equal(signatures.length, 3);
  signatures.forEach((s, i) => {
    assert.equal(s.length, 384);
    assert.deepEqual(s, bytes.subarray(44 + i * 384, 44 + (i + 1) * 384));
  });
  assert.deepEqual(fwsecLoadMap(descriptor), {
    imemSecure: { srcStart: 0, dstStart: 0, length: 0x1000 },
    dmem: { srcStart: 0x1000, dstStart: 0, length: 0x800 },
    bootAddress: 0,
  });
  assert.equal(fwsecUcodeLength(descriptor), 0x1800);
});

Deno.test("descriptor: version 2 DMEM may sit elsewhere than after the code", () => {
  const bytes = forgeFalconUcodeDesc({ descriptorVersion: 2 });
  view(bytes).setUint32(0x28, 0x1100, true);
  const { descriptor } = parseFalconUcodeDesc(bytes);
  assert.equal(fwsecLoadMap(descriptor).dmem.srcStart, 0x1100);
  assert.equal(fwsecUcodeLength(descriptor), 0x1500);
});

Deno.test("descriptor: unknown version, clear flag, short header are errors", () => {
  const v4 = forgeFalconUcodeDesc();
  v4[1] = 4;
  throwsFormat(() => parseFalconUcodeDesc(v4, { base: 0x100 }), "descriptor.version", 0x101);
  const v1 = forgeFalconUcodeDesc();
  v1[1] = 1;
  throwsFormat(() => parseFalconUcodeDesc(v1), "descriptor.version");
  const noFlag = forgeFalconUcodeDesc();
  noFlag[0] = 0;
  throwsFormat(() => parseFalconUcodeDesc(noFlag), "descriptor.hdr", 0);
  const short = forgeFalconUcodeDesc();
  view(short).setUint16(2, 56, true);
  throwsFormat(() => parseFalconUcodeDesc(short), "descriptor.headerSize", 2);
  throwsFormat(() => parseFalconUcodeDesc(forgeFalconUcodeDesc().subarray(0, 40)), "descriptor");
  throwsFormat(() => parseFalconUcodeDesc(new Uint8Array(2)), "descriptor.hdr");
});

Deno.test("descriptor: version 3 signatures must fit the header", () => {
  const bytes = forgeFalconUcodeDesc({ descriptorVersion: 3 });
  bytes[0x27] = 4;
  throwsFormat(() => parseFalconUcodeDesc(bytes), "descriptor.signatureCount", 0x27);
});

Deno.test("descriptor: version 2 secure code must lie inside the code", () => {
  const big = parseFalconUcodeDesc(forgeFalconUcodeDesc()).descriptor;
  assert.equal(big.descriptorVersion, 2);
  if (big.descriptorVersion !== 2) return;
  throwsFormat(
    () => fwsecLoadMap({ ...big, imemSecSize: 0x1001 }, { base: 0x40 }),
    "descriptor.imemSecSize",
    0x64,
  );
  throwsFormat(() => fwsecLoadMap({ ...big, imemSecBase: 0x200 }), "descriptor.imemSecBase");
  throwsFormat(
    () => fwsecLoadMap({ ...big, imemVirtBase: 0x400, imemSecBase: 0x300 }),
    "descriptor.imemSecBase",
  );
});

realVbiosTest("descriptor: the real TU102 production descriptor is version 2", (bytes) => {
  const { descriptor, signatures } = parseFalconUcodeDesc(bytes.subarray(0x67624, 0x67660), {
    base: 0x67624,
  });
  // Values read from the file by an independent Python reader (struct '<15I' at 0x67624).
  assert.deepEqual(descriptor, {
    hdr: 0x003c0201,
    flags: 1,
    descriptorVersion: 2,
    headerSize: 60,
    storedSize: 0x9a10,
    uncompressedSize: 0x9a10,
    virtualEntry: 0,
    interfaceOffset: 0xdc,
    imemPhysBase: 0,
    imemLoadSize: 0x9600,
    imemVirtBase: 0,
    imemSecBase: 0x300,
    imemSecSize: 0x9300,
    dmemOffset: 0x9600,
    dmemPhysBase: 0,
    dmemLoadSize: 0x410,
    altImemLoadSize: 0x9600,
    altDmemLoadSize: 0x6618,
  });
  assert.deepEqual(signatures, []);
  assert.deepEqual(fwsecLoadMap(descriptor), {
    imemNonSecure: { srcStart: 0, dstStart: 0, length: 0x300 },
    imemSecure: { srcStart: 0x300, dstStart: 0x300, length: 0x9300 },
    dmem: { srcStart: 0x9600, dstStart: 0, length: 0x410 },
    bootAddress: 0,
  });
  assert.equal(fwsecUcodeLength(descriptor), 0x9a10);
});
