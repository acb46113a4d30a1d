/**
 * One fetch at a time per cache: an exclusive `flock` on `fetch.lock` in
 * falconry's cache folder, holding the owner's pid so that a second fetch
 * can say whom it waits for. The kernel drops the lock when its holder
 * exits, so a killed fetch leaves no stale lock; the file itself is kept
 * (removing it would let two fetches lock different inodes of one name).
 * `flock` locks belong to an open file description, so two locks taken in
 * one process exclude each other just as two processes do.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";

const log = getLogger(["falconry", "loader", "fetch_lock"]);

/** The lock file's name inside the cache folder. */
export const FETCH_LOCK_FILE = "fetch.lock";

/** Options for {@linkcode lockFetchCache}. */
export interface FetchLockOptions {
  /**
   * Called once when the lock is held by another fetch and this one starts
   * to wait, with the holder's pid when its file names one.
   */
  onWait?: (holderPid: number | undefined) => void;
  /** How long a lock may take before it counts as a wait; default 100 ms. */
  waitNoticeMs?: number;
}

/** A held fetch lock; dispose to release it. */
export interface FetchLock extends AsyncDisposable {
  /** The lock file. */
  readonly path: string;
  /** Whether another fetch held the lock first. */
  readonly waited: boolean;
  /** The pid of the fetch waited for, when it was named. */
  readonly waitedFor?: number;
  /** How long it took to get the lock. */
  readonly waitMs: number;
}

/**
 * Take the fetch lock of `cache` (created when missing), waiting for any
 * fetch that holds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockFetchCache } from "./fetch_lock.ts";
 * const cache = await Deno.makeTempDir();
 * await using lock = await lockFetchCache(cache);
 * assert(!lock.waited && (await Deno.readTextFile(lock.path)).trim() === String(Deno.pid));
 * ```
 */
export async function lockFetchCache(
  cache: string,
  options: FetchLockOptions = {},
): Promise<FetchLock> {
  await Deno.mkdir(cache, { recursive: true });
  const path = `${cache}/${FETCH_LOCK_FILE}`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    const started = performance.now();
    const locking = file.lock(true);
    // Deno offers no try-lock: a lock that is not granted at once means a holder.
    let notice: ReturnType<typeof setTimeout> | undefined;
    let waitedFor: number | undefined;
    let waited = false;
    const noticed = new Promise<void>((resolve) => {
      notice = setTimeout(async () => {
        waited = true;
        waitedFor = await readPid(path);
        log.info("another fetch (pid {pid}) is running; waiting for it to finish", {
          pid: waitedFor ?? "unknown",
        });
        options.onWait?.(waitedFor);
        resolve();
      }, options.waitNoticeMs ?? 100);
    });
    await locking;
    clearTimeout(notice);
    if (waited) await noticed;
    const waitMs = performance.now() - started;
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    return {
      path,
      waited,
      waitedFor,
      waitMs,
      async [Symbol.asyncDispose]() {
        // Closing the descriptor releases the lock.
        file.close();
        await Promise.resolve();
      },
    };
  } catch (e) {
    file.close();
    throw e;
  }
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
