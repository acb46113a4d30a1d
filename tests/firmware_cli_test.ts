// Tests of scripts/firmware.ts (and scripts/_cli.ts) run as a subprocess:
// `check --json` on a complete and on an incomplete root, a --firmware folder
// that does not exist or is a file, `inspect` on a missing file, help texts,
// usage errors (exit 2, and JSON with --json), and `fetch --best-effort` when
// apt-get cannot be run. No test fetches from the network.

import assert from "node:assert/strict";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { assertJsonError, assertOneLineError, type CliRun, runScript } from "./_cli.ts";
import { existsSync, realFirmwareTest } from "./_real.ts";

const SCRIPT = new URL("../scripts/firmware.ts", import.meta.url).pathname;
const TU102 = "nvidia/tu102/gsp";
const TU102_570 = ["booter_load", "booter_unload", "bootloader", "gen_bootloader", "gsp"];

/** Deno's own cache, pinned so that a changed XDG_CACHE_HOME does not move it. */
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`;

function firmwareCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runScript(SCRIPT, args, {
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      DENO_DIR,
      ...env,
    },
  });
}

realFirmwareTest(
  "check --json: a complete set exits 0 and says where each file was found",
  TU102_570.map((n) => `${TU102}/${n}-570.144.bin`),
  async (paths) => {
    const root = paths[0].slice(0, -`${TU102}/booter_load-570.144.bin`.length - 1);
    const emptyCache = await Deno.makeTempDir();
    try {
      const run = await firmwareCli(
        ["check", "--chip", "tu102", "--version", "570.144", "--firmware", root, "--json"],
        { XDG_CACHE_HOME: emptyCache },
      );
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.ok, true);
      assert.equal(report.manifest.version, FIRMWARE_MANIFEST.version);
      assert.deepEqual(report.searchOrder, [
        { dir: root, source: "option" },
        { dir: `${emptyCache}/falconry/firmware`, source: "cache" },
        { dir: "/lib/firmware", source: "system" },
      ]);
      assert.equal(report.sets.length, 1);
      const [set] = report.sets;
      assert.equal(set.chip, "tu102");
      assert.equal(set.version, "570.144");
      assert.deepEqual(set.files.map((f: { name: string }) => f.name), TU102_570);
      for (const f of set.files) {
        assert.equal(f.status, "match");
        assert.equal(f.found, `${root}/${f.path}`);
        assert.equal(f.root.source, "option");
        assert.equal(f.sha256, f.expectedSha256);
        assert.deepEqual(f.searched, [f.found]);
      }
      assert.deepEqual(report.missing, []);
      assert.deepEqual(report.mismatched, []);
    } finally {
      await Deno.remove(emptyCache, { recursive: true });
    }
  },
);

const SYSTEM_HAS_GSP = existsSync(`/lib/firmware/${TU102}/gsp-570.144.bin`);

Deno.test({
  name: `check --json: a root missing a file exits 1 and lists it with every searched place${
    SYSTEM_HAS_GSP ? " (skipped: /lib/firmware has it)" : ""
  }`,
  ignore: SYSTEM_HAS_GSP,
  fn: async () => {
    const base = await Deno.makeTempDir();
    try {
      const root = `${base}/root`;
      const envRoot = `${base}/env-root`;
      await Deno.mkdir(`${root}/${TU102}`, { recursive: true });
      await Deno.mkdir(envRoot);
      for (const name of TU102_570.filter((n) => n !== "gsp")) {
        await Deno.writeTextFile(`${root}/${TU102}/${name}-570.144.bin`, `not ${name}`);
      }
      const run = await firmwareCli(
        ["check", "--chip", "tu102", "--version", "570.144", "--firmware", root, "--json"],
        { XDG_CACHE_HOME: `${base}/xdg`, FALCONRY_FIRMWARE_DIR: envRoot },
      );
      assert.equal(run.code, 1, run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.ok, false);
      const gsp = `${TU102}/gsp-570.144.bin`;
      assert.deepEqual(report.missing, [{
        chip: "tu102",
        version: "570.144",
        path: gsp,
        searched: [
          `${root}/${gsp}`,
          `${envRoot}/${gsp}`,
          `${base}/xdg/falconry/firmware/${gsp}`,
          `/lib/firmware/${gsp}`,
        ],
      }]);
      // The four stand-ins are found but do not match the manifest.
      assert.deepEqual(
        report.mismatched.map((m: { path: string }) => m.path),
        TU102_570.filter((n) => n !== "gsp").map((n) => `${TU102}/${n}-570.144.bin`),
      );
      const set = report.sets[0];
      assert.equal(set.ok, false);
      assert.equal(set.files.find((f: { name: string }) => f.name === "gsp").found, null);

      // Without --json: one line per file, MISSING and MISMATCH spelled out.
      const human = await firmwareCli(
        ["check", "--chip", "tu102", "--version", "570.144", "--firmware", root],
        { XDG_CACHE_HOME: `${base}/xdg` },
      );
      assert.equal(human.code, 1);
      assert.match(human.stdout, /^tu102 570\.144: FAILED \(1 missing, 4 mismatched\)$/m);
      assert.match(human.stdout, /^ {2}gsp +MISSING +searched: /m);
      assert.match(human.stdout, /^0 of 1 chip firmware sets complete/m);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test("help: the command list and each command's options", async () => {
  const top = await firmwareCli(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^ {2}fetch {2}/m);
  assert.match(top.stdout, /^ {2}check {2}/m);
  const fetch = await firmwareCli(["fetch", "--help"]);
  assert.equal(fetch.code, 0);
  for (const flag of ["--if-missing", "--best-effort", "--json", "--log-level LEVEL", "--help"]) {
    assert.ok(fetch.stdout.includes(flag), flag);
  }
  const check = await firmwareCli(["help", "check"]);
  assert.equal(check.code, 0);
  for (const flag of ["--chip CHIP", "--version V", "--firmware DIR", "--json"]) {
    assert.ok(check.stdout.includes(flag), flag);
  }
});

Deno.test("check --firmware: a folder that does not exist, or a file, fails naming it", async () => {
  const missing = await firmwareCli(["check", "--chip", "tu102", "--firmware", "/nonexistent"]);
  assertOneLineError(missing, 1, /^error: --firmware \/nonexistent: no such directory$/);
  assert.equal(missing.stdout, "");
  const file = await Deno.makeTempFile();
  try {
    const run = await firmwareCli(["check", "--chip", "tu102", "--firmware", file, "--json"]);
    const doc = assertJsonError(run, 1, "path");
    assert.equal(doc.error.path, file);
    assert.equal(doc.error.flag, "--firmware");
    assert.equal(doc.error.message, `--firmware ${file}: is a file, not a directory`);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("inspect: a missing file is '<path>: no such file', with no field or offset", async () => {
  const run = await firmwareCli(["inspect", "/nonexistent.bin"]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "/nonexistent.bin: error: no such file\n");
  const help = await firmwareCli(["inspect", "--help"]);
  assert.match(help.stdout, /--json +print JSON Lines: one object per file and line/);
  assert.match(help.stdout, /JSON\s+Lines/);
  assert.doesNotMatch(help.stdout, /one JSON document/);
});

Deno.test("--version: the program's; check's own --version takes a firmware version", async () => {
  const top = await firmwareCli(["--version", "--json"]);
  assert.equal(top.code, 0, top.stderr);
  assert.equal(JSON.parse(top.stdout).firmwareManifest.version, FIRMWARE_MANIFEST.version);
  const check = await firmwareCli(["check", "--help"]);
  assert.match(check.stdout, /--version V +check only this firmware version/);
});

Deno.test("usage errors print one line and exit 2; with --json also a JSON error", async () => {
  const cases: [string[], RegExp][] = [
    [["check", "--bogus"], /^error: Unknown option '--bogus'; see --help$/],
    [["check", "--chip", "nv50"], /^error: --chip nv50: unknown chip "nv50"; known chips: tu102, /],
    [
      ["check", "--version", "1.0"],
      /^error: --version 1\.0: falconry knows 570\.144, 535\.113\.01$/,
    ],
    [["check", "--log-level", "loud"], /^error: --log-level loud: expected trace, /],
    [
      ["frobnicate"],
      /^error: firmware\.ts: unknown command "frobnicate"; commands: fetch, check, inspect$/,
    ],
    [["inspect"], /^error: inspect needs at least one FILE$/],
  ];
  for (const [args, pattern] of cases) {
    const run = await firmwareCli(args);
    assertOneLineError(run, 2, pattern);
    assert.equal(run.stdout, "");
    const json = await firmwareCli([...args, "--json"]);
    assertJsonError(json, 2, "usage");
  }
});

Deno.test("fetch --best-effort: without apt-get it warns and exits 0, unless real firmware is required", async () => {
  const xdg = await Deno.makeTempDir();
  try {
    const env = { PATH: "/nonexistent", XDG_CACHE_HOME: xdg };
    const lenient = await firmwareCli(["fetch", "--best-effort"], env);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stderr, /WRN.*firmware fetch failed; going on without real firmware/);

    const json = await firmwareCli(["fetch", "--best-effort", "--json"], env);
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout).action, "failed");

    const strict = await firmwareCli(["fetch", "--best-effort"], {
      ...env,
      FALCONRY_REQUIRE_REAL_FIRMWARE: "1",
    });
    assert.equal(strict.code, 1);
    assert.match(strict.stderr.trimEnd().split("\n").at(-1) ?? "", /^error: /);

    const plain = await firmwareCli(["fetch"], env);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /^error: (apt-get is not installed|no Debian archive)/m);
    assert.ok(!existsSync(`${xdg}/falconry/firmware`), "nothing half-installed");
  } finally {
    await Deno.remove(xdg, { recursive: true });
  }
});

realFirmwareTest(
  "fetch --if-missing: a cache that matches the manifest is left alone",
  Object.keys(FIRMWARE_MANIFEST.files),
  async (paths) => {
    const first = Object.keys(FIRMWARE_MANIFEST.files)[0];
    const root = paths[0].slice(0, -first.length - 1);
    const xdg = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${xdg}/falconry`);
      await Deno.symlink(root, `${xdg}/falconry/firmware`);
      // PATH without apt-get: had it tried to fetch, it would have failed.
      const run = await firmwareCli(["fetch", "--if-missing", "--json"], {
        XDG_CACHE_HOME: xdg,
        PATH: "/nonexistent",
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), {
        action: "skipped",
        firmwareDir: `${xdg}/falconry/firmware`,
        version: FIRMWARE_MANIFEST.version,
      });
    } finally {
      await Deno.remove(xdg, { recursive: true });
    }
  },
);
