/**
 * BAR0 contents for the probe tests: register images of plausible chips in
 * plausible states, built from the register tables (`addressOf`, `encode`)
 * rather than magic numbers; a fake BAR0 that records every read and counts
 * writes; and a writer that puts an image into a fixture's sparse
 * `resource0` file.
 *
 * @module
 */

import { chipByName } from "../chips/chips.ts";
import {
  addressOf,
  encode,
  type EngineName,
  FALCON,
  FALCON2,
  PFB,
  PMC,
  type RegisterDef,
  resolveRegister,
} from "../registers/mod.ts";

/** Register values by absolute BAR0 address; unset addresses read the fill value. */
export type Bar0Image = Map<number, number>;

/** A register value: raw, or named fields (encoded with the chip's field layout). */
export type RegisterValue = number | Readonly<Record<string, number>>;

/** BAR0 size of every fixture GPU. */
export const BAR0_SIZE = 16 << 20;

/** The WPR2 region of the booted GA102 image (FRTS at the top of a 24 GiB board). */
export const GA102_WPR2 = { start: 0x5f6000000, end: 0x5ff900000 } as const;

/**
 * Set one register of `chip` in `image`.
 *
 * @param image The image to change.
 * @param chip Chip name; decides the address and the field layout.
 * @param register Register definition.
 * @param value Raw value or fields.
 * @param engine Engine, for engine registers.
 * @returns `image`.
 */
export function setRegister(
  image: Bar0Image,
  chip: string,
  register: RegisterDef,
  value: RegisterValue,
  engine?: EngineName,
): Bar0Image {
  const info = chipByName(chip)!;
  const resolved = resolveRegister(register, info.family);
  if (!resolved) throw new Error(`${register.name} does not exist on ${chip}`);
  const raw = typeof value === "number" ? value : encode(resolved, value);
  image.set(addressOf(register, info, { engine }), raw >>> 0);
  return image;
}

/** BOOT_0 and BOOT_42 of a chip at revision a.1. */
function withBoot(chip: string): Bar0Image {
  const info = chipByName(chip)!;
  const architecture = info.chipsetId >> 4;
  const implementation = info.chipsetId & 0xf;
  const image: Bar0Image = new Map();
  setRegister(image, chip, PMC.NV_PMC_BOOT_0, {
    ARCHITECTURE_0: architecture & 0x1f,
    ARCHITECTURE_1: architecture >> 5,
    IMPLEMENTATION: implementation,
    MAJOR_REVISION: 0xa,
    MINOR_REVISION: 1,
  });
  setRegister(image, chip, PMC.NV_PMC_BOOT_42, {
    ARCHITECTURE: architecture,
    IMPLEMENTATION: implementation,
    MAJOR_REVISION: 0xa,
    MINOR_REVISION: 1,
  });
  return image;
}

function setWpr2(image: Bar0Image, chip: string, start: number, end: number): Bar0Image {
  setRegister(image, chip, PFB.NV_PFB_PRI_MMU_WPR2_ADDR_LO, { VAL: start / 0x1000 });
  return setRegister(image, chip, PFB.NV_PFB_PRI_MMU_WPR2_ADDR_HI, { VAL: end / 0x1000 });
}

/**
 * A GA10x/AD10x chip after a GSP boot: the GSP falcon core halted with its
 * RISC-V core running (BCR selects RISC-V), SEC2 halted after Booter with
 * MAILBOX0 0, WPR2 set.
 *
 * @param chip `ga102` (default) or another GA10x/AD10x chip.
 * @returns The image.
 */
export function bootedImage(chip = "ga102"): Bar0Image {
  const image = withBoot(chip);
  const set = (register: RegisterDef, value: RegisterValue, engine: EngineName) =>
    setRegister(image, chip, register, value, engine);
  set(FALCON.NV_PFALCON_FALCON_HWCFG2, { RISCV: 1 }, "GSP");
  set(FALCON.NV_PFALCON_FALCON_CPUCTL, { HALTED: 1 }, "GSP");
  set(FALCON.NV_PFALCON_FALCON_MAILBOX0, 0, "GSP");
  set(FALCON.NV_PFALCON_FALCON_MAILBOX1, 0, "GSP");
  set(FALCON2.NV_PRISCV_RISCV_CPUCTL, { ACTIVE_STAT: 1 }, "GSP");
  set(FALCON2.NV_PRISCV_RISCV_BCR_CTRL, { VALID: 1, CORE_SELECT: 1, BRFETCH: 1 }, "GSP");
  set(FALCON.NV_PFALCON_FALCON_HWCFG2, { RISCV: 1, RESET_READY: 1 }, "SEC2");
  set(FALCON.NV_PFALCON_FALCON_CPUCTL, { HALTED: 1, ALIAS_EN: 1 }, "SEC2");
  set(FALCON.NV_PFALCON_FALCON_MAILBOX0, 0, "SEC2");
  set(FALCON.NV_PFALCON_FALCON_MAILBOX1, 0x5a5a0001, "SEC2");
  set(FALCON2.NV_PRISCV_RISCV_CPUCTL, { HALTED: 1 }, "SEC2");
  set(FALCON2.NV_PRISCV_RISCV_BCR_CTRL, { VALID: 1, CORE_SELECT: 0 }, "SEC2");
  return setWpr2(image, chip, GA102_WPR2.start, GA102_WPR2.end);
}

/**
 * A Turing chip after a GSP boot, with WPR2 not set: the GSP's RISC-V core
 * reports active through `CORE_SWITCH_RISCV_STATUS`; its RISC-V CPUCTL (at
 * 0x268, no published fields) holds a raw value; SEC2 has no RISC-V block.
 *
 * @param chip `tu102` (default) or another Turing chip.
 * @returns The image.
 */
export function turingImage(chip = "tu102"): Bar0Image {
  const image = withBoot(chip);
  const set = (register: RegisterDef, value: RegisterValue, engine: EngineName) =>
    setRegister(image, chip, register, value, engine);
  set(FALCON.NV_PFALCON_FALCON_HWCFG2, { RISCV: 1 }, "GSP");
  set(FALCON.NV_PFALCON_FALCON_CPUCTL, { HALTED: 1 }, "GSP");
  set(FALCON.NV_PFALCON_FALCON_MAILBOX0, 0x12345678, "GSP");
  set(FALCON.NV_PFALCON_FALCON_MAILBOX1, 1, "GSP");
  set(FALCON2.NV_PRISCV_RISCV_CPUCTL, 0x90, "GSP");
  set(FALCON2.NV_PRISCV_RISCV_CORE_SWITCH_RISCV_STATUS, { ACTIVE_STAT: 1 }, "GSP");
  set(FALCON.NV_PFALCON_FALCON_CPUCTL, { STARTCPU: 0, HALTED: 0 }, "SEC2");
  return image;
}

/**
 * A GH100 before the FSP releases the GSP: every GSP register reads 0
 * (HWCFG2 included), SEC2 idle and halted, WPR2 not set.
 *
 * @returns The image.
 */
export function gh100LockedImage(): Bar0Image {
  const image = withBoot("gh100");
  setRegister(image, "gh100", FALCON.NV_PFALCON_FALCON_HWCFG2, {
    RISCV: 1,
    RISCV_BR_PRIV_LOCKDOWN: 1,
  }, "SEC2");
  setRegister(image, "gh100", FALCON.NV_PFALCON_FALCON_CPUCTL, { HALTED: 1 }, "SEC2");
  return image;
}

/** A fake BAR0: reads come from an image, every read is recorded, writes are counted. */
export interface FakeBar0 {
  /** BAR size in bytes. */
  readonly size: number;
  /** Every offset read, in order. */
  readonly reads: number[];
  /** Number of `write32` calls. */
  writes: number;
  /** Read a register. */
  read32(offset: number): number;
  /** Count a write (and store it, so a write could not hide). */
  write32(offset: number, value: number): void;
}

/**
 * A fake BAR0 over `image`; unset addresses read `fill`.
 *
 * @param image Register values.
 * @param fill Value of every other register (0, or 0xffffffff for a dead device).
 * @param size BAR size.
 * @returns The fake.
 */
export function fakeBar0(image: Bar0Image, fill = 0, size = BAR0_SIZE): FakeBar0 {
  const values = new Map(image);
  const fake: FakeBar0 = {
    size,
    reads: [],
    writes: 0,
    read32(offset: number): number {
      if (offset % 4 !== 0 || offset < 0 || offset + 4 > size) {
        throw new RangeError(`read outside the BAR at 0x${offset.toString(16)}`);
      }
      fake.reads.push(offset);
      return values.get(offset) ?? fill;
    },
    write32(offset: number, value: number): void {
      fake.writes++;
      values.set(offset, value >>> 0);
    },
  };
  return fake;
}

/**
 * Put an image into a `resource0` stand-in: optionally fill every byte
 * first, then write each register as a little-endian word.
 *
 * @param path The file (already of BAR0's size).
 * @param image Register values.
 * @param fillByte Byte to fill the whole file with first (0xff for a dead device).
 */
export function writeBar0File(path: string, image: Bar0Image, fillByte?: number): void {
  using file = Deno.openSync(path, { read: true, write: true });
  if (fillByte !== undefined) {
    const size = file.statSync().size;
    const chunk = new Uint8Array(1 << 20).fill(fillByte);
    for (let at = 0; at < size; at += chunk.length) {
      file.seekSync(at, Deno.SeekMode.Start);
      file.writeSync(chunk.subarray(0, Math.min(chunk.length, size - at)));
    }
  }
  const word = new Uint8Array(4);
  const view = new DataView(word.buffer);
  for (const [offset, value] of image) {
    view.setUint32(0, value, true);
    file.seekSync(offset, Deno.SeekMode.Start);
    file.writeSync(word);
  }
}
