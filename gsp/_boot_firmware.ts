// The first two steps of a boot and of an unload: which chip this is, and its firmware set.

import type { ChipInfo } from "../chips/chips.ts";
import { DEFAULT_FIRMWARE_VERSION } from "../chips/firmware_files.ts";
import { identifyChip } from "../gpu/identify.ts";
import { type FirmwareSet, loadFirmwareSet } from "../loader/firmware_set.ts";
import type { HashCache } from "../loader/verify.ts";
import type { FirmwareManifest } from "../loader/manifest_types.ts";
import type { Device } from "../pci/device.ts";
import type { BootStepEvent, BootSteps } from "./boot_steps.ts";
import { gspHalFor } from "./hal.ts";

/** Options of {@linkcode bootGsp} and {@linkcode unloadGsp}. */
export interface BootGspOptions {
  /** Searched first for the firmware; else FALCONRY_FIRMWARE_DIR, the cache, /lib/firmware. */
  firmwareDir?: string;
  /** Default `DEFAULT_FIRMWARE_VERSION` (`570.144`). */
  firmwareVersion?: string;
  /**
   * A firmware file whose sha256 differs from the manifest: `warn` (default:
   * the falcons' boot ROMs check the signatures themselves, and forged sets
   * for the simulator differ by design) or `throw`.
   */
  onFirmwareMismatch?: "warn" | "throw";
  /**
   * The manifest to check the files against (default: falconry's, for linux-firmware). A forged
   * set passes one without files, so that nothing is compared.
   */
  firmwareManifest?: FirmwareManifest;
  /** Stop the boot; it unwinds and fails with a `BootError` whose cause is the signal's reason. */
  signal?: AbortSignal;
  /** Called for every step event. */
  onStep?: (event: BootStepEvent) => void;
  /**
   * Where `bootGsp` writes a crash bundle when a step of the boot (or of its
   * unload) fails: the GPU's registers, the GSP log buffers and the RPC
   * history as they were when the step failed, before any unwinding
   * (`crash_recorder.ts`). The folder must not exist, or be empty; it is
   * created only on a failure. The error then names it in `crashBundle`.
   * Default: no bundle.
   */
  crashDir?: string;
}

/**
 * Hashes of the firmware files checked against the manifest in this process, keyed by each
 * file's identity (device, inode, size, times), so a second boot does not hash the 28 MB GSP
 * image again and a changed file is hashed anew.
 */
const HASH_CACHE: HashCache = new Map();

/** The chip (refused when it has no boot HAL) and its firmware set, each a step. */
export async function identifyAndLoadFirmware(
  device: Device,
  steps: BootSteps,
  options: BootGspOptions,
): Promise<{ chip: ChipInfo; firmware: FirmwareSet }> {
  const { chip } = await steps.run("identify", () => {
    const identity = identifyChip(device.bar0);
    gspHalFor(identity.chip);
    return Promise.resolve({
      chip: identity.chip,
      detail: `${identity.name} (${identity.arch}) rev ${identity.revision}`,
    });
  });
  const firmware = await steps.run("firmware", async () => {
    const set = await loadFirmwareSet({
      chip,
      version: options.firmwareVersion ?? DEFAULT_FIRMWARE_VERSION,
      dir: options.firmwareDir,
      onMismatch: options.onFirmwareMismatch ?? "warn",
      manifest: options.firmwareManifest,
      hashCache: HASH_CACHE,
    });
    return { set, detail: `${chip.name} ${set.version}` };
  });
  return { chip, firmware: firmware.set };
}
