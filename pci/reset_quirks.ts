/**
 * Devices that must not get a given reset, as data with their sources.
 *
 * Two kinds:
 * - `no-bus-reset`: a secondary bus reset must not be done on the device, nor
 *   on the bus below it when it is a bridge (Linux's
 *   `PCI_DEV_FLAGS_NO_BUS_RESET`). The reset backends refuse the bus reset.
 * - `no-flr-recovery`: the device does not come back from a function-level
 *   reset. The reset backends refuse FLR, so a recovery goes on to the bus
 *   reset.
 *
 * `status` says how sure the entry is: `confirmed` entries are in the Linux
 * kernel's `drivers/pci/quirks.c`; `reported` entries come from one public
 * report that no vendor or kernel source confirms. Both are honoured; the
 * refusal names the status and the source.
 *
 * Users extend the table by passing their own entries (`extra`), e.g. from a
 * site configuration file; the built-in table is frozen.
 *
 * Not in the table on purpose: the T4 (10de:1eb8) was added to the kernel's
 * NVIDIA list (d5af729dc207) and reverted (5260bd6d36c8) because a T4 has
 * neither PM nor FLR reset, so forbidding the bus reset left no reset at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resetQuirksFor } from "./reset_quirks.ts";
 * const [gh100] = resetQuirksFor(0x10de, 0x2342); // in the kernel's 0x2340–0x237f range
 * assert.equal(gh100.kind, "no-bus-reset");
 * assert.equal(gh100.status, "confirmed");
 * assert.deepEqual(resetQuirksFor(0x10de, 0x2331), []); // H100 PCIe: outside the kernel's mask
 * assert.deepEqual(resetQuirksFor(0x10de, 0x1e07), []); // a TU102 has none
 * ```
 *
 * @module
 */

/** What a quirk forbids. */
export type ResetQuirkKind = "no-bus-reset" | "no-flr-recovery";

/** How sure a quirk is. */
export type ResetQuirkStatus = "confirmed" | "reported";

/** One entry of the quirk table. */
export interface ResetQuirk {
  /** PCI vendor id. */
  readonly vendor: number;
  /** Device ids it covers, inclusive. */
  readonly device: { readonly first: number; readonly last: number };
  /** What it forbids. */
  readonly kind: ResetQuirkKind;
  /** `confirmed` (in a kernel or vendor source) or `reported` (one public report, unconfirmed). */
  readonly status: ResetQuirkStatus;
  /** Where it comes from: a URL, or a file and commit. */
  readonly source: string;
  /** What happens to the device, in a few words. */
  readonly reason: string;
}

const NVIDIA = 0x10de;

/**
 * The built-in quirks. Sources: Linux `drivers/pci/quirks.c`
 * (`quirk_nvidia_no_bus_reset`, `quirk_no_bus_reset`, `quirk_no_flr`) and
 * tinygrad/tinygrad#18199.
 */
export const RESET_QUIRKS: readonly ResetQuirk[] = Object.freeze(([
  {
    vendor: NVIDIA,
    // `(dev->device & 0xffc0) == 0x2340`, GH100-family ids. The common H100
    // SXM5 (0x2330) and H100 PCIe (0x2331) ids lie outside this mask.
    device: { first: 0x2340, last: 0x237f },
    kind: "no-bus-reset",
    status: "confirmed",
    source: "linux drivers/pci/quirks.c quirk_nvidia_no_bus_reset, commit 4c207e7121fa " +
      "(PCI: Mark some NVIDIA GPUs to avoid bus reset)",
    reason: "a secondary bus reset leaves the GPU inoperable until the host is hard-rebooted",
  },
  {
    vendor: NVIDIA,
    device: { first: 0x22ce, last: 0x22ce },
    kind: "no-bus-reset",
    status: "confirmed",
    source:
      "linux drivers/pci/quirks.c quirk_no_bus_reset (GB10 Root Port), commit c81a2ce6b6a8; " +
      "https://lore.kernel.org/r/20251113084441.2124737-1-Johnny-CC.Chang@mediatek.com",
    reason: "after a secondary bus reset below this GB10 Root Port the link may not retrain",
  },
  {
    vendor: NVIDIA,
    device: { first: 0x22d0, last: 0x22d0 },
    kind: "no-bus-reset",
    status: "confirmed",
    source:
      "linux drivers/pci/quirks.c quirk_no_bus_reset (GB10 Root Port), commit c81a2ce6b6a8; " +
      "https://lore.kernel.org/r/20251113084441.2124737-1-Johnny-CC.Chang@mediatek.com",
    reason: "after a secondary bus reset below this GB10 Root Port the link may not retrain",
  },
  ...[0x2b85, 0x2b87, 0x2b8c].map((id): ResetQuirk => ({
    vendor: NVIDIA,
    device: { first: id, last: id },
    kind: "no-flr-recovery",
    status: "reported",
    // The report says Linux carries quirk_no_flr for these ids; the kernel's
    // quirk_no_flr list has no NVIDIA id, so only the observation stands.
    source: "https://github.com/tinygrad/tinygrad/pull/18199 (GB202 behind a Thunderbolt " +
      "enclosure on macOS; not in linux quirk_no_flr)",
    reason: "a GB202 read 0xffff0001 for over an hour after FLR; only a power cycle recovered it",
  })),
] satisfies ResetQuirk[]).map((quirk): ResetQuirk =>
  Object.freeze({ ...quirk, device: Object.freeze({ ...quirk.device }) })
));

/**
 * The quirks that apply to a device: the built-in {@linkcode RESET_QUIRKS}
 * and the caller's `extra` entries.
 *
 * @param vendor PCI vendor id.
 * @param device PCI device id.
 * @param extra More entries, e.g. a site's own findings.
 * @returns The matching entries, built-in ones first.
 *
 * @example A user's own entry
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ResetQuirk, resetQuirksFor } from "./reset_quirks.ts";
 * const mine: ResetQuirk = {
 *   vendor: 0x10de, device: { first: 0x2204, last: 0x2204 }, kind: "no-flr-recovery",
 *   status: "reported", source: "our lab, ticket 42", reason: "stays at 0xffff after FLR",
 * };
 * assert.deepEqual(resetQuirksFor(0x10de, 0x2204, [mine]), [mine]);
 * assert.equal(resetQuirksFor(0x10de, 0x2b85)[0].status, "reported");
 * ```
 */
export function resetQuirksFor(
  vendor: number,
  device: number,
  extra: readonly ResetQuirk[] = [],
): ResetQuirk[] {
  return [...RESET_QUIRKS, ...extra].filter((quirk) =>
    quirk.vendor === vendor && device >= quirk.device.first && device <= quirk.device.last
  );
}

/**
 * The sentence a reset backend gives when a quirk forbids a reset.
 *
 * @param quirk The quirk.
 * @param bdf The device it matched.
 * @returns Why, where it comes from, and what to do instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeQuirk, resetQuirksFor } from "./reset_quirks.ts";
 * const text = describeQuirk(resetQuirksFor(0x10de, 0x2342)[0], "0000:41:00.0");
 * assert.match(text, /hard-rebooted/);
 * assert.match(text, /4c207e7121fa/);
 * ```
 */
export function describeQuirk(quirk: ResetQuirk, bdf: string): string {
  const id = `${hex4(quirk.vendor)}:${hex4(quirk.device.first)}${
    quirk.device.last !== quirk.device.first ? `–${hex4(quirk.device.last)}` : ""
  }`;
  const what = quirk.kind === "no-bus-reset" ? "a bus reset" : "a function-level reset";
  const instead = quirk.kind === "no-bus-reset"
    ? "unload the driver cleanly or power-cycle the host instead"
    : "use the bus reset instead, or power-cycle";
  return `the reset quirk table forbids ${what} of ${bdf} (${id}, ${quirk.status}): ${quirk.reason}` +
    ` [${quirk.source}]; ${instead}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}
