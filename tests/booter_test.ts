import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";
import {
  booterLoadMap,
  HS_HEADER_V2_SIZE,
  HS_LOAD_APP_SIZE,
  HS_LOAD_HEADER_V2_SIZE,
  parseBooter,
  patchBooter,
  selectBooterSignature,
} from "../firmware/booter.ts";
import { forgeBooter } from "../firmware/forge/hs_firmware.ts";
import { type ChipFamily, CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
import { realFirmwareTest } from "./_real.ts";
import { assertFormatError, withU32 } from "./_assert.ts";

const isZero = (b: Uint8Array) => b.every((x) => x === 0);

// The HS header v2 words as the real Turing and GA10x files have them.
const TURING_HS_HEADER = {
  sigProdOffset: 60,
  sigProdSize: 16,
  patchLocOffset: 76,
  patchSigOffset: 80,
  metaDataOffset: 84,
  metaDataSize: 12,
  numSigOffset: 96,
  headerOffset: 100,
  headerSize: 36,
};
const GA10X_HS_HEADER = {
  sigProdOffset: 60,
  sigProdSize: 768,
  patchLocOffset: 828,
  patchSigOffset: 832,
  metaDataOffset: 836,
  metaDataSize: 12,
  numSigOffset: 848,
  headerOffset: 852,
  headerSize: 36,
};

Deno.test("booter: layout constants", () => {
  assert.equal(HS_HEADER_V2_SIZE, 36);
  assert.equal(HS_LOAD_HEADER_V2_SIZE, 20);
  assert.equal(HS_LOAD_APP_SIZE, 16);
});

Deno.test("booter: Turing-style forge round-trips every field", () => {
  const file = forgeBooter({ appCodeSizes: [0x2000], osDataSize: 0x1000, pkcDataOffset: 16 });
  const b = parseBooter(file, "forged.bin");
  const dataOffset = 136;
  const imageSize = 256 + 0x2000 + 0x1000;
  assert.equal(file.length, dataOffset + imageSize);
  assert.deepEqual(b.binHeader, {
    binMagic: 0x10de,
    binVersion: 1,
    binSize: Math.ceil(file.length / 256) * 256,
    headerOffset: 24,
    dataOffset,
    dataSize: imageSize,
  });
  assert.deepEqual(b.hsHeader, TURING_HS_HEADER);
  assert.deepEqual(b.signatureParams, { fuseVersion: 0, engineIdMask: 1, ucodeId: 13 });
  assert.deepEqual(b.loadHeader, {
    osCodeOffset: 0,
    osCodeSize: 256,
    osDataOffset: 256 + 0x2000,
    osDataSize: 0x1000,
    numApps: 1,
    apps: [{ codeOffset: 256, codeSize: 0x2000, dataOffset: 256, dataSize: 0 }],
  });
  assert.equal(b.patchLocation, 256 + 0x2000 + 16);
  assert.equal(b.patchSignatureOffset, 0);
  assert.equal(b.signaturesOffset, 60);
  assert.equal(b.signatureCount, 1);
  assert.equal(b.signatureSize, 16);
  assert.equal(b.signatures.length, 1);
  assert.deepEqual(b.signatures[0], file.subarray(60, 76));
  assert.ok(!isZero(b.signatures[0]));
  assert.deepEqual(b.image, file.subarray(dataOffset));
  assert.ok(isZero(b.image.subarray(b.patchLocation, b.patchLocation + 16)));
});

Deno.test("booter: GA10x-style forge round-trips, with the zero second signature", () => {
  const file = forgeBooter({
    signatureSize: 384,
    signatureCount: 2,
    fuseVersion: 1,
    ucodeId: 3,
    zeroSignatureIndex: 1,
    appCodeSizes: [0x1000],
    osDataSize: 0x800,
    pkcDataOffset: 0x40,
  });
  const b = parseBooter(file);
  assert.deepEqual(b.hsHeader, GA10X_HS_HEADER);
  assert.equal(b.binHeader.dataOffset, 888);
  assert.deepEqual(b.signatureParams, { fuseVersion: 1, engineIdMask: 1, ucodeId: 3 });
  assert.equal(b.signatureCount, 2);
  assert.equal(b.signatureSize, 384);
  assert.deepEqual(b.signatures[0], file.subarray(60, 444));
  assert.deepEqual(b.signatures[1], file.subarray(444, 828));
  assert.ok(!isZero(b.signatures[0]));
  assert.ok(isZero(b.signatures[1]));
  assert.equal(b.patchLocation, 256 + 0x1000 + 0x40);
});

Deno.test("booter: several apps are read as 16-byte entries", () => {
  const b = parseBooter(forgeBooter({ appCodeSizes: [0x100, 0x200, 0x300] }));
  assert.equal(b.hsHeader.headerSize, 20 + 3 * 16);
  assert.equal(b.loadHeader.numApps, 3);
  assert.deepEqual(
    b.loadHeader.apps.map((a) => [a.codeOffset, a.codeSize]),
    [[0x100, 0x100], [0x200, 0x200], [0x400, 0x300]],
  );
  assert.equal(b.loadHeader.osDataOffset, 0x700);
  assertFormatError(() => booterLoadMap(b, { layout: "ga102" }), "loadHeader.numApps");
});

Deno.test("booter: the forge is deterministic and the seed matters", () => {
  const options = { signatureSize: 384, signatureCount: 2, seed: 7 };
  assert.deepEqual(forgeBooter(options), forgeBooter(options));
  assert.notDeepEqual(forgeBooter(options), forgeBooter({ ...options, seed: 8 }));
});

Deno.test("booter: signature selection follows the chip's fuse version", () => {
  const twoSigs = parseBooter(
    forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1, ucodeId: 3 }),
  );
  assert.equal(selectBooterSignature(twoSigs, 0), 1); // 0 → the last one
  assert.equal(selectBooterSignature(twoSigs, 1), 0); // firmware fuse version 1 − chip fuse version 1
  const err = assertFormatError(
    () => selectBooterSignature(twoSigs, 2),
    "signatureParams.fuseVersion",
    twoSigs.hsHeader.metaDataOffset,
  );
  assert.match(err.reason, /chip fuse version 2 with the firmware's fuse version 1/);

  const threeSigs = parseBooter(forgeBooter({ signatureCount: 3, fuseVersion: 2 }));
  assert.equal(selectBooterSignature(threeSigs, 0), 2);
  assert.equal(selectBooterSignature(threeSigs, 1), 1);
  assert.equal(selectBooterSignature(threeSigs, 2), 0);
  assertFormatError(() => selectBooterSignature(threeSigs, 3), "signatureParams.fuseVersion");

  const turing = parseBooter(forgeBooter());
  assert.equal(selectBooterSignature(turing, 0), 0);
  assertFormatError(() => selectBooterSignature(turing, 1), "signatureParams.fuseVersion");

  assert.throws(() => selectBooterSignature(turing, -1), RangeError);
  assert.throws(() => selectBooterSignature(turing, 1.5), RangeError);
  assert.throws(() => selectBooterSignature(turing, 2 ** 32), RangeError);
  // A register's bit mask is not a version: 0x8000 would be version 16, and 33+ cannot be one.
  assert.throws(() => selectBooterSignature(turing, 33), /not 0–32 \(convert the fuse register/);
  assertFormatError(() => selectBooterSignature(turing, 32), "signatureParams.fuseVersion");
});

Deno.test("booter: an all-zero signature is never selected", () => {
  const b = parseBooter(forgeBooter({
    signatureSize: 384,
    signatureCount: 2,
    fuseVersion: 1,
    zeroSignatureIndex: 1,
  }));
  const err = assertFormatError(() => selectBooterSignature(b, 0), "signatures[1]", 60 + 384);
  assert.match(err.reason, /all zeros/);
  assertFormatError(() => patchBooter(b, 0), "signatures[1]");
  assert.equal(selectBooterSignature(b, 1), 0);

  const first = parseBooter(
    forgeBooter({ signatureCount: 2, fuseVersion: 1, zeroSignatureIndex: 0 }),
  );
  assertFormatError(() => selectBooterSignature(first, 1), "signatures[0]", 60);
  assert.equal(selectBooterSignature(first, 0), 1);
});

Deno.test("booter: patching writes the signature into a copy and computes the BROM params", () => {
  const file = forgeBooter({
    signatureSize: 384,
    signatureCount: 2,
    fuseVersion: 1,
    ucodeId: 3,
    engineIdMask: 1,
    pkcDataOffset: 0x30,
  });
  const before = file.slice();
  const b = parseBooter(file);
  for (const [fuseVersion, index] of [[0, 1], [1, 0]]) {
    const p = patchBooter(b, fuseVersion);
    assert.equal(p.signatureIndex, index);
    assert.deepEqual(p.brom, { pkcDataOffset: 0x30, engineIdMask: 1, ucodeId: 3 });
    assert.notEqual(p.image, b.image);
    assert.equal(p.image.length, b.image.length);
    const at = b.patchLocation;
    assert.deepEqual(p.image.subarray(at, at + 384), b.signatures[index]);
    assert.deepEqual(p.image.subarray(0, at), b.image.subarray(0, at));
    assert.deepEqual(p.image.subarray(at + 384), b.image.subarray(at + 384));
  }
  assert.deepEqual(file, before, "the parsed file is untouched");
  assert.ok(isZero(b.image.subarray(b.patchLocation, b.patchLocation + 384)));
});

Deno.test("booter: patching refuses ids too wide for the BROM registers", () => {
  const wideMask = parseBooter(forgeBooter({ engineIdMask: 0x10000 }));
  assertFormatError(
    () => patchBooter(wideMask, 0),
    "signatureParams.engineIdMask",
    wideMask.hsHeader.metaDataOffset + 4,
  );
  const wideId = parseBooter(forgeBooter({ ucodeId: 256 }));
  assertFormatError(
    () => patchBooter(wideId, 0),
    "signatureParams.ucodeId",
    wideId.hsHeader.metaDataOffset + 8,
  );
});

Deno.test("booter: load map for the Turing/GA100 and GA102+ layouts", () => {
  const b = parseBooter(forgeBooter({ appCodeSizes: [0x2000], osDataSize: 0x1000 }));
  assert.deepEqual(booterLoadMap(b, { layout: "tu102" }), {
    imemNonSecure: { srcStart: 0, dstStart: 0, length: 256 },
    imemSecure: { srcStart: 256, dstStart: 256, length: 0x2000 },
    dmem: { srcStart: 0x2100, dstStart: 0, length: 0x1000 },
    bootAddress: 0,
  });
  assert.deepEqual(booterLoadMap(b, { layout: "ga102" }), {
    imemSecure: { srcStart: 256, dstStart: 0, length: 0x2000 },
    dmem: { srcStart: 0x2100, dstStart: 0, length: 0x1000 },
    bootAddress: 256,
  });
});

Deno.test("booter: format errors name the field", () => {
  const file = forgeBooter();
  const hs = 24;
  assertFormatError(() => parseBooter(file.subarray(0, 10)), "binHeader", 0);
  assertFormatError(() => parseBooter(file.subarray(0, 200)), "binHeader.dataSize", 20);
  assertFormatError(() => parseBooter(withU32(file, 0, 0xde10)), "binHeader.binMagic", 0);
  assertFormatError(() => parseBooter(withU32(file, 12, file.length - 8)), "hsHeader");
  assertFormatError(
    () => parseBooter(withU32(file, hs, file.length)),
    "hsHeader.sigProdOffset",
    hs,
  );
  assertFormatError(
    () => parseBooter(withU32(file, hs + 8, file.length - 2)),
    "hsHeader.patchLocOffset",
    hs + 8,
  );
  assertFormatError(
    () => parseBooter(withU32(file, hs + 12, 0xffffffff)),
    "hsHeader.patchSigOffset",
    hs + 12,
  );
  assertFormatError(
    () => parseBooter(withU32(file, hs + 16, file.length - 4)),
    "hsHeader.metaDataOffset",
    hs + 16,
  );
  assertFormatError(() => parseBooter(withU32(file, hs + 20, 8)), "hsHeader.metaDataSize", hs + 20);
  assertFormatError(
    () => parseBooter(withU32(file, hs + 24, file.length)),
    "hsHeader.numSigOffset",
    hs + 24,
  );
  assertFormatError(
    () => parseBooter(withU32(file, hs + 28, file.length - 20)),
    "hsHeader.headerOffset",
    hs + 28,
  );
  assertFormatError(() => parseBooter(withU32(file, hs + 32, 20)), "hsHeader.headerSize", hs + 32);
  // A patch-sig value that pushes the signatures out of the file.
  assertFormatError(
    () => parseBooter(withU32(file, 80, file.length)),
    "hsHeader.sigProdOffset",
    hs,
  );
});

Deno.test("booter: signature count errors", () => {
  const turing = forgeBooter();
  assertFormatError(() => parseBooter(withU32(turing, 96, 0)), "signatureCount", 96);
  // 16 bytes do not divide into 3 signatures.
  assertFormatError(() => parseBooter(withU32(turing, 96, 3)), "hsHeader.sigProdSize", 28);
  // More signatures than bytes.
  assertFormatError(() => parseBooter(withU32(turing, 96, 32)), "hsHeader.sigProdSize", 28);
  assertFormatError(() => parseBooter(withU32(turing, 28, 0)), "hsHeader.sigProdSize", 28);
  const ga = forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 });
  assertFormatError(() => parseBooter(withU32(ga, 848, 5)), "hsHeader.sigProdSize", 28);
  assertFormatError(() => parseBooter(withU32(ga, 28, 767)), "hsHeader.sigProdSize", 28);
  // 768 bytes read as 4 signatures of 192 is a valid (if odd) file.
  assert.equal(parseBooter(withU32(ga, 848, 4)).signatureSize, 192);
});

Deno.test("booter: load header and image range errors", () => {
  const file = forgeBooter({ appCodeSizes: [0x2000], osDataSize: 0x1000, pkcDataOffset: 16 });
  const lh = 100; // load header file offset in a Turing-style file
  const imageSize = 256 + 0x2000 + 0x1000;
  assertFormatError(() => parseBooter(withU32(file, lh + 16, 0)), "loadHeader.numApps", lh + 16);
  assertFormatError(() => parseBooter(withU32(file, lh + 16, 2)), "loadHeader.numApps", lh + 16);
  assertFormatError(
    () => parseBooter(withU32(file, lh + 16, 0xffffffff)),
    "loadHeader.numApps",
    lh + 16,
  );
  assertFormatError(
    () => parseBooter(withU32(file, lh + 4, imageSize + 1)),
    "loadHeader.osCodeOffset",
    lh,
  );
  assertFormatError(
    () => parseBooter(withU32(file, lh + 12, 0x1001)),
    "loadHeader.osDataOffset",
    lh + 8,
  );
  assertFormatError(
    () => parseBooter(withU32(file, lh + 24, imageSize)),
    "loadHeader.apps[0].codeOffset",
    lh + 20,
  );
  assertFormatError(
    () => parseBooter(withU32(file, lh + 28, imageSize + 4)),
    "loadHeader.apps[0].dataOffset",
    lh + 28,
  );
  // Patch location before the OS data, and running past its end.
  assertFormatError(() => parseBooter(withU32(file, 76, 0x100)), "patchLocation", 76);
  assertFormatError(() => parseBooter(withU32(file, 76, imageSize - 8)), "patchLocation", 76);
  assertFormatError(() => parseBooter(withU32(file, 76, 0xfffffff0)), "patchLocation", 76);
});

Deno.test("booter: errors carry the file name", () => {
  const err = assertFormatError(
    () => parseBooter(withU32(forgeBooter(), 96, 0), "booter_load-570.144.bin"),
    "signatureCount",
  );
  assert.equal(err.file, "booter_load-570.144.bin");
});

/** xorshift32, for reproducible mutations. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Parse and use a file; only FirmwareFormatError may escape. */
function exercise(bytes: Uint8Array, what: string): void {
  try {
    const b = parseBooter(bytes);
    for (const fuseVersion of [0, 1, 2]) {
      try {
        patchBooter(b, fuseVersion);
      } catch (e) {
        assert.ok(e instanceof FirmwareFormatError, `${what}, fuse version ${fuseVersion}: ${e}`);
      }
    }
    try {
      booterLoadMap(b, { layout: "tu102" });
      booterLoadMap(b, { layout: "ga102" });
    } catch (e) {
      assert.ok(e instanceof FirmwareFormatError, `${what}, load map: ${e}`);
    }
  } catch (e) {
    assert.ok(e instanceof FirmwareFormatError, `${what}: ${e}`);
  }
}

Deno.test("booter: every prefix of a file fails only with FirmwareFormatError", () => {
  const file = forgeBooter({ appCodeSizes: [0x100], osDataSize: 0x100 });
  for (let n = 0; n < file.length; n++) {
    assert.throws(() => parseBooter(file.subarray(0, n)), FirmwareFormatError, `prefix ${n}`);
  }
  parseBooter(file);
});

Deno.test("booter: 5000 header mutations give only FirmwareFormatError", () => {
  const bases = [
    forgeBooter({ appCodeSizes: [0x100], osDataSize: 0x100 }),
    forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1, osDataSize: 0x400 }),
  ];
  const next = rng(0xb007e4);
  const interesting = [0, 1, 4, 12, 16, 20, 24, 36, 255, 256, 0x7fffffff, 0xffffffff];
  for (let i = 0; i < 5000; i++) {
    const base = bases[i % bases.length];
    const bytes = base.slice();
    const view = new DataView(bytes.buffer);
    const headerEnd = view.getUint32(16, true) + 32;
    for (let k = 0; k <= next() % 3; k++) {
      const at = (next() % (headerEnd >> 2)) * 4;
      const value = next() % 2 ? interesting[next() % interesting.length] : next();
      view.setUint32(at, value >>> 0, true);
    }
    exercise(bytes, `mutation ${i}`);
  }
});

interface BooterExpectation {
  signatureSize: number;
  signatureCount: number;
  fuseVersion: number;
  ucodeId: number;
  zeroSignatures: boolean[];
  pkcDataOffset: number;
  /** Chip fuse version that selects a real signature, and that signature's index. */
  chipFuseVersion: number;
  index: number;
}

const BOOTER_EXPECTATIONS: Partial<Record<ChipFamily, BooterExpectation>> = {
  tu10x: {
    signatureSize: 16,
    signatureCount: 1,
    fuseVersion: 0,
    ucodeId: 13,
    zeroSignatures: [false],
    pkcDataOffset: 512,
    chipFuseVersion: 0,
    index: 0,
  },
  tu11x: {
    signatureSize: 16,
    signatureCount: 1,
    fuseVersion: 0,
    ucodeId: 13,
    zeroSignatures: [false],
    pkcDataOffset: 512,
    chipFuseVersion: 0,
    index: 0,
  },
  ga100: {
    signatureSize: 384,
    signatureCount: 1,
    fuseVersion: 0,
    ucodeId: 3,
    zeroSignatures: [false],
    pkcDataOffset: 512,
    chipFuseVersion: 0,
    index: 0,
  },
  ga10x: {
    signatureSize: 384,
    signatureCount: 2,
    fuseVersion: 1,
    ucodeId: 3,
    zeroSignatures: [false, true],
    pkcDataOffset: 16,
    chipFuseVersion: 1,
    index: 0,
  },
  ad10x: {
    signatureSize: 384,
    signatureCount: 2,
    fuseVersion: 1,
    ucodeId: 3,
    zeroSignatures: [false, false],
    pkcDataOffset: 16,
    chipFuseVersion: 0,
    index: 1,
  },
};

// The Ada scrubber differs from the Ada Booter in its ucode id and patch place.
const SCRUBBER_OVERRIDES = { ucodeId: 13, pkcDataOffset: 0 };

for (const chip of CHIPS) {
  for (const version of FIRMWARE_VERSIONS) {
    for (const f of firmwareFiles(chip, version).filter((f) => f.kind === "booter")) {
      const base = BOOTER_EXPECTATIONS[chip.family];
      if (!base) throw new Error(`no Booter expectations for ${chip.family}`);
      const want = f.name === "scrubber" ? { ...base, ...SCRUBBER_OVERRIDES } : base;
      realFirmwareTest(`booter: real ${f.path}`, [f.path], ([path]) => {
        const bytes = Deno.readFileSync(path);
        const b = parseBooter(bytes, path);
        assert.equal(b.binHeader.headerOffset, 24);
        assert.equal(b.binHeader.dataOffset + b.binHeader.dataSize, bytes.length);
        assert.deepEqual(
          b.hsHeader,
          want.signatureCount === 2 ? GA10X_HS_HEADER : {
            ...TURING_HS_HEADER,
            ...(want.signatureSize === 384
              ? {
                sigProdSize: 384,
                patchLocOffset: 444,
                patchSigOffset: 448,
                metaDataOffset: 452,
                numSigOffset: 464,
                headerOffset: 468,
              }
              : {}),
          },
        );
        assert.equal(b.signaturesOffset, 60);
        assert.equal(b.patchSignatureOffset, 0);
        assert.equal(b.signatureSize, want.signatureSize);
        assert.equal(b.signatureCount, want.signatureCount);
        assert.deepEqual(b.signatureParams, {
          fuseVersion: want.fuseVersion,
          engineIdMask: 1,
          ucodeId: want.ucodeId,
        });
        assert.deepEqual(b.signatures.map(isZero), want.zeroSignatures);

        const load = b.loadHeader;
        assert.equal(load.numApps, 1);
        assert.equal(load.osCodeOffset, 0);
        assert.equal(load.osCodeSize, 256);
        assert.equal(load.apps[0].codeOffset, 256);
        assert.equal(load.osDataOffset, 256 + load.apps[0].codeSize);
        // The image ends with the OS data, except Ada's booter_unload, which has 256 zero
        // bytes after it.
        const tail = chip.family === "ad10x" && f.name === "booter_unload" ? 256 : 0;
        const dataEnd = load.osDataOffset + load.osDataSize;
        assert.equal(b.image.length - dataEnd, tail);
        assert.ok(isZero(b.image.subarray(dataEnd)));
        assert.equal(b.image.length, bytes.length - b.binHeader.dataOffset);

        const p = patchBooter(b, want.chipFuseVersion);
        assert.equal(p.signatureIndex, want.index);
        assert.deepEqual(p.brom, {
          pkcDataOffset: want.pkcDataOffset,
          engineIdMask: 1,
          ucodeId: want.ucodeId,
        });
        const at = b.patchLocation;
        assert.ok(
          isZero(b.image.subarray(at, at + b.signatureSize)),
          "unpatched image is zero there",
        );
        assert.deepEqual(p.image.subarray(at, at + b.signatureSize), b.signatures[want.index]);

        if (chip.family === "ga10x") {
          // Fuse version 0 would pick the last signature, which is the all-zero one.
          assertFormatError(() => selectBooterSignature(b, 0), "signatures[1]");
        }
        const layout = chip.family === "ga10x" || chip.family === "ad10x" ? "ga102" : "tu102";
        const map = booterLoadMap(b, { layout });
        assert.deepEqual(map.dmem, {
          srcStart: load.osDataOffset,
          dstStart: 0,
          length: load.osDataSize,
        });
        assert.equal(map.bootAddress, layout === "tu102" ? 0 : 256);
      });
    }
  }
}

realFirmwareTest(
  "booter: the forge reproduces the real TU102 and GA102 headers byte for byte",
  ["nvidia/tu102/gsp/booter_load-570.144.bin", "nvidia/ga102/gsp/booter_load-570.144.bin"],
  ([tuPath, gaPath]) => {
    const tu = Deno.readFileSync(tuPath);
    const tuReal = parseBooter(tu);
    const tuForged = forgeBooter({
      appCodeSizes: [tuReal.loadHeader.apps[0].codeSize],
      osDataSize: tuReal.loadHeader.osDataSize,
      pkcDataOffset: 512,
    });
    assert.equal(tuForged.length, tu.length);
    // Everything before the image but the signature bytes (60..76).
    assert.deepEqual(tuForged.subarray(0, 60), tu.subarray(0, 60));
    assert.deepEqual(tuForged.subarray(76, 136), tu.subarray(76, 136));

    const ga = Deno.readFileSync(gaPath);
    const gaReal = parseBooter(ga);
    const gaForged = forgeBooter({
      signatureSize: 384,
      signatureCount: 2,
      fuseVersion: 1,
      ucodeId: 3,
      appCodeSizes: [gaReal.loadHeader.apps[0].codeSize],
      osDataSize: gaReal.loadHeader.osDataSize,
      pkcDataOffset: 16,
    });
    assert.equal(gaForged.length, ga.length);
    assert.deepEqual(gaForged.subarray(0, 60), ga.subarray(0, 60));
    assert.deepEqual(gaForged.subarray(828, 888), ga.subarray(828, 888));
  },
);
