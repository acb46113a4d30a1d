// Forged firmware sets, laid out like a firmware root (nvidia/<chip>/gsp/…),
// for the demo when the real files are absent. Family facts follow the real
// files (real-files.md): Turing Booters carry one 16-byte signature, GA100 one
// 384-byte signature, GA10x/AD10x two; bootloader descriptor v4 before GA102,
// v5 after; the FMC's key and signature sizes differ between Hopper and Blackwell.

import type { ChipInfo } from "../chips/chips.ts";
import { firmwareFiles } from "../chips/firmware_files.ts";
import {
  FMC_SIZES,
  forgeFmc,
  forgeGspImage,
  GSP_SIGNATURE_SECTIONS_GA102,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/elf.ts";
import {
  forgeBooter,
  forgeGenBootloader,
  forgeRiscvBootloader,
} from "../firmware/forge/hs_firmware.ts";

const TURING_LIKE = new Set(["tu10x", "tu11x", "ga100"]);
const BOOTER_SEEDS: Readonly<Record<string, number>> = {
  booter_load: 1,
  booter_unload: 2,
  scrubber: 3,
};

function forgeFile(chip: ChipInfo, name: string, version: string): Uint8Array {
  const family = chip.family;
  const turing = family === "tu10x" || family === "tu11x";
  switch (name) {
    case "booter_load":
    case "booter_unload":
    case "scrubber":
      // One seed per file: a GPU tells Booter-load from Booter-unload by their bytes.
      return forgeBooter({
        ...(turing
          ? { signatureSize: 16, signatureCount: 1, fuseVersion: 0, ucodeId: 13 }
          : family === "ga100"
          ? { signatureSize: 384, signatureCount: 1, fuseVersion: 0, ucodeId: 3 }
          : { signatureSize: 384, signatureCount: 2, fuseVersion: 1, ucodeId: 3 }),
        seed: BOOTER_SEEDS[name],
      });
    case "bootloader":
      return forgeRiscvBootloader({ version: TURING_LIKE.has(family) ? 4 : 5 });
    case "gen_bootloader":
      return forgeGenBootloader({});
    case "gsp":
      return forgeGspImage({
        imageSize: 256 * 1024 + 0xea0,
        version,
        signatureSections: TURING_LIKE.has(family)
          ? GSP_SIGNATURE_SECTIONS_TU
          : GSP_SIGNATURE_SECTIONS_GA102,
      });
    case "fmc":
      return forgeFmc({ sizes: FMC_SIZES[family as keyof typeof FMC_SIZES] });
    default:
      throw new Error(`no forge for ${name}`);
  }
}

/** Write forged firmware sets for `chips` under `root`, as a firmware root. */
export async function writeForgedFirmware(
  root: string,
  chips: readonly ChipInfo[],
  version: string,
): Promise<void> {
  for (const chip of chips) {
    await Deno.mkdir(`${root}/nvidia/${chip.name}/gsp`, { recursive: true });
    for (const file of firmwareFiles(chip, version)) {
      await Deno.writeFile(`${root}/${file.path}`, forgeFile(chip, file.name, version));
    }
  }
}
