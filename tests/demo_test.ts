// Tests of `scripts/demo.ts` (`deno task demo`), run as a subprocess: with the
// real files, with --forged, with --json (the FRTS patch changes only the DMEM
// mapper, the command buffer and the signature area), and where no firmware
// can be found at all.

import assert from "node:assert/strict";
import { chipByName, FAMILIES } from "../chips/chips.ts";
import { firmwareFiles } from "../chips/firmware_files.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { extractFwsec, type FwsecFirmware } from "../firmware/fwsec/extract.ts";
import { locateFirmware } from "../loader/locate.ts";
import { type CliRun, runScript } from "./_cli.ts";
import { existsSync, REAL_VBIOS_PATH, realFirmwareTest } from "./_real.ts";

const SCRIPT = new URL("../scripts/demo.ts", import.meta.url).pathname;
const DEMO_CHIPS = ["tu102", "tu116", "ga100", "ga102", "ad102", "gh100", "gb100", "gb202"];
const DEMO_FILES = DEMO_CHIPS.flatMap((name) =>
  firmwareFiles(chipByName(name)!, "570.144").filter((f) => f.required).map((f) => f.path)
);
const HAVE_REAL_VBIOS = existsSync(REAL_VBIOS_PATH);

function demo(args: string[], env?: Record<string, string>): Promise<CliRun> {
  return runScript(SCRIPT, args, { env, clearEnv: env !== undefined });
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** Whether the demo will find `chip`'s whole real set with this environment. */
async function realOrigin(chip: string, env?: (name: string) => string | undefined) {
  const located = await locateFirmware({ chip, version: "570.144", env });
  return located.ok ? "real" : "forged";
}

/**
 * The ucode areas an FRTS patch may change: the DMEM mapper (its initCmd),
 * the command-in buffer and, for v3, the signature slot at pkcDataOffset.
 */
function patchAreas(fwsec: FwsecFirmware): { name: string; start: number; end: number }[] {
  const dmem = fwsec.loadMap.dmem.srcStart;
  const mapper = fwsec.dmemMapper!;
  const areas = [
    { name: "mapper", start: mapper.ucodeOffset, end: mapper.ucodeOffset + 64 },
    {
      name: "command",
      start: dmem + mapper.cmdInBufferOffset,
      end: dmem + mapper.cmdInBufferOffset + mapper.cmdInBufferSize,
    },
  ];
  const d = fwsec.descriptor;
  if (d.descriptorVersion === 3) {
    areas.push({
      name: "signature",
      start: dmem + d.pkcDataOffset,
      end: dmem + d.pkcDataOffset + 384,
    });
  }
  return areas;
}

/** Every changed range lies in one area; returns which areas were touched. */
function assertChangesInAreas(ranges: Json[], fwsec: FwsecFirmware): Set<string> {
  assert.ok(ranges.length > 0, "nothing changed");
  const areas = patchAreas(fwsec);
  const touched = new Set<string>();
  for (const { offset, length } of ranges) {
    assert.ok(length > 0);
    const area = areas.find((a) => offset >= a.start && offset + length <= a.end);
    assert.ok(area, `0x${offset.toString(16)}+${length} outside ${JSON.stringify(areas)}`);
    touched.add(area.name);
  }
  const initCmd = fwsec.dmemMapper!.ucodeOffset + 0x2c;
  assert.ok(
    ranges.some((r: Json) => r.offset <= initCmd && initCmd < r.offset + r.length),
    "initCmd not changed",
  );
  return touched;
}

realFirmwareTest(
  "demo: with the real files it says real for every chip and shows the real VBIOS",
  DEMO_FILES,
  async () => {
    const run = await demo([]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assert.equal(lines[0], "firmware 570.144, one chip per family:");
    for (const [i, chip] of DEMO_CHIPS.entries()) {
      assert.match(lines[1 + i], new RegExp(`^ {2}${chip} +real +(sec2|fsp) `), lines[1 + i]);
    }
    assert.match(lines[1], /booter 1×16 B sig, fuse 0, ucode 13 .*\.fwsignature_tu10x/);
    assert.match(lines[4], /booter 2×384 B sig, fuse 1, ucode 3 \(sig 1 all zero\)/);
    assert.match(lines[6], /fmc key 384 B sig 384 B/);
    assert.ok(!run.stdout.includes("(forged:"), run.stdout);
    if (HAVE_REAL_VBIOS) {
      assert.ok(
        lines.includes(`VBIOS (real ${REAL_VBIOS_PATH}): 90.02.17.00.7B`),
        run.stdout,
      );
      assert.match(run.stdout, /FWSEC descriptor v2 at 0x67624: IMEM 38400 B, DMEM 1040 B/);
      assert.match(run.stdout, /DMEM mapper at ucode offset 0x9980/);
    }
    assert.match(run.stdout, /\nGSP image \S+\/ga102\/gsp\/gsp-570\.144\.bin: 63541248 bytes/);
    assert.match(run.stdout, /15513 pages, radix3 tables 1\/1\/31 pages/);
  },
);

Deno.test("demo --json: 8 chips, and the FRTS patch changes only the mapper and the command", async () => {
  const run = await demo(["--json"]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(Object.keys(doc), ["firmware", "vbios", "gspImage"]);
  assert.deepEqual(doc.firmware.map((f: Json) => f.chip), DEMO_CHIPS);
  for (const f of doc.firmware) {
    const chip = chipByName(f.chip)!;
    assert.equal(f.origin, await realOrigin(f.chip), f.chip);
    assert.equal(f.family, chip.family);
    assert.equal(f.version, "570.144");
    assert.equal(f.gspImage.signatureSection, FAMILIES[chip.family].gspSignatureSection);
    assert.equal(f.gspImage.signatureSize, 4096);
    assert.equal(f.booterLoad === null, f.bootPath === "fsp", f.chip);
    assert.equal(f.fmc === null, f.bootPath === "sec2", f.chip);
    assert.equal(f.genBootloader !== null, ["tu102", "tu116", "ga100"].includes(f.chip), f.chip);
  }
  const bytes = HAVE_REAL_VBIOS
    ? Deno.readFileSync(REAL_VBIOS_PATH)
    : forgeVbios({ descriptorVersion: 3 }).bytes;
  const fwsec = extractFwsec(bufferSource(bytes));
  assert.equal(doc.vbios.origin, HAVE_REAL_VBIOS ? "real" : "forged");
  assert.equal(doc.vbios.size, bytes.length);
  assert.equal(doc.vbios.version, "90.02.17.00.7B");
  assert.equal(doc.vbios.fwsec.descriptorVersion, fwsec.descriptor.descriptorVersion);
  assert.equal(doc.vbios.fwsec.dmemMapperOffset, fwsec.dmemMapper?.ucodeOffset);
  const frts = doc.vbios.fwsec.frts;
  assert.equal(frts.command, 0x15);
  assert.equal(frts.frtsOffset % 0x20000, 0);
  const touched = assertChangesInAreas(frts.changedRanges, fwsec);
  assert.ok(touched.has("mapper") && touched.has("command"), [...touched].join());
  if (doc.firmware.find((f: Json) => f.chip === "ga102").origin === "real") {
    assert.equal(doc.gspImage.imageSize, 63541248);
    assert.equal(doc.gspImage.pages, 15513);
  } else {
    assert.equal(doc.gspImage, null);
  }
});

Deno.test("demo --forged --json: every chip forged, a forged v3 VBIOS, debug logs on stderr", async () => {
  const run = await demo(["--forged", "--json", "--log-level", "debug"]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(
    doc.firmware.map((f: Json) => [f.chip, f.origin]),
    DEMO_CHIPS.map((c) => [c, "forged"]),
  );
  const [tu102, , ga100, ga102, , gh100, gb100] = doc.firmware;
  assert.deepEqual(
    [tu102.booterLoad.signatureSize, tu102.booterLoad.ucodeId, tu102.bootloader.descriptorVersion],
    [16, 13, 4],
  );
  assert.equal(ga100.booterLoad.signatureSize, 384);
  assert.equal(ga100.gspImage.signatureSection, ".fwsignature_ga100");
  assert.deepEqual([ga102.booterLoad.signatureCount, ga102.booterLoad.fuseVersion], [2, 1]);
  assert.deepEqual([gh100.fmc.publicKeySize, gh100.fmc.signatureSize], [384, 384]);
  assert.deepEqual([gb100.fmc.publicKeySize, gb100.fmc.signatureSize], [97, 96]);
  assert.equal(doc.vbios.origin, "forged");
  assert.equal(doc.vbios.file, null);
  assert.equal(doc.vbios.fwsec.descriptorVersion, 3);
  assert.equal(doc.vbios.fwsec.signatureCount, 3);
  assert.equal(doc.gspImage, null);
  const fwsec = extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 3 }).bytes));
  const touched = assertChangesInAreas(doc.vbios.fwsec.frts.changedRanges, fwsec);
  assert.deepEqual([...touched].sort(), ["command", "mapper", "signature"]);
  for (const chip of DEMO_CHIPS) {
    assert.match(run.stderr, new RegExp(`loaded ${chip} 570\\.144 firmware set`), chip);
  }
});

Deno.test("demo: where no firmware can be found, every chip is forged and it exits 0", async () => {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const denoDir: string = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
  assert.ok(denoDir, "deno info --json has no denoDir");
  const home = await Deno.makeTempDir({ prefix: "falconry-home-" });
  try {
    const env = { HOME: home, XDG_CACHE_HOME: home, DENO_DIR: denoDir };
    const run = await demo([], { ...env, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    const lookup = (name: string) => (env as Record<string, string>)[name];
    // Only /lib/firmware is left to search.
    const origins = await Promise.all(DEMO_CHIPS.map((chip) => realOrigin(chip, lookup)));
    if (!existsSync("/lib/firmware/nvidia")) {
      assert.deepEqual(origins, DEMO_CHIPS.map(() => "forged"));
    }
    for (const [i, chip] of DEMO_CHIPS.entries()) {
      assert.match(lines[1 + i], new RegExp(`^ {2}${chip} +${origins[i]} `), lines[1 + i]);
    }
    if (origins.every((o) => o === "forged")) {
      assert.equal(
        lines[9],
        "  (forged: the real files were not found or --forged was given; " +
          "`deno task firmware` fetches them)",
      );
      assert.ok(!run.stdout.includes("GSP image"), run.stdout);
    }
    assert.match(run.stdout, /\nVBIOS \((real|forged)[^)]*\): 90\.02\.17\.00\.7B\n/);
    assert.equal((await Array.fromAsync(Deno.readDir(home))).length, 0, "left files in HOME");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("demo --help names every option; an argument it does not know is a usage error", async () => {
  const help = await demo(["--help"]);
  assert.equal(help.code, 0);
  for (const option of ["--firmware DIR", "--vbios FILE", "--forged", "--json", "--log-level"]) {
    assert.ok(help.stdout.includes(option), option);
  }
  const bad = await demo(["extra"]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, "error: Unexpected argument 'extra'; see --help\n");
});
