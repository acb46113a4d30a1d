/**
 * The LibOS init arguments: the page whose DMA address the driver puts in
 * the GSP's MAILBOX0 (low) and MAILBOX1 (high). It is an array of 32-byte
 * `LibosMemoryRegionInitArgument`s naming the memory GSP-RM may use: the log
 * buffers, then "RMARGS" (which leads to the RPC queues). GSP-RM finds each
 * region by id, not by position.
 *
 * Layout: NVIDIA 570.144 `libos_init_args.h`, pinned by `gsp_abi_check.c`
 * (`id8` u64 at 0, `pa` u64 at 8, `size` u64 at 16, `kind` u8 at 24, `loc`
 * u8 at 25; `LIBOS_MEMORY_REGION_CONTIGUOUS` = 1,
 * `LIBOS_MEMORY_REGION_LOC_SYSMEM` = 1). Order and contents:
 * `kgspSetupLibosInitArgs_IMPL` in `kernel_gsp.c` (the log buffers with
 * `pa` = their first page, then RMARGS). `id8` packs the ASCII name with its
 * first character most significant (nouveau `r535_gsp_libos_id8`).
 *
 * {@linkcode GspBootArgs} allocates everything GSP-RM reaches from the
 * mailboxes, each buffer with its own lifetime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeLibosInitArgs, encodeLibosInitArgs, libosRegionId } from "./libos_args.ts";
 * assert.equal(libosRegionId("RMARGS"), 0x524d41524753n);
 * const page = encodeLibosInitArgs([{ id: "LOGRM", pa: 0x1000n, size: 0x10000 }]);
 * assert.equal(decodeLibosInitArgs(page)[0].id, "LOGRM");
 * ```
 *
 * @module
 */

import type { ChipFamily } from "../chips/chips.ts";
import type { DmaAllocator, DmaBuffer } from "../pci/device.ts";
import { LibosLogBuffer, logBuffersFor } from "./log_buffers.ts";
import { allocateRmArgs } from "./rmargs.ts";
import { GSP_PAGE_SIZE, GspSharedMemory } from "./shared_memory.ts";

/** `LibosMemoryRegionInitArgument` field offsets and values. */
export const LIBOS_REGION = {
  size: 32,
  id8: 0x00,
  pa: 0x08,
  regionSize: 0x10,
  kind: 0x18,
  loc: 0x19,
  /** `LIBOS_MEMORY_REGION_CONTIGUOUS`. */
  kindContiguous: 1,
  /** `LIBOS_MEMORY_REGION_LOC_SYSMEM`. */
  locSysmem: 1,
  /** Entries in the one-page array. */
  maxEntries: GSP_PAGE_SIZE / 32,
} as const;

/** One region of the init args. */
export interface LibosRegion {
  /** Its id, at most 8 ASCII characters (`LOGRM`). */
  readonly id: string;
  /** DMA address of its first byte. */
  readonly pa: bigint;
  /** Bytes. */
  readonly size: number;
  /** `kind`; default contiguous (1). */
  readonly kind?: number;
  /** `loc`; default system memory (1). */
  readonly loc?: number;
}

/**
 * Pack a region name into `id8`: the first character is the most
 * significant non-zero byte.
 *
 * @param name Up to 8 ASCII characters.
 * @returns The id.
 */
export function libosRegionId(name: string): bigint {
  if (name.length === 0 || name.length > 8 || !/^[\x20-\x7e]+$/.test(name)) {
    throw new RangeError(`LibOS region id "${name}" is not 1–8 printable ASCII characters`);
  }
  let id = 0n;
  for (const char of name) id = (id << 8n) | BigInt(char.charCodeAt(0));
  return id;
}

/**
 * Unpack `id8` into its name.
 *
 * @param id8 The packed id.
 * @returns The name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libosRegionId, libosRegionName } from "./libos_args.ts";
 * assert.equal(libosRegionName(libosRegionId("LOGINIT")), "LOGINIT");
 * ```
 */
export function libosRegionName(id8: bigint): string {
  let name = "";
  for (let v = id8; v > 0n; v >>= 8n) name = String.fromCharCode(Number(v & 0xffn)) + name;
  return name;
}

/**
 * Encode the init-args page.
 *
 * @param regions In order; at most 128.
 * @returns One 4 KiB page.
 */
export function encodeLibosInitArgs(regions: readonly LibosRegion[]): Uint8Array<ArrayBuffer> {
  if (regions.length > LIBOS_REGION.maxEntries) {
    throw new RangeError(`${regions.length} LibOS regions do not fit one page`);
  }
  const page = new Uint8Array(GSP_PAGE_SIZE);
  const v = new DataView(page.buffer);
  regions.forEach((region, i) => {
    const at = i * LIBOS_REGION.size;
    v.setBigUint64(at + LIBOS_REGION.id8, libosRegionId(region.id), true);
    v.setBigUint64(at + LIBOS_REGION.pa, region.pa, true);
    v.setBigUint64(at + LIBOS_REGION.regionSize, BigInt(region.size), true);
    v.setUint8(at + LIBOS_REGION.kind, region.kind ?? LIBOS_REGION.kindContiguous);
    v.setUint8(at + LIBOS_REGION.loc, region.loc ?? LIBOS_REGION.locSysmem);
  });
  return page;
}

/**
 * Decode an init-args page: every entry with a non-zero id.
 *
 * @param page The page.
 * @returns The regions, in order.
 */
export function decodeLibosInitArgs(page: Uint8Array): Required<LibosRegion>[] {
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const regions: Required<LibosRegion>[] = [];
  for (let at = 0; at + LIBOS_REGION.size <= page.length; at += LIBOS_REGION.size) {
    const id8 = v.getBigUint64(at + LIBOS_REGION.id8, true);
    if (id8 === 0n) continue;
    regions.push({
      id: libosRegionName(id8),
      pa: v.getBigUint64(at + LIBOS_REGION.pa, true),
      size: Number(v.getBigUint64(at + LIBOS_REGION.regionSize, true)),
      kind: v.getUint8(at + LIBOS_REGION.kind),
      loc: v.getUint8(at + LIBOS_REGION.loc),
    });
  }
  return regions;
}

/**
 * Everything GSP-RM reaches from the mailboxes: the queues' shared memory,
 * the RMARGS page, the log buffers and the init-args page. Each is its own
 * DMA buffer; disposing this frees them all, last allocated first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeLibosInitArgs, GspBootArgs } from "./libos_args.ts";
 * let next = 0x1_0000_0000n;
 * const dma = {
 *   alloc(size: number) {
 *     const iova = next;
 *     next += BigInt(size);
 *     return { bytes: new Uint8Array(size), iova, size, [Symbol.dispose]() {} };
 *   },
 * };
 * using args = GspBootArgs.allocate(dma, "tu10x");
 * const ids = decodeLibosInitArgs(args.initArgs.bytes).map((r) => r.id);
 * assert.deepEqual(ids, ["LOGINIT", "LOGINTR", "LOGRM", "LOGMNOC", "RMARGS"]);
 * assert.equal(args.mailboxes[0], Number(args.address & 0xffffffffn));
 * ```
 */
export class GspBootArgs implements Disposable {
  /** The RPC queues. */
  readonly sharedMemory: GspSharedMemory;
  /** The RMARGS page. */
  readonly rmArgs: DmaBuffer;
  /** The log buffers, in init-args order. */
  readonly logs: readonly LibosLogBuffer[];
  /** The init-args page. */
  readonly initArgs: DmaBuffer;
  readonly #stack: DisposableStack;

  private constructor(
    stack: DisposableStack,
    parts: {
      sharedMemory: GspSharedMemory;
      rmArgs: DmaBuffer;
      logs: LibosLogBuffer[];
      initArgs: DmaBuffer;
    },
  ) {
    this.#stack = stack;
    this.sharedMemory = parts.sharedMemory;
    this.rmArgs = parts.rmArgs;
    this.logs = parts.logs;
    this.initArgs = parts.initArgs;
  }

  /**
   * Allocate and fill everything for a cold boot.
   *
   * @param dma Where to allocate (`device.dma`).
   * @param family The chip family (decides the log buffers).
   * @returns The arguments; dispose them once GSP-RM is unloaded.
   */
  static allocate(dma: DmaAllocator, family: ChipFamily): GspBootArgs {
    using stack = new DisposableStack();
    const sharedMemory = stack.use(GspSharedMemory.allocate(dma));
    const rmArgs = stack.use(allocateRmArgs(dma, sharedMemory));
    const logs = logBuffersFor(family).map((spec) => stack.use(LibosLogBuffer.allocate(dma, spec)));
    const initArgs = stack.use(dma.alloc(GSP_PAGE_SIZE));
    initArgs.bytes.set(encodeLibosInitArgs([
      ...logs.map((log) => ({ id: log.id, pa: log.buffer.iova, size: log.size })),
      { id: "RMARGS", pa: rmArgs.iova, size: GSP_PAGE_SIZE },
    ]));
    return new GspBootArgs(stack.move(), { sharedMemory, rmArgs, logs, initArgs });
  }

  /** The init-args page's DMA address, for MAILBOX0/1. */
  get address(): bigint {
    return this.initArgs.iova;
  }

  /** `[MAILBOX0, MAILBOX1]`: the address's low and high 32 bits. */
  get mailboxes(): readonly [number, number] {
    return [Number(this.address & 0xffff_ffffn), Number(this.address >> 32n)];
  }

  /**
   * A log buffer by id.
   *
   * @param id E.g. `LOGRM`.
   * @returns The buffer, if this chip has it.
   */
  log(id: string): LibosLogBuffer | undefined {
    return this.logs.find((log) => log.id === id);
  }

  /** Free every buffer. */
  [Symbol.dispose](): void {
    this.#stack.dispose();
  }
}
