/**
 * Anatomy of the nvfw bin formats: the bin header, Booter (HS headers,
 * signatures, load header), the RISC-V bootloader and the generic
 * bootloader. Field positions come from the parsers' field tables.
 *
 * @module
 */

import {
  BIN_HEADER_FIELDS,
  BIN_HEADER_SIZE,
  type BooterFirmware,
  GEN_BOOTLOADER_DESC_FIELDS,
  GEN_BOOTLOADER_DESC_SIZE,
  HS_HEADER_V2_FIELDS,
  HS_HEADER_V2_SIZE,
  HS_LOAD_APP_FIELDS,
  HS_LOAD_APP_SIZE,
  HS_LOAD_HEADER_V2_FIELDS,
  HS_LOAD_HEADER_V2_SIZE,
  HS_SIGNATURE_PARAMS_FIELDS,
  HS_SIGNATURE_PARAMS_SIZE,
  parseBooter,
  parseGenBootloader,
  parseRiscvBootloader,
  RISCV_UCODE_DESC_FIELDS,
  RISCV_UCODE_DESC_SIZES,
} from "../firmware/mod.ts";
import { AnatomyBuilder, big, readUint, type SeedAnatomy, setField } from "./_fuzz_anatomy.ts";

function binAnatomy(a: AnatomyBuilder, bytes: Uint8Array): { headerOffset: number; data: number } {
  a.words("binHeader", 0, BIN_HEADER_FIELDS).mark(BIN_HEADER_SIZE, bytes.length)
    .point(0, BIN_HEADER_SIZE);
  const word = (name: string) => Number(readUint(bytes, a.field(name)!.offset, 4) ?? 0n);
  const headerOffset = word("binHeader.headerOffset");
  const data = word("binHeader.dataOffset");
  a.mark(headerOffset, data).point(headerOffset, data, bytes.length);
  a.setOneOf("bin.offsets-at-edges", [
    [
      a.field("binHeader.headerOffset"),
      big(0, BIN_HEADER_SIZE - 1, BIN_HEADER_SIZE, bytes.length - 4, bytes.length - 1),
    ],
    [a.field("binHeader.dataOffset"), big(0, headerOffset, bytes.length, bytes.length + 1)],
    [a.field("binHeader.dataSize"), big(0, bytes.length - data, bytes.length - data + 1)],
  ]);
  return { headerOffset, data };
}

/** A Booter's anatomy. */
export function booterAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  binAnatomy(a, bytes);
  let b: BooterFirmware;
  try {
    b = parseBooter(bytes);
  } catch {
    return a.done();
  }
  const hs = b.hsHeader;
  const hsAt = b.binHeader.headerOffset;
  const imageAt = b.binHeader.dataOffset;
  const load = b.loadHeader;
  a.words("hsHeader", hsAt, HS_HEADER_V2_FIELDS)
    .struct("words", 0, [
      { name: "patchLocation", offset: hs.patchLocOffset, size: 4 },
      { name: "patchSignatureOffset", offset: hs.patchSigOffset, size: 4 },
      { name: "signatureCount", offset: hs.numSigOffset, size: 4 },
    ])
    .words("signatureParams", hs.metaDataOffset, HS_SIGNATURE_PARAMS_FIELDS)
    .words("loadHeader", hs.headerOffset, HS_LOAD_HEADER_V2_FIELDS);
  load.apps.forEach((_, i) =>
    a.words(
      `loadHeader.apps[${i}]`,
      hs.headerOffset + HS_LOAD_HEADER_V2_SIZE + HS_LOAD_APP_SIZE * i,
      HS_LOAD_APP_FIELDS,
    )
  );
  a.mark(
    hsAt + HS_HEADER_V2_SIZE,
    b.signaturesOffset,
    b.signaturesOffset + hs.sigProdSize,
    hs.metaDataOffset + HS_SIGNATURE_PARAMS_SIZE,
    hs.headerOffset,
    hs.headerOffset + hs.headerSize,
    imageAt + b.patchLocation,
    imageAt + load.osDataOffset,
  ).point(
    hsAt,
    b.signaturesOffset,
    hs.patchLocOffset,
    hs.metaDataOffset,
    hs.numSigOffset,
    hs.headerOffset,
    load.osDataOffset,
    load.osDataOffset + load.osDataSize,
    b.image.length,
    b.patchLocation,
  );
  const f = (name: string) => a.field(name);
  const imageLength = b.image.length;
  const dataEnd = load.osDataOffset + load.osDataSize;
  a.setOneOf("booter.pointer-words-point-home", [
    [f("hsHeader.patchLocOffset"), big(hsAt, hsAt + 8, 0, bytes.length - 4, bytes.length - 3)],
    [f("hsHeader.patchSigOffset"), big(hsAt, hsAt + 4, 0, bytes.length - 4, bytes.length - 3)],
    [f("hsHeader.numSigOffset"), big(hsAt + 4, 16, 20, 0, bytes.length - 4, bytes.length - 3)],
    [f("hsHeader.metaDataOffset"), big(0, hsAt, bytes.length - 12, bytes.length - 11)],
  ])
    .setOneOf("booter.signature-count", [
      [
        f("words.signatureCount"),
        big(0, 0xffffffff, 0x80000000, hs.sigProdSize, hs.sigProdSize + 1),
      ],
      [f("hsHeader.sigProdSize"), big(0, 0xffffffff, hs.sigProdSize + 1, bytes.length)],
      [
        f("words.patchSignatureOffset"),
        big(0xffffffff, bytes.length, bytes.length - hs.sigProdOffset),
      ],
    ])
    .tangle("booter.apps-fill-the-file", (input, r) => {
      const room = Math.floor((input.bytes.length - hs.headerOffset - 20) / 16);
      const size = Math.max(0, input.bytes.length - hs.headerOffset);
      return [
        setField(input, f("hsHeader.headerSize")!, size),
        setField(input, f("loadHeader.numApps")!, r.pick(big(room, room + 1, 0xffffffff))),
      ].join(", ");
    })
    .setOneOf("booter.load-header-over-other-headers", [
      [f("hsHeader.headerOffset"), big(0, hsAt, b.signaturesOffset, bytes.length - hs.headerSize)],
      [f("hsHeader.headerSize"), big(0, 35, 36, 0xffffffff, bytes.length - hs.headerOffset + 1)],
    ])
    .setOneOf("booter.patch-location-at-edges", [
      [
        f("words.patchLocation"),
        big(
          load.osDataOffset - 1,
          dataEnd - b.signatureSize,
          dataEnd - b.signatureSize + 1,
          imageLength,
          0xffffffff,
        ),
      ],
      [f("loadHeader.osDataOffset"), big(0, b.patchLocation + 1, imageLength, 0xffffffff)],
      [f("loadHeader.osDataSize"), big(0, imageLength - load.osDataOffset + 1, 0xffffffff)],
    ])
    .tangle("booter.image-range-overflow", (input, r) => {
      const i = r.below(load.apps.length + 1);
      const prefix = i === load.apps.length ? "loadHeader.os" : `loadHeader.apps[${i}].`;
      const kind = r.pick(["Code", "Data"]);
      const offset = f(
        i === load.apps.length ? `${prefix}${kind}Offset` : `${prefix}${kind.toLowerCase()}Offset`,
      )!;
      const size = f(
        i === load.apps.length ? `${prefix}${kind}Size` : `${prefix}${kind.toLowerCase()}Size`,
      )!;
      return [
        setField(input, offset, r.pick(big(imageLength, imageLength - 1, 0xffffffff, 0x80000000))),
        setField(input, size, r.pick(big(0, 1, 0xffffffff, 0x80000000))),
      ].join(", ");
    })
    .setOneOf("booter.signature-params-too-wide", [
      [
        f("signatureParams.fuseVersion"),
        big(0xffffffff, b.signatureCount, b.signatureCount + 1, 16),
      ],
      [f("signatureParams.engineIdMask"), big(0x10000, 0xffffffff, 0)],
      [f("signatureParams.ucodeId"), big(0x100, 0xffffffff)],
    ])
    .tangle("booter.zero-signature", (input, r) => {
      const i = r.below(b.signatureCount);
      const at = b.signaturesOffset + i * b.signatureSize;
      input.bytes.fill(
        0,
        Math.min(at, input.bytes.length),
        Math.min(at + b.signatureSize, input.bytes.length),
      );
      return `signature ${i} zeroed`;
    });
  return a.done();
}

/** A RISC-V bootloader's anatomy. */
export function riscvAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  const { headerOffset } = binAnatomy(a, bytes);
  let size = RISCV_UCODE_DESC_SIZES[5];
  let ucodeLength = 0;
  try {
    const rv = parseRiscvBootloader(bytes);
    size = rv.descriptorSize;
    ucodeLength = rv.ucode.length;
  } catch {
    return a.done();
  }
  a.words("descriptor", headerOffset, RISCV_UCODE_DESC_FIELDS.slice(0, size / 4))
    .mark(...Object.values(RISCV_UCODE_DESC_SIZES).map((n) => headerOffset + n));
  const f = (name: string) => a.field(`descriptor.${name}`);
  a.setOneOf("riscv.descriptor-version", [[f("version"), big(0, 3, 4, 5, 6, 0xffffffff)]]);
  a.tangle("riscv.range-at-ucode-end", (input, r) => {
    const offsets = RISCV_UCODE_DESC_FIELDS.filter((n) => n.endsWith("Offset") && f(n));
    const name = r.pick(offsets);
    const sizeName = name.replace(/Offset$/, "Size");
    const sizeField = f(sizeName);
    return [
      setField(input, f(name)!, r.pick(big(ucodeLength, ucodeLength - 1, 0xffffffff, 0x80000000))),
      sizeField ? setField(input, sizeField, r.pick(big(0, 1, 2, 0xffffffff))) : "",
    ].filter(Boolean).join(", ");
  });
  a.setOneOf("riscv.descriptor-at-file-end", [[
    a.field("binHeader.headerOffset"),
    big(
      bytes.length - 4,
      ...Object.values(RISCV_UCODE_DESC_SIZES).flatMap((
        n,
      ) => [bytes.length - n, bytes.length - n + 4]),
    ),
  ]]);
  return a.done();
}

/** A generic bootloader's anatomy. */
export function genAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  const { headerOffset } = binAnatomy(a, bytes);
  let payload = 0;
  try {
    const g = parseGenBootloader(bytes);
    payload = g.binHeader.dataSize;
  } catch {
    return a.done();
  }
  a.words("descriptor", headerOffset, GEN_BOOTLOADER_DESC_FIELDS).mark(
    headerOffset + GEN_BOOTLOADER_DESC_SIZE,
  );
  const f = (name: string) => a.field(`descriptor.${name}`);
  a.setOneOf("gen.range-at-payload-end", [
    [f("codeOffset"), big(payload, payload - 1, 0xffffffff)],
    [f("codeSize"), big(payload + 1, 0xffffffff, 0x80000000)],
    [f("dataOffset"), big(payload, payload - 1, 0xffffffff)],
    [f("dataSize"), big(payload + 1, 0xffffffff, 0x80000000)],
    [
      a.field("binHeader.headerOffset"),
      big(
        bytes.length - GEN_BOOTLOADER_DESC_SIZE,
        bytes.length - GEN_BOOTLOADER_DESC_SIZE + 1,
        bytes.length - 4,
      ),
    ],
  ]);
  return a.done();
}
