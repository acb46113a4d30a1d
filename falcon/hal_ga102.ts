/**
 * The GA102 falcon HAL (GA10x and Ada, and for now Hopper and Blackwell;
 * nova-core `falcon/hal/ga102.rs`, reference §3.6, §12–13):
 *
 * - before the reset pulse, a dummy `HWCFG2` read and up to 150 µs for
 *   `HWCFG2.RESET_READY`, whose timeout is ignored (hardware may never set
 *   it; layouts without the field skip the wait);
 * - scrubbing is done when `HWCFG2.MEM_SCRUBBING` reads 0 (20 ms);
 * - core select through `RISCV_BCR_CTRL`: for the Falcon core, written only
 *   when another core is selected, then `VALID` (10 ms) (the reset waits
 *   for scrubbing once more after it);
 *   for RISC-V mode, as NVIDIA leaves the GSP before Booter: RISC-V core,
 *   `VALID`, `BRFETCH` (§13);
 * - the boot ROM's parameters: `BROM_PARAADDR(0)`, `BROM_ENGIDMASK`,
 *   `BROM_CURR_UCODE_ID`, `MOD_SEL` = RSA3K;
 * - the signature fuse of the ucode (`registers/fuse.ts` `signatureFuse`),
 *   whose bit mask `fuseVersionOf` turns into a version;
 * - the RISC-V core is active when `RISCV_CPUCTL.ACTIVE_STAT` reads 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GA102_FALCON_HAL, RSA3K } from "./hal_ga102.ts";
 * assert.equal(RSA3K, 1);
 * assert.equal(typeof GA102_FALCON_HAL.programBrom, "function");
 * ```
 *
 * @module
 */

import type { BromParams } from "../firmware/falcon_load.ts";
import { bindRegister } from "../registers/bind.ts";
import { fuseVersionOf, signatureFuse } from "../registers/fuse.ts";
import { HardwareTimeoutError } from "../errors.ts";
import type { FalconIo } from "./_io.ts";
import type { FalconCore, FalconHalOps } from "./hal.ts";
import { FALCON_WAITS } from "./timeouts.ts";

/**
 * `MOD_SEL.ALGO` for RSA-3K signatures, the only algorithm the boot path
 * uses (`NV_PFALCON2_FALCON_MOD_SEL_ALGO_RSA3K`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FALCON2 } from "../registers/riscv.ts";
 * import { RSA3K } from "./hal_ga102.ts";
 * assert.equal(FALCON2.NV_PFALCON2_FALCON_MOD_SEL.fields[0].values?.[RSA3K], "RSA3K");
 * ```
 */
export const RSA3K = 1;

/** `RISCV_BCR_CTRL.CORE_SELECT` per core (0 FALCON, 1 RISCV in the header). */
const CORE_SELECT: Readonly<Record<FalconCore, number>> = { falcon: 0, riscv: 1 };

function hasField(io: FalconIo, register: "HWCFG2", field: string): boolean {
  return io.regs[register].register.fields.some((f) => f.name === field);
}

async function waitScrubbing(io: FalconIo, signal?: AbortSignal): Promise<void> {
  await io.poll(
    io.regs.HWCFG2,
    (v) => v.MEM_SCRUBBING === 0,
    FALCON_WAITS.scrubbingGa102,
    signal,
  );
}

/**
 * The GA102 HAL's operations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GA102_FALCON_HAL } from "./hal_ga102.ts";
 * assert.equal(typeof GA102_FALCON_HAL.signatureFuseVersion, "function");
 * ```
 */
export const GA102_FALCON_HAL: FalconHalOps = Object.freeze({
  async beforeReset(io: FalconIo, signal?: AbortSignal): Promise<void> {
    // nova-core reads HWCFG2 once before polling; the value itself is not used.
    io.readRaw(io.regs.HWCFG2);
    if (!hasField(io, "HWCFG2", "RESET_READY")) return;
    try {
      await io.poll(io.regs.HWCFG2, (v) => v.RESET_READY === 1, FALCON_WAITS.resetReady, signal);
    } catch (e) {
      if (!(e instanceof HardwareTimeoutError)) throw e;
    }
  },

  waitScrubbing,

  async selectCore(io: FalconIo, core: FalconCore, signal?: AbortSignal): Promise<void> {
    const bcr = io.regs.RISCV_BCR_CTRL;
    if (core === "riscv") {
      bcr.write(io.bar, { CORE_SELECT: CORE_SELECT.riscv, VALID: 1, BRFETCH: 1 });
      return;
    }
    if (io.read(bcr).CORE_SELECT === CORE_SELECT.falcon) return;
    bcr.write(io.bar, { CORE_SELECT: CORE_SELECT.falcon });
    await io.poll(bcr, (v) => v.VALID === 1, FALCON_WAITS.coreSelectValid, signal);
  },

  programBrom(io: FalconIo, params: BromParams): void {
    const r = io.regs;
    r.BROM_PARAADDR.at(0).write(io.bar, { VALUE: params.pkcDataOffset });
    r.BROM_ENGIDMASK.write(io.bar, { VALUE: params.engineIdMask });
    r.BROM_CURR_UCODE_ID.write(io.bar, { VAL: params.ucodeId });
    r.MOD_SEL.write(io.bar, { ALGO: RSA3K });
  },

  signatureFuseVersion(io: FalconIo, engineIdMask: number, ucodeId: number): number {
    const { register, index } = signatureFuse(engineIdMask, ucodeId);
    return fuseVersionOf(io.readRaw(bindRegister(register, io.chip).at(index)));
  },

  isRiscvActive(io: FalconIo): boolean {
    return io.read(io.regs.RISCV_CPUCTL).ACTIVE_STAT === 1;
  },
});
