/**
 * Loading falcon memory with the falcon's own DMA engine, in 256-byte
 * chunks (reference §3.6 "DMA load", §12): the image is staged in a DMA
 * buffer from `device.dma` (held by a `using` line, so it is unmapped when
 * the load ends, whichever way), context 0 is pointed at coherent system
 * memory with physical addressing, and each chunk is one `DMATRFCMD`
 * (`SIZE` 6 = 256 bytes, `IMEM`, `SEC` for secure code) whose `IDLE` is
 * awaited for up to 2 s.
 *
 * Staging: the image's bytes up to the end of the last IMEM segment sit at
 * the start of the buffer, so that an IMEM chunk's `DMATRFFBOFFS` is its
 * image offset (which the engine also uses as the block's tag); the DMEM
 * segment follows at the next 256-byte boundary and is DMA'd from there with
 * `DMATRFFBOFFS` counting from 0. nova-core points the DMEM transfers at
 * `buffer + dmem.srcStart` instead, which needs that offset to be 256-byte
 * aligned; copying the segment avoids the requirement and moves the same
 * bytes.
 *
 * @example Stage and DMA a plan into a simulated GA102 GSP
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { FalconIo } from "./_io.ts";
 * import { dmaLoad } from "./dma.ts";
 * import { planFalconLoad } from "./load_plan.ts";
 *
 * await using gpu = new SimulatedGpu({ chip: "ga102" });
 * const io = new FalconIo(gpu, chipByName("ga102")!, "GSP");
 * const image = new Uint8Array(0x300).map((_, i) => i);
 * const plan = planFalconLoad(image, {
 *   imemSecure: { srcStart: 0, dstStart: 0, length: 0x200 },
 *   dmem: { srcStart: 0x200, dstStart: 0, length: 0x100 },
 *   bootAddress: 0,
 * }, { imemSize: 0x10000 });
 * io.modify(io.regs.FBIF_CTL, { ALLOW_PHYS_NO_CTX: 1 }); // as Falcon.load does first
 * io.regs.DMACTL.writeRaw(io.bar, 0);
 * await dmaLoad(io, image, plan);
 * assert.deepEqual(gpu.falcons.GSP.dmemSnapshot().subarray(0, 0x100), image.subarray(0x200));
 * assert.equal(gpu.dma.live, 0);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { writeBarrier } from "../pci/mmio.ts";
import type { FalconIo } from "./_io.ts";
import { FALCON_BLOCK_BYTES, type FalconLoadPlan, roundUp } from "./load_plan.ts";
import { FALCON_WAITS } from "./timeouts.ts";

const log = getLogger(["falconry", "falcon", "dma"]);

/** `DMATRFCMD.SIZE` for a 256-byte chunk (4 << 6). */
const CHUNK_SIZE_CODE = 6;
/** `FBIF_TRANSCFG.TARGET` = coherent system memory. */
const TARGET_COHERENT_SYSMEM = 1;
/** `FBIF_TRANSCFG.MEM_TYPE` = physical. */
const MEM_TYPE_PHYSICAL = 1;
/** The DMA context the transfers use (`DMATRFCMD.CTXDMA` 0). */
const CONTEXT = 0;
/** `DMATRFBASE1` holds address bits 48:40. */
const MAX_DMA_ADDRESS = 1n << 49n;

/** One run of chunks from one DMA base into IMEM or DMEM. */
interface Transfer {
  readonly what: string;
  readonly base: bigint;
  readonly sourceOffset: number;
  readonly dstStart: number;
  readonly length: number;
  readonly imem: boolean;
  readonly secure: boolean;
}

/**
 * DMA a checked load plan's IMEM and DMEM segments into the falcon. It does
 * not write `FBIF_CTL`, `DMACTL`, BOOTVEC or the boot ROM: `Falcon.load`
 * does, around either loader.
 *
 * @param io The engine's registers, clock and DMA allocator.
 * @param image The image the plan indexes.
 * @param plan The checked plan.
 * @param signal Stop between chunks.
 * @throws {RangeError} When the DMEM destination is not 256-aligned or the
 *   staging buffer lies above the 49-bit DMA address range.
 * @throws {HardwareTimeoutError} When a chunk does not finish within 2 s.
 * @throws {GpuStoppedAnsweringError} When `DMATRFCMD` reads a PRI error or all ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dmaLoad } from "./dma.ts";
 * const plan = { imem: [], dmem: { srcStart: 0, dstStart: 4, length: 4 }, bootAddress: 0 };
 * await assert.rejects(dmaLoad(undefined as never, new Uint8Array(4), plan), RangeError);
 * ```
 */
export async function dmaLoad(
  io: FalconIo,
  image: Uint8Array,
  plan: FalconLoadPlan,
  signal?: AbortSignal,
): Promise<void> {
  const { dmem } = plan;
  if (dmem.length > 0 && dmem.dstStart % FALCON_BLOCK_BYTES !== 0) {
    throw new RangeError(
      `DMEM DMA destination 0x${dmem.dstStart.toString(16)} is not 256-aligned`,
    );
  }
  signal?.throwIfAborted();
  const imemEnd = roundUp(
    Math.max(0, ...plan.imem.map((s) => s.srcStart + s.length)),
    FALCON_BLOCK_BYTES,
  );
  const dmemStage = imemEnd;
  const size = dmemStage + roundUp(dmem.length, FALCON_BLOCK_BYTES);
  if (size === 0) return;

  using staging = io.dma.alloc(size, { align: FALCON_BLOCK_BYTES });
  if (
    staging.iova % BigInt(FALCON_BLOCK_BYTES) !== 0n ||
    staging.iova + BigInt(size) > MAX_DMA_ADDRESS
  ) {
    throw new RangeError(
      `DMA staging buffer at IOVA 0x${staging.iova.toString(16)} is not 256-aligned below 2^49`,
    );
  }
  staging.bytes.set(image.subarray(0, Math.min(imemEnd, image.length)), 0);
  staging.bytes.set(image.subarray(dmem.srcStart, dmem.srcStart + dmem.length), dmemStage);
  writeBarrier();

  io.modify(io.regs.FBIF_TRANSCFG.at(CONTEXT), {
    TARGET: TARGET_COHERENT_SYSMEM,
    MEM_TYPE: MEM_TYPE_PHYSICAL,
  });
  const transfers: Transfer[] = plan.imem.map((s) => ({
    what: s.part,
    base: staging.iova,
    sourceOffset: s.srcStart,
    dstStart: s.dstStart,
    length: s.length,
    imem: true,
    secure: s.secure,
  }));
  if (dmem.length > 0) {
    transfers.push({
      what: "dmem",
      base: staging.iova + BigInt(dmemStage),
      sourceOffset: 0,
      dstStart: dmem.dstStart,
      length: dmem.length,
      imem: false,
      secure: false,
    });
  }
  for (const t of transfers) await transfer(io, t, signal);
}

async function transfer(io: FalconIo, t: Transfer, signal?: AbortSignal): Promise<void> {
  const { bar, regs } = io;
  regs.DMATRFBASE.write(bar, { BASE: Number((t.base >> 8n) % (1n << 32n)) });
  regs.DMATRFBASE1.write(bar, { BASE: Number(t.base >> 40n) });
  const command = regs.DMATRFCMD.encode({
    SIZE: CHUNK_SIZE_CODE,
    IMEM: t.imem ? 1 : 0,
    SEC: t.secure ? 1 : 0,
    CTXDMA: CONTEXT,
  });
  log.debug("{engine}: DMA {what}: {length} bytes to 0x{dst}", {
    engine: io.engine,
    what: t.what,
    length: t.length,
    dst: t.dstStart.toString(16),
  });
  for (let pos = 0; pos < t.length; pos += FALCON_BLOCK_BYTES) {
    regs.DMATRFMOFFS.write(bar, { OFFS: t.dstStart + pos });
    regs.DMATRFFBOFFS.write(bar, { OFFS: t.sourceOffset + pos });
    regs.DMATRFCMD.writeRaw(bar, command);
    await io.poll(regs.DMATRFCMD, (v) => v.IDLE === 1, FALCON_WAITS.dmaChunkIdle, signal);
  }
}
