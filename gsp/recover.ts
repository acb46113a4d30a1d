/**
 * Recover a GPU that an earlier boot left dirty ("WPR2 already up, GPU needs
 * reset"), without a power cycle where the hardware allows it. Shared by
 * every HAL. {@linkcode recover} climbs a ladder and stops at the first rung
 * after which the GPU is clean: WPR2 clear, the GSP and SEC2 falcons halted
 * with no RISC-V core running (on Hopper and later the GSP may instead be
 * locked by the FSP, as after every reset), and no sysmem flush page left
 * registered by a process that is gone (`../shared/reference/resets.md` §7):
 *
 * 1. `unload`: UNLOADING_GUEST_DRIVER and the wait for the suspend, through
 *    a GSP this process booted (`options.gsp`), which then unwinds its own
 *    unload bundle. A GSP-RM that another process booted cannot be reached:
 *    its queues lived in that process's DMA memory (`unload.ts`);
 * 2. `unload-bundle`: the HAL's unload without queues (`unloadGsp`: the GSP
 *    stopped by a falcon reset, FWSEC-SB, Booter-unload, the falcons reset),
 *    when WPR2 is set; the FSP path (Hopper, Blackwell) has no bundle;
 * 3. `falcon-reset`: the GSP and SEC2 engine resets, and a stale sysmem
 *    flush page unregistered. It stops a hung falcon; it never clears WPR2;
 * 4. `flr`: a function-level reset, where the device and backend offer it;
 * 5. `bus-reset`: a secondary bus reset, where allowed (never on H100s; not
 *    while another function on the bus is held by another driver).
 *
 * After a function-level or bus reset the device is checked here, although
 * the kernel has already waited: config space must answer with the GPU's
 * own vendor and device ids (not `0xffff`, nor the `0x0001` of a
 * configuration retry) within the kernel's 60 s, else it is re-enumerated
 * once (remove, rescan) where the backend can; then memory decoding is
 * enabled, `NV_PMC_BOOT_0` must name the same chip, GFW boot must finish
 * (TU10x–AD10x: the PLM bit, then progress `0xff`, 4 s; GH100 and later:
 * the I2CS scratch `0xff`, 4 s, 5 s on GB20x), and bus mastering is
 * enabled again. A device still silent after that, or a GPU that no rung
 * cleaned, needs a power cycle, and the report says so, with every rung
 * tried and what it left.
 *
 * Every wait has a timeout, runs on the device's clock and stops on the
 * caller's `AbortSignal` (the recovery then rejects with the signal's reason).
 *
 * @example A GPU that another process left running GSP-RM
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgedFirmwareFiles, SimulatedGpu } from "../sim/mod.ts";
 * import { bootGsp } from "./boot.ts";
 * import { recover } from "./recover.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/nvidia/tu102/gsp`, { recursive: true });
 * for (const [name, bytes] of Object.entries(forgedFirmwareFiles("tu102"))) {
 *   await Deno.writeFile(`${dir}/nvidia/tu102/gsp/${name}`, bytes);
 * }
 * const state = `${dir}/gpu.json`;
 * {
 *   await using gpu = new SimulatedGpu({ chip: "tu102" });
 *   (await bootGsp(gpu, { firmwareDir: dir })).keep();
 *   await gpu.save(state);
 * }
 * await using gpu = await SimulatedGpu.open(state);
 * const report = await recover(gpu, { firmwareDir: dir });
 * assert(report.ok, report.verdict);
 * assert.deepEqual(report.rungs.map((r) => [r.name, r.outcome]), [
 *   ["unload", "skipped"], // no queues to the GSP-RM of another process
 *   ["unload-bundle", "recovered"],
 * ]);
 * assert.equal(report.rungs[1].state.wpr2, "clear");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type BootPath, type ChipInfo, familyOf } from "../chips/chips.ts";
import { DeviceError, FalconryError, HardwareTimeoutError } from "../errors.ts";
import { Falcon } from "../falcon/falcon.ts";
import { identifyChip } from "../gpu/identify.ts";
import { type FalconState, probeDevice } from "../gpu/probe.ts";
import { type Device, PCI_CONFIG, type ResetMethod } from "../pci/device.ts";
import { pollValue } from "../pci/mmio.ts";
import { ResetRefusedError } from "../pci/reset_error.ts";
import { type ChipRegisters, chipRegisters } from "../registers/bind.ts";
import { classifyRead } from "../registers/pri_error.ts";
import { clearSysmemFlush } from "./_hw.ts";
import type { BootGspOptions } from "./_boot_firmware.ts";
import type { Gsp } from "./boot.ts";
import { unloadGsp } from "./unload.ts";

const log = getLogger(["falconry", "gsp", "recover"]);

/** The rungs of the ladder, in the order they are climbed. */
export const RECOVERY_RUNGS = [
  "unload",
  "unload-bundle",
  "falcon-reset",
  "flr",
  "bus-reset",
] as const;

/** One rung's name. */
export type RungName = (typeof RECOVERY_RUNGS)[number];

/**
 * What a rung did:
 * - `recovered`: the GPU is clean after it (the ladder stops);
 * - `not-recovered`: it ran, and the GPU is still dirty;
 * - `failed`: it ran and reported an error, and the GPU is still dirty;
 * - `skipped`: it does not apply to this GPU as it is (the detail says why);
 * - `refused`: the device or backend cannot run it here (the error says what to do).
 */
export type RungOutcome = "recovered" | "not-recovered" | "failed" | "skipped" | "refused";

/**
 * A falcon as the recovery sees it. `locked`: on the FSP path (Hopper,
 * Blackwell) the FSP holds the GSP's PRIV target mask, as it does after every
 * reset until a boot releases it; no GSP-RM of a host runs then.
 */
export type FalconCondition = "halted" | "running" | "riscv-active" | "locked" | "unreadable";

/** The GPU's state between rungs, read without side effects (`gpu/probe.ts`). */
export interface RecoveryState {
  /** Whether config space and BAR0 answer. */
  readonly answering: boolean;
  /** WPR2: its range (hex), `clear`, or `unknown` (unreadable, or the GPU does not answer). */
  readonly wpr2: { readonly start: string; readonly end: string } | "clear" | "unknown";
  /** The GSP falcon. */
  readonly gsp: FalconCondition;
  /** The SEC2 falcon. */
  readonly sec2: FalconCondition;
  /**
   * The sysmem flush page an earlier process registered (hex), or null when
   * none is (or the chip's flush register is not read here: GH100 and later).
   */
  readonly sysmemFlush: string | null;
  /**
   * WPR2 clear, both falcons halted (or the GSP locked by the FSP on Hopper and later), no RISC-V
   * core running, no stale sysmem flush page.
   */
  readonly clean: boolean;
  /** Why the GPU does not answer, when it does not. */
  readonly note?: string;
}

/** One rung tried. */
export interface RecoveryRung {
  /** The rung. */
  readonly name: RungName;
  /** How long it took, on the device's clock. */
  readonly ms: number;
  /** The GPU after it. */
  readonly state: RecoveryState;
  /** What it did. */
  readonly outcome: RungOutcome;
  /** Its error or refusal, as one line. */
  readonly error?: string;
  /** What it did or why it was skipped (`re-enumerated`, `WPR2 is clear`, …). */
  readonly detail?: string;
}

/** What {@linkcode recover} found and did. */
export interface RecoveryReport {
  /** Whether the GPU is clean at the end. */
  readonly ok: boolean;
  /** The chip, when the GPU answered at some point. */
  readonly chip: string | null;
  /** The GPU before the first rung. */
  readonly before: RecoveryState;
  /** Every rung considered, in order, up to the one that recovered the GPU. */
  readonly rungs: readonly RecoveryRung[];
  /** One sentence for a person: what recovered the GPU, or that it needs a power cycle and why. */
  readonly verdict: string;
  /** Whether nothing short of a power cycle can help. */
  readonly needsPowerCycle: boolean;
}

/** A rung starting, or ending with its result. */
export type RungEvent =
  | { readonly phase: "start"; readonly name: RungName }
  | ({ readonly phase: "end" } & RecoveryRung);

/** Options for {@linkcode recover}. */
export interface RecoverOptions extends
  Pick<
    BootGspOptions,
    | "firmwareDir"
    | "firmwareVersion"
    | "firmwareManifest"
    | "onFirmwareMismatch"
    | "signal"
    | "onStep"
  > {
  /** The rungs to try (default: all, {@linkcode RECOVERY_RUNGS}); they run in ladder order. */
  methods?: readonly RungName[];
  /** Called as each rung starts and ends. */
  onRung?: (event: RungEvent) => void;
  /** A GSP this process booted and still holds: the `unload` rung unloads it through its queues. */
  gsp?: Gsp;
}

/** The waits of the device check after a reset. */
export const RECOVERY_WAITS = {
  /** How long the kernel waits for config space after a reset (`PCIE_RESET_READY_POLL_MS`). */
  configReadyMs: 60_000,
  /** The kernel's first poll interval; it doubles, as `pci_dev_wait` does, up to `maxPollMs`. */
  firstPollMs: 1,
  /** Longest interval between config reads. */
  maxPollMs: 1000,
  /** After a re-enumeration: how long config space may take to answer. */
  rescanReadyMs: 1000,
} as const;

/** How GFW boot (devinit, or the FSP's secure boot) reports completion, per boot path. */
interface GfwBootCheck {
  /** Timeout, ms, for this chip. */
  timeoutMs(chip: ChipInfo): number;
  /** Poll interval, ms. */
  readonly intervalMs: number;
  /** The register polled, for messages. */
  register(chip: ChipInfo): string;
  /** Whether it has finished (reads are checked: a dead GPU throws). */
  done(device: Device, chip: ChipInfo): boolean;
}

/** `0xff` in the progress byte or the scratch register: done. */
const GFW_DONE = 0xff;

const GFW_BOOT: Readonly<Record<BootPath, GfwBootCheck>> = {
  // nova-core gfw.rs wait_gfw_boot_completion: PLM bit 0, then progress 0xff; 4 s.
  sec2: {
    timeoutMs: () => 4000,
    intervalMs: 1,
    register: (chip) => chipRegisters(chip).PGC6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT.name,
    done(device, chip) {
      const regs = chipRegisters(chip).PGC6;
      const plm = regs.AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK;
      if (plm.decode(checkedRead(device, plm)).READ_PROTECTION_LEVEL0 !== 1) return false;
      const progress = regs.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
      return progress.decode(checkedRead(device, progress)).PROGRESS === GFW_DONE;
    },
  },
  // OpenRM kfspWaitForSecureBoot: I2CS scratch 0xff; 4 s (GH100, GB100), 5 s (GB202).
  fsp: {
    timeoutMs: (chip) => familyOf(chip).name === "gb20x" ? 5000 : 4000,
    intervalMs: 10,
    register: (chip) => chipRegisters(chip).THERM.I2CS_SCRATCH.name,
    done(device, chip) {
      const scratch = chipRegisters(chip).THERM.I2CS_SCRATCH;
      return scratch.decode(checkedRead(device, scratch)).STATUS === GFW_DONE;
    },
  },
};

/** A BAR0 read that is register contents, or a `DeviceError` saying the GPU does not answer. */
function checkedRead(
  device: Device,
  reg: { readRaw(bar: Device["bar0"]): number; name: string },
): number {
  const value = reg.readRaw(device.bar0) >>> 0;
  if (classifyRead(value) !== "ok") {
    throw new DeviceError(
      device.info.bdf,
      `${reg.name} reads 0x${value.toString(16)}: the GPU does not answer`,
    );
  }
  return value;
}

/** Config space: `0xffff` (nothing answers) and `0x0001` (a configuration retry) mean "not back". */
function configIds(device: Device): { vendor: number; device: number; back: boolean } {
  const vendor = device.config.read16(PCI_CONFIG.vendorId);
  const id = device.config.read16(PCI_CONFIG.deviceId);
  return { vendor, device: id, back: vendor !== 0xffff && vendor !== 0x0001 };
}

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

/** `FECS_PRI_TARGET_MASK_VIOLATION`: the engine's registers are masked from the host. */
const TARGET_MASK_VIOLATION = 0xbadf4100;

function falconCondition(state: FalconState | undefined): FalconCondition {
  if (!state) return "unreadable";
  const masked = state.registers.some((r) =>
    (Number(r.raw) & 0xffffff00) >>> 0 === TARGET_MASK_VIOLATION
  );
  if (state.note !== undefined || masked) return "locked";
  if (state.riscv.active === true) return "riscv-active";
  if (state.halted === null) return "unreadable";
  return state.halted ? "halted" : "running";
}

/** The GPU's state, read only (config space, then the probe's allowlist). */
export function readRecoveryState(device: Device, chip?: ChipInfo): RecoveryState {
  const silent = (note: string): RecoveryState => ({
    answering: false,
    wpr2: "unknown",
    gsp: "unreadable",
    sec2: "unreadable",
    sysmemFlush: null,
    clean: false,
    note,
  });
  let report;
  try {
    // A backend whose function was removed may throw rather than read all ones.
    const ids = configIds(device);
    if (!ids.back) return silent(`config space reads vendor id 0x${hex4(ids.vendor)}`);
    report = probeDevice(device.bar0, chip);
  } catch (e) {
    return silent(messageOf(e));
  }
  const w = report.wpr2;
  const wpr2 = w.status === "set"
    ? { start: w.start!, end: w.end! }
    : w.status === "not-set"
    ? "clear" as const
    : "unknown" as const;
  const gsp = falconCondition(report.falcons.find((f) => f.engine === "GSP"));
  const sec2 = falconCondition(report.falcons.find((f) => f.engine === "SEC2"));
  const flush = sysmemFlushAddress(device, chipRegisters(report.chip.name));
  const gspIdle = gsp === "halted" || (gsp === "locked" && report.chip.bootPath === "fsp");
  return {
    answering: true,
    wpr2,
    gsp,
    sec2,
    sysmemFlush: flush === undefined ? null : `0x${flush.toString(16)}`,
    clean: wpr2 === "clear" && gspIdle && sec2 === "halted" && flush === undefined,
  };
}

/**
 * The registered sysmem flush page of the TU102 family (`NISO_FLUSH_SYSMEM_ADDR`, and `_HI` from
 * GA100), or undefined when none is registered, the read failed, or the chip has other registers.
 */
function sysmemFlushAddress(device: Device, regs: ChipRegisters): bigint | undefined {
  const { NISO_FLUSH_SYSMEM_ADDR: low, NISO_FLUSH_SYSMEM_ADDR_HI: high } = regs.PFB;
  if (!low.present) return undefined;
  const lo = low.readRaw(device.bar0) >>> 0;
  const hi = high.present ? high.readRaw(device.bar0) >>> 0 : 0;
  if (classifyRead(lo) !== "ok" || classifyRead(hi) !== "ok" || lo === 0) return undefined;
  return (BigInt(hi) << 40n) | (BigInt(lo) << 8n);
}

/** The state in a few words, for verdicts and logs. */
export function describeRecoveryState(state: RecoveryState): string {
  if (!state.answering) return `the GPU does not answer (${state.note})`;
  const wpr2 = typeof state.wpr2 === "string"
    ? `WPR2 ${state.wpr2}`
    : `WPR2 ${state.wpr2.start}..${state.wpr2.end}`;
  const flush = state.sysmemFlush ? `, stale sysmem flush page ${state.sysmemFlush}` : "";
  return `${wpr2}, GSP ${state.gsp}, SEC2 ${state.sec2}${flush}`;
}

/**
 * A GPU an earlier boot left dirty, refused before anything is written:
 * what a boot without recovery says (`boot.ts` without `--recover`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { checkGpuClean, GpuNeedsResetError } from "./recover.ts";
 * await using gpu = new SimulatedGpu({ chip: "ga102" });
 * assert((await checkGpuClean(gpu)).clean);
 * gpu.pfb.setWpr2(0x5_fe00_0000, 0x5_ff00_0000);
 * await assert.rejects(checkGpuClean(gpu), (e) => {
 *   assert(e instanceof GpuNeedsResetError);
 *   assert.equal(
 *     e.message,
 *     "0000:01:00.0: GPU needs reset: run reset.ts or boot --recover " +
 *       "(WPR2 0x5fe000000..0x5ff000000, GSP halted, SEC2 halted)",
 *   );
 *   return true;
 * });
 * ```
 */
export class GpuNeedsResetError extends DeviceError {
  /**
   * Construct it.
   *
   * @param bdf The GPU.
   * @param state What it holds.
   */
  constructor(bdf: string, readonly state: RecoveryState) {
    super(bdf, `GPU needs reset: run reset.ts or boot --recover (${describeRecoveryState(state)})`);
  }
}

/**
 * Let GFW boot finish before the state is judged: opening a device through
 * VFIO resets it, and devinit then runs on the falcons for a while. A GFW
 * boot that never finishes is logged; the state read after it tells the rest.
 */
async function settle(device: Device, chip: ChipInfo | undefined, signal?: AbortSignal) {
  if (!chip) return;
  try {
    await waitGfwBoot(device, chip, "before the recovery", signal);
  } catch (e) {
    if (signal?.aborted) throw e;
    log.warn("{bdf}: {error}", { bdf: device.info.bdf, error: messageOf(e) });
  }
}

/**
 * Wait for GFW boot to finish, then read the GPU's state (no writes) and
 * refuse a dirty one.
 *
 * @param device The GPU.
 * @param options The abort signal.
 * @returns The state, clean.
 * @throws {GpuNeedsResetError} When WPR2 is set, a falcon runs or the GPU does not answer.
 */
export async function checkGpuClean(
  device: Device,
  options: { signal?: AbortSignal } = {},
): Promise<RecoveryState> {
  const chip = identifyQuietly(device);
  await settle(device, chip, options.signal);
  const state = readRecoveryState(device, chip);
  if (!state.clean) throw new GpuNeedsResetError(device.info.bdf, state);
  return state;
}

/** A rung's error as one line. */
function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What a rung's body reports before the state is read. */
interface RungResult {
  /** Not applicable, or refused: the state is not read again, the reason says why. */
  readonly skipped?: { outcome: "skipped" | "refused"; reason: string };
  readonly error?: unknown;
  readonly detail?: string;
  /** The device stopped answering after a reset and did not come back. */
  readonly lost?: boolean;
}

/** Where a recovery is, shared by the rungs. */
interface Ladder {
  readonly device: Device;
  readonly options: RecoverOptions;
  chip?: ChipInfo;
  state: RecoveryState;
  /** The reset after which the device stopped answering, if it did not come back. */
  lostAfter?: string;
}

/** The identified chip, or undefined when BAR0 does not answer. */
function identifyQuietly(device: Device): ChipInfo | undefined {
  try {
    if (!configIds(device).back) return undefined;
    return identifyChip(device.bar0).chip;
  } catch {
    return undefined;
  }
}

/**
 * Wait for GFW boot (devinit, or the FSP's secure boot) to finish, with the
 * chip's timeout, on the device's clock.
 *
 * @returns How long it took.
 * @throws {FalconryError} When it does not finish in time (`when` says after what).
 */
async function waitGfwBoot(
  device: Device,
  chip: ChipInfo,
  when: string,
  signal?: AbortSignal,
): Promise<number> {
  const gfw = GFW_BOOT[familyOf(chip).bootPath];
  const timeoutMs = gfw.timeoutMs(chip);
  const started = device.clock.now();
  try {
    await pollValue(() => gfw.done(device, chip) ? 1 : 0, (v) => v === 1, {
      timeoutMs,
      intervalMs: gfw.intervalMs,
      clock: device.clock,
      signal,
      name: gfw.register(chip),
    });
  } catch (e) {
    if (!(e instanceof HardwareTimeoutError)) throw e;
    throw new FalconryError(
      `GFW boot did not finish within ${timeoutMs} ms ${when} (${gfw.register(chip)})`,
      { cause: e },
    );
  }
  return device.clock.now() - started;
}

/** Sleep on the device's clock, doubling from `firstPollMs`, until config space answers. */
async function waitConfigBack(
  device: Device,
  deadline: number,
  signal?: AbortSignal,
): Promise<boolean> {
  let interval: number = RECOVERY_WAITS.firstPollMs;
  for (;;) {
    if (configIds(device).back) return true;
    const left = deadline - device.clock.now();
    if (left <= 0) return false;
    await device.clock.sleep(Math.min(interval, left), signal);
    interval = Math.min(interval * 2, RECOVERY_WAITS.maxPollMs);
  }
}

/**
 * The device check after a reset (see the module documentation). Returns
 * what happened; `lost` when config space never answered again.
 */
async function checkAfterReset(
  ladder: Ladder,
  what: string,
  startedAt: number,
): Promise<{ lost?: boolean; detail: string }> {
  const { device, options: { signal } } = ladder;
  const notes: string[] = [];
  let back = await waitConfigBack(device, startedAt + RECOVERY_WAITS.configReadyMs, signal);
  if (!back) {
    const silentFor = Math.round(device.clock.now() - startedAt);
    const refusal = device.reset?.refusal("reenumerate");
    if (refusal !== undefined) {
      ladder.lostAfter = `config space still reads 0xffff ${silentFor} ms after the ${what} ` +
        `(no re-enumeration: ${refusal})`;
      return { lost: true, detail: `config space still reads 0xffff ${silentFor} ms after it` };
    }
    notes.push(`config space read 0xffff ${silentFor} ms after the reset: re-enumerated`);
    try {
      await device.reset!.reenumerate(signal);
      back = await waitConfigBack(
        device,
        device.clock.now() + RECOVERY_WAITS.rescanReadyMs,
        signal,
      );
    } catch (e) {
      if (signal?.aborted) throw e;
      notes.push(messageOf(e));
    }
    if (!back) {
      ladder.lostAfter = `config space still reads 0xffff ${silentFor} ms after the ${what}, ` +
        "and a re-enumeration did not find the device";
      return { lost: true, detail: notes.join("; ") };
    }
  }
  const ids = configIds(device);
  if (ids.vendor !== device.info.vendor || ids.device !== device.info.device) {
    throw new DeviceError(
      device.info.bdf,
      `after the ${what}, config space names ${hex4(ids.vendor)}:${hex4(ids.device)}, not the ` +
        `GPU that was reset (${hex4(device.info.vendor)}:${hex4(device.info.device)})`,
    );
  }
  const command = device.config.read16(PCI_CONFIG.command);
  device.config.write16(PCI_CONFIG.command, command | PCI_CONFIG.commandMemory);
  const identity = identifyChip(device.bar0);
  if (ladder.chip && identity.chip.name !== ladder.chip.name) {
    throw new DeviceError(
      device.info.bdf,
      `after the ${what}, NV_PMC_BOOT_0 names a ${identity.name}, not the ${ladder.chip.name} ` +
        "that was reset",
    );
  }
  ladder.chip = identity.chip;
  const chip = identity.chip;
  const gfwMs = await waitGfwBoot(device, chip, `after the ${what}`, signal);
  notes.push(`GFW boot done in ${Math.round(gfwMs)} ms`);
  const restored = device.config.read16(PCI_CONFIG.command) | PCI_CONFIG.commandMemory |
    PCI_CONFIG.commandBusMaster;
  device.config.write16(PCI_CONFIG.command, restored);
  return { detail: notes.join("; ") };
}

/** Rungs 4 and 5: a reset through the device's `reset` capability, then the check. */
async function resetRung(
  ladder: Ladder,
  method: Exclude<ResetMethod, "reenumerate">,
): Promise<RungResult> {
  const { device, options: { signal } } = ladder;
  const what = method === "flr" ? "function-level reset" : "secondary bus reset";
  const reset = device.reset;
  if (!reset) {
    return {
      skipped: {
        outcome: "refused",
        reason: "this backend offers no reset: reset the GPU another way",
      },
    };
  }
  const refusal = reset.refusal(method);
  if (refusal !== undefined) return { skipped: { outcome: "refused", reason: refusal } };
  const startedAt = device.clock.now();
  let error: unknown;
  try {
    await (method === "flr" ? reset.functionLevel(signal) : reset.bus(signal));
  } catch (e) {
    if (signal?.aborted) throw e;
    if (e instanceof ResetRefusedError) {
      return { skipped: { outcome: "refused", reason: e.refusal } };
    }
    error = e; // the kernel gave up waiting; the check below decides
  }
  try {
    const checked = await checkAfterReset(ladder, what, startedAt);
    return { error: checked.lost ? error : undefined, ...checked };
  } catch (e) {
    if (signal?.aborted) throw e;
    return { error: e };
  }
}

/** Each rung's work. */
const RUNGS: Readonly<Record<RungName, (ladder: Ladder) => Promise<RungResult>>> = {
  async unload(ladder) {
    const { state, options } = ladder;
    if (!state.answering) return skip("the GPU does not answer");
    // A GSP of this process is unloaded even if GSP-RM died: its unwinding frees what it holds.
    if (!options.gsp) {
      if (state.gsp !== "riscv-active") return skip("GSP-RM is not running");
      return skip(
        "GSP-RM runs, but this process holds no queues to it (they belonged to the process " +
          "that booted it)",
      );
    }
    try {
      await options.gsp.unload({ signal: options.signal, onStep: options.onStep });
      return { detail: "UNLOADING_GUEST_DRIVER acknowledged, GSP suspended, unload bundle run" };
    } catch (e) {
      if (options.signal?.aborted) throw e;
      return { error: e };
    }
  },

  async "unload-bundle"(ladder) {
    const { state, chip, device, options } = ladder;
    if (!state.answering || !chip) return skip("the GPU does not answer");
    if (familyOf(chip).bootPath !== "sec2") {
      return skip(`${chip.name} boots through the FSP, which has no unload bundle`);
    }
    if (state.wpr2 === "clear") return skip("WPR2 is clear: no GSP-RM to unload");
    try {
      await unloadGsp(device, {
        firmwareDir: options.firmwareDir,
        firmwareVersion: options.firmwareVersion,
        firmwareManifest: options.firmwareManifest,
        onFirmwareMismatch: options.onFirmwareMismatch,
        signal: options.signal,
        onStep: options.onStep,
      });
      return { detail: "FWSEC-SB, Booter-unload, falcons reset" };
    } catch (e) {
      if (options.signal?.aborted) throw e;
      return { error: e };
    }
  },

  async "falcon-reset"(ladder) {
    const { state, chip, device, options } = ladder;
    if (!state.answering || !chip) return skip("the GPU does not answer");
    const failed: string[] = [];
    // The FSP holds a locked GSP: its ENGINE register is out of the host's reach.
    const engines = state.gsp === "locked" ? ["SEC2"] as const : ["GSP", "SEC2"] as const;
    for (const engine of engines) {
      try {
        await new Falcon(device, chip, engine).reset({ signal: options.signal });
      } catch (e) {
        if (options.signal?.aborted) throw e;
        failed.push(`${engine}: ${messageOf(e)}`);
      }
    }
    // The page an earlier process registered is gone with its memory: nothing may flush to it.
    let flush = "";
    if (familyOf(chip).bootPath === "sec2") {
      try {
        const low = clearSysmemFlush(device.bar0, chipRegisters(chip));
        if (low) {
          flush = `; stale sysmem flush page 0x${(BigInt(low) << 8n).toString(16)} unregistered`;
        }
      } catch (e) {
        failed.push(`sysmem flush: ${messageOf(e)}`);
      }
    }
    if (failed.length) return { error: new FalconryError(failed.join("; ")) };
    return {
      detail: `${engines.join(" and ")} engine${engines.length > 1 ? "s" : ""} reset${flush}`,
    };
  },

  flr: (ladder) => resetRung(ladder, "flr"),
  "bus-reset": (ladder) => resetRung(ladder, "bus"),
};

function skip(reason: string): RungResult {
  return { skipped: { outcome: "skipped", reason } };
}

/** Rungs that need BAR0 writes or a reset: all of them. On a read-only device, why not. */
function readOnlyRefusal(device: Device): string | undefined {
  if (!device.readOnly) return undefined;
  return device.reset?.refusal("flr") ??
    "the device is open read-only: open it writable through VFIO (bind it to vfio-pci) to recover it";
}

function summary(rungs: readonly RecoveryRung[]): string {
  return rungs.map((r) => {
    const why = r.error ?? r.detail;
    switch (r.outcome) {
      case "skipped":
      case "refused":
        return `${r.name} ${r.outcome} (${why})`;
      case "failed":
        return `${r.name} failed (${r.error})`;
      default:
        return `${r.name} left ${describeRecoveryState(r.state)}`;
    }
  }).join("; ");
}

/**
 * Climb the recovery ladder (see the module documentation).
 *
 * @param device The GPU (writable for every rung; a read-only device gets every rung refused).
 * @param options Firmware for the unload bundle, rungs to try, signal, listeners, a GSP of this process.
 * @returns What was tried and the verdict; `ok` when the GPU is clean at the end.
 * @throws {RangeError} For an unknown rung in `methods`.
 * @throws The signal's reason when it aborts.
 */
export async function recover(
  device: Device,
  options: RecoverOptions = {},
): Promise<RecoveryReport> {
  const { signal } = options;
  const methods = new Set<RungName>(options.methods ?? RECOVERY_RUNGS);
  for (const m of methods) {
    if (!(RECOVERY_RUNGS as readonly string[]).includes(m)) {
      throw new RangeError(`recover: unknown rung ${m}; rungs: ${RECOVERY_RUNGS.join(", ")}`);
    }
  }
  signal?.throwIfAborted();
  const ladder: Ladder = { device, options, chip: identifyQuietly(device), state: undefined! };
  await settle(device, ladder.chip, signal);
  ladder.state = readRecoveryState(device, ladder.chip);
  const before = ladder.state;
  const rungs: RecoveryRung[] = [];
  const report = (verdict: string, needsPowerCycle = false): RecoveryReport => {
    const ok = ladder.state.clean;
    log.info("recovery of {bdf}: {verdict}", { bdf: device.info.bdf, verdict });
    return {
      ok,
      chip: ladder.chip?.name ?? null,
      before,
      rungs,
      verdict,
      needsPowerCycle: !ok && needsPowerCycle,
    };
  };
  if (before.clean) return report(`nothing to do: ${describeRecoveryState(before)}`);

  const readOnly = readOnlyRefusal(device);
  for (const name of RECOVERY_RUNGS) {
    if (!methods.has(name)) continue;
    options.onRung?.({ phase: "start", name });
    const started = device.clock.now();
    const result: RungResult = readOnly !== undefined
      ? { skipped: { outcome: "refused", reason: readOnly } }
      : ladder.lostAfter !== undefined && name !== "bus-reset"
      ? skip("the GPU does not answer")
      : await RUNGS[name](ladder);
    const ms = device.clock.now() - started;
    let rung: RecoveryRung;
    if (result.skipped) {
      const { outcome, reason } = result.skipped;
      rung = outcome === "refused"
        ? { name, ms, state: ladder.state, outcome, error: reason }
        : { name, ms, state: ladder.state, outcome, detail: reason };
    } else {
      if (!result.lost) ladder.lostAfter = undefined;
      ladder.state = readRecoveryState(device, ladder.chip);
      const outcome: RungOutcome = ladder.state.clean
        ? "recovered"
        : result.error !== undefined
        ? "failed"
        : "not-recovered";
      rung = {
        name,
        ms,
        state: ladder.state,
        outcome,
        ...(result.error !== undefined ? { error: messageOf(result.error) } : {}),
        ...(result.detail !== undefined ? { detail: result.detail } : {}),
      };
    }
    rungs.push(rung);
    log.info("{rung}: {outcome} in {ms} ms; {state}", {
      rung: name,
      outcome: rung.outcome,
      ms: ms.toFixed(1),
      state: describeRecoveryState(rung.state),
    });
    options.onRung?.({ phase: "end", ...rung });
    if (rung.outcome === "recovered") {
      return report(`recovered by ${name}: ${describeRecoveryState(rung.state)}`);
    }
  }

  const tried = summary(rungs);
  if (readOnly !== undefined) return report(`nothing was tried: ${readOnly}`);
  if (ladder.lostAfter !== undefined) {
    return report(
      `the GPU needs a power cycle: ${ladder.lostAfter} (tried: ${tried})`,
      true,
    );
  }
  const left = RECOVERY_RUNGS.filter((r) => !methods.has(r));
  if (left.some((r) => r === "flr" || r === "bus-reset")) {
    return report(
      `not recovered: ${describeRecoveryState(ladder.state)} (tried: ${tried}); the rungs left ` +
        `out (${left.join(", ")}) may help`,
    );
  }
  return report(
    `the GPU needs a power cycle: no rung cleaned it, ${describeRecoveryState(ladder.state)} ` +
      `(tried: ${tried})`,
    true,
  );
}
