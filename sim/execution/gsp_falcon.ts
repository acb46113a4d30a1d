/**
 * What the GSP falcon runs when the host starts its CPU: FWSEC, from the
 * GPU's own PROM, checked by the boot ROM and then run (reference §3.3–3.5,
 * §6.2, §13), or nothing at all.
 *
 * 1. IMEM never written since the reset: the CPU halts at once and leaves
 *    the mailboxes as they were (the empty start/halt cycle drivers do
 *    before Booter, and the CPU sequencer's CORE_START).
 * 2. A start on the RISC-V core: only Booter starts GSP-RM, so the core
 *    halts with `HS_ERROR.unknownImage`.
 * 3. Turing and GA100: when the top of IMEM holds PIO-written code, the
 *    generic bootloader runs first (`runGenBootloader`) and DMAs FWSEC in.
 * 4. The loaded code must be the PROM's FWSEC (`identifyLoadedImage`), or the
 *    falcon halts with `unknownImage`; then the boot ROM's check
 *    (`checkHsImage`, with the signature fuse the BROM registers name) halts
 *    it with that rule's MBOX0.
 * 5. FWSEC runs its command (`runFwsec`) for `fwsecFrtsMs` (~0.1 s):
 *    - FRTS: WPR2 LO/HI set to the region and `SW_SCRATCH(0xe)` 31:16 = 0;
 *      a refusal (WPR2 already set, a bad region, an unpatched mapper) sets
 *      the error code there instead. MBOX0 is 0 either way.
 *    - SB: `NV_PBUS_VBIOS_SCRATCH(0x15)` 15:0 = 0, the GSP back in its
 *      pre-LibOS state (GSP-RM, if any, is gone; MBOX0/1 = 0).
 *
 * Fault points: `fwsec-error-code`, `fwsec-hang`, `fwsec-wpr2-unset`
 * (`faults.ts`).
 *
 * @example An empty GSP falcon halts at once
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../simulated_gpu.ts";
 * import { falconRegisters } from "../../registers/bind.ts";
 * await using gpu = new SimulatedGpu({ chip: "tu102" });
 * const r = falconRegisters("tu102", "GSP");
 * gpu.bar0.write32(r.MAILBOX0.address, 0x1234);
 * gpu.bar0.write32(r.CPUCTL.address, r.CPUCTL.encode({ STARTCPU: 1 }));
 * assert.equal(r.CPUCTL.read(gpu.bar0).HALTED, 1);
 * assert.equal(r.MAILBOX0.readRaw(gpu.bar0), 0x1234);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { falconHalOf } from "../../chips/chips.ts";
import { chipRegisters } from "../../registers/bind.ts";
import type { FalconOutcome, FalconStart } from "../falcon.ts";
import { runGenBootloader } from "../acceptance/gen_bootloader_run.ts";
import { checkHsImage, type LoadedFalcon } from "../acceptance/hs_image.ts";
import { identifyLoadedImage } from "../acceptance/recognise.ts";
import { runFwsec } from "../acceptance/fwsec_run.ts";
import { HS_ERROR } from "../acceptance/verdict.ts";
import { signatureFuseRegister } from "../acceptance/fuse_version.ts";
import { hasBromParams } from "../acceptance/_chip.ts";
import { type ExecutionContext, firing, halt } from "./context.ts";
import { DEFAULT_FWSEC_FAULT_CODE } from "./faults.ts";
import type { GspRmHost } from "./gsp_rm_host.ts";

const log = getLogger(["falconry", "sim", "execution", "gsp_falcon"]);

/**
 * The falcon as the boot ROM sees it, with the signature fuse the BROM
 * registers name (GA102+; 0 on chips that read none).
 *
 * @param ctx The chip.
 * @param start The start.
 * @returns What `checkHsImage` takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadedFalconOf } from "./gsp_falcon.ts";
 * import { SimulatedGpu } from "../simulated_gpu.ts";
 * await using gpu = new SimulatedGpu({ chip: "tu102" });
 * const start = { imem: new Uint8Array(4), imemBlocks: [], dmem: new Uint8Array(4),
 *   dmemMethod: "pio", bootVector: 0 } as never;
 * assert.equal(loadedFalconOf(gpu.execution, start).signatureFuse, 0);
 * ```
 */
export function loadedFalconOf(ctx: ExecutionContext, start: FalconStart): LoadedFalcon {
  let signatureFuse = 0;
  if (hasBromParams(ctx.chip.chipsetId) && start.brom) {
    const address = signatureFuseRegister(start.brom.engineIdMask, start.brom.ucodeId);
    if (address !== undefined) signatureFuse = ctx.readRegister(address);
  }
  return {
    imem: start.imem,
    imemBlocks: start.imemBlocks,
    dmem: start.dmem,
    dmemMethod: start.dmemMethod,
    bootVector: start.bootVector,
    ...(start.brom ? { brom: start.brom } : {}),
    signatureFuse,
  };
}

/**
 * Whether nothing was written to IMEM since the last reset.
 *
 * @param start The start.
 * @returns `true` for an empty IMEM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { imemEmpty } from "./gsp_falcon.ts";
 * assert(imemEmpty({ imemBlocks: [undefined, undefined] } as never));
 * ```
 */
export function imemEmpty(start: Pick<FalconStart, "imemBlocks">): boolean {
  return start.imemBlocks.every((b) => b === undefined);
}

/**
 * Run a GSP falcon start.
 *
 * @param ctx The chip.
 * @param gspRm GSP-RM (FWSEC-SB ends it).
 * @param start What the falcon holds.
 * @returns What happens.
 */
export function runGspFalcon(
  ctx: ExecutionContext,
  gspRm: GspRmHost,
  start: FalconStart,
): FalconOutcome {
  if (imemEmpty(start)) return halt(start.mailbox0, { mailbox1: start.mailbox1 });
  const refuse = (code: number, reason: string) => {
    log.info("GSP falcon halts with 0x{code}: {reason}", { code: code.toString(16), reason });
    return halt(code);
  };
  if (start.core === "riscv") {
    return refuse(HS_ERROR.unknownImage, "a host start of the RISC-V core (only Booter starts it)");
  }
  const fwsec = ctx.fwsec();
  if (!fwsec || fwsec.kind !== "fwsec") {
    return refuse(HS_ERROR.unknownImage, "the PROM holds no FWSEC");
  }
  let loaded = loadedFalconOf(ctx, start);
  if (falconHalOf(ctx.chip).fwsecNeedsBootloader && topBlockWritten(start)) {
    const gen = ctx.firmware.genBootloader();
    if (!gen) return refuse(HS_ERROR.unknownImage, "no generic bootloader file is known");
    const ran = runGenBootloader({
      falcon: loaded,
      bootloader: { ...gen.parsed.descriptor, code: gen.parsed.code },
      transcfg: start.transcfg,
      dma: ctx.dma,
    });
    if (!ran.ok) return refuse(ran.mbox0, ran.reason);
    loaded = ran.falcon;
  }
  if (!identifyLoadedImage(loaded.imem, [fwsec])) {
    return refuse(HS_ERROR.unknownImage, "IMEM holds no code the simulator knows");
  }
  const hs = checkHsImage(fwsec, loaded, ctx.chip.chipsetId);
  if (!hs.ok) return refuse(hs.mbox0, hs.reason);
  if (firing(ctx.faults, "fwsec-hang", "FWSEC never halts")) return { kind: "hang" };

  const d = fwsec.fwsec.descriptor;
  const display = chipRegisters(ctx.chip);
  const unset = ctx.faults.armed("fwsec-wpr2-unset") !== undefined;
  const run = runFwsec({
    dmem: loaded.dmem,
    interfaceOffset: d.dmemPhysBase + d.interfaceOffset,
    wpr2: ctx.wpr2(),
    fbSize: ctx.model.fbSize,
    displayFuse: ctx.readRegister(display.FUSE.STATUS_OPT_DISPLAY.address),
    vgaWorkspaceRegister: ctx.readRegister(display.PDISP.VGA_WORKSPACE_BASE.address),
    ...(unset ? { fault: "wpr2-unset" as const } : {}),
  });
  const afterMs = ctx.latency.fwsecFrtsMs;
  if (!run.ok) {
    log.info("FWSEC refuses: {reason}", { reason: run.reason });
    return halt(run.mbox0, {
      afterMs,
      effect: () => ctx.pbus.setFrtsError(run.frtsError ?? 0),
    });
  }
  if (run.command === "sb") {
    return halt(0, {
      afterMs,
      mailbox1: 0,
      effect: () => {
        ctx.pbus.setSbError(run.sbError);
        gspRm.end("FWSEC-SB returned the GSP to its pre-LibOS state");
      },
    });
  }
  const forced = ctx.faults.armed("fwsec-error-code");
  if (forced) {
    const code = typeof forced.code === "number" ? forced.code : DEFAULT_FWSEC_FAULT_CODE;
    ctx.faults.fired("fwsec-error-code", `FRTS reports 0x${code.toString(16)}`);
    return halt(0, { afterMs, effect: () => ctx.pbus.setFrtsError(code & 0xffff) });
  }
  const wpr2 = run.wpr2;
  if (!wpr2) ctx.faults.fired("fwsec-wpr2-unset", "FRTS accepted the region, WPR2 left unset");
  return halt(0, {
    afterMs,
    effect: () => {
      if (wpr2) ctx.pfb.setWpr2Registers(wpr2);
      ctx.pbus.setFrtsError(0);
    },
  });
}

/** The generic bootloader sits at the top of IMEM: is the last block written? */
function topBlockWritten(start: FalconStart): boolean {
  return start.imemBlocks[start.imemBlocks.length - 1] !== undefined;
}
