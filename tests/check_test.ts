// `deno task check` (fmt, lint, type check, doc lint, publish dry run) must
// stay clean; running it here makes CI, which runs only `deno task test`,
// enforce that.

import assert from "node:assert/strict";

Deno.test("deno task check is clean (fmt, lint, type check, doc lint, publish dry run)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "check"],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `deno task check failed:\n${text.slice(-4000)}`);
  assert.match(text, /Dry run complete/);
});
