/**
 * Private to `falcon/`: one engine's registers on one device, with the two
 * rules every access of the driver follows. A read that returns a PRI error
 * or all ones throws {@linkcode GpuStoppedAnsweringError} instead of being
 * decoded; every wait polls through `pollValue` on the device's clock, with a
 * timeout and an `AbortSignal`.
 *
 * @module
 */

import type { ChipInfo } from "../chips/chips.ts";
import type { Clock } from "../pci/clock.ts";
import type { Device } from "../pci/device.ts";
import { pollValue } from "../pci/mmio.ts";
import {
  type BoundRegister,
  type ChipRegisters,
  chipRegisters,
  type FalconRegisters,
  falconRegisters,
  type FieldValues,
  type RegisterValue,
} from "../registers/bind.ts";
import { classifyRead } from "../registers/pri_error.ts";
import type { EngineName } from "../registers/register.ts";
import { GpuStoppedAnsweringError } from "./gpu_stopped_answering.ts";
import type { FalconWait } from "./timeouts.ts";

/**
 * What a falcon HAL and the load functions work with: one engine's
 * registers on one device, its clock and DMA allocator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { GpuStoppedAnsweringError } from "./gpu_stopped_answering.ts";
 * import { FalconIo } from "./_io.ts";
 *
 * await using gpu = new SimulatedGpu({ chip: "ga102" });
 * const io = new FalconIo(gpu, chipByName("ga102")!, "SEC2");
 * assert.equal(io.read(io.regs.CPUCTL).HALTED, 1);
 * gpu.faults.arm("bus-fall-off");
 * assert.throws(() => io.read(io.regs.CPUCTL), GpuStoppedAnsweringError);
 * ```
 */
export class FalconIo {
  /** The register BAR. */
  readonly bar: Device["bar0"];
  /** The device's clock: every wait uses it. */
  readonly clock: Clock;
  /** The device's DMA memory. */
  readonly dma: Device["dma"];
  /** The chip. */
  readonly chip: ChipInfo;
  /** The engine. */
  readonly engine: EngineName;
  /** The engine's registers, bound once. */
  readonly regs: FalconRegisters;
  /** The chip's absolute registers (BOOT_0, fuses). */
  readonly chipRegs: ChipRegisters;

  /**
   * Bind an engine's registers on a device.
   *
   * @param device The device's BAR0, clock and DMA allocator.
   * @param chip The chip.
   * @param engine The engine.
   */
  constructor(device: Pick<Device, "bar0" | "clock" | "dma">, chip: ChipInfo, engine: EngineName) {
    this.bar = device.bar0;
    this.clock = device.clock;
    this.dma = device.dma;
    this.chip = chip;
    this.engine = engine;
    this.regs = falconRegisters(chip, engine);
    this.chipRegs = chipRegisters(chip);
  }

  /** Read a register's raw value; a PRI error or all ones throws. */
  readRaw<N extends string>(reg: BoundRegister<N>): number {
    return checked(reg.name, reg.readRaw(this.bar));
  }

  /** Read a register's fields; a PRI error or all ones throws. */
  read<N extends string>(reg: BoundRegister<N>): RegisterValue<N> {
    return reg.decode(this.readRaw(reg));
  }

  /** Read, replace the given fields, write back (the read is checked). */
  modify<N extends string>(reg: BoundRegister<N>, fields: FieldValues<N>): void {
    reg.writeRaw(this.bar, reg.update(this.readRaw(reg), fields));
  }

  /**
   * Read `reg` until `accept` takes its fields, as `wait` says; a PRI error
   * or all ones ends the wait at once.
   */
  async poll<N extends string>(
    reg: BoundRegister<N>,
    accept: (value: RegisterValue<N>) => boolean,
    wait: FalconWait,
    signal?: AbortSignal,
  ): Promise<RegisterValue<N>> {
    const raw = await pollValue(() => this.readRaw(reg), (v) => accept(reg.decode(v)), {
      timeoutMs: wait.timeoutMs,
      intervalMs: wait.intervalMs,
      signal,
      clock: this.clock,
      name: reg.name,
    });
    return reg.decode(raw);
  }
}

function checked(name: string, value: number): number {
  if (classifyRead(value) !== "ok") throw new GpuStoppedAnsweringError(name, value);
  return value;
}
