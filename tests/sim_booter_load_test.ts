import assert from "node:assert/strict";
import { parseRiscvBootloader, type RiscvBootloader } from "../firmware/mod.ts";
import {
  forgeGspImage,
  forgeRiscvBootloader,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/mod.ts";
import { checkBooterLoad } from "../sim/acceptance/booter_load.ts";
import { gspFirmwareForChip } from "../sim/acceptance/gsp_firmware.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { realFirmwareTest } from "./_real.ts";
import { driverLayout, driverWprMeta, IOVA, mapRadix3 } from "./_sim_driver.ts";

const GiB = 2 ** 30;

interface Flow {
  chipset: number;
  fbSize: number;
  gspFile: Uint8Array;
  bootloaderFile: Uint8Array;
  /** Change the meta bytes before they are mapped. */
  editMeta?: (meta: DataView) => void;
  /** Shift the radix3 image mapping by pages. */
  shiftPages?: number;
  /** Skip FWSEC-FRTS (WPR2 unset). */
  noFrts?: boolean;
  /** Leave the bootloader blob unmapped. */
  unmapBootloader?: boolean;
  /** Flip a byte of the bootloader blob in DMA memory. */
  corruptBootloader?: boolean;
  /** Map another chip's GSP signature. */
  signatureChip?: number;
}

/** The driver side by hand: layout, meta, radix3, blobs in DMA memory, WPR2 as FRTS set it. */
function bootByHand(flow: Flow) {
  const gsp = gspFirmwareForChip(flow.gspFile, flow.chipset);
  const bootloader: RiscvBootloader = parseRiscvBootloader(flow.bootloaderFile);
  const layout = driverLayout({
    chipset: flow.chipset,
    fbSize: flow.fbSize,
    bootloaderSize: bootloader.ucode.length,
    imageSize: gsp.image.length,
  });
  const memory = new SystemMemory();
  const { level0 } = mapRadix3(memory, gsp.image, flow.shiftPages ?? 0);
  const metaPage = new Uint8Array(4096);
  metaPage.set(
    driverWprMeta({
      layout,
      fbSize: flow.fbSize,
      imageSize: gsp.image.length,
      bootloader,
      signatureSize: gsp.signature.length,
      level0,
    }),
  );
  flow.editMeta?.(new DataView(metaPage.buffer));
  memory.map(IOVA.meta, metaPage);
  if (!flow.unmapBootloader) {
    const blob = bootloader.ucode.slice();
    if (flow.corruptBootloader) blob[blob.length - 1] ^= 1;
    memory.map(IOVA.bootloader, blob);
  }
  const signature = flow.signatureChip
    ? gspFirmwareForChip(flow.gspFile, flow.signatureChip).signature
    : gsp.signature;
  memory.map(IOVA.signature, signature.slice());
  const wpr2 = flow.noFrts
    ? { lo: 0, hi: 0 }
    : { lo: (layout.frtsStart / 4096) * 16, hi: (layout.frtsEnd / 4096) * 16 };
  const verdict = checkBooterLoad({
    dma: memory,
    mbox0: Number(IOVA.meta & 0xffff_ffffn),
    mbox1: Number(IOVA.meta >> 32n),
    chipset: flow.chipset,
    fbSize: flow.fbSize,
    displayFuse: 1,
    vgaWorkspaceRegister: 0,
    wpr2,
    gspImage: gsp.image,
    gspSignature: gsp.signature,
    bootloader: {
      ucode: bootloader.ucode,
      codeOffset: bootloader.descriptor.monitorCodeOffset,
      dataOffset: bootloader.descriptor.monitorDataOffset,
      manifestOffset: bootloader.descriptor.manifestOffset,
    },
  });
  return { verdict, layout };
}

const forged = (chipset = 0x172) => ({
  chipset,
  fbSize: 16 * GiB,
  gspFile: forgeGspImage({ imageSize: 3 * 4096 + 0x123 }),
  bootloaderFile: forgeRiscvBootloader({ version: 5 }),
});

function expectRule(v: ReturnType<typeof checkBooterLoad>, rule: keyof typeof HS_ERROR) {
  assert(!v.ok, `expected ${rule}`);
  assert.equal(v.rule, rule, v.reason);
  assert.equal(v.mbox0, HS_ERROR[rule]);
}

Deno.test("Booter-load accepts a hand-built boot with forged firmware and sets WPR2", () => {
  const { verdict, layout } = bootByHand(forged());
  assert(verdict.ok, verdict.ok ? "" : verdict.reason);
  assert.deepEqual(verdict.wpr2, {
    lo: (layout.wpr2Start / 4096) * 16,
    hi: (layout.wprEnd / 4096) * 16,
  });
  assert.deepEqual(verdict.notes, []);
});

Deno.test("wrong WPR meta magic is refused, naming the field", () => {
  const { verdict } = bootByHand({ ...forged(), editMeta: (m) => m.setUint32(0, 0x1234, true) });
  expectRule(verdict, "wprMeta");
  assert(!verdict.ok && "wrongFields" in verdict);
  assert.deepEqual(verdict.wrongFields.map((f) => f.field), ["magic"]);
});

Deno.test("every wrong field is listed; flags bit 0 clear is only a note", () => {
  const { verdict } = bootByHand({
    ...forged(),
    editMeta: (m) => {
      m.setBigUint64(0x08, 2n, true); // revision
      m.setBigUint64(0x80, m.getBigUint64(0x80, true) + 0x100000n, true); // heap size
      m.setUint8(0xf1, 0x80); // undefined flag bit
      m.setUint32(0xf4, 0x1000, true); // pmuReservedSize
    },
  });
  assert(!verdict.ok && "wrongFields" in verdict);
  assert.deepEqual(
    verdict.wrongFields.map((f) => f.field),
    ["revision", "gspFwHeapSize", "flags", "pmuReservedSize"],
  );
  const quiet = bootByHand({ ...forged(), editMeta: (m) => m.setUint8(0xf1, 0) });
  assert(quiet.verdict.ok && quiet.verdict.notes.length === 1);
});

Deno.test("radix3 off by one page is refused with the page index", () => {
  const { verdict } = bootByHand({ ...forged(), shiftPages: 1 });
  expectRule(verdict, "radix3");
  assert(!verdict.ok && verdict.detail?.page === 0);
});

Deno.test("Booter-load before FWSEC-FRTS is refused", () => {
  expectRule(bootByHand({ ...forged(), noFrts: true }).verdict, "frtsMissing");
});

Deno.test("an unmapped bootloader blob is a DMA fault", () => {
  const { verdict } = bootByHand({ ...forged(), unmapBootloader: true });
  expectRule(verdict, "dmaFault");
  assert(!verdict.ok && verdict.detail?.iova === IOVA.bootloader);
});

Deno.test("another chip family's GSP signature is refused", () => {
  expectRule(bootByHand({ ...forged(), signatureChip: 0x192 }).verdict, "gspSignature");
});

Deno.test("a modified bootloader blob and wrong bootloader offsets are refused", () => {
  expectRule(bootByHand({ ...forged(), corruptBootloader: true }).verdict, "bootloader");
  const v = bootByHand({
    ...forged(),
    editMeta: (m) => m.setBigUint64(0x30, m.getBigUint64(0x30, true) + 4n, true),
  }).verdict;
  assert(!v.ok && "wrongFields" in v && v.wrongFields[0].field === "bootloaderCodeOffset");
});

Deno.test("Turing (LibOS2) and GA100 (no FRTS) layouts with forged firmware", () => {
  const tu = {
    ...forged(0x162),
    gspFile: forgeGspImage({ imageSize: 5 * 4096, signatureSections: GSP_SIGNATURE_SECTIONS_TU }),
    bootloaderFile: forgeRiscvBootloader({ version: 4 }),
  };
  assert(bootByHand(tu).verdict.ok);
  const ga100 = { ...tu, chipset: 0x170 };
  const v = bootByHand({ ...ga100, noFrts: true }).verdict;
  assert(v.ok, v.ok ? "" : v.reason);
  assert.equal(v.ok && v.meta.frtsSize, 0n);
});

for (
  const [chip, chipset, fbSize] of [
    ["tu102", 0x162, 11 * GiB],
    ["ga102", 0x172, 24 * GiB],
    ["ad102", 0x192, 24 * GiB],
  ] as const
) {
  realFirmwareTest(
    `real ${chip} 570.144 GSP image and bootloader pass Booter-load's checks`,
    [`nvidia/${chip}/gsp/gsp-570.144.bin`, `nvidia/${chip}/gsp/bootloader-570.144.bin`],
    ([gspPath, blPath]) => {
      const flow = {
        chipset,
        fbSize,
        gspFile: Deno.readFileSync(gspPath),
        bootloaderFile: Deno.readFileSync(blPath),
      };
      const { verdict } = bootByHand(flow);
      assert(verdict.ok, verdict.ok ? "" : verdict.reason);
      const magic = bootByHand({ ...flow, editMeta: (m) => m.setUint8(7, 0) }).verdict;
      expectRule(magic, "wprMeta");
    },
  );
}
