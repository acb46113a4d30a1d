/**
 * The firmware files a simulated GPU knows, so that its falcons can tell
 * what the host loaded: the chip's Booter-load and Booter-unload (SEC2), the
 * GSP bootloader and GSP-RM image (which Booter-load checks in DMA memory)
 * and, on Turing and GA100, the generic bootloader that loads FWSEC. FWSEC
 * itself comes from the GPU's own PROM. On GH100 (the FSP path) there is no
 * Booter: the FSP checks the Chain-of-Trust message against the `fmc` file
 * ({@linkcode SimFirmwareSet.fmc}), and the FMC checks the bootloader and the
 * GSP image (with `.fwsignature_gh100`).
 *
 * Files are given by name (`booter_load-570.144.bin`, a path ending in it,
 * or the bare role `booter_load`); a file whose name says nothing is
 * recognised by its SHA-256 against the firmware manifest (the real
 * linux-firmware files) and then by parsing. Parsing is lazy: the 28–63 MB
 * GSP image is read only when Booter-load first checks it.
 *
 * Without files, a simulated GPU knows the forged set of
 * {@linkcode forgedFirmwareFiles}, so that a host that loads the same forged
 * files works out of the box. The simulator reads no file itself:
 * `SimulatedGpu.create({ firmwareDir })` reads them at the edge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firmwareRoleOf, forgedFirmwareFiles, SimFirmwareSet } from "./firmware_set.ts";
 * const files = forgedFirmwareFiles("ga102");
 * assert.deepEqual(Object.keys(files).sort(), [
 *   "booter_load-570.144.bin", "booter_unload-570.144.bin", "bootloader-570.144.bin",
 *   "gsp-570.144.bin",
 * ]);
 * assert.equal(firmwareRoleOf("nvidia/tu102/gsp/gen_bootloader-570.144.bin"), "gen_bootloader");
 * const set = new SimFirmwareSet(0x172, files);
 * assert.equal(set.booters().length, 2);
 * assert.equal(set.gsp()?.signature.length, 4096);
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { chipById, chipByName, type ChipInfo, familyOf } from "../../chips/chips.ts";
import { FalconryError } from "../../errors.ts";
import {
  type FmcFirmware,
  type GenBootloader,
  gspSignature,
  parseFmc,
  parseGenBootloader,
  parseGspImage,
  parseRiscvBootloader,
  type RiscvBootloader,
} from "../../firmware/mod.ts";
import {
  FMC_SIZES,
  forgeBooter,
  forgeFmc,
  forgeGenBootloader,
  forgeGspImage,
  forgeRiscvBootloader,
  GSP_SIGNATURE_SECTIONS_GA102,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../../firmware/forge/mod.ts";
import { FIRMWARE_MANIFEST } from "../../loader/manifest.ts";
import { type GspFirmwareForChip, gspFirmwareForChip } from "../acceptance/gsp_firmware.ts";
import { type HsFirmware, recogniseBooter } from "../acceptance/recognise.ts";

/** What a firmware file is for. */
export type SimFirmwareRole =
  | "booter_load"
  | "booter_unload"
  | "bootloader"
  | "gen_bootloader"
  | "gsp"
  | "fmc";

const ROLES: readonly SimFirmwareRole[] = [
  "booter_load",
  "booter_unload",
  "gen_bootloader",
  "bootloader",
  "gsp",
  "fmc",
];

/**
 * The role a file name names: its base name up to the first `-` or `.`
 * (`booter_load-570.144.bin` → `booter_load`), or `undefined`.
 *
 * @param name A file name or path.
 * @returns The role.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firmwareRoleOf } from "./firmware_set.ts";
 * assert.equal(firmwareRoleOf("gsp-570.144.bin"), "gsp");
 * assert.equal(firmwareRoleOf("notes.txt"), undefined);
 * ```
 */
export function firmwareRoleOf(name: string): SimFirmwareRole | undefined {
  const base = name.slice(name.lastIndexOf("/") + 1).split(/[-.]/)[0];
  return ROLES.find((role) => role === base);
}

let manifestBySha: Map<string, string> | undefined;

/**
 * The manifest path of a real linux-firmware file, by its SHA-256.
 *
 * @param sha256 Lower-case hex.
 * @returns The path (`nvidia/tu102/gsp/booter_load-570.144.bin`), or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { manifestPathOf } from "./firmware_set.ts";
 * assert.equal(manifestPathOf("00".repeat(32)), undefined);
 * ```
 */
export function manifestPathOf(sha256: string): string | undefined {
  manifestBySha ??= new Map(
    Object.entries(FIRMWARE_MANIFEST.files).map(([path, f]) => [f.sha256, path]),
  );
  return manifestBySha.get(sha256);
}

/**
 * SHA-256 of bytes, hex.
 *
 * @param bytes The bytes.
 * @returns Lower-case hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./firmware_set.ts";
 * assert.equal(sha256Hex(new Uint8Array(0)).slice(0, 8), "e3b0c442");
 * ```
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Files by name: what `SimulatedGpuOptions.firmware` takes. */
export type SimFirmwareFiles = Readonly<Record<string, Uint8Array>>;

/** The GSP bootloader as Booter-load checks it. */
export interface KnownGspBootloader {
  /** The file's name. */
  name: string;
  /** The parsed file. */
  parsed: RiscvBootloader;
}

/** The GSP-RM image for this chip, with its hash for the radix3 walk. */
export interface KnownGspImage extends GspFirmwareForChip {
  /** The file's name. */
  name: string;
  /** SHA-256 of `image`, hex. */
  sha256: string;
}

/** The generic bootloader file (Turing, GA100). */
export interface KnownGenBootloader {
  /** The file's name. */
  name: string;
  /** The parsed file. */
  parsed: GenBootloader;
}

/** The FSP's FMC file (Hopper): the FSP checks the COT message against it. */
export interface KnownFmc {
  /** The file's name. */
  name: string;
  /** The parsed file. */
  parsed: FmcFirmware;
  /** SHA-384 of the `image` section, hex (what the FSP compares the DMA'd image with). */
  imageSha384: string;
}

/** A file refused when added. */
export class SimFirmwareError extends FalconryError {
  /** The file. */
  readonly file: string;

  /**
   * Build it.
   *
   * @param file The file's name.
   * @param reason Why.
   */
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.file = file;
  }
}

const gspImageCache = new WeakMap<Uint8Array, Map<number, KnownGspImage>>();

interface Entry {
  name: string;
  role: SimFirmwareRole;
  bytes: Uint8Array;
}

/** The files one simulated GPU knows, parsed on first use. */
export class SimFirmwareSet {
  /** The chip's id (`0x162` TU102, …): which GSP signature section applies. */
  readonly chipset: number;
  readonly #entries: Entry[] = [];
  #booters?: HsFirmware[];
  #bootloader?: KnownGspBootloader | null;
  #gsp?: KnownGspImage | null;
  #gen?: KnownGenBootloader | null;
  #fmc?: KnownFmc | null;

  /**
   * Build the set.
   *
   * @param chipset The chip's id.
   * @param files The files by name.
   * @throws {SimFirmwareError} For a file whose role neither its name nor the manifest tells.
   */
  constructor(chipset: number, files: SimFirmwareFiles = {}) {
    this.chipset = chipset;
    for (const [name, bytes] of Object.entries(files)) this.add(name, bytes);
  }

  /**
   * Add a file (a later file of the same role is tried after the earlier ones).
   *
   * @param name Its name or path.
   * @param bytes Its bytes.
   * @throws {SimFirmwareError} When its role cannot be told.
   */
  add(name: string, bytes: Uint8Array): void {
    let role = firmwareRoleOf(name);
    if (!role) {
      const path = manifestPathOf(sha256Hex(bytes));
      role = path ? firmwareRoleOf(path) : undefined;
    }
    if (!role) {
      throw new SimFirmwareError(
        name,
        "not a Booter, GSP bootloader, generic bootloader, GSP image or FMC by its name or hash",
      );
    }
    this.#entries.push({ name, role, bytes });
    this.#booters = undefined;
    this.#bootloader = undefined;
    this.#gsp = undefined;
    this.#gen = undefined;
    this.#fmc = undefined;
  }

  /** The names of the files, in the order added. */
  get names(): string[] {
    return this.#entries.map((e) => e.name);
  }

  /**
   * Booter-load and Booter-unload files, recognised (named `booter_load…`
   * or `booter_unload…`; a file that does not parse is skipped).
   *
   * @returns The images, load first.
   */
  booters(): readonly HsFirmware[] {
    this.#booters ??= this.#entries
      .filter((e) => e.role === "booter_load" || e.role === "booter_unload")
      .sort((a, b) => (a.role === b.role ? 0 : a.role === "booter_load" ? -1 : 1))
      .flatMap((e) => {
        try {
          return [recogniseBooter(e.bytes, e.name)];
        } catch {
          return [];
        }
      });
    return this.#booters;
  }

  /**
   * Whether a recognised Booter is the load or the unload one.
   *
   * @param firmware One of {@linkcode SimFirmwareSet.booters}.
   * @returns The role.
   */
  booterRole(firmware: HsFirmware): "booter_load" | "booter_unload" | undefined {
    const entry = this.#entries.find((e) => e.name === firmware.name);
    return entry?.role === "booter_load" || entry?.role === "booter_unload"
      ? entry.role
      : undefined;
  }

  /** The GSP bootloader Booter-load checks, or `undefined` when none is known. */
  bootloader(): KnownGspBootloader | undefined {
    if (this.#bootloader === undefined) {
      this.#bootloader = this.#first("bootloader", (e) => ({
        name: e.name,
        parsed: parseRiscvBootloader(e.bytes, e.name),
      }));
    }
    return this.#bootloader ?? undefined;
  }

  /** The GSP-RM image and this chip's signature, or `undefined` when none is known. */
  gsp(): KnownGspImage | undefined {
    if (this.#gsp === undefined) {
      this.#gsp = this.#first("gsp", (e) => {
        // Hashing a 28–63 MB image costs tens of ms: once per file and chip, not per GPU.
        const perChip = gspImageCache.get(e.bytes) ?? new Map<number, KnownGspImage>();
        gspImageCache.set(e.bytes, perChip);
        const cached = perChip.get(this.chipset);
        if (cached) {
          // A copy that keeps the lazy hash getter (a spread would compute it).
          const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(cached));
          return Object.assign(copy, { name: e.name }) as KnownGspImage;
        }
        const fw = gspFirmwareOf(e.bytes, this.chipset, e.name);
        // The acceptance checks compare the image byte for byte; the hash only labels it.
        let sha256: string | undefined;
        const known = {
          ...fw,
          name: e.name,
          get sha256() {
            return sha256 ??= sha256Hex(fw.image);
          },
        };
        perChip.set(this.chipset, known);
        return known;
      });
    }
    return this.#gsp ?? undefined;
  }

  /** The generic bootloader (Turing, GA100), or `undefined` when none is known. */
  genBootloader(): KnownGenBootloader | undefined {
    if (this.#gen === undefined) {
      this.#gen = this.#first("gen_bootloader", (e) => ({
        name: e.name,
        parsed: parseGenBootloader(e.bytes, e.name),
      }));
    }
    return this.#gen ?? undefined;
  }

  /** The FMC (Hopper and later), or `undefined` when none is known or it does not parse. */
  fmc(): KnownFmc | undefined {
    if (this.#fmc === undefined) {
      this.#fmc = this.#first("fmc", (e) => {
        const parsed = parseFmc(e.bytes, e.name);
        const imageSha384 = createHash("sha384").update(parsed.image).digest("hex");
        return { name: e.name, parsed, imageSha384 };
      });
    }
    return this.#fmc ?? undefined;
  }

  #first<T>(role: SimFirmwareRole, parse: (e: Entry) => T): T | null {
    for (const entry of this.#entries) {
      if (entry.role !== role) continue;
      try {
        return parse(entry);
      } catch {
        // Not this one: a later file of the same role may parse.
      }
    }
    return null;
  }
}

/**
 * The GSP image and a chip's signature section: the SEC2-path chips through
 * the Booter's table (`gsp_firmware.ts`), the FSP-path chips through the
 * family's section in the chip table (`.fwsignature_gh100` on Hopper).
 */
function gspFirmwareOf(bytes: Uint8Array, chipset: number, name: string): GspFirmwareForChip {
  const chip = chipById(chipset);
  if (!chip || familyOf(chip).bootPath !== "fsp") return gspFirmwareForChip(bytes, chipset, name);
  const gsp = parseGspImage(bytes, name);
  return {
    image: bytes.subarray(gsp.image.offset, gsp.image.offset + gsp.image.size),
    signature: gspSignature(gsp, bytes, familyOf(chip).gspSignatureSection),
    version: gsp.version,
  };
}

function chipOf(chip: string | ChipInfo): ChipInfo {
  if (typeof chip !== "string") return chip;
  const info = chipByName(chip);
  if (!info) throw new FalconryError(`forgedFirmwareFiles: unknown chip ${chip}`);
  return info;
}

const forgedCache = new Map<string, SimFirmwareFiles>();

/**
 * The forged firmware a simulated GPU knows when it is given none: the
 * files of `chips/firmware_files.ts` for 570.144, built with the forge.
 * Booter on Turing: 16-byte signature, one signature, ucode id 13; on GA100
 * and later 384-byte signatures, two of them, file fuse version 2, ucode id 3
 * (so fuse version 1 selects signature 1 and fuse version 2 signature 0).
 * The GSP image carries the signature sections of its generation. On the
 * FSP path (GH100) there is no Booter: the FMC (ELF32 with `image`, `hash`,
 * `publickey`, `signature`; RSA-3072 sizes 48/384/384 on Hopper), the GSP
 * bootloader (descriptor version 5) and the GSP image (with
 * `.fwsignature_gh100`).
 *
 * @param chip Chip name or entry.
 * @returns The files by name (the same objects on every call: do not modify them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgedFirmwareFiles } from "./firmware_set.ts";
 * assert("gen_bootloader-570.144.bin" in forgedFirmwareFiles("tu102"));
 * assert(!("gen_bootloader-570.144.bin" in forgedFirmwareFiles("ad102")));
 * assert.deepEqual(Object.keys(forgedFirmwareFiles("gh100")).sort(), [
 *   "bootloader-570.144.bin", "fmc-570.144.bin", "gsp-570.144.bin",
 * ]);
 * ```
 */
export function forgedFirmwareFiles(chip: string | ChipInfo): SimFirmwareFiles {
  const info = chipOf(chip);
  const cached = forgedCache.get(info.name);
  if (cached) return cached;
  const turing = info.family === "tu10x" || info.family === "tu11x";
  const ga100 = info.family === "ga100";
  if (familyOf(info).bootPath === "fsp") {
    const family = info.family as keyof typeof FMC_SIZES;
    const fsp = Object.freeze({
      "fmc-570.144.bin": forgeFmc({ sizes: FMC_SIZES[family] }),
      "bootloader-570.144.bin": forgeRiscvBootloader(),
      "gsp-570.144.bin": forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_GA102 }),
    });
    forgedCache.set(info.name, fsp);
    return fsp;
  }
  const booterOptions = turing
    ? {}
    : { signatureSize: 384, signatureCount: 2, fuseVersion: 2, ucodeId: 3 };
  const files: Record<string, Uint8Array> = {
    "booter_load-570.144.bin": forgeBooter({ ...booterOptions, seed: 11 }),
    "booter_unload-570.144.bin": forgeBooter({ ...booterOptions, seed: 12 }),
    "bootloader-570.144.bin": forgeRiscvBootloader(turing || ga100 ? { version: 4 } : {}),
    "gsp-570.144.bin": forgeGspImage({
      signatureSections: turing || ga100 ? GSP_SIGNATURE_SECTIONS_TU : GSP_SIGNATURE_SECTIONS_GA102,
    }),
  };
  if (turing || ga100) files["gen_bootloader-570.144.bin"] = forgeGenBootloader();
  const frozen = Object.freeze(files);
  forgedCache.set(info.name, frozen);
  return frozen;
}
