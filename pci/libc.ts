/**
 * The few libc calls a user-space PCI driver needs, over `Deno.dlopen`.
 *
 * Each wrapper checks the return value and throws an {@linkcode OsError} that
 * names the call, the errno value, its symbolic name and the path involved,
 * plus a hint when the caller supplied one for that errno. `EINTR` is retried
 * (except for `close`, which Linux must never retry).
 *
 * The library is opened on first use, so importing this module needs no
 * permission; calling it needs `--allow-ffi`. Constants are the Linux values
 * shared by x86_64 and aarch64; other platforms are refused.
 *
 * errno is read through `__errno_location()` right after the failed call, on
 * the same thread, before any other FFI call can run.
 *
 * @example Open, read and close a file
 * ```ts
 * import assert from "node:assert/strict";
 * import * as libc from "./libc.ts";
 * const path = Deno.makeTempFileSync();
 * Deno.writeTextFileSync(path, "hello");
 * using file = libc.openFile(path, libc.O_RDONLY);
 * const buf = new Uint8Array(5);
 * assert(libc.pread(file.fd, buf, 0, path) === 5);
 * assert(new TextDecoder().decode(buf) === "hello");
 * ```
 *
 * @module
 */

import { FalconryError, OsError } from "../errors.ts";
import { errnoName } from "./errno.ts";

/** `open` flag: read only. */
export const O_RDONLY = 0;
/** `open` flag: write only. */
export const O_WRONLY = 1;
/** `open` flag: read and write. */
export const O_RDWR = 2;
/** `open` flag: create the file if missing. */
export const O_CREAT = 0o100;
/** `open` flag: synchronous writes (the kernel maps sysfs BARs uncached regardless). */
export const O_SYNC = 0o4010000;
/** `open` flag: close on exec, so child processes do not inherit device fds. */
export const O_CLOEXEC = 0o2000000;

/** `mmap` protection: no access. */
export const PROT_NONE = 0;
/** `mmap` protection: readable. */
export const PROT_READ = 1;
/** `mmap` protection: writable. */
export const PROT_WRITE = 2;

/** `mmap` flag: shared mapping (device memory, files). */
export const MAP_SHARED = 1;
/** `mmap` flag: private copy-on-write mapping. */
export const MAP_PRIVATE = 2;
/** `mmap` flag: not backed by a file. */
export const MAP_ANONYMOUS = 0x20;
/** `mmap` flag: back the mapping with huge pages (2 MiB by default). */
export const MAP_HUGETLB = 0x40000;

/** `flock` operation: shared lock. */
export const LOCK_SH = 1;
/** `flock` operation: exclusive lock. */
export const LOCK_EX = 2;
/** `flock` operation: fail with `EWOULDBLOCK` instead of waiting. */
export const LOCK_NB = 4;
/** `flock` operation: unlock. */
export const LOCK_UN = 8;

/** `madvise` advice: do not hand these pages to a forked child (keeps DMA pages in place). */
export const MADV_DONTFORK = 10;
/** `mmap` flag: fault every page in at map time (first-touch cost paid up front). */
export const MAP_POPULATE = 0x8000;
/** `madvise` advice: back the range with transparent huge pages where possible. */
export const MADV_HUGEPAGE = 14;
/** `madvise` advice (Linux ≥ 5.14): populate the range writable now, without writing it. */
export const MADV_POPULATE_WRITE = 23;

/** A hint per errno name, appended to the {@linkcode OsError} message. */
export type ErrnoHints = Readonly<Partial<Record<string, string>>>;

/** What a wrapper reports when its call fails. */
export interface CallContext {
  /** The path the call concerns, shown in the error. */
  path?: string;
  /** Hints keyed by errno name, e.g. `{ EACCES: "needs root or CAP_SYS_ADMIN" }`. */
  hints?: ErrnoHints;
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  ioctl_buffer: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl_value: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  mlock: { parameters: ["pointer", "usize"], result: "i32" },
  munlock: { parameters: ["pointer", "usize"], result: "i32" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const LIBRARY_NAMES = ["libc.so.6", "libc.so"];
const EINTR = 4;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
const encoder = new TextEncoder();

let symbols: Symbols | undefined;

function libc(): Symbols {
  if (symbols) return symbols;
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    throw new FalconryError(
      `falconry's libc layer supports Linux on x86_64 and aarch64, not ${Deno.build.os}/${Deno.build.arch}`,
    );
  }
  let lastError: unknown;
  for (const name of LIBRARY_NAMES) {
    try {
      symbols = Deno.dlopen(name, SYMBOLS).symbols;
      return symbols;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new FalconryError("calling libc needs --allow-ffi (or -A)", { cause: e });
      }
      lastError = e;
    }
  }
  throw new FalconryError(`cannot load libc (tried ${LIBRARY_NAMES.join(", ")})`, {
    cause: lastError,
  });
}

/**
 * The calling thread's current errno value.
 *
 * @returns errno as libc left it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errno } from "./libc.ts";
 * assert(Number.isInteger(errno()));
 * ```
 */
export function errno(): number {
  const location = libc().__errno_location();
  return location ? new Deno.UnsafePointerView(location).getInt32() : 0;
}

/**
 * The system's page size in bytes (4096 on x86_64; 4, 16 or 64 KiB on aarch64).
 *
 * @returns The page size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pageSize } from "./libc.ts";
 * assert(pageSize() >= 4096 && (pageSize() & (pageSize() - 1)) === 0);
 * ```
 */
export function pageSize(): number {
  return libc().getpagesize();
}

function fail(call: string, code: number, context: CallContext = {}): never {
  const name = errnoName(code);
  throw new OsError({ call, errno: code, name, path: context.path, hint: context.hints?.[name] });
}

/** Run `attempt` until it returns something other than -1 with errno EINTR. */
function retrying(call: string, context: CallContext | undefined, attempt: () => number): number {
  for (;;) {
    const result = attempt();
    if (result !== -1) return result;
    const code = errno();
    if (code !== EINTR) fail(call, code, context);
  }
}

function cString(path: string): Uint8Array<ArrayBuffer> {
  if (path.includes("\0")) throw new TypeError(`path contains a NUL byte: ${JSON.stringify(path)}`);
  return encoder.encode(`${path}\0`);
}

/**
 * `open(2)`.
 *
 * @param path File to open.
 * @param flags `O_*` flags; `O_CLOEXEC` is always added.
 * @param mode Permission bits when `O_CREAT` creates the file.
 * @param hints Hints per errno name for the error message.
 * @returns The new file descriptor.
 *
 * @example
 * ```ts
 * import { close, open, O_RDONLY } from "./libc.ts";
 * const fd = open("/dev/null", O_RDONLY);
 * close(fd, "/dev/null");
 * ```
 */
export function open(path: string, flags: number, mode = 0, hints?: ErrnoHints): number {
  const encoded = cString(path);
  return retrying("open", { path, hints }, () => libc().open(encoded, flags | O_CLOEXEC, mode));
}

/**
 * `close(2)`. Not retried on `EINTR`: Linux always releases the descriptor.
 *
 * @param fd Descriptor to close.
 * @param path Path for the error message.
 *
 * @example
 * ```ts
 * import { close, open, O_RDONLY } from "./libc.ts";
 * close(open("/dev/null", O_RDONLY), "/dev/null");
 * ```
 */
export function close(fd: number, path?: string): void {
  if (libc().close(fd) === -1) {
    const code = errno();
    if (code !== EINTR) fail("close", code, { path });
  }
}

/**
 * `mmap(2)` with a null address hint.
 *
 * @param length Bytes to map.
 * @param prot `PROT_*` bits.
 * @param flags `MAP_*` bits.
 * @param fd File descriptor, or -1 for anonymous memory.
 * @param offset Offset into the file (a multiple of the page size).
 * @param context Path and hints for the error message.
 * @returns The mapping's address.
 *
 * @example
 * ```ts
 * import { MAP_ANONYMOUS, MAP_PRIVATE, mmap, munmap, PROT_READ } from "./libc.ts";
 * const ptr = mmap(4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
 * munmap(ptr, 4096);
 * ```
 */
export function mmap(
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number | bigint,
  context?: CallContext,
): Deno.PointerObject {
  for (;;) {
    const pointer = libc().mmap(null, BigInt(length), prot, flags, fd, BigInt(offset));
    if (pointer !== null && Deno.UnsafePointer.value(pointer) !== MAP_FAILED) return pointer;
    const code = errno();
    if (code !== EINTR) fail("mmap", code, context);
  }
}

/**
 * `munmap(2)`.
 *
 * @param pointer Start of the mapping.
 * @param length Its length.
 * @param context Path and hints for the error message.
 *
 * @example
 * ```ts
 * import { MAP_ANONYMOUS, MAP_PRIVATE, mmap, munmap, PROT_READ } from "./libc.ts";
 * munmap(mmap(4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 4096);
 * ```
 */
export function munmap(pointer: Deno.PointerObject, length: number, context?: CallContext): void {
  retrying("munmap", context, () => libc().munmap(pointer, BigInt(length)));
}

/** The signature of {@linkcode ioctl}, for code that lets tests substitute it. */
export type IoctlFunction = (
  fd: number,
  request: number,
  argument: Uint8Array<ArrayBuffer> | number | bigint,
  name: string,
  context?: CallContext,
) => number;

/**
 * `ioctl(2)` with a pointer argument (a buffer the kernel reads or fills) or
 * an integer argument.
 *
 * @param fd Descriptor.
 * @param request Request number.
 * @param argument A buffer passed by address, or an integer passed by value.
 * @param name Request name for the error message, e.g. `VFIO_GET_API_VERSION`.
 * @param context Path and hints for the error message.
 * @returns The call's non-negative result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, ioctl, open, O_RDONLY } from "./libc.ts";
 * const fd = open("/dev/null", O_RDONLY);
 * try { ioctl(fd, 0x3b64, 0, "VFIO_GET_API_VERSION", { path: "/dev/null" }); } catch (e) {
 *   assert((e as Error).message.includes("ENOTTY"));
 * } finally { close(fd); }
 * ```
 */
export function ioctl(
  fd: number,
  request: number,
  argument: Uint8Array<ArrayBuffer> | number | bigint,
  name: string,
  context?: CallContext,
): number {
  const call = `ioctl(${name})`;
  const code = BigInt(request);
  if (argument instanceof Uint8Array) {
    return retrying(call, context, () => libc().ioctl_buffer(fd, code, argument));
  }
  const value = BigInt.asUintN(64, BigInt(argument));
  return retrying(call, context, () => libc().ioctl_value(fd, code, value));
}

/**
 * `pread(2)` until `buffer` is full or the file ends.
 *
 * @param fd Descriptor.
 * @param buffer Destination; its whole length is requested.
 * @param offset File offset.
 * @param path Path for the error message.
 * @returns Bytes read (less than requested only at end of file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, open, O_RDONLY, pread } from "./libc.ts";
 * const fd = open("/dev/zero", O_RDONLY);
 * assert(pread(fd, new Uint8Array(8), 0) === 8);
 * close(fd);
 * ```
 */
export function pread(
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
  offset: number | bigint,
  path?: string,
): number {
  return transferAll("pread", fd, buffer, offset, path);
}

/**
 * `pwrite(2)` until all of `buffer` is written.
 *
 * @param fd Descriptor.
 * @param buffer Bytes to write.
 * @param offset File offset.
 * @param path Path for the error message.
 * @returns Bytes written (less than requested only if the file refuses more).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, open, O_WRONLY, pwrite } from "./libc.ts";
 * const fd = open("/dev/null", O_WRONLY);
 * assert(pwrite(fd, new Uint8Array(3), 0) === 3);
 * close(fd);
 * ```
 */
export function pwrite(
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
  offset: number | bigint,
  path?: string,
): number {
  return transferAll("pwrite", fd, buffer, offset, path);
}

// One pread or pwrite may move fewer bytes than asked (a device, a signal after
// some bytes, the end of the file): go on from where the last call stopped
// until the buffer is done or a call moves nothing.
function transferAll(
  call: "pread" | "pwrite",
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
  offset: number | bigint,
  path: string | undefined,
): number {
  let done = 0;
  while (done < buffer.length) {
    const part = done === 0 ? buffer : buffer.subarray(done);
    const at = BigInt(offset) + BigInt(done);
    const n = retrying(
      call,
      { path },
      () => Number(libc()[call](fd, part, BigInt(part.length), at)),
    );
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * `flock(2)`.
 *
 * @param fd Descriptor.
 * @param operation `LOCK_*` bits.
 * @param context Path and hints for the error message.
 *
 * @example
 * ```ts
 * import { close, flock, LOCK_EX, LOCK_NB, LOCK_UN, open, O_RDONLY } from "./libc.ts";
 * const fd = open("/dev/null", O_RDONLY);
 * flock(fd, LOCK_EX | LOCK_NB);
 * flock(fd, LOCK_UN);
 * close(fd);
 * ```
 */
export function flock(fd: number, operation: number, context?: CallContext): void {
  retrying("flock", context, () => libc().flock(fd, operation));
}

/**
 * `ftruncate(2)`.
 *
 * @param fd Descriptor open for writing.
 * @param length New length.
 * @param path Path for the error message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, ftruncate, open, O_RDWR } from "./libc.ts";
 * const path = Deno.makeTempFileSync();
 * const fd = open(path, O_RDWR);
 * ftruncate(fd, 4096);
 * close(fd);
 * assert(Deno.statSync(path).size === 4096);
 * ```
 */
export function ftruncate(fd: number, length: number, path?: string): void {
  retrying("ftruncate", { path }, () => libc().ftruncate(fd, BigInt(length)));
}

/**
 * `mlock(2)`: keep the pages resident.
 *
 * @param pointer Start address.
 * @param length Bytes.
 * @param hints Hints per errno name for the error message.
 *
 * @example
 * ```ts
 * import { MAP_ANONYMOUS, MAP_PRIVATE, mlock, mmap, munlock, munmap, PROT_READ, PROT_WRITE } from "./libc.ts";
 * const ptr = mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
 * mlock(ptr, 4096);
 * munlock(ptr, 4096);
 * munmap(ptr, 4096);
 * ```
 */
export function mlock(pointer: Deno.PointerObject, length: number, hints?: ErrnoHints): void {
  retrying("mlock", { hints }, () => libc().mlock(pointer, BigInt(length)));
}

/**
 * `munlock(2)`.
 *
 * @param pointer Start address.
 * @param length Bytes.
 *
 * @example
 * ```ts
 * import { MAP_ANONYMOUS, MAP_PRIVATE, mmap, munlock, munmap, PROT_READ } from "./libc.ts";
 * const ptr = mmap(4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
 * munlock(ptr, 4096);
 * munmap(ptr, 4096);
 * ```
 */
export function munlock(pointer: Deno.PointerObject, length: number): void {
  retrying("munlock", undefined, () => libc().munlock(pointer, BigInt(length)));
}

/**
 * `madvise(2)`.
 *
 * @param pointer Start address (page aligned).
 * @param length Bytes.
 * @param advice `MADV_*` value.
 *
 * @example
 * ```ts
 * import { MADV_DONTFORK, madvise, MAP_ANONYMOUS, MAP_PRIVATE, mmap, munmap, PROT_READ } from "./libc.ts";
 * const ptr = mmap(4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
 * madvise(ptr, 4096, MADV_DONTFORK);
 * munmap(ptr, 4096);
 * ```
 */
export function madvise(pointer: Deno.PointerObject, length: number, advice: number): void {
  retrying("madvise", undefined, () => libc().madvise(pointer, BigInt(length), advice));
}

/**
 * A file descriptor that closes itself at the end of a `using` scope.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { O_RDONLY, openFile } from "./libc.ts";
 * {
 *   using file = openFile("/dev/null", O_RDONLY);
 *   assert(file.fd >= 0);
 * } // closed here
 * ```
 */
export class FileDescriptor implements Disposable {
  #fd: number;

  /**
   * Take ownership of `fd`.
   *
   * @param fd An open descriptor.
   * @param path Where it came from, for error messages.
   */
  constructor(fd: number, readonly path: string) {
    this.#fd = fd;
  }

  /** The descriptor; -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Close it; later calls do nothing. */
  [Symbol.dispose](): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    close(fd, this.path);
  }
}

/**
 * {@linkcode open} returning a {@linkcode FileDescriptor} for a `using` line.
 *
 * @param path File to open.
 * @param flags `O_*` flags; `O_CLOEXEC` is always added.
 * @param mode Permission bits when `O_CREAT` creates the file.
 * @param hints Hints per errno name for the error message.
 * @returns The owned descriptor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { O_RDONLY, openFile } from "./libc.ts";
 * using file = openFile("/dev/null", O_RDONLY);
 * assert(file.path === "/dev/null");
 * ```
 */
export function openFile(
  path: string,
  flags: number,
  mode = 0,
  hints?: ErrnoHints,
): FileDescriptor {
  return new FileDescriptor(open(path, flags, mode, hints), path);
}
