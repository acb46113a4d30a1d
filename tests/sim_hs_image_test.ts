import assert from "node:assert/strict";
import { bufferSource, parseBooter, patchBooter } from "../firmware/mod.ts";
import { forgeBooter, forgeVbios } from "../firmware/forge/mod.ts";
import { checkHsImage, expectedHsLoad } from "../sim/acceptance/hs_image.ts";
import {
  type HsFirmware,
  identifyLoadedImage,
  recogniseBooter,
  recogniseFwsec,
} from "../sim/acceptance/recognise.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";
import { realFirmwareTest } from "./_real.ts";
import { loadBooter, loadFwsecV3, resetFalcon, writeDmem } from "./_sim_driver.ts";

const TU102 = 0x162;
const GA100 = 0x170;
const GA102 = 0x172;
const AD102 = 0x192;

const ga102Like = () =>
  recogniseBooter(
    forgeBooter({
      signatureSize: 384,
      signatureCount: 2,
      fuseVersion: 1,
      ucodeId: 3,
      zeroSignatureIndex: 1,
    }),
    "forged-ga102-booter",
  );

function booterOf(fw: HsFirmware) {
  if (fw.kind !== "booter") throw new Error("not a booter");
  return fw.booter;
}

function expectRule(v: ReturnType<typeof checkHsImage>, rule: keyof typeof HS_ERROR) {
  assert(!v.ok, `expected ${rule}, got acceptance`);
  assert.equal(v.rule, rule, v.reason);
  assert.equal(v.mbox0, HS_ERROR[rule]);
}

Deno.test("forged Turing Booter loaded by hand (PIO, fuse 0) is accepted", () => {
  const fw = recogniseBooter(forgeBooter(), "forged-tu-booter");
  const falcon = loadBooter(booterOf(fw), TU102, { fuseRegister: 0 });
  const v = checkHsImage(fw, falcon, TU102);
  assert(v.ok, v.ok ? "" : v.reason);
  assert.equal(v.signatureIndex, 0);
});

Deno.test("forged GA102 Booter: hand-computed index 0 for fuse mask 0x1 is accepted", () => {
  const fw = ga102Like();
  const falcon = loadBooter(booterOf(fw), GA102, { fuseRegister: 0x1 });
  const v = checkHsImage(fw, falcon, GA102);
  assert(v.ok && v.signatureIndex === 0 && v.fuseVersion === 1);
});

Deno.test("a GA102 Booter patched by firmware/'s patchBooter is accepted (driver-side input)", () => {
  const fw = ga102Like();
  const booter = booterOf(fw);
  const patched = patchBooter(booter, 1);
  const falcon = loadBooter(booter, GA102, { fuseRegister: 0x1 });
  const lh = booter.loadHeader;
  writeDmem(
    falcon,
    0,
    patched.image.subarray(lh.osDataOffset, lh.osDataOffset + lh.osDataSize),
    "dma",
  );
  falcon.brom = { ...patched.brom, modSel: 1 };
  assert(checkHsImage(fw, falcon, GA102).ok);
});

Deno.test("wrong signature index: the other signature is refused", () => {
  const fw = recogniseBooter(
    forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1, ucodeId: 3 }),
    "b",
  );
  const falcon = loadBooter(booterOf(fw), GA102, { fuseRegister: 0x1, signatureIndex: 1 });
  const v = checkHsImage(fw, falcon, GA102);
  expectRule(v, "wrongSignature");
  assert(!v.ok && v.detail?.found === 1 && v.detail?.expected === 0);
});

Deno.test("off-by-one fuse conversion: register 0x3 taken as version 3 is refused", () => {
  const fw = recogniseBooter(
    forgeBooter({ signatureSize: 384, signatureCount: 4, fuseVersion: 3, ucodeId: 3 }),
    "b",
  );
  const booter = booterOf(fw);
  const right = loadBooter(booter, GA102, { fuseRegister: 0x3 });
  const v = checkHsImage(fw, right, GA102);
  assert(v.ok && v.signatureIndex === 1 && v.fuseVersion === 2);
  const wrong = loadBooter(booter, GA102, { fuseRegister: 0x3, registerIsVersion: true });
  expectRule(checkHsImage(fw, wrong, GA102), "wrongSignature");
});

Deno.test("all-zero signature: GA102 Booter with a fuse reading 0 selects the zero one", () => {
  const fw = ga102Like();
  const falcon = loadBooter(booterOf(fw), GA102, { fuseRegister: 0 });
  expectRule(checkHsImage(fw, falcon, GA102), "zeroSignature");
});

Deno.test("a fuse version the file has no signature for is refused", () => {
  const fw = ga102Like();
  const falcon = loadBooter(booterOf(fw), GA102, { fuseRegister: 0x4, signatureIndex: 0 });
  expectRule(checkHsImage(fw, falcon, GA102), "noSignatureForFuse");
});

Deno.test("wrong load method: PIO on GA102, DMA on Turing", () => {
  const ga = ga102Like();
  const pio = loadBooter(booterOf(ga), GA102, { fuseRegister: 1, method: "pio" });
  expectRule(checkHsImage(ga, pio, GA102), "loadMethod");
  const tu = recogniseBooter(forgeBooter(), "tu");
  const dma = loadBooter(booterOf(tu), TU102, { fuseRegister: 0, method: "dma" });
  expectRule(checkHsImage(tu, dma, TU102), "loadMethod");
});

Deno.test("wrong IMEM tags and wrong boot vector are refused", () => {
  const fw = ga102Like();
  const booter = booterOf(fw);
  const tags = loadBooter(booter, GA102, { fuseRegister: 1, secureTagBase: 0 });
  expectRule(checkHsImage(fw, tags, GA102), "imemLayout");
  const boot = loadBooter(booter, GA102, { fuseRegister: 1, bootVector: 0 });
  expectRule(checkHsImage(fw, boot, GA102), "bootVector");
  // The Turing layout's boot vector is the OS code, not the app.
  const tu = recogniseBooter(forgeBooter(), "tu");
  const app = booterOf(tu).loadHeader.apps[0].codeOffset;
  const tuBoot = loadBooter(booterOf(tu), TU102, { fuseRegister: 0, bootVector: app });
  expectRule(checkHsImage(tu, tuBoot, TU102), "bootVector");
});

Deno.test("BROM registers: missing or a wrong pkc offset is refused on GA102, ignored on Turing", () => {
  const fw = ga102Like();
  const booter = booterOf(fw);
  const none = loadBooter(booter, GA102, { fuseRegister: 1, noBrom: true });
  expectRule(checkHsImage(fw, none, GA102), "bromParams");
  const pkc = booter.patchLocation - booter.loadHeader.osDataOffset;
  const wrong = loadBooter(booter, GA102, {
    fuseRegister: 1,
    brom: { pkcDataOffset: pkc + 16, engineIdMask: 1, ucodeId: 3, modSel: 1 },
  });
  const v = checkHsImage(fw, wrong, GA102);
  expectRule(v, "bromParams");
  assert(!v.ok && v.reason.includes("pkcDataOffset"));
  const aes = loadBooter(booter, GA102, {
    fuseRegister: 1,
    brom: { pkcDataOffset: pkc, engineIdMask: 1, ucodeId: 3, modSel: 0 },
  });
  expectRule(checkHsImage(fw, aes, GA102), "bromParams");
  const tu = recogniseBooter(forgeBooter(), "tu");
  assert(checkHsImage(tu, loadBooter(booterOf(tu), TU102, { fuseRegister: 0 }), TU102).ok);
});

Deno.test("a modified code or data byte is refused", () => {
  const fw = ga102Like();
  const code = loadBooter(booterOf(fw), GA102, { fuseRegister: 1 });
  code.imem[0x40] ^= 1;
  expectRule(checkHsImage(fw, code, GA102), "imageModified");
  const data = loadBooter(booterOf(fw), GA102, { fuseRegister: 1 });
  data.dmem[0x800] ^= 1;
  expectRule(checkHsImage(fw, data, GA102), "imageModified");
});

Deno.test("a Booter with two apps is not an image the boot ROM runs", () => {
  const fw = recogniseBooter(forgeBooter({ appCodeSizes: [0x1000, 0x1000] }), "two-apps");
  const falcon = loadBooter(booterOf(fw), TU102, { fuseRegister: 0 });
  expectRule(checkHsImage(fw, falcon, TU102), "unknownImage");
});

Deno.test("nothing loaded: the first block was never written", () => {
  const fw = ga102Like();
  const falcon = resetFalcon();
  falcon.dmemMethod = "dma";
  expectRule(checkHsImage(fw, falcon, GA102), "imemLayout");
});

Deno.test("GA100 loads Booter as Turing does (PIO, OS code non-secure) but has no BROM", () => {
  const fw = recogniseBooter(forgeBooter({ signatureSize: 384, ucodeId: 3 }), "ga100");
  const plan = expectedHsLoad(fw, GA100);
  assert(plan.method === "pio" && plan.brom === undefined && plan.imem.length === 2);
  assert(checkHsImage(fw, loadBooter(booterOf(fw), GA100, { fuseRegister: 0 }), GA100).ok);
});

Deno.test("forged FWSEC v3: DMA-loaded with the fuse's signature is accepted; PIO is not", () => {
  const vbios = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b111, zeroSignatures: [0] });
  const fw = recogniseFwsec(bufferSource(vbios.bytes));
  if (fw.kind !== "fwsec") throw new Error("not fwsec");
  const command = { command: 0x15, frtsStart: 0x1ff00000, frtsSize: 0x100000 };
  const ok = checkHsImage(fw, loadFwsecV3(fw.fwsec, 0x1, command), GA102);
  assert(ok.ok && ok.signatureIndex === 1, ok.ok ? "" : ok.reason);
  expectRule(
    checkHsImage(fw, loadFwsecV3(fw.fwsec, 0x1, command, { method: "pio" }), GA102),
    "loadMethod",
  );
  // Fuse register 0 selects version 0, whose signature this VBIOS left zero.
  expectRule(checkHsImage(fw, loadFwsecV3(fw.fwsec, 0, command), GA102), "zeroSignature");
  // Patching the wrong slot.
  expectRule(
    checkHsImage(fw, loadFwsecV3(fw.fwsec, 0x2, command, { signatureIndex: 1 }), GA102),
    "wrongSignature",
  );
});

Deno.test("identifyLoadedImage tells booter_load from booter_unload by their code", () => {
  const load = recogniseBooter(forgeBooter({ seed: 3 }), "booter_load");
  const unload = recogniseBooter(forgeBooter({ seed: 4 }), "booter_unload");
  const falcon = loadBooter(booterOf(unload), TU102, { fuseRegister: 0 });
  assert.equal(identifyLoadedImage(falcon.imem, [load, unload])?.name, "booter_unload");
});

for (
  const [chip, chipset, fuseRegister, expectedIndex] of [
    ["tu102", TU102, 0, 0],
    ["ga100", GA100, 0, 0],
    ["ga102", GA102, 0x1, 0],
    ["ad102", AD102, 0x1, 0],
  ] as const
) {
  realFirmwareTest(
    `real ${chip} 570.144 booter_load/unload loaded by hand are accepted`,
    [`nvidia/${chip}/gsp/booter_load-570.144.bin`, `nvidia/${chip}/gsp/booter_unload-570.144.bin`],
    (paths) => {
      for (const path of paths) {
        const fw = recogniseBooter(Deno.readFileSync(path), path);
        const v = checkHsImage(fw, loadBooter(booterOf(fw), chipset, { fuseRegister }), chipset);
        assert(v.ok, v.ok ? "" : v.reason);
        assert.equal(v.signatureIndex, expectedIndex);
      }
    },
  );
}

realFirmwareTest(
  "real GA102 Booter: fuse 0 selects the all-zero second signature; AD102's is real",
  ["nvidia/ga102/gsp/booter_load-570.144.bin", "nvidia/ad102/gsp/booter_load-570.144.bin"],
  ([ga102Path, ad102Path]) => {
    const ga = recogniseBooter(Deno.readFileSync(ga102Path), ga102Path);
    expectRule(
      checkHsImage(ga, loadBooter(booterOf(ga), GA102, { fuseRegister: 0 }), GA102),
      "zeroSignature",
    );
    const ad = recogniseBooter(Deno.readFileSync(ad102Path), ad102Path);
    const v = checkHsImage(ad, loadBooter(booterOf(ad), AD102, { fuseRegister: 0 }), AD102);
    assert(v.ok && v.signatureIndex === 1);
    // parseBooter is the only firmware/ code the rules use: it sees the same file.
    assert.equal(parseBooter(Deno.readFileSync(ga102Path)).signatureCount, 2);
  },
);
