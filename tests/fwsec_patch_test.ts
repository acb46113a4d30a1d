import assert from "node:assert/strict";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { extractFwsec, type FwsecFirmware } from "../firmware/fwsec/extract.ts";
import {
  FWSEC_COMMAND,
  fwsecCommandBytes,
  patchFwsecFrts,
  patchFwsecSb,
} from "../firmware/fwsec/patch.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat } from "./_assert.ts";

function u32s(bytes: Uint8Array, at: number, count: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => view.getUint32(at + 4 * i, true));
}

/** Offsets where two equally long arrays differ. */
function changedOffsets(a: Uint8Array, b: Uint8Array): number[] {
  assert.equal(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

const REGION = { frtsOffset: 0x2ff00000, frtsSize: 0x100000 };

Deno.test("patch: command bytes", () => {
  const frts = fwsecCommandBytes(FWSEC_COMMAND.frts, REGION);
  assert.equal(frts.length, 44);
  // ReadVbios {ver 1, hdr 24, addr u64 0, size 0, flags 2}, FrtsRegion {1, 20, addr>>12, size>>12, 2}.
  assert.deepEqual(u32s(frts, 0, 11), [1, 24, 0, 0, 0, 2, 1, 20, 0x2ff00, 0x100, 2]);
  const sb = fwsecCommandBytes(FWSEC_COMMAND.sb);
  assert.deepEqual(u32s(sb, 0, 6), [1, 24, 0, 0, 0, 2]);
  // An FRTS region above 4 GiB still fits in 4 KiB pages.
  const high = fwsecCommandBytes(FWSEC_COMMAND.frts, {
    frtsOffset: 0x5ff00000 * 4,
    frtsSize: 0x100000,
  });
  assert.equal(u32s(high, 32, 1)[0], 0x17fc00);
});

Deno.test("patch: bad commands and regions are RangeErrors", () => {
  assert.throws(() => fwsecCommandBytes(0x16), RangeError);
  assert.throws(() => fwsecCommandBytes(FWSEC_COMMAND.frts), RangeError);
  for (
    const region of [
      { frtsOffset: 0x1001, frtsSize: 0x100000 },
      { frtsOffset: 0x1000, frtsSize: 0 },
      { frtsOffset: -0x1000, frtsSize: 0x1000 },
      { frtsOffset: 0x1000, frtsSize: 0x800 },
      { frtsOffset: 2 ** 45, frtsSize: 0x1000 },
    ]
  ) {
    assert.throws(() => fwsecCommandBytes(FWSEC_COMMAND.frts, region), RangeError);
  }
});

Deno.test("patch: FRTS on a forged v2 FWSEC changes only initCmd and the command buffer", () => {
  const { bytes, layout } = forgeVbios({ imemVirtBase: 0x400 });
  const fwsec = extractFwsec(bufferSource(bytes));
  const before = fwsec.ucode.slice();
  const patched = patchFwsecFrts(fwsec, REGION, 5);
  assert.equal(patched.command, 0x15);
  assert.equal(patched.bootAddress, 0x400);
  assert.deepEqual(patched.brom, { pkcDataOffset: 0, engineIdMask: 0, ucodeId: 0 });
  assert.equal(patched.signatureIndex, undefined);
  assert.ok(!("signatureIndex" in patched));
  assert.deepEqual(fwsec.ucode, before, "the extracted ucode is left untouched");
  const initCmd = layout.mapperUcodeOffset + 0x2c;
  const cmdIn = layout.descriptor.imemLoadSize + layout.cmdInBufferOffset;
  assert.deepEqual(u32s(patched.image, initCmd, 1), [0x15]);
  assert.deepEqual(u32s(patched.image, cmdIn, 11), [1, 24, 0, 0, 0, 2, 1, 20, 0x2ff00, 0x100, 2]);
  for (const at of changedOffsets(before, patched.image)) {
    assert.ok(
      (at >= initCmd && at < initCmd + 4) || (at >= cmdIn && at < cmdIn + 44),
      `byte 0x${at.toString(16)} changed`,
    );
  }
});

Deno.test("patch: SB writes 0x19 and only the ReadVbios command", () => {
  const { bytes, layout } = forgeVbios();
  const fwsec = extractFwsec(bufferSource(bytes));
  const patched = patchFwsecSb(fwsec, 0);
  const cmdIn = layout.descriptor.imemLoadSize + layout.cmdInBufferOffset;
  assert.equal(patched.command, 0x19);
  assert.deepEqual(u32s(patched.image, layout.mapperUcodeOffset + 0x2c, 1), [0x19]);
  assert.deepEqual(u32s(patched.image, cmdIn, 6), [1, 24, 0, 0, 0, 2]);
  assert.deepEqual(patched.image.subarray(cmdIn + 24), fwsec.ucode.subarray(cmdIn + 24));
});

Deno.test("patch: v3 FRTS writes the selected signature at imemLoadSize + pkcDataOffset", () => {
  const { bytes, layout } = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b110 });
  const fwsec = extractFwsec(bufferSource(bytes));
  const d = fwsec.descriptor;
  assert.equal(d.descriptorVersion, 3);
  if (d.descriptorVersion !== 3) return;
  const patched = patchFwsecFrts(fwsec, REGION, 2);
  assert.equal(patched.signatureIndex, 1);
  assert.deepEqual(patched.brom, { pkcDataOffset: 0x400, engineIdMask: 0x400, ucodeId: 9 });
  assert.equal(patched.bootAddress, 0);
  const sigAt = d.imemLoadSize + d.pkcDataOffset;
  assert.deepEqual(patched.image.subarray(sigAt, sigAt + 384), layout.signatures[1]);
  const initCmd = layout.mapperUcodeOffset + 0x2c;
  const cmdIn = d.imemLoadSize + layout.cmdInBufferOffset;
  for (const at of changedOffsets(fwsec.ucode, patched.image)) {
    assert.ok(
      (at >= initCmd && at < initCmd + 4) || (at >= cmdIn && at < cmdIn + 44) ||
        (at >= sigAt && at < sigAt + 384),
      `byte 0x${at.toString(16)} changed`,
    );
  }
  throwsFormat(() => patchFwsecFrts(fwsec, REGION, 0), "descriptor.signatureVersions");
});

Deno.test("patch: an all-zero v3 signature is refused", () => {
  const fwsec = extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 3 }).bytes));
  const zeroed: FwsecFirmware = {
    ...fwsec,
    signatures: fwsec.signatures.map((s, i) => (i === 1 ? new Uint8Array(384) : s)),
  };
  throwsFormat(() => patchFwsecSb(zeroed, 1), "signatures[1]");
  assert.equal(patchFwsecSb(zeroed, 2).signatureIndex, 2);
});

Deno.test("patch: no DMEM mapper is an error", () => {
  const fwsec = extractFwsec(bufferSource(forgeVbios({ dmemMapper: false }).bytes));
  throwsFormat(() => patchFwsecFrts(fwsec, REGION, 0), "appInterface.entries");
  throwsFormat(() => patchFwsecSb(fwsec, 0), "appInterface.entries");
});

Deno.test("patch: the command must fit the command-in buffer and DMEM", () => {
  const fwsec = extractFwsec(bufferSource(forgeVbios({ cmdInBufferSize: 0x20 }).bytes));
  throwsFormat(() => patchFwsecFrts(fwsec, REGION, 0), "dmemMapper.cmdInBufferSize");
  assert.equal(patchFwsecSb(fwsec, 0).command, 0x19, "24 bytes fit 32");
  const outside: FwsecFirmware = {
    ...fwsec,
    dmemMapper: { ...fwsec.dmemMapper!, cmdInBufferOffset: 0x3f0, cmdInBufferSize: 0x40 },
  };
  throwsFormat(() => patchFwsecSb(outside, 0), "dmemMapper.cmdInBufferOffset");
});

realVbiosTest("patch: FRTS on the real TU102 FWSEC changes exactly the expected bytes", (bytes) => {
  const fwsec = extractFwsec(bufferSource(bytes, "TU102.rom"));
  const original = fwsec.ucode.slice();
  const patched = patchFwsecFrts(fwsec, REGION, 0);
  assert.deepEqual(fwsec.ucode, original);
  assert.equal(patched.image.length, 0x9a10);
  assert.equal(patched.bootAddress, 0);
  assert.deepEqual(patched.brom, { pkcDataOffset: 0, engineIdMask: 0, ucodeId: 0 });
  assert.equal(patched.signatureIndex, undefined);
  // Mapper at DMEM 0x380, DMEM at ucode 0x9600: initCmd at 0x99ac, command at 0x99d0.
  const initCmd = 0x9600 + 0x380 + 0x2c;
  const cmdIn = 0x9600 + 0x3d0;
  assert.deepEqual(u32s(patched.image, initCmd, 1), [0x15]);
  assert.deepEqual(u32s(patched.image, cmdIn, 11), [1, 24, 0, 0, 0, 2, 1, 20, 0x2ff00, 0x100, 2]);
  const changed = changedOffsets(original, patched.image);
  for (const at of changed) {
    assert.ok(
      (at >= initCmd && at < initCmd + 4) || (at >= cmdIn && at < cmdIn + 44),
      `byte 0x${at.toString(16)} changed`,
    );
  }
  // initCmd was 0 and the buffer zeros: exactly the non-zero bytes of the command changed.
  assert.deepEqual(
    changed.map((at) => at.toString(16)),
    ["99ac", "99d0", "99d4", "99e4", "99e8", "99ec", "99f1", "99f2", "99f5", "99f8"],
  );
});

realVbiosTest("patch: SB on the real TU102 FWSEC", (bytes) => {
  const fwsec = extractFwsec(bufferSource(bytes, "TU102.rom"));
  const patched = patchFwsecSb(fwsec, 0);
  assert.deepEqual(u32s(patched.image, 0x99ac, 1), [0x19]);
  assert.deepEqual(u32s(patched.image, 0x99d0, 6), [1, 24, 0, 0, 0, 2]);
  assert.deepEqual(
    changedOffsets(fwsec.ucode, patched.image).map((at) => at.toString(16)),
    ["99ac", "99d0", "99d4", "99e4"],
  );
});
