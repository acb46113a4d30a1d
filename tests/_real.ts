// Shared test helpers: where the real firmware and the real VBIOS are, and how
// tests that need them skip (with the reason in the test name) or, when
// FALCONRY_REQUIRE_REAL_FIRMWARE=1, fail.
//
// Real VBIOS dumps: FALCONRY_TEST_VBIOS names one or more files, separated by
// the OS path-list separator (`:`), so that a user can run the VBIOS tests on
// their own dumps; without it, ../shared/vbios/TU102.rom. Tests that assert
// the TU102 dump's facts run only on that dump (recognised by its sha256,
// wherever it is); the others run on every file.

import { createHash } from "node:crypto";
import { delimiter } from "node:path";
import { firmwareSearchDirs } from "../loader/firmware_dirs.ts";
import { DENO } from "../scripts/_deno_command.ts";

/** Whether CI demands real firmware (a missing file is then a failure). */
export const REQUIRE_REAL = Deno.env.get("FALCONRY_REQUIRE_REAL_FIRMWARE") === "1";

/** The shared folder next to the checkout (`../shared`), holding the real VBIOS. */
export const SHARED_DIR = new URL("../../shared/", import.meta.url).pathname;
export const REAL_VBIOS_PATH = `${SHARED_DIR}vbios/TU102.rom`;

/** Whether `path` exists (a file, a folder, or a link to one). */
export function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The first firmware root that holds `rel` (e.g. `nvidia/tu102/gsp/gsp-570.144.bin`). */
export function findRealFirmware(rel: string): string | undefined {
  for (const { dir } of firmwareSearchDirs()) {
    const p = `${dir}/${rel}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The firmware root that holds the whole real set, if any. */
export function realFirmwareRoot(): string | undefined {
  for (const { dir } of firmwareSearchDirs()) {
    if (existsSync(`${dir}/nvidia/tu102/gsp/booter_load-570.144.bin`)) return dir;
  }
  return undefined;
}

/**
 * Register a test that needs real firmware files. Each `rel` path is resolved
 * through the search order; when one is missing the test is ignored with
 * "skipped: <reason>" in its name, or fails when real firmware is required.
 */
export function realFirmwareTest(
  name: string,
  rels: string[],
  fn: (paths: string[]) => void | Promise<void>,
): void {
  const paths = rels.map(findRealFirmware);
  const missing = rels.filter((_, i) => !paths[i]);
  if (missing.length === 0) {
    Deno.test(name, () => fn(paths as string[]));
    return;
  }
  const listed = missing.length > 3
    ? `${missing.slice(0, 3).join(", ")} and ${missing.length - 3} more`
    : missing.join(", ");
  const reason = `real firmware missing (${listed}); run \`${DENO} task firmware\``;
  if (REQUIRE_REAL) {
    Deno.test(name, () => {
      throw new Error(`FALCONRY_REQUIRE_REAL_FIRMWARE=1 but ${reason}`);
    });
  } else {
    Deno.test({ name: `${name} (skipped: ${reason})`, ignore: true, fn: () => {} });
  }
}

/** The variable naming the user's VBIOS dumps. */
export const VBIOS_ENV = "FALCONRY_TEST_VBIOS";
/** sha256 of the TU102 dump in `../shared/vbios/` (an RTX 2080 Ti, 90.02.17.00.7B). */
export const TU102_VBIOS_SHA256 =
  "12d35e527651e52085f834b7063603d53987785c0e26914e32af0b87d30faf52";

/** One real VBIOS file the tests run on. */
export interface RealVbiosFile {
  /** Its path. */
  path: string;
  /** Whether it is the known TU102 dump (by sha256), whose facts some tests assert. */
  knownTu102: boolean;
}

/** Where the VBIOS tests look, and what they found. */
export interface RealVbiosFiles {
  /** The existing files, in the order named. */
  files: RealVbiosFile[];
  /** Files that FALCONRY_TEST_VBIOS names but that do not exist (a failure, not a skip). */
  missing: string[];
  /** Where the list came from, for skip messages. */
  from: string;
}

const hashes = new Map<string, string>();

// Every test file registering real-VBIOS tests asks again: hash each file once.
function sha256File(path: string): string {
  let hash = hashes.get(path);
  if (hash === undefined) {
    hash = createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
    hashes.set(path, hash);
  }
  return hash;
}

/**
 * The real VBIOS files: those FALCONRY_TEST_VBIOS names (split on the OS
 * path-list separator), else ../shared/vbios/TU102.rom when it exists.
 */
export function realVbiosFiles(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): RealVbiosFiles {
  const named = env(VBIOS_ENV);
  const paths = named === undefined || named === ""
    ? [REAL_VBIOS_PATH]
    : named.split(delimiter).filter((p) => p !== "");
  const files: RealVbiosFile[] = [];
  const missing: string[] = [];
  for (const path of paths) {
    let isFile = false;
    try {
      isFile = Deno.statSync(path).isFile;
    } catch {
      // missing: reported below
    }
    if (isFile) files.push({ path, knownTu102: sha256File(path) === TU102_VBIOS_SHA256 });
    else if (named) missing.push(path);
  }
  return { files, missing, from: named ? `${VBIOS_ENV}=${named}` : REAL_VBIOS_PATH };
}

/** The known TU102 dump: among FALCONRY_TEST_VBIOS's files, else at its default place. */
export function knownTu102Vbios(vbios: RealVbiosFiles = realVbiosFiles()): string | undefined {
  const named = vbios.files.find((f) => f.knownTu102)?.path;
  if (named) return named;
  return existsSync(REAL_VBIOS_PATH) && sha256File(REAL_VBIOS_PATH) === TU102_VBIOS_SHA256
    ? REAL_VBIOS_PATH
    : undefined;
}

/** Options of {@linkcode realVbiosTest}. */
export interface RealVbiosTestOptions {
  /**
   * Run on every real VBIOS file (one test each, the path in its name)
   * instead of only on the known TU102 dump. For tests that assert what
   * holds for any VBIOS.
   */
  anyVbios?: boolean;
}

/**
 * Register a test that needs a real VBIOS. By default it asserts the TU102
 * dump's facts and runs once on that dump (from FALCONRY_TEST_VBIOS or
 * `../shared/vbios/`); with `anyVbios` it runs once per real VBIOS file.
 * Skips say why; with `anyVbios`, a file FALCONRY_TEST_VBIOS names that
 * does not exist fails (once per such test, not once per TU102 test).
 */
export function realVbiosTest(
  name: string,
  fn: (bytes: Uint8Array, file: RealVbiosFile) => void | Promise<void>,
  options: RealVbiosTestOptions = {},
): void {
  const vbios = realVbiosFiles();
  if (options.anyVbios) {
    for (const path of vbios.missing) {
      Deno.test(`${name} (${path})`, () => {
        throw new Error(`${VBIOS_ENV} names ${path}, which is not a file`);
      });
    }
    for (const file of vbios.files) {
      Deno.test(`${name} (${file.path})`, () => fn(Deno.readFileSync(file.path), file));
    }
    if (vbios.files.length === 0 && vbios.missing.length === 0) {
      skip(name, `no real VBIOS at ${REAL_VBIOS_PATH}; set ${VBIOS_ENV}=FILE[:FILE…]`);
    }
    return;
  }
  const tu102 = knownTu102Vbios(vbios);
  if (tu102) {
    Deno.test(name, () => fn(Deno.readFileSync(tu102), { path: tu102, knownTu102: true }));
  } else {
    const where = vbios.from === REAL_VBIOS_PATH
      ? `no real VBIOS at ${REAL_VBIOS_PATH}`
      : `asserts the TU102 dump's facts, and neither ${vbios.from} nor ${REAL_VBIOS_PATH} is ` +
        `that dump (sha256 ${TU102_VBIOS_SHA256.slice(0, 12)}…)`;
    skip(name, where);
  }
}

function skip(name: string, reason: string): void {
  Deno.test({ name: `${name} (skipped: ${reason})`, ignore: true, fn: () => {} });
}
