/**
 * Prepare FWSEC for a run: write the command into a copy of the ucode and,
 * for version-3 descriptors, the signature the chip's fuses ask for.
 *
 * Two commands are used (NVIDIA `kernel_gsp_frts_tu102.c`, nova-core
 * `firmware/fwsec.rs`): FRTS (0x15) at boot, which sets up WPR2 and the FRTS
 * region in VRAM, and SB (0x19) at unload. Both set the DMEM mapper's
 * `initCmd` and write their arguments at the mapper's command-in buffer:
 *
 * | offset | ReadVbios (24 bytes) | | offset | FrtsRegion (20 bytes, FRTS only) |
 * |---|---|---|---|---|
 * | 0 | u32 version = 1 | | 24 | u32 version = 1 |
 * | 4 | u32 size = 24 | | 28 | u32 size = 20 |
 * | 8 | u64 gfwImageOffset = 0 | | 32 | u32 FRTS offset >> 12 |
 * | 16 | u32 gfwImageSize = 0 | | 36 | u32 FRTS size >> 12 |
 * | 20 | u32 flags = 2 | | 40 | u32 media type = 2 (FB) |
 *
 * Signature selection (version 3 only; version 2 ucode carries none) is
 * `selectFwsecSignature`'s: it takes the chip's fuse *version* (already
 * converted from the fuse register's bit mask). The 384 bytes go to the
 * ucode at `imemLoadSize + pkcDataOffset`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { patchFwsecFrts } from "./patch.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const fwsec = extractFwsec(bufferSource(forgeVbios().bytes));
 * const patched = patchFwsecFrts(fwsec, { frtsOffset: 0x1ff00000, frtsSize: 0x100000 }, 0);
 * const view = new DataView(patched.image.buffer);
 * assert(view.getUint32(fwsec.dmemMapper!.ucodeOffset + 0x2c, true) === 0x15);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FirmwareFormatError } from "../../errors.ts";
import { hex } from "../byte_reader.ts";
import { fieldOffset } from "../field_layout.ts";
import { DMEM_MAPPER_INIT_CMD_OFFSET, DMEM_MAPPER_LAYOUT } from "./app_interface.ts";
import type { BromParams } from "../falcon_load.ts";
import { BCRT30_RSA3K_SIG_SIZE, FALCON_UCODE_DESC_V3_LAYOUT } from "./descriptor.ts";
import type { FwsecFirmware } from "./extract.ts";
import { selectFwsecSignature } from "./signature.ts";

const logger = getLogger(["falconry", "firmware", "fwsec"]);

/** The DMEM mapper commands (`FALCON_APPLICATION_INTERFACE_DMEM_MAPPER_V3_CMD_*`). */
export const FWSEC_COMMAND = {
  /** Set up the FRTS region and WPR2 (boot). */
  frts: 0x15,
  /** Load the pre-OS apps on the PMU again (unload). */
  sb: 0x19,
} as const;

/** Size of the ReadVbios command (`FWSECLIC_READ_VBIOS_DESC`). */
export const READ_VBIOS_DESC_SIZE = 24;
/** Size of the FRTS region command (`FWSECLIC_FRTS_REGION_DESC`). */
export const FRTS_REGION_DESC_SIZE = 20;
/** ReadVbios flags NVIDIA and nova-core pass (`FWSECLIC_READ_VBIOS_STRUCT_FLAGS`). */
export const READ_VBIOS_FLAGS = 2;
/** FRTS region media type: framebuffer (`FWSECLIC_FRTS_REGION_MEDIA_FB`). */
export const FRTS_REGION_MEDIA_FB = 2;

/** Where FWSEC-FRTS puts the FRTS region in VRAM. */
export interface FrtsRegion {
  /** VRAM offset of the region, 4 KiB aligned. */
  frtsOffset: number;
  /** Size of the region, a non-zero multiple of 4 KiB (1 MiB on every chip that has one). */
  frtsSize: number;
}

/** A patched copy of the FWSEC ucode and how to run it. */
export interface PatchedFwsec {
  /** The patched ucode (code then data); the extracted ucode is left untouched. */
  image: Uint8Array;
  /** The command written (`initCmd`). */
  command: number;
  /** BROM parameters from the descriptor (version 3; all 0 for version 2). */
  brom: BromParams;
  /** Boot vector: the descriptor's `imemVirtBase`. */
  bootAddress: number;
  /** Index of the signature written (version 3 with signatures only). */
  signatureIndex?: number;
}

/**
 * The bytes FWSEC expects in its command-in buffer: ReadVbios, and for FRTS
 * the FRTS region after it.
 *
 * @param command {@linkcode FWSEC_COMMAND}`.frts` or `.sb`.
 * @param region The FRTS region (FRTS only).
 * @returns 44 bytes for FRTS, 24 for SB.
 * @throws {RangeError} for another command, a missing region, or a region
 *   that is not 4 KiB aligned, is empty, or whose offset or size in 4 KiB
 *   pages does not fit 32 bits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FWSEC_COMMAND, fwsecCommandBytes } from "./patch.ts";
 * const bytes = fwsecCommandBytes(FWSEC_COMMAND.frts, { frtsOffset: 0x1ff00000, frtsSize: 0x100000 });
 * const view = new DataView(bytes.buffer);
 * assert(bytes.length === 44 && view.getUint32(32, true) === 0x1ff00 && view.getUint32(36, true) === 0x100);
 * ```
 */
export function fwsecCommandBytes(command: number, region?: FrtsRegion): Uint8Array {
  if (command !== FWSEC_COMMAND.frts && command !== FWSEC_COMMAND.sb) {
    throw new RangeError(`FWSEC command 0x${hex(command)} is neither FRTS (0x15) nor SB (0x19)`);
  }
  const frts = command === FWSEC_COMMAND.frts;
  const bytes = new Uint8Array(READ_VBIOS_DESC_SIZE + (frts ? FRTS_REGION_DESC_SIZE : 0));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 1, true);
  view.setUint32(4, READ_VBIOS_DESC_SIZE, true);
  view.setUint32(20, READ_VBIOS_FLAGS, true);
  if (!frts) return bytes;
  if (!region) throw new RangeError("FWSEC-FRTS needs the FRTS region");
  const offsetPages = pages(region.frtsOffset, "frtsOffset", true);
  const sizePages = pages(region.frtsSize, "frtsSize", false);
  const at = READ_VBIOS_DESC_SIZE;
  view.setUint32(at, 1, true);
  view.setUint32(at + 4, FRTS_REGION_DESC_SIZE, true);
  view.setUint32(at + 8, offsetPages, true);
  view.setUint32(at + 12, sizePages, true);
  view.setUint32(at + 16, FRTS_REGION_MEDIA_FB, true);
  return bytes;
}

/**
 * Patch FWSEC to run FRTS: set up the FRTS region at `region` and WPR2.
 *
 * @param fwsec Extracted FWSEC.
 * @param region The FRTS region in VRAM.
 * @param fuseVersion The chip's signature fuse version for the ucode's id,
 *   already converted from the fuse register's bit mask (ignored for
 *   version-2 descriptors, which carry no signatures).
 * @returns The patched copy and how to run it.
 * @throws {FirmwareFormatError} when the ucode has no DMEM mapper, the
 *   command does not fit the command-in buffer, or (version 3) no signature
 *   matches the fuse version.
 * @throws {RangeError} for a bad region or fuse version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { patchFwsecFrts } from "./patch.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const fwsec = extractFwsec(bufferSource(forgeVbios({ descriptorVersion: 3 }).bytes));
 * const patched = patchFwsecFrts(fwsec, { frtsOffset: 0x1ff00000, frtsSize: 0x100000 }, 0);
 * assert(patched.signatureIndex === 0 && patched.brom.ucodeId === 9);
 * ```
 */
export function patchFwsecFrts(
  fwsec: FwsecFirmware,
  region: FrtsRegion,
  fuseVersion: number,
): PatchedFwsec {
  return patchFwsec(fwsec, FWSEC_COMMAND.frts, fuseVersion, region);
}

/**
 * Patch FWSEC to run SB (at unload).
 *
 * @param fwsec Extracted FWSEC.
 * @param fuseVersion The chip's signature fuse version, already converted
 *   from the fuse register's bit mask (ignored for version 2).
 * @returns The patched copy and how to run it.
 * @throws {FirmwareFormatError} as {@linkcode patchFwsecFrts} does.
 * @throws {RangeError} for a bad fuse version.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { patchFwsecSb } from "./patch.ts";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const patched = patchFwsecSb(extractFwsec(bufferSource(forgeVbios().bytes)), 0);
 * assert(patched.command === 0x19 && patched.signatureIndex === undefined);
 * ```
 */
export function patchFwsecSb(fwsec: FwsecFirmware, fuseVersion: number): PatchedFwsec {
  return patchFwsec(fwsec, FWSEC_COMMAND.sb, fuseVersion);
}

function patchFwsec(
  fwsec: FwsecFirmware,
  command: number,
  fuseVersion: number,
  region?: FrtsRegion,
): PatchedFwsec {
  const { descriptor: d, loadMap } = fwsec;
  const dmemStart = loadMap.dmem.srcStart;
  const dmemEnd = dmemStart + loadMap.dmem.length;
  const fail = (offset: number, field: string, reason: string): never => {
    throw new FirmwareFormatError({ offset: fwsec.ucodeOffset + offset, field, reason });
  };
  const mapper = fwsec.dmemMapper ??
    fail(
      dmemStart + fwsec.interface.dmemOffset,
      "appInterface.entries",
      "the application interface has no DMEM mapper (id 4), so FWSEC cannot take a command",
    );
  const args = fwsecCommandBytes(command, region);
  if (args.length > mapper.cmdInBufferSize) {
    fail(
      mapper.ucodeOffset + fieldOffset(DMEM_MAPPER_LAYOUT, "cmdInBufferSize"),
      "dmemMapper.cmdInBufferSize",
      `the ${args.length}-byte command does not fit the ${mapper.cmdInBufferSize}-byte buffer`,
    );
  }
  const argsAt = dmemStart + mapper.cmdInBufferOffset;
  if (argsAt + args.length > dmemEnd) {
    fail(
      mapper.ucodeOffset + fieldOffset(DMEM_MAPPER_LAYOUT, "cmdInBufferOffset"),
      "dmemMapper.cmdInBufferOffset",
      `the command-in buffer at DMEM 0x${hex(mapper.cmdInBufferOffset)} runs past DMEM`,
    );
  }
  const image = fwsec.ucode.slice();
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  view.setUint32(mapper.ucodeOffset + DMEM_MAPPER_INIT_CMD_OFFSET, command, true);
  image.set(args, argsAt);

  let signatureIndex: number | undefined;
  let brom: BromParams = { pkcDataOffset: 0, engineIdMask: 0, ucodeId: 0 };
  if (d.descriptorVersion === 3) {
    brom = { pkcDataOffset: d.pkcDataOffset, engineIdMask: d.engineIdMask, ucodeId: d.ucodeId };
    if (d.signatureCount > 0) {
      signatureIndex = selectFwsecSignature(fwsec, fuseVersion);
      const sigAt = dmemStart + d.pkcDataOffset;
      if (sigAt + BCRT30_RSA3K_SIG_SIZE > dmemEnd) {
        throw new FirmwareFormatError({
          offset: fwsec.descriptorOffset +
            fieldOffset(FALCON_UCODE_DESC_V3_LAYOUT, "pkcDataOffset"),
          field: "descriptor.pkcDataOffset",
          reason: `the signature at DMEM 0x${hex(d.pkcDataOffset)} runs past DMEM`,
        });
      }
      image.set(fwsec.signatures[signatureIndex], sigAt);
    }
  }
  logger.debug("FWSEC patched for command 0x{command}: arguments at ucode 0x{at}{sig}", {
    command: hex(command),
    at: hex(argsAt),
    sig: signatureIndex === undefined ? "" : `, signature ${signatureIndex}`,
  });
  const patched: PatchedFwsec = { image, command, brom, bootAddress: loadMap.bootAddress };
  if (signatureIndex !== undefined) patched.signatureIndex = signatureIndex;
  return patched;
}

function pages(value: number, name: string, allowZero: boolean): number {
  const page = value / 4096;
  if (
    !Number.isSafeInteger(value) || value < 0 || value % 4096 !== 0 || page > 0xffffffff ||
    (!allowZero && value === 0)
  ) {
    throw new RangeError(
      `${name} 0x${hex(value)} is not a ${allowZero ? "" : "non-zero "}4 KiB multiple ` +
        `whose page count fits 32 bits`,
    );
  }
  return page;
}
