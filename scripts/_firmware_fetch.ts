/**
 * The `fetch` subcommand of `firmware.ts`: fetch Debian's
 * `firmware-nvidia-graphics` into falconry's cache and verify it.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";
import { fetchFirmware, type FetchStep } from "../loader/fetch.ts";
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
checks every file against the sha256 manifest (package ${FIRMWARE_MANIFEST.version}).`,
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
  const firmwareDir = cacheFirmwareDir();
  if (args.flag("if-missing")) {
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
  const onStep = json ? undefined : (s: FetchStep) => {
    console.log(`${s.step.padEnd(9)}${s.message} (${formatDuration(s.durationMs)})`);
  };
  try {
    const result = await fetchFirmware({ cacheDir: cacheDir(), onStep });
    if (json) printJson({ action: "fetched", ...result });
    else {
      console.log(
        `fetched ${FIRMWARE_MANIFEST.package} ${result.packageVersion}: ${result.files} files, ` +
          `${result.links} links in ${result.firmwareDir} (${formatDuration(result.durationMs)})`,
      );
    }
    return 0;
  } catch (e) {
    const required = Deno.env.get("FALCONRY_REQUIRE_REAL_FIRMWARE") === "1";
    if (!(e instanceof FalconryError) || !args.flag("best-effort") || required) throw e;
    log.warn("firmware fetch failed; going on without real firmware (--best-effort): {message}", {
      message: e.message,
    });
    if (json) printJson({ action: "failed", error: e.message });
    return 0;
  }
}
