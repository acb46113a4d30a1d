import assert from "node:assert/strict";
import { bufferSource, parseGenBootloader } from "../firmware/mod.ts";
import { forgeGenBootloader, forgeVbios } from "../firmware/forge/mod.ts";
import { runGenBootloader } from "../sim/acceptance/gen_bootloader_run.ts";
import { recogniseFwsec } from "../sim/acceptance/recognise.ts";
import type { HS_ERROR } from "../sim/acceptance/verdict.ts";
import { SystemMemory } from "../sim/system_memory.ts";
import { loadFwsecV2 } from "./_sim_driver.ts";

const IOVA = 0x8000_0000n;

function setup() {
  const fw = recogniseFwsec(bufferSource(forgeVbios({ descriptorVersion: 2 }).bytes));
  if (fw.kind !== "fwsec") throw new Error("fwsec");
  const parsed = parseGenBootloader(forgeGenBootloader());
  const bootloader = { ...parsed.descriptor, code: parsed.code };
  const memory = new SystemMemory();
  const { falcon, mapping } = loadFwsecV2(fw.fwsec, bootloader, { command: 0x19 }, memory, IOVA);
  return { fw, bootloader, memory, falcon, mapping };
}

function expectRule(v: ReturnType<typeof runGenBootloader>, rule: keyof typeof HS_ERROR) {
  assert(!v.ok, `expected ${rule}`);
  assert.equal(v.rule, rule, v.reason);
}

Deno.test("the generic bootloader DMAs FWSEC into IMEM and DMEM and jumps to its entry", () => {
  const { fw, bootloader, memory, falcon, mapping } = setup();
  using _m = mapping;
  const v = runGenBootloader({ falcon, bootloader, transcfg: [0, 0, 0, 0, 0x5], dma: memory });
  assert(v.ok);
  if (fw.kind !== "fwsec") throw new Error("fwsec");
  const d = fw.fwsec.descriptor;
  assert.deepEqual(v.falcon.imem.subarray(0, 256), fw.fwsec.ucode.subarray(0, 256));
  assert.equal(v.falcon.bootVector, 0);
  assert.equal(v.falcon.imemBlocks[0]?.secure, false);
  assert.equal(v.falcon.imemBlocks[d.imemLoadSize / 256 - 1]?.secure, true);
  assert.equal(v.falcon.dmemMethod, "dma");
});

Deno.test("generic bootloader: DMA-loaded, wrong tag, wrong BOOTVEC, modified code are refused", () => {
  const { bootloader, memory, falcon, mapping } = setup();
  using _m = mapping;
  const top = falcon.imem.length / 256 - 2;
  const run = (f: typeof falcon) =>
    runGenBootloader({ falcon: f, bootloader, transcfg: [0, 0, 0, 0, 0x5], dma: memory });
  const dma = { ...falcon, imemBlocks: [...falcon.imemBlocks] };
  dma.imemBlocks[top] = { ...dma.imemBlocks[top]!, method: "dma" };
  expectRule(run(dma), "loadMethod");
  const tag = { ...falcon, imemBlocks: [...falcon.imemBlocks] };
  tag.imemBlocks[top] = { ...tag.imemBlocks[top]!, tag: top };
  expectRule(run(tag), "imemLayout");
  expectRule(run({ ...falcon, bootVector: 0 }), "bootVector");
  const code = { ...falcon, imem: falcon.imem.slice() };
  code.imem[falcon.imem.length - 1] ^= 0xff;
  expectRule(run(code), "imageModified");
});

Deno.test("generic bootloader: a DMA context not targeting system memory, or an unmapped IOVA", () => {
  const { bootloader, memory, falcon, mapping } = setup();
  const local = runGenBootloader({ falcon, bootloader, transcfg: [0, 0, 0, 0, 0x4], dma: memory });
  expectRule(local, "dmaFault");
  mapping[Symbol.dispose]();
  const v = runGenBootloader({ falcon, bootloader, transcfg: [0, 0, 0, 0, 0x5], dma: memory });
  expectRule(v, "dmaFault");
  assert(!v.ok && typeof v.detail?.iova === "bigint" && v.detail.iova >= IOVA);
});
