import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import {
  parseRiscvBootloader,
  RISCV_UCODE_DESC_FIELDS,
  RISCV_UCODE_DESC_SIZES,
} from "../firmware/riscv_bootloader.ts";
import { forgeRiscvBootloader } from "../firmware/forge/hs_firmware.ts";
import { CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
import { realFirmwareTest } from "./_real.ts";
import { assertFormatError, withU32 } from "./_assert.ts";

/** File offset of a descriptor field in a file whose descriptor sits at 24. */
const fieldAt = (name: (typeof RISCV_UCODE_DESC_FIELDS)[number]) =>
  24 + 4 * RISCV_UCODE_DESC_FIELDS.indexOf(name);

Deno.test("riscv bootloader: descriptor sizes and field order", () => {
  assert.deepEqual(RISCV_UCODE_DESC_SIZES, { 4: 76, 5: 84 });
  assert.equal(RISCV_UCODE_DESC_FIELDS.length, 21);
  assert.equal(fieldAt("monitorCodeOffset"), 24 + 48);
  assert.equal(fieldAt("fbReservedSize"), 24 + 76);
});

Deno.test("riscv bootloader: version 4 forge round-trips (the TU102 layout)", () => {
  const file = forgeRiscvBootloader({ version: 4, appVersion: 0x1234 });
  assert.equal(file.length, 4196);
  const bl = parseRiscvBootloader(file, "forged.bin");
  assert.equal(bl.descriptorSize, 76);
  assert.deepEqual(bl.binHeader, {
    binMagic: 0x10de,
    binVersion: 1,
    binSize: 0x1100,
    headerOffset: 24,
    dataOffset: 100,
    dataSize: 0x1000,
  });
  assert.deepEqual(bl.descriptor, {
    version: 4,
    bootloaderOffset: 0,
    bootloaderSize: 0x488,
    bootloaderParamOffset: 0x488,
    bootloaderParamSize: 0x10,
    riscvElfOffset: 0,
    riscvElfSize: 0,
    appVersion: 0x1234,
    manifestOffset: 0,
    manifestSize: 0,
    monitorDataOffset: 0,
    monitorDataSize: 0,
    monitorCodeOffset: 0,
    monitorCodeSize: 0,
    isMonitorEnabled: 0,
    swbromCodeOffset: 0,
    swbromCodeSize: 0,
    swbromDataOffset: 0,
    swbromDataSize: 0,
  });
  assert.deepEqual(bl.ucode, file.subarray(100));
});

Deno.test("riscv bootloader: version 5 forge round-trips (the GA102 570.144 layout)", () => {
  const file = forgeRiscvBootloader({ version: 5, signedAsCode: 1 });
  assert.equal(file.length, 24684);
  const bl = parseRiscvBootloader(file);
  assert.equal(bl.descriptorSize, 84);
  assert.equal(bl.binHeader.dataOffset, 108);
  assert.equal(bl.binHeader.binSize, 0x6100);
  assert.deepEqual(bl.descriptor, {
    version: 5,
    bootloaderOffset: 0x5000,
    bootloaderSize: 0x880,
    bootloaderParamOffset: 0x5880,
    bootloaderParamSize: 0x10,
    riscvElfOffset: 0,
    riscvElfSize: 0,
    appVersion: 0,
    manifestOffset: 0,
    manifestSize: 0x800,
    monitorDataOffset: 0x800,
    monitorDataSize: 0x1000,
    monitorCodeOffset: 0x1800,
    monitorCodeSize: 0x2900,
    isMonitorEnabled: 1,
    swbromCodeOffset: 0,
    swbromCodeSize: 0,
    swbromDataOffset: 0,
    swbromDataSize: 0,
    fbReservedSize: 0x6000,
    signedAsCode: 1,
  });
  assert.equal(bl.ucode.length, 0x6000);
  assert.deepEqual(bl.ucode, file.subarray(108));
});

Deno.test("riscv bootloader: a Hopper-style forge without bootloader code", () => {
  const bl = parseRiscvBootloader(forgeRiscvBootloader({
    version: 5,
    bootloaderSize: 0,
    bootloaderParamSize: 0,
    manifestSize: 0xa00,
    monitorDataSize: 0xa700,
    monitorCodeSize: 0x1d500,
    fbReservedSize: 0,
  }));
  const d = bl.descriptor;
  assert.deepEqual(
    [d.bootloaderOffset, d.bootloaderSize, d.bootloaderParamOffset, d.bootloaderParamSize],
    [0, 0, 0, 0],
  );
  assert.deepEqual([d.manifestOffset, d.monitorDataOffset, d.monitorCodeOffset], [
    0,
    0xa00,
    0xb100,
  ]);
  assert.equal(d.fbReservedSize, 0);
  assert.equal(bl.ucode.length, 0x29000);
});

Deno.test("riscv bootloader: the forge is deterministic", () => {
  assert.deepEqual(forgeRiscvBootloader({ seed: 9 }), forgeRiscvBootloader({ seed: 9 }));
  assert.notDeepEqual(forgeRiscvBootloader({ seed: 9 }), forgeRiscvBootloader({ seed: 10 }));
});

Deno.test("riscv bootloader: format errors name the field", () => {
  const v5 = forgeRiscvBootloader({ version: 5 });
  const v4 = forgeRiscvBootloader({ version: 4 });
  assertFormatError(() => parseRiscvBootloader(v5.subarray(0, 20)), "binHeader", 0);
  assertFormatError(() => parseRiscvBootloader(v5.subarray(0, 1000)), "binHeader.dataSize", 20);
  assertFormatError(() => parseRiscvBootloader(withU32(v5, 0, 0x10dd)), "binHeader.binMagic", 0);
  for (const version of [0, 3, 6, 0xffffffff]) {
    const err = assertFormatError(
      () => parseRiscvBootloader(withU32(v5, 24, version)),
      "descriptor.version",
      24,
    );
    assert.match(err.reason, /known: 4, 5/);
  }
  // A descriptor that starts too close to the end of the file.
  assertFormatError(
    () => parseRiscvBootloader(withU32(v5, 12, v5.length - 2)),
    "descriptor.version",
  );
  const nearEnd = withU32(withU32(v5, 12, v5.length - 40), v5.length - 40, 5);
  assertFormatError(() => parseRiscvBootloader(nearEnd), "descriptor", v5.length - 40);
  // Ranges outside the ucode.
  assertFormatError(
    () => parseRiscvBootloader(withU32(v5, fieldAt("monitorCodeSize"), 0x6000)),
    "descriptor.monitorCodeOffset",
    fieldAt("monitorCodeOffset"),
  );
  assertFormatError(
    () => parseRiscvBootloader(withU32(v5, fieldAt("bootloaderParamOffset"), 0x5ff8)),
    "descriptor.bootloaderParamOffset",
    fieldAt("bootloaderParamOffset"),
  );
  assertFormatError(
    () => parseRiscvBootloader(withU32(v5, fieldAt("manifestOffset"), 0xffffffff)),
    "descriptor.manifestOffset",
    fieldAt("manifestOffset"),
  );
  assertFormatError(
    () => parseRiscvBootloader(withU32(v4, fieldAt("riscvElfSize"), 0x1001)),
    "descriptor.riscvElfOffset",
    fieldAt("riscvElfOffset"),
  );
  assertFormatError(
    () => parseRiscvBootloader(withU32(v4, fieldAt("swbromDataOffset"), 0x1001)),
    "descriptor.swbromDataOffset",
  );
  // Shrinking the payload makes the bootloader fall outside it.
  assertFormatError(
    () => parseRiscvBootloader(withU32(v4, 20, 0x400)),
    "descriptor.bootloaderOffset",
    fieldAt("bootloaderOffset"),
  );
  const err = assertFormatError(
    () => parseRiscvBootloader(withU32(v4, 20, 0x400), "bootloader-535.113.01.bin"),
    "descriptor.bootloaderOffset",
  );
  assert.equal(err.file, "bootloader-535.113.01.bin");
});

Deno.test("riscv bootloader: prefixes and 3000 mutations give only FirmwareFormatError", () => {
  const v4 = forgeRiscvBootloader({ version: 4 });
  for (let n = 0; n < v4.length; n++) {
    assert.throws(() => parseRiscvBootloader(v4.subarray(0, n)), FirmwareFormatError);
  }
  const v5 = forgeRiscvBootloader({ version: 5 });
  let x = 0x5eed;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  for (let i = 0; i < 3000; i++) {
    const bytes = (i % 2 ? v4 : v5).slice();
    const view = new DataView(bytes.buffer);
    const at = (next() % 27) * 4; // bin header and descriptor words
    view.setUint32(at, next() % 2 ? next() % 0x8000 : next(), true);
    try {
      parseRiscvBootloader(bytes);
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `mutation ${i}: ${e}`);
    }
  }
});

for (const chip of CHIPS) {
  for (const version of FIRMWARE_VERSIONS) {
    for (const f of firmwareFiles(chip, version).filter((f) => f.kind === "riscv-bootloader")) {
      realFirmwareTest(`riscv bootloader: real ${f.path}`, [f.path], ([path]) => {
        const bytes = Deno.readFileSync(path);
        const bl = parseRiscvBootloader(bytes, path);
        const d = bl.descriptor;
        const old = chip.family === "tu10x" || chip.family === "tu11x" || chip.family === "ga100";
        const fsp = chip.family === "gh100" || chip.family === "gb10x" || chip.family === "gb20x";
        assert.equal(d.version, old ? 4 : 5);
        assert.equal(bl.descriptorSize, old ? 76 : 84);
        assert.equal(bl.binHeader.dataOffset - bl.binHeader.headerOffset, bl.descriptorSize);
        assert.equal(bl.ucode.length, bl.binHeader.dataSize);
        assert.equal(bl.ucode.length, bytes.length - bl.binHeader.dataOffset);
        assert.deepEqual(bl.ucode, bytes.subarray(bl.binHeader.dataOffset));
        if (old) {
          assert.equal(bytes.length, 4196);
          assert.equal(bl.ucode.length, 4096);
          assert.deepEqual([d.bootloaderOffset, d.bootloaderSize], [0, 0x488]);
          assert.deepEqual([d.bootloaderParamOffset, d.bootloaderParamSize], [0x488, 0x10]);
          for (const name of ["manifest", "monitorData", "monitorCode"] as const) {
            assert.equal(d[`${name}Offset`], 0, name);
            assert.equal(d[`${name}Size`], 0, name);
          }
          assert.equal(d.isMonitorEnabled, 0);
          assert.equal(d.fbReservedSize, undefined);
          assert.equal(d.signedAsCode, undefined);
        } else if (fsp) {
          assert.deepEqual([d.bootloaderOffset, d.bootloaderSize], [0, 0]);
          assert.deepEqual([d.bootloaderParamOffset, d.bootloaderParamSize], [0, 0]);
          assert.deepEqual([d.manifestOffset, d.manifestSize], [0, 0xa00]);
          assert.equal(d.monitorDataOffset, 0xa00);
          assert.equal(d.monitorCodeOffset, d.monitorDataOffset + d.monitorDataSize);
          assert.ok(d.monitorCodeSize > 0);
          assert.equal(d.isMonitorEnabled, 1);
          assert.equal(d.fbReservedSize, 0);
          assert.ok(bl.ucode.length >= 160 * 1024, `ucode ${bl.ucode.length} bytes`);
        } else {
          assert.deepEqual([d.manifestOffset, d.manifestSize], [0, 0x800]);
          assert.equal(d.monitorDataOffset, 0x800);
          assert.equal(d.monitorCodeOffset, d.monitorDataOffset + d.monitorDataSize);
          assert.ok(d.monitorCodeSize > 0 && d.bootloaderSize > 0);
          assert.equal(d.bootloaderParamOffset, d.bootloaderOffset + d.bootloaderSize);
          assert.equal(d.bootloaderParamSize, 0x10);
          assert.equal(d.isMonitorEnabled, 1);
          assert.equal(d.fbReservedSize, bl.ucode.length);
          assert.equal(d.signedAsCode, 0);
        }
        assert.deepEqual(
          [d.riscvElfOffset, d.riscvElfSize, d.swbromCodeSize, d.swbromDataSize],
          [0, 0, 0, 0],
        );
      });
    }
  }
}

realFirmwareTest(
  "riscv bootloader: the forge reproduces the real TU102 and GA102 headers byte for byte",
  ["nvidia/tu102/gsp/bootloader-535.113.01.bin", "nvidia/ga102/gsp/bootloader-570.144.bin"],
  ([tuPath, gaPath]) => {
    const tu = Deno.readFileSync(tuPath);
    const tuForged = forgeRiscvBootloader({ version: 4 });
    assert.equal(tuForged.length, tu.length);
    assert.deepEqual(tuForged.subarray(0, 100), tu.subarray(0, 100));
    const ga = Deno.readFileSync(gaPath);
    const gaForged = forgeRiscvBootloader({ version: 5 });
    assert.equal(gaForged.length, ga.length);
    assert.deepEqual(gaForged.subarray(0, 108), ga.subarray(0, 108));
  },
);
