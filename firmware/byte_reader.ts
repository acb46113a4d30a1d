/**
 * A bounds-checked little-endian reader over a `Uint8Array`.
 *
 * Every read checks its range first and throws a
 * {@linkcode FirmwareFormatError} naming the file, the absolute offset and
 * the field, so that a parser built on it cannot read out of bounds.
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";

// Spread into String.fromCharCode overflows the stack on long inputs; a decoder does not.
const LATIN1 = new TextDecoder("latin1");

/** Options for {@linkcode ByteReader}. */
export interface ByteReaderOptions {
  /** File name reported in errors. */
  file?: string;
  /**
   * Offset of `bytes[0]` within the file, so that errors raised while parsing
   * a slice still report file offsets. Defaults to 0.
   */
  base?: number;
}

/**
 * Bounds-checked little-endian reads. Offsets are relative to the reader's
 * bytes; errors report `base + offset`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteReader } from "./byte_reader.ts";
 * const r = new ByteReader(new Uint8Array([0xde, 0x10, 0, 0, 1, 0, 0, 0]), { file: "x.bin" });
 * assert(r.u32(0, "magic") === 0x10de);
 * assert(r.u16(4, "version") === 1);
 * try { r.u32(6, "size"); } catch (e) { assert(e instanceof Error); }
 * ```
 */
export class ByteReader {
  /** The bytes read. */
  readonly bytes: Uint8Array;
  /** File name for errors. */
  readonly file?: string;
  /** File offset of `bytes[0]`. */
  readonly base: number;
  readonly #view: DataView;

  /**
   * Construct it.
   *
   * @param bytes The bytes to read; not copied.
   * @param options File name and base offset for errors.
   */
  constructor(bytes: Uint8Array, options: ByteReaderOptions = {}) {
    this.bytes = bytes;
    this.file = options.file;
    this.base = options.base ?? 0;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Number of bytes. */
  get length(): number {
    return this.bytes.byteLength;
  }

  /**
   * Throw a {@linkcode FirmwareFormatError} at `offset` (relative to this reader).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * const r = new ByteReader(new Uint8Array(4), { file: "f", base: 16 });
   * try { r.fail(2, "x", "bad"); } catch (e) { assert((e as { offset: number }).offset === 18); }
   * ```
   */
  fail(offset: number, field: string, reason: string): never {
    throw new FirmwareFormatError({
      file: this.file,
      offset: this.base + (Number.isFinite(offset) ? offset : 0),
      field,
      reason,
    });
  }

  /**
   * Check that `[offset, offset + length)` lies within the bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * const r = new ByteReader(new Uint8Array(8));
   * r.check(4, 4, "tail");
   * let threw = false;
   * try { r.check(4, 5, "tail"); } catch { threw = true; }
   * assert(threw);
   * ```
   */
  check(offset: number, length: number, field: string): void {
    if (
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) ||
      offset < 0 || length < 0 || offset + length > this.bytes.byteLength
    ) {
      this.fail(
        offset,
        field,
        `range 0x${hex(offset)}+0x${hex(length)} is outside the ${this.bytes.byteLength}-byte ${
          this.base === 0 ? "input" : `region at 0x${hex(this.base)}`
        }`,
      );
    }
  }

  /**
   * Unsigned 8-bit read.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * assert(new ByteReader(new Uint8Array([7])).u8(0, "b") === 7);
   * ```
   */
  u8(offset: number, field: string): number {
    this.check(offset, 1, field);
    return this.bytes[offset];
  }

  /**
   * Unsigned little-endian 16-bit read.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * assert(new ByteReader(new Uint8Array([0x55, 0xaa])).u16(0, "sig") === 0xaa55);
   * ```
   */
  u16(offset: number, field: string): number {
    this.check(offset, 2, field);
    return this.#view.getUint16(offset, true);
  }

  /**
   * Unsigned little-endian 32-bit read.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * assert(new ByteReader(new Uint8Array([1, 0, 0, 0x80])).u32(0, "w") === 0x80000001);
   * ```
   */
  u32(offset: number, field: string): number {
    this.check(offset, 4, field);
    return this.#view.getUint32(offset, true);
  }

  /**
   * Unsigned little-endian 64-bit read as a `bigint`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * assert(new ByteReader(new Uint8Array(8).fill(0xff)).u64(0, "q") === 0xffffffffffffffffn);
   * ```
   */
  u64(offset: number, field: string): bigint {
    this.check(offset, 8, field);
    return this.#view.getBigUint64(offset, true);
  }

  /**
   * Unsigned little-endian 64-bit read that must fit a safe integer (offsets,
   * sizes). Larger values are a format error, never a silent rounding.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * assert(new ByteReader(new Uint8Array([0, 1, 0, 0, 0, 0, 0, 0])).u64Number(0, "off") === 256);
   * ```
   */
  u64Number(offset: number, field: string): number {
    const v = this.u64(offset, field);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.fail(offset, field, `value 0x${v.toString(16)} is too large for an offset or size`);
    }
    return Number(v);
  }

  /**
   * A view of `length` bytes at `offset` (no copy).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * const b = new ByteReader(new Uint8Array([1, 2, 3, 4])).bytesAt(1, 2, "mid");
   * assert(b.length === 2 && b[0] === 2);
   * ```
   */
  bytesAt(offset: number, length: number, field: string): Uint8Array {
    this.check(offset, length, field);
    return this.bytes.subarray(offset, offset + length);
  }

  /**
   * A reader over `length` bytes at `offset` whose errors still report file offsets.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * const sub = new ByteReader(new Uint8Array(16), { base: 0x100 }).sub(8, 8, "section");
   * assert(sub.base === 0x108 && sub.length === 8);
   * ```
   */
  sub(offset: number, length: number, field: string): ByteReader {
    const bytes = this.bytesAt(offset, length, field);
    return new ByteReader(bytes, { file: this.file, base: this.base + offset });
  }

  /**
   * `length` bytes at `offset` as Latin-1 text (for magics and tags).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * assert(new ByteReader(new TextEncoder().encode("NVGI")).ascii(0, 4, "magic") === "NVGI");
   * ```
   */
  ascii(offset: number, length: number, field: string): string {
    return LATIN1.decode(this.bytesAt(offset, length, field));
  }

  /**
   * A NUL-terminated string starting at `offset`, at most `maxLength` bytes
   * long (the terminator must appear within the bytes and the limit).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteReader } from "./byte_reader.ts";
   * const r = new ByteReader(new TextEncoder().encode(".text\0.data\0"));
   * assert(r.cstring(6, 64, "name") === ".data");
   * ```
   */
  cstring(offset: number, maxLength: number, field: string): string {
    this.check(offset, 0, field);
    const end = Math.min(this.bytes.byteLength, offset + maxLength);
    const nul = this.bytes.subarray(offset, end).indexOf(0);
    if (nul < 0) this.fail(offset, field, `no NUL terminator within ${end - offset} bytes`);
    return LATIN1.decode(this.bytes.subarray(offset, offset + nul));
  }
}

/**
 * `n` in lower-case hex without a prefix, for error messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hex } from "./byte_reader.ts";
 * assert(hex(255) === "ff" && hex(16n) === "10");
 * ```
 */
export function hex(n: number | bigint): string {
  return typeof n === "bigint"
    ? n.toString(16)
    : Number.isFinite(n)
    ? (n < 0 ? "-" + (-n).toString(16) : n.toString(16))
    : String(n);
}
