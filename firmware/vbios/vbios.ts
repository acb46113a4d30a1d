/**
 * Everything falconry reads from a VBIOS, in one call: the tables of
 * `vbios_layout.ts` and, when the VBIOS has one, FWSEC. Meant for inspection
 * (the CLI's `inspect`); a boot calls `extractFwsec` directly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVbios } from "./vbios.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const info = parseVbios(bufferSource(forgeVbios({ ifr: 2, descriptorVersion: 3 }).bytes));
 * assert(info.ifr?.version === 2 && info.fwsec?.descriptor.descriptorVersion === 3);
 * ```
 *
 * @module
 */

import type { ByteSource } from "../byte_source.ts";
import { extractFwsecFromLayout, type FwsecFirmware } from "../fwsec/extract.ts";
import { FALCON_UCODE_APPLICATION_ID } from "./pmu_table.ts";
import { readVbiosLayout, type VbiosLayout } from "./vbios_layout.ts";

/** A VBIOS's tables and, when present, its FWSEC. */
export interface VbiosInfo extends VbiosLayout {
  /**
   * FWSEC, when the VBIOS has FWSEC images and a PMU lookup table with a
   * production FWSEC entry (pre-Turing VBIOSes have none).
   */
  fwsec?: FwsecFirmware;
}

/**
 * Parse a VBIOS for inspection.
 *
 * @param source The VBIOS: a file, a buffer or a PROM window.
 * @returns The tables and FWSEC.
 * @throws {FirmwareFormatError} for a malformed table, or a malformed FWSEC
 *   when the PMU table has a FWSEC entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseVbios } from "./vbios.ts";
 * import { bufferSource } from "../byte_source.ts";
 * import { forgeVbios } from "../forge/vbios.ts";
 *
 * const info = parseVbios(bufferSource(forgeVbios({ version: { biosVersion: 0x90021700, biosOemVersion: 0x7b } }).bytes));
 * assert(info.version?.text === "90.02.17.00.7B" && info.images.length === 5);
 * ```
 */
export function parseVbios(source: ByteSource): VbiosInfo {
  const layout = readVbiosLayout(source);
  const hasFwsec = layout.fwsecSection !== undefined &&
    layout.pmuTable?.entries.some((e) =>
      e.applicationId === FALCON_UCODE_APPLICATION_ID.fwsecProd ||
      e.applicationId === FALCON_UCODE_APPLICATION_ID.firmwareSecLic
    );
  return hasFwsec ? { ...layout, fwsec: extractFwsecFromLayout(source, layout) } : layout;
}
