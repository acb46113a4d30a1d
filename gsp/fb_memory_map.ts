/**
 * An FB layout as a memory map: every byte of VRAM in exactly one region,
 * bottom to top, with the alignment gaps between the GSP's regions named as
 * such. This is what `scripts/fb_layout.ts` prints and draws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * import { fbMemoryMap } from "./fb_memory_map.ts";
 * const layout = computeFbLayout({
 *   chip: "tu102",
 *   fbSize: 11 * 2 ** 30,
 *   gspImageSize: 28528288,
 *   bootloaderSize: 4096,
 * });
 * const map = fbMemoryMap(layout);
 * assert.equal(map[0].start, 0);
 * assert.equal(map.at(-1)!.end, 11 * 2 ** 30);
 * assert(map.every((r, i) => i === 0 || r.start === map[i - 1].end));
 * assert.deepEqual(map.filter((r) => r.kind !== "padding").map((r) => r.name), [
 *   "free", "non-WPR heap", "WPR meta", "WPR2 heap", "GSP-RM image", "GSP bootloader", "FRTS",
 *   "VGA workspace",
 * ]);
 * ```
 *
 * @module
 */

import type { FbLayout, FbRange } from "./fb_layout.ts";

/** What a region of the map holds. */
export type FbRegionKind =
  | "free"
  | "non-wpr-heap"
  | "wpr-meta"
  | "wpr2-heap"
  | "gsp-image"
  | "bootloader"
  | "frts"
  | "mmu-locked"
  | "vga-workspace"
  | "padding";

/** One region of the memory map, `[start, end)` in bytes. */
export interface FbRegion extends FbRange {
  /** A name for people (`WPR2 heap`, `padding`). */
  readonly name: string;
  /** What it holds. */
  readonly kind: FbRegionKind;
  /** Whether it lies inside WPR2. */
  readonly inWpr2: boolean;
  /** The `GspFwWprMeta` field that holds its start, where one does. */
  readonly wprMetaField?: string;
}

/** The regions of the map by kind, in map order, with their names and meta fields. */
export const FB_REGION_KINDS: Readonly<
  Record<FbRegionKind, { readonly name: string; readonly description: string }>
> = Object.freeze({
  "free": { name: "free", description: "VRAM left to GSP-RM's own allocator" },
  "non-wpr-heap": { name: "non-WPR heap", description: "GSP-RM's heap outside WPR2" },
  "wpr-meta": { name: "WPR meta", description: "the 1 MiB slot holding GspFwWprMeta" },
  "wpr2-heap": { name: "WPR2 heap", description: "GSP-RM's heap inside WPR2" },
  "gsp-image": { name: "GSP-RM image", description: "the .fwimage ELF Booter copies in" },
  "bootloader": { name: "GSP bootloader", description: "the RISC-V bootloader ucode" },
  "frts": { name: "FRTS", description: "FWSEC-FRTS data (firmware runtime security)" },
  "mmu-locked": { name: "MMU locked", description: "locked by the VBIOS (GA100)" },
  "vga-workspace": { name: "VGA workspace", description: "the VBIOS's VGA workspace" },
  "padding": { name: "padding", description: "alignment gap" },
});

/**
 * The memory map of `layout`: contiguous regions from 0 to the end of VRAM,
 * empty ones left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "./fb_layout.ts";
 * import { fbMemoryMap } from "./fb_memory_map.ts";
 * const layout = computeFbLayout({
 *   chip: "ga100", fbSize: 40 * 2 ** 30, gspImageSize: 28528288, bootloaderSize: 4096,
 * });
 * const map = fbMemoryMap(layout);
 * assert(!map.some((r) => r.kind === "frts")); // GA100 has no FRTS
 * assert(map.filter((r) => r.inWpr2).every((r) => r.start >= layout.wpr2.start && r.end <= layout.wpr2.end));
 * ```
 */
export function fbMemoryMap(layout: FbLayout): FbRegion[] {
  const region = (
    kind: FbRegionKind,
    r: { start: number; end: number },
    inWpr2: boolean,
    wprMetaField?: string,
  ): FbRegion =>
    Object.freeze({
      name: FB_REGION_KINDS[kind].name,
      kind,
      start: r.start,
      end: r.end,
      size: r.end - r.start,
      inWpr2,
      ...(wprMetaField ? { wprMetaField } : {}),
    });
  const gap = (start: number, end: number, inWpr2: boolean) =>
    region("padding", { start, end }, inWpr2);
  const l = layout;
  const regions = [
    region("free", { start: 0, end: l.nonWprHeap.start }, false),
    region("non-wpr-heap", l.nonWprHeap, false, "nonWprHeapOffset"),
    region("wpr-meta", l.wprMeta, true, "gspFwWprStart"),
    region("wpr2-heap", l.wpr2Heap, true, "gspFwHeapOffset"),
    gap(l.wpr2Heap.end, l.elf.start, true),
    region("gsp-image", l.elf, true, "gspFwOffset"),
    gap(l.elf.end, l.boot.start, true),
    region("bootloader", l.boot, true, "bootBinOffset"),
    gap(l.boot.end, l.frts.start, true),
    region("frts", l.frts, true, "frtsOffset"),
    ...(l.mmuLocked
      ? [gap(l.frts.end, l.mmuLocked.start, false), region("mmu-locked", l.mmuLocked, false)]
      : []),
    gap(l.mmuLocked?.end ?? l.frts.end, l.vgaWorkspace.start, false),
    region("vga-workspace", l.vgaWorkspace, false, "vgaWorkspaceOffset"),
  ];
  return regions.filter((r) => r.size > 0);
}
