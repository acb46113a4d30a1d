/**
 * The falcon driver: one falcon engine (GSP or SEC2) driven through the
 * chip's falcon HAL, generic over the engine.
 *
 * - {@linkcode Falcon}: reset (TU102 and GA102 styles) and core select,
 *   holding in reset, loading a `FalconLoadMap` by PIO (with IMEM tags and
 *   secure bits) or by DMA in 256-byte chunks, the boot ROM's parameters,
 *   the signature fuse version, BOOTVEC, start, the wait for halt, the
 *   mailboxes, the RISC-V status, and a reset into RISC-V mode.
 * - {@linkcode falconHalFor}: the HAL of a chip, from the chip table
 *   (`tu102`: Turing, GA100; `ga102`: GA10x, Ada, and for now Hopper and
 *   Blackwell).
 * - {@linkcode FALCON_WAITS}: every wait's interval, timeout and source.
 * - {@linkcode FalconError}: every failure, a `BootError` whose step names
 *   the engine and the operation; {@linkcode GpuStoppedAnsweringError} when a
 *   read returned a PRI error or all ones.
 * - {@linkcode FalconResetHold} and {@linkcode FalconResetGuard}: the reset
 *   state as `using` resources.
 *
 * @example Reset a simulated GA102's GSP, DMA an image in, run it, read the mailboxes
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { Falcon } from "./mod.ts";
 *
 * await using gpu = new SimulatedGpu({
 *   chip: "ga102",
 *   falconModels: {
 *     GSP: (start) => ({ kind: "halt", mailbox0: start.imem[0] === 0xaa ? 0 : 1 }),
 *   },
 * });
 * const gsp = new Falcon(gpu, "ga102", "GSP");
 * await using guard = gsp.resetOnDispose(); // a failure below leaves the GSP reset
 * await gsp.reset();
 * const image = new Uint8Array(0x400).fill(0xaa);
 * await gsp.load(image, {
 *   imemSecure: { srcStart: 0, dstStart: 0, length: 0x300 },
 *   dmem: { srcStart: 0x300, dstStart: 0, length: 0x100 },
 *   bootAddress: 0,
 * }, { brom: { pkcDataOffset: 0, engineIdMask: 0x400, ucodeId: 1 } });
 * assert.deepEqual(await gsp.run(), { mailbox0: 0, mailbox1: 0 });
 * assert.equal(gpu.falcons.GSP.lastStart?.brom?.engineIdMask, 0x400);
 * guard.keep();
 * ```
 *
 * @module
 */

export * from "./falcon.ts";
export * from "./falcon_error.ts";
export * from "./gpu_stopped_answering.ts";
export * from "./hal.ts";
export * from "./hal_tu102.ts";
export * from "./hal_ga102.ts";
export * from "./load_plan.ts";
export * from "./pio.ts";
export * from "./dma.ts";
export * from "./reset_guard.ts";
export * from "./reset_hold.ts";
export * from "./timeouts.ts";
