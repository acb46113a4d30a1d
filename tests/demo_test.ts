// Tests of `scripts/demo.ts` (`deno task demo`), run as a subprocess. The
// main show: a full boot and unload of a simulated TU102, GA102 and GH100, step
// by step (text and --json, real or forged firmware, and where no firmware can
// be found at all). Then --inspect: with the real files, with --forged, with
// --json (the FRTS patch changes only the DMEM mapper, the command buffer and
// the signature area), where no firmware can be found; a VBIOS whose
// fuse-version-0 signature is all zeros (as on production Ampere boards),
// --fuse-version, a VBIOS that fails to parse (the other sections stay),
// every real VBIOS FALCONRY_TEST_VBIOS names, and paths that do not exist,
// are the wrong kind, or are far too large.

import assert from "node:assert/strict";
import { chipByName, FAMILIES } from "../chips/chips.ts";
import { firmwareFiles } from "../chips/firmware_files.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeBooter } from "../firmware/forge/hs_firmware.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { extractFwsec, type FwsecFirmware } from "../firmware/fwsec/extract.ts";
import * as stepNames from "../gsp/boot_steps.ts";
import { locateFirmware } from "../loader/locate.ts";
import { DENO } from "../scripts/_deno_command.ts";
import { assertJsonError, assertOneLineError, type CliRun, runScript } from "./_cli.ts";
import { existsSync, REAL_VBIOS_PATH, realFirmwareTest, realVbiosTest } from "./_real.ts";

const SCRIPT = new URL("../scripts/demo.ts", import.meta.url).pathname;
const DEMO_CHIPS = ["tu102", "tu116", "ga100", "ga102", "ad102", "gh100", "gb100", "gb202"];
const DEMO_FILES = DEMO_CHIPS.flatMap((name) =>
  firmwareFiles(chipByName(name)!, "570.144").filter((f) => f.required).map((f) => f.path)
);
const HAVE_REAL_VBIOS = existsSync(REAL_VBIOS_PATH);
/** The demo's forged VBIOS: as production boards ship it, no signature for fuse version 0. */
const FORGED_VBIOS = { descriptorVersion: 3, zeroSignatures: [0] } as const;

function demo(args: string[], env?: Record<string, string>): Promise<CliRun> {
  return runScript(SCRIPT, args, { env, clearEnv: env !== undefined });
}

/** The demo's inspection of the firmware, the VBIOS and the GSP image (`--inspect`). */
function inspect(args: string[], env?: Record<string, string>): Promise<CliRun> {
  return demo(["--inspect", ...args], env);
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** The chips the demo boots: two through SEC2 (Booter), one through the FSP. */
const BOOT_CHIPS = ["tu102", "ga102", "gh100"];
/** Each boot path's boot and unload steps, in the order they run. */
const SEC2_STEPS: readonly string[] = [...stepNames.BOOT_STEPS, ...stepNames.UNLOAD_STEPS];
const FSP_STEPS: readonly string[] = [
  ...stepNames.GH100_BOOT_STEPS,
  ...stepNames.GH100_UNLOAD_STEPS,
];
/** The steps a chip's boot and unload show. */
const stepsOf = (chip: string): readonly string[] =>
  FAMILIES[chipByName(chip)!.family].bootPath === "fsp" ? FSP_STEPS : SEC2_STEPS;
/** The heading's VBIOS part: only the SEC2 path reads one. */
const readsVbios = (chip: string) => stepsOf(chip) === SEC2_STEPS;

/** The step names of the `✓` lines of a section of the text output. */
function stepLines(section: string): string[] {
  return section.split("\n").filter((l) => /^ {2}✓ /.test(l)).map((l) => l.split(/\s+/)[2]);
}

/** The demo's boot sections, by chip, from its text output. */
function bootSections(stdout: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const part of stdout.split(/\n(?=boot )/)) {
    const chip = part.match(/^boot (\w+): simulated, virtual time, /)?.[1];
    if (chip) sections.set(chip, part);
  }
  return sections;
}

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

Deno.test("demo: a full boot and unload of a simulated TU102, GA102 and GH100, step by step", async () => {
  const run = await demo([]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const sections = bootSections(run.stdout);
  assert.deepEqual([...sections.keys()], BOOT_CHIPS, run.stdout);
  for (const [chip, text] of sections) {
    const origin = await realOrigin(chip);
    const lines = text.split("\n");
    assert.ok(
      readsVbios(chip)
        ? lines[0].includes(`, ${origin} firmware 570.144, VBIOS `)
        : lines[0].endsWith(`, ${origin} firmware 570.144`),
      lines[0],
    );
    assert.deepEqual(stepLines(text), stepsOf(chip), text);
    assert.match(
      text,
      new RegExp(`\nGSP-RM is running on ${chip}: ".+" \\(booted in [\\d.]+ m?s\\)\n`),
    );
    assert.match(text, /\n {2}WPR2 0x[0-9a-f]+\.\.0x[0-9a-f]+ \([\d.]+ MiB\)\nunload:\n/);
    assert.match(text, /\nunloaded: GSP halted, WPR2 clear \(in [\d.]+ m?s\)\n/);
    assert.match(text, /\nresidue: none \(the simulated GPU is clean\)\n/);
  }
  if (existsSync(REAL_VBIOS_PATH)) {
    assert.match(sections.get("tu102")!, /^[^\n]*VBIOS \S*TU102\.rom\n/);
  }
  assert.match(sections.get("ga102")!, /^[^\n]*, VBIOS forged\n/);
  assert.ok(
    run.stdout.endsWith("\n--inspect shows the firmware of every family, the VBIOS and FWSEC.\n"),
  );
  assert.ok(run.stdout.split("\n").every((l) => l.length <= 100), run.stdout);
});

Deno.test("demo --json: one object, each boot's steps, the GPU's name, WPR2 and an empty residue", async () => {
  const run = await demo(["--json"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(Object.keys(doc), ["ok", "boot"]);
  assert.equal(doc.ok, true);
  assert.deepEqual(doc.boot.map((b: Json) => b.chip), BOOT_CHIPS);
  for (const b of doc.boot) {
    assert.equal(b.ok, true, JSON.stringify(b.error));
    assert.equal(b.firmware, await realOrigin(b.chip));
    assert.deepEqual(b.steps.map((s: Json) => s.name), stepsOf(b.chip));
    assert.ok(b.steps.every((s: Json) => Number.isFinite(s.ms) && s.ms >= 0 && !s.failed));
    assert.ok(b.gpu.length > 0 && b.wpr2.start < b.wpr2.end, JSON.stringify(b));
    assert.deepEqual(b.residue, []);
  }
  // Different chips: their WPR2 ranges differ with their VRAM size.
  assert.equal(new Set(doc.boot.map((b: Json) => b.wpr2.end)).size, BOOT_CHIPS.length);
});

Deno.test("demo --forged: every boot on forged firmware, and it says how to fetch the real files", async () => {
  const run = await demo(["--forged"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const sections = bootSections(run.stdout);
  for (const chip of BOOT_CHIPS) {
    assert.ok(
      sections.get(chip)!.startsWith(
        `boot ${chip}: simulated, virtual time, forged firmware 570.144${
          readsVbios(chip) ? ", VBIOS forged" : ""
        }\n`,
      ),
      run.stdout,
    );
    assert.deepEqual(stepLines(sections.get(chip)!), stepsOf(chip));
  }
  assert.ok(
    run.stdout.includes(
      "\nforged: the real files were not found, or --forged was given;\n" +
        `\`${DENO} task firmware\` fetches the real ones\n`,
    ),
    run.stdout,
  );
});

Deno.test("demo: Ctrl-C during the TU102's boot unwinds it, skips the GA102 and exits 130", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--realistic"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  // The GSP image is in memory: FWSEC-FRTS, Booter and GSP-RM's 1.2 s start-up are ahead.
  while (!stdout.includes("✓ gsp-image ")) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
  }
  child.kill("SIGINT");
  for (let r = await reader.read(); !r.done; r = await reader.read()) stdout += r.value;
  const status = await child.status;
  const err = await stderr;
  assert.equal(status.code, 130, stdout + err);
  assert.match(stdout, /\nSIGINT: stopping; unwinding what was done/);
  assert.match(stdout, /^ {2}✗ [a-z0-9-]+ +[\d.]+ m?s {2}.*aborted/m);
  assert.match(stdout, /\nresidue: none \(the simulated GPU is clean\)\n/);
  assert.ok(!stdout.includes("boot ga102"), stdout);
  assert.match(err, /^error: interrupted; the boot was unwound$/m);
});

Deno.test("demo --vbios FILE or --fuse-version N inspects instead of booting", async () => {
  const run = await demo(["--forged", "--fuse-version", "2", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(Object.keys(doc), ["ok", "firmware", "vbios", "gspImage"]);
  assert.equal(doc.vbios.fwsec.signature.chosenBy, "option");
  const missing = await demo(["--firmware", "/nonexistent"]);
  assertOneLineError(missing, 1, /^error: --firmware \/nonexistent: no such directory$/);
});

realFirmwareTest(
  "demo --inspect: with the real files it says real for every chip and shows the real VBIOS",
  DEMO_FILES,
  async () => {
    const run = await inspect([]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assert.equal(lines[0], "firmware 570.144, one chip per family:");
    // Two lines per chip, none wider than 100 columns.
    for (const [i, chip] of DEMO_CHIPS.entries()) {
      assert.match(
        lines[1 + 2 * i],
        new RegExp(`^ {2}${chip} +real +(sec2|fsp) `),
        lines[1 + 2 * i],
      );
      assert.match(lines[2 + 2 * i], / {21}bootloader v[45] /);
    }
    assert.ok(lines.every((l) => l.length <= 100), run.stdout);
    assert.match(lines[1], /booter 1 signature of 16 B, fuse 0, ucode 13 \(/);
    assert.match(lines[2], /gen_bootloader tag 253, gsp 27\.2 MiB \.fwsignature_tu10x$/);
    assert.match(
      lines[7],
      /booter 2 signatures of 384 B, fuse 1, ucode 3 \(signature 1 all zeros\)/,
    );
    assert.match(lines[11], /fsp {2}fmc [\d.]+ KiB, key 384 B, signature 384 B/);
    assert.ok(!run.stdout.includes("forged:"), run.stdout);
    if (HAVE_REAL_VBIOS) {
      assert.ok(
        lines.includes(`VBIOS (real ${REAL_VBIOS_PATH}): 90.02.17.00.7B`),
        run.stdout,
      );
      assert.match(run.stdout, /FWSEC descriptor v2 at 0x67624: IMEM 38400 B, DMEM 1040 B/);
      assert.match(run.stdout, /\n {2}DMEM mapper at ucode offset 0x9980\n/);
      assert.match(
        run.stdout,
        /\n {2}signature: none needed: descriptor v2 carries no signatures\n/,
      );
    }
    assert.match(run.stdout, /\nGSP image \S+\/ga102\/gsp\/gsp-570\.144\.bin:\n {2}63541248 bytes/);
    assert.match(run.stdout, /15513 pages, radix3 tables 1\/1\/31 pages/);
  },
);

Deno.test("demo --inspect --json: 8 chips, and the FRTS patch changes only the mapper and the command", async () => {
  const run = await inspect(["--json"]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(Object.keys(doc), ["ok", "firmware", "vbios", "gspImage"]);
  assert.equal(doc.ok, true);
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
    : forgeVbios(FORGED_VBIOS).bytes;
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

Deno.test("demo --inspect --forged --json: every chip forged, a forged v3 VBIOS, debug logs on stderr", async () => {
  const run = await inspect(["--forged", "--json", "--log-level", "debug"]);
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
  assert.equal(doc.vbios.fwsec.signature.fuseVersion, 2);
  assert.equal(doc.vbios.fwsec.frts.signatureIndex, 2);
  assert.equal(doc.gspImage, null);
  const fwsec = extractFwsec(bufferSource(forgeVbios(FORGED_VBIOS).bytes));
  const touched = assertChangesInAreas(doc.vbios.fwsec.frts.changedRanges, fwsec);
  assert.deepEqual([...touched].sort(), ["command", "mapper", "signature"]);
  for (const chip of DEMO_CHIPS) {
    assert.match(run.stderr, new RegExp(`loaded ${chip} 570\\.144 firmware set`), chip);
  }
});

Deno.test("demo: where no firmware can be found, it boots forged files and every chip is forged", async () => {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const denoDir: string = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
  assert.ok(denoDir, "deno info --json has no denoDir");
  const home = await Deno.makeTempDir({ prefix: "falconry-home-" });
  try {
    const env = { HOME: home, XDG_CACHE_HOME: home, DENO_DIR: denoDir };
    const path = Deno.env.get("PATH") ?? "/usr/bin:/bin";
    const booted = await demo(["--json"], { ...env, PATH: path });
    assert.equal(booted.code, 0, booted.stdout + booted.stderr);
    const boots = JSON.parse(booted.stdout).boot;
    assert.ok(boots.every((b: Json) => b.ok && b.residue.length === 0), booted.stdout);
    if (!existsSync("/lib/firmware/nvidia")) {
      assert.deepEqual(boots.map((b: Json) => b.firmware), BOOT_CHIPS.map(() => "forged"));
    }
    const run = await inspect([], { ...env, PATH: path });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n");
    const lookup = (name: string) => (env as Record<string, string>)[name];
    // Only /lib/firmware is left to search.
    const origins = await Promise.all(DEMO_CHIPS.map((chip) => realOrigin(chip, lookup)));
    if (!existsSync("/lib/firmware/nvidia")) {
      assert.deepEqual(origins, DEMO_CHIPS.map(() => "forged"));
    }
    for (const [i, chip] of DEMO_CHIPS.entries()) {
      assert.match(lines[1 + 2 * i], new RegExp(`^ {2}${chip} +${origins[i]} `), lines[1 + 2 * i]);
    }
    if (origins.every((o) => o === "forged")) {
      assert.deepEqual(lines.slice(17, 19), [
        "  forged: the real files were not found, or --forged was given;",
        `  \`${DENO} task firmware\` fetches the real ones`,
      ]);
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
  for (
    const option of [
      "--inspect",
      "--firmware DIR",
      "--vbios FILE",
      "--fuse-version N",
      "--forged",
      "--json",
      "--log-level",
      "--version",
    ]
  ) {
    assert.ok(help.stdout.includes(option), option);
  }
  assert.match(help.stdout, /^Exit codes:$/m);
  assertOneLineError(await demo(["extra"]), 2, /^error: Unexpected argument 'extra'; see --help$/);
  assertJsonError(await demo(["extra", "--json"]), 2, "usage");
  for (const value of ["abc", "-1", "33"]) {
    assertOneLineError(
      await inspect(["--forged", `--fuse-version=${value}`]),
      2,
      new RegExp(`^error: --fuse-version ${value}: expected a whole number from 0 to 32$`),
    );
  }
});

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "falconry-demo-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("demo --inspect --vbios: fuse version 0's signature all zeros, as on production Ampere boards", async () => {
  await withTempDir(async (dir) => {
    const rom = `${dir}/ampere-like.rom`;
    const { bytes } = forgeVbios({ descriptorVersion: 3, zeroSignatures: [0] });
    await Deno.writeFile(rom, bytes);

    // Default: the highest fuse version with a non-zero signature, and why.
    const text = await inspect(["--forged", "--vbios", rom]);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.ok(text.stdout.includes(`\nVBIOS (real ${rom}): 90.02.17.00.7B\n`), text.stdout);
    assert.ok(
      text.stdout.includes(
        "  signature: fuse version 2, the highest with a non-zero signature, as the board " +
          "would select\n    signed for fuse versions 1, 2; all zeros for 0; --fuse-version N " +
          "picks another\n",
      ),
      text.stdout,
    );
    assert.match(
      text.stdout,
      /^ {2}patched for FRTS \(command 0x15, region at 0x[0-9a-f]+, signature 2\); changed bytes/m,
    );

    const json = await inspect(["--forged", "--vbios", rom, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const f = JSON.parse(json.stdout).vbios.fwsec;
    assert.deepEqual(
      [f.signature.fuseVersion, f.signature.chosenBy, f.frts.signatureIndex],
      [2, "highest-signed", 2],
    );
    assert.deepEqual(f.signature.slots, [
      { fuseVersion: 0, index: 0, allZero: true },
      { fuseVersion: 1, index: 1, allZero: false },
      { fuseVersion: 2, index: 2, allZero: false },
    ]);
    const fwsec = extractFwsec(bufferSource(bytes));
    assert.ok(assertChangesInAreas(f.frts.changedRanges, fwsec).has("signature"));

    // --fuse-version picks another signature.
    const one = await inspect(["--forged", "--vbios", rom, "--fuse-version", "1", "--json"]);
    assert.equal(one.code, 0, one.stderr);
    const chosen = JSON.parse(one.stdout).vbios.fwsec;
    assert.deepEqual(
      [chosen.signature.fuseVersion, chosen.signature.chosenBy, chosen.frts.signatureIndex],
      [1, "option", 1],
    );
  });
});

Deno.test("demo --inspect --fuse-version 0 on it: the FRTS patch fails naming the file, the rest stays, exit 1", async () => {
  await withTempDir(async (dir) => {
    const rom = `${dir}/ampere-like.rom`;
    await Deno.writeFile(rom, forgeVbios({ descriptorVersion: 3, zeroSignatures: [0] }).bytes);
    const text = await inspect(["--forged", "--vbios", rom, "--fuse-version", "0"]);
    assert.equal(text.code, 1, text.stderr);
    const lines = text.stdout.split("\n");
    for (const [i, chip] of DEMO_CHIPS.entries()) {
      assert.match(lines[1 + 2 * i], new RegExp(`^ {2}${chip} +forged +(sec2|fsp) `));
    }
    assert.equal(
      text.stderr,
      "error: the FRTS patch failed; the other sections are complete\n",
    );
    const at = lines.indexOf("  signature: fuse version 0, from --fuse-version");
    assert.ok(at > 0, text.stdout);
    assert.equal(lines[at + 1], "    signed for fuse versions 1, 2; all zeros for 0");
    assert.ok(
      lines.some((l) =>
        l.startsWith(`  FRTS patch: error: ${rom}: signatures[0] at offset 0x`) &&
        l.endsWith(": signature 0 (fuse version 0) is all zeros")
      ),
      text.stdout,
    );
    const json = await inspect(["--forged", "--vbios", rom, "--fuse-version", "0", "--json"]);
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.firmware.length, DEMO_CHIPS.length);
    assert.equal(doc.vbios.fwsec.frts, null);
    assert.equal(doc.vbios.fwsec.frtsError.kind, "firmware-format");
    assert.equal(doc.vbios.fwsec.frtsError.file, rom);
    assert.equal(doc.vbios.fwsec.frtsError.field, "signatures[0]");
  });
});

Deno.test("demo --inspect --vbios: a VBIOS with no non-zero signature says so", async () => {
  await withTempDir(async (dir) => {
    const rom = `${dir}/placeholders.rom`;
    await Deno.writeFile(
      rom,
      forgeVbios({ descriptorVersion: 3, zeroSignatures: [0, 1, 2] }).bytes,
    );
    const run = await inspect(["--forged", "--vbios", rom]);
    assert.ok(
      run.stdout.includes(
        "  signature: no fuse version has a non-zero signature, so FWSEC cannot be patched\n" +
          "    signed for none; all zeros for 0, 1, 2; --fuse-version N tries one\n",
      ),
      run.stdout,
    );
    assert.doesNotMatch(run.stdout, /patched for FRTS/);
  });
});

Deno.test("demo --inspect --vbios: a file that is not a VBIOS is reported in its section, naming it; the rest stays", async () => {
  await withTempDir(async (dir) => {
    const booter = `${dir}/booter.bin`;
    await Deno.writeFile(booter, forgeBooter());
    const text = await inspect(["--forged", "--vbios", booter]);
    assert.equal(text.code, 1, text.stderr);
    assert.equal(text.stdout.split("\n")[0], "firmware 570.144, one chip per family:");
    assert.ok(
      text.stdout.includes(
        `\nVBIOS (real ${booter}):\n  error: ${booter}: romImage.signature at offset 0x0: `,
      ),
      text.stdout,
    );
    assert.equal(text.stderr, "error: the VBIOS failed; the other sections are complete\n");
    const json = await inspect(["--forged", "--vbios", booter, "--json"]);
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.ok, false);
    assert.deepEqual(doc.firmware.map((f: Json) => f.chip), DEMO_CHIPS);
    assert.equal(doc.vbios.error.kind, "firmware-format");
    assert.equal(doc.vbios.error.file, booter);
  });
});

Deno.test("demo --inspect: paths that do not exist or are the wrong kind fail at once, naming them", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/file`;
    await Deno.writeFile(file, new Uint8Array(8));
    const cases: [string[], string][] = [
      [["--firmware", "/nonexistent"], "--firmware /nonexistent: no such directory"],
      [["--firmware", file], `--firmware ${file}: is a file, not a directory`],
      [["--vbios", "/nonexistent.rom"], "--vbios /nonexistent.rom: no such file"],
      [["--vbios", dir], `--vbios ${dir}: is a directory, not a file`],
    ];
    for (const [args, message] of cases) {
      const run = await inspect(args);
      assertOneLineError(run, 1);
      assert.equal(run.stderr, `error: ${message}\n`);
      assert.equal(run.stdout, "");
      const json = await inspect([...args, "--json"]);
      assert.equal(assertJsonError(json, 1, "path").error.message, message);
    }
  });
});

Deno.test("demo --inspect --vbios: a sparse 4 GiB file is refused before anything is read", async () => {
  await withTempDir(async (dir) => {
    const big = `${dir}/huge.rom`;
    await Deno.writeFile(big, new Uint8Array(0));
    await Deno.truncate(big, 4 * 2 ** 30); // sparse: no disk space, no time
    const run = await inspect(["--vbios", big]);
    assertOneLineError(
      run,
      1,
      new RegExp(
        `^error: --vbios ${big}: 4\\.0 GiB is far larger than any VBIOS \\(at most 16 MiB: ` +
          "the largest PCI expansion ROM\\); is it a VBIOS dump\\?$",
      ),
    );
    assert.equal(run.stdout, "");
    const json = await inspect(["--vbios", big, "--json"]);
    assert.equal(assertJsonError(json, 1, "path").error.path, big);
  });
});

realVbiosTest(
  "demo --inspect --vbios: any real VBIOS is read and patched for FRTS",
  async (bytes, { path }) => {
    const run = await inspect(["--forged", "--vbios", path, "--json"]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const { vbios } = JSON.parse(run.stdout);
    assert.equal(vbios.origin, "real");
    assert.equal(vbios.size, bytes.length);
    const fwsec = extractFwsec(bufferSource(bytes));
    assert.equal(vbios.fwsec.descriptorVersion, fwsec.descriptor.descriptorVersion);
    assert.ok(vbios.fwsec.frts, JSON.stringify(vbios.fwsec));
    if (fwsec.descriptor.descriptorVersion === 3) {
      assert.equal(vbios.fwsec.signature.chosenBy, "highest-signed");
      assert.equal(fwsec.signatures[vbios.fwsec.frts.signatureIndex].some((b) => b !== 0), true);
    } else {
      assert.equal(vbios.fwsec.signature.chosenBy, "none");
    }
    assertChangesInAreas(vbios.fwsec.frts.changedRanges, fwsec);
  },
  { anyVbios: true },
);
