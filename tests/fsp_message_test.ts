// Tests of gsp/fsp_message.ts: the FSP messages as bytes, checked field by field against the
// reference's layout (nova-core-boot.md §4.3, confirmed by NVIDIA's 570.144 headers in §13),
// written out here again from the reference rather than taken from the module's own table. Also
// the response checks, one wrong field at a time.

import assert from "node:assert/strict";
import {
  COT_MESSAGE_SIZE,
  COT_PAYLOAD_FIELDS,
  COT_PAYLOAD_SIZE,
  type CotPayload,
  decodeFspResponse,
  decodeMctpHeader,
  decodeNvdmHeader,
  encodeCotMessage,
  encodeFspMessage,
  encodeMctpHeader,
  encodeNvdmHeader,
  FSP_RESPONSE_SIZE,
  FspProtocolError,
  NVDM_TYPE,
} from "../gsp/fsp_message.ts";
import { fmcSignatures, parseFmc } from "../firmware/fmc.ts";
import { FMC_SIZES, forgeFmc } from "../firmware/forge/elf.ts";

/** §4.3 NvdmPayloadCot, packed: [name, offset, size]. */
const REFERENCE_COT: [string, number, number][] = [
  ["version", 0, 2],
  ["size", 2, 2],
  ["gspFmcSysmemOffset", 4, 8],
  ["frtsSysmemOffset", 12, 8],
  ["frtsSysmemSize", 20, 4],
  ["frtsVidmemOffset", 24, 8],
  ["frtsVidmemSize", 32, 4],
  ["hash384", 36, 48],
  ["publicKey", 84, 384],
  ["signature", 468, 384],
  ["gspBootArgsSysmemOffset", 852, 8],
];

/** Distinct bytes, so that a field written at a wrong offset shows. */
function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff || 1);
}

function payload(overrides: Partial<CotPayload> = {}): CotPayload {
  return {
    version: 1,
    fmcImageAddress: 0x1_2345_6000n,
    frtsSysmemOffset: 0x7777_0000n,
    frtsSysmemSize: 0x3000,
    frtsVidmemOffset: 0x200000,
    frtsVidmemSize: 0x100000,
    signatures: pattern(816, 3),
    bootArgsAddress: 0xf_edcb_a000n,
    ...overrides,
  };
}

Deno.test("COT payload: the module's field table is the reference's §4.3 layout", () => {
  assert.deepEqual(
    COT_PAYLOAD_FIELDS.map((f) => [f.name, f.offset, f.size]),
    REFERENCE_COT,
  );
  assert.equal(COT_PAYLOAD_SIZE, 860);
  assert.equal(COT_MESSAGE_SIZE, 868);
});

Deno.test("COT message: headers 0xc0000000 / 0x1410de7e, then every field at its offset", () => {
  const p = payload();
  const m = encodeCotMessage(p);
  assert.equal(m.length, 868);
  const v = new DataView(m.buffer);
  assert.equal(v.getUint32(0, true), 0xc0000000);
  assert.equal(v.getUint32(4, true), 0x1410de7e);
  const at = (name: string) => 8 + REFERENCE_COT.find(([n]) => n === name)![1];
  assert.equal(v.getUint16(at("version"), true), 1);
  assert.equal(v.getUint16(at("size"), true), 860);
  assert.equal(v.getBigUint64(at("gspFmcSysmemOffset"), true), p.fmcImageAddress);
  assert.equal(v.getBigUint64(at("frtsSysmemOffset"), true), p.frtsSysmemOffset);
  assert.equal(v.getUint32(at("frtsSysmemSize"), true), p.frtsSysmemSize);
  assert.equal(v.getBigUint64(at("frtsVidmemOffset"), true), BigInt(p.frtsVidmemOffset));
  assert.equal(v.getUint32(at("frtsVidmemSize"), true), p.frtsVidmemSize);
  assert.deepEqual(m.subarray(at("hash384"), at("gspBootArgsSysmemOffset")), p.signatures);
  assert.equal(v.getBigUint64(at("gspBootArgsSysmemOffset"), true), p.bootArgsAddress);
});

Deno.test("COT message: frtsSysmem defaults to 0, as nova-core sends it", () => {
  const m = encodeCotMessage(payload({ frtsSysmemOffset: undefined, frtsSysmemSize: undefined }));
  const v = new DataView(m.buffer);
  assert.equal(v.getBigUint64(8 + 12, true), 0n);
  assert.equal(v.getUint32(8 + 20, true), 0);
});

Deno.test("COT message: the FMC's hash, key and signature land in their fields, zero-padded", () => {
  for (const [family, sizes] of Object.entries(FMC_SIZES)) {
    const fmc = parseFmc(forgeFmc({ sizes }));
    const m = encodeCotMessage(payload({ signatures: fmcSignatures(fmc) }));
    const field = (name: string) => {
      const [, offset, size] = REFERENCE_COT.find(([n]) => n === name)!;
      return m.subarray(8 + offset, 8 + offset + size);
    };
    assert.deepEqual(field("hash384"), fmc.hash, family);
    assert.deepEqual(field("publicKey").subarray(0, fmc.publicKey.length), fmc.publicKey, family);
    assert(field("publicKey").subarray(fmc.publicKey.length).every((b) => b === 0), family);
    assert.deepEqual(field("signature").subarray(0, fmc.signature.length), fmc.signature, family);
    assert(field("signature").subarray(fmc.signature.length).every((b) => b === 0), family);
  }
});

Deno.test("COT message: values that do not fit their fields are refused", () => {
  assert.throws(() => encodeCotMessage(payload({ signatures: new Uint8Array(815) })), /816/);
  assert.throws(() => encodeCotMessage(payload({ version: 0x10000 })), /16 bits/);
  assert.throws(() => encodeCotMessage(payload({ fmcImageAddress: 1n << 64n })), /64 bits/);
  assert.throws(() => encodeCotMessage(payload({ frtsVidmemSize: -1 })), /32 bits/);
  assert.throws(() => encodeCotMessage(payload({ bootArgsAddress: -1n })), /64 bits/);
});

Deno.test("MCTP and NVDM headers: the §4.3 bit positions, both ways", () => {
  assert.equal(encodeMctpHeader({ som: true, eom: false, seq: 0, seid: 0 }), 0x80000000);
  assert.equal(encodeMctpHeader({ som: false, eom: true, seq: 0, seid: 0 }), 0x40000000);
  assert.equal(encodeMctpHeader({ som: false, eom: false, seq: 3, seid: 0 }), 0x30000000);
  assert.equal(encodeMctpHeader({ som: false, eom: false, seq: 0, seid: 0xab }), 0x00ab0000);
  for (
    const h of [{ som: true, eom: true, seq: 2, seid: 0x5a }, {
      som: false,
      eom: true,
      seq: 1,
      seid: 1,
    }]
  ) {
    assert.deepEqual(decodeMctpHeader(encodeMctpHeader(h)), h);
  }
  assert.throws(() => encodeMctpHeader({ som: true, eom: true, seq: 4, seid: 0 }), /2 bits/);
  assert.equal(encodeNvdmHeader(NVDM_TYPE.PRC), 0x1310de7e);
  assert.equal(encodeNvdmHeader(NVDM_TYPE.FSP_RESPONSE), 0x1510de7e);
  assert.deepEqual(decodeNvdmHeader(0x1410de7e), {
    type: 0x14,
    vendorId: 0x10de,
    messageType: 0x7e,
  });
  assert.throws(() => encodeNvdmHeader(0x100), /8 bits/);
  assert.throws(() => encodeFspMessage(NVDM_TYPE.COT, new Uint8Array(6)), /whole words/);
});

/** A response as the FSP writes it (§4.3): headers, taskId, commandNvdmType, errorCode. */
function response(
  fields: { mctp?: number; nvdm?: number; task?: number; type?: number; error?: number },
) {
  const bytes = new Uint8Array(FSP_RESPONSE_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, fields.mctp ?? 0xc0000000, true);
  v.setUint32(4, fields.nvdm ?? 0x1510de7e, true);
  v.setUint32(8, fields.task ?? 7, true);
  v.setUint32(12, fields.type ?? 0x14, true);
  v.setUint32(16, fields.error ?? 0, true);
  return bytes;
}

Deno.test("FSP response: a good one decodes, its errorCode returned for the caller to judge", () => {
  assert.deepEqual(decodeFspResponse(response({}), NVDM_TYPE.COT), {
    taskId: 7,
    commandNvdmType: 0x14,
    errorCode: 0,
  });
  assert.equal(decodeFspResponse(response({ error: 0xa1 }), NVDM_TYPE.COT).errorCode, 0xa1);
});

Deno.test("FSP response: each protocol check names its field", () => {
  const cases: [string, Uint8Array, string][] = [
    ["short", response({}).subarray(0, 16), "response"],
    ["not SOM", response({ mctp: 0x40000000 }), "mctp"],
    ["not EOM", response({ mctp: 0x80000000 }), "mctp"],
    ["wrong NVDM type", response({ nvdm: 0x1410de7e }), "nvdm.type"],
    ["wrong vendor", response({ nvdm: 0x1510ee7e }), "nvdm.vendorId"],
    ["wrong message type", response({ nvdm: 0x1510de7f }), "nvdm.messageType"],
    ["answers another command", response({ type: 0x13 }), "response.commandNvdmType"],
  ];
  for (const [what, bytes, field] of cases) {
    assert.throws(
      () => decodeFspResponse(bytes, NVDM_TYPE.COT),
      (e) => e instanceof FspProtocolError && e.field === field,
      what,
    );
  }
});
