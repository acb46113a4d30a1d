// The layout tables the parsers read through (firmware/field_layout.ts and every exported
// *_LAYOUT): well-formed, and agreeing with the forge, which describes the same formats on its
// own as a cross-check.

import assert from "node:assert/strict";
import * as firmware from "../firmware/mod.ts";
import {
  bufferSource,
  ByteReader,
  extractFwsec,
  FALCON_UCODE_DESC_V2_LAYOUT,
  FALCON_UCODE_DESC_V3_LAYOUT,
  type FieldLayout,
  fieldOffset,
  layoutSize,
  parseVbios,
  PCIR_LAYOUT,
  readFields,
} from "../firmware/mod.ts";
import { forgeFalconUcodeDesc, forgeVbios } from "../firmware/forge/mod.ts";

/** Every exported layout table, by export name (ELF's per class). */
function exportedLayouts(): [string, readonly FieldLayout[]][] {
  const out: [string, readonly FieldLayout[]][] = [];
  for (const [name, value] of Object.entries(firmware)) {
    if (!name.endsWith("_LAYOUT")) continue;
    if (Array.isArray(value)) out.push([name, value]);
    else for (const [cls, layout] of Object.entries(value)) out.push([`${name}[${cls}]`, layout]);
  }
  return out;
}

Deno.test("field layouts: every exported table is sorted, unique and non-overlapping", () => {
  const layouts = exportedLayouts();
  assert.ok(layouts.length >= 18, `only ${layouts.length} layouts exported`);
  for (const [name, layout] of layouts) {
    assert.ok(layout.length > 0, name);
    assert.equal(new Set(layout.map((f) => f.name)).size, layout.length, `${name}: unique names`);
    layout.forEach((f, i) => {
      assert.ok([1, 2, 3, 4, 8].includes(f.size), `${name}.${f.name}: size ${f.size}`);
      if (i > 0) {
        const before = layout[i - 1];
        assert.ok(
          before.offset + before.size <= f.offset,
          `${name}: ${before.name} overlaps ${f.name}`,
        );
      }
    });
  }
});

Deno.test("field layouts: readFields reads every width little-endian and names its errors", () => {
  // u64 fields must fit 2^53 (they are offsets and sizes): the top three bytes are zero.
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => (i < 13 ? i + 1 : 0));
  const r = new ByteReader(bytes, { base: 0x100 });
  const layout = [
    { name: "a", offset: 0, size: 1 },
    { name: "b", offset: 1, size: 2 },
    { name: "c", offset: 3, size: 3 },
    { name: "d", offset: 6, size: 4 },
    { name: "e", offset: 8, size: 8 },
  ] as const satisfies readonly FieldLayout[];
  assert.deepEqual(readFields(r, 0, layout, "x"), {
    a: 0x01,
    b: 0x0302,
    c: 0x060504,
    d: 0x0a090807,
    e: 0x0d0c0b0a09,
  });
  assert.throws(
    () => readFields(r, 4, layout, "hdr"),
    (e: unknown) =>
      e instanceof firmware.FirmwareFormatError && e.field === "hdr.e" && e.offset === 0x10c,
  );
  assert.equal(fieldOffset(layout, "d"), 6);
  assert.throws(() => fieldOffset(layout as readonly FieldLayout[], "zz"), RangeError);
  assert.equal(layoutSize(layout), 16);
  assert.equal(layoutSize([]), 0);
});

Deno.test("field layouts: the FWSEC descriptor tables read what the forge wrote", () => {
  for (
    const [version, layout] of [[2, FALCON_UCODE_DESC_V2_LAYOUT], [
      3,
      FALCON_UCODE_DESC_V3_LAYOUT,
    ]] as const
  ) {
    const bytes = forgeFalconUcodeDesc({ descriptorVersion: version });
    const { descriptor } = firmware.parseFalconUcodeDesc(bytes);
    const fields = readFields(new ByteReader(bytes), 0, layout as readonly FieldLayout[], "d");
    for (const [name, value] of Object.entries(fields)) {
      assert.equal(
        value,
        (descriptor as unknown as Record<string, number>)[name],
        `v${version} ${name}`,
      );
    }
  }
  // The forge's own description of v3 puts signatureVersions where the parser's table says.
  const { bytes } = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b1010_0101 });
  const fwsec = extractFwsec(bufferSource(bytes));
  const at = fwsec.descriptorOffset + fieldOffset(FALCON_UCODE_DESC_V3_LAYOUT, "signatureVersions");
  assert.equal(bytes[at] | bytes[at + 1] << 8, 0b1010_0101);
});

Deno.test("field layouts: the PCIR table reads every forged image", () => {
  const { bytes } = forgeVbios({ ifr: 2 });
  const v = parseVbios(bufferSource(bytes));
  for (const image of v.images) {
    const at = image.offset + image.pciDataStructPtr;
    const fields = readFields(new ByteReader(bytes), at, PCIR_LAYOUT.slice(1), "pcir");
    assert.equal(fields.imageLen, image.pcir.imageLen);
    assert.equal(fields.codeType, image.pcir.codeType);
    assert.equal(fields.classCode, image.pcir.classCode);
  }
});
