/**
 * falconry's version, as `--version` prints it. A constant, not read from
 * `deno.json`: a module imported by URL has no `deno.json` to read.
 * `tests/cli_test.ts` checks that it equals `deno.json`'s `"version"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VERSION } from "./_version.ts";
 * assert.match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 *
 * @module
 */

/** falconry's version (semver), the same as `deno.json`'s `"version"`. */
export const VERSION = "0.1.0";
