// Tests of loader/firmware_dirs.ts: the cache folder from the environment,
// the search order, and folders the user names that are missing, a file,
// or unreadable (each a FirmwareDirError naming the path and where it came
// from, never a silent fall-back to the cache).

import assert from "node:assert/strict";
import {
  assertFirmwareDir,
  cacheDir,
  cacheFirmwareDir,
  FirmwareDirError,
  firmwareSearchDirs,
} from "../loader/firmware_dirs.ts";
import { FalconryError } from "../errors.ts";
import { withTempDir } from "./_fetch_fixture.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("cache folder: XDG_CACHE_HOME, else HOME/.cache, trailing slashes dropped", () => {
  assert.equal(cacheDir(envOf({ XDG_CACHE_HOME: "/x/", HOME: "/h" })), "/x/falconry");
  assert.equal(cacheDir(envOf({ HOME: "/h/" })), "/h/.cache/falconry");
  assert.equal(cacheFirmwareDir(envOf({ HOME: "/h" })), "/h/.cache/falconry/firmware");
});

Deno.test("search order: --firmware, FALCONRY_FIRMWARE_DIR, cache, /lib/firmware, without duplicates", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/opt`);
    await Deno.mkdir(`${dir}/env`);
    const env = envOf({ FALCONRY_FIRMWARE_DIR: `${dir}/env/`, HOME: "/h" });
    assert.deepEqual(firmwareSearchDirs({ dir: `${dir}/opt`, env }), [
      { dir: `${dir}/opt`, source: "option" },
      { dir: `${dir}/env`, source: "env" },
      { dir: "/h/.cache/falconry/firmware", source: "cache" },
      { dir: "/lib/firmware", source: "system" },
    ]);
    assert.deepEqual(
      firmwareSearchDirs({ dir: `${dir}/env`, env }).map((d) => d.source),
      ["option", "cache", "system"],
    );
    // A cache that does not exist yet is fine: only folders the user names are checked.
    assert.deepEqual(
      firmwareSearchDirs({ env: envOf({ HOME: `${dir}/nohome` }) }).map((d) => d.source),
      ["cache", "system"],
    );
  });
});

Deno.test("--firmware naming a missing path or a file fails, naming it", async () => {
  await withTempDir(async (dir) => {
    const env = envOf({ HOME: dir });
    const missing = `${dir}/typo`;
    const e1 = (() => {
      try {
        firmwareSearchDirs({ dir: missing, env });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(e1 instanceof FirmwareDirError && e1 instanceof FalconryError);
    assert.equal(e1.path, missing);
    assert.equal(e1.source, "option");
    assert.equal(e1.problem, "missing");
    assert.equal(e1.message, `--firmware ${missing}: no such directory`);

    const file = `${dir}/firmware.bin`;
    await Deno.writeTextFile(file, "not a folder");
    assert.throws(() => firmwareSearchDirs({ dir: file, env }), {
      name: "FirmwareDirError",
      message: `--firmware ${file}: not a directory`,
    });
    // A path through a file is as missing as any.
    assert.throws(() => firmwareSearchDirs({ dir: `${file}/nvidia`, env }), {
      message: `--firmware ${file}/nvidia: no such directory`,
    });
  });
});

Deno.test("FALCONRY_FIRMWARE_DIR naming a missing path fails, naming the variable", async () => {
  await withTempDir((dir) => {
    const env = envOf({ HOME: dir, FALCONRY_FIRMWARE_DIR: `${dir}/gone` });
    assert.throws(() => firmwareSearchDirs({ env }), (e: unknown) => {
      assert.ok(e instanceof FirmwareDirError);
      assert.equal(e.source, "env");
      assert.equal(e.message, `FALCONRY_FIRMWARE_DIR=${dir}/gone: no such directory`);
      return true;
    });
    // An empty variable is an unset one.
    assert.deepEqual(
      firmwareSearchDirs({ env: envOf({ HOME: dir, FALCONRY_FIRMWARE_DIR: "" }) })
        .map((d) => d.source),
      ["cache", "system"],
    );
    return Promise.resolve();
  });
});

const IS_ROOT = Deno.uid() === 0;

Deno.test({
  name: `a folder the user cannot enter is reported as unreadable${
    IS_ROOT ? " (skipped: root enters every folder)" : ""
  }`,
  ignore: IS_ROOT,
  fn: () =>
    withTempDir(async (dir) => {
      await Deno.mkdir(`${dir}/closed/fw`, { recursive: true });
      await Deno.chmod(`${dir}/closed`, 0o000);
      try {
        assert.throws(() => assertFirmwareDir(`${dir}/closed/fw`, "option"), {
          message: `--firmware ${dir}/closed/fw: permission denied`,
        });
      } finally {
        await Deno.chmod(`${dir}/closed`, 0o755);
      }
    }),
});
