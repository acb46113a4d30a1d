import assert from "node:assert/strict";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { fwsecSection } from "../firmware/vbios/fwsec_section.ts";
import {
  FALCON_UCODE_APPLICATION_ID,
  findFwsecEntry,
  type PmuTable,
  readPmuTable,
} from "../firmware/vbios/pmu_table.ts";
import { walkRomImages } from "../firmware/vbios/rom_images.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat } from "./_assert.ts";

function tableOf(bytes: Uint8Array, pointer: number): PmuTable {
  const src = bufferSource(bytes);
  return readPmuTable(src, fwsecSection(walkRomImages(src, 0))!, pointer);
}

Deno.test("pmu table: the forged table", () => {
  const { bytes, layout } = forgeVbios();
  const table = tableOf(bytes, layout.falconUcodeTablePtr);
  assert.deepEqual(table, {
    offset: layout.pmuTableOffset,
    version: 1,
    headerSize: 6,
    entrySize: 6,
    entryCount: 4,
    descVersion: 1,
    descSize: 0x30,
    entries: [
      { applicationId: 0x01, targetId: 0x01, descPtr: 0x142e8 },
      { applicationId: 0x45, targetId: 0x07, descPtr: layout.descPtr },
      { applicationId: 0x85, targetId: 0x07, descPtr: layout.descPtr },
      { applicationId: 0x00, targetId: 0x00, descPtr: 0 },
    ],
  });
  assert.equal(findFwsecEntry(table), table.entries[2]);
  assert.equal(findFwsecEntry(table, { debug: true }), table.entries[1]);
});

Deno.test("pmu table: the licence id 0x05 is accepted in either mode, first in table order", () => {
  const { bytes, layout } = forgeVbios({ fwsecApplicationId: 0x05 });
  const table = tableOf(bytes, layout.falconUcodeTablePtr);
  assert.equal(findFwsecEntry(table).applicationId, FALCON_UCODE_APPLICATION_ID.firmwareSecLic);
  assert.equal(findFwsecEntry(table, { debug: true }).applicationId, 0x45);
});

Deno.test("pmu table: header and entry sizes come from the table", () => {
  const { bytes, layout } = forgeVbios();
  const at = layout.pmuTableOffset;
  const entries = bytes.slice(at + 6, at + 6 + 4 * 6);
  bytes[at + 1] = 8;
  bytes[at + 2] = 9;
  bytes.fill(0xee, at + 6, at + 8 + 4 * 9);
  for (let i = 0; i < 4; i++) bytes.set(entries.subarray(i * 6, i * 6 + 6), at + 8 + i * 9);
  const table = tableOf(bytes, layout.falconUcodeTablePtr);
  assert.equal(table.headerSize, 8);
  assert.equal(table.entrySize, 9);
  assert.deepEqual(table.entries.map((e) => e.applicationId), [0x01, 0x45, 0x85, 0x00]);
  assert.equal(findFwsecEntry(table).descPtr, layout.descPtr);
});

Deno.test("pmu table: bad version, header size, entry size", () => {
  for (
    const [byte, value, field] of [
      [0, 2, "pmuTable.version"],
      [1, 4, "pmuTable.headerSize"],
      [2, 5, "pmuTable.entrySize"],
    ] as const
  ) {
    const { bytes, layout } = forgeVbios();
    bytes[layout.pmuTableOffset + byte] = value;
    throwsFormat(
      () => tableOf(bytes, layout.falconUcodeTablePtr),
      field,
      layout.pmuTableOffset + byte,
    );
  }
});

Deno.test("pmu table: a huge count runs past the section and is an error", () => {
  const { bytes, layout } = forgeVbios();
  bytes[layout.pmuTableOffset + 2] = 255;
  bytes[layout.pmuTableOffset + 3] = 255;
  const src = countingSource(bufferSource(bytes));
  const section = fwsecSection(walkRomImages(bufferSource(bytes), 0))!;
  throwsFormat(
    () => readPmuTable(src, section, layout.falconUcodeTablePtr),
    "pmuTable.entries",
    layout.pmuTableOffset + 6,
  );
  assert.equal(src.bytesRead, 6, "the oversized entry array is never read");
});

Deno.test("pmu table: a pointer outside the section is an error", () => {
  const { bytes, layout } = forgeVbios();
  throwsFormat(() => tableOf(bytes, 0x10), "pmuTable.header");
  throwsFormat(() => tableOf(bytes, 0x7fffffff), "pmuTable.header");
  assert.ok(layout.falconUcodeTablePtr > 0x800);
});

Deno.test("pmu table: no FWSEC entry is an error", () => {
  const { bytes, layout } = forgeVbios({ fwsecApplicationId: 0x86 });
  const table = tableOf(bytes, layout.falconUcodeTablePtr);
  throwsFormat(() => findFwsecEntry(table), "pmuTable.entries", layout.pmuTableOffset);
});

realVbiosTest("pmu table: the real TU102 table", (bytes) => {
  const src = countingSource(bufferSource(bytes, "TU102.rom"));
  const section = fwsecSection(walkRomImages(bufferSource(bytes), 0x28600))!;
  const table = readPmuTable(src, section, 0xed24);
  assert.equal(table.offset, 0x48924);
  assert.deepEqual(
    [table.version, table.headerSize, table.entrySize, table.entryCount],
    [1, 6, 6, 16],
  );
  assert.deepEqual([table.descVersion, table.descSize], [1, 0x30]);
  assert.equal(src.bytesRead, 6 + 16 * 6);
  const used = table.entries.filter((e) => e.applicationId !== 0);
  assert.deepEqual(used, [
    { applicationId: 0x01, targetId: 0x01, descPtr: 0x142e8 },
    { applicationId: 0x08, targetId: 0x01, descPtr: 0x3a0e0 },
    { applicationId: 0x45, targetId: 0x07, descPtr: 0x23fd8 },
    { applicationId: 0x85, targetId: 0x07, descPtr: 0x2da24 },
    { applicationId: 0x89, targetId: 0x05, descPtr: 0x37470 },
    { applicationId: 0x83, targetId: 0x01, descPtr: 0x22208 },
    { applicationId: 0x82, targetId: 0x01, descPtr: 0x1fb58 },
  ]);
  assert.equal(findFwsecEntry(table).descPtr, 0x2da24);
  assert.equal(findFwsecEntry(table, { debug: true }).descPtr, 0x23fd8);
});
