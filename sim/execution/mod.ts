/**
 * The simulated GPU's execution model: on a falcon start it identifies the
 * loaded code by content, runs the hardware's acceptance rules
 * (`../acceptance/`) and applies the firmware's effects; afterwards GSP-RM
 * (`../gsp_rm/`) runs on the GSP.
 *
 * - {@linkcode SimExecution}: the model a {@linkcode SimulatedGpu} builds by default.
 * - {@linkcode SimFirmwareSet}, {@linkcode forgedFirmwareFiles}: the files it recognises.
 * - {@linkcode GspRmHost}: GSP-RM's life on the chip; {@linkcode PgspBlock}: the doorbell.
 * - {@linkcode SimManualClock}, {@linkcode notifyingClock}: clocks whose ticks poll GSP-RM.
 * - {@linkcode EXECUTION_FAULTS}: the FWSEC and Booter fault points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgedFirmwareFiles } from "./mod.ts";
 * import { SimulatedGpu } from "../simulated_gpu.ts";
 * await using gpu = new SimulatedGpu({ chip: "ad102", firmware: forgedFirmwareFiles("ad102") });
 * assert.equal(gpu.execution.firmware.names.length, 4);
 * ```
 *
 * @module
 */

export * from "./context.ts";
export * from "./execution_model.ts";
export * from "./faults.ts";
export * from "./firmware_set.ts";
export * from "./fsp.ts";
export * from "./gsp_falcon.ts";
export * from "./gsp_rm_host.ts";
export * from "./pgsp_block.ts";
export * from "./sec2_falcon.ts";
export * from "./sim_clock.ts";
// The types the public surface names (the simulator's), so that this module documents completely.
export type * from "../mod.ts";
