// bootAll (boot_all.ts): eight simulated GPUs booting concurrently, one of them failing by an
// injected fault: seven boot, the eighth reports its error at its step, and no GPU is left
// holding anything (its own unwinding for the failed one, the unload for the others); the same
// through Workers; a GPU that cannot even be opened does not stop the others; an abort unwinds
// every GPU; the caller may unload a handle itself; without targets, the GPUs come from sysfs.

import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "npm:@logtape/logtape@2.4.2";
import { bootAll, type BootAllOptions, bootTargets, type GpuStepEvent } from "../boot_all.ts";
import { BOOT_STEPS } from "../gsp/boot_steps.ts";
import { GspBootError } from "../gsp/boot_steps.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import type { SimGpuTarget } from "../open_gpu.ts";
import { simFirmware } from "../scripts/boot.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

const FORGED_MANIFEST = { ...FIRMWARE_MANIFEST, files: {}, links: {} };

/** Forged firmware roots for each chip, removed after `fn`. */
async function withFirmware(
  chips: string[],
  fn: (dirs: Record<string, string>) => Promise<void>,
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const dirs: Record<string, string> = {};
  for (const chip of chips) {
    dirs[chip] = stack.use(await simFirmware(chip, { forged: true })).dir;
  }
  await fn(dirs);
}

function eight(dirs: Record<string, string>, failing: number): SimGpuTarget[] {
  return Array.from({ length: 8 }, (_, i) => {
    const chip = i % 2 ? "ga102" : "tu102";
    return {
      sim: chip,
      firmwareDir: dirs[chip],
      ...(i === failing
        ? { inject: [{ point: "fwsec-error-code", params: { code: 0x1234 } }] }
        : {}),
    };
  });
}

// Worker mode boots three (a Worker's start is slow under `deno test`, which type-checks it).
for (const [isolation, count] of [["inline", 8], ["worker", 3]] as const) {
  const title = `bootAll (${isolation}): ${count} GPUs, one failing: ${
    count - 1
  } boot, 1 reports its error, no residue anywhere`;
  Deno.test(title, async () => {
    await withFirmware(["tu102", "ga102"], async (dirs) => {
      const events: GpuStepEvent[] = [];
      const failing = count > 5 ? 5 : 1; // a GA102
      const options: BootAllOptions = {
        targets: eight(dirs, failing).slice(0, count),
        firmwareManifest: FORGED_MANIFEST,
        isolation,
        onStep: (e) => events.push(e),
      };
      await using host = await bootAll(options);
      assert.deepEqual(host.results.map((r) => r.ok), host.results.map((_, i) => i !== failing));
      assert.deepEqual(
        host.results.map((r) => r.gpu),
        ["tu102#0", "ga102#1", "tu102#2", "ga102#3", "tu102#4", "ga102#5", "tu102#6", "ga102#7"]
          .slice(0, count),
      );
      const failed = host.results[failing];
      assert(failed.error instanceof GspBootError, String(failed.error));
      assert.equal(failed.error.step, "fwsec-frts");
      assert.equal(failed.error.code, 0x1234);
      assert.equal(failed.gsp, undefined);
      assert.deepEqual(failed.residue, []);
      // Its own unwinding ran, on its own.
      const failedSteps = failed.steps.map((s) => s.step);
      assert(failed.steps.some((s) => s.step === "fwsec-frts" && s.failed));
      assert(failedSteps.slice(failedSteps.indexOf("fwsec-frts")).includes("falcon-reset"));
      for (const result of host.results.filter((r) => r.ok)) {
        assert.deepEqual(result.steps.map((s) => s.step), [...BOOT_STEPS], result.gpu);
        assert.equal(result.gsp!.chip.name, result.gpu.split("#")[0]);
        assert(result.gsp!.staticInfo.boardName.startsWith("NVIDIA"));
        assert(result.gsp!.wpr2.end > result.gsp!.wpr2.start);
      }
      // Every GPU's events reached the listener, labelled with their GPU.
      for (let i = 0; i < count; i++) {
        assert(events.some((e) => e.index === i && e.step === "identify" && e.phase === "end"));
      }
      const unloaded = await host.unload();
      assert.deepEqual(unloaded.map((u) => u.ok), Array(count).fill(true));
      for (const u of unloaded) assert.deepEqual(u.residue, [], u.gpu);
      for (const u of unloaded.filter((_, i) => i !== failing)) {
        assert.deepEqual(
          u.steps.map((s) => s.step),
          ["unloading-guest-driver", "gsp-suspend", "fwsec-sb", "booter-unload", "falcon-reset"],
        );
      }
      assert.deepEqual(unloaded[failing].steps, []);
    });
  });
}

Deno.test("bootAll: a GPU that cannot be opened fails alone; the others boot", async () => {
  await withFirmware(["tu102"], async (dirs) => {
    const good = { sim: "tu102", firmwareDir: dirs.tu102 };
    await using host = await bootAll({
      targets: [good, { ...good, inject: [{ point: "no-such-point" }] }, good],
      firmwareManifest: FORGED_MANIFEST,
      isolation: "inline",
    });
    assert.deepEqual(host.results.map((r) => r.ok), [true, false, true]);
    assert.match(host.results[1].error!.message, /no-such-point/);
    assert.deepEqual(host.results[1].steps, []);
    assert.equal(host.results[1].residue, null);
    const unloaded = await host.unload();
    assert(unloaded.every((u) => u.ok));
  });
});

for (const isolation of ["inline", "worker"] as const) {
  Deno.test(`bootAll (${isolation}): an abort stops every GPU; each unwinds to a clean GPU`, async () => {
    await withFirmware(["tu102"], async (dirs) => {
      const controller = new AbortController();
      const target = { sim: "tu102", firmwareDir: dirs.tu102 };
      await using host = await bootAll({
        targets: [target, target, target],
        firmwareManifest: FORGED_MANIFEST,
        isolation,
        signal: controller.signal,
        // Abort once the first GPU's GSP image is loaded: every GPU is then somewhere in its boot.
        onStep: (e) => {
          if (e.step === "gsp-image" && e.phase === "end") controller.abort(new Error("stop"));
        },
      });
      assert.deepEqual(host.results.map((r) => r.ok), [false, false, false]);
      for (const result of host.results) {
        assert(result.error instanceof GspBootError, String(result.error));
        assert.match(result.error.message, /stop/);
        assert.deepEqual(result.residue, [], result.gpu);
      }
    });
  });
}

Deno.test("bootAll: the caller may unload a GSP itself; the HostBoot then only closes it", async () => {
  await withFirmware(["ga102"], async (dirs) => {
    const target = { sim: "ga102", firmwareDir: dirs.ga102 };
    const host = await bootAll({
      targets: [target, target],
      firmwareManifest: FORGED_MANIFEST,
      isolation: "inline",
    });
    const seen: string[] = [];
    await host.results[0].gsp!.unload({ onStep: (e) => seen.push(`${e.step}:${e.phase}`) });
    assert(seen.includes("booter-unload:end"), seen.join());
    const unloaded = await host.unload();
    assert.deepEqual(unloaded.map((u) => u.residue), [[], []]);
    assert.deepEqual(unloaded[0].steps.map((s) => s.step).at(-1), "falcon-reset");
    await host[Symbol.asyncDispose](); // idempotent
  });
});

Deno.test("bootAll: a GSP handed on with keep() is left running: not unloaded, not looked at", async () => {
  await withFirmware(["tu102"], async (dirs) => {
    const target = { sim: "tu102", firmwareDir: dirs.tu102 };
    const host = await bootAll({
      targets: [target, target],
      firmwareManifest: FORGED_MANIFEST,
      isolation: "inline",
    });
    host.results[1].gsp!.keep();
    const unloaded = await host.unload();
    assert.deepEqual(unloaded[0].residue, []);
    assert.equal(unloaded[1].residue, null); // kept: not unloaded, not looked at
    assert.deepEqual(unloaded[1].steps, []);
  });
});

Deno.test("bootTargets: without targets, every NVIDIA GPU sysfs lists, by address", async () => {
  using tree = buildSysfsTree();
  const targets = await bootTargets({ sysfsRoot: tree.root });
  const gpus = tree.devices.filter((d) => d.vendor === "0x10de" && /^0x03(00|02)/.test(d.class))
    .map((d) => d.bdf);
  assert(gpus.length >= 2);
  assert.deepEqual(targets, gpus);
  assert.deepEqual(await bootTargets({ targets: ["0000:01:00.0"] }), ["0000:01:00.0"]);
});

Deno.test("bootAll (worker): the Worker's log records reach this thread's loggers", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["falconry"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    await withFirmware(["tu102"], async (dirs) => {
      await using host = await bootAll({
        targets: [{ sim: "tu102", firmwareDir: dirs.tu102 }, {
          sim: "tu102",
          firmwareDir: dirs.tu102,
        }],
        firmwareManifest: FORGED_MANIFEST,
        isolation: "worker",
      });
      assert(host.ok);
    });
  } finally {
    await reset();
  }
  const fromBoot = records.filter((r) => r.category.join(".") === "falconry.gsp.boot_steps");
  // Each Worker's boot logs every step it finished, at info.
  const text = fromBoot.map((r) => r.message.join(""));
  assert.equal(text.filter((line) => /^init-done: done in [\d.]+ ms$/.test(line)).length, 2);
  assert(records.every((r) => r.level !== "debug" && r.level !== "trace"));
});
