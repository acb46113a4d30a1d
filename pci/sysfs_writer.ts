/**
 * Writes to sysfs attributes (`reset`, `reset_method`, `reset_subordinate`,
 * `remove`, `rescan`) behind one small interface, so the reset backends can
 * be tested against a fake kernel that models what each write does.
 *
 * The system writer reports a failed write as a {@linkcode DeviceError}
 * that names the file, the errno and what to do.
 *
 * @example A fake kernel records the writes
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SysfsWriter } from "./sysfs_writer.ts";
 * const writes: string[] = [];
 * const fake: SysfsWriter = {
 *   write: (path, text) => { writes.push(`${path}=${text}`); return Promise.resolve(); },
 *   writable: () => undefined,
 * };
 * await fake.write("/sys/bus/pci/rescan", "1");
 * assert.deepEqual(writes, ["/sys/bus/pci/rescan=1"]);
 * ```
 *
 * @module
 */

import { DeviceError } from "../errors.ts";
import { errnoName } from "./errno.ts";

/** Writes sysfs attributes. */
export interface SysfsWriter {
  /**
   * Write `text` to the attribute at `path` (which must exist). The kernel
   * runs the attribute's action before the write returns.
   *
   * @param path The attribute.
   * @param text What to write, e.g. `"1"`.
   * @returns A promise that settles when the write has returned.
   */
  write(path: string, text: string): Promise<void>;
  /**
   * Why `path` cannot be written by this process, or undefined when it can.
   * Nothing is written.
   *
   * @param path The attribute.
   * @returns The reason, as a sentence that says what to do.
   */
  writable(path: string): string | undefined;
}

/** What each errno means for a sysfs write, and what to do about it. */
const WRITE_HINTS: Readonly<Record<string, string>> = {
  EACCES: "needs root (CAP_SYS_ADMIN)",
  EPERM: "needs root (CAP_SYS_ADMIN), and kernel lockdown off",
  EROFS: "sysfs is mounted read-only here (a container?); run on the host",
  EINVAL: "the kernel does not accept this value for the device",
  ENOTTY: "the kernel has no usable method, or the device did not answer within its 60 s wait",
  EAGAIN: "another reset or a driver holds the device lock; try again",
  EBUSY: "the device is busy; try again once nothing else uses it",
  ENODEV: "the device has gone from the bus",
  ENOENT: "the file does not exist on this kernel",
};

function errnoOf(error: unknown): string | undefined {
  if (error instanceof Deno.errors.NotFound) return "ENOENT";
  if (error instanceof Deno.errors.PermissionDenied) return "EACCES";
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string" && code.startsWith("E")) return code;
  const match = /os error (\d+)/.exec(String((error as Error)?.message ?? error));
  return match ? errnoName(Number(match[1])) : undefined;
}

function bdfOf(path: string): string {
  return /([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])/.exec(path)?.[1] ?? "sysfs";
}

/**
 * The writer for a real (or copied) sysfs tree: `open(O_WRONLY)` and one
 * `write`, never creating a file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemSysfsWriter } from "./sysfs_writer.ts";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/rescan`, "");
 * assert.equal(systemSysfsWriter.writable(`${dir}/rescan`), undefined);
 * assert.match(systemSysfsWriter.writable(`${dir}/missing`) ?? "", /does not exist/);
 * await systemSysfsWriter.write(`${dir}/rescan`, "1");
 * assert.equal(Deno.readTextFileSync(`${dir}/rescan`), "1");
 * ```
 */
export const systemSysfsWriter: SysfsWriter = Object.freeze({
  async write(path: string, text: string): Promise<void> {
    try {
      await Deno.writeTextFile(path, text, { create: false });
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        throw new DeviceError(bdfOf(path), `writing ${path} was refused by Deno`, "run with -A");
      }
      const name = errnoOf(e) ?? "error";
      throw new DeviceError(
        bdfOf(path),
        `writing "${text}" to ${path} failed: ${name}`,
        WRITE_HINTS[name] ?? String((e as Error).message ?? e),
      );
    }
  },
  writable(path: string): string | undefined {
    try {
      Deno.openSync(path, { write: true }).close();
      return undefined;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) return `writing ${path} needs Deno's -A`;
      const name = errnoOf(e) ?? "error";
      if (name === "ENOENT") return `${path} does not exist on this kernel`;
      return `cannot write ${path} (${name}): ${WRITE_HINTS[name] ?? "check its permissions"}`;
    }
  },
});
