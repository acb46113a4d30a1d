// Running a script of this repository in a subprocess, as the CLI tests do:
// its exit code and its whole stdout and stderr as text; and the assertions
// every CLI test makes about a failure.

import assert from "node:assert/strict";

/** How a script run ended. */
export interface CliRun {
  /** Exit code. */
  code: number;
  /** Everything it printed on stdout. */
  stdout: string;
  /** Everything it printed on stderr. */
  stderr: string;
}

/** How to run the script. */
export interface CliRunOptions {
  /** Deno flags before the script; default `["-A"]`. */
  flags?: string[];
  /** Environment additions; `NO_COLOR=1` is always set (and may be overridden here). */
  env?: Record<string, string>;
  /** Start from an empty environment: the child sees only `NO_COLOR` and `env`. */
  clearEnv?: boolean;
  /** A command to run Deno under (setpriv, strace), with its arguments. */
  prefix?: string[];
}

/** Run `deno run <flags> <script> <args>` and collect its exit code and output. */
export async function runScript(
  script: string,
  args: string[],
  options: CliRunOptions = {},
): Promise<CliRun> {
  const command = [
    ...(options.prefix ?? []),
    Deno.execPath(),
    "run",
    ...(options.flags ?? ["-A"]),
    script,
    ...args,
  ];
  const out = await new Deno.Command(command[0], {
    args: command.slice(1),
    clearEnv: options.clearEnv ?? false,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/**
 * Assert that `run` failed the way every falconry script fails on bad input
 * or bad usage: exit `code`, exactly one `error:` line on stderr, no stack
 * trace. Returns that line.
 */
export function assertOneLineError(run: CliRun, code: number, pattern?: RegExp): string {
  assert.equal(run.code, code, `exit ${run.code}\n${run.stdout}${run.stderr}`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected on stderr:\n${run.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "a stack trace");
  if (pattern) assert.match(lines[0], pattern);
  return lines[0];
}

/** What `--json` prints on failure. */
export interface JsonFailure {
  error: { kind: string; message: string } & Record<string, unknown>;
}

/**
 * Assert that `run` (given `--json`) failed with exit `code` and printed
 * exactly one JSON document on stdout, `{"error": {kind, message, …}}`, of
 * `kind`, whose message is the stderr line's. Returns the document.
 */
export function assertJsonError(run: CliRun, code: number, kind: string): JsonFailure {
  assert.equal(run.code, code, `exit ${run.code}\n${run.stdout}${run.stderr}`);
  const doc = JSON.parse(run.stdout) as JsonFailure;
  assert.deepEqual(Object.keys(doc), ["error"]);
  assert.equal(doc.error.kind, kind, run.stdout);
  assert.equal(run.stderr.trimEnd().split("\n").at(-1), `error: ${doc.error.message}`);
  return doc;
}
