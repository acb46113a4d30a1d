/**
 * The temporary folders a fetch works in, inside falconry's cache (on the
 * same file system, so the finished tree is renamed into place atomically).
 *
 * A work folder's name records its owner, `.<kind>-<pid>-<start>-<random>`,
 * where `<start>` is the owner's start time from `/proc/<pid>/stat` (so a
 * reused pid is not mistaken for the owner). The folder is removed when its
 * handle is disposed, and also when the process is interrupted (SIGINT,
 * SIGTERM). Any later fetch removes the folders of owners that are gone,
 * whatever their age, and leaves those of a live owner alone.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { cleanUpOnInterrupt } from "./_interrupt.ts";

const log = getLogger(["falconry", "loader", "fetch_work_dir"]);

/** What a work folder is for: downloading the package, or extracting it. */
export type WorkDirKind = "fetch" | "install";

/** A process, told apart from a later one with the same pid. */
export interface ProcessIdentity {
  /** Its pid. */
  readonly pid: number;
  /** Its start time in clock ticks after boot (`/proc/<pid>/stat` field 22); 0 when unknown. */
  readonly startTime: number;
}

/** A work folder; disposing it removes the folder. */
export interface WorkDir extends AsyncDisposable {
  /** Its absolute path. */
  readonly path: string;
}

/** What a work folder's name says about it. */
export interface WorkDirName {
  /** What it was for. */
  readonly kind: WorkDirKind;
  /** The process that made it; absent for folders of falconry versions that did not record it. */
  readonly owner?: ProcessIdentity;
}

/** A leftover of owners that did not record themselves is removed only after this long. */
const UNOWNED_STALE_MS = 60 * 60 * 1000;

const WORK_DIR_NAME = /^\.(fetch|install)-(?:(\d+)-(\d+)-)?/;

/**
 * The start time of process `pid` (field 22 of `/proc/<pid>/stat`), or
 * undefined when there is no such process (or no `/proc`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processStartTime } from "./fetch_work_dir.ts";
 * assert((processStartTime(Deno.pid) ?? 0) > 0);
 * assert(processStartTime(2 ** 22 + 1) === undefined);
 * ```
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const startTime = Number(fields[22 - 3]);
  return Number.isSafeInteger(startTime) ? startTime : undefined;
}

/**
 * This process's identity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentProcess } from "./fetch_work_dir.ts";
 * assert(currentProcess().pid === Deno.pid);
 * ```
 */
export function currentProcess(): ProcessIdentity {
  return { pid: Deno.pid, startTime: processStartTime(Deno.pid) ?? 0 };
}

/**
 * Whether `owner` is still running: its pid exists and started at the same
 * time. Without a recorded start time the pid alone decides.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentProcess, isProcessAlive } from "./fetch_work_dir.ts";
 * const me = currentProcess();
 * assert(isProcessAlive(me));
 * assert(!isProcessAlive({ pid: me.pid, startTime: me.startTime + 1 }));
 * ```
 */
export function isProcessAlive(owner: ProcessIdentity): boolean {
  const startTime = processStartTime(owner.pid);
  if (startTime === undefined) return false;
  return owner.startTime === 0 || startTime === owner.startTime;
}

/**
 * The name prefix of `owner`'s work folders of `kind`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workDirPrefix } from "./fetch_work_dir.ts";
 * assert(workDirPrefix("fetch", { pid: 42, startTime: 9001 }) === ".fetch-42-9001-");
 * ```
 */
export function workDirPrefix(kind: WorkDirKind, owner: ProcessIdentity): string {
  return `.${kind}-${owner.pid}-${owner.startTime}-`;
}

/**
 * What the name of a folder in the cache says, or undefined when it is not a work folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWorkDirName } from "./fetch_work_dir.ts";
 * assert.deepEqual(parseWorkDirName(".install-42-9001-a1b2c3"), {
 *   kind: "install",
 *   owner: { pid: 42, startTime: 9001 },
 * });
 * assert.deepEqual(parseWorkDirName(".fetch-a1b2c3"), { kind: "fetch" });
 * assert(parseWorkDirName("firmware") === undefined);
 * ```
 */
export function parseWorkDirName(name: string): WorkDirName | undefined {
  const m = WORK_DIR_NAME.exec(name);
  if (!m) return undefined;
  const kind = m[1] as WorkDirKind;
  if (m[2] === undefined) return { kind };
  return { kind, owner: { pid: Number(m[2]), startTime: Number(m[3]) } };
}

/**
 * Make a work folder of `kind` in `cache`, owned by this process. It is
 * removed when disposed, or when the process is interrupted first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWorkDir } from "./fetch_work_dir.ts";
 * const cache = await Deno.makeTempDir();
 * let path: string;
 * {
 *   await using work = await createWorkDir(cache, "fetch");
 *   path = work.path;
 *   assert(path.startsWith(`${cache}/.fetch-${Deno.pid}-`));
 * }
 * await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
 * ```
 */
export async function createWorkDir(cache: string, kind: WorkDirKind): Promise<WorkDir> {
  const path = await Deno.makeTempDir({
    dir: cache,
    prefix: workDirPrefix(kind, currentProcess()),
  });
  const onInterrupt = cleanUpOnInterrupt(() => Deno.removeSync(path, { recursive: true }));
  return {
    path,
    async [Symbol.asyncDispose]() {
      onInterrupt[Symbol.dispose]();
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** Options for {@linkcode removeLeftoverWorkDirs}. */
export interface LeftoverOptions {
  /** Whether a folder's owner still runs; default {@linkcode isProcessAlive}. */
  isAlive?: (owner: ProcessIdentity) => boolean;
  /** The current time, for folders that name no owner; default `Date.now()`. */
  now?: number;
}

/**
 * Remove the work folders in `cache` whose owner is gone, whatever their
 * age. A folder whose name records no owner (made by an older falconry) is
 * removed once it is an hour old.
 *
 * @returns The folders removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWorkDir, removeLeftoverWorkDirs } from "./fetch_work_dir.ts";
 * const cache = await Deno.makeTempDir();
 * await Deno.mkdir(`${cache}/.fetch-4194305-1-abcdef`); // a pid above pid_max: gone
 * await using mine = await createWorkDir(cache, "install");
 * assert.deepEqual(await removeLeftoverWorkDirs(cache), [`${cache}/.fetch-4194305-1-abcdef`]);
 * assert((await Deno.stat(mine.path)).isDirectory);
 * ```
 */
export async function removeLeftoverWorkDirs(
  cache: string,
  options: LeftoverOptions = {},
): Promise<string[]> {
  const isAlive = options.isAlive ?? isProcessAlive;
  const now = options.now ?? Date.now();
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(cache));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return removed;
    throw e;
  }
  for (const entry of entries) {
    const name = entry.isDirectory ? parseWorkDirName(entry.name) : undefined;
    if (!name) continue;
    const path = `${cache}/${entry.name}`;
    if (name.owner) {
      if (isAlive(name.owner)) continue;
    } else {
      const { mtime } = await Deno.stat(path);
      if (!mtime || now - mtime.getTime() <= UNOWNED_STALE_MS) continue;
    }
    log.info("removing {path}, left by an interrupted fetch (pid {pid})", {
      path,
      pid: name.owner?.pid ?? "unknown",
    });
    try {
      await Deno.remove(path, { recursive: true });
      removed.push(path);
    } catch (e) {
      // Another fetch may be cleaning up the same leftover.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return removed.sort();
}
