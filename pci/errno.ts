/**
 * Symbolic names of Linux errno values.
 *
 * x86_64 and aarch64 share the kernel's generic numbering
 * (`asm-generic/errno-base.h` and `asm-generic/errno.h`), so one table covers
 * both. Aliases (`EWOULDBLOCK` = `EAGAIN`, `EDEADLOCK` = `EDEADLK`) map to
 * the name glibc's `strerrorname_np` reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errnoName, errnoNumber } from "./errno.ts";
 * assert(errnoName(2) === "ENOENT");
 * assert(errnoNumber("EBUSY") === 16);
 * ```
 *
 * @module
 */

/** errno value → symbolic name; index 0 is unused. */
const NAMES: readonly string[] = [
  "",
  "EPERM",
  "ENOENT",
  "ESRCH",
  "EINTR",
  "EIO",
  "ENXIO",
  "E2BIG",
  "ENOEXEC",
  "EBADF",
  "ECHILD", // 10
  "EAGAIN",
  "ENOMEM",
  "EACCES",
  "EFAULT",
  "ENOTBLK",
  "EBUSY",
  "EEXIST",
  "EXDEV",
  "ENODEV",
  "ENOTDIR", // 20
  "EISDIR",
  "EINVAL",
  "ENFILE",
  "EMFILE",
  "ENOTTY",
  "ETXTBSY",
  "EFBIG",
  "ENOSPC",
  "ESPIPE",
  "EROFS", // 30
  "EMLINK",
  "EPIPE",
  "EDOM",
  "ERANGE",
  "EDEADLK",
  "ENAMETOOLONG",
  "ENOLCK",
  "ENOSYS",
  "ENOTEMPTY",
  "ELOOP", // 40
  "", // 41 is unassigned (EWOULDBLOCK is an alias of EAGAIN)
  "ENOMSG",
  "EIDRM",
  "ECHRNG",
  "EL2NSYNC",
  "EL3HLT",
  "EL3RST",
  "ELNRNG",
  "EUNATCH",
  "ENOCSI", // 50
  "EL2HLT",
  "EBADE",
  "EBADR",
  "EXFULL",
  "ENOANO",
  "EBADRQC",
  "EBADSLT",
  "", // 58 is unassigned (EDEADLOCK is an alias of EDEADLK)
  "EBFONT",
  "ENOSTR", // 60
  "ENODATA",
  "ETIME",
  "ENOSR",
  "ENONET",
  "ENOPKG",
  "EREMOTE",
  "ENOLINK",
  "EADV",
  "ESRMNT",
  "ECOMM", // 70
  "EPROTO",
  "EMULTIHOP",
  "EDOTDOT",
  "EBADMSG",
  "EOVERFLOW",
  "ENOTUNIQ",
  "EBADFD",
  "EREMCHG",
  "ELIBACC",
  "ELIBBAD", // 80
  "ELIBSCN",
  "ELIBMAX",
  "ELIBEXEC",
  "EILSEQ",
  "ERESTART",
  "ESTRPIPE",
  "EUSERS",
  "ENOTSOCK",
  "EDESTADDRREQ",
  "EMSGSIZE", // 90
  "EPROTOTYPE",
  "ENOPROTOOPT",
  "EPROTONOSUPPORT",
  "ESOCKTNOSUPPORT",
  "EOPNOTSUPP",
  "EPFNOSUPPORT",
  "EAFNOSUPPORT",
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "ENETDOWN", // 100
  "ENETUNREACH",
  "ENETRESET",
  "ECONNABORTED",
  "ECONNRESET",
  "ENOBUFS",
  "EISCONN",
  "ENOTCONN",
  "ESHUTDOWN",
  "ETOOMANYREFS",
  "ETIMEDOUT", // 110
  "ECONNREFUSED",
  "EHOSTDOWN",
  "EHOSTUNREACH",
  "EALREADY",
  "EINPROGRESS",
  "ESTALE",
  "EUCLEAN",
  "ENOTNAM",
  "ENAVAIL",
  "EISNAM", // 120
  "EREMOTEIO",
  "EDQUOT",
  "ENOMEDIUM",
  "EMEDIUMTYPE",
  "ECANCELED",
  "ENOKEY",
  "EKEYEXPIRED",
  "EKEYREVOKED",
  "EKEYREJECTED",
  "EOWNERDEAD", // 130
  "ENOTRECOVERABLE",
  "ERFKILL",
  "EHWPOISON",
];

const ALIASES: Readonly<Record<string, number>> = { EWOULDBLOCK: 11, EDEADLOCK: 35 };

const NUMBERS: ReadonlyMap<string, number> = new Map([
  ...NAMES.flatMap((name, n): [string, number][] => name ? [[name, n]] : []),
  ...Object.entries(ALIASES),
]);

/** The largest errno value the table knows. */
export const ERRNO_MAX: number = NAMES.length - 1;

/**
 * The symbolic name of an errno value, e.g. `ENOENT` for 2; `E<n>` for a
 * value the table does not know.
 *
 * @param errno A positive errno value.
 * @returns Its name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errnoName } from "./errno.ts";
 * assert(errnoName(13) === "EACCES");
 * assert(errnoName(9999) === "E9999");
 * ```
 */
export function errnoName(errno: number): string {
  return NAMES[errno] || `E${errno}`;
}

/**
 * The errno value of a symbolic name (aliases included), or `undefined`.
 *
 * @param name A name such as `EAGAIN` or `EWOULDBLOCK`.
 * @returns Its value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errnoNumber } from "./errno.ts";
 * assert(errnoNumber("EWOULDBLOCK") === errnoNumber("EAGAIN"));
 * ```
 */
export function errnoNumber(name: string): number | undefined {
  return NUMBERS.get(name);
}
