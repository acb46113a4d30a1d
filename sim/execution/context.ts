/**
 * What the firmware models see of the simulated chip: its identity and VRAM,
 * the blocks firmware changes (PFB's WPR2, PBUS's scratch registers, GC6's
 * boot-stage handoff), the falcons, register values read from the model's
 * side (fuses, PDISP; no host access is logged), the device's view of system
 * memory, the fault points, the clock and the modelled durations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { halt } from "./context.ts";
 * assert.deepEqual(halt(0x23), { kind: "halt", mailbox0: 0x23 });
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../../chips/chips.ts";
import type { Clock } from "../../pci/clock.ts";
import type { PbusBlock } from "../blocks/pbus.ts";
import type { PfbBlock } from "../blocks/pfb.ts";
import type { Gc6Block } from "../blocks/gc6.ts";
import type { SimChipModel } from "../chip_model.ts";
import type { FalconOutcome, SimFalcon } from "../falcon.ts";
import type { FaultInjector } from "../faults.ts";
import type { SimLatency } from "../latency.ts";
import type { DmaView } from "../system_memory.ts";
import type { HsFirmware } from "../acceptance/recognise.ts";
import type { Wpr2Registers } from "../acceptance/wpr2_register.ts";
import type { SimFirmwareSet } from "./firmware_set.ts";

/** The chip as the firmware models see it. */
export interface ExecutionContext {
  /** The chip-table entry. */
  readonly chip: ChipInfo;
  /** Ids, VRAM, fuses. */
  readonly model: SimChipModel;
  /** Time. */
  readonly clock: Clock;
  /** Modelled durations. */
  readonly latency: SimLatency;
  /** Armed fault points. */
  readonly faults: FaultInjector;
  /** System memory as the device sees it (IOMMU faults, bus mastering). */
  readonly dma: DmaView;
  /** The firmware files the chip knows. */
  readonly firmware: SimFirmwareSet;
  /** FWSEC from the GPU's own PROM, or `undefined` when the VBIOS has none. */
  fwsec(): HsFirmware | undefined;
  /**
   * A register's value as the model holds it (not a host access: nothing is
   * counted or logged); 0 where no block models one.
   *
   * @param address BAR0 byte offset.
   */
  readRegister(address: number): number;
  /** WPR2 LO/HI as they read now. */
  wpr2(): Wpr2Registers;
  /** PFB (WPR2). */
  readonly pfb: PfbBlock;
  /** PBUS (FWSEC's result codes). */
  readonly pbus: PbusBlock;
  /** GC6 (the boot-stage handoff). */
  readonly gc6: Gc6Block;
  /** The falcons. */
  readonly falcons: { readonly GSP: SimFalcon; readonly SEC2: SimFalcon };
}

/**
 * The falcon halts at once (or after `afterMs`) with MBOX0.
 *
 * @param mailbox0 MBOX0.
 * @param extra `afterMs`, `mailbox1`, `effect`.
 * @returns The outcome.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { halt } from "./context.ts";
 * assert.equal(halt(0, { afterMs: 35 }).kind, "halt");
 * ```
 */
export function halt(
  mailbox0: number,
  extra: { afterMs?: number; mailbox1?: number; effect?: () => void } = {},
): FalconOutcome {
  return { kind: "halt", mailbox0, ...extra };
}

/**
 * Whether a fault point is armed; records that it fired when it is.
 *
 * @param faults The GPU's injector.
 * @param name The point.
 * @param detail What it does this time.
 * @returns Its parameters when armed, else `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firing } from "./context.ts";
 * import { FaultInjector } from "../faults.ts";
 * import "./faults.ts";
 * const faults = new FaultInjector();
 * assert.equal(firing(faults, "fwsec-hang", "x"), undefined);
 * faults.arm("fwsec-hang");
 * assert.deepEqual(firing(faults, "fwsec-hang", "x"), {});
 * assert.equal(faults.history()[0].name, "fwsec-hang");
 * ```
 */
export function firing(
  faults: FaultInjector,
  name: string,
  detail: string,
): Readonly<Record<string, unknown>> | undefined {
  const parameters = faults.armed(name);
  if (parameters) faults.fired(name, detail);
  return parameters;
}
