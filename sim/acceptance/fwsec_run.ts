/**
 * What FWSEC does once the boot ROM has accepted it (see `checkHsImage`):
 * it reads its command from DMEM and runs it.
 *
 * - **FRTS** (`init_cmd` 0x15, nova-core-boot.md §3.3–3.5): the ReadVbios
 *   descriptor must be version 1, size 24, flags 2; the FRTS region
 *   descriptor version 1, size 20, media FB; WPR2 must not be set up yet;
 *   the region must be 1 MiB, 128 KiB aligned (the layout puts it at
 *   `align_down(vga.start, 128 KiB) − 1 MiB`), inside VRAM and below the VGA
 *   workspace, which FWSEC computes from the VRAM size, the display fuse and
 *   PDISP's VGA workspace register ({@linkcode vgaWorkspaceBase}). Success
 *   sets WPR2 to the region. A refusal leaves WPR2 alone and puts an
 *   {@linkcode FRTS_ERROR} code in `SW_SCRATCH(0xe)` bits 31:16; MBOX0 stays 0,
 *   as on hardware, where the drivers read the scratch register.
 * - **SB** (`init_cmd` 0x19, §6.2): puts the GSP falcon back in its
 *   pre-LibOS state and reports success in `NV_PBUS_VBIOS_SCRATCH(0x15)` bits
 *   15:0 = 0 (§13). WPR2 is left alone (Booter-unload clears it).
 * - Any other `init_cmd` (the driver did not patch the mapper): FWSEC refuses
 *   with `badCommand` and does nothing.
 *
 * Fault point `"wpr2-unset"`: FRTS accepts the region, reports no error,
 * and leaves WPR2 unset (the symptom of a DMA that never delivered FWSEC's
 * data, or of firmware that silently skipped the command).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runFwsec } from "./fwsec_run.ts";
 * import { forgeFwsecDmem } from "../../firmware/forge/mod.ts";
 * const { dmem, interfaceOffset } = forgeFwsecDmem(); // init_cmd never patched
 * const v = runFwsec({
 *   dmem, interfaceOffset, wpr2: { lo: 0, hi: 0 },
 *   fbSize: 2 ** 33, displayFuse: 1, vgaWorkspaceRegister: 0,
 * });
 * assert(!v.ok && v.rule === "badCommand" && v.frtsError === 2);
 * ```
 *
 * @module
 */

import { vgaWorkspaceBase } from "./fb_layout.ts";
import { FWSEC_INIT_CMD, readFwsecCommand } from "./fwsec_command.ts";
import { FRTS_ERROR, rejectFrts, type Verdict } from "./verdict.ts";
import { decodeWpr2, encodeWpr2, type Wpr2Registers } from "./wpr2_register.ts";
import { hex, KiB, MiB } from "./_util.ts";

/** Inputs of {@linkcode runFwsec}: what the falcon and the chip model hold. */
export interface FwsecRunInput {
  /** The GSP falcon's DMEM after the boot ROM accepted FWSEC. */
  dmem: Uint8Array;
  /** DMEM offset of the application interface table (descriptor `dmemPhysBase + interfaceOffset`). */
  interfaceOffset: number;
  /** WPR2 LO/HI as they read now. */
  wpr2: Wpr2Registers;
  /** Usable VRAM in bytes. */
  fbSize: number;
  /** `NV_FUSE_STATUS_OPT_DISPLAY` raw value. */
  displayFuse: number;
  /** `NV_PDISP_VGA_WORKSPACE_BASE` raw value. */
  vgaWorkspaceRegister: number;
  /** Fault injection. */
  fault?: "wpr2-unset";
}

/** FRTS done. */
export interface FrtsEffect {
  /** Which command ran. */
  command: "frts";
  /** The FRTS region. */
  region: { start: number; end: number };
  /** WPR2 to program, or `null` under the `"wpr2-unset"` fault. */
  wpr2: Wpr2Registers | null;
  /** `SW_SCRATCH(0xe)` bits 31:16: 0. */
  frtsError: 0;
  /** MBOX0: 0. */
  mbox0: 0;
}

/** SB done: the GSP falcon as FWSEC-SB leaves it. */
export interface SbEffect {
  /** Which command ran. */
  command: "sb";
  /** `NV_PBUS_VBIOS_SCRATCH(0x15)` bits 15:0: 0 = success. */
  sbError: 0;
  /** MBOX0: 0. */
  mbox0: 0;
  /** The GSP falcon afterwards: its pre-LibOS state. */
  gsp: {
    /** RISC-V is not running. */
    riscvActive: false;
    /** The core select is back to the Falcon core. */
    coreSelect: "falcon";
    /** The falcon CPU is halted. */
    halted: true;
    /** The GSP mailboxes are cleared. */
    mailbox0: 0;
    mailbox1: 0;
  };
}

/**
 * Run the command FWSEC finds in its DMEM.
 *
 * @param input DMEM, the interface offset, WPR2 and the chip's VRAM facts.
 * @returns The effect, or the refusal.
 *
 * @example SB
 * ```ts
 * import assert from "node:assert/strict";
 * import { runFwsec } from "./fwsec_run.ts";
 * import { forgeFwsecDmem } from "../../firmware/forge/mod.ts";
 * const { dmem, interfaceOffset, mapperOffset, cmdInBufferOffset } = forgeFwsecDmem();
 * const view = new DataView(dmem.buffer);
 * view.setUint32(mapperOffset + 0x2c, 0x19, true);
 * [1, 24, 0, 0, 0, 2].forEach((v, i) => view.setUint32(cmdInBufferOffset + 4 * i, v, true));
 * const v = runFwsec({
 *   dmem, interfaceOffset, wpr2: { lo: 0, hi: 0 }, fbSize: 2 ** 33, displayFuse: 1,
 *   vgaWorkspaceRegister: 0,
 * });
 * assert(v.ok && v.command === "sb" && v.gsp.coreSelect === "falcon");
 * ```
 */
export function runFwsec(input: FwsecRunInput): Verdict<FrtsEffect> | Verdict<SbEffect> {
  const command = readFwsecCommand(input.dmem, input.interfaceOffset);
  if (!command.ok) return command;
  const { initCmd, readVbios: rv, frtsRegion: region } = command;
  if (initCmd !== FWSEC_INIT_CMD.frts && initCmd !== FWSEC_INIT_CMD.sb) {
    return rejectFrts(
      FRTS_ERROR.badCommand,
      `DMEM mapper init_cmd is ${hex(initCmd)}, neither FRTS (0x15) nor SB (0x19): ` +
        "the mapper was not patched",
    );
  }
  if (rv.version !== 1 || rv.size !== 24 || rv.flags !== 2) {
    return rejectFrts(
      FRTS_ERROR.badReadVbios,
      `ReadVbios descriptor: version ${rv.version}, size ${rv.size}, flags ${rv.flags} ` +
        "(expected 1, 24, 2)",
    );
  }
  if (initCmd === FWSEC_INIT_CMD.sb) {
    return {
      ok: true,
      command: "sb",
      sbError: 0,
      mbox0: 0,
      gsp: { riscvActive: false, coreSelect: "falcon", halted: true, mailbox0: 0, mailbox1: 0 },
    };
  }
  if (command.cmdInSize < 44) {
    return rejectFrts(
      FRTS_ERROR.badRegionDescriptor,
      `the ${command.cmdInSize}-byte command-in buffer cannot hold the FRTS command (44 bytes)`,
    );
  }
  if (region.version !== 1 || region.size !== 20 || region.mediaType !== 2) {
    return rejectFrts(
      FRTS_ERROR.badRegionDescriptor,
      `FRTS region descriptor: version ${region.version}, size ${region.size}, media ` +
        `${region.mediaType} (expected 1, 20, 2 = FB)`,
    );
  }
  const current = decodeWpr2(input.wpr2);
  if (current) {
    return rejectFrts(
      FRTS_ERROR.wpr2AlreadySet,
      `WPR2 is already set up (${hex(current.start)}..${hex(current.end)}): the GPU needs a reset`,
    );
  }
  const start = region.offset4k * 4096;
  const size = region.size4k * 4096;
  const end = start + size;
  if (size !== MiB) {
    return rejectFrts(FRTS_ERROR.badRegionSize, `FRTS region is ${hex(size)} bytes, not 1 MiB`);
  }
  if (start % (128 * KiB) !== 0) {
    return rejectFrts(
      FRTS_ERROR.badRegionAlignment,
      `FRTS region at ${hex(start)} is not 128 KiB aligned`,
    );
  }
  if (end > input.fbSize) {
    return rejectFrts(
      FRTS_ERROR.regionOutsideFb,
      `FRTS region ${hex(start)}..${hex(end)} ends past VRAM (${hex(input.fbSize)})`,
    );
  }
  const vga = vgaWorkspaceBase(input.fbSize, input.displayFuse, input.vgaWorkspaceRegister);
  if (end > vga) {
    return rejectFrts(
      FRTS_ERROR.regionOverlapsVga,
      `FRTS region ${hex(start)}..${hex(end)} reaches into the VGA workspace at ${hex(vga)}`,
    );
  }
  return {
    ok: true,
    command: "frts",
    region: { start, end },
    wpr2: input.fault === "wpr2-unset" ? null : encodeWpr2({ start, end }),
    frtsError: 0,
    mbox0: 0,
  };
}
