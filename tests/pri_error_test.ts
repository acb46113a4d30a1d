// Tests of registers/pri_error.ts: NVIDIA's PRI-error rule and the codes it names.

import assert from "node:assert/strict";
import {
  classifyRead,
  describePriError,
  isPriError,
  isReadError,
  PRI_ERROR_CODES,
  priErrorCode,
} from "../registers/pri_error.ts";

// NV_PPRIV_SYS_PRI_ERROR_CODE_* of published/maxwell/gm107/dev_pri_ringstation_sys.h.
const GM107_CODES: Record<string, number> = {
  HOST_FECS_ERR: 0xbad00f,
  HOST_PRI_TIMEOUT: 0xbad001,
  HOST_FB_ACK_TIMEOUT: 0xbad0b0,
  FECS_PRI_TIMEOUT: 0xbadf10,
  FECS_PRI_DECODE: 0xbadf11,
  FECS_PRI_RESET: 0xbadf12,
  FECS_PRI_FLOORSWEEP: 0xbadf13,
  FECS_PRI_STUCK_ACK: 0xbadf14,
  FECS_PRI_0_EXPECTED_ACK: 0xbadf15,
  FECS_PRI_FENCE_ERROR: 0xbadf16,
  FECS_PRI_SUBID_ERROR: 0xbadf17,
  FECS_PRI_ORPHAN: 0xbadf20,
  FECS_DEAD_RING: 0xbadf30,
  FECS_TRAP: 0xbadf40,
  FECS_PRI_CLIENT_ERR: 0xbadf50,
};

Deno.test("every code NVIDIA's gm107 header names is a PRI error with that name", () => {
  for (const [name, code] of Object.entries(GM107_CODES)) {
    for (const detail of [0x00, 0x01, 0xff]) {
      const value = (code * 0x100 + detail) >>> 0;
      assert.ok(isPriError(value), `${name} 0x${value.toString(16)}`);
      assert.equal(classifyRead(value), "pri-error");
      assert.equal(priErrorCode(value)?.name, name);
      assert.ok(describePriError(value).includes(`(${name}: `), describePriError(value));
    }
  }
});

Deno.test("values seen on real GPUs: host PRI timeout, target mask, client error", () => {
  assert.equal(priErrorCode(0xbad00100)?.name, "HOST_PRI_TIMEOUT");
  assert.equal(priErrorCode(0xbadf4100)?.name, "FECS_PRI_TARGET_MASK_VIOLATION");
  assert.equal(priErrorCode(0xbadf5040)?.name, "FECS_PRI_CLIENT_ERR");
  assert.equal(priErrorCode(0xbadf1100)?.name, "FECS_PRI_DECODE");
  assert.match(describePriError(0xbadf5040), /detail 0x40$/);
});

Deno.test("the mask rule: any 0xbadxxxxx, named or not; nothing else", () => {
  assert.ok(isPriError(0xbad00000) && isPriError(0xbadfffff) && isPriError(0xbad0da00));
  assert.equal(priErrorCode(0xbad0da00), undefined);
  assert.match(describePriError(0xbad0da00), /unknown PRI error code/);
  // A signed int32 read of the same bits is the same value.
  assert.ok(isPriError(0xbad00100 | 0));
  for (const value of [0, 0x10, 0xbac00000, 0xbae00000, 0x0bad0000, 0xffffffff, 0x7bad0000]) {
    assert.ok(!isPriError(value), `0x${value.toString(16)}`);
  }
});

Deno.test("no response: all ones is a read error but not a PRI error", () => {
  assert.equal(classifyRead(0xffffffff), "no-response");
  assert.equal(classifyRead(-1), "no-response");
  assert.ok(isReadError(0xffffffff) && isReadError(0xbad00100) && !isReadError(0x172000a1));
  assert.match(describePriError(0xffffffff), /^no response/);
});

Deno.test("the table's codes are all inside the mask and uniquely named", () => {
  const names = Object.values(PRI_ERROR_CODES).map((c) => c.name);
  assert.equal(new Set(names).size, names.length);
  for (const code of Object.keys(PRI_ERROR_CODES).map(Number)) {
    assert.ok(isPriError(code * 0x100), `0x${code.toString(16)}`);
  }
});
