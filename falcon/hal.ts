/**
 * The falcon HAL: the few operations in which the falcon styles differ
 * (reset waits, core select, boot-ROM registers, signature fuses, RISC-V
 * status), behind one small interface. Which HAL a chip uses is the chip
 * table's `falconHal` (`chips/chips.ts` `falconHalOf`); everything else the
 * HAL decides as data (load method, Booter layout) stays in that table.
 *
 * | | TU102 HAL (Turing, GA100) | GA102 HAL (GA10x, Ada; Hopper and Blackwell until a GH100 HAL) |
 * |---|---|---|
 * | before the reset pulse | — | dummy `HWCFG2` read, `RESET_READY` 150 µs, timeout ignored |
 * | scrubbing done | `DMACTL` IMEM/DMEM scrubbing 0, 10 ms | `HWCFG2.MEM_SCRUBBING` 0, 20 ms |
 * | core select | none | `RISCV_BCR_CTRL`: Falcon core, `VALID` 10 ms, scrubbing again |
 * | RISC-V mode | nothing to select | `RISCV_BCR_CTRL` = RISC-V core, `VALID`, `BRFETCH` |
 * | boot ROM | nothing | `BROM_PARAADDR(0)`, `ENGIDMASK`, `CURR_UCODE_ID`, `MOD_SEL` = RSA3K |
 * | signature fuse | version 0, nothing read | `NV_FUSE_OPT_FPF_*_UCODE<id>_VERSION` mask → version |
 * | RISC-V active | `CORE_SWITCH_RISCV_STATUS.ACTIVE_STAT` | `RISCV_CPUCTL.ACTIVE_STAT` |
 *
 * @example Each chip's HAL comes from the chip table
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { falconHalFor } from "./hal.ts";
 * assert.equal(falconHalFor(chipByName("ga100")!).info.name, "tu102");
 * assert.equal(falconHalFor(chipByName("ad102")!).info.loadMethod, "dma");
 * ```
 *
 * @module
 */

import { type ChipInfo, type FalconHal, type FalconHalInfo, falconHalOf } from "../chips/chips.ts";
import type { BromParams } from "../firmware/falcon_load.ts";
import type { FalconIo } from "./_io.ts";
import { GA102_FALCON_HAL } from "./hal_ga102.ts";
import { TU102_FALCON_HAL } from "./hal_tu102.ts";

export type { FalconIo } from "./_io.ts";

/** The core a falcon with a RISC-V core boots on. */
export type FalconCore = "falcon" | "riscv";

/** What differs between falcon styles. Every wait takes the caller's signal. */
export interface FalconHalOps {
  /** Before the `ENGINE` reset pulse. */
  beforeReset(io: FalconIo, signal?: AbortSignal): Promise<void>;
  /** Wait until memory scrubbing after a reset is done. */
  waitScrubbing(io: FalconIo, signal?: AbortSignal): Promise<void>;
  /** Select the core the next start runs on (a no-op where there is no choice). */
  selectCore(io: FalconIo, core: FalconCore, signal?: AbortSignal): Promise<void>;
  /** Program the boot ROM's signature parameters (a no-op where there are none). */
  programBrom(io: FalconIo, params: BromParams): void;
  /** The chip's signature fuse version for a ucode (0 where there are no fuses). */
  signatureFuseVersion(io: FalconIo, engineIdMask: number, ucodeId: number): number;
  /** Whether the engine's RISC-V core is running. */
  isRiscvActive(io: FalconIo): boolean;
}

/** A falcon HAL: the chip table's facts and the operations. */
export interface FalconHalImpl extends FalconHalOps {
  /** The chip table's facts for this HAL (load method, Booter layout, …). */
  readonly info: FalconHalInfo;
}

/**
 * The implementation of each HAL the chip table names. The chip table's
 * `gh100` HAL differs from `ga102` only in register layouts that
 * `registers/` resolves per chip, so it runs the GA102 operations until a
 * Hopper-specific step needs its own.
 */
const OPERATIONS: Readonly<Record<FalconHal, FalconHalOps>> = Object.freeze({
  tu102: TU102_FALCON_HAL,
  ga102: GA102_FALCON_HAL,
  gh100: GA102_FALCON_HAL,
});

/**
 * The falcon HAL of a chip.
 *
 * @param chip The chip.
 * @returns The chip table's facts and the operations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { falconHalFor } from "./hal.ts";
 * const hal = falconHalFor(chipByName("tu102")!);
 * assert(hal.info.loadMethod === "pio" && !hal.info.programsBrom);
 * ```
 */
export function falconHalFor(chip: ChipInfo): FalconHalImpl {
  const info = falconHalOf(chip);
  return Object.freeze({ ...OPERATIONS[info.name], info });
}
