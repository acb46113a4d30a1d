// Tests of gsp/fsp_boot_params.ts: GSP_FMC_BOOT_PARAMS as bytes, checked field by field against
// the reference's layout (nova-core-boot.md §4.4, confirmed by NVIDIA's 570.144 ABI table in §13),
// written out here again rather than taken from the module's own table.

import assert from "node:assert/strict";
import {
  encodeFmcBootParams,
  FMC_BOOT_PARAMS_FIELDS,
  FMC_BOOT_PARAMS_SIZE,
} from "../gsp/fsp_boot_params.ts";

/** §4.4 GSP_FMC_BOOT_PARAMS: [field, offset, size]. */
const REFERENCE_BOOT_PARAMS: [string, number, number][] = [
  ["initParams.regkeys", 0x00, 4],
  ["bootGspRmParams.target", 0x08, 4],
  ["bootGspRmParams.gspRmDescSize", 0x0c, 4],
  ["bootGspRmParams.gspRmDescOffset", 0x10, 8],
  ["bootGspRmParams.wprCarveoutOffset", 0x18, 8],
  ["bootGspRmParams.wprCarveoutSize", 0x20, 4],
  ["bootGspRmParams.bIsGspRmBoot", 0x24, 1],
  ["gspRmParams.target", 0x28, 4],
  ["gspRmParams.bootArgsOffset", 0x30, 8],
  ["gspSpdmParams", 0x38, 24],
];

Deno.test("FMC boot params: §4.4's 80 bytes, field by field, nothing else set", () => {
  assert.deepEqual(
    FMC_BOOT_PARAMS_FIELDS.map((f) => [f.name, f.offset, f.size]),
    REFERENCE_BOOT_PARAMS,
  );
  assert.equal(FMC_BOOT_PARAMS_SIZE, 80);
  const wprMeta = 0xabc_def0_1000n;
  const libos = 0x1_0000_2000n;
  const bytes = encodeFmcBootParams({ wprMetaAddress: wprMeta, libosArgsAddress: libos });
  assert.equal(bytes.length, 80);
  const v = new DataView(bytes.buffer);
  const expected = new Uint8Array(80);
  const e = new DataView(expected.buffer);
  e.setUint32(0x08, 1, true); // COHERENT_SYSTEM
  e.setUint32(0x0c, 256, true); // sizeof GspFwWprMeta
  e.setBigUint64(0x10, wprMeta, true);
  expected[0x24] = 1;
  e.setUint32(0x28, 2, true); // NONCOHERENT_SYSTEM
  e.setBigUint64(0x30, libos, true);
  assert.deepEqual(bytes, expected);
  assert.equal(v.getBigUint64(0x18, true), 0n);
  assert.throws(
    () => encodeFmcBootParams({ wprMetaAddress: -1n, libosArgsAddress: 0n }),
    /64 bits/,
  );
});
