// Tests of loader/fetch_progress.ts: the line a person sees for each kind
// of progress report.

import assert from "node:assert/strict";
import { describeProgress, formatMiB } from "../loader/fetch_progress.ts";

Deno.test("progress lines: a plain step, a wait, a download with and without its size", () => {
  assert.equal(describeProgress({ step: "extract", elapsedMs: 2549 }), "extract 2.5 s");
  assert.equal(
    describeProgress({ step: "wait", elapsedMs: 0, message: "another fetch (pid 7) is running" }),
    "wait another fetch (pid 7) is running, 0.0 s",
  );
  const MiB = 1 << 20;
  assert.equal(
    describeProgress({
      step: "download",
      elapsedMs: 1500,
      bytes: 31.1 * MiB,
      totalBytes: 99.3 * MiB,
      bytesPerSecond: 20.7 * MiB,
    }),
    "download 31.1 / 99.3 MiB (31%), 20.7 MiB/s, 1.5 s",
  );
  assert.equal(
    describeProgress({ step: "download", elapsedMs: 300, bytes: 0, totalBytes: 99.3 * MiB }),
    "download 0.0 / 99.3 MiB (0%), 0.3 s",
  );
  assert.equal(
    describeProgress({ step: "download", elapsedMs: 300, bytes: 5 * MiB }),
    "download 5.0 MiB, 0.3 s",
  );
  assert.equal(formatMiB(0), "0.0 MiB");
  assert.equal(formatMiB(99.34 * MiB), "99.3 MiB");
});
