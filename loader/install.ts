/**
 * Installing the GSP firmware of a `firmware-nvidia-graphics` .deb into
 * falconry's cache: only `usr/lib/firmware/nvidia/<chip>/gsp/*` is
 * extracted, with the package's relative links kept (38 files, about
 * 150 MB, instead of 1.8 GB of resolved copies), into a work folder that is
 * checked against the manifest and then renamed into place, so an
 * interrupted install never leaves a half cache.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";
import { lastLine } from "./_command.ts";
import { cleanUpOnInterrupt } from "./_interrupt.ts";
import { tarOverDeb } from "./_deb_tar.ts";
import { StepReporter } from "./_step_reporter.ts";
import {
  FIRMWARE_CANDIDATE_PATTERNS,
  type FirmwareMember,
  packageFirmwareRoot,
  parseTarListing,
  selectFirmwareMembers,
  type TarMember,
} from "./deb_members.ts";
import { createWorkDir } from "./fetch_work_dir.ts";
import { formatMiB, type StepCallbacks } from "./fetch_progress.ts";
import { cacheDir as defaultCacheDir } from "./firmware_dirs.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "./manifest.ts";
import { assertFirmwareTree } from "./verify.ts";

const log = getLogger(["falconry", "loader", "install"]);

/** Options for {@linkcode installFirmwareFromDeb}. */
export interface InstallOptions extends StepCallbacks {
  /** falconry's cache folder; defaults to {@linkcode defaultCacheDir cacheDir()}. */
  cacheDir?: string;
  /** The manifest the extracted files must match; defaults to {@linkcode FIRMWARE_MANIFEST}. */
  manifest?: FirmwareManifest;
}

/** What {@linkcode installFirmwareFromDeb} put in place. */
export interface InstallResult {
  /** The firmware root now in the cache (`<cache>/firmware`). */
  readonly firmwareDir: string;
  /** Regular files extracted. */
  readonly files: number;
  /** Links extracted (file, folder and chip links). */
  readonly links: number;
  /** Bytes of the regular files. */
  readonly bytes: number;
  /** Extracted regular files the manifest does not know (a newer package). */
  readonly unknownFiles: readonly string[];
}

/**
 * Extract the GSP firmware of a `firmware-nvidia-graphics` .deb into
 * `<cache>/firmware`: extract only the selected members into a work folder
 * (in one pass over the package), check them against the manifest, then
 * rename the folder into place (the previous cache is kept if anything fails). It
 * takes no lock: {@linkcode fetchFirmware} holds the cache's fetch lock
 * around it.
 *
 * @throws {FirmwareChecksumError} when an extracted file differs from the manifest.
 * @throws {FirmwareNotFoundError} when a manifest file or link is not in the package.
 *
 * @example
 * ```ts ignore
 * import { installFirmwareFromDeb } from "./install.ts";
 * const result = await installFirmwareFromDeb("firmware-nvidia-graphics_20260916-1_all.deb");
 * console.log(result.files, "files in", result.firmwareDir);
 * ```
 */
export async function installFirmwareFromDeb(
  deb: string,
  options: InstallOptions = {},
): Promise<InstallResult> {
  const cache = options.cacheDir ?? defaultCacheDir();
  const manifest = options.manifest ?? FIRMWARE_MANIFEST;
  const report = new StepReporter(options);

  report.begin("extract");
  await Deno.mkdir(cache, { recursive: true });
  await using work = await createWorkDir(cache, "install");
  const { members, extractDir } = await extractFirmwareMembers(deb, work.path);
  const prefixes = new Set(members.map((m) => packageFirmwareRoot(m.name)));
  if (members.length === 0 || prefixes.size !== 1) {
    throw new FalconryError(
      `${deb} holds no usable nvidia/<chip>/gsp firmware (${members.length} members found)`,
    );
  }
  const [prefix] = prefixes;
  const fileCount = members.filter((m) => m.kind === "file").length;
  const newRoot = `${extractDir}/${prefix}`.replace(/\/+$/, "");
  let bytes = 0;
  for (const m of members) {
    if (m.kind === "file") bytes += (await Deno.lstat(`${newRoot}/${m.path}`)).size;
  }
  report.end(
    "extract",
    `${fileCount} files (${formatMiB(bytes)}) and ${members.length - fileCount} links`,
  );

  report.begin("verify");
  await assertFirmwareTree(newRoot, manifest);
  const unknownFiles = members
    .filter((m) => m.kind === "file" && !Object.hasOwn(manifest.files, m.path))
    .map((m) => m.path);
  if (unknownFiles.length > 0) {
    log.warn("{count} files are not in the manifest of {version}: {files}", {
      count: unknownFiles.length,
      version: manifest.version,
      files: unknownFiles,
    });
  }
  report.end(
    "verify",
    `${Object.keys(manifest.files).length} files and ${
      Object.keys(manifest.links).length
    } links match manifest ${manifest.version}`,
  );

  report.begin("install");
  const firmwareDir = `${cache}/firmware`;
  await swapIntoPlace(newRoot, firmwareDir, `${work.path}/previous`);
  report.end("install", `installed into ${firmwareDir}`);
  return {
    firmwareDir,
    files: fileCount,
    links: members.length - fileCount,
    bytes,
    unknownFiles,
  };
}

/**
 * Extract the firmware members of `deb` into `<work>/extract`. One pass
 * over the package extracts every candidate ({@linkcode FIRMWARE_CANDIDATE_PATTERNS})
 * and lists it (`tar -xvv`); what is not selected is then removed. A
 * package laid out otherwise (no `./usr/lib/firmware/nvidia/`) takes two
 * passes: a listing, then an extraction of the selected members by name.
 */
async function extractFirmwareMembers(
  deb: string,
  work: string,
): Promise<{ members: FirmwareMember[]; extractDir: string }> {
  const extractDir = `${work}/extract`;
  await Deno.mkdir(extractDir);
  const into = ["-f", "-", "-C", extractDir, "--no-same-owner"];
  const candidates = await tarOverDeb(deb, [
    "-xvv",
    ...into,
    "--wildcards",
    "--no-wildcards-match-slash",
    "--no-recursion",
    ...FIRMWARE_CANDIDATE_PATTERNS,
  ]);
  if (candidates.code === 0) {
    // -vv also reports the parent folders tar creates; they are not members.
    const extracted = parseTarListing(
      candidates.stdout.split("\n").filter((l) => !/^\S+\s+Creating directory: /.test(l)).join(
        "\n",
      ),
    );
    const members = selectFirmwareMembers(extracted);
    await removeUnselected(extractDir, extracted, members);
    return { members, extractDir };
  }
  if (!/Not found in archive/.test(candidates.stderr)) {
    throw new FalconryError(`cannot extract ${deb}: ${lastLine(candidates.stderr)}`);
  }
  log.debug("{deb} has no ./usr/lib/firmware/nvidia; listing it first", { deb });
  await Deno.remove(extractDir, { recursive: true });
  await Deno.mkdir(extractDir);
  const listing = await tarOverDeb(deb, ["-tv", "-f", "-"]);
  if (listing.code !== 0) {
    throw new FalconryError(`cannot list ${deb}: ${lastLine(listing.stderr)}`);
  }
  const members = selectFirmwareMembers(parseTarListing(listing.stdout));
  if (members.length === 0) return { members, extractDir };
  const memberList = `${work}/members.txt`;
  await Deno.writeTextFile(memberList, members.map((m) => `${m.name}\n`).join(""));
  const extraction = await tarOverDeb(deb, ["-x", ...into, "-T", memberList]);
  if (extraction.code !== 0) {
    throw new FalconryError(`cannot extract ${deb}: ${lastLine(extraction.stderr)}`);
  }
  return { members, extractDir };
}

/**
 * Remove what was extracted but not selected: links to chips without GSP
 * firmware, and the folders left empty (deepest first: tar lists a folder
 * before its contents).
 */
async function removeUnselected(
  extractDir: string,
  extracted: readonly TarMember[],
  selected: readonly FirmwareMember[],
): Promise<void> {
  const keep = new Set(selected.map((m) => m.name));
  for (const member of [...extracted].reverse()) {
    if (keep.has(member.name)) continue;
    const path = `${extractDir}/${member.name}`.replace(/\/+$/, "");
    try {
      await Deno.remove(path);
    } catch (e) {
      // A folder that holds selected members stays.
      if (member.type === "directory" && (e as { code?: string }).code === "ENOTEMPTY") continue;
      throw e;
    }
  }
}

/** Move `target` aside, move `fresh` in; restore `target` if the second rename fails. */
async function swapIntoPlace(fresh: string, target: string, aside: string): Promise<void> {
  let movedAside = false;
  // Interrupted between the two renames, the work folder (holding `aside`) is removed: put it back.
  using _restore = cleanUpOnInterrupt(() => {
    if (movedAside && !existsSync(target)) Deno.renameSync(aside, target);
  });
  try {
    await Deno.rename(target, aside);
    movedAside = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    await Deno.rename(fresh, target);
  } catch (e) {
    if (movedAside) await Deno.rename(aside, target);
    throw e;
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
