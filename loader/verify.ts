/**
 * Checking firmware files against the committed sha256 manifest.
 *
 * Files are hashed as streams (the GSP images reach 63 MB). A path is matched
 * to its manifest entry through the package's links, so
 * `nvidia/ad103/gsp/gsp-570.144.bin` is checked against the hash of
 * `nvidia/ga102/gsp/gsp-570.144.bin` whether the directory on disk keeps the
 * links or holds resolved copies.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { posix } from "node:path";
import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError, FirmwareChecksumError, FirmwareNotFoundError } from "../errors.ts";
import { fileIdentity, isSettled, SETTLE_MS } from "./_file_identity.ts";
import { FIRMWARE_MANIFEST } from "./manifest.ts";
import type { FirmwareManifest, ManifestFile } from "./manifest_types.ts";

const log = getLogger(["falconry", "loader", "verify"]);

/** How a file compares with the manifest. */
export type ManifestStatus = "match" | "mismatch" | "not-in-manifest";

/**
 * Memo of file hashes, keyed by a file's real path and identity (device,
 * inode, size, modification and change times; see {@linkcode fileHashKey}),
 * so that a file shared by many chips through links is hashed once, and a
 * file that changed is hashed again.
 */
export type HashCache = Map<string, Promise<string>>;

/**
 * The process-wide {@linkcode HashCache}: every check that is given no cache
 * of its own goes through it (and one given a cache also fills it), so each
 * real file is hashed once per process, however many chips link to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFirmwareFile, PROCESS_HASH_CACHE } from "./verify.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.bin`, "abc");
 * await Deno.symlink("a.bin", `${dir}/b.bin`);
 * await new Promise((settled) => setTimeout(settled, 200)); // see HASH_CACHE_SETTLE_MS
 * const before = PROCESS_HASH_CACHE.size;
 * await checkFirmwareFile(`${dir}/a.bin`, "a.bin");
 * await checkFirmwareFile(`${dir}/b.bin`, "b.bin");
 * assert(PROCESS_HASH_CACHE.size === before + 1); // one real file, hashed once
 * ```
 */
export const PROCESS_HASH_CACHE: HashCache = new Map();

/** Computes a file's lower-case hex sha256 (injectable to count or fake the work in tests). */
export type FileHasher = (path: string) => Promise<string>;

const READ_CHUNK = 1 << 20;
const MAX_LINK_HOPS = 40;

/**
 * The lower-case hex sha256 of a file, read in 1 MiB chunks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256File } from "./verify.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * assert((await sha256File(path)).startsWith("ba7816bf"));
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const chunk = new Uint8Array(READ_CHUNK);
  for (;;) {
    const n = await file.read(chunk);
    if (n === null) break;
    hash.update(chunk.subarray(0, n));
  }
  return hash.digest("hex");
}

/**
 * The manifest's regular-file path that `relPath` stands for, following the
 * manifest's links (file, folder and chip links), or `undefined` when the
 * path leads to no file of the manifest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveManifestPath } from "./verify.ts";
 * assert(
 *   resolveManifestPath("nvidia/tu104/gsp/bootloader-570.144.bin") ===
 *     "nvidia/tu102/gsp/bootloader-535.113.01.bin",
 * );
 * assert(resolveManifestPath("nvidia/nv50/gsp/gsp.bin") === undefined);
 * ```
 */
export function resolveManifestPath(
  relPath: string,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): string | undefined {
  let path = posix.normalize(relPath);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    if (Object.hasOwn(manifest.files, path)) return path;
    const next = followFirstLink(path, manifest.links);
    if (next === undefined) return undefined;
    path = next;
  }
  return undefined;
}

/** Replace the first prefix of `path` that is a link with the link's target. */
function followFirstLink(
  path: string,
  links: Readonly<Record<string, string>>,
): string | undefined {
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    if (!Object.hasOwn(links, prefix)) continue;
    const target = posix.join(posix.dirname(prefix), links[prefix]);
    return posix.normalize([target, ...parts.slice(i)].join("/"));
  }
  return undefined;
}

/** One file compared with the manifest. */
export interface FileCheck {
  /** The file that was read. */
  readonly path: string;
  /** The manifest entry it was compared with, if the manifest has one. */
  readonly manifestPath?: string;
  /** The outcome. */
  readonly status: ManifestStatus;
  /** The file's sha256. */
  readonly sha256: string;
  /** The file's length in bytes. */
  readonly size: number;
  /** The manifest's sha256, if the manifest has the file. */
  readonly expectedSha256?: string;
}

/** Options for {@linkcode hashFileOnce}. */
export interface HashFileOptions {
  /**
   * A cache of the caller's, looked up before {@linkcode PROCESS_HASH_CACHE}
   * and filled with every hash found or computed.
   */
  hashCache?: HashCache;
  /**
   * Computes a hash; defaults to {@linkcode sha256File}. Hashes from any
   * other hasher stay out of {@linkcode PROCESS_HASH_CACHE}.
   */
  hasher?: FileHasher;
}

/** A file's hash with what identified it. */
export interface FileHash {
  /** The lower-case hex hash. */
  readonly sha256: string;
  /** The file's length in bytes. */
  readonly size: number;
  /** The path with every link resolved. */
  readonly realPath: string;
}

/**
 * How long after its last change a file's hash starts being cached, in
 * milliseconds. File times advance in clock ticks (up to 10 ms), so two
 * writes within one tick can leave the same times behind; a file changed
 * this recently is hashed on every call instead (git's "racily clean" rule).
 */
export const HASH_CACHE_SETTLE_MS: number = SETTLE_MS;

/**
 * The cache key of a file: its real path and its identity. A file rewritten
 * in place changes its size, its modification time or at least its change
 * time (which no user call can set back), so it gets a new key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileHashKey } from "./verify.ts";
 * const info = Deno.statSync("/");
 * assert(fileHashKey("/", info).startsWith(`/\0${info.dev}:${info.ino}:`));
 * ```
 */
export function fileHashKey(realPath: string, info: Deno.FileInfo): string {
  return `${realPath}\0${fileIdentity(info)}`;
}

/**
 * The sha256 of the file at `path` (links followed), computed once per real
 * file and identity: later calls, through any link to it, share the first
 * call's result (concurrent ones included). A file changed in the last
 * {@linkcode HASH_CACHE_SETTLE_MS} is hashed afresh on every call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFileOnce } from "./verify.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.bin`, "abc");
 * await Deno.symlink(dir, `${dir}-link`);
 * await new Promise((settled) => setTimeout(settled, 200)); // see HASH_CACHE_SETTLE_MS
 * let hashed = 0;
 * const hasher = (path: string) => (hashed++, Promise.resolve(`hash of ${path}`));
 * const hashCache = new Map();
 * const a = await hashFileOnce(`${dir}/a.bin`, { hashCache, hasher });
 * const b = await hashFileOnce(`${dir}-link/a.bin`, { hashCache, hasher });
 * assert(hashed === 1 && a.sha256 === b.sha256 && b.realPath === a.realPath && a.size === 3);
 * ```
 */
export async function hashFileOnce(path: string, options: HashFileOptions = {}): Promise<FileHash> {
  const hasher = options.hasher ?? sha256File;
  const caches = [options.hashCache, hasher === sha256File ? PROCESS_HASH_CACHE : undefined]
    .filter((c): c is HashCache => c !== undefined);
  const [realPath, info] = await Promise.all([Deno.realPath(path), Deno.stat(path)]);
  if (!isSettled(info)) {
    return { sha256: await hasher(realPath), size: info.size, realPath };
  }
  const key = fileHashKey(realPath, info);
  let hash = caches.map((c) => c.get(key)).find((h) => h !== undefined);
  if (!hash) {
    hash = hasher(realPath);
    // A failed hash is forgotten, so that the next call tries again.
    hash.catch(() => caches.forEach((c) => c.get(key) === hash && c.delete(key)));
  }
  for (const c of caches) c.set(key, hash);
  return { sha256: await hash, size: info.size, realPath };
}

/** Options for {@linkcode checkFirmwareFile}. */
export interface CheckFileOptions extends HashFileOptions {
  /** The manifest; defaults to {@linkcode FIRMWARE_MANIFEST}. */
  manifest?: FirmwareManifest;
}

/**
 * Hash the file at `path` and compare it with the manifest entry of
 * `relPath` (its path relative to a firmware root).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFirmwareFile } from "./verify.ts";
 * const path = await Deno.makeTempFile();
 * const result = await checkFirmwareFile(path, "nvidia/tu102/gsp/gsp-570.144.bin");
 * assert(result.status === "mismatch" && result.size === 0);
 * ```
 */
export async function checkFirmwareFile(
  path: string,
  relPath: string,
  options: CheckFileOptions = {},
): Promise<FileCheck> {
  const manifest = options.manifest ?? FIRMWARE_MANIFEST;
  const { sha256, size } = await hashFileOnce(path, options);
  const manifestPath = resolveManifestPath(relPath, manifest);
  if (manifestPath === undefined) return { path, status: "not-in-manifest", sha256, size };
  const expected: ManifestFile = manifest.files[manifestPath];
  const status = expected.sha256 === sha256 && expected.size === size ? "match" : "mismatch";
  return { path, manifestPath, status, sha256, size, expectedSha256: expected.sha256 };
}

/**
 * Like {@linkcode checkFirmwareFile}, but a mismatch throws.
 *
 * @throws {FirmwareChecksumError} when the file's hash differs from the manifest's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyFirmwareFile } from "./verify.ts";
 * import { FirmwareChecksumError } from "../errors.ts";
 * const path = await Deno.makeTempFile();
 * await verifyFirmwareFile(path, "nvidia/tu102/gsp/gsp-570.144.bin").catch((e) =>
 *   assert(e instanceof FirmwareChecksumError)
 * );
 * ```
 */
export async function verifyFirmwareFile(
  path: string,
  relPath: string,
  options: CheckFileOptions = {},
): Promise<FileCheck> {
  const result = await checkFirmwareFile(path, relPath, options);
  if (result.status === "mismatch") {
    throw new FirmwareChecksumError(path, result.expectedSha256 ?? "", result.sha256);
  }
  return result;
}

/** One manifest entry (file or link) checked in a firmware root. */
export interface TreeEntryCheck {
  /** Path relative to the root. */
  readonly path: string;
  /** A regular file or a symlink. */
  readonly kind: "file" | "link";
  /** The outcome. */
  readonly status: "match" | "mismatch" | "missing";
  /** The manifest's sha256 (file) or link target (link). */
  readonly expected: string;
  /** What was found: the sha256, the link target, or what kind of entry stood there instead. */
  readonly actual?: string;
}

/** A firmware root compared with the whole manifest. */
export interface TreeCheck {
  /** The firmware root. */
  readonly root: string;
  /** Whether every file and link matches. */
  readonly ok: boolean;
  /** Every manifest file. */
  readonly files: readonly TreeEntryCheck[];
  /** Every manifest link. */
  readonly links: readonly TreeEntryCheck[];
}

/**
 * Compare a firmware root (such as falconry's cache) with the whole manifest:
 * every file must be a regular file with the right hash, every link a symlink
 * with the right target, as the package ships them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFirmwareTree } from "./verify.ts";
 * const report = await checkFirmwareTree(await Deno.makeTempDir());
 * assert(!report.ok && report.files.every((f) => f.status === "missing"));
 * ```
 */
export async function checkFirmwareTree(
  root: string,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): Promise<TreeCheck> {
  const files = await Promise.all(
    Object.entries(manifest.files).map(([path, want]) => checkTreeFile(root, path, want)),
  );
  const links = await Promise.all(
    Object.entries(manifest.links).map(([path, target]) => checkTreeLink(root, path, target)),
  );
  const ok = [...files, ...links].every((e) => e.status === "match");
  return { root, ok, files, links };
}

async function checkTreeFile(
  root: string,
  path: string,
  want: ManifestFile,
): Promise<TreeEntryCheck> {
  const base = { path, kind: "file" as const, expected: want.sha256 };
  const info = await lstatOrUndefined(`${root}/${path}`);
  if (!info) return { ...base, status: "missing" };
  if (!info.isFile) return { ...base, status: "mismatch", actual: describeEntry(info) };
  const { sha256: actual } = await hashFileOnce(`${root}/${path}`);
  return { ...base, status: actual === want.sha256 ? "match" : "mismatch", actual };
}

async function checkTreeLink(root: string, path: string, target: string): Promise<TreeEntryCheck> {
  const base = { path, kind: "link" as const, expected: target };
  const info = await lstatOrUndefined(`${root}/${path}`);
  if (!info) return { ...base, status: "missing" };
  if (!info.isSymlink) return { ...base, status: "mismatch", actual: describeEntry(info) };
  const actual = await Deno.readLink(`${root}/${path}`);
  return { ...base, status: actual === target ? "match" : "mismatch", actual };
}

function describeEntry(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symlink";
  return "a special file";
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
}

/**
 * Require a firmware root to match the whole manifest.
 *
 * @throws {FirmwareNotFoundError} listing every missing file and link.
 * @throws {FirmwareChecksumError} for the first file whose hash differs (all are logged).
 * @throws {FalconryError} when a link is missing its target or is not a link.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertFirmwareTree } from "./verify.ts";
 * import { FirmwareNotFoundError } from "../errors.ts";
 * const empty = await Deno.makeTempDir();
 * await assertFirmwareTree(empty).catch((e) => assert(e instanceof FirmwareNotFoundError));
 * ```
 */
export async function assertFirmwareTree(
  root: string,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): Promise<TreeCheck> {
  const report = await checkFirmwareTree(root, manifest);
  const entries = [...report.files, ...report.links];
  const missing = entries.filter((e) => e.status === "missing");
  if (missing.length > 0) {
    throw new FirmwareNotFoundError(
      missing.map((m) => ({ path: m.path, searched: [`${root}/${m.path}`] })),
    );
  }
  const wrong = entries.filter((e) => e.status === "mismatch");
  for (const w of wrong) {
    log.error("{path}: expected {expected}, found {actual}", {
      path: `${root}/${w.path}`,
      expected: w.expected,
      actual: w.actual,
    });
  }
  const firstFile = wrong.find((w) => w.kind === "file");
  if (firstFile) {
    throw new FirmwareChecksumError(
      `${root}/${firstFile.path}`,
      firstFile.expected,
      firstFile.actual ?? "",
    );
  }
  if (wrong.length > 0) {
    const w = wrong[0];
    throw new FalconryError(
      `${root}/${w.path}: expected a link to ${w.expected}, found ${w.actual ?? "nothing"}`,
    );
  }
  return report;
}

/** The files and links found below a firmware root, in manifest form. */
export interface ScannedTree {
  /** Regular files: relative path → hash and size. */
  readonly files: Record<string, ManifestFile>;
  /** Symlinks: relative path → target. */
  readonly links: Record<string, string>;
}

/**
 * Walk `root/nvidia` without following links and hash every regular file:
 * the raw material of a manifest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanFirmwareTree } from "./verify.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/nvidia/tu102/gsp`, { recursive: true });
 * await Deno.writeTextFile(`${root}/nvidia/tu102/gsp/a.bin`, "abc");
 * await Deno.symlink("tu102", `${root}/nvidia/tu104`);
 * const tree = await scanFirmwareTree(root);
 * assert(tree.files["nvidia/tu102/gsp/a.bin"].size === 3);
 * assert(tree.links["nvidia/tu104"] === "tu102");
 * ```
 */
export async function scanFirmwareTree(root: string): Promise<ScannedTree> {
  const files: Record<string, ManifestFile> = {};
  const links: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(`${root}/${rel}`)) names.push(entry.name);
    for (const name of names.sort()) {
      const path = `${rel}/${name}`;
      const info = await Deno.lstat(`${root}/${path}`);
      if (info.isSymlink) links[path] = await Deno.readLink(`${root}/${path}`);
      else if (info.isDirectory) await walk(path);
      else if (info.isFile) {
        const { sha256, size } = await hashFileOnce(`${root}/${path}`);
        files[path] = { sha256, size };
      }
    }
  };
  await walk("nvidia");
  return { files: sortKeys(files), links: sortKeys(links) };
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The source text of `loader/manifest.ts` for `manifest`, for regenerating
 * the committed manifest when the package changes (run `deno fmt` on it after).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderManifestModule } from "./verify.ts";
 * import { FIRMWARE_MANIFEST } from "./manifest.ts";
 * assert(renderManifestModule(FIRMWARE_MANIFEST).includes('version: "20260916-1"'));
 * ```
 */
export function renderManifestModule(manifest: FirmwareManifest): string {
  const files = Object.entries(manifest.files).map(([path, f]) =>
    `    ${JSON.stringify(path)}: {\n      sha256: ${JSON.stringify(f.sha256)},\n` +
    `      size: ${f.size},\n    },`
  );
  const links = Object.entries(manifest.links).map(([path, target]) =>
    `    ${JSON.stringify(path)}: ${JSON.stringify(target)},`
  );
  return `${MANIFEST_HEADER}
/**
 * The manifest of the firmware falconry fetches.
 *
 * @example
 * \`\`\`ts
 * import assert from "node:assert/strict";
 * import { FIRMWARE_MANIFEST } from "./manifest.ts";
 * const gsp = FIRMWARE_MANIFEST.files["nvidia/ga102/gsp/gsp-570.144.bin"];
 * assert(gsp.sha256.length === 64 && gsp.size > 0);
 * assert(FIRMWARE_MANIFEST.links["nvidia/tu104/gsp"] === "../tu102/gsp");
 * \`\`\`
 */
export const FIRMWARE_MANIFEST: FirmwareManifest = {
  package: ${JSON.stringify(manifest.package)},
  version: ${JSON.stringify(manifest.version)},
  suite: ${JSON.stringify(manifest.suite)},
  component: ${JSON.stringify(manifest.component)},
  files: {
${files.join("\n")}
  },
  links: {
${links.join("\n")}
  },
};
`;
}

const MANIFEST_HEADER = `/**
 * The sha256 manifest of the GSP firmware falconry fetches: every regular
 * file below \`nvidia/<chip>/gsp/\` in Debian's \`firmware-nvidia-graphics\`
 * package, and every symlink the package uses to share them (file links,
 * \`<chip>/gsp\` folder links and chip folder links). Generated data: when
 * Debian ships a new package version, regenerate it from a fetch into a
 * temporary cache that checks against an empty manifest:
 *
 * \`\`\`sh
 * deno eval 'import { fetchFirmware } from "./loader/fetch.ts";
 *   import { renderManifestModule, scanFirmwareTree } from "./loader/verify.ts";
 *   const empty = { package: "firmware-nvidia-graphics", version: "", suite: "sid",
 *     component: "non-free-firmware", files: {}, links: {} };
 *   const cacheDir = await Deno.makeTempDir();
 *   const r = await fetchFirmware({ cacheDir, manifest: empty });
 *   const tree = await scanFirmwareTree(r.firmwareDir);
 *   await Deno.remove(cacheDir, { recursive: true });
 *   console.log(renderManifestModule({ ...empty, version: r.packageVersion, ...tree }));' \\
 *   > /tmp/manifest.ts && mv /tmp/manifest.ts loader/manifest.ts && deno fmt loader/manifest.ts
 * \`\`\`
 *
 * @module
 */

import type { FirmwareManifest } from "./manifest_types.ts";

export type { FirmwareManifest, ManifestFile } from "./manifest_types.ts";
`;
