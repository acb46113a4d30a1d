/**
 * The chip table: every GSP-capable NVIDIA chip falconry knows, with its ids
 * and the per-family facts the boot needs. This is the only place chip ids
 * live; HAL selection, firmware lists and chip identification read it.
 *
 * Ids: `NV_PMC_BOOT_42` architecture (bits 29:24) and chipset
 * (`architecture << 4 | implementation`), as nova-core's `gpu.rs` and
 * NVIDIA's open-gpu-kernel-modules `published/.../dev_boot.h` give them.
 *
 * @module
 */

import { FalconryError } from "../errors.ts";
import type { BooterLayout } from "../firmware/booter.ts";

export type { BooterLayout };

/** GPU architecture, named as nova-core and NVIDIA name them. */
export type Architecture =
  | "turing"
  | "ampere"
  | "hopper"
  | "ada"
  | "blackwell-gb10x"
  | "blackwell-gb20x";

/**
 * Chip family: chips of one family share firmware layouts, the GSP image's
 * signature section and the boot path.
 */
export type ChipFamily =
  | "tu10x"
  | "tu11x"
  | "ga100"
  | "ga10x"
  | "ad10x"
  | "gh100"
  | "gb10x"
  | "gb20x";

/** How the GSP is started: by Booter on SEC2, or by the FSP's chain of trust. */
export type BootPath = "sec2" | "fsp";

/**
 * Which falcon HAL drives a chip's falcons, named after the first chip of
 * each style: `tu102` (Turing and GA100: PIO loading, no core select, no
 * boot-ROM registers, no signature fuses), `ga102` (GA10x and Ada: DMA
 * loading, core select through BCR_CTRL, boot-ROM parameters, per-ucode
 * signature fuses) and `gh100` (Hopper and Blackwell: the GA102 style with
 * GH100's register layouts, such as HWCFG2 and ENGINE.RESET_STATUS).
 */
export type FalconHal = "tu102" | "ga102" | "gh100";

/** What a falcon HAL does: every per-HAL fact derives from the family's {@linkcode FalconHal}. */
export interface FalconHalInfo {
  /** HAL name. */
  readonly name: FalconHal;
  /** How images reach IMEM/DMEM: PIO through IMEMD/DMEMD, or the falcon's DMA engine. */
  readonly loadMethod: "pio" | "dma";
  /** Whether the signature fuse registers are read (`NV_FUSE_OPT_FPF_*_UCODE*_VERSION`); the TU102 HAL uses version 0. */
  readonly readsSignatureFuses: boolean;
  /** Whether the boot-ROM parameters (BROM_PARAADDR, ENGIDMASK, CURR_UCODE_ID, MOD_SEL) are programmed. */
  readonly programsBrom: boolean;
  /** Whether a reset selects the Falcon core through `RISCV_BCR_CTRL.CORE_SELECT`. */
  readonly selectsCore: boolean;
  /** Whether a reset first polls `HWCFG2.RESET_READY` and waits on `HWCFG2.MEM_SCRUBBING` (else on DMACTL). */
  readonly resetWaitsOnHwcfg2: boolean;
  /** Which register says a RISC-V core runs. */
  readonly riscvActiveRegister:
    | "NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS"
    | "NV_PRISCV_RISCV_CPUCTL";
  /** FWSEC is loaded through the generic bootloader (the HAL cannot DMA an HS image itself). */
  readonly fwsecNeedsBootloader: boolean;
  /** The Booter load layout (`firmware/booter.ts`), where the chip boots through Booter. */
  readonly booterLayout: BooterLayout;
}

/**
 * The falcon HALs, from nova-core's `falcon/hal/{tu102,ga102}.rs` (see
 * `../shared/reference/nova-core-boot.md` §1.2, §3.6) and NVIDIA's
 * `kernel_falcon_{tu102,ga102,gh100}.c`. nova-core drives Hopper and
 * Blackwell with its GA102 HAL; `gh100` differs from `ga102` only in the
 * register layouts that `registers/` keeps as variants.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON_HALS } from "./chips.ts";
 * assert(FALCON_HALS.tu102.loadMethod === "pio" && FALCON_HALS.ga102.programsBrom);
 * ```
 */
export const FALCON_HALS: Readonly<Record<FalconHal, FalconHalInfo>> = Object.freeze({
  tu102: {
    name: "tu102",
    loadMethod: "pio",
    readsSignatureFuses: false,
    programsBrom: false,
    selectsCore: false,
    resetWaitsOnHwcfg2: false,
    riscvActiveRegister: "NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS",
    fwsecNeedsBootloader: true,
    booterLayout: "tu102",
  },
  ga102: {
    name: "ga102",
    loadMethod: "dma",
    readsSignatureFuses: true,
    programsBrom: true,
    selectsCore: true,
    resetWaitsOnHwcfg2: true,
    riscvActiveRegister: "NV_PRISCV_RISCV_CPUCTL",
    fwsecNeedsBootloader: false,
    booterLayout: "ga102",
  },
  gh100: {
    name: "gh100",
    loadMethod: "dma",
    readsSignatureFuses: true,
    programsBrom: true,
    selectsCore: true,
    resetWaitsOnHwcfg2: true,
    riscvActiveRegister: "NV_PRISCV_RISCV_CPUCTL",
    fwsecNeedsBootloader: false,
    booterLayout: "ga102",
  },
});

/** One architecture: its `BOOT_42` architecture code. */
export interface ArchitectureInfo {
  /** Name. */
  readonly name: Architecture;
  /** `NV_PMC_BOOT_42` bits 29:24. */
  readonly id: number;
}

/**
 * Architecture codes (`NV_PMC_BOOT_42` bits 29:24), from nova-core `gpu.rs`
 * and NVIDIA's `NV_PMC_BOOT_42_ARCHITECTURE_*`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARCHITECTURES } from "./chips.ts";
 * assert(ARCHITECTURES.find((a) => a.name === "ampere")?.id === 0x17);
 * ```
 */
export const ARCHITECTURES: readonly ArchitectureInfo[] = [
  { name: "turing", id: 0x16 },
  { name: "ampere", id: 0x17 },
  { name: "hopper", id: 0x18 },
  { name: "ada", id: 0x19 },
  { name: "blackwell-gb10x", id: 0x1a },
  { name: "blackwell-gb20x", id: 0x1b },
];

/** Per-family facts. */
export interface FamilyInfo {
  /** Family name. */
  readonly name: ChipFamily;
  /** How the GSP is booted. */
  readonly bootPath: BootPath;
  /**
   * The GSP image's signature section for this family. GA100 uses
   * `.fwsignature_ga100` as nouveau, NVIDIA's open modules (r580) and
   * linux-firmware's TLV script do; nova-core's `.fwsignature_tu10x` for GA100
   * disagrees with them (both sections exist and differ). Hopper's real
   * section is `.fwsignature_gh100`, not nova-core's `.fwsignature_gh10x`.
   */
  readonly gspSignatureSection: string;
  /** The confidential-computing variant of the signature section, where the image has one. */
  readonly gspCcSignatureSection?: string;
  /** The falcon HAL; everything the HAL decides comes from {@linkcode FALCON_HALS}. */
  readonly falconHal: FalconHal;
  /** FWSEC runs through the generic bootloader (derived from the falcon HAL: Turing, GA100). */
  readonly fwsecNeedsBootloader: boolean;
  /** FRTS region size in bytes (0 on GA100, which runs no FWSEC-FRTS). */
  readonly frtsSize: number;
}

type FamilyFacts = Omit<FamilyInfo, "fwsecNeedsBootloader">;

function family(facts: FamilyFacts): FamilyInfo {
  return Object.freeze({
    ...facts,
    fwsecNeedsBootloader: FALCON_HALS[facts.falconHal].fwsecNeedsBootloader,
  });
}

/**
 * Chip families, from nova-core's HAL tables corrected by the real files
 * (see `../shared/reference/real-files.md`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FAMILIES } from "./chips.ts";
 * assert(FAMILIES.ga100.gspSignatureSection === ".fwsignature_ga100");
 * ```
 */
export const FAMILIES: Readonly<Record<ChipFamily, FamilyInfo>> = Object.freeze({
  tu10x: family({
    name: "tu10x",
    bootPath: "sec2",
    gspSignatureSection: ".fwsignature_tu10x",
    frtsSize: 0x100000,
    falconHal: "tu102",
  }),
  tu11x: family({
    name: "tu11x",
    bootPath: "sec2",
    gspSignatureSection: ".fwsignature_tu11x",
    frtsSize: 0x100000,
    falconHal: "tu102",
  }),
  ga100: family({
    name: "ga100",
    bootPath: "sec2",
    gspSignatureSection: ".fwsignature_ga100",
    frtsSize: 0,
    falconHal: "tu102",
  }),
  ga10x: family({
    name: "ga10x",
    bootPath: "sec2",
    gspSignatureSection: ".fwsignature_ga10x",
    frtsSize: 0x100000,
    falconHal: "ga102",
  }),
  ad10x: family({
    name: "ad10x",
    bootPath: "sec2",
    gspSignatureSection: ".fwsignature_ad10x",
    frtsSize: 0x100000,
    falconHal: "ga102",
  }),
  gh100: family({
    name: "gh100",
    bootPath: "fsp",
    gspSignatureSection: ".fwsignature_gh100",
    gspCcSignatureSection: ".fwsignature_cc_gh100",
    frtsSize: 0x100000,
    falconHal: "gh100",
  }),
  gb10x: family({
    name: "gb10x",
    bootPath: "fsp",
    gspSignatureSection: ".fwsignature_gb10x",
    gspCcSignatureSection: ".fwsignature_cc_gb10x",
    frtsSize: 0x100000,
    falconHal: "gh100",
  }),
  gb20x: family({
    name: "gb20x",
    bootPath: "fsp",
    gspSignatureSection: ".fwsignature_gb20x",
    frtsSize: 0x100000,
    falconHal: "gh100",
  }),
});

/** One chip. */
export interface ChipInfo {
  /** Lower-case name, as used in firmware paths (`tu102`). */
  readonly name: string;
  /** Architecture. */
  readonly arch: Architecture;
  /** Chipset id, `BOOT_42` `architecture << 4 | implementation` (`0x162`). */
  readonly chipsetId: number;
  /** Family. */
  readonly family: ChipFamily;
}

const chip = (name: string, arch: Architecture, chipsetId: number, family: ChipFamily) => ({
  name,
  arch,
  chipsetId,
  family,
});

/**
 * Every chip, ordered by chipset id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHIPS } from "./chips.ts";
 * assert(CHIPS.find((c) => c.chipsetId === 0x172)?.name === "ga102");
 * ```
 */
export const CHIPS: readonly ChipInfo[] = [
  chip("tu102", "turing", 0x162, "tu10x"),
  chip("tu104", "turing", 0x164, "tu10x"),
  chip("tu106", "turing", 0x166, "tu10x"),
  chip("tu117", "turing", 0x167, "tu11x"),
  chip("tu116", "turing", 0x168, "tu11x"),
  chip("ga100", "ampere", 0x170, "ga100"),
  chip("ga102", "ampere", 0x172, "ga10x"),
  chip("ga103", "ampere", 0x173, "ga10x"),
  chip("ga104", "ampere", 0x174, "ga10x"),
  chip("ga106", "ampere", 0x176, "ga10x"),
  chip("ga107", "ampere", 0x177, "ga10x"),
  chip("gh100", "hopper", 0x180, "gh100"),
  chip("ad102", "ada", 0x192, "ad10x"),
  chip("ad103", "ada", 0x193, "ad10x"),
  chip("ad104", "ada", 0x194, "ad10x"),
  chip("ad106", "ada", 0x196, "ad10x"),
  chip("ad107", "ada", 0x197, "ad10x"),
  chip("gb100", "blackwell-gb10x", 0x1a0, "gb10x"),
  chip("gb102", "blackwell-gb10x", 0x1a2, "gb10x"),
  chip("gb202", "blackwell-gb20x", 0x1b2, "gb20x"),
  chip("gb203", "blackwell-gb20x", 0x1b3, "gb20x"),
  chip("gb205", "blackwell-gb20x", 0x1b5, "gb20x"),
  chip("gb206", "blackwell-gb20x", 0x1b6, "gb20x"),
  chip("gb207", "blackwell-gb20x", 0x1b7, "gb20x"),
];

/**
 * Look a chip up by name (case-insensitive).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "./chips.ts";
 * assert(chipByName("GA102")?.family === "ga10x");
 * assert(chipByName("nv50") === undefined);
 * ```
 */
export function chipByName(name: string): ChipInfo | undefined {
  const n = name.toLowerCase();
  return CHIPS.find((c) => c.name === n);
}

/**
 * Look a chip up by chipset id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipById } from "./chips.ts";
 * assert(chipById(0x1b2)?.name === "gb202");
 * ```
 */
export function chipById(chipsetId: number): ChipInfo | undefined {
  return CHIPS.find((c) => c.chipsetId === chipsetId);
}

/**
 * The family facts for a chip.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName, familyOf } from "./chips.ts";
 * assert(familyOf(chipByName("tu116")!).gspSignatureSection === ".fwsignature_tu11x");
 * ```
 */
export function familyOf(chip: ChipInfo): FamilyInfo {
  return FAMILIES[chip.family];
}

/** Options for {@linkcode gspSignatureSectionOf}. */
export interface GspSignatureOptions {
  /** Boot in confidential-computing mode (Hopper, Blackwell GB10x): use the `cc_` section. */
  confidentialComputing?: boolean;
}

/**
 * The GSP image's signature section a chip boots with: its family's section,
 * or in confidential-computing mode the `cc_` variant. Throws when the family
 * has no such variant (only GH100 and GB10x images carry one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName, gspSignatureSectionOf } from "./chips.ts";
 * const gh100 = chipByName("gh100")!;
 * assert(gspSignatureSectionOf(gh100) === ".fwsignature_gh100");
 * assert(gspSignatureSectionOf(gh100, { confidentialComputing: true }) === ".fwsignature_cc_gh100");
 * ```
 */
export function gspSignatureSectionOf(chip: ChipInfo, options: GspSignatureOptions = {}): string {
  const family = FAMILIES[chip.family];
  if (!options.confidentialComputing) return family.gspSignatureSection;
  if (family.gspCcSignatureSection === undefined) {
    throw new FalconryError(
      `${chip.name}: the GSP image has no confidential-computing signature for the ${family.name} ` +
        "family (only gh100 and gb10x have one)",
    );
  }
  return family.gspCcSignatureSection;
}

/**
 * The falcon HAL facts for a chip: load method, fuses, boot ROM, core select.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName, falconHalOf } from "./chips.ts";
 * assert(falconHalOf(chipByName("ga100")!).loadMethod === "pio");
 * assert(falconHalOf(chipByName("ad102")!).name === "ga102");
 * assert(falconHalOf(chipByName("gb202")!).name === "gh100");
 * ```
 */
export function falconHalOf(chip: ChipInfo): FalconHalInfo {
  return FALCON_HALS[FAMILIES[chip.family].falconHal];
}

/**
 * The Booter load layout of a chip (`"tu102"` for Turing and GA100,
 * `"ga102"` for GA10x and Ada), from its falcon HAL.
 *
 * @throws {FalconryError} For Hopper and Blackwell, which boot through the FSP and run no Booter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booterLayoutOf, chipByName } from "./chips.ts";
 * assert(booterLayoutOf(chipByName("ga100")!) === "tu102");
 * assert(booterLayoutOf(chipByName("ga102")!) === "ga102");
 * assert.throws(() => booterLayoutOf(chipByName("gh100")!), /no Booter/);
 * ```
 */
export function booterLayoutOf(chip: ChipInfo): BooterLayout {
  const family = FAMILIES[chip.family];
  if (family.bootPath !== "sec2") {
    throw new FalconryError(
      `${chip.name} boots the GSP through the FSP and runs no Booter, so it has no Booter layout`,
    );
  }
  return FALCON_HALS[family.falconHal].booterLayout;
}

/**
 * The families, oldest first, for which `test` holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { familiesWhere } from "./chips.ts";
 * assert.deepEqual(familiesWhere((f) => f.falconHal === "tu102"), ["tu10x", "tu11x", "ga100"]);
 * ```
 */
export function familiesWhere(test: (family: FamilyInfo) => boolean): ChipFamily[] {
  return Object.values(FAMILIES).filter(test).map((f) => f.name);
}

/**
 * The families that have a chip of architecture `arch`, oldest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { familiesOfArchitecture } from "./chips.ts";
 * assert.deepEqual(familiesOfArchitecture("turing"), ["tu10x", "tu11x"]);
 * ```
 */
export function familiesOfArchitecture(arch: Architecture): ChipFamily[] {
  return familiesWhere((f) => CHIPS.some((c) => c.family === f.name && c.arch === arch));
}
