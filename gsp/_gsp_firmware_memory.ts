// The GSP firmware in DMA memory, as both boot paths hand it over: the GSP-RM image behind its
// radix3 tables (one region, tables first), the bootloader and the chip's signature. Booter (TU102
// family) and the FMC (GH100) read the same three; only the WPR meta that points at them differs.

import { GSP_PAGE_SIZE as PAGE, radix3Layout } from "../firmware/radix3.ts";
import type { FirmwareSet } from "../loader/firmware_set.ts";
import { loadGspImage } from "../loader/gsp_image.ts";
import type { Device } from "../pci/device.ts";

/** Where the WPR meta finds the firmware: the radix3 root, the bootloader and the signature. */
export interface GspFirmwareMemory {
  /** DMA address of the radix3 level-0 page. */
  readonly radix3Address: bigint;
  /** Radix3 table pages (for the step's detail line). */
  readonly tablePages: number;
  /** The bootloader's buffer and its offsets, as the WPR meta carries them. */
  readonly bootloader: {
    readonly dmaAddress: bigint;
    readonly size: number;
    readonly codeOffset: number;
    readonly dataOffset: number;
    readonly manifestOffset: number;
  };
  /** The signature's buffer. */
  readonly signature: { readonly dmaAddress: bigint; readonly size: number };
}

/**
 * Load the GSP image, its radix3 tables, the bootloader and the signature into DMA buffers that
 * `stack` owns.
 *
 * @param device The device (its DMA allocator).
 * @param firmware The firmware set.
 * @param stack Owns every buffer.
 * @param signal Checked after the image's large read.
 * @returns Where each piece is.
 */
export async function loadGspFirmwareMemory(
  device: Pick<Device, "dma">,
  firmware: FirmwareSet,
  stack: AsyncDisposableStack,
  signal?: AbortSignal,
): Promise<GspFirmwareMemory> {
  const r3 = radix3Layout(firmware.gspImage.imageSize);
  const levelStart = [0, r3.level0Pages, r3.level0Pages + r3.level1Pages].map((p) => p * PAGE);
  const tableBytes = r3.tablePages * PAGE;
  const region = stack.use(device.dma.alloc(tableBytes + r3.imagePages * PAGE, { align: PAGE }));
  {
    using loaded = await loadGspImage(firmware.paths.gsp, {
      signatureSection: firmware.gspSignatureSection,
      allocate: (n) => region.bytes.subarray(tableBytes, tableBytes + n),
      imagePageAddress: (page) => region.iova + BigInt(tableBytes + page * PAGE),
      tablePageAddress: (level, page) => region.iova + BigInt(levelStart[level] + page * PAGE),
    });
    region.bytes.set(loaded.radix3.level0, levelStart[0]);
    region.bytes.set(loaded.radix3.level1, levelStart[1]);
    region.bytes.set(loaded.radix3.level2, levelStart[2]);
  }
  signal?.throwIfAborted();
  const bl = firmware.bootloader;
  const blBuffer = stack.use(device.dma.alloc(bl.ucode.length, { align: PAGE }));
  blBuffer.bytes.set(bl.ucode);
  const sig = stack.use(device.dma.alloc(firmware.gspSignature.length, { align: PAGE }));
  sig.bytes.set(firmware.gspSignature);
  return {
    radix3Address: region.iova + BigInt(levelStart[0]),
    tablePages: r3.tablePages,
    bootloader: {
      dmaAddress: blBuffer.iova,
      size: bl.ucode.length,
      codeOffset: bl.descriptor.monitorCodeOffset,
      dataOffset: bl.descriptor.monitorDataOffset,
      manifestOffset: bl.descriptor.manifestOffset,
    },
    signature: { dmaAddress: sig.iova, size: firmware.gspSignature.length },
  };
}
