/**
 * Which members of the `firmware-nvidia-graphics` package to extract: GNU
 * tar's listing of the package, parsed, and the GSP firmware selected from
 * it (files, and the relative links that share them between chips).
 *
 * @module
 */

import { posix } from "node:path";

/** One member of a tar listing (`tar -tv`). */
export interface TarMember {
  /** What the member is. */
  readonly type: "file" | "directory" | "symlink" | "hardlink" | "other";
  /** Its name as the archive spells it (e.g. `./usr/lib/firmware/nvidia/ad103`). */
  readonly name: string;
  /** Link target, for symlinks and hard links. */
  readonly target?: string;
}

const TAR_TYPES: Record<string, TarMember["type"]> = {
  "-": "file",
  d: "directory",
  l: "symlink",
  h: "hardlink",
};

/**
 * Parse GNU `tar -tv` output (run with `LC_ALL=C`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTarListing } from "./deb_members.ts";
 * const [m] = parseTarListing(
 *   "lrwxrwxrwx root/root 0 2026-09-30 15:10 ./usr/lib/firmware/nvidia/ad103 -> ad102\n",
 * );
 * assert(m.type === "symlink" && m.target === "ad102");
 * ```
 */
export function parseTarListing(text: string): TarMember[] {
  const out: TarMember[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\S)\S*\s+\S+\s+\S+\s+\S+\s+\S+\s(.*)$/.exec(line);
    if (!m) continue;
    const type = TAR_TYPES[m[1]] ?? "other";
    const rest = m[2];
    if (type === "symlink") {
      const arrow = rest.indexOf(" -> ");
      out.push({ type, name: rest.slice(0, arrow), target: rest.slice(arrow + 4) });
    } else if (type === "hardlink") {
      const link = rest.indexOf(" link to ");
      out.push({ type, name: rest.slice(0, link), target: rest.slice(link + 9) });
    } else {
      out.push({ type, name: rest });
    }
  }
  return out;
}

/** How a selected member shares or holds firmware. */
export type FirmwareMemberKind = "file" | "file-link" | "gsp-link" | "chip-link";

/** A member of the package that is extracted. */
export interface FirmwareMember {
  /** The name to pass to tar. */
  readonly name: string;
  /** Path relative to the firmware root (`nvidia/tu104/gsp`). */
  readonly path: string;
  /** Its role. */
  readonly kind: FirmwareMemberKind;
  /** Link target, for links. */
  readonly target?: string;
}

/**
 * GNU tar patterns (for `--wildcards --no-wildcards-match-slash
 * --no-recursion`) that match every member {@linkcode selectFirmwareMembers}
 * may select from a package rooted at `./usr/lib/firmware/`, and little
 * else (the chip folders and `gsp` folders themselves): extracting with
 * them and `-vv` lists and extracts in one pass over the package.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FIRMWARE_CANDIDATE_PATTERNS } from "./deb_members.ts";
 * assert(FIRMWARE_CANDIDATE_PATTERNS.every((p) => p.startsWith("./usr/lib/firmware/nvidia/")));
 * ```
 */
export const FIRMWARE_CANDIDATE_PATTERNS: readonly string[] = [
  "./usr/lib/firmware/nvidia/*",
  "./usr/lib/firmware/nvidia/*/gsp",
  "./usr/lib/firmware/nvidia/*/gsp/*",
];

/** The firmware root inside the package, and the rest of a member's name. */
const FIRMWARE_ROOT = /^(?:\.\/)?((?:usr\/)?lib\/firmware\/)(nvidia\/.+)$/;

/**
 * The folder of the package that holds the firmware root (`usr/lib/firmware/`
 * or `lib/firmware/`), for a member name below `nvidia/`, else undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packageFirmwareRoot } from "./deb_members.ts";
 * assert(packageFirmwareRoot("./usr/lib/firmware/nvidia/ad103") === "usr/lib/firmware/");
 * assert(packageFirmwareRoot("./usr/share/doc/x") === undefined);
 * ```
 */
export function packageFirmwareRoot(name: string): string | undefined {
  return FIRMWARE_ROOT.exec(name)?.[1];
}

/**
 * The members to extract: regular files and links below
 * `nvidia/<chip>/gsp/`, `<chip>/gsp` folder links, and chip folder links
 * (`ad103 → ad102`) that lead to a chip with GSP firmware. Directories are
 * never selected: naming one would make tar extract all of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTarListing, selectFirmwareMembers } from "./deb_members.ts";
 * const listing = [
 *   "drwxr-xr-x root/root 0 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu102/gsp/",
 *   "-rw-r--r-- root/root 816 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu102/gsp/gen_bootloader-570.144.bin",
 *   "lrwxrwxrwx root/root 0 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu104/gsp -> ../tu102/gsp",
 *   "-rw-r--r-- root/root 9 2026-09-30 15:10 ./usr/lib/firmware/nvidia/tu102/acr/bl.bin",
 * ].join("\n");
 * const selected = selectFirmwareMembers(parseTarListing(listing));
 * assert(selected.map((m) => m.kind).join() === "file,gsp-link");
 * ```
 */
export function selectFirmwareMembers(members: readonly TarMember[]): FirmwareMember[] {
  const selected: FirmwareMember[] = [];
  const chipLinks: FirmwareMember[] = [];
  for (const member of members) {
    const m = FIRMWARE_ROOT.exec(member.name);
    if (!m || member.type === "directory" || member.type === "other") continue;
    const path = m[2].replace(/\/+$/, "");
    const parts = path.split("/");
    const isLink = member.type === "symlink";
    const base = { name: member.name, path, target: isLink ? member.target : undefined };
    if (parts.length === 4 && parts[2] === "gsp") {
      selected.push({ ...base, kind: isLink ? "file-link" : "file" });
    } else if (parts.length === 3 && parts[2] === "gsp" && isLink) {
      selected.push({ ...base, kind: "gsp-link" });
    } else if (parts.length === 2 && isLink) {
      chipLinks.push({ ...base, kind: "chip-link" });
    }
  }
  // A chip link is kept when it leads (possibly through other chip links) to
  // a chip that has GSP members; anything else would dangle in the cache.
  const chipsWithGsp = new Set(selected.map((m) => m.path.split("/")[1]));
  for (let changed = true; changed;) {
    changed = false;
    for (const link of chipLinks) {
      const chip = link.path.split("/")[1];
      const target = posix.normalize(posix.join("nvidia", link.target ?? ""));
      const targetChip = /^nvidia\/([^/]+)$/.exec(target)?.[1];
      if (!chipsWithGsp.has(chip) && targetChip && chipsWithGsp.has(targetChip)) {
        chipsWithGsp.add(chip);
        changed = true;
      }
    }
  }
  const keptLinks = chipLinks.filter((l) => chipsWithGsp.has(l.path.split("/")[1]));
  return [...selected, ...keptLinks].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}
