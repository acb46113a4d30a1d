/**
 * Forged TLV (`NVFW`) containers: a generic writer and examples shaped like
 * the `gsp.tlv`, `booter_load.tlv` and `fmc.tlv` files nova-core's 2026 TLV
 * loader reads (no real one has shipped yet).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeTlv } from "./tlv.ts";
 * const bytes = forgeTlv([["VERS", "1.0"], ["SIZE", 4096]]);
 * assert(new TextDecoder().decode(bytes.subarray(0, 4)) === "NVFW");
 * ```
 *
 * @module
 */

import { alignUp, ByteWriter, patternBytes } from "./_writer.ts";

/** A block value: bytes as they are, text as ASCII (no NUL), a number as a u32 LE. */
export type TlvForgeValue = Uint8Array | string | number;

/** Options of {@linkcode forgeTlv}. */
export interface ForgeTlvOptions {
  /** The magic; defaults to `NVFW` (a different one forges a bad file). */
  magic?: string;
  /** The byte that pads values to 4 bytes; defaults to 0. */
  padByte?: number;
}

function valueBytes(value: TlvForgeValue): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Uint8Array.from(value, (c) => c.charCodeAt(0) & 0xff);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, true);
  return out;
}

/**
 * Build a TLV container from `[tag, value]` pairs in order (duplicates kept)
 * or from a record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeTlv } from "./tlv.ts";
 * const bytes = forgeTlv({ VERS: "1", BLOB: new Uint8Array(5) });
 * assert(bytes.length === 4 + (8 + 4) + (8 + 8));
 * ```
 */
export function forgeTlv(
  blocks: Iterable<readonly [string, TlvForgeValue]> | Record<string, TlvForgeValue>,
  options: ForgeTlvOptions = {},
): Uint8Array {
  const pairs = Symbol.iterator in blocks
    ? [...(blocks as Iterable<readonly [string, TlvForgeValue]>)]
    : Object.entries(blocks);
  const encoded = pairs.map(([tag, value]) => ({ tag, bytes: valueBytes(value) }));
  const magic = options.magic ?? "NVFW";
  const size = encoded.reduce((n, b) => n + 8 + alignUp(b.bytes.length, 4), magic.length);
  const w = new ByteWriter(size);
  w.ascii(0, magic);
  let at = magic.length;
  for (const { tag, bytes } of encoded) {
    w.ascii(at, tag.padEnd(4, " ").slice(0, 4)).u32(at + 4, bytes.length).set(at + 8, bytes);
    const end = at + 8 + alignUp(bytes.length, 4);
    w.bytes.fill(options.padByte ?? 0, at + 8 + bytes.length, end);
    at = end;
  }
  return w.bytes;
}

/** What {@linkcode forgeGspTlv} builds. */
export interface ForgeGspTlvOptions {
  /** `VERS`; defaults to `570.144`. */
  version?: string;
  /** `SIZE`: bytes of the raw image file; defaults to 63541248 (the GA102 image). */
  imageSize?: number;
  /** `FILE`: the raw image's name next to the TLV; defaults to `gsp.bin`. */
  file?: string;
  /** `SIGN`: this chip's signature blob; defaults to 4096 pattern bytes. */
  signature?: Uint8Array;
  /** Seed of the pattern bytes. */
  seed?: number;
}

/**
 * Forge a `gsp.tlv` like nova-core's `GspFirmware` reads: `VERS`, `SIZE`,
 * `FILE`, `SIGN` (the whole value is the chip's signature).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeGspTlv } from "./tlv.ts";
 * import { parseTlv, tlvString, tlvU32 } from "../tlv.ts";
 * const tlv = parseTlv(forgeGspTlv({ imageSize: 8192 }));
 * assert(tlvU32(tlv, "SIZE") === 8192 && tlvString(tlv, "FILE") === "gsp.bin");
 * ```
 */
export function forgeGspTlv(options: ForgeGspTlvOptions = {}): Uint8Array {
  return forgeTlv([
    ["VERS", options.version ?? "570.144"],
    ["SIZE", options.imageSize ?? 63541248],
    ["FILE", options.file ?? "gsp.bin"],
    ["SIGN", options.signature ?? patternBytes(4096, options.seed ?? 0x651)],
  ]);
}

/** What {@linkcode forgeBooterTlv} builds. */
export interface ForgeBooterTlvOptions {
  /** `VERS`; defaults to `570.144`. */
  version?: string;
  /** `NSIG`; defaults to 2 (GA10x). */
  signatureCount?: number;
  /** Bytes per signature; defaults to 384. */
  signatureSize?: number;
  /** `FUSE` (the fuse version the last signature is for); defaults to 1. */
  fuseVersion?: number;
  /** `UCID`; defaults to 3. */
  ucodeId?: number;
  /** Seed of the pattern bytes. */
  seed?: number;
}

/**
 * Forge a `booter_load.tlv` with every tag nova-core's `BooterFirmware`
 * reads: `VERS`, `DAOF`, `DASZ`, `CDOF`, `CDSZ`, `PLOC`, `FUSE`, `ENID`,
 * `UCID`, `A0CO`, `A0CS`, `NSIG`, `SIGN`, `BLOB`. The 0x1000-byte blob has
 * 256 bytes of OS code, an app at 0x100 and the OS data at 0xb00; the
 * signature patch location is inside the data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeBooterTlv } from "./tlv.ts";
 * import { parseTlv, tlvSignature, tlvU32 } from "../tlv.ts";
 * const tlv = parseTlv(forgeBooterTlv());
 * assert(tlvU32(tlv, "NSIG") === 2 && tlvSignature(tlv, 0).length === 384);
 * ```
 */
export function forgeBooterTlv(options: ForgeBooterTlvOptions = {}): Uint8Array {
  const count = options.signatureCount ?? 2;
  const seed = options.seed ?? 0xb007;
  const signatures = new Uint8Array(count * (options.signatureSize ?? 384));
  signatures.set(patternBytes(signatures.length, seed + 1));
  return forgeTlv([
    ["VERS", options.version ?? "570.144"],
    ["DAOF", 0xb00],
    ["DASZ", 0x500],
    ["CDOF", 0],
    ["CDSZ", 0x100],
    ["PLOC", 0xc40],
    ["FUSE", options.fuseVersion ?? 1],
    ["ENID", 1],
    ["UCID", options.ucodeId ?? 3],
    ["A0CO", 0x100],
    ["A0CS", 0xa00],
    ["NSIG", count],
    ["SIGN", signatures],
    ["BLOB", patternBytes(0x1000, seed)],
  ]);
}

/** What {@linkcode forgeFmcTlv} builds. */
export interface ForgeFmcTlvOptions {
  /** `PKEY` size; defaults to 384 (GH100; Blackwell uses 97). */
  publicKeySize?: number;
  /** `SIGN` size; defaults to 384 (GH100; Blackwell uses 96). */
  signatureSize?: number;
  /** `BLOB` size; defaults to 8192. */
  imageSize?: number;
  /** Seed of the pattern bytes. */
  seed?: number;
}

/**
 * Forge an `fmc.tlv` like nova-core's `FspFirmware` reads: `VERS`, `BLOB`,
 * `HASH` (48 bytes), `PKEY`, `SIGN`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeFmcTlv } from "./tlv.ts";
 * import { parseTlv, tlvBytes } from "../tlv.ts";
 * const tlv = parseTlv(forgeFmcTlv({ publicKeySize: 97, signatureSize: 96 }));
 * assert(tlvBytes(tlv, "PKEY").length === 97 && tlvBytes(tlv, "HASH").length === 48);
 * ```
 */
export function forgeFmcTlv(options: ForgeFmcTlvOptions = {}): Uint8Array {
  const seed = options.seed ?? 0xf3c;
  return forgeTlv([
    ["VERS", "570.144"],
    ["BLOB", patternBytes(options.imageSize ?? 8192, seed)],
    ["HASH", patternBytes(48, seed + 1)],
    ["PKEY", patternBytes(options.publicKeySize ?? 384, seed + 2)],
    ["SIGN", patternBytes(options.signatureSize ?? 384, seed + 3)],
  ]);
}
