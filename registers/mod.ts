/**
 * Register tables: every BAR0 register the GSP boot path touches, as data.
 *
 * One file per hardware block — {@linkcode PMC}, {@linkcode PBUS},
 * {@linkcode PFB}, {@linkcode PGC6}, {@linkcode FUSE}, {@linkcode PROM},
 * {@linkcode PDISP}, {@linkcode PCFG}, {@linkcode THERM}, {@linkcode PGSP},
 * and the engine-relative {@linkcode FALCON}, {@linkcode FALCON2},
 * {@linkcode FBIF} and {@linkcode FSP} — each register with its offset, its
 * fields (`hi:lo`, OpenRM's names and enumerated values), the chip families
 * where it applies, its per-family variants and the public header it comes
 * from (NVIDIA open-gpu-kernel-modules `src/common/inc/swref/published/…`,
 * read at 595.45.04; nova-core only where NVIDIA publishes nothing).
 * Engine bases are data too ({@linkcode ENGINES}). These tables are the only
 * place register offsets live.
 *
 * The catalogue functions resolve a chip: {@linkcode registersForChip},
 * {@linkcode instancesForChip} (absolute addresses, per engine),
 * {@linkcode addressOf}, {@linkcode findRegisters}, {@linkcode findByOffset};
 * the field helpers read and build values: {@linkcode getField},
 * {@linkcode setField}, {@linkcode encode}, {@linkcode decode}.
 *
 * `chips` lists the families where a public source places the register and
 * the boot path uses it; a register absent on a family may still exist in
 * hardware.
 *
 * @example Addressing and decoding
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressOf, decode, FALCON, FSP, PMC, resolveRegister, FALCON2 } from "./mod.ts";
 *
 * // BOOT_42 of a GA102: architecture 0x17, implementation 2.
 * const boot42 = decode(PMC.NV_PMC_BOOT_42, 0x172a1000);
 * assert(boot42.ARCHITECTURE === 0x17 && boot42.IMPLEMENTATION === 2);
 *
 * // Engine registers need an engine; arrays an index.
 * assert(addressOf(FALCON.NV_PFALCON_FALCON_CPUCTL, "tu102", { engine: "SEC2" }) === 0x840100);
 * assert(addressOf(FSP.NV_PFSP_QUEUE_HEAD, "gh100", { engine: "FSP", index: 1 }) === 0x8f2c08);
 *
 * // Variants: RISC-V CPUCTL moved between Turing and GA102.
 * assert(resolveRegister(FALCON2.NV_PRISCV_RISCV_CPUCTL, "tu10x")?.offset === 0x268);
 * ```
 *
 * @module
 */

export * from "./register.ts";
export * from "./engines.ts";
export * from "./catalog.ts";
export * from "./pmc.ts";
export * from "./pbus.ts";
export * from "./pfb.ts";
export * from "./gc6.ts";
export * from "./fuse.ts";
export * from "./prom.ts";
export * from "./pdisp.ts";
export * from "./pcfg.ts";
export * from "./therm.ts";
export * from "./gsp.ts";
export * from "./falcon.ts";
export * from "./riscv.ts";
export * from "./fbif.ts";
export * from "./fsp.ts";
export * from "./pri_error.ts";
export * from "./bind.ts";
export * from "./boot_codes.ts";
