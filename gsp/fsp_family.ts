/**
 * What the FSP boot path needs to know per chip family (reference §4.1,
 * §4.3, §13; nova-core `fsp/hal/{gh100,gb100,gb202}.rs`): the COT message's
 * version, the memory reserved at the very end of VRAM below which the FSP
 * places FRTS, and the FMC's key and signature sizes (RSA-3072 on Hopper,
 * ECDSA P-384 on Blackwell, as the real files show). The secure-boot
 * register's place is the register tables' (`registers/therm.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { frtsVidmemOffset, fspFactsOf } from "./fsp_family.ts";
 * const gh100 = chipByName("gh100")!;
 * assert.equal(fspFactsOf(gh100).cotVersion, 1);
 * assert.equal(frtsVidmemOffset(gh100, 0), 0x200000);
 * assert.equal(frtsVidmemOffset(chipByName("gb202")!, 0x1820000), 0x1c00000);
 * ```
 *
 * @module
 */

import { type ChipFamily, type ChipInfo, familyOf } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** One FSP-path family's facts. */
export interface FspFamilyFacts {
  /** `NvdmPayloadCot.version`. */
  readonly cotVersion: number;
  /** `fb_end_reserved_size`: VRAM kept at the top, above FRTS. */
  readonly fbEndReservedSize: number;
  /** The FMC's `publickey` section size (what the FSP expects). */
  readonly fmcPublicKeySize: number;
  /** The FMC's `signature` section size. */
  readonly fmcSignatureSize: number;
  /** Where the facts come from. */
  readonly source: string;
}

const HOPPER: FspFamilyFacts = Object.freeze({
  cotVersion: 1,
  fbEndReservedSize: 2 * MiB,
  fmcPublicKeySize: 384,
  fmcSignatureSize: 384,
  source: "nova-core fsp/hal/gh100.rs (reference §4.3); NVIDIA 570.144 NvdmPayloadCot (§13); " +
    "linux-firmware gh100 fmc-570.144.bin (real-files.md)",
});

const BLACKWELL: FspFamilyFacts = Object.freeze({
  cotVersion: 2,
  fbEndReservedSize: 2 * MiB + 128 * KiB,
  fmcPublicKeySize: 97,
  fmcSignatureSize: 96,
  source: "nova-core fsp/hal/{gb100,gb202}.rs (reference §4.3); linux-firmware gb100 and gb202 " +
    "fmc-570.144.bin (real-files.md)",
});

/**
 * The facts of each family that boots through the FSP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FSP_FAMILY_FACTS } from "./fsp_family.ts";
 * assert.equal(FSP_FAMILY_FACTS.gb20x?.cotVersion, 2);
 * assert.equal(FSP_FAMILY_FACTS.tu10x, undefined);
 * ```
 */
export const FSP_FAMILY_FACTS: Readonly<Partial<Record<ChipFamily, FspFamilyFacts>>> = Object
  .freeze({ gh100: HOPPER, gb10x: BLACKWELL, gb20x: BLACKWELL });

/**
 * The FSP facts of a chip.
 *
 * @param chip The chip.
 * @returns Its family's facts.
 * @throws {FalconryError} For a chip that does not boot through the FSP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { fspFactsOf } from "./fsp_family.ts";
 * assert.throws(() => fspFactsOf(chipByName("tu102")!), /SEC2/);
 * ```
 */
export function fspFactsOf(chip: ChipInfo): FspFamilyFacts {
  const facts = FSP_FAMILY_FACTS[chip.family];
  if (!facts) {
    throw new FalconryError(
      `${chip.name} boots its GSP through SEC2 (Booter), not through the FSP`,
    );
  }
  return facts;
}

/** r570 aligns the FRTS offset to 2 MiB when a PMU reservation sits above it. */
const FRTS_OFFSET_ALIGNMENT = 2 * MiB;

/**
 * `frtsVidmemOffset` of the COT message: where FRTS ends, counted back from
 * the end of VRAM: the family's reserved size, plus the PMU's reservation
 * rounded up to 2 MiB when there is one (§4.3: 2 MiB on GH100, 28 MiB on
 * Blackwell).
 *
 * @param chip The chip.
 * @param pmuReservedSize The WPR meta's `pmuReservedSize`.
 * @returns Bytes from the end of VRAM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { frtsVidmemOffset } from "./fsp_family.ts";
 * assert.equal(frtsVidmemOffset(chipByName("gb100")!, 0x1820000), 28 * 2 ** 20);
 * ```
 */
export function frtsVidmemOffset(chip: ChipInfo, pmuReservedSize: number): number {
  const reserved = fspFactsOf(chip).fbEndReservedSize;
  if (pmuReservedSize === 0) return reserved;
  const sum = reserved + pmuReservedSize;
  return Math.ceil(sum / FRTS_OFFSET_ALIGNMENT) * FRTS_OFFSET_ALIGNMENT;
}

/**
 * Whether a chip boots through the FSP.
 *
 * @param chip The chip.
 * @returns `true` for Hopper and Blackwell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { bootsThroughFsp } from "./fsp_family.ts";
 * assert(bootsThroughFsp(chipByName("gh100")!) && !bootsThroughFsp(chipByName("ad102")!));
 * ```
 */
export function bootsThroughFsp(chip: ChipInfo): boolean {
  return familyOf(chip).bootPath === "fsp";
}
