// Shared by the boot tests: firmware roots for a simulated GPU (the simulator's own forged set
// written out as a firmware root, or the real linux-firmware root), and the GPU built to know them.

import { chipByName } from "../chips/chips.ts";
import { forgedFirmwareFiles } from "../sim/execution/firmware_set.ts";
import { SimulatedGpu, type SimulatedGpuOptions } from "../sim/simulated_gpu.ts";
import { realFirmwareRoot } from "./_real.ts";

const forgedRoots = new Map<string, string>();

/** A firmware root holding the simulator's default forged set for `chip` (written once per run). */
export async function forgedFirmwareRoot(chip: string): Promise<string> {
  let root = forgedRoots.get(chip);
  if (root) return root;
  if (!chipByName(chip)) throw new Error(`unknown chip ${chip}`);
  root = await Deno.makeTempDir({ prefix: `falconry-forged-${chip}-` });
  await Deno.mkdir(`${root}/nvidia/${chip}/gsp`, { recursive: true });
  for (const [name, bytes] of Object.entries(forgedFirmwareFiles(chip))) {
    await Deno.writeFile(`${root}/nvidia/${chip}/gsp/${name}`, bytes);
  }
  forgedRoots.set(chip, root);
  return root;
}

/** The real 570.144 root when it holds this chip's set. */
export function realRootFor(chip: string): string | undefined {
  const root = realFirmwareRoot();
  if (!root) return undefined;
  try {
    Deno.statSync(`${root}/nvidia/${chip}/gsp/booter_load-570.144.bin`);
    return root;
  } catch {
    return undefined;
  }
}

/** The files of the boot's firmware set (the simulator refuses files it has no model for). */
const BOOT_FILES = ["booter_load", "booter_unload", "bootloader", "gsp", "gen_bootloader"];

/**
 * A simulated GPU whose falcons know the firmware under `root` (real or
 * forged). The files are read here rather than with `firmwareDir`: the
 * simulator refuses a folder holding a file it has no model for (AD102's
 * `scrubber-570.144.bin`).
 */
export async function gpuFor(
  chip: string,
  root: string,
  options: Omit<SimulatedGpuOptions, "chip" | "firmwareDir"> = {},
): Promise<SimulatedGpu> {
  const firmware: Record<string, Uint8Array> = {};
  for (const name of BOOT_FILES) {
    const path = `nvidia/${chip}/gsp/${name}-570.144.bin`;
    try {
      firmware[path] = await Deno.readFile(`${root}/${path}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return SimulatedGpu.create({ chip, firmware, ...options });
}

/** The firmware a case boots with: the real set when present, and the forged one. */
export interface FirmwareCase {
  /** `real 570.144` or `forged`. */
  readonly label: string;
  /** The root, or why the case is skipped. */
  readonly root?: string;
  readonly skip?: string;
}

/** The real and the forged case for a chip. */
export async function firmwareCases(chip: string): Promise<FirmwareCase[]> {
  const real = realRootFor(chip);
  return [
    real
      ? { label: "real 570.144", root: real }
      : { label: "real 570.144", skip: "real firmware missing; run `deno task firmware`" },
    { label: "forged", root: await forgedFirmwareRoot(chip) },
  ];
}
