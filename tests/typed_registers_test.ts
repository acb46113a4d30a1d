// Tests of registers/bind.ts: registers bound once per chip and engine, typed field names,
// precomputed addresses agreeing with the catalogue, arrays checked, absent registers typed errors.

import assert from "node:assert/strict";
import { CHIPS } from "../chips/mod.ts";
import {
  addressOf,
  type BoundRegister,
  chipRegisters,
  enginesForFamily,
  falconRegisters,
  FBIF,
  instancesForChip,
  RegisterAccessError,
  shortRegisterName,
} from "../registers/mod.ts";

function fakeBar() {
  const words = new Map<number, number>();
  const log: string[] = [];
  return {
    words,
    log,
    read32(offset: number): number {
      log.push(`r ${offset.toString(16)}`);
      return words.get(offset) ?? 0;
    },
    write32(offset: number, value: number): void {
      log.push(`w ${offset.toString(16)} ${value.toString(16)}`);
      words.set(offset, value >>> 0);
    },
  };
}

Deno.test("every bound address equals the catalogue's, on every chip and engine", () => {
  for (const chip of CHIPS) {
    const absolute = chipRegisters(chip) as unknown as Record<
      string,
      Record<string, BoundRegister<string>>
    >;
    const engines = Object.fromEntries(
      enginesForFamily(chip.family).map((e) => [e.name, falconRegisters(chip, e.name)]),
    ) as unknown as Record<string, Record<string, BoundRegister<string>>>;
    for (const instance of instancesForChip(chip)) {
      const short = shortRegisterName(instance.register);
      const bound = instance.engine
        ? engines[instance.engine][short]
        : absolute[instance.register.block][short];
      assert.ok(bound?.present, `${chip.name} ${instance.qualifiedName}`);
      assert.equal(bound.address, instance.address, `${chip.name} ${instance.qualifiedName}`);
      const count = instance.register.array?.count ?? 1;
      assert.equal(bound.count, count);
      assert.equal(
        bound.at(count - 1).address,
        instance.address + (count - 1) *
            (instance.register.array?.stride ?? 0),
      );
    }
  }
});

Deno.test("read/write/modify through the bar; decode/encode without one", () => {
  const bar = fakeBar();
  const gsp = falconRegisters("ga102", "GSP");
  bar.words.set(0x110100, 0x50);
  const cpuctl = gsp.CPUCTL.read(bar);
  assert.equal(cpuctl.HALTED, 1);
  assert.equal(cpuctl.ALIAS_EN, 1);
  assert.equal(cpuctl.raw, 0x50);
  assert.equal(gsp.CPUCTL.modify(bar, { ALIAS_EN: 0, STARTCPU: 1 }), 0x12);
  assert.deepEqual(bar.log, ["r 110100", "r 110100", "w 110100 12"]);
  gsp.CPUCTL.write(bar, { STARTCPU: 1 });
  assert.equal(bar.words.get(0x110100), 0x2);
  assert.equal(gsp.DMATRFCMD.encode({ SIZE: 6, IMEM: 1, SEC: 1 }), 0x614);
  assert.deepEqual(gsp.DMATRFCMD.decode(0x614).SIZE, 6);
  const regs = chipRegisters("ga102");
  regs.PBUS.SW_SCRATCH.at(0x15).writeRaw(bar, 0xdeadbeef);
  assert.equal(bar.words.get(0x1454), 0xdeadbeef);
  assert.equal(regs.PBUS.SW_SCRATCH.at(0x15).readRaw(bar), 0xdeadbeef);
  assert.equal(regs.PBUS.SW_SCRATCH.at(0x15).name, "NV_PBUS_SW_SCRATCH(21)");
  // A whole-word field reads back unsigned.
  assert.equal(gsp.MAILBOX0.decode(0xffffffff).DATA, 0xffffffff);
});

Deno.test("per-chip layouts: Turing's narrower fields, GA102-only fields, GH100 HWCFG2", () => {
  assert.throws(
    () => falconRegisters("tu102", "GSP").DMATRFMOFFS.encode({ OFFS: 0x10000 }),
    (e: unknown) => e instanceof RegisterAccessError && /cannot hold 65536/.test(e.message),
  );
  assert.equal(falconRegisters("ga102", "GSP").DMATRFMOFFS.encode({ OFFS: 0x10000 }), 0x10000);
  assert.equal(falconRegisters("ga102", "GSP").HWCFG2.decode(1 << 31).RESET_READY, 1);
  assert.equal(falconRegisters("tu102", "GSP").HWCFG2.decode(1 << 31).RESET_READY, undefined);
  assert.throws(
    () => falconRegisters("tu102", "GSP").HWCFG2.encode({ RESET_READY: 1 }),
    /tu102: GSP.NV_PFALCON_FALCON_HWCFG2: no field RESET_READY on this chip/,
  );
  assert.equal(falconRegisters("gh100", "GSP").HWCFG2.decode(1 << 13).RISCV_BR_PRIV_LOCKDOWN, 1);
});

Deno.test("absent registers, engines and indexes are typed errors naming chip and register", () => {
  const sec2 = falconRegisters("tu102", "SEC2");
  assert.equal(sec2.RISCV_CPUCTL.present, false);
  assert.equal(sec2.RISCV_CPUCTL.absentReason, "SEC2 has no falcon2 block on tu10x");
  assert.throws(
    () => sec2.RISCV_CPUCTL.address,
    (e: unknown) =>
      e instanceof RegisterAccessError && e.chip === "tu102" &&
      e.register === "SEC2.NV_PRISCV_RISCV_CPUCTL",
  );
  assert.throws(() => sec2.RISCV_CORE_SWITCH_RISCV_STATUS.readRaw(fakeBar()), /only GSP has it/);
  assert.throws(() => falconRegisters("ga102", "FSP"), /not an engine of ga102/);
  const regs = chipRegisters("ga102");
  assert.throws(() => regs.PBUS.SW_SCRATCH.at(64), /index 64 out of range \(0\.\.63\)/);
  assert.throws(() => regs.PBUS.SW_SCRATCH.at(-1), RegisterAccessError);
  assert.throws(() => regs.PBUS.SW_SCRATCH.readRaw(fakeBar()), /an array of 64: use \.at\(i\)/);
  assert.throws(() => regs.PFB.PRI_MMU_LOCK_ADDR_LO.readRaw(fakeBar()), /ga102: .*only ga100/);
});

Deno.test("binding is cached: the same object per chip and engine", () => {
  assert.equal(chipRegisters("ga102"), chipRegisters("GA102"));
  assert.equal(falconRegisters("ga102", "GSP"), falconRegisters("ga102", "GSP"));
  assert.notEqual(falconRegisters("ga102", "GSP"), falconRegisters("ga102", "SEC2"));
  assert.ok(Object.isFrozen(chipRegisters("tu102").PMC));
});

// Compile-time checks: these lines fail `deno check` if field names stop being literal types.
function _typeChecks(bar: { read32(o: number): number; write32(o: number, v: number): void }) {
  const gsp = falconRegisters("ga102", "GSP");
  const halted: number = gsp.CPUCTL.read(bar).HALTED;
  const maybe: number | undefined = gsp.HWCFG2.read(bar).RESET_READY;
  // @ts-expect-error: CPUCTL has no field HALT.
  gsp.CPUCTL.write(bar, { HALT: 1 });
  // @ts-expect-error: the register is CPUCTL, not NV_PFALCON_FALCON_CPUCTL.
  gsp.NV_PFALCON_FALCON_CPUCTL;
  // @ts-expect-error: RESET_READY exists on some families only, so it may be undefined.
  const notAlways: number = gsp.HWCFG2.read(bar).RESET_READY;
  return [halted, maybe, notAlways, chipRegisters("ga102").PMC.BOOT_42.read(bar).ARCHITECTURE];
}
void _typeChecks;

Deno.test("addressOf and the bound address agree for arrays of an engine", () => {
  const fbif = falconRegisters("ga102", "SEC2").FBIF_TRANSCFG;
  for (let i = 0; i < fbif.count; i++) {
    assert.equal(
      fbif.at(i).address,
      addressOf(FBIF.NV_PFALCON_FBIF_TRANSCFG, "ga102", { engine: "SEC2", index: i }),
    );
  }
});
