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
 * | `fsp-cot-error-response` | FSP | the COT reply carries a non-zero errorCode (`code`, default 0xa1); the lockdown stays |
 * | `fsp-no-response` | FSP | the COT message is consumed and never answered |
 * | `fsp-lockdown-held` | FSP | the COT is accepted but the GSP's PRIV lockdown is never released |
 * | `fsp-fmc-dma-fault` | FSP | the DMA read of the FMC image faults; the reply carries 0x9e |
 * | `gsp-never-halts` | GSP falcon (FSP path) | the GSP's core never halts until a reset |
 *
 * The SEC2-path points carry `bootPaths: ["sec2"]`, the FSP ones `["fsp"]`
 * (`FaultPoint.bootPaths`): a chip's fault matrix takes `faultPointsFor(chip)`.
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

import type { BootPath } from "../../chips/chips.ts";
import { type FaultPoint, registerFaultPoint } from "../faults.ts";

const FWSEC = "GSP falcon (FWSEC)";
const BOOTER = "SEC2 falcon (Booter)";
const FSP = "FSP";
const SEC2: readonly BootPath[] = ["sec2"];
const FSP_PATH: readonly BootPath[] = ["fsp"];

/** The error code `fsp-cot-error-response` answers with when armed without one. */
export const DEFAULT_FSP_FAULT_CODE = 0xa1;

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
    bootPaths: SEC2,
  }),
  fwsecHang: registerFaultPoint({
    name: "fwsec-hang",
    description: "FWSEC never halts: CPUCTL.HALTED stays 0 until the GSP falcon is reset",
    owner: FWSEC,
    bootPaths: SEC2,
  }),
  fwsecWpr2Unset: registerFaultPoint({
    name: "fwsec-wpr2-unset",
    description: "FWSEC-FRTS accepts the FRTS region and reports no error, but WPR2 stays " +
      "unset (the symptom of FWSEC's data never arriving by DMA)",
    owner: FWSEC,
    bootPaths: SEC2,
  }),
  booterBadSignature: registerFaultPoint({
    name: "booter-bad-signature",
    description: "the boot ROM rejects Booter's signature: SEC2 halts at once with MBOX0 = " +
      "HS_ERROR.wrongSignature (0x08)",
    owner: BOOTER,
    bootPaths: SEC2,
  }),
  booterTimeout: registerFaultPoint({
    name: "booter-timeout",
    description: "Booter never halts: SEC2's CPUCTL.HALTED stays 0 until it is reset",
    owner: BOOTER,
    bootPaths: SEC2,
  }),
  riscvNeverActive: registerFaultPoint({
    name: "riscv-never-active",
    description: "Booter-load halts with MBOX0 0 and sets WPR2, but the GSP's RISC-V core " +
      "never reports active (GSP-RM does not start)",
    owner: BOOTER,
    bootPaths: SEC2,
  }),
  fspCotErrorResponse: registerFaultPoint({
    name: "fsp-cot-error-response",
    description: "the FSP answers the Chain-of-Trust message with a non-zero errorCode in its " +
      "NVDM_TYPE_FSP_RESPONSE reply, places no FRTS or WPR2 and never releases the GSP's PRIV " +
      "lockdown (GSP registers keep reading 0xbadf41xx until a function reset)",
    owner: FSP,
    parameters: "code: the errorCode (default 0xa1, FSP_ERR_IFS_ERR_INVALID_DATA)",
    bootPaths: FSP_PATH,
  }),
  fspNoResponse: registerFaultPoint({
    name: "fsp-no-response",
    description: "the FSP takes the Chain-of-Trust message off its queue (QUEUE_HEAD = TAIL) but " +
      "never answers: MSGQ_HEAD stays equal to MSGQ_TAIL and the host's wait times out",
    owner: FSP,
    bootPaths: FSP_PATH,
  }),
  fspLockdownHeld: registerFaultPoint({
    name: "fsp-lockdown-held",
    description: "the FSP accepts the Chain-of-Trust message (errorCode 0, FRTS and WPR2 placed) " +
      "but the GSP's PRIV lockdown is never released: GSP falcon registers keep reading " +
      "0xbadf41xx and GSP-RM never starts",
    owner: FSP,
    bootPaths: FSP_PATH,
  }),
  fspFmcDmaFault: registerFaultPoint({
    name: "fsp-fmc-dma-fault",
    description: "the FSP's DMA read of the FMC image faults in the IOMMU: it answers the " +
      "Chain-of-Trust message with errorCode 0x9e (FSP_ERR_IFS_ERR_INVALID_STATE) and boots " +
      "nothing",
    owner: FSP,
    bootPaths: FSP_PATH,
  }),
  gspNeverHalts: registerFaultPoint({
    name: "gsp-never-halts",
    description: "the GSP never halts: GSP-RM (or the FMC) keeps its core running whatever it " +
      "is told, so RISCV_CPUCTL.HALTED stays 0 until a falcon or function reset; an unwinding " +
      "that waits for the halt times out",
    owner: "GSP falcon (FSP path)",
    bootPaths: FSP_PATH,
  }),
});
