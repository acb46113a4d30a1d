/**
 * A per-device exclusive lock between processes: `flock(LOCK_EX | LOCK_NB)`
 * on `falconry-<BDF>.lock` in `/run/lock` (or `$XDG_RUNTIME_DIR` when that is
 * not writable), holding the owner's pid so a second process can say who has
 * the device. The kernel drops the lock when its holder exits, so a crash
 * leaves no stale lock; the file itself is kept (removing it would let two
 * processes lock different inodes of the same name).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockDevice } from "./lock.ts";
 * const dir = Deno.makeTempDirSync();
 * {
 *   using lock = lockDevice("0000:01:00.0", { dir });
 *   assert(Deno.readTextFileSync(lock.path).trim() === String(Deno.pid));
 * } // released here
 * ```
 *
 * @module
 */

import { DeviceError, OsError } from "../errors.ts";
import {
  flock,
  ftruncate,
  LOCK_EX,
  LOCK_NB,
  LOCK_UN,
  O_CREAT,
  O_RDWR,
  openFile,
  pread,
  pwrite,
} from "./libc.ts";
import { normalizeBdf } from "./sysfs.ts";

/** Where {@linkcode lockDevice} puts its file. */
export interface DeviceLockOptions {
  /** Directory for the lock file; defaults to `/run/lock`, then `$XDG_RUNTIME_DIR`. */
  dir?: string;
}

/** Errors that mean "this directory will not do, try the next". */
const UNUSABLE_DIR = new Set(["ENOENT", "EACCES", "EPERM", "EROFS", "ENOTDIR"]);

function candidateDirs(options: DeviceLockOptions): string[] {
  if (options.dir) return [options.dir];
  const runtime = Deno.env.get("XDG_RUNTIME_DIR");
  return runtime ? ["/run/lock", runtime] : ["/run/lock"];
}

/**
 * An acquired device lock; dispose to release it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockDevice } from "./lock.ts";
 * using lock = lockDevice("01:00.0", { dir: Deno.makeTempDirSync() });
 * assert(lock.bdf === "0000:01:00.0" && lock.path.endsWith("falconry-0000:01:00.0.lock"));
 * ```
 */
export class DeviceLock implements Disposable {
  #stack: DisposableStack;

  private constructor(
    /** The locked device. */
    readonly bdf: string,
    /** The lock file. */
    readonly path: string,
    stack: DisposableStack,
  ) {
    this.#stack = stack;
  }

  /**
   * Take the exclusive lock for `bdf`, or fail at once; see {@linkcode lockDevice}.
   *
   * @param bdf PCI address.
   * @param options Lock directory.
   * @returns The held lock.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DeviceLock } from "./lock.ts";
   * using lock = DeviceLock.acquire("0000:02:00.0", { dir: Deno.makeTempDirSync() });
   * assert(lock.bdf === "0000:02:00.0");
   * ```
   */
  static acquire(bdf: string, options: DeviceLockOptions = {}): DeviceLock {
    const address = normalizeBdf(bdf);
    const tried: string[] = [];
    for (const dir of candidateDirs(options)) {
      const path = `${dir}/falconry-${address}.lock`;
      let fd;
      try {
        fd = openFile(path, O_RDWR | O_CREAT, 0o644);
      } catch (e) {
        if (e instanceof OsError && UNUSABLE_DIR.has(e.errnoName)) {
          tried.push(`${dir} (${e.errnoName})`);
          continue;
        }
        throw e;
      }
      using stack = new DisposableStack();
      stack.use(fd);
      try {
        flock(fd.fd, LOCK_EX | LOCK_NB, { path });
      } catch (e) {
        if (e instanceof OsError && e.errnoName === "EAGAIN") {
          throw new DeviceError(
            address,
            `busy (${holder(fd.fd, path)})`,
            `another falconry process has it; wait for it to finish or stop it (lock file ${path})`,
          );
        }
        throw e;
      }
      stack.defer(() => flock(fd.fd, LOCK_UN, { path }));
      stack.defer(() => ftruncate(fd.fd, 0, path));
      ftruncate(fd.fd, 0, path);
      pwrite(fd.fd, new TextEncoder().encode(`${Deno.pid}\n`), 0, path);
      return new DeviceLock(address, path, stack.move());
    }
    throw new DeviceError(
      address,
      `cannot create a lock file (tried ${tried.join(", ")})`,
      "make /run/lock writable or set XDG_RUNTIME_DIR",
    );
  }

  /** Clear the pid, unlock and close. */
  [Symbol.dispose](): void {
    this.#stack.dispose();
  }
}

/**
 * Take the exclusive lock for `bdf`, or fail at once.
 *
 * @param bdf PCI address.
 * @param options Lock directory.
 * @returns The held lock.
 * @throws {DeviceError} `busy (held by pid N)` when another open file holds it
 *   (another process, or this one through a second open).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockDevice } from "./lock.ts";
 * const dir = Deno.makeTempDirSync();
 * using first = lockDevice("0000:01:00.0", { dir });
 * try { lockDevice("0000:01:00.0", { dir }); } catch (e) {
 *   assert((e as Error).message.includes(`busy (held by pid ${Deno.pid})`));
 * }
 * ```
 */
export function lockDevice(bdf: string, options: DeviceLockOptions = {}): DeviceLock {
  return DeviceLock.acquire(bdf, options);
}

function holder(fd: number, path: string): string {
  const bytes = new Uint8Array(32);
  const n = pread(fd, bytes, 0, path);
  const pid = Number(new TextDecoder().decode(bytes.subarray(0, n)).trim());
  return Number.isInteger(pid) && pid > 0 ? `held by pid ${pid}` : "held by another process";
}
