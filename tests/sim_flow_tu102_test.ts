// The TU102 boot flow driven by hand through raw register writes
// (tests/_hand_boot.ts, straight from ../shared/reference/nova-core-boot.md),
// on a SimulatedGpu: the real linux-firmware 570.144 blobs and forged ones,
// the real TU102 VBIOS (../shared/vbios/, or FALCONRY_TEST_VBIOS) and a
// forged one. Each flow goes from GFW boot to Booter-unload and must leave
// no residue and no write to an unmodelled register.

import assert from "node:assert/strict";
import { checkFlow, forgedFirmware, realFirmware, simulatedGpuFor } from "./_hand_boot.ts";
import { knownTu102Vbios, REAL_VBIOS_PATH, realFirmwareRoot, REQUIRE_REAL } from "./_real.ts";

const CHIP = "tu102";
const root = realFirmwareRoot();
const realSet = root ? await realFirmware(CHIP, root) : undefined;
const vbios = knownTu102Vbios();

const firmwareCases = [
  {
    label: "real 570.144 firmware",
    fw: realSet,
    missing: "real firmware missing; run `deno task firmware`",
  },
  { label: "forged firmware", fw: forgedFirmware(CHIP), missing: "" },
];
const vbiosCases = [
  { label: "real TU102 VBIOS", path: vbios, missing: `no real TU102 VBIOS at ${REAL_VBIOS_PATH}` },
  { label: "forged VBIOS", path: undefined as string | undefined, missing: "" },
];

for (const f of firmwareCases) {
  for (const v of vbiosCases) {
    const name = `TU102 hand-driven boot and unload: ${f.label}, ${v.label}`;
    const fw = f.fw;
    const absent = !fw ? f.missing : v.label.startsWith("real") && !v.path ? v.missing : "";
    if (absent && !REQUIRE_REAL) {
      Deno.test({ name: `${name} (skipped: ${absent})`, ignore: true, fn: () => {} });
      continue;
    }
    Deno.test(name, async () => {
      assert(fw && !absent, `FALCONRY_REQUIRE_REAL_FIRMWARE=1 but ${absent}`);
      await using gpu = await simulatedGpuFor(CHIP, fw, { vbios: v.path });
      const { hb } = await checkFlow(gpu, fw);
      if (v.path) assert.equal(gpu.prom.image.length, Deno.statSync(v.path).size);
      // Turing: a version-2 FWSEC through the generic bootloader; of the fuses only the
      // display fuse is read (no signature fuses: the TU102 HAL uses version 0).
      assert.equal(hb.fwsec?.descriptor.descriptorVersion, 2);
      assert.equal(gpu.stats().mmio.FUSE.reads, 1);
    });
  }
}
