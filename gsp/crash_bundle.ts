/**
 * The crash bundle on disk: a folder holding what {@linkcode captureCrashEvidence}
 * read when a boot step failed, with one JSON index naming each file.
 *
 * | file               | what                                                                |
 * | ------------------ | ------------------------------------------------------------------- |
 * | `index.json`       | format and version, when, device, chip, the failure, every file     |
 * | `registers.json`   | falcon and RISC-V registers, mailboxes, WPR2, scratch registers     |
 * | `rpc_history.json` | the last RPCs each way and the pending one (`null` before queues)   |
 * | `firmware.json`    | the firmware files' names, paths, sizes and sha256; VBIOS version   |
 * | `logs/<ID>.bin`    | each LibOS log buffer (LOGINIT, LOGINTR, LOGRM…), raw               |
 *
 * {@linkcode writeCrashBundle} writes atomically: every file goes into a
 * temporary folder next to the bundle (`.NAME.partial-XXXX`), each is
 * fsynced, `index.json` is written last, the folder is fsynced and renamed
 * to its name, and the parent is fsynced. A crash while writing leaves only
 * the `.partial` folder, which has no index and is never read as a bundle;
 * the bundle's own path either does not exist or holds a complete bundle.
 * {@linkcode readCrashBundle} checks the index and every file's size and
 * sha256, and refuses a folder that is half written, damaged or not a
 * bundle, saying which.
 *
 * @example Write a bundle from a simulated GPU and read it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { captureCrashEvidence } from "./crash_capture.ts";
 * import { readCrashBundle, writeCrashBundle } from "./crash_bundle.ts";
 *
 * const parent = await Deno.makeTempDir();
 * {
 *   await using gpu = new SimulatedGpu({ chip: "ga102" });
 *   const evidence = await captureCrashEvidence({ device: gpu });
 *   const failure = { step: "booter-load", message: "booter-load: SEC2 MAILBOX0 0x8", errorName: "GspBootError", stepMs: 3, completedSteps: [] };
 *   await writeCrashBundle(`${parent}/crash`, { failure, device: gpu.info, evidence });
 * }
 * const bundle = await readCrashBundle(`${parent}/crash`);
 * assert.equal(bundle.index.failure.step, "booter-load");
 * assert.equal(bundle.index.chip?.name, "ga102");
 * assert.equal(bundle.registers.wpr2.status, "not-set");
 * assert.deepEqual([...Deno.readDirSync(parent)].map((e) => e.name), ["crash"]); // no .partial left
 * await Deno.remove(parent, { recursive: true });
 * ```
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";
import { cacheDir } from "../loader/firmware_dirs.ts";
import type { DeviceInfo } from "../pci/device.ts";
import type { CapturedFirmware, CapturedRegisters, CrashEvidence } from "./crash_capture.ts";
import type { RpcHistorySnapshot } from "./rpc_history.ts";

const log = getLogger(["falconry", "gsp", "crash_bundle"]);

/** `index.json`'s `format`: what tells a bundle from any other folder. */
export const CRASH_BUNDLE_FORMAT = "falconry-crash-bundle";
/** The layout version this code writes and reads. */
export const CRASH_BUNDLE_VERSION = 1;
/** The index's file name. */
export const CRASH_INDEX_FILE = "index.json";
/** What the temporary folder's name holds (`.NAME.partial-XXXX`). */
export const CRASH_PARTIAL_MARK = ".partial-";

/** The step that failed and its error, as the bundle records it. */
export interface CrashFailure {
  /** The step (`booter-load`). */
  readonly step: string;
  /** The error's message when it was thrown (before any unwinding). */
  readonly message: string;
  /** The hardware's code, when the step read one. */
  readonly code?: number;
  /** The error's class, and its cause's (`GspBootError ← GspReceiveTimeoutError`). */
  readonly errorName: string;
  /** How long the failed step ran (device clock, ms). */
  readonly stepMs: number;
  /** The steps that finished before it. */
  readonly completedSteps: readonly { readonly step: string; readonly ms: number }[];
}

/** What {@linkcode writeCrashBundle} writes. */
export interface CrashBundleInput {
  /** The failure. */
  readonly failure: CrashFailure;
  /** The device. */
  readonly device: Pick<DeviceInfo, "bdf" | "vendor" | "device">;
  /** What was captured. */
  readonly evidence: CrashEvidence;
  /** Wall-clock time of the failure; default now. */
  readonly createdAt?: Date;
}

/** What a file of the bundle holds. */
export type CrashFileKind = "registers" | "rpc-history" | "firmware" | "log";

/** One file, as the index names it. */
export interface CrashIndexFile {
  /** Path inside the bundle (`logs/LOGRM.bin`). */
  readonly name: string;
  /** What it holds. */
  readonly kind: CrashFileKind;
  /** Its length. */
  readonly bytes: number;
  /** Lower-case hex sha256. */
  readonly sha256: string;
  /** For a log: its LibOS region id. */
  readonly id?: string;
  /** For a log: GSP-RM's put pointer (u64 words written), decimal. */
  readonly put?: string;
}

/** `index.json`. */
export interface CrashIndex {
  /** {@linkcode CRASH_BUNDLE_FORMAT}. */
  readonly format: typeof CRASH_BUNDLE_FORMAT;
  /** {@linkcode CRASH_BUNDLE_VERSION}. */
  readonly version: number;
  /** Wall-clock time of the failure, ISO 8601. */
  readonly createdAt: string;
  /** The device's clock at the capture (ms). */
  readonly deviceClockMs: number;
  /** The device. */
  readonly device: { readonly bdf: string; readonly vendor: number; readonly device: number };
  /** The chip, or null when it could not be identified. */
  readonly chip: { readonly name: string; readonly arch: string; readonly family: string } | null;
  /** The step that failed, and its error. */
  readonly failure: CrashFailure;
  /** Every other file of the bundle. */
  readonly files: readonly CrashIndexFile[];
}

/** `rpc_history.json`. */
export interface CrashRpcHistoryFile {
  /** The history, or null when the boot failed before the queues existed. */
  readonly history: RpcHistorySnapshot | null;
  /** Why it is null. */
  readonly note?: string;
}

/** A bundle read back. */
export interface CrashBundle {
  /** Its folder. */
  readonly path: string;
  /** The index. */
  readonly index: CrashIndex;
  /** `registers.json`. */
  readonly registers: CapturedRegisters;
  /** `rpc_history.json`. */
  readonly rpcHistory: CrashRpcHistoryFile;
  /** `firmware.json`. */
  readonly firmware: CapturedFirmware;
  /** The log files: id, size, put pointer (their bytes stay on disk). */
  readonly logs: readonly {
    readonly id: string;
    readonly name: string;
    readonly bytes: number;
    readonly put: bigint;
  }[];
}

/**
 * A folder that is not a complete crash bundle, or a bundle that cannot be
 * written there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CrashBundleError } from "./crash_bundle.ts";
 * const e = new CrashBundleError("/tmp/x", "it has no index.json");
 * assert.equal(e.message, "/tmp/x: it has no index.json");
 * ```
 */
export class CrashBundleError extends FalconryError {
  /**
   * Construct it.
   *
   * @param path The folder.
   * @param problem What is wrong, as a sentence that says what to do when there is something to do.
   * @param file The file inside it, when one is at fault.
   */
  constructor(readonly path: string, readonly problem: string, readonly file?: string) {
    super(`${path}: ${problem}`);
  }
}

const encoder = new TextEncoder();

const json = (value: unknown): Uint8Array =>
  encoder.encode(
    JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v, 2) + "\n",
  );

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One file to write, with its index entry. */
interface PlannedFile {
  readonly entry: Omit<CrashIndexFile, "bytes" | "sha256">;
  readonly bytes: Uint8Array;
}

function plan(input: CrashBundleInput): PlannedFile[] {
  const { evidence } = input;
  const history: CrashRpcHistoryFile = evidence.rpcHistory
    ? { history: evidence.rpcHistory }
    : { history: null, note: "the boot failed before the RPC queues existed" };
  return [
    { entry: { name: "registers.json", kind: "registers" }, bytes: json(evidence.registers) },
    { entry: { name: "rpc_history.json", kind: "rpc-history" }, bytes: json(history) },
    { entry: { name: "firmware.json", kind: "firmware" }, bytes: json(evidence.firmware) },
    ...evidence.logs.map((l) => ({
      entry: { name: `logs/${l.id}.bin`, kind: "log" as const, id: l.id, put: l.put.toString() },
      bytes: l.bytes,
    })),
  ];
}

/** Write `bytes` to a new file and flush it to the disk before returning. */
async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
  await file.sync();
}

async function syncDir(path: string): Promise<void> {
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}

const NOT_A_FOLDER = "it exists and is not a folder; choose another crash folder";
const NOT_EMPTY = "it exists and is not empty (an earlier bundle?); choose another crash folder";

/** Where the bundle may not go: an existing file, or a folder that is not empty. */
async function checkTarget(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!info.isDirectory) throw new CrashBundleError(path, NOT_A_FOLDER);
  for await (const _ of Deno.readDir(path)) throw new CrashBundleError(path, NOT_EMPTY);
}

/**
 * Why a crash bundle cannot be written at `path`, for a CLI to check its
 * `--crash-dir` before booting; undefined when it can (it does not exist, or
 * is an empty folder).
 *
 * @param path The bundle's folder.
 * @returns The problem as a sentence, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crashDirProblem } from "./crash_bundle.ts";
 * const dir = await Deno.makeTempDir();
 * assert.equal(crashDirProblem(`${dir}/new`), undefined);
 * assert.equal(crashDirProblem(dir), undefined); // empty
 * await Deno.writeTextFile(`${dir}/x`, "");
 * assert.match(crashDirProblem(dir)!, /not empty/);
 * assert.match(crashDirProblem(`${dir}/x`)!, /not a folder/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function crashDirProblem(path: string): string | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    return e instanceof Error ? e.message : String(e);
  }
  if (!info.isDirectory) return NOT_A_FOLDER;
  for (const _ of Deno.readDirSync(path)) return NOT_EMPTY;
  return undefined;
}

/** Options of {@linkcode writeCrashBundle}. */
export interface WriteCrashBundleOptions {
  /**
   * Called after each file is written and flushed, with its name inside the
   * bundle, before the next one (progress; `index.json` comes last). What it
   * throws stops the write as a failing disk would: nothing is renamed.
   */
  readonly onFileWritten?: (name: string) => void | Promise<void>;
}

/**
 * Write a crash bundle atomically (see the module documentation).
 *
 * @param path The bundle's folder; it must not exist, or be empty. Its parents are created.
 * @param input The failure, the device and the evidence.
 * @param options Progress.
 * @returns The bundle's absolute path.
 * @throws {CrashBundleError} When `path` is a file or a folder that is not empty.
 * @throws {Deno.errors.NotCapable} Or any OS error writing; the temporary folder is then removed.
 */
export async function writeCrashBundle(
  path: string,
  input: CrashBundleInput,
  options: WriteCrashBundleOptions = {},
): Promise<string> {
  const target = resolve(path);
  await checkTarget(target);
  const parent = dirname(target);
  await Deno.mkdir(parent, { recursive: true });
  const partial = await Deno.makeTempDir({
    dir: parent,
    prefix: `.${basename(target)}${CRASH_PARTIAL_MARK}`,
  });
  try {
    const files: CrashIndexFile[] = [];
    for (const { entry, bytes } of plan(input)) {
      if (entry.name.includes("/")) {
        await Deno.mkdir(`${partial}/${dirname(entry.name)}`, { recursive: true });
      }
      await writeSynced(`${partial}/${entry.name}`, bytes);
      files.push({ ...entry, bytes: bytes.length, sha256: await sha256(bytes) });
      await options.onFileWritten?.(entry.name);
    }
    const { evidence, device } = input;
    const index: CrashIndex = {
      format: CRASH_BUNDLE_FORMAT,
      version: CRASH_BUNDLE_VERSION,
      createdAt: (input.createdAt ?? new Date()).toISOString(),
      deviceClockMs: evidence.deviceClockMs,
      device: { bdf: device.bdf, vendor: device.vendor, device: device.device },
      chip: evidence.chip
        ? { name: evidence.chip.name, arch: evidence.chip.arch, family: evidence.chip.family }
        : null,
      failure: input.failure,
      files,
    };
    for (const sub of new Set(files.map((f) => dirname(f.name)).filter((d) => d !== "."))) {
      await syncDir(`${partial}/${sub}`);
    }
    await writeSynced(`${partial}/${CRASH_INDEX_FILE}`, json(index));
    await options.onFileWritten?.(CRASH_INDEX_FILE);
    await syncDir(partial);
    await Deno.rename(partial, target);
  } catch (e) {
    await Deno.remove(partial, { recursive: true }).catch((cleanup) => {
      log.warn("cannot remove the partial crash bundle {path}: {error}", {
        path: partial,
        error: String(cleanup),
      });
    });
    if (e instanceof Error && /not empty/i.test(e.message)) {
      throw new CrashBundleError(
        target,
        "it appeared while the bundle was written and is not empty; choose another crash folder",
      );
    }
    throw e;
  }
  await syncDir(parent);
  log.info("crash bundle written to {path}", { path: target });
  return target;
}

// -------------------------------------------------------------------------------------------------
// Reading

async function readBytes(bundle: string, name: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(`${bundle}/${name}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CrashBundleError(
        bundle,
        `${name} is missing: the bundle is incomplete or was altered`,
        name,
      );
    }
    throw e;
  }
}

function parseJson<T>(bundle: string, name: string, bytes: Uint8Array): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new CrashBundleError(
      bundle,
      `${name} is not valid JSON (${e instanceof Error ? e.message : e})`,
      name,
    );
  }
}

async function readIndex(bundle: string): Promise<CrashIndex> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(bundle);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CrashBundleError(bundle, "no such folder");
    }
    throw e;
  }
  if (!info.isDirectory) throw new CrashBundleError(bundle, "not a folder");
  if (basename(bundle).includes(CRASH_PARTIAL_MARK)) {
    throw new CrashBundleError(
      bundle,
      "a crash bundle whose write did not finish (it was never renamed into place); it may be " +
        "incomplete and can be deleted",
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${bundle}/${CRASH_INDEX_FILE}`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new CrashBundleError(
      bundle,
      `not a crash bundle: it has no ${CRASH_INDEX_FILE} (a bundle is complete only once its ` +
        "index is written)",
      CRASH_INDEX_FILE,
    );
  }
  const index = parseJson<Partial<CrashIndex>>(bundle, CRASH_INDEX_FILE, bytes);
  if (index?.format !== CRASH_BUNDLE_FORMAT) {
    throw new CrashBundleError(
      bundle,
      `not a falconry crash bundle: ${CRASH_INDEX_FILE} has format ${
        JSON.stringify(index?.format ?? null)
      }, not "${CRASH_BUNDLE_FORMAT}"`,
      CRASH_INDEX_FILE,
    );
  }
  if (index.version !== CRASH_BUNDLE_VERSION) {
    throw new CrashBundleError(
      bundle,
      `crash bundle version ${index.version}; this falconry reads version ${CRASH_BUNDLE_VERSION}`,
      CRASH_INDEX_FILE,
    );
  }
  if (!Array.isArray(index.files) || !index.failure || typeof index.failure.step !== "string") {
    throw new CrashBundleError(bundle, `${CRASH_INDEX_FILE} lacks its files or its failure`);
  }
  return index as CrashIndex;
}

/**
 * Read a crash bundle and check it: the index's format and version, and
 * every file it names (present, of its size and sha256).
 *
 * @param path The bundle's folder.
 * @returns The index, the JSON files parsed, and the logs' sizes.
 * @throws {CrashBundleError} For a folder that is missing, half written, damaged or not a bundle.
 */
export async function readCrashBundle(path: string): Promise<CrashBundle> {
  const bundle = resolve(path);
  const index = await readIndex(bundle);
  const contents = new Map<string, Uint8Array>();
  for (const file of index.files) {
    if (file.name.split("/").some((part) => part === ".." || part === "")) {
      throw new CrashBundleError(bundle, `the index names ${JSON.stringify(file.name)}`, file.name);
    }
    const bytes = await readBytes(bundle, file.name);
    if (bytes.length !== file.bytes) {
      throw new CrashBundleError(
        bundle,
        `${file.name} has ${bytes.length} bytes, the index says ${file.bytes}: the bundle is damaged`,
        file.name,
      );
    }
    if (await sha256(bytes) !== file.sha256) {
      throw new CrashBundleError(
        bundle,
        `${file.name} does not match its sha256 in the index: the bundle is damaged`,
        file.name,
      );
    }
    if (file.kind !== "log") contents.set(file.kind, bytes);
  }
  const one = <T>(kind: CrashFileKind): T => {
    const file = index.files.find((f) => f.kind === kind);
    if (!file) throw new CrashBundleError(bundle, `the index names no ${kind} file`);
    return parseJson<T>(bundle, file.name, contents.get(kind)!);
  };
  return {
    path: bundle,
    index,
    registers: one<CapturedRegisters>("registers"),
    rpcHistory: one<CrashRpcHistoryFile>("rpc-history"),
    firmware: one<CapturedFirmware>("firmware"),
    logs: index.files.filter((f) => f.kind === "log").map((f) => ({
      id: f.id ?? basename(f.name, ".bin"),
      name: f.name,
      bytes: f.bytes,
      put: BigInt(f.put ?? "0"),
    })),
  };
}

// -------------------------------------------------------------------------------------------------
// Where bundles go by default

let defaultsGiven = 0;

/**
 * The default folder of a crash bundle: one per run, under falconry's cache,
 * `$XDG_CACHE_HOME/falconry/crash/<UTC time>-<target>-<pid>[-n]` (default
 * `~/.cache/falconry/crash/…`). Nothing is created until a boot fails.
 *
 * @param target What booted: a PCI address (`0000:01:00.0`) or `sim-tu102`; made file-name safe.
 * @param options The time (default now) and the environment (for tests).
 * @returns The path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultCrashDir } from "./crash_bundle.ts";
 * const dir = defaultCrashDir("0000:01:00.0", {
 *   at: new Date("2026-12-05T10:28:42.123Z"),
 *   env: (name) => name === "XDG_CACHE_HOME" ? "/c" : undefined,
 * });
 * assert.match(dir, /^\/c\/falconry\/crash\/20261205T102842\.123Z-0000_01_00\.0-\d+(-\d+)?$/);
 * ```
 */
export function defaultCrashDir(
  target: string,
  options: { at?: Date; env?: (name: string) => string | undefined } = {},
): string {
  const stamp = (options.at ?? new Date()).toISOString().replace(/[-:]/g, "");
  const safe = target.replace(/[^A-Za-z0-9._-]+/g, "_") || "gpu";
  defaultsGiven++;
  const n = defaultsGiven > 1 ? `-${defaultsGiven}` : "";
  const root = options.env ? cacheDir(options.env) : cacheDir();
  return `${root}/crash/${stamp}-${safe}-${Deno.pid}${n}`;
}
