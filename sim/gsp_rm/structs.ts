/**
 * Offsets and sizes of the structures that GSP-RM shares with the host, as
 * data tables. The simulated GSP-RM reads and writes system memory only
 * through these numbers, so each one names its source.
 *
 * Sources (all at tag `570.144` of NVIDIA's open-gpu-kernel-modules unless
 * said otherwise; `abi` = `src/nvidia/interface/gsp_abi_check.c`, NVIDIA's
 * own compile-time layout assertions), cross-checked with
 * `../shared/reference/nova-core-boot.md` §5 and §13:
 * - `LibosMemoryRegionInitArgument`: `src/common/uproc/os/common/include/libos_init_args.h`, abi.
 * - `GSP_ARGUMENTS_CACHED`, `MESSAGE_QUEUE_INIT_ARGUMENTS`, `GSP_SR_INIT_ARGUMENTS`:
 *   `src/nvidia/inc/kernel/gpu/gsp/gsp_init_args.h`, abi.
 * - `msgqTxHeader`/`msgqRxHeader`, `MSGQ_VERSION`, `MSGQ_FLAGS_SWAP_RX`:
 *   `src/common/shared/msgq/inc/msgq/msgq_priv.h`, `msgq.h`.
 * - `GSP_MSG_QUEUE_ELEMENT` and its size limits:
 *   `src/nvidia/inc/kernel/gpu/gsp/message_queue_priv.h`.
 * - `rpc_message_header_v03_00`: `src/nvidia/generated/g_rpc-message-header.h`.
 * - `GspStaticConfigInfo` name fields: abi (`gpuNameString` at 1260, …).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LIBOS_REGION, MSG_QUEUE_ELEMENT, RPC_HEADER } from "./structs.ts";
 * assert.equal(LIBOS_REGION.size, 32);
 * assert.equal(MSG_QUEUE_ELEMENT.headerSize, 0x30);
 * assert.equal(MSG_QUEUE_ELEMENT.headerSize + RPC_HEADER.size, 80);
 * ```
 *
 * @module
 */

/** GSP page: the unit of every queue slot, ring pointer and page table entry. */
export const GSP_PAGE_SIZE = 0x1000;

/**
 * One `LibosMemoryRegionInitArgument` (32 bytes); the LibOS init-args page is
 * an array of them, zero-terminated by an entry with `id8` = 0.
 */
export const LIBOS_REGION = {
  size: 32,
  id8: 0x00,
  pa: 0x08,
  regionSize: 0x10,
  kind: 0x18,
  loc: 0x19,
  /** `LIBOS_INIT_ARGUMENTS_SIZE` (g_kernel_gsp_nvoc.h): one page. */
  pageSize: 0x1000,
  /** `LIBOS_MEMORY_REGION_CONTIGUOUS`. */
  kindContiguous: 1,
  /** `LIBOS_MEMORY_REGION_RADIX3`. */
  kindRadix3: 2,
  /** `LIBOS_MEMORY_REGION_LOC_SYSMEM`. */
  locSysmem: 1,
} as const;

/** `GSP_ARGUMENTS_CACHED` (72 bytes; abi). */
export const GSP_ARGUMENTS_CACHED = {
  size: 72,
  /** `MESSAGE_QUEUE_INIT_ARGUMENTS` at 0 (32 bytes). */
  sharedMemPhysAddr: 0,
  pageTableEntryCount: 8,
  cmdQueueOffset: 16,
  statQueueOffset: 24,
  /** `GSP_SR_INIT_ARGUMENTS` at 32 (12 bytes). */
  srOldLevel: 32,
  srFlags: 36,
  srInPmTransition: 40,
  gpuInstance: 44,
  bDmemStack: 48,
  profilerPa: 56,
  profilerSize: 64,
} as const;

/** `msgqTxHeader` (32 bytes) and `msgqRxHeader` (one u32). */
export const MSGQ_TX_HEADER = {
  size: 32,
  version: 0,
  queueSize: 4,
  msgSize: 8,
  msgCount: 12,
  writePtr: 16,
  flags: 20,
  rxHdrOff: 24,
  entryOff: 28,
  /** `MSGQ_VERSION`. */
  currentVersion: 0,
  /** `MSGQ_FLAGS_SWAP_RX`: each side keeps its read pointer in its own queue's rx header. */
  flagSwapRx: 1,
  /** `msgqRxHeader.readPtr`, at `rxHdrOff`. */
  rxReadPtr: 0,
  rxHeaderSize: 4,
  /** `GSP_MSG_QUEUE_HEADER_ALIGN` = 4: the rx header sits at align_up(32, 16). */
  headerAlign: 16,
} as const;

/** `GSP_MSG_QUEUE_ELEMENT`: 48 bytes of queue header, then the RPC message. */
export const MSG_QUEUE_ELEMENT = {
  authTag: 0x00,
  aad: 0x10,
  checkSum: 0x20,
  seqNum: 0x24,
  elemCount: 0x28,
  /** `GSP_MSG_QUEUE_ELEMENT_HDR_SIZE` = offsetof(rpc): the message length counts from here. */
  headerSize: 0x30,
  /** `GSP_MSG_QUEUE_ELEMENT_SIZE_MIN` = one page per element slot. */
  slotSize: 0x1000,
  /** `GSP_MSG_QUEUE_ELEMENT_SIZE_MAX` = 16 pages. */
  maxSize: 0x10000,
} as const;

/** `rpc_message_header_v03_00` (32 bytes), followed by the payload. */
export const RPC_HEADER = {
  size: 32,
  headerVersion: 0,
  signature: 4,
  length: 8,
  function: 12,
  rpcResult: 16,
  rpcResultPrivate: 20,
  sequence: 24,
  spare: 28,
  /** `NV_VGPU_MSG_HEADER_VERSION_MAJOR_TOT` 3 in bits 31:24, minor 0 (rpc_headers.h). */
  version: 0x0300_0000,
  /** `NV_VGPU_MSG_SIGNATURE_VALID`: "VRPC" read as a little-endian u32. */
  signatureValid: 0x4350_5256,
} as const;

/** `rpc_run_cpu_sequencer_v17_00` (g_rpc-structures.h). */
export const RUN_CPU_SEQUENCER = {
  bufferSizeDWord: 0,
  cmdIndex: 4,
  regSaveArea: 8,
  /** `GSP_SEQ_BUF_REG_SAVE_SIZE` (rmgspseq.h). */
  regSaveCount: 8,
  commandBuffer: 40,
} as const;

/** `rpc_unloading_guest_driver_v1F_07` (8 bytes). */
export const UNLOADING_GUEST_DRIVER = {
  size: 8,
  bInPMTransition: 0,
  bGc6Entering: 1,
  newLevel: 4,
} as const;

/** `PACKED_REGISTRY_TABLE` header and `PACKED_REGISTRY_ENTRY` (16 bytes; `g_os_nvoc.h`). */
export const PACKED_REGISTRY = {
  size: 0,
  numEntries: 4,
  entries: 8,
  entrySize: 16,
  nameOffset: 0,
  type: 4,
  data: 8,
  length: 12,
} as const;

/** `GspSystemInfo` fields the model reads (abi; at least 920 bytes). */
export const GSP_SYSTEM_INFO = {
  minSize: 920,
  gpuPhysAddr: 0,
  nvDomainBusDeviceFunc: 32,
  maxUserVa: 72,
  pciDeviceId: 88,
  pciSubDeviceId: 92,
  pciRevisionId: 96,
} as const;

/** `GspStaticConfigInfo` fields the model fills (abi; at least 1656 bytes). */
export const GSP_STATIC_CONFIG_INFO = {
  size: 1656,
  fbLength: 1224,
  gpuNameString: 1260,
  gpuShortNameString: 1324,
  gpuNameStringUnicode: 1388,
  /** `NV2080_GPU_MAX_NAME_STRING_LENGTH`. */
  nameLength: 64,
  vbiosValid: 1552,
  vbiosSubVendor: 1556,
  vbiosSubDevice: 1560,
} as const;
