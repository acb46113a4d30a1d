// Tests of firmware/describe.ts: toJsonFields, the description of every kind
// (forged files, the real VBIOS and the real GSP image) with camelCase field
// names and JSON-ready values, and that an ELF or an oversized bin file is
// described from its headers only.

import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { parseBooter } from "../firmware/booter.ts";
import { bufferSource, type ByteSource, countingSource } from "../firmware/byte_source.ts";
import {
  describeFirmware,
  describeVbios,
  type JsonValue,
  toJsonFields,
} from "../firmware/describe.ts";
import {
  FMC_SIZES,
  forgeBooter,
  forgeBooterTlv,
  forgeElf,
  forgeFmc,
  forgeFmcTlv,
  forgeGenBootloader,
  forgeGspImage,
  forgeGspTlv,
  forgeRiscvBootloader,
  forgeTlv,
  forgeVbios,
  GSP_SIGNATURE_SECTIONS_GA102,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/mod.ts";
import { parseRiscvBootloader } from "../firmware/riscv_bootloader.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { assertFormatError } from "./_assert.ts";
import { realFirmwareTest, realVbiosTest } from "./_real.ts";

type Obj = { [key: string]: JsonValue };

/** Every object key, at any depth, is camelCase; and the value survives JSON unchanged. */
function assertJsonReady(value: unknown, where = "$"): void {
  assert.deepEqual(JSON.parse(JSON.stringify(value)), value, `${where} is not plain JSON`);
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        assert.match(k, /^[a-z][a-zA-Z0-9]*$/, `${path}.${k} is not camelCase`);
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(value, where);
}

const obj = (v: JsonValue | undefined): Obj => {
  assert.ok(v !== null && typeof v === "object" && !Array.isArray(v), `not an object: ${v}`);
  return v as Obj;
};

Deno.test("toJsonFields: drops byte payloads, turns bigints into hex, keeps the rest", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const input = {
    a: 1,
    text: "x",
    flag: false,
    nothing: null,
    missing: undefined,
    image: bytes,
    view: new DataView(new ArrayBuffer(4)),
    signatures: [bytes, bytes],
    mixed: [1, bytes, "two"],
    empty: [],
    big: 0x1_0000_0000_0000n,
    fn: () => 1,
    nested: { deep: { b: [2, { c: 3n, d: new Uint32Array(2) }] } },
  };
  assert.deepEqual(toJsonFields(input), {
    a: 1,
    text: "x",
    flag: false,
    nothing: null,
    mixed: [1, "two"],
    empty: [],
    big: "0x1000000000000",
    nested: { deep: { b: [2, { c: "0x3" }] } },
  });
  assert.equal(toJsonFields(undefined), null);
  assert.equal(toJsonFields(255n), "0xff");
  assert.deepEqual(toJsonFields([bytes, 4]), [4]);
});

Deno.test("describeFirmware: a Booter, every header with its camelCase fields", () => {
  const bytes = forgeBooter({
    signatureSize: 384,
    signatureCount: 2,
    fuseVersion: 1,
    ucodeId: 3,
    zeroSignatureIndex: 1,
  });
  const parsed = parseBooter(bytes);
  const d = describeFirmware(bytes, "booter_load-570.144.bin");
  assertJsonReady(d);
  assert.equal(d.kind, "booter");
  assert.deepEqual(d.binHeader, { ...parsed.binHeader });
  assert.equal(obj(d.binHeader).binMagic, 0x10de);
  assert.deepEqual(Object.keys(obj(d.hsHeader)), [
    "sigProdOffset",
    "sigProdSize",
    "patchLocOffset",
    "patchSigOffset",
    "metaDataOffset",
    "metaDataSize",
    "numSigOffset",
    "headerOffset",
    "headerSize",
  ]);
  assert.equal(obj(d.hsHeader).sigProdSize, 768);
  assert.deepEqual(d.signatureParams, { fuseVersion: 1, engineIdMask: 1, ucodeId: 3 });
  const load = obj(d.loadHeader);
  assert.deepEqual(Object.keys(load), [
    "osCodeOffset",
    "osCodeSize",
    "osDataOffset",
    "osDataSize",
    "numApps",
    "apps",
  ]);
  assert.equal(load.osCodeSize, 256);
  assert.deepEqual(load.apps, [{
    codeOffset: 256,
    codeSize: 0x2000,
    dataOffset: 256,
    dataSize: 0,
  }]);
  assert.equal(d.signatureCount, 2);
  assert.equal(d.signatureSize, 384);
  assert.equal(d.signaturesOffset, 60);
  assert.equal(d.patchLocation, parsed.patchLocation);
  assert.deepEqual(d.signatures, [
    { index: 0, size: 384, allZero: false },
    { index: 1, size: 384, allZero: true },
  ]);
  assert.equal(d.imageSize, parsed.image.length);
});

Deno.test("describeFirmware: RISC-V bootloaders v4 and v5 and the generic bootloader", () => {
  const v4 = describeFirmware(forgeRiscvBootloader({ version: 4, appVersion: 7 }));
  assertJsonReady(v4);
  assert.equal(v4.kind, "riscv-bootloader");
  assert.equal(v4.descriptorSize, 76);
  assert.equal(v4.ucodeSize, 0x1000);
  const d4 = obj(v4.descriptor);
  assert.equal(d4.version, 4);
  assert.equal(d4.appVersion, 7);
  assert.equal(d4.bootloaderSize, 0x488);
  assert.equal(Object.keys(d4).length, 19);
  assert.ok(!("fbReservedSize" in d4) && !("signedAsCode" in d4));

  const bytes5 = forgeRiscvBootloader({ version: 5, signedAsCode: 1 });
  const v5 = describeFirmware(bytes5, "bootloader-570.144.bin");
  assertJsonReady(v5);
  assert.equal(v5.descriptorSize, 84);
  assert.deepEqual(v5.descriptor, { ...parseRiscvBootloader(bytes5).descriptor });
  const d5 = obj(v5.descriptor);
  assert.equal(d5.manifestSize, 0x800);
  assert.equal(d5.monitorDataSize, 0x1000);
  assert.equal(d5.monitorCodeSize, 0x2900);
  assert.equal(d5.signedAsCode, 1);
  assert.equal(d5.fbReservedSize, v5.ucodeSize);

  const gen = describeFirmware(forgeGenBootloader({ startTag: 0xfe, dmemLoadOffset: 8 }));
  assertJsonReady(gen);
  assert.equal(gen.kind, "gen-bootloader");
  assert.deepEqual(gen.descriptor, {
    startTag: 0xfe,
    dmemLoadOffset: 8,
    codeOffset: 0,
    codeSize: 512,
    dataOffset: 512,
    dataSize: 256,
  });
  assert.deepEqual(obj(gen.binHeader).dataSize, 768);
});

Deno.test("describeFirmware: GSP images and FMCs (ELF) with imageSize and signatureSize", () => {
  const gsp = describeFirmware(
    forgeGspImage({
      imageSize: 0x20000,
      version: "535.113.01",
      signatureSections: GSP_SIGNATURE_SECTIONS_TU,
    }),
  );
  assertJsonReady(gsp);
  assert.equal(gsp.kind, "gsp-image");
  assert.equal(gsp.version, "535.113.01");
  assert.equal(gsp.imageSize, 0x20000);
  assert.equal(gsp.signatureSize, 4096);
  assert.equal(gsp.elfClass, 64);
  assert.equal(gsp.machine, 0xf3);
  const sigs = gsp.signatureSections as Obj[];
  assert.deepEqual(sigs.map((s) => s.name), [...GSP_SIGNATURE_SECTIONS_TU]);
  assert.ok(sigs.every((s) => s.size === 4096));
  const sections = gsp.sections as Obj[];
  const image = sections.find((s) => s.name === ".fwimage")!;
  assert.equal(image.size, 0x20000);
  assert.equal(image.offset, gsp.imageOffset);
  assert.deepEqual(
    sections.map((s) => s.name),
    [".fwimage", ".note.gnu.build-id", ".fwversion", ...GSP_SIGNATURE_SECTIONS_TU, ".shstrtab"],
  );

  // Signature sections of different sizes have no one signatureSize.
  const mixed = describeFirmware(forgeElf({
    sections: [
      { name: ".fwimage", size: 4096 },
      { name: ".fwversion", data: new TextEncoder().encode("570.144\0") },
      { name: ".fwsignature_tu10x", size: 16 },
      { name: ".fwsignature_ga100", size: 32 },
    ],
  }));
  assert.equal(mixed.signatureSize, null);

  for (const [family, sizes] of Object.entries(FMC_SIZES)) {
    const fmc = describeFirmware(forgeFmc({ sizes, imageSize: 0x3000 }), "fmc-570.144.bin");
    assertJsonReady(fmc);
    assert.equal(fmc.kind, "fmc", family);
    assert.equal(fmc.elfClass, 32);
    assert.equal(fmc.imageSize, 0x3000);
    assert.equal(fmc.hashSize, 48);
    assert.equal(fmc.publicKeySize, sizes.publicKey, family);
    assert.equal(fmc.signatureSize, sizes.signature, family);
    assert.deepEqual(
      (fmc.sections as Obj[]).map((s) => s.name),
      [".shstrtab", "hash", "signature", "publickey", "image"],
    );
  }
});

Deno.test("describeFirmware: TLV containers with their blocks and signature size", () => {
  const gsp = describeFirmware(forgeGspTlv({ imageSize: 8192 }), "gsp.tlv");
  assertJsonReady(gsp);
  assert.equal(gsp.kind, "tlv");
  assert.equal(gsp.version, "570.144");
  assert.equal(gsp.signatureSize, 4096);
  assert.deepEqual(gsp.blocks, [
    { tag: "VERS", offset: 4, length: 7 },
    { tag: "SIZE", offset: 20, length: 4, u32: 8192 },
    { tag: "FILE", offset: 32, length: 7 },
    { tag: "SIGN", offset: 48, length: 4096 },
  ]);

  const booter = describeFirmware(forgeBooterTlv({ signatureCount: 3, signatureSize: 16 }));
  assert.equal(booter.signatureSize, 16);
  const blocks = booter.blocks as Obj[];
  assert.equal(blocks.find((b) => b.tag === "NSIG")?.u32, 3);
  assert.equal(blocks.find((b) => b.tag === "UCID")?.u32, 3);
  assert.equal(blocks.find((b) => b.tag === "SIGN")?.length, 48);

  const fmc = describeFirmware(forgeFmcTlv({ publicKeySize: 97, signatureSize: 96 }));
  assert.equal(fmc.signatureSize, 96);
  assert.equal((fmc.blocks as Obj[]).find((b) => b.tag === "PKEY")?.length, 97);

  // No signature, and a version that is not text: neither is made up.
  const bare = describeFirmware(forgeTlv([["VERS", new Uint8Array([1, 2])], ["BLOB", "abc"]]));
  assert.ok(!("version" in bare) && !("signatureSize" in bare));
  assert.equal((bare.blocks as Obj[]).length, 2);
});

Deno.test("describeFirmware: forged VBIOSes, FWSEC descriptors v2 and v3 under fwsec", () => {
  for (const descriptorVersion of [2, 3] as const) {
    const { bytes, layout } = forgeVbios({
      descriptorVersion,
      ifr: descriptorVersion === 2 ? 3 : 1,
    });
    const d = describeFirmware(bytes, "forged.rom");
    assertJsonReady(d);
    assert.equal(d.kind, "vbios");
    assert.equal(d.version, layout.versionText);
    assert.equal(d.romOffset, layout.romOffset);
    assert.deepEqual((d.images as Obj[]).map((i) => i.kind), layout.images.map((i) => i.kind));
    assert.equal(obj(d.bit).offset, layout.bitOffset);
    assert.equal(obj(d.pmuTable).offset, layout.pmuTableOffset);
    const fwsec = obj(d.fwsec);
    assert.equal(fwsec.descriptorVersion, descriptorVersion);
    for (const [field, value] of Object.entries(layout.descriptor)) {
      assert.equal(fwsec[field], value, `v${descriptorVersion} fwsec.${field}`);
    }
    assert.equal(fwsec.descriptorOffset, layout.descriptorOffset);
    assert.equal(fwsec.ucodeOffset, layout.ucodeOffset);
    assert.equal(fwsec.ucodeSize, layout.ucode.length);
    assert.equal(fwsec.dmemMapperOffset, layout.mapperUcodeOffset);
    assert.equal(obj(fwsec.dmemMapper).cmdInBufferOffset, layout.cmdInBufferOffset);
    assert.equal(fwsec.signatureCount, layout.signatures.length);
    assert.equal(fwsec.signatureSize, descriptorVersion === 3 ? 384 : 0);
  }
  const v3 = obj(describeFirmware(forgeVbios({ descriptorVersion: 3 }).bytes).fwsec);
  for (const field of ["pkcDataOffset", "signatureCount", "engineIdMask", "ucodeId"]) {
    assert.equal(typeof v3[field], "number", field);
  }
  assert.equal(v3.signatureCount, 3);
  const v2 = obj(describeFirmware(forgeVbios({ descriptorVersion: 2 }).bytes).fwsec);
  for (const field of ["imemLoadSize", "imemSecSize", "imemSecBase", "dmemOffset"]) {
    assert.equal(typeof v2[field], "number", field);
  }
  // Without a DMEM mapper the offset is null, not a made-up number.
  const bare = describeVbios(bufferSource(forgeVbios({ dmemMapper: false }).bytes));
  assert.equal(obj(bare.fwsec).dmemMapperOffset, null);
});

Deno.test("describeFirmware: an ELF is described from its headers only", () => {
  const imageSize = 8 << 20;
  const source = countingSource(bufferSource(forgeGspImage({ imageSize }), "gsp-570.144.bin"));
  const d = describeFirmware(source);
  assert.equal(d.kind, "gsp-image");
  assert.equal(d.imageSize, imageSize);
  assert.ok(source.bytesRead < 16 * 1024, `read ${source.bytesRead} bytes of ${source.size}`);
});

Deno.test("describeFirmware: an nvfw bin file over 64 MiB is refused without reading it", () => {
  const head = forgeBooter().subarray(0, 64);
  let largest = 0;
  const huge: ByteSource = {
    size: 65 << 20,
    name: "booter_load-570.144.bin",
    read(offset: number, length: number): Uint8Array {
      largest = Math.max(largest, length);
      const out = new Uint8Array(length);
      out.set(head.subarray(offset, offset + length));
      return out;
    },
  };
  const e = assertFormatError(() => describeFirmware(huge), "file", 0);
  assert.equal(e.file, "booter_load-570.144.bin");
  assert.match(e.reason, /too large/);
  assert.ok(largest <= 64, `read ${largest} bytes at once`);
});

Deno.test("describeFirmware: malformed files give a FirmwareFormatError naming the file", () => {
  const cases: [string, Uint8Array][] = [
    ["gsp-570.144.bin", forgeGspImage().slice(0, 200)],
    ["booter_load-570.144.bin", forgeBooter().slice(0, 100)],
    ["fmc-570.144.bin", forgeFmc().slice(0, 300)],
    ["gsp.tlv", forgeGspTlv().slice(0, 30)],
    ["TU102.rom", forgeVbios().bytes.slice(0, 0x900)],
    ["x.bin", forgeBooter().slice(0, 100)],
    ["gsp-570.144.bin", new Uint8Array(100)],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(() => describeFirmware(bytes, name), (e: unknown) => {
      assert.ok(e instanceof FirmwareFormatError, `${name}: ${e}`);
      assert.equal(e.file, name);
      assert.ok(e.field.length > 0 && e.offset >= 0 && e.reason.length > 0, name);
      return true;
    }, name);
  }
});

realFirmwareTest(
  "describeFirmware: the real 63 MB GSP image is described from a few KiB of it",
  ["nvidia/ga102/gsp/gsp-570.144.bin"],
  ([path]) => {
    using file = fileSource(path);
    const source = countingSource(file);
    const d = describeFirmware(source, path);
    assert.equal(d.kind, "gsp-image");
    assert.equal(d.imageSize, 63541248);
    assert.equal(d.version, "570.144");
    assert.equal(d.signatureSize, 4096);
    assert.deepEqual(
      (d.signatureSections as Obj[]).map((s) => s.name),
      [...GSP_SIGNATURE_SECTIONS_GA102],
    );
    assert.ok(source.bytesRead < 64 * 1024, `read ${source.bytesRead} of ${source.size} bytes`);
  },
);

realVbiosTest("describeVbios: the real TU102 VBIOS", (bytes) => {
  const source = countingSource(bufferSource(bytes, "TU102.rom"));
  const d = describeFirmware(source);
  assertJsonReady(d);
  assert.equal(d.kind, "vbios");
  assert.equal(d.version, "90.02.17.00.7B");
  assert.equal(obj(d.ifr).version, 3);
  assert.equal(d.romOffset, 0x28600);
  assert.deepEqual(
    (d.images as Obj[]).map((i) => i.kind),
    ["pc-at", "efi", "fwsec", "fwsec", "nbsi"],
  );
  const fwsec = obj(d.fwsec);
  assert.equal(fwsec.descriptorVersion, 2);
  assert.equal(fwsec.imemLoadSize, 38400);
  assert.equal(fwsec.imemSecBase, 768);
  assert.equal(fwsec.imemSecSize, 37632);
  assert.equal(fwsec.dmemOffset, 38400);
  assert.equal(fwsec.dmemLoadSize, 1040);
  assert.equal(fwsec.interfaceOffset, 220);
  assert.equal(fwsec.signatureCount, 0);
  assert.equal(fwsec.dmemMapperOffset, 0x9980);
  assert.equal(obj(fwsec.pmuEntry).applicationId, 0x85);
  // The tables and the 39 KiB ucode, not the whole 1 MiB dump.
  assert.ok(source.bytesRead < 48 * 1024, `read ${source.bytesRead} of ${bytes.length} bytes`);
});

Deno.test("describeFirmware: a file that is no boot blob is kind other, not an error", () => {
  const text = describeFirmware(new TextEncoder().encode("GR ctx"), "nvidia/tu102/gr/sw_ctx.bin");
  assert.deepEqual(text, {
    kind: "other",
    note: "not a GSP boot blob",
    format: "unknown",
    size: 6,
    magic: "47 52 20 63",
  });
  // Another falcon's nvfw bin ucode: its bin header is still worth printing.
  const acrLike = new Uint8Array(0x200).fill(0xff, 0x18, 0x100);
  const v = new DataView(acrLike.buffer);
  [0x10de, 1, 0x200, 0x18, 0x100, 0x100].forEach((word, i) => v.setUint32(4 * i, word, true));
  const acr = describeFirmware(acrLike, "nvidia/tu102/acr/ucode_load.bin");
  assert.equal(acr.kind, "other");
  assert.equal(acr.format, "nvfw-bin");
  assert.deepEqual(acr.binHeader, {
    binMagic: 0x10de,
    binVersion: 1,
    binSize: 0x200,
    headerOffset: 0x18,
    dataOffset: 0x100,
    dataSize: 0x100,
  });
  assert.equal(describeFirmware(new Uint8Array(0), "empty").kind, "other");
});
