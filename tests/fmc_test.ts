import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import { type ChipFamily, CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
import { countingSource } from "../firmware/byte_source.ts";
import {
  FMC_HASH_SIZE,
  FMC_PUBLIC_KEY_MAX_SIZE,
  FMC_SIGNATURE_MAX_SIZE,
  FMC_SIGNATURES_SIZE,
  fmcSignatures,
  parseFmc,
} from "../firmware/fmc.ts";
import { parseElf, requireSection, sectionBytes } from "../firmware/elf.ts";
import { FMC_SIZES, forgeElf, forgeFmc } from "../firmware/forge/elf.ts";
import { patternBytes } from "../firmware/forge/_writer.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { realFirmwareTest } from "./_real.ts";
import { assertFormatError } from "./_assert.ts";

const isZero = (b: Uint8Array) => b.every((x) => x === 0);

/** What the real 570.144 FMC files hold, per family (sizes from readelf). */
const REAL_FMC: Partial<Record<ChipFamily, { publicKey: number; signature: number }>> = {
  gh100: { publicKey: 384, signature: 384 },
  gb10x: { publicKey: 97, signature: 96 },
  gb20x: { publicKey: 97, signature: 96 },
};
/** `image` sizes of the real files, by the folder the bytes live in. */
const REAL_IMAGE_SIZE: Record<string, number> = {
  gh100: 0x28648,
  gb100: 0x30348,
  gb102: 0x30348,
  gb202: 0x30a48,
};

Deno.test("parseFmc on forged files of every family", () => {
  for (const [family, sizes] of Object.entries(FMC_SIZES)) {
    const bytes = forgeFmc({ sizes, imageSize: 5000, seed: 9 });
    const fmc = parseFmc(bytes, `${family}/fmc.bin`);
    assert.deepEqual(fmc.sizes, {
      image: 5000,
      hash: 48,
      publicKey: sizes.publicKey,
      signature: sizes.signature,
    });
    assert.equal(fmc.elf.elfClass, 32);
    assert.deepEqual(fmc.image, patternBytes(5000, 9 + 4));
    assert.deepEqual(fmc.hash, patternBytes(48, 9 + 1));
    assert.deepEqual(fmc.signature, patternBytes(sizes.signature, 9 + 2));
    assert.deepEqual(fmc.publicKey, patternBytes(sizes.publicKey, 9 + 3));
  }
});

Deno.test("fmcSignatures: hash ‖ key padded to 384 ‖ signature padded to 384", () => {
  assert.equal(FMC_SIGNATURES_SIZE, 816);
  const fmc = parseFmc(forgeFmc({ sizes: FMC_SIZES.gb20x }));
  const block = fmcSignatures(fmc);
  assert.equal(block.length, 816);
  assert.deepEqual(block.subarray(0, 48), fmc.hash);
  assert.deepEqual(block.subarray(48, 48 + 97), fmc.publicKey);
  assert.ok(isZero(block.subarray(48 + 97, 432)));
  assert.deepEqual(block.subarray(432, 432 + 96), fmc.signature);
  assert.ok(isZero(block.subarray(432 + 96)));
  const full = parseFmc(forgeFmc());
  const fullBlock = fmcSignatures(full);
  assert.deepEqual(fullBlock.subarray(48, 432), full.publicKey);
  assert.deepEqual(fullBlock.subarray(432), full.signature);
  assert.throws(
    () => fmcSignatures({ ...full, signature: new Uint8Array(385) }),
    RangeError,
  );
});

Deno.test("errors: hash size, key and signature limits, empty and missing sections", () => {
  const file = "fmc-570.144.bin";
  const hash47 = forgeFmc({ sizes: { hash: 47 } });
  const hashHeader = requireSection(parseElf(hash47), "hash").headerOffset;
  const e = assertFormatError(() => parseFmc(hash47, file), "elf.section(hash)", hashHeader);
  assert.equal(e.file, file);
  assert.match(e.reason, /47 bytes, expected 48/);
  assertFormatError(() => parseFmc(forgeFmc({ sizes: { hash: 49 } })), "elf.section(hash)");
  assertFormatError(
    () => parseFmc(forgeFmc({ sizes: { publicKey: FMC_PUBLIC_KEY_MAX_SIZE + 1 } })),
    "elf.section(publickey)",
  );
  assertFormatError(
    () => parseFmc(forgeFmc({ sizes: { signature: FMC_SIGNATURE_MAX_SIZE + 1 } })),
    "elf.section(signature)",
  );
  assertFormatError(
    () => parseFmc(forgeFmc({ sizes: { signature: 0 } })),
    "elf.section(signature)",
  );
  assertFormatError(() => parseFmc(forgeFmc({ imageSize: 0 })), "elf.section(image)");
  const noImage = forgeElf({
    elfClass: 32,
    tableAt: "start",
    sections: ["hash", "signature", "publickey"].map((name) => ({
      name,
      data: new Uint8Array(name === "hash" ? 48 : 96),
    })),
  });
  const missing = assertFormatError(() => parseFmc(noImage), "elf.section(image)", 52);
  assert.match(missing.reason, /\.shstrtab, hash, signature, publickey/);
  assertFormatError(() => parseFmc(new Uint8Array(60), file), "elf.ident.magic", 0);
});

Deno.test("2000 random header mutations give a result or a FirmwareFormatError", () => {
  const sample = forgeFmc({ sizes: FMC_SIZES.gb10x, imageSize: 256 });
  const rand = patternBytes(2000 * 3, 5);
  for (let i = 0; i < 2000; i++) {
    const bytes = sample.slice();
    // The ELF header, section table and .shstrtab fill the first 0x150 bytes.
    const where = (rand[i * 3] << 8 | rand[i * 3 + 1]) % 0x150;
    bytes[where] = rand[i * 3 + 2];
    try {
      fmcSignatures(parseFmc(bytes));
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `mutation at ${where}: ${e}`);
    }
  }
});

for (const chip of CHIPS) {
  for (const version of FIRMWARE_VERSIONS) {
    for (const f of firmwareFiles(chip, version).filter((f) => f.kind === "fmc")) {
      const expected = REAL_FMC[chip.family];
      realFirmwareTest(`real ${f.path}: FMC sections for ${chip.family}`, [f.path], ([path]) => {
        assert.ok(expected, `no expectation for family ${chip.family}`);
        using src = fileSource(path);
        const counted = countingSource(src);
        const fmc = parseFmc(counted);
        const s = fmc.sizes;
        // ident, ELF32 header, 6 section headers, .shstrtab (0x2a), then the four sections.
        assert.equal(
          counted.bytesRead,
          16 + 52 + 6 * 40 + 0x2a + s.image + s.hash + s.publicKey + s.signature,
        );
        assert.equal(fmc.elf.elfClass, 32);
        assert.equal(fmc.sizes.hash, FMC_HASH_SIZE);
        assert.equal(fmc.sizes.publicKey, expected.publicKey);
        assert.equal(fmc.sizes.signature, expected.signature);
        const folder = Deno.realPathSync(path).split("/").at(-3)!;
        assert.equal(fmc.sizes.image, REAL_IMAGE_SIZE[folder], `image of ${folder}`);
        // The image is the last section and runs to the end of the file.
        const image = requireSection(fmc.elf, "image");
        assert.equal(image.offset + image.size, src.size);
        assert.deepEqual(fmc.image, sectionBytes(src, image));
        assert.ok(!isZero(fmc.hash) && !isZero(fmc.publicKey) && !isZero(fmc.signature));
        const block = fmcSignatures(fmc);
        assert.deepEqual(block.subarray(0, 48), fmc.hash);
        assert.deepEqual(block.subarray(48, 48 + expected.publicKey), fmc.publicKey);
        assert.ok(isZero(block.subarray(48 + expected.publicKey, 432)));
        assert.deepEqual(block.subarray(432, 432 + expected.signature), fmc.signature);
        assert.ok(isZero(block.subarray(432 + expected.signature)));
      });
    }
  }
}
