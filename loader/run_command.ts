/**
 * Running the external programs a fetch needs (apt-get, apt-cache,
 * dpkg-deb, tar) in the C locale, with their output collected. A program
 * that is not installed is a {@linkcode FalconryError}, and a program still
 * running when the fetch is interrupted (SIGINT, SIGTERM) is stopped first.
 *
 * @module
 */

import { spawnGuard } from "./_command.ts";
import { cleanUpOnInterrupt } from "./_interrupt.ts";

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
 * import { runCommand } from "./run_command.ts";
 * const result = await runCommand(["tar", "--version"]);
 * assert(result.code === 0 && result.stdout.includes("tar"));
 * ```
 */
export async function runCommand(argv: readonly string[], cwd?: string): Promise<CommandResult> {
  const child = await spawnGuard(argv[0], () =>
    Promise.resolve(
      new Deno.Command(argv[0], {
        args: argv.slice(1),
        cwd,
        env: { LC_ALL: "C" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    ));
  using _stop = stopOnInterrupt(child);
  const output = await child.output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Stop `child` if this process is interrupted while it runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopOnInterrupt } from "./run_command.ts";
 * const child = new Deno.Command("true").spawn();
 * {
 *   using _stop = stopOnInterrupt(child);
 *   assert((await child.status).success);
 * }
 * ```
 */
export function stopOnInterrupt(child: Deno.ChildProcess): Disposable {
  return cleanUpOnInterrupt(() => {
    try {
      child.kill("SIGTERM");
    } catch {
      // It has already exited.
    }
  });
}
