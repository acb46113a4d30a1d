// The firmware a simulated GPU recognises: by name, by the manifest's hash,
// the forged default, a firmware folder read by SimulatedGpu.create, and what
// happens when the host loads a file the simulator does not know.

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import { SimulatedGpu } from "../sim/mod.ts";
import {
  firmwareRoleOf,
  forgedFirmwareFiles,
  SimFirmwareError,
  SimFirmwareSet,
} from "../sim/execution/mod.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";
import { HandBoot, type HandBootError, parseFirmwareSet } from "./_hand_boot.ts";
import { realFirmwareTest } from "./_real.ts";

Deno.test("roles come from the file name, whatever the folder", () => {
  assert.equal(firmwareRoleOf("nvidia/ga102/gsp/booter_unload-570.144.bin"), "booter_unload");
  assert.equal(firmwareRoleOf("bootloader-535.113.01.bin"), "bootloader");
  assert.equal(firmwareRoleOf("gen_bootloader"), "gen_bootloader");
  assert.equal(firmwareRoleOf("scrubber-570.144.bin"), undefined);
});

Deno.test("a file named nothing known and not in the manifest is refused, naming it", () => {
  const set = new SimFirmwareSet(0x172);
  assert.throws(
    () => set.add("mystery.bin", new Uint8Array(64)),
    (e) => e instanceof SimFirmwareError && e.file === "mystery.bin",
  );
});

Deno.test("the forged default: Booters told apart, the GSP image hashed for the radix3 walk", () => {
  for (const chip of ["tu102", "ga100", "ga102", "ad102"]) {
    const set = new SimFirmwareSet(chipByName(chip)!.chipsetId, forgedFirmwareFiles(chip));
    const [load, unload] = set.booters();
    assert.equal(set.booterRole(load), "booter_load");
    assert.equal(set.booterRole(unload), "booter_unload");
    assert.equal(set.gsp()?.sha256.length, 64);
    assert.equal(set.genBootloader() !== undefined, chip === "tu102" || chip === "ga100");
  }
});

Deno.test("a Booter the simulator does not know halts SEC2 with unknownImage", async () => {
  // The GPU knows no file at all; the host brings its own (forged) set.
  await using gpu = new SimulatedGpu({ chip: "ga102", firmware: {} });
  const files = Object.fromEntries(
    Object.entries(forgedFirmwareFiles("ga102")).map(([n, b]) => [n.split("-")[0], b]),
  );
  using hb = new HandBoot(gpu, parseFirmwareSet("ga102", files, "forged"));
  await hb.waitGfwBoot();
  hb.readVbios();
  hb.computeLayout();
  await hb.fwsecFrts(); // FWSEC comes from the PROM: known without files
  hb.buildLibos();
  await hb.prepareGsp();
  hb.buildWprMeta();
  const e = await hb.booterLoad().then(() => undefined, (e) => e as HandBootError);
  assert.equal(e?.value, HS_ERROR.unknownImage);
});

Deno.test("firmwareDir: only SimulatedGpu.create reads it; a missing folder is named", async () => {
  assert.throws(
    () => new SimulatedGpu({ chip: "tu102", firmwareDir: "/nonexistent" }),
    /use SimulatedGpu.create/,
  );
  await assert.rejects(
    SimulatedGpu.create({ chip: "tu102", firmwareDir: "/nonexistent/falconry-fw" }),
    (e) => e instanceof FalconryError && /\/nonexistent\/falconry-fw/.test(e.message),
  );
});

realFirmwareTest(
  "firmwareDir: the real TU102 files are recognised (and the real Booter by its hash alone)",
  ["nvidia/tu102/gsp/booter_load-570.144.bin", "nvidia/tu102/gsp/gsp-570.144.bin"],
  async ([booterLoad, gsp]) => {
    const root = gsp.slice(0, gsp.indexOf("/nvidia/"));
    await using gpu = await SimulatedGpu.create({ chip: "tu102", firmwareDir: root });
    assert.deepEqual(
      gpu.execution.firmware.names.map((n) => firmwareRoleOf(n)).sort(),
      ["booter_load", "booter_unload", "bootloader", "gen_bootloader", "gsp"],
    );
    const set = new SimFirmwareSet(0x162);
    set.add("renamed.bin", await Deno.readFile(booterLoad)); // by the manifest's sha256
    assert.equal(set.booterRole(set.booters()[0]), "booter_load");
  },
);
