/**
 * What the SEC2 falcon runs when the host starts its CPU: Booter-load or
 * Booter-unload, checked by the boot ROM and then run (reference §3.7–3.9,
 * §6.1–6.2), SEC2-RTOS resuming GSP-RM (the CPU sequencer's CORE_RESUME),
 * or nothing.
 *
 * 1. GSP-RM waits for CORE_RESUME: this start is the sequencer's "start
 *    SEC2", and SEC2-RTOS reloads GSP-RM (`GspRmHost.resumeThroughSec2`).
 * 2. IMEM never written since the reset: the CPU halts at once, mailboxes
 *    untouched. A start on the RISC-V core halts with `unknownImage`.
 * 3. The loaded code must be one of the known Booters
 *    (`identifyLoadedImage`), then pass the boot ROM's check
 *    (`checkHsImage`; the signature fuse from the BROM registers on GA102+).
 * 4. Booter-load (`checkBooterLoad`: WPR2 from FRTS, the WPR meta at the IOVA
 *    in MBOX0/1, the FB layout, the radix3 walk with a hash of the image, the
 *    bootloader and signature blobs): a rejection halts at once with its
 *    MBOX0; success, after `booterLoadMs` (~35 ms), sets WPR2 to the meta's
 *    bounds, starts GSP-RM with the GSP's RISC-V core active, and halts with
 *    MBOX0 = 0.
 * 5. Booter-unload (`checkBooterUnload`): GSP-RM must be suspended (GSP
 *    MBOX0 bit 31) or halted; success clears WPR2, ends GSP-RM and halts
 *    with MBOX0 = 0.
 *
 * Fault points: `booter-bad-signature`, `booter-timeout`,
 * `riscv-never-active` (`faults.ts`).
 *
 * @example A start of an unknown image
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../simulated_gpu.ts";
 * import { HS_ERROR } from "../acceptance/verdict.ts";
 * import { falconRegisters } from "../../registers/bind.ts";
 * await using gpu = new SimulatedGpu({ chip: "tu102" });
 * const r = falconRegisters("tu102", "SEC2");
 * gpu.bar0.write32(r.IMEMC.at(0).address, r.IMEMC.encode({ AINCW: 1 }));
 * for (let i = 0; i < 64; i++) gpu.bar0.write32(r.IMEMD.at(0).address, i);
 * gpu.bar0.write32(r.CPUCTL.address, r.CPUCTL.encode({ STARTCPU: 1 }));
 * assert.equal(r.MAILBOX0.readRaw(gpu.bar0), HS_ERROR.unknownImage);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { FalconOutcome, FalconStart } from "../falcon.ts";
import { checkBooterLoad } from "../acceptance/booter_load.ts";
import { checkBooterUnload } from "../acceptance/booter_unload.ts";
import { checkHsImage } from "../acceptance/hs_image.ts";
import { identifyLoadedImage } from "../acceptance/recognise.ts";
import { HS_ERROR } from "../acceptance/verdict.ts";
import { chipRegisters } from "../../registers/bind.ts";
import { type ExecutionContext, firing, halt } from "./context.ts";
import { imemEmpty, loadedFalconOf } from "./gsp_falcon.ts";
import type { GspRmHost } from "./gsp_rm_host.ts";

const log = getLogger(["falconry", "sim", "execution", "sec2_falcon"]);

/**
 * Run a SEC2 falcon start.
 *
 * @param ctx The chip.
 * @param gspRm GSP-RM (Booter-load starts it, Booter-unload ends it, SEC2-RTOS resumes it).
 * @param start What the falcon holds.
 * @returns What happens.
 */
export function runSec2Falcon(
  ctx: ExecutionContext,
  gspRm: GspRmHost,
  start: FalconStart,
): FalconOutcome {
  if (gspRm.awaitingResume) return gspRm.resumeThroughSec2(start);
  if (imemEmpty(start)) return halt(start.mailbox0, { mailbox1: start.mailbox1 });
  const refuse = (code: number, reason: string) => {
    log.info("SEC2 halts with 0x{code}: {reason}", { code: code.toString(16), reason });
    return halt(code);
  };
  if (start.core === "riscv") {
    return refuse(HS_ERROR.unknownImage, "a start of the RISC-V core: Booter runs on the falcon");
  }
  const loaded = loadedFalconOf(ctx, start);
  const firmware = identifyLoadedImage(loaded.imem, ctx.firmware.booters());
  if (!firmware) {
    return refuse(
      HS_ERROR.unknownImage,
      `IMEM holds none of the known Booters (${ctx.firmware.names.join(", ") || "none"})`,
    );
  }
  if (firing(ctx.faults, "booter-bad-signature", `${firmware.name}: signature rejected`)) {
    return refuse(HS_ERROR.wrongSignature, "fault point booter-bad-signature");
  }
  const hs = checkHsImage(firmware, loaded, ctx.chip.chipsetId);
  if (!hs.ok) return refuse(hs.mbox0, hs.reason);
  if (firing(ctx.faults, "booter-timeout", `${firmware.name} never halts`)) return { kind: "hang" };
  const afterMs = ctx.latency.booterLoadMs;

  if (ctx.firmware.booterRole(firmware) === "booter_unload") {
    const gsp = ctx.falcons.GSP;
    const v = checkBooterUnload({
      wpr2: ctx.wpr2(),
      gsp: { riscvActive: gsp.riscvActive, mailbox0: gsp.mailboxes[0], halted: gsp.isHalted },
    });
    if (!v.ok) return refuse(v.mbox0, v.reason);
    return halt(0, {
      afterMs,
      effect: () => {
        ctx.pfb.clearWpr2();
        gspRm.end("Booter-unload cleared WPR2");
      },
    });
  }

  const bootloader = ctx.firmware.bootloader();
  const gspImage = ctx.firmware.gsp();
  if (!bootloader || !gspImage) {
    return refuse(
      bootloader ? HS_ERROR.radix3 : HS_ERROR.bootloader,
      `Booter-load cannot check the ${bootloader ? "GSP image" : "GSP bootloader"}: the ` +
        "simulator knows no such file (give it through the firmware option)",
    );
  }
  const regs = chipRegisters(ctx.chip);
  const d = bootloader.parsed.descriptor;
  const v = checkBooterLoad({
    dma: ctx.dma,
    mbox0: start.mailbox0,
    mbox1: start.mailbox1,
    chipset: ctx.chip.chipsetId,
    fbSize: ctx.model.fbSize,
    displayFuse: ctx.readRegister(regs.FUSE.STATUS_OPT_DISPLAY.address),
    vgaWorkspaceRegister: ctx.readRegister(regs.PDISP.VGA_WORKSPACE_BASE.address),
    wpr2: ctx.wpr2(),
    gspImage: gspImage.image,
    gspSignature: gspImage.signature,
    bootloader: {
      ucode: bootloader.parsed.ucode,
      codeOffset: d.monitorCodeOffset,
      dataOffset: d.monitorDataOffset,
      manifestOffset: d.manifestOffset,
    },
  });
  if (!v.ok) return refuse(v.mbox0, v.reason);
  return halt(0, {
    afterMs,
    effect: () => {
      ctx.pfb.setWpr2Registers(v.wpr2);
      if (firing(ctx.faults, "riscv-never-active", "GSP-RM not started")) return;
      gspRm.startByBooter();
    },
  });
}
