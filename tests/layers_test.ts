// The layer rules of ../shared/design.md, checked on the real import graph: each layer imports
// only the layers it may, and the driver (falcon/, gsp/) and the simulator (sim/) never import
// each other, so a test that passes on the simulator exercises the code that drives a real GPU.
// Imports inside comments (JSDoc examples) are not part of the module graph and are skipped.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/**
 * What each top-level layer may import, besides itself and `errors.ts`: a layer, or one file of a
 * layer (the simulator recognises real firmware by the manifest's hashes, data it may read).
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  firmware: [],
  chips: ["firmware"],
  registers: ["chips"],
  loader: ["firmware", "chips"],
  pci: [],
  gpu: ["pci", "registers", "chips"],
  sim: ["pci", "registers", "chips", "firmware", "loader/manifest.ts"],
  falcon: ["pci", "registers", "chips", "firmware"],
  // The boot reads the chip's firmware files (the loader is the file-system edge) and identifies
  // the chip; neither layer imports the driver back.
  gsp: ["pci", "registers", "chips", "firmware", "falcon", "loader", "gpu"],
};

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

function* moduleFiles(dir: URL): Generator<URL> {
  for (const entry of Deno.readDirSync(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* moduleFiles(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}

/** The top-level folder (or root file) a relative import from `file` lands in. */
function importedLayers(file: URL): { specifier: string; layer: string; path: string }[] {
  const source = stripComments(Deno.readTextFileSync(file));
  const out: { specifier: string; layer: string; path: string }[] = [];
  for (const match of source.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    const target = new URL(match[1], file);
    const relative = target.pathname.slice(ROOT.pathname.length);
    out.push({ specifier: match[1], layer: relative.split("/")[0], path: relative });
  }
  return out;
}

for (const [layer, allowed] of Object.entries(ALLOWED)) {
  Deno.test(`layers: ${layer}/ imports only ${[...allowed, "errors.ts"].join(", ")}`, () => {
    const dir = new URL(`${layer}/`, ROOT);
    try {
      Deno.statSync(dir);
    } catch {
      return; // a layer that does not exist yet has nothing to check
    }
    const violations: string[] = [];
    for (const file of moduleFiles(dir)) {
      for (const { specifier, layer: target, path } of importedLayers(file)) {
        if (target === layer || target === "errors.ts") continue;
        if (allowed.includes(target) || allowed.includes(path)) continue;
        violations.push(`${file.pathname.slice(ROOT.pathname.length)} imports ${specifier}`);
      }
    }
    assert.deepEqual(violations, []);
  });
}

Deno.test("layers: the checker sees a forbidden import (sim/ importing the driver)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = new URL(`file://${dir}/probe.ts`);
    Deno.writeTextFileSync(
      file,
      `/** import { x } from "../gsp/a.ts"; */\nimport { y } from "../falcon/b.ts";\n`,
    );
    const found = importedLayers(file).map((i) => i.specifier);
    assert.deepEqual(found, ["../falcon/b.ts"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
