// What a falcon is given to run (firmware/falcon_load.ts): Booter and FWSEC produce the same
// FalconLoadMap and BromParams, and the fuse-version range matches a 32-bit fuse register.

import assert from "node:assert/strict";
import {
  booterLoadMap,
  type BromParams,
  bufferSource,
  extractFwsec,
  type FalconLoadMap,
  MAX_FUSE_VERSION,
  parseBooter,
  patchBooter,
  patchFwsecFrts,
} from "../firmware/mod.ts";
import { forgeBooter, forgeVbios } from "../firmware/forge/mod.ts";

const KEYS_OF_MAP = ["bootAddress", "dmem", "imemNonSecure", "imemSecure"];
const KEYS_OF_SEGMENT = ["dstStart", "length", "srcStart"];
const KEYS_OF_BROM = ["engineIdMask", "pkcDataOffset", "ucodeId"];

function assertShape(map: FalconLoadMap, brom: BromParams, what: string): void {
  for (const key of Object.keys(map)) assert.ok(KEYS_OF_MAP.includes(key), `${what}: ${key}`);
  for (const segment of [map.imemNonSecure, map.imemSecure, map.dmem]) {
    if (segment) assert.deepEqual(Object.keys(segment).sort(), KEYS_OF_SEGMENT, what);
  }
  assert.deepEqual(Object.keys(brom).sort(), KEYS_OF_BROM, what);
}

Deno.test("falcon load: Booter and FWSEC produce one load map and one BROM parameter shape", () => {
  const booter = parseBooter(
    forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 }),
  );
  for (const layout of ["tu102", "ga102"] as const) {
    assertShape(booterLoadMap(booter, { layout }), patchBooter(booter, 1).brom, `booter ${layout}`);
  }
  for (const descriptorVersion of [2, 3] as const) {
    const fwsec = extractFwsec(bufferSource(forgeVbios({ descriptorVersion }).bytes));
    const patched = patchFwsecFrts(fwsec, { frtsOffset: 0x1ff00000, frtsSize: 0x100000 }, 2);
    assertShape(fwsec.loadMap, patched.brom, `fwsec v${descriptorVersion}`);
    assert.equal(patched.bootAddress, fwsec.loadMap.bootAddress);
  }
});

Deno.test("falcon load: fuse versions run from 0 to what a 32-bit register's top bit means", () => {
  // version = highest set bit + 1 (0 for 0): 0x8000_0000 is the largest.
  assert.equal(32 - Math.clz32(0x8000_0000), MAX_FUSE_VERSION);
  const booter = parseBooter(forgeBooter());
  assert.throws(() => patchBooter(booter, MAX_FUSE_VERSION + 1), RangeError);
});
