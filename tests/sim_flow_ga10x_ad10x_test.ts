// The GA102 and AD102 boot flows driven by hand through raw register writes
// (tests/_hand_boot.ts, straight from ../shared/reference/nova-core-boot.md),
// on a SimulatedGpu with its forged VBIOS, whose fuse-version-0 FWSEC
// signature is all zeros as on production boards: the real linux-firmware
// 570.144 blobs and forged ones. Each flow goes from GFW boot to
// Booter-unload and must leave no residue and no write to an unmodelled
// register.

import assert from "node:assert/strict";
import { checkFlow, forgedFirmware, realFirmware, simulatedGpuFor } from "./_hand_boot.ts";
import { realFirmwareRoot, REQUIRE_REAL } from "./_real.ts";

const root = realFirmwareRoot();
const cases = [];
for (const CHIP of ["ga102", "ad102"]) {
  const realSet = root ? await realFirmware(CHIP, root) : undefined;
  cases.push(
    { CHIP, label: "real 570.144 firmware", fw: realSet },
    { CHIP, label: "forged firmware", fw: forgedFirmware(CHIP) },
  );
}

for (const { CHIP, label, fw } of cases) {
  const name = `${CHIP.toUpperCase()} hand-driven boot and unload: ${label}, forged VBIOS`;
  if (!fw && !REQUIRE_REAL) {
    const reason = "real firmware missing; run `deno task firmware`";
    Deno.test({ name: `${name} (skipped: ${reason})`, ignore: true, fn: () => {} });
    continue;
  }
  Deno.test(name, async () => {
    assert(fw, "FALCONRY_REQUIRE_REAL_FIRMWARE=1 but the real firmware is missing");
    await using gpu = await simulatedGpuFor(CHIP, fw);
    const { hb } = await checkFlow(gpu, fw);
    // The board's VBIOS: version 3, fuse version 0's signature all zeros, so the
    // fuse-selected one (production fuses read version 1) is another.
    const fwsec = hb.fwsec!;
    assert.equal(fwsec.descriptor.descriptorVersion, 3);
    assert(fwsec.signatures[0].every((b) => b === 0));
    assert(gpu.stats().mmio.FUSE.reads >= 2); // GSP fuse for FWSEC, SEC2 fuse for Booter
  });
}
