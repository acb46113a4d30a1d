// Tests of chips/chips.ts: the falcon HAL is one field per family, and every HAL fact derives
// from it; chips/ imports nothing of falconry but errors.ts and firmware/ types.

import assert from "node:assert/strict";
import {
  booterLayoutOf,
  chipByName,
  CHIPS,
  FALCON_HALS,
  falconHalOf,
  FAMILIES,
} from "../chips/chips.ts";

Deno.test("falcon HAL per family: TU102 for Turing and GA100, GA102 for GA10x/Ada, GH100 after", () => {
  const hal = (chip: string) => falconHalOf(chipByName(chip)!).name;
  assert.deepEqual(["tu102", "tu117", "ga100"].map(hal), ["tu102", "tu102", "tu102"]);
  assert.deepEqual(["ga102", "ga107", "ad102"].map(hal), ["ga102", "ga102", "ga102"]);
  assert.deepEqual(["gh100", "gb100", "gb202"].map(hal), ["gh100", "gh100", "gh100"]);
});

Deno.test("HAL facts derive from the HAL: load method, fuses, BROM, core select, layout", () => {
  for (const chip of CHIPS) {
    const family = FAMILIES[chip.family];
    const hal = falconHalOf(chip);
    assert.equal(hal, FALCON_HALS[family.falconHal]);
    const turingStyle = family.falconHal === "tu102";
    assert.equal(hal.loadMethod, turingStyle ? "pio" : "dma");
    assert.equal(hal.readsSignatureFuses, !turingStyle);
    assert.equal(hal.programsBrom, !turingStyle);
    assert.equal(hal.selectsCore, !turingStyle);
    assert.equal(family.fwsecNeedsBootloader, turingStyle);
    if (family.bootPath === "sec2") {
      assert.equal(booterLayoutOf(chip), turingStyle ? "tu102" : "ga102");
    } else {
      assert.throws(() => booterLayoutOf(chip), /no Booter/);
    }
  }
});

Deno.test("chips/ imports nothing of falconry but errors.ts and firmware/ types", async () => {
  const dir = new URL("../chips/", import.meta.url);
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".ts")) continue;
    const source = await Deno.readTextFile(new URL(entry.name, dir));
    for (const m of source.matchAll(/^(import|export)(\s+type)?[^;]*?from\s+"([^"]+)"/gms)) {
      const [, , typeOnly, spec] = m;
      if (spec.startsWith("npm:") || spec.startsWith("node:") || spec.startsWith("./")) continue;
      if (spec === "../errors.ts") continue;
      assert.ok(
        spec.startsWith("../firmware/") && typeOnly !== undefined,
        `chips/${entry.name} imports ${spec}${typeOnly ? " (types)" : ""}`,
      );
    }
  }
});
