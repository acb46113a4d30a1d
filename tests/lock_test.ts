import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import { DeviceLock, lockDevice } from "../pci/lock.ts";

const LOCK_URL = new URL("../pci/lock.ts", import.meta.url).href;

/** A child Deno process that tries the lock; with `hold`, keeps it until stdin closes. */
function childScript(): string {
  const path = Deno.makeTempFileSync({ suffix: ".ts" });
  Deno.writeTextFileSync(
    path,
    `import { lockDevice } from ${JSON.stringify(LOCK_URL)};
const [dir, bdf, mode] = Deno.args;
try {
  using lock = lockDevice(bdf, { dir });
  console.log(JSON.stringify({ locked: true, pid: Deno.pid, path: lock.path }));
  if (mode === "hold") for await (const _ of Deno.stdin.readable) { /* until closed */ }
} catch (e) {
  console.log(JSON.stringify({ locked: false, name: e.constructor.name, message: e.message }));
}
`,
  );
  return path;
}

async function tryInChild(dir: string, bdf: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", childScript(), dir, bdf],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("the lock file names its holder and is emptied on release", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/falconry-0000:01:00.0.lock`;
  {
    using lock = lockDevice("01:00.0", { dir });
    assert.equal(lock.path, path);
    assert.equal(lock.bdf, "0000:01:00.0");
    assert.equal(Deno.readTextFileSync(path), `${Deno.pid}\n`);
  }
  assert.equal(Deno.readTextFileSync(path), "", "pid cleared; the file stays");
  using _again = DeviceLock.acquire("0000:01:00.0", { dir });
  assert.equal(Deno.readTextFileSync(path), `${Deno.pid}\n`);
});

Deno.test("a second process gets 'busy (held by pid N)'", async () => {
  const dir = Deno.makeTempDirSync();
  {
    using _lock = lockDevice("0000:01:00.0", { dir });
    const child = await tryInChild(dir, "0000:01:00.0");
    assert.equal(child.locked, false);
    assert.equal(child.name, "DeviceError");
    assert.match(
      String(child.message),
      new RegExp(`^0000:01:00\\.0: busy \\(held by pid ${Deno.pid}\\); `),
    );
    const other = await tryInChild(dir, "0000:02:00.0");
    assert.equal(other.locked, true, "other devices are independent");
  }
  const after = await tryInChild(dir, "0000:01:00.0");
  assert.equal(after.locked, true, "free again after release");
});

Deno.test("this process sees the child's pid while it holds the lock; its exit frees it", async () => {
  const dir = Deno.makeTempDirSync();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", childScript(), dir, "0000:03:00.0", "hold"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = JSON.parse((await reader.read()).value!);
  assert.equal(first.locked, true);
  assert.throws(
    () => lockDevice("0000:03:00.0", { dir }),
    (e: unknown) =>
      e instanceof DeviceError && e.bdf === "0000:03:00.0" &&
      e.message.includes(`busy (held by pid ${child.pid})`) &&
      e.message.includes("wait for it to finish or stop it"),
  );
  await child.stdin.close();
  await reader.cancel();
  assert.equal((await child.status).success, true);
  using lock = lockDevice("0000:03:00.0", { dir });
  assert.equal(Deno.readTextFileSync(lock.path), `${Deno.pid}\n`);
});

Deno.test("a killed holder leaves no stale lock", async () => {
  const dir = Deno.makeTempDirSync();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", childScript(), dir, "0000:04:00.0", "hold"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.equal(JSON.parse((await reader.read()).value!).locked, true);
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  await child.stdin.close().catch(() => {}); // the pipe's reader is gone
  using lock = lockDevice("0000:04:00.0", { dir });
  assert.ok(lock.path.endsWith("falconry-0000:04:00.0.lock"));
});

Deno.test("a second open in the same process is busy too", () => {
  const dir = Deno.makeTempDirSync();
  using _first = lockDevice("0000:01:00.0", { dir });
  assert.throws(() => lockDevice("0000:01:00.0", { dir }), /busy \(held by pid \d+\)/);
});

Deno.test("an unusable lock directory is reported with what was tried", () => {
  assert.throws(
    () => lockDevice("0000:01:00.0", { dir: "/nonexistent/locks" }),
    (e: unknown) =>
      e instanceof DeviceError &&
      e.message.includes("cannot create a lock file (tried /nonexistent/locks (ENOENT))"),
  );
  assert.throws(() => lockDevice("not-a-bdf", { dir: "/tmp" }), /not a PCI address/);
});
