/**
 * The GSP boot HAL: what differs between chip families up to the point
 * where GSP-RM runs (reference §1.2, §3.1, §6.3). A HAL's `boot` brings the
 * GSP from a cold GPU to "Booter has started GSP-RM" and unwinds its own
 * failures locally; on success it hands back a {@linkcode HalBooted}: the
 * resources it holds (DMA memory, the falcons, the sysmem flush page, WPR2)
 * and its unload bundle, built at boot time.
 *
 * Only the TU102 family (Turing, GA100, GA10x, Ada; the SEC2 path) has a
 * HAL here: `hal_tu102.ts`. Hopper and Blackwell (the FSP path) are refused.
 *
 * @example Which chips have a boot HAL
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { gspHalFor } from "./hal.ts";
 * assert.equal(gspHalFor(chipByName("ad102")!).name, "tu102");
 * assert.throws(() => gspHalFor(chipByName("gh100")!), /no boot HAL/);
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
import type { BootSteps } from "./boot_steps.ts";
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
}

/** A family's boot HAL. */
export interface GspHal {
  /** The HAL's name. */
  readonly name: string;
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
    super(
      `${chip.name} (${chip.arch}) has no boot HAL: falconry boots the SEC2 path (Turing, ` +
        "Ampere, Ada) only",
    );
  }
}

/**
 * The boot HAL of a chip.
 *
 * @param chip The chip.
 * @returns Its HAL.
 * @throws {UnsupportedBootError} For Hopper and Blackwell.
 */
export function gspHalFor(chip: ChipInfo): GspHal {
  if (familyOf(chip).bootPath === "sec2") return TU102_GSP_HAL;
  throw new UnsupportedBootError(chip);
}
