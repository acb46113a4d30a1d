// Running FWSEC (FRTS at boot, SB at unload) on the GSP falcon (reference §3.3–3.4):
// version 3 (GA102 on) loaded by the falcon driver with the boot ROM's parameters; version 2
// (Turing, GA100) through the generic bootloader, which DMAs FWSEC in from a buffer that mirrors
// the IMEM layout.

import type { FwsecFirmware } from "../firmware/fwsec/extract.ts";
import { type FrtsRegion, patchFwsecFrts, patchFwsecSb } from "../firmware/fwsec/patch.ts";
import type { GenBootloader } from "../firmware/gen_bootloader.ts";
import type { Falcon } from "../falcon/falcon.ts";
import type { Device } from "../pci/device.ts";
import { writeBarrier } from "../pci/mmio.ts";

/** `BootloaderDmemDescV2`: 84 bytes (reference §3.4). */
const BL_DMEM_DESC_SIZE = 84;
/** `ctx_dma` = PHYS_SYS_NCOH (the register is then programmed coherent, as in the source). */
const CTX_DMA_PHYS_SYS = 4;
/** The FBIF context the generic bootloader DMAs through. */
const BL_FBIF_CONTEXT = 4;
const BLOCK = 256;

/** What a FWSEC run needs. */
export interface FwsecRun {
  readonly device: Pick<Device, "bar0" | "dma">;
  readonly gsp: Falcon;
  readonly fwsec: FwsecFirmware;
  /** Turing and GA100 (version-2 descriptors). */
  readonly genBootloader?: GenBootloader;
  readonly signal?: AbortSignal;
}

/** A FWSEC image patched for one command, ready to run. */
export interface PreparedFwsec {
  readonly image: Uint8Array;
  readonly run: (signal?: AbortSignal) => Promise<number>;
}

function fuseVersionFor(run: FwsecRun): number {
  const d = run.fwsec.descriptor;
  if (d.descriptorVersion !== 3 || d.signatureCount === 0) return 0;
  return run.gsp.signatureFuseVersion(d.engineIdMask, d.ucodeId);
}

/**
 * Patch FWSEC for FRTS or SB now (the unload bundle is built at boot time)
 * and return how to run it.
 */
export function prepareFwsec(run: FwsecRun, region?: FrtsRegion): PreparedFwsec {
  const fuse = fuseVersionFor(run);
  const patched = region ? patchFwsecFrts(run.fwsec, region, fuse) : patchFwsecSb(run.fwsec, fuse);
  return {
    image: patched.image,
    run: (signal) =>
      run.fwsec.descriptor.descriptorVersion === 2
        ? runThroughBootloader(run, patched.image, signal)
        : runDirect(run, patched.image, patched.brom, signal),
  };
}

/** GA102 on: reset, load (DMA), BROM, start with MBOX0 = 0, wait for the halt; MBOX0. */
async function runDirect(
  run: FwsecRun,
  image: Uint8Array,
  brom: { pkcDataOffset: number; engineIdMask: number; ucodeId: number },
  signal?: AbortSignal,
): Promise<number> {
  const { gsp, fwsec } = run;
  await gsp.reset({ signal });
  await gsp.load(image, fwsec.loadMap, { brom, signal, file: "FWSEC (VBIOS)" });
  const { mailbox0 } = await gsp.run({ mailbox0: 0, signal });
  return mailbox0;
}

/** Turing, GA100: the generic bootloader at the top of IMEM, its DMEM descriptor, then start. */
async function runThroughBootloader(
  run: FwsecRun,
  image: Uint8Array,
  signal?: AbortSignal,
): Promise<number> {
  const { gsp, fwsec, device } = run;
  const bl = run.genBootloader;
  if (!bl) throw new Error("a version-2 FWSEC needs the generic bootloader (gen_bootloader)");
  const d = fwsec.descriptor;
  if (d.descriptorVersion !== 2) throw new Error("not a version-2 FWSEC");
  if (d.dmemPhysBase !== 0) {
    throw new Error(
      `FWSEC's DMEM goes to 0x${d.dmemPhysBase.toString(16)}, the bootloader needs 0`,
    );
  }
  const map = fwsec.loadMap;
  const secure = map.imemSecure;
  const padding = secure.dstStart - secure.srcStart;
  using buffer = device.dma.alloc(padding + image.length, { align: BLOCK });
  buffer.bytes.set(image, padding);
  writeBarrier();

  const desc = new Uint8Array(BL_DMEM_DESC_SIZE);
  const v = new DataView(desc.buffer);
  const ns = map.imemNonSecure;
  v.setUint32(32, CTX_DMA_PHYS_SYS, true);
  v.setBigUint64(36, buffer.iova, true);
  v.setUint32(44, ns?.dstStart ?? 0, true);
  v.setUint32(48, ns?.length ?? 0, true);
  v.setUint32(52, secure.dstStart, true);
  v.setUint32(56, secure.length, true);
  v.setUint32(60, 0, true); // code_entry_point
  v.setBigUint64(64, buffer.iova + BigInt(padding + map.dmem.srcStart), true);
  v.setUint32(72, map.dmem.length, true);

  await gsp.reset({ signal });
  const code = new Uint8Array(Math.ceil(bl.code.length / BLOCK) * BLOCK);
  code.set(bl.code);
  gsp.writeImem(code, {
    dstStart: gsp.topOfImem(code.length),
    secure: false,
    tag: bl.descriptor.startTag,
  });
  gsp.writeDmem(desc, bl.descriptor.dmemLoadOffset);
  gsp.registers.FBIF_TRANSCFG.at(BL_FBIF_CONTEXT).write(device.bar0, {
    TARGET: 1,
    MEM_TYPE: 1,
  });
  gsp.setBootVector(bl.descriptor.startTag << 8);
  const { mailbox0 } = await gsp.run({ mailbox0: 0, signal });
  return mailbox0;
}
