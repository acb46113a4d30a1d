// The entry points of the ELF-based parsers take bytes or a ByteSource and an
// optional file name; this runs a parser over the source and puts that name
// on any FirmwareFormatError it throws, so that every error names its file.

import { FirmwareFormatError } from "../errors.ts";
import { bufferSource, type ByteSource } from "./byte_source.ts";

/**
 * Run `parse` over `source` (bytes are wrapped in a buffer source named
 * `file`) with the name `file ?? source.name`, and rethrow a
 * FirmwareFormatError with that name as its file.
 */
export function parseNamedSource<T>(
  source: ByteSource | Uint8Array,
  file: string | undefined,
  parse: (source: ByteSource, file: string | undefined) => T,
): T {
  const src = source instanceof Uint8Array ? bufferSource(source, file) : source;
  const name = file ?? src.name;
  try {
    return parse(src, name);
  } catch (e) {
    throw e instanceof FirmwareFormatError && name !== undefined ? e.withFile(name) : e;
  }
}
