// Small byte helpers shared by the acceptance rules (private to sim/acceptance).

/** `0x…` for messages. */
export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Little-endian u32 at `offset` (the caller has checked the range). */
export function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

/** Little-endian u64 at `offset`. */
export function u64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true);
}

/** Whether every byte is zero. */
export function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Index of the first differing byte over `length` bytes, or -1 when equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array, length = a.length): number {
  if (a.length < length || b.length < length) return Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** `align_down(n, a)` for a power-of-two `a`, over plain numbers beyond 32 bits. */
export function alignDown(n: number, a: number): number {
  return n - (n % a);
}

/** `align_up(n, a)`. */
export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
