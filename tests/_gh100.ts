// Shared by the GH100 tests (tests/gh100_*_test.ts): firmware roots (the simulator's forged set,
// or the real linux-firmware gh100 570.144 set), a simulated GH100 that knows them, a device
// wrapper that counts what the unwinding does to the hardware (function-level resets, GSP falcon
// resets, reads of the GSP's RISC-V halt bit), and a clock that aborts at its n-th sleep.

import { chipByName } from "../chips/chips.ts";
import { firmwareFiles } from "../chips/firmware_files.ts";
import { bootGsp, type BootGspOptions } from "../gsp/boot.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import type { Clock } from "../pci/clock.ts";
import type { Device } from "../pci/device.ts";
import { falconRegisters } from "../registers/bind.ts";
import { forgedFirmwareFiles, SimulatedGpu, type SimulatedGpuOptions } from "../sim/mod.ts";
import { findRealFirmware } from "./_real.ts";

const VERSION = "570.144";
const CHIP = "gh100";
/** The gh100 files of the boot: bootloader, fmc, gsp. */
const FILES = firmwareFiles(chipByName(CHIP)!, VERSION).map((f) => f.path);

let forgedRoot: string | undefined;

/** A firmware root holding the simulator's forged gh100 set (written once per run). */
export async function forgedGh100Root(): Promise<string> {
  if (forgedRoot) return forgedRoot;
  const root = await Deno.makeTempDir({ prefix: "falconry-forged-gh100-" });
  await Deno.mkdir(`${root}/nvidia/${CHIP}/gsp`, { recursive: true });
  for (const [name, bytes] of Object.entries(forgedFirmwareFiles(CHIP))) {
    await Deno.writeFile(`${root}/nvidia/${CHIP}/gsp/${name}`, bytes);
  }
  forgedRoot = root;
  return root;
}

/** The real root holding the whole gh100 570.144 set, if one does. */
export function realGh100Root(): string | undefined {
  const found = FILES.map((rel) => findRealFirmware(rel));
  if (found.some((p) => p === undefined)) return undefined;
  return found[0]!.slice(0, -FILES[0].length - 1);
}

/** The real and the forged firmware case: a root, or why it is skipped. */
export async function gh100FirmwareCases(): Promise<
  { label: string; root?: string; forged: boolean; skip?: string }[]
> {
  const real = realGh100Root();
  return [
    real ? { label: "real 570.144", root: real, forged: false } : {
      label: "real 570.144",
      forged: false,
      skip: "the real gh100 570.144 files are missing; run `deno task firmware`",
    },
    { label: "forged", root: await forgedGh100Root(), forged: true },
  ];
}

/** A simulated GH100 whose FSP and GSP know the firmware under `root`. */
export async function gh100For(
  root: string,
  options: Omit<SimulatedGpuOptions, "chip" | "firmwareDir"> = {},
): Promise<SimulatedGpu> {
  const firmware: Record<string, Uint8Array> = {};
  for (const path of FILES) firmware[path] = await Deno.readFile(`${root}/${path}`);
  return SimulatedGpu.create({ chip: CHIP, firmware, ...options });
}

/** Boot options for a root: a forged set is compared against no manifest. */
export function bootOptions(root: string, forged: boolean, more: BootGspOptions = {}) {
  return {
    firmwareDir: root,
    ...(forged ? { firmwareManifest: { ...FIRMWARE_MANIFEST, files: {}, links: {} } } : {}),
    ...more,
  };
}

/** What the unwinding did to the hardware, counted at the device. */
export interface UndoCounts {
  /** Function-level resets asked for. */
  flr: number;
  /** GSP falcon resets: writes of ENGINE with RESET set. */
  falconResets: number;
  /** Reads of the GSP's RISCV_CPUCTL (the halt wait reads it; nothing else in a failed boot). */
  cpuctlReads: number;
  /** Every BAR0 write. */
  writes: number;
  /** The BAR0 offsets written. */
  written: Set<number>;
}

/**
 * The GPU as a {@linkcode Device} that counts what is done to it, and aborts `controller` at
 * the `abortAt`-th clock sleep (from 1; 0 never).
 */
export function countingDevice(
  gpu: SimulatedGpu,
  options: { controller?: AbortController; abortAt?: number } = {},
): { device: Device; counts: UndoCounts; sleeps: () => number } {
  const counts: UndoCounts = {
    flr: 0,
    falconResets: 0,
    cpuctlReads: 0,
    writes: 0,
    written: new Set(),
  };
  const gsp = falconRegisters(CHIP, "GSP");
  const engine = gsp.ENGINE.address;
  const cpuctl = gsp.RISCV_CPUCTL.address;
  let sleeps = 0;
  const clock: Clock = {
    now: () => gpu.clock.now(),
    sleep: (ms, signal) => {
      sleeps++;
      if (sleeps === options.abortAt) {
        options.controller?.abort(new DOMException("interrupted", "AbortError"));
      }
      return gpu.clock.sleep(ms, signal);
    },
  };
  const bar0 = override(gpu.bar0, {
    read32: (at: number) => {
      if (at === cpuctl) counts.cpuctlReads++;
      return gpu.bar0.read32(at);
    },
    write32: (at: number, value: number) => {
      counts.writes++;
      counts.written.add(at);
      if (at === engine && (value & 1) === 1) counts.falconResets++;
      gpu.bar0.write32(at, value);
    },
  });
  // The simulator's reset capability is a frozen object of arrow functions: a copy overrides one.
  const reset: typeof gpu.reset = {
    ...gpu.reset,
    functionLevel: (signal?: AbortSignal) => {
      counts.flr++;
      return gpu.reset.functionLevel(signal);
    },
  };
  const device: Device = {
    info: gpu.info,
    bar0,
    config: gpu.config,
    dma: gpu.dma,
    readOnly: gpu.readOnly,
    reset,
    clock,
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return { device, counts, sleeps: () => sleeps };
}

/** `target` with some members replaced; the others still act on `target` itself. */
function override<T extends object>(target: T, members: Partial<T>): T {
  return new Proxy(target, {
    get(t, key) {
      if (Object.hasOwn(members, key)) return members[key as keyof T];
      const value = Reflect.get(t, key, t);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

/** A clean boot and unload on `gpu`, through the plain device. */
export async function bootsCleanly(gpu: SimulatedGpu, root: string, forged: boolean) {
  const gsp = await bootGsp(gpu, bootOptions(root, forged));
  await gsp.unload();
  return gpu.residue();
}
