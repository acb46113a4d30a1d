// SimulatedGpu.create({ firmwareDir }) on the real linux-firmware tree: it reads the files the
// simulated GPU runs and leaves the others (Ada's scrubber) unread instead of refusing them.

import assert from "node:assert/strict";
import { SimulatedGpu } from "../sim/mod.ts";
import { realFirmwareTest } from "./_real.ts";

const AD102 = "nvidia/ad102/gsp/";

realFirmwareTest(
  "sim: firmwareDir on the real tree opens an AD102 although it ships a scrubber",
  [`${AD102}scrubber-570.144.bin`, `${AD102}booter_load-570.144.bin`],
  async ([scrubber]) => {
    const root = scrubber.slice(0, scrubber.lastIndexOf(`/${AD102}`));
    await using gpu = await SimulatedGpu.create({ chip: "ad102", firmwareDir: root });
    assert.equal(gpu.info.device, 0x2684);
    assert.deepEqual(gpu.residue(), []);
  },
);
