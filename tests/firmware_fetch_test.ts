// Tests of scripts/_firmware_fetch.ts (`firmware.ts fetch`) run as a
// subprocess with fake apt-get and apt-cache programs first on PATH (no
// network): the live progress line on a terminal (through script(1)'s
// pseudo-terminal), a stdout that holds only JSON with --json, and the line
// a second fetch prints while it waits for the first. The fake apt-get
// writes a third of a package, waits for a "go" file that the test creates
// once it has seen what it expects, then finishes a package that is not a
// real .deb, so every run ends in a one-line error.

import assert from "node:assert/strict";
import { pickDebianMirror, readAptSources } from "../loader/apt_sources.ts";
import { hasDpkgDeb, withTempDir } from "./_fetch_fixture.ts";

const SCRIPT = new URL("../scripts/firmware.ts", import.meta.url).pathname;
const MIB = 1 << 20;
const ESC = "\x1b";
/** What the progress line writes to go back and erase itself. */
const CLEAR_LINE = `\r${ESC}[2K`;

const mirror = pickDebianMirror(await readAptSources().catch(() => []));
const hasScript = await new Deno.Command("script", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);
const keyringOk = mirror !== undefined &&
  (mirror.inlineKey !== undefined || await Deno.stat(mirror.keyring).then(() => true, () => false));
const skip = !mirror
  ? "no Debian mirror in /etc/apt"
  : !keyringOk
  ? `no ${mirror.keyring}`
  : !hasDpkgDeb
  ? "no dpkg-deb"
  : undefined;

/** A fetch test (skipped, saying why, where fetch cannot get going). */
function fetchTest(name: string, fn: (dir: string) => Promise<void>, needsScript = false): void {
  const reason = skip ?? (needsScript && !hasScript ? "no script(1)" : undefined);
  Deno.test({
    name: `${name}${reason ? ` (skipped: ${reason})` : ""}`,
    ignore: reason !== undefined,
    fn: () => withTempDir(fn),
  });
}

/** Fake apt programs in `<dir>/bin`; the download waits for `<dir>/go`. Returns the env. */
async function fakeApt(dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(`${dir}/bin`);
  const deb = "firmware-nvidia-graphics_20260916-1_all.deb";
  await Deno.writeTextFile(
    `${dir}/bin/apt-get`,
    `#!/bin/sh
case "$*" in
  *" download "*)
    head -c ${MIB} /dev/zero > ${deb}
    # Give up after a minute rather than hang a test that failed to see its cue.
    i=0; while [ ! -e "${dir}/go" ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done
    head -c ${3 * MIB} /dev/zero > ${deb} ;;
esac
exit 0
`,
  );
  await Deno.writeTextFile(
    `${dir}/bin/apt-cache`,
    `#!/bin/sh\nprintf 'Package: firmware-nvidia-graphics\\nSize: ${3 * MIB}\\n'\n`,
  );
  await Deno.chmod(`${dir}/bin/apt-get`, 0o755);
  await Deno.chmod(`${dir}/bin/apt-cache`, 0o755);
  return {
    PATH: `${dir}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    XDG_CACHE_HOME: `${dir}/xdg`,
    NO_COLOR: "1",
  };
}

/** Read `stream` until `done(text)` holds; returns the text so far. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  sofar: string,
  done: (text: string) => boolean,
): Promise<string> {
  let text = sofar;
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += value;
  }
  return text;
}

fetchTest(
  "on a terminal, a live line shows the download's bytes, share and rate, and is cleared",
  async (dir) => {
    const env = await fakeApt(dir);
    const child = new Deno.Command("script", {
      args: ["-qfec", `'${Deno.execPath()}' run -A '${SCRIPT}' fetch`, "/dev/null"],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const progress = `${CLEAR_LINE}download 1.0 / 3.0 MiB (33%), `;
    const rateAndTime = /^[\d.]+ MiB\/s, [\d.]+ s/;
    const drawn = (t: string) =>
      t.includes(progress) && rateAndTime.test(t.slice(t.indexOf(progress) + progress.length));
    let text = await readUntil(reader, "", drawn);
    assert.ok(drawn(text), text);
    assert.match(
      text,
      /update +apt-get update of sid\/non-free-firmware; firmware-nvidia-graphics is 3\.0 MiB/,
    );
    await Deno.writeTextFile(`${dir}/go`, "");
    text = await readUntil(reader, text, () => false);
    const status = await child.status;
    await new Response(child.stderr).text();
    assert.equal(status.code, 1, text);
    // The progress line is erased before the error is printed on its own line.
    const error = text.indexOf("error: dpkg-deb cannot read ");
    assert.ok(error > 0, text);
    assert.ok(text.slice(0, error).replace(/[\r\n]+$/, "").endsWith(CLEAR_LINE), text);
    assert.ok(!text.slice(error).includes(CLEAR_LINE));
  },
  true,
);

fetchTest("--json: stdout holds only the JSON document, stderr no progress line", async (dir) => {
  const env = await fakeApt(dir);
  await Deno.writeTextFile(`${dir}/go`, "");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "fetch", "--json"],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, stderr);
  const doc = JSON.parse(stdout);
  assert.match(doc.error.message, /^dpkg-deb cannot read /);
  assert.ok(!stderr.includes("\r") && !stderr.includes(ESC), "no progress line without a terminal");
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(`${dir}/xdg/falconry`))).map((e) => e.name).sort(),
    ["apt", "fetch.lock"],
    "the failed fetch left no work folder",
  );
});

fetchTest("a second fetch says that it waits for the first, naming its pid", async (dir) => {
  const env = await fakeApt(dir);
  const start = (json: boolean) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, "fetch", ...(json ? ["--json"] : [])],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const first = start(false);
  const firstOut = first.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await readUntil(firstOut, "", (t) => t.includes("update "));
  const second = start(false);
  const secondOut = second.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const waitLine = `wait     another fetch (pid ${first.pid}) is running; waiting for it`;
  const text = await readUntil(secondOut, "", (t) => t.includes(waitLine));
  assert.ok(text.includes(waitLine), text);
  await Deno.writeTextFile(`${dir}/go`, "");
  await Promise.all([readUntil(firstOut, "", () => false), readUntil(secondOut, "", () => false)]);
  const [a, b] = await Promise.all([first.status, second.status]);
  await Promise.all([new Response(first.stderr).text(), new Response(second.stderr).text()]);
  assert.equal(a.code, 1);
  assert.equal(b.code, 1, "the second fetched again after the first failed, and failed too");
});
