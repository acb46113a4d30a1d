// Tests of gsp/fsp_family.ts: the FSP path's per-family facts against the reference (§4.3: COT
// version, fb_end_reserved_size, the FRTS offset with and without a PMU reservation; §13 and
// real-files.md: the FMC key and signature sizes), and against the forged FMC files' sizes.

import assert from "node:assert/strict";
import { CHIPS, familyOf } from "../chips/chips.ts";
import { FMC_SIZES } from "../firmware/forge/elf.ts";
import { computeFbSizes } from "../gsp/fb_layout.ts";
import { bootsThroughFsp, frtsVidmemOffset, fspFactsOf } from "../gsp/fsp_family.ts";

const MiB = 2 ** 20;

Deno.test("every FSP-path chip has facts, and no SEC2-path chip has", () => {
  for (const chip of CHIPS) {
    assert.equal(bootsThroughFsp(chip), familyOf(chip).bootPath === "fsp", chip.name);
    if (bootsThroughFsp(chip)) fspFactsOf(chip);
    else assert.throws(() => fspFactsOf(chip), /SEC2/, chip.name);
  }
});

Deno.test("COT version 1 on Hopper, 2 on Blackwell; FMC sizes as the real files have them", () => {
  for (const chip of CHIPS.filter(bootsThroughFsp)) {
    const facts = fspFactsOf(chip);
    const hopper = chip.arch === "hopper";
    assert.equal(facts.cotVersion, hopper ? 1 : 2, chip.name);
    const sizes = FMC_SIZES[chip.family as keyof typeof FMC_SIZES];
    assert.equal(facts.fmcPublicKeySize, sizes.publicKey, chip.name);
    assert.equal(facts.fmcSignatureSize, sizes.signature, chip.name);
  }
});

Deno.test("frtsVidmemOffset: 2 MiB on GH100, 28 MiB (0x1c00000) on Blackwell with its PMU reservation", () => {
  for (const chip of CHIPS.filter(bootsThroughFsp)) {
    const pmu = computeFbSizes({ chip, fbSize: 80 * 1024 * MiB }).pmuReservedSize;
    const offset = frtsVidmemOffset(chip, pmu);
    assert.equal(offset, chip.arch === "hopper" ? 2 * MiB : 0x1c00000, chip.name);
    assert.equal(offset % (2 * MiB), 0, chip.name);
  }
  // Without a PMU reservation, the family's reserved size as it is (not rounded).
  const gb202 = CHIPS.find((c) => c.name === "gb202")!;
  assert.equal(frtsVidmemOffset(gb202, 0), 2 * MiB + 128 * 1024);
});
