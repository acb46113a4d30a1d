/**
 * Paths the user names on a command line: an input must exist and be the
 * right kind ({@linkcode requirePath}), an output that cannot be written
 * fails naming it ({@linkcode writeOutputFile}), and OS errors about them
 * are told apart from bugs ({@linkcode isOsError}).
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** What a path the user named must be. */
export type PathKind = "file" | "directory";

/**
 * A path the user named does not exist or is not the kind of thing the
 * command needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PathError } from "./_cli_paths.ts";
 * const e = new PathError("/x.rom", "file", "no such file");
 * assert(e.message === "/x.rom: no such file" && e.expected === "file");
 * ```
 */
export class PathError extends FalconryError {
  /**
   * Construct it.
   *
   * @param path The path as the user gave it.
   * @param expected What it had to be.
   * @param problem What is wrong, e.g. `no such file`.
   * @param flag The option that named it (`--firmware`), if any.
   */
  constructor(
    readonly path: string,
    readonly expected: PathKind,
    readonly problem: string,
    readonly flag?: string,
  ) {
    super(`${flag ? `${flag} ` : ""}${shown(path)}: ${problem}`);
  }
}

/**
 * Check that `path` exists and is a `kind` (following symlinks), so that a
 * typo fails naming the path instead of being skipped silently.
 *
 * @param path The path the user gave.
 * @param kind What it must be.
 * @param flag The option that named it, for the message (`--firmware`).
 * @returns `path`.
 * @throws {PathError} when it is missing, not a `kind`, or cannot be looked at.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requirePath } from "./_cli_paths.ts";
 * const dir = Deno.makeTempDirSync();
 * assert(requirePath(dir, "directory") === dir);
 * assert.throws(() => requirePath(dir, "file", "--vbios"), /^PathError: --vbios .*: is a directory, not a file$/);
 * assert.throws(() => requirePath(`${dir}/none`, "file"), /none: no such file$/);
 * Deno.removeSync(dir);
 * ```
 */
export function requirePath(path: string, kind: PathKind, flag?: string): string {
  let stat: Deno.FileInfo;
  try {
    stat = Deno.statSync(path);
  } catch (e) {
    const problem = e instanceof Deno.errors.NotFound
      ? `no such ${kind}`
      : e instanceof Deno.errors.NotADirectory
      ? `no such ${kind} (a part of the path is not a directory)`
      : (e as Error).message;
    throw new PathError(path, kind, problem, flag);
  }
  const actual = FILE_TYPES.find(([is]) => stat[is] === true)?.[1] ?? "special file";
  if (actual !== kind) throw new PathError(path, kind, `is a ${actual}, not a ${kind}`, flag);
  return path;
}

// What stat says a path is, for messages (`/dev/null: is a character device, not a file`).
const FILE_TYPES: readonly [keyof Deno.FileInfo, string][] = [
  ["isFile", "file"],
  ["isDirectory", "directory"],
  ["isCharDevice", "character device"],
  ["isBlockDevice", "block device"],
  ["isFifo", "FIFO"],
  ["isSocket", "socket"],
];

/** A path as messages show it: an empty one as `""`, so that it is visible. */
function shown(path: string): string {
  return path === "" ? '""' : path;
}

/**
 * Writing an output file the user named failed (a full disk, a read-only
 * file system, a folder in its place).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputError } from "./_cli_paths.ts";
 * const e = new OutputError("/dev/full", "No space left on device (os error 28)", "--extract-fwsec");
 * assert(e.message === "--extract-fwsec /dev/full: cannot write: No space left on device (os error 28)");
 * ```
 */
export class OutputError extends FalconryError {
  /**
   * Construct it.
   *
   * @param path The output path as the user gave it.
   * @param problem The OS's reason.
   * @param flag The option that named it, if any.
   * @param options Standard error options (`cause`).
   */
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly flag?: string,
    options?: ErrorOptions,
  ) {
    super(`${flag ? `${flag} ` : ""}${shown(path)}: cannot write: ${problem}`, options);
  }
}

/**
 * Write `bytes` to the output file `path` the user named; an OS error (a full
 * disk, no permission, a folder there) becomes an {@linkcode OutputError}
 * naming the path and the option.
 *
 * @param path Where to write.
 * @param bytes What to write.
 * @param flag The option that named `path` (`--extract-fwsec`).
 * @throws {OutputError} when the OS refuses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeOutputFile } from "./_cli_paths.ts";
 * await assert.rejects(writeOutputFile("/dev/full", new Uint8Array(8), "--out"), /^OutputError: --out \/dev\/full: cannot write: No space left on device \(os error 28\)$/);
 * ```
 */
export async function writeOutputFile(
  path: string,
  bytes: Uint8Array,
  flag?: string,
): Promise<void> {
  try {
    await Deno.writeFile(path, bytes);
  } catch (e) {
    if (!isOsError(e)) throw e;
    throw new OutputError(path, e.message.replace(/: \w+ '[^']*'$/, ""), flag, { cause: e });
  }
}

// Deno errors that come from a file, a pipe or a permission rather than from
// falconry's code: a missing file, a full disk, a closed pipe. BadResource
// (a closed descriptor) and Http are falconry's own doing, hence bugs.
const NOT_OS_ERRORS: ReadonlySet<unknown> = new Set([
  Deno.errors.BadResource,
  Deno.errors.Http,
]);

/**
 * Whether `e` is an OS error about a file, a pipe or a permission (a
 * missing file, a full disk, a closed pipe), rather than a bug.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isOsError } from "./_cli_paths.ts";
 * assert(isOsError(new Deno.errors.NotFound("gone")) && !isOsError(new TypeError("x")));
 * ```
 */
export function isOsError(e: unknown): e is Error & { code?: string } {
  if (!(e instanceof Error)) return false;
  if (Object.values(Deno.errors).some((c) => e instanceof c && !NOT_OS_ERRORS.has(c))) {
    return true;
  }
  // Errors without a class of their own (ENOSPC, EROFS…) carry the errno name.
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) && /\(os error \d+\)/.test(
    e.message,
  );
}
