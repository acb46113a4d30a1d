/**
 * What the simulated Booter-load does once the boot ROM has accepted it
 * (nova-core-boot.md §3.7–3.9): everything it checks, with the simulator's
 * own code, in order.
 *
 * 1. FWSEC-FRTS must have run: WPR2 is set up and starts at the FRTS region
 *    of the layout (chips without FRTS, GA100, skip this).
 * 2. It reads `GspFwWprMeta` through DMA at the IOVA the driver put in its
 *    MBOX0 (low 32 bits) and MBOX1 (high 32 bits).
 * 3. It checks the meta against its own FB layout ({@linkcode validateWprMeta}).
 * 4. It walks the radix3 tables and checks they map exactly the GSP image
 *    ({@linkcode walkRadix3}).
 * 5. It reads the bootloader blob and the GSP signature through DMA and
 *    compares them with the bootloader file's payload and the chip's
 *    signature section.
 *
 * Success sets WPR2 to `gspFwWprStart .. gspFwWprEnd` and starts GSP-RM
 * with RISC-V active (the falcon model does that). Any DMA outside a live
 * mapping is a `dmaFault` verdict.
 *
 * @example Booter-load before FWSEC-FRTS
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkBooterLoad } from "./booter_load.ts";
 * import { SystemMemory } from "../system_memory.ts";
 * const v = checkBooterLoad({
 *   dma: new SystemMemory(), mbox0: 0x1000, mbox1: 0, chipset: 0x172, fbSize: 2 ** 34,
 *   displayFuse: 1, vgaWorkspaceRegister: 0, wpr2: { lo: 0, hi: 0 },
 *   gspImage: new Uint8Array(4096), gspSignature: new Uint8Array(4096),
 *   bootloader: { ucode: new Uint8Array(4096), codeOffset: 0, dataOffset: 0, manifestOffset: 0 },
 * });
 * assert(!v.ok && v.rule === "frtsMissing");
 * ```
 *
 * @module
 */

import { type DmaView, SimDmaFault } from "../system_memory.ts";
import { computeFbLayout, type FbLayout } from "./fb_layout.ts";
import { type ExpectedImage, walkRadix3 } from "./radix3_walk.ts";
import { HS_ERROR, reject, type Verdict } from "./verdict.ts";
import { validateWprMeta, WPR_META_SIZE, type WprMeta, type WprMetaRejection } from "./wpr_meta.ts";
import { decodeWpr2, encodeWpr2, type Wpr2Registers } from "./wpr2_register.ts";
import { GA100 } from "./_chip.ts";
import { firstDifference, hex } from "./_util.ts";

/** The GSP bootloader as Booter checks it. */
export interface BooterBootloader {
  /** The blob (the bootloader file's payload). */
  ucode: Uint8Array;
  /** `bootloaderCodeOffset`: the descriptor's `monitorCodeOffset`. */
  codeOffset: number;
  /** `bootloaderDataOffset`: the descriptor's `monitorDataOffset`. */
  dataOffset: number;
  /** `bootloaderManifestOffset`: the descriptor's `manifestOffset`. */
  manifestOffset: number;
}

/** Inputs of {@linkcode checkBooterLoad}: the SEC2 falcon's, the chip's and the firmware's. */
export interface BooterLoadInput {
  /** The device's view of system memory. */
  dma: DmaView;
  /** SEC2 MBOX0 at start: the meta's IOVA, low 32 bits. */
  mbox0: number;
  /** SEC2 MBOX1 at start: the meta's IOVA, high 32 bits. */
  mbox1: number;
  /** The chip. */
  chipset: number;
  /** Usable VRAM. */
  fbSize: number;
  /** `NV_FUSE_STATUS_OPT_DISPLAY`. */
  displayFuse: number;
  /** `NV_PDISP_VGA_WORKSPACE_BASE`. */
  vgaWorkspaceRegister: number;
  /** GA100: MMU lock start when valid. */
  mmuLockStart?: number;
  /** WPR2 LO/HI as they read now. */
  wpr2: Wpr2Registers;
  /** The `.fwimage` bytes. */
  gspImage: Uint8Array;
  /** Their SHA-256 (hex), to skip hashing the expected image again. */
  gspImageSha256?: string;
  /** This chip's GSP signature section. */
  gspSignature: Uint8Array;
  /** The GSP bootloader. */
  bootloader: BooterBootloader;
}

/** Booter-load accepted. */
export interface BooterLoadAcceptance {
  /** WPR2 to program. */
  wpr2: Wpr2Registers;
  /** The layout the simulator computed. */
  layout: FbLayout;
  /** The meta it read. */
  meta: WprMeta;
  /** Remarks that did not reject it. */
  notes: string[];
  /** MBOX0 after Booter halts: 0. */
  mbox0: 0;
}

/**
 * Run Booter-load's checks.
 *
 * @param input What the falcon, chip and firmware provide.
 * @returns Acceptance with the new WPR2, or the rejection (MBOX0 ≠ 0).
 *
 * @example An unmapped meta IOVA
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkBooterLoad } from "./booter_load.ts";
 * import { SystemMemory } from "../system_memory.ts";
 * const v = checkBooterLoad({
 *   dma: new SystemMemory(), mbox0: 0x2000, mbox1: 0x1, chipset: 0x170, fbSize: 2 ** 34,
 *   displayFuse: 1, vgaWorkspaceRegister: 0, wpr2: { lo: 0, hi: 0 },
 *   gspImage: new Uint8Array(4096), gspSignature: new Uint8Array(4096),
 *   bootloader: { ucode: new Uint8Array(4096), codeOffset: 0, dataOffset: 0, manifestOffset: 0 },
 * });
 * assert(!v.ok && v.rule === "dmaFault" && v.detail?.iova === 0x1_0000_2000n);
 * ```
 */
export function checkBooterLoad(
  input: BooterLoadInput,
): Verdict<BooterLoadAcceptance> | WprMetaRejection {
  const layout = computeFbLayout({
    chipset: input.chipset,
    fbSize: input.fbSize,
    displayFuse: input.displayFuse,
    vgaWorkspaceRegister: input.vgaWorkspaceRegister,
    bootloaderSize: input.bootloader.ucode.length,
    gspImageSize: input.gspImage.length,
    mmuLockStart: input.mmuLockStart,
  });
  if (input.chipset !== GA100) {
    const wpr2 = decodeWpr2(input.wpr2);
    if (!wpr2 || wpr2.start !== layout.frts.start) {
      return reject(
        HS_ERROR.frtsMissing,
        wpr2
          ? `WPR2 starts at ${hex(wpr2.start)}, not at the FRTS region ${hex(layout.frts.start)}`
          : "WPR2 is not set up: FWSEC-FRTS has not run",
      );
    }
  }
  const metaIova = (BigInt(input.mbox1 >>> 0) << 32n) | BigInt(input.mbox0 >>> 0);
  try {
    const metaBytes = input.dma.read(metaIova, WPR_META_SIZE);
    const checked = validateWprMeta(metaBytes, layout, {
      gspImageSize: input.gspImage.length,
      bootloaderSize: input.bootloader.ucode.length,
      bootloaderCodeOffset: input.bootloader.codeOffset,
      bootloaderDataOffset: input.bootloader.dataOffset,
      bootloaderManifestOffset: input.bootloader.manifestOffset,
      signatureSize: input.gspSignature.length,
    });
    if (!checked.ok) return checked;
    const { meta } = checked;
    const expected: ExpectedImage = { bytes: input.gspImage, sha256: input.gspImageSha256 };
    const walk = walkRadix3(
      input.dma,
      meta.sysmemAddrOfRadix3Elf,
      Number(meta.sizeOfRadix3Elf),
      expected,
    );
    if (!walk.ok) return walk;
    const blobs: [string, bigint, Uint8Array, (typeof HS_ERROR)["bootloader" | "gspSignature"]][] =
      [
        ["bootloader", meta.sysmemAddrOfBootloader, input.bootloader.ucode, HS_ERROR.bootloader],
        ["GSP signature", meta.sysmemAddrOfSignature, input.gspSignature, HS_ERROR.gspSignature],
      ];
    for (const [what, iova, want, code] of blobs) {
      const got = input.dma.read(iova, want.length);
      const at = firstDifference(want, got);
      if (at !== -1) {
        return reject(
          code,
          `the ${what} at IOVA ${hex(iova)} differs from the file at byte ${hex(at)}`,
        );
      }
    }
    return {
      ok: true,
      wpr2: encodeWpr2({ start: Number(meta.gspFwWprStart), end: Number(meta.gspFwWprEnd) }),
      layout,
      meta,
      notes: checked.notes,
      mbox0: 0,
    };
  } catch (e) {
    if (e instanceof SimDmaFault) {
      return reject(HS_ERROR.dmaFault, `Booter-load: ${e.message}`, {
        iova: e.iova,
        length: e.length,
      });
    }
    throw e;
  }
}
