/**
 * A chip's whole firmware set, located, checked against the manifest and
 * parsed: what a boot HAL takes as input. The GSP image is parsed from its
 * headers only (its 28–63 MB `.fwimage` is read later, straight into DMA
 * memory, by `loadGspImage`, which finds the headers in the process's
 * header cache); the chip's signature section is read.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type ChipInfo, type GspSignatureOptions, gspSignatureSectionOf } from "../chips/chips.ts";
import { FirmwareFormatError } from "../errors.ts";
import { type BooterFirmware, parseBooter } from "../firmware/booter.ts";
import { type FmcFirmware, parseFmc } from "../firmware/fmc.ts";
import { type GenBootloader, parseGenBootloader } from "../firmware/gen_bootloader.ts";
import type { GspImage } from "../firmware/gsp_image.ts";
import { parseRiscvBootloader, type RiscvBootloader } from "../firmware/riscv_bootloader.ts";
import { fileSource, readGspHeaders } from "./gsp_image.ts";
import { readFirmwareFile, requireFirmware, type RequireOptions } from "./locate.ts";

const log = getLogger(["falconry", "loader", "firmware-set"]);

/** A chip's parsed firmware set. Files the chip's boot does not use are absent. */
export interface FirmwareSet {
  /** The chip. */
  readonly chip: ChipInfo;
  /** The firmware version. */
  readonly version: string;
  /** File name (`booter_load`, `gsp`, …) → absolute path. */
  readonly paths: Readonly<Record<string, string>>;
  /** `booter_load` (SEC2-path chips). */
  readonly booterLoad?: BooterFirmware;
  /** `booter_unload` (SEC2-path chips). */
  readonly booterUnload?: BooterFirmware;
  /** The GSP RISC-V bootloader. */
  readonly bootloader: RiscvBootloader;
  /** The generic falcon bootloader that runs FWSEC (Turing, GA100; 570.144). */
  readonly genBootloader?: GenBootloader;
  /** The GSP image's headers (not its `.fwimage`). */
  readonly gspImage: GspImage;
  /** The signature section this chip's family uses, e.g. `.fwsignature_tu10x`. */
  readonly gspSignatureSection: string;
  /** That section's bytes. */
  readonly gspSignature: Uint8Array;
  /** The FMC (Hopper, Blackwell). */
  readonly fmc?: FmcFirmware;
  /** Milliseconds spent locating, hashing and parsing. */
  readonly durationMs: number;
}

/**
 * Locate (search order: `dir`, `FALCONRY_FIRMWARE_DIR`, the cache,
 * `/lib/firmware`), verify against the manifest, and parse every file of a
 * chip's firmware set. `confidentialComputing` picks the GSP image's `cc_`
 * signature section (GH100, GB10x).
 *
 * @throws {FirmwareNotFoundError} listing every missing file and every place searched.
 * @throws {FirmwareChecksumError} when a file differs from the manifest (unless `onMismatch: "warn"`).
 * @throws {FirmwareFormatError} naming the file when one does not parse.
 *
 * @example
 * ```ts ignore
 * import { loadFirmwareSet } from "./firmware_set.ts";
 * const set = await loadFirmwareSet({ chip: "tu102", version: "570.144" });
 * console.log(set.booterLoad?.signatureSize, set.gspImage.imageSize);
 * ```
 */
export async function loadFirmwareSet(
  options: RequireOptions & GspSignatureOptions,
): Promise<FirmwareSet> {
  const started = performance.now();
  const required = await requireFirmware(options);
  const { chip, version, paths } = required;
  const signatureSection = gspSignatureSectionOf(chip, options);
  const read = <T>(name: string, parse: (b: Uint8Array, file?: string) => T) =>
    paths[name] === undefined
      ? Promise.resolve(undefined)
      : readFirmwareFile(paths[name], (b) => parse(b, paths[name]));

  const [booterLoad, booterUnload, bootloader, genBootloader, fmc] = await Promise.all([
    read("booter_load", parseBooter),
    read("booter_unload", parseBooter),
    read("bootloader", parseRiscvBootloader),
    read("gen_bootloader", parseGenBootloader),
    read("fmc", (b, f) => parseFmc(b, f)),
  ]);
  // Every chip's file set lists a bootloader; its absence is a bug in the chip table.
  if (!bootloader) throw new Error(`the ${chip.name} ${version} file set has no bootloader`);

  const gspPath = paths["gsp"];
  let gspImage: GspImage;
  let signature: Uint8Array;
  {
    // Through the header cache, so that loadGspImage then reads only .fwimage.
    using source = fileSource(gspPath);
    try {
      ({ headers: gspImage, signature } = readGspHeaders(source, signatureSection));
    } catch (e) {
      throw e instanceof FirmwareFormatError ? e.withFile(gspPath) : e;
    }
  }
  const durationMs = performance.now() - started;
  log.debug("loaded {chip} {version} firmware set in {ms} ms", {
    chip: chip.name,
    version,
    ms: durationMs.toFixed(1),
  });
  return {
    chip,
    version,
    paths,
    booterLoad,
    booterUnload,
    bootloader,
    genBootloader,
    gspImage,
    gspSignatureSection: signatureSection,
    gspSignature: signature,
    fmc,
    durationMs,
  };
}
