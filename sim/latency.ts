/**
 * How long the simulated hardware takes, from the figures measured on real
 * GPUs in `../shared/reference/timing.md` (typical values, not the drivers'
 * ceilings) and the PCI reset waits in `../shared/reference/resets.md`.
 *
 * The simulator always counts this time on its clock. With the default
 * virtual clock it costs no real time; in realistic mode
 * (`SimulatedGpu.create({ realistic: true })`) the clock is the system clock
 * and the simulator really waits, so demos and multi-GPU benchmarks take as
 * long as on hardware.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REALISTIC_LATENCY } from "./latency.ts";
 * // Reading the whole 1 MiB PROM as 32-bit words costs about 0.8 s on hardware.
 * const wholeProm = (0x100000 / 4) * REALISTIC_LATENCY.promReadMs;
 * assert(wholeProm > 700 && wholeProm < 900);
 * ```
 *
 * @module
 */

/** Modelled durations, in milliseconds. */
export interface SimLatency {
  /** One 32-bit read through the PROM window (~1.25 MB/s on Ampere: ~3 µs). */
  readonly promReadMs: number;
  /** GFW boot (devinit) after a reset, until the GC6 scratch reads 0xff (~0.23 s, AD104). */
  readonly gfwBootMs: number;
  /** FWSEC-FRTS on the GSP falcon (≤ 0.11–0.13 s, TU106/TU117). */
  readonly fwsecFrtsMs: number;
  /** Booter-load on SEC2 (~35 ms, TU106). */
  readonly booterLoadMs: number;
  /** GSP RISC-V start until GSP_INIT_DONE (1.1–1.4 s). */
  readonly gspRmInitMs: number;
  /**
   * A function-level reset until config space answers again: the kernel's
   * fixed 100 ms wait after setting BCR_FLR (`pcie_flr`); no measurement was found.
   */
  readonly flrMs: number;
  /**
   * A secondary bus reset until config space answers: 2 ms of reset pulse,
   * then the kernel's 100 ms `d3cold_delay` (`pci_bridge_wait_for_secondary_bus`).
   */
  readonly busResetMs: number;
  /** How long the kernel waits for a device that does not come back (`pci_dev_wait`, ~65.5 s). */
  readonly resetGiveUpMs: number;
  /**
   * Re-enumeration: `remove` (unbind, delete) then `rescan` (config reads of
   * the bus, quirks, BAR assignment); modelled, no measurement was found.
   */
  readonly rescanMs: number;
  /**
   * Hopper: the FSP's secure boot after a reset, until `NV_THERM_I2CS_SCRATCH`
   * reads 0xff ("memory training alone ~2 s, up to 3 s on HBM3", an NVIDIA
   * code comment; no measurement).
   */
  readonly fspSecureBootMs?: number;
  /** Hopper: the FSP's reply to the Chain-of-Trust message (no timing found; modelled 20 ms). */
  readonly fspCotResponseMs?: number;
  /**
   * Hopper: from the FSP's reply until the FMC has started GSP-RM and the
   * GSP's PRIV lockdown is released (no timing found; modelled 60 ms).
   */
  readonly fmcBootMs?: number;
}

/**
 * The realistic figures, from `timing.md` and `resets.md`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REALISTIC_LATENCY } from "./latency.ts";
 * assert.equal(REALISTIC_LATENCY.gfwBootMs, 230);
 * ```
 */
export const REALISTIC_LATENCY: SimLatency = Object.freeze({
  promReadMs: 0.003,
  gfwBootMs: 230,
  fwsecFrtsMs: 110,
  booterLoadMs: 35,
  gspRmInitMs: 1200,
  flrMs: 100,
  busResetMs: 102,
  resetGiveUpMs: 65_535,
  rescanMs: 20,
  fspSecureBootMs: 2000,
  fspCotResponseMs: 20,
  fmcBootMs: 60,
});

/**
 * Wait `ms` of real time without yielding: what a slow register read costs a
 * CPU on hardware. Used only in realistic mode, for waits far below a timer's
 * resolution (a PROM read's 3 µs).
 *
 * @param ms Milliseconds to spin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spinWait } from "./latency.ts";
 * const start = performance.now();
 * spinWait(0.05);
 * assert(performance.now() - start >= 0.05);
 * ```
 */
export function spinWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // A bus transaction in flight: nothing to do but wait.
  }
}
