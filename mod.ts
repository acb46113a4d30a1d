/**
 * falconry: boot an NVIDIA GPU's GSP firmware from user space.
 *
 * This module exports what a user script works with: opening a GPU (real
 * or simulated) and booting its GSP, the errors, parsing
 * and patching the boot firmware, the chip table, typed register access,
 * identifying and probing a GPU, finding and loading the firmware files, and
 * opening a PCI device. Everything else, down to the backends' internals
 * (libc over FFI, the VFIO ABI, the fetch's apt plumbing), stays reachable
 * through each layer's own subpath: `./firmware`, `./firmware-forge`,
 * `./chips`, `./registers`, `./gpu`, `./loader`, `./pci`, `./falcon`, `./gsp`,
 * `./sim`, `./errors`.
 *
 * A boot is two lines: `await using gpu = await openGpu({ sim: "tu102" })` (or a
 * PCI address bound to vfio-pci) and `await using gsp = await bootGsp(gpu)`;
 * leaving the scope unloads the GSP.
 *
 * @example Inspect and patch a Booter, then pick a register for the chip
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName, falconHalOf, falconRegisters, parseBooter, patchBooter } from "./mod.ts";
 * import { forgeBooter } from "./firmware/forge/mod.ts";
 *
 * const booter = parseBooter(forgeBooter({ signatureSize: 16, signatureCount: 1, fuseVersion: 0 }));
 * assert.equal(booter.signatureSize, 16);
 * assert.equal(patchBooter(booter, 0).signatureIndex, 0);
 * assert.equal(falconHalOf(chipByName("tu102")!).loadMethod, "pio");
 * assert.equal(falconRegisters("tu102", "SEC2").CPUCTL.address, 0x840100);
 * ```
 *
 * @example Boot and unload the GSP of a simulated TU102
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootGsp, openGpu } from "./mod.ts";
 *
 * await using gpu = await openGpu({ sim: "tu102" });
 * {
 *   await using gsp = await bootGsp(gpu);
 *   assert.ok(gsp.staticInfo.boardName.length > 0);
 *   assert.ok(gsp.wpr2.end > gsp.wpr2.start);
 * } // the GSP is unloaded here
 * assert.deepEqual(gpu.residue(), []);
 * ```
 *
 * @module
 */

export * from "./errors.ts";

// Open a GPU and boot its GSP; disposing the returned Gsp unloads it.
export type { OpenGpuTarget, SimGpuTarget } from "./open_gpu.ts";
export { openGpu } from "./open_gpu.ts";
export type { BootGspOptions, Gsp } from "./gsp/boot.ts";
export { bootGsp, unloadGsp } from "./gsp/boot.ts";
export type { BootStepEvent } from "./gsp/boot_steps.ts";
export { GspBootError } from "./gsp/boot_steps.ts";
export type { FspBootPhase } from "./gsp/fsp_phase.ts";
export { PhasedBootError } from "./gsp/fsp_phase.ts";
export type {
  FalconCondition,
  RecoverOptions,
  RecoveryReport,
  RecoveryRung,
  RecoveryState,
  RungEvent,
  RungName,
  RungOutcome,
} from "./gsp/recover.ts";
export { checkGpuClean, GpuNeedsResetError, recover, RECOVERY_RUNGS } from "./gsp/recover.ts";
export type { CrashBundle, CrashFailure } from "./gsp/crash_bundle.ts";
export { CrashBundleError, readCrashBundle } from "./gsp/crash_bundle.ts";
export type { CrashCause } from "./gsp/crash_recorder.ts";
export { recordCrashBundle } from "./gsp/crash_recorder.ts";
export type { PendingRpc, RpcHistorySnapshot, RpcRecord } from "./gsp/rpc_history.ts";
export { formatRpcHistory } from "./gsp/rpc_history.ts";

// Firmware: parse, patch, describe (pure; bytes in, no hardware).
export type { ByteSource } from "./firmware/byte_source.ts";
export { bufferSource } from "./firmware/byte_source.ts";
export type { BromParams, FalconLoadMap, FalconLoadSegment } from "./firmware/falcon_load.ts";
export type {
  BooterFirmware,
  BooterLayout,
  BooterLoadMapOptions,
  PatchedBooter,
} from "./firmware/booter.ts";
export {
  booterLoadMap,
  parseBooter,
  patchBooter,
  selectBooterSignature,
} from "./firmware/booter.ts";
export type { RiscvBootloader } from "./firmware/riscv_bootloader.ts";
export { parseRiscvBootloader } from "./firmware/riscv_bootloader.ts";
export type { GenBootloader } from "./firmware/gen_bootloader.ts";
export { parseGenBootloader } from "./firmware/gen_bootloader.ts";
export type { ElfFile, ElfSection } from "./firmware/elf.ts";
export { parseElf } from "./firmware/elf.ts";
export type { GspImage } from "./firmware/gsp_image.ts";
export { gspSignature, parseGspImage } from "./firmware/gsp_image.ts";
export type { FmcFirmware } from "./firmware/fmc.ts";
export { parseFmc } from "./firmware/fmc.ts";
export type { Tlv } from "./firmware/tlv.ts";
export { parseTlv } from "./firmware/tlv.ts";
export type { Radix3Layout, Radix3Tables } from "./firmware/radix3.ts";
export { buildRadix3, radix3Layout } from "./firmware/radix3.ts";
export type { VbiosInfo } from "./firmware/vbios/vbios.ts";
export { parseVbios } from "./firmware/vbios/vbios.ts";
export type { FwsecFirmware } from "./firmware/fwsec/extract.ts";
export { extractFwsec } from "./firmware/fwsec/extract.ts";
export type { FrtsRegion, PatchedFwsec } from "./firmware/fwsec/patch.ts";
export { patchFwsecFrts, patchFwsecSb } from "./firmware/fwsec/patch.ts";
export type { FwsecSignatureSlot } from "./firmware/fwsec/signature.ts";
export {
  highestSignedFuseVersion,
  selectFwsecSignature,
  signatureSlots,
  signedFuseVersions,
} from "./firmware/fwsec/signature.ts";
export type { FirmwareKind } from "./firmware/detect.ts";
export { detectFirmwareKind } from "./firmware/detect.ts";
export type { FirmwareDescription } from "./firmware/describe.ts";
export { describeFirmware, describeVbios } from "./firmware/describe.ts";

// Chips: the table of chips, families and falcon HALs.
export type { Architecture, ChipFamily, ChipInfo, FalconHal, FamilyInfo } from "./chips/chips.ts";
export {
  booterLayoutOf,
  chipById,
  chipByName,
  CHIPS,
  falconHalOf,
  FAMILIES,
  familyOf,
} from "./chips/chips.ts";
export type { FirmwareFile } from "./chips/firmware_files.ts";
export { DEFAULT_FIRMWARE_VERSION, firmwareFiles } from "./chips/firmware_files.ts";

// Registers: typed access bound once per chip, PRI errors, signature fuses.
export type { BoundRegister, ChipRegisters, FalconRegisters } from "./registers/bind.ts";
export { chipRegisters, falconRegisters, RegisterAccessError } from "./registers/bind.ts";
export type { ReadStatus } from "./registers/pri_error.ts";
export { classifyRead, describePriError, isPriError, isReadError } from "./registers/pri_error.ts";
export { fuseVersionOf, signatureFuse, SignatureFuseError } from "./registers/fuse.ts";

// A live GPU: identification and the read-only probe.
export type { ChipIdentity } from "./gpu/identify.ts";
export { ChipNotRespondingError, identifyChip, UnsupportedChipError } from "./gpu/identify.ts";
export type { ProbeReport } from "./gpu/probe.ts";
export { probeDevice } from "./gpu/probe.ts";

// Firmware files: where they are, reading a chip's set, the GSP image into DMA memory, fetching.
export type { LocatedFirmware, LocateOptions } from "./loader/locate.ts";
export { locateFirmware, requireFirmware } from "./loader/locate.ts";
export type { FirmwareSet } from "./loader/firmware_set.ts";
export { loadFirmwareSet } from "./loader/firmware_set.ts";
export type { LoadedGspImage, LoadGspImageOptions } from "./loader/gsp_image.ts";
export { fileSource, GspMemoryPool, loadGspImage } from "./loader/gsp_image.ts";
export type { FetchOptions, FetchResult } from "./loader/fetch.ts";
export { fetchFirmware } from "./loader/fetch.ts";
export { FirmwareDirError } from "./loader/firmware_dirs.ts";

// PCI: the Device interface, registers over a BAR, time, and opening a real device.
export type {
  ConfigSpace,
  Device,
  DeviceInfo,
  DeviceReset,
  DmaAllocator,
  DmaBuffer,
  ResetMethod,
} from "./pci/device.ts";
export { ResetRefusedError } from "./pci/reset_error.ts";
export type { ResetQuirk, ResetQuirkKind, ResetQuirkStatus } from "./pci/reset_quirks.ts";
export { describeQuirk, RESET_QUIRKS, resetQuirksFor } from "./pci/reset_quirks.ts";
export type { Clock } from "./pci/clock.ts";
export { ManualClock, systemClock } from "./pci/clock.ts";
export type { Mmio, PollOptions } from "./pci/mmio.ts";
export { MappedMmio, pollValue, writeBarrier } from "./pci/mmio.ts";
export type { OpenDeviceOptions } from "./pci/open.ts";
export { openDevice } from "./pci/open.ts";
export type { SysfsPciDevice } from "./pci/sysfs.ts";
export { listNvidiaGpus } from "./pci/sysfs.ts";

// A whole host: every GPU booted at once, and traces of what happened.
export type {
  BootAllOptions,
  BootAllResult,
  GpuStep,
  GpuStepEvent,
  HostBoot,
  Residue,
  UnloadAllResult,
} from "./boot_all.ts";
export { bootAll, bootTargets, isolationFor } from "./boot_all.ts";
export type { DeviceTracer, TraceDocument, TraceEvent, TraceSpan, TrackAnchor } from "./trace.ts";
export { traceDevice, TraceRecorder, TraceTrack, wallNow } from "./trace.ts";
