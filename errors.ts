/**
 * One small error hierarchy for every layer of falconry.
 *
 * A CLI prints one line for a {@linkcode FalconryError} and exits non-zero;
 * anything else that escapes is a bug and may show a stack.
 *
 * @example Telling a format error from a bug
 * ```ts
 * import assert from "node:assert/strict";
 * import { FalconryError, FirmwareFormatError } from "./errors.ts";
 *
 * const err = new FirmwareFormatError({
 *   file: "booter_load-570.144.bin",
 *   offset: 0,
 *   field: "binHeader.magic",
 *   reason: "expected 0x10de, found 0x0",
 * });
 * assert(err instanceof FalconryError);
 * assert(err.message.includes("binHeader.magic"));
 * ```
 *
 * @module
 */

/** Base class of every error falconry throws on purpose. */
export class FalconryError extends Error {
  /**
   * Construct it.
   *
   * @param message One line that says what went wrong and, where it can, what to do.
   * @param options Standard error options (`cause`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FalconryError } from "./errors.ts";
   * const e = new FalconryError("no GPU found");
   * assert(e.name === "FalconryError");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Where and why a firmware or VBIOS image failed to parse. */
export interface FirmwareFormatErrorInit {
  /** The file the bytes came from, when the caller knows it. */
  file?: string;
  /** Byte offset of the offending field, from the start of the file or image. */
  offset: number;
  /** Dotted name of the field, for example `hsHeader.sigProdOffset`. */
  field: string;
  /** What is wrong with it. */
  reason: string;
}

/**
 * A firmware file, a VBIOS or a firmware container is malformed: truncated,
 * a wrong magic, an offset out of range, a loop in a table, an unknown version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FirmwareFormatError } from "./errors.ts";
 * const e = new FirmwareFormatError({ offset: 0x18, field: "pciRom.pcirOffset", reason: "out of range" });
 * assert(e.offset === 0x18 && e.field === "pciRom.pcirOffset");
 * ```
 */
export class FirmwareFormatError extends FalconryError {
  /** The file the bytes came from, if known. */
  readonly file?: string;
  /** Byte offset of the offending field. */
  readonly offset: number;
  /** Dotted name of the field. */
  readonly field: string;
  /** What is wrong with it. */
  readonly reason: string;

  /**
   * Construct it.
   *
   * @param init Where and why.
   * @param options Standard error options (`cause`).
   */
  constructor(init: FirmwareFormatErrorInit, options?: ErrorOptions) {
    const where = init.file ?? "<bytes>";
    super(
      `${where}: ${init.field} at offset 0x${
        Math.max(0, init.offset).toString(16)
      }: ${init.reason}`,
      options,
    );
    this.file = init.file;
    this.offset = init.offset;
    this.field = init.field;
    this.reason = init.reason;
  }

  /**
   * The same error, naming `file`. Parsers work on bytes and do not know the
   * file name; the loader that read the file attaches it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FirmwareFormatError } from "./errors.ts";
   * const e = new FirmwareFormatError({ offset: 4, field: "x", reason: "bad" }).withFile("a.bin");
   * assert(e.file === "a.bin" && e.message.startsWith("a.bin:"));
   * ```
   */
  withFile(file: string): FirmwareFormatError {
    if (this.file === file) return this;
    return new FirmwareFormatError({
      file,
      offset: this.offset,
      field: this.field,
      reason: this.reason,
    }, { cause: this.cause });
  }
}

/** One firmware file a chip needs, and every place that was searched for it. */
export interface MissingFirmwareFile {
  /** Path relative to a firmware root, e.g. `nvidia/tu102/gsp/booter_load-570.144.bin`. */
  path: string;
  /** Every absolute path that was tried. */
  searched: string[];
}

/**
 * Firmware files a boot needs could not be found. The message lists every
 * missing file and every place it was looked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FirmwareNotFoundError } from "./errors.ts";
 * const e = new FirmwareNotFoundError([{ path: "nvidia/tu102/gsp/gsp-570.144.bin", searched: ["/lib/firmware/nvidia/tu102/gsp/gsp-570.144.bin"] }]);
 * assert(e.missing.length === 1 && e.message.includes("/lib/firmware"));
 * ```
 */
export class FirmwareNotFoundError extends FalconryError {
  /** The missing files. */
  readonly missing: MissingFirmwareFile[];

  /**
   * Construct it.
   *
   * @param missing Every missing file with the places searched.
   * @param hint What to do about it, appended to the message.
   */
  constructor(missing: MissingFirmwareFile[], hint?: string) {
    const lines = missing.map((m) =>
      `  ${m.path} (searched: ${m.searched.join(", ") || "nowhere"})`
    );
    super(
      `${missing.length} firmware file(s) missing:\n${lines.join("\n")}${hint ? `\n${hint}` : ""}`,
    );
    this.missing = missing;
  }
}

/**
 * A firmware file does not match the committed sha256 manifest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FirmwareChecksumError } from "./errors.ts";
 * const e = new FirmwareChecksumError("/x/gsp-570.144.bin", "aa", "bb");
 * assert(e.expected === "aa" && e.actual === "bb");
 * ```
 */
export class FirmwareChecksumError extends FalconryError {
  /**
   * Construct it.
   *
   * @param path The file that was checked.
   * @param expected The manifest's sha256 (hex).
   * @param actual The file's sha256 (hex).
   */
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${path}: sha256 ${actual} does not match the manifest (${expected})`);
  }
}

/** What an {@linkcode OsError} says about the failed call. */
export interface OsErrorInit {
  /** The libc call, e.g. `open` or `ioctl(VFIO_GROUP_GET_STATUS)`. */
  call: string;
  /** The errno value. */
  errno: number;
  /** Its symbolic name, e.g. `EBUSY`. */
  name: string;
  /** The path involved, if any. */
  path?: string;
  /** What the user can do about it. */
  hint?: string;
}

/**
 * A system call failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OsError } from "./errors.ts";
 * const e = new OsError({ call: "open", errno: 13, name: "EACCES", path: "/dev/vfio/12", hint: "needs root or CAP_SYS_ADMIN" });
 * assert(e.message.includes("EACCES") && e.message.includes("/dev/vfio/12"));
 * ```
 */
export class OsError extends FalconryError {
  /** The libc call. */
  readonly call: string;
  /** The errno value. */
  readonly errno: number;
  /** The symbolic errno name. */
  readonly errnoName: string;
  /** The path involved, if any. */
  readonly path?: string;

  /**
   * Construct it.
   *
   * @param init The failed call.
   */
  constructor(init: OsErrorInit) {
    super(
      `${init.call}${init.path ? ` ${init.path}` : ""} failed: ${init.name} (errno ${init.errno})${
        init.hint ? `; ${init.hint}` : ""
      }`,
    );
    this.call = init.call;
    this.errno = init.errno;
    this.errnoName = init.name;
    this.path = init.path;
  }
}

/**
 * A device is missing, busy, owned by another driver or otherwise unusable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceError } from "./errors.ts";
 * const e = new DeviceError("0000:01:00.0", "held by nouveau", "unbind it and bind vfio-pci");
 * assert(e.bdf === "0000:01:00.0" && e.message.includes("vfio-pci"));
 * ```
 */
export class DeviceError extends FalconryError {
  /**
   * Construct it.
   *
   * @param bdf PCI address, `DDDD:BB:DD.F`.
   * @param problem What is wrong.
   * @param todo What to do about it.
   */
  constructor(
    readonly bdf: string,
    readonly problem: string,
    readonly todo?: string,
  ) {
    super(`${bdf}: ${problem}${todo ? `; ${todo}` : ""}`);
  }
}

/**
 * A wait on hardware ran out of time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HardwareTimeoutError } from "./errors.ts";
 * const e = new HardwareTimeoutError("NV_PFALCON_FALCON_CPUCTL", 0x10, 2000);
 * assert(e.lastValue === 0x10 && e.message.includes("2000 ms"));
 * ```
 */
export class HardwareTimeoutError extends FalconryError {
  /**
   * Construct it.
   *
   * @param register The register (or condition) that was polled.
   * @param lastValue The last value read.
   * @param timeoutMs The timeout that expired.
   */
  constructor(
    readonly register: string,
    readonly lastValue: number,
    readonly timeoutMs: number,
  ) {
    super(
      `timed out after ${timeoutMs} ms waiting on ${register} (last value 0x${
        (lastValue >>> 0).toString(16).padStart(8, "0")
      })`,
    );
  }
}

/**
 * A boot step failed; `cause` holds the underlying error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BootError } from "./errors.ts";
 * const e = new BootError("fwsec-frts", new Error("MBOX0 = 0x1"));
 * assert(e.step === "fwsec-frts" && e.cause instanceof Error);
 * ```
 */
export class BootError extends FalconryError {
  /**
   * Construct it.
   *
   * @param step The boot step, e.g. `booter-load`.
   * @param cause What went wrong.
   */
  constructor(readonly step: string, cause: unknown) {
    super(
      `boot step ${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}
