/**
 * Fetching the GSP firmware from Debian into falconry's cache.
 *
 * The package `firmware-nvidia-graphics` (suite `sid`, component
 * `non-free-firmware`) is downloaded with `apt-get download` through a
 * private sources list and lists folder inside falconry's cache, built from
 * the Debian mirror the system's own apt sources already name, so apt checks
 * the archive signature and the package hash and no host is written into
 * falconry. Only `usr/lib/firmware/nvidia/<chip>/gsp/*` is extracted, with
 * the package's relative symlinks kept (38 files, about 150 MB, instead of
 * 1.8 GB of resolved copies), into a temporary folder that is checked
 * against the manifest and then renamed into place, so an interrupted fetch
 * never leaves a half cache.
 *
 * @module
 */

import { posix } from "node:path";
import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";
import { cacheDir as defaultCacheDir } from "./firmware_dirs.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "./manifest.ts";
import { assertFirmwareTree } from "./verify.ts";

const log = getLogger(["falconry", "loader", "fetch"]);

/** The system keyring that signs the Debian archive. */
export const DEBIAN_ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

// ---------------------------------------------------------------------------
// apt sources

/** One `deb`/`deb-src` source of the system's apt configuration (one URI each). */
export interface AptSource {
  /** The file it was read from. */
  readonly file: string;
  /** `deb` or `deb-src`. */
  readonly type: string;
  /** The archive URI. */
  readonly uri: string;
  /** Suites (`bookworm`, `bookworm-updates`, …). */
  readonly suites: readonly string[];
  /** Components (`main`, `contrib`, …). */
  readonly components: readonly string[];
  /** The `signed-by` value: a keyring path, fingerprints, or an inline key. */
  readonly signedBy?: string;
  /** False for deb822 stanzas with `Enabled: no`. */
  readonly enabled: boolean;
}

/**
 * Parse a one-line-style sources file (`sources.list`, `*.list`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOneLineSources } from "./fetch.ts";
 * const uri = ["http:", "", "mirror.invalid", "debian"].join("/");
 * const [s] = parseOneLineSources(`deb [signed-by=/k.gpg] ${uri} trixie main contrib\n`, "a.list");
 * assert(s.uri === uri && s.signedBy === "/k.gpg" && s.components.join() === "main,contrib");
 * ```
 */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const typeMatch = /^(\S+)\s+(.*)$/.exec(line);
    if (!typeMatch) continue;
    const [, type, afterType] = typeMatch;
    let rest = afterType;
    const options = new Map<string, string>();
    if (rest.startsWith("[")) {
      const close = rest.indexOf("]");
      if (close < 0) continue;
      for (const option of rest.slice(1, close).trim().split(/\s+/)) {
        const eq = /^([A-Za-z-]+)[+-]?=(.*)$/.exec(option);
        if (eq) options.set(eq[1].toLowerCase(), eq[2]);
      }
      rest = rest.slice(close + 1).trim();
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    out.push({
      file,
      type,
      uri,
      suites: [suite],
      components,
      signedBy: options.get("signed-by"),
      enabled: true,
    });
  }
  return out;
}

/**
 * Parse a deb822-style sources file (`*.sources`): stanzas of `Types`,
 * `URIs`, `Suites`, `Components`, `Signed-By` and `Enabled`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDeb822Sources } from "./fetch.ts";
 * const uri = ["http:", "", "mirror.invalid", "debian"].join("/");
 * const text = `Types: deb deb-src\nURIs: ${uri}\nSuites: sid\nComponents: main\n`;
 * const sources = parseDeb822Sources(text, "debian.sources");
 * assert(sources.length === 2 && sources[1].type === "deb-src");
 * ```
 */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of parseStanzas(text)) {
    const words = (key: string) => (stanza.get(key) ?? "").split(/\s+/).filter(Boolean);
    const enabled = (stanza.get("enabled") ?? "yes").trim().toLowerCase() !== "no";
    const signedBy = stanza.get("signed-by")?.trim() || undefined;
    for (const type of words("types")) {
      for (const uri of words("uris")) {
        out.push({
          file,
          type,
          uri,
          suites: words("suites"),
          components: words("components"),
          signedBy,
          enabled,
        });
      }
    }
  }
  return out;
}

/** deb822 stanzas as maps of lower-case field name → value (continuations joined by newlines). */
function parseStanzas(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let lastKey: string | undefined;
  const finish = () => {
    if (current.size > 0) stanzas.push(current);
    current = new Map();
    lastKey = undefined;
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    if (line.trim() === "") {
      finish();
      continue;
    }
    if (/^\s/.test(line)) {
      if (lastKey === undefined) continue;
      const value = line.trim() === "." ? "" : line.trim();
      current.set(lastKey, `${current.get(lastKey)}\n${value}`);
      continue;
    }
    const field = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (!field) continue;
    lastKey = field[1].toLowerCase();
    current.set(lastKey, field[2].trim());
  }
  finish();
  return stanzas;
}

/**
 * Every source of the apt configuration in `aptDir`: `sources.list`, then
 * `sources.list.d/*.list` and `*.sources` in name order, as apt reads them.
 * Missing files are skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAptSources } from "./fetch.ts";
 * assert((await readAptSources(await Deno.makeTempDir())).length === 0);
 * ```
 */
export async function readAptSources(aptDir = "/etc/apt"): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = await readTextOrUndefined(`${aptDir}/sources.list`);
  if (main !== undefined) out.push(...parseOneLineSources(main, `${aptDir}/sources.list`));
  const partsDir = `${aptDir}/sources.list.d`;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(partsDir)) {
      if (entry.isFile || entry.isSymlink) names.push(entry.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const name of names.sort()) {
    const path = `${partsDir}/${name}`;
    const parse = name.endsWith(".list")
      ? parseOneLineSources
      : name.endsWith(".sources")
      ? parseDeb822Sources
      : undefined;
    if (!parse) continue;
    const text = await readTextOrUndefined(path);
    if (text !== undefined) out.push(...parse(text, path));
  }
  return out;
}

async function readTextOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** The Debian archive mirror falconry fetches through. */
export interface DebianMirror {
  /** The archive URI, without a trailing slash. */
  readonly uri: string;
  /** The keyring file that signs it. */
  readonly keyring: string;
  /** An ASCII-armoured key given inline in a deb822 `Signed-By`, if any. */
  readonly inlineKey?: string;
  /** The sources file that named it. */
  readonly source: string;
}

const DEBIAN_SUITES = new Set([
  "jessie",
  "stretch",
  "buster",
  "bullseye",
  "bookworm",
  "trixie",
  "forky",
  "duke",
  "sid",
  "oldoldstable",
  "oldstable",
  "stable",
  "testing",
  "unstable",
  "experimental",
]);
const DEBIAN_SUITE_SUFFIX = /-(updates|backports|backports-sloppy|proposed-updates)$/;

function isDebianSuite(suite: string): boolean {
  return DEBIAN_SUITES.has(suite.replace(DEBIAN_SUITE_SUFFIX, ""));
}

/**
 * The Debian archive among `sources`: an enabled entry over HTTP(S) with
 * component `main` and a Debian suite (not `-security`, not a third-party
 * suite), preferring a URI whose path ends in `/debian`. Its `Signed-By`
 * keyring is used when it names a file (or holds an inline key), else
 * {@linkcode DEBIAN_ARCHIVE_KEYRING}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOneLineSources, pickDebianMirror } from "./fetch.ts";
 * const host = ["http:", "", "mirror.invalid"].join("/");
 * const sources = parseOneLineSources(
 *   `deb ${host}/debian-security bookworm-security main\ndeb ${host}/debian bookworm main\n`,
 *   "sources.list",
 * );
 * assert(pickDebianMirror(sources)?.uri === `${host}/debian`);
 * ```
 */
export function pickDebianMirror(sources: readonly AptSource[]): DebianMirror | undefined {
  const candidates = sources.filter((s) =>
    s.enabled &&
    (s.type === "deb" || s.type === "deb-src") &&
    isHttpUri(s.uri) &&
    s.components.includes("main") &&
    s.suites.some(isDebianSuite) &&
    !s.suites.some((suite) => suite.endsWith("-security")) &&
    !uriPath(s.uri).endsWith("-security")
  );
  const score = (s: AptSource) =>
    (uriPath(s.uri).endsWith("/debian") ? 2 : 0) + (s.type === "deb" ? 1 : 0);
  let best: AptSource | undefined;
  for (const c of candidates) if (!best || score(c) > score(best)) best = c;
  if (!best) return undefined;
  const signedBy = best.signedBy;
  const uri = best.uri.replace(/\/+$/, "");
  if (signedBy?.includes("BEGIN PGP PUBLIC KEY BLOCK")) {
    return { uri, keyring: DEBIAN_ARCHIVE_KEYRING, inlineKey: signedBy, source: best.file };
  }
  const keyring = signedBy?.startsWith("/") ? signedBy.split(",")[0] : DEBIAN_ARCHIVE_KEYRING;
  return { uri, keyring, source: best.file };
}

function isHttpUri(uri: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(uri).protocol);
  } catch {
    return false;
  }
}

function uriPath(uri: string): string {
  try {
    return new URL(uri).pathname.replace(/\/+$/, "");
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------
// private apt configuration

/** apt's configuration for falconry's private sources and lists. */
export interface AptConfig {
  /** `<cache>/apt`. */
  readonly dir: string;
  /** The private sources list file. */
  readonly sourcesList: string;
  /** Its contents: one line naming the mirror, suite and component. */
  readonly sourcesListText: string;
  /** Where the keyring given inline is written, when the mirror has one. */
  readonly inlineKeyFile?: string;
  /** The private lists folder. */
  readonly listsDir: string;
  /** The private apt cache folder. */
  readonly aptCacheDir: string;
  /** `-o` options that point apt at the private files. */
  readonly options: readonly string[];
}

/**
 * The private apt configuration inside falconry's cache folder for `mirror`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { privateAptConfig } from "./fetch.ts";
 * const uri = ["http:", "", "mirror.invalid", "debian"].join("/");
 * const config = privateAptConfig("/c", { uri, keyring: "/k.gpg", source: "x" });
 * assert(config.sourcesListText === `deb [signed-by=/k.gpg] ${uri} sid non-free-firmware\n`);
 * assert(config.options.includes("Dir::State::Lists=/c/apt/lists"));
 * ```
 */
export function privateAptConfig(
  cache: string,
  mirror: DebianMirror,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): AptConfig {
  const dir = `${cache}/apt`;
  const inlineKeyFile = mirror.inlineKey ? `${dir}/archive-key.asc` : undefined;
  const keyring = inlineKeyFile ?? mirror.keyring;
  const sourcesList = `${dir}/sources.list`;
  const listsDir = `${dir}/lists`;
  const aptCacheDir = `${dir}/cache`;
  const settings = [
    `Dir::Etc::sourcelist=${sourcesList}`,
    "Dir::Etc::sourceparts=-",
    // A system that pins sid away must not hide the package from us.
    "Dir::Etc::preferences=-",
    "Dir::Etc::preferencesparts=-",
    `Dir::State::Lists=${listsDir}`,
    `Dir::Cache=${aptCacheDir}`,
    "Acquire::Languages=none",
    // Our folders live in a private home the _apt user cannot enter.
    "APT::Sandbox::User=root",
  ];
  return {
    dir,
    sourcesList,
    sourcesListText:
      `deb [signed-by=${keyring}] ${mirror.uri} ${manifest.suite} ${manifest.component}\n`,
    inlineKeyFile,
    listsDir,
    aptCacheDir,
    options: settings.flatMap((s) => ["-o", s]),
  };
}

/**
 * The `apt-get update` command line for the private configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aptUpdateArgv, privateAptConfig } from "./fetch.ts";
 * const argv = aptUpdateArgv(privateAptConfig("/c", { uri: "x", keyring: "/k", source: "s" }));
 * assert(argv[0] === "apt-get" && argv.at(-1) === "update");
 * ```
 */
export function aptUpdateArgv(config: AptConfig): string[] {
  return ["apt-get", ...config.options, "--error-on=any", "update"];
}

/**
 * The `apt-get download` command line for the private configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aptDownloadArgv, privateAptConfig } from "./fetch.ts";
 * const argv = aptDownloadArgv(privateAptConfig("/c", { uri: "x", keyring: "/k", source: "s" }));
 * assert(argv.slice(-2).join(" ") === "download firmware-nvidia-graphics");
 * ```
 */
export function aptDownloadArgv(
  config: AptConfig,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): string[] {
  return ["apt-get", ...config.options, "download", manifest.package];
}

/** Write the private sources list (and inline key) and create apt's folders. */
async function writeAptConfig(config: AptConfig, mirror: DebianMirror): Promise<void> {
  await Deno.mkdir(`${config.listsDir}/partial`, { recursive: true });
  await Deno.mkdir(`${config.aptCacheDir}/archives/partial`, { recursive: true });
  await Deno.writeTextFile(config.sourcesList, config.sourcesListText);
  if (config.inlineKeyFile && mirror.inlineKey) {
    await Deno.writeTextFile(config.inlineKeyFile, `${mirror.inlineKey}\n`);
  }
}

// ---------------------------------------------------------------------------
// package members

/** One member of a tar listing (`tar -tv`). */
export interface TarMember {
  /** What the member is. */
  readonly type: "file" | "directory" | "symlink" | "hardlink" | "other";
  /** Its name as the archive spells it (e.g. `./usr/lib/firmware/nvidia/ad103`). */
  readonly name: string;
  /** Link target, for symlinks and hard links. */
  readonly target?: string;
}

const TAR_TYPES: Record<string, TarMember["type"]> = {
  "-": "file",
  d: "directory",
  l: "symlink",
  h: "hardlink",
};

/**
 * Parse GNU `tar -tv` output (run with `LC_ALL=C`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTarListing } from "./fetch.ts";
 * const [m] = parseTarListing(
 *   "lrwxrwxrwx root/root 0 2026-09-30 15:10 ./usr/lib/firmware/nvidia/ad103 -> ad102\n",
 * );
 * assert(m.type === "symlink" && m.target === "ad102");
 * ```
 */
export function parseTarListing(text: string): TarMember[] {
  const out: TarMember[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\S)\S*\s+\S+\s+\S+\s+\S+\s+\S+\s(.*)$/.exec(line);
    if (!m) continue;
    const type = TAR_TYPES[m[1]] ?? "other";
    const rest = m[2];
    if (type === "symlink") {
      const arrow = rest.indexOf(" -> ");
      out.push({ type, name: rest.slice(0, arrow), target: rest.slice(arrow + 4) });
    } else if (type === "hardlink") {
      const link = rest.indexOf(" link to ");
      out.push({ type, name: rest.slice(0, link), target: rest.slice(link + 9) });
    } else {
      out.push({ type, name: rest });
    }
  }
  return out;
}

/** How a selected member shares or holds firmware. */
export type FirmwareMemberKind = "file" | "file-link" | "gsp-link" | "chip-link";

/** A member of the package that is extracted. */
export interface FirmwareMember {
  /** The name to pass to tar. */
  readonly name: string;
  /** Path relative to the firmware root (`nvidia/tu104/gsp`). */
  readonly path: string;
  /** Its role. */
  readonly kind: FirmwareMemberKind;
  /** Link target, for links. */
  readonly target?: string;
}

/** The firmware root inside the package, and the rest of a member's name. */
const FIRMWARE_ROOT = /^(?:\.\/)?((?:usr\/)?lib\/firmware\/)(nvidia\/.+)$/;

/**
 * The members to extract: regular files and links below
 * `nvidia/<chip>/gsp/`, `<chip>/gsp` folder links, and chip folder links
 * (`ad103 → ad102`) that lead to a chip with GSP firmware. Directories are
 * never selected: naming one would make tar extract all of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTarListing, selectFirmwareMembers } from "./fetch.ts";
 * const listing = [
 *   "drwxr-xr-x root/root 0 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu102/gsp/",
 *   "-rw-r--r-- root/root 816 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu102/gsp/gen_bootloader-570.144.bin",
 *   "lrwxrwxrwx root/root 0 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu104/gsp -> ../tu102/gsp",
 *   "-rw-r--r-- root/root 9 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu102/acr/bl.bin",
 * ].join("\n");
 * const selected = selectFirmwareMembers(parseTarListing(listing));
 * assert(selected.map((m) => m.kind).join() === "file,gsp-link");
 * ```
 */
export function selectFirmwareMembers(members: readonly TarMember[]): FirmwareMember[] {
  const selected: FirmwareMember[] = [];
  const chipLinks: FirmwareMember[] = [];
  for (const member of members) {
    const m = FIRMWARE_ROOT.exec(member.name);
    if (!m || member.type === "directory" || member.type === "other") continue;
    const path = m[2].replace(/\/+$/, "");
    const parts = path.split("/");
    const isLink = member.type === "symlink";
    const base = { name: member.name, path, target: isLink ? member.target : undefined };
    if (parts.length === 4 && parts[2] === "gsp") {
      selected.push({ ...base, kind: isLink ? "file-link" : "file" });
    } else if (parts.length === 3 && parts[2] === "gsp" && isLink) {
      selected.push({ ...base, kind: "gsp-link" });
    } else if (parts.length === 2 && isLink) {
      chipLinks.push({ ...base, kind: "chip-link" });
    }
  }
  // A chip link is kept when it leads (possibly through other chip links) to
  // a chip that has GSP members; anything else would dangle in the cache.
  const chipsWithGsp = new Set(selected.map((m) => m.path.split("/")[1]));
  for (let changed = true; changed;) {
    changed = false;
    for (const link of chipLinks) {
      const chip = link.path.split("/")[1];
      const target = posix.normalize(posix.join("nvidia", link.target ?? ""));
      const targetChip = /^nvidia\/([^/]+)$/.exec(target)?.[1];
      if (!chipsWithGsp.has(chip) && targetChip && chipsWithGsp.has(targetChip)) {
        chipsWithGsp.add(chip);
        changed = true;
      }
    }
  }
  const keptLinks = chipLinks.filter((l) => chipsWithGsp.has(l.path.split("/")[1]));
  return [...selected, ...keptLinks].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

// ---------------------------------------------------------------------------
// running commands

/** What a finished command left behind. */
export interface CommandResult {
  /** Exit code. */
  readonly code: number;
  /** Standard output, as text. */
  readonly stdout: string;
  /** Standard error, as text. */
  readonly stderr: string;
}

/** Runs `argv` (program first) in `cwd`; replaceable in tests so that no network is used. */
export type CommandRunner = (argv: readonly string[], cwd?: string) => Promise<CommandResult>;

const decoder = new TextDecoder();

/**
 * Run a program and collect its output. A program that is not installed
 * becomes a {@linkcode FalconryError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCommand } from "./fetch.ts";
 * const result = await runCommand(["tar", "--version"]);
 * assert(result.code === 0 && result.stdout.includes("tar"));
 * ```
 */
export async function runCommand(argv: readonly string[], cwd?: string): Promise<CommandResult> {
  const command = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd,
    env: { LC_ALL: "C" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const output = await spawnGuard(argv[0], () => command.output());
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function spawnGuard<T>(program: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FalconryError(
        `${program} is not installed; fetching firmware from Debian needs apt-get, dpkg-deb and tar`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** Run `dpkg-deb --fsys-tarfile deb | tar <tarArgs>` and collect tar's output. */
async function tarOverDeb(deb: string, tarArgs: readonly string[]): Promise<CommandResult> {
  const dpkg = await spawnGuard("dpkg-deb", () =>
    Promise.resolve(
      new Deno.Command("dpkg-deb", {
        args: ["--fsys-tarfile", deb],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    ));
  const dpkgErr = new Response(dpkg.stderr).text();
  let tar: Deno.ChildProcess;
  try {
    tar = await spawnGuard("tar", () =>
      Promise.resolve(
        new Deno.Command("tar", {
          args: [...tarArgs],
          env: { LC_ALL: "C" },
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn(),
      ));
  } catch (e) {
    dpkg.kill();
    await Promise.allSettled([dpkg.status, dpkgErr, dpkg.stdout.cancel()]);
    throw e;
  }
  // When tar stops early the pipe breaks; tar's own message says why.
  const piping = dpkg.stdout.pipeTo(tar.stdin).catch(() => undefined);
  const [tarOut, dpkgStatus, dpkgText] = await Promise.all([tar.output(), dpkg.status, dpkgErr]);
  await piping;
  const tarResult = {
    code: tarOut.code,
    stdout: decoder.decode(tarOut.stdout),
    stderr: decoder.decode(tarOut.stderr),
  };
  if (tarResult.code === 0 && !dpkgStatus.success) {
    throw new FalconryError(`dpkg-deb --fsys-tarfile ${deb} failed: ${lastLine(dpkgText)}`);
  }
  return tarResult;
}

function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith("E:")) ?? lines.at(-1) ?? "no message";
}

// ---------------------------------------------------------------------------
// installing from a .deb

/** One finished step of a fetch, for a CLI to show. */
export interface FetchStep {
  /** Short name: `sources`, `update`, `download`, `list`, `extract`, `verify`, `install`. */
  readonly step: string;
  /** What was done, for a person. */
  readonly message: string;
  /** How long it took. */
  readonly durationMs: number;
}

/** Options for {@linkcode installFirmwareFromDeb}. */
export interface InstallOptions {
  /** falconry's cache folder; defaults to {@linkcode defaultCacheDir cacheDir()}. */
  cacheDir?: string;
  /** The manifest the extracted files must match; defaults to {@linkcode FIRMWARE_MANIFEST}. */
  manifest?: FirmwareManifest;
  /** Called after each step. */
  onStep?: (step: FetchStep) => void;
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
 * `<cache>/firmware`: list the package, extract only the selected members
 * into a temporary folder, check them against the manifest, then rename
 * the folder into place (the previous cache is kept if anything fails).
 *
 * @throws {FirmwareChecksumError} when an extracted file differs from the manifest.
 * @throws {FirmwareNotFoundError} when a manifest file or link is not in the package.
 *
 * @example
 * ```ts ignore
 * import { installFirmwareFromDeb } from "./fetch.ts";
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
  const step = stepTimer(options.onStep);

  const listing = await tarOverDeb(deb, ["-tv", "-f", "-"]);
  if (listing.code !== 0) {
    throw new FalconryError(`cannot list ${deb}: ${lastLine(listing.stderr)}`);
  }
  const members = selectFirmwareMembers(parseTarListing(listing.stdout));
  const prefixes = new Set(members.map((m) => FIRMWARE_ROOT.exec(m.name)?.[1]));
  if (members.length === 0 || prefixes.size !== 1) {
    throw new FalconryError(
      `${deb} holds no usable nvidia/<chip>/gsp firmware (${members.length} members found)`,
    );
  }
  const [prefix] = prefixes;
  const fileCount = members.filter((m) => m.kind === "file").length;
  step(
    "list",
    `${members.length} members: ${fileCount} files, ${members.length - fileCount} links`,
  );

  await Deno.mkdir(cache, { recursive: true });
  await using work = await workDir(cache, ".install-");
  const memberList = `${work.path}/members.txt`;
  await Deno.writeTextFile(memberList, members.map((m) => `${m.name}\n`).join(""));
  const extractDir = `${work.path}/extract`;
  await Deno.mkdir(extractDir);
  const extraction = await tarOverDeb(deb, [
    "-x",
    "-f",
    "-",
    "-C",
    extractDir,
    "--no-same-owner",
    "-T",
    memberList,
  ]);
  if (extraction.code !== 0) {
    throw new FalconryError(`cannot extract ${deb}: ${lastLine(extraction.stderr)}`);
  }
  const newRoot = `${extractDir}/${prefix}`.replace(/\/+$/, "");
  let bytes = 0;
  for (const m of members) {
    if (m.kind === "file") bytes += (await Deno.lstat(`${newRoot}/${m.path}`)).size;
  }
  step("extract", `${fileCount} files (${formatMiB(bytes)}) with their links`);

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
  step(
    "verify",
    `${Object.keys(manifest.files).length} files and ${
      Object.keys(manifest.links).length
    } links match manifest ${manifest.version}`,
  );

  const firmwareDir = `${cache}/firmware`;
  await swapIntoPlace(newRoot, firmwareDir, `${work.path}/previous`);
  step("install", `installed into ${firmwareDir}`);
  return {
    firmwareDir,
    files: fileCount,
    links: members.length - fileCount,
    bytes,
    unknownFiles,
  };
}

/** Move `target` aside, move `fresh` in; restore `target` if the second rename fails. */
async function swapIntoPlace(fresh: string, target: string, aside: string): Promise<void> {
  let movedAside = false;
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

/** A temporary folder inside the cache (same file system, so renames are atomic). */
async function workDir(cache: string, prefix: string): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ dir: cache, prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

const STALE_WORK_MS = 60 * 60 * 1000;

/** Remove work folders left by fetches that were killed (older than an hour). */
async function removeStaleWorkDirs(cache: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(cache)) {
      if (!entry.isDirectory || !/^\.(fetch|install)-/.test(entry.name)) continue;
      const path = `${cache}/${entry.name}`;
      const { mtime } = await Deno.stat(path);
      if (mtime && Date.now() - mtime.getTime() > STALE_WORK_MS) {
        log.info("removing {path} left by an interrupted fetch", { path });
        await Deno.remove(path, { recursive: true });
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

function stepTimer(
  onStep: ((step: FetchStep) => void) | undefined,
): (step: string, message: string) => void {
  let last = performance.now();
  return (step, message) => {
    const now = performance.now();
    const durationMs = now - last;
    last = now;
    log.info("{step}: {message} ({ms} ms)", { step, message, ms: Math.round(durationMs) });
    onStep?.({ step, message, durationMs });
  };
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

// ---------------------------------------------------------------------------
// the whole fetch

/** Options for {@linkcode fetchFirmware}. */
export interface FetchOptions extends InstallOptions {
  /** The system's apt configuration folder to take the mirror from; default `/etc/apt`. */
  aptDir?: string;
  /** Runs apt-get; replaced in tests. */
  aptGet?: CommandRunner;
}

/** What {@linkcode fetchFirmware} did. */
export interface FetchResult extends InstallResult {
  /** The mirror used. */
  readonly mirror: DebianMirror;
  /** The package version downloaded. */
  readonly packageVersion: string;
  /** Size of the downloaded .deb. */
  readonly debBytes: number;
  /** Wall time of the whole fetch. */
  readonly durationMs: number;
}

/**
 * Fetch Debian's `firmware-nvidia-graphics` through apt and install its GSP
 * firmware into falconry's cache (see the module documentation). The .deb
 * is deleted afterwards.
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
  const step = stepTimer(options.onStep);

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
  step("sources", `Debian mirror ${mirror.uri} (from ${mirror.source})`);

  await Deno.mkdir(cache, { recursive: true });
  await removeStaleWorkDirs(cache);
  const config = privateAptConfig(cache, mirror, manifest);
  await writeAptConfig(config, mirror);
  await runApt(aptGet, aptUpdateArgv(config), "update");
  step("update", `apt-get update of ${manifest.suite}/${manifest.component}`);

  await using work = await workDir(cache, ".fetch-");
  await runApt(
    aptGet,
    aptDownloadArgv(config, manifest),
    `download ${manifest.package}`,
    work.path,
  );
  const deb = await findDeb(work.path, manifest.package);
  const debBytes = (await Deno.stat(deb)).size;
  const packageVersion = await debVersion(deb);
  step("download", `${posix.basename(deb)} (${formatMiB(debBytes)})`);
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
  });
  await Deno.remove(deb);
  return {
    ...installed,
    mirror,
    packageVersion,
    debBytes,
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

async function debVersion(deb: string): Promise<string> {
  const result = await runCommand(["dpkg-deb", "-f", deb, "Version"]);
  if (result.code !== 0) {
    throw new FalconryError(`dpkg-deb cannot read ${deb}: ${lastLine(result.stderr)}`);
  }
  return result.stdout.trim();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
