// A hand-written "driver side" for the simulator's acceptance-rule tests: it
// loads falcons and builds the boot structures straight from
// ../shared/reference/nova-core-boot.md (§3.3–3.9), without the driver's
// code and without the simulator's own expectations, so that both sides are
// independent. Deliberate mistakes are options, so that negative tests can
// make exactly one.

import type { BooterFirmware, FwsecFirmware, RiscvBootloader } from "../firmware/mod.ts";
import type { BromRegisters, ImemBlock, LoadMethod } from "../sim/acceptance/hs_image.ts";
import type { SystemMemory } from "../sim/system_memory.ts";

/** A falcon's memories and registers as a model would hold them. */
export interface FalconState {
  imem: Uint8Array;
  imemBlocks: (ImemBlock | undefined)[];
  dmem: Uint8Array;
  dmemMethod: LoadMethod;
  bootVector: number;
  brom?: BromRegisters;
  signatureFuse: number;
}

/** A falcon right after ENGINE reset and scrubbing. */
export function resetFalcon(imemSize = 0x10000, dmemSize = 0x10000): FalconState {
  return {
    imem: new Uint8Array(imemSize),
    imemBlocks: new Array(imemSize / 256).fill(undefined),
    dmem: new Uint8Array(dmemSize),
    dmemMethod: "pio",
    bootVector: 0,
    signatureFuse: 0,
  };
}

/** PIO: IMEMC = {secure, aincw, dst}; IMEMT = startTag + n before each 256-byte block. */
export function pioImem(
  f: FalconState,
  dst: number,
  bytes: Uint8Array,
  secure: boolean,
  startTag = dst >> 8,
): void {
  f.imem.set(bytes, dst);
  for (let n = 0; n * 256 < bytes.length; n++) {
    f.imemBlocks[dst / 256 + n] = { tag: startTag + n, secure, method: "pio" };
  }
}

/** DMA: each 256-byte chunk lands at dst + pos, tagged with its DMATRFFBOFFS / 256. */
export function dmaImem(
  f: FalconState,
  dst: number,
  bytes: Uint8Array,
  fbOffset: number,
  secure: boolean,
): void {
  f.imem.set(bytes, dst);
  for (let n = 0; n * 256 < bytes.length; n++) {
    f.imemBlocks[dst / 256 + n] = { tag: (fbOffset + n * 256) >> 8, secure, method: "dma" };
  }
}

/** DMEM by PIO (DMEMC/DMEMD) or DMA. */
export function writeDmem(f: FalconState, dst: number, bytes: Uint8Array, method: LoadMethod) {
  f.dmem.set(bytes, dst);
  f.dmemMethod = method;
}

/** The fuse version a fuse register's bit mask encodes (§3.6), written out again by hand. */
export function driverFuseVersion(register: number): number {
  let version = 0;
  for (let bit = 0; bit < 16; bit++) if (register & (1 << bit)) version = bit + 1;
  return version;
}

/** Options that make the hand driver do one thing wrong. */
export interface BooterLoadOptions {
  /** The raw fuse register value of the chip. */
  fuseRegister: number;
  /** Use this signature index instead of the right one. */
  signatureIndex?: number;
  /** Treat the register value as the version (the off-by-one conversion bug). */
  registerIsVersion?: boolean;
  /** Load with this method instead of the chip's. */
  method?: LoadMethod;
  /** Boot here instead. */
  bootVector?: number;
  /** Program these BROM registers instead. */
  brom?: BromRegisters;
  /** Skip BROM programming. */
  noBrom?: boolean;
  /** Tags of the secure blocks start here instead. */
  secureTagBase?: number;
}

/** Booter's signature index by nova-core's rule (§3.7): version 0 → last, else FUSE − version. */
export function driverBooterIndex(booter: BooterFirmware, fuseVersion: number): number {
  return fuseVersion === 0
    ? booter.signatureCount - 1
    : booter.signatureParams.fuseVersion - fuseVersion;
}

/**
 * Patch and load Booter into a reset SEC2 by hand (§3.7): Turing/GA100
 * (chipset ≤ 0x170) by PIO with the OS code non-secure at CDOF and the app at
 * A0CO, booting at CDOF; GA102+ by DMA, the app to IMEM 0 from image offset
 * A0CO, booting at A0CO, then BROM registers.
 */
export function loadBooter(
  booter: BooterFirmware,
  chipset: number,
  options: BooterLoadOptions,
): FalconState {
  const f = resetFalcon();
  f.signatureFuse = options.fuseRegister;
  const version = options.registerIsVersion
    ? options.fuseRegister
    : driverFuseVersion(options.fuseRegister);
  const index = options.signatureIndex ?? driverBooterIndex(booter, version);
  const image = booter.image.slice();
  image.set(booter.signatures[index] ?? new Uint8Array(booter.signatureSize), booter.patchLocation);
  const lh = booter.loadHeader;
  const app = lh.apps[0];
  const pio = (options.method ?? (chipset <= 0x170 ? "pio" : "dma")) === "pio";
  const code = image.subarray(app.codeOffset, app.codeOffset + app.codeSize);
  const tagBase = options.secureTagBase ?? app.codeOffset;
  if (chipset <= 0x170) {
    const ns = image.subarray(lh.osCodeOffset, lh.osCodeOffset + lh.osCodeSize);
    if (pio) {
      pioImem(f, lh.osCodeOffset, ns, false);
      pioImem(f, app.codeOffset, code, true, tagBase >> 8);
    } else {
      dmaImem(f, lh.osCodeOffset, ns, lh.osCodeOffset, false);
      dmaImem(f, app.codeOffset, code, tagBase, true);
    }
    f.bootVector = options.bootVector ?? lh.osCodeOffset;
  } else {
    if (pio) pioImem(f, 0, code, true, tagBase >> 8);
    else dmaImem(f, 0, code, tagBase, true);
    f.bootVector = options.bootVector ?? app.codeOffset;
  }
  writeDmem(
    f,
    0,
    image.subarray(lh.osDataOffset, lh.osDataOffset + lh.osDataSize),
    pio ? "pio" : "dma",
  );
  if (chipset >= 0x172 && !options.noBrom) {
    f.brom = options.brom ?? {
      pkcDataOffset: booter.patchLocation - lh.osDataOffset,
      engineIdMask: booter.signatureParams.engineIdMask,
      ucodeId: booter.signatureParams.ucodeId,
      modSel: 1,
    };
  }
  return f;
}

/** What FWSEC's DMEM mapper and command buffer get (§3.3). */
export interface FwsecCommandOptions {
  /** 0x15 FRTS, 0x19 SB; `undefined` leaves the mapper unpatched. */
  command?: number;
  /** FRTS region start (bytes). */
  frtsStart?: number;
  /** FRTS region size (bytes). */
  frtsSize?: number;
}

/** Patch a copy of FWSEC's ucode: init_cmd and the command-in buffer (§3.3 steps 3–5). */
export function patchFwsecByHand(fwsec: FwsecFirmware, options: FwsecCommandOptions): Uint8Array {
  const ucode = fwsec.ucode.slice();
  if (options.command === undefined) return ucode;
  const view = new DataView(ucode.buffer);
  const d = fwsec.descriptor;
  const dmemStart = d.descriptorVersion === 3 ? d.imemLoadSize : d.dmemOffset;
  // Walk the interface table ourselves.
  const hdr = dmemStart + d.interfaceOffset;
  const headerSize = ucode[hdr + 1];
  const entrySize = ucode[hdr + 2];
  let mapper = -1;
  for (let i = 0; i < ucode[hdr + 3]; i++) {
    const at = hdr + headerSize + i * entrySize;
    if (view.getUint32(at, true) === 4) mapper = view.getUint32(at + 4, true);
  }
  if (mapper < 0) throw new Error("no DMEM mapper");
  view.setUint32(dmemStart + mapper + 0x2c, options.command, true);
  const cmd = dmemStart + view.getUint32(dmemStart + mapper + 0x08, true);
  [1, 24, 0, 0, 0, 2].forEach((v, i) => view.setUint32(cmd + 4 * i, v, true));
  if (options.command === 0x15) {
    [1, 20, (options.frtsStart ?? 0) / 4096, (options.frtsSize ?? 0x100000) / 4096, 2]
      .forEach((v, i) => view.setUint32(cmd + 24 + 4 * i, v, true));
  }
  return ucode;
}

/** FWSEC v3 signature index (§3.3 step 6), by hand. */
export function driverFwsecIndex(signatureVersions: number, fuseVersion: number): number {
  let index = 0;
  for (let v = 0; v < fuseVersion; v++) if (signatureVersions & (1 << v)) index++;
  return index;
}

/** Load a v3 FWSEC into a reset GSP falcon by DMA (§3.4, §3.6), with its signature patched. */
export function loadFwsecV3(
  fwsec: FwsecFirmware,
  fuseRegister: number,
  command: FwsecCommandOptions,
  options: { method?: LoadMethod; signatureIndex?: number } = {},
): FalconState {
  const d = fwsec.descriptor;
  if (d.descriptorVersion !== 3) throw new Error("v3 only");
  const ucode = patchFwsecByHand(fwsec, command);
  const index = options.signatureIndex ??
    driverFwsecIndex(d.signatureVersions, driverFuseVersion(fuseRegister));
  ucode.set(fwsec.signatures[index], d.imemLoadSize + d.pkcDataOffset);
  const f = resetFalcon();
  f.signatureFuse = fuseRegister;
  const code = ucode.subarray(0, d.imemLoadSize);
  const data = ucode.subarray(d.imemLoadSize, d.imemLoadSize + d.dmemLoadSize);
  const method = options.method ?? "dma";
  if (method === "dma") dmaImem(f, d.imemPhysBase, code, d.imemVirtBase, true);
  else pioImem(f, d.imemPhysBase, code, true, d.imemVirtBase >> 8);
  writeDmem(f, d.dmemPhysBase, data, method);
  f.bootVector = d.imemVirtBase;
  f.brom = {
    pkcDataOffset: d.pkcDataOffset,
    engineIdMask: d.engineIdMask,
    ucodeId: d.ucodeId,
    modSel: 1,
  };
  return f;
}

/**
 * Turing/GA100 FWSEC (v2) through the generic bootloader (§3.4): the ucode
 * in a system-memory buffer mirroring IMEM, the bootloader PIO-loaded at the
 * top of IMEM, the 84-byte DMEM descriptor at its DMEM load offset.
 */
export function loadFwsecV2(
  fwsec: FwsecFirmware,
  bootloader: { startTag: number; dmemLoadOffset: number; code: Uint8Array },
  command: FwsecCommandOptions,
  memory: SystemMemory,
  iova: bigint,
): { falcon: FalconState; mapping: Disposable } {
  const d = fwsec.descriptor;
  if (d.descriptorVersion !== 2) throw new Error("v2 only");
  const ucode = patchFwsecByHand(fwsec, command);
  const secureSrc = d.imemSecBase - d.imemVirtBase;
  const secureDst = d.imemPhysBase + secureSrc;
  const padding = secureDst - secureSrc;
  const buffer = new Uint8Array(Math.ceil((padding + ucode.length) / 4096) * 4096);
  buffer.set(ucode, padding);
  const mapping = memory.map(iova, buffer);
  const f = resetFalcon();
  const codeSize = Math.ceil(bootloader.code.length / 256) * 256;
  const padded = new Uint8Array(codeSize);
  padded.set(bootloader.code);
  pioImem(f, f.imem.length - codeSize, padded, false, bootloader.startTag);
  const desc = new Uint8Array(84);
  const v = new DataView(desc.buffer);
  v.setUint32(32, 4, true); // ctx_dma PHYS_SYS_NCOH
  v.setBigUint64(36, iova, true);
  v.setUint32(44, d.imemPhysBase, true);
  v.setUint32(48, d.imemLoadSize - d.imemSecSize, true);
  v.setUint32(52, secureDst, true);
  v.setUint32(56, d.imemSecSize, true);
  v.setUint32(60, 0, true);
  v.setBigUint64(64, iova + BigInt(padding + d.dmemOffset), true);
  v.setUint32(72, d.dmemLoadSize, true);
  writeDmem(f, bootloader.dmemLoadOffset, desc, "pio");
  f.bootVector = bootloader.startTag << 8;
  return { falcon: f, mapping };
}

/** FB layout as the driver computes it (§3.5, nova-core's clamp), written out independently. */
export function driverLayout(input: {
  chipset: number;
  fbSize: number;
  bootloaderSize: number;
  imageSize: number;
}) {
  const MiB = 1 << 20;
  const down = (n: number, a: number) => Math.floor(n / a) * a;
  const up = (n: number, a: number) => Math.ceil(n / a) * a;
  const vgaStart = input.fbSize - MiB; // no display
  const frtsSize = input.chipset === 0x170 ? 0 : MiB;
  const frtsStart = down(vgaStart, 0x20000) - frtsSize;
  const frtsEnd = frtsStart + frtsSize;
  const bootStart = down(frtsStart - input.bootloaderSize, 0x1000);
  const elfStart = down(bootStart - input.imageSize, 0x10000);
  const libos3 = input.chipset >= 0x172;
  const raw = (libos3 ? 22 * MiB : 0) + 8 * MiB + 96 * MiB +
    up(0x18000 * Math.ceil(input.fbSize / 2 ** 30), MiB);
  const heap = Math.min(Math.max(raw, (libos3 ? 88 : 64) * MiB), (libos3 ? 280 : 256) * MiB - 1);
  const heapStart = down(elfStart - heap, MiB);
  const heapEnd = down(elfStart, MiB);
  const wpr2Start = down(heapStart - 256, MiB);
  return {
    vgaStart,
    frtsStart,
    frtsEnd,
    bootStart,
    elfStart,
    heapStart,
    heapEnd,
    wpr2Start,
    nonWprStart: wpr2Start - MiB,
    wprEnd: down(vgaStart, 0x20000),
  };
}

/** IOVAs the hand driver uses. */
export const IOVA = {
  meta: 0x1_0000_0000n,
  bootloader: 0x1_0010_0000n,
  signature: 0x1_0020_0000n,
  radix3: 0x1_0100_0000n,
  image: 0x2_0000_0000n,
} as const;

/** Radix3 tables by hand (§3.9), the image mapped at IOVA.image, tables at IOVA.radix3. */
export function mapRadix3(
  memory: SystemMemory,
  image: Uint8Array,
  shiftPages = 0,
): { level0: bigint; mappings: Disposable[] } {
  const pages = Math.ceil(image.length / 4096);
  const mappedImage = new Uint8Array(pages * 4096 + 4096 * Math.max(shiftPages, 0));
  mappedImage.set(image);
  const l2Pages = Math.ceil(pages / 512);
  const l1Pages = Math.ceil(l2Pages / 512);
  const tables = new Uint8Array((1 + l1Pages + l2Pages) * 4096);
  const v = new DataView(tables.buffer);
  const l1At = IOVA.radix3 + 4096n;
  const l2At = l1At + BigInt(l1Pages * 4096);
  for (let i = 0; i < l1Pages; i++) v.setBigUint64(8 * i, l1At + BigInt(i * 4096), true);
  for (let j = 0; j < l2Pages; j++) {
    v.setBigUint64(4096 + 8 * j, l2At + BigInt(j * 4096), true);
  }
  for (let k = 0; k < pages; k++) {
    v.setBigUint64(
      (1 + l1Pages) * 4096 + 8 * k,
      IOVA.image + BigInt((k + shiftPages) * 4096),
      true,
    );
  }
  return {
    level0: IOVA.radix3,
    mappings: [memory.map(IOVA.radix3, tables), memory.map(IOVA.image, mappedImage)],
  };
}

/** GspFwWprMeta by hand (§3.8, 256 bytes). */
export function driverWprMeta(input: {
  layout: ReturnType<typeof driverLayout>;
  fbSize: number;
  imageSize: number;
  bootloader: RiscvBootloader;
  signatureSize: number;
  level0: bigint;
  flags?: number;
}): Uint8Array {
  const meta = new Uint8Array(256);
  const v = new DataView(meta.buffer);
  const l = input.layout;
  const d = input.bootloader.descriptor;
  const u64s: [number, bigint | number][] = [
    [0x00, 0xdc3aae21371a60b3n],
    [0x08, 1],
    [0x10, input.level0],
    [0x18, input.imageSize],
    [0x20, IOVA.bootloader],
    [0x28, input.bootloader.ucode.length],
    [0x30, d.monitorCodeOffset],
    [0x38, d.monitorDataOffset],
    [0x40, d.manifestOffset],
    [0x48, IOVA.signature],
    [0x50, input.signatureSize],
    [0x58, l.nonWprStart],
    [0x60, l.nonWprStart],
    [0x68, 1 << 20],
    [0x70, l.wpr2Start],
    [0x78, l.heapStart],
    [0x80, l.heapEnd - l.heapStart],
    [0x88, l.elfStart],
    [0x90, l.bootStart],
    [0x98, l.frtsStart],
    [0xa0, l.frtsEnd - l.frtsStart],
    [0xa8, l.wprEnd],
    [0xb0, input.fbSize],
    [0xb8, l.vgaStart],
    [0xc0, input.fbSize - l.vgaStart],
  ];
  for (const [at, value] of u64s) v.setBigUint64(at, BigInt(value), true);
  v.setUint8(0xf1, input.flags ?? 1);
  return meta;
}
