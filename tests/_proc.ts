/**
 * What /proc says about this process's descriptors and mappings, narrowed
 * to the files and addresses a test owns (tests run in parallel in one
 * process, so whole-process counts are not stable).
 *
 * @module
 */

/**
 * Open descriptors whose target path starts with one of `prefixes`.
 *
 * @param prefixes Paths (e.g. a test's temp directories).
 * @returns The matching targets, sorted.
 */
export function openFilesUnder(...prefixes: string[]): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue; // closed meanwhile by another test
    }
    if (prefixes.some((p) => target.startsWith(p))) found.push(target);
  }
  return found.sort();
}

/**
 * The `Locked:` size of the mapping containing `address`, or null when
 * nothing is mapped there.
 *
 * @param address A virtual address.
 * @returns KiB locked, or null.
 */
export function lockedKiBAt(address: bigint): number | null {
  const smaps = Deno.readTextFileSync("/proc/self/smaps");
  let inside = false;
  for (const line of smaps.split("\n")) {
    const range = line.match(/^([0-9a-f]+)-([0-9a-f]+) /);
    if (range) {
      inside = BigInt(`0x${range[1]}`) <= address && address < BigInt(`0x${range[2]}`);
      continue;
    }
    const locked = inside && line.match(/^Locked:\s+(\d+) kB/);
    if (locked) return Number(locked[1]);
  }
  return null;
}
