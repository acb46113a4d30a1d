/**
 * The GSP-RM image and its signature as the simulated Booter expects them on
 * a given chip, recognised by `firmware/`'s GSP image parser.
 *
 * Which `.fwsignature_*` section a chip uses is the simulator's own table
 * (real-files.md: the file wins over nova-core; GA100 takes
 * `.fwsignature_ga100` as nouveau, NVIDIA's open modules and linux-firmware's
 * TLV script do, not nova-core's `.fwsignature_tu10x`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspSignatureSectionFor } from "./gsp_firmware.ts";
 * assert.equal(gspSignatureSectionFor(0x162), ".fwsignature_tu10x");
 * assert.equal(gspSignatureSectionFor(0x170), ".fwsignature_ga100");
 * assert.equal(gspSignatureSectionFor(0x194), ".fwsignature_ad10x");
 * ```
 *
 * @module
 */

import { gspSignature, parseGspImage } from "../../firmware/mod.ts";

/** Section per chipset range `[first, last]`. */
const SECTIONS: readonly [number, number, string][] = [
  [0x162, 0x166, ".fwsignature_tu10x"],
  [0x167, 0x168, ".fwsignature_tu11x"],
  [0x170, 0x170, ".fwsignature_ga100"],
  [0x172, 0x177, ".fwsignature_ga10x"],
  [0x192, 0x197, ".fwsignature_ad10x"],
];

/**
 * The GSP signature section a chip's Booter checks.
 *
 * @param chipset The chip.
 * @returns The section name.
 * @throws {RangeError} for a chip outside the SEC2 path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspSignatureSectionFor } from "./gsp_firmware.ts";
 * assert.throws(() => gspSignatureSectionFor(0x180), RangeError);
 * ```
 */
export function gspSignatureSectionFor(chipset: number): string {
  const hit = SECTIONS.find(([first, last]) => chipset >= first && chipset <= last);
  if (!hit) throw new RangeError(`chipset 0x${chipset.toString(16)} has no Booter GSP signature`);
  return hit[2];
}

/** The GSP image and signature a chip's Booter expects. */
export interface GspFirmwareForChip {
  /** The `.fwimage` bytes (a view into the file). */
  image: Uint8Array;
  /** This chip's signature section bytes. */
  signature: Uint8Array;
  /** The `.fwversion` text. */
  version: string;
}

/**
 * Recognise a `gsp-*.bin` file and take what a chip's Booter checks.
 *
 * @param bytes The whole file.
 * @param chipset The chip.
 * @param name File name for errors.
 * @returns The image and signature.
 * @throws {FirmwareFormatError} when the file is no GSP image or lacks the chip's section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspFirmwareForChip } from "./gsp_firmware.ts";
 * import { forgeGspImage } from "../../firmware/forge/mod.ts";
 * const fw = gspFirmwareForChip(forgeGspImage({ imageSize: 8192 }), 0x172);
 * assert(fw.image.length === 8192 && fw.signature.length === 4096);
 * ```
 */
export function gspFirmwareForChip(
  bytes: Uint8Array,
  chipset: number,
  name?: string,
): GspFirmwareForChip {
  const gsp = parseGspImage(bytes, name);
  return {
    image: bytes.subarray(gsp.image.offset, gsp.image.offset + gsp.image.size),
    signature: gspSignature(gsp, bytes, gspSignatureSectionFor(chipset)),
    version: gsp.version,
  };
}
