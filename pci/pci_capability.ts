/**
 * The capability list of PCI configuration space, walked as Linux walks it
 * (`__pci_find_next_cap_ttl`), and the PCI Express capability's
 * function-level-reset bit.
 *
 * The list starts at the Capabilities Pointer (0x34; 0x14 for a CardBus
 * bridge) when the Status register's Capabilities List bit is set. Each
 * entry is an id byte and a next-pointer byte; pointers below 0x40 end the
 * list, id 0xff ends it (a device that does not answer reads all ones).
 * A list that points back into itself, or runs longer than the kernel's 48
 * entries, is rejected with a {@linkcode DeviceError} naming the offset,
 * rather than followed forever.
 *
 * @example Does the device advertise FLR?
 * ```ts
 * import assert from "node:assert/strict";
 * import { advertisesFlr, findCapability, PCI_CAP_ID } from "./pci_capability.ts";
 * const bytes = new Uint8Array(256);
 * const v = new DataView(bytes.buffer);
 * v.setUint16(0x06, 0x0010, true); // Status: capabilities list
 * bytes[0x34] = 0x60; // first capability
 * bytes[0x60] = PCI_CAP_ID.pm; bytes[0x61] = 0x78;
 * bytes[0x78] = PCI_CAP_ID.pcie; bytes[0x79] = 0x00;
 * v.setUint32(0x78 + 4, 1 << 28, true); // DEVCAP: FLR
 * const config = {
 *   size: 256,
 *   read8: (o: number) => v.getUint8(o),
 *   read16: (o: number) => v.getUint16(o, true),
 *   read32: (o: number) => v.getUint32(o, true),
 * };
 * assert.equal(findCapability(config, PCI_CAP_ID.pcie), 0x78);
 * assert(advertisesFlr(config));
 * ```
 *
 * @module
 */

import { DeviceError } from "../errors.ts";
import type { ConfigSpace } from "./device.ts";

/** Capability ids (`PCI_CAP_ID_*` in Linux's `include/uapi/linux/pci_regs.h`). */
export const PCI_CAP_ID = {
  /** Power management. */
  pm: 0x01,
  /** MSI. */
  msi: 0x05,
  /** Vendor specific. */
  vendor: 0x09,
  /** PCI Express. */
  pcie: 0x10,
  /** MSI-X. */
  msix: 0x11,
} as const;

/** Registers of the standard header that the capability walk reads. */
export const PCI_HEADER = {
  /** Status register, 16 bits. */
  status: 0x06,
  /** Status bit 4: the function has a capability list. */
  statusCapList: 0x10,
  /** Header type, 8 bits; the low 7 bits are the layout. */
  headerType: 0x0e,
  /** Capabilities pointer of type 0 and type 1 headers. */
  capabilityPointer: 0x34,
  /** Capabilities pointer of a CardBus bridge (header type 2). */
  cardbusCapabilityPointer: 0x14,
  /** Bridge Control of a type 1 header, 16 bits. */
  bridgeControl: 0x3e,
} as const;

/** Registers of the PCI Express capability, as offsets from its start. */
export const PCIE_CAPABILITY = {
  /** Device Capabilities, 32 bits. */
  devcap: 0x04,
  /** DEVCAP bit 28: Function Level Reset capability (`PCI_EXP_DEVCAP_FLR`). */
  devcapFlr: 1 << 28,
  /** Device Control, 16 bits. */
  devctl: 0x08,
  /** DEVCTL bit 15: Bridge Configuration Retry Enable / Initiate FLR (`PCI_EXP_DEVCTL_BCR_FLR`). */
  devctlBcrFlr: 0x8000,
  /** Device Status, 16 bits. */
  devsta: 0x0a,
  /** DEVSTA bit 5: transactions pending (`PCI_EXP_DEVSTA_TRPND`). */
  devstaTransactionsPending: 0x20,
} as const;

/** The kernel's bound on a capability walk (`PCI_FIND_CAP_TTL`). */
export const MAX_CAPABILITIES = 48;

/** The reads a capability walk needs. */
export type ConfigReader = Pick<ConfigSpace, "size" | "read8" | "read16" | "read32">;

/** One entry of the capability list. */
export interface PciCapability {
  /** Capability id. */
  readonly id: number;
  /** Byte offset in configuration space. */
  readonly offset: number;
}

/**
 * Every entry of the standard capability list, in list order.
 *
 * @param config Configuration space (the first 256 bytes are enough).
 * @param bdf PCI address, for errors.
 * @returns The entries; empty when the Status register has no capability list.
 * @throws {DeviceError} when a pointer loops back or the list is longer than
 *   {@linkcode MAX_CAPABILITIES}.
 *
 * @example A list that loops is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { capabilities } from "./pci_capability.ts";
 * const bytes = new Uint8Array(256);
 * bytes[0x06] = 0x10; bytes[0x34] = 0x40;
 * bytes[0x40] = 0x01; bytes[0x41] = 0x50;
 * bytes[0x50] = 0x05; bytes[0x51] = 0x40; // back to 0x40
 * const v = new DataView(bytes.buffer);
 * const config = { size: 256, read8: (o: number) => bytes[o],
 *   read16: (o: number) => v.getUint16(o, true), read32: (o: number) => v.getUint32(o, true) };
 * assert.throws(() => capabilities(config, "0000:01:00.0"), /0x51 points back to 0x40/);
 * ```
 */
export function capabilities(config: ConfigReader, bdf = "?"): PciCapability[] {
  const status = config.read16(PCI_HEADER.status);
  if (status === 0xffff || !(status & PCI_HEADER.statusCapList)) return [];
  const layout = config.read8(PCI_HEADER.headerType) & 0x7f;
  const pointerAt = layout === 2
    ? PCI_HEADER.cardbusCapabilityPointer
    : PCI_HEADER.capabilityPointer;
  const found: PciCapability[] = [];
  const seen = new Set<number>();
  let from = pointerAt;
  let offset = config.read8(pointerAt) & ~3;
  while (offset >= 0x40 && offset + 2 <= Math.min(config.size, 256)) {
    if (seen.has(offset)) {
      throw new DeviceError(
        bdf,
        `config space capability list: the pointer at 0x${from.toString(16)} points back to 0x${
          offset.toString(16)
        }`,
        "the device's configuration space is corrupt or it is not answering; check `lspci -vv`",
      );
    }
    if (found.length === MAX_CAPABILITIES) {
      throw new DeviceError(
        bdf,
        `config space capability list: more than ${MAX_CAPABILITIES} entries (at 0x${
          offset.toString(16)
        })`,
      );
    }
    seen.add(offset);
    const id = config.read8(offset);
    if (id === 0xff) break;
    found.push({ id, offset });
    from = offset + 1;
    offset = config.read8(offset + 1) & ~3;
  }
  return found;
}

/**
 * The offset of the first capability with `id`.
 *
 * @param config Configuration space.
 * @param id A {@linkcode PCI_CAP_ID} value.
 * @param bdf PCI address, for errors.
 * @returns Its offset, or undefined when the function lacks it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findCapability, PCI_CAP_ID } from "./pci_capability.ts";
 * const empty = { size: 256, read8: () => 0, read16: () => 0, read32: () => 0 };
 * assert.equal(findCapability(empty, PCI_CAP_ID.pcie), undefined);
 * ```
 */
export function findCapability(config: ConfigReader, id: number, bdf = "?"): number | undefined {
  return capabilities(config, bdf).find((cap) => cap.id === id)?.offset;
}

/**
 * Whether the function advertises function-level reset: the PCI Express
 * capability's DEVCAP bit 28, which Linux's `pcie_reset_flr` requires.
 *
 * @param config Configuration space.
 * @param bdf PCI address, for errors.
 * @returns True when FLR is advertised.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { advertisesFlr } from "./pci_capability.ts";
 * const none = { size: 256, read8: () => 0, read16: () => 0, read32: () => 0 };
 * assert(!advertisesFlr(none));
 * ```
 */
export function advertisesFlr(config: ConfigReader, bdf = "?"): boolean {
  const pcie = findCapability(config, PCI_CAP_ID.pcie, bdf);
  if (pcie === undefined || pcie + PCIE_CAPABILITY.devcap + 4 > config.size) return false;
  return (config.read32(pcie + PCIE_CAPABILITY.devcap) & PCIE_CAPABILITY.devcapFlr) !== 0;
}
