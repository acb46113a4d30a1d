/**
 * Where falconry looks for firmware, in order: `--firmware DIR`, then
 * `FALCONRY_FIRMWARE_DIR`, then falconry's cache, then `/lib/firmware`.
 * Each directory is a firmware root: files sit at `nvidia/<chip>/gsp/…` below it.
 *
 * @module
 */

/** One place to look, and why it is on the list. */
export interface FirmwareDir {
  /** Absolute directory (a firmware root). */
  readonly dir: string;
  /** Where it came from. */
  readonly source: "option" | "env" | "cache" | "system";
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
 * The firmware roots to search, in order, without duplicates.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firmwareSearchDirs } from "./firmware_dirs.ts";
 * const dirs = firmwareSearchDirs({ dir: "/opt/fw", env: (n) => ({ FALCONRY_FIRMWARE_DIR: "/e", HOME: "/h" } as Record<string, string>)[n] });
 * assert(dirs.map((d) => d.dir).join() === "/opt/fw,/e,/h/.cache/falconry/firmware,/lib/firmware");
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
  add(options.dir, "option");
  add(env("FALCONRY_FIRMWARE_DIR"), "env");
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
