/**
 * Anatomy of a VBIOS: IFR header, ROM images (PCIR, NPDE), the BIT and its
 * tokens, the PMU lookup table, and FWSEC (descriptor, application
 * interface, DMEM mapper). Field positions come from the parsers' layout
 * tables; the forge stays an independent description as a cross-check.
 *
 * @module
 */

import {
  APP_INTERFACE_ENTRY_LAYOUT,
  APP_INTERFACE_HEADER_LAYOUT,
  BIT_HEADER_LAYOUT,
  BIT_HEADER_SIZE,
  BIT_PATTERN,
  BIT_TOKEN,
  BIT_TOKEN_LAYOUT,
  BIT_TOKEN_SIZE,
  bufferSource,
  DMEM_MAPPER_LAYOUT,
  DMEM_MAPPER_SIZE,
  FALCON_UCODE_DESC_V2_LAYOUT,
  FALCON_UCODE_DESC_V3_LAYOUT,
  fieldOffset,
  type FwsecFirmware,
  IFR_FIXED_HEADER_SIZE,
  IFR_HEADER_LAYOUT,
  NPDE_LAYOUT,
  NPDE_SIZE,
  parseVbios,
  PCI_ROM_HEADER_LAYOUT,
  PCIR_LAYOUT,
  PCIR_SIZE,
  PMU_TABLE_ENTRY_LAYOUT,
  PMU_TABLE_HEADER_LAYOUT,
  ROM_BLOCK_SIZE,
  ROM_CODE_TYPE,
  ROM_DIRECTORY_LAYOUT,
  ROM_HEADER_SIZE,
  type VbiosInfo,
} from "../firmware/mod.ts";
import {
  AnatomyBuilder,
  big,
  hx,
  readUint,
  type SeedAnatomy,
  setField,
  writeUint,
} from "./_fuzz_anatomy.ts";

/** The header fields of a BIT decoy: version 1.00, a 12-byte header and 6-byte tokens. */
const DECOY_HEADER: Readonly<Record<string, number>> = {
  bcdVersion: 0x100,
  headerSize: BIT_HEADER_SIZE,
  tokenSize: BIT_TOKEN_SIZE,
};

/** A VBIOS's anatomy (with FWSEC's, when it has one). */
export function vbiosAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  let v: VbiosInfo;
  try {
    v = parseVbios(bufferSource(bytes));
  } catch {
    return a.done();
  }
  const n = bytes.length;
  if (v.ifr) {
    a.struct("ifr", 0, IFR_HEADER_LAYOUT).mark(IFR_FIXED_HEADER_SIZE, v.romOffset)
      .point(0, v.romOffset);
    // Pointer words, not fixed fields: where they are depends on the header's values.
    if (v.ifr.version === 3) {
      a.words("ifr", v.ifr.totalDataSize, ["flashStatusOffset"]);
      const dir = v.ifr.romDirectoryOffset ?? 0;
      a.struct("ifr.romDirectory", dir, ROM_DIRECTORY_LAYOUT).point(dir);
    } else {
      a.words("ifr", v.ifr.fixedDataSize + 4, ["romOffset"]);
    }
    const flashStatus = v.ifr.flashStatusOffset ?? 0;
    a.setOneOf("vbios.ifr-points-back", [
      [
        a.field("ifr.romOffset"),
        big(0, 4, 12, v.romOffset + 1, v.romOffset - ROM_BLOCK_SIZE, n, n - 2, 0xffffffff),
      ],
      [a.field("ifr.romDirectory.romOffset"), big(0, flashStatus, v.romOffset + 2, n, 0xffffffff)],
      [a.field("ifr.flashStatusOffset"), big(0, flashStatus - 4096, n - 4096 - 8, n, 0xffffffff)],
      [a.field("ifr.fixed1"), big(0x0100, 0x0200, 0x0300, 0x0400, 0x7fff0200, 0xffffffff)],
      [a.field("ifr.fixed2"), big(0, 0xfffff, n - 4, n)],
    ]);
  }
  v.images.forEach((image, i) => {
    const p = `images[${i}]`;
    const pcirAt = image.offset + image.pciDataStructPtr;
    a.struct(p, image.offset, PCI_ROM_HEADER_LAYOUT).struct(`${p}.pcir`, pcirAt, PCIR_LAYOUT)
      .mark(image.offset, image.offset + image.size, pcirAt).point(image.offset);
    if (image.npde) {
      const npdeAt = image.offset +
        Math.ceil((image.pciDataStructPtr + image.pcir.pciDataStructLen) / 16) * 16;
      a.struct(`${p}.npde`, npdeAt, NPDE_LAYOUT).mark(npdeAt);
    }
  });
  const imageField = (i: number, name: string) => a.field(`images[${i}].${name}`);
  const images = v.images.map((_, i) => i);
  a.tangle("vbios.zero-image-length", (input, r) => {
    const i = r.pick(images);
    const field = imageField(i, "npde.subimageLen") && r.chance(0.5)
      ? imageField(i, "npde.subimageLen")!
      : imageField(i, "pcir.imageLen")!;
    return setField(input, field, 0);
  })
    .tangle("vbios.never-last", (input) => {
      const done: string[] = [];
      for (const i of images) {
        for (const name of ["pcir.lastImage", "npde.privLastImage"]) {
          const field = imageField(i, name);
          if (field) done.push(setField(input, field, 0));
        }
        const code = imageField(i, "pcir.codeType")!;
        if (readUint(input.bytes, code.offset, 1) === BigInt(ROM_CODE_TYPE.nbsi)) {
          done.push(setField(input, code, 0xff));
        }
      }
      return done.join(", ");
    })
    .tangle("vbios.tiny-images", (input) => {
      const done: string[] = [];
      for (const i of images) {
        for (
          const [name, value] of [["pcir.imageLen", 1], ["npde.subimageLen", 1], [
            "pcir.lastImage",
            0,
          ]] as const
        ) {
          const field = imageField(i, name);
          if (field) done.push(setField(input, field, value));
        }
      }
      return done.join(", ");
    })
    .tangle("vbios.image-chain-repeats", (input, r) => {
      // The chain cannot point backwards, so the nearest thing to a loop is the
      // same small image over and over: the walk must stop at its image limit.
      const first = v.images[0];
      const block = input.bytes.slice(first.offset, first.offset + ROM_BLOCK_SIZE);
      const ptr = first.pciDataStructPtr;
      if (block.length < ROM_BLOCK_SIZE || ptr + PCIR_SIZE > ROM_BLOCK_SIZE) {
        return "skipped (PCIR beyond the first block)";
      }
      const pcir = (name: string) => ptr + fieldOffset(PCIR_LAYOUT, name);
      writeUint(block, pcir("imageLen"), 2, 1);
      writeUint(block, pcir("codeType"), 1, 0xff);
      writeUint(block, pcir("lastImage"), 1, 0);
      const npdeAt = Math.ceil((ptr + first.pcir.pciDataStructLen) / 16) * 16;
      if (npdeAt + NPDE_SIZE <= ROM_BLOCK_SIZE) writeUint(block, npdeAt, 4, 0);
      const copies = r.pick([33, 40, 64, 2048]);
      let k = 0;
      for (; k < copies && first.offset + (k + 1) * ROM_BLOCK_SIZE <= input.bytes.length; k++) {
        input.bytes.set(block, first.offset + k * ROM_BLOCK_SIZE);
      }
      return `${k} copies of a ${ROM_BLOCK_SIZE}-byte image from ${hx(first.offset)}`;
    })
    .tangle("vbios.pcir-pointer", (input, r) => {
      const i = r.pick(images);
      const size = v.images[i].size;
      return setField(
        input,
        imageField(i, "pciDataStructPtr")!,
        r.pick(big(0, ROM_HEADER_SIZE, 0xffff, size - PCIR_SIZE, size - PCIR_SIZE + 1, size - 1)),
      );
    });

  const bit = v.bit;
  const pcAt = v.pcAtImage;
  a.tangle("vbios.bit-decoys", (input, r) => {
    // Every BIT signature is a candidate whose header checksum gets summed: a
    // PC-AT image grown to the whole ROM and packed with decoys (the real BIT
    // overwritten) is the BIT search's worst case.
    const limit = Math.min(input.bytes.length, pcAt.offset + 0x100000);
    const blocks = Math.min(0xffff, Math.floor((limit - pcAt.offset) / ROM_BLOCK_SIZE));
    const grown = [
      setField(input, imageField(pcAt.index, "pcir.imageLen")!, blocks),
      setField(input, imageField(pcAt.index, "pcir.lastImage")!, 0x80),
    ];
    const npdeLength = imageField(pcAt.index, "npde.subimageLen");
    const npdeLast = imageField(pcAt.index, "npde.privLastImage");
    if (npdeLength && npdeLast) {
      grown.push(setField(input, npdeLength, blocks), setField(input, npdeLast, 0x80));
    }
    const spacing = r.pick([6, 6, 64, 4096]);
    const end = Math.min(input.bytes.length, pcAt.offset + blocks * ROM_BLOCK_SIZE) -
      BIT_HEADER_SIZE;
    let count = 0;
    for (let at = bit.offset; at <= end; at += spacing, count++) {
      input.bytes.set(BIT_PATTERN, at);
      for (const { name, offset, size } of BIT_HEADER_LAYOUT) {
        const value = DECOY_HEADER[name];
        if (value !== undefined && size !== 3) writeUint(input.bytes, at + offset, size, value);
      }
    }
    return `${grown.join(", ")}, ${count} BIT decoys every ${spacing} bytes from ${hx(bit.offset)}`;
  });
  a.struct("bit", bit.offset, BIT_HEADER_LAYOUT).mark(bit.offset, bit.offset + bit.headerSize)
    .point(
      bit.offset,
    );
  bit.tokens.forEach((_, i) =>
    a.struct(`bit.tokens[${i}]`, bit.offset + bit.headerSize + i * bit.tokenSize, BIT_TOKEN_LAYOUT)
  );
  const checksumAt = fieldOffset(BIT_HEADER_LAYOUT, "checksum");
  const fixBitChecksum = (bytes: Uint8Array): void => {
    const size = bytes[bit.offset + fieldOffset(BIT_HEADER_LAYOUT, "headerSize")];
    if (size === undefined || size < BIT_HEADER_SIZE || bit.offset + size > bytes.length) return;
    let sum = 0;
    for (let i = 0; i < size; i++) if (i !== checksumAt) sum += bytes[bit.offset + i];
    bytes[bit.offset + checksumAt] = (256 - (sum & 0xff)) & 0xff;
  };
  a.tangle("vbios.bit-header", (input, r) => {
    const [name, values] = r.pick(
      [
        ["tokenEntries", big(0, 255, bit.tokenEntries + 1)],
        ["tokenSize", big(0, 5, 6, 255)],
        ["headerSize", big(0, 11, 12, 255)],
      ] as const,
    );
    const text = setField(input, a.field(`bit.${name}`)!, r.pick(values));
    fixBitChecksum(input.bytes);
    return `${text} (checksum fixed)`;
  });
  if (bit.tokens.length > 0) {
    a.tangle("vbios.bit-token-pointer", (input, r) => {
      const i = r.below(bit.tokens.length);
      const relBit = bit.offset - pcAt.offset;
      return r.chance(0.7)
        ? setField(
          input,
          a.field(`bit.tokens[${i}].dataOffset`)!,
          r.pick(big(0, relBit, pcAt.size - 1, pcAt.size - 4, pcAt.size, 0xffff)),
        )
        : setField(input, a.field(`bit.tokens[${i}].dataSize`)!, r.pick(big(0, 3, 4, 0xffff)));
    });
  }
  const falconToken = bit.tokens.find((t) => t.id === BIT_TOKEN.falconData && t.dataVersion === 2);
  const section = v.fwsecSection;
  if (falconToken && section) {
    const falconAt = pcAt.offset + falconToken.dataOffset;
    a.words("bit.falconData", falconAt, ["falconUcodeTablePtr"]).point(falconAt);
    const toPointer = (absolute: number) => section.pcAtSize + absolute - section.offset;
    const sectionEnd = toPointer(section.offset + section.size);
    const pmu = v.pmuTable;
    a.setOneOf("vbios.falcon-pointer", [[
      a.field("bit.falconData.falconUcodeTablePtr"),
      big(
        0,
        section.pcAtSize - 1,
        section.pcAtSize,
        sectionEnd - 6,
        sectionEnd - 5,
        sectionEnd,
        toPointer(bit.offset),
        pmu ? toPointer(pmu.offset) + 1 : 0,
        0xffffffff,
      ),
    ]]);
    if (pmu) {
      a.struct("pmuTable", pmu.offset, PMU_TABLE_HEADER_LAYOUT).mark(pmu.offset).point(pmu.offset);
      pmu.entries.forEach((_, i) =>
        a.struct(
          `pmuTable.entries[${i}]`,
          pmu.offset + pmu.headerSize + i * pmu.entrySize,
          PMU_TABLE_ENTRY_LAYOUT,
        )
      );
      const entryChoices = pmu.entries.map((_, i) =>
        [
          a.field(`pmuTable.entries[${i}].descPtr`),
          big(
            toPointer(pmu.offset),
            0,
            section.pcAtSize - 1,
            sectionEnd - 4,
            sectionEnd,
            0xffffffff,
          ),
        ] as const
      );
      a.setOneOf("vbios.pmu-table", [
        [a.field("pmuTable.entryCount"), big(0, 255, pmu.entryCount + 1)],
        [a.field("pmuTable.entrySize"), big(0, 5, 6, 255)],
        [a.field("pmuTable.headerSize"), big(0, 5, 6, 255)],
        [a.field("pmuTable.version"), big(0, 2, 255)],
        ...entryChoices,
      ]);
      a.tangle(
        "vbios.no-fwsec-entry",
        (input) =>
          pmu.entries.map((_, i) =>
            setField(input, a.field(`pmuTable.entries[${i}].applicationId`)!, 0)
          )
            .join(", "),
      );
    }
  }
  if (v.fwsec) fwsecAnatomy(a, v.fwsec);
  return a.done();
}

/** FWSEC's anatomy, added to its VBIOS's. */
function fwsecAnatomy(a: AnatomyBuilder, fw: FwsecFirmware): void {
  const d = fw.descriptor;
  const at = fw.descriptorOffset;
  a.struct(
    "descriptor",
    at,
    d.descriptorVersion === 3 ? FALCON_UCODE_DESC_V3_LAYOUT : FALCON_UCODE_DESC_V2_LAYOUT,
  );
  a.mark(at, at + d.headerSize, fw.ucodeOffset + fw.ucode.length).point(at, fw.ucodeOffset);
  const dmemStart = fw.loadMap.dmem.srcStart;
  const dmemLength = fw.loadMap.dmem.length;
  const dmemAt = fw.ucodeOffset + dmemStart;
  const ifaceAt = dmemAt + fw.interface.dmemOffset;
  a.struct("appInterface", ifaceAt, APP_INTERFACE_HEADER_LAYOUT).mark(dmemAt, ifaceAt);
  fw.interface.entries.forEach((_, i) =>
    a.struct(
      `appInterface.entries[${i}]`,
      ifaceAt + fw.interface.headerSize + i * fw.interface.entrySize,
      APP_INTERFACE_ENTRY_LAYOUT,
    )
  );
  const f = (name: string) => a.field(name);
  const hdr = (version: number, headerSize: number) =>
    BigInt(((headerSize << 16) | (version << 8) | 1) >>> 0);
  a.setOneOf("fwsec.descriptor", [
    [f("descriptor.hdr"), [0, 4, 43, 44, 59, 60, 0xffff].map((s) => hdr(d.descriptorVersion, s))],
    [f("descriptor.hdr"), [1, 2, 3, 4, 0xff].map((ver) => hdr(ver, d.headerSize))],
    [f("descriptor.imemLoadSize"), big(0, 0xffffffff, 0x80000000, d.imemLoadSize + dmemLength + 1)],
    [f("descriptor.dmemLoadSize"), big(0, 0xffffffff, 0x80000000, dmemLength + 0x10000)],
    [f("descriptor.interfaceOffset"), big(dmemLength - 4, dmemLength - 3, dmemLength, 0xffffffff)],
    [f("descriptor.signatureCount"), big(0, 1, 255)],
    [f("descriptor.signatureVersions"), big(0, 0xffff, 0x8000)],
    [
      f("descriptor.pkcDataOffset"),
      big(dmemLength - 384, dmemLength - 383, dmemLength, 0xffffffff),
    ],
    [f("descriptor.imemSecBase"), big(0, 0xffffffff)],
    [f("descriptor.imemSecSize"), big(d.imemLoadSize + 1, 0xffffffff)],
    [f("descriptor.imemVirtBase"), big(0xffffffff, 0x100)],
    [f("descriptor.dmemOffset"), big(0, 0xffffffff, d.imemLoadSize + dmemLength)],
  ]);
  const entryChoices = fw.interface.entries.map((_, i) =>
    [
      f(`appInterface.entries[${i}].dmemBase`),
      big(dmemLength - 64, dmemLength - 63, dmemLength, fw.interface.dmemOffset, 0xffffffff),
    ] as const
  );
  a.setOneOf("fwsec.app-interface", [
    [f("appInterface.entryCount"), big(0, 255, fw.interface.entryCount + 1)],
    [f("appInterface.entrySize"), big(0, 7, 8, 255)],
    [f("appInterface.headerSize"), big(0, 3, 255)],
    [f("appInterface.version"), big(0, 2, 255)],
    ...entryChoices,
  ]);
  const mapper = fw.dmemMapper;
  if (!mapper) return;
  const mapperAt = fw.ucodeOffset + mapper.ucodeOffset;
  a.struct("dmemMapper", mapperAt, DMEM_MAPPER_LAYOUT).mark(mapperAt, mapperAt + DMEM_MAPPER_SIZE);
  a.setOneOf("fwsec.dmem-mapper", [
    [
      f("dmemMapper.cmdInBufferOffset"),
      big(dmemLength - 24, dmemLength - 44, dmemLength - 43, dmemLength, 0xffffffff),
    ],
    [f("dmemMapper.cmdInBufferSize"), big(0, 23, 24, 43, 44, 0xffffffff)],
  ]);
}
