/**
 * 32-bit register access to a BAR: the {@linkcode Mmio} interface shared by
 * the hardware backends and the simulator, the {@linkcode MappedMmio}
 * implementation over a mapped `ArrayBuffer`, polling with a timeout and an
 * `AbortSignal`, and the {@linkcode writeBarrier} for DMA doorbells.
 *
 * Why `Atomics.load`/`Atomics.store`: a plain typed-array load of the same
 * index in a loop may be hoisted or merged by the JIT, so a poll loop could
 * spin on a stale value; an Atomics access is always performed, exactly once,
 * at its width, in program order. Atomics accept a non-shared `Uint32Array`
 * for `load`/`store`, which is what `Deno.UnsafePointerView.getArrayBuffer`
 * gives over `mmap`ed memory. (Reading through `UnsafePointerView.getUint32`
 * is correct too but several times slower.)
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

/** How long and how often {@linkcode Mmio.poll} reads. */
export interface PollOptions {
  /** Give up after this many milliseconds. Defaults to 2000. */
  timeoutMs?: number;
  /**
   * Milliseconds between reads. 0 reads back to back, yielding to the event
   * loop about once a millisecond. Defaults to 1.
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
const SPIN_SLICE_MS = 1;
/** Largest mapping {@linkcode MappedMmio} accepts: its offset check works in 32-bit integers. */
const MAX_MMIO_SIZE = 0x8000_0000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The polling loop behind every {@linkcode Mmio.poll}, for implementations of
 * {@linkcode Mmio} (the simulator uses it too). The value is read once more
 * after the deadline, so a late wake-up never reports a timeout for a
 * condition that did come true.
 *
 * @param read Reads the current value.
 * @param predicate Test for the awaited value.
 * @param options Timeout, interval, signal; `name` names the register in the timeout error.
 * @returns The accepted value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pollValue } from "./mmio.ts";
 * let n = 0;
 * const v = await pollValue(() => ++n, (x) => x >= 3, { intervalMs: 0, name: "counter" });
 * assert(v === 3);
 * ```
 */
export async function pollValue(
  read: () => number,
  predicate: (value: number) => boolean,
  options: PollOptions = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const signal = options.signal;
  if (!(timeoutMs >= 0) || !(intervalMs >= 0)) {
    throw new RangeError(`poll: timeoutMs ${timeoutMs} and intervalMs ${intervalMs} must be ≥ 0`);
  }
  signal?.throwIfAborted();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let value = read();
    if (predicate(value)) return value;
    let now = performance.now();
    if (intervalMs === 0) {
      const sliceEnd = Math.min(deadline, now + SPIN_SLICE_MS);
      while (now < sliceEnd) {
        value = read();
        if (predicate(value)) return value;
        now = performance.now();
      }
    }
    if (now >= deadline) {
      throw new HardwareTimeoutError(options.name ?? "polled value", value, timeoutMs);
    }
    await sleep(Math.min(intervalMs, deadline - now), signal);
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

  /**
   * Wrap `buffer`.
   *
   * @param buffer The register space; its length must be a multiple of 4, at most 2 GiB.
   * @param options Name, read-only mode, PCI address.
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
  }

  /** Size in bytes; 0 after dispose. */
  get size(): number {
    return this.#size;
  }

  /**
   * Read a register with one `Atomics.load`.
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
   * Write a register with one `Atomics.store`.
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
    Atomics.store(this.#view, index, value);
  }

  /**
   * Read until `predicate` accepts the value; see {@linkcode pollValue}.
   *
   * @param offset Byte offset.
   * @param predicate Test for the awaited value.
   * @param options Timeout, interval, signal and a register name.
   * @returns The accepted value.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MappedMmio } from "./mmio.ts";
   * import { HardwareTimeoutError } from "../errors.ts";
   * const m = new MappedMmio(new ArrayBuffer(8));
   * try { await m.poll(0, (v) => v === 1, { timeoutMs: 5 }); } catch (e) {
   *   assert(e instanceof HardwareTimeoutError && e.lastValue === 0);
   * }
   * ```
   */
  poll(
    offset: number,
    predicate: (value: number) => boolean,
    options: PollOptions = {},
  ): Promise<number> {
    const name = options.name ?? `${this.name}+0x${offset.toString(16)}`;
    return pollValue(() => this.read32(offset), predicate, { ...options, name });
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

const fenceWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * Order every memory write before it ahead of every memory access after it:
 * call it between filling a DMA buffer and ringing the device's doorbell
 * register, and between seeing a completion register and reading what the
 * device wrote.
 *
 * JavaScript has no fence, so this is an atomic read-modify-write on a
 * shared word, which V8 compiles to a full barrier: `lock xadd` on x86_64,
 * and an acquire-release RMW (`ldaddal`, or an `ldaxr`/`stlxr` loop) on
 * aarch64. Plain typed-array stores to the DMA buffer cannot be moved past
 * it by the JIT (it is an observable side effect on shared memory) nor by
 * the CPU. The doorbell itself is an `Atomics.store` (a sequentially
 * consistent store: `xchg` / `stlr`), so on x86_64 the barrier is
 * belt and braces; on aarch64 it supplies the ordering Linux gets from
 * `dma_wmb()` before `writel()`.
 *
 * @example
 * ```ts
 * import { MappedMmio, writeBarrier } from "./mmio.ts";
 * const ring = new Uint8Array(64);     // stands in for a DmaBuffer's bytes
 * const bar0 = new MappedMmio(new ArrayBuffer(16));
 * ring.set([1, 2, 3, 4]);
 * writeBarrier();
 * bar0.write32(0x0, 1);                // doorbell
 * ```
 */
export function writeBarrier(): void {
  Atomics.add(fenceWord, 0, 1);
}
