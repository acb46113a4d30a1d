// The README's command lines work for a new user who has only Node/npm: every
// `deno …` line in a shell block comes after the line that sets the `deno`
// alias to the same command the scripts' hints print, and the commands that
// come before it go through npx.

import assert from "node:assert/strict";
import { DENO } from "../scripts/_deno_command.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** Every line of every ```sh block, with its line number. */
function shellLines(markdown: string): { line: string; at: number }[] {
  const out: { line: string; at: number }[] = [];
  let inShell = false;
  for (const [at, line] of markdown.split("\n").entries()) {
    if (line.startsWith("```")) inShell = !inShell && line.trim() === "```sh";
    else if (inShell) out.push({ line, at });
  }
  return out;
}

Deno.test("README: a bare `deno` appears only after the alias, which is the hints' command", () => {
  const lines = shellLines(README);
  const alias = lines.find(({ line }) => line.startsWith("alias deno="));
  assert.ok(alias, "no `alias deno=…` line in a sh block");
  assert.equal(alias.line, `alias deno='${DENO}'`);
  for (const { line, at } of lines) {
    const command = line.trim();
    if (command === "" || command.startsWith("#") || command.startsWith("alias ")) continue;
    if (/^deno\s/.test(command)) {
      assert.ok(at > alias.at, `line ${at + 1} uses deno before the alias: ${line}`);
    } else {
      assert.ok(command.startsWith(`${DENO} `), `line ${at + 1} is neither: ${line}`);
    }
  }
});
