// Tests of firmware/detect.ts: the file-name table, detection by content for
// every kind, the try-parse fallback for nvfw bin files without a known name
// (forged and real), and the errors for short and unknown inputs.

import assert from "node:assert/strict";
import { CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS, firmwareFiles } from "../chips/firmware_files.ts";
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

Deno.test("detectFirmwareKind: short, unknown and unparseable inputs", () => {
  assertDetectError(new Uint8Array(0), undefined, /only 0 bytes/);
  assertDetectError(new Uint8Array(0), "gsp-570.144.bin", /only 0 bytes/);
  assertDetectError(new Uint8Array([0x4e, 0x56, 0x46]), "fmc.tlv", /only 3 bytes/);
  assertDetectError(new Uint8Array(4096), "zeros.bin", /unknown magic 00 00 00 00/);
  assertDetectError(
    new TextEncoder().encode("#!/bin/sh\necho not firmware\n"),
    "booter_load-570.144.bin",
    /unknown magic 23 21 2f 62/,
  );
  assertDetectError(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]), "x", /too short for its class/);
  assertDetectError(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 3, 1, 1, 0]), "x", /ELF class 3/);
  // The bin magic, but no parser accepts the rest, and no name says which kind it is.
  assertDetectError(forgeBooter().slice(0, 40), "blob.bin", /neither a Booter/);
  assertDetectError(new Uint8Array([0xde, 0x10, 0, 0]), undefined, /neither a Booter/);
});

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
