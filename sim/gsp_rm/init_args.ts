/**
 * What GSP-RM reads first: the LibOS init-args page (an array of memory
 * region descriptors whose address the host put in the GSP mailboxes) and
 * the RMARGS region (`GSP_ARGUMENTS_CACHED`) it names.
 *
 * GSP-RM finds regions by id, not by position (reference §13): NVIDIA's
 * `kgspSetupLibosInitArgs_IMPL` (kernel_gsp.c, 570.144) writes LOGINIT,
 * LOGINTR, LOGRM, LOGMNOC, then LOGKRNL on LibOS3 chips, then RMARGS, and
 * nova-core writes only LOGINIT, LOGINTR, LOGRM, RMARGS. An id is the ASCII
 * name packed big-endian into a u64 (`_kgspGenerateInitArgId`): the first
 * character is the most significant non-zero byte.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libosRegionId, libosRegionName } from "./init_args.ts";
 * assert.equal(libosRegionId("RMARGS"), 0x524d41524753n);
 * assert.equal(libosRegionName(0x4c4f47494e4954n), "LOGINIT");
 * ```
 *
 * @module
 */

import { FalconryError } from "../../errors.ts";
import type { DmaView } from "../system_memory.ts";
import { GSP_ARGUMENTS_CACHED, LIBOS_REGION } from "./structs.ts";

/** Something GSP-RM read from system memory does not hold what it must. */
export class SimGspRmFormatError extends FalconryError {
  /** Dotted name of the field. */
  readonly field: string;
  /** Where GSP-RM read it. */
  readonly iova: bigint;
  /** What is wrong. */
  readonly reason: string;

  /**
   * Construct it.
   *
   * @param field Dotted field name, e.g. `libosArgs.RMARGS`.
   * @param iova The address read.
   * @param reason What is wrong.
   */
  constructor(field: string, iova: bigint, reason: string) {
    super(`GSP-RM: ${field} at IOVA 0x${iova.toString(16)}: ${reason}`);
    this.field = field;
    this.iova = iova;
    this.reason = reason;
  }
}

/** One `LibosMemoryRegionInitArgument`. */
export interface LibosRegion {
  /** Its index in the page. */
  readonly index: number;
  /** The decoded id ("LOGRM"). */
  readonly name: string;
  /** The raw `id8`. */
  readonly id8: bigint;
  /** Physical (DMA) address. */
  readonly pa: bigint;
  /** Size in bytes. */
  readonly size: bigint;
  /** `LibosMemoryRegionKind`. */
  readonly kind: number;
  /** `LibosMemoryRegionLoc`. */
  readonly loc: number;
}

/**
 * Pack a region name into its `id8`, as `_kgspGenerateInitArgId` does.
 *
 * @param name At most 8 ASCII characters.
 * @returns The id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libosRegionId } from "./init_args.ts";
 * assert.equal(libosRegionId("LOGRM"), 0x4c4f47524dn);
 * ```
 */
export function libosRegionId(name: string): bigint {
  let id = 0n;
  for (const char of name.slice(0, 8)) id = (id << 8n) | BigInt(char.charCodeAt(0) & 0xff);
  return id;
}

/**
 * The name packed in an `id8`.
 *
 * @param id8 The raw id.
 * @returns Its characters, most significant byte first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libosRegionName } from "./init_args.ts";
 * assert.equal(libosRegionName(0x4c4f47524dn), "LOGRM");
 * ```
 */
export function libosRegionName(id8: bigint): string {
  let name = "";
  for (let value = id8; value > 0n; value >>= 8n) {
    name = String.fromCharCode(Number(value & 0xffn)) + name;
  }
  return name;
}

/**
 * Read the LibOS init-args page: every non-empty entry of the 4 KiB array.
 *
 * @param dma System memory as the GSP sees it.
 * @param address The page's address (from MBOX0/MBOX1).
 * @returns The regions in page order.
 * @throws {SimDmaFault} when the page is not mapped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SystemMemory } from "../system_memory.ts";
 * import { libosRegionId, readLibosRegions } from "./init_args.ts";
 * const memory = new SystemMemory();
 * const page = new Uint8Array(4096);
 * new DataView(page.buffer).setBigUint64(0, libosRegionId("RMARGS"), true);
 * using _m = memory.map(0x1000n, page);
 * assert.equal(readLibosRegions(memory, 0x1000n)[0].name, "RMARGS");
 * ```
 */
export function readLibosRegions(dma: DmaView, address: bigint): LibosRegion[] {
  const page = dma.read(address, LIBOS_REGION.pageSize);
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const regions: LibosRegion[] = [];
  for (let index = 0; index < LIBOS_REGION.pageSize / LIBOS_REGION.size; index++) {
    const at = index * LIBOS_REGION.size;
    const id8 = view.getBigUint64(at + LIBOS_REGION.id8, true);
    if (id8 === 0n) continue;
    regions.push({
      index,
      name: libosRegionName(id8),
      id8,
      pa: view.getBigUint64(at + LIBOS_REGION.pa, true),
      size: view.getBigUint64(at + LIBOS_REGION.regionSize, true),
      kind: view.getUint8(at + LIBOS_REGION.kind),
      loc: view.getUint8(at + LIBOS_REGION.loc),
    });
  }
  return regions;
}

/**
 * Find a region by id, and check that GSP-RM can use it as a contiguous
 * system-memory buffer of at least `minSize` bytes.
 *
 * @param regions What {@linkcode readLibosRegions} returned.
 * @param name The id ("LOGRM").
 * @param address The init-args page address, for the error.
 * @param minSize Smallest usable size.
 * @returns The region.
 * @throws {SimGspRmFormatError} when it is missing, not contiguous sysmem, or too small.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findLibosRegion, SimGspRmFormatError } from "./init_args.ts";
 * assert.throws(() => findLibosRegion([], "RMARGS", 0x1000n, 72), SimGspRmFormatError);
 * ```
 */
export function findLibosRegion(
  regions: readonly LibosRegion[],
  name: string,
  address: bigint,
  minSize: number,
): LibosRegion {
  const region = regions.find((r) => r.name === name);
  const field = `libosArgs.${name}`;
  if (!region) throw new SimGspRmFormatError(field, address, "region missing");
  const at = address + BigInt(region.index * LIBOS_REGION.size);
  if (region.kind !== LIBOS_REGION.kindContiguous || region.loc !== LIBOS_REGION.locSysmem) {
    throw new SimGspRmFormatError(
      field,
      at,
      `kind ${region.kind} loc ${region.loc}; expected contiguous (1) system memory (1)`,
    );
  }
  if (region.size < BigInt(minSize)) {
    throw new SimGspRmFormatError(field, at, `size ${region.size} < ${minSize}`);
  }
  return region;
}

/** `GSP_ARGUMENTS_CACHED` as GSP-RM reads it from the RMARGS region. */
export interface RmArgs {
  /** `messageQueueInitArguments.sharedMemPhysAddr`: the queue page table's address. */
  readonly sharedMemPhysAddr: bigint;
  /** `pageTableEntryCount`: pages of the shared area, page table included. */
  readonly pageTableEntryCount: number;
  /** `cmdQueueOffset`: the command queue (host → GSP) within the shared area. */
  readonly cmdQueueOffset: bigint;
  /** `statQueueOffset`: the status queue (GSP → host). */
  readonly statQueueOffset: bigint;
  /** `srInitArguments.oldLevel`. */
  readonly srOldLevel: number;
  /** `srInitArguments.flags`. */
  readonly srFlags: number;
  /** `srInitArguments.bInPMTransition`. */
  readonly srInPmTransition: boolean;
  /** `gpuInstance`. */
  readonly gpuInstance: number;
  /** `bDmemStack`. */
  readonly dmemStack: boolean;
}

/**
 * Read `GSP_ARGUMENTS_CACHED`.
 *
 * @param dma System memory as the GSP sees it.
 * @param address The RMARGS region's address.
 * @returns Its fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SystemMemory } from "../system_memory.ts";
 * import { readRmArgs } from "./init_args.ts";
 * const memory = new SystemMemory();
 * const page = new Uint8Array(4096);
 * new DataView(page.buffer).setUint32(8, 129, true);
 * using _m = memory.map(0x4000n, page);
 * assert.equal(readRmArgs(memory, 0x4000n).pageTableEntryCount, 129);
 * ```
 */
export function readRmArgs(dma: DmaView, address: bigint): RmArgs {
  const bytes = dma.read(address, GSP_ARGUMENTS_CACHED.size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const a = GSP_ARGUMENTS_CACHED;
  return {
    sharedMemPhysAddr: view.getBigUint64(a.sharedMemPhysAddr, true),
    pageTableEntryCount: view.getUint32(a.pageTableEntryCount, true),
    cmdQueueOffset: view.getBigUint64(a.cmdQueueOffset, true),
    statQueueOffset: view.getBigUint64(a.statQueueOffset, true),
    srOldLevel: view.getUint32(a.srOldLevel, true),
    srFlags: view.getUint32(a.srFlags, true),
    srInPmTransition: view.getUint8(a.srInPmTransition) !== 0,
    gpuInstance: view.getUint32(a.gpuInstance, true),
    dmemStack: view.getUint8(a.bDmemStack) !== 0,
  };
}
