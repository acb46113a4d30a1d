/**
 * Synthetic nvfw bin files: Booter (HS header v2), the GSP RISC-V bootloader
 * and the generic falcon bootloader, laid out as the real linux-firmware
 * files are. Deterministic: the same options give the same bytes. Payloads
 * are pseudo-random, signatures too (never all zeros unless asked).
 *
 * The writers spell each layout out field by field instead of sharing the
 * parsers' tables, so that a round trip checks the parser against an
 * independent description.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeBooter } from "./hs_firmware.ts";
 * import { parseBooter } from "../booter.ts";
 *
 * const file = forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 });
 * const booter = parseBooter(file);
 * assert(booter.signatureSize === 384 && booter.signatureCount === 2);
 * ```
 *
 * @module
 */

import { alignUp, ByteWriter, patternBytes } from "./_writer.ts";

const BIN_HEADER_SIZE = 24;
const HS_HEADER_SIZE = 36;

/** Write `nvfw_bin_hdr`; `bin_size` is the buffer length rounded up to 256, as in real files. */
function writeBinHeader(
  w: ByteWriter,
  headerOffset: number,
  dataOffset: number,
  dataSize: number,
): void {
  w.u32(0, 0x10de)
    .u32(4, 1)
    .u32(8, alignUp(w.bytes.length, 256))
    .u32(12, headerOffset)
    .u32(16, dataOffset)
    .u32(20, dataSize);
}

/** Options for {@linkcode forgeBooter}. Defaults give a Turing-style Booter. */
export interface ForgeBooterOptions {
  /** Bytes per signature: 16 on Turing, 384 on GA100 and later. Default 16. */
  signatureSize?: number;
  /** Number of signatures. Default 1. */
  signatureCount?: number;
  /** Index of a signature to leave all zeros (the second GA102 one is). Default none. */
  zeroSignatureIndex?: number;
  /** Fuse version in the signature params. Default 0. */
  fuseVersion?: number;
  /** Engine id mask in the signature params. Default 1 (SEC2). */
  engineIdMask?: number;
  /** Ucode id in the signature params. Default 13 (Turing Booter). */
  ucodeId?: number;
  /** Size of the non-secure OS code at image offset 0. Default 256. */
  osCodeSize?: number;
  /** Code size of each app; apps follow the OS code back to back. Default `[0x2000]`. */
  appCodeSizes?: number[];
  /** Size of the OS data that follows the apps. Default 0x1000. */
  osDataSize?: number;
  /** Offset of the signature patch location inside the OS data. Default 16. */
  pkcDataOffset?: number;
  /** Seed of the pseudo-random contents. Default 1. */
  seed?: number;
}

/**
 * A Booter file with an HS header v2, laid out like the real ones: bin header,
 * HS header at 24, signatures at 60, then the patch location, patch-sig,
 * signature params, signature count and load header, then the image (OS code,
 * apps, OS data). The patch location area in the image is zero.
 *
 * @param options What to vary.
 * @returns The file bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeBooter } from "./hs_firmware.ts";
 * const file = forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1, ucodeId: 3 });
 * assert(new DataView(file.buffer).getUint32(0, true) === 0x10de);
 * ```
 */
export function forgeBooter(options: ForgeBooterOptions = {}): Uint8Array {
  const signatureSize = options.signatureSize ?? 16;
  const signatureCount = options.signatureCount ?? 1;
  const osCodeSize = options.osCodeSize ?? 256;
  const appCodeSizes = options.appCodeSizes ?? [0x2000];
  const osDataSize = options.osDataSize ?? 0x1000;
  const pkcDataOffset = options.pkcDataOffset ?? 16;
  const seed = options.seed ?? 1;

  const sigProdOffset = BIN_HEADER_SIZE + HS_HEADER_SIZE;
  const sigProdSize = signatureSize * signatureCount;
  const patchLocOffset = sigProdOffset + sigProdSize;
  const patchSigOffset = patchLocOffset + 4;
  const metaDataOffset = patchSigOffset + 4;
  const numSigOffset = metaDataOffset + 12;
  const loadHeaderOffset = numSigOffset + 4;
  const loadHeaderSize = 20 + 16 * appCodeSizes.length;
  const dataOffset = loadHeaderOffset + loadHeaderSize;

  const appOffsets = appCodeSizes.map((_, i) =>
    osCodeSize + appCodeSizes.slice(0, i).reduce((a, b) => a + b, 0)
  );
  const osDataOffset = osCodeSize + appCodeSizes.reduce((a, b) => a + b, 0);
  const imageSize = osDataOffset + osDataSize;
  const patchLocation = osDataOffset + pkcDataOffset;

  const w = new ByteWriter(dataOffset + imageSize);
  writeBinHeader(w, BIN_HEADER_SIZE, dataOffset, imageSize);
  [
    sigProdOffset,
    sigProdSize,
    patchLocOffset,
    patchSigOffset,
    metaDataOffset,
    12,
    numSigOffset,
    loadHeaderOffset,
    loadHeaderSize,
  ].forEach((v, i) => w.u32(BIN_HEADER_SIZE + 4 * i, v));

  for (let i = 0; i < signatureCount; i++) {
    if (i !== options.zeroSignatureIndex) {
      w.set(sigProdOffset + i * signatureSize, patternBytes(signatureSize, seed * 977 + i + 1));
    }
  }
  w.u32(patchLocOffset, patchLocation)
    .u32(patchSigOffset, 0)
    .u32(metaDataOffset, options.fuseVersion ?? 0)
    .u32(metaDataOffset + 4, options.engineIdMask ?? 1)
    .u32(metaDataOffset + 8, options.ucodeId ?? 13)
    .u32(numSigOffset, signatureCount);

  w.u32(loadHeaderOffset, 0)
    .u32(loadHeaderOffset + 4, osCodeSize)
    .u32(loadHeaderOffset + 8, osDataOffset)
    .u32(loadHeaderOffset + 12, osDataSize)
    .u32(loadHeaderOffset + 16, appCodeSizes.length);
  appCodeSizes.forEach((size, i) => {
    const at = loadHeaderOffset + 20 + 16 * i;
    // Like the real files: the app's data entry points at its code with size 0.
    w.u32(at, appOffsets[i]).u32(at + 4, size).u32(at + 8, appOffsets[i]).u32(at + 12, 0);
  });

  w.set(dataOffset, patternBytes(imageSize, seed));
  const zeroed = Math.max(0, Math.min(signatureSize, imageSize - patchLocation));
  w.set(dataOffset + Math.min(patchLocation, imageSize), new Uint8Array(zeroed));
  return w.bytes;
}

/** Options for {@linkcode forgeRiscvBootloader}. Sizes of 0 leave a part out (offset 0). */
export interface ForgeRiscvBootloaderOptions {
  /** Descriptor version: 4 (76 bytes, Turing/GA100) or 5 (84 bytes). Default 5. */
  version?: 4 | 5;
  /** Manifest size. Default 0x800 on version 5, 0 on version 4. */
  manifestSize?: number;
  /** Monitor data size. Default 0x1000 on version 5, 0 on version 4. */
  monitorDataSize?: number;
  /** Monitor code size. Default 0x2900 on version 5, 0 on version 4. */
  monitorCodeSize?: number;
  /** Bootloader code size. Default 0x880 on version 5, 0x488 on version 4. */
  bootloaderSize?: number;
  /** Bootloader parameter size. Default 0x10. */
  bootloaderParamSize?: number;
  /** `appVersion`. Default 0. */
  appVersion?: number;
  /** Version 5: `fbReservedSize`. Default: the ucode size. */
  fbReservedSize?: number;
  /** Version 5: `bSignedAsCode`. Default 0. */
  signedAsCode?: number;
  /** Seed of the pseudo-random ucode. Default 2. */
  seed?: number;
}

/**
 * A RISC-V bootloader file: bin header, `RM_RISCV_UCODE_DESC` at 24, ucode
 * right after. The ucode holds, in order, the manifest, monitor data and
 * monitor code, then the bootloader at the next 4 KiB boundary with its
 * parameters right after it, and is padded to 4 KiB, as in the real files.
 *
 * @param options What to vary.
 * @returns The file bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeRiscvBootloader } from "./hs_firmware.ts";
 * const v4 = forgeRiscvBootloader({ version: 4 });
 * assert(v4.length === 24 + 76 + 0x1000); // the size of the real Turing file
 * ```
 */
export function forgeRiscvBootloader(options: ForgeRiscvBootloaderOptions = {}): Uint8Array {
  const version = options.version ?? 5;
  const v5 = version >= 5;
  const descriptorSize = v5 ? 84 : 76;
  const manifestSize = options.manifestSize ?? (v5 ? 0x800 : 0);
  const monitorDataSize = options.monitorDataSize ?? (v5 ? 0x1000 : 0);
  const monitorCodeSize = options.monitorCodeSize ?? (v5 ? 0x2900 : 0);
  const bootloaderSize = options.bootloaderSize ?? (v5 ? 0x880 : 0x488);
  const bootloaderParamSize = options.bootloaderParamSize ?? 0x10;

  let cursor = 0;
  const place = (size: number): number => {
    if (size === 0) return 0;
    const at = cursor;
    cursor += size;
    return at;
  };
  const manifestOffset = place(manifestSize);
  const monitorDataOffset = place(monitorDataSize);
  const monitorCodeOffset = place(monitorCodeSize);
  cursor = alignUp(cursor, 0x1000);
  const bootloaderOffset = place(bootloaderSize);
  const bootloaderParamOffset = place(bootloaderParamSize);
  const ucodeSize = Math.max(alignUp(cursor, 0x1000), 0x1000);

  const dataOffset = BIN_HEADER_SIZE + descriptorSize;
  const w = new ByteWriter(dataOffset + ucodeSize);
  writeBinHeader(w, BIN_HEADER_SIZE, dataOffset, ucodeSize);
  const words = [
    version,
    bootloaderOffset,
    bootloaderSize,
    bootloaderParamOffset,
    bootloaderParamSize,
    0, // riscvElfOffset
    0, // riscvElfSize
    options.appVersion ?? 0,
    manifestOffset,
    manifestSize,
    monitorDataOffset,
    monitorDataSize,
    monitorCodeOffset,
    monitorCodeSize,
    monitorCodeSize > 0 ? 1 : 0, // bIsMonitorEnabled
    0, // swbromCodeOffset
    0, // swbromCodeSize
    0, // swbromDataOffset
    0, // swbromDataSize
    ...(v5 ? [options.fbReservedSize ?? ucodeSize, options.signedAsCode ?? 0] : []),
  ];
  words.forEach((v, i) => w.u32(BIN_HEADER_SIZE + 4 * i, v));
  w.set(dataOffset, patternBytes(ucodeSize, options.seed ?? 2));
  return w.bytes;
}

/** Options for {@linkcode forgeGenBootloader}. Defaults match the real 816-byte file. */
export interface ForgeGenBootloaderOptions {
  /** `start_tag`. Default 253. */
  startTag?: number;
  /** `dmem_load_off`. Default 0. */
  dmemLoadOffset?: number;
  /** Code size. Default 512. */
  codeSize?: number;
  /** Data size, placed after the code. Default 256. */
  dataSize?: number;
  /** Seed of the pseudo-random payload. Default 3. */
  seed?: number;
}

/**
 * A generic bootloader file: bin header, `nvfw_bl_desc` at 24, payload at 48
 * holding the code then the data.
 *
 * @param options What to vary.
 * @returns The file bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeGenBootloader } from "./hs_firmware.ts";
 * assert(forgeGenBootloader().length === 816);
 * ```
 */
export function forgeGenBootloader(options: ForgeGenBootloaderOptions = {}): Uint8Array {
  const codeSize = options.codeSize ?? 512;
  const dataSize = options.dataSize ?? 256;
  const dataOffset = BIN_HEADER_SIZE + 24;
  const payloadSize = codeSize + dataSize;
  const w = new ByteWriter(dataOffset + payloadSize);
  writeBinHeader(w, BIN_HEADER_SIZE, dataOffset, payloadSize);
  w.u32(24, options.startTag ?? 253)
    .u32(28, options.dmemLoadOffset ?? 0)
    .u32(32, 0)
    .u32(36, codeSize)
    .u32(40, codeSize)
    .u32(44, dataSize);
  w.set(dataOffset, patternBytes(payloadSize, options.seed ?? 3));
  return w.bytes;
}
