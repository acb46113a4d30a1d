/**
 * The "RMARGS" page: `GSP_ARGUMENTS_CACHED`, which tells GSP-RM where the
 * shared queue memory is (`MESSAGE_QUEUE_INIT_ARGUMENTS`) and whether it is
 * resuming from suspend (`GSP_SR_INIT_ARGUMENTS`). The LibOS init args name
 * this page with the id `RMARGS`.
 *
 * Offsets: NVIDIA 570.144 `gsp_init_args.h`, pinned by `gsp_abi_check.c`
 * (`GSP_ARGUMENTS_CACHED` is 72 bytes: the queue arguments at 0, 32 bytes;
 * the suspend/resume arguments at 32, 12 bytes; `gpuInstance` at 44;
 * `bDmemStack` at 48; `profilerArgs` at 56, 16 bytes). Values: reference
 * §5.1 and nouveau r535 `r535_gsp_rmargs_init`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRmArgs, encodeRmArgs } from "./rmargs.ts";
 * const bytes = encodeRmArgs({
 *   sharedMemPhysAddr: 0x8000_0000n,
 *   pageTableEntryCount: 0x81,
 *   cmdQueueOffset: 0x1000,
 *   statQueueOffset: 0x41000,
 * });
 * assert.equal(bytes.length, 0x1000);
 * assert.equal(decodeRmArgs(bytes).statQueueOffset, 0x41000);
 * assert.equal(decodeRmArgs(bytes).dmemStack, true);
 * ```
 *
 * @module
 */

import type { DmaAllocator, DmaBuffer } from "../pci/device.ts";
import { GSP_PAGE_SIZE, type GspSharedMemory, SHARED_MEMORY } from "./shared_memory.ts";

/** `GSP_ARGUMENTS_CACHED` field offsets. */
export const GSP_ARGUMENTS_CACHED = {
  size: 72,
  sharedMemPhysAddr: 0,
  pageTableEntryCount: 8,
  cmdQueueOffset: 16,
  statQueueOffset: 24,
  srOldLevel: 32,
  srFlags: 36,
  srInPmTransition: 40,
  gpuInstance: 44,
  bDmemStack: 48,
  profilerPa: 56,
  profilerSize: 64,
} as const;

/** What the RMARGS page says. */
export interface RmArgs {
  /** DMA address of the shared memory's page table. */
  readonly sharedMemPhysAddr: bigint;
  /** Pages of the shared memory, page table included. */
  readonly pageTableEntryCount: number;
  /** Offset of the command queue in the shared memory. */
  readonly cmdQueueOffset: number;
  /** Offset of the status queue. */
  readonly statQueueOffset: number;
  /** `srInitArguments.oldLevel`: 0 on a cold boot, 3 when resuming from S3. */
  readonly srOldLevel?: number;
  /** `srInitArguments.flags`. */
  readonly srFlags?: number;
  /** `srInitArguments.bInPMTransition`. */
  readonly srInPmTransition?: boolean;
  /** `gpuInstance`. */
  readonly gpuInstance?: number;
  /** `bDmemStack`; default true, as nova-core sets it. */
  readonly dmemStack?: boolean;
}

/**
 * Encode the RMARGS page.
 *
 * @param args The values.
 * @returns One 4 KiB page, zero beyond the 72-byte structure.
 */
export function encodeRmArgs(args: RmArgs): Uint8Array<ArrayBuffer> {
  const page = new Uint8Array(GSP_PAGE_SIZE);
  const v = new DataView(page.buffer);
  const a = GSP_ARGUMENTS_CACHED;
  v.setBigUint64(a.sharedMemPhysAddr, args.sharedMemPhysAddr, true);
  v.setUint32(a.pageTableEntryCount, args.pageTableEntryCount, true);
  v.setBigUint64(a.cmdQueueOffset, BigInt(args.cmdQueueOffset), true);
  v.setBigUint64(a.statQueueOffset, BigInt(args.statQueueOffset), true);
  v.setUint32(a.srOldLevel, args.srOldLevel ?? 0, true);
  v.setUint32(a.srFlags, args.srFlags ?? 0, true);
  v.setUint8(a.srInPmTransition, args.srInPmTransition ? 1 : 0);
  v.setUint32(a.gpuInstance, args.gpuInstance ?? 0, true);
  v.setUint8(a.bDmemStack, (args.dmemStack ?? true) ? 1 : 0);
  return page;
}

/**
 * Decode an RMARGS page.
 *
 * @param bytes At least 72 bytes.
 * @returns The values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRmArgs } from "./rmargs.ts";
 * assert.equal(decodeRmArgs(new Uint8Array(72)).pageTableEntryCount, 0);
 * ```
 */
export function decodeRmArgs(bytes: Uint8Array): Required<RmArgs> {
  if (bytes.length < GSP_ARGUMENTS_CACHED.size) {
    throw new RangeError(`RMARGS needs ${GSP_ARGUMENTS_CACHED.size} bytes, got ${bytes.length}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const a = GSP_ARGUMENTS_CACHED;
  return {
    sharedMemPhysAddr: v.getBigUint64(a.sharedMemPhysAddr, true),
    pageTableEntryCount: v.getUint32(a.pageTableEntryCount, true),
    cmdQueueOffset: Number(v.getBigUint64(a.cmdQueueOffset, true)),
    statQueueOffset: Number(v.getBigUint64(a.statQueueOffset, true)),
    srOldLevel: v.getUint32(a.srOldLevel, true),
    srFlags: v.getUint32(a.srFlags, true),
    srInPmTransition: v.getUint8(a.srInPmTransition) !== 0,
    gpuInstance: v.getUint32(a.gpuInstance, true),
    dmemStack: v.getUint8(a.bDmemStack) !== 0,
  };
}

/**
 * Allocate the RMARGS page for a shared memory area (cold boot).
 *
 * @param dma Where to allocate.
 * @param shared The queues GSP-RM is to use.
 * @returns The page; dispose it to free it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocateRmArgs, decodeRmArgs } from "./rmargs.ts";
 * import { GspSharedMemory } from "./shared_memory.ts";
 * let next = 0x1000_0000n;
 * const dma = {
 *   alloc(size: number) {
 *     const iova = next;
 *     next += BigInt(size);
 *     return { bytes: new Uint8Array(size), iova, size, [Symbol.dispose]() {} };
 *   },
 * };
 * using shared = GspSharedMemory.allocate(dma);
 * using rmArgs = allocateRmArgs(dma, shared);
 * assert.equal(decodeRmArgs(rmArgs.bytes).sharedMemPhysAddr, shared.iova);
 * assert.equal(decodeRmArgs(rmArgs.bytes).pageTableEntryCount, 0x81);
 * ```
 */
export function allocateRmArgs(dma: DmaAllocator, shared: GspSharedMemory): DmaBuffer {
  const buffer = dma.alloc(GSP_PAGE_SIZE);
  buffer.bytes.set(encodeRmArgs({
    sharedMemPhysAddr: shared.iova,
    pageTableEntryCount: SHARED_MEMORY.pageTableEntryCount,
    cmdQueueOffset: SHARED_MEMORY.cmdQueueOffset,
    statQueueOffset: SHARED_MEMORY.statQueueOffset,
  }));
  return buffer;
}
