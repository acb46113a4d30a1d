/**
 * Resets through VFIO, for a device opened with the VFIO backend:
 *
 * - function-level reset: `VFIO_DEVICE_RESET` (Linux's
 *   `pci_try_reset_function`: save the configuration, reset, wait up to
 *   60 s, restore). vfio-pci offers it only when the reset it tried at open
 *   worked (`VFIO_DEVICE_FLAGS_RESET`). The kernel picks the first method in
 *   the device's `reset_method`; when that file is writable it is set to
 *   `flr` for the call and put back after. BAR0 stays mapped: vfio-pci zaps
 *   the mapping and faults it back in on the next access.
 * - bus reset: a VFIO hot reset. `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO` lists
 *   every function the reset affects with its IOMMU group;
 *   `VFIO_DEVICE_PCI_HOT_RESET` then needs a descriptor for every one of
 *   those groups. The kernel refuses (EINVAL) unless every function on the
 *   bus, the GPU's audio function included, is bound to vfio-pci and owned
 *   by the caller; groups other than the device's own are opened for the
 *   call and closed after.
 * - re-enumeration is refused: removing a device from vfio-pci waits until
 *   every VFIO descriptor of it is closed, so it cannot be done while this
 *   device is open.
 *
 * After each reset the device is checked on its own clock through the sysfs
 * `config` file (VFIO's config region shows virtualized ids): it must stop
 * reading 0xffff/0x0001 within the kernel's 60 s, and any header register
 * the kernel's restore missed is written back through VFIO.
 *
 * @example A hot reset is refused while the audio function is not on vfio-pci
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { FileDescriptor } from "./libc.ts";
 * import { VfioDeviceReset } from "./vfio_reset.ts";
 * // sysfs as the kernel lays it out: the GPU and its audio function below one root port
 * const root = Deno.makeTempDirSync();
 * const port = `${root}/devices/pci0000:00/0000:00:01.0`;
 * for (const [fn, driver] of [["0", "vfio-pci"], ["1", "snd_hda_intel"]]) {
 *   Deno.mkdirSync(`${port}/0000:01:00.${fn}`, { recursive: true });
 *   Deno.writeTextFileSync(`${port}/0000:01:00.${fn}/class`, fn === "0" ? "0x030000" : "0x040300");
 *   Deno.symlinkSync(`../../../bus/pci/drivers/${driver}`, `${port}/0000:01:00.${fn}/driver`);
 * }
 * const config = { size: 256, read8: () => 0, read16: () => 0, read32: () => 0,
 *   write8() {}, write16() {}, write32() {} };
 * const reset = new VfioDeviceReset({
 *   info: { bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, path: `${port}/0000:01:00.0` },
 *   devRoot: "/dev", device: new FileDescriptor(-1, "device"),
 *   group: { id: 12, file: new FileDescriptor(-1, "group") }, resetWorks: true,
 *   ioctl: () => 0, config, clock: new ManualClock(), readOnly: false,
 * });
 * assert.match(reset.refusal("bus") ?? "", /0000:01:00\.1 \(HD audio\) .* snd_hda_intel/);
 * await assert.rejects(reset.bus(), { name: "ResetRefusedError" });
 * Deno.removeSync(root, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { DeviceError, OsError } from "../errors.ts";
import type { Clock } from "./clock.ts";
import type { ConfigSpace, DeviceReset, ResetMethod } from "./device.ts";
import { type FileDescriptor, type IoctlFunction, O_RDWR, openFile } from "./libc.ts";
import type { ResetQuirk } from "./reset_quirks.ts";
import { type SysfsWriter, systemSysfsWriter } from "./sysfs_writer.ts";
import {
  decodeHotResetInfo,
  encodeHotReset,
  encodeHotResetInfo,
  type HotResetInfo,
  VFIO_HOT_RESET_IOCTL,
  VFIO_IOCTL,
  VFIO_PCI_HOT_RESET_FLAGS,
} from "./vfio_abi.ts";
import {
  busRefusal,
  busTopology,
  flrRefusal,
  logReset,
  readIds,
  readOnlyRefusal,
  refuse,
  restoreHeader,
  saveHeader,
  waitUntilAnswering,
} from "./_reset_support.ts";

const log = getLogger(["falconry", "pci", "reset"]);

/** What {@linkcode VfioDeviceReset} needs. */
export interface VfioDeviceResetOptions {
  /** The device: address, ids and its `<root>/bus/pci/devices/<bdf>` path. */
  info: { bdf: string; vendor: number; device: number; path: string };
  /** Where `vfio/<group>` lives (`/dev`). */
  devRoot: string;
  /** The device descriptor. */
  device: FileDescriptor;
  /** The device's IOMMU group and its open descriptor. */
  group: { id: number; file: FileDescriptor };
  /** Whether vfio-pci set `VFIO_DEVICE_FLAGS_RESET` (its reset at open worked). */
  resetWorks: boolean;
  /** The ioctl system call (tests substitute a fake VFIO kernel). */
  ioctl: IoctlFunction;
  /** The device's configuration space through VFIO. */
  config: ConfigSpace;
  /** The device's clock: every wait runs on it. */
  clock: Clock;
  /** Refuse every reset. */
  readOnly: boolean;
  /** More quirks than the built-in table. */
  quirks?: readonly ResetQuirk[];
  /** How sysfs attributes (`reset_method`) are written; tests substitute a fake kernel. */
  writer?: SysfsWriter;
}

/** Devices in a hot-reset info buffer, grown until the kernel's count fits. */
const MAX_HOT_RESET_DEVICES = 256;

/** {@linkcode DeviceReset} over VFIO ioctls. */
export class VfioDeviceReset implements DeviceReset {
  readonly #o: VfioDeviceResetOptions;
  readonly #writer: SysfsWriter;
  readonly #quirks: readonly ResetQuirk[];

  /**
   * Set it up; nothing is read or written until a method is called.
   *
   * @param options The device's descriptors, config space, clock and ioctl.
   */
  constructor(options: VfioDeviceResetOptions) {
    this.#o = options;
    this.#writer = options.writer ?? systemSysfsWriter;
    this.#quirks = options.quirks ?? [];
  }

  /**
   * Why `method` cannot run here, or undefined.
   *
   * @param method The reset method.
   * @returns A sentence that says what to do, or undefined.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ManualClock } from "./clock.ts";
   * import { FileDescriptor } from "./libc.ts";
   * import { VfioDeviceReset } from "./vfio_reset.ts";
   * const config = { size: 256, read8: () => 0, read16: () => 0, read32: () => 0,
   *   write8() {}, write16() {}, write32() {} };
   * const reset = new VfioDeviceReset({
   *   info: { bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, path: "/nonexistent" },
   *   devRoot: "/dev", device: new FileDescriptor(-1, "device"),
   *   group: { id: 12, file: new FileDescriptor(-1, "group") }, resetWorks: false,
   *   ioctl: () => 0, config, clock: new ManualClock(), readOnly: false,
   * });
   * assert.match(reset.refusal("flr") ?? "", /VFIO_DEVICE_FLAGS_RESET/);
   * assert.match(reset.refusal("reenumerate") ?? "", /dispose this device/);
   * ```
   */
  refusal(method: ResetMethod): string | undefined {
    if (this.#o.readOnly) return readOnlyRefusal();
    const { info, config } = this.#o;
    switch (method) {
      case "flr":
        if (!this.#o.resetWorks) {
          return "vfio-pci found no working reset for the device when it was opened " +
            "(VFIO_DEVICE_FLAGS_RESET is clear): use the bus reset";
        }
        return flrRefusal(info.bdf, info, config, this.#quirks);
      case "bus": {
        let topology;
        try {
          topology = busTopology(info.path);
        } catch (e) {
          return `cannot find ${info.bdf} in sysfs (${(e as Error).message}): power-cycle`;
        }
        return busRefusal(info.bdf, topology, this.#quirks, true);
      }
      case "reenumerate":
        return "re-enumeration removes the device from vfio-pci, which waits until every VFIO " +
          "descriptor of it is closed: dispose this device, then open it with the sysfs backend " +
          `(as root) and re-enumerate, or run \`echo 1 > /sys/bus/pci/devices/${info.bdf}/remove; ` +
          "echo 1 > /sys/bus/pci/rescan`";
    }
  }

  /**
   * Function-level reset with `VFIO_DEVICE_RESET`.
   *
   * @param signal Stop waiting for the device early.
   * @returns A promise that resolves once the device answers with its header restored.
   */
  async functionLevel(signal?: AbortSignal): Promise<void> {
    const refusal = this.refusal("flr");
    if (refusal !== undefined) return refuse(this.#o.info.bdf, "flr", refusal);
    signal?.throwIfAborted();
    const { info, device, ioctl } = this.#o;
    const saved = saveHeader(this.#o.config);
    const putBack = await this.#pinFlr();
    try {
      ioctl(device.fd, VFIO_IOCTL.VFIO_DEVICE_RESET, 0, "VFIO_DEVICE_RESET", {
        path: device.path,
        hints: {
          EINVAL: "vfio-pci has no working reset for this device: use the bus reset",
          EAGAIN: "another reset or a driver holds the device lock; try again",
          ENOTTY: "the device did not answer within the kernel's 60 s; it needs a power cycle",
        },
      });
    } finally {
      await putBack();
    }
    await this.#afterReset(`function-level reset of ${info.bdf}`, saved, signal);
  }

  /**
   * Secondary bus reset with a VFIO hot reset.
   *
   * @param signal Stop waiting for the device early.
   * @returns A promise that resolves once the device answers with its header restored.
   */
  async bus(signal?: AbortSignal): Promise<void> {
    const refusal = this.refusal("bus");
    if (refusal !== undefined) return refuse(this.#o.info.bdf, "bus", refusal);
    signal?.throwIfAborted();
    const { info, device, ioctl, group } = this.#o;
    const affected = this.#hotResetInfo();
    if (affected.flags & VFIO_PCI_HOT_RESET_FLAGS.DEV_ID) {
      throw new DeviceError(
        info.bdf,
        "VFIO reports iommufd device ids for the hot reset; falconry opens devices by group",
      );
    }
    using groups = new DisposableStack();
    const fds: number[] = [];
    for (const id of new Set(affected.devices.map((d) => d.groupId))) {
      if (id === group.id) {
        fds.push(group.file.fd);
        continue;
      }
      const members = affected.devices.filter((d) => d.groupId === id).map((d) => d.bdf);
      const path = `${this.#o.devRoot}/vfio/${id}`;
      fds.push(
        groups.use(openFile(path, O_RDWR, 0, {
          ENOENT: `no VFIO group ${id}: bind ${members.join(", ")} to vfio-pci`,
          EBUSY: `IOMMU group ${id} (${members.join(", ")}) is open elsewhere (a VM?): close it`,
          EACCES: `needs root or read/write access to ${path}`,
        })).fd,
      );
    }
    const saved = saveHeader(this.#o.config);
    ioctl(
      device.fd,
      VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_PCI_HOT_RESET,
      encodeHotReset(fds),
      "VFIO_DEVICE_PCI_HOT_RESET",
      {
        path: device.path,
        hints: {
          EINVAL: `not every function of ${
            affected.devices.map((d) => d.bdf).join(", ")
          } is bound to vfio-pci and owned by this process: bind them all to vfio-pci`,
          EBUSY: "a device on the bus is locked by another reset; try again",
          EAGAIN: "a device on the bus is locked by another reset; try again",
        },
      },
    );
    groups.dispose();
    await this.#afterReset(
      `secondary bus reset of ${affected.devices.map((d) => d.bdf).join(", ")}`,
      saved,
      signal,
    );
  }

  /**
   * Refused on VFIO: see {@linkcode VfioDeviceReset.refusal}.
   *
   * @returns A rejected promise.
   */
  reenumerate(): Promise<void> {
    return refuse(this.#o.info.bdf, "reenumerate", this.refusal("reenumerate")!);
  }

  #hotResetInfo(): HotResetInfo {
    const { info, device, ioctl } = this.#o;
    let capacity = 0;
    for (;;) {
      const request = encodeHotResetInfo(capacity);
      try {
        ioctl(
          device.fd,
          VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
          request,
          "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO",
          {
            path: device.path,
            hints: { ENODEV: "the kernel can do no slot or bus reset for this device" },
          },
        );
        return decodeHotResetInfo(request);
      } catch (e) {
        if (!(e instanceof OsError) || e.errnoName !== "ENOSPC") throw e;
        const { count } = decodeHotResetInfo(request);
        if (count <= capacity || count > MAX_HOT_RESET_DEVICES) {
          throw new DeviceError(
            info.bdf,
            `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO asked for room for ${count} devices after ${capacity}`,
          );
        }
        capacity = count;
      }
    }
  }

  /** Set `reset_method` to `flr` when it can be written; returns how to put it back. */
  async #pinFlr(): Promise<() => Promise<void>> {
    const { info } = this.#o;
    const methodPath = `${info.path}/reset_method`;
    let previous: string;
    try {
      previous = Deno.readTextFileSync(methodPath).trim();
    } catch {
      return () => Promise.resolve();
    }
    const why = this.#writer.writable(methodPath);
    if (why !== undefined || previous.split(/\s+/)[0] === "flr") {
      if (why !== undefined && previous.split(/\s+/)[0] !== "flr") {
        log.warn("{bdf}: the kernel will reset with {method}, not FLR ({why})", {
          bdf: info.bdf,
          method: previous.split(/\s+/)[0],
          why,
        });
      }
      return () => Promise.resolve();
    }
    await this.#writer.write(methodPath, "flr");
    return async () => {
      try {
        // An empty list means the user disabled every method; a lone newline says so
        // again (an empty write never reaches the kernel).
        await this.#writer.write(methodPath, previous === "" ? "\n" : previous);
      } catch (e) {
        log.warn("{bdf}: could not put reset_method back to {previous}: {error}", {
          bdf: info.bdf,
          previous,
          error: (e as Error).message,
        });
      }
    };
  }

  async #afterReset(
    what: string,
    saved: ReturnType<typeof saveHeader>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { bdf, path } = this.#o.info;
    const waited = await waitUntilAnswering(() => readIds(path), {
      bdf,
      clock: this.#o.clock,
      signal,
      what,
    });
    logReset(log, bdf, what, waited, restoreHeader(this.#o.config, saved));
  }
}
