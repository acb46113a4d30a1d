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
    version: r.u8(interfaceOffset, "appInterface.version"),
    headerSize: r.u8(interfaceOffset + 1, "appInterface.headerSize"),
    entrySize: r.u8(interfaceOffset + 2, "appInterface.entrySize"),
    entryCount: r.u8(interfaceOffset + 3, "appInterface.entryCount"),
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
    table.entries.push({
      id: r.u32(at, `appInterface.entries[${i}].id`),
      dmemBase: r.u32(at + 4, `appInterface.entries[${i}].dmemBase`),
    });
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
  const u32 = (at: number, field: string) => r.u32(dmemOffset + at, `dmemMapper.${field}`);
  return {
    dmemOffset,
    signature: u32(0x00, "signature"),
    version: r.u16(dmemOffset + 0x04, "dmemMapper.version"),
    size: r.u16(dmemOffset + 0x06, "dmemMapper.size"),
    cmdInBufferOffset: u32(0x08, "cmdInBufferOffset"),
    cmdInBufferSize: u32(0x0c, "cmdInBufferSize"),
    cmdOutBufferOffset: u32(0x10, "cmdOutBufferOffset"),
    cmdOutBufferSize: u32(0x14, "cmdOutBufferSize"),
    nvfImgDataBufferOffset: u32(0x18, "nvfImgDataBufferOffset"),
    nvfImgDataBufferSize: u32(0x1c, "nvfImgDataBufferSize"),
    printfBufferHdr: u32(0x20, "printfBufferHdr"),
    ucodeBuildTimeStamp: u32(0x24, "ucodeBuildTimeStamp"),
    ucodeSignature: u32(0x28, "ucodeSignature"),
    initCmd: u32(DMEM_MAPPER_INIT_CMD_OFFSET, "initCmd"),
    ucodeFeature: u32(0x30, "ucodeFeature"),
    ucodeCmdMask0: u32(0x34, "ucodeCmdMask0"),
    ucodeCmdMask1: u32(0x38, "ucodeCmdMask1"),
    multiTgtTbl: u32(0x3c, "multiTgtTbl"),
  };
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
