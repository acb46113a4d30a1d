/**
 * Tell what kind of boot blob a file is, from its bytes first and its name
 * second. Content decides where it can (ELF class, the `NVFW`, `NVGI` and
 * `55 AA` magics); the three nvfw-bin kinds share one header, so for them the
 * file name decides, and a file without a known name is tried against each
 * parser in turn.
 *
 * A file that is none of falconry's kinds (linux-firmware's `nvidia/` tree
 * holds hundreds: ACR, SEC2, NVDEC and GR blobs) is kind `"other"`, not an
 * error. Errors are kept for files that are recognised and broken: an nvfw
 * bin file whose own header does not fit the file (it was cut short), or a
 * file whose name says what it is while its content does not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectFirmwareKind } from "./detect.ts";
 * import { forgeBooter } from "./forge/hs_firmware.ts";
 *
 * assert(detectFirmwareKind(forgeBooter(), "x.bin") === "booter");
 * assert(detectFirmwareKind(new TextEncoder().encode("not firmware"), "notes.txt") === "other");
 * assert.throws(() => detectFirmwareKind(forgeBooter().subarray(0, 100), "x.bin"), /cut short/);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { BIN_MAGIC, parseBinHeader } from "./bin_header.ts";
import { parseBooter } from "./booter.ts";
import { parseGenBootloader } from "./gen_bootloader.ts";
import { parseRiscvBootloader } from "./riscv_bootloader.ts";

/**
 * The format of a boot blob, which decides its parser; `"other"` for a file
 * that is none of them (not a GSP boot blob), which has no parser.
 */
export type FirmwareKind =
  | "booter"
  | "riscv-bootloader"
  | "gen-bootloader"
  | "gsp-image"
  | "fmc"
  | "tlv"
  | "vbios"
  | "other";

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
 * assert(kindFromFileName("nvidia/tu102/nvdec/scrubber.bin") === undefined); // no version
 * ```
 */
export function kindFromFileName(path: string): FirmwareKind | undefined {
  const base = (path.split("/").pop() ?? "").toLowerCase();
  if (base.endsWith(".rom")) return "vbios";
  // linux-firmware's GSP files always carry the driver version; unversioned `.bin` names
  // (`nvidia/tu102/nvdec/scrubber.bin`) belong to other falcons' firmware.
  const name = base.replace(/-\d+(\.\d+)+\.bin$/, "").replace(/\.tlv$/, "");
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
 * Detect a blob's kind. A file that is none of falconry's kinds is
 * `"other"`; only a recognised file that is broken throws.
 *
 * @param bytes The file's bytes (only the first few are needed for non-bin
 *   kinds; nvfw bin files need all of them when their name does not say
 *   which kind they are).
 * @param fileName The file's name or path, used for nvfw-bin files.
 * @returns The kind, or `"other"`.
 * @throws {FirmwareFormatError} when the file is an nvfw bin file without a
 *   known name whose own header does not fit it (field `binHeader.*`, saying
 *   it is cut short), an ELF file of neither class, or a file whose name names a kind
 *   (`booter_load-570.144.bin`) but whose content is no firmware at all
 *   (field `magic`, offset 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectFirmwareKind } from "./detect.ts";
 * import { forgeGenBootloader } from "./forge/hs_firmware.ts";
 * assert(detectFirmwareKind(forgeGenBootloader({})) === "gen-bootloader");
 * assert(detectFirmwareKind(new TextEncoder().encode("NVFW....")) === "tlv");
 * assert(detectFirmwareKind(new Uint8Array(64), "nvidia/tu102/gr/sw_ctx.bin") === "other");
 * ```
 */
export function detectFirmwareKind(bytes: Uint8Array, fileName?: string): FirmwareKind {
  const byName = fileName ? kindFromFileName(fileName) : undefined;
  const fail = (reason: string): never => {
    throw new FirmwareFormatError({ file: fileName, offset: 0, field: "magic", reason });
  };
  // Nothing in the content says what the file is: only its name could.
  const unrecognised = (what: string): FirmwareKind => {
    if (byName === "vbios") return "vbios"; // dumps with a prefix before 55 AA
    if (byName !== undefined) fail(`${what}, although the name says ${byName}`);
    return "other";
  };
  if (bytes.length < 4) {
    return unrecognised(`only ${bytes.length} bytes: too short for any firmware format`);
  }
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
  if (word >>> 0 === BIN_MAGIC) return detectBinKind(bytes, fileName, byName);
  return unrecognised(
    `unknown magic ${
      [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
    }: not an nvfw bin, ELF, NVFW TLV or VBIOS file`,
  );
}

/**
 * An nvfw bin file: a known name decides; otherwise its own header must fit
 * the file whatever it holds (a file cut short fails here, naming what it
 * needed, as its parser would under its real name), then the first parser
 * that accepts it decides. A sound bin file that none accepts is some other
 * falcon's ucode (ACR, SEC2, NVDEC).
 */
function detectBinKind(
  bytes: Uint8Array,
  fileName: string | undefined,
  byName: FirmwareKind | undefined,
): FirmwareKind {
  // The name decides among the three (their parsers check the bin header themselves).
  if (byName && BIN_PARSERS.some(([k]) => k === byName)) return byName;
  parseBinHeader(bytes, fileName);
  for (const [kind, parse] of BIN_PARSERS) {
    try {
      parse(bytes);
      return kind;
    } catch (e) {
      if (!(e instanceof FirmwareFormatError)) throw e;
    }
  }
  if (byName !== undefined) {
    throw new FirmwareFormatError({
      file: fileName,
      offset: 0,
      field: "magic",
      reason: `an nvfw bin file, although the name says ${byName}`,
    });
  }
  return "other";
}
