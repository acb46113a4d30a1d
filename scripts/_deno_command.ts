// How the README and the scripts' hints spell a Deno command line, so that
// a new user with only Node/npm can paste them: `npx` fetches this Deno.

/**
 * The command that runs Deno, as hints print it: `${DENO} task firmware`.
 * The README's command-line section sets `alias deno='…'` to the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DENO } from "./_deno_command.ts";
 * assert.equal(`${DENO} task firmware`, "npx -y deno@2.9.6 task firmware");
 * ```
 */
export const DENO = "npx -y deno@2.9.6";
