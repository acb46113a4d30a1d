/**
 * `GSP_FMC_BOOT_PARAMS` (80 bytes, reference §4.4, checked against NVIDIA's
 * 570.144 ABI in §13): what the GSP-FMC reads, through the DMA address the
 * Chain-of-Trust message carries, to find GSP-RM: the WPR meta (coherent
 * system memory) and the LibOS init-args page (non-coherent system memory).
 *
 * The GSP-FMC reads it while it boots and clears its address out of the GSP's
 * mailboxes when it has it; it must stay mapped until the GSP has halted
 * (issue 11): the HAL frees it last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DMA_TARGET, encodeFmcBootParams, FMC_BOOT_PARAMS_SIZE } from "./fsp_boot_params.ts";
 * const bytes = encodeFmcBootParams({ wprMetaAddress: 0x1000n, libosArgsAddress: 0x2000n });
 * const view = new DataView(bytes.buffer);
 * assert.equal(bytes.length, FMC_BOOT_PARAMS_SIZE);
 * assert.equal(view.getUint32(0x08, true), DMA_TARGET.COHERENT_SYSTEM);
 * assert.equal(view.getBigUint64(0x10, true), 0x1000n);
 * assert.equal(view.getBigUint64(0x30, true), 0x2000n);
 * ```
 *
 * @module
 */

import type { PackedField } from "./fsp_message.ts";
import { WPR_META_SIZE } from "./fb_layout.ts";

/** The DMA targets of the boot params (`GSP_DMA_TARGET`). */
export interface DmaTargets {
  /** Local framebuffer. */
  readonly LOCAL_FB: 0;
  /** Coherent system memory. */
  readonly COHERENT_SYSTEM: 1;
  /** Non-coherent system memory. */
  readonly NONCOHERENT_SYSTEM: 2;
}

/** The DMA target enum of the boot params (`GSP_DMA_TARGET`). */
export const DMA_TARGET: DmaTargets = Object.freeze({
  /** Local framebuffer. */
  LOCAL_FB: 0,
  /** Coherent system memory. */
  COHERENT_SYSTEM: 1,
  /** Non-coherent system memory. */
  NONCOHERENT_SYSTEM: 2,
});

/** `sizeof(GSP_FMC_BOOT_PARAMS)`. */
export const FMC_BOOT_PARAMS_SIZE = 80;

/**
 * The fields of `GSP_FMC_BOOT_PARAMS` (padding not listed), as §4.4 gives them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FMC_BOOT_PARAMS_FIELDS } from "./fsp_boot_params.ts";
 * assert.equal(FMC_BOOT_PARAMS_FIELDS.find((f) => f.name.endsWith("bIsGspRmBoot"))?.offset, 0x24);
 * ```
 */
export const FMC_BOOT_PARAMS_FIELDS: readonly PackedField[] = Object.freeze([
  { name: "initParams.regkeys", offset: 0x00, size: 4 },
  { name: "bootGspRmParams.target", offset: 0x08, size: 4 },
  { name: "bootGspRmParams.gspRmDescSize", offset: 0x0c, size: 4 },
  { name: "bootGspRmParams.gspRmDescOffset", offset: 0x10, size: 8 },
  { name: "bootGspRmParams.wprCarveoutOffset", offset: 0x18, size: 8 },
  { name: "bootGspRmParams.wprCarveoutSize", offset: 0x20, size: 4 },
  { name: "bootGspRmParams.bIsGspRmBoot", offset: 0x24, size: 1 },
  { name: "gspRmParams.target", offset: 0x28, size: 4 },
  { name: "gspRmParams.bootArgsOffset", offset: 0x30, size: 8 },
  { name: "gspSpdmParams", offset: 0x38, size: 24 },
].map((f) => Object.freeze(f)));

/** Where the boot params point. */
export interface FmcBootParamsInit {
  /** DMA address of the 256-byte `GspFwWprMeta` (coherent). */
  readonly wprMetaAddress: bigint;
  /** DMA address of the LibOS init-args page (non-coherent). */
  readonly libosArgsAddress: bigint;
}

/**
 * Encode `GSP_FMC_BOOT_PARAMS` for a cold boot: no regkeys, the WPR meta as
 * the GSP-RM descriptor (256 bytes, coherent system memory), no WPR
 * carve-out (the FMC places WPR2), `bIsGspRmBoot` = 1, the LibOS arguments
 * in non-coherent system memory, no SPDM.
 *
 * @param init The two addresses.
 * @returns The 80 bytes.
 * @throws {RangeError} For an address that does not fit 64 bits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFmcBootParams } from "./fsp_boot_params.ts";
 * const bytes = encodeFmcBootParams({ wprMetaAddress: 0n, libosArgsAddress: 0n });
 * const view = new DataView(bytes.buffer);
 * assert.equal(view.getUint32(0x0c, true), 256);
 * assert.equal(bytes[0x24], 1);
 * assert.equal(view.getUint32(0x28, true), 2);
 * ```
 */
export function encodeFmcBootParams(init: FmcBootParamsInit): Uint8Array<ArrayBuffer> {
  for (const [name, value] of Object.entries(init)) {
    if (value < 0n || value >= 1n << 64n) {
      throw new RangeError(`FMC boot params: ${name} ${value} does not fit 64 bits`);
    }
  }
  const out = new Uint8Array(FMC_BOOT_PARAMS_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0x08, DMA_TARGET.COHERENT_SYSTEM, true);
  view.setUint32(0x0c, WPR_META_SIZE, true);
  view.setBigUint64(0x10, init.wprMetaAddress, true);
  out[0x24] = 1;
  view.setUint32(0x28, DMA_TARGET.NONCOHERENT_SYSTEM, true);
  view.setBigUint64(0x30, init.libosArgsAddress, true);
  return out;
}
