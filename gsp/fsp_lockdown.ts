/**
 * The GSP's PRIV lockdown on the FSP path (reference §4.5 step 5, §6.2):
 * until the GSP-FMC has started GSP-RM, the FSP owns the GSP's PRIV target
 * mask and every GSP falcon register reads `0xbadf41xx`
 * (`FECS_PRI_TARGET_MASK_VIOLATION`) or 0. Those reads are the lockdown's
 * state, not data and not "the GPU stopped answering".
 *
 * - {@linkcode readGspLockdown}: one look at HWCFG2 and the mailboxes;
 * - {@linkcode waitLockdownRelease}: every 10 ms for 30 s, until HWCFG2
 *   reads and `RISCV_BR_PRIV_LOCKDOWN` is 0 with MAILBOX0 0, or MAILBOX0
 *   holds an FMC error (not the boot params' address, which the FMC clears
 *   early);
 * - {@linkcode waitGspHalted}: every 10 ms for 5 s, skipping while locked,
 *   until `RISCV_CPUCTL.HALTED` (the FSP unload bundle).
 *
 * @example The state a locked GSP shows
 * ```ts
 * import assert from "node:assert/strict";
 * import { falconRegisters } from "../registers/bind.ts";
 * import { readGspLockdown } from "./fsp_lockdown.ts";
 * const gsp = falconRegisters("gh100", "GSP");
 * const bar0 = { read32: (at: number) => at === gsp.HWCFG2.address ? 0xbadf4100 : 0 };
 * assert.deepEqual(readGspLockdown(bar0, gsp, 0x1000n), { state: "locked", hwcfg2: 0xbadf4100 });
 * ```
 *
 * @module
 */

import type { Clock } from "../pci/clock.ts";
import { pollValue } from "../pci/mmio.ts";
import type { FalconRegisters, RegisterReader } from "../registers/bind.ts";
import { describeFmcMailbox } from "../registers/boot_codes.ts";
import { HardwareTimeoutError } from "../errors.ts";
import { hex, readChecked } from "./_hw.ts";
import { HardwareCodeError } from "./boot_steps.ts";
import { FSP_WAITS } from "./fsp_waits.ts";

/** `FECS_PRI_TARGET_MASK_VIOLATION` in bits 31:8: what a locked GSP register reads. */
const TARGET_MASK_VIOLATION = 0xbadf4100;

/** What the GSP shows of its lockdown. */
export type GspLockdown =
  /** The FSP owns the PRIV target mask: registers read 0 or `0xbadf41xx`. */
  | { readonly state: "locked"; readonly hwcfg2: number }
  /** The FMC has not finished: the boot params' address is still in MAILBOX0/1, or the bit is set. */
  | { readonly state: "booting"; readonly hwcfg2: number }
  /** The lockdown is released: GSP-RM runs. */
  | { readonly state: "released"; readonly hwcfg2: number }
  /** The FMC stopped with an error code in MAILBOX0. */
  | { readonly state: "fmc-error"; readonly hwcfg2: number; readonly mailbox0: number };

/**
 * Whether a raw GSP register value is the lockdown's pattern (0, or the
 * target-mask violation).
 *
 * @param raw The value read.
 * @returns `true` while the FSP owns the PRIV target mask.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLockdownPattern } from "./fsp_lockdown.ts";
 * assert(isLockdownPattern(0xbadf4117) && isLockdownPattern(0) && !isLockdownPattern(0xbadf1100));
 * ```
 */
export function isLockdownPattern(raw: number): boolean {
  return raw === 0 || ((raw & 0xffffff00) >>> 0) === TARGET_MASK_VIOLATION;
}

/**
 * One look at the lockdown (nova-core `gsp/hal/gh100.rs`): HWCFG2 first; the
 * mailboxes only when it is readable.
 *
 * @param bar BAR0.
 * @param gsp The GSP's registers.
 * @param bootParamsAddress The DMA address of `GSP_FMC_BOOT_PARAMS`.
 * @returns The state.
 * @throws {GpuStoppedAnsweringError} For any other PRI error or all ones.
 */
export function readGspLockdown(
  bar: RegisterReader,
  gsp: FalconRegisters,
  bootParamsAddress: bigint,
): GspLockdown {
  const hwcfg2 = gsp.HWCFG2.readRaw(bar) >>> 0;
  if (isLockdownPattern(hwcfg2)) return { state: "locked", hwcfg2 };
  readChecked(bar, gsp.HWCFG2); // any other PRI error, or all ones, is no lockdown
  const mailbox0 = readChecked(bar, gsp.MAILBOX0) >>> 0;
  if (mailbox0 !== 0) {
    const mailbox1 = readChecked(bar, gsp.MAILBOX1) >>> 0;
    if ((BigInt(mailbox1) << 32n | BigInt(mailbox0)) === bootParamsAddress) {
      return { state: "booting", hwcfg2 };
    }
    return { state: "fmc-error", hwcfg2, mailbox0 };
  }
  const locked = gsp.HWCFG2.decode(hwcfg2).RISCV_BR_PRIV_LOCKDOWN === 1;
  return { state: locked ? "booting" : "released", hwcfg2 };
}

const STATE_CODE = { locked: 0, booting: 1, released: 2, "fmc-error": 3 } as const;

/** What the waits need. */
export interface LockdownWaitInit {
  /** BAR0. */
  readonly bar: RegisterReader;
  /** The device's clock. */
  readonly clock: Clock;
  /** The GSP's registers. */
  readonly gsp: FalconRegisters;
  /** The abort signal (none while unwinding). */
  readonly signal?: AbortSignal;
}

/**
 * Wait until the GSP-FMC releases the GSP's PRIV lockdown (every 10 ms, 30 s).
 *
 * @param init BAR0, clock, GSP registers, signal.
 * @param bootParamsAddress The DMA address of `GSP_FMC_BOOT_PARAMS`.
 * @returns The released state.
 * @throws {HardwareCodeError} When the FMC reports an error in MAILBOX0 (the code decoded).
 * @throws {Error} With the `HardwareTimeoutError` as cause, naming the last state, after 30 s.
 */
export async function waitLockdownRelease(
  init: LockdownWaitInit,
  bootParamsAddress: bigint,
): Promise<GspLockdown> {
  const wait = FSP_WAITS.lockdownRelease;
  const seen: { last: GspLockdown } = { last: { state: "locked", hwcfg2: 0 } };
  try {
    await pollValue(
      () => STATE_CODE[(seen.last = readGspLockdown(init.bar, init.gsp, bootParamsAddress)).state],
      (code) => code >= STATE_CODE.released,
      { ...wait, clock: init.clock, signal: init.signal, name: `${init.gsp.HWCFG2.name} lockdown` },
    );
  } catch (e) {
    if (!(e instanceof HardwareTimeoutError)) throw e;
    const last = seen.last;
    throw new Error(
      `the GSP's PRIV lockdown was not released in ${wait.timeoutMs} ms (${
        last.state === "locked"
          ? `the FSP still owns the PRIV target mask: HWCFG2 reads ${hex(last.hwcfg2)}`
          : `the GSP-FMC is still booting: HWCFG2 ${hex(last.hwcfg2)}`
      })`,
      { cause: e },
    );
  }
  const last = seen.last;
  if (last.state === "fmc-error") {
    throw new HardwareCodeError(
      `GSP-FMC boot failed: GSP MAILBOX0 ${describeFmcMailbox(last.mailbox0)}`,
      { code: last.mailbox0 },
    );
  }
  return last;
}

/**
 * Wait until the GSP's RISC-V core halts (every 10 ms, 5 s), skipping while
 * the lockdown hides its registers (nova-core's FSP unload bundle).
 *
 * @param init BAR0, clock, GSP registers, signal.
 * @returns `RISCV_CPUCTL`'s raw value when halted.
 * @throws {Error} With the `HardwareTimeoutError` as cause, after 5 s.
 */
export async function waitGspHalted(init: LockdownWaitInit): Promise<number> {
  const wait = FSP_WAITS.gspHalt;
  const cpuctl = init.gsp.RISCV_CPUCTL;
  let lastLocked = false;
  let lastValue = 0;
  const halted = () => {
    const hwcfg2 = init.gsp.HWCFG2.readRaw(init.bar) >>> 0;
    lastLocked = isLockdownPattern(hwcfg2);
    if (lastLocked) return 0;
    lastValue = readChecked(init.bar, cpuctl);
    return cpuctl.decode(lastValue).HALTED === 1 ? 1 : 0;
  };
  try {
    await pollValue(halted, (v) => v === 1, {
      ...wait,
      clock: init.clock,
      signal: init.signal,
      name: `${cpuctl.name} HALTED`,
    });
  } catch (e) {
    if (!(e instanceof HardwareTimeoutError)) throw e;
    throw new Error(
      `the GSP's RISC-V core did not halt in ${wait.timeoutMs} ms (${
        lastLocked
          ? "its registers are still locked down by the FSP"
          : `${cpuctl.name} ${hex(lastValue)}`
      })`,
      { cause: e },
    );
  }
  return lastValue;
}
