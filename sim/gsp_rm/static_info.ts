/**
 * The `GspStaticConfigInfo` payload GSP-RM returns for GET_GSP_STATIC_INFO,
 * naming the simulated board.
 *
 * Field offsets are NVIDIA's own ABI assertions (`gsp_abi_check.c`,
 * open-gpu-kernel-modules 570.144): `fb_length` at 1224, `gpuNameString`
 * (64 bytes, ASCII, NUL-terminated) at 1260, `gpuShortNameString` at 1324,
 * `gpuNameString_Unicode` (64 UTF-16 units) at 1388, `bVbiosValid` at 1552,
 * `vbiosSubVendor`/`vbiosSubDevice` at 1556/1560; the structure is at least
 * 1656 bytes. Every field the model does not know stays zero.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBoardName, staticInfoPayload } from "./static_info.ts";
 * const payload = staticInfoPayload({ boardName: "NVIDIA TITAN RTX", chip: "TU102" }, 1656);
 * assert.equal(readBoardName(payload), "NVIDIA TITAN RTX");
 * ```
 *
 * @module
 */

import { GSP_STATIC_CONFIG_INFO } from "./structs.ts";

/** What GSP-RM reports about the board. */
export interface BoardIdentity {
  /** Marketing name, e.g. "NVIDIA GeForce RTX 2080 Ti". */
  readonly boardName: string;
  /** Chip name, e.g. "TU102"; reported as the short name. */
  readonly chip: string;
  /** Framebuffer bytes (`fb_length`). */
  readonly fbSize?: bigint;
  /** PCI subsystem vendor id from the VBIOS. */
  readonly subsystemVendor?: number;
  /** PCI subsystem device id from the VBIOS. */
  readonly subsystemDevice?: number;
}

/**
 * Build the reply payload.
 *
 * @param board The board identity.
 * @param length The payload length the host sent (the reply keeps it); at
 *   least {@linkcode GSP_STATIC_CONFIG_INFO}.size.
 * @returns The payload.
 * @throws {RangeError} when `length` is too short for the structure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { staticInfoPayload } from "./static_info.ts";
 * assert.throws(() => staticInfoPayload({ boardName: "x", chip: "TU102" }, 100), RangeError);
 * ```
 */
export function staticInfoPayload(board: BoardIdentity, length: number): Uint8Array {
  const s = GSP_STATIC_CONFIG_INFO;
  if (length < s.size) {
    throw new RangeError(`GspStaticConfigInfo needs ${s.size} bytes, the host sent ${length}`);
  }
  const payload = new Uint8Array(length);
  const view = new DataView(payload.buffer);
  view.setBigUint64(s.fbLength, board.fbSize ?? 0n, true);
  writeAscii(payload, s.gpuNameString, board.boardName);
  writeAscii(payload, s.gpuShortNameString, board.chip);
  const units = [...board.boardName].slice(0, s.nameLength - 1);
  units.forEach((char, i) =>
    view.setUint16(s.gpuNameStringUnicode + i * 2, char.charCodeAt(0), true)
  );
  if (board.subsystemVendor !== undefined || board.subsystemDevice !== undefined) {
    view.setUint8(s.vbiosValid, 1);
    view.setUint32(s.vbiosSubVendor, board.subsystemVendor ?? 0, true);
    view.setUint32(s.vbiosSubDevice, board.subsystemDevice ?? 0, true);
  }
  return payload;
}

function writeAscii(bytes: Uint8Array, offset: number, text: string): void {
  const max = GSP_STATIC_CONFIG_INFO.nameLength - 1;
  for (let i = 0; i < Math.min(text.length, max); i++) {
    bytes[offset + i] = text.charCodeAt(i) & 0x7f;
  }
}

/**
 * Read `gpuNameString` back from a payload.
 *
 * @param payload A `GspStaticConfigInfo`.
 * @returns The name up to its NUL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBoardName } from "./static_info.ts";
 * assert.equal(readBoardName(new Uint8Array(1656)), "");
 * ```
 */
export function readBoardName(payload: Uint8Array): string {
  const s = GSP_STATIC_CONFIG_INFO;
  const field = payload.subarray(s.gpuNameString, s.gpuNameString + s.nameLength);
  const end = field.indexOf(0);
  return String.fromCharCode(...field.subarray(0, end < 0 ? field.length : end));
}
