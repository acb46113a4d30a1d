// Tests of gsp/fsp_lockdown.ts: the GSP's PRIV lockdown as the host sees it (nova-core-boot.md
// §4.5 step 5, §6.2), on a register map set by hand: locked patterns are waited through, the
// boot params' address in the mailboxes is "still booting", any other MAILBOX0 is the FMC's
// error, the release is HWCFG2.RISCV_BR_PRIV_LOCKDOWN = 0; the halt wait skips while locked.
// Waits run on a manual clock, so the timeouts (30 s, 5 s) cost no real time.

import assert from "node:assert/strict";
import { GpuStoppedAnsweringError } from "../falcon/gpu_stopped_answering.ts";
import { HardwareCodeError } from "../gsp/boot_steps.ts";
import { readGspLockdown, waitGspHalted, waitLockdownRelease } from "../gsp/fsp_lockdown.ts";
import { ManualClock } from "../pci/clock.ts";
import { falconRegisters } from "../registers/bind.ts";

const gsp = falconRegisters("gh100", "GSP");
const HWCFG2 = gsp.HWCFG2.address;
const MAILBOX0 = gsp.MAILBOX0.address;
const MAILBOX1 = gsp.MAILBOX1.address;
const CPUCTL = gsp.RISCV_CPUCTL.address;
const LOCKDOWN = 1 << 13;
const RISCV = 1 << 10;
const BOOT_PARAMS = 0x12_3456_7000n;

/** GSP registers by address; `script` changes them as the clock passes given times. */
function gspAt(clock: ManualClock, script: [number, Record<number, number>][]) {
  const regs = new Map<number, number>();
  const apply = () => {
    for (const [at, values] of script) {
      if (clock.now() >= at) { for (const [k, v] of Object.entries(values)) regs.set(+k, v); }
    }
  };
  return { read32: (at: number) => (apply(), regs.get(at) ?? 0) };
}

const params = (mb: bigint) => ({
  [MAILBOX0]: Number(mb & 0xffffffffn),
  [MAILBOX1]: Number(mb >> 32n),
});

Deno.test("readGspLockdown: 0 and 0xbadf41xx are locked; the boot params' address is booting", () => {
  const clock = new ManualClock();
  const state = (values: Record<number, number>) =>
    readGspLockdown(gspAt(clock, [[0, values]]), gsp, BOOT_PARAMS).state;
  assert.equal(state({ [HWCFG2]: 0 }), "locked");
  assert.equal(state({ [HWCFG2]: 0xbadf4117 }), "locked");
  assert.equal(state({ [HWCFG2]: RISCV | LOCKDOWN, ...params(BOOT_PARAMS) }), "booting");
  assert.equal(state({ [HWCFG2]: RISCV | LOCKDOWN }), "booting");
  assert.equal(state({ [HWCFG2]: RISCV }), "released");
  assert.equal(state({ [HWCFG2]: RISCV, [MAILBOX0]: 0x5 }), "fmc-error");
  // Another PRI error is not the lockdown: the GPU stopped answering.
  assert.throws(() => state({ [HWCFG2]: 0xbadf1100 }), GpuStoppedAnsweringError);
});

Deno.test("waitLockdownRelease: waits through locked and booting, stops at the release", async () => {
  const clock = new ManualClock();
  const bar = gspAt(clock, [
    [0, { [HWCFG2]: 0xbadf4100 }],
    [120, { [HWCFG2]: RISCV | LOCKDOWN, ...params(BOOT_PARAMS) }],
    [300, { [HWCFG2]: RISCV | LOCKDOWN, [MAILBOX0]: 0, [MAILBOX1]: 0 }],
    [455, { [HWCFG2]: RISCV }],
  ]);
  const state = await waitLockdownRelease({ bar, clock, gsp }, BOOT_PARAMS);
  assert.equal(state.state, "released");
  assert.equal(clock.now(), 460);
});

Deno.test("waitLockdownRelease: an FMC error in MAILBOX0 stops the wait, decoded", async () => {
  const clock = new ManualClock();
  const bar = gspAt(clock, [
    [0, { [HWCFG2]: 0 }],
    [50, { [HWCFG2]: RISCV | LOCKDOWN, [MAILBOX0]: 0x2a }],
  ]);
  await assert.rejects(
    waitLockdownRelease({ bar, clock, gsp }, BOOT_PARAMS),
    (e) =>
      e instanceof HardwareCodeError && e.code === 0x2a && /GSP-FMC boot failed/.test(e.message),
  );
  assert.equal(clock.now(), 50);
});

Deno.test("waitLockdownRelease: 30 s of lockdown is a timeout that says who holds it", async () => {
  const clock = new ManualClock();
  const bar = gspAt(clock, [[0, { [HWCFG2]: 0xbadf4100 }]]);
  await assert.rejects(
    waitLockdownRelease({ bar, clock, gsp }, BOOT_PARAMS),
    /not released in 30000 ms \(the FSP still owns the PRIV target mask: HWCFG2 reads 0xbadf4100/,
  );
  assert.equal(clock.now(), 30_000);
});

Deno.test("waitGspHalted: skips while locked, then waits for RISCV_CPUCTL.HALTED", async () => {
  const clock = new ManualClock();
  const bar = gspAt(clock, [
    [0, { [HWCFG2]: 0xbadf4100, [CPUCTL]: 1 << 4 }], // HALTED behind the lockdown: not read
    [100, { [HWCFG2]: RISCV, [CPUCTL]: 1 << 7 }],
    [230, { [CPUCTL]: 1 << 4 }],
  ]);
  assert.equal(await waitGspHalted({ bar, clock, gsp }), 1 << 4);
  assert.equal(clock.now(), 230);
});

Deno.test("waitGspHalted: a core that never halts times out after 5 s, naming what it saw", async () => {
  const clock = new ManualClock();
  const running = gspAt(clock, [[0, { [HWCFG2]: RISCV, [CPUCTL]: 1 << 7 }]]);
  await assert.rejects(
    waitGspHalted({ bar: running, clock, gsp }),
    /did not halt in 5000 ms.*0x80/,
  );
  const locked = gspAt(clock, [[0, { [HWCFG2]: 0 }]]);
  await assert.rejects(waitGspHalted({ bar: locked, clock, gsp }), /still locked down/);
});
