/**
 * The simulated chip's execution model: what its falcons run when the host
 * starts them, and GSP-RM afterwards. A {@linkcode SimulatedGpu} builds one
 * by default; its falcons call {@linkcode SimExecution.onStart} and
 * {@linkcode SimExecution.onReset}, its bus carries {@linkcode SimExecution.pgsp}
 * (the doorbell), and its clock's ticks poll GSP-RM.
 *
 * - GSP falcon: FWSEC from the PROM (`gsp_falcon.ts`).
 * - SEC2 falcon: Booter-load, Booter-unload, SEC2-RTOS's resume (`sec2_falcon.ts`).
 * - GSP-RM (`gsp_rm_host.ts`).
 * - Hopper: the FSP (`fsp.ts`), which boots the FMC and GSP-RM after the
 *   Chain-of-Trust message; the host starts no falcon there.
 * - The firmware files it recognises (`firmware_set.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../simulated_gpu.ts";
 * await using gpu = new SimulatedGpu({ chip: "ga102" });
 * assert.equal(gpu.execution.fwsec()?.kind, "fwsec");
 * assert.equal(gpu.execution.firmware.booters().length, 2); // the forged set
 * ```
 *
 * @module
 */

import { bufferSource } from "../../firmware/byte_source.ts";
import type { ChipInfo } from "../../chips/chips.ts";
import { chipRegisters } from "../../registers/bind.ts";
import type { Clock } from "../../pci/clock.ts";
import type { SimBlock, SimResetKind } from "../block.ts";
import type { PbusBlock } from "../blocks/pbus.ts";
import type { PfbBlock } from "../blocks/pfb.ts";
import type { Gc6Block } from "../blocks/gc6.ts";
import type { SimChipModel } from "../chip_model.ts";
import type { FalconOutcome, FalconStart, SimFalcon, SimFalconEngine } from "../falcon.ts";
import type { FaultInjector } from "../faults.ts";
import type { SimLatency } from "../latency.ts";
import type { DmaView } from "../system_memory.ts";
import { type HsFirmware, recogniseFwsec } from "../acceptance/recognise.ts";
import type { Wpr2Registers } from "../acceptance/wpr2_register.ts";
import type { ExecutionContext } from "./context.ts";
import type { SimFirmwareSet } from "./firmware_set.ts";
import { runGspFalcon } from "./gsp_falcon.ts";
import { GspRmHost } from "./gsp_rm_host.ts";
import { PgspBlock } from "./pgsp_block.ts";
import { FspBlock, hasFsp } from "./fsp.ts";
import { runSec2Falcon } from "./sec2_falcon.ts";
import "./faults.ts";

/** What the chip gives its execution model. */
export interface SimExecutionOptions {
  /** The chip model. */
  readonly model: SimChipModel;
  /** The board name GET_GSP_STATIC_INFO reports. */
  readonly board: string;
  /** Time. */
  readonly clock: Clock;
  /** Modelled durations. */
  readonly latency: SimLatency;
  /** Fault points. */
  readonly faults: FaultInjector;
  /** The device's view of system memory. */
  readonly dma: DmaView;
  /** The VBIOS in the PROM. */
  readonly vbios: Uint8Array;
  /** The firmware files the chip knows. */
  readonly firmware: SimFirmwareSet;
  /** PFB. */
  readonly pfb: PfbBlock;
  /** PBUS. */
  readonly pbus: PbusBlock;
  /** GC6. */
  readonly gc6: Gc6Block;
  /** The blocks whose registers the models read (fuses, PDISP). */
  readonly blocks: () => readonly SimBlock[];
  /** The falcons (built after this model: asked for lazily). */
  readonly falcons: () => { readonly GSP: SimFalcon; readonly SEC2: SimFalcon };
}

/** The execution model of one simulated chip. */
export class SimExecution implements ExecutionContext {
  /** The chip-table entry. */
  readonly chip: ChipInfo;
  /** The chip model. */
  readonly model: SimChipModel;
  /** Time. */
  readonly clock: Clock;
  /** Modelled durations. */
  readonly latency: SimLatency;
  /** Fault points. */
  readonly faults: FaultInjector;
  /** The device's view of system memory. */
  readonly dma: DmaView;
  /** The firmware files it recognises. */
  readonly firmware: SimFirmwareSet;
  /** PFB. */
  readonly pfb: PfbBlock;
  /** PBUS. */
  readonly pbus: PbusBlock;
  /** GC6. */
  readonly gc6: Gc6Block;
  /** The doorbell block, for the bus. */
  readonly pgsp: PgspBlock;
  /** The FSP (Hopper): secure boot, the COT exchange, the FMC; absent on the SEC2 path. */
  readonly fsp?: FspBlock;
  readonly #options: SimExecutionOptions;
  #fwsec?: HsFirmware | null;
  #gspRm?: GspRmHost;

  /**
   * Build it.
   *
   * @param options The chip's parts.
   */
  constructor(options: SimExecutionOptions) {
    this.#options = options;
    this.model = options.model;
    this.chip = options.model.chip;
    this.clock = options.clock;
    this.latency = options.latency;
    this.faults = options.faults;
    this.dma = options.dma;
    this.firmware = options.firmware;
    this.pfb = options.pfb;
    this.pbus = options.pbus;
    this.gc6 = options.gc6;
    this.pgsp = new PgspBlock(this.chip, () => this.gspRm.poll());
    if (hasFsp(this.chip)) this.fsp = new FspBlock(this, () => this.gspRm);
  }

  /** The falcons. */
  get falcons(): { readonly GSP: SimFalcon; readonly SEC2: SimFalcon } {
    return this.#options.falcons();
  }

  /** GSP-RM's life on this chip. */
  get gspRm(): GspRmHost {
    this.#gspRm ??= new GspRmHost({
      chip: this.chip,
      board: {
        boardName: `NVIDIA ${this.#options.board}`,
        chip: this.chip.name.toUpperCase(),
        fbSize: BigInt(this.model.fbSize),
      },
      clock: this.clock,
      initMs: this.latency.gspRmInitMs,
      dma: this.dma,
      faults: this.faults,
      gsp: this.falcons.GSP,
      gc6: this.gc6,
    });
    return this.#gspRm;
  }

  /**
   * FWSEC from the PROM (parsed once).
   *
   * @returns The image, or `undefined` when the VBIOS holds none.
   */
  fwsec(): HsFirmware | undefined {
    if (this.#fwsec === undefined) {
      try {
        this.#fwsec = recogniseFwsec(bufferSource(this.#options.vbios, "PROM"), "FWSEC (PROM)");
      } catch {
        this.#fwsec = null;
      }
    }
    return this.#fwsec ?? undefined;
  }

  /**
   * A register's value as its block holds it (no host access).
   *
   * @param address BAR0 byte offset.
   * @returns The value, 0 where no block models one.
   */
  readRegister(address: number): number {
    for (const block of this.#options.blocks()) {
      if (!block.ranges.some((r) => address >= r.start && address < r.end)) continue;
      return block.read(address) ?? 0;
    }
    return 0;
  }

  /** WPR2 LO/HI as they read now. */
  wpr2(): Wpr2Registers {
    const pfb = chipRegisters(this.chip).PFB;
    return {
      lo: this.readRegister(pfb.PRI_MMU_WPR2_ADDR_LO.address),
      hi: this.readRegister(pfb.PRI_MMU_WPR2_ADDR_HI.address),
    };
  }

  /**
   * A falcon started: what its code does.
   *
   * @param engine The falcon.
   * @param start What it holds.
   * @returns The outcome.
   */
  onStart(engine: SimFalconEngine, start: FalconStart): FalconOutcome {
    return engine === "GSP"
      ? runGspFalcon(this, this.gspRm, start)
      : runSec2Falcon(this, this.gspRm, start);
  }

  /**
   * A falcon was reset.
   *
   * @param engine The falcon.
   * @param kind Which reset.
   */
  onReset(engine: SimFalconEngine, kind: SimResetKind): void {
    if (engine === "GSP") {
      this.#gspRm?.gspReset(kind);
      if (kind === "engine") this.fsp?.gspReset();
    }
  }

  /** Time passed: GSP-RM may have something to do. */
  tick(): void {
    this.fsp?.settle();
    this.#gspRm?.poll("time");
  }
}
