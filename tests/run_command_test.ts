// Tests of loader/run_command.ts: output and exit codes collected, the C
// locale, the working folder, and a program that is not installed. A child
// stopped on SIGTERM is tested in fetch_work_dir_test.ts.

import assert from "node:assert/strict";
import { runCommand } from "../loader/run_command.ts";
import { FalconryError } from "../errors.ts";
import { withTempDir } from "./_fetch_fixture.ts";

Deno.test("runCommand collects stdout, stderr and the exit code, in the C locale and the folder given", async () => {
  await withTempDir(async (dir) => {
    const result = await runCommand(
      ["sh", "-c", 'echo "$LC_ALL $(pwd)"; echo oops >&2; exit 3'],
      dir,
    );
    assert.deepEqual(result, {
      code: 3,
      stdout: `C ${await Deno.realPath(dir)}\n`,
      stderr: "oops\n",
    });
  });
});

Deno.test("a program that is not installed is a FalconryError naming it", async () => {
  const error = await runCommand(["falconry-no-such-program"]).then(() => undefined, (e) => e);
  assert.ok(error instanceof FalconryError);
  assert.match(error.message, /^falconry-no-such-program is not installed; /);
  assert.ok(error.cause instanceof Deno.errors.NotFound);
});
