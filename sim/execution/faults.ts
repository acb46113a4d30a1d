/**
 * The firmware models' fault points (issue 9, S2), registered in the
 * simulator's registry (`../faults.ts`) when this module loads. Each one
 * makes the simulated firmware fail the way real firmware is seen to fail:
 *
 * | point | owner | symptom |
 * |---|---|---|
 * | `fwsec-error-code` | GSP falcon (FWSEC) | FWSEC-FRTS halts with MBOX0 0 but an error code (`code`, default 0xbad) in `SW_SCRATCH(0xe)` 31:16; WPR2 stays unset |
 * | `fwsec-hang` | GSP falcon (FWSEC) | FWSEC never halts (CPUCTL.HALTED stays 0) until a reset |
 * | `fwsec-wpr2-unset` | GSP falcon (FWSEC) | FWSEC-FRTS accepts the region and reports no error, but WPR2 stays unset |
 * | `booter-bad-signature` | SEC2 falcon (Booter) | the boot ROM rejects Booter's signature: SEC2 halts at once with MBOX0 = `HS_ERROR.wrongSignature` |
 * | `booter-timeout` | SEC2 falcon (Booter) | Booter never halts (CPUCTL.HALTED stays 0) until a reset |
 * | `riscv-never-active` | SEC2 falcon (Booter) | Booter-load halts with MBOX0 0 and sets WPR2, but the GSP's RISC-V core never reports active |
 *
 * The GSP-RM model's points (`gsp-rm-*`) are registered by
 * `../gsp_rm/faults.ts`, the DMA fault by `../dma.ts` and the bus fall-off by
 * `../faults.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXECUTION_FAULTS } from "./faults.ts";
 * import { faultPoints } from "../faults.ts";
 * const names = faultPoints().map((p) => p.name);
 * for (const point of Object.values(EXECUTION_FAULTS)) assert(names.includes(point.name));
 * ```
 *
 * @module
 */

import { type FaultPoint, registerFaultPoint } from "../faults.ts";

const FWSEC = "GSP falcon (FWSEC)";
const BOOTER = "SEC2 falcon (Booter)";

/** The FWSEC error code `fwsec-error-code` reports when armed without one. */
export const DEFAULT_FWSEC_FAULT_CODE = 0xbad;

/**
 * The execution model's fault points, by role.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXECUTION_FAULTS } from "./faults.ts";
 * assert.equal(EXECUTION_FAULTS.booterTimeout.name, "booter-timeout");
 * ```
 */
export const EXECUTION_FAULTS: Readonly<Record<string, FaultPoint>> = Object.freeze({
  fwsecErrorCode: registerFaultPoint({
    name: "fwsec-error-code",
    description: "FWSEC-FRTS halts normally (MBOX0 0) but reports an error code in " +
      "NV_PBUS_SW_SCRATCH(0xe) bits 31:16 and leaves WPR2 unset",
    owner: FWSEC,
    parameters: `code: the 16-bit error code (default 0x${DEFAULT_FWSEC_FAULT_CODE.toString(16)})`,
  }),
  fwsecHang: registerFaultPoint({
    name: "fwsec-hang",
    description: "FWSEC never halts: CPUCTL.HALTED stays 0 until the GSP falcon is reset",
    owner: FWSEC,
  }),
  fwsecWpr2Unset: registerFaultPoint({
    name: "fwsec-wpr2-unset",
    description: "FWSEC-FRTS accepts the FRTS region and reports no error, but WPR2 stays " +
      "unset (the symptom of FWSEC's data never arriving by DMA)",
    owner: FWSEC,
  }),
  booterBadSignature: registerFaultPoint({
    name: "booter-bad-signature",
    description: "the boot ROM rejects Booter's signature: SEC2 halts at once with MBOX0 = " +
      "HS_ERROR.wrongSignature (0x08)",
    owner: BOOTER,
  }),
  booterTimeout: registerFaultPoint({
    name: "booter-timeout",
    description: "Booter never halts: SEC2's CPUCTL.HALTED stays 0 until it is reset",
    owner: BOOTER,
  }),
  riscvNeverActive: registerFaultPoint({
    name: "riscv-never-active",
    description: "Booter-load halts with MBOX0 0 and sets WPR2, but the GSP's RISC-V core " +
      "never reports active (GSP-RM does not start)",
    owner: BOOTER,
  }),
});
