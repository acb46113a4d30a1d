/**
 * Open a GPU to boot: a real one by its PCI address (VFIO, writable), or a
 * simulated one by chip name. It lives at the top of the repository because
 * it joins two layers the driver must not: `pci/` and `sim/` (the driver,
 * `gsp/`, never imports the simulator).
 *
 * A simulated GPU is given the firmware bytes that the boot will load (the
 * first firmware folder holding the chip's set, in the loader's search
 * order: `firmwareDir`, `FALCONRY_FIRMWARE_DIR`, the cache, `/lib/firmware`),
 * so that its falcons recognise them. With `state`, it is reopened from that
 * file when it exists and saved back to it when disposed, so that
 * `boot --keep` and `unload` can run in two processes.
 *
 * @example A user script
 * ```ts ignore
 * import { openGpu } from "./open_gpu.ts";
 * import { bootGsp } from "./gsp/boot.ts";
 * await using gpu = await openGpu({ sim: "tu102" });
 * await using gsp = await bootGsp(gpu);
 * console.log(gsp.staticInfo.boardName);
 * ```
 *
 * @example Arming a fault point on a simulated GPU
 * ```ts
 * import assert from "node:assert/strict";
 * import { openGpu } from "./open_gpu.ts";
 * await using gpu = await openGpu({ sim: "ga102", inject: [{ point: "booter-timeout" }] });
 * assert.deepEqual(gpu.faults.armedNames, ["booter-timeout"]);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { chipByName } from "./chips/chips.ts";
import { firmwareFiles } from "./chips/firmware_files.ts";
import { FalconryError } from "./errors.ts";
import { firmwareSearchDirs } from "./loader/firmware_dirs.ts";
import type { Device } from "./pci/device.ts";
import { openDevice } from "./pci/open.ts";
import { SimulatedGpu } from "./sim/simulated_gpu.ts";

const log = getLogger(["falconry", "open_gpu"]);

/** A simulated GPU to open. */
export interface SimGpuTarget {
  /** The chip (`tu102`, `ga102`, `ad102`, …). */
  sim: string;
  /** The VBIOS in the PROM: a file or bytes; default a forged one. */
  vbios?: string | Uint8Array;
  /** The signature fuse version the chip reports. */
  fuseVersion?: number;
  /** A save file: reopened when it exists, written back on dispose. */
  state?: string;
  /** Model real-hardware durations on the system clock (default: a virtual clock). */
  realistic?: boolean;
  /** The firmware root the boot will use (else the first one holding the chip's set). */
  firmwareDir?: string;
  /** Fault points to arm, with their parameters. */
  inject?: { point: string; params?: Record<string, unknown> }[];
}

/** What {@linkcode openGpu} opens: a PCI address, or a simulated GPU. */
export type OpenGpuTarget = string | SimGpuTarget;

/** The files a boot loads, by their firmware-root paths, for the simulator to recognise. */
/** One read of a firmware file, shared while the file stays the same (path, size, mtime, inode). */
interface FirmwareRead {
  readonly identity: string;
  readonly bytes: Promise<Uint8Array>;
}

/**
 * Firmware bytes already read in this process. Simulated GPUs opened one after another (or eight
 * at once by `bootAll`) then share one copy: no second 63 MB read, and the simulator's hash cache,
 * which is keyed by the array, hashes the image once. The simulator never writes into these bytes.
 */
const firmwareReads = new Map<string, FirmwareRead>();

async function readFirmwareFile(path: string): Promise<Uint8Array> {
  const stat = await Deno.stat(path);
  const identity = `${stat.size}:${stat.mtime?.getTime()}:${stat.ino}`;
  const known = firmwareReads.get(path);
  if (known?.identity === identity) return await known.bytes;
  const bytes = Deno.readFile(path);
  firmwareReads.set(path, { identity, bytes });
  try {
    return await bytes;
  } catch (e) {
    firmwareReads.delete(path);
    throw e;
  }
}

async function bootFirmwareBytes(
  chipName: string,
  dir: string | undefined,
): Promise<Record<string, Uint8Array> | undefined> {
  const chip = chipByName(chipName);
  if (!chip) return undefined; // the simulator names the problem
  const files = firmwareFiles(chip, "570.144").filter((f) => f.required);
  for (const { dir: root } of firmwareSearchDirs({ dir })) {
    const bytes: Record<string, Uint8Array> = {};
    for (const file of files) {
      try {
        bytes[file.path] = await readFirmwareFile(`${root}/${file.path}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound) && !(e instanceof Deno.errors.NotADirectory)) {
          throw e;
        }
      }
    }
    if (Object.keys(bytes).length === files.length) {
      log.debug("simulated {chip} knows the firmware under {root}", { chip: chipName, root });
      return bytes;
    }
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function openSimulated(target: SimGpuTarget): Promise<SimulatedGpu> {
  const firmware = await bootFirmwareBytes(target.sim, target.firmwareDir);
  let gpu: SimulatedGpu;
  if (target.state !== undefined && await exists(target.state)) {
    gpu = await SimulatedGpu.open(target.state, { realistic: target.realistic, firmware });
    if (gpu.model.chip.name !== target.sim) {
      await gpu[Symbol.asyncDispose]();
      throw new FalconryError(
        `${target.state} holds a simulated ${gpu.model.chip.name}, not a ${target.sim}`,
      );
    }
  } else {
    gpu = await SimulatedGpu.create({
      chip: target.sim,
      vbios: target.vbios,
      fuseVersion: target.fuseVersion,
      realistic: target.realistic,
      firmware,
    });
  }
  try {
    for (const { point, params } of target.inject ?? []) gpu.faults.arm(point, params);
  } catch (e) {
    await gpu[Symbol.asyncDispose]();
    throw e;
  }
  const state = target.state;
  if (state !== undefined) {
    const dispose = gpu[Symbol.asyncDispose].bind(gpu);
    Object.defineProperty(gpu, Symbol.asyncDispose, {
      value: async () => {
        try {
          if (!gpu.disposed) await gpu.save(state);
        } finally {
          await dispose();
        }
      },
    });
  }
  return gpu;
}

/**
 * Open a real GPU by its PCI address, through VFIO, writable.
 *
 * @param target The PCI address (`0000:01:00.0`).
 * @returns The device; dispose it (`await using`) to close it.
 * @throws {DeviceError} When it cannot be opened.
 */
export function openGpu(target: string): Promise<Device & AsyncDisposable>;
/**
 * Open a simulated GPU.
 *
 * @param target `{ sim: chip, … }`.
 * @returns The simulated GPU; dispose it to close it (with `state`, it is saved first).
 * @throws {FalconryError} For an unknown chip, a bad state file or an unknown fault point.
 */
export function openGpu(target: SimGpuTarget): Promise<SimulatedGpu>;
/**
 * Open a GPU to boot: a PCI address, or `{ sim: chip, … }`.
 *
 * @param target What to open.
 * @returns The device; dispose it (`await using`) to close it.
 * @throws {DeviceError} For a real device that cannot be opened.
 * @throws {FalconryError} For an unknown simulated chip, a bad state file or an unknown fault point.
 */
export function openGpu(target: OpenGpuTarget): Promise<Device & AsyncDisposable>;
export function openGpu(target: OpenGpuTarget): Promise<Device & AsyncDisposable> {
  if (typeof target === "string") return openDevice(target);
  return openSimulated(target);
}
