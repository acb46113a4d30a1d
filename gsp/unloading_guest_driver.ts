/**
 * UNLOADING_GUEST_DRIVER: the first step of unloading GSP-RM. The driver
 * sends the new power level (0 = full unload) and waits for the reply; GSP-RM
 * then sets MAILBOX0 bit 31 (`LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`) and
 * halts, which the unload sequence polls for separately (reference §6.1).
 *
 * {@linkcode waitGspSuspended} is that poll: MAILBOX0 bit 31 every 10 ms,
 * up to 5 s (reference §6.1, §8). NVIDIA's own wait
 * (`kgspWaitForProcessorSuspend_TU102`) compares the whole MAILBOX0 with
 * `0x80000000`; testing the bit accepts that and any other low bits.
 *
 * Payload (`rpc_unloading_guest_driver_v1F_07`, 8 bytes; NVIDIA 570.144
 * `g_rpc-structures.h`, pinned by `gsp_abi_check.c`): u8 `bInPMTransition`
 * at 0, u8 `bGc6Entering` at 1, u32 `newLevel` at 4.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeUnloadingGuestDriver, UNLOAD_LEVEL } from "./unloading_guest_driver.ts";
 * assert.deepEqual([...encodeUnloadingGuestDriver(UNLOAD_LEVEL.FULL)], [0, 0, 0, 0, 0, 0, 0, 0]);
 * assert.deepEqual([...encodeUnloadingGuestDriver(UNLOAD_LEVEL.S3)], [1, 0, 0, 0, 3, 0, 0, 0]);
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../chips/chips.ts";
import type { Clock } from "../pci/clock.ts";
import { pollValue } from "../pci/mmio.ts";
import { falconRegisters, type RegisterReader } from "../registers/bind.ts";
import type { GspMessageQueues, WaitOptions } from "./msgq.ts";
import { RPC_FUNCTION } from "./rpc.ts";

/** `rpc_unloading_guest_driver_v1F_07` offsets. */
export const UNLOADING_GUEST_DRIVER = {
  size: 8,
  bInPMTransition: 0,
  bGc6Entering: 1,
  newLevel: 4,
} as const;

/** `newLevel` values (`NV2080_CTRL_GPU_SET_POWER_STATE_GPU_LEVEL_*`). */
export const UNLOAD_LEVEL = {
  /** Full unload. */
  FULL: 0,
  /** Suspend to RAM. */
  S3: 3,
  /** Hibernate. */
  HIBERNATE: 7,
} as const;

/**
 * Encode the payload; `bInPMTransition` is set for any level but a full unload.
 *
 * @param newLevel The power level.
 * @returns 8 bytes.
 */
export function encodeUnloadingGuestDriver(newLevel: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(UNLOADING_GUEST_DRIVER.size);
  const v = new DataView(bytes.buffer);
  v.setUint8(UNLOADING_GUEST_DRIVER.bInPMTransition, newLevel === UNLOAD_LEVEL.FULL ? 0 : 1);
  v.setUint32(UNLOADING_GUEST_DRIVER.newLevel, newLevel, true);
  return bytes;
}

/**
 * Send UNLOADING_GUEST_DRIVER and wait for the reply.
 *
 * @param queues The message queues.
 * @param options Signal, per-message timeout (default 5 s), and the level (default full).
 * @throws {RpcError} when the reply's result is not success.
 */
export async function unloadGuestDriver(
  queues: GspMessageQueues,
  options: WaitOptions & { newLevel?: number } = {},
): Promise<void> {
  await queues.call(
    RPC_FUNCTION.UNLOADING_GUEST_DRIVER,
    encodeUnloadingGuestDriver(options.newLevel ?? UNLOAD_LEVEL.FULL),
    options,
  );
}

/** `LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`: MAILBOX0 bit 31 once GSP-RM has suspended. */
export const LIBOS_INTERRUPT_PROCESSOR_SUSPENDED = 0x8000_0000;

/** The suspend poll (reference §8: every 10 ms, up to 5 s). */
export const SUSPEND_WAIT = { intervalMs: 10, timeoutMs: 5000 } as const;

/**
 * Wait for GSP-RM to report itself suspended after UNLOADING_GUEST_DRIVER.
 *
 * @param bar BAR0.
 * @param options Chip, the device's clock, abort signal.
 * @returns MAILBOX0 as read.
 * @throws {HardwareTimeoutError} naming GSP MAILBOX0 after 5 s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { HardwareTimeoutError } from "../errors.ts";
 * import { waitGspSuspended } from "./unloading_guest_driver.ts";
 * const clock = new ManualClock();
 * await assert.rejects(
 *   waitGspSuspended({ read32: () => 0x1000 }, { chip: "tu102", clock }),
 *   HardwareTimeoutError,
 * );
 * assert.equal(clock.now(), 5000);
 * assert.equal(await waitGspSuspended({ read32: () => 0x80000000 }, { chip: "tu102", clock }), 0x80000000);
 * ```
 */
export function waitGspSuspended(
  bar: RegisterReader,
  options: { chip: string | ChipInfo; clock: Clock; signal?: AbortSignal },
): Promise<number> {
  const mailbox0 = falconRegisters(options.chip, "GSP").MAILBOX0;
  return pollValue(
    () => mailbox0.readRaw(bar),
    (value) => (value & LIBOS_INTERRUPT_PROCESSOR_SUSPENDED) !== 0,
    {
      ...SUSPEND_WAIT,
      clock: options.clock,
      signal: options.signal,
      name: `${mailbox0.name} LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`,
    },
  );
}
