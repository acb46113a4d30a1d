/**
 * What the sysfs and VFIO reset backends share: the wait for a device to
 * answer config reads again, the save and restore of its configuration
 * header, where it sits on the bus, and the refusals that do not depend on
 * the backend.
 *
 * @module
 */

import type { Logger } from "npm:@logtape/logtape@2.4.2";
import { DeviceError } from "../errors.ts";
import type { Clock } from "./clock.ts";
import type { ConfigSpace, ResetMethod } from "./device.ts";
import { FileConfigSpace } from "./config_space.ts";
import { O_RDONLY, openFile } from "./libc.ts";
import { advertisesFlr } from "./pci_capability.ts";
import { ResetRefusedError } from "./reset_error.ts";
import {
  describeQuirk,
  type ResetQuirk,
  type ResetQuirkKind,
  resetQuirksFor,
} from "./reset_quirks.ts";
import { KERNEL_GPU_DRIVERS, VFIO_PCI_DRIVER } from "./safety.ts";

/** `PCIE_RESET_READY_POLL_MS`: how long Linux waits for a device to answer after a reset. */
export const RESET_READY_TIMEOUT_MS = 60_000;

/** Vendor ids a function that is not ready reads: all ones (no answer), 0x0001 (RRS, retry). */
const NOT_READY_VENDOR_IDS: readonly number[] = [0xffff, 0x0001];

/** Options for {@linkcode waitUntilAnswering}. */
export interface WaitOptions {
  /** PCI address, for the error. */
  bdf: string;
  /** The device's clock. */
  clock: Clock;
  /** Stop waiting early. */
  signal?: AbortSignal;
  /** Give up after this long; defaults to the kernel's 60 s. */
  timeoutMs?: number;
  /** What was done, for the error. */
  what: string;
}

/**
 * Poll `readIds` (config dword 0: vendor in the low half) until the vendor
 * id is neither 0xffff nor 0x0001, with the kernel's delays (1, 2, 4 … ms,
 * `pci_dev_wait`), up to the timeout.
 *
 * @returns Milliseconds waited on the device's clock.
 */
export async function waitUntilAnswering(
  readIds: () => number,
  options: WaitOptions,
): Promise<number> {
  const { clock, signal } = options;
  const timeoutMs = options.timeoutMs ?? RESET_READY_TIMEOUT_MS;
  const start = clock.now();
  let delay = 1;
  let last = readIds();
  while (NOT_READY_VENDOR_IDS.includes(last & 0xffff)) {
    const waited = clock.now() - start;
    if (waited >= timeoutMs) {
      throw new DeviceError(
        options.bdf,
        `after ${options.what}, config space still reads 0x${
          (last >>> 0).toString(16).padStart(8, "0")
        } after ${Math.round(waited)} ms (the kernel gives up after ${timeoutMs} ms)`,
        "the GPU needs a power cycle (a cold boot: power off the host, or the slot, for ~30 s)",
      );
    }
    await clock.sleep(Math.min(delay, timeoutMs - waited), signal);
    delay *= 2;
    last = readIds();
  }
  return clock.now() - start;
}

/** The header dwords a restore writes back, highest first, as `pci_restore_config_space` does. */
const RESTORED_DWORDS: readonly number[] = [
  0x3c,
  0x38,
  0x34,
  0x30,
  0x2c,
  0x28,
  0x24,
  0x20,
  0x1c,
  0x18,
  0x14,
  0x10,
  0x0c,
];

/** A configuration header saved before a reset. */
export interface SavedHeader {
  /** Dword offset → value. */
  readonly dwords: ReadonlyMap<number, number>;
  /** The Command register. */
  readonly command: number;
}

/**
 * Save the header of a device that answers; undefined when it does not (a
 * header read from a dead device would restore garbage).
 */
export function saveHeader(config: ConfigSpace): SavedHeader | undefined {
  try {
    if (NOT_READY_VENDOR_IDS.includes(config.read16(0))) return undefined;
    return {
      dwords: new Map(RESTORED_DWORDS.map((offset) => [offset, config.read32(offset)])),
      command: config.read16(0x04),
    };
  } catch {
    return undefined;
  }
}

/**
 * Write back every saved header dword that now differs, highest offset
 * first, then the Command register last (memory decoding and bus mastering
 * come back after the BARs). The kernel's `pci_restore_state` has normally
 * done this already, and then nothing is written. Unlike the kernel it
 * leaves the Status half of dword 4 alone: its error bits are
 * write-one-to-clear.
 *
 * @returns The offsets written.
 */
export function restoreHeader(config: ConfigSpace, saved: SavedHeader | undefined): number[] {
  if (saved === undefined) return [];
  const written: number[] = [];
  for (const [offset, value] of saved.dwords) {
    if (config.read32(offset) !== value) {
      config.write32(offset, value);
      written.push(offset);
    }
  }
  if (config.read16(0x04) !== saved.command) {
    config.write16(0x04, saved.command);
    written.push(0x04);
  }
  return written;
}

/** A PCI function as the reset backends see it in sysfs. */
export interface BusFunction {
  /** Address. */
  readonly bdf: string;
  /** Vendor id, or -1 when unreadable. */
  readonly vendor: number;
  /** Device id, or -1 when unreadable. */
  readonly device: number;
  /** 24-bit class code, or -1 when unreadable. */
  readonly class: number;
  /** Bound driver, or null. */
  readonly driver: string | null;
  /** IOMMU group, or null. */
  readonly iommuGroup: number | null;
  /** Its directory (the real one, links resolved). */
  readonly path: string;
}

/** Where a function sits: its parent bridge and every function below that bridge. */
export interface BusTopology {
  /** The bridge whose secondary bus holds the device; null on a root bus. */
  readonly bridge: BusFunction | null;
  /** Every function below the bridge (the device included), by address. */
  readonly functions: readonly BusFunction[];
}

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

function readHex(path: string): number {
  try {
    const text = Deno.readTextFileSync(path).trim();
    return /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : -1;
  } catch {
    return -1;
  }
}

function linkName(path: string): string | null {
  try {
    const target = Deno.readLinkSync(path);
    return target.slice(target.lastIndexOf("/") + 1);
  } catch {
    return null;
  }
}

function busFunction(path: string): BusFunction {
  const group = linkName(`${path}/iommu_group`);
  return {
    bdf: path.slice(path.lastIndexOf("/") + 1),
    vendor: readHex(`${path}/vendor`),
    device: readHex(`${path}/device`),
    class: readHex(`${path}/class`),
    driver: linkName(`${path}/driver`),
    iommuGroup: group === null || !/^\d+$/.test(group) ? null : Number(group),
    path,
  };
}

/** Functions in `dir` and below it (bridges nest), at most `depth` levels down. */
function functionsBelow(dir: string, depth: number): BusFunction[] {
  const found: BusFunction[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !BDF.test(entry.name)) continue;
    const path = `${dir}/${entry.name}`;
    found.push(busFunction(path));
    if (depth > 1) found.push(...functionsBelow(path, depth - 1));
  }
  return found;
}

/**
 * The device's parent bridge and every function below it, read from sysfs
 * (`bus/pci/devices/<bdf>` links into `devices/pci…/<bridge>/<bdf>`).
 *
 * @param devicePath `<root>/bus/pci/devices/<bdf>`.
 */
export function busTopology(devicePath: string): BusTopology {
  const real = Deno.realPathSync(devicePath);
  const parent = real.slice(0, real.lastIndexOf("/"));
  const parentName = parent.slice(parent.lastIndexOf("/") + 1);
  if (!BDF.test(parentName)) {
    return { bridge: null, functions: [busFunction(real)] };
  }
  const functions = functionsBelow(parent, 8).sort((a, b) => a.bdf.localeCompare(b.bdf));
  return { bridge: busFunction(parent), functions };
}

/** The first quirk of `kind` for any of `functions`, with the function it matched. */
export function quirkAmong(
  functions: readonly Pick<BusFunction, "bdf" | "vendor" | "device">[],
  kind: ResetQuirkKind,
  extra: readonly ResetQuirk[],
): string | undefined {
  for (const f of functions) {
    const quirk = resetQuirksFor(f.vendor, f.device, extra).find((q) => q.kind === kind);
    if (quirk) return describeQuirk(quirk, f.bdf);
  }
  return undefined;
}

/** What a class code is, for messages. */
export function describeClass(pciClass: number): string {
  const base = pciClass >>> 16;
  const sub = (pciClass >>> 8) & 0xff;
  if (base === 0x03) return "GPU";
  if (base === 0x04 && sub === 0x03) return "HD audio";
  if (base === 0x0c && sub === 0x03) return "USB";
  if (base === 0x0c && sub === 0x80) return "USB-C UCSI";
  return `class 0x${(pciClass >>> 0).toString(16).padStart(6, "0")}`;
}

/** The device-independent part of a function-level-reset refusal. */
export function flrRefusal(
  bdf: string,
  ids: { vendor: number; device: number },
  config: ConfigSpace,
  extra: readonly ResetQuirk[],
): string | undefined {
  const quirk = quirkAmong([{ bdf, ...ids }], "no-flr-recovery", extra);
  if (quirk) return quirk;
  try {
    if (!advertisesFlr(config, bdf)) {
      return "the device does not advertise function-level reset (PCIe DEVCAP bit 28 is clear): " +
        "use the bus reset instead";
    }
  } catch (e) {
    return `its PCIe capability cannot be read (${(e as Error).message}): run as root, ` +
      "which reading config space past 64 bytes needs";
  }
  return undefined;
}

/** The quirk, root-bus and kernel-driver part of a bus-reset refusal. */
export function busRefusal(
  bdf: string,
  topology: BusTopology,
  extra: readonly ResetQuirk[],
  needVfio: boolean,
): string | undefined {
  if (topology.bridge === null) {
    return `${bdf} sits on a root bus, so there is no bridge whose secondary bus could be reset: ` +
      "use the function-level reset, or power-cycle";
  }
  const quirk = quirkAmong([topology.bridge, ...topology.functions], "no-bus-reset", extra);
  if (quirk) return quirk;
  for (const f of topology.functions) {
    if (f.bdf === bdf) continue;
    const what = `${f.bdf} (${describeClass(f.class)})`;
    if (needVfio && f.driver !== VFIO_PCI_DRIVER) {
      return `${what} shares the bus and is ${
        f.driver === null ? "bound to no driver" : `bound to ${f.driver}`
      }; a VFIO hot reset needs every function on the bus bound to vfio-pci and owned: ` +
        `run \`echo ${f.bdf} > /sys/bus/pci/devices/${f.bdf}/driver/unbind\` (if bound), then ` +
        `\`echo vfio-pci > /sys/bus/pci/devices/${f.bdf}/driver_override\` and ` +
        `\`echo ${f.bdf} > /sys/bus/pci/drivers_probe\``;
    }
    if (f.driver !== null && KERNEL_GPU_DRIVERS.includes(f.driver)) {
      return `${what} shares the bus and is driven by ${f.driver}, which a bus reset would reset ` +
        `under it: unbind it first (\`echo ${f.bdf} > /sys/bus/pci/devices/${f.bdf}/driver/unbind\`)`;
    }
  }
  return undefined;
}

/** Reject with a {@linkcode ResetRefusedError} when `refusal` is set. */
export function refuse(bdf: string, method: ResetMethod, refusal: string): Promise<never> {
  return Promise.reject(new ResetRefusedError(bdf, method, refusal));
}

/** The refusal every method of a read-only device gives. */
export function readOnlyRefusal(): string {
  return "the device was opened read-only: open it with readOnly: false (as root) to reset it";
}

/** Log what a reset did and how long the device took to answer. */
export function logReset(
  log: Logger,
  bdf: string,
  what: string,
  waitedMs: number,
  restored: number[],
): void {
  log.info("{bdf}: {what} done; the device answered after {waited} ms{restored}", {
    bdf,
    what,
    waited: Math.round(waitedMs),
    restored: restored.length === 0
      ? " with its configuration restored by the kernel"
      : `; restored header dwords ${restored.map((o) => `0x${o.toString(16)}`).join(", ")}`,
  });
}

/**
 * Config dword 0 read through a fresh descriptor on `<device>/config` (the
 * first 64 bytes need no privilege): what the hardware answers now.
 */
export function readIds(devicePath: string): number {
  try {
    using file = openFile(`${devicePath}/config`, O_RDONLY);
    using config = new FileConfigSpace(file.fd, {
      size: 4,
      readOnly: true,
      bdf: devicePath,
      path: `${devicePath}/config`,
    });
    return config.read32(0);
  } catch {
    return 0xffffffff;
  }
}
