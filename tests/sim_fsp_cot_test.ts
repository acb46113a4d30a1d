// The simulated FSP's acceptance rules for the Chain-of-Trust message (sim/acceptance/fmc_boot.ts,
// cot_message.ts), one deliberate mistake per case in a GH100 boot driven by hand
// (tests/_hand_boot_fsp.ts): the FSP answers with NVIDIA's error code (kern_fsp_retval.h), names
// the rule, places no FRTS or WPR2, keeps the GSP's PRIV target mask; a function reset clears
// it all and the next boot succeeds.

import assert from "node:assert/strict";
import { FSP_ERROR, type FspRule } from "../sim/acceptance/fsp_error.ts";
import { PRIV_TARGET_MASK_READ } from "../sim/falcon.ts";
import { FMC_DMA_FAULT } from "../sim/execution/fsp.ts";
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import {
  forgedFspFiles,
  FspHandBoot,
  type FspMistakes,
  parseFspFirmware,
  simulatedGh100For,
} from "./_hand_boot_fsp.ts";
import { HandBootError } from "./_hand_boot.ts";

const fw = parseFspFirmware(forgedFspFiles(), "forged");

/** Boot up to the reply with one mistake; the reply's error (or none). */
async function cotWith(gpu: SimulatedGpu, mistakes: FspMistakes): Promise<HandBootError> {
  const hb = new FspHandBoot(gpu, fw, mistakes);
  try {
    await hb.waitSecureBoot();
    hb.buildLibos();
    hb.buildFspWprMeta();
    hb.buildFmcBootArgs();
    hb.sendCot();
    const error = await hb.receiveReply().then(() => undefined, (e) => e);
    assert(error instanceof HandBootError, `accepted: ${JSON.stringify(hb.reply)}`);
    return error;
  } finally {
    hb[Symbol.dispose]();
  }
}

/** After a refused COT: nothing placed, the GSP still masked, the FSP asks for a reset. */
async function assertRefusedThenRecovers(gpu: SimulatedGpu): Promise<void> {
  assert.equal(gpu.pfb.wpr2(), undefined, "no WPR2");
  assert.equal(gpu.bar0.read32(0x1100f4), PRIV_TARGET_MASK_READ, "GSP HWCFG2 still masked");
  assert.deepEqual(gpu.residue().map((r) => r.block), ["FSP"]);
  await gpu.reset.functionLevel();
  assert.deepEqual(gpu.residue(), []);
  await new FspHandBoot(gpu, fw).run();
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(gpu.violations(), []);
}

const CASES: { name: string; mistakes: FspMistakes; code: number; rule: FspRule }[] = [
  {
    name: "an FMC image that differs from the fmc file's (by SHA-384)",
    mistakes: { corruptFmcImage: true },
    code: FSP_ERROR.invalidData,
    rule: "fmcHash",
  },
  {
    name: "an ECDSA-sized (96-byte) signature on an RSA-3072 chip",
    mistakes: { signatureBytes: 96 },
    code: FSP_ERROR.invalidData,
    rule: "fmcSignatureBlock",
  },
  {
    name: "a hash field that is not the fmc file's hash section",
    mistakes: { corruptHash: true },
    code: FSP_ERROR.invalidData,
    rule: "fmcSignatureBlock",
  },
  {
    name: "COT payload version 2 (Blackwell's) on GH100",
    mistakes: { cotVersion: 2 },
    code: FSP_ERROR.notSupported,
    rule: "cotVersion",
  },
  {
    name: "an NVDM header with the wrong MCTP message type",
    mistakes: { nvdmHeader: 0x1410de7f },
    code: FSP_ERROR.invalidData,
    rule: "nvdmHeader",
  },
  {
    name: "an NVDM header with another vendor id",
    mistakes: { nvdmHeader: 0x1410ee7e },
    code: FSP_ERROR.invalidData,
    rule: "nvdmHeader",
  },
  {
    name: "an MCTP header without EOM (a multi-packet message)",
    mistakes: { mctpHeader: 0x8000_0000 },
    code: FSP_ERROR.invalidData,
    rule: "mctpHeader",
  },
  {
    name: "a WPR meta with a wrong magic",
    mistakes: { wprMetaMagic: 0x1234n },
    code: FSP_ERROR.invalidData,
    rule: "wprMeta",
  },
  {
    name: "a WPR meta with FB offsets filled in (the FMC's to place)",
    mistakes: { wprMetaWithOffsets: true },
    code: FSP_ERROR.invalidData,
    rule: "wprMeta",
  },
  {
    name: "boot params whose gspRmDescSize is not 256",
    mistakes: { gspRmDescSize: 128 },
    code: FSP_ERROR.invalidData,
    rule: "bootParams",
  },
  {
    name: "radix3 tables that map the GSP image one page off",
    mistakes: { radix3ShiftPages: 1 },
    code: FSP_ERROR.invalidData,
    rule: "gspImage",
  },
  {
    name: "an FRTS offset that is not a multiple of 128 KiB",
    mistakes: { frtsVidmemOffset: 0x201000n },
    code: FSP_ERROR.invalidData,
    rule: "frtsRegion",
  },
];

for (const c of CASES) {
  Deno.test(`FSP COT: ${c.name} is answered 0x${c.code.toString(16)} (${c.rule})`, async () => {
    await using gpu = await simulatedGh100For(fw);
    const error = await cotWith(gpu, c.mistakes);
    assert.equal(error.step, "fsp-cot-response");
    assert.equal(error.value, c.code, error.message);
    const rejection = gpu.execution.fsp!.lastRejection;
    assert.equal(rejection?.rule, c.rule, rejection?.reason);
    assert.equal(rejection?.errorCode, c.code);
    // NVIDIA's debug dump reads the code back from the FSP's scratch group 2.
    assert.equal(gpu.bar0.read32(0x8f0320), c.code);
    await assertRefusedThenRecovers(gpu);
  });
}

Deno.test("FSP COT: the reply to a refused COT still names the COT's type and NVIDIA's headers", async () => {
  await using gpu = await simulatedGh100For(fw);
  const hb = new FspHandBoot(gpu, fw, { cotVersion: 7 });
  await hb.waitSecureBoot();
  hb.buildLibos();
  hb.buildFspWprMeta();
  hb.buildFmcBootArgs();
  hb.sendCot();
  await hb.receiveReply().catch(() => {});
  assert.deepEqual(hb.reply, {
    mctp: 0xc000_0000,
    nvdm: 0x1510_de7e,
    taskId: 0,
    commandNvdmType: 0x14,
    errorCode: FSP_ERROR.notSupported,
  });
  // The host consumed the reply: the message queue reads empty again.
  assert.equal(hb.fsp.MSGQ_HEAD.at(0).readRaw(gpu.bar0), hb.fsp.MSGQ_TAIL.at(0).readRaw(gpu.bar0));
  hb[Symbol.dispose]();
  await assertRefusedThenRecovers(gpu);
});

Deno.test("FSP COT: an unknown NVDM type is answered 0xa0 and does not block the COT", async () => {
  await using gpu = await simulatedGh100For(fw);
  const hb = new FspHandBoot(gpu, fw);
  await hb.waitSecureBoot();
  const message = new Uint8Array(12);
  const v = new DataView(message.buffer);
  v.setUint32(0, 0xc000_0000, true);
  v.setUint32(4, 0x1610_de7e, true);
  hb.sendCot(message);
  await hb.receiveReply().catch(() => {});
  assert.equal(hb.reply?.commandNvdmType, 0x16);
  assert.equal(hb.reply?.errorCode, FSP_ERROR.notSupported);
  hb[Symbol.dispose]();
  await new FspHandBoot(gpu, fw).run();
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("FSP COT: the PRC read of the vGPU knob is answered 0 (disabled)", async () => {
  await using gpu = await simulatedGh100For(fw);
  const hb = new FspHandBoot(gpu, fw);
  await hb.waitSecureBoot();
  const message = new Uint8Array(12);
  const v = new DataView(message.buffer);
  v.setUint32(0, 0xc000_0000, true);
  v.setUint32(4, 0x1310_de7e, true);
  message.set([0x0c, 0x02, 0x29, 0x00], 8);
  hb.sendCot(message);
  await hb.receiveReply().catch(() => {});
  assert.equal(hb.reply?.commandNvdmType, 0x13);
  assert.equal(hb.reply?.errorCode, 0);
  message[10] = 0x30; // another knob
  hb.sendCot(message);
  await hb.receiveReply().catch(() => {});
  assert.equal(hb.reply?.errorCode, FSP_ERROR.prcInvalidKnobId);
  hb[Symbol.dispose]();
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("FSP COT: a second COT after an accepted one is answered 0x9e (INVALID_STATE)", async () => {
  await using gpu = await simulatedGh100For(fw);
  const hb = new FspHandBoot(gpu, fw);
  await hb.bootToRiscv();
  hb.sendCot();
  const error = await hb.receiveReply().then(() => undefined, (e) => e);
  assert(error instanceof HandBootError && error.value === FSP_ERROR.invalidState, String(error));
  assert.equal(gpu.execution.fsp!.lastRejection?.rule, "cotState");
  // GSP-RM, which the first COT started, is untouched.
  assert.equal(gpu.gspRm.state !== "stopped", true);
  await hb.sendInitCommands();
  await hb.waitInitDone();
  await hb.shutdownGsp();
  await hb.waitGspHalt();
  await hb.release();
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("FSP COT: an FMC image the IOMMU does not map is answered 0x9e (DMA)", async () => {
  await using gpu = await simulatedGh100For(fw);
  const hb = new FspHandBoot(gpu, fw);
  await hb.waitSecureBoot();
  hb.buildLibos();
  hb.buildFspWprMeta();
  hb.buildFmcBootArgs();
  const message = hb.cotMessage();
  hb.fmcBuffer![Symbol.dispose]();
  hb.sendCot(message);
  const error = await hb.receiveReply().then(() => undefined, (e) => e);
  assert(error instanceof HandBootError && error.value === FSP_ERROR.invalidState, String(error));
  assert.equal(gpu.execution.fsp!.lastRejection?.rule, "fmcDma");
  hb[Symbol.dispose]();
  await assertRefusedThenRecovers(gpu);
});

Deno.test("FSP COT: TAIL written after HEAD never rings the FSP (no reply)", async () => {
  await using gpu = await simulatedGh100For(fw);
  const error = await cotWith(gpu, { headBeforeTail: true });
  assert.match(error.message, /no reply from the FSP/);
  assert.equal(gpu.execution.fsp!.state, "idle");
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("FSP COT: a COT sent before secure boot completes is answered once it has", async () => {
  await using gpu = await simulatedGh100For(fw);
  const resetAt = gpu.clock.now();
  await gpu.reset.functionLevel();
  const hb = new FspHandBoot(gpu, fw);
  assert.equal(hb.regs.THERM.I2CS_SCRATCH.readRaw(gpu.bar0), 0);
  hb.registerFlushPage();
  hb.buildLibos();
  hb.buildFspWprMeta();
  hb.buildFmcBootArgs();
  hb.sendCot();
  // The host waits longer than nova-core's 2 s for this reply: secure boot takes ~2 s.
  const head = hb.fsp.MSGQ_HEAD.at(0);
  const tail = hb.fsp.MSGQ_TAIL.at(0);
  await gpu.bar0.poll(tail.address, (t) => t !== head.readRaw(gpu.bar0), {
    timeoutMs: 5000,
    intervalMs: 10,
  });
  // Secure boot restarted with the reset and takes 2 s; the reply comes 20 ms after it.
  assert(gpu.clock.now() - resetAt >= 2020, `${gpu.clock.now() - resetAt} ms`);
  assert.equal(hb.regs.THERM.I2CS_SCRATCH.readRaw(gpu.bar0), 0xff);
  await hb.receiveReply();
  await hb.waitLockdownRelease();
  await hb.startGspRm();
  await hb.sendInitCommands();
  await hb.waitInitDone();
  await hb.shutdownGsp();
  await hb.waitGspHalt();
  await hb.release();
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("FSP COT: a size field other than 860, a packet over 1 KiB, an unknown FMC", async (t) => {
  await t.step("size 12: 0xa1 (cotSize)", async () => {
    await using gpu = await simulatedGh100For(fw);
    const hb = new FspHandBoot(gpu, fw);
    await hb.waitSecureBoot();
    hb.buildLibos();
    hb.buildFspWprMeta();
    hb.buildFmcBootArgs();
    const message = hb.cotMessage();
    new DataView(message.buffer).setUint16(10, 12, true);
    hb.sendCot(message);
    await hb.receiveReply().catch(() => {});
    assert.equal(hb.reply?.errorCode, FSP_ERROR.invalidData);
    assert.equal(gpu.execution.fsp!.lastRejection?.rule, "cotSize");
    hb[Symbol.dispose]();
  });
  await t.step("1028 bytes: 0xa1 (packetSize)", async () => {
    await using gpu = await simulatedGh100For(fw);
    const hb = new FspHandBoot(gpu, fw);
    await hb.waitSecureBoot();
    const message = new Uint8Array(1028);
    new DataView(message.buffer).setUint32(0, 0xc000_0000, true);
    new DataView(message.buffer).setUint32(4, 0x1410_de7e, true);
    hb.sendCot(message);
    await hb.receiveReply().catch(() => {});
    assert.equal(hb.reply?.errorCode, FSP_ERROR.invalidData);
    assert.equal(gpu.execution.fsp!.lastRejection?.rule, "packetSize");
  });
  await t.step("a simulator given no fmc file: 0xa1 (fmcUnknown)", async () => {
    const { SimulatedGpu } = await import("../sim/simulated_gpu.ts");
    const files = { ...fw.files };
    delete files.fmc;
    await using gpu = new SimulatedGpu({
      chip: "gh100",
      firmware: Object.fromEntries(
        Object.entries(files).map(([role, bytes]) => [`${role}-570.144.bin`, bytes]),
      ),
    });
    const hb = new FspHandBoot(gpu, fw);
    await hb.waitSecureBoot();
    hb.buildLibos();
    hb.buildFspWprMeta();
    hb.buildFmcBootArgs();
    hb.sendCot();
    await hb.receiveReply().catch(() => {});
    assert.equal(hb.reply?.errorCode, FSP_ERROR.invalidData);
    assert.equal(gpu.execution.fsp!.lastRejection?.rule, "fmcUnknown");
    hb[Symbol.dispose]();
  });
});

Deno.test("FSP COT: boot params freed before the FMC has run make it stop with MBOX0 0x10", async () => {
  await using gpu = await simulatedGh100For(fw);
  const hb = new FspHandBoot(gpu, fw);
  await hb.waitSecureBoot();
  hb.buildLibos();
  hb.buildFspWprMeta();
  hb.buildFmcBootArgs();
  hb.sendCot();
  await hb.receiveReply();
  const params = hb.bootParams!;
  params[Symbol.dispose]();
  const error = await hb.waitLockdownRelease().then(() => undefined, (e) => e);
  assert(error instanceof HandBootError && error.step === "lockdown-release", String(error));
  assert.equal(error.value, FMC_DMA_FAULT);
  assert.equal(gpu.gspRm.state, "stopped");
  hb[Symbol.dispose]();
  await gpu.reset.functionLevel();
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("FSP COT rules: Blackwell's ECDSA P-384 sizes (97/96) are checked by family", async () => {
  const { checkCot } = await import("../sim/acceptance/fmc_boot.ts");
  const { decodeCotPayload, encodeCotMessage } = await import("../sim/acceptance/cot_message.ts");
  const { SystemMemory } = await import("../sim/system_memory.ts");
  const { SimDmaAllocator } = await import("../sim/dma.ts");
  const { forgeFmc, FMC_SIZES } = await import("../firmware/forge/elf.ts");
  const { parseFmc } = await import("../firmware/fmc.ts");
  const fmc = parseFmc(forgeFmc({ sizes: FMC_SIZES.gb20x }));
  const memory = new SystemMemory();
  using image = new SimDmaAllocator(memory).alloc(fmc.image.length);
  image.bytes.set(fmc.image);
  const cotFor = (signature: Uint8Array, version: number) =>
    decodeCotPayload(encodeCotMessage({
      version,
      gspFmcSysmemOffset: image.iova,
      frtsVidmemOffset: 0x1c00000n,
      frtsVidmemSize: 0x100000,
      hash: fmc.hash,
      publicKey: fmc.publicKey,
      signature,
      gspBootArgsSysmemOffset: 0x7000_0000n, // unmapped: the check after the signatures
    }));
  const input = { chipset: 0x1b2, fbSize: 32 * 2 ** 30, dma: memory, fmc };
  // The file's 96-byte signature, zero-padded: accepted; the next rule (boot params) faults.
  const right = checkCot({ ...input, cot: cotFor(fmc.signature, 2) });
  assert(!right.ok && right.rule === "fmcDma", JSON.stringify(right));
  // Version 1 is GH100's.
  const v1 = checkCot({ ...input, cot: cotFor(fmc.signature, 1) });
  assert(!v1.ok && v1.rule === "cotVersion");
  // An RSA-3072-sized signature field is not this family's.
  const rsa = new Uint8Array(384).fill(0x5a);
  const wrong = checkCot({ ...input, cot: cotFor(rsa, 2) });
  assert(!wrong.ok && wrong.rule === "fmcSignatureBlock");
  assert.match(wrong.reason, /384 significant bytes; this chip's family uses 96/);
});
