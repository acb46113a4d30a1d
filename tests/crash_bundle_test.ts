// Crash bundles (gsp/crash_bundle.ts, written by gsp/crash_recorder.ts through BootSteps' failure
// hook) on a simulated TU102, from every fault point the simulator registers for the TU102 family
// (a point missing from EXPECTED fails the matrix, as in boot_faults_test.ts):
//
// - the bundle is written where `crashDir` says and the error names it;
// - it holds the state from BEFORE the unwinding, which differs from the state after it: the
//   registers captured after the boot failed (the unwinding done) are compared with the bundle's,
//   and each point names the difference it must show (WPR2 set, a falcon running, a mailbox code,
//   GSP-RM's RISC-V core active…); a GPU that fell off the bus is recorded as not answering;
// - its logs, RPC history (with the pending RPC), firmware hashes (checked against the files) and
//   VBIOS version (checked against the boot's own `vbios` step) are there;
// - scripts/crash.ts reads it back (`--json`).
//
// Then the writing itself: atomic, so that a write that fails, or a process killed while writing,
// leaves no folder that reads as a bundle; and the reading refuses damaged or foreign folders.

import assert from "node:assert/strict";
import { chipByName, familyOf } from "../chips/chips.ts";
import { bootGsp, GspBootError } from "../gsp/mod.ts";
import {
  CRASH_INDEX_FILE,
  CrashBundleError,
  defaultCrashDir,
  readCrashBundle,
  writeCrashBundle,
} from "../gsp/crash_bundle.ts";
import {
  captureCrashEvidence,
  type CapturedRegister,
  type CapturedRegisters,
  captureRegisters,
} from "../gsp/crash_capture.ts";
import { GspBootArgs } from "../gsp/libos_args.ts";
import { faultPoints, SimulatedGpu } from "../sim/mod.ts";
import { forgedFirmwareRoot, gpuFor } from "./_boot_fixture.ts";
import { runScript } from "./_cli.ts";

const CHIP = "tu102";
const CRASH = new URL("../scripts/crash.ts", import.meta.url).pathname;

/** Registers by name, raw value or read status. */
function values(registers: CapturedRegisters): Map<string, string> {
  return new Map(
    registers.groups.flatMap((g) => g.registers).map((r: CapturedRegister) => [
      r.name,
      r.raw ?? r.status,
    ]),
  );
}

type Check = (before: CapturedRegisters, after: CapturedRegisters) => void;

const gspFalcon = (r: CapturedRegisters) => r.falcons.find((f) => f.engine === "GSP")!;
const sec2Falcon = (r: CapturedRegisters) => r.falcons.find((f) => f.engine === "SEC2")!;

/** GSP-RM was running: WPR2 set and the GSP's RISC-V core active; the unwinding cleared both. */
const gspRmWasRunning: Check = (before, after) => {
  assert.equal(before.wpr2.status, "set");
  assert.equal(after.wpr2.status, "not-set");
  assert.equal(gspFalcon(before).riscvActive, true);
  assert.equal(gspFalcon(after).riscvActive, false);
};

/** FWSEC halted on the GSP falcon (IRQSTAT.HALT, its boot vector); the unwinding reset it. */
const fwsecHaltedOnGsp: Check = (before, after) => {
  const b = values(before), a = values(after);
  assert.equal(b.get("GSP.NV_PFALCON_FALCON_IRQSTAT"), "0x00000010");
  assert.notEqual(b.get("GSP.NV_PFALCON_FALCON_BOOTVEC"), "0x00000000");
  assert.equal(a.get("GSP.NV_PFALCON_FALCON_BOOTVEC"), "0x00000000");
};

interface Expected {
  /** The step that fails; "" when nothing fails (then no bundle). */
  step: string;
  /** The boot succeeds and its unload fails. */
  during?: "unload";
  params?: Record<string, unknown>;
  /** GSP-RM ran: logs written and the RPC history exists. */
  gspRm?: boolean;
  /** The RPC pending in the bundle. */
  pending?: string;
  /** How the bundle's state differs from the state after the unwinding. */
  differs?: Check;
  /** The GPU stopped answering: the bundle says so. */
  offTheBus?: boolean;
}

const EXPECTED: Record<string, Expected> = {
  "bus-fall-off": { step: "fwsec-frts", params: { afterAccesses: 3000 }, offTheBus: true },
  "fwsec-error-code": { step: "fwsec-frts", differs: fwsecHaltedOnGsp },
  "fwsec-wpr2-unset": { step: "fwsec-frts", differs: fwsecHaltedOnGsp },
  "fwsec-hang": {
    step: "fwsec-frts",
    differs: (before, after) => {
      assert.equal(gspFalcon(before).halted, false, "FWSEC still running");
      assert.equal(gspFalcon(after).halted, true);
    },
  },
  "dma-fault": {
    step: "fwsec-frts",
    differs: (before, after) => {
      assert.equal(gspFalcon(before).mailbox0, "0x00000010", "the DMA fault's halt code");
      assert.equal(gspFalcon(after).mailbox0, "0x00000000");
    },
  },
  "booter-bad-signature": {
    step: "booter-load",
    differs: (before, after) => {
      assert.equal(sec2Falcon(before).mailbox0, "0x00000008", "Booter's signature error");
      assert.equal(sec2Falcon(after).mailbox0, "0x00000000");
      assert.equal(before.wpr2.status, "set", "FRTS's WPR2");
    },
  },
  "booter-timeout": {
    step: "booter-load",
    differs: (before, after) => {
      assert.equal(sec2Falcon(before).halted, false, "Booter still running");
      assert.equal(sec2Falcon(after).halted, true);
    },
  },
  "riscv-never-active": {
    step: "riscv-active",
    differs: (before, after) => {
      assert.equal(before.wpr2.status, "set");
      assert.equal(after.wpr2.status, "not-set");
      assert.equal(gspFalcon(before).riscvActive, false);
    },
  },
  "gsp-rm-bad-checksum": {
    step: "sequencer",
    gspRm: true,
    pending: "GSP_RUN_CPU_SEQUENCER",
    differs: gspRmWasRunning,
  },
  "gsp-rm-sequencer-poll-timeout": { step: "sequencer", gspRm: true, differs: gspRmWasRunning },
  "gsp-rm-no-init-done": {
    step: "init-done",
    gspRm: true,
    pending: "GSP_INIT_DONE",
    differs: gspRmWasRunning,
  },
  "gsp-rm-unload-never-suspends": {
    step: "gsp-suspend",
    during: "unload",
    gspRm: true,
    differs: gspRmWasRunning,
  },
  "gsp-rm-never-halts-after-unload": { step: "" },
};

/** The points that apply to a TU102 (the SEC2 boot path). */
function tu102Points() {
  const path = familyOf(chipByName(CHIP)!).bootPath;
  return faultPoints().filter((p) => !p.bootPaths || p.bootPaths.includes(path));
}

Deno.test("crash bundle matrix: every TU102 fault point has an expectation", () => {
  assert.deepEqual(tu102Points().map((p) => p.name).sort(), Object.keys(EXPECTED).sort());
});

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

for (const point of tu102Points()) {
  const expected = EXPECTED[point.name];
  if (!expected) continue; // the test above fails
  Deno.test(`crash bundle matrix: ${CHIP}, ${point.name} ${expected.step ? `fails ${expected.step}: the bundle holds the state from before the unwinding` : "fails nothing: no bundle"}`, async () => {
    const root = await forgedFirmwareRoot(CHIP);
    const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
    try {
      const crashDir = `${parent}/bundle`;
      await using gpu = await gpuFor(CHIP, root);
      gpu.faults.arm(point.name, expected.params ?? {});
      let vbiosDetail = "";
      const options = {
        firmwareDir: root,
        crashDir,
        onStep: (e: { step: string; phase: string; detail?: string }) => {
          if (e.step === "vbios" && e.phase === "end") vbiosDetail = e.detail ?? "";
        },
      };
      let error: unknown;
      if (expected.during === "unload") {
        const gsp = await bootGsp(gpu, options);
        error = await gsp.unload().then(() => undefined, (e) => e);
      } else {
        error = await bootGsp(gpu, options).then(
          (gsp) => gsp.unload().then(() => undefined, (e) => e),
          (e) => e,
        );
      }
      if (expected.step === "") {
        assert.equal(error, undefined);
        await assert.rejects(Deno.stat(crashDir), Deno.errors.NotFound);
        return;
      }
      assert(error instanceof GspBootError, String(error));
      assert.equal(error.step, expected.step, error.message);
      assert.equal(error.crashBundle, crashDir, error.crashBundleError);
      // The unwinding is done: what the GPU holds now.
      const after = captureRegisters(gpu.bar0, chipByName(CHIP));
      const bundle = await readCrashBundle(crashDir);
      const { index, registers } = bundle;

      assert.equal(index.failure.step, expected.step);
      assert.equal(index.chip?.name, CHIP);
      assert.equal(index.device.bdf, gpu.info.bdf);
      // The message as it was when the step failed, before the unwinding added its own failures.
      assert.equal(index.failure.message, error.message.replace(/ \(cleanup also failed: .*$/, ""));
      assert.match(index.failure.errorName, /^GspBootError/);
      assert.deepEqual(
        [...index.files.map((f) => f.name)].sort(),
        [
          "firmware.json",
          "logs/LOGINIT.bin",
          "logs/LOGINTR.bin",
          "logs/LOGMNOC.bin",
          "logs/LOGRM.bin",
          "registers.json",
          "rpc_history.json",
        ],
      );

      if (expected.offTheBus) {
        assert.equal(registers.answering, false);
        const all = registers.groups.flatMap((g) => g.registers);
        assert(all.every((r) => r.status === "no-response" || r.status === "not-read"));
        assert(registers.reads <= 8 + 2, `${registers.reads} reads of a GPU off the bus`);
        assert.equal(registers.wpr2.status, "unreadable");
        assert.match(bundle.firmware.vbiosError ?? "", /stopped answering/);
      } else {
        assert.equal(registers.answering, true);
        // The sysmem flush page is registered until the unwinding unregisters it.
        assert.notEqual(values(registers).get("NV_PFB_NISO_FLUSH_SYSMEM_ADDR"), "0x00000000");
        assert.equal(values(after).get("NV_PFB_NISO_FLUSH_SYSMEM_ADDR"), "0x00000000");
        expected.differs!(registers, after);
        assert.notDeepEqual(values(registers), values(after));
        const version = vbiosDetail.match(/from VBIOS (\S+),/)?.[1];
        assert(version, vbiosDetail);
        assert.equal(bundle.firmware.vbiosVersion, version);
      }

      // Logs: raw, 64 KiB each, u64[0] is the put pointer the index records.
      for (const entry of bundle.logs) {
        const bytes = await Deno.readFile(`${crashDir}/${entry.name}`);
        assert.equal(bytes.length, 0x10000);
        assert.equal(new DataView(bytes.buffer).getBigUint64(0, true), entry.put);
      }
      const written = bundle.logs.filter((l) => l.put > 0n).map((l) => l.id);
      if (expected.gspRm) assert(written.includes("LOGINIT") && written.includes("LOGRM"));
      else assert.deepEqual(written, []);

      // The RPC history, with the pending RPC.
      const history = bundle.rpcHistory.history;
      if (expected.gspRm) {
        assert(history, "an RPC history");
        assert.deepEqual(history.sent.slice(0, 2).map((r) => r.name), [
          "GSP_SET_SYSTEM_INFO",
          "SET_REGISTRY",
        ]);
        assert.equal(history.pending?.name, expected.pending);
        if (expected.during === "unload") {
          const replied = history.sent.filter((r) => r.repliedAt !== undefined).map((r) => r.name);
          assert.deepEqual(replied, ["GET_GSP_STATIC_INFO", "UNLOADING_GUEST_DRIVER"]);
        }
      } else if (!["booter-load", "fwsec-frts"].includes(expected.step)) {
        assert(history, "the queues existed");
      } else {
        assert.equal(history, null);
        assert.match(bundle.rpcHistory.note ?? "", /before the RPC queues existed/);
      }

      // Firmware: every file of the set, hashed as the files on disk are.
      assert.equal(bundle.firmware.version, "570.144");
      const roles = bundle.firmware.files.map((f) => f.role).sort();
      assert.deepEqual(roles, [
        "booter_load",
        "booter_unload",
        "bootloader",
        "gen_bootloader",
        "gsp",
      ]);
      for (const file of bundle.firmware.files) {
        assert.equal(file.sha256, await sha256Hex(await Deno.readFile(file.path)), file.name);
      }

      // crash.ts reads it back.
      const run = await runScript(CRASH, [crashDir, "--json"]);
      assert.equal(run.code, 0, run.stderr);
      const json = JSON.parse(run.stdout);
      assert.equal(json.index.failure.step, expected.step);
      assert.equal(json.registers.wpr2.status, registers.wpr2.status);
      assert.equal(json.rpcHistory.history?.pending?.name, expected.pending);
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  });
}

// -------------------------------------------------------------------------------------------------
// Writing atomically

/** Evidence from a simulated GPU with its log buffers allocated, LOGRM holding a few words. */
async function evidenceOf(chip: string) {
  await using gpu = new SimulatedGpu({ chip });
  using args = GspBootArgs.allocate(gpu.dma, chipByName(chip)!.family);
  const logrm = new DataView(args.log("LOGRM")!.buffer.bytes.buffer);
  logrm.setBigUint64(0, 3n, true);
  logrm.setBigUint64(8 * 17, 0x1234_5678_9abc_def0n, true);
  return {
    failure: {
      step: "booter-load",
      message: "booter-load: Booter-load halted with SEC2 MAILBOX0 0x8",
      code: 8,
      errorName: "GspBootError ← HardwareCodeError",
      stepMs: 37,
      completedSteps: [{ step: "identify", ms: 0 }],
    },
    device: gpu.info,
    evidence: await captureCrashEvidence({ device: gpu, logs: args.logs }),
  };
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("crash bundle: a write that fails part-way leaves nothing behind, and no bundle", async () => {
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
  try {
    const input = await evidenceOf("ga102");
    const seen: string[] = [];
    const error = await writeCrashBundle(`${parent}/bundle`, input, {
      onFileWritten: (name) => {
        seen.push(name);
        if (name === "logs/LOGINTR.bin") throw new Error("No space left on device");
      },
    }).catch((e) => e);
    assert.match(String(error), /No space left/);
    assert.deepEqual(seen, [
      "registers.json",
      "rpc_history.json",
      "firmware.json",
      "logs/LOGINIT.bin",
      "logs/LOGINTR.bin",
    ]);
    assert.deepEqual(names(parent), []);
    await assert.rejects(readCrashBundle(`${parent}/bundle`), /no such folder/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash bundle: the index is written last, then the folder renamed into place", async () => {
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
  try {
    const input = await evidenceOf("tu102");
    const seen: string[] = [];
    const path = await writeCrashBundle(`${parent}/a/b/bundle`, input, {
      onFileWritten: (name) => {
        seen.push(name);
        // Until the rename, the bundle's own path does not exist.
        assert.throws(() => Deno.statSync(`${parent}/a/b/bundle`), Deno.errors.NotFound);
      },
    });
    assert.equal(path, `${parent}/a/b/bundle`);
    assert.equal(seen.at(-1), CRASH_INDEX_FILE);
    assert.deepEqual(names(`${parent}/a/b`), ["bundle"]);
    assert.deepEqual(names(path), [
      "firmware.json",
      "index.json",
      "logs",
      "registers.json",
      "rpc_history.json",
    ]);
    const bundle = await readCrashBundle(path);
    assert.equal(bundle.index.failure.code, 8);
    assert.deepEqual(bundle.logs.map((l) => [l.id, l.put]), [
      ["LOGINIT", 0n],
      ["LOGINTR", 0n],
      ["LOGRM", 3n],
      ["LOGMNOC", 0n],
    ]);
    const logrm = await Deno.readFile(`${path}/logs/LOGRM.bin`);
    assert.equal(new DataView(logrm.buffer).getBigUint64(8 * 17, true), 0x1234_5678_9abc_def0n);
    // The bundle's files are the user's only.
    assert.equal(Deno.statSync(`${path}/registers.json`).mode! & 0o077, 0);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash bundle: an existing folder that is not empty, or a file, is refused before anything is written", async () => {
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
  try {
    const input = await evidenceOf("tu102");
    await Deno.mkdir(`${parent}/full`);
    await Deno.writeTextFile(`${parent}/full/notes.txt`, "mine");
    await assert.rejects(
      writeCrashBundle(`${parent}/full`, input),
      (e) => e instanceof CrashBundleError && /not empty/.test(e.message),
    );
    assert.deepEqual(names(`${parent}/full`), ["notes.txt"]);
    await Deno.writeTextFile(`${parent}/file`, "x");
    await assert.rejects(writeCrashBundle(`${parent}/file`, input), /not a folder/);
    // An empty folder is fine: the bundle takes its place.
    await Deno.mkdir(`${parent}/empty`);
    await writeCrashBundle(`${parent}/empty`, input);
    assert.equal((await readCrashBundle(`${parent}/empty`)).index.chip?.name, "tu102");
    assert.deepEqual(names(parent), ["empty", "file", "full"]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

/** A child process that writes a bundle and stops (as if hung) after `stopAfter` is written. */
async function killedWhileWriting(bundle: string, stopAfter: string): Promise<void> {
  const module = (path: string) => new URL(path, import.meta.url).href;
  const code = `
    import { SimulatedGpu } from "${module("../sim/mod.ts")}";
    import { captureCrashEvidence } from "${module("../gsp/crash_capture.ts")}";
    import { writeCrashBundle } from "${module("../gsp/crash_bundle.ts")}";
    import { GspBootArgs } from "${module("../gsp/libos_args.ts")}";
    await using gpu = new SimulatedGpu({ chip: "tu102" });
    using args = GspBootArgs.allocate(gpu.dma, "tu10x");
    const evidence = await captureCrashEvidence({ device: gpu, logs: args.logs });
    const failure = { step: "init-done", message: "x", errorName: "GspBootError", stepMs: 1, completedSteps: [] };
    await writeCrashBundle(${JSON.stringify(bundle)}, { failure, device: gpu.info, evidence }, {
      onFileWritten: async (name) => {
        if (name !== ${JSON.stringify(stopAfter)}) return;
        console.log("stopped");
        await new Promise((resolve) => setTimeout(resolve, 3_600_000));
      },
    });`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("stopped")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  if (text.includes("stopped")) child.kill("SIGKILL");
  reader.releaseLock();
  await child.stdout.cancel();
  const status = await child.status;
  const stderr = await new Response(child.stderr).text();
  assert(text.includes("stopped"), `the writer never got to ${stopAfter}: ${stderr}`);
  assert.equal(status.signal, "SIGKILL");
}

for (const stopAfter of ["registers.json", "logs/LOGRM.bin", CRASH_INDEX_FILE]) {
  Deno.test(`crash bundle: a process killed after writing ${stopAfter} leaves no complete-looking bundle`, async () => {
    const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
    try {
      await killedWhileWriting(`${parent}/bundle`, stopAfter);
      // The bundle's path does not exist; the partial folder is marked as such.
      const left = names(parent);
      assert.equal(left.length, 1, String(left));
      assert.match(left[0], /^\.bundle\.partial-/);
      await assert.rejects(readCrashBundle(`${parent}/bundle`), /no such folder/);
      await assert.rejects(
        readCrashBundle(`${parent}/${left[0]}`),
        (e) => e instanceof CrashBundleError && /write did not finish/.test(e.message),
      );
      const run = await runScript(CRASH, [`${parent}/${left[0]}`]);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stderr, /^error: .*write did not finish/);
      // Renamed to look like a bundle, a folder without its index is still refused.
      await Deno.rename(`${parent}/${left[0]}`, `${parent}/renamed`);
      if (stopAfter !== CRASH_INDEX_FILE) {
        await assert.rejects(readCrashBundle(`${parent}/renamed`), /has no index\.json/);
      }
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  });
}

// -------------------------------------------------------------------------------------------------
// Reading refuses what is not a whole bundle

Deno.test("crash bundle: a damaged or foreign folder is refused, naming the file", async () => {
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
  try {
    const input = await evidenceOf("tu102");
    const path = await writeCrashBundle(`${parent}/bundle`, input);
    const copy = async (name: string) => {
      await Deno.mkdir(`${parent}/${name}`);
      for (const entry of Deno.readDirSync(path)) {
        if (entry.isFile) {
          await Deno.copyFile(`${path}/${entry.name}`, `${parent}/${name}/${entry.name}`);
        }
      }
      return `${parent}/${name}`;
    };
    const truncated = await copy("truncated");
    await Deno.writeTextFile(`${truncated}/registers.json`, "{}");
    await assert.rejects(
      readCrashBundle(truncated),
      /registers\.json has 2 bytes, the index says \d+/,
    );

    const altered = await copy("altered");
    const text = await Deno.readTextFile(`${altered}/firmware.json`);
    await Deno.writeTextFile(`${altered}/firmware.json`, text.replace("90.", "91."));
    await assert.rejects(readCrashBundle(altered), /firmware\.json does not match its sha256/);

    const missing = await copy("missing");
    await Deno.remove(`${missing}/rpc_history.json`);
    await assert.rejects(readCrashBundle(missing), /rpc_history\.json is missing/);

    const foreign = `${parent}/foreign`;
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(
      `${foreign}/index.json`,
      JSON.stringify({ name: "my-app", files: [] }),
    );
    await assert.rejects(
      readCrashBundle(foreign),
      /not a falconry crash bundle: index\.json has format null/,
    );
    await Deno.writeTextFile(`${foreign}/index.json`, "<html>");
    await assert.rejects(readCrashBundle(foreign), /index\.json is not valid JSON/);
    await assert.rejects(readCrashBundle(parent), /not a crash bundle: it has no index\.json/);
    await assert.rejects(readCrashBundle(`${path}/registers.json`), /not a folder/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash bundle: the default folder is per run, under the cache", () => {
  const env = (name: string) => name === "HOME" ? "/home/u" : undefined;
  const at = new Date("2026-12-05T10:28:42.123Z");
  const a = defaultCrashDir("0000:01:00.0", { at, env });
  const b = defaultCrashDir("0000:01:00.0", { at, env });
  assert.match(a, /^\/home\/u\/\.cache\/falconry\/crash\/20261205T102842\.123Z-0000_01_00\.0-\d+/);
  assert.notEqual(a, b, "two boots of one process get two folders");
  assert.match(
    defaultCrashDir("sim tu102/../x", { at, env }),
    /crash\/20261205T102842\.123Z-sim_tu102_\.\._x-/,
  );
});

// -------------------------------------------------------------------------------------------------
// The recorder in a boot

Deno.test("crash recorder: only the first failure is recorded, not the unwinding's own", async () => {
  const root = await forgedFirmwareRoot(CHIP);
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
  try {
    await using gpu = await gpuFor(CHIP, root);
    gpu.faults.arm("fwsec-error-code", { code: 0x7 });
    const error = await bootGsp(gpu, {
      firmwareDir: root,
      crashDir: `${parent}/bundle`,
      onStep: (e) => {
        // The HAL's unwinding runs FWSEC-SB: make it fail too.
        if (e.step === "fwsec-sb" && e.phase === "start") gpu.faults.arm("fwsec-hang");
      },
    }).then(() => assert.fail("booted"), (e) => e);
    assert(error instanceof GspBootError, String(error));
    assert.equal(error.cleanupErrors.length, 1);
    const bundle = await readCrashBundle(error.crashBundle!);
    assert.equal(bundle.index.failure.step, "fwsec-frts");
    assert.equal(bundle.index.failure.code, 0x7);
    assert.deepEqual(names(parent), ["bundle"]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash recorder: a crash folder that cannot take the bundle leaves the boot's error as it is", async () => {
  const root = await forgedFirmwareRoot(CHIP);
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
  try {
    await Deno.writeTextFile(`${parent}/notes.txt`, "mine");
    await using gpu = await gpuFor(CHIP, root);
    gpu.faults.arm("booter-bad-signature");
    const error = await bootGsp(gpu, { firmwareDir: root, crashDir: parent })
      .then(() => assert.fail("booted"), (e) => e);
    assert(error instanceof GspBootError, String(error));
    assert.equal(error.step, "booter-load");
    assert.equal(error.crashBundle, undefined);
    assert.match(error.crashBundleError ?? "", /not empty/);
    assert.doesNotMatch(error.message, /crash/);
    assert.deepEqual(names(parent), ["notes.txt"]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash recorder: without a crash folder nothing is captured or written", async () => {
  const root = await forgedFirmwareRoot(CHIP);
  const parent = await Deno.makeTempDir({ prefix: "falconry-crash-" });
  try {
    /** PBUS reads of a boot failing at riscv-active (the capture reads all 64 SW_SCRATCH). */
    const pbusReads = async (crashDir?: string) => {
      await using gpu = await gpuFor(CHIP, root);
      gpu.faults.arm("riscv-never-active");
      const error = await bootGsp(gpu, { firmwareDir: root, crashDir })
        .then(() => assert.fail("booted"), (e) => e);
      assert(error instanceof GspBootError, String(error));
      assert.equal(error.crashBundle, crashDir);
      assert.equal(error.crashBundleError, undefined);
      return gpu.stats().mmio.PBUS?.reads ?? 0;
    };
    const without = await pbusReads();
    const withBundle = await pbusReads(`${parent}/bundle`);
    assert(withBundle - without >= 64, `${without} PBUS reads without, ${withBundle} with`);
    assert.deepEqual(names(parent), ["bundle"]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
