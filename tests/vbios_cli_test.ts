// Tests of `scripts/vbios.ts`, run as a subprocess: `inspect --json` on the
// real TU102 VBIOS (descriptor v2), on every real VBIOS FALCONRY_TEST_VBIOS
// names, and on forged v2 and v3 VBIOSes, with --extract-fwsec compared to
// extractFwsec on the same bytes; the human output; bad input (a file that is
// not a VBIOS, a missing file, a folder, a 4 GiB file, an output that cannot
// be written), each in one line and as JSON with --json; --help and
// --log-level.

import assert from "node:assert/strict";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeBooter, forgeVbios } from "../firmware/forge/mod.ts";
import { extractFwsec } from "../firmware/fwsec/extract.ts";
import { parseVbios } from "../firmware/vbios/vbios.ts";
import { assertJsonError, assertOneLineError, type CliRun, runScript } from "./_cli.ts";
import { realVbiosTest } from "./_real.ts";

const SCRIPT = new URL("../scripts/vbios.ts", import.meta.url).pathname;

function vbiosCli(args: string[]): Promise<CliRun> {
  return runScript(SCRIPT, args);
}

// deno-lint-ignore no-explicit-any
type Json = any;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "falconry-vbios-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every descriptor field of `bytes`'s FWSEC, as the CLI must print it under `fwsec`. */
function assertDescriptorFields(json: Json, bytes: Uint8Array): void {
  const fwsec = extractFwsec(bufferSource(bytes));
  const fields = Object.entries(fwsec.descriptor);
  assert.ok(fields.length >= 16, `only ${fields.length} descriptor fields`);
  for (const [field, value] of fields) assert.equal(json.fwsec[field], value, `fwsec.${field}`);
  assert.equal(json.fwsec.dmemMapperOffset, fwsec.dmemMapper?.ucodeOffset);
  assert.equal(json.fwsec.ucodeSize, fwsec.ucode.length);
  assert.equal(json.fwsec.descriptorOffset, fwsec.descriptorOffset);
}

realVbiosTest("inspect --json --extract-fwsec: the real TU102 VBIOS", async (bytes, { path }) => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fwsec.bin`;
    const run = await vbiosCli(["inspect", path, "--json", "--extract-fwsec", out]);
    assert.equal(run.code, 0, run.stderr);
    const json = JSON.parse(run.stdout);
    assert.equal(json.file, path);
    assert.equal(json.version, "90.02.17.00.7B");
    assert.equal(json.ifr.version, 3);
    assert.deepEqual(
      json.images.map((i: Json) => [i.kind, i.offset]),
      [["pc-at", 0x28600], ["efi", 0x37200], ["fwsec", 0x48800], ["fwsec", 0x54800], [
        "nbsi",
        0x76e00,
      ]],
    );
    assert.equal(json.bit.tokens.length, 17);
    assert.ok(json.bit.tokens.some((t: Json) => t.id === 0x70), "falcon-data token");
    assert.ok(json.pmuTable.entries.some((e: Json) => e.applicationId === 0x85));
    const f = json.fwsec;
    assert.equal(f.descriptorVersion, 2);
    assert.equal(f.imemLoadSize, 38400);
    assert.equal(f.imemSecBase, 768);
    assert.equal(f.imemSecSize, 37632);
    assert.equal(f.dmemOffset, 38400);
    assert.equal(f.dmemLoadSize, 1040);
    assert.equal(f.interfaceOffset, 220);
    assert.equal(f.dmemMapperOffset, 0x9980);
    assert.equal(f.signatureCount, 0);
    assertDescriptorFields(json, bytes);
    const written = await Deno.readFile(out);
    assert.deepEqual(written, extractFwsec(bufferSource(bytes)).ucode);
    assert.equal(written.length, 38400 + 1040);
    assert.deepEqual(json.extractedFwsec, { path: out, size: written.length });
  });
});

realVbiosTest("inspect --json --extract-fwsec: any real VBIOS", async (bytes, { path }) => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fwsec.bin`;
    const run = await vbiosCli(["inspect", path, "--json", "--extract-fwsec", out]);
    assert.equal(run.code, 0, run.stderr);
    const json = JSON.parse(run.stdout);
    assert.equal(json.file, path);
    assert.ok(json.images.length > 0);
    assert.ok([2, 3].includes(json.fwsec.descriptorVersion), json.fwsec.descriptorVersion);
    assertDescriptorFields(json, bytes);
    assert.deepEqual(await Deno.readFile(out), extractFwsec(bufferSource(bytes)).ucode);
  });
}, { anyVbios: true });

Deno.test("inspect --json --extract-fwsec: a forged v3 VBIOS, with --log-level info", async () => {
  await withTempDir(async (dir) => {
    const { bytes, layout } = forgeVbios({
      descriptorVersion: 3,
      ifr: 2,
      signatureVersions: 0b1011,
    });
    const rom = `${dir}/v3.rom`;
    const out = `${dir}/fwsec-v3.bin`;
    await Deno.writeFile(rom, bytes);
    const run = await vbiosCli([
      "inspect",
      rom,
      "--json",
      "--extract-fwsec",
      out,
      "--log-level",
      "info",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const json = JSON.parse(run.stdout);
    assert.equal(json.version, layout.versionText);
    assert.equal(json.ifr.version, 2);
    assert.equal(json.romOffset, layout.romOffset);
    const f = json.fwsec;
    assert.equal(f.descriptorVersion, 3);
    assert.equal(f.pkcDataOffset, 0x400);
    assert.equal(f.interfaceOffset, 0x40);
    assert.equal(f.engineIdMask, 0x400);
    assert.equal(f.ucodeId, 9);
    assert.equal(f.signatureCount, 3);
    assert.equal(f.signatureVersions, 0b1011);
    assert.equal(f.signatureSize, 384);
    assert.equal(f.dmemMapperOffset, layout.mapperUcodeOffset);
    assertDescriptorFields(json, bytes);
    const written = await Deno.readFile(out);
    assert.deepEqual(written, extractFwsec(bufferSource(bytes)).ucode);
    assert.deepEqual(written, layout.ucode);
    assert.match(run.stderr, new RegExp(`wrote ${written.length} bytes of FWSEC ucode to ${out}`));
  });
});

Deno.test("inspect: a forged v2 VBIOS for people, and --extract-fwsec", async () => {
  await withTempDir(async (dir) => {
    const { bytes, layout } = forgeVbios({ descriptorVersion: 2, ifr: 3, efi: false });
    const rom = `${dir}/v2.rom`;
    const out = `${dir}/fwsec-v2.bin`;
    await Deno.writeFile(rom, bytes);
    const run = await vbiosCli(["inspect", rom, "--extract-fwsec", out]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    const lines = run.stdout.trimEnd().split("\n");
    assert.equal(lines[0], `${rom}: VBIOS 90.02.17.00.7B`);
    assert.equal(lines.at(-1), `wrote FWSEC ucode (${layout.ucode.length} bytes) to ${out}`);
    assert.ok(lines.includes("  fwsec:"), run.stdout);
    const field = (name: string, value: number) =>
      assert.ok(
        lines.some((l) =>
          new RegExp(`^ {4}${name} +${value}( \\(0x${value.toString(16)}\\))?$`).test(l)
        ),
        `${name} ${value}\n${run.stdout}`,
      );
    field("descriptorVersion", 2);
    field("imemSecSize", 3840);
    field("dmemOffset", 4096);
    field("dmemMapperOffset", layout.mapperUcodeOffset);
    assert.deepEqual(
      parseVbios(bufferSource(bytes)).images.map((i) => i.kind),
      ["pc-at", "fwsec", "fwsec", "nbsi"],
    );
    assert.deepEqual(await Deno.readFile(out), extractFwsec(bufferSource(bytes)).ucode);
  });
});

Deno.test("inspect: a file that is not a VBIOS prints one line and exits 1, with --json as JSON", async () => {
  await withTempDir(async (dir) => {
    const booter = `${dir}/booter_load-570.144.bin`;
    await Deno.writeFile(booter, forgeBooter());
    const text = await vbiosCli(["inspect", booter]);
    assertOneLineError(
      text,
      1,
      new RegExp(`^error: ${booter}: romImage\\.signature at offset 0x0: `),
    );
    assert.equal(text.stdout, "");
    const json = await vbiosCli(["inspect", booter, "--json"]);
    const doc = assertJsonError(json, 1, "firmware-format");
    assert.equal(doc.error.file, booter);
    assert.equal(doc.error.field, "romImage.signature");
    assert.equal(doc.error.offset, 0);
    const usage = await vbiosCli(["inspect", booter, booter]);
    assertOneLineError(usage, 2, /^error: inspect takes exactly one FILE$/);
    assertJsonError(await vbiosCli(["inspect", "--json"]), 2, "usage");
  });
});

Deno.test("inspect: a missing file or a folder fails in one line naming it", async () => {
  const missing = await vbiosCli(["inspect", "/nonexistent.rom"]);
  assertOneLineError(missing, 1, /^error: \/nonexistent\.rom: no such file$/);
  assert.equal(missing.stdout, "");
  const json = await vbiosCli(["inspect", "/nonexistent.rom", "--json"]);
  assert.deepEqual(assertJsonError(json, 1, "path").error, {
    kind: "path",
    message: "/nonexistent.rom: no such file",
    path: "/nonexistent.rom",
    expected: "file",
    problem: "no such file",
  });
  await withTempDir(async (dir) => {
    assertOneLineError(
      await vbiosCli(["inspect", dir]),
      1,
      new RegExp(`^error: ${dir}: is a directory, not a file$`),
    );
  });
});

Deno.test("inspect: a sparse 4 GiB file is refused as far larger than any VBIOS", async () => {
  await withTempDir(async (dir) => {
    const big = `${dir}/big.rom`;
    await Deno.writeFile(big, new Uint8Array(0));
    await Deno.truncate(big, 4 * 2 ** 30); // sparse: no disk space, no time
    const run = await vbiosCli(["inspect", big]);
    assertOneLineError(
      run,
      1,
      new RegExp(`^error: ${big}: 4\\.0 GiB is far larger than any VBIOS \\(at most 16 MiB`),
    );
  });
});

Deno.test({
  name: "inspect --extract-fwsec /dev/full: a full disk is one line and exit 1, not a stack",
  ignore: !Deno.build.os.startsWith("linux"),
  fn: async () => {
    await withTempDir(async (dir) => {
      const rom = `${dir}/v3.rom`;
      await Deno.writeFile(rom, forgeVbios({ descriptorVersion: 3 }).bytes);
      const run = await vbiosCli(["inspect", rom, "--extract-fwsec", "/dev/full"]);
      assertOneLineError(
        run,
        1,
        /^error: --extract-fwsec \/dev\/full: cannot write: No space left on device \(os error 28\)$/,
      );
      const json = await vbiosCli(["inspect", rom, "--extract-fwsec", "/dev/full", "--json"]);
      const doc = assertJsonError(json, 1, "output");
      assert.equal(doc.error.path, "/dev/full");
      assert.equal(doc.error.flag, "--extract-fwsec");
      const folder = await vbiosCli(["inspect", rom, "--extract-fwsec", dir]);
      assertOneLineError(folder, 1, new RegExp(`^error: --extract-fwsec ${dir}: cannot write: `));
    });
  },
});

Deno.test("vbios.ts --help lists inspect; inspect --help its options", async () => {
  const top = await vbiosCli(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^Usage: vbios\.ts <command> \[options\]$/m);
  assert.match(top.stdout, /^ {2}inspect {2}print a VBIOS's version/m);
  const help = await vbiosCli(["inspect", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: vbios\.ts inspect FILE \[--json\] \[--extract-fwsec OUT\]$/m);
  for (const option of ["--extract-fwsec OUT", "--json", "--log-level LEVEL", "--help"]) {
    assert.ok(help.stdout.includes(option), option);
  }
  assert.match(help.stdout, /^Exit codes:$/m);
  const level = await vbiosCli(["inspect", "x.rom", "--log-level", "chatty"]);
  assertOneLineError(level, 2, /^error: --log-level chatty: expected trace, debug/);
});
