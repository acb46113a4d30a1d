// Bounded reads from a ByteSource for the VBIOS parsers: every read names the
// field it is for and the region it must stay inside, fetches exactly the bytes
// asked for, and hands back a ByteReader whose errors report absolute offsets.

import { FirmwareFormatError } from "../../errors.ts";
import { ByteReader, hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";

/** A byte range of a source that a structure must lie inside. */
export interface Region {
  /** Absolute offset of the first byte. */
  offset: number;
  /** Length in bytes. */
  size: number;
  /** What the range is, for error messages (`PC-AT image`, `FWSEC section`). */
  name: string;
}

/** The whole source as a region. */
export function wholeSource(source: ByteSource): Region {
  return { offset: 0, size: source.size, name: "source" };
}

/** Throw a FirmwareFormatError for `source` at an absolute offset. */
export function failAt(source: ByteSource, offset: number, field: string, reason: string): never {
  throw new FirmwareFormatError({
    file: source.name,
    offset: Number.isFinite(offset) ? offset : 0,
    field,
    reason,
  });
}

/** Whether `[offset, offset + length)` lies inside `region`. */
export function inRegion(region: Region, offset: number, length: number): boolean {
  return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 &&
    length >= 0 && offset >= region.offset && offset + length <= region.offset + region.size;
}

/**
 * Read `length` bytes at absolute `offset`, which must lie inside `region` and
 * the source, and wrap them in a ByteReader based at `offset`.
 */
export function readIn(
  source: ByteSource,
  region: Region,
  offset: number,
  length: number,
  field: string,
): ByteReader {
  if (!inRegion(region, offset, length) || offset + length > source.size) {
    failAt(
      source,
      offset,
      field,
      `range 0x${hex(offset)}+0x${hex(length)} is outside the ${region.name} ` +
        `(0x${hex(region.offset)}+0x${hex(region.size)}) or the ${source.size}-byte source`,
    );
  }
  const bytes = length === 0 ? new Uint8Array(0) : source.read(offset, length);
  if (bytes.byteLength !== length) {
    failAt(source, offset, field, `source returned ${bytes.byteLength} bytes, expected ${length}`);
  }
  return new ByteReader(bytes, { file: source.name, base: offset });
}
