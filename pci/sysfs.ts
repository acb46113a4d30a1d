/**
 * PCI discovery from sysfs: ids, class, bound driver, IOMMU group, NUMA node
 * and the BAR table of every function under `<root>/bus/pci/devices`.
 *
 * The root is a parameter (default `/sys`) so tests and containers can point
 * it at a copy. The layout read is the kernel's: `bus/pci/devices/<BDF>` is a
 * symlink into `devices/pci0000:00/…`, and `driver` and `iommu_group` inside
 * it are relative links whose last component names the driver and the group.
 *
 * @example List NVIDIA GPUs (none on a machine without one)
 * ```ts
 * import { listNvidiaGpus } from "./sysfs.ts";
 * for (const gpu of await listNvidiaGpus()) {
 *   console.log(gpu.bdf, gpu.device.toString(16), gpu.driver ?? "no driver");
 * }
 * ```
 *
 * @module
 */

import { DeviceError, FalconryError } from "../errors.ts";
import type { DeviceInfo } from "./device.ts";

/** The sysfs mount point used when no root is given. */
export const DEFAULT_SYSFS_ROOT = "/sys";
/** NVIDIA's PCI vendor id. */
export const NVIDIA_VENDOR_ID = 0x10de;
/** Class codes (base class and subclass) of GPUs: VGA controller and 3D controller. */
export const GPU_CLASS_CODES: readonly number[] = [0x0300, 0x0302];

/** Kernel resource flag bits as the sysfs `resource` file shows them (`linux/ioport.h`). */
export const RESOURCE_FLAGS = {
  /** I/O port space. */
  io: 0x100,
  /** Memory space. */
  mem: 0x200,
  /** Prefetchable memory. */
  prefetch: 0x2000,
  /** Read-only (expansion ROM). */
  readOnly: 0x4000,
  /** 64-bit BAR. */
  mem64: 0x100000,
  /** Disabled. */
  disabled: 0x10000000,
  /** No address assigned. */
  unset: 0x20000000,
} as const;

/** One line of the sysfs `resource` file: a BAR, the ROM or a bridge window. */
export interface PciResource {
  /** Line number: 0–5 are BAR0–BAR5, 6 the expansion ROM. */
  readonly index: number;
  /** First bus address. */
  readonly start: bigint;
  /** Last bus address. */
  readonly end: bigint;
  /** Bytes, 0 for a BAR the device does not have. */
  readonly size: bigint;
  /** Kernel resource flags. */
  readonly flags: number;
  /** Address space. */
  readonly kind: "mem" | "io" | "none";
  /** Prefetchable memory. */
  readonly prefetchable: boolean;
  /** A 64-bit BAR (it occupies two BAR slots; the next line is empty). */
  readonly is64Bit: boolean;
}

/** A PCI function as found in sysfs. */
export interface SysfsPciDevice extends DeviceInfo {
  /** `<root>/bus/pci/devices/<BDF>`. */
  readonly path: string;
  /** The `resource` table; empty if the file is missing. */
  readonly resources: readonly PciResource[];
}

const BDF = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/;
const SHORT_BDF = /^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/;
const HEX = /^0x[0-9a-f]+$/i;

/**
 * The canonical `DDDD:BB:DD.F` form of a PCI address (lower case; domain
 * 0000 added to a short `BB:DD.F`).
 *
 * @param bdf Address as typed by a person or printed by `lspci`.
 * @returns The canonical address.
 * @throws {DeviceError} for something that is not a PCI address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeBdf } from "./sysfs.ts";
 * assert(normalizeBdf("01:00.0") === "0000:01:00.0");
 * assert(normalizeBdf("0000:0A:00.1") === "0000:0a:00.1");
 * ```
 */
export function normalizeBdf(bdf: string): string {
  const lower = bdf.trim().toLowerCase();
  if (BDF.test(lower)) return lower;
  if (SHORT_BDF.test(lower)) return `0000:${lower}`;
  throw new DeviceError(
    bdf,
    "not a PCI address",
    "use the DDDD:BB:DD.F form that `lspci -D -d 10de:` prints",
  );
}

/**
 * Whether `info` is an NVIDIA GPU: vendor 0x10de with class 0x0300 (VGA) or
 * 0x0302 (3D controller). The audio, USB and UCSI functions of a card are not.
 *
 * @param info Vendor and class.
 * @returns True for a GPU function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNvidiaGpu } from "./sysfs.ts";
 * assert(isNvidiaGpu({ vendor: 0x10de, class: 0x030200 }));
 * assert(!isNvidiaGpu({ vendor: 0x10de, class: 0x040300 }));
 * ```
 */
export function isNvidiaGpu(info: Pick<DeviceInfo, "vendor" | "class">): boolean {
  return info.vendor === NVIDIA_VENDOR_ID && GPU_CLASS_CODES.includes(info.class >>> 8);
}

/**
 * Parse the sysfs `resource` file: one line per resource with start, end and
 * flags in hex.
 *
 * @param text The file's contents.
 * @param bdf PCI address, for errors.
 * @returns One entry per line.
 * @throws {DeviceError} for a malformed line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseResourceTable } from "./sysfs.ts";
 * const [bar0] = parseResourceTable("0x00000000f6000000 0x00000000f6ffffff 0x0000000000040200\n");
 * assert(bar0.size === 0x1000000n && bar0.kind === "mem" && !bar0.prefetchable);
 * ```
 */
export function parseResourceTable(text: string, bdf = "?"): PciResource[] {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  return lines.map((line, index) => {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 3 || !fields.every((f) => HEX.test(f))) {
      throw new DeviceError(
        bdf,
        `malformed line ${index} in sysfs resource: ${JSON.stringify(line)}`,
      );
    }
    const [start, end, flagsBig] = fields.map((f) => BigInt(f));
    const flags = Number(BigInt.asUintN(32, flagsBig));
    const size = start === 0n && end === 0n ? 0n : end - start + 1n;
    const kind = flags & RESOURCE_FLAGS.mem ? "mem" : flags & RESOURCE_FLAGS.io ? "io" : "none";
    return {
      index,
      start,
      end,
      size,
      flags,
      kind,
      prefetchable: (flags & RESOURCE_FLAGS.prefetch) !== 0,
      is64Bit: (flags & RESOURCE_FLAGS.mem64) !== 0,
    } satisfies PciResource;
  });
}

/**
 * Run a sysfs read, turning Deno's permission refusal into a one-line error
 * that says what to do (Deno grants reads of /sys only with --allow-all).
 */
async function permitted<T>(root: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new FalconryError(
        `reading ${root} was refused: run with -A (Deno allows reading /sys only with --allow-all)`,
        { cause: e },
      );
    }
    throw e;
  }
}

function devicesDir(root: string): string {
  return `${root}/bus/pci/devices`;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function linkTarget(path: string): Promise<string | null> {
  try {
    const target = await Deno.readLink(path);
    return target.slice(target.lastIndexOf("/") + 1);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function hexAttribute(dir: string, bdf: string, name: string): Promise<number> {
  const text = await readOptional(`${dir}/${name}`);
  const value = text?.trim() ?? "";
  if (!HEX.test(value)) {
    throw new DeviceError(
      bdf,
      text === null
        ? `sysfs attribute ${dir}/${name} is missing`
        : `sysfs attribute ${dir}/${name} is not a hex number: ${JSON.stringify(value)}`,
    );
  }
  return parseInt(value, 16);
}

/**
 * Everything sysfs says about one PCI function.
 *
 * @param bdf PCI address (short forms accepted).
 * @param root sysfs mount point.
 * @returns The device.
 * @throws {DeviceError} when the device does not exist or an attribute is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPciDevice } from "./sysfs.ts";
 * try { await readPciDevice("0000:ff:1f.7"); } catch (e) {
 *   assert((e as Error).message.includes("not found"));
 * }
 * ```
 */
export async function readPciDevice(
  bdf: string,
  root: string = DEFAULT_SYSFS_ROOT,
): Promise<SysfsPciDevice> {
  const address = normalizeBdf(bdf);
  return await permitted(root, () => readDevice(address, root));
}

async function readDevice(address: string, root: string): Promise<SysfsPciDevice> {
  const path = `${devicesDir(root)}/${address}`;
  try {
    await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new DeviceError(
      address,
      `not found in ${devicesDir(root)}`,
      "list GPUs with `lspci -D -d 10de:` and pass one of their addresses",
    );
  }
  const [vendor, device, subsystemVendor, subsystemDevice, revision, pciClass] = await Promise.all(
    ["vendor", "device", "subsystem_vendor", "subsystem_device", "revision", "class"].map((name) =>
      hexAttribute(path, address, name)
    ),
  );
  const [driver, group, numaText, resourceText] = await Promise.all([
    linkTarget(`${path}/driver`),
    linkTarget(`${path}/iommu_group`),
    readOptional(`${path}/numa_node`),
    readOptional(`${path}/resource`),
  ]);
  const iommuGroup = group === null ? null : Number(group);
  if (iommuGroup !== null && !Number.isInteger(iommuGroup)) {
    throw new DeviceError(
      address,
      `iommu_group link ends in ${JSON.stringify(group)}, not a number`,
    );
  }
  const numa = numaText === null ? -1 : Number(numaText.trim());
  return {
    bdf: address,
    vendor,
    device,
    subsystemVendor,
    subsystemDevice,
    revision,
    class: pciClass,
    driver,
    iommuGroup,
    numaNode: Number.isInteger(numa) && numa >= 0 ? numa : null,
    path,
    resources: resourceText === null ? [] : parseResourceTable(resourceText, address),
  };
}

/**
 * Every PCI function in sysfs, sorted by address.
 *
 * @param root sysfs mount point.
 * @returns The devices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listPciDevices } from "./sysfs.ts";
 * const all = await listPciDevices();
 * assert(all.every((d) => /^[0-9a-f]{4}:/.test(d.bdf)));
 * ```
 */
export function listPciDevices(root: string = DEFAULT_SYSFS_ROOT): Promise<SysfsPciDevice[]> {
  return permitted(root, async () => {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(devicesDir(root))) {
        if (BDF.test(entry.name)) names.push(entry.name);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    names.sort();
    return await Promise.all(names.map((name) => readDevice(name, root)));
  });
}

/**
 * NVIDIA GPUs (see {@linkcode isNvidiaGpu}), sorted by address.
 *
 * @param root sysfs mount point.
 * @returns The GPUs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listNvidiaGpus } from "./sysfs.ts";
 * const gpus = await listNvidiaGpus();
 * assert(gpus.every((g) => g.vendor === 0x10de));
 * ```
 */
export async function listNvidiaGpus(root: string = DEFAULT_SYSFS_ROOT): Promise<SysfsPciDevice[]> {
  return (await listPciDevices(root)).filter(isNvidiaGpu);
}

/**
 * The PCI functions in an IOMMU group (`<root>/kernel/iommu_groups/<n>/devices`).
 *
 * @param group Group number.
 * @param root sysfs mount point.
 * @returns Their addresses, sorted; empty if the group does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { iommuGroupMembers } from "./sysfs.ts";
 * assert(Array.isArray(await iommuGroupMembers(99999)));
 * ```
 */
export function iommuGroupMembers(
  group: number,
  root: string = DEFAULT_SYSFS_ROOT,
): Promise<string[]> {
  return permitted(root, async () => {
    const members: string[] = [];
    try {
      for await (const entry of Deno.readDir(`${root}/kernel/iommu_groups/${group}/devices`)) {
        if (BDF.test(entry.name)) members.push(entry.name);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    return members.sort();
  });
}
