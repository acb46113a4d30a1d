/**
 * Extract FWSEC from a VBIOS: follow the ROM images, the BIT and the PMU
 * lookup table to the FWSEC ucode descriptor, then read the descriptor (with
 * its signatures) and the ucode, and find the application interface and the
 * DMEM mapper in the ucode's data.
 *
 * Everything is read through a {@linkcode ByteSource}, and only what the
 * boot needs: for the real TU102 VBIOS about 40 KB of its 1 MB, almost all of
 * it the ucode itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const { bytes, layout } = forgeVbios({ descriptorVersion: 3 });
 * const fwsec = extractFwsec(bufferSource(bytes));
 * assert(fwsec.descriptor.descriptorVersion === 3);
 * assert(fwsec.dmemMapper?.ucodeOffset === layout.mapperUcodeOffset);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FirmwareFormatError } from "../../errors.ts";
import { hex } from "../byte_reader.ts";
import type { ByteSource } from "../byte_source.ts";
import type { FalconLoadMap } from "../falcon_load.ts";
import { readFwsec } from "../vbios/fwsec_section.ts";
import { findFwsecEntry, type PmuTableEntry } from "../vbios/pmu_table.ts";
import { readVbiosLayout, type VbiosLayout } from "../vbios/vbios_layout.ts";
import {
  type AppInterface,
  type DmemMapper,
  findDmemMapper,
  parseAppInterface,
} from "./app_interface.ts";
import {
  type FalconUcodeDesc,
  fwsecLoadMap,
  fwsecUcodeLength,
  parseFalconUcodeDesc,
  parseFalconUcodeDescHeader,
} from "./descriptor.ts";

const logger = getLogger(["falconry", "firmware", "fwsec"]);

/** The DMEM mapper with its place in the ucode. */
export interface FwsecDmemMapper extends DmemMapper {
  /** Ucode offset of the mapper: DMEM's ucode offset plus `dmemOffset`. */
  ucodeOffset: number;
}

/** FWSEC as extracted from a VBIOS. Offsets named `…Offset` without a prefix are absolute. */
export interface FwsecFirmware {
  /** The VBIOS version (`90.02.17.00.7B`), when the BIT has one. */
  vbiosVersion?: string;
  /** Offset of the FWSEC section (the first FWSEC image). */
  fwsecOffset: number;
  /** The PMU lookup table entry that pointed at the descriptor. */
  pmuEntry: PmuTableEntry;
  /** Offset of the descriptor. */
  descriptorOffset: number;
  /** The descriptor. */
  descriptor: FalconUcodeDesc;
  /** Version 3: the signatures, 384 bytes each. Version 2: none. */
  signatures: Uint8Array[];
  /** Offset of the ucode (descriptor offset + header size). */
  ucodeOffset: number;
  /** The ucode: code then data, `imemLoadSize + dmemLoadSize` bytes. Never patched in place. */
  ucode: Uint8Array;
  /** Where the ucode goes in IMEM and DMEM, and the boot address. */
  loadMap: FalconLoadMap;
  /** The application interface table in DMEM. */
  interface: AppInterface;
  /** The DMEM mapper, or `null` when the table has none (FWSEC cannot be commanded then). */
  dmemMapper: FwsecDmemMapper | null;
}

/** Options for {@linkcode extractFwsec}. */
export interface ExtractFwsecOptions {
  /** Take the debug FWSEC (application id 0x45) instead of production (0x85). */
  debug?: boolean;
}

/**
 * Extract FWSEC from a VBIOS.
 *
 * @param source The VBIOS: a file, a buffer or a PROM window.
 * @param options Production (default) or debug FWSEC.
 * @returns The descriptor, signatures, ucode, load map, interface table and mapper.
 * @throws {FirmwareFormatError} for any malformed table on the way, a VBIOS
 *   without FWSEC images or falcon-data token, or no FWSEC entry in the PMU table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { extractFwsec } from "./extract.ts";
 * import { bufferSource, countingSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const src = countingSource(bufferSource(forgeVbios({ ifr: 3 }).bytes));
 * const fwsec = extractFwsec(src);
 * assert(src.bytesRead < fwsec.ucode.length + 2048);
 * ```
 */
export function extractFwsec(
  source: ByteSource,
  options: ExtractFwsecOptions = {},
): FwsecFirmware {
  return extractFwsecFromLayout(source, readVbiosLayout(source), options);
}

/**
 * Extract FWSEC once the VBIOS tables have been read (see `readVbiosLayout`).
 *
 * @param source The VBIOS the layout was read from.
 * @param layout Its tables.
 * @param options Production (default) or debug FWSEC.
 * @returns As {@linkcode extractFwsec}.
 * @throws {FirmwareFormatError} as {@linkcode extractFwsec} does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { extractFwsecFromLayout } from "./extract.ts";
 * import { readVbiosLayout } from "../vbios/vbios_layout.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const src = bufferSource(forgeVbios().bytes);
 * const layout = readVbiosLayout(src);
 * assert(extractFwsecFromLayout(src, layout).fwsecOffset === layout.fwsecSection?.offset);
 * ```
 */
export function extractFwsecFromLayout(
  source: ByteSource,
  layout: VbiosLayout,
  options: ExtractFwsecOptions = {},
): FwsecFirmware {
  const section = layout.fwsecSection;
  if (!section) {
    throw new FirmwareFormatError({
      file: source.name,
      offset: layout.romOffset,
      field: "romImage.codeType",
      reason: "the image chain has no FWSEC image (code type 0xe0) after the PC-AT image",
    });
  }
  if (!layout.pmuTable) {
    throw new FirmwareFormatError({
      file: source.name,
      offset: layout.bit.offset,
      field: "bit.falconData",
      reason: "the BIT has no falcon-data token (0x70) pointing at the PMU lookup table",
    });
  }
  let pmuEntry: PmuTableEntry;
  try {
    pmuEntry = findFwsecEntry(layout.pmuTable, options);
  } catch (e) {
    throw e instanceof FirmwareFormatError && source.name ? e.withFile(source.name) : e;
  }
  const file = source.name;
  const ptr = pmuEntry.descPtr;
  const hdr = readFwsec(source, section, ptr, 4, "descriptor.hdr").u32(0, "descriptor.hdr");
  const { headerSize } = parseFalconUcodeDescHeader(hdr);
  const head = readFwsec(source, section, ptr, Math.max(4, headerSize), "descriptor");
  const descriptorOffset = head.base;
  const { descriptor, signatures } = parseFalconUcodeDesc(head.bytes, {
    file,
    base: descriptorOffset,
  });
  const loadMap = fwsecLoadMap(descriptor, { file, base: descriptorOffset });
  const ucodeLength = fwsecUcodeLength(descriptor);
  const body = readFwsec(source, section, ptr + headerSize, ucodeLength, "ucode");
  const ucode = body.bytes;
  const ucodeOffset = body.base;
  const { dmem: dmemSegment } = loadMap;
  const dmem = ucode.subarray(dmemSegment.srcStart, dmemSegment.srcStart + dmemSegment.length);
  const dmemOptions = { file, base: ucodeOffset + dmemSegment.srcStart };
  const iface = parseAppInterface(dmem, descriptor.interfaceOffset, dmemOptions);
  const mapper = findDmemMapper(dmem, iface, dmemOptions);
  logger.debug(
    "FWSEC descriptor v{version} at 0x{at}: 0x{imem} code + 0x{dmem} data bytes, mapper {mapper}",
    {
      version: descriptor.descriptorVersion,
      at: hex(descriptorOffset),
      imem: hex(descriptor.imemLoadSize),
      dmem: hex(descriptor.dmemLoadSize),
      mapper: mapper ? `at DMEM 0x${hex(mapper.dmemOffset)}` : "(none)",
    },
  );
  return {
    vbiosVersion: layout.version?.text,
    fwsecOffset: section.offset,
    pmuEntry,
    descriptorOffset,
    descriptor,
    signatures,
    ucodeOffset,
    ucode,
    loadMap,
    interface: iface,
    dmemMapper: mapper
      ? { ...mapper, ucodeOffset: dmemSegment.srcStart + mapper.dmemOffset }
      : null,
  };
}
