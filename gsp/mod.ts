/**
 * The GSP driver's pure parts: the framebuffer layout the driver hands to
 * Booter (SEC2 path: Turing, GA100, GA10x, Ada) or the region sizes it hands
 * to the FMC (FSP path: Hopper, Blackwell), the WPR2 heap sizing, and the
 * 256-byte `GspFwWprMeta` that describes both. Numbers and bytes in, numbers
 * and bytes out: nothing here touches a GPU or a file.
 *
 * The formulas are NVIDIA's (open-gpu-kernel-modules 570.144,
 * `kgspCalculateFbLayout_TU102`/`_GH100`, `kgspGetFwHeapSize`) where NVIDIA
 * and nova-core differ, as `../shared/reference/nova-core-boot.md` §13 asks.
 *
 * @example Laying out a 24 GiB TU102 (Titan RTX) and building its WPR meta
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildWprMeta, computeFbLayout, decodeWprMeta, fbMemoryMap } from "./mod.ts";
 *
 * const MiB = 2 ** 20, GiB = 2 ** 30;
 * const layout = computeFbLayout({
 *   chip: "tu102",
 *   fbSize: 24 * GiB,
 *   vgaWorkspace: { displayPresent: true, pdispVgaWorkspaceBase: 0 }, // STATUS not valid
 *   gspImageSize: 28528288, // .fwimage of gsp-570.144.bin
 *   bootloaderSize: 4096, // ucode of bootloader-570.144.bin
 * });
 * // WPR2 ends where FRTS ends, 1 MiB below the end of VRAM, and holds a 107 MiB heap (8 + 3 + 96).
 * assert.equal(layout.wpr2.end, 24 * GiB - MiB);
 * assert.equal(layout.wpr2Heap.size, 107 * MiB);
 * assert.equal(fbMemoryMap(layout).at(-1)!.name, "VGA workspace");
 *
 * const bytes = buildWprMeta(layout, {
 *   radix3Address: 0x1_2345_6000n,
 *   bootloader: { dmaAddress: 0x1_0000_0000n, size: 4096, codeOffset: 0, dataOffset: 0, manifestOffset: 0 },
 *   signature: { dmaAddress: 0x1_0000_1000n, size: 4096 },
 * });
 * assert.equal(decodeWprMeta(bytes).gspFwHeapSize, BigInt(layout.wpr2Heap.size));
 * ```
 *
 * @module
 */
export * from "./fb_params.ts";
export * from "./fb_layout_error.ts";
export * from "./wpr_heap.ts";
export * from "./fb_layout.ts";
export * from "./fb_memory_map.ts";
export * from "./wpr_meta.ts";
export * from "./rpc.ts";
export * from "./shared_memory.ts";
export * from "./rmargs.ts";
export * from "./log_buffers.ts";
export * from "./libos_args.ts";
export * from "./msgq.ts";
export * from "./sequencer.ts";
export * from "./system_info.ts";
export * from "./registry.ts";
export * from "./static_info.ts";
export * from "./unloading_guest_driver.ts";
export * from "./init_done.ts";
export * from "./prom_source.ts";
export * from "./boot_steps.ts";
export * from "./hal.ts";
export {
  bootsWithTu102Hal,
  GFW_BOOT_WAIT,
  TU102_GSP_HAL,
  unloadLeftoverTu102,
} from "./hal_tu102.ts";
export * from "./boot.ts";
export { GspShutdown, type GspShutdownInit } from "./unload.ts";
export * from "./rpc_history.ts";
export * from "./crash_capture.ts";
export * from "./crash_bundle.ts";
export * from "./crash_recorder.ts";
export * from "./recover.ts";
export * from "./hal_gh100.ts";
export * from "./fsp_phase.ts";
export * from "./fsp_message.ts";
export * from "./fsp_boot_params.ts";
export * from "./fsp_queue.ts";
export * from "./fsp_family.ts";
export * from "./fsp_waits.ts";
export * from "./fsp_lockdown.ts";
export * from "./fsp_flush_page.ts";
export * from "./fsp_gsp_memory.ts";
