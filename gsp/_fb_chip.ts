// The chip an FB layout input names: a ChipInfo, or a name looked up in the chip table.

import { FalconryError } from "../errors.ts";
import { chipByName, type ChipInfo, CHIPS } from "../chips/chips.ts";

/** The chip `chip` names; throws a FalconryError listing the known chips for an unknown name. */
export function resolveFbChip(chip: ChipInfo | string): ChipInfo {
  if (typeof chip !== "string") return chip;
  const info = chipByName(chip);
  if (info === undefined) {
    throw new FalconryError(
      `unknown chip ${JSON.stringify(chip)}; known chips: ${CHIPS.map((c) => c.name).join(", ")}`,
    );
  }
  return info;
}
