/**
 * {@linkcode openDevice}: the one entry point to real hardware. It reads the
 * device from sysfs, refuses anything unsafe (not an NVIDIA GPU; write access
 * while a kernel GPU driver holds it; VFIO without vfio-pci), takes the
 * per-device lock and opens the chosen backend.
 *
 * @example Open read-only, read BOOT_0, release everything
 * ```ts
 * import { openDevice } from "./open.ts";
 * const bdf = Deno.env.get("FALCONRY_TEST_DEVICE");
 * if (bdf) {
 *   await using gpu = await openDevice(bdf, { readOnly: true });
 *   console.log(`BOOT_0 = 0x${gpu.bar0.read32(0).toString(16)}`);
 * }
 * ```
 *
 * @module
 */

import type { Device } from "./device.ts";
import type { IovaRange } from "./iova.ts";
import type { ResetQuirk } from "./reset_quirks.ts";
import { type Backend, checkDeviceAccess } from "./safety.ts";
import { DEFAULT_SYSFS_ROOT, readPciDevice } from "./sysfs.ts";
import { openSysfsDevice } from "./sysfs_device.ts";
import { openVfioDevice } from "./vfio_device.ts";

/** Options for {@linkcode openDevice}. */
export interface OpenDeviceOptions {
  /** Refuse every write (BAR0 mapped read-only, no config writes, no DMA). Defaults to false. */
  readOnly?: boolean;
  /**
   * `vfio` (DMA, bus mastering; needs vfio-pci) or `sysfs` (BAR0 and config
   * only). Defaults to `sysfs` when read-only, `vfio` otherwise.
   */
  backend?: Backend;
  /** sysfs mount point. Defaults to `/sys`. */
  sysfsRoot?: string;
  /** Where `vfio/` lives. Defaults to `/dev`. */
  devRoot?: string;
  /** Directory for the lock file. Defaults to `/run/lock`, then `$XDG_RUNTIME_DIR`. */
  lockDir?: string;
  /** VFIO only: IOVA window for DMA. Defaults to [4 GiB, 1 TiB). */
  iovaWindow?: IovaRange;
  /**
   * Reset quirks of your own, added to the built-in table (`RESET_QUIRKS`):
   * devices whose bus reset or FLR `device.reset` must refuse.
   */
  resetQuirks?: readonly ResetQuirk[];
}

/**
 * Open a GPU for register access (and DMA through VFIO).
 *
 * @param bdf PCI address, e.g. `0000:01:00.0` (short `01:00.0` accepted).
 * @param options Read-only mode, backend, roots, lock directory.
 * @returns The device; `await using` it.
 * @throws {DeviceError} when the device is missing, not an NVIDIA GPU, held by
 *   a kernel GPU driver (for writing), not bound to vfio-pci (for VFIO), in a
 *   non-viable IOMMU group, or busy in another process.
 * @throws {OsError} when a system call fails, naming the call, errno and path.
 *
 * @example A refusal on a stand-in sysfs tree
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDevice } from "./open.ts";
 * const root = Deno.makeTempDirSync();
 * const dir = `${root}/bus/pci/devices/0000:01:00.0`;
 * Deno.mkdirSync(dir, { recursive: true });
 * for (const [name, value] of Object.entries({ vendor: "0x8086", device: "0x1234", class: "0x030000",
 *   subsystem_vendor: "0x0000", subsystem_device: "0x0000", revision: "0x01" })) {
 *   Deno.writeTextFileSync(`${dir}/${name}`, `${value}\n`);
 * }
 * try { await openDevice("01:00.0", { readOnly: true, sysfsRoot: root }); } catch (e) {
 *   assert((e as Error).message.includes("not an NVIDIA device"));
 * }
 * ```
 */
export async function openDevice(bdf: string, options: OpenDeviceOptions = {}): Promise<Device> {
  const readOnly = options.readOnly ?? false;
  const backend = options.backend ?? (readOnly ? "sysfs" : "vfio");
  const sysfsRoot = options.sysfsRoot ?? DEFAULT_SYSFS_ROOT;
  const info = await readPciDevice(bdf, sysfsRoot);
  checkDeviceAccess(info, { readOnly, backend });
  if (backend === "sysfs") {
    return openSysfsDevice(info, {
      readOnly,
      lockDir: options.lockDir,
      resetQuirks: options.resetQuirks,
    });
  }
  return await openVfioDevice(info, {
    readOnly,
    sysfsRoot,
    devRoot: options.devRoot ?? "/dev",
    lockDir: options.lockDir,
    iovaWindow: options.iovaWindow,
    resetQuirks: options.resetQuirks,
  });
}
