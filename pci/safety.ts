/**
 * Checks made before a device is opened, and the messages that tell a person
 * what to do: only NVIDIA GPUs, never write to a GPU a kernel driver holds,
 * VFIO only for devices bound to `vfio-pci` whose whole IOMMU group is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDeviceAccess } from "./safety.ts";
 * const gpu = {
 *   bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, subsystemVendor: 0x10de,
 *   subsystemDevice: 0x12fa, revision: 0xa1, class: 0x030000, driver: "nouveau",
 *   iommuGroup: 12, numaNode: null,
 * };
 * checkDeviceAccess(gpu, { readOnly: true, backend: "sysfs" }); // reading is allowed
 * try { checkDeviceAccess(gpu, { readOnly: false, backend: "sysfs" }); } catch (e) {
 *   assert((e as Error).message.includes("echo 10de 1e07 > /sys/bus/pci/drivers/vfio-pci/new_id"));
 * }
 * ```
 *
 * @module
 */

import { DeviceError } from "../errors.ts";
import type { DeviceInfo } from "./device.ts";
import { isNvidiaGpu, NVIDIA_VENDOR_ID } from "./sysfs.ts";

/** Kernel drivers that own a GPU while bound; falconry never writes to a GPU they hold. */
export const KERNEL_GPU_DRIVERS: readonly string[] = [
  "nvidia",
  "nouveau",
  "nova_core",
  "nova-core",
];

/** The driver VFIO needs. */
export const VFIO_PCI_DRIVER = "vfio-pci";

/** Which backend will open the device. */
export type Backend = "sysfs" | "vfio";

/** What the caller wants to do with the device. */
export interface AccessRequest {
  /** Refuse all writes. */
  readOnly: boolean;
  /** The backend. */
  backend: Backend;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

/**
 * Shell commands (to run as root) that hand a device to `vfio-pci`: unbind
 * its current driver, then add its vendor/device id to `vfio-pci`, which
 * binds every unbound device with that id.
 *
 * @param info Address, ids and current driver.
 * @returns One command per line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vfioBindCommands } from "./safety.ts";
 * const lines = vfioBindCommands({ bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, driver: "nvidia" });
 * assert(lines[1] === "echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind");
 * ```
 */
export function vfioBindCommands(
  info: Pick<DeviceInfo, "bdf" | "vendor" | "device" | "driver">,
): string[] {
  const lines = ["modprobe vfio-pci"];
  if (info.driver !== null) {
    lines.push(`echo ${info.bdf} > /sys/bus/pci/devices/${info.bdf}/driver/unbind`);
  }
  lines.push(
    `echo ${hex4(info.vendor)} ${hex4(info.device)} > /sys/bus/pci/drivers/vfio-pci/new_id`,
  );
  return lines;
}

function bindAdvice(info: Pick<DeviceInfo, "bdf" | "vendor" | "device" | "driver">): string {
  return `bind it to vfio-pci, as root: ${vfioBindCommands(info).join("; ")}`;
}

/**
 * Throw unless the request is safe: the device must be an NVIDIA GPU; write
 * access is refused while a kernel GPU driver is bound; VFIO needs the device
 * bound to `vfio-pci` and an IOMMU group.
 *
 * @param info The device as sysfs describes it.
 * @param request Read-only or not, and the backend.
 * @throws {DeviceError} saying what is wrong and what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDeviceAccess } from "./safety.ts";
 * const nic = { bdf: "0000:03:00.0", vendor: 0x8086, device: 0x15f3, subsystemVendor: 0, subsystemDevice: 0,
 *   revision: 3, class: 0x020000, driver: "igc", iommuGroup: 15, numaNode: 0 };
 * try { checkDeviceAccess(nic, { readOnly: true, backend: "sysfs" }); } catch (e) {
 *   assert((e as Error).message.includes("not an NVIDIA"));
 * }
 * ```
 */
export function checkDeviceAccess(info: DeviceInfo, request: AccessRequest): void {
  if (info.vendor !== NVIDIA_VENDOR_ID) {
    throw new DeviceError(
      info.bdf,
      `not an NVIDIA device (vendor 0x${hex4(info.vendor)}); falconry refuses to touch it`,
      "list NVIDIA GPUs with `lspci -D -d 10de:`",
    );
  }
  if (!isNvidiaGpu(info)) {
    throw new DeviceError(
      info.bdf,
      `an NVIDIA function of class 0x${info.class.toString(16).padStart(6, "0")}, not a GPU`,
      "open the card's GPU function (class 0x0300 or 0x0302), usually function .0",
    );
  }
  const gpuDriver = info.driver !== null && KERNEL_GPU_DRIVERS.includes(info.driver);
  if (gpuDriver && !request.readOnly) {
    throw new DeviceError(
      info.bdf,
      `driven by the kernel's ${info.driver} driver; refusing write access`,
      bindAdvice(info),
    );
  }
  if (request.backend === "vfio") {
    if (info.driver !== VFIO_PCI_DRIVER) {
      throw new DeviceError(
        info.bdf,
        `bound to ${info.driver ?? "no driver"}, but VFIO needs vfio-pci`,
        bindAdvice(info),
      );
    }
    if (info.iommuGroup === null) {
      throw new DeviceError(
        info.bdf,
        "has no IOMMU group, so VFIO cannot isolate it",
        "enable the IOMMU (intel_iommu=on or amd_iommu=on on the kernel command line, " +
          "and VT-d/AMD-Vi in the firmware setup) and reboot",
      );
    }
  }
}

/** Another function in the device's IOMMU group. */
export interface GroupMember {
  /** Its address. */
  readonly bdf: string;
  /** Its vendor id. */
  readonly vendor: number;
  /** Its device id. */
  readonly device: number;
  /** Its driver, or null. */
  readonly driver: string | null;
}

/**
 * The error for a VFIO group that is not viable: name every other member of
 * the group not yet bound to `vfio-pci`, with the commands to bind it.
 *
 * @param info The device being opened.
 * @param others The other members of its IOMMU group.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupNotViableError } from "./safety.ts";
 * const e = groupNotViableError({ bdf: "0000:01:00.0", iommuGroup: 12 },
 *   [{ bdf: "0000:01:00.1", vendor: 0x10de, device: 0x10f7, driver: "snd_hda_intel" }]);
 * assert(e.message.includes("IOMMU group 12 also holds 0000:01:00.1 (snd_hda_intel); bind it to vfio-pci too"));
 * ```
 */
export function groupNotViableError(
  info: Pick<DeviceInfo, "bdf" | "iommuGroup">,
  others: readonly GroupMember[],
): DeviceError {
  const blocking = others.filter((m) => m.driver !== null && m.driver !== VFIO_PCI_DRIVER);
  if (blocking.length === 0) {
    return new DeviceError(
      info.bdf,
      `IOMMU group ${info.iommuGroup} is not viable`,
      "bind every device in the group to vfio-pci or unbind it",
    );
  }
  const names = blocking.map((m) => `${m.bdf} (${m.driver})`).join(", ");
  const commands = blocking.flatMap((m) => vfioBindCommands(m).slice(1));
  return new DeviceError(
    info.bdf,
    `IOMMU group ${info.iommuGroup} is not viable`,
    `IOMMU group ${info.iommuGroup} also holds ${names}; bind ${
      blocking.length === 1 ? "it" : "them"
    } to vfio-pci too, as root: modprobe vfio-pci; ${commands.join("; ")}`,
  );
}
