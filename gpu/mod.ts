/**
 * The hardware-facing layer: reading a live GPU through `Mmio` (any object
 * with `read32`, such as a `pci/` BAR0 mapping or a simulator). It identifies
 * the chip from `NV_PMC_BOOT_0`/`NV_PMC_BOOT_42` ({@linkcode identifyChip})
 * and runs the read-only probe ({@linkcode probeDevice}): the GSP and SEC2
 * falcon states, WPR2 and whether the GSP's RISC-V core runs, read from an
 * allowlist of side-effect-free registers through the typed register tables
 * of `registers/`. Nothing here writes.
 *
 * @example Identify and probe a GA102 whose falcons are idle
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChipNotRespondingError, identifyChip, probeDevice } from "./mod.ts";
 *
 * const regs = new Map([[0x0, 0x172000a1], [0xa00, 0x172a1000]]);
 * const bar0 = { read32: (offset: number) => regs.get(offset) ?? 0 };
 * assert.equal(identifyChip(bar0).name, "ga102");
 * const report = probeDevice(bar0);
 * assert.equal(report.wpr2.status, "not-set");
 * assert.equal(report.gspRiscvActive, false);
 *
 * // A host PRI timeout in BOOT_0 means the chip cannot be identified.
 * assert.throws(() => identifyChip({ read32: () => 0xbad00100 }), ChipNotRespondingError);
 * ```
 *
 * @module
 */
export * from "./identify.ts";
export * from "./probe.ts";
export * from "./prometheus.ts";
