// Tests of loader/install.ts: extraction from a small .deb built here with
// dpkg-deb, the steps it reports, and a package that differs from the
// manifest.

import assert from "node:assert/strict";
import { installFirmwareFromDeb } from "../loader/install.ts";
import { FirmwareChecksumError, FirmwareNotFoundError } from "../errors.ts";
import {
  assertInstalledTree,
  buildDeb,
  DEB_FILES,
  DEB_MANIFEST,
  debTest,
  listDir,
  sha256,
} from "./_fetch_fixture.ts";

debTest("extraction from a .deb built with dpkg-deb", async (dir) => {
  const deb = await buildDeb(dir);
  const cache = `${dir}/cache/falconry`;
  const steps: string[] = [];
  const result = await installFirmwareFromDeb(deb, {
    cacheDir: cache,
    manifest: DEB_MANIFEST,
    onStep: (s) => steps.push(s.step),
  });
  assert.deepEqual(steps, ["extract", "verify", "install"]);
  assert.equal(result.firmwareDir, `${cache}/firmware`);
  assert.equal(result.files, 3);
  assert.equal(result.links, 3);
  assert.equal(result.bytes, Object.values(DEB_FILES).join("").length);
  assert.deepEqual(result.unknownFiles, []);
  await assertInstalledTree(`${cache}/firmware`);
  assert.deepEqual(await listDir(cache), ["firmware"], "no work folder left behind");

  // A second install replaces the first one whole.
  await Deno.writeTextFile(`${cache}/firmware/stale.txt`, "old");
  await installFirmwareFromDeb(deb, { cacheDir: cache, manifest: DEB_MANIFEST });
  await assertInstalledTree(`${cache}/firmware`);
  await assert.rejects(Deno.lstat(`${cache}/firmware/stale.txt`), Deno.errors.NotFound);
  assert.deepEqual(await listDir(cache), ["firmware"]);
});

debTest("a package that differs from the manifest fails and keeps the old cache", async (dir) => {
  const deb = await buildDeb(dir, {
    ...DEB_FILES,
    "nvidia/ad102/gsp/gsp-570.144.bin": "ad102 gsp imagE",
  });
  const cache = `${dir}/falconry`;
  await Deno.mkdir(`${cache}/firmware`, { recursive: true });
  await Deno.writeTextFile(`${cache}/firmware/previous.txt`, "kept");
  const error = await installFirmwareFromDeb(deb, { cacheDir: cache, manifest: DEB_MANIFEST })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof FirmwareChecksumError, String(error));
  assert.match(error.path, /nvidia\/ad102\/gsp\/gsp-570\.144\.bin$/);
  assert.equal(error.expected, sha256("ad102 gsp image"));
  assert.equal(error.actual, sha256("ad102 gsp imagE"));
  assert.equal(await Deno.readTextFile(`${cache}/firmware/previous.txt`), "kept");
  assert.deepEqual(await listDir(cache), ["firmware"]);
});

debTest(
  "a package with its firmware in lib/firmware is listed first, then extracted",
  async (dir) => {
    const deb = await buildDeb(dir, DEB_FILES, "lib/firmware");
    const cache = `${dir}/cache/falconry`;
    const result = await installFirmwareFromDeb(deb, { cacheDir: cache, manifest: DEB_MANIFEST });
    assert.equal(result.files, 3);
    assert.equal(result.links, 3);
    await assertInstalledTree(`${cache}/firmware`);
    assert.deepEqual(await listDir(cache), ["firmware"]);
  },
);

debTest(
  "a package without the manifest's files fails naming them and leaves nothing behind",
  async (dir) => {
    const deb = await buildDeb(dir, {});
    const cache = `${dir}/falconry`;
    const error = await installFirmwareFromDeb(deb, { cacheDir: cache, manifest: DEB_MANIFEST })
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof FirmwareNotFoundError, String(error));
    // ad103 links to ad102, which now has no GSP files: the link is not taken either.
    assert.deepEqual(
      error.missing.map((m) => m.path).sort(),
      [...Object.keys(DEB_FILES), "nvidia/ad103"].sort(),
    );
    assert.deepEqual(await listDir(cache), []);
  },
);
