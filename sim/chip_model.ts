/**
 * Per-chip facts the simulator needs and the register tables do not hold:
 * the identification values a chip answers (`NV_PMC_BOOT_0`/`BOOT_42`), the
 * PCI ids and class of a typical board, its VRAM size, whether it has a
 * display, and its signature fuses, stored as the bit masks the hardware
 * holds (version *v* reads as the low *v* bits set; `registers/fuse.ts`
 * `fuseVersionOf` turns a mask back into a version).
 *
 * Every Turing, Ampere and Ada chip (the SEC2 boot path) and GH100 (the FSP
 * boot path; an H100 PCIe, PCI device 0x2331 in pci-ids, 80 GiB, no display)
 * can be simulated by name. The PCI device ids and VRAM sizes are those of one well-known board
 * per chip (the TU102's is the RTX 2080 Ti of `../shared/vbios/TU102.rom`,
 * PCI device 0x1e04); options change them.
 *
 * Fuse versions: Turing has no signature fuses (NVIDIA's TU102 code uses
 * version 0 without reading, and the tables place the fuse registers from
 * GA100 on). A production GA10x or Ada chip's SEC2 and GSP fuses give
 * version 1, which selects the first signature of linux-firmware's
 * `booter_load` (FUSE 1, two signatures); GA100 defaults to 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simChipModel } from "./chip_model.ts";
 * import { fuseVersionOf } from "../registers/fuse.ts";
 *
 * const ga102 = simChipModel("ga102");
 * assert.equal(ga102.pciDeviceId, 0x2204);
 * assert.equal(ga102.fbSize, 24 * 2 ** 30);
 * assert.equal(fuseVersionOf(ga102.fuses.GSP[0]), 1);
 * assert.equal(simChipModel("ga102", { fuseVersion: 3 }).fuses.SEC2[2], 0b111);
 * ```
 *
 * @module
 */

import { chipByName, type ChipFamily, type ChipInfo, FAMILIES } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import { chipRegisters } from "../registers/bind.ts";

/** Engines with signature fuses, by the name of their fuse register. */
export type FuseEngine = "SEC2" | "GSP" | "NVDEC";

/** Number of ucode ids each signature fuse array covers (`UCODE1`…`UCODE16`). */
export const FUSE_UCODE_IDS = 16;

/** The highest fuse version a 16-bit mask can hold. */
export const MAX_FUSE_VERSION = 16;

/** One board per chip: its PCI device id and VRAM size. */
interface BoardFacts {
  /** Board name, for messages and the static info. */
  readonly board: string;
  /** PCI device id. */
  readonly pciDeviceId: number;
  /** VRAM in MiB. */
  readonly fbSizeMiB: number;
}

/** Where the PCI ids come from: the pci-ids database's entries for these boards. */
const BOARDS: Readonly<Record<string, BoardFacts>> = {
  tu102: { board: "GeForce RTX 2080 Ti", pciDeviceId: 0x1e04, fbSizeMiB: 11 * 1024 },
  tu104: { board: "GeForce RTX 2080", pciDeviceId: 0x1e82, fbSizeMiB: 8 * 1024 },
  tu106: { board: "GeForce RTX 2070", pciDeviceId: 0x1f02, fbSizeMiB: 8 * 1024 },
  tu117: { board: "GeForce GTX 1650", pciDeviceId: 0x1f82, fbSizeMiB: 4 * 1024 },
  tu116: { board: "GeForce GTX 1660 Ti", pciDeviceId: 0x2182, fbSizeMiB: 6 * 1024 },
  ga100: { board: "A100-SXM4-40GB", pciDeviceId: 0x20b0, fbSizeMiB: 40 * 1024 },
  ga102: { board: "GeForce RTX 3090", pciDeviceId: 0x2204, fbSizeMiB: 24 * 1024 },
  ga103: { board: "GeForce RTX 3080 Ti Laptop GPU", pciDeviceId: 0x2420, fbSizeMiB: 16 * 1024 },
  ga104: { board: "GeForce RTX 3070", pciDeviceId: 0x2484, fbSizeMiB: 8 * 1024 },
  ga106: { board: "GeForce RTX 3060", pciDeviceId: 0x2503, fbSizeMiB: 12 * 1024 },
  ga107: { board: "GeForce RTX 3050 Ti Laptop GPU", pciDeviceId: 0x25a0, fbSizeMiB: 4 * 1024 },
  ad102: { board: "GeForce RTX 4090", pciDeviceId: 0x2684, fbSizeMiB: 24 * 1024 },
  ad103: { board: "GeForce RTX 4080", pciDeviceId: 0x2704, fbSizeMiB: 16 * 1024 },
  ad104: { board: "GeForce RTX 4070 Ti", pciDeviceId: 0x2782, fbSizeMiB: 12 * 1024 },
  ad106: { board: "GeForce RTX 4060 Ti", pciDeviceId: 0x2803, fbSizeMiB: 8 * 1024 },
  ad107: { board: "GeForce RTX 4060", pciDeviceId: 0x2882, fbSizeMiB: 8 * 1024 },
  gh100: { board: "H100 PCIe", pciDeviceId: 0x2331, fbSizeMiB: 80 * 1024 },
};

/** Families the simulator models: the SEC2 boot path, and GH100 on the FSP path. */
const SIMULATED_FAMILIES: readonly ChipFamily[] = [
  "tu10x",
  "tu11x",
  "ga100",
  "ga10x",
  "ad10x",
  "gh100",
];

/** Families without a display engine (a 3D controller, no VGA workspace). */
const DISPLAYLESS_FAMILIES: readonly ChipFamily[] = ["ga100", "gh100"];

/** Default fuse version per family (`undefined`: the chip has no signature fuses). */
const DEFAULT_FUSE_VERSION: Readonly<Partial<Record<ChipFamily, number>>> = {
  ga100: 0,
  ga10x: 1,
  ad10x: 1,
  gh100: 1,
};

/** PCI class codes: VGA controller, or 3D controller for the display-less GA100. */
const PCI_CLASS_VGA = 0x030000;
const PCI_CLASS_3D = 0x030200;

/** Chip revision the models report: major 0xa, minor 1 (`a1` silicon). */
const REVISION = { major: 0xa, minor: 1 } as const;

/**
 * The names of every SEC2-path chip the simulator can model (the TU102
 * family: Turing, Ampere, Ada), oldest first. The FSP-path chips are in
 * {@linkcode SIM_FSP_CHIP_NAMES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SIM_CHIP_NAMES } from "./chip_model.ts";
 * assert(SIM_CHIP_NAMES.includes("tu116") && SIM_CHIP_NAMES.includes("ad107"));
 * assert(!SIM_CHIP_NAMES.includes("gh100"));
 * ```
 */
export const SIM_CHIP_NAMES: readonly string[] = Object.freeze(
  Object.keys(BOARDS).filter((name) => chipByName(name)?.family !== "gh100"),
);

/**
 * The names of the FSP-path chips the simulator can model (Hopper: GH100,
 * booting through the FSP chain of trust).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SIM_FSP_CHIP_NAMES } from "./chip_model.ts";
 * assert.deepEqual(SIM_FSP_CHIP_NAMES, ["gh100"]);
 * ```
 */
export const SIM_FSP_CHIP_NAMES: readonly string[] = Object.freeze(
  Object.keys(BOARDS).filter((name) => chipByName(name)?.family === "gh100"),
);

/** Options for {@linkcode simChipModel}. */
export interface SimChipModelOptions {
  /** Fuse version of every signature fuse (SEC2, GSP, NVDEC); default per family. */
  fuseVersion?: number;
  /** Fuse version per engine, over `fuseVersion`. */
  fuseVersions?: Partial<Record<FuseEngine, number>>;
  /** PCI device id, over the board's (e.g. to model a quirk of another board). */
  pciDeviceId?: number;
  /** VRAM in MiB, over the board's. */
  fbSizeMiB?: number;
}

/** What a simulated chip is. */
export interface SimChipModel {
  /** The chip-table entry. */
  readonly chip: ChipInfo;
  /** The board the ids come from. */
  readonly board: string;
  /** `NV_PMC_BOOT_0`. */
  readonly boot0: number;
  /** `NV_PMC_BOOT_42`. */
  readonly boot42: number;
  /** PCI vendor id (NVIDIA). */
  readonly pciVendorId: number;
  /** PCI device id. */
  readonly pciDeviceId: number;
  /** 24-bit PCI class code. */
  readonly pciClass: number;
  /** PCI revision id. */
  readonly pciRevision: number;
  /** VRAM size in bytes. */
  readonly fbSize: number;
  /** Whether the chip has a display engine (display fuse reads 0, VGA workspace valid). */
  readonly display: boolean;
  /** The signature fuse version per engine, or `undefined` when the chip has none (Turing). */
  readonly fuseVersions?: Readonly<Record<FuseEngine, number>>;
  /** The signature fuse registers' values (bit masks), 16 per engine; empty on Turing. */
  readonly fuses: Readonly<Record<FuseEngine, readonly number[]>>;
}

/**
 * The bit mask a fuse holds for a version: the low `version` bits set.
 *
 * @param version 0…16.
 * @throws {RangeError} Outside 0…16.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fuseMaskOf } from "./chip_model.ts";
 * import { fuseVersionOf } from "../registers/fuse.ts";
 * assert.deepEqual([0, 1, 2, 16].map(fuseMaskOf), [0, 1, 3, 0xffff]);
 * assert.equal(fuseVersionOf(fuseMaskOf(5)), 5);
 * ```
 */
export function fuseMaskOf(version: number): number {
  if (!Number.isInteger(version) || version < 0 || version > MAX_FUSE_VERSION) {
    throw new RangeError(`fuse version ${version} is not 0…${MAX_FUSE_VERSION}`);
  }
  return 2 ** version - 1;
}

/**
 * The default signature fuse version of a chip, or `undefined` when it has no
 * signature fuses.
 *
 * @param chip A chip name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultFuseVersion } from "./chip_model.ts";
 * assert.equal(defaultFuseVersion("ga102"), 1);
 * assert.equal(defaultFuseVersion("tu102"), undefined);
 * ```
 */
export function defaultFuseVersion(chip: string): number | undefined {
  return DEFAULT_FUSE_VERSION[simulatedChip(chip).family];
}

/** An unknown chip name, or a chip the simulator does not model. */
export class UnknownSimChipError extends FalconryError {
  /** The name asked for. */
  readonly chip: string;

  /**
   * Build the error.
   *
   * @param chip The name asked for.
   * @param reason Why it is refused.
   */
  constructor(chip: string, reason: string) {
    super(
      `${chip}: ${reason} (simulated chips: ${
        [...SIM_CHIP_NAMES, ...SIM_FSP_CHIP_NAMES].join(", ")
      })`,
    );
    this.chip = chip;
  }
}

function simulatedChip(name: string): ChipInfo {
  const chip = chipByName(name);
  if (!chip) throw new UnknownSimChipError(name, "not a chip falconry knows");
  if (!SIMULATED_FAMILIES.includes(chip.family) || !BOARDS[chip.name]) {
    throw new UnknownSimChipError(
      name,
      `the ${chip.family} family boots through the ${FAMILIES[chip.family].bootPath} path, ` +
        "which the simulator does not model",
    );
  }
  return chip;
}

/**
 * The model of one chip.
 *
 * @param name A chip name (`"ga104"`, case-insensitive).
 * @param options Fuse versions, PCI device id and VRAM size.
 * @throws {UnknownSimChipError} For a chip the simulator does not model.
 * @throws {RangeError} For a fuse version outside 0…16, or fuses asked of a chip without them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simChipModel } from "./chip_model.ts";
 * const tu116 = simChipModel("TU116");
 * assert.equal(tu116.boot42 >>> 20, 0x168);
 * assert.equal(tu116.fuses.GSP.length, 0);
 * assert.equal(simChipModel("gh100").pciDeviceId, 0x2331); // H100 PCIe
 * assert.throws(() => simChipModel("gb202"), /does not model/);
 * ```
 */
export function simChipModel(name: string, options: SimChipModelOptions = {}): SimChipModel {
  const chip = simulatedChip(name);
  const board = BOARDS[chip.name];
  const pmc = chipRegisters(chip).PMC;
  const arch = chip.chipsetId >> 4;
  const implementation = chip.chipsetId & 0xf;
  const boot0 = pmc.BOOT_0.encode({
    ARCHITECTURE_0: arch,
    IMPLEMENTATION: implementation,
    MAJOR_REVISION: REVISION.major,
    MINOR_REVISION: REVISION.minor,
  });
  const boot42 = pmc.BOOT_42.encode({
    ARCHITECTURE: arch,
    IMPLEMENTATION: implementation,
    MAJOR_REVISION: REVISION.major,
    MINOR_REVISION: REVISION.minor,
  });
  const familyDefault = DEFAULT_FUSE_VERSION[chip.family];
  const asked = options.fuseVersion !== undefined || options.fuseVersions !== undefined;
  if (familyDefault === undefined && asked) {
    throw new RangeError(`${chip.name} has no signature fuses (they start with GA100)`);
  }
  let fuseVersions: Record<FuseEngine, number> | undefined;
  const fuses: Record<FuseEngine, number[]> = { SEC2: [], GSP: [], NVDEC: [] };
  if (familyDefault !== undefined) {
    const all = options.fuseVersion ?? familyDefault;
    fuseVersions = {
      SEC2: options.fuseVersions?.SEC2 ?? all,
      GSP: options.fuseVersions?.GSP ?? all,
      NVDEC: options.fuseVersions?.NVDEC ?? all,
    };
    for (const engine of Object.keys(fuses) as FuseEngine[]) {
      fuses[engine] = Array(FUSE_UCODE_IDS).fill(fuseMaskOf(fuseVersions[engine]));
    }
  }
  const display = !DISPLAYLESS_FAMILIES.includes(chip.family);
  const fbSizeMiB = options.fbSizeMiB ?? board.fbSizeMiB;
  if (!Number.isInteger(fbSizeMiB) || fbSizeMiB < 64) {
    throw new RangeError(`VRAM size ${fbSizeMiB} MiB is not a whole number of MiB ≥ 64`);
  }
  return Object.freeze({
    chip,
    board: board.board,
    boot0,
    boot42,
    pciVendorId: 0x10de,
    pciDeviceId: options.pciDeviceId ?? board.pciDeviceId,
    pciClass: display ? PCI_CLASS_VGA : PCI_CLASS_3D,
    pciRevision: REVISION.major * 16 + REVISION.minor,
    fbSize: fbSizeMiB * 2 ** 20,
    display,
    fuseVersions: fuseVersions && Object.freeze(fuseVersions),
    fuses: Object.freeze(fuses),
  });
}
