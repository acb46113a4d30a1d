/**
 * The simulated GPU's PCI configuration space (4 KiB, PCI Express): vendor
 * and device ids, class, revision, subsystem ids, four BARs as Turing–Ada
 * GPUs have them (BAR0 registers, BAR1 and BAR3 64-bit prefetchable, BAR5
 * I/O), and a capability list with power management, MSI and the PCI
 * Express capability, whose DEVCAP advertises function-level reset
 * (bit 28) and whose DEVCTL bit 15 (`BCR_FLR`) starts one.
 *
 * The command register says whether the GPU decodes BAR accesses (bit 1) and
 * may master DMA (bit 2); the simulator follows it through
 * `onCommandChange`. Registers keep per-byte writable masks, so BAR sizing works as on
 * hardware (write all ones, read back the size mask). While the function is
 * in reset (or off the bus) every read returns all ones — `0xffff` for the
 * vendor id — and writes are lost. An FLR returns the header to its
 * power-on values (command 0, BARs 0); {@linkcode SimConfigSpace.saveState}
 * and {@linkcode SimConfigSpace.restoreState} do what the kernel does around a
 * reset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimConfigSpace, PCIE_CAPABILITY_OFFSET } from "./config_space.ts";
 * import { simChipModel } from "./chip_model.ts";
 *
 * const config = new SimConfigSpace(simChipModel("tu102"));
 * assert.equal(config.read32(0), 0x1e0410de);
 * assert.equal(config.read32(8) >>> 8, 0x030000);
 * config.write32(0x10, 0xffffffff);
 * assert.equal(config.read32(0x10), 0xff000000); // BAR0: 16 MiB
 * assert.equal((config.read32(PCIE_CAPABILITY_OFFSET + 4) >>> 28) & 1, 1); // FLR advertised
 * ```
 *
 * @module
 */

import { type ConfigSpace, PCI_CONFIG } from "../pci/device.ts";
import type { SimChipModel } from "./chip_model.ts";

/** Size of PCI Express configuration space. */
export const CONFIG_SPACE_SIZE = 0x1000;
/** Where the PCI Express capability sits (as on NVIDIA GPUs: PM 0x60, MSI 0x68, PCIe 0x78). */
export const PCIE_CAPABILITY_OFFSET = 0x78;
const PM_CAPABILITY_OFFSET = 0x60;
const MSI_CAPABILITY_OFFSET = 0x68;

/** Standard header offsets (PCI Local Bus spec, Linux `pci_regs.h`); `pci/` names the first three. */
const HEADER = {
  vendor: PCI_CONFIG.vendorId,
  device: PCI_CONFIG.deviceId,
  command: PCI_CONFIG.command,
  status: 0x06,
  revision: 0x08,
  classProgIf: 0x09,
  cacheLine: 0x0c,
  headerType: 0x0e,
  bar0: 0x10,
  subsystemVendor: 0x2c,
  subsystemDevice: 0x2e,
  capabilities: 0x34,
  interruptLine: 0x3c,
  interruptPin: 0x3d,
} as const;

/** Capability ids and register offsets within them (`pci_regs.h`). */
const CAP = {
  pm: 0x01,
  msi: 0x05,
  pcie: 0x10,
  /** `PCI_EXP_DEVCAP`, `PCI_EXP_DEVCTL`, `PCI_EXP_DEVSTA`, link registers. */
  devcap: 0x04,
  devctl: 0x08,
  devsta: 0x0a,
  lnkcap: 0x0c,
  lnkctl: 0x10,
  lnksta: 0x12,
  /** `PCI_EXP_DEVCAP_FLR`. */
  devcapFlr: 1 << 28,
  /** `PCI_EXP_DEVCTL_BCR_FLR`. */
  devctlBcrFlr: 0x8000,
} as const;

/** Command bits the host may set: I/O (bit 0), memory, bus master, parity (6), SERR (8), INTx disable (10). */
const COMMAND_WRITABLE = 0x1 | PCI_CONFIG.commandMemory | PCI_CONFIG.commandBusMaster | 0x40 |
  0x100 | 0x400;
/** Status bit 4: the capability list is present. */
const STATUS_CAP_LIST = 0x0010;

/** One BAR: config offset, size, and its low flag bits. */
interface BarSpec {
  readonly offset: number;
  readonly size: number;
  readonly flags: number;
  readonly is64: boolean;
}

/** Memory BAR flags: 32-bit non-prefetchable (0), 64-bit prefetchable (0xc); I/O (1). */
const BARS: readonly BarSpec[] = [
  { offset: HEADER.bar0, size: 0x100_0000, flags: 0x0, is64: false },
  { offset: HEADER.bar0 + 0x04, size: 0x1000_0000, flags: 0xc, is64: true },
  { offset: HEADER.bar0 + 0x0c, size: 0x200_0000, flags: 0xc, is64: true },
  { offset: HEADER.bar0 + 0x14, size: 0x80, flags: 0x1, is64: false },
];

/** Subsystem device id of the modelled board (vendor NVIDIA: a Founders Edition card). */
export const SIM_SUBSYSTEM_DEVICE = 0x12fa;

/** Options for {@linkcode SimConfigSpace}. */
export interface SimConfigSpaceOptions {
  /** Whether the function answers at all (false: in reset or off the bus). Default: always. */
  readonly answering?: () => boolean;
  /** Called when the host sets `DEVCTL.BCR_FLR`: the simulator starts the reset. */
  readonly onFunctionLevelReset?: () => void;
  /** Called with the command register whenever it may have changed (writes, resets, restores). */
  readonly onCommandChange?: (command: number) => void;
  /** The command register at power-on (default 0, as the PCI spec says). */
  readonly command?: number;
}

/** The configuration space of a simulated GPU. */
export class SimConfigSpace implements ConfigSpace {
  /** Size in bytes. */
  readonly size: number = CONFIG_SPACE_SIZE;
  readonly #bytes = new Uint8Array(CONFIG_SPACE_SIZE);
  readonly #view = new DataView(this.#bytes.buffer);
  readonly #writable = new Uint8Array(CONFIG_SPACE_SIZE);
  readonly #powerOn: Uint8Array;
  readonly #answering: () => boolean;
  readonly #onFlr?: () => void;
  readonly #onCommand?: (command: number) => void;

  /**
   * Build it at its power-on values.
   *
   * @param model The chip: ids and class.
   * @param options Whether it answers, and what an FLR does.
   */
  constructor(model: SimChipModel, options: SimConfigSpaceOptions = {}) {
    this.#answering = options.answering ?? (() => true);
    this.#onFlr = options.onFunctionLevelReset;
    this.#onCommand = options.onCommandChange;
    const v = this.#view;
    v.setUint16(HEADER.vendor, model.pciVendorId, true);
    v.setUint16(HEADER.device, model.pciDeviceId, true);
    v.setUint16(HEADER.status, STATUS_CAP_LIST, true);
    v.setUint32(HEADER.revision, ((model.pciClass << 8) | model.pciRevision) >>> 0, true);
    v.setUint16(HEADER.subsystemVendor, model.pciVendorId, true);
    v.setUint16(HEADER.subsystemDevice, SIM_SUBSYSTEM_DEVICE, true);
    v.setUint8(HEADER.capabilities, PM_CAPABILITY_OFFSET);
    v.setUint8(HEADER.interruptPin, 1);
    this.#mask16(HEADER.command, COMMAND_WRITABLE);
    this.#mask16(HEADER.cacheLine, 0xffff);
    this.#mask16(HEADER.interruptLine, 0x00ff);
    for (const bar of BARS) {
      v.setUint32(bar.offset, bar.flags, true);
      this.#mask32(bar.offset, ~(bar.size - 1) & ~0xf);
      if (bar.is64) this.#mask32(bar.offset + 4, 0xffffffff);
    }
    // Power management: version 3, next MSI; PMCSR power state writable.
    v.setUint16(PM_CAPABILITY_OFFSET, (MSI_CAPABILITY_OFFSET << 8) | CAP.pm, true);
    v.setUint16(PM_CAPABILITY_OFFSET + 2, 0x0003, true);
    this.#mask16(PM_CAPABILITY_OFFSET + 4, 0x0003);
    // MSI: 64-bit capable, next PCIe; enable bit, address and data writable.
    v.setUint16(MSI_CAPABILITY_OFFSET, (PCIE_CAPABILITY_OFFSET << 8) | CAP.msi, true);
    v.setUint16(MSI_CAPABILITY_OFFSET + 2, 0x0080, true);
    this.#mask16(MSI_CAPABILITY_OFFSET + 2, 0x0001);
    this.#mask32(MSI_CAPABILITY_OFFSET + 4, 0xfffffffc);
    this.#mask32(MSI_CAPABILITY_OFFSET + 8, 0xffffffff);
    this.#mask16(MSI_CAPABILITY_OFFSET + 12, 0xffff);
    // PCI Express: version 2 endpoint, last capability; FLR advertised; gen3 x16 link.
    const p = PCIE_CAPABILITY_OFFSET;
    v.setUint16(p, CAP.pcie, true);
    v.setUint16(p + 2, 0x0002, true);
    v.setUint32(p + CAP.devcap, CAP.devcapFlr | 0x1, true);
    v.setUint16(p + CAP.devctl, 0x2810, true);
    this.#mask16(p + CAP.devctl, 0x7fff);
    v.setUint32(p + CAP.lnkcap, 0x00000103 | (16 << 4), true);
    this.#mask16(p + CAP.lnkctl, 0x0fff);
    v.setUint16(p + CAP.lnksta, 0x0003 | (16 << 4), true);
    this.#powerOn = this.#bytes.slice();
    v.setUint16(HEADER.command, (options.command ?? 0) & COMMAND_WRITABLE, true);
    this.#commandChanged();
  }

  #commandChanged(): void {
    this.#onCommand?.(this.#view.getUint16(HEADER.command, true));
  }

  #mask16(offset: number, mask: number): void {
    this.#writable[offset] = mask & 0xff;
    this.#writable[offset + 1] = (mask >>> 8) & 0xff;
  }

  #mask32(offset: number, mask: number): void {
    this.#mask16(offset, mask & 0xffff);
    this.#mask16(offset + 2, (mask >>> 16) & 0xffff);
  }

  #check(offset: number, width: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + width > this.size || offset % width) {
      throw new RangeError(
        `config space: offset ${offset} is not ${width}-byte aligned below 4096`,
      );
    }
  }

  /**
   * Read a byte (`0xff` while the function does not answer).
   *
   * @param offset Byte offset.
   */
  read8(offset: number): number {
    this.#check(offset, 1);
    return this.#answering() ? this.#bytes[offset] : 0xff;
  }

  /**
   * Read a 16-bit word (`0xffff` while the function does not answer).
   *
   * @param offset Byte offset, even.
   */
  read16(offset: number): number {
    this.#check(offset, 2);
    return this.#answering() ? this.#view.getUint16(offset, true) : 0xffff;
  }

  /**
   * Read a 32-bit word (all ones while the function does not answer).
   *
   * @param offset Byte offset, a multiple of 4.
   */
  read32(offset: number): number {
    this.#check(offset, 4);
    return this.#answering() ? this.#view.getUint32(offset, true) : 0xffffffff;
  }

  /**
   * Write a byte: only writable bits change.
   *
   * @param offset Byte offset.
   * @param value 0…0xff.
   */
  write8(offset: number, value: number): void {
    this.#check(offset, 1);
    this.#write(offset, [value & 0xff]);
  }

  /**
   * Write a 16-bit word.
   *
   * @param offset Byte offset, even.
   * @param value 0…0xffff.
   */
  write16(offset: number, value: number): void {
    this.#check(offset, 2);
    this.#write(offset, [value & 0xff, (value >>> 8) & 0xff]);
  }

  /**
   * Write a 32-bit word.
   *
   * @param offset Byte offset, a multiple of 4.
   * @param value A 32-bit value.
   */
  write32(offset: number, value: number): void {
    this.#check(offset, 4);
    const v = value >>> 0;
    this.#write(offset, [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
  }

  #write(offset: number, bytes: number[]): void {
    if (!this.#answering()) return;
    const devctlHigh = PCIE_CAPABILITY_OFFSET + CAP.devctl + 1;
    let flr = false;
    bytes.forEach((b, i) => {
      const at = offset + i;
      const mask = this.#writable[at];
      this.#bytes[at] = (this.#bytes[at] & ~mask) | (b & mask);
      if (at === devctlHigh && (b & (CAP.devctlBcrFlr >>> 8))) flr = true;
    });
    if (offset <= HEADER.command + 1 && offset + bytes.length > HEADER.command) {
      this.#commandChanged();
    }
    if (flr) this.#onFlr?.();
  }

  /** Return every register to its power-on value (what an FLR or a bus reset does). */
  resetToPowerOn(): void {
    this.#bytes.set(this.#powerOn);
    this.#commandChanged();
  }

  /**
   * The header as the kernel saves it before a reset.
   *
   * @returns A copy of the bytes.
   */
  saveState(): Uint8Array {
    return this.#bytes.slice();
  }

  /**
   * Put a saved header back (writable bits only), as the kernel does after a reset.
   *
   * @param saved What {@linkcode saveState} returned.
   */
  restoreState(saved: Uint8Array): void {
    for (let at = 0; at < CONFIG_SPACE_SIZE; at++) {
      const mask = this.#writable[at];
      this.#bytes[at] = (this.#bytes[at] & ~mask) | (saved[at] & mask);
    }
    this.#commandChanged();
  }
}
