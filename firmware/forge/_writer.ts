// A growable little-endian writer used by the forge to build synthetic files.

/** Little-endian writes into a fixed-size buffer; out-of-range writes throw. */
export class ByteWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  #check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.bytes.length) {
      throw new RangeError(
        `forge write of ${length} bytes at 0x${offset.toString(16)} exceeds ${this.bytes.length}`,
      );
    }
  }

  u8(offset: number, value: number): this {
    this.#check(offset, 1);
    this.bytes[offset] = value;
    return this;
  }

  u16(offset: number, value: number): this {
    this.#check(offset, 2);
    this.#view.setUint16(offset, value, true);
    return this;
  }

  u32(offset: number, value: number): this {
    this.#check(offset, 4);
    this.#view.setUint32(offset, value >>> 0, true);
    return this;
  }

  u64(offset: number, value: bigint | number): this {
    this.#check(offset, 8);
    this.#view.setBigUint64(offset, BigInt(value), true);
    return this;
  }

  set(offset: number, data: Uint8Array): this {
    this.#check(offset, data.length);
    this.bytes.set(data, offset);
    return this;
  }

  ascii(offset: number, text: string): this {
    for (let i = 0; i < text.length; i++) this.u8(offset + i, text.charCodeAt(i));
    return this;
  }
}

/** Deterministic pseudo-random bytes (xorshift32) so forged files are reproducible. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
