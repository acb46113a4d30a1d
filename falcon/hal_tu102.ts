/**
 * The TU102 falcon HAL (Turing and GA100; nova-core `falcon/hal/tu102.rs`,
 * reference §3.6): scrubbing is read from `DMACTL`, there is no core to
 * select, no boot-ROM register to program, and no signature fuse to read
 * (NVIDIA's TU102 code uses fuse version 0 without reading, §12). The GSP's
 * RISC-V status is `CORE_SWITCH_RISCV_STATUS.ACTIVE_STAT`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TU102_FALCON_HAL } from "./hal_tu102.ts";
 * assert.equal(TU102_FALCON_HAL.signatureFuseVersion(undefined as never, 0x1, 1), 0);
 * ```
 *
 * @module
 */

import type { FalconIo } from "./_io.ts";
import type { FalconHalOps } from "./hal.ts";
import { FALCON_WAITS } from "./timeouts.ts";

/**
 * The TU102 HAL's operations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TU102_FALCON_HAL } from "./hal_tu102.ts";
 * await TU102_FALCON_HAL.selectCore(undefined as never, "falcon"); // nothing to select
 * assert.equal(typeof TU102_FALCON_HAL.waitScrubbing, "function");
 * ```
 */
export const TU102_FALCON_HAL: FalconHalOps = Object.freeze({
  beforeReset(): Promise<void> {
    return Promise.resolve();
  },

  async waitScrubbing(io: FalconIo, signal?: AbortSignal): Promise<void> {
    await io.poll(
      io.regs.DMACTL,
      (v) => v.DMEM_SCRUBBING === 0 && v.IMEM_SCRUBBING === 0,
      FALCON_WAITS.scrubbingTu102,
      signal,
    );
  },

  selectCore(): Promise<void> {
    return Promise.resolve();
  },

  programBrom(): void {},

  signatureFuseVersion(): number {
    return 0;
  },

  isRiscvActive(io: FalconIo): boolean {
    return io.read(io.regs.RISCV_CORE_SWITCH_RISCV_STATUS).ACTIVE_STAT === 1;
  },
});
