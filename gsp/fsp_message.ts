/**
 * The messages the driver exchanges with the FSP (Hopper and later) over
 * its EMEM queue, as bytes (reference §4.3, checked against NVIDIA's open
 * modules in §13):
 *
 * - every message starts with an MCTP transport header (u32: bit 31 SOM,
 *   bit 30 EOM, 29:28 SEQ, 23:16 SEID) and an NVDM vendor header (u32:
 *   31:24 NVDM type, 23:8 vendor id `0x10de`, 6:0 MCTP message type `0x7e`,
 *   vendor-defined PCI);
 * - the Chain-of-Trust message (`NVDM_TYPE_COT`, 0x14) carries the packed
 *   860-byte `NvdmPayloadCot` ({@linkcode COT_PAYLOAD_FIELDS}), 868 bytes in
 *   all;
 * - the FSP answers with `NVDM_TYPE_FSP_RESPONSE` (0x15) and
 *   `{taskId, commandNvdmType, errorCode}`, 20 bytes in all.
 *
 * Pure: bytes in, bytes out. A response that breaks the protocol is an
 * {@linkcode FspProtocolError} naming the field and its offset.
 *
 * @example Encode a COT message and read a response
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   COT_MESSAGE_SIZE, decodeFspResponse, encodeCotMessage, encodeFspMessage, NVDM_TYPE,
 * } from "./fsp_message.ts";
 *
 * const message = encodeCotMessage({
 *   version: 1,
 *   fmcImageAddress: 0x10000n,
 *   frtsVidmemOffset: 0x200000,
 *   frtsVidmemSize: 0x100000,
 *   signatures: new Uint8Array(816),
 *   bootArgsAddress: 0x20000n,
 * });
 * assert.equal(message.length, COT_MESSAGE_SIZE);
 * assert.equal(new DataView(message.buffer).getUint32(4, true), 0x1410de7e);
 *
 * const body = new Uint8Array(12);
 * new DataView(body.buffer).setUint32(4, NVDM_TYPE.COT, true);
 * const response = decodeFspResponse(encodeFspMessage(NVDM_TYPE.FSP_RESPONSE, body), NVDM_TYPE.COT);
 * assert.equal(response.errorCode, 0);
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** The NVDM message types the boot uses. */
export interface NvdmTypes {
  /** PRC: read or write an FSP knob. */
  readonly PRC: 0x13;
  /** COT: the Chain-of-Trust message. */
  readonly COT: 0x14;
  /** The FSP's answer to a command. */
  readonly FSP_RESPONSE: 0x15;
}

/** NVDM message types the boot uses (`fsp_nvdm_format.h`). */
export const NVDM_TYPE: NvdmTypes = Object.freeze({
  /** PRC: read or write an FSP knob (vGPU mode). */
  PRC: 0x13,
  /** COT: the Chain-of-Trust message that boots the GSP-FMC. */
  COT: 0x14,
  /** The FSP's answer to a command. */
  FSP_RESPONSE: 0x15,
});

/** NVIDIA's PCI vendor id, in the NVDM header. */
export const NVIDIA_VENDOR_ID = 0x10de;
/** MCTP message type "vendor-defined, PCI" (`0x7e`), in the NVDM header. */
export const MCTP_MESSAGE_TYPE_VENDOR_PCI = 0x7e;

/** The fields of the MCTP transport header. */
export interface MctpHeader {
  /** Start of message. */
  readonly som: boolean;
  /** End of message. */
  readonly eom: boolean;
  /** Packet sequence number, 0–3. */
  readonly seq: number;
  /** Source endpoint id, 0–255. */
  readonly seid: number;
}

/**
 * The MCTP header of a message that fits one packet: SOM and EOM set, the
 * rest 0 (`0xc0000000`).
 */
export const MCTP_SINGLE_PACKET = 0xc000_0000;

/**
 * Encode an MCTP transport header.
 *
 * @param header The fields.
 * @returns The u32.
 * @throws {RangeError} For a `seq` or `seid` that does not fit its bits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeMctpHeader, MCTP_SINGLE_PACKET } from "./fsp_message.ts";
 * assert.equal(encodeMctpHeader({ som: true, eom: true, seq: 0, seid: 0 }), MCTP_SINGLE_PACKET);
 * ```
 */
export function encodeMctpHeader(header: MctpHeader): number {
  if (!Number.isInteger(header.seq) || header.seq < 0 || header.seq > 3) {
    throw new RangeError(`MCTP seq ${header.seq} does not fit 2 bits`);
  }
  if (!Number.isInteger(header.seid) || header.seid < 0 || header.seid > 0xff) {
    throw new RangeError(`MCTP seid ${header.seid} does not fit 8 bits`);
  }
  return ((header.som ? 1 << 31 : 0) | (header.eom ? 1 << 30 : 0) | (header.seq << 28) |
    (header.seid << 16)) >>> 0;
}

/**
 * Decode an MCTP transport header.
 *
 * @param value The u32.
 * @returns The fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMctpHeader } from "./fsp_message.ts";
 * assert.deepEqual(decodeMctpHeader(0xc0000000), { som: true, eom: true, seq: 0, seid: 0 });
 * ```
 */
export function decodeMctpHeader(value: number): MctpHeader {
  return {
    som: (value >>> 31 & 1) === 1,
    eom: (value >>> 30 & 1) === 1,
    seq: value >>> 28 & 3,
    seid: value >>> 16 & 0xff,
  };
}

/** The fields of the NVDM vendor header. */
export interface NvdmHeader {
  /** NVDM type (see {@linkcode NVDM_TYPE}). */
  readonly type: number;
  /** Vendor id (`0x10de`). */
  readonly vendorId: number;
  /** MCTP message type (`0x7e`). */
  readonly messageType: number;
}

/**
 * Encode the NVDM header of an NVIDIA vendor-defined message.
 *
 * @param type The NVDM type, 0–255.
 * @returns The u32: `type << 24 | 0x10de << 8 | 0x7e`.
 * @throws {RangeError} For a type that does not fit 8 bits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNvdmHeader, NVDM_TYPE } from "./fsp_message.ts";
 * assert.equal(encodeNvdmHeader(NVDM_TYPE.COT), 0x1410de7e);
 * ```
 */
export function encodeNvdmHeader(type: number): number {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new RangeError(`NVDM type ${type} does not fit 8 bits`);
  }
  return ((type << 24) | (NVIDIA_VENDOR_ID << 8) | MCTP_MESSAGE_TYPE_VENDOR_PCI) >>> 0;
}

/**
 * Decode an NVDM header.
 *
 * @param value The u32.
 * @returns The fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNvdmHeader } from "./fsp_message.ts";
 * assert.deepEqual(decodeNvdmHeader(0x1510de7e), { type: 0x15, vendorId: 0x10de, messageType: 0x7e });
 * ```
 */
export function decodeNvdmHeader(value: number): NvdmHeader {
  return { type: value >>> 24, vendorId: value >>> 8 & 0xffff, messageType: value & 0x7f };
}

/** Bytes of the two headers in front of every payload. */
export const FSP_HEADERS_SIZE = 8;

/**
 * One single-packet message: the MCTP header, the NVDM header, the payload.
 *
 * @param type The NVDM type.
 * @param payload The payload; its length must keep the message a whole number of words.
 * @returns The message.
 * @throws {RangeError} For a payload that is not a multiple of 4 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFspMessage, NVDM_TYPE } from "./fsp_message.ts";
 * const m = encodeFspMessage(NVDM_TYPE.PRC, new Uint8Array(4));
 * assert.deepEqual([...m.subarray(0, 8)], [0, 0, 0, 0xc0, 0x7e, 0xde, 0x10, 0x13]);
 * ```
 */
export function encodeFspMessage(type: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  if (payload.length % 4 !== 0) {
    throw new RangeError(`an FSP message payload of ${payload.length} bytes is not whole words`);
  }
  const out = new Uint8Array(FSP_HEADERS_SIZE + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MCTP_SINGLE_PACKET, true);
  view.setUint32(4, encodeNvdmHeader(type), true);
  out.set(payload, FSP_HEADERS_SIZE);
  return out;
}

/** One field of a packed structure: name, byte offset, size. */
export interface PackedField {
  /** The field's name (NVIDIA's, camel case). */
  readonly name: string;
  /** Byte offset in the structure. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
}

/**
 * `NvdmPayloadCot`, packed (860 bytes): the reference's §4.3 layout, as
 * NVIDIA's 570.144 headers compile it (§13).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COT_PAYLOAD_FIELDS, COT_PAYLOAD_SIZE } from "./fsp_message.ts";
 * const last = COT_PAYLOAD_FIELDS.at(-1)!;
 * assert.equal(last.offset + last.size, COT_PAYLOAD_SIZE);
 * ```
 */
export const COT_PAYLOAD_FIELDS: readonly PackedField[] = Object.freeze([
  { name: "version", offset: 0, size: 2 },
  { name: "size", offset: 2, size: 2 },
  { name: "gspFmcSysmemOffset", offset: 4, size: 8 },
  { name: "frtsSysmemOffset", offset: 12, size: 8 },
  { name: "frtsSysmemSize", offset: 20, size: 4 },
  { name: "frtsVidmemOffset", offset: 24, size: 8 },
  { name: "frtsVidmemSize", offset: 32, size: 4 },
  { name: "hash384", offset: 36, size: 48 },
  { name: "publicKey", offset: 84, size: 384 },
  { name: "signature", offset: 468, size: 384 },
  { name: "gspBootArgsSysmemOffset", offset: 852, size: 8 },
].map((f) => Object.freeze(f)));

/** `sizeof(NvdmPayloadCot)`: 860. */
export const COT_PAYLOAD_SIZE = 860;
/** The whole COT message: headers and payload, 868 bytes. */
export const COT_MESSAGE_SIZE: number = FSP_HEADERS_SIZE + COT_PAYLOAD_SIZE;
/** Where the 816-byte `FmcSignatures` block (hash, key, signature) starts in the payload. */
const SIGNATURES_OFFSET = 36;
/** `FmcSignatures`: 48 + 384 + 384. */
const SIGNATURES_SIZE = 816;

/** What the COT message says. */
export interface CotPayload {
  /** `version`: 1 on GH100, 2 on Blackwell. */
  readonly version: number;
  /** `gspFmcSysmemOffset`: the DMA address of the FMC image. */
  readonly fmcImageAddress: bigint;
  /** `frtsSysmemOffset`: 0 (FRTS in VRAM). */
  readonly frtsSysmemOffset?: bigint;
  /** `frtsSysmemSize`: 0. */
  readonly frtsSysmemSize?: number;
  /** `frtsVidmemOffset`: measured backwards from the end of VRAM. */
  readonly frtsVidmemOffset: number;
  /** `frtsVidmemSize`: 1 MiB. */
  readonly frtsVidmemSize: number;
  /** `FmcSignatures`: hash[48] ‖ publicKey[384] ‖ signature[384] (`fmcSignatures`). */
  readonly signatures: Uint8Array;
  /** `gspBootArgsSysmemOffset`: the DMA address of `GSP_FMC_BOOT_PARAMS`. */
  readonly bootArgsAddress: bigint;
}

function u64(name: string, value: bigint): bigint {
  if (value < 0n || value >= 1n << 64n) throw new RangeError(`COT ${name} does not fit 64 bits`);
  return value;
}

function u32(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`COT ${name} ${value} does not fit 32 bits`);
  }
  return value;
}

/**
 * The packed 860-byte `NvdmPayloadCot`.
 *
 * @param payload What it says.
 * @returns The payload bytes.
 * @throws {RangeError} For a value that does not fit its field, or signatures that are not 816 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCotPayload } from "./fsp_message.ts";
 * const p = encodeCotPayload({
 *   version: 2, fmcImageAddress: 1n, frtsVidmemOffset: 0x1c00000, frtsVidmemSize: 0x100000,
 *   signatures: new Uint8Array(816), bootArgsAddress: 2n,
 * });
 * const view = new DataView(p.buffer);
 * assert.equal(view.getUint16(0, true), 2);
 * assert.equal(view.getUint16(2, true), 860);
 * assert.equal(view.getBigUint64(852, true), 2n);
 * ```
 */
export function encodeCotPayload(payload: CotPayload): Uint8Array<ArrayBuffer> {
  if (payload.signatures.length !== SIGNATURES_SIZE) {
    throw new RangeError(
      `COT signatures are ${payload.signatures.length} bytes, not ${SIGNATURES_SIZE}`,
    );
  }
  if (!Number.isInteger(payload.version) || payload.version < 0 || payload.version > 0xffff) {
    throw new RangeError(`COT version ${payload.version} does not fit 16 bits`);
  }
  const out = new Uint8Array(COT_PAYLOAD_SIZE);
  const view = new DataView(out.buffer);
  view.setUint16(0, payload.version, true);
  view.setUint16(2, COT_PAYLOAD_SIZE, true);
  view.setBigUint64(4, u64("gspFmcSysmemOffset", payload.fmcImageAddress), true);
  view.setBigUint64(12, u64("frtsSysmemOffset", payload.frtsSysmemOffset ?? 0n), true);
  view.setUint32(20, u32("frtsSysmemSize", payload.frtsSysmemSize ?? 0), true);
  view.setBigUint64(24, u64("frtsVidmemOffset", BigInt(payload.frtsVidmemOffset)), true);
  view.setUint32(32, u32("frtsVidmemSize", payload.frtsVidmemSize), true);
  out.set(payload.signatures, SIGNATURES_OFFSET);
  view.setBigUint64(852, u64("gspBootArgsSysmemOffset", payload.bootArgsAddress), true);
  return out;
}

/**
 * The whole 868-byte COT message: headers and {@linkcode encodeCotPayload}.
 *
 * @param payload What it says.
 * @returns The message, ready for the EMEM queue.
 * @throws {RangeError} As {@linkcode encodeCotPayload}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCotMessage } from "./fsp_message.ts";
 * const m = encodeCotMessage({
 *   version: 1, fmcImageAddress: 0n, frtsVidmemOffset: 0, frtsVidmemSize: 0,
 *   signatures: new Uint8Array(816), bootArgsAddress: 0n,
 * });
 * assert.equal(new DataView(m.buffer).getUint32(0, true), 0xc0000000);
 * ```
 */
export function encodeCotMessage(payload: CotPayload): Uint8Array<ArrayBuffer> {
  return encodeFspMessage(NVDM_TYPE.COT, encodeCotPayload(payload));
}

/** `NVDM_PAYLOAD_COMMAND_RESPONSE`: the FSP's answer to a command. */
export interface FspResponse {
  /** `taskId`. */
  readonly taskId: number;
  /** `commandNvdmType`: the type of the command answered. */
  readonly commandNvdmType: number;
  /** `errorCode`: 0 (`FSP_OK`) on success (`registers/boot_codes.ts` decodes the others). */
  readonly errorCode: number;
}

/** The response: headers and three u32s, 20 bytes. */
export const FSP_RESPONSE_SIZE = 20;

/**
 * A message from the FSP that breaks the protocol: a wrong header, a wrong
 * type, a short message. `field` and `offset` say where.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FspProtocolError } from "./fsp_message.ts";
 * const e = new FspProtocolError("nvdm.type", 7, "is 0x13, expected 0x15");
 * assert(e.message.includes("nvdm.type at offset 0x7"));
 * ```
 */
export class FspProtocolError extends FalconryError {
  /**
   * Construct it.
   *
   * @param field Dotted name of the field.
   * @param offset Byte offset in the message.
   * @param reason What is wrong.
   */
  constructor(readonly field: string, readonly offset: number, readonly reason: string) {
    super(`FSP response: ${field} at offset 0x${offset.toString(16)}: ${reason}`);
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Decode and check the FSP's response to a command of type `sent` (nova-core
 * `fsp.rs`): one packet (SOM and EOM), NVDM type `0x15` from NVIDIA's vendor
 * id with message type `0x7e`, `commandNvdmType` equal to `sent`. The
 * `errorCode` is returned, not judged: the caller decodes it.
 *
 * @param bytes What the FSP's message queue held.
 * @param sent The NVDM type of the command it answers.
 * @returns The response.
 * @throws {FspProtocolError} Naming the field that is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFspResponse, encodeFspMessage, FspProtocolError, NVDM_TYPE } from "./fsp_message.ts";
 * const body = new Uint8Array(12);
 * new DataView(body.buffer).setUint32(4, NVDM_TYPE.PRC, true);
 * assert.throws(
 *   () => decodeFspResponse(encodeFspMessage(NVDM_TYPE.FSP_RESPONSE, body), NVDM_TYPE.COT),
 *   (e) => e instanceof FspProtocolError && e.field === "response.commandNvdmType",
 * );
 * ```
 */
export function decodeFspResponse(bytes: Uint8Array, sent: number): FspResponse {
  if (bytes.length < FSP_RESPONSE_SIZE) {
    throw new FspProtocolError(
      "response",
      0,
      `is ${bytes.length} bytes, expected at least ${FSP_RESPONSE_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mctp = decodeMctpHeader(view.getUint32(0, true));
  if (!mctp.som || !mctp.eom) {
    throw new FspProtocolError(
      "mctp",
      0,
      `is not a single packet (SOM ${+mctp.som}, EOM ${+mctp.eom}); falconry reads one packet only`,
    );
  }
  const nvdm = decodeNvdmHeader(view.getUint32(4, true));
  const expect = [
    { field: "nvdm.type", offset: 7, value: nvdm.type, want: NVDM_TYPE.FSP_RESPONSE },
    { field: "nvdm.vendorId", offset: 5, value: nvdm.vendorId, want: NVIDIA_VENDOR_ID },
    {
      field: "nvdm.messageType",
      offset: 4,
      value: nvdm.messageType,
      want: MCTP_MESSAGE_TYPE_VENDOR_PCI,
    },
  ];
  for (const { field, offset, value, want } of expect) {
    if (value !== want) {
      throw new FspProtocolError(field, offset, `is ${hex(value)}, expected ${hex(want)}`);
    }
  }
  const response = {
    taskId: view.getUint32(8, true),
    commandNvdmType: view.getUint32(12, true),
    errorCode: view.getUint32(16, true),
  };
  if (response.commandNvdmType !== sent) {
    throw new FspProtocolError(
      "response.commandNvdmType",
      12,
      `is ${hex(response.commandNvdmType)}: it answers another command than the ${hex(sent)} sent`,
    );
  }
  return response;
}
