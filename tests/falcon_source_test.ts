// Source rules of falcon/: every register is reached through registers/ (no hex offsets, no raw
// read32/write32), and the driver never imports the simulator (doc examples may use it).

import assert from "node:assert/strict";

const dir = new URL("../falcon/", import.meta.url);

async function sources(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ts")) {
      out.set(entry.name, await Deno.readTextFile(new URL(entry.name, dir)));
    }
  }
  return out;
}

/** The code with block and line comments blanked out (doc examples included). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/(^|[^:])\/\/.*$/gm, "$1");
}

Deno.test("falcon/ holds no hex literal: offsets and fields come from registers/", async () => {
  const files = await sources();
  assert(files.size >= 10, `only ${files.size} files`);
  for (const [name, text] of files) {
    const hits = [...code(text).matchAll(/\b0[xX][0-9a-fA-F_]+n?\b/g)].map((m) => m[0]);
    assert.deepEqual(hits, [], `${name}: ${hits.join(", ")}`);
  }
});

Deno.test("falcon/ never touches BAR0 but through the typed accessors", async () => {
  for (const [name, text] of await sources()) {
    const hits = [...code(text).matchAll(/\.(read32|write32)\s*\(|\bbar0?\.poll\s*\(/g)].map((m) =>
      m[0]
    );
    assert.deepEqual(hits, [], name);
  }
});

Deno.test("falcon/ code imports neither sim/ nor anything outside the driver's layers", async () => {
  const allowed = /^(\.\/|\.\.\/(errors\.ts|pci\/|registers\/|chips\/|firmware\/)|npm:|node:)/;
  for (const [name, text] of await sources()) {
    for (const m of code(text).matchAll(/\bfrom\s+"([^"]+)"/g)) {
      assert.match(m[1], allowed, `${name} imports ${m[1]}`);
    }
  }
});
