/**
 * Boot the GSP of a Turing, Ampere, Ada or Hopper GPU and hand it over as a
 * {@linkcode Gsp} whose disposal unloads it (reference §3.0, §3.10, §4, §6):
 *
 * 1. `identify` the chip; `firmware`: locate, verify and parse its set;
 * 2. allocate the LibOS arguments, log buffers and RPC queues;
 * 3. the family's HAL boot (`hal.ts`). `hal_tu102.ts`: GFW boot, the WPR2
 *    check, the sysmem flush page, the VBIOS, the GSP image, FWSEC-FRTS,
 *    Booter-load. `hal_gh100.ts`: the FSP's secure boot, the FMC boot args,
 *    the chain-of-trust message and its response, the lockdown release,
 *    unwound by phase. Each unwinds its own failures;
 * 4. from here a guard holds the full unload (UNLOADING_GUEST_DRIVER, the
 *    wait for suspend, the HAL's unload bundle) for any later failure:
 *    `riscv-active` (the OS register, then RISC-V active), `system-info`,
 *    `registry`, `sequencer` (the SEC2 path only), `init-done`, `static-info`;
 * 5. on success the guard's resources move into the returned `Gsp`.
 *
 * Every failure is a `GspBootError` (a `BootError`) naming the step, with
 * the hardware's code decoded and the unwinding's own failures attached.
 * Every wait uses the reference's timeout, the device's clock and the
 * caller's `AbortSignal`; the unwinding after a failure or an abort runs
 * without the signal, bounded by its timeouts.
 *
 * @example A full boot and unload of a simulated TU102 (forged firmware)
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgedFirmwareFiles, SimulatedGpu } from "../sim/mod.ts";
 * import { bootGsp } from "./boot.ts";
 *
 * const dir = await Deno.makeTempDir();
 * // The simulator's own forged set, written out as a firmware root for the loader.
 * await Deno.mkdir(`${dir}/nvidia/tu102/gsp`, { recursive: true });
 * for (const [name, bytes] of Object.entries(forgedFirmwareFiles("tu102"))) {
 *   await Deno.writeFile(`${dir}/nvidia/tu102/gsp/${name}`, bytes);
 * }
 * {
 *   await using gpu = new SimulatedGpu({ chip: "tu102" });
 *   {
 *     await using gsp = await bootGsp(gpu, { firmwareDir: dir });
 *     assert.equal(gsp.chip.name, "tu102");
 *     assert(gsp.staticInfo.boardName.length > 0);
 *   }
 *   assert.deepEqual(gpu.residue(), []);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { ChipInfo } from "../chips/chips.ts";
import { Falcon } from "../falcon/falcon.ts";
import type { Device } from "../pci/device.ts";
import { chipRegisters } from "../registers/bind.ts";
import {
  type BootStepEvent,
  type BootStepListener,
  BootSteps,
  type CompletedStep,
  toBootError,
} from "./boot_steps.ts";
import { gspHalFor, type HalBooted, type UnloadContext } from "./hal.ts";
import { GspBootArgs } from "./libos_args.ts";
import { GspMessageQueues } from "./msgq.ts";
import { sendRegistry } from "./registry.ts";
import { receiveAndRunSequencer, type SequencerFalconOps } from "./sequencer.ts";
import { getGspStaticInfo, type GspStaticInfo } from "./static_info.ts";
import { sendSystemInfo } from "./system_info.ts";
import { waitInitDone } from "./init_done.ts";
import { GspShutdown } from "./unload.ts";
import { hex } from "./_hw.ts";
import { type BootGspOptions, identifyAndLoadFirmware } from "./_boot_firmware.ts";
import { CrashRecorder } from "./crash_recorder.ts";

export type { BootGspOptions };

const log = getLogger(["falconry", "gsp", "boot"]);

/** What the static info says, as the CLI shows it. */
export interface GspStaticSummary extends GspStaticInfo {
  /** `gpuNameString`. */
  readonly boardName: string;
}

/** A running GSP. Disposing it (`await using`) runs the full unload. */
export interface Gsp extends AsyncDisposable {
  /** The chip. */
  readonly chip: ChipInfo;
  /** GET_GSP_STATIC_INFO, decoded. */
  readonly staticInfo: GspStaticSummary;
  /** WPR2 after Booter-load. */
  readonly wpr2: { readonly start: number; readonly end: number };
  /** The boot's steps and their durations on the device's clock. */
  readonly steps: readonly CompletedStep[];
  /**
   * Unload now (idempotent); the same as disposing.
   *
   * @param options Abort signal and step listener of the unload.
   * @throws {GspBootError} Naming the first unload step that failed, the others attached.
   */
  unload(options?: { signal?: AbortSignal; onStep?: (e: BootStepEvent) => void }): Promise<void>;
  /** Hand the running GSP over without unloading it (`--keep`): disposing does nothing after this. */
  keep(): void;
}

/** The GSP and SEC2 falcons as the CPU sequencer drives them. */
export function sequencerFalconOps(gsp: Falcon, sec2: Falcon): SequencerFalconOps {
  return {
    resetGsp: (signal) => gsp.reset({ signal }),
    startGsp: () => gsp.start(),
    waitGspHalted: (_timeoutMs, signal) => gsp.waitHalt({ signal }),
    resetGspIntoRiscv: (signal) => gsp.resetToRiscv({ signal }),
    startSec2: () => sec2.start(),
    isGspRiscvActive: () => gsp.isRiscvActive(),
  };
}

/** BAR addresses from configuration space (BAR0 32-bit; BAR1, BAR3 64-bit). */
function barAddresses(device: Device): { bar0: bigint; bar1: bigint; bar3: bigint } {
  const c = device.config;
  const lo = (at: number) => BigInt((c.read32(at) & ~0xf) >>> 0);
  const wide = (at: number) => lo(at) | (BigInt(c.read32(at + 4) >>> 0) << 32n);
  try {
    return { bar0: lo(0x10), bar1: wide(0x14), bar3: wide(0x1c) };
  } catch (e) {
    log.warn("cannot read the BARs from config space: {error}", { error: String(e) });
    return { bar0: 0n, bar1: 0n, bar3: 0n };
  }
}

class RunningGsp implements Gsp {
  readonly chip: ChipInfo;
  readonly staticInfo: GspStaticSummary;
  readonly wpr2: { readonly start: number; readonly end: number };
  readonly steps: readonly CompletedStep[];
  readonly #context: UnloadContext;
  readonly #clock: Device["clock"];
  #stack: AsyncDisposableStack | undefined;
  #unloading: Promise<void> | undefined;

  constructor(init: {
    stack: AsyncDisposableStack;
    context: UnloadContext;
    clock: Device["clock"];
    chip: ChipInfo;
    staticInfo: GspStaticSummary;
    wpr2: { start: number; end: number };
    steps: readonly CompletedStep[];
  }) {
    this.#stack = init.stack;
    this.#context = init.context;
    this.#clock = init.clock;
    this.chip = init.chip;
    this.staticInfo = init.staticInfo;
    this.wpr2 = init.wpr2;
    this.steps = init.steps;
  }

  unload(
    options: { signal?: AbortSignal; onStep?: (e: BootStepEvent) => void } = {},
  ): Promise<void> {
    if (!this.#unloading) {
      const stack = this.#stack;
      this.#stack = undefined;
      this.#unloading = stack ? this.#run(stack, options) : Promise.resolve();
    }
    return this.#unloading;
  }

  async #run(
    stack: AsyncDisposableStack,
    options: { signal?: AbortSignal; onStep?: BootStepListener },
  ): Promise<void> {
    this.#context.steps = new BootSteps(this.#clock, options.onStep, this.#context.steps.onFailure);
    this.#context.signal = options.signal;
    try {
      await stack.disposeAsync();
    } catch (e) {
      throw toBootError(e, "unloading-guest-driver");
    }
    log.info("GSP unloaded");
  }

  keep(): void {
    this.#stack?.move(); // the resources stay as they are; nothing will free them
    this.#stack = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unload();
  }
}

/**
 * Boot the GSP (see the module documentation).
 *
 * @param device The GPU (writable).
 * @param options Firmware, abort signal, step listener.
 * @returns The running GSP; dispose it to unload.
 * @throws {GspBootError} Naming the step that failed, the cleanup failures attached.
 */
export async function bootGsp(device: Device, options: BootGspOptions = {}): Promise<Gsp> {
  const { signal } = options;
  const evidence = new CrashRecorder(device, options.crashDir); // a crash bundle before unwinding
  const steps = new BootSteps(device.clock, options.onStep, evidence.onFailure);
  let halBooted: HalBooted | undefined; // names a later failure (the FSP path: its phase)
  try {
    const { chip, firmware } = await identifyAndLoadFirmware(device, steps, options);
    const regs = chipRegisters(chip);
    const gsp = new Falcon(device, chip, "GSP");
    const sec2 = new Falcon(device, chip, "SEC2");

    await using stack = new AsyncDisposableStack();
    const bootArgs = stack.use(GspBootArgs.allocate(device.dma, chip.family));
    evidence.add({ chip, firmware, logs: bootArgs.logs });
    const hal = gspHalFor(chip);
    const booted: HalBooted = stack.use(
      await hal.boot({ device, chip, regs, gsp, sec2, firmware, bootArgs, steps, signal }),
    );
    halBooted = booted;
    const context = booted.unloadContext;
    const queues = new GspMessageQueues(bootArgs.sharedMemory, {
      bar: device.bar0,
      chip,
      clock: device.clock,
    });
    evidence.add({ rpcHistory: queues.history });
    // From here on, a failure runs the full unload: the shutdown RPC first, then the bundle.
    stack.use(new GspShutdown({ device, chip, gsp, queues, context }));

    await steps.run("riscv-active", async () => {
      gsp.registers.OS.writeRaw(device.bar0, booted.osVersion);
      await gsp.waitRiscvActive({ signal });
      return { detail: `OS 0x${booted.osVersion.toString(16)}` };
    });
    await steps.run("system-info", () =>
      sendSystemInfo(queues, {
        chip,
        ...barAddresses(device),
        bdf: device.info.bdf,
        vendor: device.info.vendor,
        device: device.info.device,
        subsystemVendor: device.info.subsystemVendor,
        subsystemDevice: device.info.subsystemDevice,
        revision: device.info.revision,
      }, { signal }));
    await steps.run("registry", () => sendRegistry(queues, undefined, { signal }));
    // The FSP path (GH100 HAL) has no CPU sequencer.
    if (hal.cpuSequencer !== false) {
      await steps.run("sequencer", async () => {
        const result = await receiveAndRunSequencer(queues, {
          bar: device.bar0,
          clock: device.clock,
          chip,
          falcon: sequencerFalconOps(gsp, sec2),
          libosArgsAddress: bootArgs.address,
          osVersion: booted.osVersion,
          signal,
        });
        return { detail: `${result.executed} commands` };
      });
    }
    await steps.run("init-done", () => waitInitDone(queues, { signal }));
    const info = await steps.run("static-info", async () => {
      const info = await getGspStaticInfo(queues, { signal });
      return Object.assign({}, info, { boardName: info.name, detail: info.name });
    });
    const { detail: _detail, ...staticInfo } = info;
    log.info("GSP-RM running on {chip} ({board}); WPR2 {start}..{end}", {
      chip: chip.name,
      board: staticInfo.boardName,
      start: hex(booted.wpr2.start),
      end: hex(booted.wpr2.end),
    });
    return new RunningGsp({
      stack: stack.move(),
      context,
      clock: device.clock,
      chip,
      staticInfo,
      wpr2: booted.wpr2,
      steps: steps.completed,
    });
  } catch (e) {
    const error = toBootError(e, "identify");
    throw halBooted?.failed?.(error) ?? error;
  }
}

export { unloadGsp } from "./unload.ts";
