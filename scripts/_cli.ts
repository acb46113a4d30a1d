/**
 * What every falconry CLI shares: flags parsed by `node:util` `parseArgs`
 * with `--help`, `--json` and `--log-level` on every command; LogTape
 * configured to write to stderr; a table of subcommands, each with its own
 * `--help`; and a main that prints one line for a {@linkcode FalconryError}
 * and exits 1, while anything else (a bug) escapes with its stack.
 *
 * @example A script with one subcommand
 * ```ts ignore
 * import { type CommandTable, runCommandTable, runMain } from "./_cli.ts";
 * const COMMANDS: CommandTable = {
 *   hello: {
 *     summary: "say hello",
 *     options: { name: { type: "string", valueName: "NAME", description: "whom to greet" } },
 *     run: (args) => console.log(`hello ${args.string("name") ?? "world"}`),
 *   },
 * };
 * await runMain(() => runCommandTable({ name: "hello.ts", summary: "greets" }, COMMANDS, Deno.args));
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  configure,
  getConsoleSink,
  getTextFormatter,
  isLogLevel,
  type LogLevel,
} from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";

/**
 * A command line that does not make sense: unknown option, missing value, bad choice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "./_cli.ts";
 * assert(new UsageError("--chip: unknown chip").name === "UsageError");
 * ```
 */
export class UsageError extends FalconryError {}

/** One option of a command. */
export interface OptionSpec {
  /** A flag (`boolean`) or an option with a value (`string`). */
  readonly type: "boolean" | "string";
  /** One-letter alias. */
  readonly short?: string;
  /** Whether it may be repeated. */
  readonly multiple?: boolean;
  /** Value when absent. */
  readonly default?: string | boolean;
  /** Placeholder for the value in the help text (`DIR`). */
  readonly valueName?: string;
  /** One line for the help text. */
  readonly description: string;
}

/** A command's options by long name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/**
 * The options every command has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMON_OPTIONS } from "./_cli.ts";
 * assert(Object.keys(COMMON_OPTIONS).join() === "help,json,log-level");
 * ```
 */
export const COMMON_OPTIONS: OptionSpecs = {
  help: { type: "boolean", short: "h", description: "show this help and exit" },
  json: { type: "boolean", description: "print one JSON document on stdout" },
  "log-level": {
    type: "string",
    valueName: "LEVEL",
    default: "warning",
    description: "trace, debug, info, warning, error or fatal; logs go to stderr",
  },
};

type Value = string | boolean | (string | boolean)[] | undefined;

/**
 * Parsed flags and positionals, with typed accessors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ParsedArgs } from "./_cli.ts";
 * const args = new ParsedArgs({ chip: "tu102", json: true }, []);
 * assert(args.string("chip") === "tu102" && args.json && !args.flag("help"));
 * ```
 */
export class ParsedArgs {
  /**
   * @param values Option values by long name.
   * @param positionals Arguments that are not options.
   */
  constructor(
    readonly values: Readonly<Record<string, Value>>,
    readonly positionals: readonly string[],
  ) {}

  /** A string option's value. */
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** Whether a flag was given. */
  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** `--json`. */
  get json(): boolean {
    return this.flag("json");
  }

  /** `--help`. */
  get help(): boolean {
    return this.flag("help");
  }

  /** `--log-level`. */
  get logLevel(): LogLevel {
    return (this.string("log-level") ?? "warning") as LogLevel;
  }
}

/**
 * Parse `args` against `options` plus {@linkcode COMMON_OPTIONS}.
 *
 * @throws {UsageError} for an unknown option, a missing value, or a bad log level.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCli } from "./_cli.ts";
 * const args = parseCli(["--chip", "ga102", "--json"], {
 *   chip: { type: "string", description: "the chip" },
 * });
 * assert(args.string("chip") === "ga102" && args.json && args.logLevel === "warning");
 * ```
 */
export function parseCli(
  args: readonly string[],
  options: OptionSpecs,
  allowPositionals = false,
): ParsedArgs {
  const all = { ...COMMON_OPTIONS, ...options };
  const config = Object.fromEntries(
    Object.entries(all).map(([name, spec]) => [name, {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
      ...(spec.default !== undefined ? { default: spec.default } : {}),
    }]),
  );
  let parsed: { values: Record<string, Value>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: config, allowPositionals, strict: true });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError(`${(e as Error).message.split(". ")[0]}; see --help`);
    }
    throw e;
  }
  const level = parsed.values["log-level"];
  if (typeof level === "string" && !isLogLevel(level)) {
    throw new UsageError(
      `--log-level ${level}: expected trace, debug, info, warning, error or fatal`,
    );
  }
  return new ParsedArgs(parsed.values, parsed.positionals);
}

/** What a help text says about a command. */
export interface HelpSpec {
  /** The usage line, e.g. `firmware.ts check [options]`. */
  readonly usage: string;
  /** One line. */
  readonly summary: string;
  /** Paragraphs after the summary. */
  readonly description?: string;
  /** The options (the common ones are appended). */
  readonly options: OptionSpecs;
}

/**
 * The `--help` text of a command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatHelp } from "./_cli.ts";
 * const text = formatHelp({
 *   usage: "x.ts run [options]",
 *   summary: "runs",
 *   options: { dir: { type: "string", valueName: "DIR", description: "where" } },
 * });
 * assert(text.includes("--dir DIR") && text.includes("--log-level LEVEL"));
 * ```
 */
export function formatHelp(spec: HelpSpec): string {
  const rows = Object.entries({ ...spec.options, ...COMMON_OPTIONS }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${
      o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""
    }`;
    const dflt = typeof o.default === "string" ? ` (default: ${o.default})` : "";
    return [flag, `${o.description}${dflt}`];
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const lines = [`Usage: ${spec.usage}`, "", spec.summary];
  if (spec.description) lines.push("", spec.description.trim());
  lines.push("", "Options:", ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`));
  return lines.join("\n");
}

/**
 * Configure LogTape: the `falconry` categories at `level` and above, to
 * stderr through a console sink (every level mapped to `console.error`).
 *
 * @example
 * ```ts
 * import { configureLogging } from "./_cli.ts";
 * await configureLogging("info");
 * ```
 */
export async function configureLogging(level: LogLevel): Promise<void> {
  const toStderr = {
    trace: "error",
    debug: "error",
    info: "error",
    warning: "error",
    error: "error",
    fatal: "error",
  } as const;
  await configure({
    reset: true,
    sinks: {
      stderr: getConsoleSink({
        formatter: getTextFormatter({ timestamp: "time", value: "bare" }),
        levelMap: toStderr,
      }),
    },
    loggers: [
      { category: ["falconry"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/**
 * Start a command: parse `args` against `options` plus
 * {@linkcode COMMON_OPTIONS}; on `--help` print `help` on stdout and return
 * `undefined` (the command then exits 0); otherwise configure logging from
 * `--log-level` and return the parsed arguments.
 *
 * @throws {UsageError} for an unknown option, a missing value, or a bad log level.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startCli } from "./_cli.ts";
 * const args = await startCli(["--json"], {}, "Usage: x.ts [--json]");
 * assert(args !== undefined && args.json);
 * ```
 */
export async function startCli(
  args: readonly string[],
  options: OptionSpecs,
  help: string,
  allowPositionals = false,
): Promise<ParsedArgs | undefined> {
  const parsed = parseCli(args, options, allowPositionals);
  if (parsed.help) {
    console.log(help);
    return undefined;
  }
  await configureLogging(parsed.logLevel);
  return parsed;
}

/**
 * Run `main` and exit with its code (default 0). A {@linkcode FalconryError},
 * or a file-system error about a path the user gave (missing, a directory,
 * no permission), prints `error: <message>` on stderr and exits 1; anything
 * else is a bug and is rethrown with its stack.
 *
 * @example
 * ```ts ignore
 * import { runMain } from "./_cli.ts";
 * await runMain(() => 0);
 * ```
 */
export async function runMain(main: () => Promise<number | void> | number | void): Promise<void> {
  let code: number;
  try {
    code = (await main()) ?? 0;
  } catch (e) {
    if (!(e instanceof FalconryError) && !isUserFileError(e)) throw e;
    console.error(`error: ${(e as Error).message}`);
    code = 1;
  }
  Deno.exit(code);
}

// Deno's file errors name the call and the path ("No such file or directory
// (os error 2): readfile '/x'"), which is the one line a user needs.
const USER_FILE_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
  Deno.errors.PermissionDenied,
  Deno.errors.AlreadyExists,
];

function isUserFileError(e: unknown): boolean {
  return USER_FILE_ERRORS.some((type) => e instanceof type);
}

/** One subcommand. */
export interface Command {
  /** One line, for the command list and its help. */
  readonly summary: string;
  /** Paragraphs for its help. */
  readonly description?: string;
  /** What follows `<program> <command>` in the usage line; default `[options]`. */
  readonly usage?: string;
  /** Its options (the common ones are added). */
  readonly options: OptionSpecs;
  /** Whether it takes positional arguments. */
  readonly allowPositionals?: boolean;
  /** Do the work; the result is the exit code (default 0). */
  run(args: ParsedArgs): Promise<number | void> | number | void;
}

/** Subcommands by name. */
export type CommandTable = Readonly<Record<string, Command>>;

/** The script itself, for the top-level help. */
export interface Program {
  /** How it is invoked, e.g. `firmware.ts`. */
  readonly name: string;
  /** One line. */
  readonly summary: string;
}

/**
 * Dispatch `args` to a subcommand of `table`: `<program> <command>
 * [options]`. `--help` (or `help`) alone lists the commands; `<command>
 * --help` or `help <command>` shows that command's help. Logging is
 * configured from `--log-level` before the command runs.
 *
 * @throws {UsageError} for a missing or unknown command, or bad options.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCommandTable } from "./_cli.ts";
 * const code = await runCommandTable({ name: "x.ts", summary: "demo" }, {
 *   ok: { summary: "succeeds", options: {}, run: () => 0 },
 *   fail: { summary: "fails", options: {}, run: () => 3 },
 * }, ["fail"]);
 * assert(code === 3);
 * ```
 */
export async function runCommandTable(
  program: Program,
  table: CommandTable,
  args: readonly string[],
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? rest[0] : undefined;
    if (topic !== undefined) {
      console.log(commandHelp(program, topic, commandOf(program, table, topic)));
      return 0;
    }
    if (name === undefined) {
      console.error(programHelp(program, table));
      throw new UsageError(`${program.name}: missing command`);
    }
    console.log(programHelp(program, table));
    return 0;
  }
  const command = commandOf(program, table, name);
  const help = commandHelp(program, name, command);
  const parsed = await startCli(rest, command.options, help, command.allowPositionals ?? false);
  if (parsed === undefined) return 0;
  return (await command.run(parsed)) ?? 0;
}

function commandOf(program: Program, table: CommandTable, name: string): Command {
  if (!Object.hasOwn(table, name)) {
    throw new UsageError(
      `${program.name}: unknown command ${JSON.stringify(name)}; commands: ${
        Object.keys(table).join(", ")
      }`,
    );
  }
  return table[name];
}

function commandHelp(program: Program, name: string, command: Command): string {
  return formatHelp({
    usage: `${program.name} ${name} ${command.usage ?? "[options]"}`,
    summary: command.summary,
    description: command.description,
    options: command.options,
  });
}

function programHelp(program: Program, table: CommandTable): string {
  const width = Math.max(...Object.keys(table).map((n) => n.length)) + 2;
  return [
    `Usage: ${program.name} <command> [options]`,
    "",
    program.summary,
    "",
    "Commands:",
    ...Object.entries(table).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`),
    "",
    `Run \`${program.name} <command> --help\` for a command's options.`,
  ].join("\n");
}

/**
 * Print `value` as one JSON document on stdout.
 *
 * @example
 * ```ts
 * import { printJson } from "./_cli.ts";
 * printJson({ ok: true });
 * ```
 */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/**
 * A duration for people: `850 ms`, `2.3 s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./_cli.ts";
 * assert(formatDuration(850.4) === "850 ms" && formatDuration(2345) === "2.3 s");
 * ```
 */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
