/**
 * The messages the simulated FSP reads from its EMEM queue and the reply it
 * writes back (nova-core-boot.md §4.2–4.3, checked against NVIDIA's open
 * modules 570.144, §13): an MCTP transport header, an NVDM header, and for
 * the Chain-of-Trust message the packed `NVDM_PAYLOAD_COT`
 * (`kern_fsp_cot_payload.h`, 860 bytes).
 *
 * | offset | field |
 * |---|---|
 * | 0 | MCTP header: 31 SOM, 30 EOM, 29:28 SEQ, 23:16 SEID (single packet: `0xc0000000`) |
 * | 4 | NVDM header: 31:24 NVDM type, 23:8 vendor id `0x10de`, 6:0 MCTP message type `0x7e` |
 * | 8 | u16 version (GH100: 1; GB10x/GB20x: 2), u16 size (860) |
 * | 12 | u64 gspFmcSysmemOffset: the FMC image's DMA address |
 * | 20 | u64 frtsSysmemOffset, u32 frtsSysmemSize |
 * | 32 | u64 frtsVidmemOffset (from the end of VRAM), u32 frtsVidmemSize |
 * | 44 | hash384[48], publicKey[384], signature[384] (zero-padded) |
 * | 860 | u64 gspBootArgsSysmemOffset: `GSP_FMC_BOOT_PARAMS`' DMA address |
 *
 * The reply (20 bytes): MCTP header, NVDM header of type `0x15`
 * (`NVDM_TYPE_FSP_RESPONSE`), then u32 taskId, u32 commandNvdmType (the
 * type answered), u32 errorCode (`fsp_error.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COT_MESSAGE_SIZE, decodeFspPacket, encodeCotMessage } from "./cot_message.ts";
 * const bytes = encodeCotMessage({ version: 1, gspFmcSysmemOffset: 0x1000n });
 * assert.equal(bytes.length, COT_MESSAGE_SIZE);
 * const packet = decodeFspPacket(bytes);
 * assert(packet.ok && packet.nvdmType === 0x14);
 * ```
 *
 * @module
 */

import { fspReject, type FspRejection } from "./fsp_error.ts";
import { hex } from "./_util.ts";

/** NVDM message types (`fsp_nvdm_format.h`). */
export const NVDM_TYPE: Readonly<{ prc: 0x13; cot: 0x14; fspResponse: 0x15 }> = Object.freeze(
  {
    /** Pre-RM configuration (knob reads). */
    prc: 0x13,
    /** Chain of trust. */
    cot: 0x14,
    /** The FSP's reply. */
    fspResponse: 0x15,
  } as const,
);

/** The MCTP message type of every NVDM message: vendor-defined PCI. */
export const MCTP_MSG_TYPE_VENDOR_PCI = 0x7e;
/** NVIDIA's PCI vendor id, in the NVDM header. */
export const NVDM_VENDOR_ID_NVIDIA = 0x10de;
/** A single-packet MCTP header: SOM and EOM set, SEQ and SEID 0. */
export const MCTP_SINGLE_PACKET = 0xc000_0000;
/** Size of `NVDM_PAYLOAD_COT` (packed). */
export const COT_PAYLOAD_SIZE = 860;
/** The COT message: 8 header bytes and the payload. */
export const COT_MESSAGE_SIZE: number = 8 + COT_PAYLOAD_SIZE;
/** The RM channel's EMEM size (`FSP_EMEM_CHANNEL_RM_SIZE`): the largest packet. */
export const FSP_CHANNEL_SIZE = 1024;
/** Size of the FSP's reply to a command. */
export const FSP_RESPONSE_SIZE = 20;

/** The COT payload's fields that have an offset of their own. */
export type CotField =
  | "version"
  | "size"
  | "gspFmcSysmemOffset"
  | "frtsSysmemOffset"
  | "frtsSysmemSize"
  | "frtsVidmemOffset"
  | "frtsVidmemSize"
  | "hash"
  | "publicKey"
  | "signature"
  | "gspBootArgsSysmemOffset";

/** Field offsets inside the COT message (header included). */
export const COT_OFFSET: Readonly<Record<CotField, number>> = Object.freeze(
  {
    version: 8,
    size: 10,
    gspFmcSysmemOffset: 12,
    frtsSysmemOffset: 20,
    frtsSysmemSize: 28,
    frtsVidmemOffset: 32,
    frtsVidmemSize: 40,
    hash: 44,
    publicKey: 44 + 48,
    signature: 44 + 48 + 384,
    gspBootArgsSysmemOffset: 44 + 48 + 384 + 384,
  } as const,
);

/**
 * The NVDM header word of a message type.
 *
 * @param nvdmType The type.
 * @returns The u32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvdmHeader } from "./cot_message.ts";
 * assert.equal(nvdmHeader(0x14), 0x1410de7e);
 * ```
 */
export function nvdmHeader(nvdmType: number): number {
  return ((nvdmType << 24) | (NVDM_VENDOR_ID_NVIDIA << 8) | MCTP_MSG_TYPE_VENDOR_PCI) >>> 0;
}

/** A packet whose transport headers are right. */
export interface FspPacket {
  /** Always true. */
  readonly ok: true;
  /** The NVDM type. */
  readonly nvdmType: number;
  /** The whole packet. */
  readonly bytes: Uint8Array;
}

/**
 * Check a packet's MCTP and NVDM headers (NVIDIA `kfspGetPacketInfo_GH100`,
 * `kfspValidateMctpPayloadHeader_GH100`): one packet (SOM and EOM), the
 * vendor-defined PCI message type and NVIDIA's vendor id.
 *
 * @param bytes The packet as read from EMEM.
 * @returns The NVDM type, or the rejection.
 *
 * @example A multi-packet message
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFspPacket } from "./cot_message.ts";
 * const bytes = new Uint8Array(12);
 * new DataView(bytes.buffer).setUint32(0, 0x80000000, true);
 * const v = decodeFspPacket(bytes);
 * assert(!v.ok && v.rule === "mctpHeader");
 * ```
 */
export function decodeFspPacket(bytes: Uint8Array): FspPacket | FspRejection {
  if (bytes.length < 8 || bytes.length > FSP_CHANNEL_SIZE || bytes.length % 4 !== 0) {
    return fspReject(
      "packetSize",
      `a packet of ${bytes.length} bytes (a whole number of words, 8 to ${FSP_CHANNEL_SIZE})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mctp = view.getUint32(0, true);
  const som = (mctp >>> 31) & 1;
  const eom = (mctp >>> 30) & 1;
  if (!som || !eom) {
    return fspReject(
      "mctpHeader",
      `MCTP header ${hex(mctp)}: SOM ${som}, EOM ${eom}; only single-packet messages are modelled`,
    );
  }
  const nvdm = view.getUint32(4, true);
  const msgType = nvdm & 0x7f;
  const vendor = (nvdm >>> 8) & 0xffff;
  if (msgType !== MCTP_MSG_TYPE_VENDOR_PCI || vendor !== NVDM_VENDOR_ID_NVIDIA) {
    return fspReject(
      "nvdmHeader",
      `NVDM header ${hex(nvdm)}: message type ${hex(msgType)} (expected 0x7e), vendor ` +
        `${hex(vendor)} (expected 0x10de)`,
    );
  }
  return { ok: true, nvdmType: nvdm >>> 24, bytes };
}

/** The fields of `NVDM_PAYLOAD_COT`. */
export interface CotPayload {
  /** Payload version (GH100: 1). */
  readonly version: number;
  /** The size field (860). */
  readonly size: number;
  /** The FMC image's DMA address. */
  readonly gspFmcSysmemOffset: bigint;
  /** FRTS copy in system memory (0 when none). */
  readonly frtsSysmemOffset: bigint;
  /** Its size. */
  readonly frtsSysmemSize: number;
  /** FRTS offset from the end of VRAM. */
  readonly frtsVidmemOffset: bigint;
  /** FRTS size in VRAM (1 MiB). */
  readonly frtsVidmemSize: number;
  /** SHA-384 of the FMC, 48 bytes. */
  readonly hash: Uint8Array;
  /** Public key, 384 bytes (zero-padded). */
  readonly publicKey: Uint8Array;
  /** Signature, 384 bytes (zero-padded). */
  readonly signature: Uint8Array;
  /** `GSP_FMC_BOOT_PARAMS`' DMA address. */
  readonly gspBootArgsSysmemOffset: bigint;
}

/**
 * Read the COT payload's fields from a whole COT message (header included).
 *
 * @param bytes At least {@linkcode COT_MESSAGE_SIZE} bytes.
 * @returns The fields.
 * @throws {RangeError} For fewer bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCotPayload, encodeCotMessage } from "./cot_message.ts";
 * const cot = decodeCotPayload(encodeCotMessage({ frtsVidmemOffset: 0x200000n }));
 * assert.equal(cot.frtsVidmemOffset, 0x200000n);
 * assert.equal(cot.size, 860);
 * ```
 */
export function decodeCotPayload(bytes: Uint8Array): CotPayload {
  if (bytes.length < COT_MESSAGE_SIZE) {
    throw new RangeError(`a COT message is ${COT_MESSAGE_SIZE} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = COT_OFFSET;
  return {
    version: view.getUint16(o.version, true),
    size: view.getUint16(o.size, true),
    gspFmcSysmemOffset: view.getBigUint64(o.gspFmcSysmemOffset, true),
    frtsSysmemOffset: view.getBigUint64(o.frtsSysmemOffset, true),
    frtsSysmemSize: view.getUint32(o.frtsSysmemSize, true),
    frtsVidmemOffset: view.getBigUint64(o.frtsVidmemOffset, true),
    frtsVidmemSize: view.getUint32(o.frtsVidmemSize, true),
    hash: bytes.slice(o.hash, o.hash + 48),
    publicKey: bytes.slice(o.publicKey, o.publicKey + 384),
    signature: bytes.slice(o.signature, o.signature + 384),
    gspBootArgsSysmemOffset: view.getBigUint64(o.gspBootArgsSysmemOffset, true),
  };
}

/**
 * Build a COT message (for tests and examples; the driver builds its own).
 * Fields not given are 0, except `version` (1), `size` (860) and the headers.
 *
 * @param fields Payload fields.
 * @returns {@linkcode COT_MESSAGE_SIZE} bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCotMessage } from "./cot_message.ts";
 * const bytes = encodeCotMessage({ hash: new Uint8Array(48).fill(7) });
 * assert.equal(new DataView(bytes.buffer).getUint32(4, true), 0x1410de7e);
 * assert.equal(bytes[44], 7);
 * ```
 */
export function encodeCotMessage(fields: Partial<CotPayload> = {}): Uint8Array {
  const bytes = new Uint8Array(COT_MESSAGE_SIZE);
  const view = new DataView(bytes.buffer);
  const o = COT_OFFSET;
  view.setUint32(0, MCTP_SINGLE_PACKET, true);
  view.setUint32(4, nvdmHeader(NVDM_TYPE.cot), true);
  view.setUint16(o.version, fields.version ?? 1, true);
  view.setUint16(o.size, fields.size ?? COT_PAYLOAD_SIZE, true);
  view.setBigUint64(o.gspFmcSysmemOffset, fields.gspFmcSysmemOffset ?? 0n, true);
  view.setBigUint64(o.frtsSysmemOffset, fields.frtsSysmemOffset ?? 0n, true);
  view.setUint32(o.frtsSysmemSize, fields.frtsSysmemSize ?? 0, true);
  view.setBigUint64(o.frtsVidmemOffset, fields.frtsVidmemOffset ?? 0n, true);
  view.setUint32(o.frtsVidmemSize, fields.frtsVidmemSize ?? 0, true);
  if (fields.hash) bytes.set(fields.hash.subarray(0, 48), o.hash);
  if (fields.publicKey) bytes.set(fields.publicKey.subarray(0, 384), o.publicKey);
  if (fields.signature) bytes.set(fields.signature.subarray(0, 384), o.signature);
  view.setBigUint64(o.gspBootArgsSysmemOffset, fields.gspBootArgsSysmemOffset ?? 0n, true);
  return bytes;
}

/**
 * The FSP's reply to a command.
 *
 * @param commandNvdmType The type answered.
 * @param errorCode 0, or a code of `fsp_error.ts`.
 * @param extra Bytes after errorCode (a PRC reply's value), whole words.
 * @returns The reply's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFspResponse } from "./cot_message.ts";
 * const r = new DataView(encodeFspResponse(0x14, 0xa1).buffer);
 * assert.equal(r.getUint32(4, true), 0x1510de7e);
 * assert.equal(r.getUint32(12, true), 0x14);
 * assert.equal(r.getUint32(16, true), 0xa1);
 * ```
 */
export function encodeFspResponse(
  commandNvdmType: number,
  errorCode: number,
  extra: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const bytes = new Uint8Array(FSP_RESPONSE_SIZE + extra.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MCTP_SINGLE_PACKET, true);
  view.setUint32(4, nvdmHeader(NVDM_TYPE.fspResponse), true);
  view.setUint32(8, 0, true); // taskId
  view.setUint32(12, commandNvdmType, true);
  view.setUint32(16, errorCode >>> 0, true);
  bytes.set(extra, FSP_RESPONSE_SIZE);
  return bytes;
}
