/**
 * The simulated BAR0: routes each 32-bit access to the block that decodes
 * its offset, answers what no block models as the hardware's PRI does, and
 * keeps the books.
 *
 * - Routing is a page map (one entry per 4 KiB page of BAR0), so an access
 *   costs an array lookup whatever the number of blocks.
 * - A read that no block models returns a host PRI error, `0xbad001xx`
 *   (`HOST_PRI_TIMEOUT` in `registers/pri_error.ts`), and is recorded
 *   ({@linkcode SimBus.unmodelledReads}). A write that no block accepts is
 *   recorded as a violation ({@linkcode SimBus.violations}): to an unmodelled
 *   register, or to a read-only one.
 * - While the GPU does not answer (in reset, off the bus, or with memory
 *   decoding off in its command register) every
 *   read returns `0xffffffff` and writes are lost.
 * - Accounting: reads and writes per block, and a bounded ring of the last
 *   accesses that {@linkcode SimBus.dumpAccessLog} prints.
 *
 * @example Routing, a PRI error and a violation
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimBus } from "./bus.ts";
 * import { ManualClock } from "../pci/clock.ts";
 * import { isPriError } from "../registers/pri_error.ts";
 *
 * let value = 0;
 * const block = {
 *   name: "SCRATCH",
 *   ranges: [{ start: 0x1000, end: 0x2000 }],
 *   read: (offset: number) => (offset === 0x1400 ? value : undefined),
 *   write: (offset: number, v: number) => offset === 0x1400 && ((value = v), true),
 * };
 * const bus = new SimBus([block], { clock: new ManualClock() });
 * bus.write32(0x1400, 7);
 * assert.equal(bus.read32(0x1400), 7);
 * assert(isPriError(bus.read32(0x1404)));
 * bus.write32(0x1404, 1);
 * assert.equal(bus.unmodelledReads()[0].offset, 0x1404);
 * assert.equal(bus.violations()[0].kind, "unmodelled-write");
 * assert.deepEqual(bus.counts().SCRATCH, { reads: 2, writes: 2 });
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";
import type { Clock } from "../pci/clock.ts";
import { type Mmio, type PollOptions, pollValue } from "../pci/mmio.ts";
import { NO_RESPONSE, PRI_ERROR_CODES } from "../registers/pri_error.ts";
import type { SimBlock } from "./block.ts";
import { hasRegisterNames } from "./block_extensions.ts";
import { BUS_FALL_OFF, type FaultInjector } from "./faults.ts";

/** BAR0 size of Turing to Ada (16 MiB). */
export const DEFAULT_BAR0_SIZE = 0x100_0000;
const PAGE_SHIFT = 12;
const NONE = -1;
const MIXED = -2;

function priErrorValue(name: string): number {
  const entry = Object.entries(PRI_ERROR_CODES).find(([, c]) => c.name === name);
  if (!entry) throw new Error(`no PRI error code named ${name}`);
  return (Number(entry[0]) * 0x100) >>> 0;
}

/**
 * What a read of an unmodelled register returns: `HOST_PRI_TIMEOUT` with
 * detail byte 0, as the host's PRI answers an address nothing decodes.
 */
export const UNMODELLED_READ_VALUE: number = priErrorValue("HOST_PRI_TIMEOUT");

/** Why a write was not accepted. */
export type SimViolationKind =
  /** No block models a register at the offset. */
  | "unmodelled-write"
  /** The register is read-only to the host. */
  | "read-only-write"
  /** The GPU was not answering (in reset, or off the bus): the write was lost. */
  | "write-without-response";

/** A write the hardware would not have taken. */
export interface SimViolation {
  /** Why. */
  readonly kind: SimViolationKind;
  /** BAR0 offset. */
  readonly offset: number;
  /** The value written. */
  readonly value: number;
  /** The block whose range holds the offset, if any. */
  readonly block?: string;
  /** The register's name, when the block names it. */
  readonly register?: string;
  /** Device clock time, ms. */
  readonly timeMs: number;
}

/** A read of an offset no block models. */
export interface SimUnmodelledRead {
  /** BAR0 offset. */
  readonly offset: number;
  /** The block whose range holds the offset, if any. */
  readonly block?: string;
  /** Device clock time, ms. */
  readonly timeMs: number;
}

/** One logged access. */
export interface SimAccess {
  /** Device clock time, ms. */
  readonly timeMs: number;
  /** Read or write. */
  readonly op: "read" | "write";
  /** BAR0 offset. */
  readonly offset: number;
  /** The value read or written. */
  readonly value: number;
  /** The block that took it, if any. */
  readonly block?: string;
  /** `ok`, `unmodelled` (PRI error or violation) or `no-response`. */
  readonly status: "ok" | "unmodelled" | "no-response";
}

/** Options for {@linkcode SimBus}. */
export interface SimBusOptions {
  /** The device clock: times in the books, and what `poll` waits on. */
  readonly clock: Clock;
  /** For messages (default `sim BAR0`). */
  readonly name?: string;
  /** BAR0 size in bytes (default 16 MiB). */
  readonly size?: number;
  /** How many accesses the log keeps (default 4096; 0: no log). */
  readonly logCapacity?: number;
  /** Fault points (the bus owns `bus-fall-off`). */
  readonly faults?: FaultInjector;
  /** Names offsets that no block names, for the log dump (e.g. the register catalogue). */
  readonly describe?: (offset: number) => string | undefined;
}

interface Segment {
  readonly start: number;
  readonly end: number;
  readonly index: number;
}

interface FallTrigger {
  afterAccesses?: number;
  atOffset?: number;
  writeOnly?: boolean;
  atTimeMs?: number;
}

const STATUS_OK = 0;
const STATUS_UNMODELLED = 1;
const STATUS_NO_RESPONSE = 2;
const STATUS_NAMES = ["ok", "unmodelled", "no-response"] as const;

/** The simulated BAR0 bus. */
export class SimBus implements Mmio {
  /** BAR0 size in bytes. */
  readonly size: number;
  /** For messages. */
  readonly name: string;
  readonly #clock: Clock;
  readonly #blocks: SimBlock[] = [];
  readonly #pages: Int16Array;
  readonly #mixed = new Map<number, Segment[]>();
  readonly #reads: number[] = [];
  readonly #writes: number[] = [];
  #strayReads = 0;
  #strayWrites = 0;
  readonly #violations: SimViolation[] = [];
  readonly #unmodelledReads: SimUnmodelledRead[] = [];
  readonly #describe?: (offset: number) => string | undefined;
  // The access log: a ring in parallel typed arrays, cheap enough for every access.
  readonly #logCapacity: number;
  readonly #logTime: Float64Array;
  readonly #logOffset: Uint32Array;
  readonly #logValue: Uint32Array;
  readonly #logFlags: Uint8Array;
  readonly #logBlock: Int16Array;
  #logCount = 0;
  #silentUntil = -Infinity;
  #fallen = false;
  #closed = false;
  #decoding = true;
  #trigger?: FallTrigger;
  readonly #faults?: FaultInjector;

  /**
   * Build the bus.
   *
   * @param blocks The blocks; their ranges must not overlap.
   * @param options Clock, size, log capacity, fault points.
   */
  constructor(blocks: readonly SimBlock[], options: SimBusOptions) {
    this.#clock = options.clock;
    this.name = options.name ?? "sim BAR0";
    this.size = options.size ?? DEFAULT_BAR0_SIZE;
    this.#pages = new Int16Array(Math.ceil(this.size / 2 ** PAGE_SHIFT)).fill(NONE);
    this.#describe = options.describe;
    this.#logCapacity = options.logCapacity ?? 4096;
    this.#logTime = new Float64Array(this.#logCapacity);
    this.#logOffset = new Uint32Array(this.#logCapacity);
    this.#logValue = new Uint32Array(this.#logCapacity);
    this.#logFlags = new Uint8Array(this.#logCapacity);
    this.#logBlock = new Int16Array(this.#logCapacity);
    for (const block of blocks) this.add(block);
    this.#faults = options.faults;
    if (this.#faults) {
      this.#faults.onChange((name) => {
        if (name === BUS_FALL_OFF.name) this.#armFallOff();
      });
      this.#armFallOff();
    }
  }

  /**
   * Plug a block in.
   *
   * @param block The block.
   * @throws {RangeError} When a range overlaps another block's or lies outside BAR0.
   */
  add(block: SimBlock): void {
    const index = this.#blocks.length;
    for (const r of block.ranges) {
      if (r.start < 0 || r.end > this.size || r.end <= r.start) {
        throw new RangeError(`${block.name}: range 0x${r.start.toString(16)}.. is outside BAR0`);
      }
      const clash = this.#blocks.find((b) =>
        b.ranges.some((o) => r.start < o.end && o.start < r.end)
      );
      if (clash) {
        throw new RangeError(
          `${block.name}: range 0x${r.start.toString(16)}..0x${
            r.end.toString(16)
          } overlaps ${clash.name}`,
        );
      }
    }
    this.#blocks.push(block);
    this.#reads.push(0);
    this.#writes.push(0);
    for (const r of block.ranges) {
      const first = r.start >>> PAGE_SHIFT;
      const last = (r.end - 1) >>> PAGE_SHIFT;
      for (let page = first; page <= last; page++) {
        const pageStart = page << PAGE_SHIFT;
        const whole = r.start <= pageStart && pageStart + (1 << PAGE_SHIFT) <= r.end;
        const owner = this.#pages[page];
        if (whole && owner === NONE) {
          this.#pages[page] = index;
          continue;
        }
        const segments = this.#mixed.get(page) ?? [];
        if (owner >= 0) {
          segments.push({ start: pageStart, end: pageStart + (1 << PAGE_SHIFT), index: owner });
        }
        segments.push({ start: Math.max(r.start, pageStart), end: r.end, index });
        this.#mixed.set(page, segments);
        this.#pages[page] = MIXED;
      }
    }
  }

  /** The blocks, in the order they were added. */
  get blocks(): readonly SimBlock[] {
    return this.#blocks;
  }

  #route(offset: number): number {
    const owner = this.#pages[offset >>> PAGE_SHIFT];
    if (owner !== MIXED) return owner;
    const segments = this.#mixed.get(offset >>> PAGE_SHIFT)!;
    for (const s of segments) if (offset >= s.start && offset < s.end) return s.index;
    return NONE;
  }

  #check(offset: number): void {
    if (this.#closed) throw new FalconryError(`${this.name}: closed`);
    if (!Number.isInteger(offset) || offset < 0 || offset + 4 > this.size || (offset & 3) !== 0) {
      throw new RangeError(
        `${this.name}: offset ${offset} is not a 4-byte aligned offset below 0x${
          this.size.toString(16)
        }`,
      );
    }
  }

  #answering(): boolean {
    return !this.#fallen && this.#decoding &&
      (this.#silentUntil === -Infinity || this.#clock.now() >= this.#silentUntil);
  }

  #log(write: boolean, offset: number, value: number, index: number, status: number): void {
    if (this.#logCapacity === 0) return;
    const at = this.#logCount % this.#logCapacity;
    this.#logTime[at] = this.#clock.now();
    this.#logOffset[at] = offset;
    this.#logValue[at] = value;
    this.#logFlags[at] = (write ? 4 : 0) | status;
    this.#logBlock[at] = index;
    this.#logCount++;
  }

  /**
   * Read a register.
   *
   * @param offset BAR0 byte offset, 4-byte aligned.
   * @returns The value, a PRI error for an unmodelled register, or all ones when the GPU does not answer.
   * @throws {RangeError} For an unaligned or out-of-range offset.
   * @throws {FalconryError} After {@linkcode SimBus.close}.
   * @throws {FalconryError} After {@linkcode SimBus.close}.
   */
  read32(offset: number): number {
    this.#check(offset);
    if (this.#trigger !== undefined) this.#checkTrigger(offset, false);
    const index = this.#route(offset);
    if (!this.#answering()) {
      this.#log(false, offset, NO_RESPONSE, index, STATUS_NO_RESPONSE);
      return NO_RESPONSE;
    }
    if (index === NONE) {
      this.#strayReads++;
      return this.#unmodelledRead(offset, index);
    }
    this.#reads[index]++;
    const value = this.#blocks[index].read(offset);
    if (value === undefined) return this.#unmodelledRead(offset, index);
    const v = value >>> 0;
    this.#log(false, offset, v, index, STATUS_OK);
    return v;
  }

  #unmodelledRead(offset: number, index: number): number {
    this.#unmodelledReads.push({
      offset,
      block: index >= 0 ? this.#blocks[index].name : undefined,
      timeMs: this.#clock.now(),
    });
    this.#log(false, offset, UNMODELLED_READ_VALUE, index, STATUS_UNMODELLED);
    return UNMODELLED_READ_VALUE;
  }

  /**
   * Write a register.
   *
   * @param offset BAR0 byte offset, 4-byte aligned.
   * @param value A 32-bit value (negative int32 values are taken as their bit pattern).
   * @throws {RangeError} For an unaligned or out-of-range offset.
   */
  write32(offset: number, value: number): void {
    this.#check(offset);
    const v = value >>> 0;
    if (this.#trigger !== undefined) this.#checkTrigger(offset, true);
    const index = this.#route(offset);
    if (!this.#answering()) {
      this.#log(true, offset, v, index, STATUS_NO_RESPONSE);
      this.#violation("write-without-response", offset, v, index);
      return;
    }
    if (index === NONE) {
      this.#strayWrites++;
      this.#log(true, offset, v, index, STATUS_UNMODELLED);
      this.#violation("unmodelled-write", offset, v, index);
      return;
    }
    this.#writes[index]++;
    const block = this.#blocks[index];
    if (block.write(offset, v)) {
      this.#log(true, offset, v, index, STATUS_OK);
      return;
    }
    this.#log(true, offset, v, index, STATUS_UNMODELLED);
    const named = hasRegisterNames(block) ? block.registerName(offset) : undefined;
    this.#violation(named ? "read-only-write" : "unmodelled-write", offset, v, index);
  }

  #violation(kind: SimViolationKind, offset: number, value: number, index: number): void {
    const block = index >= 0 ? this.#blocks[index] : undefined;
    this.#violations.push({
      kind,
      offset,
      value,
      block: block?.name,
      register: block && hasRegisterNames(block) ? block.registerName(offset) : undefined,
      timeMs: this.#clock.now(),
    });
  }

  /**
   * Read a register until `predicate` accepts the value, waiting on the device clock.
   *
   * @param offset BAR0 byte offset.
   * @param predicate Test for the awaited value.
   * @param options Timeout, interval, abort signal, register name.
   * @returns The accepted value.
   * @throws {HardwareTimeoutError} When time runs out.
   */
  poll(
    offset: number,
    predicate: (value: number) => boolean,
    options: PollOptions = {},
  ): Promise<number> {
    return pollValue(() => this.read32(offset), predicate, { ...options, clock: this.#clock });
  }

  /** Writes the hardware would not have taken, oldest first. */
  violations(): readonly SimViolation[] {
    return [...this.#violations];
  }

  /** Reads of unmodelled registers, oldest first. */
  unmodelledReads(): readonly SimUnmodelledRead[] {
    return [...this.#unmodelledReads];
  }

  /**
   * Reads and writes per block; accesses outside every block count under `(none)`.
   *
   * @returns `{ [block]: { reads, writes } }`.
   */
  counts(): Record<string, { reads: number; writes: number }> {
    const out: Record<string, { reads: number; writes: number }> = {};
    this.#blocks.forEach((b, i) =>
      out[b.name] = { reads: this.#reads[i], writes: this.#writes[i] }
    );
    if (this.#strayReads || this.#strayWrites) {
      out["(none)"] = { reads: this.#strayReads, writes: this.#strayWrites };
    }
    return out;
  }

  /** Forget the counts, violations, unmodelled reads and the log. */
  clearAccounting(): void {
    this.#reads.fill(0);
    this.#writes.fill(0);
    this.#strayReads = this.#strayWrites = 0;
    this.#violations.length = 0;
    this.#unmodelledReads.length = 0;
    this.#logCount = 0;
  }

  /**
   * The last accesses (up to the log's capacity), oldest first.
   *
   * @returns The log entries.
   */
  accessLog(): SimAccess[] {
    const n = Math.min(this.#logCount, this.#logCapacity);
    const out: SimAccess[] = [];
    for (let k = this.#logCount - n; k < this.#logCount; k++) {
      const at = k % this.#logCapacity;
      const index = this.#logBlock[at];
      const flags = this.#logFlags[at];
      out.push({
        timeMs: this.#logTime[at],
        op: flags & 4 ? "write" : "read",
        offset: this.#logOffset[at],
        value: this.#logValue[at],
        block: index >= 0 ? this.#blocks[index].name : undefined,
        status: STATUS_NAMES[flags & 3],
      });
    }
    return out;
  }

  /** Accesses made since the bus was built (or its accounting cleared), logged or not. */
  get accessCount(): number {
    return this.#logCount;
  }

  /**
   * The log as text, one access a line: time, `R`/`W`, offset, register, value, status.
   *
   * @returns The dump.
   */
  dumpAccessLog(): string {
    return this.accessLog().map((a) => {
      const index = this.#route(a.offset);
      const block = index >= 0 ? this.#blocks[index] : undefined;
      const register =
        (block && hasRegisterNames(block) ? block.registerName(a.offset) : undefined) ??
          this.#describe?.(a.offset) ?? "?";
      const where = block ? `${block.name}.${register}` : register;
      const status = a.status === "ok" ? "" : `  [${a.status}]`;
      return `${a.timeMs.toFixed(3).padStart(12)} ms  ${a.op === "write" ? "W" : "R"}  0x${
        a.offset.toString(16).padStart(6, "0")
      }  ${where.padEnd(40)}  0x${a.value.toString(16).padStart(8, "0")}${status}`;
    }).join("\n");
  }

  /**
   * Stop answering until a device clock time (a reset in progress).
   *
   * @param untilMs Clock time the GPU answers again; `Infinity`: until told otherwise.
   */
  silence(untilMs: number): void {
    this.#silentUntil = untilMs;
  }

  /**
   * Whether the GPU decodes BAR0 accesses (the config command register's
   * memory-space bit): without it, reads return all ones and writes are lost.
   */
  get memoryDecoding(): boolean {
    return this.#decoding;
  }

  set memoryDecoding(on: boolean) {
    this.#decoding = on;
  }

  /** Refuse every later access, as a disposed mapping does. */
  close(): void {
    this.#closed = true;
  }

  /** Whether the GPU has fallen off the bus. */
  get fallenOff(): boolean {
    return this.#fallen;
  }

  /** Whether the GPU answers BAR0 accesses now. */
  get answering(): boolean {
    return this.#answering();
  }

  /**
   * Fall off the bus now (the `bus-fall-off` fault's effect).
   *
   * @param detail What triggered it, for the fault history.
   */
  fallOff(detail = "at once"): void {
    if (this.#fallen) return;
    this.#fallen = true;
    this.#trigger = undefined;
    this.#faults?.fired(BUS_FALL_OFF.name, detail);
  }

  /** Come back after a power cycle. */
  powerOn(): void {
    this.#fallen = false;
    this.#silentUntil = -Infinity;
    this.#armFallOff();
  }

  #armFallOff(): void {
    const params = this.#faults?.armed(BUS_FALL_OFF.name);
    if (!params) {
      this.#trigger = undefined;
      return;
    }
    const num = (
      key: string,
    ) => (typeof params[key] === "number" ? params[key] as number : undefined);
    const trigger: FallTrigger = {
      afterAccesses: num("afterAccesses"),
      atOffset: num("atOffset"),
      writeOnly: params.write === true,
      atTimeMs: num("atTimeMs"),
    };
    if (
      trigger.afterAccesses === undefined && trigger.atOffset === undefined &&
      trigger.atTimeMs === undefined
    ) {
      this.fallOff("armed without a trigger: at once");
      return;
    }
    this.#trigger = trigger;
  }

  #checkTrigger(offset: number, write: boolean): void {
    const t = this.#trigger!;
    if (t.afterAccesses !== undefined) {
      if (t.afterAccesses <= 0) {
        this.fallOff(`after the armed number of BAR0 accesses, at 0x${offset.toString(16)}`);
        return;
      }
      t.afterAccesses--;
    }
    if (t.atOffset === offset && (write || !t.writeOnly)) {
      this.fallOff(`at the first ${write ? "write" : "access"} to 0x${offset.toString(16)}`);
      return;
    }
    if (t.atTimeMs !== undefined && this.#clock.now() >= t.atTimeMs) {
      this.fallOff(`at ${t.atTimeMs} ms`);
    }
  }
}
