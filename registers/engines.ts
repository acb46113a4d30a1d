/**
 * Falcon engine bases: where each engine's falcon, falcon2 (RISC-V), FBIF and
 * FSP queue blocks start in BAR0, and on which chip families each exists.
 * Engine-relative registers (`FALCON`, `FALCON2`, `FBIF`, `FSP` blocks) add
 * these bases to their offsets.
 *
 * Sources: NVIDIA open-gpu-kernel-modules `published/` headers —
 * `NV_PGSP` (0x110000), `NV_FALCON2_GSP_BASE`, `NV_PGSP_FBIF_BASE` (tu102/ga102
 * `dev_gsp*.h`, `dev_riscv_pri.h`), `NV_PSEC`, `NV_FALCON2_SEC_BASE`,
 * `NV_PSEC_FBIF_BASE` (ga102 `dev_sec*.h`, `dev_falcon_second_pri.h`) and
 * `NV_PFSP` = 0x8f0000..0x8f3fff (nvswitch ls10 `dev_fsp_pri.h`;
 * `NV_PFSP_FALCON_COMMON_SCRATCH_GROUP_2(i)` = 0x8f0320 in gh100/gb100/gb202
 * `dev_fsp_pri.h`). nova-core (`falcon/fsp.rs`) uses 0x8f2000 as the FSP
 * falcon base; that is only where the FSP's EMEM and queue registers are
 * addressed from, so it is the `fspQueue` base here, and falcon registers of
 * the FSP are measured from 0x8f0000.
 *
 * @example Absolute address of an engine register
 * ```ts
 * import assert from "node:assert/strict";
 * import { engineBase } from "./engines.ts";
 * assert(engineBase("GSP", "falcon", "ga10x") === 0x110000);
 * assert(engineBase("FSP", "fspQueue", "gh100") === 0x8f2000);
 * assert(engineBase("FSP", "falcon", "tu10x") === undefined);
 * ```
 *
 * @module
 */

import type { ChipFamily } from "../chips/chips.ts";
import { ALL_FAMILIES, FSP_PATH, GA102_ON, published } from "./_define.ts";
import type { BaseKind, EngineName } from "./register.ts";

/** One base of an engine. */
export interface EngineBaseInfo {
  /** Which block of the engine. */
  readonly kind: BaseKind;
  /** Absolute BAR0 offset of the block. */
  readonly base: number;
  /** Families where the block exists (absent: wherever the engine does). */
  readonly chips?: readonly ChipFamily[];
  /** The public header that gives the base. */
  readonly source: string;
}

/** One falcon engine. */
export interface EngineInfo {
  /** Engine name, used as the prefix of qualified register names (`GSP.NV_PFALCON_…`). */
  readonly name: EngineName;
  /** OpenRM's device prefix for the engine's absolute register names. */
  readonly prefix: string;
  /** Families that have the engine. */
  readonly chips: readonly ChipFamily[];
  /** Its blocks. */
  readonly bases: readonly EngineBaseInfo[];
}

/**
 * The falcon engines the boot path drives, in listing order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ENGINES } from "./engines.ts";
 * assert(ENGINES.map((e) => e.name).join() === "GSP,SEC2,FSP");
 * ```
 */
export const ENGINES: readonly EngineInfo[] = Object.freeze(
  [
    {
      name: "GSP",
      prefix: "NV_PGSP",
      chips: ALL_FAMILIES,
      bases: [
        { kind: "falcon", base: 0x110000, source: published("turing/tu102/dev_gsp.h") },
        { kind: "falcon2", base: 0x111000, source: published("turing/tu102/dev_riscv_pri.h") },
        { kind: "fbif", base: 0x110600, source: published("turing/tu102/dev_gsp_addendum.h") },
      ],
    },
    {
      name: "SEC2",
      prefix: "NV_PSEC",
      chips: ALL_FAMILIES,
      bases: [
        { kind: "falcon", base: 0x840000, source: published("turing/tu102/dev_sec_pri.h") },
        {
          kind: "falcon2",
          base: 0x841000,
          // NVIDIA's TU102 and GA100 SEC2 configs set riscvRegisterBase = 0 (no RISC-V).
          chips: GA102_ON,
          source: published("ampere/ga102/dev_falcon_second_pri.h"),
        },
        { kind: "fbif", base: 0x840600, source: published("turing/tu102/dev_sec_addendum.h") },
      ],
    },
    {
      name: "FSP",
      prefix: "NV_PFSP",
      chips: FSP_PATH,
      bases: [
        { kind: "falcon", base: 0x8f0000, source: published("hopper/gh100/dev_fsp_pri.h") },
        { kind: "fspQueue", base: 0x8f2000, source: published("hopper/gh100/dev_fsp_pri.h") },
      ],
    },
  ] satisfies EngineInfo[],
);

/**
 * The engine record by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { engineInfo } from "./engines.ts";
 * assert(engineInfo("SEC2").prefix === "NV_PSEC");
 * ```
 */
export function engineInfo(name: EngineName): EngineInfo {
  const engine = ENGINES.find((e) => e.name === name);
  if (!engine) throw new RangeError(`unknown engine ${name}`);
  return engine;
}

/**
 * The absolute base of an engine's block on a chip family, or `undefined` if
 * the engine or that block does not exist there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { engineBase } from "./engines.ts";
 * assert(engineBase("SEC2", "falcon2", "tu10x") === undefined);
 * assert(engineBase("SEC2", "falcon2", "ga10x") === 0x841000);
 * ```
 */
export function engineBase(
  name: EngineName,
  kind: BaseKind,
  family: ChipFamily,
): number | undefined {
  const engine = engineInfo(name);
  if (!engine.chips.includes(family)) return undefined;
  const block = engine.bases.find((b) => b.kind === kind);
  if (!block || (block.chips && !block.chips.includes(family))) return undefined;
  return block.base;
}

/**
 * The engines present on a chip family.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { enginesForFamily } from "./engines.ts";
 * assert(enginesForFamily("tu10x").map((e) => e.name).join() === "GSP,SEC2");
 * assert(enginesForFamily("gh100").some((e) => e.name === "FSP"));
 * ```
 */
export function enginesForFamily(family: ChipFamily): readonly EngineInfo[] {
  return ENGINES.filter((e) => e.chips.includes(family));
}
