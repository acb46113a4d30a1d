/**
 * The `Device` interface: everything the layers above `pci/` may do to a GPU.
 *
 * The sysfs and VFIO backends implement it over real hardware, and the
 * simulator implements it in memory, so driver code written against it runs
 * unchanged on both.
 *
 * @example A device-shaped object in a test
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import type { Device } from "./device.ts";
 * import { MappedMmio } from "./mmio.ts";
 *
 * async function boot0AfterReset(device: Pick<Device, "bar0" | "clock">): Promise<number> {
 *   await device.clock.sleep(10); // every delay goes through the device's clock
 *   return device.bar0.read32(0x0);
 * }
 * const clock = new ManualClock();
 * const bar0 = new MappedMmio(new Uint32Array([0x16200a1]).buffer, { clock });
 * assert(await boot0AfterReset({ bar0, clock }) === 0x16200a1);
 * assert(clock.now() === 10);
 * ```
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { Mmio } from "./mmio.ts";

/** Identity and placement of a PCI function, as sysfs reports it. */
export interface DeviceInfo {
  /** PCI address `DDDD:BB:DD.F`, lower case. */
  readonly bdf: string;
  /** Vendor id, `0x10de` for NVIDIA. */
  readonly vendor: number;
  /** Device id, e.g. `0x1e07` for a TU102. */
  readonly device: number;
  /** Subsystem vendor id (the board maker). */
  readonly subsystemVendor: number;
  /** Subsystem device id. */
  readonly subsystemDevice: number;
  /** Revision id. */
  readonly revision: number;
  /** 24-bit class code: base class, subclass, programming interface (`0x030000` = VGA). */
  readonly class: number;
  /** Name of the bound kernel driver (`vfio-pci`, `nouveau`, …), or null when none is bound. */
  readonly driver: string | null;
  /** IOMMU group number, or null without an IOMMU. */
  readonly iommuGroup: number | null;
  /** NUMA node, or null when the platform does not say (`-1`). */
  readonly numaNode: number | null;
}

/**
 * PCI configuration space. Offsets must be naturally aligned for the access
 * width and inside the space (256 bytes, or 4096 for PCI Express); anything
 * else throws a `RangeError`.
 */
export interface ConfigSpace {
  /** Size in bytes. */
  readonly size: number;
  /**
   * Read a byte.
   * @param offset Byte offset.
   * @returns The value.
   */
  read8(offset: number): number;
  /**
   * Read a 16-bit little-endian word.
   * @param offset Byte offset, even.
   * @returns The value.
   */
  read16(offset: number): number;
  /**
   * Read a 32-bit little-endian word.
   * @param offset Byte offset, a multiple of 4.
   * @returns The value.
   */
  read32(offset: number): number;
  /**
   * Write a byte.
   * @param offset Byte offset.
   * @param value 0 … 0xff.
   */
  write8(offset: number, value: number): void;
  /**
   * Write a 16-bit word.
   * @param offset Byte offset, even.
   * @param value 0 … 0xffff.
   */
  write16(offset: number, value: number): void;
  /**
   * Write a 32-bit word.
   * @param offset Byte offset, a multiple of 4.
   * @param value A 32-bit value.
   */
  write32(offset: number, value: number): void;
}

/** Options for {@linkcode DmaAllocator.alloc}. */
export interface DmaAllocOptions {
  /** Alignment of the IOVA, a power of two. Defaults to the page size. */
  align?: number;
}

/**
 * Memory the device can reach by DMA. Disposing it unmaps it from the IOMMU
 * and frees it; `bytes` is empty afterwards.
 */
export interface DmaBuffer extends Disposable {
  /** The memory, zeroed at allocation. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The address the device uses for it. */
  readonly iova: bigint;
  /** Size in bytes (the request rounded up to whole pages). */
  readonly size: number;
}

/** Hands out {@linkcode DmaBuffer}s. */
export interface DmaAllocator {
  /**
   * Allocate zeroed DMA memory.
   *
   * @param size Bytes; rounded up to whole pages.
   * @param options IOVA alignment.
   * @returns The buffer; dispose it (a `using` line) when the device no longer uses it.
   */
  alloc(size: number, options?: DmaAllocOptions): DmaBuffer;
}

/**
 * The ways a {@linkcode DeviceReset} can act on a GPU: a function-level
 * reset, a secondary bus reset of the parent bridge, or re-enumeration
 * (remove, then rescan; not a reset).
 */
export type ResetMethod = "flr" | "bus" | "reenumerate";

/**
 * The optional reset capability of a {@linkcode Device}. `functionLevel` and
 * `bus` reset the GPU and resolve once it answers again with its saved
 * configuration restored, as Linux's `pci_reset_function` does; they reject
 * with a `DeviceError` when the GPU does not come back within the kernel's
 * wait (60 s). A method the backend cannot run here rejects with a
 * `ResetRefusedError` (pci/reset_error.ts) carrying {@linkcode DeviceReset.refusal}'s text.
 *
 * @example Ask before trying
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeviceReset, ResetMethod } from "./device.ts";
 * function usable(reset: DeviceReset): ResetMethod[] {
 *   return (["flr", "bus", "reenumerate"] as const).filter((m) => reset.refusal(m) === undefined);
 * }
 * const onlyFlr: DeviceReset = {
 *   functionLevel: () => Promise.resolve(),
 *   bus: () => Promise.reject(new Error("refused")),
 *   reenumerate: () => Promise.reject(new Error("refused")),
 *   refusal: (m) => m === "flr" ? undefined : "not here",
 * };
 * assert.deepEqual(usable(onlyFlr), ["flr"]);
 * ```
 */
export interface DeviceReset {
  /**
   * Function-level reset (PCIe `DEVCTL.BCR_FLR`).
   *
   * @param signal Stop waiting early.
   */
  functionLevel(signal?: AbortSignal): Promise<void>;
  /**
   * Secondary bus reset of the GPU's parent bridge.
   *
   * @param signal Stop waiting early.
   */
  bus(signal?: AbortSignal): Promise<void>;
  /**
   * Remove, then rescan: for a device that dropped off the bus. Not a reset.
   * On a real backend this `Device`'s BAR0 and config space are closed
   * first (the kernel reassigns them): dispose it and open the GPU again.
   *
   * @param signal Stop waiting early.
   */
  reenumerate(signal?: AbortSignal): Promise<void>;
  /**
   * Why `method` cannot run here, as a sentence that says what to do;
   * undefined when it can.
   *
   * @param method The reset method asked about.
   * @returns The refusal, or undefined.
   */
  refusal(method: ResetMethod): string | undefined;
}

/**
 * One opened PCI function. Dispose it (`await using`) to release, in order,
 * the DMA buffers still allocated, the BAR mapping, config space, the VFIO
 * descriptors and the device lock.
 */
export interface Device extends AsyncDisposable {
  /** What the device is. */
  readonly info: DeviceInfo;
  /** The register BAR. */
  readonly bar0: Mmio;
  /** Configuration space. */
  readonly config: ConfigSpace;
  /** DMA memory (VFIO only; the sysfs backend's allocator throws). */
  readonly dma: DmaAllocator;
  /** Whether every write is refused. */
  readonly readOnly: boolean;
  /**
   * The time every wait and delay on this device uses: `bar0.poll` waits on
   * it, and so must every fixed delay of a driver. The real backends carry
   * {@linkcode systemClock}; a simulator carries a virtual one.
   */
  readonly clock: Clock;
  /**
   * How the GPU can be reset: the simulator and both real backends carry
   * it; ask {@linkcode DeviceReset.refusal} which methods can run here.
   */
  readonly reset?: DeviceReset;
}

/** Offsets and bits of the standard configuration header used by the backends. */
export const PCI_CONFIG = {
  /** Vendor id, 16 bits. */
  vendorId: 0x00,
  /** Device id, 16 bits. */
  deviceId: 0x02,
  /** Command register, 16 bits. */
  command: 0x04,
  /** Command bit 1: respond to memory-space accesses (BARs). */
  commandMemory: 1 << 1,
  /** Command bit 2: bus master, i.e. the device may issue DMA. */
  commandBusMaster: 1 << 2,
} as const;
