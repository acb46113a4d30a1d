/**
 * `demo.ts`: what falconry does, on whatever this machine has.
 *
 * The main show: a full GSP boot and unload of a simulated TU102, GA102 and
 * GH100, step by step, with the real linux-firmware files when they are
 * present and forged ones otherwise (the TU102 with the real VBIOS from
 * `../shared/vbios/` when it is there). The TU102 and GA102 boot through
 * FWSEC and Booter on SEC2; the GH100 through the FSP's chain of trust.
 *
 * With `--inspect`, instead, what the boot reads:
 *
 * 1. The firmware set of one chip per family (real files when present,
 *    forged ones otherwise): located, checked against the sha256 manifest and
 *    parsed, with the facts a boot needs.
 * 2. The VBIOS (`--vbios FILE`, else `../shared/vbios/TU102.rom`, else a
 *    forged one): version, ROM images, FWSEC descriptor; the signature the
 *    board would select; FWSEC patched for FRTS, and exactly which bytes
 *    changed.
 * 3. The GSP image from file to DMA-ready memory (radix3 tables built).
 *
 * Each section stands alone: a file that fails to parse is reported in its
 * place (naming the file) and the demo goes on; the exit code is then 1.
 *
 * @example
 * ```sh
 * deno task demo
 * deno run -A scripts/demo.ts --forged --json
 * deno run -A scripts/demo.ts --inspect --json --vbios dump.rom --fuse-version 1
 * ```
 *
 * @module
 */

import { chipByName, type ChipInfo, familyOf } from "../chips/chips.ts";
import { DEFAULT_FIRMWARE_VERSION } from "../chips/firmware_files.ts";
import { FirmwareFormatError } from "../errors.ts";
import { bufferSource, type ByteSource } from "../firmware/byte_source.ts";
import { MAX_FUSE_VERSION } from "../firmware/falcon_load.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import type { FwsecFirmware } from "../firmware/fwsec/extract.ts";
import { patchFwsecFrts } from "../firmware/fwsec/patch.ts";
import { highestSignedFuseVersion, signatureSlots } from "../firmware/fwsec/signature.ts";
import { parseVbios } from "../firmware/vbios/vbios.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { type FirmwareSet, loadFirmwareSet } from "../loader/firmware_set.ts";
import { loadGspImage } from "../loader/gsp_image.ts";
import { locateFirmware } from "../loader/locate.ts";
import {
  describeFailure,
  formatDuration,
  formatHelp,
  type OptionSpecs,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
} from "./_cli.ts";
import { DENO } from "./_deno_command.ts";
import { writeForgedFirmware } from "./_forged_firmware.ts";
import { openVbiosFile } from "./_vbios_file.ts";
import { showResidue, simHeading, StepView } from "./_boot_view.ts";
import { bootAndUnload, type BootOutcome, Interrupt, simFirmware } from "./boot.ts";
import { relative } from "node:path";

const DEMO_CHIPS = ["tu102", "tu116", "ga100", "ga102", "ad102", "gh100", "gb100", "gb202"];
/** The chips the demo boots: one Turing, one Ampere (both the SEC2 path), one Hopper (the FSP path). */
const BOOT_CHIPS = ["tu102", "ga102", "gh100"];
const SHARED_VBIOS = new URL("../../shared/vbios/TU102.rom", import.meta.url).pathname;
/** The forged VBIOS is laid out as production boards ship theirs: no signature for fuse version 0. */
const FORGED_VBIOS = { descriptorVersion: 3, zeroSignatures: [0] } as const;

const OPTIONS: OptionSpecs = {
  inspect: {
    type: "boolean",
    description: "instead of booting, inspect the firmware set of every family, the VBIOS " +
      "(FWSEC patched for FRTS) and the GSP image",
  },
  firmware: {
    type: "string",
    valueName: "DIR",
    description: "a firmware root searched first (it must exist)",
  },
  vbios: {
    type: "string",
    valueName: "FILE",
    description:
      "a VBIOS dump to inspect (implies --inspect; default: ../shared/vbios/TU102.rom when " +
      "present, else a forged one)",
  },
  "fuse-version": {
    type: "string",
    valueName: "N",
    description: "the chip's FWSEC fuse version for --inspect (implies it), 0–" + MAX_FUSE_VERSION +
      " (default: the highest the image has a non-zero signature for, as the board selects)",
  },
  forged: {
    type: "boolean",
    description: "use forged files even where real ones exist (but the --vbios FILE given)",
  },
  realistic: {
    type: "boolean",
    description: "boot in the real hardware's time (about 1.5 s a boot) instead of virtual time",
  },
};

const HELP = formatHelp({
  usage: "demo.ts [--firmware DIR] [--forged] [--realistic] [--json]\n" +
    "       demo.ts --inspect [--firmware DIR] [--vbios FILE] [--fuse-version N] [--forged] [--json]",
  summary: "Boot and unload the GSP of a simulated TU102, GA102 and GH100, step by step; or, " +
    "with --inspect, inspect the firmware and the VBIOS.",
  description: `
The boot uses the real linux-firmware files when they are present (--firmware
DIR, FALCONRY_FIRMWARE_DIR, the cache, /lib/firmware) and forged ones
otherwise, or with --forged; the TU102 boots with the real VBIOS of
../shared/vbios/TU102.rom when it is there. The GH100 reads no VBIOS: its
FSP boots the GSP-FMC after a chain-of-trust message. Each step shows as it
runs, with its duration in the simulator's virtual time; then the GPU's name
and WPR2, the unload, and what the simulated GPU was left holding
(nothing).

--inspect shows, instead, the firmware set of one chip per family; the VBIOS
with its FWSEC, patched for FRTS; the GSP image read into DMA-ready memory. A
file that fails to parse is reported in its section, naming the file, and the
demo goes on (exit code 1). Version-3 FWSEC carries one signature per fuse
version; production VBIOSes leave the signatures for fuse versions no
production chip has as zeros. Without a GPU to read the fuse from, the demo
picks what the board itself would select: the highest fuse version with a
non-zero signature.`,
  options: OPTIONS,
});

type ErrorJson = ReturnType<typeof describeFailure>["json"]["error"];

/** A section's error, or rethrow a bug: only input and operation failures stay in their section. */
function sectionError(e: unknown, file?: string): ErrorJson {
  const named = e instanceof FirmwareFormatError && e.file === undefined && file !== undefined
    ? e.withFile(file)
    : e;
  const failure = describeFailure(named);
  if (failure.internal) throw e;
  return failure.json.error;
}

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
type SetFailure = { chip: string; family: string; origin: string; error: ErrorJson };
type SetEntry = SetSummary | SetFailure;

function isSetFailure(entry: SetEntry): entry is SetFailure {
  return "error" in entry;
}

// Two lines per chip, to fit a terminal: what the boot path's first stage
// (Booter or FMC) carries, then the bootloaders and the GSP image.
function printSet(s: SetEntry): void {
  const head = `  ${s.chip.padEnd(6)} ${s.origin.padEnd(6)} `;
  if (isSetFailure(s)) {
    console.log(`${head}error: ${s.error.message}`);
    return;
  }
  const b = s.booterLoad;
  const first = b
    ? `booter ${b.signatureCount} signature${b.signatureCount > 1 ? "s" : ""} of ` +
      `${b.signatureSize} B, fuse ${b.fuseVersion}, ` +
      `ucode ${b.ucodeId}${b.allZeroSignatures.length ? ` (${zeroList(b.allZeroSignatures)})` : ""}`
    : s.fmc
    ? `fmc ${
      kib(s.fmc.imageSize)
    }, key ${s.fmc.publicKeySize} B, signature ${s.fmc.signatureSize} B`
    : "";
  const second = [
    `bootloader v${s.bootloader.descriptorVersion} ${kib(s.bootloader.ucodeSize)}`,
    s.genBootloader ? `gen_bootloader tag ${s.genBootloader.startTag}` : undefined,
    `gsp ${(s.gspImage.imageSize / 2 ** 20).toFixed(1)} MiB ${s.gspImage.signatureSection}`,
  ].filter(Boolean);
  console.log(`${head}${s.bootPath.padEnd(5)}${first} (${formatDuration(s.ms)})`);
  console.log(`${" ".repeat(head.length + 5)}${second.join(", ")}`);
}

function zeroList(indices: number[]): string {
  return `signature${indices.length > 1 ? "s" : ""} ${indices.join(", ")} all zeros`;
}

function kib(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

async function loadSet(
  chip: ChipInfo,
  origin: string,
  load: () => Promise<FirmwareSet>,
): Promise<SetEntry> {
  try {
    return summariseSet(await load(), origin);
  } catch (e) {
    return { chip: chip.name, family: chip.family, origin, error: sectionError(e) };
  }
}

async function firmwareSets(dir: string | undefined, forced: boolean): Promise<SetEntry[]> {
  const version = DEFAULT_FIRMWARE_VERSION;
  const chips = DEMO_CHIPS.map((n) => chipByName(n)!);
  const real: ChipInfo[] = [];
  const forged: ChipInfo[] = [];
  for (const chip of chips) {
    const located = forced ? undefined : await locateFirmware({ chip, version, dir });
    (located?.ok ? real : forged).push(chip);
  }
  const entries: SetEntry[] = [];
  for (const chip of real) {
    entries.push(await loadSet(chip, "real", () => loadFirmwareSet({ chip, version, dir })));
  }
  if (forged.length > 0) {
    const root = await Deno.makeTempDir({ prefix: "falconry-forged-" });
    try {
      await writeForgedFirmware(root, forged, version);
      // Forged files are not the manifest's files: check them against an empty manifest.
      const manifest = { ...FIRMWARE_MANIFEST, files: {}, links: {} };
      for (const chip of forged) {
        entries.push(
          await loadSet(
            chip,
            "forged",
            () => loadFirmwareSet({ chip, version, dir: root, env: () => undefined, manifest }),
          ),
        );
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
  return entries.sort((a, b) => DEMO_CHIPS.indexOf(a.chip) - DEMO_CHIPS.indexOf(b.chip));
}

/** Which signature FWSEC gets, and why. */
interface SignatureChoice {
  /** The fuse version the signature is selected for; null when none is needed or none can be. */
  fuseVersion: number | null;
  /** `option` (--fuse-version), `highest-signed` (the default), or `none`. */
  chosenBy: "option" | "highest-signed" | "none";
  /** Why, in one line for people. */
  reason: string;
  /** What the image carries and what else can be done, or null. */
  detail: string | null;
  /** Every fuse version the descriptor has a slot for, and whether its signature is all zeros. */
  slots: { fuseVersion: number; index: number; allZero: boolean }[];
}

function chooseFuseVersion(fwsec: FwsecFirmware, requested: number | undefined): SignatureChoice {
  const slots = signatureSlots(fwsec);
  if (fwsec.descriptor.descriptorVersion !== 3) {
    return {
      fuseVersion: null,
      chosenBy: "none",
      reason:
        `none needed: descriptor v${fwsec.descriptor.descriptorVersion} carries no signatures`,
      detail: requested === undefined ? null : `--fuse-version ${requested} ignored`,
      slots,
    };
  }
  const signed = slots.filter((s) => !s.allZero).map((s) => s.fuseVersion);
  const zero = slots.filter((s) => s.allZero).map((s) => s.fuseVersion);
  const listing = `${
    signed.length ? `signed for fuse versions ${signed.join(", ")}` : "signed for none"
  }${zero.length ? `; all zeros for ${zero.join(", ")}` : ""}`;
  if (requested !== undefined) {
    return {
      fuseVersion: requested,
      chosenBy: "option",
      reason: `fuse version ${requested}, from --fuse-version`,
      detail: listing,
      slots,
    };
  }
  const highest = highestSignedFuseVersion(fwsec);
  if (highest === undefined) {
    return {
      fuseVersion: null,
      chosenBy: "none",
      reason: "no fuse version has a non-zero signature, so FWSEC cannot be patched",
      detail: `${listing}; --fuse-version N tries one`,
      slots,
    };
  }
  return {
    fuseVersion: highest,
    chosenBy: "highest-signed",
    reason: `fuse version ${highest}, the highest with a non-zero signature, as the board ` +
      "would select",
    detail: `${listing}; --fuse-version N picks another`,
    slots,
  };
}

/** The changed byte ranges between two equally long buffers. */
function changedRanges(
  before: Uint8Array,
  after: Uint8Array,
): { offset: number; length: number }[] {
  const ranges: { offset: number; length: number }[] = [];
  for (let i = 0; i < before.length; i++) {
    if (before[i] === after[i]) continue;
    const last = ranges.at(-1);
    if (last && last.offset + last.length === i) last.length++;
    else ranges.push({ offset: i, length: 1 });
  }
  return ranges;
}

function frtsDemo(fwsec: FwsecFirmware, choice: SignatureChoice, file: string) {
  // An FRTS region as a 8 GiB board would get it: 1 MiB below the 128 KiB-aligned VGA workspace.
  const fbEnd = 8 * 2 ** 30;
  const frtsOffset = Math.floor((fbEnd - 2 ** 20) / 0x20000) * 0x20000 - 2 ** 20;
  if (fwsec.descriptor.descriptorVersion === 3 && choice.fuseVersion === null) {
    return { frts: null, frtsError: null };
  }
  try {
    const patched = patchFwsecFrts(
      fwsec,
      { frtsOffset, frtsSize: 2 ** 20 },
      choice.fuseVersion ?? 0,
    );
    return {
      frts: {
        frtsOffset,
        command: patched.command,
        bootAddress: patched.bootAddress,
        signatureIndex: patched.signatureIndex ?? null,
        changedRanges: changedRanges(fwsec.ucode, patched.image),
      },
      frtsError: null,
    };
  } catch (e) {
    return { frts: null, frtsError: sectionError(e, file) };
  }
}

function vbiosDemo(source: ByteSource, origin: string, file: string | null, fuse?: number) {
  const name = file ?? "forged.rom";
  const head = { origin, file, size: source.size };
  let info;
  try {
    info = parseVbios(source);
  } catch (e) {
    return { ...head, error: sectionError(e, name) };
  }
  const fwsec = info.fwsec;
  const choice = fwsec ? chooseFuseVersion(fwsec, fuse) : null;
  return {
    ...head,
    version: info.version?.text ?? null,
    images: info.images.map((i) => ({
      offset: i.offset,
      size: i.size,
      kind: i.kind,
      last: i.last,
    })),
    fwsec: fwsec && choice
      ? {
        descriptorVersion: fwsec.descriptor.descriptorVersion,
        descriptorOffset: fwsec.descriptorOffset,
        imemLoadSize: fwsec.descriptor.imemLoadSize,
        dmemLoadSize: fwsec.descriptor.dmemLoadSize,
        signatureCount: fwsec.signatures.length,
        dmemMapperOffset: fwsec.dmemMapper?.ucodeOffset ?? null,
        signature: choice,
        ...frtsDemo(fwsec, choice, name),
      }
      : null,
  };
}

type VbiosSummary = ReturnType<typeof vbiosDemo>;

function printVbios(v: VbiosSummary): void {
  const title = `\nVBIOS (${v.origin}${v.file ? ` ${v.file}` : ""})`;
  if ("error" in v) {
    console.log(`${title}:\n  error: ${v.error.message}`);
    return;
  }
  console.log(`${title}: ${v.version}`);
  console.log(
    `  images: ${v.images.map((i) => `${i.kind}@0x${i.offset.toString(16)}`).join(", ")}`,
  );
  const f = v.fwsec;
  if (!f) return;
  console.log(
    `  FWSEC descriptor v${f.descriptorVersion} at 0x${f.descriptorOffset.toString(16)}: ` +
      `IMEM ${f.imemLoadSize} B, DMEM ${f.dmemLoadSize} B, ${f.signatureCount} signatures`,
  );
  console.log(
    f.dmemMapperOffset === null
      ? "  no DMEM mapper"
      : `  DMEM mapper at ucode offset 0x${f.dmemMapperOffset.toString(16)}`,
  );
  console.log(`  signature: ${f.signature.reason}`);
  if (f.signature.detail) console.log(`    ${f.signature.detail}`);
  if (f.frts) {
    const sig = f.frts.signatureIndex === null ? "" : `, signature ${f.frts.signatureIndex}`;
    console.log(
      `  patched for FRTS (command 0x${f.frts.command.toString(16)}, region at ` +
        `0x${f.frts.frtsOffset.toString(16)}${sig}); changed bytes (offset+length):`,
    );
    const ranges = f.frts.changedRanges.map((r) => `0x${r.offset.toString(16)}+${r.length}`);
    for (let i = 0; i < ranges.length; i += 8) {
      const last = i + 8 >= ranges.length;
      console.log(`    ${ranges.slice(i, i + 8).join(", ")}${last ? "" : ","}`);
    }
  }
  if (f.frtsError) console.log(`  FRTS patch: error: ${f.frtsError.message}`);
}

function vbiosSection(path: string | undefined, forced: boolean, fuse: number | undefined) {
  // A VBIOS the user names is used even with --forged.
  const chosen = path ?? (!forced && existsAsFile(SHARED_VBIOS) ? SHARED_VBIOS : undefined);
  if (chosen === undefined) {
    return vbiosDemo(
      bufferSource(forgeVbios(FORGED_VBIOS).bytes, "forged.rom"),
      "forged",
      null,
      fuse,
    );
  }
  using source = openVbiosFile(chosen, path === undefined ? undefined : "--vbios");
  return vbiosDemo(source, "real", chosen, fuse);
}

function existsAsFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function gspImageDemo(dir: string | undefined, forced: boolean) {
  if (forced) return null;
  const chip = chipByName("ga102")!;
  const located = await locateFirmware({ chip, version: DEFAULT_FIRMWARE_VERSION, dir });
  const path = located.files.find((f) => f.file.name === "gsp")?.found;
  if (!path) return null;
  try {
    const started = performance.now();
    using loaded = await loadGspImage(path, {
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
  } catch (e) {
    return { file: path, error: sectionError(e, path) };
  }
}

type GspSummary = Awaited<ReturnType<typeof gspImageDemo>>;

function printGsp(gsp: GspSummary): void {
  if (!gsp) return;
  if (gsp.error !== undefined) {
    console.log(`\nGSP image ${gsp.file}:\n  error: ${gsp.error.message}`);
    return;
  }
  console.log(
    `\nGSP image ${gsp.file}:\n  ${gsp.imageSize} bytes read into DMA-ready memory, ` +
      `${gsp.pages} pages, radix3 tables ${gsp.radix3TablePages.join("/")} pages (${
        formatDuration(gsp.ms)
      })`,
  );
}

/** Boot and unload each of {@linkcode BOOT_CHIPS}, step by step. */
async function bootDemo(
  dir: string | undefined,
  forced: boolean,
  json: boolean,
  realistic: boolean,
): Promise<{ ok: boolean; boot: BootOutcome[]; interrupted: number | undefined }> {
  const outcomes: BootOutcome[] = [];
  using view = StepView.forStdout(json);
  using interrupt = new Interrupt((signal) => {
    view.line(`${signal}: stopping; unwinding what was done (again to exit at once)`);
  });
  for (const [i, chip] of BOOT_CHIPS.entries()) {
    if (interrupt.code !== undefined) break;
    await using firmware = await simFirmware(chip, { dir, forged: forced });
    const vbios = chip === "tu102" && !forced && existsAsFile(SHARED_VBIOS)
      ? SHARED_VBIOS
      : undefined;
    if (i > 0) view.line("");
    // The FSP path reads no VBIOS: its heading names none.
    const readsVbios = familyOf(chipByName(chip)!).bootPath === "sec2";
    view.line(simHeading("boot", chip, {
      firmware: firmware.origin,
      realistic,
      vbios: !readsVbios ? undefined : vbios ? relative(Deno.cwd(), vbios) : "forged",
    }));
    const outcome: BootOutcome = {
      ok: false,
      chip,
      gpu: null,
      wpr2: null,
      firmware: firmware.origin,
      kept: false,
      steps: [],
      residue: null,
    };
    await bootAndUnload({
      target: {
        sim: chip,
        ...(vbios ? { vbios } : {}),
        ...(realistic ? { realistic } : {}),
        firmwareDir: firmware.dir,
      },
      firmwareDir: firmware.dir,
      forgedFirmware: firmware.origin === "forged",
      view,
      signal: interrupt.signal,
    }, outcome);
    showResidue(view, outcome.residue, false);
    if (outcome.error) view.line(`  error: ${outcome.error.message}`);
    outcomes.push(outcome);
  }
  if (!json && outcomes.some((o) => o.firmware === "forged")) {
    view.line(
      "\nforged: the real files were not found, or --forged was given;\n" +
        `\`${DENO} task firmware\` fetches the real ones`,
    );
  }
  if (!json) view.line("\n--inspect shows the firmware of every family, the VBIOS and FWSEC.");
  return {
    ok: outcomes.length === BOOT_CHIPS.length && outcomes.every((o) => o.ok),
    boot: outcomes,
    interrupted: interrupt.code,
  };
}

async function inspectDemo(
  dir: string | undefined,
  forced: boolean,
  vbiosPath: string | undefined,
  fuse: number | undefined,
  json: boolean,
): Promise<number> {
  const sets = await firmwareSets(dir, forced);
  const vbios = vbiosSection(vbiosPath, forced, fuse);
  const gsp = await gspImageDemo(dir, forced);
  const failed = [
    ...sets.filter(isSetFailure).map((s) => `the ${s.chip} firmware set`),
    ...("error" in vbios ? ["the VBIOS"] : []),
    ...(!("error" in vbios) && vbios.fwsec?.frtsError ? ["the FRTS patch"] : []),
    ...(gsp?.error ? ["the GSP image"] : []),
  ];
  const ok = failed.length === 0;
  if (json) printJson({ ok, firmware: sets, vbios, gspImage: gsp });
  else {
    console.log(`firmware ${DEFAULT_FIRMWARE_VERSION}, one chip per family:`);
    for (const s of sets) printSet(s);
    if (sets.some((s) => s.origin === "forged")) {
      console.log(
        "  forged: the real files were not found, or --forged was given;\n" +
          `  \`${DENO} task firmware\` fetches the real ones`,
      );
    }
    printVbios(vbios);
    printGsp(gsp);
  }
  if (!ok) console.error(`error: ${failed.join(", ")} failed; the other sections are complete`);
  return ok ? 0 : 1;
}

async function main(): Promise<number> {
  const args = await startCli(Deno.args, OPTIONS, HELP);
  if (args === undefined) return 0;
  if (args.positionals.length) throw new UsageError("demo takes no positional arguments");
  // A VBIOS or a fuse version to look at asks for the inspection.
  const inspect = args.flag("inspect") || args.string("vbios") !== undefined ||
    args.string("fuse-version") !== undefined;
  const dir = args.string("firmware");
  if (dir !== undefined) requirePath(dir, "directory", "--firmware");
  const vbiosPath = args.string("vbios");
  // Checked before any work, so that a wrong path or a huge file costs nothing.
  if (vbiosPath !== undefined) openVbiosFile(vbiosPath, "--vbios")[Symbol.dispose]();
  const fuse = args.integer("fuse-version", 0, MAX_FUSE_VERSION);
  const forced = args.flag("forged");
  if (inspect) return await inspectDemo(dir, forced, vbiosPath, fuse, args.json);

  const { ok, boot, interrupted } = await bootDemo(
    dir,
    forced,
    args.json,
    args.flag("realistic"),
  );
  if (args.json) printJson({ ok, boot });
  const failed = boot.filter((o) => !o.ok).map((o) => o.chip);
  if (interrupted !== undefined) console.error("error: interrupted; the boot was unwound");
  else if (!ok) console.error(`error: the ${failed.join(" and ")} boot failed`);
  return interrupted ?? (ok ? 0 : 1);
}

if (import.meta.main) await runMain(main);
