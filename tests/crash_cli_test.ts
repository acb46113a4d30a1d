// scripts/crash.ts as a subprocess: the summary a person reads (the failed step and its error, the
// chip, WPR2, the falcons and their mailboxes, the RPCs with the pending one, the logs, the
// firmware and VBIOS), `--registers`, `--json`; a half-written, damaged, foreign or missing folder
// is refused with one `error:` line (exit 1, JSON with --json); usage errors exit 2.

import assert from "node:assert/strict";
import { bootGsp, GspBootError } from "../gsp/mod.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";
import { assertJsonError, assertOneLineError, runScript } from "./_cli.ts";

const SCRIPT = new URL("../scripts/crash.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = any;

/** A bundle from a TU102 boot with `point` armed, in a fresh temporary folder. */
async function bundleFrom(point: string): Promise<{ parent: string; bundle: string }> {
  const root = await forgedFirmwareRoot("tu102");
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-cli-" });
  await using gpu = await gpuFor("tu102", root);
  gpu.faults.arm(point);
  const error = await bootGsp(gpu, { firmwareDir: root, crashDir: `${parent}/bundle` })
    .then(() => assert.fail("booted"), (e) => e);
  assert(error instanceof GspBootError && error.crashBundle, String(error));
  return { parent, bundle: error.crashBundle };
}

Deno.test("crash.ts: a Booter failure, summarized for a person", async () => {
  const { parent, bundle } = await bundleFrom("booter-bad-signature");
  try {
    const run = await runScript(SCRIPT, [bundle]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    const text = run.stdout;
    const line = (label: string) => text.split("\n").find((l) => l.startsWith(label)) ?? "";
    assert.equal(line("crash bundle"), `crash bundle ${bundle}`);
    assert.match(line("device"), /^device +0000:01:00\.0 \(10de:1e0[47]\)$/);
    assert.equal(line("chip"), "chip     tu102 (turing, tu10x)");
    assert.match(line("failed"), /^failed +booter-load after \d+ ms, code 0x8$/);
    assert.match(text, /\n +booter-load: Booter-load halted with SEC2 MAILBOX0 0x8/);
    assert.doesNotMatch(text, /cleanup also failed/, "the state before the unwinding");
    assert.match(line("before"), /^before +identify \d+ ms, firmware .*fwsec-frts \d+ ms$/);
    assert.match(line("WPR2"), /^WPR2 +set 0x[0-9a-f]+\.\.0x[0-9a-f]+ \(1 MiB\)$/);
    assert.match(
      text,
      /\nfalcons {2}GSP {2}halted, RISC-V not active, MAILBOX0 0x[0-9a-f]{8} MAILBOX1 0x[0-9a-f]{8}\n +SEC2 halted, MAILBOX0 0x00000008 MAILBOX1 0x[0-9a-f]{8}\n/,
    );
    assert.match(line("registers"), /^registers \d+ ok.*; the GPU answered$/);
    assert.match(text, /\nRPCs\n +none \(the boot failed before the RPC queues existed\)\n/);
    assert.match(line("logs"), /^logs +LOGINIT 64 KiB, 0 words written; LOGINTR/);
    assert.match(line("VBIOS"), /^VBIOS +\d+\.\d+\./);
    assert.equal(line("firmware"), "firmware 570.144");
    assert.match(text, /\n +booter_load-570\.144\.bin {2}sha256 [0-9a-f]{64}, \d+ bytes\n/);
    assert.doesNotMatch(text, /NV_PBUS_SW_SCRATCH\(63\)/, "registers only with --registers");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash.ts: a GSP-RM that never sent INIT_DONE shows the pending RPC and the ones before", async () => {
  const { parent, bundle } = await bundleFrom("gsp-rm-no-init-done");
  try {
    const run = await runScript(SCRIPT, [bundle]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\nfailed +init-done after 5\.0 s\n/);
    assert.match(
      run.stdout,
      /\nRPCs\n +pending GSP_INIT_DONE \(4097\) \(event\) since [\d.]+ ms, waited 5000\.\d+ ms\n +2 sent, 1 received\n/,
    );
    assert.match(run.stdout, / sent +seq 0 +GSP_SET_SYSTEM_INFO \(72\) +\d+ bytes\n/);
    assert.match(
      run.stdout,
      / received seq 0 +GSP_RUN_CPU_SEQUENCER \(4098\) +\d+ bytes {2}SUCCESS\n/,
    );
    assert.match(run.stdout, /\nlogs +LOGINIT 64 KiB, [1-9]\d* words written/);
    assert.match(run.stdout, /\nfalcons {2}GSP {2}running, RISC-V active/);

    const all = await runScript(SCRIPT, [bundle, "--registers"]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(
      all.stdout,
      /\nGSP falcon:\n {2}0x1100f4 {2}GSP\.NV_PFALCON_FALCON_HWCFG2 .*\n {2}0x110100 {2}GSP\.NV_PFALCON_FALCON_CPUCTL +0x00000000 {2}STARTCPU=0x0 HALTED=0x0/,
    );
    assert.match(all.stdout, /\n {2}0x0014fc {2}NV_PBUS_SW_SCRATCH\(63\) +0x[0-9a-f]{8}/);
    assert.match(all.stdout, /\n {2}NV_THERM_I2CS_SCRATCH: not on this chip/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash.ts --json: the whole bundle as one JSON object", async () => {
  const { parent, bundle } = await bundleFrom("gsp-rm-bad-checksum");
  try {
    const run = await runScript(SCRIPT, ["--json", bundle]);
    assert.equal(run.code, 0, run.stderr);
    const doc: Json = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(doc), [
      "path",
      "index",
      "registers",
      "rpcHistory",
      "firmware",
      "logs",
    ]);
    assert.equal(doc.path, bundle);
    assert.equal(doc.index.format, "falconry-crash-bundle");
    assert.equal(doc.index.failure.step, "sequencer");
    assert.equal(doc.registers.wpr2.status, "set");
    assert.equal(doc.rpcHistory.history.pending.name, "GSP_RUN_CPU_SEQUENCER");
    assert.equal(doc.firmware.files.length, 5);
    assert(doc.logs.every((l: Json) => typeof l.put === "string" && l.bytes === 65536));
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash.ts refuses a half-written, damaged, foreign or missing folder", async () => {
  const { parent, bundle } = await bundleFrom("fwsec-error-code");
  try {
    // What a crash while writing leaves: the partial folder, without its index.
    const partial = `${parent}/.bundle.partial-x1y2z3`;
    await Deno.mkdir(partial);
    await Deno.copyFile(`${bundle}/registers.json`, `${partial}/registers.json`);
    assertOneLineError(await runScript(SCRIPT, [partial]), 1, /write did not finish/);

    const damaged = `${parent}/damaged`;
    await Deno.mkdir(damaged);
    for (const name of ["index.json", "registers.json", "firmware.json"]) {
      await Deno.copyFile(`${bundle}/${name}`, `${damaged}/${name}`);
    }
    assertOneLineError(
      await runScript(SCRIPT, [damaged]),
      1,
      /damaged: rpc_history\.json is missing: the bundle is incomplete/,
    );

    const foreign = `${parent}/foreign`;
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(`${foreign}/notes.txt`, "not a bundle");
    assertOneLineError(
      await runScript(SCRIPT, [foreign]),
      1,
      /not a crash bundle: it has no index\.json/,
    );
    const json = assertJsonError(await runScript(SCRIPT, [foreign, "--json"]), 1, "input");
    assert.match(json.error.message, /foreign: not a crash bundle/);

    assertOneLineError(
      await runScript(SCRIPT, [`${parent}/nowhere`]),
      1,
      /nowhere: no such directory/,
    );
    assertOneLineError(
      await runScript(SCRIPT, [`${bundle}/index.json`]),
      1,
      /is a file, not a directory/,
    );
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash.ts: usage errors exit 2; --help describes the bundle", async () => {
  assertOneLineError(await runScript(SCRIPT, []), 2, /one crash bundle folder, 0 given/);
  assertOneLineError(await runScript(SCRIPT, ["a", "b"]), 2, /one crash bundle folder, 2 given/);
  assertOneLineError(await runScript(SCRIPT, ["--bogus", "a"]), 2, /--bogus/);
  const help = await runScript(SCRIPT, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: crash\.ts DIR \[--registers\] \[--json\]/);
  assert.match(help.stdout, /--crash-dir DIR/);
  assert.match(help.stdout, /Exit codes:/);
});
