/**
 * User-space access to NVIDIA GPUs on Linux over Deno FFI: discovery from
 * sysfs, BAR0 registers, configuration space and IOMMU-mapped DMA memory
 * through VFIO (or registers only through sysfs), behind one
 * {@linkcode Device} interface that a simulator can implement as well.
 *
 * - {@linkcode listNvidiaGpus} / {@linkcode readPciDevice}: what sysfs says
 *   (ids, class, driver, IOMMU group, NUMA node, BARs).
 * - {@linkcode openDevice}: checks that the device is an NVIDIA GPU, that no
 *   kernel GPU driver holds it when writing, and that VFIO is set up; takes a
 *   per-device lock; returns a {@linkcode Device} to hold with `await using`.
 * - {@linkcode Mmio}: `read32` (one `Atomics.load`), `write32` (one plain
 *   32-bit store), `poll` with timeout and `AbortSignal` on the device's
 *   {@linkcode Clock}; {@linkcode writeBarrier} between filling DMA memory
 *   and ringing a doorbell.
 * - {@linkcode Clock}: every wait and delay goes through `device.clock`;
 *   {@linkcode systemClock} for hardware, {@linkcode ManualClock} for
 *   virtual time in tests and the simulator.
 * - `device.reset` ({@linkcode DeviceReset}): function-level reset, bus
 *   reset and re-enumeration on both backends, each refused with a sentence
 *   that says what to do when it cannot run ({@linkcode ResetRefusedError});
 *   {@linkcode RESET_QUIRKS} lists devices that must not get one.
 * - `libc`: the typed libc wrappers (`open`, `mmap`, `ioctl`, …) whose
 *   failures throw {@linkcode OsError} with the errno's name.
 *
 * Run with `-A`: Deno lets a program read `/sys` and `/dev` only with
 * `--allow-all`, and the libc layer needs `--allow-ffi`. Mapping a BAR through
 * sysfs needs root (CAP_SYS_ADMIN); VFIO needs read/write access to
 * `/dev/vfio/<group>` and a locked-memory limit large enough for the DMA
 * buffers. Discovery over a copied tree (`sysfsRoot`) needs only
 * `--allow-read`, and importing the module needs no permission at all.
 *
 * @example List the GPUs; with an address argument, read BOOT_0 read-only
 * ```ts
 * import { listNvidiaGpus, openDevice } from "./mod.ts";
 *
 * for (const gpu of await listNvidiaGpus()) {
 *   const id = `${gpu.vendor.toString(16)}:${gpu.device.toString(16)}`;
 *   console.log(gpu.bdf, id, gpu.driver ?? "(no driver)", `IOMMU group ${gpu.iommuGroup}`);
 * }
 * const bdf = Deno.args[0];
 * if (bdf) {
 *   await using gpu = await openDevice(bdf, { readOnly: true });
 *   console.log(`BOOT_0 = 0x${gpu.bar0.read32(0x0).toString(16).padStart(8, "0")}`);
 * }
 * ```
 *
 * @example Registers over plain memory, as a simulator or a test would
 * ```ts
 * import assert from "node:assert/strict";
 * import { MappedMmio } from "./mod.ts";
 *
 * using bar0 = new MappedMmio(new ArrayBuffer(0x1000), { name: "fake BAR0" });
 * bar0.write32(0x100, 0x1);
 * const value = await bar0.poll(0x100, (v) => (v & 1) === 1, { timeoutMs: 100 });
 * assert(value === 1);
 * ```
 *
 * @module
 */

export type {
  ConfigSpace,
  Device,
  DeviceInfo,
  DeviceReset,
  DmaAllocator,
  DmaAllocOptions,
  DmaBuffer,
  ResetMethod,
} from "./device.ts";
export { ResetRefusedError } from "./reset_error.ts";
export {
  describeQuirk,
  RESET_QUIRKS,
  type ResetQuirk,
  type ResetQuirkKind,
  resetQuirksFor,
  type ResetQuirkStatus,
} from "./reset_quirks.ts";
export {
  advertisesFlr,
  capabilities,
  type ConfigReader,
  findCapability,
  PCI_CAP_ID,
  type PciCapability,
  PCIE_CAPABILITY,
} from "./pci_capability.ts";
export { type SysfsWriter, systemSysfsWriter } from "./sysfs_writer.ts";
export { PCI_CONFIG } from "./device.ts";
export { type Clock, ManualClock, type ManualClockOptions, systemClock } from "./clock.ts";
export {
  MappedMmio,
  type MappedMmioOptions,
  type Mmio,
  type PollOptions,
  pollValue,
  type PollValueOptions,
  writeBarrier,
} from "./mmio.ts";
export { openDevice, type OpenDeviceOptions } from "./open.ts";
export {
  DEFAULT_SYSFS_ROOT,
  GPU_CLASS_CODES,
  iommuGroupMembers,
  isNvidiaGpu,
  listNvidiaGpus,
  listPciDevices,
  normalizeBdf,
  NVIDIA_VENDOR_ID,
  parseResourceTable,
  type PciResource,
  readPciDevice,
  RESOURCE_FLAGS,
  type SysfsPciDevice,
} from "./sysfs.ts";
export {
  type AccessRequest,
  type Backend,
  checkDeviceAccess,
  type GroupMember,
  groupNotViableError,
  KERNEL_GPU_DRIVERS,
  VFIO_PCI_DRIVER,
  vfioBindCommands,
} from "./safety.ts";
export { DeviceLock, type DeviceLockOptions, lockDevice } from "./lock.ts";
export { FileConfigSpace, type FileConfigSpaceOptions } from "./config_space.ts";
export { HUGE_PAGE_SIZE, mapFile, type MapOptions, Mapping } from "./mapping.ts";
export {
  DEFAULT_IOVA_WINDOW,
  intersectRanges,
  IovaAllocator,
  type IovaAllocatorOptions,
  type IovaRange,
} from "./iova.ts";
export {
  type DmaMapper,
  IommuDmaAllocator,
  type IommuDmaAllocatorOptions,
  vfioDmaMapper,
} from "./vfio_dma.ts";
export { ERRNO_MAX, errnoName, errnoNumber } from "./errno.ts";
export * as libc from "./libc.ts";
export type { CallContext, ErrnoHints, IoctlFunction } from "./libc.ts";
export * as vfioAbi from "./vfio_abi.ts";
export { DeviceError, FalconryError, HardwareTimeoutError, OsError } from "../errors.ts";
