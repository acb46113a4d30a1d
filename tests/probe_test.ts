// Tests of gpu/probe.ts: which registers the probe reads on each chip (the
// allowlist resolved by the tables, each once, never a write), how it decodes
// them, how it reports PRI errors and dead reads, WPR2, the GSP RISC-V state,
// and a read-only run on a real GPU when FALCONRY_TEST_DEVICE is set.

import assert from "node:assert/strict";
import { chipByName } from "../chips/chips.ts";
import { ChipNotRespondingError, UnsupportedChipError } from "../gpu/identify.ts";
import {
  PROBE_ALLOWLIST,
  probeDevice,
  type ProbeReport,
  type RegisterReading,
} from "../gpu/probe.ts";
import { openDevice } from "../pci/open.ts";
import {
  addressOf,
  describePriError,
  FALCON,
  FALCON2,
  isPriError,
  PFB,
  PMC,
} from "../registers/mod.ts";
import {
  bootedImage,
  fakeBar0,
  GA102_WPR2,
  gh100LockedImage,
  setRegister,
  turingImage,
} from "./_probe_fixture.ts";

const hex = (n: number) => `0x${n.toString(16)}`;

function reading(report: ProbeReport, name: string): RegisterReading {
  const all = [
    ...report.boot,
    ...report.falcons.flatMap((f) => f.registers),
    ...report.wpr2.registers,
  ];
  const found = all.find((r) => r.name === name);
  assert.ok(found, `${name} was not read; read: ${all.map((r) => r.name).join(", ")}`);
  return found;
}

function falcon(report: ProbeReport, engine: string) {
  const found = report.falcons.find((f) => f.engine === engine);
  assert.ok(found, `no ${engine} in the report`);
  return found;
}

Deno.test("GA102: reads exactly the published addresses of the allowlist, each once, no write", () => {
  const bar0 = fakeBar0(bootedImage("ga102"));
  const report = probeDevice(bar0);
  // Published addresses (NVIDIA dev_*.h): BOOT_0/42, GSP falcon 0x110000 + HWCFG2 0xf4,
  // CPUCTL 0x100, MAILBOX0/1 0x40/0x44, falcon2 0x111000 + RISC-V CPUCTL 0x388, BCR_CTRL
  // 0x668; SEC2 at 0x840000/0x841000; WPR2 LO/HI 0x1fa824/0x1fa828.
  assert.deepEqual(bar0.reads.map(hex), [
    "0x0",
    "0xa00",
    "0x1100f4",
    "0x110100",
    "0x110040",
    "0x110044",
    "0x111388",
    "0x111668",
    "0x8400f4",
    "0x840100",
    "0x840040",
    "0x840044",
    "0x841388",
    "0x841668",
    "0x1fa824",
    "0x1fa828",
  ]);
  assert.equal(bar0.writes, 0);
  assert.equal(report.reads, 16);
  // and the same addresses the catalogue gives for every entry that exists on ga102
  const expected = PROBE_ALLOWLIST.flatMap(({ register, engine }) => {
    try {
      return [addressOf(register, "ga102", { engine })];
    } catch {
      return [];
    }
  });
  assert.deepEqual(bar0.reads, expected);
});

Deno.test("GA102: chip, falcon fields, BCR core select, RISC-V active and WPR2 are decoded", () => {
  const report = probeDevice(fakeBar0(bootedImage("ga102")));
  assert.deepEqual(report.chip, {
    name: "ga102",
    arch: "ampere",
    family: "ga10x",
    bootPath: "sec2",
    identifiedAs: "ga102",
    chipset: "0x172",
    revision: "a.1",
  });
  assert.deepEqual(report.boot.map((r) => r.raw), ["0x172000a1", "0x172a1000"]);
  assert.equal(reading(report, "NV_PMC_BOOT_42").fields?.ARCHITECTURE, 0x17);
  assert.equal(reading(report, "NV_PMC_BOOT_42").meanings?.ARCHITECTURE, "GA100");

  const cpuctl = reading(report, "GSP.NV_PFALCON_FALCON_CPUCTL");
  assert.deepEqual(cpuctl, {
    name: "GSP.NV_PFALCON_FALCON_CPUCTL",
    address: "0x110100",
    status: "ok",
    raw: "0x00000010",
    fields: { STARTCPU: 0, HALTED: 1, ALIAS_EN: 0 },
    meanings: { STARTCPU: "FALSE", HALTED: "TRUE", ALIAS_EN: "FALSE" },
  });
  assert.deepEqual(reading(report, "GSP.NV_PFALCON_FALCON_HWCFG2").fields, {
    RISCV: 1,
    MEM_SCRUBBING: 0,
    RESET_READY: 0,
  });
  assert.equal(reading(report, "SEC2.NV_PFALCON_FALCON_MAILBOX1").raw, "0x5a5a0001");

  const gsp = falcon(report, "GSP");
  assert.equal(gsp.halted, true);
  assert.equal(gsp.coreSelect, "RISCV");
  assert.deepEqual(gsp.riscv, { active: true, source: "GSP.NV_PRISCV_RISCV_CPUCTL.ACTIVE_STAT" });
  assert.deepEqual(gsp.skipped, [{
    name: "GSP.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS",
    reason: "not in the register tables for ga10x (only tu10x, tu11x, ga100)",
  }]);
  const sec2 = falcon(report, "SEC2");
  assert.equal(sec2.coreSelect, "FALCON");
  assert.equal(sec2.riscv.active, false);
  assert.equal(report.gspRiscvActive, true);

  assert.equal(report.wpr2.status, "set");
  assert.equal(report.wpr2.start, hex(GA102_WPR2.start));
  assert.equal(report.wpr2.end, hex(GA102_WPR2.end));
  assert.equal(report.wpr2.size, GA102_WPR2.end - GA102_WPR2.start);
  assert.deepEqual(report.wpr2.registers.map((r) => r.raw), ["0x05f60000", "0x05ff9000"]);
});

Deno.test("TU102: RISC-V CPUCTL at falcon2+0x268 without fields, active from CORE_SWITCH at 0x240", () => {
  const bar0 = fakeBar0(turingImage("tu102"));
  const report = probeDevice(bar0);
  assert.equal(report.chip.name, "tu102");
  assert.ok(bar0.reads.includes(0x111268), "RISC-V CPUCTL read at 0x111268");
  assert.ok(bar0.reads.includes(0x111240), "CORE_SWITCH_RISCV_STATUS read at 0x111240");
  for (const never of [0x111388, 0x111668, 0x841388, 0x841668, 0x841240]) {
    assert.ok(!bar0.reads.includes(never), `${hex(never)} must not be read on TU102`);
  }
  assert.equal(bar0.reads.length, 14);
  assert.equal(new Set(bar0.reads).size, 14, "no register read twice");
  assert.equal(bar0.writes, 0);

  const riscvCpuctl = reading(report, "GSP.NV_PRISCV_RISCV_CPUCTL");
  assert.deepEqual(riscvCpuctl, {
    name: "GSP.NV_PRISCV_RISCV_CPUCTL",
    address: "0x111268",
    status: "ok",
    raw: "0x00000090",
    fields: {},
  });
  const gsp = falcon(report, "GSP");
  assert.deepEqual(gsp.riscv, {
    active: true,
    source: "GSP.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS.ACTIVE_STAT",
  });
  assert.equal(gsp.coreSelect, null);
  assert.deepEqual(gsp.skipped, [{
    name: "GSP.NV_PRISCV_RISCV_BCR_CTRL",
    reason: "not in the register tables for tu10x (only ga10x, ad10x, gh100, gb10x, gb20x)",
  }]);
  const sec2 = falcon(report, "SEC2");
  assert.deepEqual(sec2.skipped.map((s) => [s.name, s.reason]), [
    ["SEC2.NV_PRISCV_RISCV_CPUCTL", "SEC2 has no falcon2 block on tu10x"],
    ["SEC2.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS", "only GSP has it"],
    [
      "SEC2.NV_PRISCV_RISCV_BCR_CTRL",
      "not in the register tables for tu10x (only ga10x, ad10x, gh100, gb10x, gb20x)",
    ],
  ]);
  assert.equal(sec2.riscv.active, null);
  assert.match(sec2.riscv.reason ?? "", /no RISC-V status register is published for SEC2 on tu10x/);
  assert.equal(report.gspRiscvActive, true);
  assert.deepEqual(report.wpr2, {
    status: "not-set",
    registers: report.wpr2.registers,
  });
  assert.deepEqual(reading(report, "GSP.NV_PFALCON_FALCON_MAILBOX0").fields, { DATA: 0x12345678 });
});

Deno.test("GA100: no RISC-V CPUCTL in the tables; CORE_SWITCH_RISCV_STATUS says inactive", () => {
  const image = new Map<number, number>();
  setRegister(image, "ga100", PMC.NV_PMC_BOOT_0, 0x170000a1);
  setRegister(image, "ga100", PMC.NV_PMC_BOOT_42, {
    ARCHITECTURE: 0x17,
    IMPLEMENTATION: 0,
    MAJOR_REVISION: 0xa,
    MINOR_REVISION: 1,
  });
  const bar0 = fakeBar0(image);
  const report = probeDevice(bar0);
  assert.equal(report.chip.name, "ga100");
  assert.ok(bar0.reads.includes(0x111240));
  assert.ok(!bar0.reads.includes(0x111388) && !bar0.reads.includes(0x111268));
  const gsp = falcon(report, "GSP");
  assert.ok(gsp.skipped.some((s) => s.name === "GSP.NV_PRISCV_RISCV_CPUCTL"));
  assert.deepEqual(gsp.riscv, {
    active: false,
    source: "GSP.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS.ACTIVE_STAT",
  });
});

Deno.test("GH100: GH100 field layouts, and a GSP HWCFG2 of 0 is flagged as the FSP's lock", () => {
  const bar0 = fakeBar0(gh100LockedImage());
  const report = probeDevice(bar0);
  assert.equal(report.chip.name, "gh100");
  assert.equal(report.chip.bootPath, "fsp");
  const sec2Hwcfg2 = reading(report, "SEC2.NV_PFALCON_FALCON_HWCFG2");
  assert.equal(sec2Hwcfg2.fields?.RISCV_BR_PRIV_LOCKDOWN, 1);
  assert.equal(sec2Hwcfg2.meanings?.RISCV_BR_PRIV_LOCKDOWN, "LOCK");
  assert.deepEqual(Object.keys(reading(report, "GSP.NV_PRISCV_RISCV_CPUCTL").fields ?? {}), [
    "STARTCPU",
    "HALTED",
    "STOPPED",
    "ACTIVE_STAT",
  ]);
  assert.ok(bar0.reads.includes(0x111388) && bar0.reads.includes(0x111668));
  const gsp = falcon(report, "GSP");
  assert.match(gsp.note ?? "", /FSP still holds the GSP's PRIV target mask/);
  assert.deepEqual([gsp.halted, gsp.riscv.active, gsp.coreSelect], [null, null, null]);
  assert.equal(report.gspRiscvActive, null, "a locked GSP says nothing about its RISC-V core");
  const sec2 = falcon(report, "SEC2");
  assert.equal(sec2.note, undefined);
  assert.equal(sec2.halted, true);
});

Deno.test("PRI errors are reported as errors with the code named, never decoded as fields", () => {
  const image = bootedImage("ga102");
  setRegister(image, "ga102", FALCON.NV_PFALCON_FALCON_HWCFG2, 0xbadf4100, "GSP");
  setRegister(image, "ga102", FALCON2.NV_PRISCV_RISCV_CPUCTL, 0xbadf5102, "GSP");
  setRegister(image, "ga102", FALCON.NV_PFALCON_FALCON_MAILBOX0, 0xbad00100, "SEC2");
  const report = probeDevice(fakeBar0(image));
  assert.deepEqual(reading(report, "GSP.NV_PFALCON_FALCON_HWCFG2"), {
    name: "GSP.NV_PFALCON_FALCON_HWCFG2",
    address: "0x1100f4",
    status: "pri-error",
    raw: "0xbadf4100",
    error: "PRI error 0xbadf41 (FECS_PRI_TARGET_MASK_VIOLATION: access to this engine is blocked " +
      "(on Hopper/Blackwell the FSP still holds the GSP's PRIV target mask)), detail 0x00",
  });
  const riscv = reading(report, "GSP.NV_PRISCV_RISCV_CPUCTL");
  assert.equal(riscv.status, "pri-error");
  assert.equal(riscv.fields, undefined);
  assert.match(
    riscv.error ?? "",
    /0xbadf51 \(FECS_PRI_CLIENT_PRIV_LEVEL_VIOLATION: priv level violation.*detail 0x02$/,
  );
  assert.equal(report.gspRiscvActive, null);
  assert.deepEqual(falcon(report, "GSP").riscv, {
    active: null,
    source: "GSP.NV_PRISCV_RISCV_CPUCTL.ACTIVE_STAT",
    reason: "GSP.NV_PRISCV_RISCV_CPUCTL read 0xbadf5102",
  });
  const mailbox = reading(report, "SEC2.NV_PFALCON_FALCON_MAILBOX0");
  assert.equal(mailbox.status, "pri-error");
  assert.match(mailbox.error ?? "", /HOST_PRI_TIMEOUT/);
  // the rest is still decoded
  assert.equal(falcon(report, "GSP").halted, true);
  assert.equal(report.wpr2.status, "set");
});

Deno.test("all-ones reads are reported as no response; WPR2 and halted become unknown", () => {
  const image = bootedImage("ga102");
  setRegister(image, "ga102", FALCON.NV_PFALCON_FALCON_CPUCTL, 0xffffffff, "SEC2");
  setRegister(image, "ga102", PFB.NV_PFB_PRI_MMU_WPR2_ADDR_HI, 0xffffffff);
  const report = probeDevice(fakeBar0(image));
  const cpuctl = reading(report, "SEC2.NV_PFALCON_FALCON_CPUCTL");
  assert.equal(cpuctl.status, "no-response");
  assert.equal(cpuctl.raw, "0xffffffff");
  assert.equal(cpuctl.fields, undefined);
  assert.match(cpuctl.error ?? "", /fell off the bus or is in reset/);
  assert.equal(falcon(report, "SEC2").halted, null);
  assert.equal(report.wpr2.status, "unreadable");
  assert.equal(report.wpr2.reason, "NV_PFB_PRI_MMU_WPR2_ADDR_HI read 0xffffffff");
  assert.equal(report.wpr2.start, undefined);
});

Deno.test("a device off the bus: BOOT_0 all ones throws after one read", () => {
  const bar0 = fakeBar0(new Map(), 0xffffffff);
  assert.throws(() => probeDevice(bar0), (e: unknown) => {
    assert.ok(e instanceof ChipNotRespondingError);
    assert.match(e.message, /NV_PMC_BOOT_0 .* read 0xffffffff: device not responding/);
    return true;
  });
  assert.deepEqual(bar0.reads, [0]);
  assert.equal(bar0.writes, 0);
});

Deno.test("BOOT_42 with a PRI error throws after two reads, naming the register", () => {
  const image = bootedImage("ga102");
  setRegister(image, "ga102", PMC.NV_PMC_BOOT_42, 0xbadf1000);
  const bar0 = fakeBar0(image);
  assert.throws(() => probeDevice(bar0), (e: unknown) => {
    assert.ok(e instanceof ChipNotRespondingError);
    assert.match(e.message, /NV_PMC_BOOT_42 .* read 0xbadf1000: PRI error/);
    return true;
  });
  assert.deepEqual(bar0.reads, [0, 0xa00]);
});

Deno.test("an unknown chip is refused, unless the caller names the chip to resolve for", () => {
  const image = bootedImage("ga102");
  setRegister(image, "ga102", PMC.NV_PMC_BOOT_42, {
    ARCHITECTURE: 0x1b,
    IMPLEMENTATION: 0xe,
    MAJOR_REVISION: 0xa,
    MINOR_REVISION: 1,
  });
  const refused = fakeBar0(image);
  assert.throws(() => probeDevice(refused), UnsupportedChipError);
  assert.deepEqual(refused.reads, [0, 0xa00], "nothing read past identification");

  const report = probeDevice(fakeBar0(image), "ga102");
  assert.equal(report.chip.name, "ga102");
  assert.equal(report.chip.identifiedAs, null);
  assert.equal(report.chip.chipset, "0x1be");
  assert.match(report.chip.note ?? "", /unknown blackwell-gb20x chipset 0x1be/);
  assert.equal(report.gspRiscvActive, true);
  assert.throws(() => probeDevice(fakeBar0(image), "nv50"), /unknown chip "nv50"/);
});

Deno.test("registers beyond a small BAR are skipped, not read", () => {
  const bar0 = fakeBar0(bootedImage("ga102"), 0, 0x200000);
  const report = probeDevice(bar0);
  assert.ok(bar0.reads.every((offset) => offset < 0x200000));
  assert.ok(!bar0.reads.some((offset) => offset >= 0x840000), "no SEC2 read");
  assert.deepEqual(falcon(report, "SEC2").skipped.map((s) => s.reason).slice(0, 2), [
    "0x8400f4 is outside BAR0",
    "0x840100 is outside BAR0",
  ]);
  assert.equal(report.wpr2.status, "set", "WPR2 at 0x1fa824 fits in 2 MiB");
  assert.throws(() => probeDevice(fakeBar0(new Map(), 0, 0x800)), /BAR0 is too small/);
});

Deno.test("the report is plain JSON: it survives a JSON round trip unchanged", () => {
  for (const image of [bootedImage("ga102"), turingImage("tu102"), gh100LockedImage()]) {
    const report = probeDevice(fakeBar0(image));
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  }
});

Deno.test("every allowlisted register is a status register: no write path is ever taken", () => {
  // The probe gets an object whose only callable member is read32; anything else throws.
  for (const chip of ["tu102", "ga102", "ad102"]) {
    const image = chip === "tu102" ? turingImage(chip) : bootedImage(chip);
    const fake = fakeBar0(image);
    const guarded = new Proxy(fake, {
      get(target, key) {
        if (key === "read32" || key === "size") return Reflect.get(target, key);
        throw new Error(`probe touched ${String(key)}`);
      },
    });
    probeDevice(guarded);
    assert.equal(fake.writes, 0);
  }
  assert.deepEqual(
    [...new Set(PROBE_ALLOWLIST.map((e) => e.register.name))],
    [
      "NV_PMC_BOOT_0",
      "NV_PMC_BOOT_42",
      "NV_PFALCON_FALCON_HWCFG2",
      "NV_PFALCON_FALCON_CPUCTL",
      "NV_PFALCON_FALCON_MAILBOX0",
      "NV_PFALCON_FALCON_MAILBOX1",
      "NV_PRISCV_RISCV_CPUCTL",
      "NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS",
      "NV_PRISCV_RISCV_BCR_CTRL",
      "NV_PFB_PRI_MMU_WPR2_ADDR_LO",
      "NV_PFB_PRI_MMU_WPR2_ADDR_HI",
    ],
  );
});

Deno.test("every chip of the table probes cleanly from an all-zero BAR0 with its BOOT values", async (t) => {
  for (
    const chip of [
      "tu102",
      "tu104",
      "tu106",
      "tu116",
      "tu117",
      "ga100",
      "ga102",
      "ga107",
      "ad102",
      "gh100",
      "gb100",
      "gb202",
    ]
  ) {
    await t.step(chip, () => {
      const info = chipByName(chip)!;
      const image = new Map<number, number>();
      setRegister(image, chip, PMC.NV_PMC_BOOT_0, {
        ARCHITECTURE_0: info.chipsetId >> 4,
        IMPLEMENTATION: info.chipsetId & 0xf,
      });
      setRegister(image, chip, PMC.NV_PMC_BOOT_42, {
        ARCHITECTURE: info.chipsetId >> 4,
        IMPLEMENTATION: info.chipsetId & 0xf,
      });
      const bar0 = fakeBar0(image);
      const report = probeDevice(bar0);
      assert.equal(report.chip.name, chip);
      assert.equal(new Set(bar0.reads).size, bar0.reads.length);
      assert.equal(report.reads, bar0.reads.length);
      // FSP-path chips: a GSP HWCFG2 of 0 means the FSP still holds the GSP's registers.
      const locked = report.chip.bootPath === "fsp";
      assert.equal(report.gspRiscvActive, locked ? null : false);
      assert.equal(report.wpr2.status, "not-set");
    });
  }
});

Deno.test("PRI error classification and naming", () => {
  assert.ok(isPriError(0xbadf1000) && isPriError(0xbadf41ff));
  assert.ok(isPriError(0xbad00f00) && isPriError(0xbad0b000));
  // NVIDIA's rule is the mask: every 0xbadxxxxx is a PRI error, named or not.
  assert.ok(isPriError(0xbad0aa00) && !isPriError(0x0badf410));
  assert.equal(
    describePriError(0xbadf1100),
    "PRI error 0xbadf11 (FECS_PRI_DECODE: no register at this address), detail 0x00",
  );
  assert.equal(
    describePriError(0xbadf9945),
    "PRI error 0xbadf99 (unknown PRI error code), detail 0x45",
  );
});

Deno.test("the probe's sources hold no register offsets: every offset comes from the tables", async () => {
  for (const file of ["../gpu/probe.ts", "../scripts/probe.ts"]) {
    const source = await Deno.readTextFile(new URL(file, import.meta.url));
    const code = source.replace(/\/\*\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    const literals = [...code.matchAll(/\b0x[0-9a-f]+\b/gi)].map((m) => m[0].toLowerCase());
    const allowed = (n: string) => n === "0xffffffff" || n === "0xff";
    assert.deepEqual(literals.filter((n) => !allowed(n)), [], `${file} has hex literals`);
  }
});

const device = Deno.env.get("FALCONRY_TEST_DEVICE");
const skip = device ? "" : " (skipped: FALCONRY_TEST_DEVICE not set)";

Deno.test({
  name: `hardware: the probe reads a real GPU read-only and never writes${skip}`,
  ignore: !device,
  async fn() {
    await using gpu = await openDevice(device!, { readOnly: true, backend: "sysfs" });
    const reads: number[] = [];
    let writes = 0;
    const counting = {
      size: gpu.bar0.size,
      read32(offset: number): number {
        reads.push(offset);
        return gpu.bar0.read32(offset);
      },
      write32(): void {
        writes++;
      },
    };
    const report = probeDevice(counting);
    assert.equal(writes, 0);
    assert.equal(report.reads, reads.length);
    assert.equal(new Set(reads).size, reads.length, "each register read once");
    assert.ok(report.boot.every((r) => r.status === "ok"));
    assert.equal(report.chip.identifiedAs, report.chip.name);
  },
});
