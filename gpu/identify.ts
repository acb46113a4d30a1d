/**
 * Chip identification from `NV_PMC_BOOT_0` and `NV_PMC_BOOT_42`.
 *
 * The procedure is nova-core's (`gpu.rs Spec::new`) with NVIDIA's field
 * layouts (`published/nv_ref.h`, via `registers/pmc.ts`):
 * 1. Read BOOT_0. `ARCHITECTURE_1 == 0 && ARCHITECTURE_0 < 0xc` (GF100) means
 *    older than Fermi: rejected.
 * 2. Read BOOT_42. Chipset id = `ARCHITECTURE << 4 | IMPLEMENTATION`; it must
 *    be in the chip table (`chips.ts`), which also rejects Fermi to Volta
 *    (architectures below 0x16 have no entry).
 * 3. Revision = BOOT_42 `MAJOR_REVISION.MINOR_REVISION`, in hex.
 *
 * A read that is not register contents — `0xffffffff` (the device fell
 * off the bus or BAR0 is not decoded) or any PRI error (NVIDIA's rule,
 * `(v & 0xfff00000) === 0xbad00000`, from `registers/pri_error.ts`, so a
 * host PRI timeout `0xbad00100` as well as `0xbadfxxxx`) — raises
 * {@linkcode ChipNotRespondingError}, never an unknown-chip error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { identifyChip } from "./identify.ts";
 * const regs: Record<number, number> = { 0x0: 0x172000a1, 0xa00: 0x172a1000 };
 * const chip = identifyChip({ read32: (off) => regs[off] });
 * assert(chip.name === "ga102" && chip.revision === "a.1");
 * ```
 *
 * @module
 */

import {
  type Architecture,
  ARCHITECTURES,
  chipById,
  type ChipFamily,
  type ChipInfo,
} from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import type { Mmio } from "../pci/mmio.ts";
import { PMC } from "../registers/pmc.ts";
import { describePriError, isPriError, isReadError } from "../registers/pri_error.ts";
import { decode, getField } from "../registers/register.ts";

/** The one thing identification needs from a device: 32-bit BAR0 reads. */
export type Bar0Reader = Pick<Mmio, "read32">;

/** What a chip is. */
export interface ChipIdentity {
  /** Architecture name. */
  readonly arch: Architecture;
  /** Chipset id (`ARCHITECTURE << 4 | IMPLEMENTATION`), e.g. `0x172`. */
  readonly chipset: number;
  /** Lower-case chip name, as in firmware paths (`ga102`). */
  readonly name: string;
  /** Chip family. */
  readonly family: ChipFamily;
  /** BOOT_42 revision, `major.minor` in hex (`a.1`). */
  readonly revision: string;
  /** Raw `NV_PMC_BOOT_0`. */
  readonly boot0: number;
  /** Raw `NV_PMC_BOOT_42`. */
  readonly boot42: number;
  /** The chip table entry. */
  readonly chip: ChipInfo;
}

/** `NV_PMC_BOOT_42` split into its fields. */
export interface Boot42 {
  /** Bits 29:24. */
  readonly architecture: number;
  /** Bits 23:20. */
  readonly implementation: number;
  /** Bits 19:16. */
  readonly majorRevision: number;
  /** Bits 15:12. */
  readonly minorRevision: number;
  /** Bits 11:8. */
  readonly minorExtendedRevision: number;
  /** `architecture << 4 | implementation`. */
  readonly chipset: number;
}

/** `NV_PMC_BOOT_0_ARCHITECTURE_GF100`: the first architecture code with ARCHITECTURE_1 unused. */
const ARCHITECTURE_GF100 = 0xc;

const hex32 = (value: number): string => `0x${(value >>> 0).toString(16).padStart(8, "0")}`;

/**
 * The chip is not one falconry can boot: older than Turing, or an id the
 * chip table does not know. The message shows the raw register values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsupportedChipError } from "./identify.ts";
 * const e = new UnsupportedChipError("pre-Turing architecture 0x14", 0x140000a1, 0x140a1000);
 * assert(e.message.includes("0x140a1000") && e.boot42 === 0x140a1000);
 * ```
 */
export class UnsupportedChipError extends FalconryError {
  /** Raw `NV_PMC_BOOT_0`. */
  readonly boot0: number;
  /** Raw `NV_PMC_BOOT_42`, if it was read. */
  readonly boot42?: number;

  /**
   * Build the error; the message names the reason and the raw values in hex.
   *
   * @param reason Why the chip is rejected.
   * @param boot0 Raw `NV_PMC_BOOT_0`.
   * @param boot42 Raw `NV_PMC_BOOT_42`, if it was read.
   */
  constructor(reason: string, boot0: number, boot42?: number) {
    super(
      `unsupported GPU: ${reason} (NV_PMC_BOOT_0 = ${hex32(boot0)}${
        boot42 === undefined ? "" : `, NV_PMC_BOOT_42 = ${hex32(boot42)}`
      })`,
    );
    this.boot0 = boot0 >>> 0;
    if (boot42 !== undefined) this.boot42 = boot42 >>> 0;
  }
}

/**
 * A BAR0 read returned `0xffffffff` or a PRI error (`0xbadxxxxx`), so the
 * registers say nothing about the chip.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChipNotRespondingError } from "./identify.ts";
 * const e = new ChipNotRespondingError("NV_PMC_BOOT_0", 0x0, 0xffffffff);
 * assert(e.message.includes("0xffffffff") && e.value === 0xffffffff);
 * ```
 */
export class ChipNotRespondingError extends FalconryError {
  /** Register name. */
  readonly register: string;
  /** Its BAR0 offset. */
  readonly offset: number;
  /** The value read. */
  readonly value: number;

  /**
   * Build the error; the message tells a dead device from a PRI error.
   *
   * @param register Register name.
   * @param offset Its BAR0 offset.
   * @param value The value read.
   */
  constructor(register: string, offset: number, value: number) {
    super(
      isPriError(value)
        ? `${register} (BAR0 ${hex32(offset)}) read ${hex32(value)}: ${
          describePriError(value)
        }; the register is not reachable (engine in reset or access blocked)`
        : `${register} (BAR0 ${hex32(offset)}) read ${
          hex32(value)
        }: device not responding (fell off the bus, in reset, or BAR0 not enabled)`,
    );
    this.register = register;
    this.offset = offset;
    this.value = value >>> 0;
  }
}

function readChecked(mmio: Bar0Reader, name: string, offset: number): number {
  const value = mmio.read32(offset) >>> 0;
  if (isReadError(value)) {
    throw new ChipNotRespondingError(name, offset, value);
  }
  return value;
}

/**
 * Split a BOOT_42 value into its fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBoot42 } from "./identify.ts";
 * const b = decodeBoot42(0x1b2a1000);
 * assert(b.chipset === 0x1b2 && b.majorRevision === 0xa && b.minorRevision === 1);
 * ```
 */
export function decodeBoot42(value: number): Boot42 {
  const f = decode(PMC.NV_PMC_BOOT_42, value);
  return {
    architecture: f.ARCHITECTURE,
    implementation: f.IMPLEMENTATION,
    majorRevision: f.MAJOR_REVISION,
    minorRevision: f.MINOR_REVISION,
    minorExtendedRevision: f.MINOR_EXTENDED_REVISION,
    chipset: f.ARCHITECTURE * 16 + f.IMPLEMENTATION,
  };
}

/**
 * Identify the chip behind a BAR0 mapping.
 *
 * @throws {ChipNotRespondingError} If BOOT_0 or BOOT_42 reads `0xffffffff` or a PRI error.
 * @throws {UnsupportedChipError} If the chip is pre-Turing (or pre-Fermi) or unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { identifyChip } from "./identify.ts";
 * const chip = identifyChip({ read32: (off) => (off === 0xa00 ? 0x180a1000 : 0x180000a1) });
 * assert(chip.name === "gh100" && chip.arch === "hopper" && chip.chipset === 0x180);
 * ```
 */
export function identifyChip(mmio: Bar0Reader): ChipIdentity {
  const boot0Reg = PMC.NV_PMC_BOOT_0;
  const boot0 = readChecked(mmio, boot0Reg.name, boot0Reg.offset);
  const arch0 = getField(boot0Reg, "ARCHITECTURE_0", boot0);
  if (getField(boot0Reg, "ARCHITECTURE_1", boot0) === 0 && arch0 < ARCHITECTURE_GF100) {
    throw new UnsupportedChipError(
      `older than Fermi (BOOT_0 architecture 0x${arch0.toString(16)})`,
      boot0,
    );
  }

  const boot42Reg = PMC.NV_PMC_BOOT_42;
  const boot42 = readChecked(mmio, boot42Reg.name, boot42Reg.offset);
  const fields = decodeBoot42(boot42);
  const archHex = `0x${fields.architecture.toString(16)}`;
  const implHex = `0x${fields.implementation.toString(16)}`;
  const known = ARCHITECTURES.find((a) => a.id === fields.architecture);
  if (!known) {
    const oldest = Math.min(...ARCHITECTURES.map((a) => a.id));
    const why = fields.architecture < oldest
      ? `pre-Turing architecture ${archHex}`
      : `unknown architecture ${archHex}`;
    throw new UnsupportedChipError(`${why} (implementation ${implHex})`, boot0, boot42);
  }
  const chip = chipById(fields.chipset);
  if (!chip) {
    throw new UnsupportedChipError(
      `unknown ${known.name} chipset 0x${
        fields.chipset.toString(16)
      } (architecture ${archHex}, implementation ${implHex})`,
      boot0,
      boot42,
    );
  }
  return {
    arch: chip.arch,
    chipset: chip.chipsetId,
    name: chip.name,
    family: chip.family,
    revision: `${fields.majorRevision.toString(16)}.${fields.minorRevision.toString(16)}`,
    boot0,
    boot42,
    chip,
  };
}
