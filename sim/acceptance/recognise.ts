/**
 * The HS images a simulated falcon knows, recognised by parsing their files
 * with `firmware/`'s parsers (the only firmware code the acceptance rules
 * use), and the lookup that tells which of them a falcon holds.
 *
 * A falcon model registers its candidates once (the chip's `booter_load`
 * and `booter_unload`, the FWSEC inside its own PROM) and, when the CPU
 * starts, asks {@linkcode identifyLoadedImage} which one its IMEM holds: the
 * candidate whose secure code's first 256-byte block is in some IMEM block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recogniseBooter } from "./recognise.ts";
 * import { forgeBooter } from "../../firmware/forge/mod.ts";
 * const fw = recogniseBooter(forgeBooter(), "booter_load-570.144.bin");
 * assert(fw.kind === "booter" && fw.name === "booter_load-570.144.bin");
 * ```
 *
 * @module
 */

import {
  type BooterFirmware,
  type ByteSource,
  extractFwsec,
  type FwsecFirmware,
  parseBooter,
} from "../../firmware/mod.ts";
import { firstDifference } from "./_util.ts";

/** An HS image the simulator can check, with the parsed file it came from. */
export type HsFirmware =
  | { kind: "booter"; name: string; booter: BooterFirmware }
  | { kind: "fwsec"; name: string; fwsec: FwsecFirmware };

/**
 * Recognise a Booter load/unload (or scrubber) file.
 *
 * @param bytes The file.
 * @param name Its name, for verdicts.
 * @returns The parsed file.
 * @throws {FirmwareFormatError} when it is not a Booter file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recogniseBooter } from "./recognise.ts";
 * import { forgeBooter } from "../../firmware/forge/mod.ts";
 * assert.equal(recogniseBooter(forgeBooter({ ucodeId: 3 }), "b").kind, "booter");
 * ```
 */
export function recogniseBooter(bytes: Uint8Array, name: string): HsFirmware {
  return { kind: "booter", name, booter: parseBooter(bytes, name) };
}

/**
 * Recognise the production FWSEC inside a VBIOS.
 *
 * @param vbios The VBIOS (a PROM window, a file's bytes wrapped in `bufferSource`).
 * @param name A name for verdicts (default `"FWSEC"`).
 * @returns The extracted FWSEC.
 * @throws {FirmwareFormatError} when the VBIOS has no usable FWSEC.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recogniseFwsec } from "./recognise.ts";
 * import { bufferSource } from "../../firmware/mod.ts";
 * import { forgeVbios } from "../../firmware/forge/mod.ts";
 * const fw = recogniseFwsec(bufferSource(forgeVbios({ descriptorVersion: 3 }).bytes));
 * assert(fw.kind === "fwsec" && fw.fwsec.descriptor.descriptorVersion === 3);
 * ```
 */
export function recogniseFwsec(vbios: ByteSource, name = "FWSEC"): HsFirmware {
  return { kind: "fwsec", name, fwsec: extractFwsec(vbios) };
}

/**
 * The first 256-byte block of an HS image's secure code (what the boot ROM verifies).
 *
 * @param firmware A recognised image.
 * @returns Up to 256 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recogniseBooter, secureCodeHead } from "./recognise.ts";
 * import { forgeBooter } from "../../firmware/forge/mod.ts";
 * assert.equal(secureCodeHead(recogniseBooter(forgeBooter(), "b")).length, 256);
 * ```
 */
export function secureCodeHead(firmware: HsFirmware): Uint8Array {
  if (firmware.kind === "booter") {
    const app = firmware.booter.loadHeader.apps[0];
    const length = Math.min(256, app.codeSize);
    return firmware.booter.image.subarray(app.codeOffset, app.codeOffset + length);
  }
  const d = firmware.fwsec.descriptor;
  const start = d.descriptorVersion === 3 ? 0 : d.imemSecBase - d.imemVirtBase;
  const size = d.descriptorVersion === 3 ? d.imemLoadSize : d.imemSecSize;
  return firmware.fwsec.ucode.subarray(start, start + Math.min(256, size));
}

/**
 * Which candidate a falcon's IMEM holds: the first whose secure code's first
 * block equals some 256-byte IMEM block.
 *
 * @param imem The falcon's whole IMEM.
 * @param candidates The images this falcon could be running.
 * @returns The match, or `undefined` (the falcon holds no known HS image).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { identifyLoadedImage, recogniseBooter, secureCodeHead } from "./recognise.ts";
 * import { forgeBooter } from "../../firmware/forge/mod.ts";
 * const a = recogniseBooter(forgeBooter({ seed: 1 }), "a");
 * const b = recogniseBooter(forgeBooter({ seed: 2 }), "b");
 * const imem = new Uint8Array(0x10000);
 * imem.set(secureCodeHead(b), 0x800);
 * assert.equal(identifyLoadedImage(imem, [a, b])?.name, "b");
 * assert.equal(identifyLoadedImage(new Uint8Array(0x10000), [a, b]), undefined);
 * ```
 */
export function identifyLoadedImage(
  imem: Uint8Array,
  candidates: readonly HsFirmware[],
): HsFirmware | undefined {
  return candidates.find((candidate) => {
    const head = secureCodeHead(candidate);
    for (let at = 0; at + head.length <= imem.length; at += 256) {
      if (firstDifference(head, imem.subarray(at, at + head.length)) === -1) return true;
    }
    return false;
  });
}
