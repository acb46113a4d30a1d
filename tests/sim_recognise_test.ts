import assert from "node:assert/strict";
import { bufferSource } from "../firmware/mod.ts";
import { forgeBooter } from "../firmware/forge/mod.ts";
import {
  identifyLoadedImage,
  recogniseBooter,
  recogniseFwsec,
  secureCodeHead,
} from "../sim/acceptance/recognise.ts";
import { findRealFirmware, realVbiosTest } from "./_real.ts";
import { loadBooter } from "./_sim_driver.ts";

Deno.test("a non-Booter file is not recognised as one", () => {
  assert.throws(() => recogniseBooter(new Uint8Array(64), "junk"), /junk/);
});

Deno.test("an IMEM holding only part of the secure code's first block is unknown", () => {
  const fw = recogniseBooter(forgeBooter(), "b");
  const imem = new Uint8Array(0x10000);
  imem.set(secureCodeHead(fw).subarray(0, 255), 0x1000);
  assert.equal(identifyLoadedImage(imem, [fw]), undefined);
});

realVbiosTest(
  "the TU102 VBIOS's FWSEC and the real Booters are told apart by their code",
  (bytes) => {
    const fwsec = recogniseFwsec(bufferSource(bytes), "FWSEC");
    const candidates = [fwsec];
    for (const name of ["booter_load", "booter_unload"]) {
      const path = findRealFirmware(`nvidia/tu102/gsp/${name}-570.144.bin`);
      if (path) candidates.push(recogniseBooter(Deno.readFileSync(path), name));
    }
    const booters = candidates.filter((c) => c.kind === "booter");
    for (const booter of booters) {
      if (booter.kind !== "booter") continue;
      const falcon = loadBooter(booter.booter, 0x162, { fuseRegister: 0 });
      assert.equal(identifyLoadedImage(falcon.imem, candidates)?.name, booter.name);
    }
    const imem = new Uint8Array(0x10000);
    imem.set(secureCodeHead(fwsec), 0x300);
    assert.equal(identifyLoadedImage(imem, candidates)?.name, "FWSEC");
  },
);
