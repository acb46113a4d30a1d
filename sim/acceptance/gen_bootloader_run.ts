/**
 * The generic falcon bootloader that loads FWSEC on Turing and GA100
 * (nova-core-boot.md §3.4), as the simulated GSP falcon runs it.
 *
 * The host PIO-loads the bootloader's code as non-secure IMEM at the top of
 * IMEM (`imem size − align_up(code size, 256)`, tags from the file's start
 * tag; §13: the top as HWCFG reports it), writes the 84-byte
 * `BootloaderDmemDescV2` at the file's DMEM load offset, sets BOOTVEC to
 * `start tag << 8` and starts the CPU. The bootloader then DMAs FWSEC in
 * through the context named by `ctx_dma` (`FBIF_TRANSCFG[ctx_dma]` must
 * target system memory, physical addressing): non-secure code from
 * `code_dma_base + non_sec_code_off` to IMEM `non_sec_code_off`, secure code
 * likewise at `sec_code_off`, each block tagged with its IMEM address / 256,
 * data from `data_dma_base` to DMEM 0, and jumps to `code_entry_point`. The
 * result is what the boot ROM then checks (`checkHsImage`).
 *
 * `BootloaderDmemDescV2` (packed): u32 reserved[4], u32 signature[4], u32
 * ctx_dma @32, u64 code_dma_base @36, u32 non_sec_code_off @44, size @48,
 * u32 sec_code_off @52, size @56, u32 code_entry_point @60, u64
 * data_dma_base @64, u32 data_size @72, u32 argc @76, u32 argv @80.
 *
 * @example A bootloader loaded by DMA is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { runGenBootloader } from "./gen_bootloader_run.ts";
 * import { SystemMemory } from "../system_memory.ts";
 * const imem = new Uint8Array(0x10000);
 * const imemBlocks = Array.from({ length: 256 }, (_, i) =>
 *   i >= 254 ? { tag: 253 + i - 254, secure: false, method: "dma" as const } : undefined);
 * const v = runGenBootloader({
 *   falcon: { imem, imemBlocks, dmem: new Uint8Array(0x4000), dmemMethod: "pio", bootVector: 253 << 8, signatureFuse: 0 },
 *   bootloader: { startTag: 253, dmemLoadOffset: 0, code: new Uint8Array(512) },
 *   transcfg: [0, 0, 0, 0, 0x5], dma: new SystemMemory(),
 * });
 * assert(!v.ok && v.rule === "loadMethod");
 * ```
 *
 * @module
 */

import { type DmaView, SimDmaFault } from "../system_memory.ts";
import type { ImemBlock, LoadedFalcon } from "./hs_image.ts";
import { HS_ERROR, reject, type Verdict } from "./verdict.ts";
import { alignUp, firstDifference, hex, u32, u64 } from "./_util.ts";

/** Size of `BootloaderDmemDescV2`. */
export const GEN_BOOTLOADER_DMEM_DESC_SIZE = 84;

/** The generic bootloader file's facts (from `parseGenBootloader`). */
export interface GenBootloaderImage {
  /** `start_tag`. */
  startTag: number;
  /** `dmem_load_off`: where the DMEM descriptor goes. */
  dmemLoadOffset: number;
  /** The code. */
  code: Uint8Array;
}

/** Inputs of {@linkcode runGenBootloader}. */
export interface GenBootloaderRunInput {
  /** The GSP falcon as the host left it. */
  falcon: LoadedFalcon;
  /** The bootloader file. */
  bootloader: GenBootloaderImage;
  /** `FBIF_TRANSCFG[0..7]` raw values (bits 1:0 target, bit 2 physical). */
  transcfg: readonly number[];
  /** The device's view of system memory. */
  dma: DmaView;
}

/**
 * Run the generic bootloader: check how the host loaded it, then DMA FWSEC in.
 *
 * @param input The falcon, the bootloader file, FBIF and DMA.
 * @returns The falcon after the bootloader (FWSEC in IMEM/DMEM, BOOTVEC at
 *   its entry), or a rejection (`loadMethod`, `imemLayout`, `bootVector`,
 *   `imageModified`, `dmaFault`).
 */
export function runGenBootloader(input: GenBootloaderRunInput): Verdict<{ falcon: LoadedFalcon }> {
  const { falcon, bootloader } = input;
  const codeSize = alignUp(bootloader.code.length, 256);
  const top = falcon.imem.length - codeSize;
  for (let n = 0; n * 256 < codeSize; n++) {
    const physical = top + n * 256;
    const block = falcon.imemBlocks[physical / 256];
    const tag = bootloader.startTag + n;
    if (block && block.method !== "pio") {
      return reject(
        HS_ERROR.loadMethod,
        `the generic bootloader was loaded by ${block.method.toUpperCase()}; it is PIO-loaded`,
      );
    }
    if (!block || block.tag !== tag || block.secure) {
      return reject(
        HS_ERROR.imemLayout,
        `generic bootloader: IMEM block ${hex(physical)} ${
          block ? `has tag ${hex(block.tag)}${block.secure ? ", secure" : ""}` : "was never written"
        }; expected non-secure, tag ${hex(tag)}`,
      );
    }
  }
  const at = firstDifference(
    bootloader.code,
    falcon.imem.subarray(top, top + bootloader.code.length),
  );
  if (at !== -1) {
    return reject(
      HS_ERROR.imageModified,
      `generic bootloader code differs at IMEM ${hex(top + at)}`,
    );
  }
  if (falcon.bootVector !== bootloader.startTag << 8) {
    return reject(
      HS_ERROR.bootVector,
      `BOOTVEC ${hex(falcon.bootVector)}; the generic bootloader starts at ${
        hex(bootloader.startTag << 8)
      }`,
    );
  }
  const d = bootloader.dmemLoadOffset;
  const desc = falcon.dmem.subarray(d, d + GEN_BOOTLOADER_DMEM_DESC_SIZE);
  const ctxDma = u32(desc, 32);
  const transcfg = input.transcfg[ctxDma] ?? 0;
  const target = transcfg & 0x3;
  if (target === 0 || (transcfg & 0x4) === 0) {
    return reject(
      HS_ERROR.dmaFault,
      `FBIF_TRANSCFG[${ctxDma}] = ${hex(transcfg)}: the bootloader's DMA context does not ` +
        "target physical system memory",
    );
  }
  const codeBase = u64(desc, 36);
  const segments = [
    { off: u32(desc, 44), size: u32(desc, 48), secure: false },
    { off: u32(desc, 52), size: u32(desc, 56), secure: true },
  ];
  const entry = u32(desc, 60);
  const dataBase = u64(desc, 64);
  const dataSize = u32(desc, 72);

  const imem = falcon.imem.slice();
  const imemBlocks: (ImemBlock | undefined)[] = [...falcon.imemBlocks];
  const dmem = falcon.dmem.slice();
  try {
    for (const { off, size, secure } of segments) {
      if (size === 0) continue;
      if (off % 256 !== 0 || off + size > top) {
        return reject(
          HS_ERROR.imemLayout,
          `bootloader descriptor: code at IMEM ${hex(off)}+${hex(size)} is unaligned or ` +
            "overlaps the bootloader",
        );
      }
      imem.set(input.dma.read(codeBase + BigInt(off), size), off);
      for (let n = 0; n * 256 < size; n++) {
        imemBlocks[off / 256 + n] = { tag: (off >> 8) + n, secure, method: "dma" };
      }
    }
    if (dataSize > 0) dmem.set(input.dma.read(dataBase, dataSize), 0);
  } catch (e) {
    if (e instanceof SimDmaFault) {
      return reject(HS_ERROR.dmaFault, `generic bootloader: ${e.message}`, {
        iova: e.iova,
        length: e.length,
      });
    }
    throw e;
  }
  return {
    ok: true,
    falcon: { ...falcon, imem, imemBlocks, dmem, dmemMethod: "dma", bootVector: entry },
  };
}
