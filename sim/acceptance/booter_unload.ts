/**
 * What the simulated Booter-unload does (nova-core-boot.md §6.1–6.2): it
 * tears WPR2 down only when GSP-RM can no longer touch it, that is when the
 * GSP is not running RISC-V at all, has suspended (its MBOX0 bit 31,
 * `LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`, after `UNLOADING_GUEST_DRIVER`) or
 * has halted. Then it clears WPR2 and halts with MBOX0 = 0. With WPR2 not
 * set up there is nothing to do and it succeeds.
 *
 * @example GSP-RM still running
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkBooterUnload } from "./booter_unload.ts";
 * const v = checkBooterUnload({
 *   wpr2: { lo: 0x10, hi: 0x20 }, gsp: { riscvActive: true, mailbox0: 0, halted: false },
 * });
 * assert(!v.ok && v.rule === "gspNotStopped");
 * ```
 *
 * @module
 */

import { HS_ERROR, reject, type Verdict } from "./verdict.ts";
import { decodeWpr2, type Wpr2Registers } from "./wpr2_register.ts";
import { hex } from "./_util.ts";

/**
 * `LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`: GSP MBOX0 bit 31.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GSP_SUSPENDED_BIT } from "./booter_unload.ts";
 * assert.equal(GSP_SUSPENDED_BIT, 2 ** 31);
 * ```
 */
export const GSP_SUSPENDED_BIT = 0x8000_0000;

/** Inputs of {@linkcode checkBooterUnload}. */
export interface BooterUnloadInput {
  /** WPR2 LO/HI as they read now. */
  wpr2: Wpr2Registers;
  /** The GSP as the chip model holds it. */
  gsp: {
    /** RISC-V active (GSP-RM started by Booter-load). */
    riscvActive: boolean;
    /** GSP MBOX0. */
    mailbox0: number;
    /** The RISC-V core has halted. */
    halted: boolean;
  };
}

/** Booter-unload done. */
export interface BooterUnloadEffect {
  /** WPR2 afterwards (cleared). */
  wpr2: Wpr2Registers;
  /** Whether WPR2 was set up before. */
  cleared: boolean;
  /** MBOX0 after Booter halts: 0. */
  mbox0: 0;
}

/**
 * Run Booter-unload's check.
 *
 * @param input WPR2 and the GSP's state.
 * @returns The effect, or `gspNotStopped`.
 *
 * @example Suspended GSP: WPR2 cleared
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkBooterUnload } from "./booter_unload.ts";
 * const v = checkBooterUnload({
 *   wpr2: { lo: 0x10, hi: 0x20 }, gsp: { riscvActive: true, mailbox0: 0x8000_0000, halted: false },
 * });
 * assert(v.ok && v.cleared && v.wpr2.hi === 0);
 * ```
 */
export function checkBooterUnload(input: BooterUnloadInput): Verdict<BooterUnloadEffect> {
  const { gsp } = input;
  const suspended = (gsp.mailbox0 & GSP_SUSPENDED_BIT) !== 0;
  if (gsp.riscvActive && !suspended && !gsp.halted) {
    return reject(
      HS_ERROR.gspNotStopped,
      `GSP-RM is running (MBOX0 ${hex(gsp.mailbox0 >>> 0)}, not halted): WPR2 stays`,
    );
  }
  return {
    ok: true,
    wpr2: { lo: 0, hi: 0 },
    cleared: decodeWpr2(input.wpr2) !== undefined,
    mbox0: 0,
  };
}
