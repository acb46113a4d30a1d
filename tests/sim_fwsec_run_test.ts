import assert from "node:assert/strict";
import { bufferSource, parseGenBootloader } from "../firmware/mod.ts";
import { forgeGenBootloader, forgeVbios } from "../firmware/forge/mod.ts";
import { runGenBootloader } from "../sim/acceptance/gen_bootloader_run.ts";
import { checkHsImage } from "../sim/acceptance/hs_image.ts";
import { recogniseFwsec } from "../sim/acceptance/recognise.ts";
import { runFwsec } from "../sim/acceptance/fwsec_run.ts";
import { FRTS_ERROR } from "../sim/acceptance/verdict.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { findRealFirmware, realVbiosTest } from "./_real.ts";
import { type FwsecCommandOptions, loadFwsecV2, loadFwsecV3 } from "./_sim_driver.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const GA102 = 0x172;
const TU102 = 0x162;
// The driver's FRTS region for a board without display (§3.5), computed by hand.
const fbSize = 12 * GiB;
const frtsStart = Math.floor((fbSize - MiB) / 0x20000) * 0x20000 - MiB;
const noWpr2 = { lo: 0, hi: 0 };
const chip = { fbSize, displayFuse: 1, vgaWorkspaceRegister: 0 };

function forgedV3() {
  const fw = recogniseFwsec(bufferSource(forgeVbios({ descriptorVersion: 3 }).bytes));
  if (fw.kind !== "fwsec" || fw.fwsec.descriptor.descriptorVersion !== 3) throw new Error("v3");
  return { fw, fwsec: fw.fwsec, descriptor: fw.fwsec.descriptor };
}

/** Load a forged v3 FWSEC, check it as the BROM does, and run its command. */
function runV3(command: FwsecCommandOptions, wpr2 = noWpr2, extra: Partial<typeof chip> = {}) {
  const { fw, fwsec, descriptor } = forgedV3();
  const falcon = loadFwsecV3(fwsec, 0x1, command);
  const hs = checkHsImage(fw, falcon, GA102);
  assert(hs.ok, hs.ok ? "" : hs.reason);
  return runFwsec({
    dmem: falcon.dmem,
    interfaceOffset: descriptor.dmemPhysBase + descriptor.interfaceOffset,
    wpr2,
    ...chip,
    ...extra,
  });
}

function expectFrtsError(v: ReturnType<typeof runFwsec>, rule: keyof typeof FRTS_ERROR) {
  assert(!v.ok, `expected ${rule}`);
  assert.equal(v.rule, rule, v.reason);
  assert.equal(v.frtsError, FRTS_ERROR[rule]);
  assert.equal(v.mbox0, 0);
}

Deno.test("FWSEC-FRTS (forged v3) sets WPR2 to the FRTS region", () => {
  const v = runV3({ command: 0x15, frtsStart, frtsSize: MiB });
  assert(v.ok && v.command === "frts", v.ok ? "" : v.reason);
  assert.deepEqual(v.region, { start: frtsStart, end: frtsStart + MiB });
  assert.deepEqual(v.wpr2, { lo: (frtsStart / 4096) * 16, hi: ((frtsStart + MiB) / 4096) * 16 });
});

Deno.test("an unpatched DMEM mapper is refused (badCommand) and WPR2 stays unset", () => {
  expectFrtsError(runV3({}), "badCommand");
});

Deno.test("FRTS while WPR2 is already set is refused", () => {
  const wpr2 = { lo: (frtsStart / 4096) * 16, hi: ((frtsStart + MiB) / 4096) * 16 };
  expectFrtsError(runV3({ command: 0x15, frtsStart, frtsSize: MiB }, wpr2), "wpr2AlreadySet");
});

Deno.test("the FRTS region must be 1 MiB, 128 KiB aligned, inside VRAM, below the VGA workspace", () => {
  expectFrtsError(runV3({ command: 0x15, frtsStart, frtsSize: 2 * MiB }), "badRegionSize");
  expectFrtsError(
    runV3({ command: 0x15, frtsStart: frtsStart + 0x1000, frtsSize: MiB }),
    "badRegionAlignment",
  );
  expectFrtsError(runV3({ command: 0x15, frtsStart: fbSize, frtsSize: MiB }), "regionOutsideFb");
  expectFrtsError(
    runV3({ command: 0x15, frtsStart: fbSize - MiB, frtsSize: MiB }),
    "regionOverlapsVga",
  );
  // With a display, PDISP names the workspace (here the last 256 KiB): a region computed as if
  // it were the last 128 KiB reaches into it; one ending at its aligned base is fine.
  const vgaBase = fbSize - 256 * 1024;
  const display = { displayFuse: 0, vgaWorkspaceRegister: ((vgaBase / 65536) << 8) | 0x8 };
  const tooHigh = fbSize - 128 * 1024 - MiB;
  expectFrtsError(
    runV3({ command: 0x15, frtsStart: tooHigh, frtsSize: MiB }, noWpr2, display),
    "regionOverlapsVga",
  );
  const below = Math.floor(vgaBase / 0x20000) * 0x20000 - MiB;
  const ok = runV3({ command: 0x15, frtsStart: below, frtsSize: MiB }, noWpr2, display);
  assert(ok.ok, ok.ok ? "" : ok.reason);
  // Without a display the same register is ignored: the workspace is the last 1 MiB.
  expectFrtsError(
    runV3({ command: 0x15, frtsStart: below, frtsSize: MiB }, noWpr2, {
      ...display,
      displayFuse: 1,
    }),
    "regionOverlapsVga",
  );
});

Deno.test("fault: FRTS accepted but WPR2 left unset", () => {
  const { fw, fwsec, descriptor } = forgedV3();
  const falcon = loadFwsecV3(fwsec, 0x1, { command: 0x15, frtsStart, frtsSize: MiB });
  assert(checkHsImage(fw, falcon, GA102).ok);
  const v = runFwsec({
    dmem: falcon.dmem,
    interfaceOffset: descriptor.interfaceOffset,
    wpr2: noWpr2,
    ...chip,
    fault: "wpr2-unset",
  });
  assert(v.ok && v.command === "frts" && v.wpr2 === null && v.frtsError === 0);
});

Deno.test("FWSEC-SB returns the GSP falcon to its pre-LibOS state and leaves WPR2 alone", () => {
  const wpr2 = { lo: 0x100, hi: 0x200 };
  const v = runV3({ command: 0x19 }, wpr2);
  assert(v.ok && v.command === "sb");
  assert.deepEqual(v.gsp, {
    riscvActive: false,
    coreSelect: "falcon",
    halted: true,
    mailbox0: 0,
    mailbox1: 0,
  });
  assert(!("wpr2" in v));
});

Deno.test("a malformed ReadVbios descriptor is refused", () => {
  const { fw, fwsec, descriptor } = forgedV3();
  const falcon = loadFwsecV3(fwsec, 0x1, { command: 0x15, frtsStart, frtsSize: MiB });
  assert(checkHsImage(fw, falcon, GA102).ok);
  const cmdIn = fwsec.dmemMapper!.cmdInBufferOffset;
  new DataView(falcon.dmem.buffer).setUint32(cmdIn + 20, 0, true); // flags 0
  const v = runFwsec({
    dmem: falcon.dmem,
    interfaceOffset: descriptor.interfaceOffset,
    wpr2: noWpr2,
    ...chip,
  });
  expectFrtsError(v, "badReadVbios");
});

Deno.test("forged v2 FWSEC through the forged generic bootloader runs FRTS on Turing", () => {
  const fw = recogniseFwsec(bufferSource(forgeVbios({ descriptorVersion: 2 }).bytes));
  if (fw.kind !== "fwsec") throw new Error("fwsec");
  const bl = parseGenBootloader(forgeGenBootloader());
  const memory = new SystemMemory();
  const { falcon, mapping } = loadFwsecV2(
    fw.fwsec,
    { ...bl.descriptor, code: bl.code },
    { command: 0x15, frtsStart, frtsSize: MiB },
    memory,
    0x8000_0000n,
  );
  using _m = mapping;
  const ran = runGenBootloader({
    falcon,
    bootloader: { ...bl.descriptor, code: bl.code },
    transcfg: [0, 0, 0, 0, 0x5],
    dma: memory,
  });
  assert(ran.ok, ran.ok ? "" : ran.reason);
  const hs = checkHsImage(fw, ran.falcon, TU102);
  assert(hs.ok && hs.signatureIndex === undefined, hs.ok ? "" : hs.reason);
  const d = fw.fwsec.descriptor;
  const v = runFwsec({
    dmem: ran.falcon.dmem,
    interfaceOffset: d.dmemPhysBase + d.interfaceOffset,
    wpr2: noWpr2,
    ...chip,
  });
  assert(v.ok && v.command === "frts");
});

realVbiosTest("real TU102 VBIOS: FWSEC-FRTS through the real generic bootloader", (bytes) => {
  const genPath = findRealFirmware("nvidia/tu102/gsp/gen_bootloader-570.144.bin");
  // The generic bootloader comes with the real firmware; without it, the forged one.
  const bl = parseGenBootloader(genPath ? Deno.readFileSync(genPath) : forgeGenBootloader());
  const fw = recogniseFwsec(bufferSource(bytes), "TU102.rom FWSEC");
  if (fw.kind !== "fwsec") throw new Error("fwsec");
  assert.equal(fw.fwsec.descriptor.descriptorVersion, 2);
  const memory = new SystemMemory();
  const board = { fbSize: 11 * GiB, displayFuse: 1, vgaWorkspaceRegister: 0 };
  const start = Math.floor((board.fbSize - MiB) / 0x20000) * 0x20000 - MiB;
  for (const [command, expected] of [[0x15, "frts"], [0x19, "sb"]] as const) {
    const { falcon, mapping } = loadFwsecV2(
      fw.fwsec,
      { ...bl.descriptor, code: bl.code },
      { command, frtsStart: start, frtsSize: MiB },
      memory,
      0x8000_0000n,
    );
    using _m = mapping;
    const ran = runGenBootloader({
      falcon,
      bootloader: { ...bl.descriptor, code: bl.code },
      transcfg: [0, 0, 0, 0, 0x5],
      dma: memory,
    });
    assert(ran.ok, ran.ok ? "" : ran.reason);
    const hs = checkHsImage(fw, ran.falcon, TU102);
    assert(hs.ok, hs.ok ? "" : hs.reason);
    const d = fw.fwsec.descriptor;
    const v = runFwsec({
      dmem: ran.falcon.dmem,
      interfaceOffset: d.dmemPhysBase + d.interfaceOffset,
      wpr2: noWpr2,
      ...board,
    });
    assert(v.ok && v.command === expected, v.ok ? "" : v.reason);
    if (v.command === "frts") assert.equal(v.region.start, start);
  }
  // Unpatched: the real VBIOS's mapper ships with init_cmd 0.
  const { falcon, mapping } = loadFwsecV2(
    fw.fwsec,
    { ...bl.descriptor, code: bl.code },
    {},
    memory,
    0x8000_0000n,
  );
  using _m = mapping;
  const ran = runGenBootloader({
    falcon,
    bootloader: { ...bl.descriptor, code: bl.code },
    transcfg: [0, 0, 0, 0, 0x5],
    dma: memory,
  });
  assert(ran.ok);
  assert(checkHsImage(fw, ran.falcon, TU102).ok);
  const v = runFwsec({
    dmem: ran.falcon.dmem,
    interfaceOffset: fw.fwsec.descriptor.interfaceOffset,
    wpr2: noWpr2,
    ...board,
  });
  expectFrtsError(v, "badCommand");
});
