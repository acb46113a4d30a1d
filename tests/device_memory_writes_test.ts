/**
 * Source guard: no `Atomics` write reaches device memory.
 *
 * `Atomics.store` compiles to `xchg` with memory on x86-64 (a locked
 * read-modify-write that also reads the register), and `exchange`,
 * `compareExchange`, `add`, `sub`, `and`, `or` and `xor` are locked
 * read-modify-writes too. In every module on a path to device memory, the
 * only `Atomics` operation allowed is `Atomics.load` (how registers are
 * read), plus exactly one read-modify-write: `writeBarrier`'s fence on a
 * `SharedArrayBuffer` word of its own. `tests/mmio_disasm_test.ts` checks
 * the machine code; this test keeps the source honest everywhere else, and
 * runs without gdb.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/**
 * Folders whose modules reach device memory (a BAR mapping or DMA memory),
 * now or once they exist: the PCI layer, the hardware-facing reader, the
 * driver. The simulator's registers are plain memory and are not listed.
 */
const DEVICE_PATH_FOLDERS = ["pci", "gpu", "falcon", "gsp", "chips", "registers"];

/** The one atomic read-modify-write allowed: its file, its function, its exact call. */
const ALLOWED_RMW = {
  file: "pci/mmio.ts",
  fn: "writeBarrier",
  call: "Atomics.add(fenceWord, 0, 1)",
  /** The word it works on must be its own shared word, not a view of a BAR. */
  word: "const fenceWord = new Int32Array(new SharedArrayBuffer(4));",
};

/** Source with comments blanked out (strings and template literals kept as they are). */
function withoutComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      i = end === -1 ? source.length : end;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += source.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

interface Finding {
  file: string;
  line: number;
  text: string;
}

/**
 * Every use of `Atomics` in `source` other than `Atomics.load(…)` and the
 * allowed fence. Any other mention counts, so an alias (`const A = Atomics`)
 * or a computed member (`Atomics["store"]`) is caught as well.
 */
function atomicWrites(file: string, source: string): Finding[] {
  const code = withoutComments(source);
  const lines = code.split("\n");
  const findings: Finding[] = [];
  lines.forEach((text, index) => {
    for (const m of text.matchAll(/\bAtomics\b\s*(\.\s*\w+)?/g)) {
      const member = m[1]?.replace(/[\s.]/g, "");
      if (member === "load") continue;
      if (file === ALLOWED_RMW.file && text.trim() === `${ALLOWED_RMW.call};`) continue;
      findings.push({ file, line: index + 1, text: text.trim() });
    }
  });
  return findings;
}

function modulesIn(folder: string): string[] {
  const files: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(new URL(`${folder}/`, ROOT))];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return []; // a layer not written yet
    throw e;
  }
  for (const entry of entries) {
    if (entry.isDirectory) files.push(...modulesIn(`${folder}/${entry.name}`));
    else if (/\.(ts|js|mjs)$/.test(entry.name)) files.push(`${folder}/${entry.name}`);
  }
  return files.sort();
}

function read(file: string): string {
  return Deno.readTextFileSync(new URL(file, ROOT));
}

Deno.test("no Atomics write touches device memory in any module on the device path", () => {
  const files = DEVICE_PATH_FOLDERS.flatMap(modulesIn);
  assert.ok(files.includes("pci/mmio.ts") && files.length > 10, `scanned: ${files.join(", ")}`);
  const findings = files.flatMap((file) => atomicWrites(file, read(file)));
  assert.deepEqual(findings, []);
});

Deno.test("the one allowed read-modify-write is writeBarrier's fence on its own shared word", () => {
  const code = withoutComments(read(ALLOWED_RMW.file));
  const calls = code.split("\n").filter((line) => line.includes("Atomics.add"));
  assert.deepEqual(calls.map((line) => line.trim()), [`${ALLOWED_RMW.call};`]);
  const body = code.match(
    new RegExp(`export function ${ALLOWED_RMW.fn}\\(\\): void \\{([^}]*)\\}`),
  );
  assert.ok(body, `${ALLOWED_RMW.fn} not found in ${ALLOWED_RMW.file}`);
  assert.equal(body[1].trim(), `${ALLOWED_RMW.call};`);
  assert.equal(code.split("\n").filter((line) => line.trim() === ALLOWED_RMW.word).length, 1);
  assert.equal(code.match(/\bfenceWord\b/g)?.length, 2, "fenceWord is used by the fence only");
});

Deno.test("write32 stores with one plain element assignment", () => {
  const code = withoutComments(read("pci/mmio.ts"));
  const body = code.match(
    /\n {2}write32\(offset: number, value: number\): void \{\n([\s\S]*?)\n {2}\}\n/,
  );
  assert.ok(body, "MappedMmio.write32 not found");
  const stores = body[1].split("\n").filter((line) => /this\.#view\b/.test(line));
  assert.deepEqual(stores.map((line) => line.trim()), ["this.#view[index] = value;"]);
});

Deno.test("the guard catches an Atomics write, however it is spelled", () => {
  const mmio = read("pci/mmio.ts");
  const regressed = mmio.replace(
    "this.#view[index] = value;",
    "Atomics.store(this.#view, index, value);",
  );
  assert.notEqual(regressed, mmio);
  assert.deepEqual(
    atomicWrites("pci/mmio.ts", regressed).map((f) => f.text),
    ["Atomics.store(this.#view, index, value);"],
  );
  for (
    const line of [
      "Atomics.exchange(view, i, v);",
      "Atomics.compareExchange(view, i, 0, v);",
      "Atomics . sub(view, i, 1);",
      'Atomics["store"](view, i, v);',
      "const { store } = Atomics;",
      "Atomics.add(fenceWord, 0, 1);", // allowed in mmio.ts only
    ]
  ) {
    assert.equal(atomicWrites("pci/other.ts", line).length, 1, line);
  }
  assert.deepEqual(
    atomicWrites("pci/other.ts", "// Atomics.store in a comment\nAtomics.load(v, 0);"),
    [],
  );
  assert.deepEqual(atomicWrites("pci/other.ts", "/* Atomics.store(v, 0, 1) */ x = 1;"), []);
});
