/**
 * The sysfs backend: BAR0 through `<device>/resource0`, configuration space
 * through `<device>/config`, both found under the sysfs root so tests and
 * containers can substitute files. No DMA (that needs an IOMMU, i.e. VFIO).
 *
 * Read-only mode opens both files `O_RDONLY` and maps BAR0 `PROT_READ`;
 * writes are refused before anything is touched. The kernel only lets root
 * (CAP_SYS_ADMIN) map `resource0`, and maps it uncached.
 *
 * `device.reset` ({@linkcode SysfsDeviceReset}) offers the `reset` file
 * (FLR), the parent bridge's `reset_subordinate` and remove + rescan; a
 * read-only device refuses all three.
 *
 * Call {@linkcode openDevice} rather than this directly: it runs the safety
 * checks first.
 *
 * @example On a stand-in tree (a temp file as `resource0`)
 * ```ts
 * import assert from "node:assert/strict";
 * import { openSysfsDevice } from "./sysfs_device.ts";
 * const root = Deno.makeTempDirSync();
 * const dir = `${root}/bus/pci/devices/0000:01:00.0`;
 * Deno.mkdirSync(dir, { recursive: true });
 * Deno.writeFileSync(`${dir}/resource0`, new Uint8Array(0x1000));
 * Deno.writeFileSync(`${dir}/config`, new Uint8Array(256));
 * const info = { bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, subsystemVendor: 0,
 *   subsystemDevice: 0, revision: 0xa1, class: 0x030000, driver: null, iommuGroup: null,
 *   numaNode: null, path: dir, resources: [] };
 * await using gpu = openSysfsDevice(info, { readOnly: true, lockDir: root });
 * assert(gpu.bar0.read32(0) === 0);
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
import { O_RDONLY, O_RDWR, openFile } from "./libc.ts";
import { lockDevice } from "./lock.ts";
import { mapFile } from "./mapping.ts";
import { MappedMmio } from "./mmio.ts";
import type { ResetQuirk } from "./reset_quirks.ts";
import { KERNEL_GPU_DRIVERS } from "./safety.ts";
import type { SysfsPciDevice } from "./sysfs.ts";
import { SysfsDeviceReset } from "./sysfs_reset.ts";
import type { SysfsWriter } from "./sysfs_writer.ts";

const log = getLogger(["falconry", "pci", "sysfs"]);

/** Options for {@linkcode openSysfsDevice}. */
export interface SysfsDeviceOptions {
  /** Refuse all writes; map and open read-only. */
  readOnly: boolean;
  /** Directory for the device lock file (default: `/run/lock`, then `$XDG_RUNTIME_DIR`). */
  lockDir?: string;
  /** More reset quirks than the built-in table (see `reset_quirks.ts`). */
  resetQuirks?: readonly ResetQuirk[];
  /** How the reset writes sysfs attributes; tests substitute a fake kernel. */
  sysfsWriter?: SysfsWriter;
}

const ROOT_HINTS = {
  EACCES: "mapping a BAR through sysfs needs root or CAP_SYS_ADMIN",
  EPERM: "mapping a BAR through sysfs needs root or CAP_SYS_ADMIN (and kernel lockdown off)",
};

/**
 * Open a device through sysfs: lock it (read-write only), map BAR0, open
 * config space.
 *
 * @param info The device as {@linkcode readPciDevice} found it (its `path` locates the files).
 * @param options Read-only mode and lock directory.
 * @returns The device; dispose it to unmap, close and unlock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openSysfsDevice } from "./sysfs_device.ts";
 * assert(typeof openSysfsDevice === "function");
 * ```
 */
export function openSysfsDevice(info: SysfsPciDevice, options: SysfsDeviceOptions): Device {
  const { bdf } = info;
  const readOnly = options.readOnly;
  if (info.driver !== null && KERNEL_GPU_DRIVERS.includes(info.driver)) {
    log.warn("{bdf}: reading registers while the kernel's {driver} driver runs the GPU", {
      bdf,
      driver: info.driver,
    });
  }
  using stack = new DisposableStack();
  // Only a writer needs the device to itself. A read-only open (the probe)
  // maps BAR0 PROT_READ and cannot disturb a falconry process driving the
  // GPU, so it takes no lock and works while one runs.
  if (!readOnly) stack.use(lockDevice(bdf, { dir: options.lockDir }));

  const bar0Path = `${info.path}/resource0`;
  let bar0Size: number | undefined;
  try {
    bar0Size = Deno.statSync(bar0Path).size;
  } catch {
    // Missing or unreadable: mapFile below reports the errno with its hint.
  }
  if (bar0Size === 0) {
    throw new DeviceError(
      bdf,
      `${bar0Path} is empty: BAR0 is not assigned`,
      "check `lspci -vv -s <BDF>` and the firmware's PCI resource allocation",
    );
  }
  // BAR0 and config space on their own stack: re-enumeration closes them
  // before the kernel removes the device, and keeps the lock.
  const mappings = stack.use(new DisposableStack());
  const mapping = mappings.use(mapFile(bar0Path, { readOnly, hints: ROOT_HINTS }));
  const expected = info.resources[0]?.size ?? 0n;
  if (expected !== 0n && BigInt(mapping.length) !== expected) {
    throw new DeviceError(
      bdf,
      `${bar0Path} is ${mapping.length} bytes but the resource table says BAR0 is ${expected}`,
    );
  }
  const bar0 = mappings.use(
    new MappedMmio(mapping.buffer, { name: `${bdf} BAR0`, readOnly, bdf, clock: systemClock }),
  );

  const configPath = `${info.path}/config`;
  const configFile = mappings.use(
    openFile(configPath, readOnly ? O_RDONLY : O_RDWR, 0, ROOT_HINTS),
  );
  const config = mappings.use(
    new FileConfigSpace(configFile.fd, {
      size: Deno.statSync(configPath).size,
      readOnly,
      bdf,
      path: configPath,
    }),
  );
  if (
    config.size > PCI_CONFIG.command &&
    !(config.read16(PCI_CONFIG.command) & PCI_CONFIG.commandMemory)
  ) {
    log.warn("{bdf}: memory decoding is off (command register bit 1); BAR0 reads return all ones", {
      bdf,
    });
  }

  const dma = {
    alloc(): never {
      throw new DeviceError(
        bdf,
        "DMA needs the VFIO backend (the sysfs backend has no IOMMU mapping)",
        'bind the GPU to vfio-pci and open it with backend: "vfio"',
      );
    },
  };
  log.debug("{bdf}: opened through sysfs, BAR0 {size} bytes, {mode}", {
    bdf,
    size: mapping.length,
    mode: readOnly ? "read-only" : "read-write",
  });
  const reset = new SysfsDeviceReset({
    info,
    sysfsRoot: sysfsRootOf(info.path, bdf),
    config,
    clock: systemClock,
    readOnly,
    release: () => mappings.dispose(),
    quirks: options.resetQuirks,
    writer: options.sysfsWriter,
  });
  return new OpenedDevice(info, bar0, config, dma, readOnly, systemClock, stack.move(), reset);
}

/** The sysfs mount point of a `<root>/bus/pci/devices/<bdf>` path. */
function sysfsRootOf(path: string, bdf: string): string {
  const tail = `/bus/pci/devices/${bdf}`;
  return path.endsWith(tail) ? path.slice(0, -tail.length) : "/sys";
}
