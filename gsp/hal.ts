/**
 * The GSP boot HAL: what differs between chip families up to the point
 * where GSP-RM runs (reference §1.2, §3.1, §6.3). A HAL's `boot` brings the
 * GSP from a cold GPU to "Booter has started GSP-RM" and unwinds its own
 * failures locally; on success it hands back a {@linkcode HalBooted}: the
 * resources it holds (DMA memory, the falcons, the sysmem flush page, WPR2)
 * and its unload bundle, built at boot time.
 *
 * Two HALs, chosen by the chip's boot path (`chips/chips.ts`):
 *
 * - `hal_tu102.ts`: the TU102 family (Turing, GA100, GA10x, Ada; the SEC2
 *   path: FWSEC-FRTS, Booter), with the CPU sequencer after it;
 * - `hal_gh100.ts`: Hopper, and Blackwell where its facts are known (the
 *   FSP path: the chain-of-trust message, the lockdown release), without a
 *   CPU sequencer, its unwinding staged by phase.
 *
 * @example Which chips boot through which HAL
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { gspHalFor } from "./hal.ts";
 * assert.equal(gspHalFor(chipByName("ad102")!).name, "tu102");
 * assert.equal(gspHalFor(chipByName("gh100")!).name, "gh100");
 * assert.equal(gspHalFor(chipByName("gh100")!).cpuSequencer, false);
 * ```
 *
 * @module
 */

import { type ChipInfo, familyOf } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import type { Falcon } from "../falcon/falcon.ts";
import type { FirmwareSet } from "../loader/firmware_set.ts";
import type { Device } from "../pci/device.ts";
import type { ChipRegisters } from "../registers/bind.ts";
import type { BootSteps, GspBootError } from "./boot_steps.ts";
import { GH100_GSP_HAL } from "./hal_gh100.ts";
import { TU102_GSP_HAL } from "./hal_tu102.ts";
import type { GspBootArgs } from "./libos_args.ts";

/** What a HAL's boot works with. */
export interface GspBootContext {
  /** The device. */
  readonly device: Device;
  /** The chip. */
  readonly chip: ChipInfo;
  /** Its registers. */
  readonly regs: ChipRegisters;
  /** The GSP falcon. */
  readonly gsp: Falcon;
  /** The SEC2 falcon. */
  readonly sec2: Falcon;
  /** The chip's firmware set (parsed; the GSP image is read from `paths.gsp`). */
  readonly firmware: FirmwareSet;
  /** The LibOS arguments (their address goes into the GSP's mailboxes). */
  readonly bootArgs: GspBootArgs;
  /** Step events and timing. */
  readonly steps: BootSteps;
  /** Abort signal of the boot (never used while unwinding). */
  readonly signal?: AbortSignal;
}

/** Where an unload runs: its step events and its abort signal. */
export interface UnloadContext {
  /** Step events and timing. */
  steps: BootSteps;
  /** Abort signal; unwinding after a failed boot runs without one. */
  signal?: AbortSignal;
}

/** What a HAL's successful boot hands over. Disposing it runs the unload bundle and frees everything. */
export interface HalBooted extends AsyncDisposable {
  /** WPR2 as the registers say after Booter-load. */
  readonly wpr2: { readonly start: number; readonly end: number };
  /** The GSP bootloader's app version, for `NV_PFALCON_FALCON_OS`. */
  readonly osVersion: number;
  /** Whether an unload bundle was built (without one the GPU needs a reset after unload). */
  readonly hasUnloadBundle: boolean;
  /** Where the unload bundle runs when this is disposed (set before an explicit unload). */
  readonly unloadContext: UnloadContext;
  /**
   * What a failure of a later (common) step becomes: the FSP path names its
   * phase (`after-response`). Absent: the error as it is.
   */
  failed?(error: GspBootError): GspBootError;
}

/** A family's boot HAL. */
export interface GspHal {
  /** The HAL's name. */
  readonly name: string;
  /**
   * Whether GSP-RM asks the host to run the CPU sequencer after SET_REGISTRY
   * (the SEC2 path); `false` on the FSP path. Absent means it does.
   */
  readonly cpuSequencer?: boolean;
  /**
   * Boot up to Booter-load; unwind locally on failure.
   *
   * @param ctx The context.
   * @returns The running state and its unload.
   * @throws {GspBootError} Naming the step.
   */
  boot(ctx: GspBootContext): Promise<HalBooted>;
}

/** The chip has no boot HAL here. */
export class UnsupportedBootError extends FalconryError {
  /**
   * Construct it.
   *
   * @param chip The chip.
   */
  constructor(readonly chip: ChipInfo) {
    super(`${chip.name} (${chip.arch}) has no boot HAL`);
  }
}

const HAL_BY_BOOT_PATH: Readonly<Record<string, GspHal | undefined>> = Object.freeze({
  sec2: TU102_GSP_HAL,
  fsp: GH100_GSP_HAL,
});

/**
 * The boot HAL of a chip.
 *
 * @param chip The chip.
 * @returns Its HAL: by boot path, SEC2 (TU102 HAL) or FSP (GH100 HAL).
 * @throws {UnsupportedBootError} For a boot path without a HAL.
 */
export function gspHalFor(chip: ChipInfo): GspHal {
  const hal = HAL_BY_BOOT_PATH[familyOf(chip).bootPath];
  if (!hal) throw new UnsupportedBootError(chip);
  return hal;
}
