// Tests of scripts/probe.ts, run as a subprocess over a fixture sysfs tree in
// the kernel's layout (tests/_sysfs_fixture.ts) whose resource0 files hold
// BAR0 images of plausible chips (tests/_probe_fixture.ts): listing (text,
// JSON, empty, default root), probing (text, JSON, PRI errors, a dead
// device), proof that nothing is written and the files are opened read-only,
// the one-line errors, --help and --log-level; and a read-only run on a real
// GPU when FALCONRY_TEST_DEVICE is set.
//
// Tests run as root, and root ignores file modes. To get a real EACCES, and
// to prove the probe opens resource0 and config read-only (an O_RDWR open of
// a 0444 file fails), the subprocess runs under `setpriv` with
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from its bounding set;
// without setpriv those two tests are ignored as skipped. A resource0 that
// is a directory stands for a BAR that cannot be mapped at all.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { listNvidiaGpus } from "../pci/mod.ts";
import { FALCON } from "../registers/mod.ts";
import { type CliRun, runScript } from "./_cli.ts";
import {
  BAR0_SIZE,
  bootedImage,
  GA102_WPR2,
  gh100LockedImage,
  setRegister,
  turingImage,
  writeBar0File,
} from "./_probe_fixture.ts";
import { buildSysfsTree, type FixtureDevice, type SysfsFixture } from "./_sysfs_fixture.ts";

const SCRIPT = new URL("../scripts/probe.ts", import.meta.url).pathname;
const SPEC = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/sysfs/devices.json", import.meta.url)),
) as { devices: FixtureDevice[] };

/** Run the script; `prefix` runs it under another command (setpriv, strace). */
function probe(args: string[], prefix: string[] = []): Promise<CliRun> {
  return runScript(SCRIPT, args, { flags: ["-A", "--no-prompt"], prefix });
}

/** A fixture tree with BAR0 images: TU102 (nouveau), GA102 (vfio-pci), AD102 (nvidia). */
interface Tree extends SysfsFixture {
  resource0(bdf: string): string;
  args(...extra: string[]): string[];
}

function tree(edit?: (devices: FixtureDevice[]) => void): Tree {
  const fixture = buildSysfsTree(edit);
  const resource0 = (bdf: string) => `${fixture.devicePath(bdf)}/resource0`;
  if (fixture.devices.some((d) => d.bdf === "0000:01:00.0" && d.bar0File)) {
    writeBar0File(resource0("0000:01:00.0"), turingImage("tu102"));
    writeBar0File(resource0("0000:02:00.0"), bootedImage("ga102"));
    writeBar0File(resource0("0000:05:00.0"), bootedImage("ad102"));
  }
  return Object.assign(fixture, {
    resource0,
    args: (...extra: string[]) => ["--sysfs-root", fixture.root, ...extra],
  });
}

function sha256(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

/**
 * Exit 1 (2 for a usage error), exactly one `error:` line on stderr, no stack;
 * stdout is empty, or under --json the error as one JSON document.
 */
function assertOneLineError(run: CliRun, ...patterns: RegExp[]): string {
  return assertOneLineErrorWithCode(run, 1, ...patterns);
}

function assertOneLineErrorWithCode(run: CliRun, code: number, ...patterns: RegExp[]): string {
  assert.equal(run.code, code, run.stdout + run.stderr);
  if (run.stdout !== "") assert.ok(JSON.parse(run.stdout).error, run.stdout);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected:\n${run.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.doesNotMatch(run.stderr, /^\s+at /m);
  for (const pattern of patterns) assert.match(lines[0], pattern);
  return lines[0];
}

function commandWorks(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

const isRoot = Deno.uid() === 0;
/** Root without DAC override: file modes apply to it again. */
const DROP_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"];
const canDropDac = !isRoot || commandWorks(DROP_DAC[0], [...DROP_DAC.slice(1), "true"]);
const dacPrefix = isRoot ? DROP_DAC : [];
const dacSkip = canDropDac ? "" : " (skipped: running as root without setpriv)";
const canStrace = commandWorks("strace", ["-f", "-o", "/dev/null", "true"]);
const straceSkip = canStrace ? "" : " (skipped: strace not available)";

const NVIDIA_GPUS = SPEC.devices.filter((d) =>
  d.vendor === "0x10de" && [0x0300, 0x0302].includes(parseInt(d.class, 16) >> 8)
);

Deno.test("--help describes the options, the default sysfs root and exits 0", async () => {
  const run = await probe(["--help"]);
  assert.equal(run.code, 0, run.stderr);
  for (
    const text of [
      "Usage: probe.ts",
      "--device BDF",
      "--sysfs-root DIR",
      "(default: /sys)",
      "--json",
      "--log-level LEVEL",
      "-h, --help",
    ]
  ) assert.ok(run.stdout.includes(text), `help lacks ${text}`);
});

Deno.test("bad options are one-line usage errors", async () => {
  assertOneLineErrorWithCode(await probe(["--log-level", "loud"]), 2, /--log-level loud/);
  assertOneLineErrorWithCode(await probe(["--bogus"]), 2, /bogus/);
  assertOneLineErrorWithCode(await probe(["0000:01:00.0"]), 2, /Unexpected argument/);
});

Deno.test("listing: every NVIDIA GPU function, not the card's other functions nor the AMD GPU", async () => {
  using t = tree();
  const run = await probe(t.args());
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.stdout.trimEnd().split("\n"), [
    "BDF           ID         DRIVER    IOMMU GROUP  BAR0",
    "0000:01:00.0  10de:1e07  nouveau   12           16 MiB",
    "0000:02:00.0  10de:2204  vfio-pci  13           16 MiB",
    "0000:03:00.0  10de:2330  -         14           16 MiB",
    "0000:05:00.0  10de:2684  nvidia    16           16 MiB",
    "0000:06:00.0  10de:1eb8  -         -            16 MiB",
  ]);
});

Deno.test("listing --json: the same GPUs as one document, ids, driver, group and BAR0 from sysfs", async () => {
  using t = tree();
  const run = await probe(t.args("--json"));
  assert.equal(run.code, 0, run.stderr);
  const expected = NVIDIA_GPUS.map((d) => ({
    bdf: d.bdf,
    vendor: d.vendor,
    device: d.device,
    class: `0x${parseInt(d.class, 16).toString(16).padStart(6, "0")}`,
    driver: d.driver,
    iommuGroup: d.iommuGroup,
    numaNode: d.numaNode < 0 ? null : d.numaNode,
    bar0Size: Number(BigInt(d.resources[0][1]) - BigInt(d.resources[0][0]) + 1n),
  }));
  assert.equal(expected.length, 5);
  assert.deepEqual(JSON.parse(run.stdout), expected);
});

Deno.test("listing with no NVIDIA GPU: a line in text, [] in JSON, exit 0", async () => {
  const empty = Deno.makeTempDirSync();
  Deno.mkdirSync(`${empty}/bus/pci/devices`, { recursive: true });
  try {
    const text = await probe(["--sysfs-root", empty]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, `no NVIDIA GPU in ${empty}/bus/pci/devices\n`);
    const json = await probe(["--sysfs-root", empty, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), []);
  } finally {
    Deno.removeSync(empty, { recursive: true });
  }
  using t = tree((devices) => {
    devices.splice(0, devices.length, ...devices.filter((d) => d.vendor !== "0x10de"));
  });
  const json = await probe(t.args("--json"));
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), []);
});

Deno.test("--sysfs-root that is missing, a file or not a sysfs tree fails naming it, exit 1", async () => {
  const dir = Deno.makeTempDirSync();
  const file = `${dir}/file`;
  Deno.writeTextFileSync(file, "");
  try {
    const cases: [string, RegExp][] = [
      [`${dir}/nonexistent`, /no such directory/],
      [file, /not a directory/],
      [dir, /not a sysfs tree/],
    ];
    for (const [root, why] of cases) {
      const text = await probe(["--sysfs-root", root]);
      assert.equal(text.code, 1, text.stderr);
      assert.equal(text.stdout, "");
      assert.match(text.stderr, new RegExp(`--sysfs-root ${root}`));
      assert.match(text.stderr, why);
      assert.doesNotMatch(text.stderr, /no NVIDIA GPU/);
      const json = await probe(["--sysfs-root", root, "--json", "--device", "0000:01:00.0"]);
      assert.equal(json.code, 1, json.stderr);
      assert.notDeepEqual(JSON.parse(json.stdout), []);
      assert.ok(json.stdout.includes(root));
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the default sysfs root is /sys", async () => {
  const run = await probe(["--json"]);
  assert.equal(run.code, 0, run.stderr);
  const listed = JSON.parse(run.stdout) as { bdf: string }[];
  assert.deepEqual(listed.map((g) => g.bdf), (await listNvidiaGpus("/sys")).map((g) => g.bdf));
});

Deno.test("probe GA102 (vfio-pci): chip, decoded falcons, WPR2 and the GSP RISC-V state", async () => {
  using t = tree();
  const run = await probe(t.args("--device", "02:00.0"));
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split("\n");
  assert.match(
    lines[0],
    /^0000:02:00\.0 {2}ga102 \(ampere, family ga10x, .*revision a\.1, driver vfio-pci$/,
  );
  for (
    const expected of [
      "GSP falcon: halted, RISC-V core active, core select RISCV",
      "  0x110100  NV_PFALCON_FALCON_CPUCTL    0x00000010  STARTCPU=0 (FALSE) HALTED=1 (TRUE) ALIAS_EN=0 (FALSE)",
      "  0x111388  NV_PRISCV_RISCV_CPUCTL      0x00000080  HALTED=0 ACTIVE_STAT=1 (ACTIVE)",
      "  0x111668  NV_PRISCV_RISCV_BCR_CTRL    0x00000111  VALID=1 (TRUE) CORE_SELECT=1 (RISCV) BRFETCH=1 (TRUE)",
      "SEC2 falcon: halted, RISC-V core inactive, core select FALCON",
      "  0x840044  NV_PFALCON_FALCON_MAILBOX1  0x5a5a0001",
      "WPR2: set, 0x5f6000000 .. 0x5ff900000 (153 MiB)",
      "GSP RISC-V core: active (GSP.NV_PRISCV_RISCV_CPUCTL.ACTIVE_STAT = 1)",
      "16 registers read, nothing written",
    ]
  ) assert.ok(lines.includes(expected), `missing: ${expected}\n${run.stdout}`);
});

Deno.test("probe --json: one document with the device and the report", async () => {
  using t = tree();
  const run = await probe(t.args("--device", "0000:02:00.0", "--json"));
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(doc.device, {
    bdf: "0000:02:00.0",
    vendor: "0x10de",
    device: "0x2204",
    class: "0x030000",
    driver: "vfio-pci",
    iommuGroup: 13,
    numaNode: 0,
    bar0Size: BAR0_SIZE,
  });
  assert.equal(doc.chip.name, "ga102");
  assert.equal(doc.chip.chipset, "0x172");
  assert.equal(doc.gspRiscvActive, true);
  assert.deepEqual(doc.wpr2.start, `0x${GA102_WPR2.start.toString(16)}`);
  assert.equal(doc.wpr2.status, "set");
  assert.equal(doc.reads, 16);
  const gsp = doc.falcons[0];
  assert.equal(gsp.engine, "GSP");
  assert.equal(gsp.halted, true);
  assert.deepEqual(gsp.registers[1].fields, { STARTCPU: 0, HALTED: 1, ALIAS_EN: 0 });
});

Deno.test("probe TU102 while nouveau owns it, and AD102 while nvidia owns it (read-only is allowed)", async () => {
  using t = tree();
  const tu102 = await probe(t.args("--device", "0000:01:00.0", "--json"));
  assert.equal(tu102.code, 0, tu102.stderr);
  assert.match(tu102.stderr, /reading registers while the kernel's nouveau driver runs the GPU/);
  const doc = JSON.parse(tu102.stdout);
  assert.equal(doc.device.driver, "nouveau");
  assert.equal(doc.chip.name, "tu102");
  const names = doc.falcons[0].registers.map((r: { name: string; address: string }) =>
    `${r.address} ${r.name}`
  );
  assert.ok(names.includes("0x111268 GSP.NV_PRISCV_RISCV_CPUCTL"));
  assert.ok(names.includes("0x111240 GSP.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS"));
  assert.equal(
    doc.falcons[0].riscv.source,
    "GSP.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS.ACTIVE_STAT",
  );
  assert.deepEqual(doc.falcons[0].skipped.map((s: { name: string }) => s.name), [
    "GSP.NV_PRISCV_RISCV_BCR_CTRL",
  ]);
  assert.equal(doc.wpr2.status, "not-set");

  const ad102 = await probe(t.args("--device", "05:00.0", "--log-level", "error"));
  assert.equal(ad102.code, 0, ad102.stderr);
  assert.equal(ad102.stderr, "", "--log-level error hides the driver warning");
  assert.match(ad102.stdout, /^0000:05:00\.0 {2}ad102 \(ada, family ad10x/);
});

Deno.test("probe GH100 before the FSP releases the GSP: the lock is said, not decoded as state", async () => {
  using t = tree();
  writeBar0File(t.resource0("0000:03:00.0"), gh100LockedImage());
  const run = await probe(t.args("--device", "03:00.0"));
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split("\n");
  assert.match(
    lines[0],
    /^0000:03:00\.0 {2}gh100 \(hopper, family gh100, GSP booted through the FSP\)/,
  );
  assert.ok(lines.includes("GSP falcon: state unknown, its registers are locked"), run.stdout);
  assert.ok(lines.some((l) => /^ {2}note: HWCFG2 reads 0: the FSP still holds/.test(l)));
  assert.ok(lines.includes("SEC2 falcon: halted, RISC-V core inactive, core select FALCON"));
  assert.ok(
    lines.includes(
      "  0x8400f4  NV_PFALCON_FALCON_HWCFG2    0x00002400  RISCV=1 (ENABLE) " +
        "RISCV_BR_PRIV_LOCKDOWN=1 (LOCK) (other fields 0)",
    ),
    run.stdout,
  );
  assert.ok(lines.includes("GSP RISC-V core: unknown (GSP registers are locked (see note))"));
});

Deno.test("PRI errors are shown as errors with raw value and no fields, text and JSON", async () => {
  using t = tree();
  const image = setRegister(new Map(), "ga102", FALCON.NV_PFALCON_FALCON_HWCFG2, 0xbadf4100, "GSP");
  writeBar0File(t.resource0("0000:02:00.0"), image);
  const json = await probe(t.args("--device", "02:00.0", "--json"));
  assert.equal(json.code, 0, json.stderr);
  const hwcfg2 = JSON.parse(json.stdout).falcons[0].registers[0];
  assert.deepEqual(Object.keys(hwcfg2), ["name", "address", "status", "raw", "error"]);
  assert.equal(hwcfg2.status, "pri-error");
  assert.equal(hwcfg2.raw, "0xbadf4100");
  assert.match(hwcfg2.error, /^PRI error 0xbadf41 \(FECS_PRI_TARGET_MASK_VIOLATION/);
  const text = await probe(t.args("--device", "02:00.0"));
  assert.match(
    text.stdout,
    /^ {2}0x1100f4 {2}NV_PFALCON_FALCON_HWCFG2 +0xbadf4100 {2}\[pri-error\] PRI error 0xbadf41 /m,
  );
});

Deno.test("a device off the bus (BAR0 all ones): one line naming the device, exit 1", async () => {
  using t = tree();
  writeBar0File(t.resource0("0000:02:00.0"), new Map(), 0xff);
  const line = assertOneLineError(
    await probe(t.args("--device", "02:00.0")),
    /^error: 0000:02:00\.0: NV_PMC_BOOT_0 \(BAR0 0x00000000\) read 0xffffffff: device not responding/,
    /lspci -vv -s 0000:02:00\.0/,
  );
  assert.ok(line.length < 400);
  assertOneLineError(await probe(t.args("--device", "02:00.0", "--json")), /not responding/);
});

Deno.test("probing writes nothing: resource0 and config are byte-for-byte unchanged", async () => {
  using t = tree();
  const files = ["0000:01:00.0", "0000:02:00.0"].flatMap((bdf) => [
    t.resource0(bdf),
    `${t.devicePath(bdf)}/config`,
  ]);
  const before = files.map((f) => [sha256(f), Deno.statSync(f).mtime?.getTime()]);
  for (const bdf of ["0000:01:00.0", "0000:02:00.0"]) {
    const run = await probe(t.args("--device", bdf, "--json"));
    assert.equal(run.code, 0, run.stderr);
  }
  assert.deepEqual(files.map((f) => [sha256(f), Deno.statSync(f).mtime?.getTime()]), before);
});

Deno.test({
  name:
    `resource0 and config are opened O_RDONLY and BAR0 is mapped PROT_READ (strace)${straceSkip}`,
  ignore: !canStrace,
  async fn() {
    using t = tree();
    const log = `${t.root}/strace.log`;
    const run = await probe(
      t.args("--device", "02:00.0", "--json"),
      ["strace", "-f", "-qq", "-e", "trace=openat,open,mmap", "-o", log],
    );
    assert.equal(run.code, 0, run.stderr);
    const trace = Deno.readTextFileSync(log).split("\n");
    const opens = (name: string) =>
      trace.filter((l) => l.includes(`/0000:02:00.0/${name}"`) && /open(at)?\(/.test(l));
    for (const name of ["resource0", "config"]) {
      assert.ok(opens(name).length >= 1, `${name} was not opened:\n${trace.join("\n")}`);
      for (const line of opens(name)) {
        assert.match(line, /O_RDONLY/);
        assert.doesNotMatch(line, /O_RDWR|O_WRONLY|O_CREAT|O_TRUNC/);
      }
    }
    const fd = opens("resource0").map((l) => l.match(/= (\d+)$/)?.[1]).find((n) => n);
    assert.ok(fd, "resource0 open returned a descriptor");
    const maps = trace.filter((l) =>
      l.includes(`mmap(NULL, ${BAR0_SIZE}, `) && l.includes(`, ${fd}, 0)`)
    );
    assert.equal(maps.length, 1, `one mapping of BAR0:\n${maps.join("\n")}`);
    assert.match(maps[0], /PROT_READ, MAP_SHARED/);
    assert.doesNotMatch(maps[0], /PROT_WRITE/);
  },
});

Deno.test({
  name:
    `read-only files suffice: with resource0 and config mode 0444 and no DAC override, the probe works${dacSkip}`,
  ignore: !canDropDac,
  async fn() {
    using t = tree();
    for (const file of [t.resource0("0000:02:00.0"), `${t.devicePath("0000:02:00.0")}/config`]) {
      Deno.chmodSync(file, 0o444);
    }
    const run = await probe(t.args("--device", "02:00.0", "--json"), dacPrefix);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).chip.name, "ga102");
  },
});

Deno.test({
  name:
    `no permission to open resource0: one line naming the device and saying run as root${dacSkip}`,
  ignore: !canDropDac,
  async fn() {
    using t = tree();
    Deno.chmodSync(t.resource0("0000:02:00.0"), 0o000);
    assertOneLineError(
      await probe(t.args("--device", "02:00.0", "--log-level", "error"), dacPrefix),
      /^error: 0000:02:00\.0: cannot open it read-only through sysfs: open .*\/resource0 failed: EACCES/,
      /run the probe as root/,
    );
  },
});

Deno.test("a resource0 that cannot be mapped (a directory): one line, exit 1", async () => {
  using t = tree();
  Deno.removeSync(t.resource0("0000:02:00.0"));
  Deno.mkdirSync(t.resource0("0000:02:00.0"));
  Deno.writeTextFileSync(`${t.resource0("0000:02:00.0")}/not-a-bar`, "x");
  assertOneLineError(
    await probe(t.args("--device", "02:00.0")),
    /^error: 0000:02:00\.0: cannot open it read-only through sysfs: /,
    /resource0/,
  );
});

Deno.test("a missing device, a non-NVIDIA device, a non-GPU function, a bad address: one line each", async () => {
  using t = tree();
  assertOneLineError(
    await probe(t.args("--device", "0000:09:00.0")),
    /^error: 0000:09:00\.0: not found in .*\/bus\/pci\/devices; list GPUs with `lspci -D -d 10de:`/,
  );
  assertOneLineError(
    await probe(t.args("--device", "04:00.0")),
    /^error: 0000:04:00\.0: not an NVIDIA device \(vendor 0x1002\)/,
    /lspci -D -d 10de:/,
  );
  assertOneLineError(
    await probe(t.args("--device", "0000:01:00.1", "--json")),
    /^error: 0000:01:00\.1: an NVIDIA function of class 0x040300, not a GPU/,
  );
  assertOneLineError(await probe(t.args("--device", "1:0.0")), /^error: 1:0\.0: not a PCI address/);
});

Deno.test("--log-level debug shows the probe's reads on stderr, the default does not", async () => {
  using t = tree();
  const quiet = await probe(t.args("--device", "02:00.0"));
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, "");
  const loud = await probe(t.args("--device", "02:00.0", "--log-level", "debug"));
  assert.equal(loud.code, 0, loud.stderr);
  assert.match(
    loud.stderr,
    /falconry·gpu·probe: GSP\.NV_PFALCON_FALCON_CPUCTL @ 0x110100 = 0x00000010/,
  );
  assert.equal(loud.stdout, quiet.stdout);
});

const device = Deno.env.get("FALCONRY_TEST_DEVICE");
const skip = device ? "" : " (skipped: FALCONRY_TEST_DEVICE not set)";

Deno.test({
  name: `hardware: probe lists the GPU and reads it read-only${skip}`,
  ignore: !device,
  async fn() {
    const listing = await probe(["--json"]);
    assert.equal(listing.code, 0, listing.stderr);
    const gpus = JSON.parse(listing.stdout) as { bdf: string }[];
    const run = await probe(["--device", device!, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.ok(gpus.some((g) => g.bdf === doc.device.bdf), "the probed GPU is listed");
    assert.ok(doc.boot.every((r: { status: string }) => r.status === "ok"));
    assert.equal(doc.chip.identifiedAs, doc.chip.name);
    assert.ok(doc.reads >= 14);
  },
});
