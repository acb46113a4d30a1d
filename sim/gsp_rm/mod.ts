/**
 * The simulated GSP-RM: the firmware that runs on the GSP's RISC-V core,
 * modelled at protocol level over simulated system memory. The chip model
 * starts it when Booter hands over and polls it; a host driver talks to it
 * through the message queues in system memory, exactly as to the real one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspRmFaultPoints, GspRm, MBOX0_SUSPENDED } from "./mod.ts";
 * assert.equal(MBOX0_SUSPENDED, 0x80000000);
 * assert.equal(typeof GspRm, "function");
 * assert(gspRmFaultPoints().length > 0);
 * ```
 *
 * @module
 */

export { FalconryError } from "../../errors.ts";
export { type DmaView, SimDmaFault } from "../system_memory.ts";
export * from "./faults.ts";
export * from "./gsp_rm.ts";
export * from "./init_args.ts";
export * from "./logs.ts";
export * from "./queue.ts";
export * from "./rpc.ts";
export * from "./sequencer_script.ts";
export * from "./static_info.ts";
export * from "./structs.ts";
