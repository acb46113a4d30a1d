/**
 * RPC function and event numbers, result codes and the 32-byte RPC header
 * (`rpc_message_header_v03_00`) as GSP-RM reads and writes them.
 *
 * Sources: `src/nvidia/inc/kernel/vgpu/rpc_global_enums.h` (functions,
 * events) and `src/nvidia/inc/kernel/vgpu/rpc_headers.h` (header version,
 * signature, `NV_VGPU_MSG_RESULT_*`) of NVIDIA's open-gpu-kernel-modules
 * 570.144; `kernel-open/common/inc/nvstatuscodes.h` for the NV_STATUS values; reference §5.2–§5.3.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRpcHeader, encodeRpcHeader, RPC_FUNCTION } from "./rpc.ts";
 * const bytes = encodeRpcHeader({ function: RPC_FUNCTION.GET_GSP_STATIC_INFO, payloadLength: 8 });
 * const header = decodeRpcHeader(bytes, 0);
 * assert.equal(header.length, 40);
 * assert.equal(header.function, 65);
 * assert.equal(header.rpcResult, 0xffffffff);
 * ```
 *
 * @module
 */

import { RPC_HEADER } from "./structs.ts";

/** RPC functions (host → GSP commands, and the replies that carry the same number). */
export const RPC_FUNCTION = {
  NOP: 0,
  UNLOADING_GUEST_DRIVER: 47,
  GET_GSP_STATIC_INFO: 65,
  CONTINUATION_RECORD: 71,
  GSP_SET_SYSTEM_INFO: 72,
  SET_REGISTRY: 73,
  GSP_RM_CONTROL: 76,
  GSP_RM_ALLOC: 103,
  /** `NV_VGPU_MSG_FUNCTION_NUM_FUNCTIONS`: every function is below this. */
  NUM_FUNCTIONS: 227,
} as const;

/** RPC events (GSP → host, unsolicited). */
export const RPC_EVENT = {
  GSP_INIT_DONE: 0x1001,
  GSP_RUN_CPU_SEQUENCER: 0x1002,
  POST_EVENT: 0x1003,
  RC_TRIGGERED: 0x1004,
  OS_ERROR_LOG: 0x1006,
  UCODE_LIBOS_PRINT: 0x100c,
  GSP_LOCKDOWN_NOTICE: 0x101c,
  GSP_POST_NOCAT_RECORD: 0x1020,
} as const;

/** `rpc_result` values the model writes (`NV_VGPU_MSG_RESULT_*` = NV_STATUS below 0xff000000). */
export const RPC_RESULT = {
  SUCCESS: 0,
  /** `NV_ERR_INVALID_PARAM_STRUCT` (nvstatuscodes.h). */
  INVALID_PARAM_STRUCT: 0x0000_003a,
  /** `NV_ERR_INVALID_STATE` (nvstatuscodes.h). */
  INVALID_STATE: 0x0000_0040,
  /** `NV_VGPU_MSG_RESULT_RPC_UNKNOWN_FUNCTION`. */
  RPC_UNKNOWN_FUNCTION: 0xff10_0001,
  /** `NV_VGPU_MSG_RESULT_RPC_INVALID_MESSAGE_FORMAT`. */
  RPC_INVALID_MESSAGE_FORMAT: 0xff10_0002,
  /** `NV_VGPU_MSG_RESULT_RPC_PENDING`: what a sender puts in before the reply. */
  RPC_PENDING: 0xffff_ffff,
} as const;

/** A decoded RPC header. */
export interface RpcHeader {
  /** `header_version` (3.0 = 0x03000000). */
  readonly headerVersion: number;
  /** `signature` ("VRPC" = 0x43505256). */
  readonly signature: number;
  /** `length`: header (32) + payload bytes. */
  readonly length: number;
  /** `function`: an RPC function or event number. */
  readonly function: number;
  /** `rpc_result`. */
  readonly rpcResult: number;
  /** `rpc_result_private`. */
  readonly rpcResultPrivate: number;
  /** `sequence`. */
  readonly sequence: number;
}

/** What {@linkcode encodeRpcHeader} needs. */
export interface RpcHeaderInit {
  /** Function or event number. */
  function: number;
  /** Payload bytes after the header. */
  payloadLength: number;
  /** `rpc_result`; a sender leaves `RPC_PENDING`, a reply carries the status. */
  rpcResult?: number;
  /** `rpc_result_private`; defaults to `rpcResult`. */
  rpcResultPrivate?: number;
  /** `sequence`; 0 unless echoing a command's. */
  sequence?: number;
}

/**
 * Encode a 32-byte RPC header.
 *
 * @param init Function, payload length and result.
 * @returns The header bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRpcHeader, RPC_EVENT } from "./rpc.ts";
 * const h = encodeRpcHeader({ function: RPC_EVENT.GSP_INIT_DONE, payloadLength: 0, rpcResult: 0 });
 * assert.equal(new DataView(h.buffer).getUint32(4, true), 0x43505256);
 * ```
 */
export function encodeRpcHeader(init: RpcHeaderInit): Uint8Array {
  const bytes = new Uint8Array(RPC_HEADER.size);
  const view = new DataView(bytes.buffer);
  const result = init.rpcResult ?? 0xffff_ffff;
  view.setUint32(RPC_HEADER.headerVersion, RPC_HEADER.version, true);
  view.setUint32(RPC_HEADER.signature, RPC_HEADER.signatureValid, true);
  view.setUint32(RPC_HEADER.length, RPC_HEADER.size + init.payloadLength, true);
  view.setUint32(RPC_HEADER.function, init.function, true);
  view.setUint32(RPC_HEADER.rpcResult, result >>> 0, true);
  view.setUint32(RPC_HEADER.rpcResultPrivate, (init.rpcResultPrivate ?? result) >>> 0, true);
  view.setUint32(RPC_HEADER.sequence, init.sequence ?? 0, true);
  return bytes;
}

/**
 * Decode the RPC header at `offset`.
 *
 * @param bytes Bytes holding the header.
 * @param offset Where it starts.
 * @returns Its fields; nothing is validated here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRpcHeader } from "./rpc.ts";
 * assert.equal(decodeRpcHeader(new Uint8Array(32), 0).signature, 0);
 * ```
 */
export function decodeRpcHeader(bytes: Uint8Array, offset: number): RpcHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RPC_HEADER.size);
  return {
    headerVersion: view.getUint32(RPC_HEADER.headerVersion, true),
    signature: view.getUint32(RPC_HEADER.signature, true),
    length: view.getUint32(RPC_HEADER.length, true),
    function: view.getUint32(RPC_HEADER.function, true),
    rpcResult: view.getUint32(RPC_HEADER.rpcResult, true),
    rpcResultPrivate: view.getUint32(RPC_HEADER.rpcResultPrivate, true),
    sequence: view.getUint32(RPC_HEADER.sequence, true),
  };
}

/**
 * The name of a function or event number, for logs and violation records.
 *
 * @param value A function or event number.
 * @returns Its name, or `0x…` when the model does not know it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rpcName } from "./rpc.ts";
 * assert.equal(rpcName(72), "GSP_SET_SYSTEM_INFO");
 * assert.equal(rpcName(0x1002), "GSP_RUN_CPU_SEQUENCER");
 * assert.equal(rpcName(9999), "0x270f");
 * ```
 */
export function rpcName(value: number): string {
  for (const table of [RPC_FUNCTION, RPC_EVENT]) {
    for (const [name, number] of Object.entries(table)) {
      if (number === value && name !== "NUM_FUNCTIONS") return name;
    }
  }
  return `0x${value.toString(16)}`;
}
