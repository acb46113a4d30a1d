/**
 * What the simulated FSP checks in a Chain-of-Trust message before it boots
 * the FMC on the GSP (nova-core-boot.md §4.3–4.4, §3.8's FSP-path WPR meta,
 * NVIDIA `kgspPopulateWprMeta_GH100` and `kgspSetupGspFmcArgs_GH100`), and
 * where it then places FRTS and WPR2. In order:
 *
 * 1. The payload: `size` 860 and the `version` of the chip's family
 *    (GH100: 1; Blackwell: 2).
 * 2. FRTS: `frtsVidmemSize` 1 MiB at `frtsVidmemOffset` from the end of VRAM
 *    (a non-zero multiple of 128 KiB, the WPR alignment); a system-memory
 *    copy, when given, 1 MiB and mapped.
 * 3. The FMC: the file must be known; the image at `gspFmcSysmemOffset` is
 *    read through DMA and must hash (SHA-384) like the file's `image`
 *    section; `hash` must equal the file's `hash` section; `publicKey` and
 *    `signature` must hold the file's sections, zero-padded, with the
 *    family's sizes (RSA-3072 384/384 on GH100, ECDSA P-384 97/96 on
 *    Blackwell; `real-files.md`).
 * 4. `GSP_FMC_BOOT_PARAMS` (80 bytes) at `gspBootArgsSysmemOffset`:
 *    `bootGspRmParams` a system-memory target, `gspRmDescSize` 256, a
 *    non-zero `gspRmDescOffset`, no WPR carve-out, `bIsGspRmBoot` 1;
 *    `gspRmParams` a system-memory target with a non-zero, 4 KiB aligned
 *    `bootArgsOffset` (the LibOS init args).
 * 5. The WPR meta at `gspRmDescOffset` (sizes only: the FB offsets are the
 *    FMC's to fill): magic and revision; the firmware pointers and sizes
 *    (radix3 walk of the GSP image, bootloader and `.fwsignature_gh100`
 *    compared byte for byte); `frtsSize` 1 MiB, `nonWprHeapSize` 2 MiB,
 *    `vgaWorkspaceSize` 128 KiB, `pmuReservedSize` 0, `gspFwHeapSize` at least
 *    the chip's heap (1 MiB granular); every FB offset, `fbSize`,
 *    `bootCount`, the VF count and `verified` 0.
 *
 * Any read outside a live DMA mapping rejects the message with rule
 * `fmcDma`. Acceptance gives the FRTS region and WPR2 (the FMC's image,
 * the GSP image and the heap below FRTS, top-down as on the SEC2 path) and
 * the LibOS init-args address GSP-RM starts from.
 *
 * @example An FMC image that is not mapped
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkCot } from "./fmc_boot.ts";
 * import { decodeCotPayload, encodeCotMessage } from "./cot_message.ts";
 * import { SystemMemory } from "../system_memory.ts";
 * const cot = decodeCotPayload(encodeCotMessage({
 *   gspFmcSysmemOffset: 0x1000n, frtsVidmemOffset: 0x200000n, frtsVidmemSize: 0x100000,
 * }));
 * const fmc = { image: new Uint8Array(256), hash: new Uint8Array(48),
 *   publicKey: new Uint8Array(384), signature: new Uint8Array(384) };
 * const v = checkCot({ cot, chipset: 0x180, fbSize: 2 ** 36, dma: new SystemMemory(), fmc });
 * assert(!v.ok && v.rule === "fmcDma");
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type DmaView, SimDmaFault } from "../system_memory.ts";
import type { CotPayload } from "./cot_message.ts";
import { fspReject, type FspRejection } from "./fsp_error.ts";
import { walkRadix3 } from "./radix3_walk.ts";
import { decodeWprMeta, WPR_META_MAGIC, WPR_META_REVISION, WPR_META_SIZE } from "./wpr_meta.ts";
import type { FbRange } from "./fb_layout.ts";

export type { FbRange };
import { alignDown, alignUp, firstDifference, GiB, hex, KiB, MiB } from "./_util.ts";

/** Per-family facts of the FSP path (§4.3, `real-files.md`). */
export interface FspFamilyFacts {
  /** `NVDM_PAYLOAD_COT.version`. */
  readonly cotVersion: number;
  /** FMC public key size. */
  readonly publicKeySize: number;
  /** FMC signature size. */
  readonly signatureSize: number;
  /** Non-WPR heap size. */
  readonly nonWprHeapSize: number;
  /** `pmuReservedSize` the WPR meta must carry. */
  readonly pmuReservedSize: number;
}

/**
 * The FSP-path facts per chipset: GH100 (0x180) with RSA-3072, Blackwell with
 * ECDSA P-384 (not simulated yet; listed so that the sizes live in one table).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fspFamilyFacts } from "./fmc_boot.ts";
 * assert.equal(fspFamilyFacts(0x180)?.signatureSize, 384);
 * assert.equal(fspFamilyFacts(0x1b2)?.publicKeySize, 97);
 * assert.equal(fspFamilyFacts(0x172), undefined);
 * ```
 *
 * @param chipset The chip.
 * @returns The facts, or `undefined` for a chip off the FSP path.
 */
export function fspFamilyFacts(chipset: number): FspFamilyFacts | undefined {
  if (chipset === 0x180) {
    return {
      cotVersion: 1,
      publicKeySize: 384,
      signatureSize: 384,
      nonWprHeapSize: 2 * MiB,
      pmuReservedSize: 0,
    };
  }
  if (chipset >= 0x1a0 && chipset <= 0x1bf) {
    return {
      cotVersion: 2,
      publicKeySize: 97,
      signatureSize: 96,
      nonWprHeapSize: chipset >= 0x1b0 ? 2 * MiB + 128 * KiB : 2 * MiB,
      pmuReservedSize: 0x1820000,
    };
  }
  return undefined;
}

/** `GSP_FMC_BOOT_PARAMS`' size. */
export const FMC_BOOT_PARAMS_SIZE = 80;
/** The FRTS region's size. */
export const FSP_FRTS_SIZE: number = MiB;
/** WPR alignment (`frtsVidmemOffset` granularity). */
const WPR_ALIGNMENT = 128 * KiB;
/** DMA targets (`GSP_DMA_TARGET`). */
const DMA_TARGET_SYSMEM = new Set([1, 2]);

/**
 * The WPR2 heap GSP-RM needs on an FSP-path chip (LibOS3, base RM 14 MiB):
 * `max(22 MiB + 14 MiB + 96 MiB + align_up(96 KiB × ⌈fb / 1 GiB⌉, 1 MiB), 88 MiB)`.
 *
 * @param fbSize VRAM size.
 * @returns Bytes.
 *
 * @example GH100 with 80 GiB: 140 MiB (nova-core-boot.md §3.5)
 * ```ts
 * import assert from "node:assert/strict";
 * import { fspWprHeapSize } from "./fmc_boot.ts";
 * assert.equal(fspWprHeapSize(80 * 2 ** 30), 140 * 2 ** 20);
 * ```
 */
export function fspWprHeapSize(fbSize: number): number {
  const perGb = alignUp(96 * KiB * Math.ceil(fbSize / GiB), MiB);
  return Math.max(22 * MiB + 14 * MiB + 96 * MiB + perGb, 88 * MiB);
}

/** The FMC file's sections, as the FSP compares them. */
export interface CotFmc {
  /** `image`. */
  readonly image: Uint8Array;
  /** SHA-384 of `image`, hex (computed when absent). */
  readonly imageSha384?: string;
  /** `hash`. */
  readonly hash: Uint8Array;
  /** `publickey`. */
  readonly publicKey: Uint8Array;
  /** `signature`. */
  readonly signature: Uint8Array;
}

/** The GSP firmware the WPR meta must point at. */
export interface CotGspFirmware {
  /** `.fwimage`. */
  readonly image: Uint8Array;
  /** Its SHA-256, hex, when known. */
  readonly imageSha256?: string;
  /** The chip's `.fwsignature_*` section. */
  readonly signature: Uint8Array;
  /** The bootloader payload. */
  readonly bootloader: Uint8Array;
  /** Descriptor `monitorCodeOffset`. */
  readonly bootloaderCodeOffset: number;
  /** Descriptor `monitorDataOffset`. */
  readonly bootloaderDataOffset: number;
  /** Descriptor `manifestOffset`. */
  readonly bootloaderManifestOffset: number;
}

/** Inputs of {@linkcode checkCot}. */
export interface CotCheckInput {
  /** The decoded payload. */
  readonly cot: CotPayload;
  /** The chip. */
  readonly chipset: number;
  /** VRAM size. */
  readonly fbSize: number;
  /** The device's view of system memory. */
  readonly dma: DmaView;
  /** The FMC file, or `undefined` when the simulator knows none. */
  readonly fmc?: CotFmc;
  /** The GSP firmware, or `undefined` when the simulator knows none (step 5 then rejects). */
  readonly gsp?: CotGspFirmware;
}

/** An accepted COT message. */
export interface CotAcceptance {
  /** Always true. */
  readonly ok: true;
  /** Where the FSP puts FRTS. */
  readonly frts: FbRange;
  /** WPR2 as the FMC sets it up. */
  readonly wpr2: FbRange;
  /** The LibOS init-args DMA address (`gspRmParams.bootArgsOffset`). */
  readonly libosArgs: bigint;
  /** The WPR meta's DMA address. */
  readonly wprMeta: bigint;
  /** The boot params' DMA address. */
  readonly bootParams: bigint;
}

/**
 * Run the FSP's checks.
 *
 * @param input The payload, the chip, memory and the firmware.
 * @returns The placement, or the rejection with its error code.
 */
export function checkCot(input: CotCheckInput): CotAcceptance | FspRejection {
  try {
    return checkCotUnguarded(input);
  } catch (e) {
    if (e instanceof SimDmaFault) {
      return fspReject("fmcDma", `the FSP's DMA faulted: ${e.message}`);
    }
    throw e;
  }
}

function checkCotUnguarded(input: CotCheckInput): CotAcceptance | FspRejection {
  const { cot, dma } = input;
  const facts = fspFamilyFacts(input.chipset);
  if (!facts) return fspReject("cotVersion", `chipset ${hex(input.chipset)} has no FSP`);
  if (cot.size !== 860) {
    return fspReject("cotSize", `NVDM_PAYLOAD_COT.size is ${cot.size}, not 860`);
  }
  if (cot.version !== facts.cotVersion) {
    return fspReject(
      "cotVersion",
      `NVDM_PAYLOAD_COT.version is ${cot.version}; this chip's FSP takes ${facts.cotVersion}`,
    );
  }

  // 2. FRTS.
  const offset = cot.frtsVidmemOffset;
  if (cot.frtsVidmemSize !== FSP_FRTS_SIZE) {
    return fspReject(
      "frtsRegion",
      `frtsVidmemSize is ${hex(cot.frtsVidmemSize)}, not 1 MiB (resume boots are not modelled)`,
    );
  }
  if (
    offset === 0n || offset % BigInt(WPR_ALIGNMENT) !== 0n ||
    offset + BigInt(FSP_FRTS_SIZE) > BigInt(input.fbSize) / 2n
  ) {
    return fspReject(
      "frtsRegion",
      `frtsVidmemOffset ${hex(offset)} is not a non-zero multiple of 128 KiB near the end of VRAM`,
    );
  }
  if (cot.frtsSysmemSize !== 0 || cot.frtsSysmemOffset !== 0n) {
    if (cot.frtsSysmemSize !== FSP_FRTS_SIZE) {
      return fspReject("frtsRegion", `frtsSysmemSize is ${hex(cot.frtsSysmemSize)}, not 1 MiB`);
    }
    dma.read(cot.frtsSysmemOffset, cot.frtsSysmemSize);
  }

  // 3. The FMC.
  const fmc = input.fmc;
  if (!fmc) {
    return fspReject(
      "fmcUnknown",
      "the FSP cannot check the FMC: the simulator knows no fmc file (give it through the " +
        "firmware option)",
    );
  }
  const image = dma.read(cot.gspFmcSysmemOffset, fmc.image.length);
  const want = fmc.imageSha384 ?? sha384(fmc.image);
  if (sha384(image) !== want) {
    const at = firstDifference(fmc.image, image);
    return fspReject(
      "fmcHash",
      `the FMC image at ${hex(cot.gspFmcSysmemOffset)} does not hash like the fmc file's image ` +
        `section (first difference at byte ${hex(at)})`,
    );
  }
  const blocks: [string, Uint8Array, Uint8Array, number][] = [
    ["hash", cot.hash, fmc.hash, 48],
    ["publicKey", cot.publicKey, fmc.publicKey, facts.publicKeySize],
    ["signature", cot.signature, fmc.signature, facts.signatureSize],
  ];
  for (const [field, sent, file, familySize] of blocks) {
    const significant = lastNonZero(sent) + 1;
    const matches = firstDifference(file, sent, file.length) === -1 &&
      sent.subarray(file.length).every((b) => b === 0);
    if (matches && file.length === familySize) continue;
    const sizeNote = significant !== familySize
      ? `it holds ${significant} significant bytes; this chip's family uses ${familySize}`
      : "its bytes differ from the fmc file's section";
    return fspReject("fmcSignatureBlock", `the COT ${field} is not the FMC's: ${sizeNote}`);
  }

  // 4. The boot params.
  const params = dma.read(cot.gspBootArgsSysmemOffset, FMC_BOOT_PARAMS_SIZE);
  const p = new DataView(params.buffer, params.byteOffset, params.byteLength);
  const descTarget = p.getUint32(0x08, true);
  const descSize = p.getUint32(0x0c, true);
  const wprMetaIova = p.getBigUint64(0x10, true);
  const carveOffset = p.getBigUint64(0x18, true);
  const carveSize = p.getUint32(0x20, true);
  const isRmBoot = p.getUint8(0x24);
  const argsTarget = p.getUint32(0x28, true);
  const libosArgs = p.getBigUint64(0x30, true);
  const badParams: string[] = [];
  if (!DMA_TARGET_SYSMEM.has(descTarget)) {
    badParams.push(`bootGspRmParams.target ${descTarget}`);
  }
  if (descSize !== WPR_META_SIZE) badParams.push(`gspRmDescSize ${descSize}`);
  if (wprMetaIova === 0n) badParams.push("gspRmDescOffset 0");
  if (carveOffset !== 0n || carveSize !== 0) badParams.push("a WPR carve-out");
  if (isRmBoot !== 1) badParams.push(`bIsGspRmBoot ${isRmBoot}`);
  if (!DMA_TARGET_SYSMEM.has(argsTarget)) badParams.push(`gspRmParams.target ${argsTarget}`);
  if (libosArgs === 0n || libosArgs % 4096n !== 0n) {
    badParams.push(`bootArgsOffset ${hex(libosArgs)}`);
  }
  if (badParams.length > 0) {
    return fspReject(
      "bootParams",
      `GSP_FMC_BOOT_PARAMS at ${hex(cot.gspBootArgsSysmemOffset)}: ${badParams.join(", ")}`,
    );
  }

  // 5. The WPR meta.
  const gsp = input.gsp;
  if (!gsp) {
    return fspReject(
      "gspImage",
      "the FMC cannot check GSP-RM: the simulator knows no GSP image or bootloader",
    );
  }
  const meta = decodeWprMeta(dma.read(wprMetaIova, WPR_META_SIZE));
  const heapMinimum = fspWprHeapSize(input.fbSize);
  const wrong: string[] = [];
  const expect = (field: string, found: bigint | number, want: bigint | number) => {
    if (BigInt(found) !== BigInt(want)) {
      wrong.push(`${field} ${hex(found)} (expected ${hex(want)})`);
    }
  };
  expect("magic", meta.magic, WPR_META_MAGIC);
  expect("revision", meta.revision, WPR_META_REVISION);
  expect("sizeOfRadix3Elf", meta.sizeOfRadix3Elf, gsp.image.length);
  expect("sizeOfBootloader", meta.sizeOfBootloader, gsp.bootloader.length);
  expect("bootloaderCodeOffset", meta.bootloaderCodeOffset, gsp.bootloaderCodeOffset);
  expect("bootloaderDataOffset", meta.bootloaderDataOffset, gsp.bootloaderDataOffset);
  expect("bootloaderManifestOffset", meta.bootloaderManifestOffset, gsp.bootloaderManifestOffset);
  expect("sizeOfSignature", meta.sizeOfSignature, gsp.signature.length);
  expect("frtsSize", meta.frtsSize, FSP_FRTS_SIZE);
  expect("nonWprHeapSize", meta.nonWprHeapSize, facts.nonWprHeapSize);
  expect("vgaWorkspaceSize", meta.vgaWorkspaceSize, 128 * KiB);
  expect("pmuReservedSize", meta.pmuReservedSize, facts.pmuReservedSize);
  if (meta.gspFwHeapSize < BigInt(heapMinimum) || meta.gspFwHeapSize % BigInt(MiB) !== 0n) {
    wrong.push(
      `gspFwHeapSize ${hex(meta.gspFwHeapSize)} (expected a whole number of MiB, at least ` +
        `${hex(heapMinimum)})`,
    );
  }
  for (
    const field of [
      "gspFwRsvdStart",
      "nonWprHeapOffset",
      "gspFwWprStart",
      "gspFwHeapOffset",
      "gspFwOffset",
      "bootBinOffset",
      "frtsOffset",
      "gspFwWprEnd",
      "fbSize",
      "vgaWorkspaceOffset",
      "bootCount",
    ] as const
  ) expect(field, meta[field], 0);
  expect("gspFwHeapVfPartitionCount", meta.gspFwHeapVfPartitionCount, 0);
  expect("verified", meta.verified, 0);
  if ((meta.flags & ~0x7) !== 0) wrong.push(`flags ${hex(meta.flags)} (only bits 0–2)`);
  for (const field of ["sysmemAddrOfBootloader", "sysmemAddrOfSignature"] as const) {
    if (meta[field] === 0n || meta[field] % 4096n !== 0n) {
      wrong.push(`${field} ${hex(meta[field])} (expected a non-zero, 4 KiB aligned DMA address)`);
    }
  }
  if (wrong.length > 0) {
    return fspReject(
      "wprMeta",
      `GspFwWprMeta at ${hex(wprMetaIova)} rejected: ${wrong.join(", ")}`,
    );
  }
  const walk = walkRadix3(dma, meta.sysmemAddrOfRadix3Elf, Number(meta.sizeOfRadix3Elf), {
    bytes: gsp.image,
    sha256: gsp.imageSha256,
  });
  if (!walk.ok) {
    if (walk.rule === "dmaFault") return fspReject("fmcDma", `the radix3 walk: ${walk.reason}`);
    return fspReject("gspImage", `the radix3 walk: ${walk.reason}`);
  }
  const blobs: [string, bigint, Uint8Array][] = [
    ["bootloader", meta.sysmemAddrOfBootloader, gsp.bootloader],
    ["GSP signature", meta.sysmemAddrOfSignature, gsp.signature],
  ];
  for (const [what, iova, blob] of blobs) {
    const at = firstDifference(blob, dma.read(iova, blob.length));
    if (at !== -1) {
      return fspReject(
        "gspImage",
        `the ${what} at ${hex(iova)} differs from the file at ${hex(at)}`,
      );
    }
  }

  // The placement: FRTS below the end reservation, then top-down as on the SEC2 path.
  const frtsEnd = input.fbSize - Number(offset);
  const frts = { start: frtsEnd - FSP_FRTS_SIZE, end: frtsEnd };
  const bootStart = alignDown(frts.start - fmc.image.length, 4 * KiB);
  const elfStart = alignDown(bootStart - gsp.image.length, 64 * KiB);
  const heapStart = alignDown(elfStart - Number(meta.gspFwHeapSize), MiB);
  const wpr2 = { start: alignDown(heapStart - WPR_META_SIZE, MiB), end: frts.end };
  return {
    ok: true,
    frts,
    wpr2,
    libosArgs,
    wprMeta: wprMetaIova,
    bootParams: cot.gspBootArgsSysmemOffset,
  };
}

function sha384(bytes: Uint8Array): string {
  return createHash("sha384").update(bytes).digest("hex");
}

function lastNonZero(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= 0; i--) if (bytes[i] !== 0) return i;
  return -1;
}
