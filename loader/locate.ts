/**
 * Finding the firmware files a chip's boot needs.
 *
 * Each file of {@linkcode firmwareFiles} is looked for in the firmware roots
 * of {@linkcode firmwareSearchDirs}, in order (`--firmware DIR`,
 * `FALCONRY_FIRMWARE_DIR`, falconry's cache, `/lib/firmware`); the first
 * root that has it wins, and its bytes are compared with the manifest.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import {
  FalconryError,
  FirmwareChecksumError,
  FirmwareFormatError,
  FirmwareNotFoundError,
} from "../errors.ts";
import { chipByName, type ChipInfo, CHIPS } from "../chips/chips.ts";
import {
  DEFAULT_FIRMWARE_VERSION,
  FIRMWARE_VERSIONS,
  type FirmwareFile,
  firmwareFiles,
} from "../chips/firmware_files.ts";
import { type FirmwareDir, firmwareSearchDirs } from "./firmware_dirs.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "./manifest.ts";
import { checkFirmwareFile, type HashCache, type ManifestStatus } from "./verify.ts";

const log = getLogger(["falconry", "loader", "locate"]);

/** Options for {@linkcode locateFirmware} and {@linkcode requireFirmware}. */
export interface LocateOptions {
  /** The chip, or its name (`tu102`). */
  chip: ChipInfo | string;
  /** Firmware version; default {@linkcode DEFAULT_FIRMWARE_VERSION}. */
  version?: string;
  /** The `--firmware DIR` option: searched first; it must be a folder. */
  dir?: string;
  /** Environment lookup; defaults to `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** The manifest; defaults to {@linkcode FIRMWARE_MANIFEST}. */
  manifest?: FirmwareManifest;
  /** Hashes already computed in this run (shared across chips by a CLI). */
  hashCache?: HashCache;
}

/** One firmware file of a chip, and where it was (or was not) found. */
export interface LocatedFile {
  /** The file as the chip table names it. */
  readonly file: FirmwareFile;
  /** The absolute path where it was found. */
  readonly found?: string;
  /** The root it was found in. */
  readonly root?: FirmwareDir;
  /** How it compares with the manifest, or `missing`. */
  readonly status: ManifestStatus | "missing";
  /** Its sha256, when found. */
  readonly sha256?: string;
  /** Its length, when found. */
  readonly size?: number;
  /** The manifest's sha256 for it, when the manifest has it. */
  readonly expectedSha256?: string;
  /** Every path tried, in order, up to and including the one found. */
  readonly searched: readonly string[];
}

/** A chip's firmware set, located. */
export interface LocatedFirmware {
  /** The chip. */
  readonly chip: ChipInfo;
  /** The firmware version. */
  readonly version: string;
  /** The roots searched, in order. */
  readonly dirs: readonly FirmwareDir[];
  /** Every file of the set. */
  readonly files: readonly LocatedFile[];
  /** Whether every required file was found and none mismatches the manifest. */
  readonly ok: boolean;
}

/**
 * The chip named by `chip`.
 *
 * @throws {FalconryError} for a name not in the chip table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveChip } from "./locate.ts";
 * assert(resolveChip("GA102").name === "ga102");
 * ```
 */
export function resolveChip(chip: ChipInfo | string): ChipInfo {
  if (typeof chip !== "string") return chip;
  const info = chipByName(chip);
  if (!info) {
    throw new FalconryError(
      `unknown chip ${JSON.stringify(chip)}; known chips: ${CHIPS.map((c) => c.name).join(", ")}`,
    );
  }
  return info;
}

/**
 * The firmware versions linux-firmware ships for `chip`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionsForChip } from "./locate.ts";
 * assert(versionsForChip("tu102").join() === "570.144,535.113.01");
 * assert(versionsForChip("gh100").join() === "570.144");
 * ```
 */
export function versionsForChip(chip: ChipInfo | string): string[] {
  const info = resolveChip(chip);
  return FIRMWARE_VERSIONS.filter((v) => firmwareFiles(info, v).length > 0);
}

/**
 * Find every file of `chip`'s firmware set and compare each with the manifest.
 *
 * @throws {FalconryError} for an unknown chip, or a version the chip has no firmware for.
 * @throws {FirmwareDirError} when `dir` or `FALCONRY_FIRMWARE_DIR` is missing or not a folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { locateFirmware } from "./locate.ts";
 * const empty = await Deno.makeTempDir();
 * const located = await locateFirmware({ chip: "tu102", dir: empty, env: () => undefined });
 * assert(located.files[0].searched[0].startsWith(empty));
 * ```
 */
export async function locateFirmware(options: LocateOptions): Promise<LocatedFirmware> {
  const chip = resolveChip(options.chip);
  const version = options.version ?? DEFAULT_FIRMWARE_VERSION;
  const files = firmwareFiles(chip, version);
  if (files.length === 0) {
    throw new FalconryError(
      `no firmware ${version} for ${chip.name}; it has ${versionsForChip(chip).join(", ")}`,
    );
  }
  const dirs = firmwareSearchDirs({ dir: options.dir, env: options.env });
  const hashCache = options.hashCache ?? new Map();
  const manifest = options.manifest ?? FIRMWARE_MANIFEST;
  const located = await Promise.all(
    files.map((file) => locateFile(file, dirs, manifest, hashCache)),
  );
  const ok = located.every((f) =>
    f.status === "missing" ? !f.file.required : f.status !== "mismatch"
  );
  return { chip, version, dirs, files: located, ok };
}

async function locateFile(
  file: FirmwareFile,
  dirs: readonly FirmwareDir[],
  manifest: FirmwareManifest,
  hashCache: HashCache,
): Promise<LocatedFile> {
  const searched: string[] = [];
  for (const root of dirs) {
    const path = `${root.dir}/${file.path}`;
    searched.push(path);
    if (!(await isFile(path))) continue;
    const check = await checkFirmwareFile(path, file.path, { manifest, hashCache });
    if (check.status === "mismatch") {
      log.warn("{path} does not match the manifest (sha256 {actual}, expected {expected})", {
        path,
        actual: check.sha256,
        expected: check.expectedSha256,
      });
    }
    return {
      file,
      found: path,
      root,
      status: check.status,
      sha256: check.sha256,
      size: check.size,
      expectedSha256: check.expectedSha256,
      searched,
    };
  }
  return { file, status: "missing", searched };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/** Options for {@linkcode requireFirmware}. */
export interface RequireOptions extends LocateOptions {
  /** What a file that differs from the manifest does: throw (default) or log a warning. */
  onMismatch?: "throw" | "warn";
}

/** A chip's firmware set with every required file present. */
export interface RequiredFirmware extends LocatedFirmware {
  /** File name (`booter_load`, `gsp`, …) → absolute path, for every file found. */
  readonly paths: Readonly<Record<string, string>>;
}

/**
 * Like {@linkcode locateFirmware}, but every required file must be present
 * and (by default) match the manifest.
 *
 * @throws {FirmwareNotFoundError} listing every missing required file and every place looked.
 * @throws {FirmwareChecksumError} for a file that differs from the manifest.
 * @throws {FirmwareDirError} when `dir` or `FALCONRY_FIRMWARE_DIR` is missing or not a folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireFirmware } from "./locate.ts";
 * import { FirmwareNotFoundError } from "../errors.ts";
 * const empty = await Deno.makeTempDir();
 * const env = (n: string) => n === "XDG_CACHE_HOME" ? empty : undefined;
 * await requireFirmware({ chip: "gh100", dir: empty, env }).catch((e) => {
 *   assert(e instanceof FirmwareNotFoundError && e.missing.length >= 1);
 * });
 * ```
 */
export async function requireFirmware(options: RequireOptions): Promise<RequiredFirmware> {
  const located = await locateFirmware(options);
  const missing = located.files.filter((f) => f.status === "missing" && f.file.required);
  if (missing.length > 0) {
    throw new FirmwareNotFoundError(
      missing.map((f) => ({ path: f.file.path, searched: [...f.searched] })),
      "run `deno task firmware` to fetch it, or pass --firmware DIR",
    );
  }
  const mismatched = located.files.find((f) => f.status === "mismatch");
  if (mismatched && (options.onMismatch ?? "throw") === "throw") {
    throw new FirmwareChecksumError(
      mismatched.found ?? mismatched.file.path,
      mismatched.expectedSha256 ?? "",
      mismatched.sha256 ?? "",
    );
  }
  const paths: Record<string, string> = {};
  for (const f of located.files) if (f.found) paths[f.file.name] = f.found;
  return { ...located, paths };
}

/**
 * Read a firmware file. With `parse`, parse its bytes too, and name the file
 * in any {@linkcode FirmwareFormatError} the parser throws without one
 * (parsers see only bytes). A file that does not exist is a {@linkcode FirmwareNotFoundError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFirmwareFile } from "./locate.ts";
 * import { FirmwareFormatError } from "../errors.ts";
 * const path = await Deno.makeTempFile();
 * await readFirmwareFile(path, () => {
 *   throw new FirmwareFormatError({ offset: 0, field: "binHeader.magic", reason: "too short" });
 * }).catch((e) => assert(e.file === path));
 * ```
 */
export async function readFirmwareFile(path: string): Promise<Uint8Array>;
/**
 * Read a firmware file and parse it; see the first overload.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFirmwareFile } from "./locate.ts";
 * const path = await Deno.makeTempFile();
 * assert((await readFirmwareFile(path, (b) => b.length)) === 0);
 * ```
 */
export async function readFirmwareFile<T>(
  path: string,
  parse: (bytes: Uint8Array) => T,
): Promise<T>;
export async function readFirmwareFile<T>(
  path: string,
  parse?: (bytes: Uint8Array) => T,
): Promise<T | Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FirmwareNotFoundError([{ path, searched: [path] }]);
    }
    throw e;
  }
  if (!parse) return bytes;
  try {
    return parse(bytes);
  } catch (e) {
    if (e instanceof FirmwareFormatError && e.file === undefined) throw e.withFile(path);
    throw e;
  }
}
