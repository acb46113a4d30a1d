/**
 * The simulated GPU: a Turing, Ampere or Ada GPU behind the same `Device`
 * interface as a real one, strict where the hardware is strict, with a
 * virtual clock so that tests are instant.
 *
 * - {@linkcode SimulatedGpu}: the device (BAR0 bus, config space, DMA,
 *   clock, resets, residue, save and reopen, fault points).
 * - {@linkcode simChipModel}: per-chip ids, FB size and fuse masks, for every
 *   chip in {@linkcode SIM_CHIP_NAMES}.
 * - {@linkcode SimBus} and the blocks (`PmcBlock`, `PbusBlock`, `PfbBlock`,
 *   `Gc6Block`, `FuseBlock`, `PromBlock`, `PdispBlock`, `SimFalcon`), each a
 *   {@linkcode SimBlock}.
 * - {@linkcode faultPoints}: every named fault point.
 * - The execution model (`execution/`): {@linkcode SimExecution} runs FWSEC,
 *   Booter and GSP-RM when the host starts the falcons;
 *   {@linkcode forgedFirmwareFiles} is the firmware a GPU knows by default.
 *
 * @example Boot-time reads by hand on a simulated GA102
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultPoints, SimulatedGpu } from "./mod.ts";
 * import { chipRegisters } from "../registers/bind.ts";
 * import { isPriError } from "../registers/pri_error.ts";
 *
 * await using gpu = await SimulatedGpu.create({ chip: "ga102" });
 * const regs = chipRegisters("ga102");
 * assert.equal(regs.PMC.BOOT_42.read(gpu.bar0).ARCHITECTURE, 0x17);
 * assert.equal(regs.PFB.PRI_MMU_WPR2_ADDR_HI.readRaw(gpu.bar0), 0); // no WPR2 yet
 * assert.equal(regs.PGC6.AON_SECURE_SCRATCH_GROUP_42.readRaw(gpu.bar0), 24 * 1024); // MiB
 * assert(isPriError(gpu.bar0.read32(regs.PMC.BOOT_0.address + 4))); // nothing modelled there
 * assert.equal(gpu.bus.unmodelledReads().length, 1);
 * assert.deepEqual(gpu.violations(), []);
 * assert.deepEqual(gpu.residue(), []);
 * assert(faultPoints().some((p) => p.name === "bus-fall-off"));
 * ```
 *
 * @module
 */

export type { SimBlock, SimRange, SimResetKind } from "./block.ts";
export {
  hasRegisterNames,
  isSimPersistent,
  isSimResidueSource,
  type SimNamedRegisters,
  type SimPersistent,
  type SimResidue,
  type SimResidueSource,
} from "./block_extensions.ts";
export {
  DEFAULT_BAR0_SIZE,
  type SimAccess,
  SimBus,
  type SimBusOptions,
  type SimUnmodelledRead,
  type SimViolation,
  type SimViolationKind,
  UNMODELLED_READ_VALUE,
} from "./bus.ts";
export {
  defaultFuseVersion,
  FUSE_UCODE_IDS,
  type FuseEngine,
  fuseMaskOf,
  MAX_FUSE_VERSION,
  SIM_CHIP_NAMES,
  SIM_FSP_CHIP_NAMES,
  type SimChipModel,
  simChipModel,
  type SimChipModelOptions,
  UnknownSimChipError,
} from "./chip_model.ts";
export {
  CONFIG_SPACE_SIZE,
  PCIE_CAPABILITY_OFFSET,
  SIM_SUBSYSTEM_DEVICE,
  SimConfigSpace,
  type SimConfigSpaceOptions,
} from "./config_space.ts";
export {
  DMA_FAULT,
  faultingDmaView,
  SIM_IOVA_BASE,
  SIM_PAGE_SIZE,
  SimDmaAllocator,
  type SimDmaAllocatorOptions,
} from "./dma.ts";
export {
  type BootPath,
  BUS_FALL_OFF,
  FaultInjector,
  type FaultPoint,
  faultPointAppliesTo,
  faultPoints,
  faultPointsFor,
  type FiredFault,
  registerFaultPoint,
} from "./faults.ts";
export { REALISTIC_LATENCY, type SimLatency, spinWait } from "./latency.ts";
export {
  type DmaView,
  SimDmaFault,
  SystemMemory,
  type SystemMemoryMapping,
} from "./system_memory.ts";
export type {
  ConfigSpace,
  Device,
  DeviceInfo,
  DeviceReset,
  DmaAllocator,
  DmaAllocOptions,
  DmaBuffer,
  ResetMethod,
} from "../pci/device.ts";
export type { Mmio, PollOptions } from "../pci/mmio.ts";
export type * from "../registers/mod.ts";
export type { RegisterSpec as RegisterTableSpec } from "../registers/register.ts";

export {
  FLR_NEVER_RETURNS_DEVICE_IDS,
  type SimBlockViolation,
  type SimFalconModels,
  type SimQuirks,
  SimSaveFileError,
  SimulatedGpu,
  type SimulatedGpuOptions,
} from "./simulated_gpu.ts";
export * from "./falcon.ts";
export { PmcBlock } from "./blocks/pmc.ts";
export { PbusBlock } from "./blocks/pbus.ts";
export { localMemoryRangeOf, PfbBlock, type Wpr2Bounds } from "./blocks/pfb.ts";
export { Gc6Block } from "./blocks/gc6.ts";
export { FuseBlock } from "./blocks/fuse.ts";
export { PromBlock } from "./blocks/prom.ts";
export { PdispBlock } from "./blocks/pdisp.ts";
export {
  CHIP_RESETS,
  pagesOf,
  type RegisterAccess,
  RegisterFile,
  RegisterFileBlock,
  type RegisterSpec,
} from "./blocks/register_file.ts";
export { PcfgBlock } from "./blocks/pcfg.ts";
export * from "./execution/mod.ts";
export * from "./gsp_rm/mod.ts";
export { GSP_PAGE_SIZE } from "./gsp_rm/mod.ts";
// The types the execution model's surface names, so that this module documents completely.
export type {
  BromRegisters,
  GspFirmwareForChip,
  HsFirmware,
  ImemBlock,
  LoadedFalcon,
  LoadMethod as HsLoadMethod,
  Wpr2Registers,
} from "./acceptance/mod.ts";
export type * from "../firmware/mod.ts";
export { ManualClock } from "../pci/clock.ts";
// Hopper's FSP messages and error codes (what a host sends and decodes).
export * from "./acceptance/cot_message.ts";
export * from "./acceptance/fsp_error.ts";
export {
  checkCot,
  type CotAcceptance,
  type CotCheckInput,
  type CotFmc,
  type CotGspFirmware,
  type FbRange,
  FMC_BOOT_PARAMS_SIZE,
  FSP_FRTS_SIZE,
  type FspFamilyFacts,
  fspFamilyFacts,
  fspWprHeapSize,
} from "./acceptance/fmc_boot.ts";
