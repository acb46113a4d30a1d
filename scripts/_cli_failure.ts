/**
 * How a falconry script fails: its exit codes ({@linkcode EXIT_CODES}, also
 * written in every `--help`), and for any exception the exit code and the
 * JSON that `--json` prints ({@linkcode describeFailure}).
 *
 * @module
 */

import {
  BootError,
  DeviceError,
  FalconryError,
  FirmwareChecksumError,
  FirmwareFormatError,
  FirmwareNotFoundError,
  HardwareTimeoutError,
  OsError,
} from "../errors.ts";
import { FirmwareDirError } from "../loader/firmware_dirs.ts";
import { isOsError, OutputError, PathError } from "./_cli_paths.ts";

/**
 * The exit codes of every falconry script. `internal` is sysexits.h's
 * `EX_SOFTWARE`: distinct from the others, so that a caller can tell a bug
 * in falconry from a problem with its input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_CODES } from "./_cli_failure.ts";
 * assert.deepEqual(Object.values(EXIT_CODES), [0, 1, 2, 70]);
 * ```
 */
export const EXIT_CODES = {
  /** It worked. */
  ok: 0,
  /** Bad input (a missing file, a malformed image, an unknown chip) or a failed operation. */
  failure: 1,
  /** The command line does not make sense: an unknown option, a missing or bad value. */
  usage: 2,
  /** An unexpected exception: a bug in falconry. */
  internal: 70,
} as const;

/**
 * The "Exit codes:" section every `--help` ends with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_CODES_HELP } from "./_cli_failure.ts";
 * assert.match(EXIT_CODES_HELP, /^ {2}70 {2}/m);
 * ```
 */
export const EXIT_CODES_HELP = `Exit codes:
  0   success
  1   bad input or a failed operation (one \`error:\` line on stderr)
  2   usage error: an unknown option, a missing or bad value
  70  internal error: a bug in falconry (with a stack trace; please report it)
With --json, stdout is JSON in every outcome; a failure prints
{"error": {"kind", "message", …}} there as well.`;

/**
 * A command line that does not make sense: unknown option, missing value, bad
 * choice. Exits {@linkcode EXIT_CODES}`.usage`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "./_cli_failure.ts";
 * assert(new UsageError("--chip: unknown chip").name === "UsageError");
 * ```
 */
export class UsageError extends FalconryError {}

/** An outcome that is not success, as `runMain` reports it. */
export interface Failure {
  /** The exit code. */
  code: number;
  /** What `--json` prints on stdout: `{error: {kind, message, …typed fields}}`. */
  json: { error: { kind: string; message: string } & Record<string, unknown> };
  /** Whether it is a bug (the stack goes to stderr). */
  internal: boolean;
}

type ErrorClass = abstract new (...args: never[]) => Error;

// Each typed error's kind and the fields a script reading --json needs; the
// first matching row wins, so subclasses come before FalconryError.
const ERROR_KINDS: readonly [ErrorClass, string, (e: never) => Record<string, unknown>][] = [
  [UsageError, "usage", () => ({})],
  [PathError, "path", (e: PathError) => ({
    path: e.path,
    expected: e.expected,
    problem: e.problem,
    ...(e.flag ? { flag: e.flag } : {}),
  })],
  [OutputError, "output", (e: OutputError) => ({
    path: e.path,
    problem: e.problem,
    ...(e.flag ? { flag: e.flag } : {}),
  })],
  [FirmwareDirError, "path", (e: FirmwareDirError) => ({
    path: e.path,
    expected: "directory",
    problem: e.problem,
    ...(e.source === "option" ? { flag: "--firmware" } : { env: "FALCONRY_FIRMWARE_DIR" }),
  })],
  [FirmwareFormatError, "firmware-format", (e: FirmwareFormatError) => ({
    ...(e.file ? { file: e.file } : {}),
    offset: e.offset,
    field: e.field,
    reason: e.reason,
  })],
  [FirmwareNotFoundError, "firmware-not-found", (e: FirmwareNotFoundError) => ({
    missing: e.missing,
  })],
  [FirmwareChecksumError, "firmware-checksum", (e: FirmwareChecksumError) => ({
    file: e.path,
    expected: e.expected,
    actual: e.actual,
  })],
  [OsError, "os", (e: OsError) => ({
    call: e.call,
    errno: e.errno,
    errnoName: e.errnoName,
    ...(e.path ? { path: e.path } : {}),
  })],
  [DeviceError, "device", (e: DeviceError) => ({
    bdf: e.bdf,
    problem: e.problem,
    ...(e.todo ? { todo: e.todo } : {}),
  })],
  [HardwareTimeoutError, "hardware-timeout", (e: HardwareTimeoutError) => ({
    register: e.register,
    lastValue: e.lastValue,
    timeoutMs: e.timeoutMs,
  })],
  [BootError, "boot", (e: BootError) => ({ step: e.step })],
  [FalconryError, "input", () => ({})],
];

/**
 * How `runMain` reports an exception: its exit code, its JSON,
 * and whether it is a bug.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFailure, UsageError } from "./_cli_failure.ts";
 * assert(describeFailure(new UsageError("bad")).code === 2);
 * assert(describeFailure(new TypeError("oops")).code === 70);
 * const disk = Object.assign(new Error("No space left on device (os error 28): write 'x'"), { code: "ENOSPC" });
 * assert.deepEqual(describeFailure(disk).json.error.code, "ENOSPC");
 * ```
 */
export function describeFailure(e: unknown): Failure {
  const row = ERROR_KINDS.find(([type]) => e instanceof type);
  if (row) {
    const [, kind, fields] = row;
    return {
      code: e instanceof UsageError ? EXIT_CODES.usage : EXIT_CODES.failure,
      json: { error: { kind, message: (e as Error).message, ...fields(e as never) } },
      internal: false,
    };
  }
  if (isOsError(e)) {
    return {
      code: EXIT_CODES.failure,
      json: {
        error: {
          kind: "io",
          message: e.message,
          ...(typeof e.code === "string" ? { code: e.code } : {}),
        },
      },
      internal: false,
    };
  }
  const error = e instanceof Error ? e : new Error(String(e));
  return {
    code: EXIT_CODES.internal,
    json: { error: { kind: "internal", message: error.message, name: error.name } },
    internal: true,
  };
}
