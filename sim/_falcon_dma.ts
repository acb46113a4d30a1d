/**
 * The falcon DMA engine's one transfer (`DMATRFCMD`), as a function over the
 * register values the host programmed: what the hardware checks before it
 * moves a byte, and the move itself. Private to `falcon.ts`.
 *
 * The checks (nova-core-boot.md §3.6 "DMA load", §12):
 * - `DMACTL.REQUIRE_CTX` must be 0: with it set the engine waits for a bound
 *   instance block, which the boot path never binds;
 * - `FBIF_CTL.ALLOW_PHYS_NO_CTX` must be 1, and `FBIF_TRANSCFG[CTXDMA]` must
 *   use physical addressing: virtual addressing needs an MMU context;
 * - the target must be system memory (coherent or not): the simulated
 *   falcons reach no local frame buffer;
 * - `SIZE` 0..6 is 4 << SIZE bytes (6 = 256 B), and the falcon-memory side
 *   (`DMATRFMOFFS`) must be aligned to it and inside IMEM/DMEM;
 * - the IOVA `(DMATRFBASE1 << 40 | DMATRFBASE << 8) + DMATRFFBOFFS` must lie
 *   in one live mapping, else it is an IOMMU fault.
 *
 * An IMEM block filled by DMA is tagged with `DMATRFFBOFFS / 256`: the
 * source offset is the code's virtual address.
 *
 * @module
 */

import { type DmaView, SimDmaFault } from "./system_memory.ts";
import { FALCON_BLOCK_SIZE, type FalconMemory } from "./_falcon_memory.ts";

/** `FBIF_TRANSCFG.TARGET` values (registers/fbif.ts names them). */
const TARGET = { localFb: 0, coherentSysmem: 1, noncoherentSysmem: 2 } as const;
/** `FBIF_TRANSCFG.MEM_TYPE` = PHYSICAL. */
const PHYSICAL = 1;
/** Largest `DMATRFCMD.SIZE`: 4 << 6 = 256 bytes. */
const MAX_SIZE_CODE = 6;

/** The decoded registers one transfer depends on. */
export interface DmaRequest {
  /** `DMACTL.REQUIRE_CTX`. */
  requireCtx: number;
  /** `FBIF_CTL.ALLOW_PHYS_NO_CTX`. */
  allowPhysNoCtx: number;
  /** `FBIF_TRANSCFG[CTXDMA]` fields. */
  transcfg: { TARGET: number; MEM_TYPE: number };
  /** `DMATRFCMD` fields. */
  cmd: { SEC: number; IMEM: number; WRITE: number; SIZE: number; CTXDMA: number };
  /** `DMATRFBASE` (address >> 8, low 32 bits). */
  base: number;
  /** `DMATRFBASE1` (address >> 40). */
  base1: number;
  /** `DMATRFMOFFS`. */
  memoryOffset: number;
  /** `DMATRFFBOFFS`. */
  sourceOffset: number;
}

/** A transfer the hardware refuses or that faults. */
export interface DmaError {
  /** What stopped it. */
  reason: string;
  /** The IOVA of an IOMMU fault. */
  iova?: bigint;
  /** The bytes the faulting access covered. */
  length?: number;
}

/** What a transfer did. */
export type DmaResult =
  | { ok: true; bytes: number; direction: "read" | "write" }
  | ({ ok: false } & DmaError);

/** The source/destination IOVA of a request. */
export function dmaAddress(request: Pick<DmaRequest, "base" | "base1" | "sourceOffset">): bigint {
  return (BigInt(request.base1) << 40n) + (BigInt(request.base >>> 0) << 8n) +
    BigInt(request.sourceOffset >>> 0);
}

/**
 * Run one transfer between system memory and IMEM or DMEM.
 *
 * @param request The programmed registers.
 * @param memories The falcon's IMEM and DMEM.
 * @param dma System memory as the device sees it.
 * @returns What moved, or why nothing did.
 */
export function runDmaTransfer(
  request: DmaRequest,
  memories: { imem: FalconMemory; dmem: FalconMemory },
  dma: DmaView,
): DmaResult {
  const { cmd, transcfg } = request;
  if (request.requireCtx !== 0) {
    return { ok: false, reason: "DMACTL.REQUIRE_CTX is set and no context is bound" };
  }
  if (request.allowPhysNoCtx !== 1) {
    return { ok: false, reason: "FBIF_CTL.ALLOW_PHYS_NO_CTX is clear: physical DMA is blocked" };
  }
  if (transcfg.MEM_TYPE !== PHYSICAL) {
    return {
      ok: false,
      reason: `FBIF_TRANSCFG(${cmd.CTXDMA}) is virtual: no MMU context is bound`,
    };
  }
  if (transcfg.TARGET !== TARGET.coherentSysmem && transcfg.TARGET !== TARGET.noncoherentSysmem) {
    return {
      ok: false,
      reason: `FBIF_TRANSCFG(${cmd.CTXDMA}).TARGET ${transcfg.TARGET} is not system memory`,
    };
  }
  if (cmd.SIZE > MAX_SIZE_CODE) {
    return { ok: false, reason: `DMATRFCMD.SIZE ${cmd.SIZE} is reserved (0..6)` };
  }
  const length = 4 << cmd.SIZE;
  const memory = cmd.IMEM ? memories.imem : memories.dmem;
  const which = cmd.IMEM ? "IMEM" : "DMEM";
  if (request.memoryOffset % length !== 0) {
    return {
      ok: false,
      reason: `DMATRFMOFFS 0x${request.memoryOffset.toString(16)} is not aligned to ${length}`,
    };
  }
  if (!memory.contains(request.memoryOffset, length)) {
    return {
      ok: false,
      reason: `DMATRFMOFFS 0x${request.memoryOffset.toString(16)} + ${length} is past ` +
        `${which} (0x${memory.size.toString(16)} bytes)`,
    };
  }
  const iova = dmaAddress(request);
  const block = {
    tag: cmd.IMEM ? Math.floor(request.sourceOffset / FALCON_BLOCK_SIZE) : 0,
    secure: cmd.IMEM ? cmd.SEC !== 0 : false,
    method: "dma" as const,
  };
  try {
    if (cmd.WRITE) {
      dma.write(iova, memory.bytes.slice(request.memoryOffset, request.memoryOffset + length));
      return { ok: true, bytes: length, direction: "write" };
    }
    memory.writeBytes(request.memoryOffset, dma.read(iova, length), block);
    return { ok: true, bytes: length, direction: "read" };
  } catch (e) {
    if (e instanceof SimDmaFault) {
      return { ok: false, reason: e.message, iova: e.iova, length: e.length };
    }
    throw e;
  }
}
