// Tests of firmware/detect.ts: the file-name table, detection by content for
// every kind, the try-parse fallback for nvfw bin files without a known name
// (forged and real), and the errors for short and unknown inputs.

import assert from "node:assert/strict";
import { CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
import { parseBooter } from "../firmware/booter.ts";
import { detectFirmwareKind, type FirmwareKind, kindFromFileName } from "../firmware/detect.ts";
import {
  FMC_SIZES,
  forgeBooter,
  forgeBooterTlv,
  forgeFmc,
  forgeFmcTlv,
  forgeGenBootloader,
  forgeGspImage,
  forgeGspTlv,
  forgeRiscvBootloader,
  forgeTlv,
  forgeVbios,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/mod.ts";
import { assertFormatError } from "./_assert.ts";
import { realFirmwareTest } from "./_real.ts";

Deno.test("kindFromFileName: linux-firmware names, TLV names, paths, case and .rom", () => {
  const table: [string, FirmwareKind | undefined][] = [
    ["booter_load-570.144.bin", "booter"],
    ["booter_unload-535.113.01.bin", "booter"],
    ["scrubber-570.144.bin", "booter"],
    ["bootloader-570.144.bin", "riscv-bootloader"],
    ["gen_bootloader-570.144.bin", "gen-bootloader"],
    ["gsp-535.113.01.bin", "gsp-image"],
    ["fmc-570.144.bin", "fmc"],
    ["booter_load.tlv", "booter"],
    ["gsp_bootloader.tlv", "riscv-bootloader"],
    ["gen_bootloader.tlv", "gen-bootloader"],
    ["gsp.tlv", "gsp-image"],
    ["fmc.tlv", "fmc"],
    ["/lib/firmware/nvidia/ga102/gsp/booter_unload-570.144.bin", "booter"],
    ["GSP-570.144.BIN", "gsp-image"],
    ["TU102.rom", "vbios"],
    ["/dumps/board.ROM", "vbios"],
    ["notes.txt", undefined],
    ["booter.bin", undefined],
    ["gsp-570.144.bin.orig", undefined],
    ["gsp-latest.bin", undefined],
    ["constructor.bin", undefined],
    ["__proto__.bin", undefined],
    ["toString", undefined],
    ["/firmware/gsp/", undefined],
    ["", undefined],
  ];
  for (const [name, kind] of table) assert.equal(kindFromFileName(name), kind, name);
});

Deno.test("kindFromFileName agrees with the chip table for every chip and version", () => {
  let count = 0;
  for (const chip of CHIPS) {
    for (const version of FIRMWARE_VERSIONS) {
      for (const file of firmwareFiles(chip, version)) {
        assert.equal(kindFromFileName(file.path), file.kind, file.path);
        count++;
      }
    }
  }
  assert.ok(count > 100, `only ${count} files in the chip table`);
});

Deno.test("detectFirmwareKind: content decides for ELF, TLV and VBIOS, whatever the name", () => {
  const cases: [string, Uint8Array, FirmwareKind][] = [
    ["gsp image", forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_TU }), "gsp-image"],
    ["fmc gh100", forgeFmc(), "fmc"],
    ["fmc gb10x", forgeFmc({ sizes: FMC_SIZES.gb10x }), "fmc"],
    ["gsp tlv", forgeGspTlv(), "tlv"],
    ["booter tlv", forgeBooterTlv(), "tlv"],
    ["fmc tlv", forgeFmcTlv(), "tlv"],
    ["minimal tlv", forgeTlv([["VERS", "1"]]), "tlv"],
    ["vbios without IFR", forgeVbios().bytes, "vbios"],
    ["vbios with IFR", forgeVbios({ ifr: 2 }).bytes, "vbios"],
  ];
  for (const [what, bytes, kind] of cases) {
    assert.equal(detectFirmwareKind(bytes), kind, what);
    // A misleading bin name does not override the content.
    assert.equal(
      detectFirmwareKind(bytes, "booter_load-570.144.bin"),
      kind,
      `${what} named booter`,
    );
    // Only the head is needed for these kinds.
    assert.equal(detectFirmwareKind(bytes.slice(0, 8)), kind, `${what}, first 8 bytes`);
  }
});

Deno.test("detectFirmwareKind: nvfw bin files, by name and without one", () => {
  const cases: [string, Uint8Array, FirmwareKind, string][] = [
    ["turing booter", forgeBooter(), "booter", "booter_load-570.144.bin"],
    [
      "ga102 booter",
      forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1, ucodeId: 3 }),
      "booter",
      "booter_unload-570.144.bin",
    ],
    [
      "riscv v4",
      forgeRiscvBootloader({ version: 4 }),
      "riscv-bootloader",
      "bootloader-570.144.bin",
    ],
    [
      "riscv v5",
      forgeRiscvBootloader({ version: 5 }),
      "riscv-bootloader",
      "bootloader-570.144.bin",
    ],
    ["gen bootloader", forgeGenBootloader(), "gen-bootloader", "gen_bootloader-570.144.bin"],
  ];
  for (const [what, bytes, kind, name] of cases) {
    assert.equal(detectFirmwareKind(bytes, name), kind, `${what} by name`);
    assert.equal(detectFirmwareKind(bytes), kind, `${what} without a name`);
    assert.equal(detectFirmwareKind(bytes, "blob.bin"), kind, `${what} with an unknown name`);
  }
  // For bin files a known name wins over the content (the three kinds share one header).
  assert.equal(detectFirmwareKind(forgeBooter(), "gen_bootloader-570.144.bin"), "gen-bootloader");
  // A .rom name makes an unknown head a VBIOS (dumps with a prefix before 55 AA).
  assert.equal(detectFirmwareKind(new Uint8Array(64), "board.rom"), "vbios");
});

function assertDetectError(bytes: Uint8Array, name: string | undefined, reason: RegExp): void {
  const e = assertFormatError(() => detectFirmwareKind(bytes, name), "magic", 0);
  assert.equal(e.file, name);
  assert.match(e.reason, reason);
}

Deno.test('detectFirmwareKind: files that are no boot blob are "other", not errors', () => {
  const text = new TextEncoder().encode("#!/bin/sh\necho not firmware\n");
  assert.equal(detectFirmwareKind(new Uint8Array(4096), "zeros.bin"), "other");
  assert.equal(detectFirmwareKind(new Uint8Array(0)), "other");
  assert.equal(detectFirmwareKind(text, "notes.txt"), "other");
  // linux-firmware's other falcons' files: unversioned names, even when the base name is one
  // of falconry's (nvdec/scrubber.bin is not the GSP scrubber).
  assert.equal(detectFirmwareKind(new Uint8Array(64), "nvidia/tu102/gr/sw_ctx.bin"), "other");
  assert.equal(detectFirmwareKind(text, "nvidia/tu102/nvdec/scrubber.bin"), "other");
  // An nvfw bin file whose header fits but that none of the GSP parsers accept (ACR, SEC2 ucode).
  const acrLike = new Uint8Array(0x200);
  new DataView(acrLike.buffer).setUint32(0, 0x10de, true);
  new DataView(acrLike.buffer).setUint32(12, 0x18, true); // header offset
  new DataView(acrLike.buffer).setUint32(16, 0x100, true); // data offset
  new DataView(acrLike.buffer).setUint32(20, 0x100, true); // data size
  acrLike.fill(0xff, 0x18, 0x100); // a header none of the GSP kinds reads as theirs
  assert.equal(detectFirmwareKind(acrLike, "nvidia/tu102/acr/ucode_load.bin"), "other");
  assert.equal(detectFirmwareKind(acrLike), "other");
});

Deno.test("detectFirmwareKind: recognised but broken files are errors", () => {
  // The name says what the file is, the content is no firmware at all.
  assertDetectError(new Uint8Array(0), "gsp-570.144.bin", /only 0 bytes.*the name says gsp-image/);
  assertDetectError(new Uint8Array([0x4e, 0x56, 0x46]), "fmc.tlv", /only 3 bytes/);
  assertDetectError(
    new TextEncoder().encode("#!/bin/sh\necho not firmware\n"),
    "booter_load-570.144.bin",
    /unknown magic 23 21 2f 62.*the name says booter/,
  );
  assertDetectError(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]), "x", /too short for its class/);
  assertDetectError(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 3, 1, 1, 0]), "x", /ELF class 3/);
});

Deno.test("detectFirmwareKind: an nvfw bin file cut short says so, as its parser does", () => {
  const booter = forgeBooter();
  const cut = booter.slice(0, booter.length - 100);
  // Under its real name it is a Booter, and the Booter parser says it is cut short.
  assert.equal(detectFirmwareKind(cut, "booter_load-570.144.bin"), "booter");
  const byParser = assertFormatError(() => parseBooter(cut, "x.bin"), "binHeader.dataSize", 20);
  for (const name of ["x.bin", undefined]) {
    const e = assertFormatError(() => detectFirmwareKind(cut, name), "binHeader.dataSize", 20);
    assert.equal(e.file, name);
    assert.equal(e.reason, byParser.reason);
    assert.match(
      e.reason,
      new RegExp(`needs ${booter.length} bytes, .* only ${cut.length}: it is cut short`),
    );
  }
  // Cut inside the bin header itself: the header's 24 bytes are what it needed.
  const e = assertFormatError(
    () => detectFirmwareKind(booter.slice(0, 10), "x.bin"),
    "binHeader",
    0,
  );
  assert.match(e.reason, /0x0\+0x18 is outside the 10-byte input/);
  assertFormatError(() => detectFirmwareKind(new Uint8Array([0xde, 0x10, 0, 0])), "binHeader", 0);
});

realFirmwareTest(
  "detectFirmwareKind: the real Booter cut to 30,000 bytes and renamed x.bin is cut short",
  ["nvidia/tu102/gsp/booter_load-570.144.bin"],
  async ([path]) => {
    const whole = Deno.readFileSync(path);
    const dir = await Deno.makeTempDir({ prefix: "falconry-detect-" });
    try {
      const renamed = `${dir}/x.bin`;
      await Deno.writeFile(renamed, whole.subarray(0, 30_000));
      const bytes = await Deno.readFile(renamed);
      const e = assertFormatError(() => detectFirmwareKind(bytes, renamed), "binHeader.dataSize");
      assert.equal(e.file, renamed);
      assert.match(
        e.reason,
        new RegExp(`needs ${whole.length} bytes, .* only 30000: it is cut short`),
      );
      assert.doesNotMatch(e.message, /neither a Booter/);
      // The same words as under its real name, where the Booter parser says it.
      assert.equal(detectFirmwareKind(bytes, "booter_load-570.144.bin"), "booter");
      const real = assertFormatError(
        () => parseBooter(bytes, "booter_load-570.144.bin"),
        "binHeader.dataSize",
      );
      assert.equal(real.reason, e.reason);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

const REAL_BIN_FILES: [string, FirmwareKind][] = [
  ["nvidia/tu102/gsp/booter_load-570.144.bin", "booter"],
  ["nvidia/tu102/gsp/booter_unload-535.113.01.bin", "booter"],
  ["nvidia/ga100/gsp/booter_load-570.144.bin", "booter"],
  ["nvidia/ga102/gsp/booter_unload-570.144.bin", "booter"],
  ["nvidia/ad102/gsp/scrubber-570.144.bin", "booter"],
  ["nvidia/tu102/gsp/bootloader-570.144.bin", "riscv-bootloader"],
  ["nvidia/ga102/gsp/bootloader-535.113.01.bin", "riscv-bootloader"],
  ["nvidia/ga102/gsp/bootloader-570.144.bin", "riscv-bootloader"],
  ["nvidia/gh100/gsp/bootloader-570.144.bin", "riscv-bootloader"],
  ["nvidia/gb202/gsp/bootloader-570.144.bin", "riscv-bootloader"],
  ["nvidia/tu102/gsp/gen_bootloader-570.144.bin", "gen-bootloader"],
  ["nvidia/ga100/gsp/gen_bootloader-570.144.bin", "gen-bootloader"],
];

realFirmwareTest(
  "detectFirmwareKind: every real nvfw bin file, with its name and without one",
  REAL_BIN_FILES.map(([rel]) => rel),
  (paths) => {
    paths.forEach((path, i) => {
      const [rel, kind] = REAL_BIN_FILES[i];
      const bytes = Deno.readFileSync(path);
      assert.equal(detectFirmwareKind(bytes, path), kind, rel);
      assert.equal(detectFirmwareKind(bytes), kind, `${rel} without a name`);
    });
  },
);

realFirmwareTest(
  "detectFirmwareKind: the real ELF files from their first bytes",
  ["nvidia/tu102/gsp/gsp-570.144.bin", "nvidia/gh100/gsp/fmc-570.144.bin"],
  async ([gsp, fmc]) => {
    for (const [path, kind] of [[gsp, "gsp-image"], [fmc, "fmc"]] as const) {
      using file = await Deno.open(path);
      const head = new Uint8Array(16);
      assert.equal(await file.read(head), 16);
      assert.equal(detectFirmwareKind(head), kind, path);
    }
  },
);
