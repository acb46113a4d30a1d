// Names for ELF header numbers (firmware/elf_names.ts), and how describeFirmware shows them
// next to the numbers.

import assert from "node:assert/strict";
import {
  ELF_SECTION_FLAGS,
  ELF_VALUE_NAMES,
  elfHeaderFlagNames,
  elfSectionFlagNames,
  elfValueName,
} from "../firmware/elf_names.ts";
import { describeFirmware } from "../firmware/describe.ts";
import { SHT_NOBITS } from "../firmware/elf.ts";
import { forgeFmc, forgeGspImage } from "../firmware/forge/mod.ts";
import { fileSource } from "../loader/gsp_image.ts";
import { realFirmwareTest } from "./_real.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("elf names: the gABI values falconry meets", () => {
  assert.equal(elfValueName("machine", 243), "RISC-V");
  assert.equal(elfValueName("machine", 0), "none");
  assert.equal(elfValueName("elfClass", 64), "ELF64");
  assert.equal(elfValueName("data", 1), "little-endian");
  assert.equal(elfValueName("osAbi", 0), "System V");
  assert.equal(elfValueName("type", 2), "EXEC");
  assert.equal(elfValueName("sectionType", SHT_NOBITS), "NOBITS");
  assert.equal(elfValueName("sectionType", 3), "STRTAB");
  // Unknown numbers, and names of Object.prototype, are no names.
  assert.equal(elfValueName("machine", 0xffff), undefined);
  assert.equal(elfValueName("type", Number("toString")), undefined);
  for (const names of Object.values(ELF_VALUE_NAMES)) {
    assert.equal(new Set(Object.values(names)).size, Object.keys(names).length, "names are unique");
  }
});

Deno.test("elf names: section flags name each set bit, unknown bits as hex", () => {
  assert.deepEqual(elfSectionFlagNames(0), []);
  assert.deepEqual(elfSectionFlagNames(0x2 | 0x4), ["ALLOC", "EXECINSTR"]);
  assert.deepEqual(elfSectionFlagNames(0x30), ["MERGE", "STRINGS"]);
  assert.deepEqual(elfSectionFlagNames(0x1008), ["0x8", "0x1000"]);
  assert.deepEqual(elfSectionFlagNames(2 ** 40 + 1), ["WRITE", "0x10000000000"]);
  for (const [bit, name] of ELF_SECTION_FLAGS) assert.deepEqual(elfSectionFlagNames(bit), [name]);
});

Deno.test("elf names: RISC-V header flags", () => {
  assert.deepEqual(elfHeaderFlagNames(243, 0), ["soft-float"]);
  assert.deepEqual(elfHeaderFlagNames(243, 0x1 | 0x4 | 0x10), ["RVC", "double-float", "TSO"]);
  assert.deepEqual(elfHeaderFlagNames(243, 0x6 | 0x8), ["quad-float", "RVE"]);
  assert.deepEqual(elfHeaderFlagNames(0, 0x5), []);
});

Deno.test("describeFirmware: ELF numbers come with their names, the numbers stay", () => {
  const fmc = describeFirmware(forgeFmc(), "fmc-570.144.bin") as Json;
  assert.equal(fmc.elfClass, 32);
  assert.equal(fmc.elfClassName, "ELF32");
  assert.equal(fmc.dataName, "little-endian");
  assert.equal(fmc.machine, 0);
  assert.equal(fmc.machineName, "none");
  assert.equal(fmc.typeName, "NONE");
  assert.equal(fmc.osAbiName, "System V");
  const keys = Object.keys(fmc);
  assert.equal(keys.indexOf("machineName"), keys.indexOf("machine") + 1, "the name follows");

  // A GSP image made a RISC-V executable with compressed instructions and the double-float ABI.
  const gsp = forgeGspImage();
  const view = new DataView(gsp.buffer, gsp.byteOffset, gsp.byteLength);
  view.setUint16(16, 2, true);
  view.setUint16(18, 243, true);
  view.setUint32(48, 0x5, true);
  const d = describeFirmware(gsp, "gsp-570.144.bin") as Json;
  assert.equal(d.kind, "gsp-image");
  assert.deepEqual(
    [d.machine, d.machineName, d.type, d.typeName, d.flags, d.flagNames],
    [243, "RISC-V", 2, "EXEC", 5, ["RVC", "double-float"]],
  );
  const strtab = d.sections.find((s: Json) => s.name === ".shstrtab");
  assert.deepEqual([strtab.type, strtab.typeName], [3, "STRTAB"]);
  for (const s of d.sections) {
    assert.ok(Array.isArray(s.flagNames), s.name);
    assert.equal(s.flagNames.length > 0, s.flags !== 0, s.name);
  }
});

realFirmwareTest(
  "describeFirmware: the real GH100 FMC and GA102 GSP image name their ELF fields",
  ["nvidia/gh100/gsp/fmc-570.144.bin", "nvidia/ga102/gsp/gsp-570.144.bin"],
  ([fmcPath, gspPath]) => {
    const fmc = describeFirmware(Deno.readFileSync(fmcPath), fmcPath) as Json;
    assert.equal(fmc.elfClassName, "ELF32");
    assert.equal(typeof fmc.machineName, "string");
    using file = fileSource(gspPath);
    const gsp = describeFirmware(file, gspPath) as Json;
    assert.equal(gsp.elfClassName, "ELF64");
    assert.ok(gsp.sections.every((s: Json) => typeof s.typeName === "string"), "every type named");
  },
);
