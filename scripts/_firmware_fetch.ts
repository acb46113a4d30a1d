/**
 * The `fetch` subcommand of `firmware.ts`: fetch Debian's
 * `firmware-nvidia-graphics` into falconry's cache and verify it.
 *
 * Each step prints a line with its duration when it ends. On a terminal a
 * live line on stderr shows the step under way, and during the download the
 * bytes so far, the package's size and the rate. With `--json` stdout holds
 * only the final JSON document.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";
import { fetchFirmware } from "../loader/fetch.ts";
import { describeProgress, type FetchProgress, type FetchStep } from "../loader/fetch_progress.ts";
import { removeLeftoverWorkDirs } from "../loader/fetch_work_dir.ts";
import { cacheDir, cacheFirmwareDir } from "../loader/firmware_dirs.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { checkFirmwareTree } from "../loader/verify.ts";
import { type Command, formatDuration, type ParsedArgs, printJson } from "./_cli.ts";

const log = getLogger(["falconry", "scripts", "firmware", "fetch"]);

/** `firmware.ts fetch`. */
export const FETCH: Command = {
  summary: `fetch ${FIRMWARE_MANIFEST.package} from Debian into falconry's cache`,
  description: `
Downloads ${FIRMWARE_MANIFEST.package} (suite ${FIRMWARE_MANIFEST.suite}, component ${FIRMWARE_MANIFEST.component})
with apt-get through a private sources list built from the Debian mirror that
/etc/apt already names, extracts nvidia/<chip>/gsp/* with its links into
$XDG_CACHE_HOME/falconry/firmware (default ~/.cache/falconry/firmware), and
checks every file against the sha256 manifest (package ${FIRMWARE_MANIFEST.version}).

One fetch runs at a time per cache: a second one waits for the first and
then uses its result. An interrupted fetch (Ctrl-C, SIGTERM) removes its
temporary files, and any fetch removes those of fetches that were killed.
On a terminal, a live line on stderr shows the step, the bytes downloaded
and the rate; with --json, stdout holds only the final JSON document.`,
  options: {
    "if-missing": {
      type: "boolean",
      description: "do nothing when the cache already matches the manifest",
    },
    "best-effort": {
      type: "boolean",
      description: "on failure (no apt-get, offline, no Debian source) warn and exit 0; " +
        "FALCONRY_REQUIRE_REAL_FIRMWARE=1 makes it exit 1",
    },
  },
  run: runFetch,
};

async function runFetch(args: ParsedArgs): Promise<number> {
  const json = args.json;
  const cache = cacheDir();
  const firmwareDir = cacheFirmwareDir();
  const ifMissing = args.flag("if-missing");
  // Leftovers of killed fetches go on every run, the quick --if-missing included.
  await removeLeftoverWorkDirs(cache);
  if (ifMissing) {
    const started = performance.now();
    const report = await checkFirmwareTree(firmwareDir);
    const ms = performance.now() - started;
    if (report.ok) {
      if (json) printJson({ action: "skipped", firmwareDir, version: FIRMWARE_MANIFEST.version });
      else {
        console.log(
          `${firmwareDir} matches manifest ${FIRMWARE_MANIFEST.version} (${report.files.length} ` +
            `files, ${report.links.length} links; checked in ${
              formatDuration(ms)
            }): nothing to fetch`,
        );
      }
      return 0;
    }
    const bad = [...report.files, ...report.links].filter((e) => e.status !== "match");
    log.info("cache {dir} incomplete: {count} entries missing or different", {
      dir: firmwareDir,
      count: bad.length,
    });
    if (!json) console.log(`${firmwareDir}: ${bad.length} files or links missing or different`);
  }
  // The status lines go where the document is not: stdout for people, stderr with --json.
  const say = json ? console.error : console.log;
  using line = ProgressLine.onTerminal();
  const onStep = (s: FetchStep) => {
    line?.clear();
    if (!json) console.log(`${s.step.padEnd(9)}${s.message} (${formatDuration(s.durationMs)})`);
  };
  const onProgress = (p: FetchProgress) => {
    if (p.step === "wait" && p.message) {
      line?.clear();
      say(`${p.step.padEnd(9)}${p.message}`);
    }
    line?.show(p);
  };
  try {
    const result = await fetchFirmware({ cacheDir: cache, ifMissing, onStep, onProgress });
    line?.clear();
    if (json) printJson(result);
    else if (result.action === "reused") {
      console.log(
        `${result.firmwareDir} matches manifest ${FIRMWARE_MANIFEST.version}` +
          (result.waitedFor ? ` (fetched by pid ${result.waitedFor})` : "") + ": nothing to fetch",
      );
    } else {
      console.log(
        `fetched ${FIRMWARE_MANIFEST.package} ${result.packageVersion}: ${result.files} files, ` +
          `${result.links} links in ${result.firmwareDir} (${formatDuration(result.durationMs)})`,
      );
    }
    return 0;
  } catch (e) {
    line?.clear();
    const required = Deno.env.get("FALCONRY_REQUIRE_REAL_FIRMWARE") === "1";
    if (!(e instanceof FalconryError) || !args.flag("best-effort") || required) throw e;
    log.warn("firmware fetch failed; going on without real firmware (--best-effort): {message}", {
      message: e.message,
    });
    if (json) printJson({ action: "failed", error: e.message });
    return 0;
  }
}

const CLEAR_LINE = "\r\x1b[2K";
const REDRAW_MS = 250;

/**
 * One line on a terminal's stderr, redrawn in place: the step under way
 * and its progress, with the time in the step counting up between reports.
 */
class ProgressLine implements Disposable {
  #last?: { progress: FetchProgress; at: number };
  #timer: ReturnType<typeof setInterval>;
  #encoder = new TextEncoder();
  #drawn = false;

  private constructor() {
    this.#timer = setInterval(() => this.#draw(), REDRAW_MS);
  }

  /** A progress line when stderr is a terminal, else undefined. */
  static onTerminal(): ProgressLine | undefined {
    return Deno.stderr.isTerminal() ? new ProgressLine() : undefined;
  }

  show(progress: FetchProgress): void {
    this.#last = { progress, at: performance.now() };
    this.#draw();
  }

  /** Erase the line (before a finished step's line is printed) until the next report. */
  clear(): void {
    this.#last = undefined;
    if (this.#drawn) this.#write(CLEAR_LINE);
    this.#drawn = false;
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
    this.clear();
  }

  #draw(): void {
    if (!this.#last) return;
    const { progress, at } = this.#last;
    const text = describeProgress({
      ...progress,
      elapsedMs: progress.elapsedMs + performance.now() - at,
    });
    // A line wider than the terminal would wrap, and `\r` would then redraw only its tail.
    const columns = consoleColumns();
    const fits = columns === undefined || text.length < columns;
    this.#write(`${CLEAR_LINE}${fits ? text : text.slice(0, columns - 1)}`);
    this.#drawn = true;
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    for (let done = 0; done < bytes.length;) done += Deno.stderr.writeSync(bytes.subarray(done));
  }
}

/** The terminal's width, or undefined when it does not say (a pseudo-terminal of script(1) says 0). */
function consoleColumns(): number | undefined {
  try {
    const { columns } = Deno.consoleSize();
    return columns > 0 ? columns : undefined;
  } catch {
    return undefined;
  }
}
