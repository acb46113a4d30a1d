// openGpu (open_gpu.ts): a simulated GPU that knows the firmware the boot will load, armed fault
// points, a state file that carries a kept GSP from one "process" to the next, and a PCI address
// that cannot be opened here.

import assert from "node:assert/strict";
import { FalconryError } from "../errors.ts";
import { bootGsp, GspBootError, unloadGsp } from "../gsp/mod.ts";
import { openGpu } from "../open_gpu.ts";
import { forgedFirmwareRoot } from "./_boot_fixture.ts";

Deno.test("openGpu: a simulated GPU boots with the firmware folder it was opened with", async () => {
  const root = await forgedFirmwareRoot("ad102");
  await using gpu = await openGpu({ sim: "ad102", firmwareDir: root });
  assert.equal(gpu.model.chip.name, "ad102");
  {
    await using gsp = await bootGsp(gpu, { firmwareDir: root });
    assert(gsp.staticInfo.boardName.length > 0);
  }
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("openGpu: inject arms fault points; an unknown one is refused", async () => {
  const root = await forgedFirmwareRoot("tu102");
  {
    await using gpu = await openGpu({
      sim: "tu102",
      firmwareDir: root,
      inject: [{ point: "fwsec-error-code", params: { code: 0x42 } }],
    });
    const error = await bootGsp(gpu, { firmwareDir: root }).catch((e) => e);
    assert(error instanceof GspBootError && error.step === "fwsec-frts", String(error));
    assert.equal(error.code, 0x42);
    assert.match(error.message, /SW_SCRATCH\(0xe\) error 0x42/);
    assert.deepEqual(gpu.residue(), []);
  }
  await assert.rejects(
    openGpu({ sim: "tu102", inject: [{ point: "no-such-point" }] }),
    (e) => e instanceof FalconryError && /unknown fault point/.test(e.message),
  );
});

Deno.test("openGpu: with state, boot --keep in one process and unload in the next", async () => {
  const root = await forgedFirmwareRoot("ga102");
  const dir = await Deno.makeTempDir();
  try {
    const state = `${dir}/ga102.json`;
    {
      await using gpu = await openGpu({ sim: "ga102", firmwareDir: root, state });
      const gsp = await bootGsp(gpu, { firmwareDir: root });
      gsp.keep();
    } // saved here, GSP-RM running
    {
      await using gpu = await openGpu({ sim: "ga102", firmwareDir: root, state });
      assert(gpu.residue().some((r) => /WPR2/.test(r.what)));
      const error = await bootGsp(gpu, { firmwareDir: root }).catch((e) => e);
      assert(error instanceof GspBootError && error.step === "wpr2-check");
      await unloadGsp(gpu, { firmwareDir: root });
      assert.deepEqual(gpu.residue(), []);
    }
    {
      await using gpu = await openGpu({ sim: "ga102", firmwareDir: root, state });
      assert.deepEqual(gpu.residue(), []);
      await using _gsp = await bootGsp(gpu, { firmwareDir: root });
    }
    await assert.rejects(
      openGpu({ sim: "tu102", firmwareDir: root, state }),
      (e) => e instanceof FalconryError && /holds a simulated ga102/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openGpu: a PCI address without a GPU behind it fails with a FalconryError", async () => {
  await assert.rejects(openGpu("0000:7f:1f.7"), FalconryError);
});
