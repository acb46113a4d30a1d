/**
 * Test harness: the driver's gsp/ code against the simulator's GSP-RM model
 * (sim/gsp_rm/), which has its own struct tables. Here they meet only in
 * simulated system memory and a fake BAR0, as they would on a GPU.
 *
 * - DMA buffers come from a bump allocator whose buffers are mapped into a
 *   `SystemMemory`, so GSP-RM reads exactly what the driver wrote.
 * - BAR0 is a Map of words; a write to `NV_PGSP_QUEUE_HEAD` polls the model.
 * - The clock is a ManualClock whose every sleep also polls the model, as
 *   the chip model does on every clock step.
 * - The falcon operations the sequencer needs are recorded, and CORE_RESUME's
 *   SEC2 start completes the handoff (BSI scratch 14 bit 26, SEC2 MAILBOX0 = 0).
 */

import type { Clock } from "../pci/clock.ts";
import { ManualClock } from "../pci/clock.ts";
import type { DmaAllocator, DmaBuffer } from "../pci/device.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { GspRm, type GspRmOptions } from "../sim/gsp_rm/mod.ts";
import type { GspRmFaultName } from "../sim/gsp_rm/faults.ts";
import type { SequencerFalconOps } from "../gsp/sequencer.ts";

export const CHIP = "tu102";
const regs = chipRegisters(CHIP);
const gspRegs = falconRegisters(CHIP, "GSP");
const sec2Regs = falconRegisters(CHIP, "SEC2");

/** A DMA allocator over simulated system memory. */
export class SimDma implements DmaAllocator {
  readonly memory: SystemMemory;
  #next = 0x1_0000_0000n;
  readonly live = new Set<DmaBuffer>();

  constructor(memory: SystemMemory) {
    this.memory = memory;
  }

  alloc(size: number): DmaBuffer {
    const rounded = Math.ceil(size / 4096) * 4096;
    const bytes = new Uint8Array(rounded);
    const iova = this.#next;
    // Leave a hole between buffers: an access past a buffer's end faults.
    this.#next += BigInt(rounded + 0x1000);
    const mapping = this.memory.map(iova, bytes);
    const live = this.live;
    const buffer: DmaBuffer = {
      bytes,
      iova,
      size: rounded,
      [Symbol.dispose]() {
        mapping[Symbol.dispose]();
        live.delete(buffer);
      },
    };
    live.add(buffer);
    return buffer;
  }
}

/** A Map-backed BAR0 of 16 MiB with write hooks. */
export class FakeBar {
  readonly size = 0x100_0000;
  readonly name = "fake BAR0";
  readonly words = new Map<number, number>();
  readonly writes: [number, number][] = [];
  readonly onWrite = new Map<number, (value: number) => void>();

  read32(offset: number): number {
    return this.words.get(offset) ?? 0;
  }

  write32(offset: number, value: number): void {
    this.words.set(offset, value >>> 0);
    this.writes.push([offset, value >>> 0]);
    this.onWrite.get(offset)?.(value >>> 0);
  }
}

/** Options for {@linkcode GspRmHarness}. */
export interface HarnessOptions {
  faults?: GspRmFaultName[];
  unrelatedEvents?: boolean;
  initDurationNs?: number;
  sequencer?: boolean;
  pollTimeoutUs?: number;
}

/** Register roles given to the model's sequencer script. */
export const SCRIPT_REGISTERS = {
  handoff: { addr: regs.PBUS.SW_SCRATCH.at(0x10).address, value: 0x5a5a_0001 },
  modify: { addr: gspRegs.FBIF_CTL.address, mask: 0x80, value: 0x80 },
  mailbox0: gspRegs.MAILBOX0.address,
  mailbox1: gspRegs.MAILBOX1.address,
};

/** The model, memory, BAR, clock and falcon fakes wired together. */
export class GspRmHarness {
  readonly memory = new SystemMemory();
  readonly dma = new SimDma(this.memory);
  readonly bar = new FakeBar();
  readonly manual = new ManualClock();
  readonly clock: Clock;
  readonly gsp: GspRm;
  readonly falconCalls: string[] = [];
  halted = false;
  resumed = false;
  /** Called on every sleep of the clock (after the model's poll). */
  onSleep: () => void = () => {};

  constructor(options: HarnessOptions = {}) {
    const manual = this.manual;
    const modelOptions: GspRmOptions = {
      dma: this.memory,
      board: { boardName: "NVIDIA TITAN RTX", chip: "TU102", fbSize: 24n << 30n },
      faults: options.faults,
      unrelatedEvents: options.unrelatedEvents,
      initDurationNs: options.initDurationNs,
      sequencer: options.sequencer === false
        ? undefined
        : { ...SCRIPT_REGISTERS, pollTimeoutUs: options.pollTimeoutUs },
      effects: {
        now: () => manual.now() * 1e6,
        readMailbox: (i) => (i === 0 ? gspRegs.MAILBOX0 : gspRegs.MAILBOX1).readRaw(this.bar),
        writeMailbox0: (value) => this.bar.words.set(gspRegs.MAILBOX0.address, value >>> 0),
        halt: () => {
          this.halted = true;
        },
        coreResumed: () => this.resumed,
      },
    };
    this.gsp = new GspRm(modelOptions);
    this.bar.onWrite.set(regs.PGSP.QUEUE_HEAD.at(0).address, () => this.gsp.poll());
    this.clock = {
      now: () => manual.now(),
      sleep: async (ms: number, signal?: AbortSignal) => {
        await manual.sleep(ms, signal);
        this.gsp.poll();
        this.onSleep();
      },
    };
  }

  /** Put the LibOS args address in MBOX0/1 and start the model, as Booter would. */
  start(address: bigint): void {
    gspRegs.MAILBOX0.writeRaw(this.bar, Number(address & 0xffff_ffffn));
    gspRegs.MAILBOX1.writeRaw(this.bar, Number(address >> 32n));
    this.gsp.start();
  }

  /** Falcon operations that record themselves and complete CORE_RESUME's handoff. */
  readonly falcon: SequencerFalconOps = {
    resetGsp: () => {
      this.falconCalls.push("resetGsp");
      return Promise.resolve();
    },
    startGsp: () => {
      this.falconCalls.push("startGsp");
      gspRegs.CPUCTL.writeRaw(this.bar, gspRegs.CPUCTL.encode({ HALTED: 1 }));
    },
    waitGspHalted: (_timeoutMs: number) => {
      this.falconCalls.push("waitGspHalted");
      if (gspRegs.CPUCTL.read(this.bar).HALTED !== 1) throw new Error("GSP not halted");
      return Promise.resolve();
    },
    resetGspIntoRiscv: () => {
      this.falconCalls.push("resetGspIntoRiscv");
      return Promise.resolve();
    },
    startSec2: () => {
      this.falconCalls.push("startSec2");
      // SEC2-RTOS reloads GSP-RM with the address the sequencer put back in MBOX0/1.
      const handoff = regs.PGC6.BSI_SECURE_SCRATCH_14;
      handoff.writeRaw(this.bar, handoff.encode({ BOOT_STAGE_3_HANDOFF: 1 }));
      sec2Regs.MAILBOX0.writeRaw(this.bar, 0);
      this.resumed = true;
    },
    isGspRiscvActive: () => true,
  };
}
