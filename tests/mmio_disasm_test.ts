/**
 * Proof, from the machine code V8 runs, that `MappedMmio.write32` is one
 * plain 32-bit store: no `xchg`, no `lock` prefix, no `mfence` anywhere on
 * its path, and a `mov` of a 32-bit register to memory.
 *
 * A child Deno process runs `pci/mmio.ts` with `--perf-basic-prof`, calls
 * `write32` until V8's optimizing compiler (TurboFan, marked `*` in the perf
 * map) has compiled it, then prints `ready` and idles. This test finds the
 * code in `/tmp/perf-<pid>.map`, disassembles it with `gdb -p <pid> -batch
 * -ex "x/<n>i <address>"`, and disassembles the targets of its direct calls
 * and outward jumps (builtins such as `DoubleToI` or `AtomicsStore`) one level
 * deep. Register-indirect calls are not followed: in optimized code they go
 * through the isolate's builtin table (`call *-0x28(%r13)`), which holds the
 * deoptimization exits; they are logged.
 *
 * Controls in the same child prove that the method can see what it looks
 * for: a function calling `Atomics.store` does show an `xchg`, and
 * `writeBarrier` does show a `lock`-prefixed instruction. `read32`
 * (`Atomics.load`) must be free of locked instructions too.
 *
 * Runs on Linux x86-64 when gdb is installed and may attach to a child
 * (ptrace); otherwise it is ignored, with the reason in its name.
 *
 * @module
 */

import assert from "node:assert/strict";

const MMIO_URL = new URL("../pci/mmio.ts", import.meta.url).href;
/** Bounds on every wait, so a broken environment fails rather than hangs. */
const READY_TIMEOUT_MS = 60_000;
const GDB_TIMEOUT_MS = 60_000;

/** The functions the child warms up, by the name the perf map gives their code. */
const WARMED = ["write32", "read32", "writeBarrier", "atomicsStoreWrite32"] as const;
type Warmed = typeof WARMED[number];

/**
 * The child: warms the functions from a caller that V8 never optimizes, so
 * each of them gets optimized code of its own instead of being inlined, then
 * reports and idles (exiting by itself after two minutes, should the test
 * die without killing it).
 */
function childScript(): string {
  return `
import { MappedMmio, writeBarrier } from ${JSON.stringify(MMIO_URL)};
const neverOptimize = new Function("f", "%NeverOptimizeFunction(f)");
const bar0 = new MappedMmio(new ArrayBuffer(0x1000), { name: "warm-up BAR" });
const plain = new Uint32Array(0x400);
// The control: write32's shape, with the Atomics.store it used to have.
function atomicsStoreWrite32(offset, value) {
  Atomics.store(plain, offset >>> 2, value);
}
function warm(rounds) {
  let x = 0;
  for (let i = 0; i < rounds; i++) {
    const offset = (i & 0x3ff) << 2;
    const value = (i & 1) ? (i * 0x9e3779b1) >>> 0 : i & 0x7fffffff; // ≥ 2^31 as well
    bar0.write32(offset, value);
    atomicsStoreWrite32(offset, value);
    x ^= bar0.read32(offset);
    if ((i & 0xff) === 0) writeBarrier();
  }
  return x;
}
neverOptimize(warm);
const map = "/tmp/perf-" + Deno.pid + ".map";
const wanted = ${JSON.stringify(WARMED)}.map((name) => " JS:*" + name + " ");
const start = performance.now();
for (;;) {
  warm(20000);
  const text = Deno.readTextFileSync(map).replaceAll(":*'", ":*");
  if (wanted.every((entry) => text.includes(entry))) break;
  if (performance.now() - start > ${READY_TIMEOUT_MS / 2}) {
    console.log("not optimized: " + wanted.filter((entry) => !text.includes(entry)).join(","));
    Deno.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
console.log("ready");
setTimeout(() => Deno.exit(0), 120_000);
`;
}

async function run(command: string, args: string[]): Promise<Deno.CommandOutput | null> {
  try {
    return await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Why the test cannot run here, or null when it can. */
async function skipReason(): Promise<string | null> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return `needs Linux on x86-64, this is ${Deno.build.os} on ${Deno.build.arch}`;
  }
  for (const name of ["run", "read", "write"] as const) {
    if (Deno.permissions.querySync({ name }).state !== "granted") return `needs --allow-${name}`;
  }
  const version = await run("gdb", ["--version"]);
  if (!version?.success) return "gdb is not installed";
  try {
    if (Deno.readTextFileSync("/proc/sys/kernel/yama/ptrace_scope").trim() === "3") {
      return "ptrace is disabled (kernel.yama.ptrace_scope is 3)";
    }
  } catch {
    // No Yama: the attach below decides.
  }
  // The scope may still forbid attaching to a sibling (scope 1 or 2 without
  // CAP_SYS_PTRACE), and a container may filter ptrace: try it.
  const sleeper = new Deno.Command(Deno.execPath(), {
    args: ["eval", "setTimeout(() => {}, 30_000)"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const probe = await run("gdb", [
      "-nx",
      "-batch",
      "-p",
      String(sleeper.pid),
      "-ex",
      "info registers rip",
    ]);
    const text = new TextDecoder().decode(probe!.stdout);
    if (!/^rip\s/m.test(text)) {
      const why = new TextDecoder().decode(probe!.stderr).match(/ptrace: [^\n]*/)?.[0];
      return `gdb cannot attach to a child process${why ? ` (${why.trim()})` : ""}`;
    }
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
  return null;
}

interface CodeEntry {
  start: bigint;
  size: bigint;
  name: string;
}

function parsePerfMap(text: string): CodeEntry[] {
  const entries: CodeEntry[] = [];
  for (const line of text.split("\n")) {
    const m = line.match(/^([0-9a-f]+) ([0-9a-f]+) (.*)$/);
    if (m) entries.push({ start: BigInt(`0x${m[1]}`), size: BigInt(`0x${m[2]}`), name: m[3] });
  }
  return entries;
}

/**
 * The newest TurboFan code of a JS function. This V8 writes
 * `JS:*'name file:line:column` (`*` TurboFan, `+` Maglev, `^` Sparkplug,
 * `~` interpreted; `'` context-specialized); older ones wrote `LazyCompile:`.
 */
function optimizedCode(entries: CodeEntry[], name: string): CodeEntry | undefined {
  const pattern = new RegExp(`^(?:JS|LazyCompile|Function):\\*'?${name}(?: |$)`);
  return entries.findLast((entry) => pattern.test(entry.name));
}

function entryAt(entries: CodeEntry[], address: bigint): CodeEntry | undefined {
  return entries.findLast((e) => e.start <= address && address < e.start + e.size);
}

interface Instruction {
  address: bigint;
  text: string;
}

const hex = (n: bigint) => `0x${n.toString(16)}`;

/**
 * Disassemble several code ranges in one gdb attach. Each range is read with
 * `x/<size>i` (an instruction is at least one byte) and cut at its end.
 */
async function disassemble(pid: number, ranges: CodeEntry[]): Promise<Instruction[][]> {
  const args = ["-nx", "-batch", "-p", String(pid)];
  ranges.forEach((range, i) => {
    args.push("-ex", `echo ==range ${i}==\\n`, "-ex", `x/${range.size}i ${hex(range.start)}`);
  });
  const gdb = new Deno.Command("gdb", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(GDB_TIMEOUT_MS),
  });
  const out = await gdb.output();
  const text = new TextDecoder().decode(out.stdout);
  const sections = text.split(/^==range (\d+)==$/m);
  const result: Instruction[][] = ranges.map(() => []);
  for (let i = 1; i < sections.length; i += 2) {
    const index = Number(sections[i]);
    const { start, size } = ranges[index];
    for (const line of sections[i + 1].split("\n")) {
      const m = line.match(/^\s*(?:=>\s*)?0x([0-9a-f]+)(?:\s+<[^>]*>)?:\s+(.*)$/);
      if (!m) continue;
      const address = BigInt(`0x${m[1]}`);
      if (address >= start && address < start + size) {
        result[index].push({ address, text: m[2].trim().replace(/\s+/g, " ") });
      }
    }
  }
  ranges.forEach((range, i) => {
    const last = result[i].at(-1)?.address ?? -1n;
    // x86 instructions are at most 15 bytes: the last one must start near the end.
    assert.ok(
      last >= range.start + range.size - 15n,
      `gdb did not disassemble ${range.name} at ${hex(range.start)} to its end (${
        hex(range.size)
      } bytes):\n${new TextDecoder().decode(out.stderr).slice(0, 2000)}`,
    );
  });
  return result;
}

/** A locked or fencing instruction: what must never touch a BAR. */
function hazard(text: string): boolean {
  if (/^lock\b/.test(text) || /^mfence\b/.test(text)) return true;
  // `xchg %ax,%ax` is the two-byte NOP (66 90) that pads code; every other xchg locks.
  return /^xchg\w*\s/.test(text) && !/^xchg\w*\s+%ax,%ax$/.test(text);
}

/** A store of a 32-bit register (or immediate) to memory not on the stack. */
function plainStore32(text: string): boolean {
  const m = text.match(/^movl?\s+(%e[a-z]{2}|%r\d+d|\$-?0x[0-9a-f]+),(.*\))$/);
  return m !== null && !/\(%r[sb]p[,)]/.test(m[2]);
}

interface CodePath {
  /** The function's code and every builtin it calls or jumps to, one level deep. */
  blocks: { entry: CodeEntry; instructions: Instruction[] }[];
  /** Register-indirect calls, which are not followed. */
  indirect: string[];
}

async function codePaths(
  pid: number,
  entries: CodeEntry[],
  roots: CodeEntry[],
): Promise<CodePath[]> {
  const rootCode = await disassemble(pid, roots);
  const targets = new Map<bigint, CodeEntry>();
  const followed = rootCode.map((instructions, i) => {
    const { start, size } = roots[i];
    const found: CodeEntry[] = [];
    const indirect: string[] = [];
    for (const { text } of instructions) {
      const branch = text.match(/^(call|jmp)\w*\s+(\*?)(.*)$/);
      if (!branch) continue;
      const direct = branch[3].match(/^0x([0-9a-f]+)/);
      if (branch[2] === "*" || !direct) {
        if (branch[1] === "call") indirect.push(text);
        continue;
      }
      const target = BigInt(`0x${direct[1]}`);
      if (target >= start && target < start + size) continue; // a branch inside the function
      const entry = entryAt(entries, target) ??
        { start: target, size: 256n, name: `unnamed code at ${hex(target)}` };
      if (!found.some((e) => e.start === entry.start)) found.push(entry);
      targets.set(entry.start, entry);
    }
    return { found, indirect };
  });
  const calleeList = [...targets.values()];
  const calleeCode = calleeList.length ? await disassemble(pid, calleeList) : [];
  const codeOf = new Map(calleeList.map((entry, i) => [entry.start, calleeCode[i]]));
  return roots.map((root, i) => ({
    blocks: [
      { entry: root, instructions: rootCode[i] },
      ...followed[i].found.map((entry) => ({ entry, instructions: codeOf.get(entry.start)! })),
    ],
    indirect: followed[i].indirect,
  }));
}

function hazards(path: CodePath): string[] {
  return path.blocks.flatMap(({ entry, instructions }) =>
    instructions.filter((i) => hazard(i.text)).map((i) =>
      `${entry.name} ${hex(i.address)}: ${i.text}`
    )
  );
}

/** Read lines from the child until `ready`, or fail with what it printed. */
async function waitForReady(child: Deno.ChildProcess): Promise<void> {
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the child did not report optimized code in ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([lines.read(), timeout]);
      if (done) throw new Error(`the child exited before it was ready: ${seen.trim()}`);
      seen += value;
      if (/^ready$/m.test(seen)) return;
    }
  } finally {
    clearTimeout(timer);
    await lines.cancel();
  }
}

const reason = await skipReason();
const name = "write32 compiles to one plain 32-bit store: no xchg, lock or mfence on its path";

Deno.test({
  name: reason ? `${name} (skipped: ${reason})` : name,
  ignore: reason !== null,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "mmio-disasm-" });
    const script = `${dir}/warm.js`;
    Deno.writeTextFileSync(script, childScript());
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        "--allow-read=/tmp",
        "--v8-flags=--perf-basic-prof,--allow-natives-syntax",
        script,
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const mapPath = `/tmp/perf-${child.pid}.map`;
    try {
      try {
        await waitForReady(child);
      } catch (e) {
        child.kill("SIGKILL");
        throw new Error(`${(e as Error).message}\n${(await stderr).slice(0, 2000)}`);
      }
      const entries = parsePerfMap(Deno.readTextFileSync(mapPath));
      const roots = WARMED.map((fn: Warmed) => {
        const code = optimizedCode(entries, fn);
        assert.ok(code, `no TurboFan code for ${fn} in ${mapPath}`);
        return code;
      });
      const [write32, read32, barrier, control] = await codePaths(child.pid, entries, roots);

      for (const [label, path] of [["write32", write32], ["read32", read32]] as const) {
        console.log(
          `${label}: ${
            path.blocks.map((b) => `${b.entry.name.split(" ")[0]} (${b.instructions.length})`).join(
              ", ",
            )
          }; ` +
            `not followed: ${path.indirect.length} indirect calls (${
              [...new Set(path.indirect)].join(", ")
            })`,
        );
      }
      assert.deepEqual(hazards(write32), [], "a locked or fencing instruction on write32's path");
      const stores = write32.blocks[0].instructions.filter((i) => plainStore32(i.text));
      assert.ok(
        stores.length >= 1,
        `no 32-bit store to memory in write32's code:\n${
          write32.blocks[0].instructions.map((i) => i.text).join("\n")
        }`,
      );
      console.log(`write32 stores with: ${stores.map((s) => s.text).join("; ")}`);
      assert.deepEqual(hazards(read32), [], "a locked or fencing instruction on read32's path");

      // The controls: the same method does see these instructions where they are.
      assert.ok(
        hazards(control).some((h) => /: xchg\w*\s+%\w+,.*\)$/.test(h)),
        `the Atomics.store control shows no xchg with memory: the method is blind\n${
          hazards(control).join("\n")
        }`,
      );
      assert.ok(
        hazards(barrier).some((h) => /: lock /.test(h)),
        "writeBarrier shows no lock-prefixed instruction: it is no barrier",
      );
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
      await stderr;
      Deno.removeSync(dir, { recursive: true });
      try {
        Deno.removeSync(mapPath);
      } catch {
        // never written
      }
    }
  },
});
