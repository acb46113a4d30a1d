/**
 * GC6 island: GFW boot (devinit) progress, the usable VRAM size register of
 * GA102 and later, and `BSI_SECURE_SCRATCH_14`, whose bit 26 says SEC2 has
 * handed GSP-RM over (set by the firmware model through
 * {@linkcode Gc6Block.setBootStage3Handoff}).
 *
 * After power-on or a reset, GFW boot runs for a modelled time
 * (`latency.ts`, ~0.23 s). At first the scratch group's privilege mask
 * keeps level 0 (the CPU) out: its bit 0 reads 0 and a read of the progress
 * register is a PRI error (`FECS_PRI_CLIENT_PRIV_LEVEL_VIOLATION`). After a
 * tenth of the boot the mask opens and the progress rises; it reads 0xff
 * once the boot is done. Progress
 * depends on the device clock only, so with the virtual clock a poll reaches
 * 0xff after the modelled time without real waiting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Gc6Block } from "./gc6.ts";
 * import { simChipModel } from "../chip_model.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
import { PRI_ERROR_CODES } from "../../registers/pri_error.ts";
 * import { ManualClock } from "../../pci/clock.ts";
 * import { isPriError } from "../../registers/pri_error.ts";
 * const clock = new ManualClock();
 * const gc6 = new Gc6Block(simChipModel("ga102"), clock, 230);
 * const progress = chipRegisters("ga102").PGC6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
 * assert(isPriError(gc6.read(progress.address)!)); // the mask keeps the CPU out
 * clock.advance(100);
 * assert(gc6.read(progress.address)! < 0xff);
 * clock.advance(130);
 * assert.equal(gc6.read(progress.address), 0xff);
 * ```
 *
 * @module
 */

import type { Clock } from "../../pci/clock.ts";
import { chipRegisters } from "../../registers/bind.ts";
import { PRI_ERROR_CODES } from "../../registers/pri_error.ts";
import type { SimBlock } from "../block.ts";
import type { SimChipModel } from "../chip_model.ts";
import { RegisterFileBlock, type RegisterSpec } from "./register_file.ts";

/** What the progress field reads once GFW boot is done. */
const GFW_BOOT_COMPLETED = 0xff;
/**
 * The share of GFW boot after which its scratch group opens to the CPU (a
 * modelling choice: the sources say only that the mask opens before the
 * progress reaches 0xff).
 */
const PLM_OPENS_AT = 0.1;

function priErrorValue(name: string): number {
  const entry = Object.entries(PRI_ERROR_CODES).find(([, c]) => c.name === name);
  if (!entry) throw new Error(`no PRI error code named ${name}`);
  return (Number(entry[0]) * 0x100) >>> 0;
}

/** What a CPU read of scratch group 05 returns while its privilege mask keeps level 0 out. */
const PRIV_LEVEL_VIOLATION = priErrorValue("FECS_PRI_CLIENT_PRIV_LEVEL_VIOLATION");
const MIB = 2 ** 20;

/** The GC6 block of a simulated chip. */
export class Gc6Block extends RegisterFileBlock implements SimBlock {
  readonly #clock: Clock;
  readonly #bootMs: number;
  readonly #bsi14;
  /** Clock time GFW boot started; `Infinity`: it never starts (the GPU has not come back). */
  #bootStart: number;

  /**
   * Build it; GFW boot starts now.
   *
   * @param model The chip.
   * @param clock The device clock.
   * @param gfwBootMs How long GFW boot takes.
   */
  constructor(model: SimChipModel, clock: Clock, gfwBootMs: number) {
    const pgc6 = chipRegisters(model.chip).PGC6;
    const progress = pgc6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
    const plm = pgc6.AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK;
    // The FSP-path chips (GH100) have no GFW-boot scratch: the FSP's secure boot replaces it.
    const specs: RegisterSpec[] = !progress.present ? [] : [
      {
        register: plm,
        access: "ro",
        persistent: false,
        read: () => plm.encode({ READ_PROTECTION_LEVEL0: this.#plmOpen() ? 1 : 0 }),
      },
      {
        register: progress,
        access: "ro",
        persistent: false,
        read: () =>
          this.#plmOpen() ? progress.encode({ PROGRESS: this.#progress() }) : PRIV_LEVEL_VIOLATION,
      },
      { register: pgc6.BSI_SECURE_SCRATCH_14, access: "ro" },
    ];
    if (pgc6.AON_SECURE_SCRATCH_GROUP_42.present) {
      specs.push({
        register: pgc6.AON_SECURE_SCRATCH_GROUP_42,
        access: "ro",
        resetValue: model.fbSize / MIB,
        persistent: false,
      });
    }
    super("PGC6", specs);
    this.#clock = clock;
    this.#bootMs = gfwBootMs;
    this.#bsi14 = pgc6.BSI_SECURE_SCRATCH_14;
    this.#bootStart = clock.now();
  }

  /** Whether GFW boot has finished. */
  get gfwBootDone(): boolean {
    return this.#clock.now() - this.#bootStart >= this.#bootMs;
  }

  #plmOpen(): boolean {
    return this.#clock.now() - this.#bootStart >= this.#bootMs * PLM_OPENS_AT;
  }

  #progress(): number {
    const elapsed = this.#clock.now() - this.#bootStart;
    if (elapsed >= this.#bootMs) return GFW_BOOT_COMPLETED;
    if (!(elapsed > 0)) return 0;
    return Math.floor((elapsed / this.#bootMs) * (GFW_BOOT_COMPLETED - 1));
  }

  /**
   * Start GFW boot again, as after a reset.
   *
   * @param atMs Clock time it starts (when the GPU comes back); `Infinity` if it never does.
   */
  startGfwBoot(atMs: number): void {
    this.#bootStart = atMs;
  }

  /** Set `BOOT_STAGE_3_HANDOFF`, as SEC2 does when it hands GSP-RM over. */
  setBootStage3Handoff(): void {
    if (!this.#bsi14.present) return;
    this.registers.set(
      this.#bsi14,
      this.#bsi14.update(this.registers.get(this.#bsi14), { BOOT_STAGE_3_HANDOFF: 1 }),
    );
  }

  /** Registers plus whether GFW boot had finished. */
  override snapshot(): unknown {
    return { registers: super.snapshot(), gfwBootDone: this.gfwBootDone };
  }

  /**
   * Put back a snapshot: a finished GFW boot stays finished.
   *
   * @param state What `snapshot` returned.
   */
  override restore(state: unknown): void {
    const s = state as { registers?: unknown; gfwBootDone?: boolean } | undefined;
    super.restore(s?.registers);
    if (s?.gfwBootDone) this.#bootStart = this.#clock.now() - this.#bootMs;
  }
}
