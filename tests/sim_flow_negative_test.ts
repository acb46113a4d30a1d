// Each acceptance rule of issue 9, broken once by the hand-driven host
// (tests/_hand_boot.ts) on a whole SimulatedGpu: the simulated hardware must
// refuse it with the hardware's own symptom, read back through BAR0 as a
// driver would see it: a falcon halted with an error in MBOX0, an FRTS error
// in SW_SCRATCH(0xe) 31:16, a falcon stopped by an IOMMU fault, or GSP-RM
// never answering. Forged firmware, so that every case runs without the real
// files; the error codes are the simulator's (sim/acceptance/verdict.ts).

import assert from "node:assert/strict";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import { FRTS_ERROR, HS_ERROR } from "../sim/acceptance/verdict.ts";
import {
  forgedFirmware,
  HandBoot,
  HandBootError,
  type HandFirmware,
  type HandMistakes,
  realFirmware,
  simulatedGpuFor,
} from "./_hand_boot.ts";
import { realFirmwareRoot } from "./_real.ts";

const firmware = new Map<string, HandFirmware>();
function fw(chip: string): HandFirmware {
  let set = firmware.get(chip);
  if (!set) firmware.set(chip, set = forgedFirmware(chip));
  return set;
}

/** Run `steps` on a fresh GPU with one mistake; returns the error the host saw. */
async function refused(
  chip: string,
  mistakes: HandMistakes,
  steps: (hb: HandBoot) => Promise<void>,
  gpuOptions: Parameters<typeof simulatedGpuFor>[2] = {},
  check: (hb: HandBoot, error: HandBootError) => void | Promise<void> = () => {},
): Promise<HandBootError> {
  const set = fw(chip);
  await using gpu = await simulatedGpuFor(chip, set, gpuOptions);
  using hb = new HandBoot(gpu, set, { mistakes });
  await hb.waitGfwBoot();
  hb.registerFlushPage();
  hb.readVbios();
  hb.computeLayout();
  const error = await steps(hb).then(
    () => assert.fail("the simulated GPU accepted the mistake"),
    (e) => e,
  );
  assert(error instanceof HandBootError, String(error));
  await check(hb, error);
  assert.deepEqual(gpu.violations(), []);
  return error;
}

const toBooter = async (hb: HandBoot) => {
  await hb.fwsecFrts();
  hb.buildLibos();
  await hb.prepareGsp();
  hb.buildWprMeta();
  await hb.booterLoad();
};

/** The falcon halted with `code` in MBOX0. */
function haltedWith(hb: HandBoot, engine: "GSP" | "SEC2", code: number): void {
  const f = engine === "GSP" ? hb.gsp : hb.sec2;
  assert.equal(f.CPUCTL.read(hb.bar0).HALTED, 1);
  assert.equal(f.MAILBOX0.readRaw(hb.bar0), code);
}

Deno.test("negative: FWSEC with the all-zero signature a fuse-version-0 chip selects (GA102)", async () => {
  // The forged board VBIOS leaves version 0's signature zero, as production boards do; a chip
  // whose GSP fuse reads version 0 selects it, and the boot ROM refuses it.
  await refused("ga102", {}, (hb) => hb.fwsecFrts(), { fuseVersions: { GSP: 0 } }, (hb, e) => {
    assert.equal(e.step, "fwsec-frts");
    assert.equal(e.value, HS_ERROR.zeroSignature);
    haltedWith(hb, "GSP", HS_ERROR.zeroSignature);
    assert.equal(hb.wpr2(), undefined);
  });
});

Deno.test("negative: FWSEC patched with the zero signature instead of the fuse's (GA102)", async () => {
  await refused("ga102", { fwsecSignatureIndex: 0 }, (hb) => hb.fwsecFrts(), {}, (hb, e) => {
    assert.equal(e.value, HS_ERROR.wrongSignature);
    haltedWith(hb, "GSP", HS_ERROR.wrongSignature);
  });
});

Deno.test("negative: FWSEC with a real but wrong signature halts the GSP (AD102, fuse 2)", async () => {
  // Three signatures (versions 0–2), version 0's zero; fuse version 2 selects index 2.
  const vbios = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b111, zeroSignatures: [0] });
  await refused(
    "ad102",
    { fwsecSignatureIndex: 1 },
    (hb) => hb.fwsecFrts(),
    { vbios: vbios.bytes, fuseVersion: 2 },
    (hb, e) => {
      assert.equal(e.value, HS_ERROR.wrongSignature);
      haltedWith(hb, "GSP", HS_ERROR.wrongSignature);
    },
  );
});

Deno.test("negative: an off-by-one fuse conversion picks FWSEC's previous signature", async () => {
  const vbios = forgeVbios({ descriptorVersion: 3, signatureVersions: 0b111, zeroSignatures: [0] });
  await refused(
    "ga102",
    { offByOneFuse: "fwsec" },
    (hb) => hb.fwsecFrts(),
    { vbios: vbios.bytes, fuseVersion: 2 },
    (hb, e) => {
      // Mask 0b11 read as version 1: signature 1, not 2.
      assert.equal(e.value, HS_ERROR.wrongSignature);
      haltedWith(hb, "GSP", HS_ERROR.wrongSignature);
      assert.equal(hb.wpr2(), undefined);
    },
  );
});

Deno.test("negative: an off-by-one fuse conversion picks Booter's last signature (GA102)", async () => {
  await refused("ga102", { offByOneFuse: "booter" }, toBooter, {}, (hb, e) => {
    assert.equal(e.step, "booter-load");
    assert.equal(e.value, HS_ERROR.wrongSignature);
    haltedWith(hb, "SEC2", HS_ERROR.wrongSignature);
    assert.equal(hb.gsp.RISCV_CPUCTL.read(hb.bar0).ACTIVE_STAT, 0);
  });
});

const root = realFirmwareRoot();
const realGa102 = root ? await realFirmware("ga102", root) : undefined;
Deno.test({
  name: "negative: real GA102 Booter's all-zero second signature, selected by SEC2 fuse 0" +
    (realGa102 ? "" : " (skipped: real firmware missing; run `deno task firmware`)"),
  ignore: !realGa102,
  fn: async () => {
    await using gpu = await simulatedGpuFor("ga102", realGa102!, { fuseVersions: { SEC2: 0 } });
    using hb = new HandBoot(gpu, realGa102!);
    await hb.waitGfwBoot();
    hb.readVbios();
    hb.computeLayout();
    const error = await toBooter(hb).then(() => undefined, (e) => e);
    assert(error instanceof HandBootError && error.step === "booter-load", String(error));
    assert.equal(error.value, HS_ERROR.zeroSignature);
    haltedWith(hb, "SEC2", HS_ERROR.zeroSignature);
  },
});

Deno.test("negative: Booter with a wrong signature index halts SEC2 (GA102)", async () => {
  await refused("ga102", { booterSignatureIndex: 1 }, toBooter, {}, (hb, e) => {
    assert.equal(e.value, HS_ERROR.wrongSignature);
    haltedWith(hb, "SEC2", HS_ERROR.wrongSignature);
  });
});

Deno.test("negative: an unpatched DMEM mapper: FWSEC reports an FRTS error, no WPR2 (TU102)", async () => {
  await refused("tu102", { unpatchedMapper: true }, (hb) => hb.fwsecFrts(), {}, (hb, e) => {
    assert.equal(hb.frtsError(), FRTS_ERROR.badCommand);
    assert.equal(e.value, FRTS_ERROR.badCommand);
    assert.equal(hb.wpr2(), undefined);
  });
});

Deno.test("negative: FRTS while WPR2 is set: FWSEC refuses in SW_SCRATCH(0xe) (GA102)", async () => {
  await refused(
    "ga102",
    { skipWpr2Check: true },
    async (hb) => {
      await hb.fwsecFrts();
      const before = hb.wpr2();
      assert(before);
      try {
        await hb.fwsecFrts();
      } finally {
        assert.deepEqual(hb.wpr2(), before); // WPR2 untouched
      }
    },
    {},
    (hb) => assert.equal(hb.frtsError(), FRTS_ERROR.wpr2AlreadySet),
  );
});

Deno.test("negative: the host's own check refuses FRTS while WPR2 is set", async () => {
  const error = await refused("tu102", {}, async (hb) => {
    await hb.fwsecFrts();
    await hb.fwsecFrts();
  });
  assert.match(error.message, /WPR2 is already set/);
});

Deno.test("negative: a wrong GspFwWprMeta magic: Booter-load halts SEC2 (TU102)", async () => {
  await refused("tu102", { wprMetaMagic: 0xdc3aae21371a60b2n }, toBooter, {}, (hb, e) => {
    assert.equal(e.value, HS_ERROR.wprMeta);
    haltedWith(hb, "SEC2", HS_ERROR.wprMeta);
    assert.equal(hb.gsp.RISCV_CORE_SWITCH_RISCV_STATUS.read(hb.bar0).ACTIVE_STAT, 0);
  });
});

Deno.test("negative: radix3 off by one page: Booter-load halts SEC2 (AD102)", async () => {
  await refused("ad102", { radix3ShiftPages: 1 }, toBooter, {}, (hb, e) => {
    assert.equal(e.value, HS_ERROR.radix3);
    haltedWith(hb, "SEC2", HS_ERROR.radix3);
  });
});

Deno.test("negative: Booter loaded by DMA on TU102 (a PIO chip) halts SEC2", async () => {
  await refused("tu102", { booterLoadMethod: "dma" }, toBooter, {}, (hb, e) => {
    assert.equal(e.value, HS_ERROR.loadMethod);
    haltedWith(hb, "SEC2", HS_ERROR.loadMethod);
  });
});

Deno.test("negative: Booter loaded by PIO on GA102 (a DMA chip) halts SEC2", async () => {
  await refused("ga102", { booterLoadMethod: "pio" }, toBooter, {}, (hb, e) => {
    assert.equal(e.value, HS_ERROR.loadMethod);
    haltedWith(hb, "SEC2", HS_ERROR.loadMethod);
  });
});

Deno.test("negative: Booter-load told an unmapped IOVA: an IOMMU fault halts SEC2", async () => {
  await refused("ga102", { metaAtUnmappedIova: true }, toBooter, {}, (hb, e) => {
    assert.equal(e.value, HS_ERROR.dmaFault);
    haltedWith(hb, "SEC2", HS_ERROR.dmaFault);
  });
});

Deno.test("negative: a falcon DMA from a freed buffer stops the GSP falcon (GA102 FWSEC)", async () => {
  const set = fw("ga102");
  await using gpu = await simulatedGpuFor("ga102", set);
  using hb = new HandBoot(gpu, set, { mistakes: { dmaFromFreedBuffer: true } });
  await hb.waitGfwBoot();
  hb.readVbios();
  hb.computeLayout();
  await assert.rejects(hb.runFwsec(0x15));
  assert(gpu.falcons.GSP.dmaError, "the DMA engine reported no error");
  assert.equal(hb.gsp.CPUCTL.read(gpu.bar0).HALTED, 1);
  assert.notEqual(hb.gsp.MAILBOX0.readRaw(gpu.bar0), 0);
  assert.equal(hb.gsp.DMATRFCMD.read(gpu.bar0).IDLE, 0); // the engine stays busy until a reset
  assert.equal(hb.wpr2(), undefined);
});

Deno.test("negative: a bad queue checksum: GSP-RM never answers (TU102)", async () => {
  await refused(
    "tu102",
    { badChecksum: true },
    async (hb) => {
      await toBooter(hb);
      await hb.startGspRm();
      await hb.sendInitCommands();
      await hb.runSequencer();
    },
    {},
    (hb, e) => {
      assert.equal(e.step, "sequencer");
      assert.match(e.message, /no 0x1002 message/);
      // The element stays where it is: GSP-RM never consumed it, and it is still running.
      assert.equal(hb.gspReadPointer(), 0);
      assert.equal(hb.gsp.RISCV_CORE_SWITCH_RISCV_STATUS.read(hb.bar0).ACTIVE_STAT, 1);
    },
  );
});

Deno.test("negative: Booter-unload while GSP-RM runs: SEC2 halts, WPR2 stays (AD102)", async () => {
  await refused(
    "ad102",
    {},
    async (hb) => {
      await toBooter(hb);
      await hb.startGspRm();
      await hb.sendInitCommands();
      await hb.runSequencer();
      await hb.waitInitDone();
      await hb.booterUnload(); // no UNLOADING_GUEST_DRIVER, no FWSEC-SB
    },
    {},
    (hb, e) => {
      assert.equal(e.step, "booter-unload");
      assert.equal(e.value, HS_ERROR.gspNotStopped);
      haltedWith(hb, "SEC2", HS_ERROR.gspNotStopped);
      assert(hb.wpr2());
      assert.equal(hb.gsp.RISCV_CPUCTL.read(hb.bar0).ACTIVE_STAT, 1);
    },
  );
});
