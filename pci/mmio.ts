/**
 * 32-bit register access to a BAR: the {@linkcode Mmio} interface shared by
 * the hardware backends and the simulator, the {@linkcode MappedMmio}
 * implementation over a mapped `ArrayBuffer`, polling on a {@linkcode Clock}
 * with a timeout and an `AbortSignal`, and the {@linkcode writeBarrier} that
 * orders DMA memory before a doorbell.
 *
 * How each access reaches the device:
 *
 * - A read is one `Atomics.load` of a `Uint32Array` element. A plain element
 *   load would do on the hardware, but not in the JIT: a poll loop that reads
 *   the same index over and over may have that load hoisted out of the loop
 *   or merged with an earlier one, and then spin on a stale value forever.
 *   V8 performs every `Atomics.load` the program reaches, in order. It is a
 *   plain `mov` load on x86-64 (in V8's `AtomicsLoad` builtin, which the
 *   optimized `read32` calls) and `ldar` (load-acquire) on arm64. Atomics
 *   accept the non-shared `Uint32Array` that
 *   `Deno.UnsafePointerView.getArrayBuffer` gives over `mmap`ed memory.
 * - A write is one plain element store, `view[index] = value`: a single
 *   32-bit `mov` to memory, with no read and no locked instruction. It must
 *   not be an `Atomics.store`: V8 compiles that to `xchg` with memory, an
 *   implicitly locked read-modify-write, which on a BAR becomes a locked bus
 *   transaction that also reads the register (auto-incrementing ports such
 *   as IMEMD/DMEMD lose a word, split-lock detection may trap, a register in
 *   reset may return poison). A store is a side effect the JIT keeps, in
 *   program order with the other stores. `tests/mmio_disasm_test.ts`
 *   disassembles the optimized `write32` and the builtins it calls to show
 *   the single `mov` and the absence of `xchg`, `lock` and `mfence`;
 *   `tests/device_memory_writes_test.ts` keeps `Atomics` writes out of the
 *   source.
 *
 * Ordering. Supported: Linux on x86-64. There, stores become visible in
 * program order (TSO), loads are not reordered with older loads, and the BAR
 * is mapped uncached (sysfs `resource0` and VFIO both map it with
 * `pgprot_noncached`, UC-minus; BAR0 is not prefetchable, so no MTRR makes
 * it write-combining), so stores are neither combined nor reordered: every
 * register write reaches the device in program order, after every earlier
 * store to DMA memory.
 * On arm64 (untested on hardware), Normal-memory stores to a DMA buffer may
 * become visible after a later store to the BAR: call {@linkcode writeBarrier}
 * between filling a DMA buffer and the doorbell `write32`, as Linux calls
 * `dma_wmb()` before `writel()`. The pattern, on every architecture:
 * fill the DMA buffer, `writeBarrier()`, then `write32` the doorbell.
 *
 * @example Registers over any ArrayBuffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { MappedMmio } from "./mmio.ts";
 * using bar0 = new MappedMmio(new ArrayBuffer(0x1000), { name: "test BAR0" });
 * bar0.write32(0x10, 0xdeadbeef);
 * assert(bar0.read32(0x10) === 0xdeadbeef);
 * assert(await bar0.poll(0x10, (v) => v !== 0, { timeoutMs: 10 }) === 0xdeadbeef);
 * ```
 *
 * @module
 */

import { DeviceError, HardwareTimeoutError } from "../errors.ts";
import { type Clock, systemClock } from "./clock.ts";

/** How long and how often {@linkcode Mmio.poll} reads. */
export interface PollOptions {
  /** Give up after this many milliseconds. Defaults to 2000. */
  timeoutMs?: number;
  /**
   * Milliseconds between reads. 0 reads back to back in slices of at most
   * 1000 reads or 1 ms, sleeping for the rest of the millisecond after each
   * slice (so timers run, and a virtual clock counts 1 ms per 1000 reads).
   * Defaults to 1.
   */
  intervalMs?: number;
  /** Stop early: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Register name for the timeout error, e.g. `NV_PFALCON_FALCON_CPUCTL`. */
  name?: string;
}

/**
 * 32-bit access to one BAR. Offsets are bytes from the start of the BAR and
 * must be 4-byte aligned and inside it; anything else throws a `RangeError`
 * (a bug in the caller) without touching the device.
 */
export interface Mmio {
  /** Size of the BAR in bytes. */
  readonly size: number;
  /** What this is, for messages, e.g. `0000:01:00.0 BAR0`. */
  readonly name: string;
  /**
   * Read a register.
   *
   * @param offset Byte offset.
   * @returns The value, 0 … 2^32-1.
   */
  read32(offset: number): number;
  /**
   * Write a register.
   *
   * @param offset Byte offset.
   * @param value A 32-bit value (negative int32 values are taken as their bit pattern).
   */
  write32(offset: number, value: number): void;
  /**
   * Read a register until `predicate` accepts the value.
   *
   * @param offset Byte offset.
   * @param predicate Test for the awaited value.
   * @param options Timeout, interval, abort signal and a register name.
   * @returns The accepted value.
   * @throws {HardwareTimeoutError} with the last value read, when time runs out.
   */
  poll(
    offset: number,
    predicate: (value: number) => boolean,
    options?: PollOptions,
  ): Promise<number>;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_INTERVAL_MS = 1;
/** A back-to-back poll (`intervalMs: 0`) yields after this much time… */
const SPIN_SLICE_MS = 1;
/** …or this many reads, whichever comes first: about 1 ms of PCIe reads. */
const SPIN_SLICE_READS = 1000;
/** Largest mapping {@linkcode MappedMmio} accepts: its offset check works in 32-bit integers. */
const MAX_MMIO_SIZE = 0x8000_0000;

/** Options for {@linkcode pollValue}: those of a poll, and the clock to wait on. */
export interface PollValueOptions extends PollOptions {
  /** The time source for the deadline and the waits. Defaults to {@linkcode systemClock}. */
  clock?: Clock;
}

/**
 * The polling loop behind every {@linkcode Mmio.poll}, for implementations of
 * {@linkcode Mmio} (the simulator uses it too). All time comes from
 * `options.clock`: on a {@linkcode ManualClock} a timeout costs no real time.
 * The value is read once more after the deadline, so a late wake-up never
 * reports a timeout for a condition that did come true.
 *
 * @param read Reads the current value.
 * @param predicate Test for the awaited value.
 * @param options Timeout, interval, signal, clock; `name` names the register in the timeout error.
 * @returns The accepted value.
 *
 * @example A poll that times out after 10 ms of virtual time, at once
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { pollValue } from "./mmio.ts";
 * import { HardwareTimeoutError } from "../errors.ts";
 * const clock = new ManualClock();
 * let reads = 0;
 * await assert.rejects(
 *   pollValue(() => ++reads, () => false, { timeoutMs: 10, intervalMs: 2, clock }),
 *   HardwareTimeoutError,
 * );
 * assert.equal(clock.now(), 10);
 * assert.equal(reads, 6); // at 0, 2, 4, 6, 8 ms, and once more at the deadline
 * ```
 */
export async function pollValue(
  read: () => number,
  predicate: (value: number) => boolean,
  options: PollValueOptions = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const { signal, clock = systemClock } = options;
  if (!(timeoutMs >= 0) || !(intervalMs >= 0) || intervalMs === Infinity) {
    throw new RangeError(`poll: timeoutMs ${timeoutMs} and intervalMs ${intervalMs} must be ≥ 0`);
  }
  signal?.throwIfAborted();
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    let value = read();
    if (predicate(value)) return value;
    let now = clock.now();
    let wait = Math.min(intervalMs, deadline - now);
    if (intervalMs === 0) {
      const sliceEnd = Math.min(deadline, now + SPIN_SLICE_MS);
      for (let reads = 1; reads < SPIN_SLICE_READS && now < sliceEnd; reads++) {
        value = read();
        if (predicate(value)) return value;
        now = clock.now();
      }
      wait = Math.max(0, sliceEnd - now);
    }
    if (now >= deadline) {
      throw new HardwareTimeoutError(options.name ?? "polled value", value, timeoutMs);
    }
    await clock.sleep(wait, signal);
    signal?.throwIfAborted();
  }
}

/** Options for {@linkcode MappedMmio}. */
export interface MappedMmioOptions {
  /** For messages, e.g. `0000:01:00.0 BAR0`. Defaults to `BAR`. */
  name?: string;
  /** Refuse every write (the mapping should be `PROT_READ` as well). */
  readOnly?: boolean;
  /** PCI address reported by the read-only refusal. */
  bdf?: string;
  /** What {@linkcode MappedMmio.poll} waits on. Defaults to {@linkcode systemClock}. */
  clock?: Clock;
}

/**
 * {@linkcode Mmio} over an `ArrayBuffer`: a mapped BAR, a mapped stand-in
 * file, or plain memory. Sizes up to 2 GiB.
 *
 * It does not own the memory: dispose it before unmapping, after which every
 * access throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MappedMmio } from "./mmio.ts";
 * const ro = new MappedMmio(new ArrayBuffer(16), { readOnly: true, bdf: "0000:01:00.0" });
 * try { ro.write32(0, 1); } catch (e) { assert((e as Error).message.includes("read-only")); }
 * try { ro.read32(2); } catch (e) { assert(e instanceof RangeError); }
 * ```
 */
export class MappedMmio implements Mmio, Disposable {
  #view: Uint32Array;
  #size: number;
  #words: number;
  #writable: boolean;
  #closed = false;
  /** For messages. */
  readonly name: string;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  readonly #bdf?: string;
  /** What {@linkcode MappedMmio.poll} waits on. */
  readonly clock: Clock;

  /**
   * Wrap `buffer`.
   *
   * @param buffer The register space; its length must be a multiple of 4, at most 2 GiB.
   * @param options Name, read-only mode, PCI address, clock.
   */
  constructor(buffer: ArrayBuffer, options: MappedMmioOptions = {}) {
    this.name = options.name ?? "BAR";
    if (buffer.byteLength % 4 !== 0 || buffer.byteLength > MAX_MMIO_SIZE) {
      throw new RangeError(
        `${this.name}: size 0x${buffer.byteLength.toString(16)} is not a multiple of 4 up to 2 GiB`,
      );
    }
    this.#view = new Uint32Array(buffer);
    this.#size = buffer.byteLength;
    this.#words = this.#size >>> 2;
    this.readOnly = options.readOnly ?? false;
    this.#writable = !this.readOnly;
    this.#bdf = options.bdf;
    this.clock = options.clock ?? systemClock;
  }

  /** Size in bytes; 0 after dispose. */
  get size(): number {
    return this.#size;
  }

  /**
   * Read a register with one `Atomics.load`, which the JIT never hoists out of a loop.
   *
   * @param offset Byte offset, 4-byte aligned, inside the BAR.
   * @returns The value.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MappedMmio } from "./mmio.ts";
   * const m = new MappedMmio(new Uint32Array([1, 2, 3, 4]).buffer);
   * assert(m.read32(8) === 3);
   * ```
   */
  read32(offset: number): number {
    // index << 2 gives back the offset only for an aligned integer in [-2^31, 2^32);
    // negatives wrap to index ≥ 2^29, which the bound (≤ 2 GiB of words) rejects.
    const index = offset >>> 2;
    if (index << 2 !== offset || index >= this.#words) {
      throw this.#offsetError(offset);
    }
    return Atomics.load(this.#view, index);
  }

  /**
   * Write a register with one plain 32-bit store: no read, no locked instruction.
   *
   * @param offset Byte offset, 4-byte aligned, inside the BAR.
   * @param value A 32-bit value (uint32 or its int32 bit pattern).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MappedMmio } from "./mmio.ts";
   * const m = new MappedMmio(new ArrayBuffer(8));
   * m.write32(4, -1);
   * assert(m.read32(4) === 0xffffffff);
   * ```
   */
  write32(offset: number, value: number): void {
    const index = offset >>> 2;
    if (
      index << 2 !== offset || index >= this.#words || !this.#writable ||
      ((value >>> 0) !== value && (value | 0) !== value)
    ) {
      throw this.#writeError(offset, value);
    }
    // One `mov` to the BAR. Never Atomics.store: that is `xchg`, a locked read-modify-write.
    this.#view[index] = value;
  }

  /**
   * Read until `predicate` accepts the value, waiting on this mapping's
   * clock; see {@linkcode pollValue}.
   *
   * @param offset Byte offset.
   * @param predicate Test for the awaited value.
   * @param options Timeout, interval, signal and a register name.
   * @returns The accepted value.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ManualClock } from "./clock.ts";
   * import { MappedMmio } from "./mmio.ts";
   * import { HardwareTimeoutError } from "../errors.ts";
   * const m = new MappedMmio(new ArrayBuffer(8), { clock: new ManualClock() });
   * await assert.rejects(m.poll(0, (v) => v === 1, { timeoutMs: 500 }), (e: unknown) => {
   *   return e instanceof HardwareTimeoutError && e.lastValue === 0;
   * });
   * assert.equal(m.clock.now(), 500);
   * ```
   */
  poll(
    offset: number,
    predicate: (value: number) => boolean,
    options: PollOptions = {},
  ): Promise<number> {
    const name = options.name ?? `${this.name}+0x${offset.toString(16)}`;
    return pollValue(() => this.read32(offset), predicate, { ...options, name, clock: this.clock });
  }

  /** Refuse all further access. Does not unmap: the mapping's owner does that. */
  [Symbol.dispose](): void {
    this.#closed = true;
    this.#size = 0;
    this.#words = 0;
    this.#writable = false;
    this.#view = new Uint32Array(0);
  }

  #offsetError(offset: number): Error {
    if (this.#closed) return new RangeError(`${this.name} is closed`);
    const shown = Number.isInteger(offset) ? `0x${offset.toString(16)}` : String(offset);
    return new RangeError(
      `${this.name}: offset ${shown} is not a 4-byte aligned offset below 0x${
        this.#size.toString(16)
      }`,
    );
  }

  #writeError(offset: number, value: number): Error {
    if ((offset >>> 2) << 2 !== offset || offset >>> 2 >= this.#words) {
      return this.#offsetError(offset);
    }
    if (this.readOnly) {
      return new DeviceError(
        this.#bdf ?? this.name,
        `opened read-only; refused to write 0x${(value >>> 0).toString(16)} to ${this.name}+0x${
          offset.toString(16)
        }`,
        "open the device with readOnly: false to write",
      );
    }
    return new RangeError(`${this.name}+0x${offset.toString(16)}: ${value} is not a 32-bit value`);
  }
}

/** The barrier's own word: ordinary memory, never a device's. */
const fenceWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * Make every store before it visible ahead of every store after it. Call it
 * between filling a DMA buffer and the `write32` that rings the device's
 * doorbell: fill the buffer, `writeBarrier()`, then the doorbell `write32`.
 *
 * JavaScript has no fence, so this is an atomic read-modify-write
 * (`Atomics.add`) on a word of its own, a `SharedArrayBuffer` that is never
 * device memory; it is the only atomic read-modify-write in `pci/`. V8
 * compiles it to `lock xadd` on x86-64. On arm64 it is `ldaddal` where V8's
 * optimizing compiler emits it on a CPU with the LSE atomics, and an
 * `ldaxr`/`stlxr` loop otherwise (the builtin, and CPUs without LSE; see
 * `ATOMIC_BINOP_CASE(Add, Add, Ldaddal)` in V8's
 * `src/compiler/backend/arm64/code-generator-arm64.cc`). Either is
 * acquire-release: the release half keeps the buffer's stores before it, the
 * acquire half keeps the doorbell store after it. The JIT does not move a
 * store across it either: it is a call with side effects on memory.
 *
 * On x86-64 the doorbell cannot pass the buffer's stores anyway (stores stay
 * in program order, and the BAR is mapped uncached), so there the barrier
 * costs one locked add on ordinary memory and changes nothing. On arm64 it
 * supplies the ordering Linux gets from `dma_wmb()` before `writel()`.
 *
 * No barrier is needed between reading a completion register and reading
 * what the device wrote: `read32` is an `Atomics.load`, and later loads stay
 * after it (x86-64 keeps loads in order; arm64's `ldar` is a load-acquire).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MappedMmio, writeBarrier } from "./mmio.ts";
 * const ring = new Uint8Array(64);     // stands in for a DmaBuffer's bytes
 * const bar0 = new MappedMmio(new ArrayBuffer(16));
 * ring.set([1, 2, 3, 4]);              // 1. fill the DMA buffer
 * writeBarrier();                      // 2. order it before…
 * bar0.write32(0x0, 1);                // 3. …the doorbell
 * assert.equal(bar0.read32(0x0), 1);
 * ```
 */
export function writeBarrier(): void {
  Atomics.add(fenceWord, 0, 1);
}
