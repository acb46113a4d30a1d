/**
 * The PMU lookup table (NVIDIA: falcon ucode table) in the FWSEC section: a
 * list of falcon ucodes in the VBIOS, each with an application id and a
 * pointer to its ucode descriptor. The falcon-data BIT token points at it.
 *
 * Layout (NVIDIA `kernel_gsp_fwsec.c` `FALCON_UCODE_TABLE_HDR_V1` and
 * `FALCON_UCODE_TABLE_ENTRY_V1`):
 *
 * | offset | header field | | offset | entry field |
 * |---|---|---|---|---|
 * | 0 | u8 version (1) | | 0 | u8 application id |
 * | 1 | u8 header size (≥ 6) | | 1 | u8 target id |
 * | 2 | u8 entry size (≥ 6) | | 2 | u32 descriptor pointer |
 * | 3 | u8 entry count | | | |
 * | 4 | u8 descriptor version | | | |
 * | 5 | u8 descriptor size | | | |
 *
 * Entries start `headerSize` bytes after the header, `entrySize` bytes apart;
 * both sizes come from the table, never from the struct sizes. Descriptor
 * pointers count like the falcon-data pointer (see `fwsec_section.ts`).
 * Application ids: 0x85 FWSEC production, 0x45 FWSEC debug, 0x05 FWSEC
 * licence (`FIRMWARE_SEC_LIC`), which NVIDIA accepts in either mode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findFwsecEntry, readPmuTable } from "./pmu_table.ts";
 * import { fwsecSection } from "./fwsec_section.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout } = forgeVbios();
 * const src = bufferSource(bytes);
 * const table = readPmuTable(src, fwsecSection(walkRomImages(src, 0))!, layout.falconUcodeTablePtr);
 * assert(findFwsecEntry(table).applicationId === 0x85);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../../errors.ts";
import { hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";
import { type FieldLayout, readFields } from "../field_layout.ts";
import { type FwsecSection, readFwsec } from "./fwsec_section.ts";

/** Size of the version-1 header; the table's `headerSize` may be larger. */
export const PMU_TABLE_HEADER_SIZE = 6;
/** Size of a version-1 entry; the table's `entrySize` may be larger. */
export const PMU_TABLE_ENTRY_SIZE = 6;
/** The one table version there is. */
export const PMU_TABLE_VERSION = 1;

/** Application ids of the entries FWSEC extraction looks for. */
export const FALCON_UCODE_APPLICATION_ID = {
  /** `FALCON_UCODE_ENTRY_APPID_FIRMWARE_SEC_LIC`: accepted in production and debug mode. */
  firmwareSecLic: 0x05,
  /** `FALCON_UCODE_ENTRY_APPID_FWSEC_DBG`: for chips in debug mode. */
  fwsecDbg: 0x45,
  /** `FALCON_UCODE_ENTRY_APPID_FWSEC_PROD`: production FWSEC. */
  fwsecProd: 0x85,
} as const;

/** One table entry. */
export interface PmuTableEntry {
  /** Application id (see {@linkcode FALCON_UCODE_APPLICATION_ID}). */
  applicationId: number;
  /** Target (falcon) id. */
  targetId: number;
  /** Pointer to the ucode descriptor. */
  descPtr: number;
}

/** The table header and its entries. */
export interface PmuTable {
  /** Absolute offset of the header. */
  offset: number;
  /** Table version (1). */
  version: number;
  /** Header size; entries start this far after the header. */
  headerSize: number;
  /** Entry size, the stride of the entry array. */
  entrySize: number;
  /** Number of entries. */
  entryCount: number;
  /** Descriptor version byte of the header. */
  descVersion: number;
  /** Descriptor size byte of the header. */
  descSize: number;
  /** The entries, in table order. */
  entries: PmuTableEntry[];
}

/**
 * The PMU lookup table header's fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PMU_TABLE_HEADER_LAYOUT, PMU_TABLE_HEADER_SIZE } from "./pmu_table.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(PMU_TABLE_HEADER_LAYOUT) === PMU_TABLE_HEADER_SIZE);
 * ```
 */
export const PMU_TABLE_HEADER_LAYOUT: readonly FieldLayout<
  Exclude<keyof PmuTable, "offset" | "entries">
>[] = [
  { name: "version", offset: 0, size: 1 },
  { name: "headerSize", offset: 1, size: 1 },
  { name: "entrySize", offset: 2, size: 1 },
  { name: "entryCount", offset: 3, size: 1 },
  { name: "descVersion", offset: 4, size: 1 },
  { name: "descSize", offset: 5, size: 1 },
];

/**
 * One PMU lookup table entry's fields (packed; entries are `entrySize` apart).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PMU_TABLE_ENTRY_LAYOUT, PMU_TABLE_ENTRY_SIZE } from "./pmu_table.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(PMU_TABLE_ENTRY_LAYOUT) === PMU_TABLE_ENTRY_SIZE);
 * ```
 */
export const PMU_TABLE_ENTRY_LAYOUT: readonly FieldLayout<keyof PmuTableEntry>[] = [
  { name: "applicationId", offset: 0, size: 1 },
  { name: "targetId", offset: 1, size: 1 },
  { name: "descPtr", offset: 2, size: 4 },
];

/** Options for {@linkcode findFwsecEntry}. */
export interface FindFwsecEntryOptions {
  /** Look for the debug FWSEC (0x45) instead of production (0x85). */
  debug?: boolean;
}

/**
 * Read the table at a falcon-data pointer: the header, then every entry in
 * one read.
 *
 * @param source The VBIOS.
 * @param section The FWSEC section the pointer indexes.
 * @param pointer The falcon-data token's `FalconUcodeTablePtr`.
 * @returns The table.
 * @throws {FirmwareFormatError} for a version other than 1, header or entry
 *   sizes under 6, or a table that runs past the FWSEC section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPmuTable } from "./pmu_table.ts";
 * import { fwsecSection } from "./fwsec_section.ts";
 * import { walkRomImages } from "./rom_images.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout } = forgeVbios();
 * const src = bufferSource(bytes);
 * const table = readPmuTable(src, fwsecSection(walkRomImages(src, 0))!, layout.falconUcodeTablePtr);
 * assert(table.offset === layout.pmuTableOffset && table.entries.length === table.entryCount);
 * ```
 */
export function readPmuTable(
  source: ByteSource,
  section: FwsecSection,
  pointer: number,
): PmuTable {
  const h = readFwsec(source, section, pointer, PMU_TABLE_HEADER_SIZE, "pmuTable.header");
  const table: PmuTable = {
    offset: h.base,
    ...readFields(h, 0, PMU_TABLE_HEADER_LAYOUT, "pmuTable"),
    entries: [],
  };
  if (table.version !== PMU_TABLE_VERSION) {
    h.fail(0, "pmuTable.version", `version ${table.version} is not ${PMU_TABLE_VERSION}`);
  }
  if (table.headerSize < PMU_TABLE_HEADER_SIZE) {
    h.fail(1, "pmuTable.headerSize", `header size ${table.headerSize} is under 6`);
  }
  if (table.entrySize < PMU_TABLE_ENTRY_SIZE) {
    h.fail(2, "pmuTable.entrySize", `entry size ${table.entrySize} is under 6`);
  }
  const r = readFwsec(
    source,
    section,
    pointer + table.headerSize,
    table.entryCount * table.entrySize,
    "pmuTable.entries",
  );
  for (let i = 0; i < table.entryCount; i++) {
    table.entries.push(
      readFields(r, i * table.entrySize, PMU_TABLE_ENTRY_LAYOUT, `pmuTable.entries[${i}]`),
    );
  }
  return table;
}

/**
 * The entry of the FWSEC ucode: the first entry whose application id is
 * 0x85 (or 0x45 in debug mode) or 0x05, in table order, as NVIDIA picks it.
 *
 * @param table The PMU lookup table.
 * @param options Production (default) or debug.
 * @returns The entry.
 * @throws {FirmwareFormatError} with field `pmuTable.entries` when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findFwsecEntry } from "./pmu_table.ts";
 * const table = { offset: 0, version: 1, headerSize: 6, entrySize: 6, entryCount: 2, descVersion: 1, descSize: 48,
 *   entries: [{ applicationId: 0x45, targetId: 7, descPtr: 0x100 }, { applicationId: 0x85, targetId: 7, descPtr: 0x200 }] };
 * assert(findFwsecEntry(table).descPtr === 0x200);
 * assert(findFwsecEntry(table, { debug: true }).descPtr === 0x100);
 * ```
 */
export function findFwsecEntry(
  table: PmuTable,
  options: FindFwsecEntryOptions = {},
): PmuTableEntry {
  const wanted = options.debug
    ? FALCON_UCODE_APPLICATION_ID.fwsecDbg
    : FALCON_UCODE_APPLICATION_ID.fwsecProd;
  const entry = table.entries.find((e) =>
    e.applicationId === wanted || e.applicationId === FALCON_UCODE_APPLICATION_ID.firmwareSecLic
  );
  if (!entry) {
    throw new FirmwareFormatError({
      offset: table.offset,
      field: "pmuTable.entries",
      reason: `none of the ${table.entryCount} entries has application id 0x${hex(wanted)} ` +
        `or 0x05 (FWSEC)`,
    });
  }
  return entry;
}
