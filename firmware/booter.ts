/**
 * Booter load/unload and the Ada scrubber: heavy-secure (HS) SEC2 ucode in an
 * nvfw bin file with an HS header v2. Parse it, pick the signature the chip's
 * fuses ask for, patch it into a copy of the image, and say where each part
 * of the image goes in the falcon's IMEM and DMEM.
 *
 * Layout (checked against every real file of 535.113.01 and 570.144):
 *
 * | where | what |
 * |---|---|
 * | file 0 | `nvfw_bin_hdr` ({@linkcode parseBinHeader}) |
 * | file `binHeader.headerOffset` (24) | HS header v2: nine u32 |
 * | file `sigProdOffset` + patch-sig value (60) | `numSig` signatures of `sigProdSize / numSig` |
 * | file `patchLocOffset`, `patchSigOffset`, `numSigOffset` | one u32 each |
 * | file `metaDataOffset` | signature params {fuse version, engine id mask, ucode id} |
 * | file `hsHeader.headerOffset` | load header v2: five u32 + one 16-byte entry per app |
 * | file `binHeader.dataOffset` | the image (payload) |
 *
 * Every offset in the HS header counts from the start of the **file**; every
 * offset in the load header, and the patch location, counts from the start
 * of the **image**.
 *
 * Each app entry is 16 bytes {code offset, code size, data offset, data
 * size}, as NVIDIA's open modules read it; the real files' `headerSize` (36 =
 * 20 + 16) agrees. nouveau reads 8-byte {offset, size} pairs instead; with the
 * one app of every real file both readings give the same code offset and size.
 * This parser accepts any count from 1 up to what `headerSize` holds;
 * {@linkcode booterLoadMap} needs exactly one, as NVIDIA does.
 *
 * @example Parse, select, patch
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBooter, patchBooter } from "./booter.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * const file = forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 });
 * const booter = parseBooter(file);
 * const patched = patchBooter(booter, 1);
 * assert(patched.signatureIndex === 0);
 * const { patchLocation, loadHeader } = booter;
 * assert(patched.brom.pkcDataOffset === patchLocation - loadHeader.osDataOffset);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FirmwareFormatError } from "../errors.ts";
import { type BinHeader, parseBinHeader } from "./bin_header.ts";
import { ByteReader, hex } from "./byte_reader.ts";
import { type BromParams, type FalconLoadMap, MAX_FUSE_VERSION } from "./falcon_load.ts";

const logger = getLogger(["falconry", "firmware", "booter"]);

/** Size of the HS header v2: nine u32. */
export const HS_HEADER_V2_SIZE = 36;
/** Size of the fixed part of the HS load header v2: five u32 before the app entries. */
export const HS_LOAD_HEADER_V2_SIZE = 20;
/** Size of one app entry of the load header (NVIDIA's reading). */
export const HS_LOAD_APP_SIZE = 16;
/** Size of the signature params {fuse version, engine id mask, ucode id}. */
export const HS_SIGNATURE_PARAMS_SIZE = 12;

/** The HS header v2. Every offset counts from the start of the file. */
export interface HsHeaderV2 {
  /** File offset of the production signatures (before adding the patch-sig value). */
  sigProdOffset: number;
  /** Total size of all production signatures. */
  sigProdSize: number;
  /** File offset of the u32 patch location (an image offset). */
  patchLocOffset: number;
  /** File offset of the u32 added to `sigProdOffset` (0 in every real file). */
  patchSigOffset: number;
  /** File offset of the signature params. */
  metaDataOffset: number;
  /** Size of the signature params (12). */
  metaDataSize: number;
  /** File offset of the u32 signature count. */
  numSigOffset: number;
  /** File offset of the load header. */
  headerOffset: number;
  /** Size of the load header including its app entries (36 with one app). */
  headerSize: number;
}

/** The signature params at `metaDataOffset`: what the BROM checks the signature against. */
export interface HsSignatureParams {
  /** `fuse_ver`: the fuse version the newest signature was made for. */
  fuseVersion: number;
  /** `engine_id_mask`: engines allowed to run the ucode (1 = SEC2). */
  engineIdMask: number;
  /** `ucode_id`: the ucode's id in the fuse tables (3 for Booter on Ampere/Ada, 13 on Turing). */
  ucodeId: number;
}

/** One app entry of the load header. Offsets count from the start of the image. */
export interface HsLoadHeaderApp {
  /** Image offset of the app's (secure) code. */
  codeOffset: number;
  /** Size of the app's code. */
  codeSize: number;
  /** Image offset of the app's data. */
  dataOffset: number;
  /** Size of the app's data (0 in every real file). */
  dataSize: number;
}

/** The HS load header v2. Offsets count from the start of the image. */
export interface HsLoadHeaderV2 {
  /** Image offset of the non-secure OS code. */
  osCodeOffset: number;
  /** Size of the non-secure OS code (256 in every real file). */
  osCodeSize: number;
  /** Image offset of the data that goes to DMEM. */
  osDataOffset: number;
  /** Size of the DMEM data. */
  osDataSize: number;
  /** Number of app entries. */
  numApps: number;
  /** The app entries, `numApps` of them. */
  apps: HsLoadHeaderApp[];
}

/** A parsed Booter (or scrubber) file. */
export interface BooterFirmware {
  /** The bin header. */
  binHeader: BinHeader;
  /** The HS header v2. */
  hsHeader: HsHeaderV2;
  /** The signature params. */
  signatureParams: HsSignatureParams;
  /** The load header. */
  loadHeader: HsLoadHeaderV2;
  /** Image offset where the chosen signature is written. */
  patchLocation: number;
  /** The u32 at `patchSigOffset`, added to `sigProdOffset`. */
  patchSignatureOffset: number;
  /** File offset of the first signature (`sigProdOffset + patchSignatureOffset`). */
  signaturesOffset: number;
  /** Number of signatures (the u32 at `numSigOffset`). */
  signatureCount: number;
  /** Bytes per signature: `sigProdSize / signatureCount` (16 on Turing, 384 later). */
  signatureSize: number;
  /** The signatures, views into the file. */
  signatures: Uint8Array[];
  /** The image (payload), a view into the file; never patched in place. */
  image: Uint8Array;
}

/** A Booter image with its signature patched in. */
export interface PatchedBooter {
  /** A patched copy of the image; the parsed file is left untouched. */
  image: Uint8Array;
  /** Index of the signature written. */
  signatureIndex: number;
  /** BROM parameters: `pkcDataOffset = patchLocation − osDataOffset`. */
  brom: BromParams;
}

/** Which Booter load layout a chip uses: `"tu102"` for Turing and GA100, `"ga102"` after. */
export type BooterLayout = "tu102" | "ga102";

/** Options for {@linkcode booterLoadMap}. */
export interface BooterLoadMapOptions {
  /** The chip's layout: `"tu102"` up to GA100, `"ga102"` from GA102 on. */
  layout: BooterLayout;
}

/**
 * The fields of the HS header v2 in file order: nine u32, field `i` at
 * `binHeader.headerOffset + 4 * i`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HS_HEADER_V2_FIELDS, HS_HEADER_V2_SIZE } from "./booter.ts";
 * assert(4 * HS_HEADER_V2_FIELDS.length === HS_HEADER_V2_SIZE);
 * ```
 */
export const HS_HEADER_V2_FIELDS: readonly (keyof HsHeaderV2)[] = [
  "sigProdOffset",
  "sigProdSize",
  "patchLocOffset",
  "patchSigOffset",
  "metaDataOffset",
  "metaDataSize",
  "numSigOffset",
  "headerOffset",
  "headerSize",
];

/**
 * The fixed fields of the HS load header v2 in file order: five u32 before
 * the app entries, field `i` at `hsHeader.headerOffset + 4 * i`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HS_LOAD_HEADER_V2_FIELDS, HS_LOAD_HEADER_V2_SIZE } from "./booter.ts";
 * assert(4 * HS_LOAD_HEADER_V2_FIELDS.length === HS_LOAD_HEADER_V2_SIZE);
 * ```
 */
export const HS_LOAD_HEADER_V2_FIELDS: readonly Exclude<keyof HsLoadHeaderV2, "apps">[] = [
  "osCodeOffset",
  "osCodeSize",
  "osDataOffset",
  "osDataSize",
  "numApps",
];

/**
 * The fields of one app entry of the load header in file order: four u32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HS_LOAD_APP_FIELDS, HS_LOAD_APP_SIZE } from "./booter.ts";
 * assert(4 * HS_LOAD_APP_FIELDS.length === HS_LOAD_APP_SIZE);
 * ```
 */
export const HS_LOAD_APP_FIELDS: readonly (keyof HsLoadHeaderApp)[] = [
  "codeOffset",
  "codeSize",
  "dataOffset",
  "dataSize",
];

/**
 * The signature params in file order: three u32 at `hsHeader.metaDataOffset`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HS_SIGNATURE_PARAMS_FIELDS, HS_SIGNATURE_PARAMS_SIZE } from "./booter.ts";
 * assert(4 * HS_SIGNATURE_PARAMS_FIELDS.length === HS_SIGNATURE_PARAMS_SIZE);
 * ```
 */
export const HS_SIGNATURE_PARAMS_FIELDS: readonly (keyof HsSignatureParams)[] = [
  "fuseVersion",
  "engineIdMask",
  "ucodeId",
];

/** Read consecutive u32 named by `fields`, starting at `offset`. */
function readWords<K extends string>(
  r: ByteReader,
  offset: number,
  fields: readonly K[],
  prefix: string,
): Record<K, number> {
  const out = {} as Record<K, number>;
  fields.forEach((name, i) => {
    out[name] = r.u32(offset + 4 * i, `${prefix}.${name}`);
  });
  return out;
}

/** Fail at `fieldOffset`, where the bad value is stored, unless the range fits in `limit`. */
function requireRange(
  r: ByteReader,
  fieldOffset: number,
  field: string,
  start: number,
  length: number,
  limit: number,
  region: string,
): void {
  if (start + length > limit) {
    r.fail(
      fieldOffset,
      field,
      `range 0x${hex(start)}+0x${hex(length)} is outside the ${limit}-byte ${region}`,
    );
  }
}

/**
 * Parse a Booter load/unload or scrubber file.
 *
 * @param bytes The whole file.
 * @param file File name for error messages.
 * @returns The headers, the signatures and the image (views into `bytes`).
 * @throws {FirmwareFormatError} when the file is truncated, has a wrong
 *   magic, an offset or range outside the file or image, no signatures, a
 *   signature area that does not divide evenly, no app, or more apps than the
 *   load header holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBooter } from "./booter.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * const booter = parseBooter(forgeBooter({ ucodeId: 13 }), "booter_load-570.144.bin");
 * assert(booter.signatureParams.ucodeId === 13);
 * assert(booter.signatures.length === booter.signatureCount);
 * ```
 */
export function parseBooter(bytes: Uint8Array, file?: string): BooterFirmware {
  const binHeader = parseBinHeader(bytes, file);
  const r = new ByteReader(bytes, { file });
  const length = bytes.length;
  const hsAt = binHeader.headerOffset;
  const at = (name: keyof HsHeaderV2) => hsAt + 4 * HS_HEADER_V2_FIELDS.indexOf(name);

  r.check(hsAt, HS_HEADER_V2_SIZE, "hsHeader");
  const hsHeader: HsHeaderV2 = readWords(r, hsAt, HS_HEADER_V2_FIELDS, "hsHeader");

  const word = (pointerField: keyof HsHeaderV2): number => {
    const where = hsHeader[pointerField];
    requireRange(r, at(pointerField), `hsHeader.${pointerField}`, where, 4, length, "file");
    return r.u32(where, `hsHeader.${pointerField}`);
  };
  const patchLocation = word("patchLocOffset");
  const patchSignatureOffset = word("patchSigOffset");
  const signatureCount = word("numSigOffset");

  if (hsHeader.metaDataSize < HS_SIGNATURE_PARAMS_SIZE) {
    r.fail(
      at("metaDataSize"),
      "hsHeader.metaDataSize",
      `${hsHeader.metaDataSize} bytes cannot hold the ${HS_SIGNATURE_PARAMS_SIZE}-byte ` +
        "signature params",
    );
  }
  requireRange(
    r,
    at("metaDataOffset"),
    "hsHeader.metaDataOffset",
    hsHeader.metaDataOffset,
    hsHeader.metaDataSize,
    length,
    "file",
  );
  const signatureParams: HsSignatureParams = readWords(
    r,
    hsHeader.metaDataOffset,
    HS_SIGNATURE_PARAMS_FIELDS,
    "signatureParams",
  );

  if (signatureCount === 0) {
    r.fail(hsHeader.numSigOffset, "signatureCount", "the firmware has no signatures");
  }
  if (hsHeader.sigProdSize === 0 || hsHeader.sigProdSize % signatureCount !== 0) {
    r.fail(
      at("sigProdSize"),
      "hsHeader.sigProdSize",
      `${hsHeader.sigProdSize} bytes do not divide into ${signatureCount} non-empty signatures`,
    );
  }
  const signatureSize = hsHeader.sigProdSize / signatureCount;
  const signaturesOffset = hsHeader.sigProdOffset + patchSignatureOffset;
  requireRange(
    r,
    at("sigProdOffset"),
    "hsHeader.sigProdOffset",
    signaturesOffset,
    hsHeader.sigProdSize,
    length,
    "file",
  );
  const signatures: Uint8Array[] = [];
  for (let i = 0; i < signatureCount; i++) {
    const start = signaturesOffset + i * signatureSize;
    signatures.push(bytes.subarray(start, start + signatureSize));
  }

  const loadHeader = readLoadHeader(r, hsHeader, at("headerOffset"), at("headerSize"));

  const image = bytes.subarray(binHeader.dataOffset, binHeader.dataOffset + binHeader.dataSize);
  checkImageRanges(r, hsHeader, loadHeader, image.length, patchLocation, signatureSize);

  logger.debug(
    "booter {file}: {count}×{size}-byte signatures, fuse {fuse}, ucode {ucode}, image {image} B",
    {
      file: file ?? "<bytes>",
      count: signatureCount,
      size: signatureSize,
      fuse: signatureParams.fuseVersion,
      ucode: signatureParams.ucodeId,
      image: image.length,
    },
  );
  return {
    binHeader,
    hsHeader,
    signatureParams,
    loadHeader,
    patchLocation,
    patchSignatureOffset,
    signaturesOffset,
    signatureCount,
    signatureSize,
    signatures,
    image,
  };
}

function readLoadHeader(
  r: ByteReader,
  hs: HsHeaderV2,
  headerOffsetField: number,
  headerSizeField: number,
): HsLoadHeaderV2 {
  if (hs.headerSize < HS_LOAD_HEADER_V2_SIZE + HS_LOAD_APP_SIZE) {
    r.fail(
      headerSizeField,
      "hsHeader.headerSize",
      `${hs.headerSize} bytes cannot hold a load header with one app (${
        HS_LOAD_HEADER_V2_SIZE + HS_LOAD_APP_SIZE
      } bytes)`,
    );
  }
  requireRange(
    r,
    headerOffsetField,
    "hsHeader.headerOffset",
    hs.headerOffset,
    hs.headerSize,
    r.length,
    "file",
  );
  const fixed = readWords(r, hs.headerOffset, HS_LOAD_HEADER_V2_FIELDS, "loadHeader");
  const numAppsAt = hs.headerOffset + 16;
  const room = Math.floor((hs.headerSize - HS_LOAD_HEADER_V2_SIZE) / HS_LOAD_APP_SIZE);
  if (fixed.numApps === 0) r.fail(numAppsAt, "loadHeader.numApps", "the load header has no app");
  if (fixed.numApps > room) {
    r.fail(
      numAppsAt,
      "loadHeader.numApps",
      `${fixed.numApps} apps of ${HS_LOAD_APP_SIZE} bytes do not fit the ` +
        `${hs.headerSize}-byte load header`,
    );
  }
  const apps: HsLoadHeaderApp[] = [];
  for (let i = 0; i < fixed.numApps; i++) {
    const appAt = hs.headerOffset + HS_LOAD_HEADER_V2_SIZE + i * HS_LOAD_APP_SIZE;
    apps.push(readWords(r, appAt, HS_LOAD_APP_FIELDS, `loadHeader.apps[${i}]`));
  }
  return { ...fixed, apps };
}

/** Check that every image range the headers name, and the patch location, lie in the image. */
function checkImageRanges(
  r: ByteReader,
  hs: HsHeaderV2,
  load: HsLoadHeaderV2,
  imageLength: number,
  patchLocation: number,
  signatureSize: number,
): void {
  const base = hs.headerOffset;
  const ranges: [string, number, number, number][] = [
    ["loadHeader.osCodeOffset", base, load.osCodeOffset, load.osCodeSize],
    ["loadHeader.osDataOffset", base + 8, load.osDataOffset, load.osDataSize],
    ...load.apps.flatMap((app, i): [string, number, number, number][] => {
      const at = base + HS_LOAD_HEADER_V2_SIZE + i * HS_LOAD_APP_SIZE;
      return [
        [`loadHeader.apps[${i}].codeOffset`, at, app.codeOffset, app.codeSize],
        [`loadHeader.apps[${i}].dataOffset`, at + 8, app.dataOffset, app.dataSize],
      ];
    }),
  ];
  for (const [field, fieldAt, start, size] of ranges) {
    requireRange(r, fieldAt, field, start, size, imageLength, "image");
  }
  // The BROM reads the signature from DMEM at patchLocation − osDataOffset: it must be OS data.
  const dataEnd = load.osDataOffset + load.osDataSize;
  if (patchLocation < load.osDataOffset || patchLocation + signatureSize > dataEnd) {
    r.fail(
      hs.patchLocOffset,
      "patchLocation",
      `a ${signatureSize}-byte signature at image offset 0x${
        hex(patchLocation)
      } is outside the OS data 0x${hex(load.osDataOffset)}..0x${hex(dataEnd)}`,
    );
  }
}

/**
 * Which signature a chip needs, from its signature fuse version (nova-core's
 * rule): version 0 selects the last signature, any other version selects
 * `signatureParams.fuseVersion − fuseVersion`.
 *
 * The fuse register itself holds a bit mask, not a version: the version is
 * the index of its highest set bit plus one, and 0 when it reads 0 (nova-core
 * `signature_reg_fuse_version`; the register layer converts it). Turing has
 * no such fuse and always uses version 0.
 *
 * NVIDIA's driver computes `signatureCount − 1 − fuseVersion` instead (and
 * takes signature 0 when there is only one); the two agree on every real
 * file, where `signatureParams.fuseVersion = signatureCount − 1`, for
 * versions 0 to `signatureParams.fuseVersion`.
 *
 * The result is a property of the firmware (it lacks the signature the chip
 * needs), so failures are {@linkcode FirmwareFormatError}s.
 *
 * @param booter A parsed Booter.
 * @param fuseVersion The chip's signature fuse version (0–32), already
 *   converted from the fuse register's bit mask.
 * @returns The signature index.
 * @throws {FirmwareFormatError} with field `signatureParams.fuseVersion` when
 *   the index falls outside the signatures, or `signatures[i]` when the
 *   selected signature is all zeros (the second GA102 signature is).
 * @throws {RangeError} when `fuseVersion` is not a whole number 0–32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBooter, selectBooterSignature } from "./booter.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * const ga102Like = parseBooter(forgeBooter({
 *   signatureSize: 384, signatureCount: 2, fuseVersion: 1, zeroSignatureIndex: 1,
 * }));
 * assert(selectBooterSignature(ga102Like, 1) === 0);
 * assert.throws(() => selectBooterSignature(ga102Like, 0), /all zeros/); // the zero signature
 * ```
 */
export function selectBooterSignature(booter: BooterFirmware, fuseVersion: number): number {
  checkFuseVersion(fuseVersion);
  const { signatureCount, signatureParams, hsHeader } = booter;
  const index = fuseVersion === 0 ? signatureCount - 1 : signatureParams.fuseVersion - fuseVersion;
  if (index < 0 || index >= signatureCount) {
    throw new FirmwareFormatError({
      offset: hsHeader.metaDataOffset,
      field: "signatureParams.fuseVersion",
      reason: `chip fuse version ${fuseVersion} with the firmware's fuse version ` +
        `${signatureParams.fuseVersion}` +
        ` selects signature ${index}, but the firmware has ${signatureCount}`,
    });
  }
  if (booter.signatures[index].every((b) => b === 0)) {
    throw new FirmwareFormatError({
      offset: booter.signaturesOffset + index * booter.signatureSize,
      field: `signatures[${index}]`,
      reason: `signature ${index}, selected by fuse version ${fuseVersion}, ` +
        `is all zeros (a placeholder, not a signature)`,
    });
  }
  return index;
}

function checkFuseVersion(fuseVersion: number): void {
  if (!Number.isInteger(fuseVersion) || fuseVersion < 0 || fuseVersion > MAX_FUSE_VERSION) {
    throw new RangeError(
      `fuse version ${fuseVersion} is not 0–${MAX_FUSE_VERSION} ` +
        "(convert the fuse register's bit mask to a version first)",
    );
  }
}

/**
 * Patch the signature the chip's fuse version selects into a copy of the
 * image and compute the BROM parameters (`pkcDataOffset = patchLocation −
 * osDataOffset`).
 *
 * @param booter A parsed Booter.
 * @param fuseVersion The chip's signature fuse version, already converted
 *   from the fuse register's bit mask (see {@linkcode selectBooterSignature}).
 * @returns The patched copy, the signature index and the BROM parameters.
 * @throws {FirmwareFormatError} as {@linkcode selectBooterSignature} does, or
 *   when the engine id mask does not fit 16 bits or the ucode id 8 bits (the
 *   BROM registers' widths).
 * @throws {RangeError} when `fuseVersion` is not a whole number 0–32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBooter, patchBooter } from "./booter.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * const booter = parseBooter(forgeBooter());
 * const { image, signatureIndex } = patchBooter(booter, 0);
 * const at = booter.patchLocation;
 * const written = image.subarray(at, at + booter.signatureSize);
 * assert(written.every((b, i) => b === booter.signatures[signatureIndex][i]));
 * assert(image !== booter.image);
 * ```
 */
export function patchBooter(booter: BooterFirmware, fuseVersion: number): PatchedBooter {
  const { engineIdMask, ucodeId } = booter.signatureParams;
  const paramsAt = booter.hsHeader.metaDataOffset;
  if (engineIdMask > 0xffff) {
    throw new FirmwareFormatError({
      offset: paramsAt + 4,
      field: "signatureParams.engineIdMask",
      reason: `0x${hex(engineIdMask)} does not fit the 16-bit BROM engine id mask`,
    });
  }
  if (ucodeId > 0xff) {
    throw new FirmwareFormatError({
      offset: paramsAt + 8,
      field: "signatureParams.ucodeId",
      reason: `${ucodeId} does not fit the 8-bit BROM ucode id`,
    });
  }
  const signatureIndex = selectBooterSignature(booter, fuseVersion);
  const image = booter.image.slice();
  image.set(booter.signatures[signatureIndex], booter.patchLocation);
  const pkcDataOffset = booter.patchLocation - booter.loadHeader.osDataOffset;
  logger.debug("booter patched with signature {index} at 0x{at}, pkc data offset 0x{pkc}", {
    index: signatureIndex,
    at: hex(booter.patchLocation),
    pkc: hex(pkcDataOffset),
  });
  return { image, signatureIndex, brom: { pkcDataOffset, engineIdMask, ucodeId } };
}

/**
 * Where each part of a Booter image goes in SEC2's IMEM and DMEM (nova-core's
 * `BooterFirmware` load targets). The headers do not say which layout a file
 * uses; the chip does: Turing and GA100 load the OS code as non-secure IMEM
 * and the app at its own offset, and boot at the OS code; GA102 and later
 * load only the app, at IMEM 0, and boot at the app's image offset (its IMEM
 * tag). DMEM gets the OS data, which holds the patched signature. nova-core
 * copies the non-secure code from image offset 0; this takes it from
 * `osCodeOffset`, which is 0 in every real file.
 *
 * @param booter A parsed Booter with exactly one app.
 * @param options The chip's layout.
 * @returns The segments and the boot address.
 * @throws {FirmwareFormatError} with field `loadHeader.numApps` when the
 *   firmware has more than one app.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booterLoadMap, parseBooter } from "./booter.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * const booter = parseBooter(forgeBooter({ osCodeSize: 256 }));
 * const tu = booterLoadMap(booter, { layout: "tu102" });
 * assert(tu.imemNonSecure?.length === 256 && tu.bootAddress === 0);
 * const ga = booterLoadMap(booter, { layout: "ga102" });
 * assert(ga.imemNonSecure === undefined && ga.imemSecure.dstStart === 0);
 * assert(ga.bootAddress === 256);
 * ```
 */
export function booterLoadMap(
  booter: BooterFirmware,
  options: BooterLoadMapOptions,
): FalconLoadMap {
  const load = booter.loadHeader;
  if (load.numApps !== 1) {
    throw new FirmwareFormatError({
      offset: booter.hsHeader.headerOffset + 16,
      field: "loadHeader.numApps",
      reason: `Booter loading handles exactly one app, the firmware has ${load.numApps}`,
    });
  }
  const app = load.apps[0];
  const dmem = { srcStart: load.osDataOffset, dstStart: 0, length: load.osDataSize };
  if (options.layout === "tu102") {
    const imemNonSecure = {
      srcStart: load.osCodeOffset,
      dstStart: load.osCodeOffset,
      length: load.osCodeSize,
    };
    return {
      imemNonSecure,
      imemSecure: { srcStart: app.codeOffset, dstStart: app.codeOffset, length: app.codeSize },
      dmem,
      bootAddress: imemNonSecure.dstStart,
    };
  }
  return {
    imemSecure: { srcStart: app.codeOffset, dstStart: 0, length: app.codeSize },
    dmem,
    bootAddress: app.codeOffset,
  };
}
