// Tests of scripts/regs.ts run as a subprocess: listing (text and JSON),
// lookup by name and by offset, decoding a value, and the one-line errors.

import assert from "node:assert/strict";
import { type CliRun, runScript } from "./_cli.ts";

const SCRIPT = new URL("../scripts/regs.ts", import.meta.url).pathname;

function regs(...args: string[]): Promise<CliRun> {
  return runScript(SCRIPT, args, { flags: ["--no-prompt"] });
}

interface JsonRegister {
  name: string;
  offset: number;
  fields: { name: string; hi: number; lo: number }[];
  value?: number;
  decoded?: Record<string, number>;
}

Deno.test("list: default chip ga102, absolute offsets, one line per engine register", async () => {
  const run = await regs();
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert.ok(lines.length > 80, `${lines.length} lines`);
  for (
    const expected of [
      "0x000a00  NV_PMC_BOOT_42",
      "0x110100  GSP.NV_PFALCON_FALCON_CPUCTL",
      "0x840100  SEC2.NV_PFALCON_FALCON_CPUCTL",
      "0x111388  GSP.NV_PRISCV_RISCV_CPUCTL",
      "0x110c00  NV_PGSP_QUEUE_HEAD(i)  [8 × 8 B]",
      "0x1fa828  NV_PFB_PRI_MMU_WPR2_ADDR_HI",
    ]
  ) assert.ok(lines.includes(expected), `missing: ${expected}`);
  assert.ok(!lines.some((l) => l.includes("FSP.")), "no FSP on ga102");
  const addresses = lines.map((l) => parseInt(l.split(" ")[0], 16));
  assert.deepEqual(addresses, [...addresses].sort((a, b) => a - b));
});

Deno.test("list --chip gh100 has the FSP; --chip tu102 has the Turing variants", async () => {
  const gh100 = await regs("--chip", "gh100");
  assert.equal(gh100.code, 0, gh100.stderr);
  assert.match(gh100.stdout, /^0x8f00f4 {2}FSP\.NV_PFALCON_FALCON_HWCFG2$/m);
  assert.match(gh100.stdout, /^0x8f2c00 {2}FSP\.NV_PFSP_QUEUE_HEAD\(i\) {2}\[8 × 8 B\]$/m);
  assert.match(gh100.stdout, /^0x0200bc {2}NV_THERM_I2CS_SCRATCH$/m);
  const tu102 = await regs("--chip", "TU102");
  assert.equal(tu102.code, 0, tu102.stderr);
  assert.match(tu102.stdout, /^0x111268 {2}GSP\.NV_PRISCV_RISCV_CPUCTL$/m);
  assert.match(tu102.stdout, /^0x021c04 {2}NV_FUSE_STATUS_OPT_DISPLAY$/m);
  assert.doesNotMatch(tu102.stdout, /FSP\.|SEC2\.NV_PFALCON2/);
});

Deno.test("--json list parses and carries name, offset and fields", async () => {
  const run = await regs("--chip", "gb202", "--json");
  assert.equal(run.code, 0, run.stderr);
  const list = JSON.parse(run.stdout) as JsonRegister[];
  assert.ok(Array.isArray(list) && list.length > 80);
  for (const r of list) {
    assert.equal(typeof r.name, "string");
    assert.ok(Number.isInteger(r.offset));
    assert.ok(Array.isArray(r.fields));
  }
  const therm = list.find((r) => r.name === "NV_THERM_I2CS_SCRATCH");
  assert.equal(therm?.offset, 0xad00bc);
  const head = list.find((r) => r.name === "FSP.NV_PFSP_QUEUE_HEAD");
  assert.equal(head?.offset, 0x8f2c00);
  assert.ok(!list.some((r) => r.name === "NV_PFB_NISO_FLUSH_SYSMEM_ADDR"));
});

Deno.test("lookup by name: case-insensitive, with and without engine prefix", async () => {
  const all = await regs("--json", "nv_pfalcon_falcon_cpuctl");
  assert.equal(all.code, 0, all.stderr);
  const hits = JSON.parse(all.stdout) as JsonRegister[];
  assert.deepEqual(hits.map((h) => [h.name, h.offset]), [
    ["GSP.NV_PFALCON_FALCON_CPUCTL", 0x110100],
    ["SEC2.NV_PFALCON_FALCON_CPUCTL", 0x840100],
  ]);
  const one = await regs("sec2.NV_PFALCON_FALCON_CPUCTL");
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /^SEC2\.NV_PFALCON_FALCON_CPUCTL {2}0x840100 /);
  assert.match(one.stdout, /4:4 +HALTED +0x1=TRUE/);
  assert.doesNotMatch(one.stdout, /GSP\./);
  const queue = await regs("--chip", "gh100", "--json", "NV_PFSP_QUEUE_HEAD(1)");
  assert.deepEqual(JSON.parse(queue.stdout).map((h: JsonRegister) => h.offset), [0x8f2c08]);
});

Deno.test("lookup by offset, hex and decimal", async () => {
  const hex = await regs("--chip", "tu102", "0x1438");
  assert.equal(hex.code, 0, hex.stderr);
  assert.match(hex.stdout, /^NV_PBUS_SW_SCRATCH\(14\) {2}0x001438/m);
  assert.match(hex.stdout, /^NV_PBUS_SW_SCRATCH_0E_FRTS_ERR {2}0x001438/m);
  assert.match(hex.stdout, /31:16 +FRTS_ERR_CODE/);
  const dec = await regs("--json", String(0x110100));
  assert.deepEqual(JSON.parse(dec.stdout).map((h: JsonRegister) => h.name), [
    "GSP.NV_PFALCON_FALCON_CPUCTL",
  ]);
});

Deno.test("decode a value: CPUCTL 0x10 is HALTED", async () => {
  const text = await regs("GSP.NV_PFALCON_FALCON_CPUCTL", "0x10");
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /= 0x00000010/);
  assert.match(text.stdout, /4:4 +HALTED += 0x1 \(TRUE\)/);
  assert.match(text.stdout, /1:1 +STARTCPU += 0x0 \(FALSE\)/);
  const json = await regs("--json", "0x110100", "16");
  const [hit] = JSON.parse(json.stdout) as JsonRegister[];
  assert.equal(hit.value, 0x10);
  assert.deepEqual(hit.decoded, { STARTCPU: 0, HALTED: 1, ALIAS_EN: 0 });
  const boot42 = await regs("--json", "NV_PMC_BOOT_42", "0x172a1000");
  const [b] = JSON.parse(boot42.stdout) as JsonRegister[];
  assert.equal(b.decoded?.ARCHITECTURE, 0x17);
  assert.equal(b.decoded?.IMPLEMENTATION, 2);
  assert.equal(b.decoded?.MAJOR_REVISION, 0xa);
});

Deno.test("unknown name or offset: exit 1; unknown chip, bad value or flag: exit 2; one line", async () => {
  for (
    const [code, ...args] of [
      [1, "NV_NOT_A_REGISTER"],
      [1, "0x123456"],
      [1, "--chip", "tu102", "FSP.NV_PFSP_QUEUE_HEAD"],
      [2, "--chip", "nv50"],
      [2, "NV_PMC_BOOT_0", "0x100000000"],
      [2, "--frobnicate"],
    ] as const
  ) {
    const run = await regs(...args);
    assert.equal(run.code, code, `${args.join(" ")}: exit ${run.code}`);
    assert.equal(run.stdout, "", args.join(" "));
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, /^error: /);
  }
});

Deno.test("--help describes the arguments and the default chip", async () => {
  const run = await regs("--help");
  assert.equal(run.code, 0);
  assert.match(
    run.stdout,
    /Usage: regs\.ts \[--chip CHIP\] \[--json\] \[NAME \| OFFSET \[VALUE\]\]/,
  );
  assert.match(run.stdout, /default: ga102/);
  assert.match(run.stdout, /--log-level/);
});

Deno.test("engine-prefixed and short names: GSP.CPUCTL, SEC2.CPUCTL, SCRATCH(14)", async () => {
  const expected: [string, string, number][] = [
    ["GSP.CPUCTL", "GSP.NV_PFALCON_FALCON_CPUCTL", 0x110100],
    ["SEC2.CPUCTL", "SEC2.NV_PFALCON_FALCON_CPUCTL", 0x840100],
    ["gsp.riscv_cpuctl", "GSP.NV_PRISCV_RISCV_CPUCTL", 0x111388],
    ["SCRATCH(14)", "NV_PBUS_SW_SCRATCH(14)", 0x1438],
    ["SW_SCRATCH(0xe)", "NV_PBUS_SW_SCRATCH(14)", 0x1438],
    ["BOOT_42", "NV_PMC_BOOT_42", 0xa00],
  ];
  for (const [query, name, offset] of expected) {
    const run = await regs("--json", query);
    assert.equal(run.code, 0, `${query}: ${run.stderr}`);
    const hits = JSON.parse(run.stdout) as JsonRegister[];
    assert.deepEqual(hits.map((h) => [h.name, h.offset]), [[name, offset]], query);
  }
});

Deno.test("an index past the array says so, with the range", async () => {
  const run = await regs("NV_PBUS_SW_SCRATCH(64)");
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: NV_PBUS_SW_SCRATCH: index 64 out of range \(0\.\.63\)\n$/);
  const plain = await regs("NV_PMC_BOOT_42(1)");
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /NV_PMC_BOOT_42 is not an array/);
});

Deno.test("a negative value is refused as negative, not as 'not a number'", async () => {
  for (const value of ["-1", "-0x10"]) {
    const run = await regs("CPUCTL", "--", value);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`value ${value} is negative; give a 32-bit value`));
    assert.doesNotMatch(run.stderr, /not a number/);
  }
});

Deno.test("a miss suggests the closest names", async () => {
  const run = await regs("CPUCTLL");
  assert.equal(run.code, 1);
  assert.match(run.stderr, /no register CPUCTLL on ga102; did you mean GSP\.CPUCTL, SEC2\.CPUCTL/);
  const typo = await regs("NV_PMC_BOOT_24");
  assert.match(typo.stderr, /did you mean .*NV_PMC_BOOT_42/);
  const engine = await regs("--chip", "ga102", "FSP.QUEUE_HEAD");
  assert.equal(engine.code, 1);
  assert.match(engine.stderr, /no register FSP\.QUEUE_HEAD on FSP on ga102/);
});
