/**
 * `vbios.ts`: read a VBIOS (an nvflash dump or a ROM read from the GPU).
 *
 * - `inspect FILE`: the VBIOS version, the IFR header, the ROM images, the BIT
 *   tokens, the PMU lookup table and, under `fwsec`, the FWSEC descriptor
 *   (`descriptorVersion` and every field), its signatures and the DMEM
 *   mapper's offset. `--extract-fwsec OUT` also writes the (unpatched) FWSEC
 *   ucode, code then data, to OUT.
 *
 * @example
 * ```sh
 * deno run -A scripts/vbios.ts inspect ../shared/vbios/TU102.rom
 * deno run -A scripts/vbios.ts inspect dump.rom --json --extract-fwsec fwsec.bin
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { describeVbios } from "../firmware/describe.ts";
import { extractFwsec } from "../firmware/fwsec/extract.ts";
import {
  type Command,
  type CommandTable,
  type ParsedArgs,
  printJson,
  runCommandTable,
  runMain,
  UsageError,
  writeOutputFile,
} from "./_cli.ts";
import { printFields } from "./_print_fields.ts";
import { openVbiosFile } from "./_vbios_file.ts";

const log = getLogger(["falconry", "scripts", "vbios"]);

const INSPECT: Command = {
  summary: "print a VBIOS's version, images, BIT tokens, PMU table and FWSEC descriptor",
  usage: "FILE [--json] [--extract-fwsec OUT]",
  allowPositionals: true,
  description: `
Reads only the tables the boot needs (IFR header, ROM image chain, BIT, PMU
lookup table, FWSEC descriptor and its DMEM). A file larger than 16 MiB (the
largest PCI expansion ROM) is refused as not a VBIOS. With --json prints one JSON
document: {file, version, ifr, images, bit, pmuTable, fwsec: {descriptorVersion,
…every descriptor field, signatureCount, dmemMapperOffset, …}}.`,
  options: {
    "extract-fwsec": {
      type: "string",
      valueName: "OUT",
      description: "write the FWSEC ucode (code then data, unpatched) to OUT",
    },
  },
  run: runInspect,
};

async function runInspect(args: ParsedArgs): Promise<number> {
  if (args.positionals.length !== 1) throw new UsageError("inspect takes exactly one FILE");
  const path = args.positionals[0];
  using source = openVbiosFile(path);
  const described = describeVbios(source);
  const out = args.string("extract-fwsec");
  let extracted: { path: string; size: number } | undefined;
  if (out !== undefined) {
    const fwsec = extractFwsec(source);
    await writeOutputFile(out, fwsec.ucode, "--extract-fwsec");
    extracted = { path: out, size: fwsec.ucode.length };
    log.info("wrote {size} bytes of FWSEC ucode to {out}", { size: fwsec.ucode.length, out });
  }
  if (args.json) {
    printJson({ file: path, ...described, ...(extracted ? { extractedFwsec: extracted } : {}) });
    return 0;
  }
  console.log(`${path}: VBIOS ${described.version ?? "(no version)"}`);
  printFields(described);
  if (extracted) console.log(`wrote FWSEC ucode (${extracted.size} bytes) to ${extracted.path}`);
  return 0;
}

const COMMANDS: CommandTable = { inspect: INSPECT };

if (import.meta.main) {
  await runMain(() =>
    runCommandTable(
      { name: "vbios.ts", summary: "inspect an NVIDIA VBIOS and extract FWSEC" },
      COMMANDS,
      Deno.args,
    )
  );
}
