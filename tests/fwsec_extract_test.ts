import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FirmwareFormatError } from "../errors.ts";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { extractFwsec, extractFwsecFromLayout } from "../firmware/fwsec/extract.ts";
import { readVbiosLayout } from "../firmware/vbios/vbios_layout.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat, view } from "./_assert.ts";

for (const descriptorVersion of [2, 3] as const) {
  for (const ifr of ["none", 1, 2, 3] as const) {
    Deno.test(`extract: round trip, descriptor v${descriptorVersion}, IFR ${ifr}`, () => {
      const { bytes, layout } = forgeVbios({ ifr, descriptorVersion });
      const src = countingSource(bufferSource(bytes));
      const fwsec = extractFwsec(src);
      assert.equal(fwsec.vbiosVersion, layout.versionText);
      assert.equal(fwsec.fwsecOffset, layout.fwsecOffset);
      assert.deepEqual(fwsec.pmuEntry, {
        applicationId: 0x85,
        targetId: 7,
        descPtr: layout.descPtr,
      });
      assert.equal(fwsec.descriptorOffset, layout.descriptorOffset);
      assert.deepEqual(fwsec.descriptor, layout.descriptor);
      assert.deepEqual(fwsec.signatures, layout.signatures);
      assert.equal(fwsec.ucodeOffset, layout.ucodeOffset);
      assert.deepEqual(fwsec.ucode, layout.ucode);
      assert.equal(fwsec.interface.dmemOffset, layout.interfaceOffset);
      assert.equal(fwsec.dmemMapper?.dmemOffset, layout.mapperDmemOffset);
      assert.equal(fwsec.dmemMapper?.ucodeOffset, layout.mapperUcodeOffset);
      assert.equal(fwsec.dmemMapper?.cmdInBufferOffset, layout.cmdInBufferOffset);
      assert.equal(fwsec.loadMap.dmem.srcStart, layout.descriptor.imemLoadSize);
      assert.equal(fwsec.loadMap.imemNonSecure === undefined, descriptorVersion === 3);
      const overhead = src.bytesRead - fwsec.ucode.length - layout.descriptor.headerSize;
      assert.ok(overhead < 1024, `read ${overhead} bytes besides the descriptor and ucode`);
    });
  }
}

Deno.test("extract: one FWSEC image, no EFI image", () => {
  const { bytes, layout } = forgeVbios({ fwsecImages: 1, efi: false, descriptorVersion: 3 });
  const fwsec = extractFwsec(bufferSource(bytes));
  assert.equal(fwsec.descriptorOffset, layout.descriptorOffset);
  assert.equal(fwsec.fwsecOffset, layout.images[1].offset);
  assert.deepEqual(fwsec.ucode, layout.ucode);
});

Deno.test("extract: debug mode takes the 0x45 entry", () => {
  const { bytes, layout } = forgeVbios();
  const fwsec = extractFwsec(bufferSource(bytes), { debug: true });
  assert.equal(fwsec.pmuEntry.applicationId, 0x45);
  assert.equal(fwsec.descriptorOffset, layout.descriptorOffset);
});

Deno.test("extract: from a layout already read", () => {
  const src = bufferSource(forgeVbios().bytes);
  const layout = readVbiosLayout(src);
  assert.deepEqual(extractFwsecFromLayout(src, layout), extractFwsec(src));
});

Deno.test("extract: no DMEM mapper is not an extraction error", () => {
  const fwsec = extractFwsec(bufferSource(forgeVbios({ dmemMapper: false }).bytes));
  assert.equal(fwsec.dmemMapper, null);
  assert.deepEqual(fwsec.interface.entries.map((e) => e.id), [5, 6]);
});

Deno.test("extract: descriptor pointer out of range", () => {
  const { bytes, layout } = forgeVbios();
  const entry = layout.pmuTableOffset + 6 + 2 * 6;
  view(bytes).setUint32(entry + 2, 0x7fff0000, true);
  throwsFormat(() => extractFwsec(bufferSource(bytes, "x.rom")), "descriptor.hdr");
  view(bytes).setUint32(entry + 2, 0x10, true);
  throwsFormat(() => extractFwsec(bufferSource(bytes)), "descriptor.hdr");
  // In range, but the header runs past the section.
  view(bytes).setUint32(entry + 2, layout.descPtr, true);
  view(bytes).setUint16(layout.descriptorOffset + 2, 0xfff0, true);
  throwsFormat(() => extractFwsec(bufferSource(bytes)), "descriptor");
});

Deno.test("extract: unknown descriptor version", () => {
  const { bytes, layout } = forgeVbios();
  bytes[layout.descriptorOffset + 1] = 4;
  throwsFormat(
    () => extractFwsec(bufferSource(bytes)),
    "descriptor.version",
    layout.descriptorOffset + 1,
  );
});

Deno.test("extract: ucode that runs past the section", () => {
  const { bytes, layout } = forgeVbios();
  view(bytes).setUint32(layout.descriptorOffset + 0x30, 0x100000, true);
  throwsFormat(() => extractFwsec(bufferSource(bytes)), "ucode", layout.ucodeOffset);
});

Deno.test("extract: interface offset outside DMEM", () => {
  const { bytes, layout } = forgeVbios({ descriptorVersion: 3 });
  view(bytes).setUint32(layout.descriptorOffset + 0x0c, 0x7fe, true);
  throwsFormat(() => extractFwsec(bufferSource(bytes)), "appInterface.header");
});

Deno.test("extract: no FWSEC image, no falcon-data token, no FWSEC entry", () => {
  const noFwsec = forgeVbios({ fwsecImages: 1 });
  const fw = noFwsec.layout.images[2];
  noFwsec.bytes[fw.offset + 0x20 + 0x14] = 0x01;
  throwsFormat(() => extractFwsec(bufferSource(noFwsec.bytes)), "romImage.codeType", 0);

  const noToken = forgeVbios();
  noToken.bytes[noToken.layout.bitOffset + 12 + 12] = 0x71;
  throwsFormat(
    () => extractFwsec(bufferSource(noToken.bytes)),
    "bit.falconData",
    noToken.layout.bitOffset,
  );

  const noEntry = forgeVbios({ fwsecApplicationId: 0x86 });
  assert.throws(
    () => extractFwsec(bufferSource(noEntry.bytes, "board.rom")),
    (e: unknown) =>
      e instanceof FirmwareFormatError && e.field === "pmuTable.entries" &&
      e.file === "board.rom",
  );
});

Deno.test("extract: every single-byte corruption of the tables gives a format error or a result", () => {
  const { bytes, layout } = forgeVbios({ descriptorVersion: 3 });
  const targets = [
    ...Array.from({ length: 0x30 }, (_, i) => layout.bitOffset + i),
    ...Array.from({ length: 0x24 }, (_, i) => layout.pmuTableOffset + i),
    ...Array.from({ length: 0x30 }, (_, i) => layout.descriptorOffset + i),
  ];
  for (const at of targets) {
    for (const value of [0x00, 0xff, 0x80]) {
      const copy = bytes.slice();
      copy[at] = value;
      try {
        extractFwsec(bufferSource(copy));
      } catch (e) {
        assert.ok(e instanceof FirmwareFormatError, `0x${at.toString(16)}=${value}: ${e}`);
      }
    }
  }
});

realVbiosTest("extract: the real TU102 FWSEC, with a bound on the bytes read", (bytes) => {
  const src = countingSource(bufferSource(bytes, "TU102.rom"));
  const fwsec = extractFwsec(src);
  assert.equal(fwsec.vbiosVersion, "90.02.17.00.7B");
  assert.equal(fwsec.fwsecOffset, 0x48800);
  assert.deepEqual(fwsec.pmuEntry, { applicationId: 0x85, targetId: 7, descPtr: 0x2da24 });
  assert.equal(fwsec.descriptorOffset, 0x67624);
  assert.equal(fwsec.descriptor.descriptorVersion, 2);
  assert.equal(fwsec.descriptor.imemLoadSize, 0x9600);
  assert.equal(fwsec.descriptor.dmemLoadSize, 0x410);
  assert.equal(fwsec.descriptor.interfaceOffset, 0xdc);
  assert.deepEqual(fwsec.signatures, []);
  assert.equal(fwsec.ucodeOffset, 0x67660);
  assert.equal(fwsec.ucode.length, 0x9a10);
  // sha256 of file bytes 0x67660..0x71070, computed independently with Python's hashlib.
  assert.equal(
    createHash("sha256").update(fwsec.ucode).digest("hex"),
    "9e93d134ca2954e7d9ad69ace01707eeb7e5c8adf01b5b6e0d4b0575cab10bae",
  );
  assert.equal(fwsec.interface.entries.length, 2);
  assert.equal(fwsec.dmemMapper?.dmemOffset, 0x380);
  assert.equal(fwsec.dmemMapper?.ucodeOffset, 0x9980);
  assert.equal(fwsec.dmemMapper?.cmdInBufferOffset, 0x3d0);
  assert.equal(fwsec.dmemMapper?.cmdInBufferSize, 0x40);
  assert.equal(fwsec.loadMap.bootAddress, 0);
  // 40 592 of 1 047 040 bytes: the 39 440-byte ucode plus 1 152 bytes of tables.
  assert.equal(src.bytesRead, 40592);
  assert.ok(src.bytesRead <= fwsec.ucode.length + 2048);
  assert.ok(src.bytesRead * 20 < bytes.length, "under 5 % of the file");
});

realVbiosTest("extract: the real TU102 debug FWSEC is version 2 as well", (bytes) => {
  const fwsec = extractFwsec(bufferSource(bytes, "TU102.rom"), { debug: true });
  assert.deepEqual(fwsec.pmuEntry, { applicationId: 0x45, targetId: 7, descPtr: 0x23fd8 });
  assert.equal(fwsec.descriptorOffset, 0x5dbd8);
  assert.equal(fwsec.descriptor.descriptorVersion, 2);
  assert.equal(fwsec.dmemMapper?.ucodeOffset, 0x9980);
});
