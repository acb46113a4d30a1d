/**
 * Names for the numbers in ELF headers, so that a description can say
 * `machine 243 (RISC-V)`: the identification bytes, `e_type`, `e_machine`,
 * `sh_type`, `sh_flags`, and the RISC-V `e_flags`. Values from the System V
 * ABI (gABI) and the RISC-V ELF psABI; a value without a name is described
 * by its number alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elfSectionFlagNames, elfValueName } from "./elf_names.ts";
 * assert(elfValueName("machine", 243) === "RISC-V");
 * assert(elfValueName("sectionType", 8) === "NOBITS");
 * assert(elfSectionFlagNames(0x6).join("|") === "ALLOC|EXECINSTR");
 * ```
 *
 * @module
 */

/** The ELF header and section fields that have named values. */
export type ElfNamedField =
  | "elfClass"
  | "data"
  | "osAbi"
  | "type"
  | "machine"
  | "sectionType";

/** Named values of each field. `elfClass` is keyed by the parsed 32/64, not the raw byte. */
export const ELF_VALUE_NAMES: Readonly<Record<ElfNamedField, Readonly<Record<number, string>>>> = {
  elfClass: { 32: "ELF32", 64: "ELF64" },
  data: { 1: "little-endian", 2: "big-endian" },
  osAbi: {
    0: "System V",
    1: "HP-UX",
    2: "NetBSD",
    3: "Linux",
    6: "Solaris",
    9: "FreeBSD",
    12: "OpenBSD",
    64: "ARM EABI",
    97: "ARM",
    255: "standalone",
  },
  type: { 0: "NONE", 1: "REL", 2: "EXEC", 3: "DYN", 4: "CORE" },
  machine: {
    0: "none",
    3: "x86",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    40: "ARM",
    62: "x86-64",
    183: "AArch64",
    190: "CUDA",
    243: "RISC-V",
  },
  sectionType: {
    0: "NULL",
    1: "PROGBITS",
    2: "SYMTAB",
    3: "STRTAB",
    4: "RELA",
    5: "HASH",
    6: "DYNAMIC",
    7: "NOTE",
    8: "NOBITS",
    9: "REL",
    10: "SHLIB",
    11: "DYNSYM",
    14: "INIT_ARRAY",
    15: "FINI_ARRAY",
    16: "PREINIT_ARRAY",
    17: "GROUP",
    18: "SYMTAB_SHNDX",
    0x70000003: "RISCV_ATTRIBUTES",
  },
};

/** `sh_flags` bits and their names, lowest bit first. */
export const ELF_SECTION_FLAGS: readonly (readonly [bit: number, name: string])[] = [
  [0x1, "WRITE"],
  [0x2, "ALLOC"],
  [0x4, "EXECINSTR"],
  [0x10, "MERGE"],
  [0x20, "STRINGS"],
  [0x40, "INFO_LINK"],
  [0x80, "LINK_ORDER"],
  [0x100, "OS_NONCONFORMING"],
  [0x200, "GROUP"],
  [0x400, "TLS"],
  [0x800, "COMPRESSED"],
];

/** RISC-V `e_flags` floating-point ABIs (bits 2:1). */
const RISCV_FLOAT_ABI = ["soft-float", "single-float", "double-float", "quad-float"] as const;

/**
 * The name of a field's value, or `undefined` when it has none.
 *
 * @param field Which field.
 * @param value Its number.
 * @returns The name, e.g. `"RISC-V"` for machine 243.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elfValueName } from "./elf_names.ts";
 * assert(elfValueName("type", 2) === "EXEC" && elfValueName("machine", 9999) === undefined);
 * ```
 */
export function elfValueName(field: ElfNamedField, value: number): string | undefined {
  const names = ELF_VALUE_NAMES[field];
  return Object.hasOwn(names, value) ? names[value] : undefined;
}

/**
 * The names of the bits set in a section's `sh_flags`; a set bit without a
 * name is given as hex.
 *
 * @param flags The `sh_flags` value.
 * @returns One name per set bit, lowest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elfSectionFlagNames } from "./elf_names.ts";
 * assert.deepEqual(elfSectionFlagNames(0x3), ["WRITE", "ALLOC"]);
 * assert.deepEqual(elfSectionFlagNames(0x80000002), ["ALLOC", "0x80000000"]);
 * assert.deepEqual(elfSectionFlagNames(0), []);
 * ```
 */
export function elfSectionFlagNames(flags: number): string[] {
  const names = ELF_SECTION_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  const known = ELF_SECTION_FLAGS.reduce((mask, [bit]) => mask | bit, 0);
  // Flags are up to 64 bits wide; split so that bits above 31 survive.
  const high = Math.floor(flags / 2 ** 32);
  const low = (flags >>> 0) & ~known;
  for (let bit = 0; bit < 32; bit++) {
    if ((low >>> bit) & 1) names.push(`0x${(2 ** bit).toString(16)}`);
  }
  for (let bit = 0; bit < 21; bit++) {
    if (Math.floor(high / 2 ** bit) % 2 === 1) names.push(`0x${(2 ** (bit + 32)).toString(16)}`);
  }
  return names;
}

/**
 * The meaning of a RISC-V file's `e_flags`: compressed instructions, the
 * floating-point ABI, RV32E and TSO. Other machines' flags have no names
 * here (an empty list).
 *
 * @param machine The file's `e_machine`.
 * @param flags Its `e_flags`.
 * @returns The names, e.g. `["RVC", "double-float"]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elfHeaderFlagNames } from "./elf_names.ts";
 * assert.deepEqual(elfHeaderFlagNames(243, 0x5), ["RVC", "double-float"]);
 * assert.deepEqual(elfHeaderFlagNames(62, 0x5), []);
 * ```
 */
export function elfHeaderFlagNames(machine: number, flags: number): string[] {
  if (machine !== 243) return [];
  return [
    ...(flags & 0x1 ? ["RVC"] : []),
    RISCV_FLOAT_ABI[(flags >>> 1) & 0x3],
    ...(flags & 0x8 ? ["RVE"] : []),
    ...(flags & 0x10 ? ["TSO"] : []),
  ];
}
