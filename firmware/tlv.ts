/**
 * The 2026 nova-core TLV firmware container (`*.tlv`, Timur Tabi's series of
 * June 2026; nova-core `firmware/tlv.rs`). No linux-firmware release ships
 * one yet; the format is forward-looking.
 *
 * Layout: the magic `NVFW`, then blocks of {4-byte ASCII tag, u32 LE value
 * length, value padded with unspecified bytes to a multiple of 4}. The blocks
 * must cover the rest of the file exactly. A `VERS` block is mandatory.
 * Duplicate tags are allowed and the first one wins. Strings hold printable
 * ASCII only. `SIGN` holds `NSIG` equal-sized signatures.
 *
 * Tags seen in nova-core: `gsp.tlv` {VERS, SIZE, FILE, SIGN};
 * `gsp_bootloader.tlv` {VERS, CDOF, DAOF, MFOF, APPV, BLOB}; `booter_*.tlv`
 * {VERS, DAOF, DASZ, CDOF, CDSZ, PLOC, FUSE, ENID, UCID, A0CO, A0CS, NSIG,
 * SIGN, BLOB}; `fmc.tlv` {VERS, BLOB, HASH, PKEY, SIGN}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlv, tlvString, tlvU32 } from "./tlv.ts";
 * import { forgeTlv } from "./forge/tlv.ts";
 * const tlv = parseTlv(forgeTlv([["VERS", "570.144"], ["SIZE", 8192]]), "gsp.tlv");
 * assert(tlvString(tlv, "VERS") === "570.144" && tlvU32(tlv, "SIZE") === 8192);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { ByteReader, hex } from "./byte_reader.ts";
import { type FieldLayout, fieldOffset } from "./field_layout.ts";

/** The container's magic. */
export const TLV_MAGIC = "NVFW";
/** Bytes of a block header: tag and length. */
export const TLV_BLOCK_HEADER_SIZE = 8;

/**
 * A block header's fields: four ASCII tag bytes, then the value's u32 length
 * (the value follows, padded to 4 bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TLV_BLOCK_HEADER_SIZE, TLV_BLOCK_LAYOUT } from "./tlv.ts";
 * import { layoutSize } from "./field_layout.ts";
 * assert(layoutSize(TLV_BLOCK_LAYOUT) === TLV_BLOCK_HEADER_SIZE);
 * ```
 */
export const TLV_BLOCK_LAYOUT: readonly FieldLayout<"tag" | "length">[] = [
  { name: "tag", offset: 0, size: 4 },
  { name: "length", offset: 4, size: 4 },
];

/** One block. */
export interface TlvBlock {
  /** Four ASCII characters, e.g. `VERS`. */
  tag: string;
  /** File offset of the block header. */
  offset: number;
  /** The value (a view of the input, without padding). */
  value: Uint8Array;
}

/** A validated container. */
export interface Tlv {
  /** File name for errors, if known. */
  file?: string;
  /** Every block in file order, duplicates included. */
  blocks: TlvBlock[];
}

/**
 * Parse and validate a TLV container.
 *
 * @throws {FirmwareFormatError} On a wrong magic, a non-ASCII tag, a block
 *   that runs past the end, trailing bytes, or no `VERS` block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlv } from "./tlv.ts";
 * import { forgeTlv } from "./forge/tlv.ts";
 * const tlv = parseTlv(forgeTlv([["VERS", "1"], ["BLOB", new Uint8Array(5)]]));
 * assert(tlv.blocks.length === 2 && tlv.blocks[1].value.length === 5);
 * ```
 */
export function parseTlv(bytes: Uint8Array, file?: string): Tlv {
  const r = new ByteReader(bytes, { file });
  if (bytes.length < TLV_MAGIC.length) {
    r.fail(0, "tlv.magic", `file is ${bytes.length} bytes, shorter than the magic`);
  }
  const magic = r.ascii(0, TLV_MAGIC.length, "tlv.magic");
  if (magic !== TLV_MAGIC) {
    r.fail(0, "tlv.magic", `expected "${TLV_MAGIC}", found ${JSON.stringify(magic)}`);
  }
  const blocks: TlvBlock[] = [];
  // Every block takes at least 8 bytes, so this loop ends within length / 8 rounds.
  for (let at = TLV_MAGIC.length; at < bytes.length;) {
    const field = `tlv.block[${blocks.length}]`;
    if (bytes.length - at < TLV_BLOCK_HEADER_SIZE) {
      r.fail(at, field, `${bytes.length - at} trailing bytes are too few for a block header`);
    }
    const tagBytes = r.bytesAt(at + fieldOffset(TLV_BLOCK_LAYOUT, "tag"), 4, `${field}.tag`);
    if (tagBytes.some((b) => b > 0x7f)) {
      r.fail(at, `${field}.tag`, `tag bytes ${hexBytes(tagBytes)} are not ASCII`);
    }
    const tag = String.fromCharCode(...tagBytes);
    const lengthAt = at + fieldOffset(TLV_BLOCK_LAYOUT, "length");
    const length = r.u32(lengthAt, `${field}.length`);
    const stored = Math.ceil(length / 4) * 4;
    const valueAt = at + TLV_BLOCK_HEADER_SIZE;
    if (stored > bytes.length - valueAt) {
      r.fail(
        lengthAt,
        `${field}(${tag}).length`,
        `value of ${length} bytes (${stored} padded) at 0x${hex(valueAt)} runs past the ` +
          `${bytes.length}-byte file`,
      );
    }
    blocks.push({ tag, offset: at, value: bytes.subarray(valueAt, valueAt + length) });
    at = valueAt + stored;
  }
  if (!blocks.some((b) => b.tag === "VERS")) {
    r.fail(TLV_MAGIC.length, "tlv.VERS", "the mandatory VERS block is missing");
  }
  return { file, blocks };
}

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * The first block tagged `tag`, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findTlvBlock, parseTlv } from "./tlv.ts";
 * import { forgeTlv } from "./forge/tlv.ts";
 * const tlv = parseTlv(forgeTlv([["VERS", "1"], ["FUSE", 2], ["FUSE", 3]]));
 * assert(findTlvBlock(tlv, "FUSE")?.value[0] === 2);
 * assert(findTlvBlock(tlv, "NSIG") === undefined);
 * ```
 */
export function findTlvBlock(tlv: Tlv, tag: string): TlvBlock | undefined {
  return tlv.blocks.find((b) => b.tag === tag);
}

function requireBlock(tlv: Tlv, tag: string): TlvBlock {
  const block = findTlvBlock(tlv, tag);
  if (block) return block;
  const have = [...new Set(tlv.blocks.map((b) => b.tag))].join(", ");
  throw new FirmwareFormatError({
    file: tlv.file,
    offset: TLV_MAGIC.length,
    field: `tlv.${tag}`,
    reason: `no ${tag} block; the file has ${have}`,
  });
}

function blockError(tlv: Tlv, block: TlvBlock, reason: string, delta = 0): FirmwareFormatError {
  return new FirmwareFormatError({
    file: tlv.file,
    offset: block.offset + delta,
    field: `tlv.${block.tag}`,
    reason,
  });
}

/**
 * The value of `tag`; it must exist and not be empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlv, tlvBytes } from "./tlv.ts";
 * import { forgeTlv } from "./forge/tlv.ts";
 * const tlv = parseTlv(forgeTlv([["VERS", "1"], ["BLOB", new Uint8Array([9, 8, 7])]]));
 * assert(tlvBytes(tlv, "BLOB").length === 3);
 * ```
 */
export function tlvBytes(tlv: Tlv, tag: string): Uint8Array {
  const block = requireBlock(tlv, tag);
  if (block.value.length === 0) throw blockError(tlv, block, `${tag} is empty`, 4);
  return block.value;
}

/**
 * The value of `tag` as a little-endian u32; it must be exactly 4 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlv, tlvU32 } from "./tlv.ts";
 * import { forgeTlv } from "./forge/tlv.ts";
 * assert(tlvU32(parseTlv(forgeTlv([["VERS", "1"], ["UCID", 3]])), "UCID") === 3);
 * ```
 */
export function tlvU32(tlv: Tlv, tag: string): number {
  const block = requireBlock(tlv, tag);
  if (block.value.length !== 4) {
    throw blockError(tlv, block, `${tag} is ${block.value.length} bytes, not a 4-byte u32`, 4);
  }
  const v = block.value;
  return (v[0] | v[1] << 8 | v[2] << 16 | v[3] << 24) >>> 0;
}

/**
 * The value of `tag` as text; only printable ASCII (0x20–0x7e) is accepted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlv, tlvString } from "./tlv.ts";
 * import { forgeTlv } from "./forge/tlv.ts";
 * assert(tlvString(parseTlv(forgeTlv([["VERS", "570.144"]])), "VERS") === "570.144");
 * ```
 */
export function tlvString(tlv: Tlv, tag: string): string {
  const block = requireBlock(tlv, tag);
  const bad = block.value.findIndex((b) => b < 0x20 || b > 0x7e);
  if (bad >= 0) {
    throw blockError(
      tlv,
      block,
      `${tag} byte ${bad} is 0x${hex(block.value[bad])}, not printable ASCII`,
      8 + bad,
    );
  }
  // Printable ASCII is valid UTF-8; a decoder copes with values of any length.
  return new TextDecoder().decode(block.value);
}

/**
 * Signature `index` of `SIGN`, which holds `NSIG` equal-sized signatures;
 * without `index`, the last one (nova-core's rule for a fuse register reading 0).
 *
 * @throws {FirmwareFormatError} When `NSIG` or `SIGN` is missing, `NSIG` is 0,
 *   `SIGN` does not divide into `NSIG` equal parts, or `index` is out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlv, tlvSignature } from "./tlv.ts";
 * import { forgeTlv } from "./forge/tlv.ts";
 * const sign = new Uint8Array([1, 1, 2, 2]);
 * const tlv = parseTlv(forgeTlv([["VERS", "1"], ["NSIG", 2], ["SIGN", sign]]));
 * assert(tlvSignature(tlv, 0)[0] === 1 && tlvSignature(tlv)[0] === 2);
 * ```
 */
export function tlvSignature(tlv: Tlv, index?: number): Uint8Array {
  const count = tlvU32(tlv, "NSIG");
  const nsig = requireBlock(tlv, "NSIG");
  if (count === 0) throw blockError(tlv, nsig, "NSIG is 0", 8);
  const sign = requireBlock(tlv, "SIGN");
  const all = tlvBytes(tlv, "SIGN");
  if (all.length % count !== 0) {
    throw blockError(tlv, sign, `${all.length} signature bytes do not split into ${count}`, 4);
  }
  const size = all.length / count;
  const i = index ?? count - 1;
  if (!Number.isSafeInteger(i) || i < 0 || i >= count) {
    throw blockError(tlv, sign, `signature index ${i} is outside 0..${count - 1}`, 4);
  }
  return all.subarray(i * size, (i + 1) * size);
}
