/**
 * The boot HAL of Hopper (GH100; Blackwell shares it where the facts allow,
 * `fsp_family.ts`): the FSP's chain of trust (reference §4, §6.2, with
 * NVIDIA's corrections in §12–13). The host never loads or starts the GSP:
 *
 * 1. `fsp-secure-boot`: wait for the FSP's secure boot (`NV_THERM_I2CS_SCRATCH`
 *    = 0xff, every 10 ms, 5 s); then refuse a GPU whose WPR2 is already set
 *    ("GPU needs reset"), before anything is written;
 * 2. `fmc-boot-args`: the sysmem flush page (registered, §3.11); the GSP-RM
 *    image and its radix3 tables, the bootloader, the signature, the WPR
 *    meta (sizes only), the FMC image and `GSP_FMC_BOOT_PARAMS`, all in DMA
 *    memory;
 * 3. `fsp-cot-send`: the Chain-of-Trust message over the FSP's EMEM queue;
 * 4. `fsp-cot-response`: the FSP's answer, its `errorCode` decoded;
 * 5. `lockdown-release`: the GSP-FMC releases the GSP's PRIV lockdown (every
 *    10 ms, 30 s), or reports an error in the GSP's MAILBOX0.
 *
 * `gsp/boot.ts` then runs the common steps (`riscv-active`, `system-info`,
 * `registry`, `init-done`, `static-info`); the FSP path has no CPU
 * sequencer.
 *
 * **Staged unwinding.** Each phase is an `await using` scope of its own, so
 * that which undo runs after a failure is what the code's nesting shows:
 *
 * - `before-cot` (steps 1–2): the host's memory is freed (and the flush
 *   page unregistered); nothing else on the GPU needs undoing;
 * - `cot-send` (steps 3–4): a function-level reset (`function-reset`),
 *   armed before the first EMEM write;
 * - `after-response` (step 5 and everything after, until the unload):
 *   `gsp-halt` (wait for the GSP's RISC-V core to halt, 10 ms, 5 s), then
 *   `falcon-reset` (the GSP falcon), then the `function-reset` above.
 *
 * The DMA memory (the FMC boot args above all) is the outermost scope: it
 * is freed only after the GSP has halted and the function was reset. The
 * unload of a booted GSP is the same `after-response` undo, after
 * `gsp/unload.ts`'s `unloading-guest-driver` and `gsp-suspend`. A failure
 * is a {@linkcode PhasedBootError}: the step, the phase, the hardware's
 * code decoded (`registers/boot_codes.ts`), the unwinding's failures
 * attached.
 *
 * @example The phases and their steps
 * ```ts
 * import assert from "node:assert/strict";
 * import { GH100_BOOT_STEPS, GH100_UNLOAD_STEPS } from "./boot_steps.ts";
 * import { GH100_GSP_HAL, phaseOfStep } from "./hal_gh100.ts";
 * assert.equal(GH100_GSP_HAL.name, "gh100");
 * assert.equal(phaseOfStep("fmc-boot-args"), "before-cot");
 * assert.equal(phaseOfStep("fsp-cot-response"), "cot-send");
 * assert.equal(phaseOfStep("init-done"), "after-response");
 * assert.deepEqual(GH100_BOOT_STEPS.slice(2, 7), [
 *   "fsp-secure-boot", "fmc-boot-args", "fsp-cot-send", "fsp-cot-response", "lockdown-release",
 * ]);
 * assert.deepEqual(GH100_UNLOAD_STEPS.slice(2), ["gsp-halt", "falcon-reset", "function-reset"]);
 * ```
 *
 * `tests/gh100_boot_test.ts` boots a simulated GH100; `tests/gh100_phases_test.ts`
 * fails each phase and counts the undo.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { fmcSignatures } from "../firmware/fmc.ts";
import type { Falcon } from "../falcon/falcon.ts";
import type { Device } from "../pci/device.ts";
import { pollValue } from "../pci/mmio.ts";
import type { ChipRegisters } from "../registers/bind.ts";
import { describeFspError } from "../registers/boot_codes.ts";
import { HardwareTimeoutError } from "../errors.ts";
import { hex, readChecked, readWpr2 } from "./_hw.ts";
import { type GH100_BOOT_STEPS, type GspBootError, HardwareCodeError } from "./boot_steps.ts";
import { allocateFspBootMemory, type FspBootMemory } from "./fsp_gsp_memory.ts";
import { frtsVidmemOffset, fspFactsOf } from "./fsp_family.ts";
import { waitGspHalted, waitLockdownRelease } from "./fsp_lockdown.ts";
import { decodeFspResponse, encodeCotMessage, NVDM_TYPE } from "./fsp_message.ts";
import { type FspBootPhase, inPhase, withPhase } from "./fsp_phase.ts";
import { HopperFlushPage } from "./fsp_flush_page.ts";
import { FspQueue } from "./fsp_queue.ts";
import { FSP_WAITS } from "./fsp_waits.ts";
import type { GspBootContext, GspHal, HalBooted, UnloadContext } from "./hal.ts";

const log = getLogger(["falconry", "gsp", "hal_gh100"]);

const MiB = 1 << 20;

const PHASE_OF_STEP: Readonly<Record<(typeof GH100_BOOT_STEPS)[number], FspBootPhase>> = {
  identify: "before-cot",
  firmware: "before-cot",
  "fsp-secure-boot": "before-cot",
  "fmc-boot-args": "before-cot",
  "fsp-cot-send": "cot-send",
  "fsp-cot-response": "cot-send",
  "lockdown-release": "after-response",
  "riscv-active": "after-response",
  "system-info": "after-response",
  registry: "after-response",
  "init-done": "after-response",
  "static-info": "after-response",
};

/**
 * The phase a boot step belongs to.
 *
 * @param step A step of {@linkcode GH100_BOOT_STEPS}.
 * @returns Its phase.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { phaseOfStep } from "./hal_gh100.ts";
 * assert.equal(phaseOfStep("lockdown-release"), "after-response");
 * ```
 */
export function phaseOfStep(step: (typeof GH100_BOOT_STEPS)[number]): FspBootPhase {
  return PHASE_OF_STEP[step];
}

// -------------------------------------------------------------------------------------------------
// The undo of each phase, one resource each

/** The GPU handles the undo runs with. */
interface Gh100Hardware {
  readonly device: Device;
  readonly regs: ChipRegisters;
  readonly gsp: Falcon;
}

/** `cot-send` and later: a function-level reset puts the FSP and the GSP back to power-on. */
class FunctionReset implements AsyncDisposable {
  constructor(readonly hw: Gh100Hardware, readonly context: UnloadContext) {}

  async [Symbol.asyncDispose](): Promise<void> {
    const { device } = this.hw;
    await this.context.steps.run("function-reset", async () => {
      if (!device.reset) {
        throw new Error(
          `${device.info.bdf} offers no reset: the FSP and GSP stay as the boot left them ` +
            "(reset the GPU, e.g. echo 1 > /sys/bus/pci/devices/<BDF>/reset)",
        );
      }
      await device.reset.functionLevel(this.context.signal);
      return { detail: "function-level reset done" };
    });
  }
}

/** `after-response`: the GSP falcon reset, after its RISC-V core halted. */
class GspFalconReset implements AsyncDisposable {
  constructor(readonly hw: Gh100Hardware, readonly context: UnloadContext) {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.context.steps.run("falcon-reset", async () => {
      await this.hw.gsp.reset({ signal: this.context.signal });
      return { detail: "GSP falcon reset" };
    });
  }
}

/** `after-response`: the GSP's RISC-V core halts on its own before anything is reset. */
class GspHaltWait implements AsyncDisposable {
  constructor(readonly hw: Gh100Hardware, readonly context: UnloadContext) {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.context.steps.run("gsp-halt", async () => {
      const cpuctl = await waitGspHalted({
        bar: this.hw.device.bar0,
        clock: this.hw.device.clock,
        gsp: this.hw.gsp.registers,
        signal: this.context.signal,
      });
      return { detail: `RISCV_CPUCTL ${hex(cpuctl)}` };
    });
  }
}

/** The running state after a GH100 boot: disposing it runs the `after-response` undo. */
class Gh100Booted implements HalBooted {
  readonly hasUnloadBundle = true;
  readonly #stack: AsyncDisposableStack;

  constructor(
    stack: AsyncDisposableStack,
    readonly wpr2: { readonly start: number; readonly end: number },
    readonly osVersion: number,
    readonly unloadContext: UnloadContext,
  ) {
    this.#stack = stack;
  }

  /** A failure after the HAL's boot (the common steps) is in the `after-response` phase. */
  failed(error: GspBootError): GspBootError {
    return withPhase(error, "after-response");
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#stack.disposeAsync();
  }
}

// -------------------------------------------------------------------------------------------------
// The steps

/** Secure boot done (I2CS scratch 0xff), then WPR2 clear: reads only. */
async function waitSecureBoot(ctx: GspBootContext): Promise<{ detail: string }> {
  const { device, regs } = ctx;
  const scratch = regs.THERM.I2CS_SCRATCH;
  const wait = FSP_WAITS.secureBoot;
  let last = 0;
  try {
    await pollValue(() => (last = readChecked(device.bar0, scratch)), (v) => v === 0xff, {
      intervalMs: wait.intervalMs,
      timeoutMs: wait.timeoutMs,
      clock: device.clock,
      signal: ctx.signal,
      name: `${scratch.name} STATUS`,
    });
  } catch (e) {
    if (!(e instanceof HardwareTimeoutError)) throw e;
    throw new HardwareCodeError(
      `the FSP's secure boot did not complete in ${wait.timeoutMs} ms: ${scratch.name} reads ` +
        `${hex(last)} (0xff is done${last === 0 ? ", 0 is FAILED" : ""})`,
      { code: last, cause: e },
    );
  }
  const wpr2 = readWpr2(device.bar0, regs);
  if (wpr2) {
    throw new Error(
      `WPR2 is already set (${hex(wpr2.start)}..${hex(wpr2.end)}): the GPU needs reset ` +
        "(an earlier boot left GSP-RM running): run reset.ts or boot --recover, or recover() in code",
    );
  }
  return { detail: "FSP secure boot done, WPR2 clear" };
}

/**
 * The sysmem flush page (Hopper's FBHUB pair), as nova-core registers it for
 * every chip before the GSP boots; a host resource like the DMA memory, freed
 * with it. Blackwell moves the registers (§3.11): not registered there yet.
 */
function registerFlushPage(ctx: GspBootContext, memoryScope: AsyncDisposableStack): void {
  if (!ctx.regs.PFB.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.present) {
    log.warn("{chip}: no sysmem flush page (its flush registers are not in the tables)", {
      chip: ctx.chip.name,
    });
    return;
  }
  const flush = memoryScope.use(new HopperFlushPage(ctx.device.bar0, ctx.regs, ctx.device.dma));
  log.debug("sysmem flush page at {iova}", { iova: hex(flush.page.iova) });
}

/** Usable VRAM: `NV_USABLE_FB_SIZE_IN_MB` × 1 MiB. */
function usableFbSize(ctx: GspBootContext): number {
  const mib = readChecked(ctx.device.bar0, ctx.regs.PGC6.AON_SECURE_SCRATCH_GROUP_42);
  if (mib === 0) throw new Error("NV_USABLE_FB_SIZE_IN_MB reads 0: the VRAM size is unknown");
  return mib * MiB;
}

/** The COT message, posted to the FSP's queue. */
function sendCot(ctx: GspBootContext, queue: FspQueue, memory: FspBootMemory): { detail: string } {
  const fmc = ctx.firmware.fmc!;
  const facts = fspFactsOf(ctx.chip);
  const sizes = [
    ["public key", fmc.sizes.publicKey, facts.fmcPublicKeySize],
    ["signature", fmc.sizes.signature, facts.fmcSignatureSize],
  ] as const;
  for (const [what, got, want] of sizes) {
    // The FSP judges the sizes itself: a mismatch is worth a warning, not a refusal.
    if (got !== want) {
      log.warn("the FMC's {what} is {got} bytes; {chip}'s FSP expects {want}", {
        what,
        got,
        chip: ctx.chip.name,
        want,
      });
    }
  }
  const message = encodeCotMessage({
    version: facts.cotVersion,
    fmcImageAddress: memory.fmcImage.iova,
    frtsVidmemOffset: frtsVidmemOffset(ctx.chip, memory.sizes.pmuReservedSize),
    frtsVidmemSize: memory.sizes.frtsSize,
    signatures: fmcSignatures(fmc),
    bootArgsAddress: memory.bootParams.iova,
  });
  ctx.signal?.throwIfAborted();
  queue.send(message);
  return { detail: `${message.length} bytes, COT version ${facts.cotVersion}` };
}

/** The FSP's response to the COT message; a non-zero `errorCode` decoded. */
async function receiveCotResponse(
  ctx: GspBootContext,
  queue: FspQueue,
): Promise<{ detail: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await queue.receive({ signal: ctx.signal });
  } catch (e) {
    if (!(e instanceof HardwareTimeoutError)) throw e;
    throw new Error(
      `the FSP did not answer the COT message in ${FSP_WAITS.response.timeoutMs} ms`,
      { cause: e },
    );
  }
  const response = decodeFspResponse(bytes, NVDM_TYPE.COT);
  if (response.errorCode !== 0) {
    throw new HardwareCodeError(
      `the FSP refused the COT message: error ${describeFspError(response.errorCode)}`,
      { code: response.errorCode },
    );
  }
  return { detail: `FSP_OK (task ${response.taskId})` };
}

async function bootGh100(ctx: GspBootContext): Promise<HalBooted> {
  const { device, regs, gsp, steps } = ctx;
  const hw: Gh100Hardware = { device, regs, gsp };
  const unloadContext: UnloadContext = { steps };
  const queue = new FspQueue(device, ctx.chip);

  // Outermost: the DMA memory the FSP and the GSP-FMC read. Freed after every undo below.
  await using memoryScope = new AsyncDisposableStack();

  // before-cot: nothing is written to the GPU, so nothing on it needs undoing.
  const memory = await inPhase("before-cot", async () => {
    await steps.run("fsp-secure-boot", () => waitSecureBoot(ctx));
    return await steps.run("fmc-boot-args", () => {
      registerFlushPage(ctx, memoryScope);
      return allocateFspBootMemory({
        device,
        chip: ctx.chip,
        firmware: ctx.firmware,
        fbSize: usableFbSize(ctx),
        libosArgsAddress: ctx.bootArgs.address,
        signal: ctx.signal,
      }, memoryScope);
    });
  });

  // cot-send: from the first EMEM write on, a function reset undoes it.
  await using sendScope = new AsyncDisposableStack();
  sendScope.use(new FunctionReset(hw, unloadContext));
  await inPhase("cot-send", async () => {
    await steps.run("fsp-cot-send", () => Promise.resolve(sendCot(ctx, queue, memory)));
    await steps.run("fsp-cot-response", () => receiveCotResponse(ctx, queue));
  });

  // after-response: the GSP-FMC runs: wait for the GSP to halt, then reset its falcon
  // (then the function reset above).
  await using runScope = new AsyncDisposableStack();
  runScope.use(new GspFalconReset(hw, unloadContext));
  runScope.use(new GspHaltWait(hw, unloadContext));
  const wpr2 = await inPhase("after-response", () =>
    steps.run("lockdown-release", async () => {
      await waitLockdownRelease(
        { bar: device.bar0, clock: device.clock, gsp: gsp.registers, signal: ctx.signal },
        memory.bootParams.iova,
      );
      const wpr2 = readWpr2(device.bar0, regs);
      if (!wpr2) throw new Error("WPR2 is not set after the GSP-FMC released the lockdown");
      return { ...wpr2, detail: `WPR2 ${hex(wpr2.start)}..${hex(wpr2.end)}` };
    }));

  // Success: the scopes move, in the order they were opened, into one stack that unwinds the
  // same way: the run scope's undo first, the function reset, the memory last.
  const handed = new AsyncDisposableStack();
  handed.use(memoryScope.move());
  handed.use(sendScope.move());
  handed.use(runScope.move());
  return new Gh100Booted(
    handed,
    { start: wpr2.start, end: wpr2.end },
    ctx.firmware.bootloader.descriptor.appVersion,
    unloadContext,
  );
}

/**
 * The GH100 boot HAL (Hopper; Blackwell where `fsp_family.ts` has its facts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GH100_GSP_HAL } from "./hal_gh100.ts";
 * assert.equal(GH100_GSP_HAL.cpuSequencer, false);
 * ```
 */
export const GH100_GSP_HAL: GspHal = Object.freeze({
  name: "gh100",
  cpuSequencer: false,
  boot: bootGh100,
});

/**
 * Unload a GSP-RM that another process booted on a Hopper GPU and left
 * running, without its queues (see `unload.ts` for why no RPC is sent):
 * the `after-response` undo of a boot, whose memory is gone with that
 * process: `gsp-halt` is skipped (nobody asked GSP-RM to stop), the GSP
 * falcon reset stops it (`falcon-reset`), and a function-level reset
 * (`function-reset`) hands the GPU back to the FSP, which clears WPR2. A
 * GPU whose WPR2 is clear has nothing to unload.
 *
 * @param ctx Device, registers, GSP falcon, steps, signal.
 * @throws {GspBootError} Naming the step that failed, the others attached.
 */
export async function unloadLeftoverGh100(
  ctx: Pick<GspBootContext, "device" | "regs" | "gsp" | "steps" | "signal">,
): Promise<void> {
  const { device, regs, gsp, steps } = ctx;
  const wpr2 = readWpr2(device.bar0, regs);
  if (!wpr2) {
    log.info("WPR2 is not set: no GSP-RM to unload");
    return;
  }
  const hw: Gh100Hardware = { device, regs, gsp };
  const context: UnloadContext = { steps, signal: ctx.signal };
  await using stack = new AsyncDisposableStack();
  stack.use(new FunctionReset(hw, context));
  stack.use(new GspFalconReset(hw, context));
}
