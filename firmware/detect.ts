/**
 * Tell what kind of boot blob a file is, from its bytes first and its name
 * second. Content decides where it can (ELF class, the `NVFW`, `NVGI` and
 * `55 AA` magics); the three nvfw-bin kinds share one header, so for them the
 * file name decides, and a file without a known name is tried against each
 * parser in turn.
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { BIN_MAGIC } from "./bin_header.ts";
import { parseBooter } from "./booter.ts";
import { parseGenBootloader } from "./gen_bootloader.ts";
import { parseRiscvBootloader } from "./riscv_bootloader.ts";

/** The format of a boot blob, which decides its parser. */
export type FirmwareKind =
  | "booter"
  | "riscv-bootloader"
  | "gen-bootloader"
  | "gsp-image"
  | "fmc"
  | "tlv"
  | "vbios";

/** Base names (without version) of linux-firmware's GSP files and the 2026 TLV names. */
const KIND_BY_NAME: Readonly<Record<string, FirmwareKind>> = {
  booter_load: "booter",
  booter_unload: "booter",
  scrubber: "booter",
  bootloader: "riscv-bootloader",
  gsp_bootloader: "riscv-bootloader",
  gen_bootloader: "gen-bootloader",
  gsp: "gsp-image",
  fmc: "fmc",
};

/**
 * The kind a file name implies (`booter_load-570.144.bin` → `booter`), or
 * `undefined` for a name falconry does not know.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kindFromFileName } from "./detect.ts";
 * assert(kindFromFileName("/x/gen_bootloader-570.144.bin") === "gen-bootloader");
 * assert(kindFromFileName("gsp-535.113.01.bin") === "gsp-image");
 * assert(kindFromFileName("TU102.rom") === "vbios");
 * assert(kindFromFileName("notes.txt") === undefined);
 * ```
 */
export function kindFromFileName(path: string): FirmwareKind | undefined {
  const base = (path.split("/").pop() ?? "").toLowerCase();
  if (base.endsWith(".rom")) return "vbios";
  const name = base.replace(/-\d+(\.\d+)+\.bin$/, "").replace(/\.(bin|tlv)$/, "");
  return Object.hasOwn(KIND_BY_NAME, name) ? KIND_BY_NAME[name] : undefined;
}

// Strictest first: a RISC-V bootloader's descriptor also reads as a valid generic-bootloader
// descriptor (its version, offsets and sizes all fit), but not the other way round (253 is no
// RM_RISCV_UCODE_DESC version).
const BIN_PARSERS: readonly [FirmwareKind, (b: Uint8Array) => unknown][] = [
  ["booter", parseBooter],
  ["riscv-bootloader", parseRiscvBootloader],
  ["gen-bootloader", parseGenBootloader],
];

/**
 * Detect a blob's kind. Throws a {@linkcode FirmwareFormatError} at offset 0
 * when nothing matches.
 *
 * @param bytes The file's bytes (only the first few are needed for non-bin kinds).
 * @param fileName The file's name or path, used for nvfw-bin files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectFirmwareKind } from "./detect.ts";
 * import { forgeGenBootloader } from "./forge/hs_firmware.ts";
 * assert(detectFirmwareKind(forgeGenBootloader({})) === "gen-bootloader");
 * assert(detectFirmwareKind(new TextEncoder().encode("NVFW....")) === "tlv");
 * ```
 */
export function detectFirmwareKind(bytes: Uint8Array, fileName?: string): FirmwareKind {
  const fail = (reason: string): never => {
    throw new FirmwareFormatError({ file: fileName, offset: 0, field: "magic", reason });
  };
  if (bytes.length < 4) fail(`only ${bytes.length} bytes: too short for any firmware format`);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic === "NVFW") return "tlv";
  if (magic === "NVGI") return "vbios";
  if (bytes[0] === 0x55 && bytes[1] === 0xaa) return "vbios";
  if (magic === "\x7fELF") {
    if (bytes.length < 5) fail("ELF file too short for its class byte");
    if (bytes[4] === 2) return "gsp-image";
    if (bytes[4] === 1) return "fmc";
    fail(`ELF class ${bytes[4]} is neither 32- nor 64-bit`);
  }
  const word = bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24;
  if (word >>> 0 === BIN_MAGIC) {
    const byName = fileName ? kindFromFileName(fileName) : undefined;
    if (byName && BIN_PARSERS.some(([k]) => k === byName)) return byName;
    for (const [kind, parse] of BIN_PARSERS) {
      try {
        parse(bytes);
        return kind;
      } catch (e) {
        if (!(e instanceof FirmwareFormatError)) throw e;
      }
    }
    fail("an nvfw bin file that is neither a Booter, a generic bootloader nor a RISC-V bootloader");
  }
  const byName = fileName ? kindFromFileName(fileName) : undefined;
  if (byName === "vbios") return "vbios";
  return fail(
    `unknown magic ${
      [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
    }: not an nvfw bin, ELF, NVFW TLV or VBIOS file`,
  );
}
