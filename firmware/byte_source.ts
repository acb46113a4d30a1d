/**
 * Random-access byte sources: what the VBIOS and ELF parsers read from, so
 * that the same code reads a buffer, a file, or a live GPU's PROM window and
 * fetches only the bytes it needs.
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";

/**
 * A random-access source of bytes. `read` returns exactly `length` bytes or
 * throws; callers check ranges against `size` first.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Name for error messages (a file name, `PROM`, …). */
  readonly name?: string;
  /** Read `length` bytes at `offset`. */
  read(offset: number, length: number): Uint8Array;
}

/**
 * A source over an in-memory buffer (no copy).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bufferSource } from "./byte_source.ts";
 * const src = bufferSource(new Uint8Array([1, 2, 3]), "x.rom");
 * assert(src.size === 3 && src.read(1, 2)[1] === 3);
 * ```
 */
export function bufferSource(bytes: Uint8Array, name?: string): ByteSource {
  return {
    size: bytes.byteLength,
    name,
    read(offset: number, length: number): Uint8Array {
      checkRange(this, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A {@linkcode ByteSource} that counts what was read through it. */
export interface CountingSource extends ByteSource {
  /** Bytes read so far. */
  readonly bytesRead: number;
  /** Number of `read` calls so far. */
  readonly reads: number;
}

/**
 * Wrap a source to count the bytes read through it (to show that a parser
 * touches only what it needs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bufferSource, countingSource } from "./byte_source.ts";
 * const src = countingSource(bufferSource(new Uint8Array(1024)));
 * src.read(0, 16);
 * assert(src.bytesRead === 16 && src.reads === 1);
 * ```
 */
export function countingSource(inner: ByteSource): CountingSource {
  let bytesRead = 0;
  let reads = 0;
  return {
    get size() {
      return inner.size;
    },
    get name() {
      return inner.name;
    },
    get bytesRead() {
      return bytesRead;
    },
    get reads() {
      return reads;
    },
    read(offset: number, length: number): Uint8Array {
      const out = inner.read(offset, length);
      bytesRead += length;
      reads++;
      return out;
    },
  };
}

/**
 * Throw a {@linkcode FirmwareFormatError} unless `[offset, offset+length)`
 * lies within `source`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bufferSource, checkRange } from "./byte_source.ts";
 * let threw = false;
 * try { checkRange(bufferSource(new Uint8Array(4)), 2, 4, "x"); } catch { threw = true; }
 * assert(threw);
 * ```
 */
export function checkRange(
  source: Pick<ByteSource, "size" | "name">,
  offset: number,
  length: number,
  field = "read",
): void {
  if (
    !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 ||
    length < 0 || offset + length > source.size
  ) {
    throw new FirmwareFormatError({
      file: source.name,
      offset: Number.isFinite(offset) ? offset : 0,
      field,
      reason: `range 0x${offset.toString(16)}+0x${
        length.toString(16)
      } is outside the ${source.size}-byte source`,
    });
  }
}
