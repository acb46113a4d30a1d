/**
 * What every falconry CLI shares, so that every script starts, fails and
 * exits the same way:
 *
 * - flags parsed by `node:util` `parseArgs`, with `--help`, `--version`,
 *   `--json` and `--log-level` on every command, and typed accessors
 *   (`args.integer("rounds", 1, 1000)`);
 * - LogTape configured to write to stderr;
 * - a table of subcommands, each with its own `--help`;
 * - paths the user names checked up front ({@linkcode requirePath});
 * - {@linkcode runMain}, which maps every outcome to an exit code
 *   ({@linkcode EXIT_CODES}: 0 success, 1 bad input or a failed operation,
 *   2 usage error, 70 internal error) and, with `--json`, prints JSON on
 *   stdout in every outcome, failures included.
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
import {
  describeFailure,
  EXIT_CODES,
  EXIT_CODES_HELP,
  type Failure,
  UsageError,
} from "./_cli_failure.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { VERSION } from "./_version.ts";

export { describeFailure, EXIT_CODES, EXIT_CODES_HELP, type Failure, UsageError };
export {
  isOsError,
  OutputError,
  PathError,
  type PathKind,
  requirePath,
  writeOutputFile,
} from "./_cli_paths.ts";

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
 * The options every command has. A command may define an option of the same
 * name (`firmware.ts check --version V`); its own then wins, and the
 * program-level one (`firmware.ts --version`) still works.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMON_OPTIONS } from "./_cli.ts";
 * assert(Object.keys(COMMON_OPTIONS).join() === "help,version,json,log-level");
 * ```
 */
export const COMMON_OPTIONS: OptionSpecs = {
  help: { type: "boolean", short: "h", description: "show this help and exit" },
  version: {
    type: "boolean",
    description: "print falconry's version and the firmware manifest's, and exit",
  },
  json: { type: "boolean", description: "print JSON on stdout, failures included" },
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
 * const args = new ParsedArgs({ chip: "tu102", json: true, rounds: "7" }, []);
 * assert(args.string("chip") === "tu102" && args.json && !args.flag("help"));
 * assert(args.integer("rounds", 1, 100) === 7);
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

  /**
   * A string option's value as a whole number in `[min, max]` (decimal, or
   * hex with `0x`); `undefined` when absent.
   *
   * @throws {UsageError} when it is not such a number.
   */
  integer(name: string, min: number, max: number): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const value = /^(\d+|0x[0-9a-f]+)$/i.test(text.trim()) ? Number(text.trim()) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new UsageError(`--${name} ${text}: expected a whole number from ${min} to ${max}`);
    }
    return value;
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

// Whether the command line asked for JSON, once it parsed; runMain falls back
// to looking for `--json` in the raw arguments when parsing itself failed.
let jsonRequested: boolean | undefined;

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
      throw new UsageError(`${parseArgsMessage((e as Error).message)}; see --help`);
    }
    throw e;
  }
  const level = parsed.values["log-level"];
  if (typeof level === "string" && !isLogLevel(level)) {
    throw new UsageError(
      `--log-level ${level}: expected trace, debug, info, warning, error or fatal`,
    );
  }
  const result = new ParsedArgs(parsed.values, parsed.positionals);
  jsonRequested = result.json;
  return result;
}

// node:util's messages run over several sentences and lines; keep the first
// and say how to pass a value that starts with a dash.
function parseArgsMessage(message: string): string {
  const first = message.split(/\.\s/)[0].replace(/\.$/, "");
  const ambiguous = first.match(/^Option '(--[\w-]+)' argument is ambiguous$/);
  if (ambiguous) {
    return `${ambiguous[1]} needs a value; a value that starts with "-" is written ${
      ambiguous[1]
    }=VALUE`;
  }
  return first;
}

/** What a help text says about a command. */
export interface HelpSpec {
  /** The usage line, e.g. `firmware.ts check [options]`. */
  readonly usage: string;
  /** One line. */
  readonly summary: string;
  /** Paragraphs after the summary. */
  readonly description?: string;
  /** The options (the common ones are appended unless the command redefines them). */
  readonly options: OptionSpecs;
}

/**
 * The `--help` text of a command: usage, summary, description, options, and
 * {@linkcode EXIT_CODES_HELP}.
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
 * assert(text.includes("Exit codes:"));
 * ```
 */
export function formatHelp(spec: HelpSpec): string {
  const rows = Object.entries({ ...COMMON_OPTIONS, ...spec.options }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${
      o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""
    }`;
    const dflt = typeof o.default === "string" ? ` (default: ${o.default})` : "";
    return [flag, `${o.description}${dflt}`];
  });
  // The command's own options first, then the common ones.
  const own = new Set(Object.keys(spec.options));
  const names = Object.keys({ ...COMMON_OPTIONS, ...spec.options });
  const ordered = [
    ...rows.filter((_, i) => own.has(names[i])),
    ...rows.filter((_, i) => !own.has(names[i])),
  ];
  const width = Math.max(...ordered.map(([f]) => f.length)) + 2;
  const lines = [`Usage: ${spec.usage}`, "", spec.summary];
  if (spec.description) lines.push("", spec.description.trim());
  lines.push("", "Options:");
  for (const [flag, text] of ordered) {
    const [first, ...more] = wrap(text, HELP_WIDTH - 2 - width);
    lines.push(`  ${flag.padEnd(width)}${first}`, ...more.map((l) => " ".repeat(2 + width) + l));
  }
  lines.push("", EXIT_CODES_HELP);
  return lines.join("\n");
}

/** Help text fits this many columns (the repository's line width). */
const HELP_WIDTH = 100;

// Words of `text` in lines of at most `width` columns (a longer word gets its own line).
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
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

/** What `--version` reports. */
export interface VersionInfo {
  /** falconry's version. */
  falconry: string;
  /** The firmware manifest: the Debian package and its version. */
  firmwareManifest: { package: string; version: string };
}

/**
 * falconry's version and the firmware manifest's, as `--version` prints them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionInfo } from "./_cli.ts";
 * assert(versionInfo().firmwareManifest.package === "firmware-nvidia-graphics");
 * ```
 */
export function versionInfo(): VersionInfo {
  return {
    falconry: VERSION,
    firmwareManifest: {
      package: FIRMWARE_MANIFEST.package,
      version: FIRMWARE_MANIFEST.version,
    },
  };
}

function printVersion(json: boolean): void {
  const info = versionInfo();
  if (json) printJson(info);
  else {
    console.log(
      `falconry ${info.falconry} (firmware manifest: ${info.firmwareManifest.package} ` +
        `${info.firmwareManifest.version})`,
    );
  }
}

function printHelp(help: string, json: boolean): void {
  const text = help.includes("Exit codes:") ? help : `${help}\n\n${EXIT_CODES_HELP}`;
  if (json) printJson({ help: text });
  else console.log(text);
}

/**
 * Start a command: parse `args` against `options` plus
 * {@linkcode COMMON_OPTIONS}; on `--help` print `help` (with the exit codes
 * appended when it lacks them), on `--version` the versions, both on stdout
 * (as JSON with `--json`), and return `undefined` (the command then exits 0);
 * otherwise configure logging from `--log-level` and return the parsed
 * arguments.
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
    printHelp(help, parsed.json);
    return undefined;
  }
  if (!Object.hasOwn(options, "version") && parsed.flag("version")) {
    printVersion(parsed.json);
    return undefined;
  }
  await configureLogging(parsed.logLevel);
  return parsed;
}

// `--json` among the arguments before `--`, for failures before parsing ended.
function argvAsksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/**
 * Run `main` and exit with its code (default 0). Every exception ends in one
 * place, here:
 *
 * - a {@linkcode UsageError} prints `error: <message>` on stderr and exits 2;
 * - any other {@linkcode FalconryError}, or an OS error about a file, a pipe
 *   or a permission (missing, a directory, a full disk), prints `error:
 *   <message>` and exits 1;
 * - anything else is a bug: its stack goes to stderr and it exits 70.
 *
 * With `--json` (parsed, or in `argv` when parsing failed), the failure is
 * also printed on stdout as one line of JSON, `{"error": {"kind", "message",
 * …typed fields}}` (see {@linkcode describeFailure}).
 *
 * @param main The script's work; its result is the exit code.
 * @param argv The raw arguments, to find `--json` when parsing failed.
 *
 * @example
 * ```ts ignore
 * import { runMain } from "./_cli.ts";
 * await runMain(() => 0);
 * ```
 */
export async function runMain(
  main: () => Promise<number | void> | number | void,
  argv: readonly string[] = Deno.args,
): Promise<never> {
  let code: number;
  try {
    code = (await main()) ?? EXIT_CODES.ok;
  } catch (e) {
    const failure = describeFailure(e);
    if (jsonRequested ?? argvAsksForJson(argv)) console.log(JSON.stringify(failure.json));
    if (failure.internal) {
      console.error(`internal error (a bug in falconry; please report it):`);
      console.error(e instanceof Error ? (e.stack ?? String(e)) : String(e));
    } else {
      console.error(`error: ${failure.json.error.message}`);
    }
    code = failure.code;
  }
  Deno.exit(code);
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

// The common options given before the command (`firmware.ts --json check`),
// and where the command name is.
function splitLeadingOptions(args: readonly string[]): number {
  let i = 0;
  while (i < args.length && args[i].startsWith("-") && args[i] !== "--") {
    i += args[i] === "--log-level" ? 2 : 1;
  }
  return i;
}

/**
 * Dispatch `args` to a subcommand of `table`: `<program> [common options]
 * <command> [options]`. `--help` (or `help`) alone lists the commands;
 * `<command> --help` or `help <command>` shows that command's help;
 * `--version` alone prints the versions. Common options given before the
 * command (`--json`, `--log-level`) apply to it. Logging is configured from
 * `--log-level` before the command runs.
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
  const at = splitLeadingOptions(args);
  const leading = args.slice(0, at);
  const [name, ...rest] = args.slice(at);
  if (name === undefined || name === "help") {
    const top = parseCli(leading, {});
    const topic = name === "help" ? rest[0] : undefined;
    if (topic !== undefined) {
      printHelp(commandHelp(program, topic, commandOf(program, table, topic)), top.json);
      return 0;
    }
    if (top.help || name === "help") {
      printHelp(programHelp(program, table), top.json);
      return 0;
    }
    if (top.flag("version")) {
      printVersion(top.json);
      return 0;
    }
    if (!top.json) console.error(programHelp(program, table));
    throw new UsageError(`${program.name}: missing command; commands: ${commandNames(table)}`);
  }
  const command = commandOf(program, table, name);
  const help = commandHelp(program, name, command);
  const parsed = await startCli(
    [...leading, ...rest],
    command.options,
    help,
    command.allowPositionals ?? false,
  );
  if (parsed === undefined) return 0;
  return (await command.run(parsed)) ?? 0;
}

function commandNames(table: CommandTable): string {
  return Object.keys(table).join(", ");
}

function commandOf(program: Program, table: CommandTable, name: string): Command {
  if (!Object.hasOwn(table, name)) {
    throw new UsageError(
      `${program.name}: unknown command ${JSON.stringify(name)}; commands: ${commandNames(table)}`,
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
    `       ${program.name} --version | --help`,
    "",
    program.summary,
    "",
    "Commands:",
    ...Object.entries(table).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`),
    "",
    `Run \`${program.name} <command> --help\` for a command's options.`,
    "",
    EXIT_CODES_HELP,
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
