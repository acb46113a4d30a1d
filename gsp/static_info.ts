/**
 * GET_GSP_STATIC_INFO: after GSP_INIT_DONE the driver sends a zeroed
 * `GspStaticConfigInfo` and GSP-RM answers with it filled: the board's
 * names, the framebuffer size, the VBIOS subsystem ids and much more.
 *
 * Offsets of the fields read here: NVIDIA 570.144 `gsp_static_config.h`,
 * pinned by `gsp_abi_check.c` (`fb_length` u64 at 1224, `gpuNameString`
 * 64 bytes at 1260, `gpuShortNameString` 64 bytes at 1324,
 * `gpuNameString_Unicode` 64 UTF-16 units at 1388, `bVbiosValid` at 1552,
 * `vbiosSubVendor`/`vbiosSubDevice` at 1556/1560; the last field,
 * `fwWprLayoutOffset` 16 bytes at 1640, ends the 1656-byte structure).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeGspStaticInfo, GSP_STATIC_CONFIG_INFO } from "./static_info.ts";
 * const payload = new Uint8Array(GSP_STATIC_CONFIG_INFO.size);
 * payload.set(new TextEncoder().encode("NVIDIA TITAN RTX"), GSP_STATIC_CONFIG_INFO.gpuNameString);
 * assert.equal(decodeGspStaticInfo(payload).name, "NVIDIA TITAN RTX");
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";
import type { GspMessageQueues, WaitOptions } from "./msgq.ts";
import { RPC_FUNCTION } from "./rpc.ts";

/** `GspStaticConfigInfo` offsets (570.144). */
export const GSP_STATIC_CONFIG_INFO = {
  size: 1656,
  fbLength: 1224,
  gpuNameString: 1260,
  gpuShortNameString: 1324,
  gpuNameStringUnicode: 1388,
  /** `NV2080_GPU_MAX_NAME_STRING_LENGTH`. */
  nameLength: 64,
  bVbiosValid: 1552,
  vbiosSubVendor: 1556,
  vbiosSubDevice: 1560,
} as const;

/** What the driver reads from the static info. */
export interface GspStaticInfo {
  /** `gpuNameString`: the board's name ("NVIDIA GeForce RTX 2080 Ti"). */
  readonly name: string;
  /** `gpuShortNameString`. */
  readonly shortName: string;
  /** `gpuNameString_Unicode`. */
  readonly unicodeName: string;
  /** `fb_length`: framebuffer bytes. */
  readonly fbLength: bigint;
  /** The VBIOS's subsystem ids, when `bVbiosValid`. */
  readonly vbios?: { readonly subsystemVendor: number; readonly subsystemDevice: number };
  /** The whole payload, for fields not decoded here. */
  readonly raw: Uint8Array;
}

/** A reply too short to be a `GspStaticConfigInfo`. */
export class GspStaticInfoError extends FalconryError {
  /**
   * Construct it.
   *
   * @param length The reply's payload length.
   */
  constructor(readonly length: number) {
    super(
      `GET_GSP_STATIC_INFO reply: payload is ${length} bytes; GspStaticConfigInfo is ` +
        `${GSP_STATIC_CONFIG_INFO.size}`,
    );
  }
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  const field = bytes.subarray(at, at + length);
  const end = field.indexOf(0);
  return String.fromCharCode(...field.subarray(0, end < 0 ? length : end).map((b) => b & 0x7f));
}

/**
 * Decode the fields the driver uses.
 *
 * @param payload The reply's payload.
 * @returns The static info.
 * @throws {GspStaticInfoError} when the payload is too short.
 */
export function decodeGspStaticInfo(payload: Uint8Array): GspStaticInfo {
  const s = GSP_STATIC_CONFIG_INFO;
  if (payload.length < s.size) throw new GspStaticInfoError(payload.length);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const units: number[] = [];
  for (let i = 0; i < s.nameLength; i++) {
    const unit = v.getUint16(s.gpuNameStringUnicode + 2 * i, true);
    if (unit === 0) break;
    units.push(unit);
  }
  return {
    name: ascii(payload, s.gpuNameString, s.nameLength),
    shortName: ascii(payload, s.gpuShortNameString, s.nameLength),
    unicodeName: String.fromCharCode(...units),
    fbLength: v.getBigUint64(s.fbLength, true),
    vbios: v.getUint8(s.bVbiosValid)
      ? {
        subsystemVendor: v.getUint32(s.vbiosSubVendor, true),
        subsystemDevice: v.getUint32(s.vbiosSubDevice, true),
      }
      : undefined,
    raw: payload,
  };
}

/**
 * Ask GSP-RM for its static info and wait for the reply.
 *
 * @param queues The message queues.
 * @param options Signal and per-message timeout (default 5 s).
 * @returns The decoded info.
 * @throws {RpcError} when the reply's result is not success.
 */
export async function getGspStaticInfo(
  queues: GspMessageQueues,
  options: WaitOptions = {},
): Promise<GspStaticInfo> {
  const reply = await queues.call(
    RPC_FUNCTION.GET_GSP_STATIC_INFO,
    new Uint8Array(GSP_STATIC_CONFIG_INFO.size),
    options,
  );
  return decodeGspStaticInfo(reply.payload);
}
