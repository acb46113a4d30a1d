// Tests of loader/fetch.ts: the whole fetch with apt-get replaced by a fake
// that "downloads" a small .deb built here (no network): the command lines,
// the steps and progress it reports, two fetches at once on one cache, and
// reusing a cache that is already complete.

import assert from "node:assert/strict";
import { fetchFirmware, type FetchResult } from "../loader/fetch.ts";
import type { FetchProgress } from "../loader/fetch_progress.ts";
import {
  aptDownloadArgv,
  aptShowArgv,
  aptUpdateArgv,
  privateAptConfig,
} from "../loader/apt_config.ts";
import type { CommandResult } from "../loader/run_command.ts";
import { FalconryError } from "../errors.ts";
import {
  assertInstalledTree,
  buildDeb,
  DEB_MANIFEST,
  DEB_NAME,
  debTest,
  fakeAptGet,
  FIXTURES,
  listDir,
  MIRROR,
  tempAptDir,
  withTempDir,
} from "./_fetch_fixture.ts";

const OK: CommandResult = { code: 0, stdout: "", stderr: "" };

debTest(
  "fetchFirmware: apt runs with the private configuration, the .deb is deleted",
  async (dir) => {
    const deb = await buildDeb(dir);
    const cache = `${dir}/falconry`;
    const calls: { argv: readonly string[]; cwd?: string; debs: string[] }[] = [];
    const aptGet = async (argv: readonly string[], cwd?: string): Promise<CommandResult> => {
      calls.push({ argv, cwd, debs: cwd ? await listDir(cwd) : [] });
      if (argv.at(-2) === "download") await Deno.copyFile(deb, `${cwd}/${DEB_NAME}`);
      return OK;
    };
    const steps: string[] = [];
    const started: string[] = [];
    const aptDir = await tempAptDir(dir);
    const result = await fetchFirmware({
      cacheDir: cache,
      aptDir,
      manifest: DEB_MANIFEST,
      aptGet,
      onStep: (s) => steps.push(s.step),
      onProgress: (p) => {
        if (p.elapsedMs === 0) started.push(p.step);
      },
    });
    const expectedSteps = ["sources", "update", "download", "extract", "verify", "install"];
    assert.deepEqual(steps, expectedSteps);
    assert.deepEqual(started, expectedSteps, "each step is announced when it starts");
    assert.equal(result.action, "fetched");
    assert.equal(result.waitedFor, undefined);
    const config = privateAptConfig(cache, result.mirror);
    assert.deepEqual(calls.map((c) => c.argv), [
      aptUpdateArgv(config),
      aptShowArgv(config),
      aptDownloadArgv(config),
    ]);
    assert.equal(calls[0].cwd, undefined);
    assert.match(calls[2].cwd ?? "", new RegExp(`^${cache}/\\.fetch-${Deno.pid}-\\d+-`));
    assert.deepEqual(calls[2].debs, [], "downloads into an empty folder");
    assert.equal(result.mirror.uri, MIRROR);
    assert.equal(result.packageVersion, "20260916-1");
    assert.equal(result.debBytes, (await Deno.stat(deb)).size);
    assert.equal(
      await Deno.readTextFile(`${cache}/apt/sources.list`),
      `deb [signed-by=${aptDir}/key.gpg] ${MIRROR} sid non-free-firmware\n`,
    );
    await assertInstalledTree(`${cache}/firmware`);
    assert.deepEqual(
      await listDir(cache),
      ["apt", "fetch.lock", "firmware"],
      "no .deb, no work folder",
    );
  },
);

debTest(
  "fetchFirmware: download progress counts the bytes downloaded so far, with the size from apt-cache",
  async (dir) => {
    const deb = await buildDeb(dir);
    const debBytes = await Deno.readFile(deb);
    const cache = `${dir}/falconry`;
    const half = debBytes.length >> 1;
    const seen: FetchProgress[] = [];
    const waiters = new Map<number, () => void>();
    const untilSeen = (bytes: number) =>
      new Promise<void>((resolve) => waiters.set(bytes, resolve));
    const halfSeen = untilSeen(half >> 1);
    const aptGet = async (argv: readonly string[], cwd?: string): Promise<CommandResult> => {
      if (argv[0] === "apt-cache") {
        return { ...OK, stdout: `Package: firmware-nvidia-graphics\nSize: ${debBytes.length}\n` };
      }
      if (argv.at(-2) !== "download") return OK;
      // apt-get download (2.6) grows the file in place; apt's partial folder is watched too.
      const partial = `${cache}/apt/cache/archives/partial/${DEB_NAME}`;
      await Deno.writeFile(partial, debBytes.subarray(0, half >> 1));
      await halfSeen;
      await Deno.remove(partial);
      await Deno.writeFile(`${cwd}/${DEB_NAME}`, debBytes.subarray(0, half));
      await untilSeen(half);
      await Deno.writeFile(`${cwd}/${DEB_NAME}`, debBytes);
      return OK;
    };
    await fetchFirmware({
      cacheDir: cache,
      aptDir: await tempAptDir(dir),
      manifest: DEB_MANIFEST,
      aptGet,
      onProgress: (p) => {
        seen.push(p);
        if (p.step === "download" && p.bytes !== undefined) waiters.get(p.bytes)?.();
      },
    });
    const downloading = seen.filter((p) => p.step === "download" && p.bytes !== undefined);
    assert.ok(downloading.length >= 1);
    for (const p of downloading) {
      assert.equal(p.totalBytes, debBytes.length);
      assert.ok(p.bytes! <= debBytes.length);
      assert.ok(p.elapsedMs > 0);
      // No rate before the first byte (apt is still connecting), a positive one after.
      assert.equal(p.bytesPerSecond === undefined, p.bytes === 0);
    }
    const bytes = downloading.map((p) => p.bytes!);
    assert.ok(bytes.includes(half >> 1), "counted in apt's partial folder");
    assert.ok(bytes.includes(half), "counted in the destination folder");
  },
);

debTest(
  "two fetches at once: the second waits for the first, names it, and reuses its result",
  async (dir) => {
    const deb = await buildDeb(dir);
    const cache = `${dir}/falconry`;
    const aptDir = await tempAptDir(dir);
    const downloads: string[] = [];
    let secondWaits!: (message: string) => void;
    const waiting = new Promise<string>((resolve) => secondWaits = resolve);
    let firstDownloads!: () => void;
    const firstHoldsLock = new Promise<void>((resolve) => firstDownloads = resolve);
    const first = fetchFirmware({
      cacheDir: cache,
      aptDir,
      manifest: DEB_MANIFEST,
      aptGet: async (argv, cwd) => {
        if (argv.at(-2) === "download") {
          downloads.push("first");
          firstDownloads();
          await waiting; // hold the lock until the second one is seen waiting
          await Deno.copyFile(deb, `${cwd}/${DEB_NAME}`);
        }
        return OK;
      },
    });
    await firstHoldsLock;
    const secondSteps: string[] = [];
    const second = fetchFirmware({
      cacheDir: cache,
      aptDir,
      manifest: DEB_MANIFEST,
      aptGet: (argv, cwd) => {
        if (argv.at(-2) === "download") downloads.push("second");
        return fakeAptGet(deb)(argv, cwd);
      },
      onStep: (s) => secondSteps.push(s.step),
      onProgress: (p) => {
        if (p.step === "wait" && p.message) secondWaits(p.message);
      },
    });
    const [a, b]: FetchResult[] = await Promise.all([first, second]);
    assert.equal(await waiting, `another fetch (pid ${Deno.pid}) is running; waiting for it`);
    assert.deepEqual(downloads, ["first"], "one download");
    assert.equal(a.action, "fetched");
    assert.equal(b.action, "reused");
    assert.equal(b.waitedFor, Deno.pid);
    assert.equal(b.firmwareDir, a.firmwareDir);
    assert.equal(b.files, a.files);
    assert.equal(b.links, a.links);
    assert.equal(b.bytes, a.bytes);
    assert.deepEqual(secondSteps, ["sources", "wait"]);
    await assertInstalledTree(`${cache}/firmware`);
    assert.deepEqual(await listDir(cache), ["apt", "fetch.lock", "firmware"]);
  },
);

debTest(
  "ifMissing: a complete cache is reused, and leftovers of dead fetches are removed",
  async (dir) => {
    const deb = await buildDeb(dir);
    const cache = `${dir}/falconry`;
    const aptDir = await tempAptDir(dir);
    await fetchFirmware({
      cacheDir: cache,
      aptDir,
      manifest: DEB_MANIFEST,
      aptGet: fakeAptGet(deb),
    });
    // pid_max is at most 2^22, so this owner never existed.
    const leftover = `${cache}/.install-4194305-1-abcdef`;
    await Deno.mkdir(`${leftover}/extract`, { recursive: true });
    const calls: { argv: readonly string[] }[] = [];
    const reused = await fetchFirmware({
      cacheDir: cache,
      aptDir,
      manifest: DEB_MANIFEST,
      aptGet: fakeAptGet(deb, calls),
      ifMissing: true,
    });
    assert.equal(reused.action, "reused");
    assert.equal(reused.waitedFor, undefined);
    assert.deepEqual(calls, [], "apt is not run");
    assert.deepEqual(await listDir(cache), ["apt", "fetch.lock", "firmware"]);

    // An incomplete cache is fetched again.
    await Deno.remove(`${cache}/firmware/nvidia/ad103`);
    const fetched = await fetchFirmware({
      cacheDir: cache,
      aptDir,
      manifest: DEB_MANIFEST,
      aptGet: fakeAptGet(deb, calls),
      ifMissing: true,
    });
    assert.equal(fetched.action, "fetched");
    assert.equal(calls.length, 3);
    await assertInstalledTree(`${cache}/firmware`);
  },
);

Deno.test("fetchFirmware: apt failures and a system without Debian sources are FalconryErrors", async () => {
  await withTempDir(async (dir) => {
    const failing = (): Promise<CommandResult> =>
      Promise.resolve({
        code: 100,
        stdout: "",
        stderr: "W: Failed to fetch sid/InRelease\nE: Some index files failed to download.\n",
      });
    const error = await fetchFirmware({
      cacheDir: `${dir}/falconry`,
      aptDir: `${FIXTURES}apt_oneline`,
      aptGet: failing,
    }).then(() => undefined, (e) => e);
    // The fixture's custom keyring does not exist here: that is reported first.
    assert.ok(error instanceof FalconryError);
    assert.match(error.message, /custom-debian\.gpg is missing/);

    const offline = await fetchFirmware({
      cacheDir: `${dir}/falconry`,
      aptDir: await tempAptDir(dir),
      aptGet: failing,
    }).then(() => undefined, (e) => e);
    assert.ok(offline instanceof FalconryError);
    assert.equal(
      offline.message,
      "apt-get update failed (exit 100): E: Some index files failed to download.",
    );
    assert.deepEqual(await listDir(`${dir}/falconry`), ["apt", "fetch.lock"]);

    const none = await fetchFirmware({
      cacheDir: `${dir}/falconry`,
      aptDir: FIXTURES,
      aptGet: failing,
    }).then(() => undefined, (e) => e);
    assert.ok(none instanceof FalconryError);
    assert.match(none.message, /no Debian archive in the apt sources/);
  });
});

Deno.test("fetchFirmware: a failed download removes its work folder and releases the lock", async () => {
  await withTempDir(async (dir) => {
    const cache = `${dir}/falconry`;
    const aptGet = async (argv: readonly string[], cwd?: string): Promise<CommandResult> => {
      if (argv.at(-2) !== "download") return OK;
      await Deno.writeTextFile(`${cwd}/${DEB_NAME}.part`, "half");
      return { code: 100, stdout: "", stderr: "E: Failed to fetch the package\n" };
    };
    const options = { cacheDir: cache, aptDir: await tempAptDir(dir), aptGet };
    await assert.rejects(fetchFirmware(options), /apt-get download .* failed \(exit 100\)/);
    assert.deepEqual(await listDir(cache), ["apt", "fetch.lock"]);
    // The lock is free again: a second fetch gets as far as the download without waiting.
    const steps: string[] = [];
    await assert.rejects(fetchFirmware({ ...options, onStep: (s) => steps.push(s.step) }));
    assert.deepEqual(steps, ["sources", "update"]);
  });
});
