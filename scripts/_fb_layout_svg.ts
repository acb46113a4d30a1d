/**
 * Draw an FB layout as an SVG memory map for `fb_layout.ts --svg`: VRAM as a
 * vertical bar, the end of VRAM at the top as in NVIDIA's diagrams, the GSP's
 * regions to scale (small ones at a minimum height, so that a 4 KiB
 * bootloader stays visible next to a 100 MiB heap), the free VRAM below them
 * on a broken axis, each region labelled with its name, size and range, the
 * WPR2 span bracketed, and a legend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "../gsp/mod.ts";
 * import { fbLayoutSvg } from "./_fb_layout_svg.ts";
 * const layout = computeFbLayout({
 *   chip: "tu102", fbSize: 24 * 2 ** 30, gspImageSize: 28528288, bootloaderSize: 4096,
 * });
 * const svg = fbLayoutSvg(layout, { title: "TU102" });
 * assert(svg.startsWith("<?xml") && svg.includes("WPR2 heap") && svg.includes("0x5f7600000"));
 * ```
 *
 * @module
 */

import {
  FB_REGION_KINDS,
  type FbLayout,
  fbMemoryMap,
  type FbRegion,
  type FbRegionKind,
} from "../gsp/mod.ts";

/** What to write above the map. */
export interface FbLayoutSvgOptions {
  /** The title line. */
  title: string;
  /** Lines under the title (the firmware files, the heap formula). */
  subtitles?: readonly string[];
}

const COLORS: Readonly<Record<FbRegionKind, string>> = {
  "free": "#e9ecef",
  "non-wpr-heap": "#9ecae1",
  "wpr-meta": "#fd8d3c",
  "wpr2-heap": "#3182bd",
  "gsp-image": "#31a354",
  "bootloader": "#a1d99b",
  "frts": "#e6550d",
  "mmu-locked": "#756bb1",
  "vga-workspace": "#fdd835",
  "padding": "url(#hatch)",
};

const SANS = "DejaVu Sans, Helvetica, Arial, sans-serif";
const MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace";

const WIDTH = 1000;
const TOP = 118; // below the title block
const MAP_HEIGHT = 640; // the GSP's regions
const FREE_HEIGHT = 130; // the broken free part
const BAR_X = 230;
const BAR_W = 230;
const LABEL_X = 540;
const LINE = 17; // label line height
const MIN_NAMED = 30; // minimum height of a named region
const MIN_PADDING = 7; // minimum height of an alignment gap

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * A size for people: bytes, KiB, MiB or GiB, with up to two decimals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { humanSize } from "./_fb_layout_svg.ts";
 * assert.equal(humanSize(4096), "4 KiB");
 * assert.equal(humanSize(28528288), "27.21 MiB");
 * assert.equal(humanSize(24 * 2 ** 30), "24 GiB");
 * assert.equal(humanSize(100), "100 B");
 * ```
 */
export function humanSize(bytes: number): string {
  const units: [number, string][] = [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];
  for (const [unit, name] of units) {
    if (bytes >= unit) return `${Number((bytes / unit).toFixed(2))} ${name}`;
  }
  return `${bytes} B`;
}

// Heights: proportional with a floor per region, the scale chosen so that they
// add up to MAP_HEIGHT (bisection on the scale).
function heights(regions: readonly FbRegion[]): number[] {
  const floor = (r: FbRegion) => (r.kind === "padding" ? MIN_PADDING : MIN_NAMED);
  const total = (scale: number) =>
    regions.reduce((s, r) => s + Math.max(floor(r), r.size * scale), 0);
  let lo = 0;
  let hi = MAP_HEIGHT / Math.max(1, Math.min(...regions.map((r) => r.size)));
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (total(mid) > MAP_HEIGHT) hi = mid;
    else lo = mid;
  }
  return regions.map((r) => Math.max(floor(r), r.size * lo));
}

// Spread label centres so that neighbours are at least `gap` apart, keeping
// them as close as possible to where they want to be, inside [min, max].
function spread(wanted: readonly number[], gap: number, min: number, max: number): number[] {
  const out = wanted.map((y) => Math.min(Math.max(y, min), max));
  for (let i = 1; i < out.length; i++) out[i] = Math.max(out[i], out[i - 1] + gap);
  if (out.length > 0 && out[out.length - 1] > max) {
    out[out.length - 1] = max;
    for (let i = out.length - 2; i >= 0; i--) out[i] = Math.min(out[i], out[i + 1] - gap);
  }
  return out;
}

function text(
  x: number,
  y: number,
  content: string,
  attrs: Record<string, string | number> = {},
): string {
  const a = Object.entries({ x: x.toFixed(1), y: y.toFixed(1), ...attrs })
    .map(([k, v]) => `${k}="${escape(String(v))}"`).join(" ");
  return `<text ${a}>${escape(content)}</text>`;
}

/**
 * The SVG document for `layout`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeFbLayout } from "../gsp/mod.ts";
 * import { fbLayoutSvg } from "./_fb_layout_svg.ts";
 * const layout = computeFbLayout({
 *   chip: "ga100", fbSize: 40 * 2 ** 30, gspImageSize: 28528288, bootloaderSize: 4096,
 * });
 * assert(!fbLayoutSvg(layout, { title: "GA100" }).includes(">FRTS<"));
 * ```
 */
export function fbLayoutSvg(layout: FbLayout, options: FbLayoutSvgOptions): string {
  const map = fbMemoryMap(layout);
  const free = map.find((r) => r.kind === "free");
  const reserved = map.filter((r) => r.kind !== "free").reverse(); // top of VRAM first
  const h = heights(reserved);
  const out: string[] = [];

  // Region rectangles, top down.
  const tops: number[] = [];
  let y = TOP;
  for (const [i, r] of reserved.entries()) {
    tops.push(y);
    out.push(
      `<rect x="${BAR_X}" y="${y.toFixed(2)}" width="${BAR_W}" height="${h[i].toFixed(2)}" ` +
        `fill="${COLORS[r.kind]}" stroke="#333" stroke-width="0.8"><title>${
          escape(`${r.name}: ${hex(r.start)}..${hex(r.end)} (${humanSize(r.size)})`)
        }</title></rect>`,
    );
    if (h[i] >= 24 && r.kind !== "padding") {
      const dark = ["wpr2-heap", "gsp-image", "frts", "mmu-locked"].includes(r.kind);
      out.push(text(BAR_X + BAR_W / 2, y + h[i] / 2 + 5, r.name, {
        "text-anchor": "middle",
        "font-family": SANS,
        "font-size": 14,
        "font-weight": "bold",
        fill: dark ? "#fff" : "#222",
      }));
    }
    y += h[i];
  }
  const mapBottom = y;

  // The free part on a broken axis.
  const freeTop = mapBottom;
  const freeBottom = freeTop + FREE_HEIGHT;
  if (free) {
    out.push(
      `<rect x="${BAR_X}" y="${freeTop.toFixed(2)}" width="${BAR_W}" height="${FREE_HEIGHT}" ` +
        `fill="${COLORS.free}" stroke="#333" stroke-width="0.8"/>`,
    );
    const breakY = freeTop + FREE_HEIGHT / 2;
    const zigzag = (dy: number) => {
      const points: string[] = [];
      for (let i = 0; i <= 12; i++) {
        points.push(
          `${(BAR_X - 12 + i * (BAR_W + 24) / 12).toFixed(1)},${
            (breakY + dy + (i % 2 === 0 ? -5 : 5)).toFixed(1)
          }`,
        );
      }
      return points.join(" ");
    };
    out.push(
      `<polygon points="${zigzag(-6)} ${zigzag(6).split(" ").reverse().join(" ")}" fill="#fff" ` +
        `stroke="none"/>`,
      `<polyline points="${zigzag(-6)}" fill="none" stroke="#333" stroke-width="1.2"/>`,
      `<polyline points="${zigzag(6)}" fill="none" stroke="#333" stroke-width="1.2"/>`,
    );
    out.push(text(BAR_X + BAR_W / 2, freeTop + 24, "free VRAM", {
      "text-anchor": "middle",
      "font-family": SANS,
      "font-size": 14,
      "font-weight": "bold",
      fill: "#444",
    }));
    out.push(text(BAR_X + BAR_W / 2, freeBottom - 14, `${humanSize(free.size)} · axis broken`, {
      "text-anchor": "middle",
      "font-family": SANS,
      "font-size": 12,
      fill: "#555",
    }));
  }

  // Addresses on the left, at every boundary, spread apart with leader lines.
  const boundaries = [...reserved.map((r, i) => ({ address: r.end, y: tops[i] }))];
  boundaries.push({ address: reserved.at(-1)!.start, y: mapBottom });
  const addressYs = spread(boundaries.map((b) => b.y + 4), 15, TOP - 2, mapBottom + 4);
  for (const [i, b] of boundaries.entries()) {
    const ty = addressYs[i];
    out.push(
      `<polyline points="${BAR_X - 70},${(ty - 4).toFixed(1)} ${BAR_X - 30},${
        (ty - 4).toFixed(1)
      } ` +
        `${BAR_X},${b.y.toFixed(1)}" fill="none" stroke="#999" stroke-width="0.7"/>`,
      text(BAR_X - 74, ty, hex(b.address), {
        "text-anchor": "end",
        "font-family": MONO,
        "font-size": 12.5,
        fill: "#222",
      }),
    );
  }
  out.push(
    text(BAR_X - 74, freeBottom + 4, "0x0", {
      "text-anchor": "end",
      "font-family": MONO,
      "font-size": 12.5,
      fill: "#222",
    }),
    `<line x1="${BAR_X - 70}" y1="${freeBottom}" x2="${BAR_X}" y2="${freeBottom}" stroke="#999" ` +
      `stroke-width="0.7"/>`,
  );

  // WPR2 bracket right of the bar.
  const wprRegions = reserved.map((r, i) => ({ r, i })).filter(({ r }) => r.inWpr2);
  if (wprRegions.length > 0) {
    const first = wprRegions[0].i;
    const last = wprRegions.at(-1)!.i;
    const y1 = tops[first];
    const y2 = tops[last] + h[last];
    const bx = BAR_X + BAR_W + 16;
    out.push(
      `<path d="M${bx - 8},${y1.toFixed(1)} H${bx} V${y2.toFixed(1)} H${bx - 8}" fill="none" ` +
        `stroke="#c51b7d" stroke-width="2.5"/>`,
    );
    const midY = (y1 + y2) / 2;
    out.push(
      text(bx + 18, midY, `WPR2 · ${humanSize(layout.wpr2.size)}`, {
        "text-anchor": "middle",
        "font-family": SANS,
        "font-size": 14,
        "font-weight": "bold",
        fill: "#c51b7d",
        transform: `rotate(-90 ${(bx + 18).toFixed(1)} ${midY.toFixed(1)})`,
      }),
    );
  }

  // Region labels on the right, spread apart with leader lines.
  const labelGap = (r: FbRegion) => (r.kind === "padding" ? LINE : 2 * LINE + 2);
  const centres = reserved.map((_, i) => tops[i] + h[i] / 2);
  const ys: number[] = [];
  let prev = -Infinity;
  for (const [i, r] of reserved.entries()) {
    const before = i === 0 ? 0 : labelGap(reserved[i - 1]) / 2 + labelGap(r) / 2;
    const yy = Math.max(centres[i], prev + before);
    ys.push(yy);
    prev = yy;
  }
  const overflow = ys.length > 0 ? ys[ys.length - 1] - (mapBottom + FREE_HEIGHT - 20) : 0;
  if (overflow > 0) { for (let i = 0; i < ys.length; i++) ys[i] -= overflow * (i / ys.length); }
  for (const [i, r] of reserved.entries()) {
    const ly = ys[i];
    out.push(
      `<polyline points="${BAR_X + BAR_W},${centres[i].toFixed(1)} ${LABEL_X - 40},${
        centres[i].toFixed(1)
      } ${LABEL_X - 8},${ly.toFixed(1)}" fill="none" stroke="#999" stroke-width="0.7"/>`,
    );
    if (r.kind === "padding") {
      out.push(text(LABEL_X, ly + 4, `alignment padding · ${humanSize(r.size)}`, {
        "font-family": SANS,
        "font-size": 12,
        "font-style": "italic",
        fill: "#777",
      }));
      continue;
    }
    out.push(
      `<rect x="${LABEL_X}" y="${(ly - 13).toFixed(1)}" width="11" height="11" fill="${
        COLORS[r.kind]
      }" stroke="#333" stroke-width="0.6"/>`,
      text(LABEL_X + 17, ly - 3, `${r.name} · ${humanSize(r.size)}`, {
        "font-family": SANS,
        "font-size": 14,
        "font-weight": "bold",
        fill: "#222",
      }),
      text(LABEL_X + 17, ly + 13, `${hex(r.start)} – ${hex(r.end)}`, {
        "font-family": MONO,
        "font-size": 12.5,
        fill: "#444",
      }),
    );
  }
  if (free) {
    out.push(
      `<rect x="${LABEL_X}" y="${(freeTop + FREE_HEIGHT / 2 - 13).toFixed(1)}" width="11" ` +
        `height="11" fill="${COLORS.free}" stroke="#333" stroke-width="0.6"/>`,
      text(LABEL_X + 17, freeTop + FREE_HEIGHT / 2 - 3, `free · ${humanSize(free.size)}`, {
        "font-family": SANS,
        "font-size": 14,
        "font-weight": "bold",
        fill: "#222",
      }),
      text(LABEL_X + 17, freeTop + FREE_HEIGHT / 2 + 13, `${hex(free.start)} – ${hex(free.end)}`, {
        "font-family": MONO,
        "font-size": 12.5,
        fill: "#444",
      }),
    );
  }

  // Legend.
  const kinds = [...new Set(map.map((r) => r.kind))];
  const legendTop = freeBottom + 48;
  out.push(text(40, legendTop, "Legend", {
    "font-family": SANS,
    "font-size": 15,
    "font-weight": "bold",
    fill: "#222",
  }));
  const columns = 2;
  const rows = Math.ceil(kinds.length / columns);
  for (const [i, kind] of kinds.entries()) {
    const cx = 40 + Math.floor(i / rows) * 470;
    const cy = legendTop + 22 + (i % rows) * 24;
    out.push(
      `<rect x="${cx}" y="${cy - 12}" width="22" height="15" fill="${
        COLORS[kind]
      }" stroke="#333" ` +
        `stroke-width="0.6"/>`,
      text(cx + 30, cy, `${FB_REGION_KINDS[kind].name}: ${FB_REGION_KINDS[kind].description}`, {
        "font-family": SANS,
        "font-size": 13,
        fill: "#222",
      }),
    );
  }
  const noteY = legendTop + 22 + rows * 24 + 8;
  out.push(
    `<path d="M40,${noteY - 10} h8 v12 h-8" fill="none" stroke="#c51b7d" stroke-width="2.5"/>`,
    text(
      62,
      noteY,
      "WPR2: the write-protected region Booter locks (gspFwWprStart .. gspFwWprEnd)",
      {
        "font-family": SANS,
        "font-size": 13,
        fill: "#222",
      },
    ),
    text(
      40,
      noteY + 24,
      `Heights are proportional to size, but no region is drawn under ${MIN_NAMED} px ` +
        `(${MIN_PADDING} px for padding); labels give the true sizes.`,
      { "font-family": SANS, "font-size": 12, "font-style": "italic", fill: "#555" },
    ),
  );
  const height = Math.ceil(noteY + 44);

  // Title block.
  const head = [
    text(40, 40, options.title, {
      "font-family": SANS,
      "font-size": 22,
      "font-weight": "bold",
      fill: "#111",
    }),
    ...(options.subtitles ?? []).map((line, i) =>
      text(40, 64 + i * 18, line, { "font-family": SANS, "font-size": 13, fill: "#444" })
    ),
  ];

  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH} ${height}">`,
    `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" ` +
    `patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>` +
    `<line x1="0" y1="0" x2="0" y2="6" stroke="#bbb" stroke-width="2"/></pattern></defs>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...head,
    ...out,
    `</svg>`,
    "",
  ].join("\n");
}
