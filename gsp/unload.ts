/**
 * Taking GSP-RM down (reference §6.1):
 *
 * - {@linkcode GspShutdown}, the first resource a booted `Gsp` unwinds:
 *   `unloading-guest-driver` (UNLOADING_GUEST_DRIVER level 0 and its reply),
 *   then `gsp-suspend` (GSP MAILBOX0 bit 31, every 10 ms, 5 s). The HAL's
 *   unload bundle (FWSEC-SB, Booter-unload) and the falcon resets follow,
 *   unwound by the HAL's own resource (`hal_tu102.ts`).
 * - {@linkcode unloadGsp}, for a GSP-RM that an earlier process left
 *   running (`boot --keep`, then `unload`).
 *
 * Why `unloadGsp` does not send UNLOADING_GUEST_DRIVER: GSP-RM's queues,
 * LibOS arguments and log buffers live in DMA memory the earlier process
 * allocated and mapped; when that process exited its mappings went with it
 * (on VFIO the IOMMU mappings are torn down with the container), so a new
 * process has no queue to write to and GSP-RM no memory to read. Neither
 * NVIDIA's driver nor nova-core reattaches to a GSP-RM it did not boot:
 * both treat a set WPR2 at probe as "GPU needs reset" (reference §3.7). The
 * realistic recovery without a reset is the TU102 HAL's own unload bundle
 * after stopping the GSP by force: reset the GSP falcon (GSP-RM halts),
 * FWSEC-SB, then Booter-unload, which clears WPR2, and the falcons left
 * reset. Whether real Booter-unload accepts a GSP-RM stopped this way
 * rather than suspended is not documented: if it refuses (SEC2 MAILBOX0
 * ≠ 0), the error says so and the GPU needs a reset. `unloadGsp` is the
 * second rung of the recovery ladder (`recover.ts`), which goes on to a
 * falcon reset, a function-level reset and a bus reset when it does not help.
 *
 * @example Unloading a GSP a simulated "earlier process" left running
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgedFirmwareFiles, SimulatedGpu } from "../sim/mod.ts";
 * import { bootGsp } from "./boot.ts";
 * import { unloadGsp } from "./unload.ts";
 *
 * const dir = await Deno.makeTempDir();
 * // The simulator's own forged set, written out as a firmware root for the loader.
 * await Deno.mkdir(`${dir}/nvidia/ga102/gsp`, { recursive: true });
 * for (const [name, bytes] of Object.entries(forgedFirmwareFiles("ga102"))) {
 *   await Deno.writeFile(`${dir}/nvidia/ga102/gsp/${name}`, bytes);
 * }
 * const state = `${dir}/gpu.json`;
 * {
 *   await using gpu = new SimulatedGpu({ chip: "ga102" });
 *   const gsp = await bootGsp(gpu, { firmwareDir: dir });
 *   gsp.keep();
 *   await gpu.save(state);
 * }
 * {
 *   await using gpu = await SimulatedGpu.open(state);
 *   await unloadGsp(gpu, { firmwareDir: dir });
 *   assert.deepEqual(gpu.residue(), []);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type ChipInfo, familyOf } from "../chips/chips.ts";
import { Falcon } from "../falcon/falcon.ts";
import type { Device } from "../pci/device.ts";
import { chipRegisters } from "../registers/bind.ts";
import { type BootGspOptions, identifyAndLoadFirmware } from "./_boot_firmware.ts";
import { BootSteps, toBootError } from "./boot_steps.ts";
import type { UnloadContext } from "./hal.ts";
import { unloadLeftoverGh100 } from "./hal_gh100.ts";
import { unloadLeftoverTu102 } from "./hal_tu102.ts";
import type { GspMessageQueues } from "./msgq.ts";
import { unloadGuestDriver, waitGspSuspended } from "./unloading_guest_driver.ts";

const log = getLogger(["falconry", "gsp", "unload"]);

/** What {@linkcode GspShutdown} works with. */
export interface GspShutdownInit {
  /** The device. */
  readonly device: Device;
  /** The chip. */
  readonly chip: ChipInfo;
  /** The GSP falcon. */
  readonly gsp: Falcon;
  /** The RPC queues of the running GSP-RM. */
  readonly queues: GspMessageQueues;
  /** Where the unload runs (its steps and signal, set by the caller of the unload). */
  readonly context: UnloadContext;
}

/**
 * GSP-RM's shutdown as a resource: disposing it sends
 * UNLOADING_GUEST_DRIVER and waits for the suspend bit. A GSP whose RISC-V
 * core is not running is skipped (there is no GSP-RM to answer; the RPC
 * would only time out).
 */
export class GspShutdown implements AsyncDisposable {
  readonly #init: GspShutdownInit;

  /**
   * Construct it.
   *
   * @param init Device, chip, GSP falcon, queues, unload context.
   */
  constructor(init: GspShutdownInit) {
    this.#init = init;
  }

  /** Shut GSP-RM down; failures are thrown after both steps had their chance. */
  async [Symbol.asyncDispose](): Promise<void> {
    const { device, chip, gsp, queues, context } = this.#init;
    const { steps, signal } = context;
    let running: boolean;
    try {
      running = gsp.isRiscvActive();
    } catch {
      running = true; // let the RPC step report what is wrong
    }
    if (!running) {
      log.info("the GSP's RISC-V core is not active: no UNLOADING_GUEST_DRIVER");
      return;
    }
    await steps.run("unloading-guest-driver", async () => {
      await unloadGuestDriver(queues, { signal });
      return { detail: "GSP-RM acknowledged" };
    });
    await steps.run("gsp-suspend", async () => {
      const mailbox0 = await waitGspSuspended(device.bar0, { chip, clock: device.clock, signal });
      return { detail: `GSP MAILBOX0 0x${mailbox0.toString(16)}` };
    });
  }
}

/**
 * Unload a GSP that an earlier process left running on this device (see
 * the module documentation for why no RPC is sent).
 *
 * @param device The GPU (writable).
 * @param options Firmware (the bundle needs `booter_unload` and FWSEC from the VBIOS), signal, steps.
 * @throws {GspBootError} Naming the step that failed.
 */
export async function unloadGsp(device: Device, options: BootGspOptions = {}): Promise<void> {
  const steps = new BootSteps(device.clock, options.onStep);
  try {
    const { chip, firmware } = await identifyAndLoadFirmware(device, steps, options);
    // The FSP path has no unload bundle to rebuild: halt, falcon reset, function reset.
    if (familyOf(chip).bootPath === "fsp") {
      const gsp = new Falcon(device, chip, "GSP");
      await unloadLeftoverGh100({
        device,
        regs: chipRegisters(chip),
        gsp,
        steps,
        signal: options.signal,
      });
      return;
    }
    await unloadLeftoverTu102({
      device,
      chip,
      regs: chipRegisters(chip),
      gsp: new Falcon(device, chip, "GSP"),
      sec2: new Falcon(device, chip, "SEC2"),
      firmware,
      steps,
      signal: options.signal,
    });
  } catch (e) {
    throw toBootError(e, "identify");
  }
}
