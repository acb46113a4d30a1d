/**
 * GSP RPC vocabulary: the function and event numbers the boot uses, the
 * 32-byte RPC header (`rpc_message_header_v03_00`), the result codes a reply
 * carries, and {@linkcode RpcError} for a reply that is not a success.
 *
 * Sources (NVIDIA open-gpu-kernel-modules at tag 570.144):
 * - function and event numbers: `src/nvidia/inc/kernel/vgpu/rpc_global_enums.h`,
 *   pinned by `src/nvidia/interface/gsp_abi_check.c`;
 * - the header: `src/nvidia/generated/g_rpc-message-header.h` and
 *   `src/nvidia/inc/kernel/vgpu/rpc_headers.h` (`NV_VGPU_MSG_HEADER_VERSION_*`,
 *   `NV_VGPU_MSG_SIGNATURE_VALID`);
 * - results: `NV_VGPU_MSG_RESULT_*` in `rpc_headers.h`; below `0xff000000` a
 *   result is an `NV_STATUS` (`src/common/sdk/nvidia/inc/nvstatuscodes.h`),
 *   as `_issueRpcAndWait` in `src/nvidia/src/kernel/vgpu/rpc.c` treats it.
 * Cross-checked with `../shared/reference/nova-core-boot.md` §5.2–§5.3.
 *
 * @example Encode a header, decode it back
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRpcHeader, encodeRpcHeader, RPC_FUNCTION, rpcName } from "./rpc.ts";
 * const bytes = encodeRpcHeader(RPC_FUNCTION.SET_REGISTRY, 24);
 * const header = decodeRpcHeader(bytes);
 * assert.equal(header.length, 32 + 24);
 * assert.equal(rpcName(header.function), "SET_REGISTRY");
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** RPC functions (driver → GSP commands; a reply carries the same number). */
export const RPC_FUNCTION = {
  NOP: 0,
  UNLOADING_GUEST_DRIVER: 47,
  GET_GSP_STATIC_INFO: 65,
  /** Carries the rest of a command too large for one queue element. */
  CONTINUATION_RECORD: 71,
  GSP_SET_SYSTEM_INFO: 72,
  SET_REGISTRY: 73,
  GSP_RM_CONTROL: 76,
} as const;

/** RPC events (GSP → driver, unsolicited). */
export const RPC_EVENT = {
  GSP_INIT_DONE: 0x1001,
  GSP_RUN_CPU_SEQUENCER: 0x1002,
  POST_EVENT: 0x1003,
  RC_TRIGGERED: 0x1004,
  MMU_FAULT_QUEUED: 0x1005,
  OS_ERROR_LOG: 0x1006,
  UCODE_LIBOS_PRINT: 0x100c,
  GSP_LOCKDOWN_NOTICE: 0x101c,
  GSP_POST_NOCAT_RECORD: 0x1020,
} as const;

/** A known function or event number. */
export type RpcNumber =
  | (typeof RPC_FUNCTION)[keyof typeof RPC_FUNCTION]
  | (typeof RPC_EVENT)[keyof typeof RPC_EVENT];

/**
 * Name of a function or event number, or its hex form when unknown.
 *
 * @param value Function or event number.
 * @returns E.g. `GSP_INIT_DONE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rpcName } from "./rpc.ts";
 * assert.equal(rpcName(0x1002), "GSP_RUN_CPU_SEQUENCER");
 * assert.equal(rpcName(999), "0x3e7");
 * ```
 */
export function rpcName(value: number): string {
  return NAMES.get(value) ?? `0x${value.toString(16)}`;
}

const NAMES = new Map<number, string>(
  [...Object.entries(RPC_FUNCTION), ...Object.entries(RPC_EVENT)].map(([k, v]) => [v, k]),
);

/** `rpc_message_header_v03_00`: 32 bytes before every payload. */
export const RPC_HEADER = {
  size: 32,
  headerVersion: 0x00,
  signature: 0x04,
  /** Header + payload bytes. */
  length: 0x08,
  function: 0x0c,
  rpcResult: 0x10,
  rpcResultPrivate: 0x14,
  sequence: 0x18,
  /** `spare` / `cpuRmGfid`. */
  spare: 0x1c,
  /** `NV_VGPU_MSG_HEADER_VERSION_MAJOR_TOT` (3) in 31:24, minor 0 in 23:16. */
  version: 0x0300_0000,
  /** `NV_VGPU_MSG_SIGNATURE_VALID`: "VRPC" as a little-endian u32. */
  signatureValid: 0x4350_5256,
} as const;

/** A decoded RPC header. */
export interface RpcHeader {
  /** `header_version`. */
  readonly headerVersion: number;
  /** `signature`. */
  readonly signature: number;
  /** `length`: header + payload bytes. */
  readonly length: number;
  /** `function`: function or event number. */
  readonly function: number;
  /** `rpc_result`. */
  readonly rpcResult: number;
  /** `rpc_result_private`. */
  readonly rpcResultPrivate: number;
  /** `sequence`. */
  readonly sequence: number;
}

/**
 * Encode the header of a command: result fields `RPC_PENDING`, sequence 0.
 *
 * @param fn Function number.
 * @param payloadLength Payload bytes after the header.
 * @returns 32 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRpcHeader } from "./rpc.ts";
 * const view = new DataView(encodeRpcHeader(65, 0).buffer);
 * assert.equal(view.getUint32(4, true), 0x43505256); // "VRPC"
 * assert.equal(view.getUint32(16, true), 0xffffffff); // pending
 * ```
 */
export function encodeRpcHeader(fn: number, payloadLength: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(RPC_HEADER.size);
  const view = new DataView(bytes.buffer);
  view.setUint32(RPC_HEADER.headerVersion, RPC_HEADER.version, true);
  view.setUint32(RPC_HEADER.signature, RPC_HEADER.signatureValid, true);
  view.setUint32(RPC_HEADER.length, RPC_HEADER.size + payloadLength, true);
  view.setUint32(RPC_HEADER.function, fn >>> 0, true);
  view.setUint32(RPC_HEADER.rpcResult, RPC_RESULT.RPC_PENDING.code, true);
  view.setUint32(RPC_HEADER.rpcResultPrivate, RPC_RESULT.RPC_PENDING.code, true);
  return bytes;
}

/**
 * Decode an RPC header.
 *
 * @param bytes Bytes holding it.
 * @param offset Where it starts.
 * @returns The fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRpcHeader } from "./rpc.ts";
 * assert.equal(decodeRpcHeader(new Uint8Array(40), 8).length, 0);
 * ```
 */
export function decodeRpcHeader(bytes: Uint8Array, offset = 0): RpcHeader {
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

/** One known result code. */
export interface RpcResultCode {
  /** The 32-bit value. */
  readonly code: number;
  /** What it means. */
  readonly meaning: string;
  /** Where it is defined (570.144). */
  readonly source: string;
}

const STATUS = "nvstatuscodes.h";
const VGPU = "rpc_headers.h";

/**
 * Result codes a reply's `rpc_result` may carry, with their sources: the
 * `NV_VGPU_MSG_RESULT_*` codes of the RPC layer and the `NV_STATUS` codes
 * GSP-RM passes through (`NV_VGPU_MSG_RESULT_SUCCESS` = `NV_OK` = 0).
 */
export const RPC_RESULT = {
  SUCCESS: { code: 0x0000_0000, meaning: "success (NV_OK)", source: `${VGPU}; ${STATUS}` },
  NV_ERR_GENERIC: { code: 0x0000_ffff, meaning: "generic error", source: STATUS },
  NV_ERR_INSUFFICIENT_RESOURCES: {
    code: 0x0000_001a,
    meaning: "not enough resources",
    source: STATUS,
  },
  NV_ERR_INVALID_ADDRESS: { code: 0x0000_001e, meaning: "invalid address", source: STATUS },
  NV_ERR_INVALID_ARGUMENT: { code: 0x0000_001f, meaning: "invalid argument", source: STATUS },
  NV_ERR_INVALID_DATA: { code: 0x0000_0025, meaning: "invalid data", source: STATUS },
  NV_ERR_INVALID_PARAM_STRUCT: {
    code: 0x0000_003a,
    meaning: "invalid parameter structure (wrong size)",
    source: STATUS,
  },
  NV_ERR_INVALID_STATE: { code: 0x0000_0040, meaning: "invalid state", source: STATUS },
  NV_ERR_NO_MEMORY: { code: 0x0000_0051, meaning: "out of memory", source: STATUS },
  NV_ERR_NOT_READY: { code: 0x0000_0055, meaning: "not ready", source: STATUS },
  NV_ERR_NOT_SUPPORTED: { code: 0x0000_0056, meaning: "not supported", source: STATUS },
  NV_ERR_TIMEOUT: { code: 0x0000_0065, meaning: "timeout", source: STATUS },
  VMIOP_INVAL: { code: 0xff00_0001, meaning: "VMIOP: invalid", source: VGPU },
  VMIOP_RESOURCE: { code: 0xff00_0002, meaning: "VMIOP: resource", source: VGPU },
  VMIOP_RANGE: { code: 0xff00_0003, meaning: "VMIOP: range", source: VGPU },
  VMIOP_READ_ONLY: { code: 0xff00_0004, meaning: "VMIOP: read-only", source: VGPU },
  VMIOP_NOT_FOUND: { code: 0xff00_0005, meaning: "VMIOP: not found", source: VGPU },
  VMIOP_NO_ADDRESS_SPACE: { code: 0xff00_0006, meaning: "VMIOP: no address space", source: VGPU },
  VMIOP_TIMEOUT: { code: 0xff00_0007, meaning: "VMIOP: timeout", source: VGPU },
  VMIOP_NOT_ALLOWED_IN_CALLBACK: {
    code: 0xff00_0008,
    meaning: "VMIOP: not allowed in callback",
    source: VGPU,
  },
  VMIOP_ECC_MISMATCH: { code: 0xff00_0009, meaning: "VMIOP: ECC mismatch", source: VGPU },
  VMIOP_NOT_SUPPORTED: { code: 0xff00_000a, meaning: "VMIOP: not supported", source: VGPU },
  RPC_UNKNOWN_FUNCTION: { code: 0xff10_0001, meaning: "unknown RPC function", source: VGPU },
  RPC_INVALID_MESSAGE_FORMAT: {
    code: 0xff10_0002,
    meaning: "invalid RPC message format",
    source: VGPU,
  },
  RPC_HANDLE_NOT_FOUND: { code: 0xff10_0003, meaning: "handle not found", source: VGPU },
  RPC_HANDLE_EXISTS: { code: 0xff10_0004, meaning: "handle exists", source: VGPU },
  RPC_UNKNOWN_RM_ERROR: { code: 0xff10_0005, meaning: "unknown RM error", source: VGPU },
  RPC_UNKNOWN_VMIOP_ERROR: { code: 0xff10_0006, meaning: "unknown VMIOP error", source: VGPU },
  RPC_RESERVED_HANDLE: { code: 0xff10_0007, meaning: "reserved handle", source: VGPU },
  RPC_CUDA_PROFILING_DISABLED: {
    code: 0xff10_0008,
    meaning: "CUDA profiling disabled",
    source: VGPU,
  },
  RPC_API_CONTROL_NOT_SUPPORTED: {
    code: 0xff10_0009,
    meaning: "API control not supported",
    source: VGPU,
  },
  RPC_PENDING: { code: 0xffff_ffff, meaning: "pending (no reply written)", source: VGPU },
} as const satisfies Record<string, RpcResultCode>;

const RESULT_NAMES = new Map<number, string>(
  Object.entries(RPC_RESULT).map(([name, r]) => [r.code, name]),
);

/**
 * Name of a result code, or its hex form when unknown.
 *
 * @param code `rpc_result`.
 * @returns E.g. `RPC_UNKNOWN_FUNCTION`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rpcResultName } from "./rpc.ts";
 * assert.equal(rpcResultName(0x40), "NV_ERR_INVALID_STATE");
 * assert.equal(rpcResultName(0x1234), "0x1234");
 * ```
 */
export function rpcResultName(code: number): string {
  return RESULT_NAMES.get(code >>> 0) ?? `0x${(code >>> 0).toString(16)}`;
}

/**
 * A reply from GSP-RM whose `rpc_result` is not success.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RpcError } from "./rpc.ts";
 * const error = new RpcError(65, 0xff100001);
 * assert.equal(error.resultName, "RPC_UNKNOWN_FUNCTION");
 * assert.match(error.message, /GET_GSP_STATIC_INFO/);
 * ```
 */
export class RpcError extends FalconryError {
  /** The function number. */
  readonly function: number;
  /** Its name. */
  readonly functionName: string;
  /** `rpc_result`. */
  readonly result: number;
  /** The result's name (`RPC_UNKNOWN_FUNCTION`, `NV_ERR_INVALID_STATE`, or hex). */
  readonly resultName: string;

  /**
   * Construct it.
   *
   * @param fn Function number.
   * @param result `rpc_result`.
   */
  constructor(fn: number, result: number) {
    const functionName = rpcName(fn);
    const resultName = rpcResultName(result);
    super(
      `GSP-RM answered ${functionName} with ${resultName} (0x${
        (result >>> 0).toString(16).padStart(8, "0")
      })`,
    );
    this.function = fn;
    this.functionName = functionName;
    this.result = result >>> 0;
    this.resultName = resultName;
  }
}
