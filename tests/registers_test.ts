// Tests of registers/: the tables' shape (sources, fields, variants), field
// encode/decode round trips, per-chip variant resolution, engine bases and
// absolute addresses, and lookup by name and by offset.

import assert from "node:assert/strict";
import { CHIPS, FAMILIES } from "../chips/chips.ts";
import type { ChipFamily } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";
import {
  addressOf,
  decode,
  encode,
  engineBase,
  ENGINES,
  FALCON,
  FALCON2,
  FBIF,
  type FieldDef,
  fieldMask,
  findByOffset,
  findRegisters,
  FSP,
  FUSE,
  getField,
  instancesForChip,
  isPriError,
  PBUS,
  PCFG,
  PDISP,
  PFB,
  PGC6,
  PGSP,
  PMC,
  PROM,
  REGISTERS,
  registersForChip,
  resolveRegister,
  setField,
  THERM,
  unnamedBits,
} from "../registers/mod.ts";

const FAMILY_NAMES = Object.keys(FAMILIES) as ChipFamily[];

function checkFields(where: string, fields: readonly FieldDef[], width: number): void {
  const names = new Set<string>();
  let used = 0;
  for (const f of fields) {
    assert.match(f.name, /^[A-Z][A-Z0-9_]*$/, `${where}.${f.name}: upper-snake name`);
    assert.ok(!names.has(f.name), `${where}.${f.name}: duplicate field`);
    names.add(f.name);
    assert.ok(Number.isInteger(f.lo) && Number.isInteger(f.hi), `${where}.${f.name}: integer bits`);
    assert.ok(f.lo >= 0 && f.hi >= f.lo && f.hi < width, `${where}.${f.name}: ${f.hi}:${f.lo}`);
    const mask = fieldMask(f);
    assert.equal((used & mask) >>> 0, 0, `${where}.${f.name} overlaps another field`);
    used = (used | mask) >>> 0;
    for (const v of Object.keys(f.values ?? {}).map(Number)) {
      assert.ok(v >= 0 && v <= mask / 2 ** f.lo, `${where}.${f.name}: value ${v} does not fit`);
    }
  }
}

Deno.test("every register has a doc, a source and sane fields on every variant", () => {
  assert.ok(REGISTERS.length >= 60, `only ${REGISTERS.length} registers`);
  for (const reg of REGISTERS) {
    assert.match(reg.name, /^NV_[A-Z0-9_]+$/, reg.name);
    assert.ok(reg.source.length > 10, `${reg.name}: source`);
    assert.ok(reg.doc.length > 10, `${reg.name}: doc`);
    const width = reg.width ?? 32;
    checkFields(reg.name, reg.fields, width);
    for (const v of reg.variants ?? []) {
      checkFields(`${reg.name}[${v.chips}]`, v.fields ?? [], width);
    }
    if (reg.array) assert.ok(reg.array.count >= 1 && reg.array.stride >= width / 8, reg.name);
    if (reg.engines) assert.ok(reg.base, `${reg.name}: engines without a base`);
  }
});

Deno.test("variants: families are known, listed once, and inside the register's chips", () => {
  for (const reg of REGISTERS) {
    for (const f of reg.chips ?? []) assert.ok(FAMILY_NAMES.includes(f), `${reg.name}: ${f}`);
    const seen = new Set<ChipFamily>();
    for (const variant of reg.variants ?? []) {
      assert.ok(variant.chips.length > 0, reg.name);
      for (const family of variant.chips) {
        assert.ok(!seen.has(family), `${reg.name}: ${family} in two variants`);
        seen.add(family);
        if (reg.chips) assert.ok(reg.chips.includes(family), `${reg.name}: ${family} not in chips`);
      }
    }
  }
});

Deno.test("names and aliases are unique", () => {
  const names = new Map<string, string>();
  for (const reg of REGISTERS) {
    for (const n of [reg.name, ...(reg.aliases ?? [])]) {
      assert.ok(!names.has(n), `${n} defined by ${names.get(n)} and ${reg.name}`);
      names.set(n, reg.name);
    }
  }
});

Deno.test("no two registers of a chip share an address unless one is a declared view", () => {
  // Allowed overlaps: the PROM window and the IFR words read through it, and
  // the PBUS scratch array and its named elements.
  const allowed = new Set([
    "NV_PROM_DATA",
    "NV_PBUS_IFR_FMT_FIXED0",
    "NV_PBUS_IFR_FMT_FIXED1",
    "NV_PBUS_IFR_FMT_FIXED2",
    "NV_PBUS_SW_SCRATCH",
    "NV_PBUS_SW_SCRATCH_0E_FRTS_ERR",
    "NV_PBUS_SW_SCRATCH_15_SB_ERR",
  ]);
  for (const chip of CHIPS) {
    const owner = new Map<number, string>();
    for (const inst of instancesForChip(chip)) {
      const r = inst.register;
      const count = r.array?.count ?? 1;
      const stride = r.array?.stride ?? 4;
      for (let i = 0; i < Math.min(count, 1024); i++) {
        const addr = inst.address + i * stride;
        const prev = owner.get(addr);
        if (prev && !(allowed.has(r.name) && allowed.has(prev.split(".").pop()!))) {
          assert.fail(
            `${chip.name}: ${inst.qualifiedName} and ${prev} both at 0x${addr.toString(16)}`,
          );
        }
        owner.set(addr, inst.qualifiedName);
      }
    }
  }
});

Deno.test("field round trips: set then get, encode(decode(v)) keeps the named bits", () => {
  let checked = 0;
  let seed = 0x12345678;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (const family of FAMILY_NAMES) {
    for (const def of REGISTERS) {
      const reg = resolveRegister(def, family);
      if (!reg) continue;
      for (const f of reg.fields) {
        const max = fieldMask(f) / 2 ** f.lo;
        for (const fv of [0, 1 % (max + 1), max, next() % (max + 1)]) {
          const base = next();
          const v = setField(reg, f.name, base, fv);
          assert.equal(getField(reg, f.name, v), fv, `${reg.name}.${f.name} = ${fv}`);
          assert.equal((v & ~fieldMask(f)) >>> 0, (base & ~fieldMask(f)) >>> 0, "other bits kept");
          checked++;
        }
      }
      const raw = next();
      const named = (raw & ~unnamedBits(reg, raw)) >>> 0;
      assert.equal(encode(reg, decode(reg, raw)), named, `${reg.name}: encode(decode)`);
    }
  }
  assert.ok(checked > 1000, `only ${checked} round trips`);
});

Deno.test("field helpers: concrete values and misuse", () => {
  const cpuctl = FALCON.NV_PFALCON_FALCON_CPUCTL;
  assert.equal(getField(cpuctl, "halted", 0x10), 1);
  assert.deepEqual(decode(cpuctl, 0x52), { STARTCPU: 1, HALTED: 1, ALIAS_EN: 1 });
  assert.equal(encode(FALCON.NV_PFALCON_FALCON_DMATRFCMD, { SIZE: 6, IMEM: 1, SEC: 1 }), 0x614);
  assert.equal(setField(PFB.NV_PFB_PRI_MMU_WPR2_ADDR_HI, "VAL", 0xf, 0xfffffff), 0xffffffff);
  assert.equal(getField(PMC.NV_PMC_BOOT_42, "ARCHITECTURE", 0xffffffff), 0x3f);
  assert.equal(fieldMask({ name: "ALL", hi: 31, lo: 0 }), 0xffffffff);
  assert.throws(() => setField(cpuctl, "HALTED", 0, 2), RangeError);
  assert.throws(() => setField(cpuctl, "HALTED", 0, -1), RangeError);
  assert.throws(() => getField(cpuctl, "NOPE", 0), RangeError);
  assert.equal(unnamedBits(cpuctl, 0xffffffff), 0xffffffad);
  assert.ok(isPriError(0xbadf4100) && isPriError(0xbadf1201) && isPriError(0xbad00000));
  assert.ok(!isPriError(0xbac00000) && !isPriError(0xffffffff));
});

Deno.test("variant: FSP boot-complete scratch moves on GB20x", () => {
  const reg = THERM.NV_THERM_I2CS_SCRATCH;
  assert.equal(addressOf(reg, "gh100"), 0x0200bc);
  assert.equal(addressOf(reg, "gb100"), 0x0200bc);
  assert.equal(addressOf(reg, "gb102"), 0x0200bc);
  for (const chip of ["gb202", "gb203", "gb207"]) assert.equal(addressOf(reg, chip), 0xad00bc);
  assert.throws(() => addressOf(reg, "ad102"), FalconryError);
});

Deno.test("variant: RISC-V CPUCTL at falcon2+0x388 from GA102, 0x268 on TU102, absent on GA100", () => {
  const reg = FALCON2.NV_PRISCV_RISCV_CPUCTL;
  for (const chip of ["ga102", "ad104", "gh100", "gb100", "gb202"]) {
    assert.equal(addressOf(reg, chip, { engine: "GSP" }), 0x111388, chip);
  }
  assert.equal(addressOf(reg, "tu102", { engine: "GSP" }), 0x111268);
  assert.throws(() => addressOf(reg, "ga100", { engine: "GSP" }), FalconryError);
  assert.equal(getField(resolveRegister(reg, "ga10x")!, "HALTED", 0x10), 1);
  assert.equal(resolveRegister(reg, "gh100")!.fields.find((f) => f.name === "HALTED")?.lo, 4);
  const status = FALCON2.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS;
  assert.equal(addressOf(status, "tu117", { engine: "GSP" }), 0x111240);
  assert.equal(addressOf(status, "ga100", { engine: "GSP" }), 0x111240);
  assert.throws(() => addressOf(status, "ga102", { engine: "GSP" }), FalconryError);
});

Deno.test("variant: DMATRFMOFFS 15:0 on Turing, 23:0 from GA100", () => {
  const reg = FALCON.NV_PFALCON_FALCON_DMATRFMOFFS;
  const offs = (f: ChipFamily) => resolveRegister(reg, f)!.fields[0];
  assert.deepEqual([offs("tu10x").hi, offs("tu11x").hi], [15, 15]);
  for (const f of ["ga100", "ga10x", "ad10x", "gh100", "gb20x"] as const) {
    assert.equal(offs(f).hi, 23, f);
  }
});

Deno.test("variant: IMEMC/DMEMC BLK 15:8 on TU102, 23:8 from GA100; OFFS 7:2", () => {
  for (const reg of [FALCON.NV_PFALCON_FALCON_IMEMC, FALCON.NV_PFALCON_FALCON_DMEMC]) {
    const blk = (f: ChipFamily) => resolveRegister(reg, f)!.fields.find((x) => x.name === "BLK")!;
    assert.deepEqual([blk("tu10x").hi, blk("tu10x").lo], [15, 8], reg.name);
    assert.deepEqual([blk("ga100").hi, blk("ga100").lo], [23, 8], reg.name);
    const offs = resolveRegister(reg, "ga10x")!.fields.find((x) => x.name === "OFFS")!;
    assert.deepEqual([offs.hi, offs.lo], [7, 2]);
  }
  // The byte address 0x1234 as BLK:OFFS.
  const imemc = resolveRegister(FALCON.NV_PFALCON_FALCON_IMEMC, "ga10x")!;
  assert.equal(encode(imemc, { BLK: 0x12, OFFS: 0x34 >> 2, AINCW: 1 }), 0x01001234);
  assert.deepEqual(FALCON.NV_PFALCON_FALCON_IMEMC.array, { count: 4, stride: 16 });
});

Deno.test("variant: HWCFG2 RESET_READY only on GA10x/Ada; lockdown bit 13 on Hopper+", () => {
  const reg = FALCON.NV_PFALCON_FALCON_HWCFG2;
  const has = (f: ChipFamily, name: string) =>
    resolveRegister(reg, f)!.fields.some((x) => x.name === name);
  for (const f of FAMILY_NAMES) {
    assert.equal(has(f, "RESET_READY"), f === "ga10x" || f === "ad10x", f);
    assert.equal(has(f, "RISCV"), true, f);
    assert.equal(has(f, "RISCV_BR_PRIV_LOCKDOWN"), ["gh100", "gb10x", "gb20x"].includes(f), f);
  }
  const gh100 = resolveRegister(reg, "gh100")!;
  assert.equal(getField(gh100, "RISCV_BR_PRIV_LOCKDOWN", 1 << 13), 1);
  assert.equal(getField(gh100, "PRGN_RSVD_FUSE", 0xbadf4100), 0xba);
  assert.equal(getField(resolveRegister(reg, "ga10x")!, "MEM_SCRUBBING", 0x1000), 1);
});

Deno.test("variant: sysmem flush register set per architecture", () => {
  const flush = (chip: string) =>
    registersForChip(chip).filter((r) => r.name.includes("FLUSH_SYSMEM")).map((r) =>
      `${r.name}@0x${r.offset.toString(16)}`
    ).sort();
  assert.deepEqual(flush("tu102"), ["NV_PFB_NISO_FLUSH_SYSMEM_ADDR@0x100c10"]);
  const ampere = [
    "NV_PFB_NISO_FLUSH_SYSMEM_ADDR@0x100c10",
    "NV_PFB_NISO_FLUSH_SYSMEM_ADDR_HI@0x100c40",
  ];
  for (const chip of ["ga100", "ga102", "ad107"]) assert.deepEqual(flush(chip), ampere, chip);
  assert.deepEqual(flush("gh100"), [
    "NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_HI@0x100a38",
    "NV_PFB_FBHUB_PCIE_FLUSH_SYSMEM_ADDR_LO@0x100a34",
  ]);
  assert.deepEqual(flush("gb102"), [
    "NV_PFB_HSHUB_ZB_EG_PCIE_FLUSH_SYSMEM_ADDR_HI@0x8706c4",
    "NV_PFB_HSHUB_ZB_EG_PCIE_FLUSH_SYSMEM_ADDR_LO@0x8706c0",
    "NV_PFB_HSHUB_ZB_PCIE_FLUSH_SYSMEM_ADDR_HI@0x870e54",
    "NV_PFB_HSHUB_ZB_PCIE_FLUSH_SYSMEM_ADDR_LO@0x870e50",
  ]);
  assert.deepEqual(flush("gb205"), [
    "NV_PFB_FBHUB0_PCIE_FLUSH_SYSMEM_ADDR_HI@0x8a1d5c",
    "NV_PFB_FBHUB0_PCIE_FLUSH_SYSMEM_ADDR_LO@0x8a1d58",
  ]);
});

Deno.test("variant: PCI config mirror per chip, none on GB100/GB102", () => {
  const mirror = (chip: string) =>
    registersForChip(chip).filter((r) => r.block === "PCFG").map((r) => [r.name, r.offset]);
  for (const chip of ["tu102", "ga100", "ga104", "ad102"]) {
    assert.deepEqual(mirror(chip), [["NV_PCFG", 0x88000]], chip);
  }
  for (const chip of ["gh100", "gb202", "gb207"]) {
    assert.deepEqual(mirror(chip), [["NV_EP_PCFGM", 0x92000]], chip);
  }
  assert.deepEqual(mirror("gb100"), []);
  assert.deepEqual(mirror("gb102"), []);
  assert.equal(PCFG.NV_PCFG.array!.count * PCFG.NV_PCFG.array!.stride, 0x1000);
});

Deno.test("variant: display fuse, VRAM size and GC6 scratch per family", () => {
  const display = FUSE.NV_FUSE_STATUS_OPT_DISPLAY;
  assert.equal(addressOf(display, "tu104"), 0x021c04);
  assert.equal(addressOf(display, "ga100"), 0x820c04);
  assert.equal(addressOf(display, "gb202"), 0x820c04);
  assert.equal(addressOf(PFB.NV_PFB_PRI_MMU_LOCAL_MEMORY_RANGE, "tu102"), 0x100ce0);
  assert.throws(() => addressOf(PFB.NV_PFB_PRI_MMU_LOCAL_MEMORY_RANGE, "ga102"), FalconryError);
  assert.equal(addressOf(PGC6.NV_PGC6_AON_SECURE_SCRATCH_GROUP_42, "ga102"), 0x1183a4);
  assert.throws(() => addressOf(PGC6.NV_PGC6_AON_SECURE_SCRATCH_GROUP_42, "tu102"), FalconryError);
  assert.throws(() => addressOf(FUSE.NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION, "tu102"), FalconryError);
  assert.equal(
    addressOf(FUSE.NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION, "ga102", { index: 15 }),
    0x8241c0 + 15 * 4,
  );
});

Deno.test("engine bases and absolute addresses", () => {
  assert.deepEqual(ENGINES.map((e) => e.name), ["GSP", "SEC2", "FSP"]);
  const cpuctl = FALCON.NV_PFALCON_FALCON_CPUCTL;
  assert.equal(addressOf(cpuctl, "ga102", { engine: "GSP" }), 0x110100);
  assert.equal(addressOf(cpuctl, "tu102", { engine: "SEC2" }), 0x840100);
  assert.equal(addressOf(FALCON.NV_PFALCON_FALCON_HWCFG2, "gh100", { engine: "FSP" }), 0x8f00f4);
  assert.equal(addressOf(FALCON.NV_PFALCON_FALCON_HWCFG2, "gh100", { engine: "GSP" }), 0x1100f4);
  assert.equal(addressOf(FSP.NV_PFSP_QUEUE_HEAD, "gh100", { engine: "FSP", index: 1 }), 0x8f2c08);
  assert.equal(addressOf(FSP.NV_PFSP_QUEUE_TAIL, "gb202", { engine: "FSP" }), 0x8f2c04);
  assert.equal(addressOf(FSP.NV_PFSP_MSGQ_HEAD, "gb100", { engine: "FSP" }), 0x8f2c80);
  assert.equal(addressOf(FSP.NV_PFSP_EMEMC, "gh100", { engine: "FSP" }), 0x8f2ac0);
  assert.equal(addressOf(FSP.NV_PFSP_EMEMD, "gh100", { engine: "FSP" }), 0x8f2ac4);
  assert.equal(
    addressOf(FSP.NV_PFSP_FALCON_COMMON_SCRATCH_GROUP_2, "gh100", { engine: "FSP", index: 3 }),
    0x8f032c,
  );
  assert.equal(addressOf(FBIF.NV_PFALCON_FBIF_TRANSCFG, "ga102", { engine: "GSP" }), 0x110600);
  assert.equal(
    addressOf(FBIF.NV_PFALCON_FBIF_TRANSCFG, "tu102", { engine: "GSP", index: 4 }),
    0x110610,
  );
  assert.equal(addressOf(FBIF.NV_PFALCON_FBIF_CTL, "tu102", { engine: "SEC2" }), 0x840624);
  assert.equal(addressOf(FALCON.NV_PFALCON_FALCON_ENGINE, "tu102", { engine: "GSP" }), 0x1103c0);
  assert.equal(addressOf(FALCON.NV_PFALCON_FALCON_ENGINE, "ga102", { engine: "SEC2" }), 0x8403c0);
  assert.equal(addressOf(FALCON.NV_PFALCON_FALCON_OS, "ga102", { engine: "GSP" }), 0x110080);
  assert.equal(
    addressOf(FALCON2.NV_PFALCON2_FALCON_BROM_PARAADDR, "ga102", { engine: "SEC2" }),
    0x841210,
  );
  assert.equal(addressOf(PGSP.NV_PGSP_QUEUE_HEAD, "tu102"), 0x110c00);
  // No FSP before Hopper, no SEC2 RISC-V block before GA102, no FSP ENGINE register.
  assert.equal(engineBase("FSP", "falcon", "tu10x"), undefined);
  assert.throws(() => addressOf(cpuctl, "tu102", { engine: "FSP" }), FalconryError);
  assert.throws(() => addressOf(FSP.NV_PFSP_QUEUE_HEAD, "ad102", { engine: "FSP" }), FalconryError);
  assert.throws(
    () => addressOf(FALCON2.NV_PFALCON2_FALCON_MOD_SEL, "tu102", { engine: "SEC2" }),
    FalconryError,
  );
  assert.throws(() => addressOf(FALCON.NV_PFALCON_FALCON_ENGINE, "gh100", { engine: "FSP" }));
  assert.throws(() => addressOf(cpuctl, "ga102"), FalconryError, "engine required");
  assert.throws(() => addressOf(FSP.NV_PFSP_QUEUE_HEAD, "gh100", { engine: "FSP", index: 8 }));
  assert.throws(() => addressOf(cpuctl, "nv50", { engine: "GSP" }), FalconryError);
});

Deno.test("instances: FSP registers only on Hopper and later", () => {
  for (const chip of CHIPS) {
    const names = instancesForChip(chip).map((i) => i.qualifiedName);
    const fsp = names.filter((n) => n.startsWith("FSP."));
    const fspPath = FAMILIES[chip.family].bootPath === "fsp";
    assert.equal(fsp.length > 0, fspPath, chip.name);
    assert.ok(names.includes("GSP.NV_PFALCON_FALCON_CPUCTL"), chip.name);
    assert.ok(names.includes("SEC2.NV_PFALCON_FALCON_CPUCTL"), chip.name);
    if (fspPath) assert.ok(names.includes("FSP.NV_PFALCON_FALCON_HWCFG2"), chip.name);
  }
  const tu102 = instancesForChip("tu102");
  const sorted = tu102.map((i) => i.address);
  assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b));
});

Deno.test("the reference's offsets (nova-core-boot.md §2–§4, with §12's corrections)", () => {
  const at = (chip: string, name: string) => {
    const hits = findRegisters(chip, name);
    assert.equal(hits.length, 1, `${chip} ${name}: ${hits.length} hits`);
    return hits[0].address;
  };
  const expected: [string, string, number][] = [
    ["tu102", "NV_PMC_BOOT_0", 0x000000],
    ["tu102", "NV_PMC_BOOT_42", 0x000a00],
    ["ga102", "NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_PRIV_LEVEL_MASK", 0x118128],
    ["ga102", "NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT", 0x118234],
    ["ga102", "NV_USABLE_FB_SIZE_IN_MB", 0x1183a4],
    ["tu102", "NV_PGC6_BSI_SECURE_SCRATCH_14", 0x1180f8],
    ["tu102", "NV_PBUS_SW_SCRATCH_0E_FRTS_ERR", 0x1438],
    ["tu102", "NV_PBUS_SW_SCRATCH_15_SB_ERR", 0x1454],
    ["tu102", "NV_PFB_PRI_MMU_LOCAL_MEMORY_RANGE", 0x100ce0],
    ["gh100", "NV_PFB_PRI_MMU_WPR2_ADDR_LO", 0x1fa824],
    ["gh100", "NV_PFB_PRI_MMU_WPR2_ADDR_HI", 0x1fa828],
    ["ad102", "NV_PDISP_VGA_WORKSPACE_BASE", 0x625f04],
    ["ga102", "NV_FUSE_OPT_FPF_SEC2_UCODE1_VERSION", 0x824140],
    ["ga102", "NV_FUSE_OPT_FPF_NVDEC_UCODE1_VERSION", 0x824100],
    ["ga102", "NV_FUSE_OPT_FPF_GSP_UCODE1_VERSION", 0x8241c0],
    ["ga100", "NV_PROM_DATA", 0x300000],
    ["gh100", "NV_THERM_I2CS_SCRATCH_FSP_BOOT_COMPLETE", 0x0200bc],
    ["tu102", "NV_PGSP_QUEUE_HEAD", 0x110c00],
    ["tu102", "GSP.NV_PFALCON_FALCON_IRQSCLR", 0x110004],
    ["tu102", "GSP.NV_PFALCON_FALCON_MAILBOX1", 0x110044],
    ["tu102", "SEC2.NV_PFALCON_FALCON_BOOTVEC", 0x840104],
    ["tu102", "GSP.NV_PFALCON_FALCON_DMACTL", 0x11010c],
    ["tu102", "GSP.NV_PFALCON_FALCON_DMATRFBASE1", 0x110128],
    ["tu102", "GSP.NV_PFALCON_FALCON_HWCFG1", 0x11012c],
    ["tu102", "GSP.NV_PFALCON_FALCON_CPUCTL_ALIAS", 0x110130],
    ["tu102", "GSP.NV_PFALCON_FALCON_IMEMT", 0x110188],
    ["tu102", "GSP.NV_PFALCON_FALCON_DMEMD", 0x1101c4],
    ["ga102", "GSP.NV_PFALCON_FBIF_CTL", 0x110624],
    ["ga102", "GSP.NV_PFALCON2_FALCON_MOD_SEL", 0x111180],
    ["ga102", "GSP.NV_PFALCON2_FALCON_BROM_CURR_UCODE_ID", 0x111198],
    ["ga102", "GSP.NV_PFALCON2_FALCON_BROM_ENGIDMASK", 0x11119c],
    ["ga102", "GSP.NV_PRISCV_RISCV_BCR_CTRL", 0x111668],
    ["gh100", "FSP.NV_PFSP_MSGQ_TAIL", 0x8f2c84],
  ];
  for (const [chip, name, address] of expected) {
    assert.equal(at(chip, name), address, `${chip} ${name}`);
  }
});

Deno.test("findRegisters: case, engine prefix, aliases and indices", () => {
  const all = findRegisters("gh100", "nv_pfalcon_falcon_cpuctl").map((h) => h.address);
  assert.deepEqual(all, [0x110100, 0x840100, 0x8f0100]);
  assert.deepEqual(findRegisters("gh100", "fsp.NV_PFALCON_FALCON_CPUCTL").map((h) => h.address), [
    0x8f0100,
  ]);
  assert.deepEqual(findRegisters("tu102", "NV_PBUS_VBIOS_SCRATCH[0x15]").map((h) => h.address), [
    0x1454,
  ]);
  const scratch = findRegisters("tu102", "NV_PBUS_SW_SCRATCH(14)");
  assert.equal(scratch[0].index, 14);
  assert.deepEqual(findRegisters("tu102", "NV_PBUS_SW_SCRATCH(64)"), []);
  assert.deepEqual(findRegisters("tu102", "NV_PMC_BOOT_0(1)"), []);
  assert.deepEqual(findRegisters("tu102", "NV_PFSP_QUEUE_HEAD"), []);
  assert.deepEqual(findRegisters("tu102", "not a name"), []);
});

Deno.test("findByOffset: arrays, aliases and engine registers", () => {
  const names = (chip: string, off: number) =>
    findByOffset(chip, off).map((h) => `${h.instance.qualifiedName}:${h.index}`).sort();
  assert.deepEqual(names("gh100", 0x8f2c08), ["FSP.NV_PFSP_QUEUE_HEAD:1"]);
  assert.deepEqual(names("ga102", 0x110100), ["GSP.NV_PFALCON_FALCON_CPUCTL:0"]);
  assert.deepEqual(names("tu102", 0x840190), ["SEC2.NV_PFALCON_FALCON_IMEMC:1"]);
  assert.deepEqual(names("tu102", 0x1438), [
    "NV_PBUS_SW_SCRATCH:14",
    "NV_PBUS_SW_SCRATCH_0E_FRTS_ERR:0",
  ]);
  assert.deepEqual(names("ga102", 0x300004), ["NV_PBUS_IFR_FMT_FIXED1:0", "NV_PROM_DATA:4"]);
  assert.deepEqual(names("ga102", 0x8f2c08), []);
  assert.deepEqual(names("ga102", 0x110102), []);
});

Deno.test("decoding real-looking values", () => {
  assert.deepEqual(decode(PMC.NV_PMC_BOOT_0, 0x172000a1), {
    MINOR_REVISION: 1,
    MAJOR_REVISION: 0xa,
    ARCHITECTURE_1: 0,
    IMPLEMENTATION: 2,
    ARCHITECTURE_0: 0x17,
  });
  const vga = decode(PDISP.NV_PDISP_VGA_WORKSPACE_BASE, 0x003ff008);
  assert.equal(vga.STATUS, 1);
  assert.equal(vga.ADDR * 0x10000, 0x3ff00000);
  assert.equal(getField(PROM.NV_PBUS_IFR_FMT_FIXED0, "SIGNATURE", 0x4947564e), 0x4947564e);
  const range = decode(PFB.NV_PFB_PRI_MMU_LOCAL_MEMORY_RANGE, 0x40000080);
  assert.equal((range.LOWER_MAG << range.LOWER_SCALE) * (range.ECC_MODE ? 15 / 16 : 1), 7.5);
  assert.equal(getField(PBUS.NV_PBUS_SW_SCRATCH_0E_FRTS_ERR, "FRTS_ERR_CODE", 0x00510000), 0x51);
});
