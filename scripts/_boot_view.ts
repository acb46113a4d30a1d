/**
 * The boot and unload steps as a person watches them (`boot.ts`, `unload.ts`,
 * the demo): one line per finished step, `✓ fwsec-frts   123 ms`, and on a
 * terminal a live line for the step under way, with a spinner and its
 * elapsed time, replaced by the finished line when it ends.
 *
 * The view takes the driver's step events as they come
 * ({@linkcode StepView.onStep}) and keeps the finished steps for `--json`
 * ({@linkcode StepView.steps}). What it prints is made by pure functions
 * ({@linkcode formatStepLine}, {@linkcode formatRunningLine}), so that a
 * recorded sequence of events can be checked without a terminal; so are the
 * lines around the steps: the heading ({@linkcode simHeading}), the running
 * GSP ({@linkcode runningLines}) and what a simulated GPU was left holding
 * ({@linkcode residueLines}).
 *
 * @module
 */

import { DEFAULT_FIRMWARE_VERSION } from "../chips/firmware_files.ts";
import { formatDuration } from "./_cli.ts";

/**
 * One step event as the driver reports it (gsp/boot.ts `BootStepEvent`):
 * `start`, then `end` or `fail` with its duration on the device's clock.
 */
export interface StepEvent {
  /** The step's stable kebab-case name (`fwsec-frts`). */
  readonly step: string;
  /** Where the step is. */
  readonly phase: "start" | "end" | "fail";
  /** Its duration in milliseconds, on `end` and `fail`. */
  readonly ms?: number;
  /** A fact worth showing (`WPR2 0x…..0x…`). */
  readonly detail?: string;
}

/** A finished step, as `--json` lists it. */
export interface StepRecord {
  /** The step's name. */
  name: string;
  /** Its duration in milliseconds (device clock), rounded to 0.1 ms. */
  ms: number;
  /** Present, and true, when the step failed. */
  failed?: true;
  /** What the driver said about it, when it said anything. */
  detail?: string;
}

/** The step names are padded to this width, so that durations line up. */
export const STEP_NAME_WIDTH = 24;
/** Durations are right-aligned in this many columns. */
const DURATION_WIDTH = 8;
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const CLEAR_LINE = "\r\x1b[2K";
const REDRAW_MS = 80;
const MARKS = { end: "✓", fail: "✗" } as const;
const COLOURS = { end: "\x1b[32m", fail: "\x1b[31m" } as const;
const RESET = "\x1b[0m";

/**
 * The line of a finished step: mark, name, duration, detail.
 *
 * @param event An `end` or `fail` event.
 * @param depth How many steps were running around it (each indents 2 columns).
 * @param colour Whether to colour the mark (a terminal without `NO_COLOR`).
 * @returns The line, without a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatStepLine } from "./_boot_view.ts";
 * assert.equal(
 *   formatStepLine({ step: "fwsec-frts", phase: "end", ms: 123.4 }),
 *   "  ✓ fwsec-frts                123 ms",
 * );
 * assert.equal(
 *   formatStepLine({ step: "wpr2-check", phase: "end", ms: 0.2, detail: "WPR2 0x1..0x2" }),
 *   "  ✓ wpr2-check                  0 ms  WPR2 0x1..0x2",
 * );
 * assert.match(formatStepLine({ step: "booter-load", phase: "fail", ms: 2500 }), /^ {2}✗ booter-load +2\.5 s$/);
 * const failed = formatStepLine({
 *   step: "init-done",
 *   phase: "fail",
 *   ms: 5000,
 *   detail: `init-done: timed out after 5000 ms${" waiting".repeat(20)}`,
 * });
 * assert.match(failed, /^ {2}✗ init-done +5\.0 s {2}timed out after 5000 ms waiting .*…$/);
 * assert.equal(failed.length, 100);
 * ```
 */
export function formatStepLine(event: StepEvent, depth = 0, colour = false): string {
  const phase = event.phase === "fail" ? "fail" : "end";
  const mark = colour ? `${COLOURS[phase]}${MARKS[phase]}${RESET}` : MARKS[phase];
  const duration = formatDuration(event.ms ?? 0).padStart(DURATION_WIDTH);
  const line = `${indent(depth)}${mark} ${event.step.padEnd(STEP_NAME_WIDTH)}${duration}`;
  if (!event.detail) return line;
  if (phase === "end") return `${line}  ${event.detail}`;
  // A failure's detail is the error, which the caller prints whole at the end: here it says
  // what happened in the line's width, without repeating the step's name.
  const detail = event.detail.startsWith(`${event.step}: `)
    ? event.detail.slice(event.step.length + 2)
    : event.detail;
  const room = LINE_WIDTH - plainLength(line) - 2;
  return `${line}  ${detail.length > room ? `${detail.slice(0, room - 1)}…` : detail}`;
}

/** A failed step's line is cut to this width; the whole error follows on its own. */
export const LINE_WIDTH = 100;

/** The length of `text` without colour codes. */
function plainLength(text: string): number {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "").length;
}

/**
 * The live line of a running step: spinner, name, wall-clock time so far.
 *
 * @param step The step's name.
 * @param elapsedMs Real time since it started.
 * @param frame Which spinner frame (any whole number).
 * @param depth How many steps run around it.
 * @returns The line, without a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRunningLine } from "./_boot_view.ts";
 * assert.equal(formatRunningLine("booter-load", 1234, 0), "  ⠋ booter-load                1.2 s");
 * ```
 */
export function formatRunningLine(
  step: string,
  elapsedMs: number,
  frame: number,
  depth = 0,
): string {
  const spinner = SPINNER[frame % SPINNER.length];
  const duration = formatDuration(elapsedMs).padStart(DURATION_WIDTH);
  return `${indent(depth)}${spinner} ${step.padEnd(STEP_NAME_WIDTH)}${duration}`;
}

function indent(depth: number): string {
  return "  ".repeat(depth + 1);
}

/**
 * The finished steps of a recorded event sequence, as `--json` lists them
 * (`start` events are dropped; a `fail` is marked).
 *
 * @param events The events in the order they came.
 * @returns One record per finished step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stepRecords } from "./_boot_view.ts";
 * assert.deepEqual(stepRecords([
 *   { step: "gfw-boot", phase: "start" },
 *   { step: "gfw-boot", phase: "end", ms: 1.25 },
 *   { step: "vbios", phase: "start" },
 *   { step: "vbios", phase: "fail", ms: 3 },
 * ]), [{ name: "gfw-boot", ms: 1.3 }, { name: "vbios", ms: 3, failed: true }]);
 * ```
 */
export function stepRecords(events: readonly StepEvent[]): StepRecord[] {
  return events.filter((e) => e.phase !== "start").map(stepRecord);
}

function stepRecord(event: StepEvent): StepRecord {
  return {
    name: event.step,
    ms: Math.round((event.ms ?? 0) * 10) / 10,
    ...(event.phase === "fail" ? { failed: true as const } : {}),
    ...(event.detail ? { detail: event.detail } : {}),
  };
}

/** Where and how a {@linkcode StepView} prints. */
export interface StepViewOptions {
  /**
   * Draw a live line for the running step (a terminal). Without it, only
   * finished steps print, one line each.
   */
  live?: boolean;
  /** Colour the marks (default: `live` and no `NO_COLOR`). */
  colour?: boolean;
  /** Print nothing, only record (for `--json`). */
  quiet?: boolean;
  /** Where text goes (default: stdout). */
  write?: (text: string) => void;
  /** The terminal's width for the live line (default: asked of stdout). */
  columns?: () => number | undefined;
}

/**
 * Shows step events as they come and records the finished steps.
 *
 * @example A recorded sequence, not on a terminal
 * ```ts
 * import assert from "node:assert/strict";
 * import { StepView } from "./_boot_view.ts";
 * let out = "";
 * {
 *   using view = new StepView({ live: false, write: (t) => out += t });
 *   view.onStep({ step: "gfw-boot", phase: "start" });
 *   view.onStep({ step: "gfw-boot", phase: "end", ms: 4 });
 *   assert.deepEqual(view.steps, [{ name: "gfw-boot", ms: 4 }]);
 * }
 * assert.equal(out, "  ✓ gfw-boot                    4 ms\n");
 * ```
 *
 * @example A failure, and the unwinding after it
 * ```ts
 * import assert from "node:assert/strict";
 * import { StepView } from "./_boot_view.ts";
 * let out = "";
 * using view = new StepView({ write: (t) => out += t });
 * for (const [step, phase] of [["booter-load", "fail"], ["fwsec-sb", "end"], ["booter-unload", "fail"], ["falcon-reset", "end"]] as const) {
 *   view.onStep({ step, phase: "start" });
 *   view.onStep({ step, phase, ms: 1 });
 * }
 * assert.deepEqual(out.split("\n").map((l) => l.split(/ +/).slice(0, 3).join(" ")), [
 *   " ✗ booter-load",
 *   "unwinding:",
 *   " ✓ fwsec-sb",
 *   " ✗ booter-unload",
 *   " ✓ falcon-reset",
 *   "",
 * ]);
 * ```
 *
 * @example The same on a terminal: a live line, erased and replaced by the finished one
 * ```ts
 * import assert from "node:assert/strict";
 * import { StepView } from "./_boot_view.ts";
 * let out = "";
 * {
 *   using view = new StepView({ live: true, colour: false, write: (t) => out += t, columns: () => 60 });
 *   view.onStep({ step: "fwsec-frts", phase: "start" });
 *   view.line("a note");
 *   view.onStep({ step: "fwsec-frts", phase: "end", ms: 111, detail: "WPR2 0x2bfe00000..0x2bff00000 (FRTS)" });
 * }
 * // Shown with the terminal's "erase the line" as ⌫:
 * const shown = out.replaceAll("\r\x1b[2K", "⌫");
 * assert.match(shown, /^⌫  ⠋ fwsec-frts +\d+ ms⌫a note\n⌫  ⠙ fwsec-frts +\d+ ms⌫  ✓ fwsec-frts /);
 * assert(shown.endsWith("⌫  ✓ fwsec-frts                111 ms  WPR2 0x2bfe00000..0x…\n"));
 * ```
 */
export class StepView implements Disposable {
  /** The finished steps so far. */
  readonly steps: StepRecord[] = [];
  readonly #running: { step: string; started: number }[] = [];
  readonly #live: boolean;
  readonly #colour: boolean;
  readonly #quiet: boolean;
  readonly #write: (text: string) => void;
  readonly #columns: () => number | undefined;
  #timer?: ReturnType<typeof setInterval>;
  #frame = 0;
  #drawn = false;
  #failed?: "unannounced" | "announced";

  /** @param options Where and how to print. */
  constructor(options: StepViewOptions = {}) {
    this.#quiet = options.quiet ?? false;
    this.#live = !this.#quiet && (options.live ?? false);
    this.#colour = options.colour ?? (this.#live && !Deno.noColor);
    this.#write = options.write ?? writeStdout;
    this.#columns = options.columns ?? stdoutColumns;
  }

  /** Whether it prints nothing (`--json`): what a person must still see goes to stderr. */
  get quiet(): boolean {
    return this.#quiet;
  }

  /**
   * A view for this process: live when stdout is a terminal, silent with `--json`.
   *
   * @param json Whether `--json` was given.
   * @returns The view.
   */
  static forStdout(json: boolean): StepView {
    return new StepView({ quiet: json, live: !json && Deno.stdout.isTerminal() });
  }

  /** Take one event (pass this as `onStep`). */
  readonly onStep = (event: StepEvent): void => {
    if (event.phase === "start") {
      // The steps after a failure undo what was done: say so once, above the first of them.
      if (this.#failed === "unannounced" && this.#running.length === 0) {
        this.#failed = "announced";
        this.line("unwinding:");
      }
      this.#running.push({ step: event.step, started: performance.now() });
      this.#redraw();
      return;
    }
    const at = this.#running.findLastIndex((r) => r.step === event.step);
    const depth = at < 0 ? this.#running.length : at;
    if (at >= 0) this.#running.splice(at, 1);
    this.steps.push(stepRecord(event));
    if (event.phase === "fail" && this.#failed === undefined) this.#failed = "unannounced";
    this.#clear();
    if (!this.#quiet) this.#write(`${this.#fit(formatStepLine(event, depth, this.#colour))}\n`);
    this.#redraw();
  };

  /**
   * Print a line of text (a heading, a summary) between the steps, keeping
   * the live line below it.
   *
   * @param text The line, without a newline.
   */
  line(text: string): void {
    if (this.#quiet) return;
    this.#clear();
    this.#write(`${text}\n`);
    this.#redraw();
  }

  /** Stop the live line and erase it (steps still running are abandoned). */
  [Symbol.dispose](): void {
    this.#running.length = 0;
    this.#stopTimer();
    this.#clear();
  }

  // On a terminal, a step's line is cut to its width rather than wrapped into the next line.
  #fit(line: string): string {
    const columns = this.#live ? this.#columns() : undefined;
    if (columns === undefined || plainLength(line) < columns) return line;
    const cut = line.length - plainLength(line) + columns - 2;
    return `${line.slice(0, cut)}…`;
  }

  #redraw(): void {
    if (!this.#live) return;
    if (this.#running.length === 0) {
      this.#stopTimer();
      return;
    }
    this.#timer ??= setInterval(() => this.#draw(), REDRAW_MS);
    this.#draw();
  }

  #draw(): void {
    const current = this.#running.at(-1);
    if (!current) return;
    const text = formatRunningLine(
      current.step,
      performance.now() - current.started,
      this.#frame++,
      this.#running.length - 1,
    );
    // A line wider than the terminal would wrap, and `\r` would then redraw only its tail.
    const columns = this.#columns();
    const fits = columns === undefined || text.length < columns;
    this.#write(`${CLEAR_LINE}${fits ? text : text.slice(0, columns - 1)}`);
    this.#drawn = true;
  }

  #clear(): void {
    if (!this.#drawn) return;
    this.#write(CLEAR_LINE);
    this.#drawn = false;
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/** The terminal's width, or undefined when it does not say (script(1)'s pseudo-terminal says 0). */
function stdoutColumns(): number | undefined {
  try {
    const { columns } = Deno.consoleSize();
    return columns > 0 ? columns : undefined;
  } catch {
    return undefined;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * A memory range for people.
 *
 * @param range Start and end (exclusive) in bytes.
 * @returns `0x…..0x… (N MiB)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRange } from "./_boot_view.ts";
 * assert.equal(formatRange({ start: 0x2b7700000, end: 0x2bff00000 }), "0x2b7700000..0x2bff00000 (136 MiB)");
 * ```
 */
export function formatRange(range: { start: number; end: number }): string {
  const mib = (range.end - range.start) / 2 ** 20;
  return `${hex(range.start)}..${hex(range.end)} (${
    Number.isInteger(mib) ? mib : mib.toFixed(1)
  } MiB)`;
}

/**
 * The running GSP's facts, in two lines: the chip, the GPU's name and the
 * boot's time on the device's clock; then WPR2.
 *
 * @param gsp The running GSP.
 * @returns The lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runningLines } from "./_boot_view.ts";
 * assert.deepEqual(
 *   runningLines({
 *     chip: { name: "tu102" },
 *     staticInfo: { boardName: "NVIDIA GeForce RTX 2080 Ti" },
 *     wpr2: { start: 0x2b7700000, end: 0x2bff00000 },
 *     steps: [{ ms: 111 }, { ms: 1200 }],
 *   }),
 *   [
 *     'GSP-RM is running on tu102: "NVIDIA GeForce RTX 2080 Ti" (booted in 1.3 s)',
 *     "  WPR2 0x2b7700000..0x2bff00000 (136 MiB)",
 *   ],
 * );
 * ```
 */
export function runningLines(
  gsp: {
    chip: { name: string };
    staticInfo: { boardName: string };
    wpr2: { start: number; end: number };
    steps: readonly { ms: number }[];
  },
): string[] {
  const total = gsp.steps.reduce((sum, s) => sum + s.ms, 0);
  return [
    `GSP-RM is running on ${gsp.chip.name}: "${gsp.staticInfo.boardName}" (booted in ${
      formatDuration(total)
    })`,
    `  WPR2 ${formatRange(gsp.wpr2)}`,
  ];
}

/**
 * The device-clock time of a view's steps from `first` on.
 *
 * @param view The view.
 * @param first The index of the first step to count.
 * @returns Milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { msSince, StepView } from "./_boot_view.ts";
 * using view = new StepView({ quiet: true });
 * view.onStep({ step: "fwsec-sb", phase: "end", ms: 111 });
 * view.onStep({ step: "booter-unload", phase: "end", ms: 36 });
 * assert.equal(msSince(view, 0), 147);
 * ```
 */
export function msSince(view: StepView, first: number): number {
  return view.steps.slice(first).reduce((sum, s) => sum + s.ms, 0);
}

/**
 * The residue as lines for people: one per leftover, a block's many
 * leftovers (DMA mappings) folded into one line.
 *
 * @param residue What the simulated GPU holds.
 * @param kept Whether the GSP was kept running, so that leftovers are expected.
 * @returns The lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { residueLines } from "./_boot_view.ts";
 * assert.deepEqual(residueLines([], false), ["residue: none (the simulated GPU is clean)"]);
 * const dma = (iova: number) => ({ block: "DMA", what: `live DMA mapping at IOVA 0x${iova}` });
 * assert.deepEqual(residueLines([{ block: "PFB", what: "WPR2 is set" }, dma(1), dma(2), dma(3)], true), [
 *   "residue (expected: the GSP was kept running):",
 *   "  PFB: WPR2 is set",
 *   "  DMA: live DMA mapping at IOVA 0x1, and 2 more like it",
 * ]);
 * ```
 */
export function residueLines(residue: readonly { block: string; what: string }[], kept: boolean) {
  if (residue.length === 0) return ["residue: none (the simulated GPU is clean)"];
  const byBlock = Map.groupBy(residue, (r) => r.block);
  return [
    `residue${kept ? " (expected: the GSP was kept running)" : ""}:`,
    ...[...byBlock].flatMap(([block, items]) =>
      items.length > 2
        ? [`  ${block}: ${items[0].what}, and ${items.length - 1} more like it`]
        : items.map((r) => `  ${block}: ${r.what}`)
    ),
  ];
}

/**
 * Print the residue (a simulated GPU's leftovers); nothing on a real GPU.
 *
 * @param view Where to print.
 * @param residue What the simulated GPU holds, or null for a real GPU.
 * @param kept Whether the GSP was kept running.
 */
export function showResidue(
  view: StepView,
  residue: readonly { block: string; what: string }[] | null,
  kept: boolean,
): void {
  if (residue === null) return;
  for (const line of residueLines(residue, kept)) view.line(line);
}

/**
 * The heading of a simulated boot or unload: the chip, the clock, the firmware.
 *
 * @param verb `boot` or `unload`.
 * @param chip The chip's name.
 * @param about Where the firmware, VBIOS and state come from, and whether time is real.
 * @returns The line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simHeading } from "./_boot_view.ts";
 * assert.equal(
 *   simHeading("boot", "tu102", { firmware: "real", vbios: "TU102.rom", state: "/tmp/s.json" }),
 *   "boot tu102: simulated, virtual time, real firmware 570.144, VBIOS TU102.rom, state in /tmp/s.json",
 * );
 * ```
 */
export function simHeading(
  verb: string,
  chip: string,
  about: { firmware: "real" | "forged"; realistic?: boolean; vbios?: string; state?: string },
): string {
  return [
    `${verb} ${chip}: simulated`,
    about.realistic ? "real time" : "virtual time",
    `${about.firmware} firmware ${DEFAULT_FIRMWARE_VERSION}`,
    ...(about.vbios ? [`VBIOS ${about.vbios}`] : []),
    ...(about.state ? [`state in ${about.state}`] : []),
  ].join(", ");
}
