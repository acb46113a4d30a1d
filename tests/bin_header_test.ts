import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { BIN_HEADER_SIZE, BIN_MAGIC, parseBinHeader } from "../firmware/bin_header.ts";
import {
  forgeBooter,
  forgeGenBootloader,
  forgeRiscvBootloader,
} from "../firmware/forge/hs_firmware.ts";
import { CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
import { realFirmwareTest } from "./_real.ts";
import { assertFormatError, withU32 } from "./_assert.ts";

const roundUp256 = (n: number) => Math.ceil(n / 256) * 256;

Deno.test("bin header: constants", () => {
  assert.equal(BIN_MAGIC, 0x10de);
  assert.equal(BIN_HEADER_SIZE, 24);
});

Deno.test("bin header: forged files round-trip, bin_size is the length rounded to 256", () => {
  const files = [
    forgeBooter(),
    forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 }),
    forgeRiscvBootloader({ version: 4 }),
    forgeRiscvBootloader({ version: 5 }),
    forgeGenBootloader(),
  ];
  for (const file of files) {
    const h = parseBinHeader(file, "forged.bin");
    assert.equal(h.binMagic, 0x10de);
    assert.equal(h.binVersion, 1);
    assert.equal(h.binSize, roundUp256(file.length));
    assert.equal(h.headerOffset, 24);
    assert.equal(h.dataOffset + h.dataSize, file.length);
  }
});

Deno.test("bin header: exact fields of the forged generic bootloader", () => {
  assert.deepEqual(parseBinHeader(forgeGenBootloader()), {
    binMagic: 0x10de,
    binVersion: 1,
    binSize: 1024,
    headerOffset: 24,
    dataOffset: 48,
    dataSize: 768,
  });
});

Deno.test("bin header: bin_size is never compared with the file length", () => {
  const file = withU32(forgeGenBootloader(), 8, 12345);
  assert.equal(parseBinHeader(file).binSize, 12345);
});

Deno.test("bin header: errors name the field and offset", () => {
  const file = forgeGenBootloader();
  assertFormatError(() => parseBinHeader(file.subarray(0, 23)), "binHeader", 0);
  assertFormatError(() => parseBinHeader(new Uint8Array(0)), "binHeader", 0);
  assertFormatError(() => parseBinHeader(withU32(file, 0, 0x10df)), "binHeader.binMagic", 0);
  assertFormatError(
    () => parseBinHeader(withU32(file, 12, file.length)),
    "binHeader.headerOffset",
    12,
  );
  assertFormatError(
    () => parseBinHeader(withU32(file, 16, file.length + 1)),
    "binHeader.dataOffset",
    16,
  );
  assertFormatError(() => parseBinHeader(withU32(file, 20, 769)), "binHeader.dataSize", 20);
  assertFormatError(() => parseBinHeader(file.subarray(0, 815)), "binHeader.dataSize", 20);
  assertFormatError(
    () => parseBinHeader(withU32(withU32(file, 16, 0xffffffff), 20, 0xffffffff)),
    "binHeader.dataOffset",
    16,
  );
});

Deno.test("bin header: errors carry the file name", () => {
  const err = assertFormatError(
    () => parseBinHeader(withU32(forgeGenBootloader(), 0, 0), "gen_bootloader-570.144.bin"),
    "binHeader.binMagic",
  );
  assert.equal(err.file, "gen_bootloader-570.144.bin");
  assert.match(err.message, /expected 0x10de, found 0x0/);
});

Deno.test("bin header: every prefix parses or fails with FirmwareFormatError", () => {
  const file = forgeGenBootloader();
  for (let n = 0; n <= file.length; n++) {
    try {
      parseBinHeader(file.subarray(0, n));
      assert.equal(n, file.length, `prefix ${n} must not parse`);
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `prefix ${n}: ${e}`);
    }
  }
});

for (const chip of CHIPS) {
  for (const version of FIRMWARE_VERSIONS) {
    const files = firmwareFiles(chip, version).filter((f) =>
      f.kind !== "gsp-image" && f.kind !== "fmc"
    );
    if (files.length === 0) continue;
    realFirmwareTest(
      `bin header: real ${chip.name} ${version} files`,
      files.map((f) => f.path),
      (paths) => {
        for (const path of paths) {
          const bytes = Deno.readFileSync(path);
          const h = parseBinHeader(bytes, path);
          assert.equal(h.binMagic, 0x10de, path);
          assert.equal(h.binVersion, 1, path);
          assert.equal(h.headerOffset, 24, path);
          assert.equal(h.binSize, roundUp256(bytes.length), path);
          assert.equal(h.dataOffset + h.dataSize, bytes.length, path);
        }
      },
    );
  }
}
