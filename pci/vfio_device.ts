/**
 * The VFIO backend: a type1v2 IOMMU container, the device's IOMMU group, the
 * device descriptor, BAR0 mapped through it, configuration space by
 * `pread`/`pwrite` at the config region's offset, bus mastering, and DMA
 * memory mapped into the IOMMU.
 *
 * The order is the kernel's: open `/dev/vfio/vfio`, check the API version
 * and type1v2 support; open `/dev/vfio/<group>`, check the group is viable,
 * attach it to the container, select type1v2; get the device descriptor by
 * name; read the device and region info; map BAR0. Everything acquired goes
 * on one stack, so a failure at any step releases the earlier steps, and
 * disposing the device releases them in reverse: bus mastering off, DMA
 * buffers unmapped, BAR0 unmapped, device closed, group detached and closed,
 * container closed, lock released.
 *
 * Note: opening the device descriptor makes vfio-pci reset the function
 * when it can, and closing it resets it again (and may reset the bus).
 * Read-only hardware checks use the sysfs backend.
 *
 * `device.reset` ({@linkcode VfioDeviceReset}) offers `VFIO_DEVICE_RESET`
 * and the VFIO hot reset; it refuses re-enumeration.
 *
 * Call {@linkcode openDevice} rather than this directly: it runs the safety
 * checks first.
 *
 * @example Errors say which step failed and why
 * ```ts
 * import assert from "node:assert/strict";
 * import { openVfioDevice } from "./vfio_device.ts";
 * const info = { bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, subsystemVendor: 0,
 *   subsystemDevice: 0, revision: 0xa1, class: 0x030000, driver: "vfio-pci", iommuGroup: 12,
 *   numaNode: null, path: "/nonexistent", resources: [] };
 * const devRoot = Deno.makeTempDirSync();
 * try { await openVfioDevice(info, { readOnly: false, devRoot, sysfsRoot: "/sys", lockDir: devRoot }); }
 * catch (e) { assert((e as Error).message.includes("ENOENT")); }
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { DeviceError } from "../errors.ts";
import { OpenedDevice } from "./_opened_device.ts";
import { systemClock } from "./clock.ts";
import { FileConfigSpace } from "./config_space.ts";
import { type Device, PCI_CONFIG } from "./device.ts";
import { DEFAULT_IOVA_WINDOW, intersectRanges, IovaAllocator, type IovaRange } from "./iova.ts";
import {
  FileDescriptor,
  ioctl as systemIoctl,
  type IoctlFunction,
  O_RDWR,
  openFile,
  pageSize,
} from "./libc.ts";
import { lockDevice } from "./lock.ts";
import { Mapping } from "./mapping.ts";
import { MappedMmio } from "./mmio.ts";
import type { ResetQuirk } from "./reset_quirks.ts";
import { type GroupMember, groupNotViableError } from "./safety.ts";
import { iommuGroupMembers, readPciDevice, type SysfsPciDevice } from "./sysfs.ts";
import {
  decodeDeviceInfo,
  decodeGroupStatus,
  decodeIommuInfo,
  decodeRegionInfo,
  encodeCString,
  encodeDeviceInfo,
  encodeGroupStatus,
  encodeInt32,
  encodeIommuInfo,
  encodeRegionInfo,
  type RegionInfo,
  VFIO_API_VERSION,
  VFIO_DEVICE_FLAGS,
  VFIO_IOCTL,
  VFIO_IOMMU_TYPE,
  VFIO_PCI_REGION,
  VFIO_REGION_FLAGS,
} from "./vfio_abi.ts";
import { IommuDmaAllocator, vfioDmaMapper } from "./vfio_dma.ts";
import { VfioDeviceReset } from "./vfio_reset.ts";
import type { SysfsWriter } from "./sysfs_writer.ts";

const log = getLogger(["falconry", "pci", "vfio"]);

/** Options for {@linkcode openVfioDevice}. */
export interface VfioDeviceOptions {
  /** Refuse writes: BAR0 mapped `PROT_READ`, no bus mastering, no DMA. */
  readOnly: boolean;
  /** Where `vfio/vfio` and `vfio/<group>` live. Usually `/dev`. */
  devRoot: string;
  /** sysfs mount point, to name the other members of a non-viable group. */
  sysfsRoot: string;
  /** Directory for the device lock file. */
  lockDir?: string;
  /** IOVA window for DMA, intersected with what the IOMMU reports. Defaults to [4 GiB, 1 TiB). */
  iovaWindow?: IovaRange;
  /**
   * The ioctl system call. Tests substitute a fake VFIO kernel here (over
   * ordinary files standing in for the container, group and device).
   */
  ioctl?: IoctlFunction;
  /** More reset quirks than the built-in table (see `reset_quirks.ts`). */
  resetQuirks?: readonly ResetQuirk[];
  /** How the reset writes sysfs attributes (`reset_method`); tests substitute a fake kernel. */
  sysfsWriter?: SysfsWriter;
}

/** Bytes for info structs with capability chains; grown when the kernel asks for more. */
const INFO_BUFFER_SIZE = 256;

function regionInfo(ioctl: IoctlFunction, device: FileDescriptor, index: number): RegionInfo {
  let argsz = INFO_BUFFER_SIZE;
  for (;;) {
    const request = encodeRegionInfo(index, argsz);
    ioctl(
      device.fd,
      VFIO_IOCTL.VFIO_DEVICE_GET_REGION_INFO,
      request,
      "VFIO_DEVICE_GET_REGION_INFO",
      {
        path: device.path,
      },
    );
    const info = decodeRegionInfo(request);
    if (info.argsz <= argsz) return info;
    argsz = info.argsz;
  }
}

function usableIovaRanges(
  ioctl: IoctlFunction,
  container: FileDescriptor,
  window: IovaRange,
): IovaRange[] {
  let argsz = INFO_BUFFER_SIZE;
  for (;;) {
    const request = encodeIommuInfo(argsz);
    ioctl(container.fd, VFIO_IOCTL.VFIO_IOMMU_GET_INFO, request, "VFIO_IOMMU_GET_INFO", {
      path: container.path,
    });
    const info = decodeIommuInfo(request);
    if (info.argsz > argsz) {
      argsz = info.argsz;
      continue;
    }
    return intersectRanges(info.iovaRanges ?? [window], [window]);
  }
}

async function otherGroupMembers(info: SysfsPciDevice, root: string): Promise<GroupMember[]> {
  const members = await iommuGroupMembers(info.iommuGroup!, root);
  const others = members.filter((bdf) => bdf !== info.bdf);
  return await Promise.all(others.map((bdf) => readPciDevice(bdf, root)));
}

/**
 * Open a device bound to vfio-pci.
 *
 * @param info The device as {@linkcode readPciDevice} found it; `iommuGroup` must be set.
 * @param options Read-only mode, device and sysfs roots, lock directory, IOVA window.
 * @returns The device; dispose it to release everything.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openVfioDevice } from "./vfio_device.ts";
 * assert(typeof openVfioDevice === "function");
 * ```
 */
export async function openVfioDevice(
  info: SysfsPciDevice,
  options: VfioDeviceOptions,
): Promise<Device> {
  const { bdf } = info;
  const group = info.iommuGroup;
  if (group === null) throw new DeviceError(bdf, "has no IOMMU group", "enable the IOMMU");
  const readOnly = options.readOnly;
  const ioctl = options.ioctl ?? systemIoctl;
  using stack = new DisposableStack();
  stack.use(lockDevice(bdf, { dir: options.lockDir }));

  const containerPath = `${options.devRoot}/vfio/vfio`;
  const container = stack.use(openFile(containerPath, O_RDWR, 0, {
    ENOENT: "load VFIO: modprobe vfio-pci",
    EACCES: "needs root or read/write access to /dev/vfio/vfio",
  }));
  const version = ioctl(container.fd, VFIO_IOCTL.VFIO_GET_API_VERSION, 0, "VFIO_GET_API_VERSION", {
    path: containerPath,
  });
  if (version !== VFIO_API_VERSION) {
    throw new DeviceError(bdf, `VFIO API version ${version}; falconry speaks ${VFIO_API_VERSION}`);
  }
  const type1v2 = ioctl(
    container.fd,
    VFIO_IOCTL.VFIO_CHECK_EXTENSION,
    VFIO_IOMMU_TYPE.TYPE1v2,
    "VFIO_CHECK_EXTENSION",
    { path: containerPath },
  );
  if (type1v2 <= 0) {
    throw new DeviceError(
      bdf,
      "the VFIO container does not offer the type1v2 IOMMU",
      "enable the IOMMU (intel_iommu=on or amd_iommu=on) and load vfio_iommu_type1",
    );
  }

  const groupPath = `${options.devRoot}/vfio/${group}`;
  const groupFile = stack.use(openFile(groupPath, O_RDWR, 0, {
    ENOENT: `no VFIO group ${group}: bind ${bdf} to vfio-pci first`,
    EACCES: `needs root or read/write access to ${groupPath}`,
    EBUSY: `IOMMU group ${group} is already open elsewhere (a VM, or another falconry)`,
  }));
  const status = encodeGroupStatus();
  ioctl(groupFile.fd, VFIO_IOCTL.VFIO_GROUP_GET_STATUS, status, "VFIO_GROUP_GET_STATUS", {
    path: groupPath,
  });
  if (!decodeGroupStatus(status).viable) {
    throw groupNotViableError(info, await otherGroupMembers(info, options.sysfsRoot));
  }
  ioctl(
    groupFile.fd,
    VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER,
    encodeInt32(container.fd),
    "VFIO_GROUP_SET_CONTAINER",
    { path: groupPath },
  );
  stack.defer(() =>
    void ioctl(
      groupFile.fd,
      VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER,
      0,
      "VFIO_GROUP_UNSET_CONTAINER",
      {
        path: groupPath,
      },
    )
  );
  ioctl(container.fd, VFIO_IOCTL.VFIO_SET_IOMMU, VFIO_IOMMU_TYPE.TYPE1v2, "VFIO_SET_IOMMU", {
    path: containerPath,
  });
  const iovaRanges = usableIovaRanges(ioctl, container, options.iovaWindow ?? DEFAULT_IOVA_WINDOW);
  if (iovaRanges.length === 0) {
    throw new DeviceError(bdf, "the IOMMU accepts no address inside the IOVA window");
  }

  const deviceFd = ioctl(
    groupFile.fd,
    VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD,
    encodeCString(bdf),
    "VFIO_GROUP_GET_DEVICE_FD",
    { path: groupPath, hints: { EBUSY: `${bdf} is already open elsewhere` } },
  );
  const device = stack.use(new FileDescriptor(deviceFd, `${groupPath} (${bdf})`));
  const deviceInfo = encodeDeviceInfo();
  ioctl(device.fd, VFIO_IOCTL.VFIO_DEVICE_GET_INFO, deviceInfo, "VFIO_DEVICE_GET_INFO", {
    path: device.path,
  });
  const { flags, numRegions } = decodeDeviceInfo(deviceInfo);
  if (!(flags & VFIO_DEVICE_FLAGS.PCI) || numRegions <= VFIO_PCI_REGION.CONFIG) {
    throw new DeviceError(
      bdf,
      `VFIO reports flags 0x${flags.toString(16)}, ${numRegions} regions: not a PCI device`,
    );
  }

  const bar0Region = regionInfo(ioctl, device, VFIO_PCI_REGION.BAR0);
  if (bar0Region.size === 0n || !(bar0Region.flags & VFIO_REGION_FLAGS.MMAP)) {
    throw new DeviceError(bdf, "BAR0 cannot be mapped through VFIO (size 0 or no MMAP flag)");
  }
  const sparse = bar0Region.sparseAreas;
  if (
    sparse &&
    !(sparse.length === 1 && sparse[0].offset === 0n && sparse[0].size === bar0Region.size)
  ) {
    throw new DeviceError(
      bdf,
      "VFIO lets only parts of BAR0 be mapped (the MSI-X table is excluded)",
      "use a kernel ≥ 4.16 on a platform with interrupt remapping, where the whole BAR is mappable",
    );
  }
  const configRegion = regionInfo(ioctl, device, VFIO_PCI_REGION.CONFIG);

  const mapping = stack.use(
    Mapping.shared(device.fd, Number(bar0Region.size), {
      readOnly,
      offset: bar0Region.offset,
      path: `${device.path} BAR0`,
    }),
  );
  const bar0 = stack.use(
    new MappedMmio(mapping.buffer, { name: `${bdf} BAR0`, readOnly, bdf, clock: systemClock }),
  );
  const config = stack.use(
    new FileConfigSpace(device.fd, {
      base: configRegion.offset,
      size: Number(configRegion.size),
      readOnly,
      bdf,
      path: device.path,
    }),
  );

  const dma = stack.use(
    new IommuDmaAllocator(
      vfioDmaMapper(container.fd, containerPath, ioctl),
      new IovaAllocator({ ranges: iovaRanges, pageSize: pageSize() }),
      { name: bdf, readOnly },
    ),
  );
  if (!readOnly) {
    const original = config.read16(PCI_CONFIG.command);
    const wanted = PCI_CONFIG.commandMemory | PCI_CONFIG.commandBusMaster;
    config.write16(PCI_CONFIG.command, original | wanted);
    // Runs before the DMA buffers are unmapped: stop the device's DMA first.
    stack.defer(() => {
      const now = config.read16(PCI_CONFIG.command);
      config.write16(
        PCI_CONFIG.command,
        (now & ~PCI_CONFIG.commandBusMaster) | (original & PCI_CONFIG.commandBusMaster),
      );
    });
  }
  log.debug("{bdf}: opened through VFIO group {group}, BAR0 {size} bytes, {mode}", {
    bdf,
    group,
    size: mapping.length,
    mode: readOnly ? "read-only" : "read-write",
  });
  const reset = new VfioDeviceReset({
    info,
    devRoot: options.devRoot,
    device,
    group: { id: group, file: groupFile },
    resetWorks: (flags & VFIO_DEVICE_FLAGS.RESET) !== 0,
    ioctl,
    config,
    clock: systemClock,
    readOnly,
    quirks: options.resetQuirks,
    writer: options.sysfsWriter,
  });
  return new OpenedDevice(info, bar0, config, dma, readOnly, systemClock, stack.move(), reset);
}
