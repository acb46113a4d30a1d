// Tests of scripts/_cli.ts: what every script shares. Every script (benches
// included) is run as a subprocess with --version, --help, an unknown
// option and a bad log level; runMain's exit codes and JSON are checked on
// small scripts that fail on purpose, and describeFailure on every error
// class.

import assert from "node:assert/strict";
import {
  BootError,
  DeviceError,
  FalconryError,
  FirmwareChecksumError,
  FirmwareFormatError,
  FirmwareNotFoundError,
  HardwareTimeoutError,
  OsError,
} from "../errors.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import {
  describeFailure,
  EXIT_CODES,
  formatHelp,
  OutputError,
  parseCli,
  PathError,
  requirePath,
  UsageError,
  versionInfo,
} from "../scripts/_cli.ts";
import { VERSION } from "../scripts/_version.ts";
import { assertJsonError, assertOneLineError, runScript } from "./_cli.ts";

// Every script (not the private `_*.ts` helpers), so that a new one cannot miss these checks.
const SCRIPTS = [
  ...Deno.readDirSync(new URL("../scripts/", import.meta.url)),
]
  .map((entry) => entry.name)
  .filter((name) => name.endsWith(".ts") && !name.startsWith("_"))
  .sort()
  .map((name) => ({ name, path: new URL(`../scripts/${name}`, import.meta.url).pathname }));

const VERSION_LINE =
  `falconry ${VERSION} (firmware manifest: ${FIRMWARE_MANIFEST.package} ${FIRMWARE_MANIFEST.version})`;

Deno.test("VERSION is deno.json's version", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
  assert.deepEqual(versionInfo(), {
    falconry: config.version,
    firmwareManifest: { package: FIRMWARE_MANIFEST.package, version: FIRMWARE_MANIFEST.version },
  });
});

for (const script of SCRIPTS) {
  Deno.test(`${script.name}: --version, --help with exit codes, usage errors exit 2`, async () => {
    const [version, versionJson, help, bogus, bogusJson, level] = await Promise.all([
      runScript(script.path, ["--version"]),
      runScript(script.path, ["--version", "--json"]),
      runScript(script.path, ["--help"]),
      runScript(script.path, ["--bogus"]),
      runScript(script.path, ["--bogus", "--json"]),
      runScript(script.path, ["--log-level", "chatty"]),
    ]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `${VERSION_LINE}\n`);
    assert.equal(versionJson.code, 0, versionJson.stderr);
    assert.deepEqual(JSON.parse(versionJson.stdout), versionInfo());

    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: /);
    assert.match(help.stdout, /\nExit codes:\n {2}0 {3}success\n {2}1 {3}bad input/);
    assert.match(help.stdout, /^ {2}2 {3}usage error/m);
    assert.match(help.stdout, /^ {2}70 {2}internal error/m);
    assert.match(help.stdout, /--version/);

    assertOneLineError(bogus, 2, /^error: Unknown option '--bogus'; see --help$/);
    assert.equal(bogus.stdout, "");
    const doc = assertJsonError(bogusJson, 2, "usage");
    assert.equal(doc.error.message, "Unknown option '--bogus'; see --help");
    assertOneLineError(level, 2, /^error: --log-level chatty: expected trace, debug/);
  });
}

Deno.test("bad input with --json: every script prints a JSON error on stdout and exits 1", async () => {
  const sysfs = await Deno.makeTempDir({ prefix: "falconry-sysfs-" });
  try {
    const script = (name: string) => SCRIPTS.find((s) => s.name === name)!.path;
    const cases: [string, string[]][] = [
      ["firmware.ts", ["check", "--firmware", "/nonexistent", "--json"]],
      ["vbios.ts", ["inspect", "/nonexistent.rom", "--json"]],
      ["demo.ts", ["--vbios", "/nonexistent.rom", "--json"]],
      ["regs.ts", ["--json", "NV_NOT_A_REGISTER"]],
      ["probe.ts", ["--json", "--sysfs-root", sysfs, "--device", "0000:99:00.0"]],
    ];
    const runs = await Promise.all(cases.map(([name, args]) => runScript(script(name), args)));
    for (const [i, [name, args]] of cases.entries()) {
      const run = runs[i];
      assert.equal(run.code, 1, `${name} ${args.join(" ")}: ${run.stdout}${run.stderr}`);
      const doc = JSON.parse(run.stdout);
      assert.deepEqual(Object.keys(doc), ["error"], name);
      assert.ok(!["usage", "internal"].includes(doc.error.kind), `${name}: ${run.stdout}`);
      assertOneLineError(run, 1);
      assert.equal(run.stderr, `error: ${doc.error.message}\n`, name);
    }
  } finally {
    await Deno.remove(sysfs, { recursive: true });
  }
});

/** Run a small script that uses runMain from this checkout. */
async function runSnippet(body: string, args: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "falconry-cli-" });
  try {
    const cli = new URL("../scripts/_cli.ts", import.meta.url).href;
    const errors = new URL("../errors.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/snippet.ts`,
      `import * as cli from "${cli}";\nimport * as errors from "${errors}";\n` +
        `await cli.runMain(async () => { ${body} });\n`,
    );
    return await runScript(`${dir}/snippet.ts`, args);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runMain: a bug exits 70 with its stack, and --json still gets JSON", async () => {
  const body = `const args = await cli.startCli(Deno.args, {}, "Usage: snippet.ts");
    if (!args) return 0;
    (undefined as unknown as { x: number }).x;`;
  const text = await runSnippet(body);
  assert.equal(text.code, EXIT_CODES.internal);
  assert.equal(text.stdout, "");
  assert.match(
    text.stderr,
    /^internal error \(a bug in falconry; please report it\):\nTypeError: /,
  );
  assert.match(text.stderr, /^\s+at .*snippet\.ts/m);
  const json = await runSnippet(body, ["--json"]);
  assert.equal(json.code, 70);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.error.kind, "internal");
  assert.equal(doc.error.name, "TypeError");
});

Deno.test("runMain: an OS error on a path (a full disk, a missing file) exits 1 in one line", async () => {
  const full = await runSnippet(`await Deno.writeFile("/dev/full", new Uint8Array(8));`);
  assertOneLineError(full, 1, /^error: No space left on device \(os error 28\): .*\/dev\/full/);
  const missing = await runSnippet(`await Deno.readFile("/nonexistent/x");`, ["--json"]);
  const doc = assertJsonError(missing, 1, "io");
  assert.equal(doc.error.code, "ENOENT");
});

Deno.test("runMain: a FalconryError exits 1, a UsageError 2, each with typed JSON", async () => {
  const format = await runSnippet(
    `throw new errors.FirmwareFormatError({ file: "a.bin", offset: 16, field: "x.y", reason: "bad" });`,
    ["--json"],
  );
  const doc = assertJsonError(format, 1, "firmware-format");
  assert.deepEqual(doc.error, {
    kind: "firmware-format",
    message: "a.bin: x.y at offset 0x10: bad",
    file: "a.bin",
    offset: 16,
    field: "x.y",
    reason: "bad",
  });
  const usage = await runSnippet(`throw new cli.UsageError("--x 3: too many");`);
  assertOneLineError(usage, 2, /^error: --x 3: too many$/);
  // `--json` after `--` is an argument, not the option.
  const dashes = await runSnippet(`throw new cli.UsageError("no");`, ["--", "--json"]);
  assert.equal(dashes.stdout, "");
});

Deno.test("describeFailure: every error class has its kind, typed fields and exit code", () => {
  const cases: [unknown, number, Record<string, unknown>][] = [
    [new UsageError("u"), 2, { kind: "usage" }],
    [new PathError("/x", "file", "no such file", "--vbios"), 1, {
      kind: "path",
      path: "/x",
      expected: "file",
      problem: "no such file",
      flag: "--vbios",
    }],
    [new OutputError("/dev/full", "full", "--out"), 1, {
      kind: "output",
      path: "/dev/full",
      problem: "full",
      flag: "--out",
    }],
    [new FirmwareFormatError({ offset: 4, field: "f", reason: "r" }), 1, {
      kind: "firmware-format",
      offset: 4,
      field: "f",
      reason: "r",
    }],
    [new FirmwareNotFoundError([{ path: "p", searched: ["/a/p"] }]), 1, {
      kind: "firmware-not-found",
      missing: [{ path: "p", searched: ["/a/p"] }],
    }],
    [new FirmwareChecksumError("/f", "aa", "bb"), 1, {
      kind: "firmware-checksum",
      file: "/f",
      expected: "aa",
      actual: "bb",
    }],
    [new OsError({ call: "open", errno: 13, name: "EACCES", path: "/dev/vfio/1" }), 1, {
      kind: "os",
      call: "open",
      errno: 13,
      errnoName: "EACCES",
      path: "/dev/vfio/1",
    }],
    [new DeviceError("0000:01:00.0", "held by nouveau", "unbind it"), 1, {
      kind: "device",
      bdf: "0000:01:00.0",
      problem: "held by nouveau",
      todo: "unbind it",
    }],
    [new HardwareTimeoutError("CPUCTL", 16, 2000), 1, {
      kind: "hardware-timeout",
      register: "CPUCTL",
      lastValue: 16,
      timeoutMs: 2000,
    }],
    [new BootError("fwsec-frts", new Error("x")), 1, { kind: "boot", step: "fwsec-frts" }],
    [new FalconryError("f"), 1, { kind: "input" }],
    [new Deno.errors.NotFound("gone (os error 2)"), 1, { kind: "io" }],
    [new Deno.errors.BadResource("closed"), 70, { kind: "internal", name: "BadResource" }],
    [new RangeError("r"), 70, { kind: "internal", name: "RangeError" }],
    ["a string", 70, { kind: "internal", name: "Error" }],
  ];
  for (const [error, code, fields] of cases) {
    const failure = describeFailure(error);
    assert.equal(failure.code, code, String(error));
    assert.equal(failure.internal, code === 70);
    const { message, ...rest } = failure.json.error;
    assert.equal(typeof message, "string");
    assert.deepEqual(rest, fields, String(error));
  }
});

Deno.test("requirePath: a missing path or the wrong kind fails naming it and the option", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/f.rom`;
    await Deno.writeFile(file, new Uint8Array(4));
    assert.equal(requirePath(file, "file"), file);
    assert.equal(requirePath(dir, "directory", "--firmware"), dir);
    const cases: [() => unknown, string][] = [
      [() => requirePath(`${dir}/none`, "file"), `${dir}/none: no such file`],
      [
        () => requirePath("/nonexistent", "directory", "--firmware"),
        "--firmware /nonexistent: no such directory",
      ],
      [
        () => requirePath(file, "directory", "--firmware"),
        `--firmware ${file}: is a file, not a directory`,
      ],
      [() => requirePath(dir, "file"), `${dir}: is a directory, not a file`],
      [
        () => requirePath(`${file}/x`, "file"),
        `${file}/x: no such file (a part of the path is not a directory)`,
      ],
      [() => requirePath("/dev/null", "file"), "/dev/null: is a character device, not a file"],
      [() => requirePath("", "directory", "--firmware"), '--firmware "": no such directory'],
    ];
    for (const [call, message] of cases) {
      assert.throws(call, (e) => e instanceof PathError && e.message === message, message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseCli: usage errors in one line; integers checked; command options override common ones", () => {
  const options = { n: { type: "string", description: "n" } } as const;
  assert.throws(
    () => parseCli(["--n", "-5"], options),
    (e) =>
      e instanceof UsageError &&
      e.message ===
        `--n needs a value; a value that starts with "-" is written --n=VALUE; see --help`,
  );
  assert.throws(
    () => parseCli(["--n"], options),
    /^UsageError: Option '--n <value>' argument missing; see --help$/,
  );
  const args = parseCli(["--n=-5"], options);
  assert.throws(
    () => args.integer("n", 0, 10),
    /^UsageError: --n -5: expected a whole number from 0 to 10$/,
  );
  assert.equal(parseCli(["--n", "0x10"], options).integer("n", 0, 100), 16);
  assert.equal(parseCli([], options).integer("n", 0, 100), undefined);
  for (const text of ["abc", "1.5", "1e3", "", "11"]) {
    assert.throws(() => parseCli([`--n=${text}`], options).integer("n", 0, 10), UsageError, text);
  }
  // A command's own --version (a firmware version) takes a value.
  const own = parseCli(["--version", "570.144"], {
    version: { type: "string", description: "firmware version" },
  });
  assert.equal(own.string("version"), "570.144");
  const help = formatHelp({
    usage: "x.ts",
    summary: "s",
    options: { version: { type: "string", valueName: "V", description: "firmware version" } },
  });
  assert.match(help, /--version V +firmware version/);
  assert.doesNotMatch(help, /print falconry's version/);
});

Deno.test("runCommandTable: common options before the command apply to it", async () => {
  const vbios = new URL("../scripts/vbios.ts", import.meta.url).pathname;
  const run = await runScript(vbios, ["--json", "inspect", "/nonexistent.rom"]);
  const doc = assertJsonError(run, 1, "path");
  assert.equal(doc.error.path, "/nonexistent.rom");
  const missing = await runScript(vbios, ["--json"]);
  assertJsonError(missing, 2, "usage");
  const topHelp = await runScript(vbios, ["--help", "--json"]);
  assert.equal(topHelp.code, 0);
  assert.match(JSON.parse(topHelp.stdout).help, /^Usage: vbios\.ts <command>/);
});
