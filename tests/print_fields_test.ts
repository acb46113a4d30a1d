// Tests of scripts/_print_fields.ts: how inspect prints header fields for
// people, numbers with their hex and their names on one line.

import assert from "node:assert/strict";
import { fieldLines } from "../scripts/_print_fields.ts";

Deno.test("fieldLines: a number's name goes on its line (machine 243 (0xf3, RISC-V))", () => {
  assert.deepEqual(
    fieldLines({
      machine: 243,
      machineName: "RISC-V",
      type: 1,
      typeName: "REL",
      flags: 6,
      flagNames: ["ALLOC", "EXECINSTR"],
      entry: 0,
      entryName: 7, // not a name: printed as it is
    }),
    [
      "  machine    243 (0xf3, RISC-V)",
      "  type       1 (REL)",
      "  flags      6 (ALLOC|EXECINSTR)",
      "  entry      0",
      "  entryName  7",
    ],
  );
});

Deno.test("fieldLines: no flags print nothing extra; nested objects and arrays indent", () => {
  assert.deepEqual(
    fieldLines({ sections: [{ flags: 0, flagNames: [], name: ".note" }], sizes: [1, 16] }),
    [
      "  sections:",
      "    [0]:",
      "      flags  0",
      '      name   ".note"',
      "  sizes  [1, 16 (0x10)]",
    ],
  );
});
