// Assertions shared by the parser tests.

import assert from "node:assert/strict";
import { FirmwareFormatError } from "../errors.ts";

/**
 * Run `fn` and assert that it throws a FirmwareFormatError naming `field`
 * (and `offset`, when given). Returns the error for further checks.
 */
export function assertFormatError(
  fn: () => unknown,
  field: string,
  offset?: number,
): FirmwareFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FirmwareFormatError, `expected FirmwareFormatError, got ${caught}`);
  assert.equal(caught.field, field, caught.message);
  if (offset !== undefined) assert.equal(caught.offset, offset, caught.message);
  return caught;
}

/** The same check, for call sites that want no return value. */
export function throwsFormat(fn: () => unknown, field: string, offset?: number): void {
  assertFormatError(fn, field, offset);
}

/** A copy of `bytes` with the little-endian u32 at `offset` set to `value`. */
export function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(offset, value, true);
  return copy;
}

/** A DataView over exactly `bytes`. */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
