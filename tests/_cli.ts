// Running a script of this repository in a subprocess, as the CLI tests do:
// its exit code and its whole stdout and stderr as text.

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
