/**
 * Register semantics shared by the simulator's blocks: read-only,
 * read/write, write-1-to-clear and self-clearing bits, computed values and
 * write hooks, reset values per kind of reset, and snapshots by register
 * name. A block lists its registers as {@linkcode RegisterSpec}s built from
 * the bound registers of `registers/bind.ts`, so every address comes from the
 * register tables; the block adds only behaviour.
 *
 * A write to a read-only register is refused (`write` returns `false`), as
 * the hardware drops a write to a register the host's privilege level may
 * not change; the bus records it as a violation, named through
 * {@linkcode RegisterFile.registerName}.
 *
 * @example A write-1-to-clear status and a self-clearing pulse
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipRegisters } from "../../registers/bind.ts";
 * import { RegisterFile } from "./register_file.ts";
 *
 * const pbus = chipRegisters("ga102").PBUS;
 * const status = pbus.SW_SCRATCH.at(1);
 * const pulse = pbus.SW_SCRATCH.at(2);
 * const file = new RegisterFile([
 *   { register: status, access: "w1c", resetValue: 0b1011 },
 *   { register: pulse, selfClearing: 0x1 },
 * ]);
 * assert.equal(file.write(status.address, 0b0011), true);
 * assert.equal(file.read(status.address), 0b1000);
 * file.write(pulse.address, 0x11);
 * assert.equal(file.read(pulse.address), 0x10);
 * ```
 *
 * @module
 */

import type { BoundRegister } from "../../registers/bind.ts";
import type { SimResetKind } from "../block.ts";

/**
 * How the host may change a register:
 * - `rw`: writes replace the writable bits;
 * - `ro`: writes are refused;
 * - `w1c`: writing 1 to a bit clears it (interrupt and status bits).
 */
export type RegisterAccess = "rw" | "ro" | "w1c";

/** The resets that return a register to its reset value unless it says otherwise. */
export const CHIP_RESETS: readonly SimResetKind[] = ["function", "bus", "power"];

/** One register of a block. */
export interface RegisterSpec {
  /** The register (or an array element), bound to the chip: it gives the address and name. */
  readonly register: Pick<BoundRegister<string>, "address" | "name">;
  /** How the host may change it (default `rw`). */
  readonly access?: RegisterAccess;
  /** Its value at power-on and after the resets in `clearedBy` (default 0). */
  readonly resetValue?: number;
  /** The bits a host write may change (default all). */
  readonly writableMask?: number;
  /** Bits a write may set that always read back 0: a pulse that the hardware acts on at once. */
  readonly selfClearing?: number;
  /** The resets that restore `resetValue` (default function, bus and power resets). */
  readonly clearedBy?: readonly SimResetKind[];
  /** Compute the value read from the stored one (a status that depends on time). */
  readonly read?: (stored: number) => number;
  /** Act on a host write, after the stored value changed. */
  readonly onWrite?: (written: number, previous: number) => void;
  /** Whether the value is part of a snapshot (default true). */
  readonly persistent?: boolean;
}

interface Slot {
  readonly spec: RegisterSpec;
  readonly name: string;
  readonly access: RegisterAccess;
  readonly writable: number;
  readonly selfClearing: number;
  readonly clearedBy: readonly SimResetKind[];
  value: number;
}

/**
 * A block's registers by address, with their semantics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipRegisters } from "../../registers/bind.ts";
 * import { RegisterFile } from "./register_file.ts";
 * const boot42 = chipRegisters("tu102").PMC.BOOT_42;
 * const file = new RegisterFile([{ register: boot42, access: "ro", resetValue: 0x162a1000 }]);
 * assert.equal(file.write(boot42.address, 0), false);
 * assert.equal(file.read(boot42.address), 0x162a1000);
 * assert.equal(file.registerName(boot42.address), "NV_PMC_BOOT_42");
 * ```
 */
export class RegisterFile {
  readonly #slots = new Map<number, Slot>();

  /**
   * Build the file.
   *
   * @param specs The registers; two specs at one address are a programming error.
   */
  constructor(specs: readonly RegisterSpec[]) {
    for (const spec of specs) this.add(spec);
  }

  /**
   * Add a register.
   *
   * @param spec The register and its semantics.
   * @throws {RangeError} If another register already sits at its address.
   */
  add(spec: RegisterSpec): void {
    const address = spec.register.address;
    if (this.#slots.has(address)) {
      throw new RangeError(
        `${spec.register.name}: 0x${address.toString(16)} already holds ${
          this.#slots.get(address)!.name
        }`,
      );
    }
    this.#slots.set(address, {
      spec,
      name: spec.register.name,
      access: spec.access ?? "rw",
      writable: (spec.writableMask ?? 0xffffffff) >>> 0,
      selfClearing: (spec.selfClearing ?? 0) >>> 0,
      clearedBy: spec.clearedBy ?? CHIP_RESETS,
      value: (spec.resetValue ?? 0) >>> 0,
    });
  }

  /** The addresses of the registers, ascending. */
  get addresses(): number[] {
    return [...this.#slots.keys()].sort((a, b) => a - b);
  }

  /**
   * The name of the register at an address.
   *
   * @param offset BAR0 byte offset.
   */
  registerName(offset: number): string | undefined {
    return this.#slots.get(offset)?.name;
  }

  /**
   * A host read.
   *
   * @param offset BAR0 byte offset.
   * @returns The value, or `undefined` where no register is modelled.
   */
  read(offset: number): number | undefined {
    const slot = this.#slots.get(offset);
    if (slot === undefined) return undefined;
    return slot.spec.read ? slot.spec.read(slot.value) >>> 0 : slot.value;
  }

  /**
   * A host write, with the register's semantics.
   *
   * @param offset BAR0 byte offset.
   * @param value The 32-bit value.
   * @returns `false` where no register is modelled or the register is read-only.
   */
  write(offset: number, value: number): boolean {
    const slot = this.#slots.get(offset);
    if (slot === undefined || slot.access === "ro") return false;
    const previous = slot.value;
    const v = value >>> 0;
    if (slot.access === "w1c") {
      slot.value = (previous & ~(v & slot.writable)) >>> 0;
    } else {
      const kept = previous & ~slot.writable;
      slot.value = ((kept | (v & slot.writable)) & ~slot.selfClearing) >>> 0;
    }
    slot.spec.onWrite?.(v, previous);
    return true;
  }

  /**
   * The stored value, as the model sees it (no read hook).
   *
   * @param register The register.
   */
  get(register: Pick<BoundRegister<string>, "address" | "name">): number {
    return this.#slot(register).value;
  }

  /**
   * Set the stored value from the model's side, whatever the host's access.
   *
   * @param register The register.
   * @param value The 32-bit value.
   */
  set(register: Pick<BoundRegister<string>, "address" | "name">, value: number): void {
    this.#slot(register).value = value >>> 0;
  }

  /**
   * Apply a reset: every register cleared by this kind returns to its reset value.
   *
   * @param kind Which reset.
   */
  reset(kind: SimResetKind): void {
    for (const slot of this.#slots.values()) {
      if (slot.clearedBy.includes(kind)) slot.value = (slot.spec.resetValue ?? 0) >>> 0;
    }
  }

  /**
   * The persistent values, by register name.
   *
   * @returns `{ NAME: value }`.
   */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const slot of this.#slots.values()) {
      if (slot.spec.persistent ?? true) out[slot.name] = slot.value;
    }
    return out;
  }

  /**
   * Put back values that {@linkcode snapshot} returned; unknown names are ignored.
   *
   * @param state `{ NAME: value }`.
   */
  restore(state: unknown): void {
    if (typeof state !== "object" || state === null) return;
    const values = state as Record<string, unknown>;
    for (const slot of this.#slots.values()) {
      const v = values[slot.name];
      if (typeof v === "number" && (slot.spec.persistent ?? true)) slot.value = v >>> 0;
    }
  }

  #slot(register: Pick<BoundRegister<string>, "address" | "name">): Slot {
    const slot = this.#slots.get(register.address);
    if (slot === undefined) throw new RangeError(`${register.name} is not in this register file`);
    return slot;
  }
}

/** Size of the pages the blocks claim on the bus. */
export const BLOCK_PAGE_SIZE = 0x1000;

/**
 * The BAR0 pages (4 KiB, aligned) that hold a set of addresses: the ranges a
 * block decodes, derived from its registers' addresses.
 *
 * @param addresses BAR0 byte offsets.
 * @returns Merged half-open ranges, ascending.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pagesOf } from "./register_file.ts";
 * assert.deepEqual(pagesOf([0x1438, 0x1400, 0x2004]), [{ start: 0x1000, end: 0x3000 }]);
 * ```
 */
export function pagesOf(addresses: Iterable<number>): { start: number; end: number }[] {
  const pages = [...new Set([...addresses].map((a) => a - (a % BLOCK_PAGE_SIZE)))].sort((a, b) =>
    a - b
  );
  const out: { start: number; end: number }[] = [];
  for (const page of pages) {
    const last = out.at(-1);
    if (last && last.end === page) last.end = page + BLOCK_PAGE_SIZE;
    else out.push({ start: page, end: page + BLOCK_PAGE_SIZE });
  }
  return out;
}

/**
 * A base for blocks made of one {@linkcode RegisterFile}: `read`, `write`,
 * `registerName`, `reset`, `snapshot` and `restore` delegate to it, and the
 * ranges are the pages its registers sit in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipRegisters } from "../../registers/bind.ts";
 * import { RegisterFileBlock } from "./register_file.ts";
 * const scratch = chipRegisters("ga102").PBUS.SW_SCRATCH.at(0);
 * const block = new RegisterFileBlock("SCRATCH", [{ register: scratch }]);
 * assert.deepEqual(block.ranges, [{ start: 0x1000, end: 0x2000 }]);
 * ```
 */
export class RegisterFileBlock {
  /** The block's name. */
  readonly name: string;
  /** The pages its registers sit in. */
  readonly ranges: readonly { start: number; end: number }[];
  /** Its registers. */
  protected readonly registers: RegisterFile;

  /**
   * Build the block.
   *
   * @param name For traces and messages.
   * @param specs Its registers.
   */
  constructor(name: string, specs: readonly RegisterSpec[]) {
    this.name = name;
    this.registers = new RegisterFile(specs);
    this.ranges = pagesOf(this.registers.addresses);
  }

  /**
   * A host read.
   *
   * @param offset BAR0 byte offset.
   */
  read(offset: number): number | undefined {
    return this.registers.read(offset);
  }

  /**
   * A host write.
   *
   * @param offset BAR0 byte offset.
   * @param value The 32-bit value.
   */
  write(offset: number, value: number): boolean {
    return this.registers.write(offset, value);
  }

  /**
   * The name of the register at `offset`.
   *
   * @param offset BAR0 byte offset.
   */
  registerName(offset: number): string | undefined {
    return this.registers.registerName(offset);
  }

  /**
   * Apply a reset.
   *
   * @param kind Which reset.
   */
  reset(kind: SimResetKind): void {
    this.registers.reset(kind);
  }

  /** The persistent register values. */
  snapshot(): unknown {
    return this.registers.snapshot();
  }

  /**
   * Put back a snapshot.
   *
   * @param state What `snapshot` returned.
   */
  restore(state: unknown): void {
    this.registers.restore(state);
  }
}
