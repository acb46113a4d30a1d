import assert from "node:assert/strict";
import { checkBooterUnload, GSP_SUSPENDED_BIT } from "../sim/acceptance/booter_unload.ts";
import { HS_ERROR } from "../sim/acceptance/verdict.ts";

const wpr2 = { lo: 0x1fe000 << 4 >>> 0, hi: 0x1ff000 << 4 >>> 0 };

Deno.test("Booter-unload refuses while GSP-RM runs and keeps WPR2", () => {
  const v = checkBooterUnload({ wpr2, gsp: { riscvActive: true, mailbox0: 0x1, halted: false } });
  assert(!v.ok && v.rule === "gspNotStopped" && v.mbox0 === HS_ERROR.gspNotStopped);
});

Deno.test("Booter-unload clears WPR2 once GSP-RM suspended, halted or never started", () => {
  for (
    const gsp of [
      { riscvActive: true, mailbox0: GSP_SUSPENDED_BIT, halted: false },
      { riscvActive: true, mailbox0: 0, halted: true },
      { riscvActive: false, mailbox0: 0, halted: false },
    ]
  ) {
    const v = checkBooterUnload({ wpr2, gsp });
    assert(v.ok && v.cleared && v.wpr2.lo === 0 && v.wpr2.hi === 0 && v.mbox0 === 0);
  }
});

Deno.test("Booter-unload without WPR2 has nothing to clear", () => {
  const v = checkBooterUnload({
    wpr2: { lo: 0, hi: 0 },
    gsp: { riscvActive: false, mailbox0: 0, halted: true },
  });
  assert(v.ok && !v.cleared);
});
