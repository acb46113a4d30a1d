// A file's identity, for caches that keep what was computed from a file
// (its hash, its parsed headers) for as long as the file stays the same.

/**
 * How long after its last change a file's derived data starts being cached,
 * in milliseconds. File times advance in clock ticks (up to 10 ms), so two
 * writes within one tick can leave the same times behind; a file changed
 * this recently is read afresh on every call instead (git's "racily clean"
 * rule).
 */
export const SETTLE_MS = 100;

/**
 * Device, inode, size, modification and change times. A file rewritten in
 * place changes its size, its modification time or at least its change time
 * (which no user call can set back), so it gets a new identity.
 */
export function fileIdentity(info: Deno.FileInfo): string {
  const ms = (d: Date | null) => d?.getTime() ?? "";
  return `${info.dev}:${info.ino}:${info.size}:${ms(info.mtime)}:${ms(info.ctime)}`;
}

/** Whether the file last changed more than {@linkcode SETTLE_MS} ago (and says when). */
export function isSettled(info: Deno.FileInfo, now: number = Date.now()): boolean {
  const changed = Math.max(info.mtime?.getTime() ?? Infinity, info.ctime?.getTime() ?? Infinity);
  return changed < now - SETTLE_MS;
}
