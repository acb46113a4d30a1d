/**
 * `firmware.ts`: the GSP firmware supply.
 *
 * - `fetch`: fetch Debian's `firmware-nvidia-graphics` through apt into
 *   falconry's cache and check it against the sha256 manifest.
 * - `check`: for each chip and firmware version, whether every file its boot
 *   needs is present, where, and whether it matches the manifest.
 * - `inspect`: detect the kind of each file and print every header field.
 *
 * Commands are a table: adding one is adding an entry to `COMMANDS`.
 *
 * @example
 * ```sh
 * deno run -A scripts/firmware.ts fetch --if-missing
 * deno run -A scripts/firmware.ts check --chip tu102 --json
 * deno run -A scripts/firmware.ts inspect --json ~/.cache/falconry/firmware/nvidia/ga102/gsp/*.bin
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError, FirmwareFormatError, FirmwareNotFoundError } from "../errors.ts";
import { describeFirmware } from "../firmware/describe.ts";
import { detectFirmwareKind, type FirmwareKind } from "../firmware/detect.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { printFields } from "./_print_fields.ts";
import { type ChipInfo, CHIPS } from "../chips/chips.ts";
import { FIRMWARE_VERSIONS } from "../chips/firmware_files.ts";
import { FETCH } from "./_firmware_fetch.ts";
import {
  type LocatedFile,
  type LocatedFirmware,
  locateFirmware,
  resolveChip,
  versionsForChip,
} from "../loader/locate.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import type { HashCache } from "../loader/verify.ts";
import {
  type Command,
  type CommandTable,
  type ParsedArgs,
  printJson,
  requirePath,
  runCommandTable,
  runMain,
  UsageError,
} from "./_cli.ts";

const log = getLogger(["falconry", "scripts", "firmware"]);

const CHECK: Command = {
  summary: "check which chips have every firmware file their boot needs",
  description: `
For each chip (every chip by default) and firmware version (every version
linux-firmware has for it by default): whether every file its boot needs is
present, where it was found (search order: --firmware DIR,
FALCONRY_FIRMWARE_DIR, falconry's cache, /lib/firmware), and whether its sha256
matches the manifest. Missing files are listed with every place looked.
Exits 1 when a required file is missing or differs from the manifest.`,
  options: {
    chip: {
      type: "string",
      valueName: "CHIP",
      description: "check only this chip (tu102, ga102…)",
    },
    version: {
      type: "string",
      valueName: "V",
      description: `check only this firmware version (${FIRMWARE_VERSIONS.join(", ")})`,
    },
    firmware: { type: "string", valueName: "DIR", description: "a firmware root searched first" },
  },
  run: runCheck,
};

async function runCheck(args: ParsedArgs): Promise<number> {
  const chipName = args.string("chip");
  const version = args.string("version");
  if (version !== undefined && !FIRMWARE_VERSIONS.includes(version)) {
    throw new UsageError(
      `--version ${version}: falconry knows ${FIRMWARE_VERSIONS.join(", ")}`,
    );
  }
  const chips = chipName === undefined ? CHIPS : [chipOption(chipName)];
  const dir = args.string("firmware");
  if (dir !== undefined) requirePath(dir, "directory", "--firmware");
  const sets = chips.flatMap((chip) =>
    (version === undefined ? versionsForChip(chip) : [version])
      .filter((v) => chipName !== undefined || versionsForChip(chip).includes(v))
      .map((v) => ({ chip, version: v }))
  );
  const hashCache: HashCache = new Map();
  const results: LocatedFirmware[] = [];
  for (const set of sets) {
    results.push(await locateFirmware({ ...set, dir, hashCache }));
  }
  const ok = results.every((r) => r.ok);
  if (args.json) printJson(checkReport(results, ok));
  else printCheck(results);
  return ok ? 0 : 1;
}

/** `--chip NAME`: an unknown name is a bad value, hence a usage error. */
function chipOption(name: string): ChipInfo {
  try {
    return resolveChip(name);
  } catch (e) {
    if (e instanceof FalconryError) throw new UsageError(`--chip ${name}: ${e.message}`);
    throw e;
  }
}

function checkReport(results: readonly LocatedFirmware[], ok: boolean): unknown {
  const problems = (status: LocatedFile["status"]) =>
    results.flatMap((r) =>
      r.files.filter((f) => f.status === status && (f.file.required || status === "mismatch"))
        .map((f) => ({
          chip: r.chip.name,
          version: r.version,
          path: f.file.path,
          found: f.found,
          sha256: f.sha256,
          expectedSha256: f.expectedSha256,
          searched: f.searched,
        }))
    );
  return {
    ok,
    manifest: { package: FIRMWARE_MANIFEST.package, version: FIRMWARE_MANIFEST.version },
    searchOrder: results[0]?.dirs ?? [],
    sets: results.map((r) => ({
      chip: r.chip.name,
      version: r.version,
      ok: r.ok,
      files: r.files.map((f) => ({
        name: f.file.name,
        path: f.file.path,
        required: f.file.required,
        status: f.status,
        found: f.found ?? null,
        root: f.root ?? null,
        size: f.size ?? null,
        sha256: f.sha256 ?? null,
        expectedSha256: f.expectedSha256 ?? null,
        searched: f.searched,
      })),
    })),
    missing: problems("missing"),
    mismatched: problems("mismatch"),
  };
}

function printCheck(results: readonly LocatedFirmware[]): void {
  const dirs = results[0]?.dirs ?? [];
  console.log(`search order: ${dirs.map((d) => `${d.dir} [${d.source}]`).join(", ")}`);
  for (const r of results) {
    const missing = r.files.filter((f) => f.status === "missing" && f.file.required).length;
    const mismatched = r.files.filter((f) => f.status === "mismatch").length;
    const verdict = r.ok ? "ok" : `FAILED (${missing} missing, ${mismatched} mismatched)`;
    console.log(`${r.chip.name} ${r.version}: ${verdict}`);
    const width = Math.max(...r.files.map((f) => f.file.name.length)) + 2;
    for (const f of r.files) {
      // Paths relative to the search order's folders, to fit a terminal; --json has them whole.
      const where = f.found
        ? f.root && f.found === `${f.root.dir}/${f.file.path}`
          ? `[${f.root.source}] ${f.file.path}`
          : f.found
        : `${f.file.required ? "" : "(optional) "}searched: ${r.dirs.map((d) => d.dir).join(", ")}`;
      const problem = f.status === "mismatch" || (f.status === "missing" && f.file.required);
      const status = problem ? f.status.toUpperCase() : f.status;
      console.log(`  ${f.file.name.padEnd(width)}${status.padEnd(10)}${where}`);
    }
  }
  const good = results.filter((r) => r.ok).length;
  console.log(
    `${good} of ${results.length} chip firmware sets complete and matching manifest ` +
      FIRMWARE_MANIFEST.version,
  );
}

const INSPECT: Command = {
  summary: "detect the kind of each file and print its structure",
  usage: "FILE… [--json]",
  allowPositionals: true,
  description: `
Detects each file's kind (booter, riscv-bootloader, gen-bootloader, gsp-image,
fmc, tlv, vbios, or other for a file that is not a GSP boot blob) from its
content and name and prints every header field. With --json, prints JSON
Lines: one JSON object per file and line, {file, kind, …fields} or {file,
kind, error: {field, offset, reason}}. Never stops at a bad file; exits 1
when any file failed.`,
  options: {
    json: {
      type: "boolean",
      description: "print JSON Lines: one object per file and line, failures included",
    },
  },
  run: runInspect,
};

/** A file that could not be read or parsed, as printed with --json. */
type InspectFailure = {
  file: string;
  /** What the file was detected as before parsing failed, if anything. */
  kind: FirmwareKind | null;
  error: { field: string; offset: number; reason: string };
};

/** One file's inspect result, as printed with --json. */
type InspectResult =
  | ({ file: string; kind: string; error?: undefined } & Record<string, unknown>)
  | InspectFailure;

function isFailure(result: InspectResult): result is InspectFailure {
  return result.error !== undefined;
}

function inspectOne(path: string): InspectResult {
  try {
    using source = fileSource(path);
    return { file: path, ...describeFirmware(source, path) };
  } catch (e) {
    if (e instanceof FirmwareFormatError) {
      return {
        file: path,
        kind: detectedKind(path),
        error: { field: e.field, offset: e.offset, reason: e.reason },
      };
    }
    if (e instanceof FirmwareNotFoundError || e instanceof Deno.errors.NotFound) {
      return {
        file: path,
        kind: null,
        error: { field: "file", offset: 0, reason: "no such file" },
      };
    }
    // A directory, an unreadable file and the like are bad input too, not a reason to stop.
    if (e instanceof FalconryError || isOsError(e)) {
      return { file: path, kind: null, error: { field: "file", offset: 0, reason: e.message } };
    }
    throw e;
  }
}

// The kind a file that failed to parse was detected as, so the error says
// what it was read as; null when even detection failed.
function detectedKind(path: string): FirmwareKind | null {
  try {
    using source = fileSource(path);
    return detectFirmwareKind(source.read(0, Math.min(source.size, 8)), path);
  } catch {
    return null;
  }
}

function isOsError(e: unknown): e is Error {
  return Object.values(Deno.errors).some((errorClass) => e instanceof errorClass);
}

function runInspect(args: ParsedArgs): number {
  if (args.positionals.length === 0) throw new UsageError("inspect needs at least one FILE");
  let failed = 0;
  for (const path of args.positionals) {
    const result = inspectOne(path);
    if (isFailure(result)) failed++;
    if (args.json) {
      console.log(JSON.stringify(result));
      continue;
    }
    if (isFailure(result)) {
      const { field, offset, reason } = result.error;
      const as = result.kind ? ` (read as ${result.kind})` : "";
      // A problem with the file itself (missing, a folder) has no field or offset to show.
      const where = field === "file" ? "" : `${field} at offset 0x${offset.toString(16)}: `;
      console.log(`${path}: error${as}: ${where}${reason}`);
      continue;
    }
    const { file: _file, kind, ...fields } = result;
    console.log(`${path}: ${kind}`);
    printFields(fields);
  }
  if (failed > 0) {
    log.warn("{failed} of {total} files failed", { failed, total: args.positionals.length });
  }
  return failed > 0 ? 1 : 0;
}

const COMMANDS: CommandTable = { fetch: FETCH, check: CHECK, inspect: INSPECT };

if (import.meta.main) {
  await runMain(() =>
    runCommandTable(
      { name: "firmware.ts", summary: "fetch and check the NVIDIA GSP firmware" },
      COMMANDS,
      Deno.args,
    )
  );
}
