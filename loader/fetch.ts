/**
 * Fetching the GSP firmware from Debian into falconry's cache.
 *
 * The package `firmware-nvidia-graphics` (suite `sid`, component
 * `non-free-firmware`) is downloaded with `apt-get download` through a
 * private sources list and lists folder inside falconry's cache, built from
 * the Debian mirror the system's own apt sources already name, so apt checks
 * the archive signature and the package hash and no host is written into
 * falconry. Its GSP firmware is then installed by
 * {@linkcode installFirmwareFromDeb}.
 *
 * One fetch runs at a time per cache ({@linkcode lockFetchCache}); a second
 * one waits, says for whom, and then reuses the first one's result when the
 * cache matches the manifest. Work folders are removed on SIGINT and
 * SIGTERM, and those of fetches that died anyway are removed by the next
 * fetch ({@linkcode removeLeftoverWorkDirs}).
 *
 * @module
 */

import { posix } from "node:path";
import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";
import { lastLine, spawnGuard } from "./_command.ts";
import { debVersion } from "./_deb_tar.ts";
import { watchDownload } from "./_download_watch.ts";
import { StepReporter } from "./_step_reporter.ts";
import {
  aptDownloadArgv,
  aptShowArgv,
  aptUpdateArgv,
  packageSizeFromShow,
  privateAptConfig,
  writeAptConfig,
} from "./apt_config.ts";
import { type DebianMirror, pickDebianMirror, readAptSources } from "./apt_sources.ts";
import { lockFetchCache } from "./fetch_lock.ts";
import { formatMiB } from "./fetch_progress.ts";
import { createWorkDir, removeLeftoverWorkDirs } from "./fetch_work_dir.ts";
import { cacheDir as defaultCacheDir } from "./firmware_dirs.ts";
import { installFirmwareFromDeb, type InstallOptions, type InstallResult } from "./install.ts";
import { FIRMWARE_MANIFEST } from "./manifest.ts";
import { type CommandRunner, runCommand } from "./run_command.ts";
import { checkFirmwareTree } from "./verify.ts";

const log = getLogger(["falconry", "loader", "fetch"]);

/** Options for {@linkcode fetchFirmware}. */
export interface FetchOptions extends InstallOptions {
  /** The system's apt configuration folder to take the mirror from; default `/etc/apt`. */
  aptDir?: string;
  /** Runs apt-get and apt-cache; replaced in tests. */
  aptGet?: CommandRunner;
  /**
   * Do nothing when, once the fetch lock is held, the cache already matches
   * the manifest. Without it that check is made only after waiting for
   * another fetch.
   */
  ifMissing?: boolean;
}

/** What {@linkcode fetchFirmware} did. */
export interface FetchResult extends InstallResult {
  /**
   * `fetched`, or `reused` when the cache already matched the manifest
   * (after waiting for another fetch, or with `ifMissing`).
   */
  readonly action: "fetched" | "reused";
  /** The mirror used. */
  readonly mirror: DebianMirror;
  /** The package version downloaded (for `reused`: the manifest's). */
  readonly packageVersion: string;
  /** Size of the downloaded .deb (0 for `reused`). */
  readonly debBytes: number;
  /** The pid of the fetch this one waited for, if it waited. */
  readonly waitedFor?: number;
  /** Wall time of the whole fetch. */
  readonly durationMs: number;
}

/**
 * Fetch Debian's `firmware-nvidia-graphics` through apt and install its GSP
 * firmware into falconry's cache (see the module documentation). The .deb
 * is deleted afterwards. While it runs, SIGINT and SIGTERM stop its child
 * processes, remove its work folders and end the process with exit code
 * 130 or 143.
 *
 * @throws {FalconryError} when there is no Debian mirror in the apt sources,
 *   apt-get/dpkg-deb/tar are missing, or apt fails (for example offline).
 * @throws {FirmwareChecksumError} when the fetched files differ from the manifest.
 *
 * @example
 * ```ts ignore
 * import { fetchFirmware } from "./fetch.ts";
 * const result = await fetchFirmware({ onStep: (s) => console.log(s.step, s.message) });
 * console.log(`${result.files} files from ${result.mirror.uri}`);
 * ```
 */
export async function fetchFirmware(options: FetchOptions = {}): Promise<FetchResult> {
  const started = performance.now();
  const cache = options.cacheDir ?? defaultCacheDir();
  const manifest = options.manifest ?? FIRMWARE_MANIFEST;
  const aptGet = options.aptGet ?? runCommand;
  const report = new StepReporter(options);

  report.begin("sources");
  const aptDir = options.aptDir ?? "/etc/apt";
  const mirror = pickDebianMirror(await readAptSources(aptDir));
  if (!mirror) {
    throw new FalconryError(
      `no Debian archive in the apt sources under ${aptDir}; fetch needs a Debian system, ` +
        "or put the firmware in a folder and pass --firmware DIR or FALCONRY_FIRMWARE_DIR",
    );
  }
  if (!mirror.inlineKey && !(await exists(mirror.keyring))) {
    throw new FalconryError(
      `the Debian archive keyring ${mirror.keyring} is missing; install debian-archive-keyring`,
    );
  }
  report.end("sources", `Debian mirror ${mirror.uri} (from ${mirror.source})`);

  await using lock = await lockFetchCache(cache, {
    onWait: (pid) => {
      report.begin("wait", `another fetch (pid ${pid ?? "unknown"}) is running; waiting for it`);
    },
  });
  if (lock.waited) report.end("wait", `another fetch (pid ${lock.waitedFor ?? "unknown"}) ended`);
  await removeLeftoverWorkDirs(cache);
  const firmwareDir = `${cache}/firmware`;
  if (lock.waited || options.ifMissing) {
    const check = await checkFirmwareTree(firmwareDir, manifest);
    if (check.ok) {
      log.info("{dir} matches manifest {version}; nothing to fetch", {
        dir: firmwareDir,
        version: manifest.version,
      });
      return {
        action: "reused",
        firmwareDir,
        files: check.files.length,
        links: check.links.length,
        bytes: Object.values(manifest.files).reduce((sum, f) => sum + f.size, 0),
        unknownFiles: [],
        mirror,
        packageVersion: manifest.version,
        debBytes: 0,
        waitedFor: lock.waitedFor,
        durationMs: performance.now() - started,
      };
    }
  }

  report.begin("update");
  const config = privateAptConfig(cache, mirror, manifest);
  await writeAptConfig(config, mirror);
  await runApt(aptGet, aptUpdateArgv(config), "update");
  const totalBytes = await packageSize(aptGet, aptShowArgv(config, manifest));
  report.end(
    "update",
    `apt-get update of ${manifest.suite}/${manifest.component}` +
      (totalBytes ? `; ${manifest.package} is ${formatMiB(totalBytes)}` : ""),
  );

  report.begin("download");
  await using work = await createWorkDir(cache, "fetch");
  const debPrefix = `${manifest.package}_`;
  {
    const watched = [config.archivesPartialDir, work.path];
    await using _watch = watchDownload(watched, debPrefix, (bytes) => {
      const seconds = report.elapsedMs / 1000;
      report.progress({
        bytes,
        totalBytes,
        // Before the first byte apt is still connecting: no rate yet.
        bytesPerSecond: bytes > 0 && seconds > 0 ? bytes / seconds : undefined,
      });
    });
    await runApt(
      aptGet,
      aptDownloadArgv(config, manifest),
      `download ${manifest.package}`,
      work.path,
    );
  }
  const deb = await findDeb(work.path, manifest.package);
  const debBytes = (await Deno.stat(deb)).size;
  const packageVersion = await debVersion(deb);
  report.end("download", `${posix.basename(deb)} (${formatMiB(debBytes)})`);
  if (packageVersion !== manifest.version) {
    log.warn("downloaded {package} {got}, the manifest was made from {want}", {
      package: manifest.package,
      got: packageVersion,
      want: manifest.version,
    });
  }

  const installed = await installFirmwareFromDeb(deb, {
    cacheDir: cache,
    manifest,
    onStep: options.onStep,
    onProgress: options.onProgress,
  });
  await Deno.remove(deb);
  return {
    action: "fetched",
    ...installed,
    mirror,
    packageVersion,
    debBytes,
    waitedFor: lock.waitedFor,
    durationMs: performance.now() - started,
  };
}

async function runApt(
  aptGet: CommandRunner,
  argv: string[],
  action: string,
  cwd?: string,
): Promise<void> {
  log.debug("running {argv} in {cwd}", { argv, cwd: cwd ?? "." });
  const result = await spawnGuard(argv[0], () => aptGet(argv, cwd));
  for (const line of result.stderr.split("\n").filter(Boolean)) log.debug("apt: {line}", { line });
  if (result.code !== 0) {
    throw new FalconryError(
      `apt-get ${action} failed (exit ${result.code}): ${lastLine(result.stderr)}`,
    );
  }
}

/** The package's size from the private lists, or undefined: progress then shows no total. */
async function packageSize(aptGet: CommandRunner, argv: string[]): Promise<number | undefined> {
  try {
    const result = await aptGet(argv);
    if (result.code === 0) return packageSizeFromShow(result.stdout);
    log.debug("apt-cache show failed (exit {code}): {message}", {
      code: result.code,
      message: lastLine(result.stderr),
    });
  } catch (e) {
    log.debug("apt-cache show failed: {error}", { error: String(e) });
  }
  return undefined;
}

async function findDeb(dir: string, pkg: string): Promise<string> {
  const debs: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith(`${pkg}_`) && entry.name.endsWith(".deb")) {
      debs.push(entry.name);
    }
  }
  if (debs.length !== 1) {
    throw new FalconryError(`apt-get download left ${debs.length} ${pkg} packages in ${dir}`);
  }
  return `${dir}/${debs[0]}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
