/**
 * PCI configuration space through `pread`/`pwrite` on a file descriptor: the
 * sysfs `config` file, or a VFIO device descriptor at the config region's
 * offset.
 *
 * @example Config space over a plain file
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileConfigSpace } from "./config_space.ts";
 * import { O_RDWR, openFile } from "./libc.ts";
 * const path = Deno.makeTempFileSync();
 * Deno.writeFileSync(path, new Uint8Array(256));
 * using file = openFile(path, O_RDWR);
 * const config = new FileConfigSpace(file.fd, { size: 256, bdf: "0000:01:00.0", path });
 * config.write16(0x04, 0x0006);
 * assert(config.read32(0x04) === 0x0006);
 * ```
 *
 * @module
 */

import { DeviceError } from "../errors.ts";
import type { ConfigSpace } from "./device.ts";
import { pread, pwrite } from "./libc.ts";

/** Where a {@linkcode FileConfigSpace} lives. */
export interface FileConfigSpaceOptions {
  /** Size in bytes: 256, or 4096 for PCI Express. */
  size: number;
  /** Offset of config space within the file (VFIO: the config region's offset). Defaults to 0. */
  base?: number | bigint;
  /** Refuse writes. */
  readOnly?: boolean;
  /** PCI address, for errors. */
  bdf: string;
  /** File, for errors. */
  path: string;
}

/**
 * {@linkcode ConfigSpace} over a file descriptor it does not own. Dispose it
 * before closing the descriptor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileConfigSpace } from "./config_space.ts";
 * import { O_RDONLY, openFile } from "./libc.ts";
 * const path = Deno.makeTempFileSync();
 * Deno.writeFileSync(path, new Uint8Array([0xde, 0x10, 0x07, 0x1e]));
 * using file = openFile(path, O_RDONLY);
 * using config = new FileConfigSpace(file.fd, { size: 4, bdf: "0000:01:00.0", path, readOnly: true });
 * assert(config.read16(0) === 0x10de && config.read16(2) === 0x1e07);
 * ```
 */
export class FileConfigSpace implements ConfigSpace, Disposable {
  #fd: number;
  readonly #base: bigint;
  readonly #scratch = new Uint8Array(4);
  readonly #view = new DataView(this.#scratch.buffer);
  /** Size in bytes. */
  readonly size: number;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  /** PCI address. */
  readonly bdf: string;
  /** The file, for messages. */
  readonly path: string;

  /**
   * Use `fd` for config accesses.
   *
   * @param fd Open descriptor (read-only is enough when `readOnly`).
   * @param options Size, base offset, read-only, names for errors.
   */
  constructor(fd: number, options: FileConfigSpaceOptions) {
    this.#fd = fd;
    this.#base = BigInt(options.base ?? 0);
    this.size = options.size;
    this.readOnly = options.readOnly ?? false;
    this.bdf = options.bdf;
    this.path = options.path;
  }

  /**
   * Read a byte.
   * @param offset Byte offset.
   * @returns The value.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileConfigSpace } from "./config_space.ts";
   * import { O_RDONLY, openFile } from "./libc.ts";
   * using f = openFile("/dev/zero", O_RDONLY);
   * assert(new FileConfigSpace(f.fd, { size: 256, bdf: "x", path: "/dev/zero" }).read8(8) === 0);
   * ```
   */
  read8(offset: number): number {
    return this.#read(offset, 1);
  }

  /**
   * Read a little-endian 16-bit word.
   * @param offset Byte offset, even.
   * @returns The value.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileConfigSpace } from "./config_space.ts";
   * import { O_RDONLY, openFile } from "./libc.ts";
   * using f = openFile("/dev/zero", O_RDONLY);
   * assert(new FileConfigSpace(f.fd, { size: 256, bdf: "x", path: "/dev/zero" }).read16(2) === 0);
   * ```
   */
  read16(offset: number): number {
    return this.#read(offset, 2);
  }

  /**
   * Read a little-endian 32-bit word.
   * @param offset Byte offset, a multiple of 4.
   * @returns The value.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FileConfigSpace } from "./config_space.ts";
   * import { O_RDONLY, openFile } from "./libc.ts";
   * using f = openFile("/dev/zero", O_RDONLY);
   * assert(new FileConfigSpace(f.fd, { size: 256, bdf: "x", path: "/dev/zero" }).read32(4) === 0);
   * ```
   */
  read32(offset: number): number {
    return this.#read(offset, 4);
  }

  /**
   * Write a byte.
   * @param offset Byte offset.
   * @param value 0 … 0xff.
   * @example
   * ```ts
   * import { FileConfigSpace } from "./config_space.ts";
   * import { O_WRONLY, openFile } from "./libc.ts";
   * using f = openFile("/dev/null", O_WRONLY);
   * new FileConfigSpace(f.fd, { size: 256, bdf: "x", path: "/dev/null" }).write8(0x0c, 0x10);
   * ```
   */
  write8(offset: number, value: number): void {
    this.#write(offset, 1, value);
  }

  /**
   * Write a little-endian 16-bit word.
   * @param offset Byte offset, even.
   * @param value 0 … 0xffff.
   * @example
   * ```ts
   * import { FileConfigSpace } from "./config_space.ts";
   * import { O_WRONLY, openFile } from "./libc.ts";
   * using f = openFile("/dev/null", O_WRONLY);
   * new FileConfigSpace(f.fd, { size: 256, bdf: "x", path: "/dev/null" }).write16(0x04, 0x0006);
   * ```
   */
  write16(offset: number, value: number): void {
    this.#write(offset, 2, value);
  }

  /**
   * Write a little-endian 32-bit word.
   * @param offset Byte offset, a multiple of 4.
   * @param value A 32-bit value.
   * @example
   * ```ts
   * import { FileConfigSpace } from "./config_space.ts";
   * import { O_WRONLY, openFile } from "./libc.ts";
   * using f = openFile("/dev/null", O_WRONLY);
   * new FileConfigSpace(f.fd, { size: 256, bdf: "x", path: "/dev/null" }).write32(0x10, 0xffffffff);
   * ```
   */
  write32(offset: number, value: number): void {
    this.#write(offset, 4, value);
  }

  /** Refuse all further access; the descriptor's owner closes it. */
  [Symbol.dispose](): void {
    this.#fd = -1;
  }

  #check(offset: number, width: number): void {
    if (this.#fd < 0) throw new RangeError(`${this.bdf} config space is closed`);
    if (!Number.isInteger(offset) || offset < 0 || offset + width > this.size || offset % width) {
      throw new RangeError(
        `${this.bdf} config space: ${width}-byte access at ${offset} is not aligned inside 0x${
          this.size.toString(16)
        } bytes`,
      );
    }
  }

  #read(offset: number, width: 1 | 2 | 4): number {
    this.#check(offset, width);
    const bytes = this.#scratch.subarray(0, width);
    const n = pread(this.#fd, bytes, this.#base + BigInt(offset), this.path);
    if (n !== width) {
      throw new DeviceError(
        this.bdf,
        `config space read at 0x${offset.toString(16)} returned ${n} of ${width} bytes`,
        "reading beyond the first 64 bytes through sysfs needs root or CAP_SYS_ADMIN",
      );
    }
    return width === 1
      ? this.#view.getUint8(0)
      : width === 2
      ? this.#view.getUint16(0, true)
      : this.#view.getUint32(0, true);
  }

  #write(offset: number, width: 1 | 2 | 4, value: number): void {
    this.#check(offset, width);
    const limit = 2 ** (8 * width);
    if (!Number.isInteger(value) || value < -(limit / 2) || value >= limit) {
      throw new RangeError(`${this.bdf} config space: ${value} does not fit ${width} bytes`);
    }
    if (this.readOnly) {
      throw new DeviceError(
        this.bdf,
        `opened read-only; refused a config space write at 0x${offset.toString(16)}`,
        "open the device with readOnly: false to write",
      );
    }
    if (width === 1) this.#view.setUint8(0, value & 0xff);
    else if (width === 2) this.#view.setUint16(0, value & 0xffff, true);
    else this.#view.setUint32(0, value >>> 0, true);
    const bytes = this.#scratch.subarray(0, width);
    const n = pwrite(this.#fd, bytes, this.#base + BigInt(offset), this.path);
    if (n !== width) {
      throw new DeviceError(
        this.bdf,
        `config space write at 0x${offset.toString(16)} took ${n} of ${width} bytes`,
      );
    }
  }
}
