// The host side of a GH100 boot through the FSP chain of trust, written by hand from
// ../shared/reference/nova-core-boot.md §4 (with the §12/§13 corrections) and NVIDIA's
// kern_fsp.c / kern_fsp_gh100.c / kernel_gsp_gh100.c, for driving a SimulatedGpu with nothing
// but raw BAR0 reads, writes and polls and DMA buffers from `gpu.dma`. It uses no code of the
// driver (gsp/, falcon/) and nothing of sim/ beyond SimulatedGpu's public API; the GSP-RM half
// (LibOS args, queues, RPCs) is tests/_hand_boot.ts's HandBoot, which this class extends.
//
// Deliberate mistakes are options (`FspMistakes`), so that the negative tests make exactly one
// and look for the hardware's own symptom: the FSP's errorCode.

import { chipByName } from "../chips/chips.ts";
import { FMC_SIZES, forgeFmc } from "../firmware/forge/elf.ts";
import { forgeRiscvBootloader } from "../firmware/forge/hs_firmware.ts";
import { forgeGspImage, GSP_SIGNATURE_SECTIONS_GA102 } from "../firmware/forge/elf.ts";
import { type FmcFirmware, parseFmc } from "../firmware/fmc.ts";
import { gspSignature, parseGspImage } from "../firmware/gsp_image.ts";
import { parseRiscvBootloader } from "../firmware/riscv_bootloader.ts";
import type { DmaBuffer } from "../pci/device.ts";
import { falconRegisters } from "../registers/bind.ts";
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { HandBoot, HandBootError, type HandFirmware } from "./_hand_boot.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const PAGE = 4096;
const up = (n: number, a: number) => Math.ceil(n / a) * a;
const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/** The FSP-path files, parsed; `booterLoad`/`booterUnload` do not exist on this path. */
export interface FspHandFirmware extends Omit<HandFirmware, "booterLoad" | "booterUnload"> {
  readonly fmc: FmcFirmware;
}

/** The forged GH100 set (the forge's shapes, with real-files.md's RSA-3072 FMC sizes). */
export function forgedFspFiles(): Record<string, Uint8Array> {
  return {
    fmc: forgeFmc({ sizes: FMC_SIZES.gh100, seed: 0x51 }),
    bootloader: forgeRiscvBootloader({ version: 5 }),
    gsp: forgeGspImage({
      imageSize: 256 * 1024 + 0xea0,
      version: "570.144",
      signatureSections: GSP_SIGNATURE_SECTIONS_GA102,
    }),
  };
}

/** Parse the three files. */
export function parseFspFirmware(
  files: Record<string, Uint8Array>,
  origin: "real" | "forged",
  root?: string,
): FspHandFirmware {
  const gsp = parseGspImage(files.gsp, "gsp-570.144.bin");
  return {
    origin,
    root,
    files,
    fmc: parseFmc(files.fmc, "fmc-570.144.bin"),
    bootloader: parseRiscvBootloader(files.bootloader, "bootloader-570.144.bin"),
    gspImage: files.gsp.subarray(gsp.image.offset, gsp.image.offset + gsp.image.size),
    gspSignature: gspSignature(gsp, files.gsp, ".fwsignature_gh100").slice(),
  };
}

/** The real linux-firmware gh100 570.144 set, or `undefined` when a file is missing. */
export async function realFspFirmware(root: string): Promise<FspHandFirmware | undefined> {
  const files: Record<string, Uint8Array> = {};
  for (const name of ["fmc", "bootloader", "gsp"]) {
    try {
      files[name] = await Deno.readFile(`${root}/nvidia/gh100/gsp/${name}-570.144.bin`);
    } catch {
      return undefined;
    }
  }
  return parseFspFirmware(files, "real", root);
}

/** The files under their linux-firmware names, for the simulator to know. */
export function simFspFiles(fw: FspHandFirmware): Record<string, Uint8Array> {
  return Object.fromEntries(
    Object.entries(fw.files).map(([role, bytes]) => [`${role}-570.144.bin`, bytes]),
  );
}

/** One deliberate mistake (or none). */
export interface FspMistakes {
  /** The COT payload's version (GH100's is 1). */
  cotVersion?: number;
  /** The NVDM header word (COT: 0x1410de7e). */
  nvdmHeader?: number;
  /** The MCTP header word (single packet: 0xc0000000). */
  mctpHeader?: number;
  /** Flip a byte of the FMC image copied to DMA memory. */
  corruptFmcImage?: boolean;
  /** Put only this many bytes of the FMC's signature into the COT (the rest zero). */
  signatureBytes?: number;
  /** Flip a byte of the COT's hash. */
  corruptHash?: boolean;
  /** The WPR meta's magic. */
  wprMetaMagic?: bigint;
  /** Fill the WPR meta's FB offsets as on the SEC2 path (the FMC's to fill on Hopper). */
  wprMetaWithOffsets?: boolean;
  /** `gspRmDescSize` in the boot params (256). */
  gspRmDescSize?: number;
  /** The radix3 level-2 entries point this many pages further into the image. */
  radix3ShiftPages?: number;
  /** `frtsVidmemOffset` (2 MiB). */
  frtsVidmemOffset?: bigint;
  /** Write TAIL after HEAD (the FSP is rung before the message is complete). */
  headBeforeTail?: boolean;
}

/** What the FSP answered. */
export interface FspReply {
  mctp: number;
  nvdm: number;
  taskId: number;
  commandNvdmType: number;
  errorCode: number;
}

/** The FSP-path flow: each step is one method, in nova-core's gh100 HAL order. */
export class FspHandBoot extends HandBoot {
  readonly fspFw: FspHandFirmware;
  readonly fsp;
  readonly fspMistakes: FspMistakes;
  fmcBuffer?: DmaBuffer;
  bootParams?: DmaBuffer;
  reply?: FspReply;

  constructor(gpu: SimulatedGpu, fw: FspHandFirmware, mistakes: FspMistakes = {}) {
    super(gpu, fw as unknown as HandFirmware);
    this.fspFw = fw;
    this.fsp = falconRegisters(this.chip, "FSP");
    this.fspMistakes = mistakes;
  }

  #step(step: string): void {
    this.steps.push({ step, atMs: this.gpu.clock.now() });
  }

  #allocate(size: number): DmaBuffer {
    const buffer = this.gpu.dma.alloc(size);
    this.buffers.push(buffer);
    return buffer;
  }

  /** §4.1: NV_THERM_I2CS_SCRATCH reads 0xff; every 10 ms, 5 s. */
  async waitSecureBoot(): Promise<void> {
    const scratch = this.regs.THERM.I2CS_SCRATCH;
    try {
      await this.bar0.poll(scratch.address, (v) => (v & 0xff) === 0xff, {
        timeoutMs: 5000,
        intervalMs: 10,
        name: "NV_THERM_I2CS_SCRATCH",
      });
    } catch (e) {
      throw new HandBootError("fsp-secure-boot", (e as Error).message);
    }
    this.#step("fsp-secure-boot");
  }

  /** §3.11, GH100: HI (address bits 51:32) first, then LO. */
  override registerFlushPage(): void {
    const page = this.gpu.dma.alloc(PAGE);
    this.flushPage = page;
    const pfb = this.regs.PFB;
    pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI.writeRaw(this.bar0, Number(page.iova >> 32n));
    pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.writeRaw(this.bar0, Number(page.iova & 0xffff_ffffn));
    this.#step("sysmem-flush");
  }

  override unregisterFlushPage(): void {
    const page = this.flushPage;
    if (!page) return;
    const pfb = this.regs.PFB;
    if (
      pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.readRaw(this.bar0) === Number(page.iova & 0xffff_ffffn)
    ) {
      pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI.writeRaw(this.bar0, 0);
      pfb.FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO.writeRaw(this.bar0, 0);
    }
    page[Symbol.dispose]();
    this.flushPage = undefined;
  }

  /** The WPR2 heap for this VRAM (LibOS3, base RM 14 MiB on Hopper, §3.5). */
  heapSize(): number {
    const fb = this.regs.PGC6.AON_SECURE_SCRATCH_GROUP_42.readRaw(this.bar0) * MiB;
    const raw = 22 * MiB + 14 * MiB + up(96 * MiB, MiB) + up(96 * KiB * Math.ceil(fb / GiB), MiB);
    return Math.max(raw, 88 * MiB);
  }

  /** §3.8 FSP path (`from_sizes`): GSP image + radix3, bootloader, signature; sizes only. */
  buildFspWprMeta(): void {
    const m = this.fspMistakes;
    const image = this.fw.gspImage;
    const pages = Math.ceil(image.length / PAGE);
    const shift = m.radix3ShiftPages ?? 0;
    const imageBuffer = this.#allocate((pages + Math.max(shift, 0)) * PAGE);
    imageBuffer.bytes.set(image);
    const l2 = this.#allocate(pages * 8);
    const l2Pages = l2.size / PAGE;
    const l1 = this.#allocate(l2Pages * 8);
    const l0 = this.#allocate(PAGE);
    const v2 = new DataView(l2.bytes.buffer);
    for (let k = 0; k < pages; k++) {
      v2.setBigUint64(k * 8, imageBuffer.iova + BigInt((k + shift) * PAGE), true);
    }
    const v1 = new DataView(l1.bytes.buffer);
    for (let j = 0; j < l2Pages; j++) v1.setBigUint64(j * 8, l2.iova + BigInt(j * PAGE), true);
    new DataView(l0.bytes.buffer).setBigUint64(0, l1.iova, true);
    const bl = this.fw.bootloader;
    const blBuffer = this.#allocate(bl.ucode.length);
    blBuffer.bytes.set(bl.ucode);
    const sig = this.#allocate(this.fw.gspSignature.length);
    sig.bytes.set(this.fw.gspSignature);
    const meta = this.#allocate(256);
    const v = new DataView(meta.bytes.buffer);
    const d = bl.descriptor;
    const fields: [number, bigint | number][] = [
      [0x00, m.wprMetaMagic ?? 0xdc3aae21371a60b3n],
      [0x08, 1],
      [0x10, l0.iova],
      [0x18, image.length],
      [0x20, blBuffer.iova],
      [0x28, bl.ucode.length],
      [0x30, d.monitorCodeOffset],
      [0x38, d.monitorDataOffset],
      [0x40, d.manifestOffset],
      [0x48, sig.iova],
      [0x50, this.fw.gspSignature.length],
      [0x68, 2 * MiB], // nonWprHeapSize (GH100)
      [0x80, this.heapSize()], // gspFwHeapSize
      [0xa0, MiB], // frtsSize
      [0xc0, 128 * KiB], // vgaWorkspaceSize
    ];
    if (m.wprMetaWithOffsets) fields.push([0x70, 0x13_0000_0000], [0xb0, 80 * GiB]);
    for (const [at, value] of fields) v.setBigUint64(at, BigInt(value), true);
    this.wprMeta = meta;
    this.#step("wpr-meta");
  }

  /** §4.4: the FMC image in DMA memory and GSP_FMC_BOOT_PARAMS (80 bytes). */
  buildFmcBootArgs(): void {
    const m = this.fspMistakes;
    const image = this.fspFw.fmc.image;
    const fmc = this.#allocate(up(image.length, PAGE));
    fmc.bytes.set(image);
    if (m.corruptFmcImage) fmc.bytes[image.length >> 1] ^= 0xff;
    const params = this.#allocate(PAGE);
    const v = new DataView(params.bytes.buffer);
    v.setUint32(0x08, 1, true); // COHERENT_SYSTEM
    v.setUint32(0x0c, m.gspRmDescSize ?? 256, true);
    v.setBigUint64(0x10, this.wprMeta!.iova, true);
    v.setUint8(0x24, 1); // bIsGspRmBoot
    v.setUint32(0x28, 2, true); // NONCOHERENT_SYSTEM
    v.setBigUint64(0x30, this.libosArgs!.iova, true);
    this.fmcBuffer = fmc;
    this.bootParams = params;
    this.#step("fmc-boot-args");
  }

  /** §4.3: the 868-byte COT message. */
  cotMessage(): Uint8Array {
    const m = this.fspMistakes;
    const fmc = this.fspFw.fmc;
    const bytes = new Uint8Array(868);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, m.mctpHeader ?? 0xc000_0000, true);
    v.setUint32(4, m.nvdmHeader ?? 0x1410_de7e, true);
    v.setUint16(8, m.cotVersion ?? 1, true);
    v.setUint16(10, 860, true);
    v.setBigUint64(12, this.fmcBuffer!.iova, true);
    v.setBigUint64(32, m.frtsVidmemOffset ?? 2n * BigInt(MiB), true);
    v.setUint32(40, MiB, true);
    bytes.set(fmc.hash, 44);
    if (m.corruptHash) bytes[44] ^= 0x01;
    bytes.set(fmc.publicKey, 92);
    bytes.set(fmc.signature.subarray(0, m.signatureBytes ?? fmc.signature.length), 476);
    v.setBigUint64(860, this.bootParams!.iova, true);
    return bytes;
  }

  /** §4.2 send: EMEMC = {AINCW}, the words, TAIL = len − 4, then HEAD = 0. */
  sendCot(message = this.cotMessage()): void {
    const bar0 = this.bar0;
    this.fsp.EMEMC.at(0).write(bar0, { AINCW: 1, BLK: 0, OFFS: 0 });
    const v = new DataView(message.buffer, message.byteOffset, message.byteLength);
    for (let at = 0; at < message.length; at += 4) {
      this.fsp.EMEMD.at(0).writeRaw(bar0, v.getUint32(at, true));
    }
    // NVIDIA checks that auto-increment worked: EMEMC now points past the message.
    const c = this.fsp.EMEMC.at(0).read(bar0);
    if (c.BLK * 64 + c.OFFS !== message.length / 4) {
      throw new HandBootError("fsp-cot-send", `EMEMC at ${c.BLK}:${c.OFFS} after the message`);
    }
    if (this.fspMistakes.headBeforeTail) {
      this.fsp.QUEUE_HEAD.at(0).writeRaw(bar0, 0);
      this.fsp.QUEUE_TAIL.at(0).writeRaw(bar0, message.length - 4);
    } else {
      this.fsp.QUEUE_TAIL.at(0).writeRaw(bar0, message.length - 4);
      this.fsp.QUEUE_HEAD.at(0).writeRaw(bar0, 0);
    }
    this.#step("fsp-cot-send");
  }

  /** §4.2 receive: MSGQ HEAD != TAIL (10 ms, 2 s); EMEMC = {AINCR}; words; TAIL = HEAD = 0. */
  async receiveReply(): Promise<FspReply> {
    const bar0 = this.bar0;
    const head = this.fsp.MSGQ_HEAD.at(0);
    const tail = this.fsp.MSGQ_TAIL.at(0);
    const deadline = this.gpu.clock.now() + 2000;
    while (head.readRaw(bar0) === tail.readRaw(bar0)) {
      if (this.gpu.clock.now() >= deadline) {
        throw new HandBootError("fsp-cot-response", "no reply from the FSP in 2 s");
      }
      await this.gpu.clock.sleep(10);
    }
    const size = tail.readRaw(bar0) - head.readRaw(bar0) + 4;
    if (size > 1024) throw new HandBootError("fsp-cot-response", `reply of ${size} bytes`);
    this.fsp.EMEMC.at(0).write(bar0, { AINCR: 1, BLK: 0, OFFS: head.readRaw(bar0) >> 2 });
    const words = Array.from({ length: size / 4 }, () => this.fsp.EMEMD.at(0).readRaw(bar0));
    tail.writeRaw(bar0, 0);
    head.writeRaw(bar0, 0);
    const reply = {
      mctp: words[0],
      nvdm: words[1],
      taskId: words[2],
      commandNvdmType: words[3],
      errorCode: words[4],
    };
    this.reply = reply;
    if ((reply.mctp >>> 30) !== 3) throw new HandBootError("fsp-cot-response", "not one packet");
    if (reply.nvdm !== 0x1510_de7e) {
      throw new HandBootError("fsp-cot-response", `NVDM header ${hex(reply.nvdm)}`);
    }
    if (reply.commandNvdmType !== 0x14) {
      throw new HandBootError("fsp-cot-response", `answers type ${hex(reply.commandNvdmType)}`);
    }
    if (reply.errorCode !== 0) {
      throw new HandBootError(
        "fsp-cot-response",
        `errorCode ${hex(reply.errorCode)}`,
        reply.errorCode,
      );
    }
    this.#step("fsp-cot-response");
    return reply;
  }

  /** §4.5 step 5: HWCFG2 not 0 nor 0xbadf41xx; MBOX0 0 (else not the boot params); lockdown 0. */
  async waitLockdownRelease(timeoutMs = 30_000): Promise<void> {
    const bar0 = this.bar0;
    const g = this.gsp;
    const params = this.bootParams!.iova;
    const deadline = this.gpu.clock.now() + timeoutMs;
    for (;;) {
      const raw = g.HWCFG2.readRaw(bar0);
      if (raw !== 0 && (raw & 0xffff_ff00) >>> 0 !== 0xbadf_4100) {
        const mbox0 = g.MAILBOX0.readRaw(bar0);
        const mbox1 = g.MAILBOX1.readRaw(bar0);
        if (mbox0 !== 0) {
          const value = (BigInt(mbox1) << 32n) | BigInt(mbox0);
          if (value !== params) {
            throw new HandBootError("lockdown-release", `GSP-FMC error ${hex(value)}`, mbox0);
          }
        } else if (g.HWCFG2.decode(raw).RISCV_BR_PRIV_LOCKDOWN === 0) {
          break;
        }
      }
      if (this.gpu.clock.now() >= deadline) {
        throw new HandBootError("lockdown-release", `still locked after ${timeoutMs} ms`);
      }
      await this.gpu.clock.sleep(10);
    }
    this.#step("lockdown-release");
  }

  /** RISCV_CPUCTL.HALTED (bit 4), polled every 10 ms for `timeoutMs`. */
  async waitGspHalt(timeoutMs = 5000): Promise<void> {
    const cpuctl = this.gsp.RISCV_CPUCTL;
    try {
      await this.bar0.poll(cpuctl.address, (v) => cpuctl.decode(v).HALTED === 1, {
        timeoutMs,
        intervalMs: 10,
        name: "RISCV_CPUCTL.HALTED",
      });
    } catch (e) {
      throw new HandBootError("gsp-halt", (e as Error).message);
    }
    this.#step("gsp-halt");
  }

  /** Boot through the FSP up to RISC-V active (the gh100 HAL, then the OS write). */
  override async bootToRiscv(): Promise<void> {
    await this.waitSecureBoot();
    this.registerFlushPage();
    this.buildLibos();
    this.buildFspWprMeta();
    this.buildFmcBootArgs();
    this.sendCot();
    await this.receiveReply();
    await this.waitLockdownRelease();
    await this.startGspRm();
  }

  /** The whole flow: boot, INIT_DONE, static info, unload, halt, falcon reset, FLR, release. */
  override async run(): Promise<void> {
    await this.bootToRiscv();
    await this.sendInitCommands();
    await this.waitInitDone();
    await this.staticInfo();
    await this.shutdownGsp();
    await this.waitGspHalt();
    await this.release();
  }

  /** Falcon reset of the GSP, the buffers freed (the boot args only now: the GSP has halted), FLR. */
  override async release(): Promise<void> {
    await this.resetFalcon(this.gsp);
    this.#step("falcon-reset");
    this[Symbol.dispose]();
    await this.gpu.reset.functionLevel();
    this.#step("function-reset");
  }
}

/** The steps of a whole flow, in order. */
export const FSP_FLOW_STEPS: readonly string[] = [
  "fsp-secure-boot",
  "sysmem-flush",
  "libos-args",
  "wpr-meta",
  "fmc-boot-args",
  "fsp-cot-send",
  "fsp-cot-response",
  "lockdown-release",
  "riscv-active",
  "init-commands",
  "init-done",
  "static-info",
  "gsp-suspended",
  "gsp-halt",
  "falcon-reset",
  "function-reset",
];

/** A GH100 SimulatedGpu that knows the case's firmware. */
export async function simulatedGh100For(
  fw: FspHandFirmware,
  options: { realistic?: boolean } = {},
): Promise<SimulatedGpu> {
  const { SimulatedGpu } = await import("../sim/simulated_gpu.ts");
  if (!chipByName("gh100")) throw new Error("no gh100 in the chip table");
  return await SimulatedGpu.create({
    chip: "gh100",
    realistic: options.realistic,
    firmware: simFspFiles(fw),
  });
}
