/**
 * PGSP: the GSP's command-queue doorbells `NV_PGSP_QUEUE_HEAD(0..7)`
 * (offsets from `registers/gsp.ts`). The host writes element 0 after it has
 * advanced its write pointer in the shared queue memory; the block stores
 * the value (it reads back) and rings the doorbell: the GSP-RM model
 * serves its command queue. The registers are cleared by every chip reset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PgspBlock } from "./pgsp_block.ts";
 * import { chipRegisters } from "../../registers/bind.ts";
 * let rings = 0;
 * const pgsp = new PgspBlock("tu102", () => rings++);
 * const head = chipRegisters("tu102").PGSP.QUEUE_HEAD.at(0);
 * assert.equal(pgsp.write(head.address, 0), true);
 * assert.equal(rings, 1);
 * assert.equal(pgsp.read(head.address), 0);
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../../chips/chips.ts";
import { chipRegisters } from "../../registers/bind.ts";
import type { SimBlock, SimRange, SimResetKind } from "../block.ts";
import { RegisterFile } from "../blocks/register_file.ts";

/**
 * The PGSP block of a simulated chip. It decodes only its own registers'
 * span: the page it sits in also holds the GSP falcon's registers.
 */
export class PgspBlock implements SimBlock {
  /** `PGSP`. */
  readonly name = "PGSP";
  /** `QUEUE_HEAD(0)` … `QUEUE_HEAD(7)`. */
  readonly ranges: readonly SimRange[];
  readonly #registers: RegisterFile;

  /**
   * Build it.
   *
   * @param chip The chip.
   * @param doorbell Called after every write to a `QUEUE_HEAD` register, with its index.
   */
  constructor(chip: string | ChipInfo, doorbell: (index: number) => void) {
    const head = chipRegisters(chip).PGSP.QUEUE_HEAD;
    this.#registers = new RegisterFile(
      Array.from({ length: head.count }, (_, i) => ({
        register: head.at(i),
        persistent: false,
        onWrite: () => doorbell(i),
      })),
    );
    const addresses = this.#registers.addresses;
    this.ranges = [{ start: Math.min(...addresses), end: Math.max(...addresses) + 4 }];
  }

  /**
   * A host read.
   *
   * @param offset BAR0 byte offset.
   * @returns The value, or `undefined` between the registers.
   */
  read(offset: number): number | undefined {
    return this.#registers.read(offset);
  }

  /**
   * A host write: stored, then the doorbell rings.
   *
   * @param offset BAR0 byte offset.
   * @param value The 32-bit value.
   * @returns `false` between the registers.
   */
  write(offset: number, value: number): boolean {
    return this.#registers.write(offset, value);
  }

  /**
   * The register's name, for the access log.
   *
   * @param offset BAR0 byte offset.
   * @returns The name, or `undefined`.
   */
  registerName(offset: number): string | undefined {
    return this.#registers.registerName(offset);
  }

  /**
   * A reset clears the doorbells.
   *
   * @param kind Which reset.
   */
  reset(kind: SimResetKind): void {
    this.#registers.reset(kind);
  }
}
