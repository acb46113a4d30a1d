/**
 * `fb_layout.ts`: the framebuffer layout the GSP boot uses on a chip with a
 * given amount of VRAM, as a table, as JSON, or drawn as an SVG memory map.
 * The GSP image and bootloader sizes come from the firmware files (found
 * like every other script finds them), or from `--gsp-size` and
 * `--bootloader-size`.
 *
 * @example
 * ```sh
 * deno run -A scripts/fb_layout.ts --chip tu102 --fb-size 24GiB
 * deno run -A scripts/fb_layout.ts --chip ga102 --fb-size 0x600000000 --json
 * deno run -A scripts/fb_layout.ts --chip ad102 --fb-size 24576MiB --svg ad102.svg
 * deno run -A scripts/fb_layout.ts --chip tu102 --fb-size 11GiB --gsp-size 28528288 --bootloader-size 4096
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import {
  chipByName,
  type ChipInfo,
  CHIPS,
  DEFAULT_FIRMWARE_VERSION,
  FIRMWARE_VERSIONS,
} from "../chips/mod.ts";
import { FirmwareNotFoundError } from "../errors.ts";
import { parseGspImage, parseRiscvBootloader } from "../firmware/mod.ts";
import {
  computeFbLayout,
  computeFbSizes,
  type FbLayout,
  fbMemoryMap,
  type FbSizes,
  laysOutFb,
  type VgaWorkspaceInput,
  wprMetaOf,
} from "../gsp/mod.ts";
import { fileSource, locateFirmware, readFirmwareFile } from "../loader/mod.ts";
import { fbLayoutSvg, humanSize } from "./_fb_layout_svg.ts";
import {
  formatHelp,
  type OptionSpecs,
  printJson,
  requirePath,
  runMain,
  startCli,
  UsageError,
  writeOutputFile,
} from "./_cli.ts";

const log = getLogger(["falconry", "scripts", "fb-layout"]);

const OPTIONS: OptionSpecs = {
  chip: {
    type: "string",
    valueName: "CHIP",
    description: `the chip (${CHIPS.map((c) => c.name).join(", ")})`,
  },
  "fb-size": {
    type: "string",
    valueName: "SIZE",
    description: "usable VRAM: bytes (decimal or 0x…) or a number with KiB, MiB, GiB or TiB",
  },
  firmware: { type: "string", valueName: "DIR", description: "a firmware root searched first" },
  "firmware-version": {
    type: "string",
    valueName: "V",
    description: `firmware version (${
      FIRMWARE_VERSIONS.join(", ")
    }; default ${DEFAULT_FIRMWARE_VERSION})`,
  },
  "gsp-size": {
    type: "string",
    valueName: "BYTES",
    description: "GSP-RM image (.fwimage) size, instead of reading the firmware",
  },
  "bootloader-size": {
    type: "string",
    valueName: "BYTES",
    description: "GSP bootloader ucode size, instead of reading the firmware",
  },
  "vga-base": {
    type: "string",
    valueName: "VALUE",
    description: "raw NV_PDISP_VGA_WORKSPACE_BASE (implies a display); default: no display",
  },
  "mmu-lock": {
    type: "string",
    valueName: "ADDR",
    description: "GA100: the VBIOS MMU lock start address, which clips the WPR end",
  },
  svg: { type: "string", valueName: "FILE", description: "draw the memory map into FILE" },
};

const HELP = formatHelp({
  usage: "fb_layout.ts --chip CHIP --fb-size SIZE [--firmware DIR] [--json | --svg FILE]",
  summary: "Compute the GSP's framebuffer layout for a chip and draw it.",
  description: `
Computes where the VGA workspace, FRTS, the GSP bootloader, the GSP-RM image,
the WPR2 heap, WPR2 and the non-WPR heap sit at the top of VRAM, with NVIDIA's
formulas (kgspCalculateFbLayout_TU102, open-gpu-kernel-modules 570.144). The
GSP image and bootloader sizes come from the chip's firmware files (search
order: --firmware DIR, FALCONRY_FIRMWARE_DIR, falconry's cache,
/lib/firmware), or from --gsp-size and --bootloader-size, which then need no
firmware. SIZE and BYTES are decimal or 0x… bytes, or a number with a unit:
24GiB, 24576MiB, 0x600000000.

Without --json or --svg it prints the regions from the top of VRAM down.
--json prints {chip, fbSize, …, regions: [{name, kind, start, end, size,
inWpr2}]} with every region from 0 to the end of VRAM in bytes. --svg FILE
draws the memory map.

Hopper and Blackwell boot through the FSP, whose FMC places WPR2 itself: for
them only the region sizes are printed (and --svg is refused).`,
  options: OPTIONS,
});

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

// `24GiB`, `24576MiB`, `0x600000000`, `25769803776`, `1.5GiB` (whole bytes only).
function parseSize(flag: string, text: string): number {
  const trimmed = text.trim();
  const hexMatch = /^0x([0-9a-f]+)$/i.exec(trimmed);
  let value: number;
  if (hexMatch) value = parseInt(hexMatch[1], 16);
  else {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(trimmed);
    const unit = m?.[2]?.toLowerCase().replace(/^([kmgt])b$/, "$1ib") ?? "";
    if (!m || UNITS[unit] === undefined) {
      throw new UsageError(
        `--${flag} ${text}: expected bytes (decimal or 0x…) or a number with KiB, MiB, GiB or TiB ` +
          "(24GiB, 24576MiB, 0x600000000)",
      );
    }
    value = Number(m[1]) * UNITS[unit];
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`--${flag} ${text}: expected a positive whole number of bytes`);
  }
  return value;
}

function parseU32(flag: string, text: string): number {
  const t = text.trim();
  const value = /^(\d+|0x[0-9a-f]+)$/i.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(value) || value > 0xffffffff) {
    throw new UsageError(`--${flag} ${text}: expected a 32-bit value (decimal or 0x…)`);
  }
  return value;
}

function chipOf(name: string | undefined): ChipInfo {
  if (name === undefined) throw new UsageError("--chip is required; see --help");
  const chip = chipByName(name);
  if (!chip) {
    throw new UsageError(
      `--chip ${name}: unknown chip; known: ${CHIPS.map((c) => c.name).join(", ")}`,
    );
  }
  return chip;
}

/** Where the image and bootloader sizes came from. */
interface FirmwareSizes {
  gspImageSize: number;
  bootloaderSize: number;
  version?: string;
  gspPath?: string;
  bootloaderPath?: string;
  bootloader?: { codeOffset: number; dataOffset: number; manifestOffset: number };
}

async function firmwareSizes(
  chip: ChipInfo,
  given: { gsp?: number; bootloader?: number },
  dir: string | undefined,
  version: string,
): Promise<FirmwareSizes> {
  if (given.gsp !== undefined && given.bootloader !== undefined) {
    return { gspImageSize: given.gsp, bootloaderSize: given.bootloader };
  }
  const located = await locateFirmware({ chip, version, dir });
  const want = ["gsp", "bootloader"];
  const files = want.map((name) => located.files.find((f) => f.file.name === name));
  const missing = files.filter((f) => f?.found === undefined);
  if (missing.length > 0) {
    const error = new FirmwareNotFoundError(
      missing.map((f) => ({ path: f?.file.path ?? "", searched: [...(f?.searched ?? [])] })),
    );
    // One line, as every script's failure is; --json still lists every place searched.
    error.message = `${missing.map((f) => f?.file.path).join(" and ")} not found in ` +
      `${located.dirs.map((d) => d.dir).join(", ")}; run \`deno task firmware\`, pass ` +
      "--firmware DIR, or give --gsp-size and --bootloader-size";
    throw error;
  }
  const [gspFile, blFile] = files.map((f) => f!.found!);
  let gspImageSize = given.gsp;
  if (gspImageSize === undefined) {
    using source = fileSource(gspFile);
    gspImageSize = parseGspImage(source, gspFile).imageSize;
  }
  const bl = await readFirmwareFile(blFile, (b) => parseRiscvBootloader(b, blFile));
  log.info("{chip}: GSP image {image} bytes, bootloader {bl} bytes", {
    chip: chip.name,
    image: gspImageSize,
    bl: bl.ucode.length,
  });
  return {
    gspImageSize,
    bootloaderSize: given.bootloader ?? bl.ucode.length,
    version,
    gspPath: gspFile,
    bootloaderPath: blFile,
    bootloader: {
      codeOffset: bl.descriptor.monitorCodeOffset,
      dataOffset: bl.descriptor.monitorDataOffset,
      manifestOffset: bl.descriptor.manifestOffset,
    },
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

function heapLine(layout: { heap: FbLayout["heap"] }): string {
  const h = layout.heap;
  const cap = h.prescrubbedCap !== undefined
    ? `, pre-scrubbed cap ${humanSize(h.prescrubbedCap)}`
    : "";
  return `WPR2 heap ${humanSize(h.size)} (rule: ${h.rule}; ${h.fbSizeGiB} GiB counted, minimum ` +
    `${humanSize(h.minimum)}${cap})`;
}

function firmwareLine(sizes: FirmwareSizes): string {
  const from = sizes.gspPath ? ` from ${sizes.version} firmware` : " (given)";
  return `GSP image ${humanSize(sizes.gspImageSize)} (${sizes.gspImageSize} bytes), bootloader ` +
    `${humanSize(sizes.bootloaderSize)} (${sizes.bootloaderSize} bytes)${from}`;
}

function layoutJson(layout: FbLayout, sizes: FirmwareSizes) {
  const meta = wprMetaOf(layout, {
    radix3Address: 0n,
    bootloader: { dmaAddress: 0n, size: layout.boot.size, ...noOffsets(sizes) },
    signature: { dmaAddress: 0n, size: 0 },
  });
  const metaFields = [
    "gspFwRsvdStart",
    "nonWprHeapOffset",
    "nonWprHeapSize",
    "gspFwWprStart",
    "gspFwHeapOffset",
    "gspFwHeapSize",
    "gspFwOffset",
    "bootBinOffset",
    "frtsOffset",
    "frtsSize",
    "gspFwWprEnd",
    "fbSize",
    "vgaWorkspaceOffset",
    "vgaWorkspaceSize",
  ] as const;
  return {
    chip: layout.chip.name,
    family: layout.chip.family,
    bootPath: "sec2",
    fbSize: layout.fb.size,
    firmware: firmwareJson(sizes),
    heap: layout.heap,
    wpr2: layout.wpr2,
    wprMeta: {
      ...Object.fromEntries(metaFields.map((f) => [f, Number(meta[f])])),
      flags: meta.flags,
      pmuReservedSize: meta.pmuReservedSize,
      gspFwHeapVfPartitionCount: meta.gspFwHeapVfPartitionCount,
    },
    regions: fbMemoryMap(layout),
  };
}

function noOffsets(sizes: FirmwareSizes) {
  return sizes.bootloader ?? { codeOffset: 0, dataOffset: 0, manifestOffset: 0 };
}

function firmwareJson(sizes: FirmwareSizes) {
  return {
    gspImageSize: sizes.gspImageSize,
    bootloaderSize: sizes.bootloaderSize,
    ...(sizes.version ? { version: sizes.version } : {}),
    ...(sizes.gspPath ? { gsp: sizes.gspPath, bootloader: sizes.bootloaderPath } : {}),
  };
}

function printTable(layout: FbLayout, sizes: FirmwareSizes): void {
  const chip = layout.chip;
  console.log(
    `${chip.name.toUpperCase()} (${chip.family}, SEC2 path): ${
      humanSize(layout.fb.size)
    } of VRAM ` +
      `(${hex(layout.fb.size)})`,
  );
  console.log(firmwareLine(sizes));
  console.log(heapLine(layout));
  console.log("");
  const rows = fbMemoryMap(layout).reverse().map((r) => [
    r.name,
    hex(r.start),
    hex(r.end),
    humanSize(r.size),
    r.inWpr2 ? "WPR2" : "",
  ]);
  const header = ["region", "start", "end", "size", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  console.log("");
  console.log(
    `WPR2 ${hex(layout.wpr2.start)} .. ${hex(layout.wpr2.end)} (${humanSize(layout.wpr2.size)}); ` +
      `the GSP reserves ${humanSize(layout.fb.size - layout.nonWprHeap.start)} from ` +
      `${hex(layout.nonWprHeap.start)} up`,
  );
}

function sizesJson(sizes: FbSizes, fw: FirmwareSizes) {
  return {
    chip: sizes.chip.name,
    family: sizes.chip.family,
    bootPath: "fsp",
    fbSize: sizes.fbSize,
    firmware: firmwareJson(fw),
    note: "the FMC places WPR2 and its regions itself; the driver passes only these sizes",
    sizes: {
      frtsSize: sizes.frtsSize,
      wpr2HeapSize: sizes.wpr2HeapSize,
      nonWprHeapSize: sizes.nonWprHeapSize,
      pmuReservedSize: sizes.pmuReservedSize,
      vgaWorkspaceSize: sizes.vgaWorkspaceSize,
      vfPartitionCount: sizes.vfPartitionCount,
    },
    heap: sizes.heap,
    regions: [],
  };
}

function printSizes(sizes: FbSizes, fw: FirmwareSizes): void {
  console.log(
    `${sizes.chip.name.toUpperCase()} (${sizes.chip.family}, FSP path): ` +
      `${humanSize(sizes.fbSize)} of VRAM (${hex(sizes.fbSize)})`,
  );
  console.log(firmwareLine(fw));
  console.log(heapLine(sizes));
  console.log("The FMC places WPR2 and its regions itself; the driver passes these sizes:");
  for (
    const [name, value] of [
      ["FRTS", sizes.frtsSize],
      ["WPR2 heap", sizes.wpr2HeapSize],
      ["non-WPR heap", sizes.nonWprHeapSize],
      ["PMU reserved", sizes.pmuReservedSize],
      ["VGA workspace", sizes.vgaWorkspaceSize],
    ] as const
  ) {
    console.log(`  ${name.padEnd(14)} ${humanSize(value).padEnd(10)} (${hex(value)})`);
  }
}

async function main(): Promise<number> {
  const args = await startCli(Deno.args, OPTIONS, HELP);
  if (!args) return 0;
  const chip = chipOf(args.string("chip"));
  const fbText = args.string("fb-size");
  if (fbText === undefined) throw new UsageError("--fb-size is required; see --help");
  const fbSize = parseSize("fb-size", fbText);
  const svgPath = args.string("svg");
  if (svgPath !== undefined && args.json) {
    throw new UsageError("--json and --svg exclude each other: pick one");
  }
  const version = args.string("firmware-version") ?? DEFAULT_FIRMWARE_VERSION;
  if (!FIRMWARE_VERSIONS.includes(version)) {
    throw new UsageError(
      `--firmware-version ${version}: expected one of ${FIRMWARE_VERSIONS.join(", ")}`,
    );
  }
  const gspText = args.string("gsp-size");
  const blText = args.string("bootloader-size");
  const given = {
    gsp: gspText === undefined ? undefined : parseSize("gsp-size", gspText),
    bootloader: blText === undefined ? undefined : parseSize("bootloader-size", blText),
  };
  const vgaText = args.string("vga-base");
  const vgaWorkspace: VgaWorkspaceInput | undefined = vgaText === undefined
    ? undefined
    : { displayPresent: true, pdispVgaWorkspaceBase: parseU32("vga-base", vgaText) };
  const lockText = args.string("mmu-lock");
  const mmuLockStart = lockText === undefined ? undefined : parseSize("mmu-lock", lockText);
  if (mmuLockStart !== undefined && chip.family !== "ga100") {
    throw new UsageError(`--mmu-lock: only GA100 has a VBIOS MMU lock, not ${chip.name}`);
  }
  const dir = args.string("firmware");
  if (dir !== undefined) requirePath(dir, "directory", "--firmware");

  const sizes = await firmwareSizes(chip, given, dir, version);

  if (!laysOutFb(chip)) {
    if (svgPath !== undefined) {
      throw new UsageError(
        `--svg: ${chip.name} boots through the FSP, whose FMC places WPR2 itself; there is no ` +
          "layout to draw (--json prints the sizes)",
      );
    }
    const fsp = computeFbSizes({ chip, fbSize });
    if (args.json) printJson(sizesJson(fsp, sizes));
    else printSizes(fsp, sizes);
    return 0;
  }

  const layout = computeFbLayout({
    chip,
    fbSize,
    gspImageSize: sizes.gspImageSize,
    bootloaderSize: sizes.bootloaderSize,
    ...(vgaWorkspace ? { vgaWorkspace } : {}),
    ...(mmuLockStart !== undefined ? { mmuLock: { start: mmuLockStart, end: fbSize } } : {}),
  });
  if (svgPath !== undefined) {
    const svg = fbLayoutSvg(layout, {
      title: `${chip.name.toUpperCase()} · ${humanSize(fbSize)} VRAM · GSP framebuffer layout`,
      subtitles: [firmwareLine(sizes), heapLine(layout)],
    });
    await writeOutputFile(svgPath, new TextEncoder().encode(svg), "--svg");
    console.log(`wrote ${svgPath}`);
    return 0;
  }
  if (args.json) printJson(layoutJson(layout, sizes));
  else printTable(layout, sizes);
  return 0;
}

if (import.meta.main) await runMain(main);
