// Tests of gsp/fsp_gsp_memory.ts: the FSP path's DMA memory for the forged and (when present) the
// real gh100 firmware, allocated from a simulated GH100: the boot params point at the WPR meta and
// the LibOS arguments, the WPR meta is the FSP form (sizes only, no FB offsets), the FMC image is
// the fmc file's `image` section, and everything is freed with the stack, also when an abort
// stops it part-way.

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { computeFbSizes } from "../gsp/fb_layout.ts";
import { allocateFspBootMemory } from "../gsp/fsp_gsp_memory.ts";
import { decodeWprMeta, GSP_FW_WPR_META_MAGIC } from "../gsp/wpr_meta.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { loadFirmwareSet } from "../loader/firmware_set.ts";
import { SimulatedGpu } from "../sim/mod.ts";
import { gh100FirmwareCases } from "./_gh100.ts";

const GH100 = chipByName("gh100")!;
const FB = 80 * 2 ** 30;
const LIBOS = 0xabc_d000n;

for (const firmware of await gh100FirmwareCases()) {
  Deno.test({
    name: `allocateFspBootMemory: ${firmware.label} firmware${
      firmware.skip ? ` (skipped: ${firmware.skip})` : ""
    }`,
    ignore: firmware.skip !== undefined,
    fn: async () => {
      const set = await loadFirmwareSet({
        chip: GH100,
        version: "570.144",
        dir: firmware.root,
        env: () => undefined,
        ...(firmware.forged ? { manifest: { ...FIRMWARE_MANIFEST, files: {}, links: {} } } : {}),
      });
      await using gpu = new SimulatedGpu({ chip: "gh100" });
      {
        await using stack = new AsyncDisposableStack();
        const memory = await allocateFspBootMemory(
          { device: gpu, chip: GH100, firmware: set, fbSize: FB, libosArgsAddress: LIBOS },
          stack,
        );
        const params = new DataView(memory.bootParams.bytes.buffer);
        assert.equal(params.getBigUint64(0x10, true), memory.wprMeta.iova);
        assert.equal(params.getBigUint64(0x30, true), LIBOS);
        const meta = decodeWprMeta(memory.wprMeta.bytes.subarray(0, 256));
        const sizes = computeFbSizes({ chip: GH100, fbSize: FB });
        assert.equal(meta.magic, GSP_FW_WPR_META_MAGIC);
        assert.equal(meta.gspFwHeapSize, BigInt(sizes.wpr2HeapSize));
        assert.equal(meta.frtsSize, 0x100000n);
        assert.equal(meta.gspFwWprStart, 0n); // the FMC places WPR2
        assert.equal(meta.sizeOfRadix3Elf, BigInt(set.gspImage.imageSize));
        assert.deepEqual(memory.fmcImage.bytes.subarray(0, set.fmc!.image.length), set.fmc!.image);
        assert(gpu.residue().some((r) => r.block === "DMA"));
      }
      assert.deepEqual(gpu.residue(), []);
    },
  });
}

Deno.test("allocateFspBootMemory: an abort part-way frees what was allocated", async () => {
  const [, forged] = await gh100FirmwareCases();
  const set = await loadFirmwareSet({
    chip: GH100,
    version: "570.144",
    dir: forged.root,
    env: () => undefined,
    manifest: { ...FIRMWARE_MANIFEST, files: {}, links: {} },
  });
  await using gpu = new SimulatedGpu({ chip: "gh100" });
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  await assert.rejects(
    (async () => {
      await using stack = new AsyncDisposableStack();
      await allocateFspBootMemory({
        device: gpu,
        chip: GH100,
        firmware: set,
        fbSize: FB,
        libosArgsAddress: LIBOS,
        signal: controller.signal,
      }, stack);
    })(),
    /stop/,
  );
  assert.deepEqual(gpu.residue(), []);
});
