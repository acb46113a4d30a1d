import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { GEN_BOOTLOADER_DESC_SIZE, parseGenBootloader } from "../firmware/gen_bootloader.ts";
import { forgeGenBootloader } from "../firmware/forge/hs_firmware.ts";
import { CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
import { findRealFirmware, realFirmwareTest } from "./_real.ts";
import { assertFormatError, withU32 } from "./_assert.ts";

const REAL_DESCRIPTOR = {
  startTag: 253,
  dmemLoadOffset: 0,
  codeOffset: 0,
  codeSize: 512,
  dataOffset: 512,
  dataSize: 256,
};

Deno.test("gen bootloader: the default forge has the real file's shape", () => {
  assert.equal(GEN_BOOTLOADER_DESC_SIZE, 24);
  const file = forgeGenBootloader();
  assert.equal(file.length, 816);
  const bl = parseGenBootloader(file, "forged.bin");
  assert.deepEqual(bl.binHeader, {
    binMagic: 0x10de,
    binVersion: 1,
    binSize: 1024,
    headerOffset: 24,
    dataOffset: 48,
    dataSize: 768,
  });
  assert.deepEqual(bl.descriptor, REAL_DESCRIPTOR);
  assert.deepEqual(bl.code, file.subarray(48, 560));
  assert.deepEqual(bl.data, file.subarray(560, 816));
});

Deno.test("gen bootloader: other sizes round-trip", () => {
  const file = forgeGenBootloader({
    startTag: 0x1f0,
    dmemLoadOffset: 0x40,
    codeSize: 0x300,
    dataSize: 8,
  });
  const bl = parseGenBootloader(file);
  assert.deepEqual(bl.descriptor, {
    startTag: 0x1f0,
    dmemLoadOffset: 0x40,
    codeOffset: 0,
    codeSize: 0x300,
    dataOffset: 0x300,
    dataSize: 8,
  });
  assert.equal(bl.code.length, 0x300);
  assert.deepEqual(bl.data, file.subarray(48 + 0x300));
  assert.deepEqual(forgeGenBootloader({ seed: 5 }), forgeGenBootloader({ seed: 5 }));
  assert.notDeepEqual(forgeGenBootloader({ seed: 5 }), forgeGenBootloader({ seed: 6 }));
});

Deno.test("gen bootloader: format errors name the field", () => {
  const file = forgeGenBootloader();
  assertFormatError(() => parseGenBootloader(file.subarray(0, 16)), "binHeader", 0);
  assertFormatError(() => parseGenBootloader(file.subarray(0, 600)), "binHeader.dataSize", 20);
  assertFormatError(() => parseGenBootloader(withU32(file, 0, 0)), "binHeader.binMagic", 0);
  assertFormatError(() => parseGenBootloader(withU32(file, 12, 800)), "descriptor", 800);
  assertFormatError(() => parseGenBootloader(withU32(file, 36, 769)), "descriptor.codeOffset", 32);
  assertFormatError(
    () => parseGenBootloader(withU32(file, 32, 0xffffff00)),
    "descriptor.codeOffset",
    32,
  );
  assertFormatError(() => parseGenBootloader(withU32(file, 40, 513)), "descriptor.dataOffset", 40);
  assertFormatError(() => parseGenBootloader(withU32(file, 44, 257)), "descriptor.dataOffset", 40);
  const err = assertFormatError(
    () => parseGenBootloader(withU32(file, 44, 257), "gen_bootloader-570.144.bin"),
    "descriptor.dataOffset",
  );
  assert.equal(err.file, "gen_bootloader-570.144.bin");
});

Deno.test("gen bootloader: prefixes and word mutations give only FirmwareFormatError", () => {
  const file = forgeGenBootloader();
  for (let n = 0; n < file.length; n++) {
    assert.throws(() => parseGenBootloader(file.subarray(0, n)), FirmwareFormatError);
  }
  const values = [0, 1, 24, 47, 48, 255, 256, 512, 768, 769, 816, 0x7fffffff, 0xffffffff];
  for (let word = 0; word < 12; word++) {
    for (const value of values) {
      try {
        parseGenBootloader(withU32(file, word * 4, value));
      } catch (e) {
        assert.ok(e instanceof FirmwareFormatError, `word ${word} = ${value}: ${e}`);
      }
    }
  }
});

const GEN_BOOTLOADER_PATHS = CHIPS.flatMap((chip) =>
  FIRMWARE_VERSIONS.flatMap((version) =>
    firmwareFiles(chip, version).filter((f) => f.kind === "gen-bootloader").map((f) => f.path)
  )
);

Deno.test("gen bootloader: the file list names Turing and GA100 files of 570.144 only", () => {
  assert.deepEqual(GEN_BOOTLOADER_PATHS, [
    "nvidia/tu102/gsp/gen_bootloader-570.144.bin",
    "nvidia/tu104/gsp/gen_bootloader-570.144.bin",
    "nvidia/tu106/gsp/gen_bootloader-570.144.bin",
    "nvidia/tu117/gsp/gen_bootloader-570.144.bin",
    "nvidia/tu116/gsp/gen_bootloader-570.144.bin",
    "nvidia/ga100/gsp/gen_bootloader-570.144.bin",
  ]);
});

for (const rel of GEN_BOOTLOADER_PATHS) {
  realFirmwareTest(`gen bootloader: real ${rel}`, [rel], ([path]) => {
    const bytes = Deno.readFileSync(path);
    assert.equal(bytes.length, 816);
    const bl = parseGenBootloader(bytes, path);
    assert.deepEqual(bl.binHeader, {
      binMagic: 0x10de,
      binVersion: 1,
      binSize: 1024,
      headerOffset: 24,
      dataOffset: 48,
      dataSize: 768,
    });
    assert.deepEqual(bl.descriptor, REAL_DESCRIPTOR);
    assert.equal(bl.code.length, 512);
    assert.equal(bl.data.length, 256);
    assert.deepEqual(bl.code, bytes.subarray(48, 560));
    assert.deepEqual(bl.data, bytes.subarray(560, 816));
    // The forge writes the same header bytes as the real file.
    assert.deepEqual(forgeGenBootloader().subarray(0, 48), bytes.subarray(0, 48));
    // Every chip ships the very same bytes.
    const reference = findRealFirmware(GEN_BOOTLOADER_PATHS[0]);
    if (reference) assert.deepEqual(bytes, Deno.readFileSync(reference));
  });
}
