/**
 * PFB: the WPR2 bounds, the VRAM size register of Turing and GA100, GA100's
 * MMU lock range, and the sysmem flush page registers (GH100: the FBHUB
 * pair, raw address halves).
 *
 * WPR2 is read-only to the host: only high-privilege firmware (FWSEC-FRTS,
 * Booter-unload) changes it, through {@linkcode PfbBlock.setWpr2} and
 * {@linkcode PfbBlock.clearWpr2}. It survives a warm reboot (nothing resets
 * it but a function-level reset, a bus reset or a power cycle; the save file
 * keeps it between processes) and is reported as residue while set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PfbBlock } from "./pfb.ts";
 * import { simChipModel } from "../chip_model.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * const pfb = new PfbBlock(simChipModel("ga102"));
 * const hi = chipRegisters("ga102").PFB.PRI_MMU_WPR2_ADDR_HI;
 * assert.equal(pfb.write(hi.address, 1), false); // the host cannot set WPR2
 * pfb.setWpr2(0x5_fe00_0000, 0x5_ff00_0000);
 * assert.equal(hi.decode(pfb.read(hi.address)!).VAL * 4096, 0x5_ff00_0000);
 * assert.equal(pfb.wpr2Registers().hi, pfb.read(hi.address));
 * assert.match(pfb.residue()[0].what, /WPR2 is set/);
 * pfb.reset("function");
 * assert.equal(pfb.wpr2(), undefined);
 * ```
 *
 * @module
 */

import { familyOf } from "../../chips/chips.ts";
import { chipRegisters } from "../../registers/bind.ts";
import { WPR2_GRANULE } from "../../registers/pfb.ts";
import type { SimBlock } from "../block.ts";
import type { SimResidue, SimResidueSource } from "../block_extensions.ts";
import type { SimChipModel } from "../chip_model.ts";
import { RegisterFileBlock, type RegisterSpec } from "./register_file.ts";

/** The `LOCAL_MEMORY_RANGE` unit: sizes are `MAG << SCALE` MiB. */
const MIB = 2 ** 20;
/** Bits the flush address's low register holds: address bits 39:8. */
const FLUSH_LO_SHIFT = 8;
/** The high register holds address bits 63:40. */
const FLUSH_HI_SHIFT = 40;
/** Hopper's high half holds address bits 51:32 (`NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI_MASK`). */
const HOPPER_FLUSH_HI_MASK = 0xfffff;

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/** WPR2's bounds in bytes: `start` inclusive, `end` exclusive. */
export interface Wpr2Bounds {
  /** First byte. */
  readonly start: number;
  /** One past the last byte. */
  readonly end: number;
}

/**
 * `LOCAL_MEMORY_RANGE`'s magnitude and scale for a VRAM size: the smallest
 * scale whose magnitude fits the 6-bit field.
 *
 * @param bytes VRAM size, a whole number of MiB.
 * @returns `{ mag, scale }` with `mag << scale` MiB = `bytes`.
 * @throws {RangeError} When no scale represents the size exactly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localMemoryRangeOf } from "./pfb.ts";
 * assert.deepEqual(localMemoryRangeOf(11 * 2 ** 30), { mag: 44, scale: 8 });
 * ```
 */
export function localMemoryRangeOf(bytes: number): { mag: number; scale: number } {
  const mib = bytes / MIB;
  for (let scale = 0; scale < 16; scale++) {
    const mag = mib / 2 ** scale;
    if (Number.isInteger(mag) && mag < 64) return { mag, scale };
  }
  throw new RangeError(`${mib} MiB cannot be written as MAG << SCALE MiB with a 6-bit MAG`);
}

/** The PFB block of a simulated chip. */
export class PfbBlock extends RegisterFileBlock implements SimBlock, SimResidueSource {
  readonly #pfb;
  /** What clears WPR2 on this chip, for the residue's words. */
  readonly #clearedBy: string;

  /**
   * Build it.
   *
   * @param model The chip.
   */
  constructor(model: SimChipModel) {
    const pfb = chipRegisters(model.chip).PFB;
    const specs: RegisterSpec[] = [
      { register: pfb.PRI_MMU_WPR2_ADDR_LO, access: "ro" },
      { register: pfb.PRI_MMU_WPR2_ADDR_HI, access: "ro" },
    ];
    if (pfb.NISO_FLUSH_SYSMEM_ADDR.present) specs.push({ register: pfb.NISO_FLUSH_SYSMEM_ADDR });
    if (pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.present) {
      // Hopper: the raw address halves, HI first; HI_MASK 0xfffff (52-bit addresses).
      specs.push({
        register: pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI,
        writableMask: HOPPER_FLUSH_HI_MASK,
      });
      specs.push({ register: pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO });
    }
    if (pfb.NISO_FLUSH_SYSMEM_ADDR_HI.present) {
      specs.push({
        register: pfb.NISO_FLUSH_SYSMEM_ADDR_HI,
        writableMask: pfb.NISO_FLUSH_SYSMEM_ADDR_HI.encode({ ADR_63_40: 0xffffff }),
      });
    }
    if (pfb.PRI_MMU_LOCAL_MEMORY_RANGE.present) {
      const { mag, scale } = localMemoryRangeOf(model.fbSize);
      specs.push({
        register: pfb.PRI_MMU_LOCAL_MEMORY_RANGE,
        access: "ro",
        resetValue: pfb.PRI_MMU_LOCAL_MEMORY_RANGE.encode({ LOWER_MAG: mag, LOWER_SCALE: scale }),
        persistent: false,
      });
    }
    if (pfb.PRI_MMU_LOCK_ADDR_LO.present) {
      // No VBIOS lock range is modelled: both bounds read 0.
      specs.push({ register: pfb.PRI_MMU_LOCK_ADDR_LO, access: "ro", persistent: false });
      specs.push({ register: pfb.PRI_MMU_LOCK_ADDR_HI, access: "ro", persistent: false });
    }
    super("PFB", specs);
    this.#pfb = pfb;
    this.#clearedBy = familyOf(model.chip).bootPath === "fsp"
      ? "a function reset (Hopper has no Booter-unload)"
      : "Booter-unload or a reset";
  }

  /**
   * WPR2's bounds, or `undefined` when it is not set (HI reads 0).
   *
   * @returns Byte addresses.
   */
  wpr2(): Wpr2Bounds | undefined {
    const hi = this.#pfb.PRI_MMU_WPR2_ADDR_HI.decode(
      this.registers.get(this.#pfb.PRI_MMU_WPR2_ADDR_HI),
    ).VAL;
    if (hi === 0) return undefined;
    const lo = this.#pfb.PRI_MMU_WPR2_ADDR_LO.decode(
      this.registers.get(this.#pfb.PRI_MMU_WPR2_ADDR_LO),
    ).VAL;
    return { start: lo * WPR2_GRANULE, end: hi * WPR2_GRANULE };
  }

  /**
   * Set WPR2, as FWSEC-FRTS does.
   *
   * @param start First byte, 4 KiB aligned.
   * @param end One past the last byte, 4 KiB aligned, above `start`.
   * @throws {RangeError} For unaligned or empty bounds.
   */
  setWpr2(start: number, end: number): void {
    if (start % WPR2_GRANULE || end % WPR2_GRANULE || end <= start) {
      throw new RangeError(`WPR2 ${hex(start)}..${hex(end)} is not a 4 KiB aligned range`);
    }
    const lo = this.#pfb.PRI_MMU_WPR2_ADDR_LO;
    const hi = this.#pfb.PRI_MMU_WPR2_ADDR_HI;
    this.registers.set(lo, lo.encode({ VAL: start / WPR2_GRANULE }));
    this.registers.set(hi, hi.encode({ VAL: end / WPR2_GRANULE }));
  }

  /**
   * WPR2's raw register values, as firmware models that compute them from the
   * reference read them.
   *
   * @returns `{ lo, hi }`.
   */
  wpr2Registers(): { lo: number; hi: number } {
    return {
      lo: this.registers.get(this.#pfb.PRI_MMU_WPR2_ADDR_LO),
      hi: this.registers.get(this.#pfb.PRI_MMU_WPR2_ADDR_HI),
    };
  }

  /**
   * Set WPR2's raw register values (a firmware model that encodes them itself).
   *
   * @param registers `{ lo, hi }`; `hi` 0 means unset.
   */
  setWpr2Registers(registers: { lo: number; hi: number }): void {
    this.registers.set(this.#pfb.PRI_MMU_WPR2_ADDR_LO, registers.lo);
    this.registers.set(this.#pfb.PRI_MMU_WPR2_ADDR_HI, registers.hi);
  }

  /** Clear WPR2, as Booter-unload does. */
  clearWpr2(): void {
    this.registers.set(this.#pfb.PRI_MMU_WPR2_ADDR_LO, 0);
    this.registers.set(this.#pfb.PRI_MMU_WPR2_ADDR_HI, 0);
  }

  /**
   * The sysmem flush page's address as the registers hold it (0 when none is registered).
   *
   * @returns The IOVA.
   */
  sysmemFlushAddress(): bigint {
    const hopperLo = this.#pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO;
    if (hopperLo.present) {
      const hopperHi = this.#pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI;
      return (BigInt(this.registers.get(hopperHi)) << 32n) |
        BigInt(this.registers.get(hopperLo));
    }
    const lo = BigInt(this.registers.get(this.#pfb.NISO_FLUSH_SYSMEM_ADDR));
    const hiReg = this.#pfb.NISO_FLUSH_SYSMEM_ADDR_HI;
    const hi = hiReg.present ? BigInt(hiReg.decode(this.registers.get(hiReg)).ADR_63_40) : 0n;
    return (hi << BigInt(FLUSH_HI_SHIFT)) | (lo << BigInt(FLUSH_LO_SHIFT));
  }

  /** WPR2 set, or a sysmem flush page still registered. */
  residue(): readonly SimResidue[] {
    const out: SimResidue[] = [];
    const wpr2 = this.wpr2();
    if (wpr2) {
      out.push({
        block: this.name,
        what: `WPR2 is set (${hex(wpr2.start)}..${hex(wpr2.end)}): the GPU needs ` +
          `${this.#clearedBy} before the next boot`,
      });
    }
    const flush = this.sysmemFlushAddress();
    if (flush !== 0n) {
      out.push({
        block: this.name,
        what: `the sysmem flush page ${hex(flush)} is still registered`,
      });
    }
    return out;
  }
}
