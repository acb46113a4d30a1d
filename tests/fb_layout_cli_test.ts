// Tests of scripts/fb_layout.ts run as a subprocess: the JSON memory map
// (contiguous, non-overlapping, equal to the library's layout), the size
// syntaxes, the table, the SVG (well-formed, every region labelled), the FSP
// path, usage errors (exit 2), and missing firmware (exit 1).

import assert from "node:assert/strict";
import { computeFbLayout, fbMemoryMap } from "../gsp/mod.ts";
import { assertJsonError, assertOneLineError, type CliRun, runScript } from "./_cli.ts";
import { existsSync, realFirmwareTest } from "./_real.ts";

const SCRIPT = new URL("../scripts/fb_layout.ts", import.meta.url).pathname;
const GiB = 2 ** 30;
const TU_SIZES = ["--gsp-size", "28528288", "--bootloader-size", "4096"];

/** Deno's own cache, pinned so that a changed XDG_CACHE_HOME does not move it. */
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`;

function fbLayout(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runScript(SCRIPT, args, { flags: ["--no-prompt", "-A"], env: { DENO_DIR, ...env } });
}

interface JsonRegion {
  name: string;
  kind: string;
  start: number;
  end: number;
  size: number;
  inWpr2: boolean;
}

interface JsonLayout {
  chip: string;
  bootPath: string;
  fbSize: number;
  firmware: { gspImageSize: number; bootloaderSize: number; gsp?: string };
  heap: { size: number; rule: string };
  wpr2: { start: number; end: number; size: number };
  wprMeta: Record<string, number>;
  regions: JsonRegion[];
}

function assertContiguous(doc: JsonLayout): void {
  const r = doc.regions;
  assert.equal(r[0].start, 0);
  assert.equal(r.at(-1)!.end, doc.fbSize);
  for (const [i, region] of r.entries()) {
    assert.equal(region.size, region.end - region.start, region.name);
    assert(region.size > 0, region.name);
    if (i > 0) assert.equal(region.start, r[i - 1].end, `${r[i - 1].name} → ${region.name}`);
  }
  const inWpr2 = r.filter((x) => x.inWpr2);
  assert.equal(inWpr2[0].start, doc.wpr2.start);
  assert.equal(inWpr2.at(-1)!.end, doc.wpr2.end);
}

Deno.test("--json: every region from 0 to the end of VRAM, as the library computes it", async () => {
  const run = await fbLayout(["--chip", "tu102", "--fb-size", "24GiB", "--json", ...TU_SIZES]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout) as JsonLayout;
  assert.equal(doc.chip, "tu102");
  assert.equal(doc.bootPath, "sec2");
  assert.equal(doc.fbSize, 24 * GiB);
  assertContiguous(doc);
  const layout = computeFbLayout({
    chip: "tu102",
    fbSize: 24 * GiB,
    gspImageSize: 28528288,
    bootloaderSize: 4096,
  });
  assert.deepEqual(doc.regions, JSON.parse(JSON.stringify(fbMemoryMap(layout))));
  assert.deepEqual(doc.wpr2, { ...layout.wpr2 });
  assert.equal(doc.wprMeta.gspFwWprStart, 0x5f7600000);
  assert.equal(doc.wprMeta.gspFwHeapSize, 107 * 2 ** 20);
  assert.equal(doc.wprMeta.flags, 1);
  assert.deepEqual(doc.firmware, { gspImageSize: 28528288, bootloaderSize: 4096 });
});

Deno.test("--fb-size accepts 24GiB, 24576MiB, 0x600000000 and plain bytes alike", async () => {
  const outputs = await Promise.all(
    ["24GiB", "24576MiB", "0x600000000", "25769803776", "24 GiB", "24gib"].map(async (size) => {
      const run = await fbLayout(["--chip", "ga102", "--fb-size", size, "--json", ...TU_SIZES]);
      assert.equal(run.code, 0, `${size}: ${run.stderr}`);
      return (JSON.parse(run.stdout) as JsonLayout).regions;
    }),
  );
  for (const regions of outputs.slice(1)) assert.deepEqual(regions, outputs[0]);
});

Deno.test("the table lists the regions from the top of VRAM down", async () => {
  const run = await fbLayout(["--chip", "ga100", "--fb-size", "40GiB", ...TU_SIZES]);
  assert.equal(run.code, 0, run.stderr);
  const names = run.stdout.split("\n").map((l) => l.split(/\s{2,}/)[0]);
  const order = ["VGA workspace", "GSP bootloader", "GSP-RM image", "WPR2 heap", "WPR meta"];
  const at = order.map((n) => names.indexOf(n));
  assert(at.every((i) => i > 0), run.stdout);
  assert.deepEqual(at, [...at].sort((a, b) => a - b));
  assert(!names.includes("FRTS"), "GA100 has no FRTS");
  assert.match(run.stdout, /WPR2 0x9f7600000 \.\. 0x9fff00000 \(137 MiB\)/);
});

// A strict well-formedness check: tags nest and close, attributes are quoted,
// text holds only the five predefined entities.
function assertWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "");
  const stack: string[] = [];
  const token = /<\/?([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/gy;
  let roots = 0;
  let m: RegExpExecArray | null;
  while ((m = token.exec(body)) !== null) {
    const [whole, name, attrs, selfClosing, textPart, stray] = m;
    assert(stray === undefined, `stray "<" at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    const entities = (textPart ?? attrs ?? "").match(/&[^;\s]*;?/g) ?? [];
    for (const e of entities) assert.match(e, /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);$/i);
    if (textPart !== undefined) {
      assert(stack.length > 0 || textPart.trim() === "", `text outside the root: ${textPart}`);
      continue;
    }
    if (whole.startsWith("</")) {
      assert.equal(stack.pop(), name, `</${name}> at ${m.index}`);
    } else if (selfClosing !== "/") {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  assert.equal(token.lastIndex === 0 ? body.length : token.lastIndex, body.length);
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(roots, 1, "one root element");
}

Deno.test("--svg: a well-formed SVG that labels every region with its range", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [chip, extra] of [["tu102", []], ["ga100", ["--mmu-lock", "0x9fc3f1000"]]] as const
    ) {
      const path = `${dir}/${chip}.svg`;
      const fb = chip === "ga100" ? "40GiB" : "11GiB";
      const run = await fbLayout([
        "--chip",
        chip,
        "--fb-size",
        fb,
        "--svg",
        path,
        ...TU_SIZES,
        ...extra,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const svg = await Deno.readTextFile(path);
      assertWellFormedXml(svg);
      assert.match(svg, /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      const json = await fbLayout([
        "--chip",
        chip,
        "--fb-size",
        fb,
        "--json",
        ...TU_SIZES,
        ...extra,
      ]);
      const doc = JSON.parse(json.stdout) as JsonLayout;
      for (const r of doc.regions) {
        if (r.kind === "padding") continue;
        assert(svg.includes(`>${r.name} · `), `${chip}: label of ${r.name}`);
        assert(svg.includes(`0x${r.start.toString(16)} – 0x${r.end.toString(16)}`), r.name);
      }
      assert(svg.includes(`WPR2 · ${doc.wpr2.size / 2 ** 20} MiB`) || svg.includes("WPR2 · "));
      assert.equal(svg.includes(">MMU locked · "), chip === "ga100");
      assert(svg.includes("Legend"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FSP chips print the sizes only, and refuse --svg", async () => {
  const run = await fbLayout(["--chip", "gh100", "--fb-size", "80GiB", "--json", ...TU_SIZES]);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.equal(doc.bootPath, "fsp");
  assert.equal(doc.sizes.wpr2HeapSize, 140 * 2 ** 20);
  assert.deepEqual(doc.regions, []);
  const svg = await fbLayout([
    "--chip",
    "gh100",
    "--fb-size",
    "80GiB",
    "--svg",
    "/tmp/x",
    ...TU_SIZES,
  ]);
  assertOneLineError(svg, 2, /FSP/);
});

Deno.test("usage errors exit 2 with one line (and JSON with --json)", async () => {
  const cases: [string[], RegExp][] = [
    [["--fb-size", "24GiB"], /--chip is required/],
    [["--chip", "tu102"], /--fb-size is required/],
    [["--chip", "nv50", "--fb-size", "24GiB"], /unknown chip/],
    [["--chip", "tu102", "--fb-size", "24GB2"], /--fb-size 24GB2/],
    [["--chip", "tu102", "--fb-size", "-1"], /--fb-size/],
    [["--chip", "tu102", "--fb-size", "0.3KiB"], /whole number/],
    [["--chip", "tu102", "--fb-size", "24GiB", "--json", "--svg", "x.svg"], /exclude/],
    [["--chip", "tu102", "--fb-size", "24GiB", "--vga-base", "0x100000000"], /32-bit/],
    [["--chip", "tu102", "--fb-size", "24GiB", "--mmu-lock", "0x1000"], /only GA100/],
    [["--chip", "tu102", "--fb-size", "24GiB", "--firmware-version", "1.0"], /firmware-version/],
    [["--chip", "tu102", "--fb-size", "24GiB", "--bogus"], /bogus/],
  ];
  const runs = await Promise.all(cases.map(([args]) => fbLayout(args)));
  for (const [i, run] of runs.entries()) assertOneLineError(run, 2, cases[i][1]);
  const json = await fbLayout(["--chip", "nv50", "--fb-size", "1GiB", "--json"]);
  assertJsonError(json, 2, "usage");
});

Deno.test("an impossible layout exits 1 naming the input", async () => {
  const run = await fbLayout(["--chip", "tu102", "--fb-size", "64MiB", "--json", ...TU_SIZES]);
  const doc = assertJsonError(run, 1, "input");
  assert.match(doc.error.message, /fbSize 0x4000000: too small/);
});

Deno.test("missing firmware exits 1 and says how to get it; a missing --firmware folder too", async () => {
  if (existsSync("/lib/firmware/nvidia/tu117/gsp/bootloader-570.144.bin")) {
    return; // /lib/firmware has it: nothing is missing on this machine
  }
  const empty = await Deno.makeTempDir();
  try {
    const env = { XDG_CACHE_HOME: empty, FALCONRY_FIRMWARE_DIR: "" };
    const run = await fbLayout(["--chip", "tu117", "--fb-size", "4GiB", "--firmware", empty], env);
    assertOneLineError(run, 1, /gsp-570\.144\.bin and .*bootloader-570\.144\.bin not found in /);
    assert.match(run.stderr, /--gsp-size and --bootloader-size/);
    const json = await fbLayout(
      ["--chip", "tu117", "--fb-size", "4GiB", "--firmware", empty, "--json"],
      env,
    );
    const doc = assertJsonError(json, 1, "firmware-not-found");
    assert.equal((doc.error.missing as unknown[]).length, 2);
    const gone = await fbLayout([
      "--chip",
      "tu117",
      "--fb-size",
      "4GiB",
      "--firmware",
      `${empty}/x`,
    ]);
    assertOneLineError(gone, 1, /--firmware .*x: no such directory/);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

realFirmwareTest(
  "with real firmware the sizes come from the files",
  ["nvidia/ad102/gsp/gsp-570.144.bin", "nvidia/ad102/gsp/bootloader-570.144.bin"],
  async () => {
    const run = await fbLayout(["--chip", "ad102", "--fb-size", "24GiB", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as JsonLayout;
    assert.equal(doc.firmware.gspImageSize, 63541248);
    assert.equal(doc.firmware.bootloaderSize, 36864);
    assert.match(doc.firmware.gsp ?? "", /ad102\/gsp\/gsp-570\.144\.bin$/);
    assertContiguous(doc);
    const old = await fbLayout([
      "--chip",
      "ad102",
      "--fb-size",
      "24GiB",
      "--firmware-version",
      "535.113.01",
      "--json",
    ]);
    assert.equal((JSON.parse(old.stdout) as JsonLayout).firmware.gspImageSize, 38043648);
  },
);

Deno.test("--help names the options and the exit codes; --version; --log-level is checked", async () => {
  const [help, version, level] = await Promise.all([
    fbLayout(["--help"]),
    fbLayout(["--version", "--json"]),
    fbLayout(["--chip", "tu102", "--fb-size", "1GiB", "--log-level", "chatty"]),
  ]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: fb_layout\.ts --chip CHIP --fb-size SIZE/);
  for (const option of ["--firmware DIR", "--svg FILE", "--gsp-size BYTES", "--vga-base VALUE"]) {
    assert(help.stdout.includes(option), option);
  }
  assert.match(help.stdout, /\nExit codes:\n {2}0 {3}success\n {2}1 {3}bad input/);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(typeof JSON.parse(version.stdout).falconry, "string");
  assertOneLineError(level, 2, /--log-level chatty/);
});
