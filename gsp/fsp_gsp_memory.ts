/**
 * Everything the GSP-FMC reads from system memory on an FSP-path boot
 * (reference §3.8 end, §3.9, §4.4, §4.5 steps 1–2), each buffer its own
 * resource on the caller's stack:
 *
 * - the GSP-RM image (`.fwimage`) with its radix3 tables;
 * - the GSP bootloader, and this chip's signature section;
 * - the WPR meta in its FSP form (sizes only: the FMC places WPR2 itself);
 * - the FMC image (the ELF's `image` section), which the FSP checks against
 *   the hash in the COT message;
 * - `GSP_FMC_BOOT_PARAMS`, pointing at the WPR meta and the LibOS
 *   arguments.
 *
 * @module
 */

import type { ChipInfo } from "../chips/chips.ts";
import { GSP_PAGE_SIZE as PAGE } from "../firmware/radix3.ts";
import type { FirmwareSet } from "../loader/firmware_set.ts";
import type { Device, DmaBuffer } from "../pci/device.ts";
import { writeBarrier } from "../pci/mmio.ts";
import { loadGspFirmwareMemory } from "./_gsp_firmware_memory.ts";
import { hex } from "./_hw.ts";
import { computeFbSizes, type FbSizes, WPR_META_SIZE } from "./fb_layout.ts";
import { encodeFmcBootParams, FMC_BOOT_PARAMS_SIZE } from "./fsp_boot_params.ts";
import { buildFspWprMeta } from "./wpr_meta.ts";

const MiB = 1 << 20;

/** What {@linkcode allocateFspBootMemory} needs. */
export interface FspBootMemoryInit {
  /** The device (its DMA allocator). */
  readonly device: Pick<Device, "dma">;
  /** The chip. */
  readonly chip: ChipInfo;
  /** The firmware set (with its FMC). */
  readonly firmware: FirmwareSet;
  /** Usable VRAM in bytes (`NV_USABLE_FB_SIZE_IN_MB` × 1 MiB). */
  readonly fbSize: number;
  /** The LibOS init-args page's DMA address. */
  readonly libosArgsAddress: bigint;
  /** Abort between the large copies. */
  readonly signal?: AbortSignal;
}

/** The buffers the COT message points at. */
export interface FspBootMemory {
  /** The region sizes the WPR meta carries. */
  readonly sizes: FbSizes;
  /** The FMC image. */
  readonly fmcImage: DmaBuffer;
  /** `GSP_FMC_BOOT_PARAMS`. */
  readonly bootParams: DmaBuffer;
  /** The WPR meta. */
  readonly wprMeta: DmaBuffer;
  /** For the step's detail line. */
  readonly detail: string;
}

/**
 * Allocate and fill the FSP path's DMA memory. Every buffer goes on `stack`
 * as it is allocated, so a failure part-way frees what was made.
 *
 * @param init Device, chip, firmware, VRAM size, LibOS arguments, signal.
 * @param stack Where the buffers live; the caller frees it after the GSP halted.
 * @returns The addresses the COT message needs.
 * @throws {Error} When the firmware set has no FMC, or the GSP image does not read.
 */
export async function allocateFspBootMemory(
  init: FspBootMemoryInit,
  stack: AsyncDisposableStack,
): Promise<FspBootMemory> {
  const { device, firmware } = init;
  const fmc = firmware.fmc;
  if (!fmc) throw new Error(`the ${init.chip.name} firmware set has no fmc`);
  const sizes = computeFbSizes({ chip: init.chip, fbSize: init.fbSize });

  const memory = await loadGspFirmwareMemory(device, firmware, stack, init.signal);
  const wprMeta = stack.use(device.dma.alloc(WPR_META_SIZE, { align: PAGE }));
  wprMeta.bytes.set(
    buildFspWprMeta(sizes, { gspImageSize: firmware.gspImage.imageSize, ...memory }),
  );

  const fmcImage = stack.use(device.dma.alloc(fmc.image.length, { align: PAGE }));
  fmcImage.bytes.set(fmc.image);
  const bootParams = stack.use(device.dma.alloc(FMC_BOOT_PARAMS_SIZE, { align: PAGE }));
  bootParams.bytes.set(encodeFmcBootParams({
    wprMetaAddress: wprMeta.iova,
    libosArgsAddress: init.libosArgsAddress,
  }));
  writeBarrier();
  return {
    sizes,
    fmcImage,
    bootParams,
    wprMeta,
    detail: `FMC ${fmc.image.length} B, boot params at ${hex(bootParams.iova)}, ` +
      `WPR2 heap ${sizes.wpr2HeapSize / MiB} MiB`,
  };
}
