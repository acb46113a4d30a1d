// Which rules apply to a chip, from its chipset id ((BOOT_42 architecture << 4) | implementation,
// nova-core §2). The SEC2-path chips only: Turing 0x16x, Ampere 0x17x, Ada 0x19x.

export const GA100 = 0x170;
export const GA102 = 0x172;

/** Turing and GA100 load HS images by PIO, with the Booter OS code as non-secure IMEM (§3.7). */
export function loadsByPio(chipset: number): boolean {
  return chipset <= GA100;
}

/** GA102 and later program the BROM registers and read the signature fuses (§3.6). */
export function hasBromParams(chipset: number): boolean {
  return chipset >= GA102;
}

/** Which chipsets this simulator's rules cover. */
export function isSec2PathChip(chipset: number): boolean {
  return (chipset >= 0x162 && chipset <= 0x168) || (chipset >= 0x170 && chipset <= 0x177) ||
    (chipset >= 0x192 && chipset <= 0x197);
}

/** `0x172` → `"chipset 0x172"`. */
export function chipName(chipset: number): string {
  return `chipset 0x${chipset.toString(16)}`;
}
