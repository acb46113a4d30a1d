/**
 * Where falconry looks for firmware, in order: `--firmware DIR`, then
 * `FALCONRY_FIRMWARE_DIR`, then falconry's cache, then `/lib/firmware`.
 * Each directory is a firmware root: files sit at `nvidia/<chip>/gsp/…` below it.
 *
 * A folder the user names (`--firmware DIR`, `FALCONRY_FIRMWARE_DIR`) must
 * exist and be a folder: a typo must not fall back to the cache unnoticed,
 * so it is a {@linkcode FirmwareDirError}. The cache and `/lib/firmware`
 * may be absent.
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** One place to look, and why it is on the list. */
export interface FirmwareDir {
  /** Absolute directory (a firmware root). */
  readonly dir: string;
  /** Where it came from. */
  readonly source: "option" | "env" | "cache" | "system";
}

/** What is wrong with a firmware folder the user named. */
export type FirmwareDirProblem = "missing" | "not-a-directory" | "unreadable";

const PROBLEM_TEXT: Record<FirmwareDirProblem, string> = {
  "missing": "no such directory",
  "not-a-directory": "not a directory",
  "unreadable": "permission denied",
};

const SOURCE_TEXT: Record<"option" | "env", string> = {
  option: "--firmware",
  env: "FALCONRY_FIRMWARE_DIR",
};

/**
 * A firmware folder given with `--firmware DIR` or `FALCONRY_FIRMWARE_DIR`
 * does not exist, is not a folder, or cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FirmwareDirError } from "./firmware_dirs.ts";
 * const e = new FirmwareDirError("/nonexistent", "env", "missing");
 * assert(e.message === "FALCONRY_FIRMWARE_DIR=/nonexistent: no such directory");
 * ```
 */
export class FirmwareDirError extends FalconryError {
  /** The folder as the user gave it. */
  readonly path: string;
  /** Where it was given. */
  readonly source: "option" | "env";
  /** What is wrong with it. */
  readonly problem: FirmwareDirProblem;

  /**
   * Construct it.
   *
   * @param path The folder as the user gave it.
   * @param source `option` (`--firmware`) or `env` (`FALCONRY_FIRMWARE_DIR`).
   * @param problem What is wrong with it.
   * @param options Standard error options (`cause`).
   */
  constructor(
    path: string,
    source: "option" | "env",
    problem: FirmwareDirProblem,
    options?: ErrorOptions,
  ) {
    const named = source === "env" ? `${SOURCE_TEXT.env}=${path}` : `${SOURCE_TEXT.option} ${path}`;
    super(`${named}: ${PROBLEM_TEXT[problem]}`, options);
    this.path = path;
    this.source = source;
    this.problem = problem;
  }
}

/**
 * Check that a folder the user named is a folder.
 *
 * @throws {FirmwareDirError} when it is missing, not a folder, or unreadable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertFirmwareDir, FirmwareDirError } from "./firmware_dirs.ts";
 * assertFirmwareDir(Deno.makeTempDirSync(), "option");
 * assert.throws(() => assertFirmwareDir(Deno.makeTempFileSync(), "option"), FirmwareDirError);
 * ```
 */
export function assertFirmwareDir(path: string, source: "option" | "env"): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      throw new FirmwareDirError(path, source, "missing", { cause: e });
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new FirmwareDirError(path, source, "unreadable", { cause: e });
    }
    // Without --allow-read there is nothing to check here; reading a file will say so.
    if (e instanceof Deno.errors.NotCapable) return;
    throw e;
  }
  if (!info.isDirectory) throw new FirmwareDirError(path, source, "not-a-directory");
}

/** Inputs to {@linkcode firmwareSearchDirs}; defaults read the environment. */
export interface FirmwareSearchOptions {
  /** The `--firmware DIR` option. */
  dir?: string;
  /** Environment lookup; defaults to `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/**
 * falconry's cache folder: `$XDG_CACHE_HOME/falconry`, default `~/.cache/falconry`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheDir } from "./firmware_dirs.ts";
 * assert(cacheDir((n) => n === "XDG_CACHE_HOME" ? "/c" : undefined) === "/c/falconry");
 * ```
 */
export function cacheDir(env: (name: string) => string | undefined = envGet): string {
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg.replace(/\/+$/, "")}/falconry`;
  const home = env("HOME") ?? "/root";
  return `${home.replace(/\/+$/, "")}/.cache/falconry`;
}

/**
 * The firmware root inside falconry's cache.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheFirmwareDir } from "./firmware_dirs.ts";
 * assert(cacheFirmwareDir((n) => n === "HOME" ? "/home/u" : undefined) === "/home/u/.cache/falconry/firmware");
 * ```
 */
export function cacheFirmwareDir(env: (name: string) => string | undefined = envGet): string {
  return `${cacheDir(env)}/firmware`;
}

/**
 * The firmware roots to search, in order, without duplicates. The folders
 * the user named are checked first.
 *
 * @throws {FirmwareDirError} when `dir` or `FALCONRY_FIRMWARE_DIR` names
 *   something that is not a folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firmwareSearchDirs, FirmwareDirError } from "./firmware_dirs.ts";
 * const [fw, e] = [Deno.makeTempDirSync(), Deno.makeTempDirSync()];
 * const vars: Record<string, string> = { FALCONRY_FIRMWARE_DIR: e, HOME: "/h" };
 * const dirs = firmwareSearchDirs({ dir: fw, env: (n) => vars[n] });
 * assert(dirs.map((d) => d.dir).join() === `${fw},${e},/h/.cache/falconry/firmware,/lib/firmware`);
 * assert.throws(() => firmwareSearchDirs({ dir: `${fw}/typo` }), FirmwareDirError);
 * ```
 */
export function firmwareSearchDirs(options: FirmwareSearchOptions = {}): FirmwareDir[] {
  const env = options.env ?? envGet;
  const out: FirmwareDir[] = [];
  const add = (dir: string | undefined, source: FirmwareDir["source"]) => {
    if (!dir) return;
    const clean = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
    if (!out.some((d) => d.dir === clean)) out.push({ dir: clean, source });
  };
  const named = options.dir;
  const fromEnv = env("FALCONRY_FIRMWARE_DIR");
  if (named) assertFirmwareDir(named, "option");
  if (fromEnv) assertFirmwareDir(fromEnv, "env");
  add(named, "option");
  add(fromEnv, "env");
  add(cacheFirmwareDir(env), "cache");
  add("/lib/firmware", "system");
  return out;
}

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Without --allow-env the environment simply offers nothing.
    return undefined;
  }
}
