// registers/boot_codes.ts: the simulator's codes in the driver's table are the simulator's own
// (sim/acceptance/verdict.ts), each marked simulated; the published success values are not.

import assert from "node:assert/strict";
import {
  BOOTER_MAILBOX0_CODES,
  describeBooterMailbox,
  describeFrtsError,
  FRTS_ERROR_CODES,
} from "../registers/boot_codes.ts";
import { FRTS_ERROR, HS_ERROR } from "../sim/acceptance/verdict.ts";

Deno.test("boot codes: the simulator's FRTS and HS codes, by name and value", () => {
  for (const [name, code] of Object.entries(FRTS_ERROR)) {
    assert.equal(FRTS_ERROR_CODES[code]?.name, name);
    assert(FRTS_ERROR_CODES[code].simulated);
  }
  for (const [name, code] of Object.entries(HS_ERROR)) {
    assert.equal(BOOTER_MAILBOX0_CODES[code]?.name, name);
    assert(BOOTER_MAILBOX0_CODES[code].simulated);
  }
  assert(!FRTS_ERROR_CODES[0].simulated && !BOOTER_MAILBOX0_CODES[0].simulated);
});

Deno.test("boot codes: an unknown value says no public source names it", () => {
  assert.equal(describeFrtsError(0x1234), "0x1234 (no public source names this value)");
  assert.match(describeBooterMailbox(0xdead), /no public source/);
});
