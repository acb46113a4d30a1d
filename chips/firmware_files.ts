/**
 * Which firmware files each chip's boot needs, per firmware version.
 *
 * linux-firmware ships `nvidia/<chip>/gsp/<name>-<version>.bin`. The sets
 * come from nova-core's `boot_firmware_files` and the real package (see
 * `../shared/reference/real-files.md`): 570.144 adds `gen_bootloader` on
 * Turing and GA100 and `fmc` on Hopper/Blackwell; 535.113.01 exists only for
 * the SEC2-path chips.
 *
 * @module
 */

import type { FirmwareKind } from "../firmware/detect.ts";
import type { ChipFamily, ChipInfo } from "./chips.ts";

export type { FirmwareKind };

/** Firmware versions falconry knows. */
export const FIRMWARE_VERSIONS: readonly string[] = ["570.144", "535.113.01"];

/** The version used when none is asked for (nova-core's r570.144 RPC ABI). */
export const DEFAULT_FIRMWARE_VERSION = "570.144";

/** One firmware file of a chip's boot. */
export interface FirmwareFile {
  /** Base name without version, e.g. `booter_load`. */
  readonly name: string;
  /** Its format. */
  readonly kind: FirmwareKind;
  /** Path relative to a firmware root, e.g. `nvidia/tu102/gsp/booter_load-570.144.bin`. */
  readonly path: string;
  /** Whether the boot cannot go on without it (the AD10x scrubber is optional). */
  readonly required: boolean;
}

interface FileSpec {
  name: string;
  kind: FirmwareKind;
  required: boolean;
}

const f = (name: string, kind: FirmwareKind, required = true): FileSpec => ({
  name,
  kind,
  required,
});
const BOOTER = [f("booter_load", "booter"), f("booter_unload", "booter")];
const BOOTLOADER = f("bootloader", "riscv-bootloader");
const GSP = f("gsp", "gsp-image");

/** The file sets as data: version → family → files. */
const FILE_SETS: Record<string, Partial<Record<ChipFamily, FileSpec[]>>> = {
  "570.144": {
    tu10x: [...BOOTER, BOOTLOADER, f("gen_bootloader", "gen-bootloader"), GSP],
    tu11x: [...BOOTER, BOOTLOADER, f("gen_bootloader", "gen-bootloader"), GSP],
    ga100: [...BOOTER, BOOTLOADER, f("gen_bootloader", "gen-bootloader"), GSP],
    ga10x: [...BOOTER, BOOTLOADER, GSP],
    ad10x: [...BOOTER, BOOTLOADER, GSP, f("scrubber", "booter", false)],
    gh100: [BOOTLOADER, f("fmc", "fmc"), GSP],
    gb10x: [BOOTLOADER, f("fmc", "fmc"), GSP],
    gb20x: [BOOTLOADER, f("fmc", "fmc"), GSP],
  },
  "535.113.01": {
    tu10x: [...BOOTER, BOOTLOADER, GSP],
    tu11x: [...BOOTER, BOOTLOADER, GSP],
    ga100: [...BOOTER, BOOTLOADER, GSP],
    ga10x: [...BOOTER, BOOTLOADER, GSP],
    ad10x: [...BOOTER, BOOTLOADER, GSP],
  },
};

/**
 * The firmware files `chip` needs with firmware `version`, or an empty list
 * when linux-firmware has no such version for that chip.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "./chips.ts";
 * import { firmwareFiles } from "./firmware_files.ts";
 * const files = firmwareFiles(chipByName("tu102")!, "570.144");
 * assert(files.some((f) => f.path === "nvidia/tu102/gsp/gen_bootloader-570.144.bin"));
 * assert(firmwareFiles(chipByName("gh100")!, "535.113.01").length === 0);
 * ```
 */
export function firmwareFiles(chip: ChipInfo, version: string): FirmwareFile[] {
  const specs = FILE_SETS[version]?.[chip.family] ?? [];
  return specs.map((s) => ({
    name: s.name,
    kind: s.kind,
    required: s.required,
    path: `nvidia/${chip.name}/gsp/${s.name}-${version}.bin`,
  }));
}
