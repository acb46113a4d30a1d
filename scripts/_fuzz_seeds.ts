/**
 * The fuzzer's seed inputs: real firmware files where present, forged files
 * of every format always, each with its anatomy.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { SHT_NOBITS } from "../firmware/mod.ts";
import {
  FMC_SIZES,
  forgeBooter,
  forgeBooterTlv,
  forgeElf,
  forgeFmc,
  forgeFmcTlv,
  forgeGenBootloader,
  forgeGspImage,
  forgeGspTlv,
  forgeRiscvBootloader,
  forgeTlv,
  forgeVbios,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/mod.ts";
import { findRealFirmware, REAL_VBIOS_PATH } from "../tests/_real.ts";
import type { FuzzSeed, SeedAnatomy, SeedFormat, SeedSet } from "./_fuzz_anatomy.ts";
import { booterAnatomy, genAnatomy, riscvAnatomy } from "./_fuzz_anatomy_bin.ts";
import { elfAnatomy } from "./_fuzz_anatomy_elf.ts";
import { tlvAnatomy } from "./_fuzz_anatomy_tlv.ts";
import { vbiosAnatomy } from "./_fuzz_anatomy_vbios.ts";
import { FuzzRandom } from "./_fuzz_random.ts";

const logger = getLogger(["falconry", "scripts", "fuzz"]);

interface SeedSpec {
  name: string;
  fileName: string;
  format: SeedFormat;
  /** Real file: a path relative to a firmware root, or an absolute path. */
  real?: string;
  forge?: () => Uint8Array;
}

const realFile = (format: SeedFormat, rel: string): SeedSpec => ({
  name: rel.replace(/^nvidia\//, "").replace("/gsp/", "/"),
  fileName: rel.split("/").pop()!,
  format,
  real: rel,
});

const forged = (format: SeedFormat, name: string, fileName: string, forge: () => Uint8Array) => ({
  name: `forged ${name}`,
  fileName,
  format,
  forge,
});

function randomBytes(length: number, seed: number): Uint8Array {
  const r = new FuzzRandom(seed);
  return Uint8Array.from({ length }, () => r.u32() & 0xff);
}

const BOOTER_SEEDS: readonly SeedSpec[] = [
  realFile("booter", "nvidia/tu102/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/tu102/gsp/booter_unload-570.144.bin"),
  realFile("booter", "nvidia/ga100/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/ga102/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/ga102/gsp/booter_unload-535.113.01.bin"),
  realFile("booter", "nvidia/ad102/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/ad102/gsp/scrubber-570.144.bin"),
  forged(
    "booter",
    "booter (tu102-like)",
    "booter_load-570.144.bin",
    () => forgeBooter({ appCodeSizes: [0x400], osDataSize: 0x200 }),
  ),
  forged(
    "booter",
    "booter (ga102-like, zero second signature)",
    "booter_load-570.144.bin",
    () =>
      forgeBooter({
        signatureSize: 384,
        signatureCount: 2,
        fuseVersion: 1,
        ucodeId: 3,
        zeroSignatureIndex: 1,
        appCodeSizes: [0x400],
        osDataSize: 0x400,
      }),
  ),
  forged("booter", "booter (ad102-like)", "booter_unload-570.144.bin", () =>
    forgeBooter({
      signatureSize: 384,
      signatureCount: 2,
      fuseVersion: 1,
      ucodeId: 3,
      appCodeSizes: [0x300],
      osDataSize: 0x400,
    })),
  forged(
    "booter",
    "booter (three apps)",
    "scrubber-570.144.bin",
    () => forgeBooter({ appCodeSizes: [0x100, 0x200, 0x80], osDataSize: 0x100 }),
  ),
];

const RISCV_SEEDS: readonly SeedSpec[] = [
  realFile("riscv-bootloader", "nvidia/tu102/gsp/bootloader-570.144.bin"),
  realFile("riscv-bootloader", "nvidia/ga102/gsp/bootloader-570.144.bin"),
  realFile("riscv-bootloader", "nvidia/gh100/gsp/bootloader-570.144.bin"),
  forged(
    "riscv-bootloader",
    "bootloader (v4)",
    "bootloader-570.144.bin",
    () => forgeRiscvBootloader({ version: 4 }),
  ),
  forged(
    "riscv-bootloader",
    "bootloader (v5)",
    "bootloader-570.144.bin",
    () => forgeRiscvBootloader({ version: 5, manifestSize: 0x100, monitorDataSize: 0x100 }),
  ),
  forged(
    "riscv-bootloader",
    "bootloader (v5, monitor only)",
    "bootloader-570.144.bin",
    () => forgeRiscvBootloader({ version: 5, bootloaderSize: 0, bootloaderParamSize: 0 }),
  ),
];

const GEN_SEEDS: readonly SeedSpec[] = [
  realFile("gen-bootloader", "nvidia/tu102/gsp/gen_bootloader-570.144.bin"),
  forged(
    "gen-bootloader",
    "gen_bootloader",
    "gen_bootloader-570.144.bin",
    () => forgeGenBootloader(),
  ),
  forged(
    "gen-bootloader",
    "gen_bootloader (small)",
    "gen_bootloader-570.144.bin",
    () => forgeGenBootloader({ codeSize: 0x100, dataSize: 0x40 }),
  ),
];

const GSP_SEEDS: readonly SeedSpec[] = [
  forged("elf", "gsp image (Turing sections)", "gsp-570.144.bin", () =>
    forgeGspImage({
      imageSize: 0x1000,
      signatureSize: 0x100,
      signatureSections: GSP_SIGNATURE_SECTIONS_TU,
    })),
  forged(
    "elf",
    "gsp image (GA102 sections)",
    "gsp-570.144.bin",
    () => forgeGspImage({ imageSize: 0x800, signatureSize: 0x80 }),
  ),
  forged("elf", "gsp image (535, one section)", "gsp-535.113.01.bin", () =>
    forgeGspImage({
      imageSize: 0x200,
      signatureSize: 0x40,
      version: "535.113.01",
      signatureSections: [".fwsignature_tu10x"],
    })),
];

const FMC_SEEDS: readonly SeedSpec[] = [
  realFile("elf", "nvidia/gh100/gsp/fmc-570.144.bin"),
  realFile("elf", "nvidia/gb100/gsp/fmc-570.144.bin"),
  realFile("elf", "nvidia/gb202/gsp/fmc-570.144.bin"),
  forged("elf", "fmc (gh100 sizes)", "fmc-570.144.bin", () => forgeFmc({ imageSize: 0x400 })),
  forged(
    "elf",
    "fmc (gb10x sizes)",
    "fmc-570.144.bin",
    () => forgeFmc({ sizes: FMC_SIZES.gb10x, imageSize: 0x200 }),
  ),
  forged(
    "elf",
    "fmc (gb20x sizes)",
    "fmc-570.144.bin",
    () => forgeFmc({ sizes: FMC_SIZES.gb20x, imageSize: 0x100 }),
  ),
];

const ELF_SEEDS: readonly SeedSpec[] = [
  ...GSP_SEEDS,
  ...FMC_SEEDS,
  forged("elf", "elf32 (table first, NOBITS section)", "fmc-570.144.bin", () =>
    forgeElf({
      elfClass: 32,
      tableAt: "start",
      sections: [
        { name: ".text", data: randomBytes(0x60, 1) },
        { name: ".bss", type: SHT_NOBITS, size: 0x1000 },
        { name: ".data", data: randomBytes(0x21, 2), align: 16 },
      ],
    })),
  forged("elf", "elf64 (empty section)", "gsp-570.144.bin", () =>
    forgeElf({
      sections: [
        { name: ".fwimage", data: randomBytes(0x40, 3) },
        { name: ".empty", data: new Uint8Array(0) },
        { name: ".fwversion", data: new TextEncoder().encode("570.144\0") },
      ],
    })),
];

const TLV_SEEDS: readonly SeedSpec[] = [
  forged(
    "tlv",
    "gsp tlv",
    "gsp-570.144.tlv",
    () => forgeGspTlv({ signature: randomBytes(0x100, 4) }),
  ),
  forged("tlv", "booter tlv", "booter_load-570.144.tlv", () => forgeBooterTlv()),
  forged("tlv", "fmc tlv", "fmc-570.144.tlv", () => forgeFmcTlv({ imageSize: 0x200 })),
  forged("tlv", "tlv (odd lengths)", "booter_unload-570.144.tlv", () =>
    forgeTlv([
      ["VERS", "1.0"],
      ["NSIG", 3],
      ["SIGN", randomBytes(33, 5)],
      ["ODD", "abcde"],
      ["EMPT", new Uint8Array(0)],
      ["VERS", "duplicate"],
    ])),
];

const VBIOS_SEEDS: readonly SeedSpec[] = [
  { name: "TU102.rom (real)", fileName: "TU102.rom", format: "vbios", real: REAL_VBIOS_PATH },
  forged("vbios", "vbios (v2 FWSEC, no IFR)", "forged.rom", () => forgeVbios().bytes),
  forged("vbios", "vbios (IFR v1)", "forged.rom", () => forgeVbios({ ifr: 1 }).bytes),
  forged(
    "vbios",
    "vbios (IFR v2, no EFI)",
    "forged.rom",
    () => forgeVbios({ ifr: 2, efi: false }).bytes,
  ),
  forged(
    "vbios",
    "vbios (IFR v3, v3 FWSEC)",
    "forged.rom",
    () => forgeVbios({ ifr: 3, descriptorVersion: 3 }).bytes,
  ),
  forged(
    "vbios",
    "vbios (v3 FWSEC, one FWSEC image, sparse signatures)",
    "forged.rom",
    () => forgeVbios({ descriptorVersion: 3, fwsecImages: 1, signatureVersions: 0b1010 }).bytes,
  ),
  forged(
    "vbios",
    "vbios (no DMEM mapper, license app id)",
    "forged.rom",
    () => forgeVbios({ dmemMapper: false, fwsecApplicationId: 0x05 }).bytes,
  ),
];

const SEED_SPECS: Readonly<Record<string, readonly SeedSpec[]>> = {
  bin: [...BOOTER_SEEDS, ...RISCV_SEEDS, ...GEN_SEEDS],
  booter: BOOTER_SEEDS,
  riscv: RISCV_SEEDS,
  gen: GEN_SEEDS,
  elf: ELF_SEEDS,
  gsp: GSP_SEEDS,
  fmc: FMC_SEEDS,
  tlv: TLV_SEEDS,
  vbios: VBIOS_SEEDS,
  all: [
    ...BOOTER_SEEDS.filter((_, i) => i % 2 === 0),
    ...RISCV_SEEDS,
    ...GEN_SEEDS,
    ...ELF_SEEDS.filter((_, i) => i % 2 === 0),
    ...TLV_SEEDS,
    ...VBIOS_SEEDS.slice(0, 3),
  ],
};

const seedCache = new Map<string, SeedSet>();

function readReal(spec: SeedSpec): Uint8Array | undefined {
  const path = spec.real!.startsWith("/") ? spec.real! : findRealFirmware(spec.real!);
  if (!path) return undefined;
  try {
    return Deno.readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A seed from given bytes: its anatomy is found by parsing it as `format`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedFromBytes } from "./_fuzz_seeds.ts";
 * import { forgeGenBootloader } from "../firmware/forge/mod.ts";
 * const seed = seedFromBytes("gen-bootloader", "gen", forgeGenBootloader());
 * assert(seed.anatomy.fields.some((f) => f.name === "descriptor.codeSize"));
 * ```
 */
export function seedFromBytes(
  format: SeedFormat,
  name: string,
  bytes: Uint8Array,
  options: { real?: boolean; fileName?: string } = {},
): FuzzSeed {
  return {
    name,
    fileName: options.fileName ?? name,
    format,
    real: options.real ?? false,
    bytes,
    anatomy: ANATOMIES[format](bytes),
  };
}

/**
 * A named seed set (`booter`, `elf`, `vbios`, `all`, …), loaded once: real
 * files that are present and every forged file.
 *
 * @example
 * ```ts ignore
 * import { loadSeeds } from "./_fuzz_seeds.ts";
 * console.log(loadSeeds("tlv").seeds.map((s) => s.name));
 * ```
 */
export function loadSeeds(set: string): SeedSet {
  const cached = seedCache.get(set);
  if (cached) return cached;
  const seeds: FuzzSeed[] = [];
  const missingRealFiles: string[] = [];
  for (const spec of SEED_SPECS[set]) {
    const bytes = spec.real ? readReal(spec) : spec.forge!();
    if (!bytes) {
      missingRealFiles.push(spec.real!);
      continue;
    }
    seeds.push(
      seedFromBytes(spec.format, spec.name, bytes, { real: !!spec.real, fileName: spec.fileName }),
    );
  }
  if (missingRealFiles.length > 0) {
    logger.warn("fuzz seeds {set}: {count} real files missing, fuzzing forged ones only: {files}", {
      set,
      count: missingRealFiles.length,
      files: missingRealFiles.join(", "),
    });
  }
  const result = { seeds, missingRealFiles };
  seedCache.set(set, result);
  return result;
}

const ANATOMIES: Readonly<Record<SeedFormat, (bytes: Uint8Array) => SeedAnatomy>> = {
  "booter": booterAnatomy,
  "riscv-bootloader": riscvAnatomy,
  "gen-bootloader": genAnatomy,
  "elf": elfAnatomy,
  "tlv": tlvAnatomy,
  "vbios": vbiosAnatomy,
};
