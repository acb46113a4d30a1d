// Tests of tests/_real.ts: which real VBIOS files the VBIOS tests run on.
// FALCONRY_TEST_VBIOS names one or more files (separated by the OS path-list
// separator); the known TU102 dump is recognised by its sha256 wherever it is.

import assert from "node:assert/strict";
import { delimiter } from "node:path";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import {
  existsSync,
  knownTu102Vbios,
  REAL_VBIOS_PATH,
  realVbiosFiles,
  VBIOS_ENV,
} from "./_real.ts";

const HAVE_TU102 = existsSync(REAL_VBIOS_PATH);

Deno.test("realVbiosFiles: FALCONRY_TEST_VBIOS names several files; the TU102 dump is known by its hash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "falconry-real-" });
  try {
    const forged = `${dir}/mine.rom`;
    await Deno.writeFile(forged, forgeVbios({ descriptorVersion: 3 }).bytes);
    const copy = `${dir}/renamed-tu102.rom`;
    if (HAVE_TU102) await Deno.copyFile(REAL_VBIOS_PATH, copy);
    const named = [forged, `${dir}/missing.rom`, ...(HAVE_TU102 ? [copy] : []), ""];
    const env = (name: string) => name === VBIOS_ENV ? named.join(delimiter) : undefined;
    const found = realVbiosFiles(env);
    assert.deepEqual(found.files, [
      { path: forged, knownTu102: false },
      ...(HAVE_TU102 ? [{ path: copy, knownTu102: true }] : []),
    ]);
    assert.deepEqual(found.missing, [`${dir}/missing.rom`]);
    assert.equal(found.from, `${VBIOS_ENV}=${named.join(delimiter)}`);
    assert.equal(knownTu102Vbios(found), HAVE_TU102 ? copy : undefined);
    // Only the user's file: TU102-specific tests fall back to the default place.
    const mineOnly = realVbiosFiles((n) => n === VBIOS_ENV ? forged : undefined);
    assert.equal(knownTu102Vbios(mineOnly), HAVE_TU102 ? REAL_VBIOS_PATH : undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("realVbiosFiles: without FALCONRY_TEST_VBIOS, ../shared/vbios/TU102.rom when it exists", () => {
  for (const unset of [undefined, ""]) {
    const found = realVbiosFiles(() => unset);
    assert.deepEqual(
      found.files,
      HAVE_TU102 ? [{ path: REAL_VBIOS_PATH, knownTu102: true }] : [],
    );
    assert.deepEqual(found.missing, [], "an absent default is a skip, not a failure");
    assert.equal(found.from, REAL_VBIOS_PATH);
  }
});
