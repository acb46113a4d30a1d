// Tests of `scripts/firmware.ts inspect`, run as a subprocess: forged files of
// every kind and bad inputs on one command line (one JSON line per file, exit
// 1 when any failed), the real files of every kind with concrete values, the
// human output, --help and --log-level. Files that are no boot blob are kind
// "other" and do not count as failures.

import assert from "node:assert/strict";
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
  forgeVbios,
  GSP_SIGNATURE_SECTIONS_GA102,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/mod.ts";
import { countingSource } from "../firmware/byte_source.ts";
import { describeFirmware } from "../firmware/describe.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { type CliRun, runScript } from "./_cli.ts";
import { REAL_VBIOS_PATH, realFirmwareTest } from "./_real.ts";

const SCRIPT = new URL("../scripts/firmware.ts", import.meta.url).pathname;

type Run = CliRun;

function inspect(args: string[]): Promise<Run> {
  return runScript(SCRIPT, ["inspect", ...args]);
}

// deno-lint-ignore no-explicit-any
type Json = any;

function jsonLines(run: Run, count: number): Json[] {
  const lines = run.stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, count, run.stdout + run.stderr);
  return lines.map((l) => JSON.parse(l));
}

/**
 * A GSP image whose `.fwimage` claims 2 GiB of a sparse file: describing it
 * must read the headers only (a whole-file read would take seconds and 2 GiB).
 */
function writeSparseGspImage(path: string): number {
  const bytes = forgeElf({
    tableAt: "start",
    sections: [
      { name: ".fwversion", data: new TextEncoder().encode("570.144\0") },
      { name: ".fwsignature_ga10x", size: 4096 },
      { name: ".fwimage", size: 4096, flags: 3 },
    ],
  });
  const view = new DataView(bytes.buffer);
  const fwimageHeader = 64 + 4 * 64; // ELF header, then the null, .shstrtab, .fwversion, signature
  const imageOffset = Number(view.getBigUint64(fwimageHeader + 24, true));
  const imageSize = 2 ** 31;
  view.setBigUint64(fwimageHeader + 32, BigInt(imageSize), true);
  Deno.writeFileSync(path, bytes);
  Deno.truncateSync(path, imageOffset + imageSize);
  return imageSize;
}

Deno.test("inspect --json: forged files of every kind and bad inputs, one line per file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "falconry-inspect-" });
  try {
    for (const sub of ["ga102", "v5", "big", "gb10x", "bad"]) await Deno.mkdir(`${dir}/${sub}`);
    const put = (name: string, bytes: Uint8Array) => {
      Deno.writeFileSync(`${dir}/${name}`, bytes);
      return `${dir}/${name}`;
    };
    const v2 = forgeVbios({ descriptorVersion: 2, ifr: 3 });
    const v3 = forgeVbios({ descriptorVersion: 3, ifr: 2 });
    const files = [
      put("booter_load-570.144.bin", forgeBooter()),
      put(
        "ga102/booter_unload-570.144.bin",
        forgeBooter({
          signatureSize: 384,
          signatureCount: 2,
          fuseVersion: 1,
          ucodeId: 3,
          zeroSignatureIndex: 1,
        }),
      ),
      put("bootloader-535.113.01.bin", forgeRiscvBootloader({ version: 4 })),
      put("v5/bootloader-570.144.bin", forgeRiscvBootloader({ version: 5 })),
      put("gen_bootloader-570.144.bin", forgeGenBootloader()),
      put("gsp-570.144.bin", forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_TU })),
      `${dir}/big/gsp-570.144.bin`,
      put("fmc-570.144.bin", forgeFmc()),
      put("gb10x/fmc-570.144.bin", forgeFmc({ sizes: FMC_SIZES.gb10x })),
      put("gsp.tlv", forgeGspTlv()),
      put("booter_load.tlv", forgeBooterTlv()),
      put("fmc.tlv", forgeFmcTlv({ publicKeySize: 97, signatureSize: 96 })),
      put("v2.rom", v2.bytes),
      put("v3.rom", v3.bytes),
      put("bad/booter_load-570.144.bin", forgeBooter().slice(0, 100)),
      put("bad/gsp-570.144.bin", forgeGspImage().slice(0, 2000)),
      put("bad/zeros.bin", new Uint8Array(4096)),
      put("bad/garbage.bin", new TextEncoder().encode("GARBAGE! not a firmware file\n".repeat(9))),
      `${dir}/bad/missing.bin`,
      put("bad/empty.bin", new Uint8Array(0)),
      `${dir}/bad`,
      `${dir}/gen_bootloader-570.144.bin`,
    ];
    const bigImageSize = writeSparseGspImage(files[6]);
    const run = await inspect(["--json", ...files]);
    assert.equal(run.code, 1, run.stderr);
    const out = jsonLines(run, files.length);
    out.forEach((o, i) => assert.equal(o.file, files[i]));
    assert.deepEqual(out.map((o) => o.kind), [
      "booter",
      "booter",
      "riscv-bootloader",
      "riscv-bootloader",
      "gen-bootloader",
      "gsp-image",
      "gsp-image",
      "fmc",
      "fmc",
      "tlv",
      "tlv",
      "tlv",
      "vbios",
      "vbios",
      // A file that fails to parse still says what it was read as, when that is known.
      "booter",
      "gsp-image",
      // No boot blob: described, not failed.
      "other",
      "other",
      null,
      "other",
      null,
      "gen-bootloader",
    ]);
    const [turing, ga102, v4bl, v5bl, gen, gsp, big, gh100, gb10x, gspTlv, booterTlv, fmcTlv] = out;
    assert.deepEqual(turing.signatureParams, { fuseVersion: 0, engineIdMask: 1, ucodeId: 13 });
    assert.equal(turing.signatureSize, 16);
    assert.equal(turing.hsHeader.sigProdOffset, 60);
    assert.equal(turing.loadHeader.osCodeSize, 256);
    assert.equal(ga102.signatureSize, 384);
    assert.equal(ga102.signatureCount, 2);
    assert.equal(ga102.signatures[1].allZero, true);
    assert.equal(v4bl.descriptor.version, 4);
    assert.equal(v4bl.descriptorSize, 76);
    assert.equal(v5bl.descriptor.version, 5);
    assert.equal(v5bl.descriptor.monitorCodeSize, 0x2900);
    assert.equal(gen.descriptor.startTag, 253);
    assert.equal(gsp.imageSize, 0x10ea0);
    assert.equal(gsp.signatureSize, 4096);
    assert.deepEqual(gsp.signatureSections.map((s: Json) => s.name), GSP_SIGNATURE_SECTIONS_TU);
    assert.equal(big.imageSize, bigImageSize);
    assert.equal(big.version, "570.144");
    assert.equal(gh100.signatureSize, 384);
    assert.equal(gh100.publicKeySize, 384);
    assert.equal(gb10x.signatureSize, 96);
    assert.equal(gb10x.publicKeySize, 97);
    assert.equal(gspTlv.version, "570.144");
    assert.equal(gspTlv.signatureSize, 4096);
    assert.equal(booterTlv.signatureSize, 384);
    assert.equal(booterTlv.blocks.find((b: Json) => b.tag === "UCID").u32, 3);
    assert.equal(fmcTlv.signatureSize, 96);
    const [rom2, rom3] = [out[12], out[13]];
    assert.equal(rom2.version, "90.02.17.00.7B");
    assert.equal(rom2.ifr.version, 3);
    assert.equal(rom2.fwsec.descriptorVersion, 2);
    assert.equal(rom2.fwsec.dmemMapperOffset, v2.layout.mapperUcodeOffset);
    assert.equal(rom3.ifr.version, 2);
    assert.equal(rom3.fwsec.descriptorVersion, 3);
    assert.equal(rom3.fwsec.signatureCount, 3);
    assert.equal(rom3.fwsec.pkcDataOffset, 0x400);
    assert.equal(rom3.fwsec.dmemMapperOffset, v3.layout.mapperUcodeOffset);

    const [truncBooter, truncGsp, zeros, garbage, missing, empty, directory] = out.slice(14, 21);
    const errors = [truncBooter, truncGsp, missing, directory];
    for (const o of errors) {
      assert.deepEqual(Object.keys(o), ["file", "kind", "error"], o.file);
      assert.deepEqual(Object.keys(o.error), ["field", "offset", "reason"]);
      assert.ok(typeof o.error.field === "string" && o.error.field.length > 0);
      assert.ok(Number.isSafeInteger(o.error.offset) && o.error.offset >= 0);
      assert.ok(typeof o.error.reason === "string" && o.error.reason.length > 0);
    }
    assert.deepEqual(truncBooter.error, {
      field: "binHeader.dataOffset",
      offset: 16,
      reason: "0x88 is past the end of the 100-byte file: it is cut short, or the header is wrong",
    });
    assert.equal(truncGsp.error.field, "elf.shoff");
    assert.equal(truncGsp.error.offset, 40);
    assert.match(truncGsp.error.reason, /past the 2000-byte file/);
    assert.deepEqual(zeros, {
      file: files[16],
      kind: "other",
      note: "not a GSP boot blob",
      format: "unknown",
      size: 4096,
      magic: "00 00 00 00",
    });
    assert.equal(garbage.magic, "47 41 52 42");
    assert.equal(empty.size, 0);
    assert.deepEqual(missing.error, { field: "file", offset: 0, reason: "no such file" });
    assert.equal(directory.error.field, "file");
    assert.match(directory.error.reason, /directory/i);
    assert.match(run.stderr, /4 of 22 files failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspect: the human output names the kind and the fields; errors take one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "falconry-inspect-" });
  try {
    const booter = `${dir}/booter_load-570.144.bin`;
    const gsp = `${dir}/gsp-570.144.bin`;
    const tlv = `${dir}/gsp.tlv`;
    const zeros = `${dir}/zeros.bin`;
    Deno.writeFileSync(booter, forgeBooter({ ucodeId: 13 }));
    Deno.writeFileSync(gsp, forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_GA102 }));
    Deno.writeFileSync(tlv, forgeGspTlv());
    Deno.writeFileSync(zeros, new Uint8Array(64));
    const good = await inspect([booter, gsp, tlv]);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stderr, "");
    const lines = good.stdout.split("\n");
    assert.equal(lines[0], `${booter}: booter`);
    assert.ok(lines.includes("  signatureParams:"), good.stdout);
    assert.ok(lines.some((l) => /^ {4}fuseVersion +0$/.test(l)), good.stdout);
    assert.ok(lines.some((l) => /^ {4}ucodeId +13 \(0xd\)$/.test(l)), good.stdout);
    assert.ok(lines.some((l) => /^ {2}signatureSize +16 \(0x10\)$/.test(l)), good.stdout);
    assert.ok(lines.includes(`${gsp}: gsp-image`), good.stdout);
    assert.ok(lines.some((l) => /^ {2}imageSize +69280 \(0x10ea0\)$/.test(l)), good.stdout);
    assert.ok(lines.includes(`${tlv}: tlv`), good.stdout);
    assert.ok(lines.some((l) => /^ {2}version +"570\.144"$/.test(l)), good.stdout);

    const other = await inspect([zeros]);
    assert.equal(other.code, 0, "a file that is no boot blob is not a failure");
    assert.match(other.stdout, new RegExp(`^${zeros}: other\n`));
    assert.match(other.stdout, /note +"not a GSP boot blob"/);

    const cut = `${dir}/x.bin`;
    const booterBytes = forgeBooter({ ucodeId: 13 });
    Deno.writeFileSync(cut, booterBytes.subarray(0, booterBytes.length - 8));
    const bad = await inspect(["--log-level", "error", cut]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stdout,
      `${cut}: error: binHeader.dataSize at offset 0x14: payload 0x88+0x${
        (booterBytes.length - 0x88).toString(16)
      } needs ${booterBytes.length} bytes, but the file has only ${
        booterBytes.length - 8
      }: it is cut short\n`,
    );
    assert.equal(bad.stderr, "", "--log-level error hides the warning");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspect --help names the usage and the options; no FILE is a usage error", async () => {
  const help = await inspect(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: firmware\.ts inspect FILE… \[--json\]$/m);
  for (const option of ["--json", "--log-level LEVEL", "--help"]) {
    assert.ok(help.stdout.includes(option), option);
  }
  // Usage errors exit 2 (issue 8 item 5); where the message goes (stderr, or JSON on stdout
  // with --json) is the CLI layer's and tested with it.
  const none = await inspect(["--json"]);
  assert.equal(none.code, 2);
  assert.match(none.stdout + none.stderr, /inspect needs at least one FILE/);
  const level = await inspect(["--log-level", "loud", "x"]);
  assert.equal(level.code, 2);
  assert.match(level.stderr, /^error: --log-level loud: expected trace, debug/);
});

const REAL = {
  tu102BooterLoad: "nvidia/tu102/gsp/booter_load-570.144.bin",
  tu102BooterUnload: "nvidia/tu102/gsp/booter_unload-570.144.bin",
  ga102BooterLoad: "nvidia/ga102/gsp/booter_load-570.144.bin",
  ad102Scrubber: "nvidia/ad102/gsp/scrubber-570.144.bin",
  tu102Bootloader: "nvidia/tu102/gsp/bootloader-570.144.bin",
  ga102Bootloader: "nvidia/ga102/gsp/bootloader-570.144.bin",
  tu102GenBootloader: "nvidia/tu102/gsp/gen_bootloader-570.144.bin",
  ga102Gsp: "nvidia/ga102/gsp/gsp-570.144.bin",
  tu102Gsp: "nvidia/tu102/gsp/gsp-535.113.01.bin",
  gh100Fmc: "nvidia/gh100/gsp/fmc-570.144.bin",
  gb202Fmc: "nvidia/gb202/gsp/fmc-570.144.bin",
};

realFirmwareTest(
  "inspect --json: the real files of every kind, with the real VBIOS when present",
  Object.values(REAL),
  async (paths) => {
    const withVbios = (() => {
      try {
        return Deno.statSync(REAL_VBIOS_PATH).isFile;
      } catch {
        return false;
      }
    })();
    const files = withVbios ? [...paths, REAL_VBIOS_PATH] : paths;
    const run = await inspect(["--json", ...files]);
    assert.equal(run.code, 0, run.stderr);
    const out = jsonLines(run, files.length);
    const by = Object.fromEntries(Object.keys(REAL).map((k, i) => [k, out[i]]));
    out.forEach((o, i) => assert.equal(o.file, files[i]));

    const booter = by.tu102BooterLoad;
    assert.equal(booter.kind, "booter");
    assert.equal(booter.signatureParams.fuseVersion, 0);
    assert.equal(booter.signatureParams.ucodeId, 13);
    assert.equal(booter.signatureParams.engineIdMask, 1);
    assert.equal(booter.signatureSize, 16);
    assert.equal(booter.signatureCount, 1);
    assert.deepEqual(booter.binHeader, {
      binMagic: 0x10de,
      binVersion: 1,
      binSize: 59392,
      headerOffset: 24,
      dataOffset: 136,
      dataSize: 59136,
    });
    assert.equal(booter.hsHeader.sigProdOffset, 60);
    assert.equal(booter.loadHeader.numApps, 1);
    assert.equal(booter.loadHeader.osCodeSize, 256);
    assert.equal(by.tu102BooterUnload.signatureSize, 16);
    assert.equal(by.ga102BooterLoad.signatureSize, 384);
    assert.equal(by.ga102BooterLoad.signatureParams.fuseVersion, 1);
    assert.equal(by.ga102BooterLoad.signatureParams.ucodeId, 3);
    assert.deepEqual(by.ga102BooterLoad.signatures.map((s: Json) => s.allZero), [false, true]);
    assert.equal(by.ad102Scrubber.kind, "booter");

    assert.equal(by.tu102Bootloader.kind, "riscv-bootloader");
    assert.equal(by.tu102Bootloader.descriptor.version, 4);
    assert.equal(by.tu102Bootloader.ucodeSize, 4096);
    assert.equal(by.ga102Bootloader.descriptor.version, 5);
    assert.equal(by.ga102Bootloader.descriptor.isMonitorEnabled, 1);
    assert.equal(by.ga102Bootloader.descriptorSize, 84);

    assert.equal(by.tu102GenBootloader.kind, "gen-bootloader");
    assert.deepEqual(by.tu102GenBootloader.descriptor, {
      startTag: 253,
      dmemLoadOffset: 0,
      codeOffset: 0,
      codeSize: 512,
      dataOffset: 512,
      dataSize: 256,
    });

    assert.equal(by.ga102Gsp.kind, "gsp-image");
    assert.equal(by.ga102Gsp.imageSize, 63541248);
    assert.equal(by.ga102Gsp.version, "570.144");
    assert.equal(by.ga102Gsp.signatureSize, 4096);
    assert.deepEqual(
      by.ga102Gsp.signatureSections.map((s: Json) => s.name).sort(),
      [...GSP_SIGNATURE_SECTIONS_GA102].sort(),
    );
    assert.equal(by.tu102Gsp.imageSize, 23737168);
    assert.equal(by.tu102Gsp.version, "535.113.01");

    assert.equal(by.gh100Fmc.kind, "fmc");
    assert.equal(by.gh100Fmc.signatureSize, 384);
    assert.equal(by.gh100Fmc.publicKeySize, 384);
    assert.equal(by.gh100Fmc.hashSize, 48);
    assert.equal(by.gb202Fmc.signatureSize, 96);
    assert.equal(by.gb202Fmc.publicKeySize, 97);

    if (withVbios) {
      const vbios = out.at(-1);
      assert.equal(vbios.kind, "vbios");
      assert.equal(vbios.version, "90.02.17.00.7B");
      assert.equal(vbios.fwsec.descriptorVersion, 2);
      assert.equal(vbios.fwsec.dmemMapperOffset, 0x9980);
    }
    // Headers only: of the two GSP images (87 MB together) under 4 KiB each are read.
    for (const key of ["ga102Gsp", "tu102Gsp"] as const) {
      using file = fileSource(paths[Object.keys(REAL).indexOf(key)]);
      const counted = countingSource(file);
      describeFirmware(counted, file.name);
      assert.ok(counted.bytesRead < 4096, `${key}: read ${counted.bytesRead} bytes`);
    }
  },
);
