import assert from "node:assert/strict";
import { forgeGspImage, GSP_SIGNATURE_SECTIONS_TU } from "../firmware/forge/mod.ts";
import { gspFirmwareForChip, gspSignatureSectionFor } from "../sim/acceptance/gsp_firmware.ts";
import { realFirmwareTest } from "./_real.ts";

Deno.test("signature sections per chip: GA100 takes .fwsignature_ga100 (real-files.md)", () => {
  const table: [number, string][] = [
    [0x162, "tu10x"],
    [0x166, "tu10x"],
    [0x167, "tu11x"],
    [0x168, "tu11x"],
    [0x170, "ga100"],
    [0x172, "ga10x"],
    [0x177, "ga10x"],
    [0x192, "ad10x"],
    [0x197, "ad10x"],
  ];
  for (const [chipset, family] of table) {
    assert.equal(gspSignatureSectionFor(chipset), `.fwsignature_${family}`);
  }
  assert.throws(() => gspSignatureSectionFor(0x171), RangeError);
});

Deno.test("a forged Turing image lacks the GA102 section", () => {
  const file = forgeGspImage({ signatureSections: GSP_SIGNATURE_SECTIONS_TU });
  assert.equal(gspFirmwareForChip(file, 0x170).signature.length, 4096);
  assert.throws(() => gspFirmwareForChip(file, 0x172), /fwsignature_ga10x/);
});

realFirmwareTest(
  "real 570.144 GSP images carry the section of every chip that uses them",
  ["nvidia/tu102/gsp/gsp-570.144.bin", "nvidia/ga102/gsp/gsp-570.144.bin"],
  ([tu, ga]) => {
    const tuFile = Deno.readFileSync(tu);
    for (const chipset of [0x162, 0x168, 0x170]) {
      assert.equal(gspFirmwareForChip(tuFile, chipset).version, "570.144");
    }
    const gaFile = Deno.readFileSync(ga);
    const ga102 = gspFirmwareForChip(gaFile, 0x172);
    const ad102 = gspFirmwareForChip(gaFile, 0x192);
    assert.notDeepEqual(ga102.signature, ad102.signature);
    assert.equal(ga102.image.length, ad102.image.length);
  },
);
