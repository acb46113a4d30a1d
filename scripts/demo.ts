/**
 * `demo.ts`: what falconry can do today, on whatever this machine has.
 *
 * 1. The firmware set of one chip per family (real files when present,
 *    forged ones otherwise): located, checked against the sha256 manifest and
 *    parsed, with the facts a boot needs.
 * 2. The VBIOS (`--vbios FILE`, else `../shared/vbios/TU102.rom`, else a
 *    forged one): version, ROM images, FWSEC descriptor; FWSEC patched for
 *    FRTS, and exactly which bytes changed.
 * 3. The GSP image from file to DMA-ready memory (radix3 tables built).
 *
 * @example
 * ```sh
 * deno task demo
 * deno run -A scripts/demo.ts --json --vbios dump.rom
 * ```
 *
 * @module
 */

import { chipByName, type ChipInfo, familyOf } from "../chips/chips.ts";
import { DEFAULT_FIRMWARE_VERSION } from "../chips/firmware_files.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { patchFwsecFrts } from "../firmware/fwsec/patch.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { parseVbios } from "../firmware/vbios/vbios.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { type FirmwareSet, loadFirmwareSet } from "../loader/firmware_set.ts";
import { loadGspImage } from "../loader/gsp_image.ts";
import { locateFirmware } from "../loader/locate.ts";
import { formatDuration, printJson, runMain, startCli, UsageError } from "./_cli.ts";
import { writeForgedFirmware } from "./_forged_firmware.ts";

const DEMO_CHIPS = ["tu102", "tu116", "ga100", "ga102", "ad102", "gh100", "gb100", "gb202"];
const SHARED_VBIOS = new URL("../../shared/vbios/TU102.rom", import.meta.url).pathname;

const HELP = `Usage: demo.ts [--firmware DIR] [--vbios FILE] [--forged] [--json] [--log-level LEVEL]

Inspect the real firmware set and the VBIOS, or forged ones where real ones are absent.

Options:
  --firmware DIR    a firmware root searched first
  --vbios FILE      a VBIOS dump (default ../shared/vbios/TU102.rom when present)
  --forged          use forged files even where real ones exist
  --json            print one JSON document
  --log-level LEVEL trace, debug, info, warning, error or fatal (stderr)
  -h, --help        show this help`;

function summariseSet(set: FirmwareSet, origin: string) {
  const b = set.booterLoad;
  return {
    chip: set.chip.name,
    family: set.chip.family,
    bootPath: familyOf(set.chip).bootPath,
    version: set.version,
    origin,
    booterLoad: b
      ? {
        signatureCount: b.signatureCount,
        signatureSize: b.signatureSize,
        fuseVersion: b.signatureParams.fuseVersion,
        ucodeId: b.signatureParams.ucodeId,
        allZeroSignatures: b.signatures.flatMap((s, i) => s.every((x) => x === 0) ? [i] : []),
      }
      : null,
    bootloader: {
      descriptorVersion: set.bootloader.descriptor.version,
      ucodeSize: set.bootloader.ucode.length,
      appVersion: set.bootloader.descriptor.appVersion,
    },
    genBootloader: set.genBootloader
      ? { startTag: set.genBootloader.descriptor.startTag, codeSize: set.genBootloader.code.length }
      : null,
    gspImage: {
      version: set.gspImage.version,
      imageSize: set.gspImage.imageSize,
      signatureSection: set.gspSignatureSection,
      signatureSize: set.gspSignature.length,
    },
    fmc: set.fmc
      ? {
        imageSize: set.fmc.image.length,
        publicKeySize: set.fmc.publicKey.length,
        signatureSize: set.fmc.signature.length,
      }
      : null,
    ms: Math.round(set.durationMs * 10) / 10,
  };
}

type SetSummary = ReturnType<typeof summariseSet>;

function printSet(s: SetSummary): void {
  const parts = [
    s.booterLoad
      ? `booter ${s.booterLoad.signatureCount}×${s.booterLoad.signatureSize} B sig, fuse ${s.booterLoad.fuseVersion}, ucode ${s.booterLoad.ucodeId}${
        s.booterLoad.allZeroSignatures.length
          ? ` (sig ${s.booterLoad.allZeroSignatures} all zero)`
          : ""
      }`
      : undefined,
    `bootloader v${s.bootloader.descriptorVersion} ${s.bootloader.ucodeSize} B`,
    s.genBootloader ? `gen_bootloader tag ${s.genBootloader.startTag}` : undefined,
    `gsp ${s.gspImage.version} ${
      (s.gspImage.imageSize / 2 ** 20).toFixed(1)
    } MiB ${s.gspImage.signatureSection}`,
    s.fmc ? `fmc key ${s.fmc.publicKeySize} B sig ${s.fmc.signatureSize} B` : undefined,
  ].filter(Boolean);
  console.log(
    `  ${s.chip.padEnd(6)} ${s.origin.padEnd(6)} ${s.bootPath.padEnd(4)} ${parts.join(" | ")} (${
      formatDuration(s.ms)
    })`,
  );
}

async function firmwareSets(dir: string | undefined, forced: boolean) {
  const version = DEFAULT_FIRMWARE_VERSION;
  const chips = DEMO_CHIPS.map((n) => chipByName(n)!);
  const real: ChipInfo[] = [];
  const forged: ChipInfo[] = [];
  for (const chip of chips) {
    const located = forced ? undefined : await locateFirmware({ chip, version, dir });
    (located?.ok ? real : forged).push(chip);
  }
  const summaries: SetSummary[] = [];
  for (const chip of real) {
    summaries.push(summariseSet(await loadFirmwareSet({ chip, version, dir }), "real"));
  }
  if (forged.length > 0) {
    const root = await Deno.makeTempDir({ prefix: "falconry-forged-" });
    try {
      await writeForgedFirmware(root, forged, version);
      // Forged files are not the manifest's files: check them against an empty manifest.
      const manifest = { ...FIRMWARE_MANIFEST, files: {}, links: {} };
      for (const chip of forged) {
        const set = await loadFirmwareSet({
          chip,
          version,
          dir: root,
          env: () => undefined,
          manifest,
        });
        summaries.push(summariseSet(set, "forged"));
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
  return summaries.sort((a, b) => DEMO_CHIPS.indexOf(a.chip) - DEMO_CHIPS.indexOf(b.chip));
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function vbiosDemo(path: string | undefined, forced: boolean) {
  const chosen = forced ? undefined : path ?? (exists(SHARED_VBIOS) ? SHARED_VBIOS : undefined);
  const bytes = chosen ? Deno.readFileSync(chosen) : forgeVbios({ descriptorVersion: 3 }).bytes;
  const info = parseVbios(bufferSource(bytes, chosen ?? "forged.rom"));
  const fwsec = info.fwsec;
  // An FRTS region as a 8 GiB board would get it: 1 MiB below the 128 KiB-aligned VGA workspace.
  const fbEnd = 8 * 2 ** 30;
  const frtsOffset = Math.floor((fbEnd - 2 ** 20) / 0x20000) * 0x20000 - 2 ** 20;
  const patched = fwsec ? patchFwsecFrts(fwsec, { frtsOffset, frtsSize: 2 ** 20 }, 0) : undefined;
  const changed: [number, number][] = [];
  if (fwsec && patched) {
    for (let i = 0; i < fwsec.ucode.length; i++) {
      if (fwsec.ucode[i] === patched.image[i]) continue;
      const last = changed.at(-1);
      if (last && last[1] === i) last[1] = i + 1;
      else changed.push([i, i + 1]);
    }
  }
  return {
    origin: chosen ? "real" : "forged",
    file: chosen ?? null,
    size: bytes.length,
    version: info.version?.text ?? null,
    images: info.images.map((i) => ({
      offset: i.offset,
      size: i.size,
      kind: i.kind,
      last: i.last,
    })),
    fwsec: fwsec
      ? {
        descriptorVersion: fwsec.descriptor.descriptorVersion,
        descriptorOffset: fwsec.descriptorOffset,
        imemLoadSize: fwsec.descriptor.imemLoadSize,
        dmemLoadSize: fwsec.descriptor.dmemLoadSize,
        signatureCount: fwsec.signatures.length,
        dmemMapperOffset: fwsec.dmemMapper?.ucodeOffset ?? null,
        frts: patched
          ? {
            frtsOffset,
            command: patched.command,
            bootAddress: patched.bootAddress,
            changedRanges: changed.map(([a, b]) => ({ offset: a, length: b - a })),
          }
          : null,
      }
      : null,
  };
}

async function gspImageDemo(dir: string | undefined, forced: boolean) {
  if (forced) return null;
  const chip = chipByName("ga102")!;
  const located = await locateFirmware({ chip, version: DEFAULT_FIRMWARE_VERSION, dir });
  const path = located.files.find((f) => f.file.name === "gsp")?.found;
  if (!path) return null;
  const started = performance.now();
  const loaded = await loadGspImage(path, {
    signatureSection: familyOf(chip).gspSignatureSection,
  });
  const ms = performance.now() - started;
  return {
    file: path,
    imageSize: loaded.imageSize,
    pages: loaded.radix3.layout.imagePages,
    radix3TablePages: [
      loaded.radix3.layout.level0Pages,
      loaded.radix3.layout.level1Pages,
      loaded.radix3.layout.level2Pages,
    ],
    ms: Math.round(ms * 10) / 10,
  };
}

async function main(): Promise<number> {
  const args = await startCli(Deno.args, {
    firmware: { type: "string", valueName: "DIR", description: "a firmware root searched first" },
    vbios: { type: "string", valueName: "FILE", description: "a VBIOS dump" },
    forged: { type: "boolean", description: "use forged files even where real ones exist" },
  }, HELP);
  if (args === undefined) return 0;
  if (args.positionals.length) throw new UsageError("demo takes no positional arguments");
  const dir = args.string("firmware");
  const forced = args.flag("forged");

  const sets = await firmwareSets(dir, forced);
  const vbios = vbiosDemo(args.string("vbios"), forced);
  const gsp = await gspImageDemo(dir, forced);
  if (args.json) {
    printJson({ firmware: sets, vbios, gspImage: gsp });
    return 0;
  }
  console.log(`firmware ${DEFAULT_FIRMWARE_VERSION}, one chip per family:`);
  for (const s of sets) printSet(s);
  if (sets.some((s) => s.origin === "forged")) {
    console.log(
      "  (forged: the real files were not found or --forged was given; `deno task firmware` fetches them)",
    );
  }
  console.log(`\nVBIOS (${vbios.origin}${vbios.file ? ` ${vbios.file}` : ""}): ${vbios.version}`);
  console.log(
    `  images: ${vbios.images.map((i) => `${i.kind}@0x${i.offset.toString(16)}`).join(", ")}`,
  );
  if (vbios.fwsec) {
    const f = vbios.fwsec;
    console.log(
      `  FWSEC descriptor v${f.descriptorVersion} at 0x${f.descriptorOffset.toString(16)}: ` +
        `IMEM ${f.imemLoadSize} B, DMEM ${f.dmemLoadSize} B, ${f.signatureCount} signatures, ` +
        `DMEM mapper at ucode offset 0x${f.dmemMapperOffset?.toString(16)}`,
    );
    if (f.frts) {
      console.log(
        `  patched for FRTS (command 0x${f.frts.command.toString(16)}, region at ` +
          `0x${f.frts.frtsOffset.toString(16)}): changed ${
            f.frts.changedRanges.map((r) => `0x${r.offset.toString(16)}+${r.length}`).join(", ")
          }`,
      );
    }
  }
  if (gsp) {
    console.log(
      `\nGSP image ${gsp.file}: ${gsp.imageSize} bytes read into DMA-ready memory, ` +
        `${gsp.pages} pages, radix3 tables ${gsp.radix3TablePages.join("/")} pages (${
          formatDuration(gsp.ms)
        })`,
    );
  }
  return 0;
}

if (import.meta.main) await runMain(main);
