// The few BAR0 facts the TU102-family boot reads and writes outside the falcons: checked reads
// (a PRI error or all ones is "the GPU stopped answering", never data), WPR2, the VRAM size and
// VGA workspace the FB layout needs, the sysmem flush page (reference §3.5, §3.7, §3.11).

import { chipByName, type ChipInfo } from "../chips/chips.ts";
import { GpuStoppedAnsweringError } from "../falcon/gpu_stopped_answering.ts";
import type { DmaAllocator, DmaBuffer } from "../pci/device.ts";
import type { Mmio } from "../pci/mmio.ts";
import type { BoundRegister, ChipRegisters } from "../registers/bind.ts";
import { WPR2_GRANULE } from "../registers/pfb.ts";
import { classifyRead } from "../registers/pri_error.ts";
import type { FbLayoutInput, MmuLockInput, VgaWorkspaceInput } from "./fb_layout.ts";

const MiB = 1 << 20;
/** GA100 is the last chip of the TU102 FB HAL (LOCAL_MEMORY_RANGE). */
const GA100 = chipByName("ga100")!.chipsetId;

/** Read a register; a PRI error or all ones throws. */
export function readChecked(bar: Pick<Mmio, "read32">, reg: BoundRegister<string>): number {
  const value = reg.readRaw(bar);
  if (classifyRead(value) !== "ok") throw new GpuStoppedAnsweringError(reg.name, value);
  return value;
}

/** WPR2 `[start, end)` as the registers say, or `undefined` when HI reads 0. */
export function readWpr2(
  bar: Pick<Mmio, "read32">,
  regs: ChipRegisters,
): { start: number; end: number } | undefined {
  const hi = regs.PFB.PRI_MMU_WPR2_ADDR_HI;
  const lo = regs.PFB.PRI_MMU_WPR2_ADDR_LO;
  const end = hi.decode(readChecked(bar, hi)).VAL * WPR2_GRANULE;
  if (end === 0) return undefined;
  return { start: lo.decode(readChecked(bar, lo)).VAL * WPR2_GRANULE, end };
}

/** `0x…` for messages. */
export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** What the FB layout needs from the GPU: VRAM size, VGA workspace, GA100's MMU lock. */
export function readFbInputs(
  bar: Pick<Mmio, "read32">,
  regs: ChipRegisters,
  chip: ChipInfo,
): Pick<FbLayoutInput, "fbSize" | "vgaWorkspace" | "mmuLock"> {
  let fbSize: number;
  if (chip.chipsetId <= GA100) {
    const range = regs.PFB.PRI_MMU_LOCAL_MEMORY_RANGE;
    const r = range.decode(readChecked(bar, range));
    fbSize = r.LOWER_MAG * 2 ** r.LOWER_SCALE * MiB;
    if (r.ECC_MODE) fbSize = fbSize / 16 * 15;
  } else {
    fbSize = readChecked(bar, regs.PGC6.AON_SECURE_SCRATCH_GROUP_42) * MiB;
  }
  const vgaWorkspace: VgaWorkspaceInput = {
    displayPresent: (readChecked(bar, regs.FUSE.STATUS_OPT_DISPLAY) & 1) === 0,
    pdispVgaWorkspaceBase: 0,
  };
  if (vgaWorkspace.displayPresent && regs.PDISP.VGA_WORKSPACE_BASE.present) {
    vgaWorkspace.pdispVgaWorkspaceBase = readChecked(bar, regs.PDISP.VGA_WORKSPACE_BASE);
  }
  let mmuLock: MmuLockInput | undefined;
  if (regs.PFB.PRI_MMU_LOCK_ADDR_LO.present) {
    const lo = regs.PFB.PRI_MMU_LOCK_ADDR_LO;
    const hi = regs.PFB.PRI_MMU_LOCK_ADDR_HI;
    const end = hi.decode(readChecked(bar, hi)).VAL * WPR2_GRANULE;
    // HI = 0: no lock (as WPR2's HI = 0 means no WPR2); a 0..0 lock would clip everything.
    if (end !== 0) mmuLock = { start: lo.decode(readChecked(bar, lo)).VAL * WPR2_GRANULE, end };
  }
  return { fbSize, vgaWorkspace, mmuLock };
}

/**
 * The sysmem flush page (§3.11): one DMA page whose address the FB hub
 * flushes to; registered before any falcon reset, and on dispose
 * unregistered (only if the register still holds it) and freed.
 */
export class SysmemFlushPage implements Disposable {
  readonly page: DmaBuffer;
  readonly #bar: Mmio;
  readonly #regs: ChipRegisters;

  constructor(bar: Mmio, regs: ChipRegisters, dma: DmaAllocator) {
    this.#bar = bar;
    this.#regs = regs;
    this.page = dma.alloc(4096, { align: 4096 });
    try {
      const pfb = regs.PFB;
      if (pfb.NISO_FLUSH_SYSMEM_ADDR_HI.present) {
        pfb.NISO_FLUSH_SYSMEM_ADDR_HI.write(bar, { ADR_63_40: Number(this.page.iova >> 40n) });
      } else if (this.page.iova >> 40n !== 0n) {
        throw new RangeError(`the flush page at ${hex(this.page.iova)} is above 2^40`);
      }
      pfb.NISO_FLUSH_SYSMEM_ADDR.writeRaw(bar, this.#low());
    } catch (e) {
      this.page[Symbol.dispose]();
      throw e;
    }
  }

  #low(): number {
    return Number((this.page.iova >> 8n) & 0xffff_ffffn);
  }

  [Symbol.dispose](): void {
    try {
      const pfb = this.#regs.PFB;
      if (pfb.NISO_FLUSH_SYSMEM_ADDR.readRaw(this.#bar) === this.#low()) {
        if (pfb.NISO_FLUSH_SYSMEM_ADDR_HI.present) {
          pfb.NISO_FLUSH_SYSMEM_ADDR_HI.writeRaw(this.#bar, 0);
        }
        pfb.NISO_FLUSH_SYSMEM_ADDR.writeRaw(this.#bar, 0);
      }
    } finally {
      this.page[Symbol.dispose]();
    }
  }
}

/** Unregister a flush page some earlier process left registered (its memory is gone). */
export function clearSysmemFlush(bar: Mmio, regs: ChipRegisters): number {
  const pfb = regs.PFB;
  const low = readChecked(bar, pfb.NISO_FLUSH_SYSMEM_ADDR);
  if (low === 0) return 0;
  if (pfb.NISO_FLUSH_SYSMEM_ADDR_HI.present) pfb.NISO_FLUSH_SYSMEM_ADDR_HI.writeRaw(bar, 0);
  pfb.NISO_FLUSH_SYSMEM_ADDR.writeRaw(bar, 0);
  return low;
}
