// The host side of a GSP boot, written by hand straight from
// ../shared/reference/nova-core-boot.md (§3.0–3.11, §5, §6, with the §12/§13
// corrections), for driving a SimulatedGpu with nothing but raw BAR0 reads,
// writes and polls and DMA buffers from `gpu.dma`. It uses no code of the
// driver (gsp/, falcon/) and nothing of sim/ beyond SimulatedGpu's public
// API: register addresses come from registers/bind.ts, files are parsed with
// firmware/'s parsers, and every patch, index, layout and queue rule is
// computed here (or by the other hand-written test helpers,
// tests/_sim_driver.ts and tests/_sim_gsp_rm_host.ts).
//
// Deliberate mistakes are options (`HandMistakes`), so that the negative
// tests make exactly one and look for the hardware's own symptom.

import assert from "node:assert/strict";
import type { ChipInfo } from "../chips/chips.ts";
import { chipByName, gspSignatureSectionOf } from "../chips/chips.ts";
import type { BooterFirmware } from "../firmware/booter.ts";
import { parseBooter } from "../firmware/booter.ts";
import type { ByteSource } from "../firmware/byte_source.ts";
import {
  forgeBooter,
  forgeGenBootloader,
  forgeRiscvBootloader,
} from "../firmware/forge/hs_firmware.ts";
import {
  forgeGspImage,
  GSP_SIGNATURE_SECTIONS_GA102,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/elf.ts";
import { extractFwsec, type FwsecFirmware } from "../firmware/fwsec/extract.ts";
import { type GenBootloader, parseGenBootloader } from "../firmware/gen_bootloader.ts";
import { gspSignature, parseGspImage } from "../firmware/gsp_image.ts";
import { parseRiscvBootloader, type RiscvBootloader } from "../firmware/riscv_bootloader.ts";
import type { DmaBuffer } from "../pci/device.ts";
import {
  type BoundRegister,
  type ChipRegisters,
  chipRegisters,
  type FalconRegisters,
  falconRegisters,
} from "../registers/bind.ts";
import { fuseVersionOf } from "../registers/fuse.ts";
import type { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { driverBooterIndex, driverFwsecIndex, patchFwsecByHand } from "./_sim_driver.ts";
import { decodeSequencer, packId, registryPayload, xorFold } from "./_sim_gsp_rm_host.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const PAGE = 4096;
const GA100 = 0x170;
const GA102 = 0x172;

const down = (n: number, a: number) => Math.floor(n / a) * a;
const up = (n: number, a: number) => Math.ceil(n / a) * a;
const hex = (n: number | bigint) => `0x${n.toString(16)}`;

// ------------------------------------------------------------------------------------------------
// Firmware

/** The files a SEC2-path boot needs, parsed. */
export interface HandFirmware {
  /** `real` (linux-firmware 570.144) or `forged`. */
  readonly origin: "real" | "forged";
  readonly booterLoad: BooterFirmware;
  readonly booterUnload: BooterFirmware;
  readonly bootloader: RiscvBootloader;
  /** Turing and GA100 only. */
  readonly genBootloader?: GenBootloader;
  /** The `.fwimage` bytes. */
  readonly gspImage: Uint8Array;
  /** This chip's `.fwsignature_*` section. */
  readonly gspSignature: Uint8Array;
  /** The firmware root the files came from (real sets). */
  readonly root?: string;
  /** The raw files by name (`booter_load`, …). */
  readonly files: Readonly<Record<string, Uint8Array>>;
}

function chipOf(name: string): ChipInfo {
  const chip = chipByName(name);
  if (!chip) throw new Error(`unknown chip ${name}`);
  return chip;
}

/** Parse a chip's set from raw files. */
export function parseFirmwareSet(
  chipName: string,
  files: Record<string, Uint8Array>,
  origin: "real" | "forged",
  root?: string,
): HandFirmware {
  const chip = chipOf(chipName);
  const gspFile = files.gsp;
  const gsp = parseGspImage(gspFile, "gsp-570.144.bin");
  return {
    origin,
    root,
    files,
    booterLoad: parseBooter(files.booter_load, "booter_load-570.144.bin"),
    booterUnload: parseBooter(files.booter_unload, "booter_unload-570.144.bin"),
    bootloader: parseRiscvBootloader(files.bootloader, "bootloader-570.144.bin"),
    genBootloader: files.gen_bootloader
      ? parseGenBootloader(files.gen_bootloader, "gen_bootloader-570.144.bin")
      : undefined,
    gspImage: gspFile.subarray(gsp.image.offset, gsp.image.offset + gsp.image.size),
    gspSignature: gspSignature(gsp, gspFile, gspSignatureSectionOf(chip)).slice(),
  };
}

const TURING_LIKE = new Set(["tu10x", "tu11x", "ga100"]);

/** A forged set for a chip, with the families' facts of real-files.md (as scripts/_forged_firmware.ts). */
export function forgedFirmwareFiles(chipName: string): Record<string, Uint8Array> {
  const chip = chipOf(chipName);
  const turingLike = TURING_LIKE.has(chip.family);
  const turing = chip.family === "tu10x" || chip.family === "tu11x";
  const booter = (seed: number) =>
    forgeBooter({
      ...(turing
        ? { signatureSize: 16, signatureCount: 1, fuseVersion: 0, ucodeId: 13 }
        : chip.family === "ga100"
        ? { signatureSize: 384, signatureCount: 1, fuseVersion: 0, ucodeId: 3 }
        : { signatureSize: 384, signatureCount: 2, fuseVersion: 1, ucodeId: 3 }),
      seed,
    });
  const files: Record<string, Uint8Array> = {
    booter_load: booter(1),
    booter_unload: booter(2),
    bootloader: forgeRiscvBootloader({ version: turingLike ? 4 : 5 }),
    gsp: forgeGspImage({
      imageSize: 256 * 1024 + 0xea0,
      version: "570.144",
      signatureSections: turingLike ? GSP_SIGNATURE_SECTIONS_TU : GSP_SIGNATURE_SECTIONS_GA102,
    }),
  };
  if (turingLike) files.gen_bootloader = forgeGenBootloader({});
  return files;
}

/** A forged set, parsed. */
export function forgedFirmware(chipName: string): HandFirmware {
  return parseFirmwareSet(chipName, forgedFirmwareFiles(chipName), "forged");
}

const REAL_NAMES = ["booter_load", "booter_unload", "bootloader", "gsp", "gen_bootloader"];

/** The real set from a firmware root, or `undefined` when a file is missing. */
export async function realFirmware(
  chipName: string,
  root: string,
): Promise<HandFirmware | undefined> {
  const chip = chipOf(chipName);
  const files: Record<string, Uint8Array> = {};
  for (const name of REAL_NAMES) {
    if (name === "gen_bootloader" && !TURING_LIKE.has(chip.family)) continue;
    try {
      files[name] = await Deno.readFile(`${root}/nvidia/${chipName}/gsp/${name}-570.144.bin`);
    } catch {
      return undefined;
    }
  }
  return parseFirmwareSet(chipName, files, "real", root);
}

// ------------------------------------------------------------------------------------------------
// Errors

/** A step the hardware refused, with what it read back. */
export class HandBootError extends Error {
  constructor(readonly step: string, message: string, readonly value?: number) {
    super(`${step}: ${message}`);
  }
}

/** One deliberate mistake (or none). */
export interface HandMistakes {
  /** FWSEC-FRTS: patch this signature index instead of the fuse-selected one. */
  fwsecSignatureIndex?: number;
  /** Booter-load: patch this signature index instead. */
  booterSignatureIndex?: number;
  /** For this image, convert the fuse mask to a version off by one (highest set bit's index, no +1). */
  offByOneFuse?: "fwsec" | "booter";
  /** FWSEC-FRTS: leave the DMEM mapper's init_cmd and command buffer unpatched. */
  unpatchedMapper?: boolean;
  /** Skip the "WPR2 must not be set" check before FWSEC-FRTS (so FWSEC sees it). */
  skipWpr2Check?: boolean;
  /** GspFwWprMeta magic. */
  wprMetaMagic?: bigint;
  /** Radix3: the level-2 entries point this many pages further into the image. */
  radix3ShiftPages?: number;
  /** Corrupt the checksum of the first command sent (SET_SYSTEM_INFO). */
  badChecksum?: boolean;
  /** Load Booter-load by this method instead of the chip's. */
  booterLoadMethod?: "pio" | "dma";
  /** Booter-load: MBOX0/1 name an IOVA nothing is mapped at. */
  metaAtUnmappedIova?: boolean;
  /** DMA loads: free the buffer before the falcon's DMA engine reads it. */
  dmaFromFreedBuffer?: boolean;
}

// ------------------------------------------------------------------------------------------------
// The PROM as a byte source (§3.2: 32-bit reads at 0x300000, lengths multiples of 4)

/** The VBIOS through the PROM window, read a word at a time, each word once. */
export function promSource(gpu: SimulatedGpu, regs: ChipRegisters): ByteSource & {
  readonly wordsRead: number;
} {
  const base = regs.PROM.DATA.address;
  const size = regs.PROM.DATA.count;
  const words = new Map<number, number>();
  const word = (at: number) => {
    let v = words.get(at);
    if (v === undefined) {
      v = gpu.bar0.read32(base + at);
      words.set(at, v);
    }
    return v;
  };
  return {
    size,
    name: "PROM",
    get wordsRead() {
      return words.size;
    },
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`PROM read ${hex(offset)}+${length} outside the window`);
      }
      const out = new Uint8Array(length);
      const first = down(offset, 4);
      const view = new DataView(new ArrayBuffer(4));
      for (let at = first; at < offset + length; at += 4) {
        view.setUint32(0, word(at), true);
        for (let i = 0; i < 4; i++) {
          const p = at + i - offset;
          if (p >= 0 && p < length) out[p] = view.getUint8(i);
        }
      }
      return out;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// FB layout (§3.5, nova-core's heap rule; §13: NVIDIA's gives the same numbers here)

/** The regions, by hand. */
export interface HandLayout {
  fbSize: number;
  vgaStart: number;
  frtsStart: number;
  frtsEnd: number;
  bootStart: number;
  elfStart: number;
  heapStart: number;
  heapEnd: number;
  wpr2Start: number;
  nonWprStart: number;
  wprEnd: number;
}

export function handLayout(input: {
  chipset: number;
  fbSize: number;
  vgaStart: number;
  bootloaderSize: number;
  imageSize: number;
}): HandLayout {
  const { chipset, fbSize, vgaStart } = input;
  const frtsSize = chipset === GA100 ? 0 : MiB;
  const wprEnd = down(vgaStart, 128 * KiB);
  const frtsStart = wprEnd - frtsSize;
  const bootStart = down(frtsStart - input.bootloaderSize, 4 * KiB);
  const elfStart = down(bootStart - input.imageSize, 64 * KiB);
  const libos3 = chipset >= GA102;
  const raw = (libos3 ? 22 * MiB : 0) + 8 * MiB + up(96 * MiB, MiB) +
    up(96 * KiB * Math.ceil(fbSize / GiB), MiB);
  const heap = Math.min(Math.max(raw, (libos3 ? 88 : 64) * MiB), (libos3 ? 280 : 256) * MiB - 1);
  const heapStart = down(elfStart - heap, MiB);
  const heapEnd = down(elfStart, MiB);
  const wpr2Start = down(heapStart - 256, MiB);
  return {
    fbSize,
    vgaStart,
    frtsStart,
    frtsEnd: frtsStart + frtsSize,
    bootStart,
    elfStart,
    heapStart,
    heapEnd,
    wpr2Start,
    nonWprStart: wpr2Start - MiB,
    wprEnd,
  };
}

// ------------------------------------------------------------------------------------------------
// Queue constants (§5.1, §5.2, §5.3)

const SHARED_SIZE = 0x81000;
const SHARED_PAGES = SHARED_SIZE / PAGE;
const CMDQ = 0x1000;
const STATQ = 0x41000;
const SLOTS = 63;
const LOG_SIZE = 64 * KiB;
const ELEMENT_HEADER = 48;
const RPC_HEADER = 32;
/** `GspStaticConfigInfo` in 570.144 (gsp_abi_check.c) and where `gpuNameString` sits in it. */
const STATIC_INFO_SIZE = 1656;
const STATIC_INFO_NAME = 1260;
const GSP_SYSTEM_INFO_SIZE = 920;

const FN = {
  UNLOADING_GUEST_DRIVER: 47,
  GET_GSP_STATIC_INFO: 65,
  GSP_SET_SYSTEM_INFO: 72,
  SET_REGISTRY: 73,
  GSP_INIT_DONE: 0x1001,
  GSP_RUN_CPU_SEQUENCER: 0x1002,
} as const;

/** A message taken from the GSP's queue. */
export interface HandMessage {
  function: number;
  result: number;
  seqNum: number;
  payload: Uint8Array;
}

// ------------------------------------------------------------------------------------------------
// The boot

/** A step and the modelled time when it finished. */
export interface HandStep {
  step: string;
  atMs: number;
}

/** Options of {@linkcode HandBoot}. */
export interface HandBootOptions {
  mistakes?: HandMistakes;
}

/** Everything the flow keeps between steps; each step is one method, in the reference's order. */
export class HandBoot implements Disposable {
  readonly gpu: SimulatedGpu;
  readonly fw: HandFirmware;
  readonly chip: ChipInfo;
  readonly regs: ChipRegisters;
  readonly gsp: FalconRegisters;
  readonly sec2: FalconRegisters;
  readonly mistakes: HandMistakes;
  readonly steps: HandStep[] = [];
  readonly buffers: DmaBuffer[] = [];

  fwsec?: FwsecFirmware;
  promWordsRead = 0;
  layout?: HandLayout;
  flushPage?: DmaBuffer;
  libosArgs?: DmaBuffer;
  shared?: DmaBuffer;
  wprMeta?: DmaBuffer;
  seq = 0;
  sequencerOpcodes: number[] = [];
  boardName?: string;
  regSave = new Array<number>(8).fill(0);
  /** The LibOS log buffers by name (LOGINIT, LOGINTR, LOGRM). */
  readonly logs = new Map<string, DmaBuffer>();

  constructor(gpu: SimulatedGpu, fw: HandFirmware, options: HandBootOptions = {}) {
    this.gpu = gpu;
    this.fw = fw;
    this.chip = gpu.model.chip;
    this.regs = chipRegisters(this.chip);
    this.gsp = falconRegisters(this.chip, "GSP");
    this.sec2 = falconRegisters(this.chip, "SEC2");
    this.mistakes = options.mistakes ?? {};
  }

  get chipset(): number {
    return this.chip.chipsetId;
  }

  get bar0() {
    return this.gpu.bar0;
  }

  /** Turing and GA100 use the TU102 falcon HAL (PIO, no BROM, no core select, no fuses). */
  get tu102Hal(): boolean {
    return this.chipset <= GA100;
  }

  #done(step: string): void {
    this.steps.push({ step, atMs: this.gpu.clock.now() });
  }

  #alloc(size: number): DmaBuffer {
    const buffer = this.gpu.dma.alloc(size);
    this.buffers.push(buffer);
    return buffer;
  }

  // ---------------------------------------------------------------------------------------------
  // §3.0 steps 3–4

  /** GFW boot: PLM bit 0 and the progress byte 0xff; every 1 ms, 4 s. */
  async waitGfwBoot(): Promise<void> {
    const plm = this.regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK;
    const progress = this.regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
    const deadline = this.gpu.clock.now() + 4000;
    for (;;) {
      if (
        plm.read(this.bar0).READ_PROTECTION_LEVEL0 === 1 &&
        progress.read(this.bar0).PROGRESS === 0xff
      ) break;
      if (this.gpu.clock.now() >= deadline) {
        throw new HandBootError("gfw-boot", "GFW boot did not complete in 4 s");
      }
      await this.gpu.clock.sleep(1);
    }
    this.#done("gfw-boot");
  }

  /** §3.11: one page; Turing LO only, GA100+ HI first then LO. */
  registerFlushPage(): void {
    const page = this.gpu.dma.alloc(PAGE);
    this.flushPage = page;
    const pfb = this.regs.PFB;
    if (pfb.NISO_FLUSH_SYSMEM_ADDR_HI.present) {
      pfb.NISO_FLUSH_SYSMEM_ADDR_HI.write(this.bar0, { ADR_63_40: Number(page.iova >> 40n) });
    }
    pfb.NISO_FLUSH_SYSMEM_ADDR.writeRaw(this.bar0, Number((page.iova >> 8n) & 0xffff_ffffn));
    this.#done("sysmem-flush");
  }

  /** §3.11 drop: unregister only if the register still holds our page. */
  unregisterFlushPage(): void {
    const page = this.flushPage;
    if (!page) return;
    const pfb = this.regs.PFB;
    const lo = Number((page.iova >> 8n) & 0xffff_ffffn);
    if (pfb.NISO_FLUSH_SYSMEM_ADDR.readRaw(this.bar0) === lo) {
      if (pfb.NISO_FLUSH_SYSMEM_ADDR_HI.present) {
        pfb.NISO_FLUSH_SYSMEM_ADDR_HI.writeRaw(this.bar0, 0);
      }
      pfb.NISO_FLUSH_SYSMEM_ADDR.writeRaw(this.bar0, 0);
    }
    page[Symbol.dispose]();
    this.flushPage = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // §3.2 VBIOS, §3.5 layout

  /** Read FWSEC out of the PROM (only what the parser asks for). */
  readVbios(): FwsecFirmware {
    const source = promSource(this.gpu, this.regs);
    this.fwsec = extractFwsec(source);
    this.promWordsRead = source.wordsRead;
    this.#done("vbios");
    return this.fwsec;
  }

  /** VRAM size, VGA workspace, then every region top-down. */
  computeLayout(): HandLayout {
    const r = this.regs;
    let fbSize: number;
    if (this.chipset <= GA100) {
      const range = r.PFB.PRI_MMU_LOCAL_MEMORY_RANGE.read(this.bar0);
      fbSize = (range.LOWER_MAG * 2 ** range.LOWER_SCALE) * MiB;
      if (range.ECC_MODE) fbSize = fbSize / 16 * 15;
    } else {
      fbSize = r.PGC6.AON_SECURE_SCRATCH_GROUP_42.readRaw(this.bar0) * MiB;
    }
    const base = fbSize - MiB;
    let vgaStart = base;
    const displayPresent = (r.FUSE.STATUS_OPT_DISPLAY.readRaw(this.bar0) & 1) === 0;
    if (displayPresent) {
      const ws = r.PDISP.VGA_WORKSPACE_BASE.readRaw(this.bar0);
      if (ws & 0x8) {
        const addr = (ws >>> 8) * 65536;
        vgaStart = addr < base ? fbSize - 128 * KiB : addr;
      }
    }
    this.layout = handLayout({
      chipset: this.chipset,
      fbSize,
      vgaStart,
      bootloaderSize: this.fw.bootloader.ucode.length,
      imageSize: this.fw.gspImage.length,
    });
    this.#done("fb-layout");
    return this.layout;
  }

  // ---------------------------------------------------------------------------------------------
  // Falcon mechanics (§3.6)

  /** The signature fuse version of a ucode (GA102 HAL; TU102 HAL: 0 without reading). */
  fuseVersion(engineIdMask: number, ucodeId: number, image?: "fwsec" | "booter"): number {
    if (this.tu102Hal) return 0;
    if (ucodeId < 1 || ucodeId > 16) throw new HandBootError("fuse", `ucode id ${ucodeId}`);
    const fuse = this.regs.FUSE;
    const reg = engineIdMask & 0x1
      ? fuse.OPT_FPF_SEC2_UCODE1_VERSION
      : engineIdMask & 0x4
      ? fuse.OPT_FPF_NVDEC_UCODE1_VERSION
      : engineIdMask & 0x400
      ? fuse.OPT_FPF_GSP_UCODE1_VERSION
      : undefined;
    if (!reg) throw new HandBootError("fuse", `engine id mask ${hex(engineIdMask)}`);
    const mask = reg.at(ucodeId - 1).readRaw(this.bar0) & 0xffff;
    if (image && this.mistakes.offByOneFuse === image) {
      return mask === 0 ? 0 : 31 - Math.clz32(mask);
    }
    return fuseVersionOf(mask);
  }

  /** `Falcon::reset`: the HAL's engine reset, core select, scrubbing wait, then RM = BOOT_0. */
  async resetFalcon(f: FalconRegisters, into: "falcon" | "riscv" = "falcon"): Promise<void> {
    const bar0 = this.bar0;
    if (this.tu102Hal) {
      f.ENGINE.write(bar0, { RESET: 1 });
      await this.gpu.clock.sleep(0.01);
      f.ENGINE.write(bar0, { RESET: 0 });
      await bar0.poll(
        f.DMACTL.address,
        (v) => {
          const d = f.DMACTL.decode(v);
          return d.DMEM_SCRUBBING === 0 && d.IMEM_SCRUBBING === 0;
        },
        { timeoutMs: 10, intervalMs: 0, name: `${f.DMACTL.name} scrubbing` },
      );
    } else {
      f.HWCFG2.readRaw(bar0);
      try {
        await bar0.poll(f.HWCFG2.address, (v) => f.HWCFG2.decode(v).RESET_READY === 1, {
          timeoutMs: 0.15,
          intervalMs: 0,
        });
      } catch {
        // The hardware may never set it (§3.6): not fatal.
      }
      f.ENGINE.write(bar0, { RESET: 1 });
      await this.gpu.clock.sleep(0.01);
      f.ENGINE.write(bar0, { RESET: 0 });
      const scrubbed = () =>
        bar0.poll(f.HWCFG2.address, (v) => f.HWCFG2.decode(v).MEM_SCRUBBING === 0, {
          timeoutMs: 20,
          intervalMs: 0,
          name: `${f.HWCFG2.name} MEM_SCRUBBING`,
        });
      await scrubbed();
      const want = into === "riscv" ? 1 : 0;
      if (f.RISCV_BCR_CTRL.read(bar0).CORE_SELECT !== want || into === "riscv") {
        f.RISCV_BCR_CTRL.write(
          bar0,
          into === "riscv" ? { CORE_SELECT: 1, VALID: 1, BRFETCH: 1 } : { CORE_SELECT: 0 },
        );
        await bar0.poll(f.RISCV_BCR_CTRL.address, (v) => f.RISCV_BCR_CTRL.decode(v).VALID === 1, {
          timeoutMs: 10,
          intervalMs: 0,
        });
      }
      await scrubbed();
    }
    f.RM.writeRaw(bar0, this.regs.PMC.BOOT_0.readRaw(bar0));
  }

  /** PIO into IMEM: IMEMC(0) = {dst, AINCW, SECURE}; IMEMT(0) before each 256-byte block. */
  pioImem(f: FalconRegisters, dst: number, bytes: Uint8Array, secure: boolean, tag: number): void {
    const bar0 = this.bar0;
    f.FBIF_CTL.write(bar0, { ALLOW_PHYS_NO_CTX: 1 });
    f.DMACTL.writeRaw(bar0, 0);
    f.IMEMC.at(0).write(bar0, {
      OFFS: (dst >> 2) & 0x3f,
      BLK: dst >> 8,
      AINCW: 1,
      SECURE: secure ? 1 : 0,
    });
    const padded = new Uint8Array(up(bytes.length, 4));
    padded.set(bytes);
    const view = new DataView(padded.buffer);
    const data = f.IMEMD.at(0);
    const tags = f.IMEMT.at(0);
    for (let at = 0; at < padded.length; at += 4) {
      if (at % 256 === 0) tags.writeRaw(bar0, tag + at / 256);
      data.writeRaw(bar0, view.getUint32(at, true));
    }
  }

  /** PIO into DMEM: DMEMC(0) = {dst, AINCW}; DMEMD(0) words. */
  pioDmem(f: FalconRegisters, dst: number, bytes: Uint8Array): void {
    const bar0 = this.bar0;
    f.FBIF_CTL.write(bar0, { ALLOW_PHYS_NO_CTX: 1 });
    f.DMACTL.writeRaw(bar0, 0);
    f.DMEMC.at(0).write(bar0, { OFFS: (dst >> 2) & 0x3f, BLK: dst >> 8, AINCW: 1 });
    const padded = new Uint8Array(up(bytes.length, 4));
    padded.set(bytes);
    const view = new DataView(padded.buffer);
    const data = f.DMEMD.at(0);
    for (let at = 0; at < padded.length; at += 4) data.writeRaw(bar0, view.getUint32(at, true));
  }

  /**
   * DMA into IMEM or DMEM, 256 bytes a command (§3.6): IMEM with the base at
   * the buffer and FBOFFS = src + pos; DMEM with the base at buffer + src and
   * FBOFFS = pos. Waits for IDLE after each chunk (no delay, 2 s).
   */
  async dmaLoad(
    f: FalconRegisters,
    buffer: DmaBuffer,
    target: "imem" | "dmem",
    src: number,
    dst: number,
    length: number,
    secure: boolean,
  ): Promise<void> {
    const bar0 = this.bar0;
    const base = target === "imem" ? buffer.iova : buffer.iova + BigInt(src);
    if (base % 256n !== 0n) {
      throw new HandBootError("dma-load", `DMA base ${hex(base)} is not 256-byte aligned`);
    }
    f.DMATRFBASE.writeRaw(bar0, Number((base >> 8n) & 0xffff_ffffn));
    f.DMATRFBASE1.writeRaw(bar0, Number(base >> 40n) & 0x1ff);
    for (let pos = 0; pos < length; pos += 256) {
      f.DMATRFMOFFS.writeRaw(bar0, dst + pos);
      f.DMATRFFBOFFS.writeRaw(bar0, target === "imem" ? src + pos : pos);
      f.DMATRFCMD.write(bar0, {
        SIZE: 6,
        IMEM: target === "imem" ? 1 : 0,
        SEC: target === "imem" && secure ? 1 : 0,
      });
      await bar0.poll(f.DMATRFCMD.address, (v) => f.DMATRFCMD.decode(v).IDLE === 1, {
        timeoutMs: 2000,
        intervalMs: 0,
        name: `${f.DMATRFCMD.name} IDLE`,
      });
    }
  }

  /** Copy an image into a DMA buffer padded to 256 bytes; FBIF set up for physical sysmem. */
  dmaSetup(f: FalconRegisters, image: Uint8Array): DmaBuffer {
    const buffer = this.#alloc(up(image.length, 256));
    buffer.bytes.set(image);
    const bar0 = this.bar0;
    f.FBIF_CTL.write(bar0, { ALLOW_PHYS_NO_CTX: 1 });
    f.DMACTL.writeRaw(bar0, 0);
    f.FBIF_TRANSCFG.at(0).write(bar0, { TARGET: 1, MEM_TYPE: 1 });
    if (this.mistakes.dmaFromFreedBuffer) buffer[Symbol.dispose]();
    return buffer;
  }

  /** BROM registers (GA102 HAL only). */
  programBrom(f: FalconRegisters, pkc: number, engineIdMask: number, ucodeId: number): void {
    if (this.tu102Hal) return;
    const bar0 = this.bar0;
    f.BROM_PARAADDR.at(0).writeRaw(bar0, pkc);
    f.BROM_ENGIDMASK.writeRaw(bar0, engineIdMask);
    f.BROM_CURR_UCODE_ID.write(bar0, { VAL: ucodeId });
    f.MOD_SEL.write(bar0, { ALGO: 1 });
  }

  /** Start the CPU (through CPUCTL_ALIAS when ALIAS_EN is set). */
  startCpu(f: FalconRegisters): void {
    if (f.CPUCTL.read(this.bar0).ALIAS_EN === 1) {
      f.CPUCTL_ALIAS.write(this.bar0, { STARTCPU: 1 });
    } else {
      f.CPUCTL.write(this.bar0, { STARTCPU: 1 });
    }
  }

  /** `Falcon::boot`: mailboxes, start, wait HALTED (no delay, 2 s), return the mailboxes. */
  async boot(
    f: FalconRegisters,
    step: string,
    mbox0?: number,
    mbox1?: number,
    timeoutMs = 2000,
  ): Promise<[number, number]> {
    const bar0 = this.bar0;
    if (mbox0 !== undefined) f.MAILBOX0.writeRaw(bar0, mbox0);
    if (mbox1 !== undefined) f.MAILBOX1.writeRaw(bar0, mbox1);
    this.startCpu(f);
    try {
      await bar0.poll(f.CPUCTL.address, (v) => f.CPUCTL.decode(v).HALTED === 1, {
        timeoutMs,
        intervalMs: 0,
        name: `${f.CPUCTL.name} HALTED`,
      });
    } catch (e) {
      throw new HandBootError(step, `the falcon did not halt: ${(e as Error).message}`);
    }
    return [f.MAILBOX0.readRaw(bar0), f.MAILBOX1.readRaw(bar0)];
  }

  // ---------------------------------------------------------------------------------------------
  // §3.3, §3.4 FWSEC

  /** Patch FWSEC for a command (§3.3), with the fuse-selected signature on v3. */
  patchFwsec(command: 0x15 | 0x19): Uint8Array {
    const fwsec = this.fwsec ?? this.readVbios();
    const layout = this.layout;
    const ucode = this.mistakes.unpatchedMapper && command === 0x15
      ? fwsec.ucode.slice()
      : patchFwsecByHand(fwsec, {
        command,
        frtsStart: layout?.frtsStart,
        frtsSize: layout ? layout.frtsEnd - layout.frtsStart : undefined,
      });
    const d = fwsec.descriptor;
    if (d.descriptorVersion === 3 && d.signatureCount > 0) {
      const fuse = this.fuseVersion(d.engineIdMask, d.ucodeId, "fwsec");
      const bit = 1 << fuse;
      let index = this.mistakes.fwsecSignatureIndex;
      if (index === undefined) {
        if ((d.signatureVersions & bit) === 0) {
          throw new HandBootError(
            "fwsec",
            `no signature for fuse version ${fuse} (versions ${hex(d.signatureVersions)})`,
          );
        }
        index = driverFwsecIndex(d.signatureVersions, fuse);
      }
      ucode.set(fwsec.signatures[index], d.imemLoadSize + d.pkcDataOffset);
    }
    return ucode;
  }

  /** Load and run FWSEC on the GSP falcon; returns MBOX0. */
  async runFwsec(command: 0x15 | 0x19): Promise<number> {
    const step = command === 0x15 ? "fwsec-frts" : "fwsec-sb";
    const fwsec = this.fwsec ?? this.readVbios();
    const ucode = this.patchFwsec(command);
    const f = this.gsp;
    const d = fwsec.descriptor;
    await this.resetFalcon(f);
    if (d.descriptorVersion === 2) {
      // Turing/GA100: the generic bootloader, PIO at the top of IMEM, DMAs FWSEC itself.
      const bl = this.fw.genBootloader;
      if (!bl) throw new HandBootError(step, "no generic bootloader for a v2 FWSEC");
      if (d.dmemPhysBase !== 0) throw new HandBootError(step, "FWSEC DMEM dst is not 0");
      const secureSrc = d.imemSecBase - d.imemVirtBase;
      const secureDst = d.imemPhysBase + secureSrc;
      const padding = secureDst - secureSrc;
      const buffer = this.#alloc(padding + ucode.length);
      buffer.bytes.set(ucode, padding);
      const desc = new Uint8Array(84);
      const v = new DataView(desc.buffer);
      v.setUint32(32, 4, true); // ctx_dma: PHYS_SYS_NCOH (programmed coherent below, as in source)
      v.setBigUint64(36, buffer.iova, true);
      v.setUint32(44, d.imemPhysBase, true);
      v.setUint32(48, d.imemLoadSize - d.imemSecSize, true);
      v.setUint32(52, secureDst, true);
      v.setUint32(56, d.imemSecSize, true);
      v.setUint32(60, 0, true);
      v.setBigUint64(64, buffer.iova + BigInt(padding + d.dmemOffset), true);
      v.setUint32(72, d.dmemLoadSize, true);
      const code = new Uint8Array(up(bl.code.length, 256));
      code.set(bl.code);
      const imemSize = f.HWCFG.read(this.bar0).IMEM_SIZE * 256;
      this.pioImem(f, imemSize - code.length, code, false, bl.descriptor.startTag);
      this.pioDmem(f, bl.descriptor.dmemLoadOffset, desc);
      f.FBIF_TRANSCFG.at(4).write(this.bar0, { TARGET: 1, MEM_TYPE: 1 });
      f.BOOTVEC.writeRaw(this.bar0, bl.descriptor.startTag << 8);
    } else {
      const buffer = this.dmaSetup(f, ucode);
      await this.dmaLoad(f, buffer, "imem", 0, d.imemPhysBase, d.imemLoadSize, true);
      await this.dmaLoad(f, buffer, "dmem", d.imemLoadSize, d.dmemPhysBase, d.dmemLoadSize, false);
      this.programBrom(f, d.pkcDataOffset, d.engineIdMask, d.ucodeId);
      f.BOOTVEC.writeRaw(this.bar0, d.imemVirtBase);
    }
    const [mbox0] = await this.boot(f, step, 0);
    this.#done(step);
    return mbox0;
  }

  /** The FRTS error code FWSEC leaves in SW_SCRATCH(0xe) bits 31:16. */
  frtsError(): number {
    return this.regs.PBUS.SW_SCRATCH_0E_FRTS_ERR.read(this.bar0).FRTS_ERR_CODE;
  }

  /** WPR2 as the registers say, or `undefined` when HI reads 0. */
  wpr2(): { start: number; end: number } | undefined {
    const hi = this.regs.PFB.PRI_MMU_WPR2_ADDR_HI.read(this.bar0).VAL;
    if (hi === 0) return undefined;
    const lo = this.regs.PFB.PRI_MMU_WPR2_ADDR_LO.read(this.bar0).VAL;
    return { start: lo * PAGE, end: hi * PAGE };
  }

  /** §3.1 step 6 with §3.4/§3.7's checks: no WPR2 before, FWSEC halts with 0, no FRTS error, WPR2 at FRTS. */
  async fwsecFrts(): Promise<void> {
    if (!this.mistakes.skipWpr2Check && this.wpr2()) {
      throw new HandBootError("fwsec-frts", "WPR2 is already set: the GPU needs a reset");
    }
    const mbox0 = await this.runFwsec(0x15);
    if (mbox0 !== 0) throw new HandBootError("fwsec-frts", `MBOX0 ${hex(mbox0)}`, mbox0);
    const error = this.frtsError();
    if (error !== 0) throw new HandBootError("fwsec-frts", `FRTS error ${hex(error)}`, error);
    const wpr2 = this.wpr2();
    if (!wpr2 || wpr2.start !== this.layout!.frtsStart) {
      throw new HandBootError(
        "fwsec-frts",
        `WPR2 ${wpr2 ? hex(wpr2.start) : "unset"}, FRTS at ${hex(this.layout!.frtsStart)}`,
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // §5.1 LibOS, RMARGS, shared memory; §3.9 radix3; §3.8 WPR meta

  /** LibOS init args, the three logs, RMARGS and the queues' shared memory. */
  buildLibos(): void {
    const args = this.#alloc(PAGE);
    const rmArgs = this.#alloc(PAGE);
    const shared = this.#alloc(SHARED_SIZE);
    const sv = new DataView(shared.bytes.buffer);
    for (let i = 0; i < SHARED_PAGES; i++) {
      sv.setBigUint64(i * 8, shared.iova + BigInt(i * PAGE), true);
    }
    [0, 0x40000, 0x1000, SLOTS, 0, 1, 0x20, 0x1000].forEach((v, i) =>
      sv.setUint32(CMDQ + i * 4, v, true)
    );
    const rv = new DataView(rmArgs.bytes.buffer);
    rv.setBigUint64(0, shared.iova, true);
    rv.setUint32(8, SHARED_PAGES, true);
    rv.setBigUint64(16, BigInt(CMDQ), true);
    rv.setBigUint64(24, BigInt(STATQ), true);
    rv.setUint8(48, 1); // bDmemStack
    const av = new DataView(args.bytes.buffer);
    ["LOGINIT", "LOGINTR", "LOGRM", "RMARGS"].forEach((name, i) => {
      const at = i * 32;
      av.setBigUint64(at, packId(name), true);
      if (name === "RMARGS") {
        av.setBigUint64(at + 8, rmArgs.iova, true);
        av.setBigUint64(at + 16, BigInt(PAGE), true);
      } else {
        const log = this.#alloc(LOG_SIZE);
        this.logs.set(name, log);
        const lv = new DataView(log.bytes.buffer);
        for (let p = 0; p < LOG_SIZE / PAGE; p++) {
          lv.setBigUint64(8 + p * 8, log.iova + BigInt(p * PAGE), true);
        }
        av.setBigUint64(at + 8, log.iova, true);
        av.setBigUint64(at + 16, BigInt(LOG_SIZE), true);
      }
      av.setUint8(at + 24, 1); // CONTIGUOUS
      av.setUint8(at + 25, 1); // SYSMEM
    });
    this.libosArgs = args;
    this.shared = shared;
    this.#done("libos-args");
  }

  /** Reset the GSP into RISC-V and leave the LibOS args address in MBOX0/1 (§13). */
  async prepareGsp(): Promise<void> {
    await this.resetFalcon(this.gsp, "riscv");
    const iova = this.libosArgs!.iova;
    this.gsp.MAILBOX0.writeRaw(this.bar0, Number(iova & 0xffff_ffffn));
    this.gsp.MAILBOX1.writeRaw(this.bar0, Number(iova >> 32n));
    this.#done("gsp-reset-riscv");
  }

  /** GSP image in DMA memory with its radix3 tables, bootloader, signature, WPR meta. */
  buildWprMeta(): void {
    const image = this.fw.gspImage;
    const pages = Math.ceil(image.length / PAGE);
    const shift = this.mistakes.radix3ShiftPages ?? 0;
    const imageBuffer = this.#alloc((pages + Math.max(shift, 0)) * PAGE);
    imageBuffer.bytes.set(image);
    const l2 = this.#alloc(pages * 8);
    const l2Pages = l2.size / PAGE;
    const l1 = this.#alloc(l2Pages * 8);
    const l0 = this.#alloc(PAGE);
    const v2 = new DataView(l2.bytes.buffer);
    for (let k = 0; k < pages; k++) {
      v2.setBigUint64(k * 8, imageBuffer.iova + BigInt((k + shift) * PAGE), true);
    }
    const v1 = new DataView(l1.bytes.buffer);
    for (let j = 0; j < l2Pages; j++) v1.setBigUint64(j * 8, l2.iova + BigInt(j * PAGE), true);
    new DataView(l0.bytes.buffer).setBigUint64(0, l1.iova, true);

    const bl = this.fw.bootloader;
    const blBuffer = this.#alloc(bl.ucode.length);
    blBuffer.bytes.set(bl.ucode);
    const sig = this.#alloc(this.fw.gspSignature.length);
    sig.bytes.set(this.fw.gspSignature);

    const l = this.layout!;
    const meta = this.#alloc(256);
    const v = new DataView(meta.bytes.buffer);
    const d = bl.descriptor;
    const fields: [number, bigint | number][] = [
      [0x00, this.mistakes.wprMetaMagic ?? 0xdc3aae21371a60b3n],
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
      [0x58, l.nonWprStart],
      [0x60, l.nonWprStart],
      [0x68, MiB],
      [0x70, l.wpr2Start],
      [0x78, l.heapStart],
      [0x80, l.heapEnd - l.heapStart],
      [0x88, l.elfStart],
      [0x90, l.bootStart],
      [0x98, l.frtsStart],
      [0xa0, l.frtsEnd - l.frtsStart],
      [0xa8, l.wprEnd],
      [0xb0, l.fbSize],
      [0xb8, l.vgaStart],
      [0xc0, l.fbSize - l.vgaStart],
      [0xc8, 0],
    ];
    for (const [at, value] of fields) v.setBigUint64(at, BigInt(value), true);
    v.setUint8(0xf1, 1); // flags bit 0 (clock boost), as NVIDIA sets on TU102–AD107 (§13)
    this.wprMeta = meta;
    this.#done("wpr-meta");
  }

  // ---------------------------------------------------------------------------------------------
  // §3.7 Booter on SEC2

  /** Patch and load a Booter image on SEC2 (after a reset); returns nothing, leaves it ready to start. */
  async loadBooter(booter: BooterFirmware, step: string): Promise<void> {
    const f = this.sec2;
    await this.resetFalcon(f);
    const p = booter.signatureParams;
    const fuse = this.fuseVersion(
      p.engineIdMask,
      p.ucodeId,
      step === "booter-load" ? "booter" : undefined,
    );
    const index = step === "booter-load" && this.mistakes.booterSignatureIndex !== undefined
      ? this.mistakes.booterSignatureIndex
      : driverBooterIndex(booter, fuse);
    const image = booter.image.slice();
    const signature = booter.signatures[index];
    if (!signature) throw new HandBootError(step, `no signature ${index}`);
    image.set(signature, booter.patchLocation);
    const lh = booter.loadHeader;
    const app = lh.apps[0];
    const chipPio = this.tu102Hal;
    const method = step === "booter-load" && this.mistakes.booterLoadMethod
      ? this.mistakes.booterLoadMethod
      : chipPio
      ? "pio"
      : "dma";
    const data = image.subarray(lh.osDataOffset, lh.osDataOffset + lh.osDataSize);
    const code = image.subarray(app.codeOffset, app.codeOffset + app.codeSize);
    if (method === "pio") {
      if (chipPio) {
        const ns = image.subarray(lh.osCodeOffset, lh.osCodeOffset + lh.osCodeSize);
        this.pioImem(f, lh.osCodeOffset, ns, false, lh.osCodeOffset >> 8);
        this.pioImem(f, app.codeOffset, code, true, app.codeOffset >> 8);
      } else {
        this.pioImem(f, 0, code, true, app.codeOffset >> 8);
      }
      this.pioDmem(f, 0, data);
    } else {
      const buffer = this.dmaSetup(f, image);
      if (chipPio) {
        await this.dmaLoad(
          f,
          buffer,
          "imem",
          lh.osCodeOffset,
          lh.osCodeOffset,
          lh.osCodeSize,
          false,
        );
        await this.dmaLoad(f, buffer, "imem", app.codeOffset, app.codeOffset, app.codeSize, true);
      } else {
        await this.dmaLoad(f, buffer, "imem", app.codeOffset, 0, app.codeSize, true);
      }
      await this.dmaLoad(f, buffer, "dmem", lh.osDataOffset, 0, lh.osDataSize, false);
    }
    this.programBrom(f, booter.patchLocation - lh.osDataOffset, p.engineIdMask, p.ucodeId);
    f.BOOTVEC.writeRaw(this.bar0, chipPio ? lh.osCodeOffset : app.codeOffset);
  }

  /** Booter-load with MBOX0/1 = the WPR meta's IOVA; MBOX0 must come back 0. */
  async booterLoad(): Promise<void> {
    await this.loadBooter(this.fw.booterLoad, "booter-load");
    const iova = this.mistakes.metaAtUnmappedIova ? 0x7f_0000_0000n : this.wprMeta!.iova;
    const [mbox0] = await this.boot(
      this.sec2,
      "booter-load",
      Number(iova & 0xffff_ffffn),
      Number(iova >> 32n),
    );
    if (mbox0 !== 0) throw new HandBootError("booter-load", `MBOX0 ${hex(mbox0)}`, mbox0);
    this.#done("booter-load");
  }

  /** §3.0 d–e: OS = app version; RISC-V active, every 10 ms, 5 s. */
  async waitRiscvActive(step = "riscv-active"): Promise<void> {
    const f = this.gsp;
    const bar0 = this.bar0;
    const reg: BoundRegister<string> = this.tu102Hal
      ? f.RISCV_CORE_SWITCH_RISCV_STATUS
      : f.RISCV_CPUCTL;
    try {
      await bar0.poll(reg.address, (v) => reg.decode(v).ACTIVE_STAT === 1, {
        timeoutMs: 5000,
        intervalMs: 10,
        name: `${reg.name} ACTIVE_STAT`,
      });
    } catch (e) {
      throw new HandBootError(step, (e as Error).message);
    }
    this.#done(step);
  }

  async startGspRm(): Promise<void> {
    this.gsp.OS.writeRaw(this.bar0, this.fw.bootloader.descriptor.appVersion);
    await this.waitRiscvActive();
  }

  // ---------------------------------------------------------------------------------------------
  // §5.2 the queues

  #u32(offset: number): number {
    return new DataView(this.shared!.bytes.buffer).getUint32(offset, true);
  }

  #setU32(offset: number, value: number): void {
    new DataView(this.shared!.bytes.buffer).setUint32(offset, value >>> 0, true);
  }

  #slot(queue: number, slot: number): number {
    return queue + 0x1000 + (slot % SLOTS) * PAGE;
  }

  /** A log buffer's put pointer (u64 0: how many words GSP-RM has written). */
  logPut(name: string): bigint {
    const log = this.logs.get(name);
    if (!log) throw new Error(`no log ${name}`);
    return new DataView(log.bytes.buffer).getBigUint64(0, true);
  }

  /** GSP-RM's read pointer into the command queue (`gspq.rx.readPtr`). */
  gspReadPointer(): number {
    return this.#u32(STATQ + 0x20);
  }

  /** Send one command (no continuation records: every payload here fits one element). */
  async send(fn: number, payload: Uint8Array): Promise<void> {
    const length = 80 + payload.length;
    const elemCount = Math.ceil(length / PAGE);
    const bytes = new Uint8Array(elemCount * PAGE);
    const v = new DataView(bytes.buffer);
    v.setUint32(0x24, this.seq, true);
    v.setUint32(0x28, elemCount, true);
    v.setUint32(0x30, 0x03000000, true);
    v.setUint32(0x34, 0x43505256, true);
    v.setUint32(0x38, RPC_HEADER + payload.length, true);
    v.setUint32(0x3c, fn, true);
    v.setUint32(0x40, 0xffffffff, true);
    v.setUint32(0x44, 0xffffffff, true);
    bytes.set(payload, 80);
    let checksum = xorFold(bytes, length);
    if (this.mistakes.badChecksum && this.seq === 0) checksum ^= 0x1;
    v.setUint32(0x20, checksum, true);
    // Space: (rx + 63 − tx − 1) % 63 slots, polled every 1 µs for 1 s.
    const tx = this.#u32(CMDQ + 0x10);
    const deadline = this.gpu.clock.now() + 1000;
    while (((this.#u32(STATQ + 0x20) + SLOTS - tx - 1) % SLOTS) < elemCount) {
      if (this.gpu.clock.now() >= deadline) throw new HandBootError("send", "no queue space");
      await this.gpu.clock.sleep(0.001);
    }
    for (let i = 0; i < elemCount; i++) {
      this.shared!.bytes.set(bytes.subarray(i * PAGE, (i + 1) * PAGE), this.#slot(CMDQ, tx + i));
    }
    this.#setU32(CMDQ + 0x10, (tx + elemCount) % SLOTS);
    this.seq++;
    this.regs.PGSP.QUEUE_HEAD.at(0).writeRaw(this.bar0, 0);
  }

  /** Take the next message, or `undefined` when the queue is empty. */
  takeMessage(): HandMessage | undefined {
    const rx = this.#u32(CMDQ + 0x20);
    if (this.#u32(STATQ + 0x10) === rx) return undefined;
    const first = this.#slot(STATQ, rx);
    const length = this.#u32(first + 0x38);
    const total = ELEMENT_HEADER + length;
    const slots = Math.ceil(total / PAGE);
    const bytes = new Uint8Array(slots * PAGE);
    for (let i = 0; i < slots; i++) {
      const at = this.#slot(STATQ, rx + i);
      bytes.set(this.shared!.bytes.subarray(at, at + PAGE), i * PAGE);
    }
    this.#setU32(CMDQ + 0x20, (rx + slots) % SLOTS);
    const v = new DataView(bytes.buffer);
    if (xorFold(bytes, total) !== 0) {
      throw new HandBootError(
        "receive",
        `bad checksum on function ${hex(v.getUint32(0x3c, true))}`,
      );
    }
    return {
      function: v.getUint32(0x3c, true),
      result: v.getUint32(0x40, true),
      seqNum: v.getUint32(0x24, true),
      payload: bytes.slice(80, ELEMENT_HEADER + length),
    };
  }

  /** Receive until a message of `fn` (others are consumed and skipped); 1 ms polls, 5 s each. */
  async receive(fn: number, step: string, timeoutMs = 5000): Promise<HandMessage> {
    let deadline = this.gpu.clock.now() + timeoutMs;
    for (;;) {
      const m = this.takeMessage();
      if (m?.function === fn) return m;
      if (m) {
        deadline = this.gpu.clock.now() + timeoutMs;
        continue;
      }
      if (this.gpu.clock.now() >= deadline) {
        throw new HandBootError(step, `no ${hex(fn)} message in ${timeoutMs} ms`);
      }
      await this.gpu.clock.sleep(1);
    }
  }

  /** SET_SYSTEM_INFO then SET_REGISTRY, without waiting. */
  async sendInitCommands(): Promise<void> {
    const info = new Uint8Array(GSP_SYSTEM_INFO_SIZE);
    const v = new DataView(info.buffer);
    const i = this.gpu.info;
    const [bus, devfn] = i.bdf.split(":").slice(1);
    const [dev, fnc] = devfn.split(".").map((x) => parseInt(x, 16));
    v.setBigUint64(0, 0xf000_0000n, true); // BAR0 bus address
    v.setBigUint64(32, BigInt((parseInt(bus, 16) << 8) | (dev << 3) | fnc), true);
    v.setBigUint64(72, (1n << 47n) - 4096n, true);
    v.setUint32(80, 0x88000, true);
    v.setUint32(84, 0x1000, true);
    v.setUint32(88, ((i.device << 16) | i.vendor) >>> 0, true);
    v.setUint32(92, ((i.subsystemDevice << 16) | i.subsystemVendor) >>> 0, true);
    v.setUint32(96, i.revision, true);
    await this.send(FN.GSP_SET_SYSTEM_INFO, info);
    await this.send(
      FN.SET_REGISTRY,
      registryPayload([
        ["RMSecBusResetEnable", 1],
        ["RMForcePcieConfigSave", 1],
        ["RMDevidCheckIgnore", 1],
      ]),
    );
    this.#done("init-commands");
  }

  // ---------------------------------------------------------------------------------------------
  // §3.10 the CPU sequencer, every opcode by hand

  async runSequencer(): Promise<void> {
    const message = await this.receive(FN.GSP_RUN_CPU_SEQUENCER, "sequencer");
    const script = decodeSequencer(message.payload);
    if (script.cmdIndex >= script.bufferSizeDWord) {
      throw new HandBootError("sequencer", `cmdIndex ${script.cmdIndex} ≥ buffer size`);
    }
    const bar0 = this.bar0;
    for (const { opcode, args } of script.commands) {
      this.sequencerOpcodes.push(opcode);
      switch (opcode) {
        case 0: // REG_WRITE
          bar0.write32(args[0], args[1]);
          break;
        case 1: { // REG_MODIFY
          const old = bar0.read32(args[0]);
          bar0.write32(args[0], ((old & ~args[1]) | args[2]) >>> 0);
          break;
        }
        case 2: { // REG_POLL
          const [addr, mask, value, timeoutUs, error] = args;
          try {
            await bar0.poll(addr, (v) => ((v & mask) >>> 0) === value, {
              timeoutMs: timeoutUs === 0 ? 4000 : timeoutUs / 1000,
              intervalMs: 0,
            });
          } catch {
            throw new HandBootError("sequencer", `REG_POLL ${hex(addr)} timed out`, error);
          }
          break;
        }
        case 3: // DELAY_US
          await this.gpu.clock.sleep(args[0] / 1000);
          break;
        case 4: // REG_STORE
          if (args[1] >= 8) throw new HandBootError("sequencer", `REG_STORE index ${args[1]}`);
          this.regSave[args[1]] = bar0.read32(args[0]);
          break;
        case 5: // CORE_RESET
          await this.resetFalcon(this.gsp);
          this.gsp.FBIF_CTL.write(bar0, { ALLOW_PHYS_NO_CTX: 1 });
          this.gsp.DMACTL.writeRaw(bar0, 0);
          break;
        case 6: // CORE_START
          this.startCpu(this.gsp);
          break;
        case 7: // CORE_WAIT_FOR_HALT
          await bar0.poll(
            this.gsp.CPUCTL.address,
            (v) => this.gsp.CPUCTL.decode(v).HALTED === 1,
            { timeoutMs: 2000, intervalMs: 0 },
          );
          break;
        case 8: // CORE_RESUME
          await this.coreResume();
          break;
        default:
          throw new HandBootError("sequencer", `opcode ${opcode}`);
      }
    }
    this.#done("sequencer");
  }

  /** CORE_RESUME (§3.10, §13): GSP reset into RISC-V, LibOS args back in MBOX0/1, SEC2 reloads GSP-RM. */
  async coreResume(): Promise<void> {
    const bar0 = this.bar0;
    await this.prepareGsp();
    this.startCpu(this.sec2);
    const bsi = this.regs.PGC6.BSI_SECURE_SCRATCH_14;
    try {
      await bar0.poll(bsi.address, (v) => bsi.decode(v).BOOT_STAGE_3_HANDOFF === 1, {
        timeoutMs: 4000,
        intervalMs: 0,
      });
    } catch {
      throw new HandBootError("core-resume", "no BOOT_STAGE_3_HANDOFF");
    }
    const mbox0 = this.sec2.MAILBOX0.readRaw(bar0);
    if (mbox0 !== 0) throw new HandBootError("core-resume", `SEC2 MBOX0 ${hex(mbox0)}`, mbox0);
    if (!this.tu102Hal) this.gsp.OS.writeRaw(bar0, this.fw.bootloader.descriptor.appVersion);
    await this.waitRiscvActive("core-resume");
  }

  async waitInitDone(): Promise<void> {
    await this.receive(FN.GSP_INIT_DONE, "init-done");
    this.#done("init-done");
  }

  /** GET_GSP_STATIC_INFO, sent zeroed; the board name from the reply. */
  async staticInfo(): Promise<string> {
    await this.send(FN.GET_GSP_STATIC_INFO, new Uint8Array(STATIC_INFO_SIZE));
    const reply = await this.receive(FN.GET_GSP_STATIC_INFO, "static-info");
    const field = reply.payload.subarray(STATIC_INFO_NAME, STATIC_INFO_NAME + 64);
    const end = field.indexOf(0);
    this.boardName = new TextDecoder().decode(field.subarray(0, end < 0 ? 64 : end));
    this.#done("static-info");
    return this.boardName;
  }

  // ---------------------------------------------------------------------------------------------
  // §6 unload

  /** UNLOADING_GUEST_DRIVER(level 0), its reply, then MBOX0 bit 31 (10 ms, 5 s). */
  async shutdownGsp(): Promise<void> {
    const payload = new Uint8Array(8);
    await this.send(FN.UNLOADING_GUEST_DRIVER, payload);
    await this.receive(FN.UNLOADING_GUEST_DRIVER, "unload");
    await this.bar0.poll(this.gsp.MAILBOX0.address, (v) => (v & 0x8000_0000) !== 0, {
      timeoutMs: 5000,
      intervalMs: 10,
      name: "GSP MBOX0 suspended",
    });
    this.#done("gsp-suspended");
  }

  /** FWSEC-SB (§6.2 step 1), its success in VBIOS_SCRATCH(0x15) bits 15:0 (§13). */
  async fwsecSb(): Promise<void> {
    const mbox0 = await this.runFwsec(0x19);
    if (mbox0 !== 0) throw new HandBootError("fwsec-sb", `MBOX0 ${hex(mbox0)}`, mbox0);
    const sb = this.regs.PBUS.SW_SCRATCH_15_SB_ERR.read(this.bar0).SB_ERR_CODE;
    if (sb !== 0) throw new HandBootError("fwsec-sb", `SB error ${hex(sb)}`, sb);
  }

  /** Booter-unload (§6.2 step 2) when WPR2 is set: MBOX0/1 = 0xff, MBOX0 must be 0, WPR2 clear. */
  async booterUnload(): Promise<void> {
    if (!this.wpr2()) return;
    await this.loadBooter(this.fw.booterUnload, "booter-unload");
    const [mbox0] = await this.boot(this.sec2, "booter-unload", 0xff, 0xff);
    if (mbox0 !== 0) throw new HandBootError("booter-unload", `MBOX0 ${hex(mbox0)}`, mbox0);
    if (this.wpr2()) throw new HandBootError("booter-unload", "WPR2 still set");
    this.#done("booter-unload");
  }

  /**
   * Free every DMA buffer and the flush page; leave both falcons reset. The
   * reference's unload (§6) ends with Booter-unload and resets neither
   * falcon; the simulator counts a falcon "started and not reset since" as
   * residue, so the flow resets both (an ENGINE reset of a halted falcon
   * changes nothing else).
   */
  async release(): Promise<void> {
    await this.resetFalcon(this.gsp);
    await this.resetFalcon(this.sec2);
    this[Symbol.dispose]();
  }

  [Symbol.dispose](): void {
    for (const b of this.buffers.splice(0)) b[Symbol.dispose]();
    this.unregisterFlushPage();
  }

  // ---------------------------------------------------------------------------------------------
  // The whole flow

  /** §3.0 up to RISC-V active (the HAL's boot and the OS write). */
  async bootToRiscv(): Promise<void> {
    await this.waitGfwBoot();
    this.registerFlushPage();
    this.readVbios();
    this.computeLayout();
    await this.fwsecFrts();
    this.buildLibos();
    await this.prepareGsp();
    this.buildWprMeta();
    await this.booterLoad();
    await this.startGspRm();
  }

  /** Everything: boot, INIT_DONE, static info, unload, FWSEC-SB, Booter-unload, release. */
  async run(): Promise<void> {
    await this.bootToRiscv();
    await this.sendInitCommands();
    if (this.chipset < 0x180) await this.runSequencer();
    await this.waitInitDone();
    await this.staticInfo();
    await this.shutdownGsp();
    await this.fwsecSb();
    await this.booterUnload();
    await this.release();
  }
}

// ------------------------------------------------------------------------------------------------
// Test plumbing: which firmware and VBIOS a case uses, the simulated GPU for it

/** The firmware files under their linux-firmware names, for the simulator to know. */
export function simFirmwareFiles(fw: HandFirmware): Record<string, Uint8Array> {
  return Object.fromEntries(
    Object.entries(fw.files).map(([role, bytes]) => [`${role}-570.144.bin`, bytes]),
  );
}

/** A simulated GPU that knows the case's firmware (and has the given VBIOS, or its forged one). */
export async function simulatedGpuFor(
  chip: string,
  fw: HandFirmware,
  options: {
    vbios?: string | Uint8Array;
    fuseVersion?: number;
    fuseVersions?: Partial<Record<"SEC2" | "GSP" | "NVDEC", number>>;
    realistic?: boolean;
  } = {},
): Promise<SimulatedGpu> {
  const { SimulatedGpu } = await import("../sim/simulated_gpu.ts");
  const simOptions = {
    chip,
    vbios: options.vbios,
    fuseVersion: options.fuseVersion,
    fuseVersions: options.fuseVersions,
    realistic: options.realistic,
    firmware: simFirmwareFiles(fw),
  };
  return await SimulatedGpu.create(simOptions as Parameters<typeof SimulatedGpu.create>[0]);
}

/** WPR2 at the points the flow changes it. */
export interface FlowRecord {
  hb: HandBoot;
  wpr2AfterFrts?: { start: number; end: number };
  wpr2AfterBooterLoad?: { start: number; end: number };
  wpr2AtEnd?: { start: number; end: number };
  /** Put pointers of LOGINIT, LOGINTR and LOGRM once GSP-RM has answered GET_GSP_STATIC_INFO. */
  logPuts?: Record<string, bigint>;
}

/** Run the whole flow step by step, recording WPR2 as it goes. */
export async function runFlow(gpu: SimulatedGpu, fw: HandFirmware): Promise<FlowRecord> {
  const hb = new HandBoot(gpu, fw);
  const record: FlowRecord = { hb };
  try {
    await hb.waitGfwBoot();
    hb.registerFlushPage();
    hb.readVbios();
    hb.computeLayout();
    await hb.fwsecFrts();
    record.wpr2AfterFrts = hb.wpr2();
    hb.buildLibos();
    await hb.prepareGsp();
    hb.buildWprMeta();
    await hb.booterLoad();
    record.wpr2AfterBooterLoad = hb.wpr2();
    await hb.startGspRm();
    await hb.sendInitCommands();
    await hb.runSequencer();
    await hb.waitInitDone();
    await hb.staticInfo();
    record.logPuts = Object.fromEntries([...hb.logs.keys()].map((n) => [n, hb.logPut(n)]));
    await hb.shutdownGsp();
    await hb.fwsecSb();
    await hb.booterUnload();
    await hb.release();
    record.wpr2AtEnd = hb.wpr2();
  } catch (e) {
    hb[Symbol.dispose]();
    throw e;
  }
  return record;
}

/** The steps of a whole flow, in order. */
export const FLOW_STEPS: readonly string[] = [
  "gfw-boot",
  "sysmem-flush",
  "vbios",
  "fb-layout",
  "fwsec-frts",
  "libos-args",
  "gsp-reset-riscv",
  "wpr-meta",
  "booter-load",
  "riscv-active",
  "init-commands",
  "gsp-reset-riscv",
  "core-resume",
  "sequencer",
  "init-done",
  "static-info",
  "gsp-suspended",
  "fwsec-sb",
  "booter-unload",
];

/** What a whole flow must leave: every step, WPR2 set then gone, every opcode, a clean GPU. */
export async function checkFlow(gpu: SimulatedGpu, fw: HandFirmware): Promise<FlowRecord> {
  const record = await runFlow(gpu, fw);
  const { hb } = record;
  assert.deepEqual(hb.steps.map((s) => s.step), FLOW_STEPS);
  const l = hb.layout!;
  assert.deepEqual(record.wpr2AfterFrts, { start: l.frtsStart, end: l.frtsEnd });
  assert.equal(record.wpr2AfterBooterLoad?.start, l.wpr2Start);
  assert.equal(record.wpr2AtEnd, undefined);
  assert.deepEqual([...new Set(hb.sequencerOpcodes)].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  // GSP-RM wrote its init and RM logs into the host's buffers.
  assert(
    record.logPuts!.LOGINIT > 0n && record.logPuts!.LOGRM > 0n,
    JSON.stringify(record.logPuts, (_, v) => typeof v === "bigint" ? Number(v) : v),
  );
  assert.match(hb.boardName ?? "", new RegExp(gpu.model.board.replace(/[()]/g, ".")));
  assert.deepEqual(gpu.violations(), []);
  assert.deepEqual(gpu.bus.unmodelledReads(), []);
  assert.deepEqual(gpu.residue(), []);
  // Only the images the parser needed came through the PROM.
  assert(gpu.stats().promBytesRead < gpu.prom.image.length);
  return record;
}
