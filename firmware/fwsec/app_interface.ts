/**
 * FWSEC's application interface table and its DMEM mapper: how the driver
 * tells FWSEC which command to run and with which arguments.
 *
 * The table sits in DMEM at the descriptor's `interfaceOffset`. Its entries
 * name interfaces by id; id 4 is the DMEM mapper, a 64-byte structure whose
 * `initCmd` selects the command (0x15 FRTS, 0x19 SB) and whose command-in
 * buffer receives the command's arguments. Layouts (NVIDIA
 * `kernel_gsp_frts_tu102.c`, `FALCON_APPLICATION_INTERFACE_*`; offsets
 * derived from the packed structs):
 *
 * | offset | header (V1) | | offset | entry (V1) |
 * |---|---|---|---|---|
 * | 0 | u8 version (1) | | 0 | u32 id |
 * | 1 | u8 header size | | 4 | u32 DMEM offset of the interface |
 * | 2 | u8 entry size | | | |
 * | 3 | u8 entry count | | | |
 *
 * | offset | DMEM mapper (V3) | | offset | DMEM mapper (V3) |
 * |---|---|---|---|---|
 * | 0x00 | u32 signature (`"DMAP"`) | | 0x20 | u32 printfBufferHdr |
 * | 0x04 | u16 version, u16 size | | 0x24 | u32 ucodeBuildTimeStamp |
 * | 0x08 | u32 cmdInBufferOffset | | 0x28 | u32 ucodeSignature |
 * | 0x0c | u32 cmdInBufferSize | | 0x2c | u32 initCmd |
 * | 0x10 | u32 cmdOutBufferOffset | | 0x30 | u32 ucodeFeature |
 * | 0x14 | u32 cmdOutBufferSize | | 0x34 | u32 ucodeCmdMask0 |
 * | 0x18 | u32 nvfImgDataBufferOffset | | 0x38 | u32 ucodeCmdMask1 |
 * | 0x1c | u32 nvfImgDataBufferSize | | 0x3c | u32 multiTgtTbl |
 *
 * Entries are read at `headerSize + i × entrySize` as the table says
 * (nova-core); NVIDIA's driver assumes 4 and 8, which every real table has.
 * DMEM offsets (`dmemBase`, `cmdInBufferOffset`) count from the start of DMEM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findDmemMapper, parseAppInterface } from "./app_interface.ts";
 * import { forgeFwsecDmem } from "../forge/vbios.ts";
 *
 * const { dmem, interfaceOffset, mapperOffset } = forgeFwsecDmem();
 * const iface = parseAppInterface(dmem, interfaceOffset);
 * assert(findDmemMapper(dmem, iface)?.dmemOffset === mapperOffset);
 * ```
 *
 * @module
 */

import { ByteReader, type ByteReaderOptions } from "../byte_reader.ts";
import { type FieldLayout, readFields } from "../field_layout.ts";

/** The one application interface header version there is. */
export const APP_INTERFACE_VERSION = 1;
/** Size of the V1 header; the table's `headerSize` may be larger. */
export const APP_INTERFACE_HEADER_SIZE = 4;
/** Size of a V1 entry; the table's `entrySize` may be larger. */
export const APP_INTERFACE_ENTRY_SIZE = 8;
/** Interface id of the DMEM mapper (`FALCON_APPLICATION_INTERFACE_ENTRY_ID_DMEMMAPPER`). */
export const APP_INTERFACE_ID_DMEM_MAPPER = 4;
/** Size of the DMEM mapper V3. */
export const DMEM_MAPPER_SIZE = 64;
/** `"DMAP"` read as a little-endian u32, the mapper's signature in real VBIOSes. */
export const DMEM_MAPPER_SIGNATURE = 0x50414d44;
/** Offset of `initCmd` in the DMEM mapper. */
export const DMEM_MAPPER_INIT_CMD_OFFSET = 0x2c;

/** One application interface entry. */
export interface AppInterfaceEntry {
  /** Interface id (4 = DMEM mapper). */
  id: number;
  /** DMEM offset of the interface's structure. */
  dmemBase: number;
}

/** The application interface table. */
export interface AppInterface {
  /** DMEM offset of the table (the descriptor's `interfaceOffset`). */
  dmemOffset: number;
  /** Header version (1). */
  version: number;
  /** Header size; entries start this far after the header. */
  headerSize: number;
  /** Entry size, the stride of the entry array. */
  entrySize: number;
  /** Number of entries. */
  entryCount: number;
  /** The entries, in table order. */
  entries: AppInterfaceEntry[];
}

/** The DMEM mapper V3. */
export interface DmemMapper {
  /** DMEM offset of the mapper. */
  dmemOffset: number;
  /** Signature (`"DMAP"` in real VBIOSes; not checked, as by NVIDIA and nova-core). */
  signature: number;
  /** Mapper version. */
  version: number;
  /** Mapper size. */
  size: number;
  /** DMEM offset of the command-in buffer. */
  cmdInBufferOffset: number;
  /** Size of the command-in buffer. */
  cmdInBufferSize: number;
  /** DMEM offset of the command-out buffer. */
  cmdOutBufferOffset: number;
  /** Size of the command-out buffer. */
  cmdOutBufferSize: number;
  /** DMEM offset of the NVF image data buffer. */
  nvfImgDataBufferOffset: number;
  /** Size of the NVF image data buffer. */
  nvfImgDataBufferSize: number;
  /** Printf buffer header. */
  printfBufferHdr: number;
  /** Ucode build time stamp. */
  ucodeBuildTimeStamp: number;
  /** Ucode signature. */
  ucodeSignature: number;
  /** The command FWSEC runs (0x15 FRTS, 0x19 SB). */
  initCmd: number;
  /** Ucode features. */
  ucodeFeature: number;
  /** Supported-command mask, low word. */
  ucodeCmdMask0: number;
  /** Supported-command mask, high word. */
  ucodeCmdMask1: number;
  /** Multi-target table. */
  multiTgtTbl: number;
}

/**
 * The application interface table header's fields (`FALCON_APPLICATION_INTERFACE_HEADER_V1`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { APP_INTERFACE_HEADER_LAYOUT, APP_INTERFACE_HEADER_SIZE } from "./app_interface.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(APP_INTERFACE_HEADER_LAYOUT) === APP_INTERFACE_HEADER_SIZE);
 * ```
 */
export const APP_INTERFACE_HEADER_LAYOUT: readonly FieldLayout<
  Exclude<keyof AppInterface, "dmemOffset" | "entries">
>[] = [
  { name: "version", offset: 0, size: 1 },
  { name: "headerSize", offset: 1, size: 1 },
  { name: "entrySize", offset: 2, size: 1 },
  { name: "entryCount", offset: 3, size: 1 },
];

/**
 * One application interface entry's fields (`FALCON_APPLICATION_INTERFACE_ENTRY_V1`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { APP_INTERFACE_ENTRY_LAYOUT, APP_INTERFACE_ENTRY_SIZE } from "./app_interface.ts";
 * import { layoutSize } from "../field_layout.ts";
 * assert(layoutSize(APP_INTERFACE_ENTRY_LAYOUT) === APP_INTERFACE_ENTRY_SIZE);
 * ```
 */
export const APP_INTERFACE_ENTRY_LAYOUT: readonly FieldLayout<keyof AppInterfaceEntry>[] = [
  { name: "id", offset: 0, size: 4 },
  { name: "dmemBase", offset: 4, size: 4 },
];

/**
 * The DMEM mapper's fields (`FALCON_APPLICATION_INTERFACE_DMEM_MAPPER_V3`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DMEM_MAPPER_INIT_CMD_OFFSET, DMEM_MAPPER_LAYOUT, DMEM_MAPPER_SIZE } from "./app_interface.ts";
 * import { fieldOffset, layoutSize } from "../field_layout.ts";
 * assert(layoutSize(DMEM_MAPPER_LAYOUT) === DMEM_MAPPER_SIZE);
 * assert(fieldOffset(DMEM_MAPPER_LAYOUT, "initCmd") === DMEM_MAPPER_INIT_CMD_OFFSET);
 * ```
 */
export const DMEM_MAPPER_LAYOUT: readonly FieldLayout<Exclude<keyof DmemMapper, "dmemOffset">>[] = [
  { name: "signature", offset: 0x00, size: 4 },
  { name: "version", offset: 0x04, size: 2 },
  { name: "size", offset: 0x06, size: 2 },
  { name: "cmdInBufferOffset", offset: 0x08, size: 4 },
  { name: "cmdInBufferSize", offset: 0x0c, size: 4 },
  { name: "cmdOutBufferOffset", offset: 0x10, size: 4 },
  { name: "cmdOutBufferSize", offset: 0x14, size: 4 },
  { name: "nvfImgDataBufferOffset", offset: 0x18, size: 4 },
  { name: "nvfImgDataBufferSize", offset: 0x1c, size: 4 },
  { name: "printfBufferHdr", offset: 0x20, size: 4 },
  { name: "ucodeBuildTimeStamp", offset: 0x24, size: 4 },
  { name: "ucodeSignature", offset: 0x28, size: 4 },
  { name: "initCmd", offset: DMEM_MAPPER_INIT_CMD_OFFSET, size: 4 },
  { name: "ucodeFeature", offset: 0x30, size: 4 },
  { name: "ucodeCmdMask0", offset: 0x34, size: 4 },
  { name: "ucodeCmdMask1", offset: 0x38, size: 4 },
  { name: "multiTgtTbl", offset: 0x3c, size: 4 },
];

/**
 * Parse the application interface table in DMEM.
 *
 * @param dmem The ucode's DMEM bytes.
 * @param interfaceOffset DMEM offset of the table (the descriptor's `interfaceOffset`).
 * @param options File name and DMEM's file offset, for errors.
 * @returns The table.
 * @throws {FirmwareFormatError} for a version other than 1, sizes smaller
 *   than V1's, or a table that runs past DMEM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAppInterface } from "./app_interface.ts";
 * import { forgeFwsecDmem } from "../forge/vbios.ts";
 *
 * const { dmem, interfaceOffset } = forgeFwsecDmem();
 * assert(parseAppInterface(dmem, interfaceOffset).entries.some((e) => e.id === 4));
 * ```
 */
export function parseAppInterface(
  dmem: Uint8Array,
  interfaceOffset: number,
  options: ByteReaderOptions = {},
): AppInterface {
  const r = new ByteReader(dmem, options);
  r.check(interfaceOffset, APP_INTERFACE_HEADER_SIZE, "appInterface.header");
  const table: AppInterface = {
    dmemOffset: interfaceOffset,
    ...readFields(r, interfaceOffset, APP_INTERFACE_HEADER_LAYOUT, "appInterface"),
    entries: [],
  };
  if (table.version !== APP_INTERFACE_VERSION) {
    r.fail(interfaceOffset, "appInterface.version", `version ${table.version} is not 1`);
  }
  if (table.headerSize < APP_INTERFACE_HEADER_SIZE) {
    r.fail(interfaceOffset + 1, "appInterface.headerSize", `${table.headerSize} is under 4`);
  }
  if (table.entrySize < APP_INTERFACE_ENTRY_SIZE) {
    r.fail(interfaceOffset + 2, "appInterface.entrySize", `${table.entrySize} is under 8`);
  }
  const entriesAt = interfaceOffset + table.headerSize;
  r.check(entriesAt, table.entryCount * table.entrySize, "appInterface.entries");
  for (let i = 0; i < table.entryCount; i++) {
    const at = entriesAt + i * table.entrySize;
    table.entries.push(
      readFields(r, at, APP_INTERFACE_ENTRY_LAYOUT, `appInterface.entries[${i}]`),
    );
  }
  return table;
}

/**
 * Parse the DMEM mapper at a DMEM offset.
 *
 * @param dmem The ucode's DMEM bytes.
 * @param dmemOffset DMEM offset of the mapper.
 * @param options File name and DMEM's file offset, for errors.
 * @returns The mapper.
 * @throws {FirmwareFormatError} when the 64 bytes run past DMEM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DMEM_MAPPER_SIGNATURE, parseDmemMapper } from "./app_interface.ts";
 * import { forgeFwsecDmem } from "../forge/vbios.ts";
 *
 * const { dmem, mapperOffset } = forgeFwsecDmem();
 * assert(parseDmemMapper(dmem, mapperOffset).signature === DMEM_MAPPER_SIGNATURE);
 * ```
 */
export function parseDmemMapper(
  dmem: Uint8Array,
  dmemOffset: number,
  options: ByteReaderOptions = {},
): DmemMapper {
  const r = new ByteReader(dmem, options);
  r.check(dmemOffset, DMEM_MAPPER_SIZE, "dmemMapper");
  return { dmemOffset, ...readFields(r, dmemOffset, DMEM_MAPPER_LAYOUT, "dmemMapper") };
}

/**
 * The DMEM mapper the table's first id-4 entry points at, or `null` when
 * the table has no such entry.
 *
 * @param dmem The ucode's DMEM bytes.
 * @param table The application interface table.
 * @param options File name and DMEM's file offset, for errors.
 * @returns The mapper or `null`.
 * @throws {FirmwareFormatError} when the mapper runs past DMEM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findDmemMapper, parseAppInterface } from "./app_interface.ts";
 * import { forgeFwsecDmem } from "../forge/vbios.ts";
 *
 * const { dmem, interfaceOffset } = forgeFwsecDmem({ dmemMapper: false });
 * assert(findDmemMapper(dmem, parseAppInterface(dmem, interfaceOffset)) === null);
 * ```
 */
export function findDmemMapper(
  dmem: Uint8Array,
  table: AppInterface,
  options: ByteReaderOptions = {},
): DmemMapper | null {
  const entry = table.entries.find((e) => e.id === APP_INTERFACE_ID_DMEM_MAPPER);
  return entry ? parseDmemMapper(dmem, entry.dmemBase, options) : null;
}
