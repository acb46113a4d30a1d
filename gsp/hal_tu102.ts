/**
 * The boot HAL of the TU102 family (Turing, GA100, GA10x, Ada: the SEC2
 * path), reference §3.0–3.11 with NVIDIA's corrections (§12–13):
 *
 * 1. `gfw-boot`: wait for devinit (PLM bit 0, progress 0xff; every 1 ms, 4 s);
 * 2. `wpr2-check`: a GPU whose WPR2 is already set is refused ("GPU needs
 *    reset") before anything is written;
 * 3. `sysmem-flush`: the sysmem flush page, registered before any falcon reset;
 * 4. `vbios`: FWSEC read out of the PROM, only the images the parser needs;
 * 5. `fwsec-frts`: the FB layout, FWSEC-FRTS on the GSP falcon (through the
 *    generic bootloader on Turing and GA100), its error in `SW_SCRATCH(0xe)`,
 *    and WPR2 at the FRTS region; skipped on GA100 (no FRTS);
 * 6. `gsp-image`: the GSP-RM image and its radix3 tables, the bootloader,
 *    the signature and the WPR meta in DMA memory;
 * 7. `booter-load`: the GSP reset into RISC-V with the LibOS arguments'
 *    address in MBOX0/1 (as NVIDIA does, §13), then Booter-load on SEC2
 *    with the WPR meta's address; SEC2's MBOX0 decoded.
 *
 * The unload bundle (FWSEC-SB patched, Booter-unload patched) is built
 * before the first falcon runs. Every resource is its own `using` line on
 * one `AsyncDisposableStack`: the flush page, the DMA buffers, the falcons'
 * reset state and WPR2 (which runs the bundle: FWSEC-SB, then Booter-unload
 * when WPR2 is set). A failure unwinds them here, in reverse; success moves
 * them into the returned {@linkcode HalBooted}.
 *
 * @example Which chips this HAL boots, and its GFW-boot wait (reference §8)
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipByName } from "../chips/chips.ts";
 * import { bootsWithTu102Hal, GFW_BOOT_WAIT, TU102_GSP_HAL } from "./hal_tu102.ts";
 * assert.equal(TU102_GSP_HAL.name, "tu102");
 * assert(["tu102", "tu116", "ga100", "ga102", "ad102"].every((c) => bootsWithTu102Hal(chipByName(c)!)));
 * assert(!bootsWithTu102Hal(chipByName("gh100")!));
 * assert.deepEqual(GFW_BOOT_WAIT, { intervalMs: 1, timeoutMs: 4000 });
 * ```
 *
 * `tests/hal_tu102_test.ts` drives the HAL alone on simulated GPUs.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { ChipInfo } from "../chips/chips.ts";
import { familyOf } from "../chips/chips.ts";
import { type BooterFirmware, booterLoadMap, patchBooter } from "../firmware/booter.ts";
import { extractFwsec, type FwsecFirmware } from "../firmware/fwsec/extract.ts";
import { GSP_PAGE_SIZE as PAGE } from "../firmware/radix3.ts";
import type { Falcon } from "../falcon/falcon.ts";
import { GpuStoppedAnsweringError } from "../falcon/gpu_stopped_answering.ts";
import { loadGspFirmwareMemory } from "./_gsp_firmware_memory.ts";
import type { Device, DmaBuffer } from "../pci/device.ts";
import { pollValue, writeBarrier } from "../pci/mmio.ts";
import type { ChipRegisters } from "../registers/bind.ts";
import {
  describeBooterMailbox,
  describeFrtsError,
  describeGfwBootProgress,
  describeSbError,
} from "../registers/boot_codes.ts";
import { HardwareTimeoutError } from "../errors.ts";
import { type PreparedFwsec, prepareFwsec } from "./_fwsec.ts";
import {
  clearSysmemFlush,
  hex,
  readChecked,
  readFbInputs,
  readWpr2,
  SysmemFlushPage,
} from "./_hw.ts";
import { GspBootError, HardwareCodeError } from "./boot_steps.ts";
import { PromSource } from "./prom_source.ts";
import { computeFbLayout, type FbLayout } from "./fb_layout.ts";
import type { GspBootContext, GspHal, HalBooted, UnloadContext } from "./hal.ts";
import { buildWprMeta } from "./wpr_meta.ts";

const log = getLogger(["falconry", "gsp", "hal_tu102"]);

/** GFW boot wait (reference §8: every 1 ms, 4 s). */
export const GFW_BOOT_WAIT = { intervalMs: 1, timeoutMs: 4000 } as const;
/** MAILBOX0/1 Booter-unload starts with (a sentinel, §6.2). */
const BOOTER_UNLOAD_SENTINEL = 0xff;

// -------------------------------------------------------------------------------------------------
// The unload bundle

/** Everything the unload needs, built at boot time (firmware may not be loadable at shutdown). */
interface Tu102UnloadBundle {
  readonly fwsecSb: PreparedFwsec;
  readonly booterUnload: BooterFirmware;
}

/** The GPU's handles the bundle runs with. */
interface Tu102Hardware {
  readonly device: Device;
  readonly regs: ChipRegisters;
  readonly gsp: Falcon;
  readonly sec2: Falcon;
}

/** FWSEC-SB (§6.2 step 1): MBOX0 0, and `SW_SCRATCH(0x15)` 15:0 = 0 (§13). */
async function runFwsecSb(hw: Tu102Hardware, bundle: Tu102UnloadBundle, signal?: AbortSignal) {
  const mailbox0 = await bundle.fwsecSb.run(signal);
  if (mailbox0 !== 0) {
    throw new HardwareCodeError(`FWSEC-SB halted with GSP MAILBOX0 ${hex(mailbox0)}`, {
      code: mailbox0,
    });
  }
  const sb = hw.regs.PBUS.SW_SCRATCH_15_SB_ERR;
  const code = sb.decode(readChecked(hw.device.bar0, sb)).SB_ERR_CODE;
  if (code !== 0) {
    throw new HardwareCodeError(`FWSEC-SB reported SW_SCRATCH(0x15) ${describeSbError(code)}`, {
      code,
    });
  }
}

/** Reset SEC2, patch (fuse-selected signature), load and run a Booter image; its MBOX0. */
async function runBooter(
  hw: Tu102Hardware,
  booter: BooterFirmware,
  mailboxes: { mailbox0: number; mailbox1: number },
  signal?: AbortSignal,
): Promise<number> {
  const { sec2 } = hw;
  await sec2.reset({ signal });
  const p = booter.signatureParams;
  const { image, brom } = patchBooter(booter, sec2.signatureFuseVersion(p.engineIdMask, p.ucodeId));
  const map = booterLoadMap(booter, { layout: sec2.hal.info.booterLayout });
  await sec2.load(image, map, { brom, signal });
  const { mailbox0 } = await sec2.run({ ...mailboxes, signal });
  return mailbox0;
}

/** Booter-unload (§6.2 step 2) when WPR2 is set: MBOX0/1 = 0xff, MBOX0 must be 0, WPR2 gone. */
async function runBooterUnload(
  hw: Tu102Hardware,
  bundle: Tu102UnloadBundle,
  signal?: AbortSignal,
): Promise<{ detail: string }> {
  const before = readWpr2(hw.device.bar0, hw.regs);
  if (!before) return { detail: "WPR2 not set: nothing to unload" };
  const mailbox0 = await runBooter(hw, bundle.booterUnload, {
    mailbox0: BOOTER_UNLOAD_SENTINEL,
    mailbox1: BOOTER_UNLOAD_SENTINEL,
  }, signal);
  if (mailbox0 !== 0) {
    throw new HardwareCodeError(
      `Booter-unload halted with SEC2 MAILBOX0 ${describeBooterMailbox(mailbox0)}`,
      { code: mailbox0 },
    );
  }
  const after = readWpr2(hw.device.bar0, hw.regs);
  if (after) {
    throw new Error(
      `WPR2 is still set after Booter-unload (${hex(after.start)}..${hex(after.end)})`,
    );
  }
  return { detail: `WPR2 ${hex(before.start)}..${hex(before.end)} released` };
}

/**
 * WPR2 as a resource: disposing it runs the unload bundle, FWSEC-SB then
 * Booter-unload (when WPR2 is set); a FWSEC-SB failure does not stop
 * Booter-unload, and both failures are kept.
 */
class Wpr2Guard implements AsyncDisposable {
  readonly #hw: Tu102Hardware;
  readonly #bundle: Tu102UnloadBundle | undefined;
  readonly context: UnloadContext;

  constructor(hw: Tu102Hardware, bundle: Tu102UnloadBundle | undefined, context: UnloadContext) {
    this.#hw = hw;
    this.#bundle = bundle;
    this.context = context;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const bundle = this.#bundle;
    const { steps, signal } = this.context;
    if (!bundle) {
      if (readWpr2(this.#hw.device.bar0, this.#hw.regs)) {
        throw new GspBootError(
          "booter-unload",
          new Error("no unload bundle was built: WPR2 stays set and the GPU needs a reset"),
        );
      }
      return;
    }
    let first: unknown;
    try {
      await steps.run("fwsec-sb", () => runFwsecSb(this.#hw, bundle, signal));
    } catch (e) {
      first = e; // §6.2: logged, and Booter-unload still runs
    }
    try {
      await steps.run("booter-unload", () => runBooterUnload(this.#hw, bundle, signal));
    } catch (e) {
      if (first === undefined) throw e;
      throw new SuppressedError(e, first, "FWSEC-SB and Booter-unload both failed");
    }
    if (first !== undefined) throw first;
  }
}

/** The falcons left reset at the end of an unload, so no firmware keeps running. */
class FalconsReset implements AsyncDisposable {
  readonly #hw: Tu102Hardware;
  readonly #context: UnloadContext;

  constructor(hw: Tu102Hardware, context: UnloadContext) {
    this.#hw = hw;
    this.#context = context;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#context.steps.run("falcon-reset", async () => {
      let failed: unknown;
      for (const falcon of [this.#hw.sec2, this.#hw.gsp]) {
        try {
          await falcon.reset();
        } catch (e) {
          failed ??= e;
        }
      }
      if (failed !== undefined) throw failed;
    });
  }
}

// -------------------------------------------------------------------------------------------------
// The boot

/** The running state after a TU102-family boot. */
class Tu102Booted implements HalBooted {
  readonly wpr2: { readonly start: number; readonly end: number };
  readonly osVersion: number;
  readonly hasUnloadBundle: boolean;
  readonly unloadContext: UnloadContext;
  readonly #stack: AsyncDisposableStack;

  constructor(
    stack: AsyncDisposableStack,
    init: Omit<HalBooted, typeof Symbol.asyncDispose>,
  ) {
    this.#stack = stack;
    this.wpr2 = init.wpr2;
    this.osVersion = init.osVersion;
    this.hasUnloadBundle = init.hasUnloadBundle;
    this.unloadContext = init.unloadContext;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#stack.disposeAsync();
  }
}

/** The GFW boot wait: PLM bit 0 and the progress byte 0xff. */
async function waitGfwBoot(ctx: GspBootContext): Promise<{ detail: string }> {
  const bar = ctx.device.bar0;
  const plm = ctx.regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK;
  const progress = ctx.regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
  let last = 0;
  const done = () => {
    if (plm.decode(readChecked(bar, plm)).READ_PROTECTION_LEVEL0 !== 1) return 0;
    last = progress.decode(readChecked(bar, progress)).PROGRESS;
    return last === 0xff ? 1 : 0;
  };
  try {
    await pollValue(done, (v) => v === 1, {
      ...GFW_BOOT_WAIT,
      clock: ctx.device.clock,
      signal: ctx.signal,
      name: `${progress.name} PROGRESS`,
    });
  } catch (e) {
    if (!(e instanceof HardwareTimeoutError)) throw e;
    throw new HardwareCodeError(
      `GFW boot did not complete in ${GFW_BOOT_WAIT.timeoutMs} ms: progress ${
        describeGfwBootProgress(last)
      }`,
      { code: last, cause: e },
    );
  }
  return { detail: "devinit done" };
}

/** Refuse a GPU whose WPR2 is set: it holds an earlier boot's GSP-RM. Reads only. */
function checkWpr2Clear(ctx: GspBootContext): { detail: string } {
  const wpr2 = readWpr2(ctx.device.bar0, ctx.regs);
  if (wpr2) {
    throw new Error(
      `WPR2 is already set (${hex(wpr2.start)}..${hex(wpr2.end)}): the GPU needs reset ` +
        "(an earlier boot left GSP-RM running): run reset.ts or boot --recover, or recover() in code",
    );
  }
  return { detail: "WPR2 clear" };
}

/** FWSEC out of the PROM; a parse failure on a GPU that stopped answering says so. */
function readFwsec(
  ctx: Pick<GspBootContext, "device" | "chip" | "regs">,
): { fwsec: FwsecFirmware; detail: string } {
  const prom = new PromSource(ctx.device.bar0, ctx.chip);
  let fwsec: FwsecFirmware;
  try {
    fwsec = extractFwsec(prom);
  } catch (e) {
    const boot0 = ctx.regs.PMC.BOOT_0;
    const value = boot0.readRaw(ctx.device.bar0);
    if (value === 0xffffffff || (value & 0xfff00000) >>> 0 === 0xbad00000) {
      throw new GpuStoppedAnsweringError(boot0.name, value);
    }
    throw e;
  }
  const d = fwsec.descriptor;
  const detail = `FWSEC v${d.descriptorVersion}${
    fwsec.vbiosVersion ? ` from VBIOS ${fwsec.vbiosVersion}` : ""
  }, ${prom.bytesRead} PROM bytes read`;
  lastPromBytes.set(ctx.device, prom.bytesRead);
  return { fwsec, detail };
}

/** PROM bytes the last `vbios` step read on a device (for the P3 measure). */
export const lastPromBytes: WeakMap<object, number> = new WeakMap();

/** FWSEC-FRTS, its error code, and WPR2 at the FRTS region. */
async function runFwsecFrts(
  ctx: GspBootContext,
  hw: Tu102Hardware,
  frts: PreparedFwsec,
  layout: FbLayout,
): Promise<{ detail: string }> {
  const mailbox0 = await frts.run(ctx.signal);
  if (mailbox0 !== 0) {
    throw new HardwareCodeError(`FWSEC-FRTS halted with GSP MAILBOX0 ${hex(mailbox0)}`, {
      code: mailbox0,
    });
  }
  const scratch = ctx.regs.PBUS.SW_SCRATCH_0E_FRTS_ERR;
  const code = scratch.decode(readChecked(hw.device.bar0, scratch)).FRTS_ERR_CODE;
  if (code !== 0) {
    throw new HardwareCodeError(
      `FWSEC-FRTS reported SW_SCRATCH(0xe) error ${describeFrtsError(code)}`,
      { code },
    );
  }
  const wpr2 = readWpr2(hw.device.bar0, ctx.regs);
  if (!wpr2 || wpr2.start !== layout.frts.start) {
    throw new Error(
      `WPR2 is ${wpr2 ? `${hex(wpr2.start)}..${hex(wpr2.end)}` : "not set"} after FWSEC-FRTS; ` +
        `expected it at the FRTS region ${hex(layout.frts.start)}..${hex(layout.frts.end)}`,
    );
  }
  return { detail: `WPR2 ${hex(wpr2.start)}..${hex(wpr2.end)} (FRTS)` };
}

/** DMA memory the boot hands to Booter and GSP-RM; each buffer is its own resource. */
interface GspImageMemory {
  readonly wprMeta: DmaBuffer;
  readonly detail: string;
}

async function loadGspImageMemory(
  ctx: GspBootContext,
  stack: AsyncDisposableStack,
  layout: FbLayout,
): Promise<GspImageMemory> {
  const { device, firmware } = ctx;
  const memory = await loadGspFirmwareMemory(device, firmware, stack, ctx.signal);
  const wprMeta = stack.use(device.dma.alloc(256, { align: PAGE }));
  wprMeta.bytes.set(buildWprMeta(layout, memory));
  writeBarrier();
  return {
    wprMeta,
    detail:
      `${firmware.gspImage.imageSize} bytes, ${memory.tablePages} radix3 pages, WPR meta at ` +
      hex(wprMeta.iova),
  };
}

/** Reset the GSP into RISC-V with the LibOS args in MBOX0/1, then Booter-load on SEC2. */
async function runBooterLoad(
  ctx: GspBootContext,
  hw: Tu102Hardware,
  wprMeta: DmaBuffer,
): Promise<{ wpr2: { start: number; end: number }; detail: string }> {
  const { gsp, firmware } = ctx;
  await gsp.resetToRiscv({ signal: ctx.signal });
  const [mailbox0, mailbox1] = ctx.bootArgs.mailboxes;
  gsp.writeMailboxes({ mailbox0, mailbox1 });
  const booter = firmware.booterLoad;
  if (!booter) throw new Error(`the ${ctx.chip.name} firmware set has no booter_load`);
  const result = await runBooter(hw, booter, {
    mailbox0: Number(wprMeta.iova & 0xffff_ffffn),
    mailbox1: Number(wprMeta.iova >> 32n),
  }, ctx.signal);
  if (result !== 0) {
    throw new HardwareCodeError(
      `Booter-load halted with SEC2 MAILBOX0 ${describeBooterMailbox(result)}`,
      { code: result },
    );
  }
  const wpr2 = readWpr2(hw.device.bar0, ctx.regs);
  if (!wpr2) throw new Error("WPR2 is not set after Booter-load");
  return { wpr2, detail: `WPR2 ${hex(wpr2.start)}..${hex(wpr2.end)}` };
}

/** Build the unload bundle; a failure only logs (nova-core: boot goes on without one). */
function buildUnloadBundle(
  ctx: Pick<GspBootContext, "device" | "gsp" | "firmware">,
  fwsec: FwsecFirmware,
): Tu102UnloadBundle | undefined {
  try {
    const booterUnload = ctx.firmware.booterUnload;
    if (!booterUnload) throw new Error("no booter_unload in the firmware set");
    const fwsecSb = prepareFwsec({
      device: ctx.device,
      gsp: ctx.gsp,
      fwsec,
      genBootloader: ctx.firmware.genBootloader,
    });
    return { fwsecSb, booterUnload };
  } catch (e) {
    log.warn("no unload bundle ({error}): the GPU will need a reset after this boot", {
      error: e instanceof Error ? e.message : String(e),
    });
    return undefined;
  }
}

async function bootTu102(ctx: GspBootContext): Promise<HalBooted> {
  const { device, regs, gsp, sec2, steps, chip } = ctx;
  const hw: Tu102Hardware = { device, regs, gsp, sec2 };
  const unloadContext: UnloadContext = { steps };

  await steps.run("gfw-boot", () => waitGfwBoot(ctx));
  await steps.run("wpr2-check", () => Promise.resolve(checkWpr2Clear(ctx)));

  await using stack = new AsyncDisposableStack();
  await steps.run("sysmem-flush", () => {
    const page = stack.use(new SysmemFlushPage(device.bar0, regs, device.dma));
    return Promise.resolve({ detail: `page at ${hex(page.page.iova)}` });
  });
  const { fwsec } = await steps.run("vbios", () => Promise.resolve(readFwsec(ctx)));

  // The GSP image memory outlives the falcons' last run: freed after they are reset.
  const { layout, memory } = await steps.run("gsp-image", async () => {
    const layout = computeFbLayout({
      chip,
      ...readFbInputs(device.bar0, regs, chip),
      gspImageSize: ctx.firmware.gspImage.imageSize,
      bootloaderSize: ctx.firmware.bootloader.ucode.length,
    });
    const memory = await loadGspImageMemory(ctx, stack, layout);
    return { layout, memory, detail: memory.detail };
  });

  // The falcons' reset state, then WPR2 (the unload bundle): unwound first.
  stack.use(new FalconsReset(hw, unloadContext));
  const bundle = buildUnloadBundle(ctx, fwsec);
  stack.use(new Wpr2Guard(hw, bundle, unloadContext));

  if (familyOf(chip).frtsSize > 0) {
    await steps.run("fwsec-frts", () => {
      const frts = prepareFwsec(
        { device, gsp, fwsec, genBootloader: ctx.firmware.genBootloader },
        { frtsOffset: layout.frts.start, frtsSize: layout.frts.size },
      );
      return runFwsecFrts(ctx, hw, frts, layout);
    });
  }
  const { wpr2 } = await steps.run("booter-load", () => runBooterLoad(ctx, hw, memory.wprMeta));

  return new Tu102Booted(stack.move(), {
    wpr2,
    osVersion: ctx.firmware.bootloader.descriptor.appVersion,
    hasUnloadBundle: bundle !== undefined,
    unloadContext,
  });
}

/** The TU102-family boot HAL. */
export const TU102_GSP_HAL: GspHal = Object.freeze({
  name: "tu102",
  boot: bootTu102,
});

/** The chips this HAL boots. */
export function bootsWithTu102Hal(chip: ChipInfo): boolean {
  return familyOf(chip).bootPath === "sec2";
}

/**
 * Unload a GSP-RM that another process booted and left running, without
 * its queues (see `unload.ts` for why): stop the GSP by force (a falcon
 * reset halts GSP-RM), read FWSEC from the PROM, then the unload bundle
 * (FWSEC-SB, Booter-unload) and the falcon resets, as after a boot.
 *
 * @param ctx Device, chip, falcons, firmware, steps, signal.
 * @throws {GspBootError} Naming the step that failed.
 */
export async function unloadLeftoverTu102(
  ctx: Omit<GspBootContext, "bootArgs">,
): Promise<void> {
  const { device, regs, gsp, sec2, steps } = ctx;
  const hw: Tu102Hardware = { device, regs, gsp, sec2 };
  const wpr2 = readWpr2(device.bar0, regs);
  if (!wpr2) {
    log.info("WPR2 is not set: no GSP-RM to unload");
    return;
  }
  const { fwsec } = await steps.run("vbios", () => Promise.resolve(readFwsec(ctx)));
  const unloadContext: UnloadContext = { steps, signal: ctx.signal };
  await using stack = new AsyncDisposableStack();
  // Last: the flush page the earlier process registered points at memory that is gone.
  stack.defer(async () => {
    await steps.run("sysmem-flush", () => {
      const low = clearSysmemFlush(device.bar0, regs);
      return Promise.resolve({
        detail: low ? `unregistered ${hex(BigInt(low) << 8n)}` : "none registered",
      });
    });
  });
  stack.use(new FalconsReset(hw, unloadContext));
  const bundle = buildUnloadBundle({ ...ctx, gsp }, fwsec);
  if (!bundle) throw new GspBootError("fwsec-sb", new Error("the unload bundle cannot be built"));
  stack.use(new Wpr2Guard(hw, bundle, unloadContext));
  await steps.run("gsp-suspend", async () => {
    await gsp.reset({ signal: ctx.signal });
    return {
      detail: "GSP falcon reset (GSP-RM's queues belonged to the process that booted it)",
    };
  });
}
