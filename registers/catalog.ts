/**
 * The register catalogue: every register of every block, resolved for one
 * chip, placed at absolute BAR0 addresses per engine, and looked up by name
 * or by offset. The probe, the boot code, the simulator and `scripts/regs.ts`
 * all go through here, so register offsets live only in the block tables.
 *
 * @example Where is the GSP's CPUCTL on a GA102, and what is at 0x8f2c08 on a GH100?
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressOf, findByOffset } from "./catalog.ts";
 * import { FALCON } from "./falcon.ts";
 *
 * assert(addressOf(FALCON.NV_PFALCON_FALCON_CPUCTL, "ga102", { engine: "GSP" }) === 0x110100);
 * const hits = findByOffset("gh100", 0x8f2c08);
 * assert(hits[0].instance.qualifiedName === "FSP.NV_PFSP_QUEUE_HEAD" && hits[0].index === 1);
 * ```
 *
 * @module
 */

import { chipByName, type ChipFamily, type ChipInfo } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import { engineBase, enginesForFamily } from "./engines.ts";
import { FALCON } from "./falcon.ts";
import { FBIF } from "./fbif.ts";
import { FSP } from "./fsp.ts";
import { FUSE } from "./fuse.ts";
import { PGC6 } from "./gc6.ts";
import { PGSP } from "./gsp.ts";
import { PBUS } from "./pbus.ts";
import { PCFG } from "./pcfg.ts";
import { PDISP } from "./pdisp.ts";
import { PFB } from "./pfb.ts";
import { PMC } from "./pmc.ts";
import { PROM } from "./prom.ts";
import {
  type EngineName,
  type RegisterDef,
  type ResolvedRegister,
  resolveRegister,
} from "./register.ts";
import { FALCON2 } from "./riscv.ts";
import { THERM } from "./therm.ts";

/**
 * Every register definition, block by block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { REGISTERS } from "./catalog.ts";
 * assert(REGISTERS.every((r) => r.source.length > 0));
 * ```
 */
export const REGISTERS: readonly RegisterDef[] = Object.freeze(
  [PMC, PBUS, PFB, PGC6, FUSE, PROM, PDISP, PCFG, THERM, PGSP, FALCON, FALCON2, FBIF, FSP]
    .flatMap((block) => Object.values(block) as RegisterDef[]),
);

/** A register placed in BAR0: once for an absolute register, once per engine otherwise. */
export interface RegisterInstance {
  /** `NAME` for absolute registers, `ENGINE.NAME` for engine-relative ones. */
  readonly qualifiedName: string;
  /** The engine, for engine-relative registers. */
  readonly engine?: EngineName;
  /** Absolute BAR0 address of the register (of element 0 for an array). */
  readonly address: number;
  /** The register as it is on this chip. */
  readonly register: ResolvedRegister;
}

/** A lookup hit: an instance and, for arrays, the element index. */
export interface RegisterHit {
  /** The register instance. */
  readonly instance: RegisterInstance;
  /** Element index for arrays (0 for plain registers). */
  readonly index: number;
  /** Absolute BAR0 address of that element. */
  readonly address: number;
}

/**
 * The chip record for a chip name or record; unknown names throw.
 *
 * @throws {FalconryError} If the name is not in the chip table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipInfoOf } from "./catalog.ts";
 * assert(chipInfoOf("GH100").family === "gh100");
 * ```
 */
export function chipInfoOf(chip: string | ChipInfo): ChipInfo {
  if (typeof chip !== "string") return chip;
  const info = chipByName(chip);
  if (!info) throw new FalconryError(`unknown chip "${chip}"`);
  return info;
}

function familyOfChip(chip: string | ChipInfo): ChipFamily {
  return chipInfoOf(chip).family;
}

/**
 * Every register that exists on a chip, with its variant applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registersForChip } from "./catalog.ts";
 * const tu102 = registersForChip("tu102");
 * assert(tu102.find((r) => r.name === "NV_PRISCV_RISCV_CPUCTL")?.offset === 0x268);
 * assert(!tu102.some((r) => r.block === "FSP"));
 * ```
 */
export function registersForChip(chip: string | ChipInfo): ResolvedRegister[] {
  const family = familyOfChip(chip);
  return REGISTERS.map((r) => resolveRegister(r, family))
    .filter((r): r is ResolvedRegister => r !== undefined);
}

/**
 * Every register of a chip placed at its absolute BAR0 address, engine
 * registers once per engine that has them, sorted by address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { instancesForChip } from "./catalog.ts";
 * const gh100 = instancesForChip("gh100");
 * const hwcfg2 = gh100.find((i) => i.qualifiedName === "FSP.NV_PFALCON_FALCON_HWCFG2");
 * assert(hwcfg2?.address === 0x8f00f4);
 * ```
 */
export function instancesForChip(chip: string | ChipInfo): RegisterInstance[] {
  const family = familyOfChip(chip);
  const out: RegisterInstance[] = [];
  for (const register of registersForChip(chip)) {
    if (register.base === undefined) {
      out.push({ qualifiedName: register.name, address: register.offset, register });
      continue;
    }
    for (const engine of enginesForFamily(family)) {
      if (register.engines && !register.engines.includes(engine.name)) continue;
      const base = engineBase(engine.name, register.base, family);
      if (base === undefined) continue;
      out.push({
        qualifiedName: `${engine.name}.${register.name}`,
        engine: engine.name,
        address: base + register.offset,
        register,
      });
    }
  }
  return out.sort((a, b) =>
    a.address - b.address || a.qualifiedName.localeCompare(b.qualifiedName)
  );
}

/** Where to address a register: which engine, which array element. */
export interface AddressOptions {
  /** Engine, required for engine-relative registers. */
  readonly engine?: EngineName;
  /** Array element (default 0). */
  readonly index?: number;
}

/**
 * The absolute BAR0 address of a register on a chip.
 *
 * @throws {FalconryError} If the register, the engine or the element does not exist there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressOf } from "./catalog.ts";
 * import { FSP } from "./fsp.ts";
 * import { THERM } from "./therm.ts";
 * assert(addressOf(FSP.NV_PFSP_QUEUE_HEAD, "gh100", { engine: "FSP", index: 1 }) === 0x8f2c08);
 * assert(addressOf(THERM.NV_THERM_I2CS_SCRATCH, "gb202") === 0xad00bc);
 * ```
 */
export function addressOf(
  reg: RegisterDef,
  chip: string | ChipInfo,
  options: AddressOptions = {},
): number {
  const info = chipInfoOf(chip);
  const resolved = resolveRegister(reg, info.family);
  if (!resolved) throw new FalconryError(`${reg.name} does not exist on ${info.name}`);
  const index = options.index ?? 0;
  const count = resolved.array?.count ?? 1;
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new FalconryError(`${reg.name}(${index}) is out of range (${count} element(s))`);
  }
  const element = index * (resolved.array?.stride ?? 0);
  if (resolved.base === undefined) return resolved.offset + element;
  if (!options.engine) throw new FalconryError(`${reg.name} needs an engine`);
  const base = engineBase(options.engine, resolved.base, info.family);
  const allowed = !resolved.engines || resolved.engines.includes(options.engine);
  if (base === undefined || !allowed) {
    throw new FalconryError(`${options.engine}.${reg.name} does not exist on ${info.name}`);
  }
  return base + resolved.offset + element;
}

const QUERY = /^(?:(GSP|SEC2|FSP)\.)?([A-Z0-9_]+)(?:[([](\d+|0x[0-9a-f]+)[)\]])?$/i;

/**
 * Find registers by name: case-insensitive, with or without an engine prefix
 * (`GSP.`), by OpenRM name or alias, optionally with an element index
 * (`NV_PBUS_SW_SCRATCH(14)` or `[0xe]`). Without a prefix an engine register
 * matches on every engine.
 *
 * @returns The hits, empty when nothing matches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findRegisters } from "./catalog.ts";
 * const cpuctl = findRegisters("ga102", "nv_pfalcon_falcon_cpuctl");
 * assert(cpuctl.map((h) => h.address).join() === String([0x110100, 0x840100]));
 * assert(findRegisters("ga102", "NV_PBUS_SW_SCRATCH(14)")[0].address === 0x1438);
 * ```
 */
export function findRegisters(chip: string | ChipInfo, query: string): RegisterHit[] {
  const match = QUERY.exec(query.trim());
  if (!match) return [];
  const engine = match[1]?.toUpperCase();
  const name = match[2].toUpperCase();
  const index = match[3] === undefined ? undefined : Number(match[3]);
  const hits: RegisterHit[] = [];
  for (const instance of instancesForChip(chip)) {
    const { register } = instance;
    if (engine !== undefined && instance.engine !== engine) continue;
    if (register.name !== name && !register.aliases.includes(name)) continue;
    const count = register.array?.count ?? 1;
    if (index !== undefined && (index >= count || (!register.array && index !== 0))) continue;
    const element = index ?? 0;
    hits.push({
      instance,
      index: element,
      address: instance.address + element * (register.array?.stride ?? 0),
    });
  }
  return hits;
}

/**
 * Find the registers at an absolute BAR0 offset (array elements included;
 * aliases at the same offset are all returned).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findByOffset } from "./catalog.ts";
 * const names = findByOffset("tu102", 0x1438).map((h) => h.instance.qualifiedName);
 * assert(names.includes("NV_PBUS_SW_SCRATCH") && names.includes("NV_PBUS_SW_SCRATCH_0E_FRTS_ERR"));
 * ```
 */
export function findByOffset(chip: string | ChipInfo, offset: number): RegisterHit[] {
  const hits: RegisterHit[] = [];
  for (const instance of instancesForChip(chip)) {
    const delta = offset - instance.address;
    if (delta < 0) continue;
    const array = instance.register.array;
    if (!array) {
      if (delta === 0) hits.push({ instance, index: 0, address: offset });
      continue;
    }
    if (delta % array.stride === 0 && delta / array.stride < array.count) {
      hits.push({ instance, index: delta / array.stride, address: offset });
    }
  }
  return hits;
}
