/**
 * GSP-RM on the simulated chip: the {@linkcode GspRm} protocol model wired
 * to the GSP falcon, started by Booter-load, resumed through SEC2, polled
 * when the host rings the doorbell or time passes, dropped when the GSP core
 * is reset or Booter-unload tears WPR2 down.
 *
 * - **Start** (Booter-load accepted): the GSP's RISC-V core is activated
 *   (`SimFalcon.activateRiscv`), GSP-RM reads the LibOS init-args address
 *   from the GSP's MBOX0/1, and its init takes `gspRmInitMs` (~1.2 s) of
 *   clock time before GSP_INIT_DONE. On the FSP path (GH100) the FMC starts
 *   it ({@linkcode GspRmHost.startByFmc}) from the LibOS init-args address
 *   of its boot params, with no CPU sequencer.
 * - **Effects**: GSP-RM writes the GSP falcon's MBOX0 (exactly
 *   0x80000000 when it suspends) and halts the falcon (unless
 *   `gsp-never-halts` is armed: then the core keeps running).
 * - **CORE_RESUME** (the CPU sequencer, TU102 family): the host resets the
 *   GSP falcon (GSP-RM survives: it is suspended in WPR2), writes the
 *   init-args address back into MBOX0/1 and starts SEC2, where SEC2-RTOS is
 *   already loaded. That start sets `NV_PGC6_BSI_SECURE_SCRATCH_14` bit 26
 *   (`boot_stage_3_handoff`), leaves SEC2 MBOX0 = 0 and activates the GSP's
 *   RISC-V core again; GSP-RM then goes on. A resume with the GSP still
 *   running or other mailbox values is refused (SEC2 halts with
 *   `HS_ERROR.resumeRefused`).
 * - **Lost**: any reset of the GSP falcon outside that handshake (and FWSEC-SB,
 *   and Booter-unload) ends GSP-RM.
 * - **Polling**: a write to `NV_PGSP_QUEUE_HEAD(i)` and every tick of the
 *   GPU's clock (`sim_clock.ts`: each `advance`/`sleep` of the virtual clock,
 *   each `sleep` of realistic mode's) poll the model. GSP register reads do
 *   not: a host waiting for a message sleeps on the clock.
 * - **Residue**: GSP-RM still alive (any state but halted or failed).
 * - **Save and reopen**: the model's state survives in the save file, as a
 *   real GSP keeps running when the host process exits; its queues were in
 *   that process's DMA memory, so in the new process GSP-RM takes an IOMMU
 *   fault at its next poll (a doorbell) and halts — after which Booter-unload
 *   accepts (the GSP is halted) and clears WPR2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../simulated_gpu.ts";
 * await using gpu = new SimulatedGpu({ chip: "tu102" });
 * assert.equal(gpu.gspRm.model, undefined); // nothing booted yet
 * assert.deepEqual(gpu.gspRm.residue(), []);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { chipRegisters, falconRegisters } from "../../registers/bind.ts";
import type { SimResidue, SimResidueSource } from "../block_extensions.ts";
import type { FalconOutcome, FalconStart, SimFalcon } from "../falcon.ts";
import type { FaultInjector } from "../faults.ts";
import type { SimResetKind } from "../block.ts";
import type { Clock } from "../../pci/clock.ts";
import type { DmaView } from "../system_memory.ts";
import type { Gc6Block } from "../blocks/gc6.ts";
import { GspRm, type GspRmSnapshot, type GspRmState } from "../gsp_rm/gsp_rm.ts";
import { gspRmFaultPoints } from "../gsp_rm/faults.ts";
import type { BoardIdentity } from "../gsp_rm/static_info.ts";
import type { SequencerScriptRegisters } from "../gsp_rm/sequencer_script.ts";
import { HS_ERROR } from "../acceptance/verdict.ts";
import { type ChipInfo, familyOf } from "../../chips/chips.ts";
import { halt } from "./context.ts";

const log = getLogger(["falconry", "sim", "execution", "gsp_rm_host"]);

/** Options of {@linkcode GspRmHost}. */
export interface GspRmHostOptions {
  /** The chip (the sequencer's register roles, the static info). */
  readonly chip: ChipInfo;
  /** The board GET_GSP_STATIC_INFO names. */
  readonly board: BoardIdentity;
  /** Time. */
  readonly clock: Clock;
  /** GSP-RM's init time until GSP_INIT_DONE, ms. */
  readonly initMs: number;
  /** System memory as the GSP sees it. */
  readonly dma: DmaView;
  /** The GPU's fault points. */
  readonly faults: FaultInjector;
  /** The GSP falcon. */
  readonly gsp: SimFalcon;
  /** GC6 (the boot-stage handoff SEC2-RTOS sets). */
  readonly gc6: Gc6Block;
}

const GSP_RM_FAULTS: ReadonlySet<string> = new Set(gspRmFaultPoints().map((p) => p.name));

/** What a save file holds of GSP-RM. */
export interface GspRmHostSnapshot {
  /** The model's state, when one runs. */
  readonly model: GspRmSnapshot | null;
  /** Whether CORE_RESUME completed. */
  readonly resumed: boolean;
}

/** GSP-RM's life on the simulated chip. */
export class GspRmHost implements SimResidueSource {
  readonly #options: GspRmHostOptions;
  readonly #sequencer: SequencerScriptRegisters | undefined;
  #model: GspRm | undefined;
  #resumed = false;
  /** FSP path: the LibOS init-args address from the FMC's boot params (not the mailboxes). */
  #libosArgs: bigint | undefined;

  /**
   * Build it, with no GSP-RM running.
   *
   * @param options Chip, board, clock, memory, faults, GSP falcon, GC6.
   */
  constructor(options: GspRmHostOptions) {
    this.#options = options;
    // The FSP path has no CPU sequencer (nova-core-boot.md §4).
    this.#sequencer = familyOf(options.chip).bootPath === "sec2"
      ? sequencerRegisters(options.chip)
      : undefined;
  }

  /** The GSP-RM model while one lives (started by Booter-load). */
  get model(): GspRm | undefined {
    return this.#model;
  }

  /** Where GSP-RM is, or `"stopped"` when none lives. */
  get state(): GspRmState {
    return this.#model?.state ?? "stopped";
  }

  /** GSP-RM waits for the CPU sequencer's CORE_RESUME (TU102 family). */
  get awaitingResume(): boolean {
    return this.#model?.state === "awaiting-resume" && !this.#resumed;
  }

  /**
   * Booter-load has verified everything: activate the GSP's RISC-V core and
   * start GSP-RM, which reads the LibOS init args from the GSP's mailboxes.
   */
  startByBooter(): void {
    this.#options.gsp.activateRiscv();
    this.#resumed = false;
    this.#libosArgs = undefined;
    this.#model = this.#newModel();
    this.#model.start();
    log.info("GSP-RM started by Booter-load ({state})", { state: this.#model.state });
  }

  /**
   * The FMC has set up WPR2 and starts GSP-RM (FSP path): activate the GSP's
   * RISC-V core and start GSP-RM from the LibOS init args the FMC's boot
   * params name (`gspRmParams.bootArgsOffset`); the GSP mailboxes are not read.
   *
   * @param libosArgs The LibOS init-args DMA address.
   */
  startByFmc(libosArgs: bigint): void {
    this.#options.gsp.activateRiscv();
    this.#resumed = false;
    this.#libosArgs = libosArgs;
    this.#model = this.#newModel();
    this.#model.start();
    log.info("GSP-RM started by the FMC ({state})", { state: this.#model.state });
  }

  /**
   * SEC2 started while GSP-RM waits for CORE_RESUME: SEC2-RTOS reloads it.
   *
   * @param start SEC2's start.
   * @returns SEC2's outcome.
   */
  resumeThroughSec2(start: FalconStart): FalconOutcome {
    const model = this.#model!;
    const gsp = this.#options.gsp;
    const [mbox0, mbox1] = gsp.mailboxes;
    const address = (BigInt(mbox1) << 32n) | BigInt(mbox0);
    const expected = BigInt(model.snapshot().libosArgs);
    const refusal = gsp.isRunning
      ? "the GSP falcon was not reset before CORE_RESUME"
      : address !== expected
      ? `GSP MBOX0/1 hold 0x${address.toString(16)}, not the LibOS init args ` +
        `0x${expected.toString(16)}`
      : undefined;
    if (refusal) {
      log.warn("SEC2-RTOS refuses to resume GSP-RM: {refusal}", { refusal });
      return halt(HS_ERROR.resumeRefused, { mailbox1: start.mailbox1 });
    }
    return halt(0, {
      effect: () => {
        this.#options.gc6.setBootStage3Handoff();
        gsp.activateRiscv();
        this.#resumed = true;
        model.poll();
      },
    });
  }

  /**
   * The GSP falcon was reset: GSP-RM survives only the sequencer's own
   * reset while it waits for CORE_RESUME.
   *
   * @param kind Which reset.
   */
  gspReset(kind: SimResetKind): void {
    if (!this.#model) return;
    if (kind === "engine" && this.awaitingResume) return;
    this.end(`the GSP falcon was reset (${kind})`);
  }

  /**
   * GSP-RM ends (FWSEC-SB, Booter-unload, a reset).
   *
   * @param why For the log.
   */
  end(why: string): void {
    if (!this.#model) return;
    log.info("GSP-RM ends in state {state}: {why}", { state: this.#model.state, why });
    this.#model = undefined;
    this.#resumed = false;
  }

  /**
   * Let GSP-RM do what is pending.
   *
   * @param reason A doorbell (the default) or time passing.
   */
  poll(reason: "doorbell" | "time" = "doorbell"): void {
    this.#model?.poll(reason);
  }

  /**
   * GSP-RM still alive.
   *
   * @returns One entry, or none.
   */
  residue(): readonly SimResidue[] {
    const state = this.#model?.state;
    if (state === undefined || state === "halted" || state === "failed") return [];
    return [{ block: "GSP-RM", what: `GSP-RM is alive (${state}): unload it or reset the GPU` }];
  }

  /**
   * The state a save file keeps.
   *
   * @returns Plain data.
   */
  snapshot(): GspRmHostSnapshot {
    return { model: this.#model?.snapshot() ?? null, resumed: this.#resumed };
  }

  /**
   * Put back a saved state (in another process).
   *
   * @param saved What {@linkcode GspRmHost.snapshot} returned.
   */
  restore(saved: GspRmHostSnapshot): void {
    this.#resumed = saved.resumed;
    if (!saved.model) {
      this.#model = undefined;
      return;
    }
    this.#model = this.#newModel();
    this.#model.restore(saved.model);
  }

  #newModel(): GspRm {
    const { clock, gsp, faults } = this.#options;
    return new GspRm({
      dma: this.#options.dma,
      board: this.#options.board,
      sequencer: this.#sequencer,
      initDurationNs: this.#options.initMs * 1e6,
      faults: (name) => GSP_RM_FAULTS.has(name) && faults.armed(name) !== undefined,
      onFaultFired: (name, detail) => faults.fired(name, detail),
      effects: {
        now: () => clock.now() * 1e6,
        readMailbox: (index) => {
          const args = this.#libosArgs;
          if (args === undefined) return gsp.mailboxes[index];
          return Number(index === 0 ? args & 0xffff_ffffn : args >> 32n);
        },
        writeMailbox0: (value) => gsp.writeMailbox(0, value),
        halt: () => {
          if (faults.armed("gsp-never-halts")) {
            faults.fired("gsp-never-halts", "GSP-RM would halt; the core keeps running");
            return;
          }
          gsp.firmwareHalt();
        },
        coreResumed: () => this.#resumed,
      },
    });
  }
}

/**
 * The register roles of GSP-RM's CPU-sequencer script on the SEC2-path
 * chips (all the simulator models): a PBUS scratch register as the handoff
 * flag, the GSP's `FBIF_CTL.ALLOW_PHYS_NO_CTX` as the field it modifies, and
 * the GSP mailboxes it saves.
 */
function sequencerRegisters(chip: ChipInfo): SequencerScriptRegisters {
  const gsp = falconRegisters(chip, "GSP");
  return {
    handoff: { addr: chipRegisters(chip).PBUS.SW_SCRATCH.at(0x10).address, value: 0x5a5a_0001 },
    modify: {
      addr: gsp.FBIF_CTL.address,
      mask: gsp.FBIF_CTL.encode({ ALLOW_PHYS_NO_CTX: 1 }),
      value: gsp.FBIF_CTL.encode({ ALLOW_PHYS_NO_CTX: 1 }),
    },
    mailbox0: gsp.MAILBOX0.address,
    mailbox1: gsp.MAILBOX1.address,
  };
}
