// Tests of loader/fetch_work_dir.ts: work folders that name their owner,
// leftovers of dead owners removed whatever their age (live owners' kept),
// and the folders (and apt's child process) removed when a fetch in a child
// Deno process is interrupted with SIGTERM or SIGINT.

import assert from "node:assert/strict";
import {
  createWorkDir,
  currentProcess,
  isProcessAlive,
  parseWorkDirName,
  processStartTime,
  removeLeftoverWorkDirs,
} from "../loader/fetch_work_dir.ts";
import { DEB_NAME, listDir, tempAptDir, withTempDir } from "./_fetch_fixture.ts";

const LOADER = new URL("../loader/", import.meta.url).href;

/** A process that sleeps until killed, with its identity. */
function sleeper(): { pid: number; startTime: number; child: Deno.ChildProcess } {
  const child = new Deno.Command("sleep", { args: ["600"], stdout: "null", stderr: "null" })
    .spawn();
  const startTime = processStartTime(child.pid);
  assert.ok(startTime !== undefined && startTime > 0);
  return { pid: child.pid, startTime, child };
}

Deno.test("work folder names record the owner's pid and start time", async () => {
  await withTempDir(async (cache) => {
    const me = currentProcess();
    assert.equal(me.pid, Deno.pid);
    assert.equal(me.startTime, processStartTime(Deno.pid));
    await using work = await createWorkDir(cache, "fetch");
    const name = work.path.slice(cache.length + 1);
    assert.deepEqual(parseWorkDirName(name), { kind: "fetch", owner: me });
    assert.deepEqual(await listDir(cache), [name]);
  });
});

Deno.test("leftovers: dead owners' folders go whatever their age; live owners' stay", async () => {
  await withTempDir(async (cache) => {
    const live = sleeper();
    const dead = sleeper();
    dead.child.kill("SIGKILL");
    await dead.child.status;
    const me = currentProcess();
    const names = {
      mine: `.fetch-${me.pid}-${me.startTime}-aaaaaa`,
      liveChild: `.install-${live.pid}-${live.startTime}-bbbbbb`,
      deadChild: `.fetch-${dead.pid}-${dead.startTime}-cccccc`,
      // The same pid as a live process, but another start time: the pid was reused.
      reusedPid: `.install-${live.pid}-${live.startTime + 1}-dddddd`,
      unownedFresh: ".fetch-eeeeee",
      unownedOld: ".install-ffffff",
      notOurs: ".other-1-1-gggggg",
    };
    for (const name of Object.values(names)) {
      await Deno.mkdir(`${cache}/${name}/extract/nvidia`, { recursive: true });
      await Deno.writeTextFile(`${cache}/${name}/extract/nvidia/file.bin`, "x");
    }
    await Deno.mkdir(`${cache}/firmware`);
    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await Deno.utime(`${cache}/${names.unownedOld}`, hourAgo, hourAgo);
    try {
      assert.ok(isProcessAlive(live));
      assert.ok(!isProcessAlive(dead));
      const removed = await removeLeftoverWorkDirs(cache);
      assert.deepEqual(
        removed,
        [names.deadChild, names.reusedPid, names.unownedOld].map((n) => `${cache}/${n}`).sort(),
      );
      assert.deepEqual(
        await listDir(cache),
        [names.mine, names.liveChild, names.unownedFresh, names.notOurs, "firmware"].sort(),
      );
      // Once the live owner is gone, its folder goes too.
      live.child.kill("SIGKILL");
      await live.child.status;
      assert.deepEqual(await removeLeftoverWorkDirs(cache), [`${cache}/${names.liveChild}`]);
    } finally {
      try {
        live.child.kill("SIGKILL");
        await live.child.status;
      } catch {
        // Already gone.
      }
    }
    assert.deepEqual(await removeLeftoverWorkDirs(`${cache}/missing`), []);
  });
});

/** Run `code` in a child Deno process; resolve its first stdout line, and the child. */
async function startChild(
  code: string,
): Promise<
  { child: Deno.ChildProcess; line: string; stdout: ReadableStreamDefaultReader<string> }
> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  return { child, line: text.trim(), stdout: reader };
}

Deno.test("SIGTERM during a fetch's download: apt is stopped, the work folder removed, exit 143", async () => {
  await withTempDir(async (dir) => {
    const cache = `${dir}/falconry`;
    const aptDir = await tempAptDir(dir);
    const pidFile = `${dir}/apt.pid`;
    // The fake apt-get of the download step runs a real program through
    // runCommand, leaves half a package in the work folder and never ends.
    const code = `
      import { fetchFirmware } from "${LOADER}fetch.ts";
      import { runCommand } from "${LOADER}run_command.ts";
      await fetchFirmware({
        cacheDir: ${JSON.stringify(cache)},
        aptDir: ${JSON.stringify(aptDir)},
        aptGet: async (argv, cwd) => {
          if (argv.at(-2) !== "download") return { code: 0, stdout: "", stderr: "" };
          await Deno.writeTextFile(cwd + "/${DEB_NAME}", "half a package");
          const running = runCommand(["sh", "-c", "echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile} && exec sleep 600"], cwd);
          while (!(await Deno.stat("${pidFile}").then(() => true, () => false))) {
            await new Promise((r) => setTimeout(r, 10));
          }
          console.log(cwd);
          return await running;
        },
      });`;
    const { child, line: workDir, stdout } = await startChild(code);
    assert.match(workDir, new RegExp(`^${cache}/\\.fetch-${child.pid}-\\d+-`));
    assert.deepEqual(await listDir(workDir), [DEB_NAME]);
    const aptPid = Number(await Deno.readTextFile(pidFile));
    const aptStart = processStartTime(aptPid)!;
    assert.ok(isProcessAlive({ pid: aptPid, startTime: aptStart }));

    child.kill("SIGTERM");
    const status = await child.status;
    const stderr = await new Response(child.stderr).text();
    await stdout.cancel();
    assert.equal(status.code, 143, stderr);
    assert.deepEqual(await listDir(cache), ["apt", "fetch.lock"], "the work folder is gone");
    // The kernel reaps the orphaned program shortly after it is killed.
    for (let i = 0; i < 200 && isProcessAlive({ pid: aptPid, startTime: aptStart }); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(!isProcessAlive({ pid: aptPid, startTime: aptStart }), "the apt child was stopped");
  });
});

Deno.test("SIGINT: every work folder of the process is removed, exit 130", async () => {
  await withTempDir(async (cache) => {
    const code = `
      import { createWorkDir } from "${LOADER}fetch_work_dir.ts";
      await using fetch = await createWorkDir(${JSON.stringify(cache)}, "fetch");
      await using install = await createWorkDir(${JSON.stringify(cache)}, "install");
      await Deno.mkdir(install.path + "/extract/nvidia", { recursive: true });
      await Deno.writeTextFile(install.path + "/extract/nvidia/gsp.bin", "x".repeat(1 << 20));
      console.log("ready");
      await new Promise((r) => setTimeout(r, 600_000));`;
    const { child, line, stdout } = await startChild(code);
    assert.equal(line, "ready");
    const names = await listDir(cache);
    assert.equal(names.length, 2);
    assert.ok(names.every((n) => parseWorkDirName(n)?.owner?.pid === child.pid));

    child.kill("SIGINT");
    const status = await child.status;
    const stderr = await new Response(child.stderr).text();
    await stdout.cancel();
    assert.equal(status.code, 130, stderr);
    assert.deepEqual(await listDir(cache), []);
  });
});
