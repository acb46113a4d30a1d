/**
 * Resets through sysfs, for a device opened with the sysfs backend:
 *
 * - function-level reset: `reset_method` set to `flr`, then `1` written to
 *   `reset` (Linux's `pci_reset_function`: it saves the configuration,
 *   resets, waits up to 60 s for the device, and restores the
 *   configuration), then `reset_method` put back as it was;
 * - bus reset: `1` written to the parent bridge's `reset_subordinate`
 *   (Linux 6.13+; the kernel saves and restores every function below the
 *   bridge);
 * - re-enumeration: `1` to the device's `remove`, then to
 *   `/sys/bus/pci/rescan`. It resets nothing; it lets the kernel find a
 *   device that dropped off the bus. This device's BAR0 and config
 *   descriptors are closed first: open the device again afterwards.
 *
 * After each reset the device is checked on its own clock, whatever the
 * kernel said: config space must stop reading 0xffff/0x0001 within the
 * kernel's 60 s, and any header register the kernel's restore missed is
 * written back.
 *
 * @example Read-only devices refuse every reset, saying what to do
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { SysfsDeviceReset } from "./sysfs_reset.ts";
 * const config = { size: 256, read8: () => 0, read16: () => 0, read32: () => 0,
 *   write8() {}, write16() {}, write32() {} };
 * const reset = new SysfsDeviceReset({
 *   info: { bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, path: "/nonexistent" },
 *   sysfsRoot: "/nonexistent", config, clock: new ManualClock(), readOnly: true,
 *   release: () => {},
 * });
 * assert.match(reset.refusal("flr") ?? "", /readOnly: false/);
 * await assert.rejects(reset.bus(), { name: "ResetRefusedError" });
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { Clock } from "./clock.ts";
import type { ConfigSpace, DeviceReset, ResetMethod } from "./device.ts";
import type { ResetQuirk } from "./reset_quirks.ts";
import { type SysfsWriter, systemSysfsWriter } from "./sysfs_writer.ts";
import {
  busRefusal,
  busTopology,
  flrRefusal,
  logReset,
  readIds,
  readOnlyRefusal,
  refuse,
  RESET_READY_TIMEOUT_MS,
  restoreHeader,
  saveHeader,
  waitUntilAnswering,
} from "./_reset_support.ts";

const log = getLogger(["falconry", "pci", "reset"]);

/** What {@linkcode SysfsDeviceReset} needs. */
export interface SysfsDeviceResetOptions {
  /** The device: address, ids and its `<root>/bus/pci/devices/<bdf>` path. */
  info: { bdf: string; vendor: number; device: number; path: string };
  /** The sysfs mount point (`/sys`). */
  sysfsRoot: string;
  /** The device's configuration space (the header is restored through it). */
  config: ConfigSpace;
  /** The device's clock: every wait runs on it. */
  clock: Clock;
  /** Refuse every reset. */
  readOnly: boolean;
  /** Close BAR0 and config space before the device is removed from the bus. */
  release: () => void;
  /** More quirks than the built-in table. */
  quirks?: readonly ResetQuirk[];
  /** How attributes are written; tests substitute a fake kernel. */
  writer?: SysfsWriter;
}

/** {@linkcode DeviceReset} over sysfs attributes. */
export class SysfsDeviceReset implements DeviceReset {
  readonly #o: SysfsDeviceResetOptions;
  readonly #writer: SysfsWriter;
  readonly #context: Context;

  /**
   * Set it up; nothing is read or written until a method is called.
   *
   * @param options The device, its config space and clock, and the writer.
   */
  constructor(options: SysfsDeviceResetOptions) {
    this.#o = options;
    this.#writer = options.writer ?? systemSysfsWriter;
    this.#context = { ...options, writer: this.#writer, quirks: options.quirks ?? [] };
  }

  /**
   * Why `method` cannot run here, or undefined.
   *
   * @param method The reset method.
   * @returns A sentence that says what to do, or undefined.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ManualClock } from "./clock.ts";
   * import { SysfsDeviceReset } from "./sysfs_reset.ts";
   * const config = { size: 256, read8: () => 0, read16: () => 0, read32: () => 0,
   *   write8() {}, write16() {}, write32() {} };
   * const reset = new SysfsDeviceReset({
   *   info: { bdf: "0000:01:00.0", vendor: 0x10de, device: 0x1e07, path: "/nonexistent" },
   *   sysfsRoot: "/nonexistent", config, clock: new ManualClock(), readOnly: false,
   *   release: () => {},
   * });
   * assert.match(reset.refusal("flr") ?? "", /does not advertise function-level reset/);
   * ```
   */
  refusal(method: ResetMethod): string | undefined {
    if (this.#o.readOnly) return readOnlyRefusal();
    return REFUSALS[method](this.#context);
  }

  /**
   * Function-level reset through `reset_method` = `flr` and `reset`.
   *
   * @param signal Stop waiting for the device early.
   * @returns A promise that resolves once the device answers with its header restored.
   */
  async functionLevel(signal?: AbortSignal): Promise<void> {
    const refusal = this.refusal("flr");
    if (refusal !== undefined) return refuse(this.#o.info.bdf, "flr", refusal);
    signal?.throwIfAborted();
    const { path } = this.#o.info;
    const saved = saveHeader(this.#o.config);
    const methodPath = `${path}/reset_method`;
    const previous = Deno.readTextFileSync(methodPath).trim();
    await this.#writer.write(methodPath, "flr");
    try {
      await this.#writer.write(`${path}/reset`, "1");
    } finally {
      await this.#putBack(methodPath, previous);
    }
    await this.#afterReset("function-level reset", saved, signal);
  }

  /**
   * Secondary bus reset through the parent bridge's `reset_subordinate`.
   *
   * @param signal Stop waiting for the device early.
   * @returns A promise that resolves once the device answers with its header restored.
   */
  async bus(signal?: AbortSignal): Promise<void> {
    const refusal = this.refusal("bus");
    if (refusal !== undefined) return refuse(this.#o.info.bdf, "bus", refusal);
    signal?.throwIfAborted();
    const { bridge, functions } = busTopology(this.#o.info.path);
    const others = functions.filter((f) => f.bdf !== this.#o.info.bdf && f.driver !== null);
    if (others.length > 0) {
      log.warn("{bdf}: the bus reset also resets {others}; the kernel tells their drivers", {
        bdf: this.#o.info.bdf,
        others: others.map((f) => `${f.bdf} (${f.driver})`).join(", "),
      });
    }
    const saved = saveHeader(this.#o.config);
    await this.#writer.write(`${bridge!.path}/reset_subordinate`, "1");
    await this.#afterReset(`secondary bus reset below ${bridge!.bdf}`, saved, signal);
  }

  /**
   * Remove the device, rescan the bus, and wait for it to answer again.
   * This device's BAR0 and config space are closed first; open the device
   * again afterwards.
   *
   * @param signal Stop waiting for the device early.
   * @returns A promise that resolves once the rescanned device answers.
   */
  async reenumerate(signal?: AbortSignal): Promise<void> {
    const refusal = this.refusal("reenumerate");
    if (refusal !== undefined) return refuse(this.#o.info.bdf, "reenumerate", refusal);
    signal?.throwIfAborted();
    const { bdf, path } = this.#o.info;
    this.#o.release();
    if (exists(path)) await this.#writer.write(`${path}/remove`, "1");
    await this.#writer.write(`${this.#o.sysfsRoot}/bus/pci/rescan`, "1");
    const waited = await waitUntilAnswering(() => exists(path) ? readIds(path) : 0xffffffff, {
      bdf,
      clock: this.#o.clock,
      signal,
      what: "re-enumeration (remove, rescan)",
    });
    log.info("{bdf}: re-enumerated; it answered after {waited} ms; open it again to use it", {
      bdf,
      waited: Math.round(waited),
    });
  }

  async #putBack(methodPath: string, previous: string): Promise<void> {
    try {
      // An empty list means the user disabled every method; a lone newline says so
      // again (an empty write never reaches the kernel).
      await this.#writer.write(methodPath, previous === "" ? "\n" : previous);
    } catch (e) {
      log.warn("{bdf}: could not put reset_method back to {previous}: {error}", {
        bdf: this.#o.info.bdf,
        previous,
        error: (e as Error).message,
      });
    }
  }

  async #afterReset(
    what: string,
    saved: ReturnType<typeof saveHeader>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { bdf, path } = this.#o.info;
    const waited = await waitUntilAnswering(() => readIds(path), {
      bdf,
      clock: this.#o.clock,
      signal,
      what,
      timeoutMs: RESET_READY_TIMEOUT_MS,
    });
    logReset(log, bdf, what, waited, restoreHeader(this.#o.config, saved));
  }
}

/** The options, with the writer and quirks settled. */
type Context = SysfsDeviceResetOptions & { writer: SysfsWriter; quirks: readonly ResetQuirk[] };

function flrRefusalOf(self: Context): string | undefined {
  const { info, config } = self;
  const refusal = flrRefusal(info.bdf, info, config, self.quirks);
  if (refusal) return refusal;
  if (!exists(`${info.path}/reset`)) {
    return `the kernel offers no reset method for ${info.bdf} (no ${info.path}/reset): ` +
      "use the bus reset";
  }
  if (!exists(`${info.path}/reset_method`)) {
    return "this kernel has no reset_method file (Linux before 5.15), so the reset file would " +
      "pick the method itself: use the VFIO backend's reset instead";
  }
  return self.writer.writable(`${info.path}/reset_method`) ??
    self.writer.writable(`${info.path}/reset`);
}

function busRefusalOf(self: Context): string | undefined {
  const { info } = self;
  let topology;
  try {
    topology = busTopology(info.path);
  } catch (e) {
    return `cannot find ${info.bdf} in sysfs (${(e as Error).message}): ` +
      "re-enumerate it, or power-cycle";
  }
  const refusal = busRefusal(info.bdf, topology, self.quirks, false);
  if (refusal) return refusal;
  const file = `${topology.bridge!.path}/reset_subordinate`;
  if (!exists(file)) {
    return `this kernel has no ${file} (added in Linux 6.13): use the VFIO backend's hot reset, ` +
      "or a newer kernel";
  }
  return self.writer.writable(file);
}

function reenumerateRefusalOf(self: Context): string | undefined {
  const { info, sysfsRoot } = self;
  if (exists(info.path)) {
    const refusal = self.writer.writable(`${info.path}/remove`);
    if (refusal) return refusal;
  }
  return self.writer.writable(`${sysfsRoot}/bus/pci/rescan`);
}

const REFUSALS: Readonly<Record<ResetMethod, (self: Context) => string | undefined>> = {
  flr: flrRefusalOf,
  bus: busRefusalOf,
  reenumerate: reenumerateRefusalOf,
};

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
