// Tests of loader/locate.ts: search order over temporary roots with the
// environment overridden, manifest status, requireFirmware's errors, folders
// the user names that do not exist, and readFirmwareFile's error naming.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CHIPS } from "../chips/chips.ts";
import {
  FalconryError,
  FirmwareChecksumError,
  FirmwareFormatError,
  FirmwareNotFoundError,
} from "../errors.ts";
import {
  locateFirmware,
  readFirmwareFile,
  requireFirmware,
  resolveChip,
  versionsForChip,
} from "../loader/locate.ts";
import { FirmwareDirError } from "../loader/firmware_dirs.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "../loader/manifest.ts";
import { existsSync, realFirmwareTest } from "./_real.ts";

const TU102 = "nvidia/tu102/gsp";
const SYSTEM = "/lib/firmware";

/** Three roots: A for --firmware, B for FALCONRY_FIRMWARE_DIR, C as XDG_CACHE_HOME. */
async function withRoots(
  fn: (r: {
    a: string;
    b: string;
    cache: string;
    env: (name: string) => string | undefined;
    put: (root: string, rel: string, text: string) => Promise<void>;
  }) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir();
  const a = `${base}/a`;
  const b = `${base}/b`;
  const xdg = `${base}/xdg`;
  const vars: Record<string, string> = { FALCONRY_FIRMWARE_DIR: b, XDG_CACHE_HOME: xdg };
  // The folders the user names must exist; the cache need not.
  await Deno.mkdir(a, { recursive: true });
  await Deno.mkdir(b, { recursive: true });
  const put = async (root: string, rel: string, text: string) => {
    await Deno.mkdir(`${root}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${rel}`, text);
  };
  try {
    await fn({ a, b, cache: `${xdg}/falconry/firmware`, env: (n) => vars[n], put });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

function manifestOf(files: Record<string, string>, links: Record<string, string> = {}) {
  const manifest: FirmwareManifest = {
    ...FIRMWARE_MANIFEST,
    files: Object.fromEntries(
      Object.entries(files).map(([p, t]) => [p, { sha256: sha(t), size: t.length }]),
    ),
    links,
  };
  return manifest;
}

Deno.test("locate: --firmware, then FALCONRY_FIRMWARE_DIR, then the cache, then /lib/firmware", async () => {
  await withRoots(async ({ a, b, cache, env, put }) => {
    await put(a, `${TU102}/booter_load-570.144.bin`, "load A");
    await put(b, `${TU102}/booter_load-570.144.bin`, "load B");
    await put(b, `${TU102}/booter_unload-570.144.bin`, "unload B");
    await put(cache, `${TU102}/booter_unload-570.144.bin`, "unload C");
    await put(cache, `${TU102}/bootloader-570.144.bin`, "bootloader C");
    await put(a, `${TU102}/gsp-570.144.bin`, "gsp A, not in the manifest");
    const manifest = manifestOf({
      [`${TU102}/booter_load-570.144.bin`]: "load A",
      [`${TU102}/booter_unload-570.144.bin`]: "unload C", // B's copy is found first: mismatch
      [`${TU102}/bootloader-570.144.bin`]: "bootloader C",
    });
    const located = await locateFirmware({
      chip: "tu102",
      version: "570.144",
      dir: a,
      env,
      manifest,
    });
    assert.deepEqual(located.dirs, [
      { dir: a, source: "option" },
      { dir: b, source: "env" },
      { dir: cache, source: "cache" },
      { dir: SYSTEM, source: "system" },
    ]);
    const byName = Object.fromEntries(located.files.map((f) => [f.file.name, f]));
    const at = (root: string, name: string) => `${root}/${TU102}/${name}-570.144.bin`;

    assert.equal(byName.booter_load.found, at(a, "booter_load"));
    assert.equal(byName.booter_load.root?.source, "option");
    assert.equal(byName.booter_load.status, "match");
    assert.deepEqual(byName.booter_load.searched, [at(a, "booter_load")]);

    assert.equal(byName.booter_unload.found, at(b, "booter_unload"));
    assert.equal(byName.booter_unload.root?.source, "env");
    assert.equal(byName.booter_unload.status, "mismatch");
    assert.equal(byName.booter_unload.sha256, sha("unload B"));
    assert.equal(byName.booter_unload.expectedSha256, sha("unload C"));

    assert.equal(byName.bootloader.found, at(cache, "bootloader"));
    assert.equal(byName.bootloader.root?.source, "cache");
    assert.deepEqual(byName.bootloader.searched, [
      at(a, "bootloader"),
      at(b, "bootloader"),
      at(cache, "bootloader"),
    ]);

    assert.equal(byName.gsp.status, "not-in-manifest");
    assert.equal(byName.gsp.size, "gsp A, not in the manifest".length);

    const gen = byName.gen_bootloader;
    const systemPath = at(SYSTEM, "gen_bootloader");
    if (!SYSTEM_HAS_TU102) {
      assert.equal(gen.status, "missing");
      assert.equal(gen.found, undefined);
      assert.deepEqual(gen.searched, [
        at(a, "gen_bootloader"),
        at(b, "gen_bootloader"),
        at(cache, "gen_bootloader"),
        systemPath,
      ]);
      assert.equal(located.ok, false);
    }
  });
});

Deno.test("locate: without --firmware the environment's root comes first; duplicates are searched once", async () => {
  await withRoots(async ({ b, cache, env, put }) => {
    await put(b, `${TU102}/gsp-570.144.bin`, "gsp B");
    await put(cache, `${TU102}/gsp-570.144.bin`, "gsp C");
    const located = await locateFirmware({ chip: "tu102", env });
    assert.equal(located.version, "570.144");
    assert.deepEqual(located.dirs.map((d) => d.source), ["env", "cache", "system"]);
    const gsp = located.files.find((f) => f.file.name === "gsp");
    assert.equal(gsp?.found, `${b}/${TU102}/gsp-570.144.bin`);
    assert.equal(gsp?.status, "mismatch", "random bytes do not match the real manifest");

    const same = await locateFirmware({ chip: "tu102", dir: `${b}/`, env });
    assert.deepEqual(same.dirs.map((d) => d.source), ["option", "cache", "system"]);
  });
});

Deno.test("locate: links inside a root are followed and matched through the manifest's links", async () => {
  await withRoots(async ({ a, env, put }) => {
    const files: Record<string, string> = {};
    for (const name of ["booter_load", "booter_unload", "bootloader", "gen_bootloader", "gsp"]) {
      files[`${TU102}/${name}-570.144.bin`] = `${name} bytes`;
      await put(a, `${TU102}/${name}-570.144.bin`, `${name} bytes`);
    }
    await Deno.mkdir(`${a}/nvidia/tu104`, { recursive: true });
    await Deno.symlink("../tu102/gsp", `${a}/nvidia/tu104/gsp`);
    const manifest = manifestOf(files, { "nvidia/tu104/gsp": "../tu102/gsp" });
    const located = await locateFirmware({ chip: "tu104", dir: a, env, manifest });
    assert.ok(located.ok);
    for (const f of located.files) {
      assert.equal(f.status, "match", f.file.path);
      assert.equal(f.found, `${a}/${f.file.path}`);
      assert.match(f.file.path, /^nvidia\/tu104\//);
    }
  });
});

const SYSTEM_HAS_TU102 = existsSync(`${SYSTEM}/${TU102}/gsp-570.144.bin`) ||
  existsSync(`${SYSTEM}/${TU102}/gen_bootloader-570.144.bin`);

Deno.test({
  name: `requireFirmware lists every missing required file with every place looked${
    SYSTEM_HAS_TU102 ? ` (skipped: ${SYSTEM} has tu102 firmware)` : ""
  }`,
  ignore: SYSTEM_HAS_TU102,
  fn: () =>
    withRoots(async ({ a, b, cache, env, put }) => {
      await put(a, `${TU102}/booter_load-570.144.bin`, "x");
      await put(b, `${TU102}/booter_unload-570.144.bin`, "x");
      await put(cache, `${TU102}/bootloader-570.144.bin`, "x");
      const error = await requireFirmware({ chip: "tu102", version: "570.144", dir: a, env })
        .then(() => undefined, (e) => e);
      assert.ok(error instanceof FirmwareNotFoundError);
      assert.deepEqual(error.missing.map((m) => m.path), [
        `${TU102}/gen_bootloader-570.144.bin`,
        `${TU102}/gsp-570.144.bin`,
      ]);
      for (const m of error.missing) {
        assert.deepEqual(m.searched, [a, b, cache, SYSTEM].map((r) => `${r}/${m.path}`));
        for (const place of m.searched) assert.ok(error.message.includes(place), place);
      }
      assert.match(error.message, /deno task firmware/);
    }),
});

Deno.test("requireFirmware: a mismatch throws by default, warns when asked; optional files may be missing", async () => {
  await withRoots(async ({ a, env, put }) => {
    const files: Record<string, string> = {};
    for (const name of ["booter_load", "booter_unload", "bootloader", "gsp"]) {
      files[`nvidia/ad102/gsp/${name}-570.144.bin`] = `${name} bytes`;
      await put(a, `nvidia/ad102/gsp/${name}-570.144.bin`, `${name} bytes`);
    }
    const manifest = manifestOf(files);
    const good = await requireFirmware({ chip: "ad102", dir: a, env, manifest });
    assert.deepEqual(Object.keys(good.paths), [
      "booter_load",
      "booter_unload",
      "bootloader",
      "gsp",
    ]);
    assert.equal(good.paths.gsp, `${a}/nvidia/ad102/gsp/gsp-570.144.bin`);
    if (!existsSync(`${SYSTEM}/nvidia/ad102/gsp/scrubber-570.144.bin`)) {
      assert.equal(good.files.find((f) => f.file.name === "scrubber")?.status, "missing");
      assert.ok(good.ok, "the scrubber is optional");
    }

    await put(a, "nvidia/ad102/gsp/gsp-570.144.bin", "gsp bytez");
    const error = await requireFirmware({ chip: "ad102", dir: a, env, manifest })
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof FirmwareChecksumError);
    assert.equal(error.path, `${a}/nvidia/ad102/gsp/gsp-570.144.bin`);
    assert.equal(error.expected, sha("gsp bytes"));
    assert.equal(error.actual, sha("gsp bytez"));
    const warned = await requireFirmware({
      chip: "ad102",
      dir: a,
      env,
      manifest,
      onMismatch: "warn",
    });
    assert.equal(warned.ok, false);
    assert.equal(warned.paths.gsp, `${a}/nvidia/ad102/gsp/gsp-570.144.bin`);
  });
});

Deno.test("a --firmware folder or FALCONRY_FIRMWARE_DIR that is missing or a file fails; no fall-back to the cache", async () => {
  await withRoots(async ({ a, b, cache, env, put }) => {
    // The cache holds the whole set: a silent fall-back would succeed.
    const files: Record<string, string> = {};
    for (const name of ["booter_load", "booter_unload", "bootloader", "gsp"]) {
      files[`nvidia/ad102/gsp/${name}-570.144.bin`] = `${name} bytes`;
      await put(cache, `nvidia/ad102/gsp/${name}-570.144.bin`, `${name} bytes`);
    }
    const manifest = manifestOf(files);
    assert.ok((await requireFirmware({ chip: "ad102", env, manifest })).ok);

    const typo = `${a}-typo`;
    for (const find of [locateFirmware, requireFirmware]) {
      const error = await find({ chip: "ad102", dir: typo, env, manifest })
        .then(() => undefined, (e) => e);
      assert.ok(error instanceof FirmwareDirError, String(error));
      assert.equal(error.path, typo);
      assert.equal(error.message, `--firmware ${typo}: no such directory`);
    }
    await put(a, "file.bin", "x");
    await assert.rejects(locateFirmware({ chip: "ad102", dir: `${a}/file.bin`, env, manifest }), {
      message: `--firmware ${a}/file.bin: not a directory`,
    });
    await Deno.remove(b, { recursive: true });
    await assert.rejects(requireFirmware({ chip: "ad102", env, manifest }), {
      name: "FirmwareDirError",
      message: `FALCONRY_FIRMWARE_DIR=${b}: no such directory`,
    });
  });
});

Deno.test("unknown chips and versions a chip does not have are FalconryErrors", async () => {
  assert.throws(() => resolveChip("nv50"), FalconryError);
  assert.equal(resolveChip("AD104").name, "ad104");
  assert.deepEqual(versionsForChip("gb202"), ["570.144"]);
  assert.deepEqual(versionsForChip("ga102"), ["570.144", "535.113.01"]);
  const error = await locateFirmware({ chip: "gh100", version: "535.113.01" })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof FalconryError);
  assert.equal(error.message, "no firmware 535.113.01 for gh100; it has 570.144");
});

Deno.test("readFirmwareFile names the file in format errors and missing files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/booter_load-570.144.bin`;
    await Deno.writeFile(path, new Uint8Array([0xde, 0x10, 0, 0]));
    assert.deepEqual(await readFirmwareFile(path), new Uint8Array([0xde, 0x10, 0, 0]));
    assert.equal(await readFirmwareFile(path, (b) => b[0] | (b[1] << 8)), 0x10de);

    const format = await readFirmwareFile(path, () => {
      throw new FirmwareFormatError({ offset: 4, field: "binHeader.version", reason: "truncated" });
    }).then(() => undefined, (e) => e);
    assert.ok(format instanceof FirmwareFormatError);
    assert.equal(format.file, path);
    assert.equal(format.offset, 4);
    assert.ok(format.message.startsWith(`${path}: binHeader.version`));

    const named = await readFirmwareFile(path, () => {
      throw new FirmwareFormatError({ file: "inner.bin", offset: 0, field: "f", reason: "r" });
    }).then(() => undefined, (e) => e);
    assert.equal(named.file, "inner.bin", "a name the parser gave is kept");

    await assert.rejects(
      readFirmwareFile(path, () => {
        throw new RangeError("a bug");
      }),
      RangeError,
    );
    const missing = await readFirmwareFile(`${dir}/nope.bin`).then(() => undefined, (e) => e);
    assert.ok(missing instanceof FirmwareNotFoundError);
    assert.deepEqual(missing.missing, [{ path: `${dir}/nope.bin`, searched: [`${dir}/nope.bin`] }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

realFirmwareTest(
  "every chip's real firmware set is found and matches the manifest",
  Object.keys(FIRMWARE_MANIFEST.files),
  async () => {
    const hashCache = new Map<string, Promise<string>>();
    let sets = 0;
    let allInCache = true;
    for (const chip of CHIPS) {
      for (const version of versionsForChip(chip)) {
        const located = await requireFirmware({ chip, version, hashCache });
        assert.ok(located.ok, `${chip.name} ${version}`);
        for (const f of located.files) {
          if (f.found) assert.equal(f.status, "match", f.found);
          if (f.root && f.root.source !== "cache") allInCache = false;
        }
        sets++;
      }
    }
    assert.equal(sets, 40);
    // The cache keeps the package's links: 40 sets, 38 distinct files.
    if (allInCache) assert.equal(hashCache.size, 38);
  },
);
