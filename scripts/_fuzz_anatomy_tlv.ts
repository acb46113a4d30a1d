/**
 * Anatomy of the 2026 NVFW TLV container: block tags and lengths, and
 * tangles that push lengths past the end, misalign them or rename tags.
 *
 * @module
 */

import { layoutSize, parseTlv, type Tlv, TLV_BLOCK_LAYOUT, TLV_MAGIC } from "../firmware/mod.ts";
import {
  AnatomyBuilder,
  big,
  type FieldSpot,
  hx,
  type SeedAnatomy,
  setField,
  writeUint,
} from "./_fuzz_anatomy.ts";
import type { FuzzRandom } from "./_fuzz_random.ts";

/** A TLV container's anatomy. */
export function tlvAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  let tlv: Tlv;
  try {
    tlv = parseTlv(bytes);
  } catch {
    return a.done();
  }
  const n = bytes.length;
  const magicSize = TLV_MAGIC.length;
  const headerSize = layoutSize(TLV_BLOCK_LAYOUT);
  a.words("tlv", 0, ["magic"]).mark(magicSize, n).point(magicSize);
  tlv.blocks.forEach((block, i) => {
    const at = block.offset;
    const valueAt = at + headerSize;
    a.struct(`block[${i}](${block.tag})`, at, TLV_BLOCK_LAYOUT)
      .mark(
        at,
        at + 4,
        valueAt,
        valueAt + block.value.length,
        valueAt + Math.ceil(block.value.length / 4) * 4,
      )
      .point(at, valueAt);
  });
  if (tlv.blocks.length === 0) return a.done();
  const lengthOf = (i: number) => a.field(`block[${i}](${tlv.blocks[i].tag}).length`)!;
  const tagOf = (i: number) => a.field(`block[${i}](${tlv.blocks[i].tag}).tag`)!;
  const ascii = (text: string) =>
    BigInt(text.charCodeAt(0) | text.charCodeAt(1) << 8 | text.charCodeAt(2) << 16) +
    (BigInt(text.charCodeAt(3)) << 24n);
  const blockIndex = (r: FuzzRandom) => r.below(tlv.blocks.length);
  a.tangle("tlv.length-past-end", (input, r) => {
    const i = blockIndex(r);
    const valueAt = tlv.blocks[i].offset + headerSize;
    return setField(input, lengthOf(i), input.bytes.length - valueAt + 1 + r.below(8));
  })
    .tangle("tlv.length-huge", (input, r) =>
      setField(
        input,
        lengthOf(blockIndex(r)),
        r.pick(big(0xffffffff, 0xfffffffd, 0xfffffffc, 0x80000000, 0x7fffffff)),
      ))
    .tangle("tlv.length-unaligned", (input, r) => {
      const i = blockIndex(r);
      const delta = r.pick([-3, -2, -1, 1, 2, 3]);
      return setField(input, lengthOf(i), Math.max(0, tlv.blocks[i].value.length + delta));
    })
    .tangle("tlv.rename-tag", (input, r) => {
      const i = blockIndex(r);
      const other = tlv.blocks[blockIndex(r)].tag.padEnd(4, " ");
      return setField(input, tagOf(i), ascii(r.pick(["VERX", other, "\0\0\0\0", "    ", "VERS"])));
    })
    .tangle("tlv.non-ascii-tag", (input, r) => {
      const i = blockIndex(r);
      const at = tlv.blocks[i].offset + r.below(4);
      if (at < input.bytes.length) input.bytes[at] |= 0x80;
      return `tag byte ${hx(at)} |= 0x80`;
    })
    .tangle("tlv.value-not-printable", (input, r) => {
      const block = r.pick(tlv.blocks);
      if (block.value.length === 0) return `${block.tag} has no value`;
      const at = block.offset + headerSize + r.below(block.value.length);
      return `${block.tag} ${writeUint(input.bytes, at, 1, r.pick([0, 0x1f, 0x7f, 0x80, 0xff]))}`;
    })
    .tangle("tlv.u32-width", (input, r) => {
      const words = tlv.blocks.map((b, i) => [b, i] as const).filter(([b]) => b.value.length === 4);
      if (words.length === 0) return "no 4-byte block";
      return setField(input, lengthOf(r.pick(words)[1]), r.pick(big(0, 3, 5, 8)));
    });
  const nsig = tlv.blocks.findIndex((b) => b.tag === "NSIG" && b.value.length === 4);
  const sign = tlv.blocks.find((b) => b.tag === "SIGN");
  if (nsig >= 0 && sign) {
    const valueField: FieldSpot = {
      name: "NSIG.value",
      offset: tlv.blocks[nsig].offset + headerSize,
      width: 4,
    };
    const len = sign.value.length;
    a.setOneOf("tlv.signature-count", [[valueField, big(0, 1, 2, 3, 7, len, len + 1, 0xffffffff)]]);
  }
  return a.done();
}
