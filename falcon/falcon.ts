/**
 * {@linkcode Falcon}: one falcon engine (GSP or SEC2) of a device, driven
 * through the chip's falcon HAL (`hal.ts`): reset and core select, loading
 * a {@linkcode FalconLoadMap} by PIO or DMA as the chip table says, the boot
 * ROM's parameters, the signature fuse, BOOTVEC, start, the wait for halt,
 * the mailboxes, and the RISC-V status. The steps and timeouts are
 * nova-core's (`../shared/reference/nova-core-boot.md` §3.4, §3.6, §8) with
 * NVIDIA's corrections (§12–13).
 *
 * Every register access goes through the typed accessors of `registers/`;
 * every read is checked, so a PRI error or all ones fails with
 * `GpuStoppedAnsweringError` instead of being taken as a value; every wait
 * uses the device's clock, the reference's timeout and the caller's
 * `AbortSignal`. Every failure is a {@linkcode FalconError} (a `BootError`
 * whose step names the engine and the operation), with the cause inside.
 *
 * @example Run a forged Booter on a simulated TU102's SEC2
 * ```ts
 * import assert from "node:assert/strict";
 * import { booterLoadMap, parseBooter, patchBooter } from "../firmware/booter.ts";
 * import { forgeBooter } from "../firmware/forge/hs_firmware.ts";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * import { Falcon } from "./falcon.ts";
 *
 * await using gpu = new SimulatedGpu({
 *   chip: "tu102",
 *   falconModels: { SEC2: () => ({ kind: "halt", mailbox0: 0, afterMs: 5 }) },
 * });
 * const sec2 = new Falcon(gpu, "tu102", "SEC2");
 * const booter = parseBooter(forgeBooter());
 * const { image, brom } = patchBooter(booter, sec2.signatureFuseVersion(1, 1));
 * await sec2.reset();
 * await sec2.load(image, booterLoadMap(booter, { layout: sec2.hal.info.booterLayout }), { brom });
 * const { mailbox0 } = await sec2.run({ mailbox0: 0x1234, mailbox1: 0 });
 * assert.equal(mailbox0, 0);
 * assert.deepEqual(gpu.violations(), []);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import type { ChipInfo } from "../chips/chips.ts";
import type { BromParams, FalconLoadMap } from "../firmware/falcon_load.ts";
import type { Device } from "../pci/device.ts";
import { pollValue } from "../pci/mmio.ts";
import type { FalconRegisters } from "../registers/bind.ts";
import { chipInfoOf } from "../registers/catalog.ts";
import type { EngineName } from "../registers/register.ts";
import { FalconIo } from "./_io.ts";
import { dmaLoad } from "./dma.ts";
import { FalconError, type FalconOperation } from "./falcon_error.ts";
import { type FalconCore, falconHalFor, type FalconHalImpl } from "./hal.ts";
import { FALCON_BLOCK_BYTES, planFalconLoad } from "./load_plan.ts";
import { type PioImemTarget, pioLoadDmem, pioLoadImem } from "./pio.ts";
import { FalconResetGuard } from "./reset_guard.ts";
import { FalconResetHold } from "./reset_hold.ts";
import { ENGINE_RESET_HOLD_MS, FALCON_WAITS } from "./timeouts.ts";

const log = getLogger(["falconry", "falcon", "falcon"]);

/** What a device must offer a falcon: registers, a clock, DMA memory. */
export type FalconDevice = Pick<Device, "bar0" | "clock" | "dma">;

/** MAILBOX0 and MAILBOX1. */
export interface FalconMailboxes {
  /** MAILBOX0. */
  mailbox0: number;
  /** MAILBOX1. */
  mailbox1: number;
}

/** Options of an operation that may wait. */
export interface FalconWaitOptions {
  /** Stop waiting: the operation fails with a `FalconError` whose cause is the signal's reason. */
  signal?: AbortSignal;
}

/** Options for {@linkcode Falcon.load}. */
export interface FalconLoadOptions extends FalconWaitOptions {
  /** The boot ROM's signature parameters (programmed where the HAL has them: GA102 on). */
  brom?: BromParams;
  /** The image's file name, for errors about the load map. */
  file?: string;
}

/** Options for {@linkcode Falcon.start}: mailbox values written before the start. */
export interface FalconStartOptions {
  /** Written to MAILBOX0 first, when given. */
  mailbox0?: number;
  /** Written to MAILBOX1 first, when given. */
  mailbox1?: number;
}

/** Options for {@linkcode Falcon.run}. */
export interface FalconRunOptions extends FalconStartOptions, FalconWaitOptions {}

/** One falcon engine of a device. */
export class Falcon {
  /** The chip. */
  readonly chip: ChipInfo;
  /** The engine. */
  readonly engine: EngineName;
  /** The chip's falcon HAL: the chip table's facts and the operations that differ. */
  readonly hal: FalconHalImpl;
  readonly #io: FalconIo;

  /**
   * Drive one engine of a device.
   *
   * @param device The device (its `bar0`, `clock` and `dma`).
   * @param chip The chip, by name or chip-table entry.
   * @param engine `GSP` or `SEC2`.
   * @throws {FalconryError} For an unknown chip, or an engine the chip does not have.
   */
  constructor(device: FalconDevice, chip: string | ChipInfo, engine: EngineName) {
    this.chip = chipInfoOf(chip);
    this.engine = engine;
    this.hal = falconHalFor(this.chip);
    this.#io = new FalconIo(device, this.chip, engine);
  }

  /** The engine's registers, bound to the chip (for steps the driver's HALs add). */
  get registers(): FalconRegisters {
    return this.#io.regs;
  }

  /**
   * Reset the engine and leave it ready to load the Falcon core: the HAL's
   * preparation, the `ENGINE` reset pulse (held 10 µs), the scrubbing wait,
   * the Falcon core selected (GA102 on), scrubbing again, and `RM` written
   * with `NV_PMC_BOOT_0` (nova-core `Falcon::reset`).
   *
   * @param options The abort signal.
   * @throws {FalconError} With the cause: a timeout, a read that was not answered, the abort.
   */
  reset(options: FalconWaitOptions = {}): Promise<void> {
    return this.#op("reset", () => this.#reset("falcon", options.signal));
  }

  /**
   * Reset the engine into RISC-V mode, as NVIDIA leaves the GSP before
   * Booter starts GSP-RM (§13): the reset as {@linkcode Falcon.reset}, then
   * on GA102 and later `RISCV_BCR_CTRL` = RISC-V core, `VALID`, `BRFETCH`.
   * The TU102 HAL has no core to select. Write the LibOS arguments' address
   * with {@linkcode Falcon.writeMailboxes} afterwards.
   *
   * @param options The abort signal.
   * @throws {FalconError} As {@linkcode Falcon.reset}.
   */
  resetToRiscv(options: FalconWaitOptions = {}): Promise<void> {
    return this.#op("reset", () => this.#reset("riscv", options.signal));
  }

  async #reset(core: FalconCore, signal?: AbortSignal): Promise<void> {
    const io = this.#io;
    await this.hal.beforeReset(io, signal);
    {
      using _held = this.#assertReset();
      await io.clock.sleep(ENGINE_RESET_HOLD_MS, signal);
    }
    await this.hal.waitScrubbing(io, signal);
    await this.hal.selectCore(io, core, signal);
    if (core === "falcon") await this.hal.waitScrubbing(io, signal);
    io.regs.RM.writeRaw(io.bar, io.readRaw(io.chipRegs.PMC.BOOT_0));
    log.debug("{engine}: reset, {core} core", { engine: this.engine, core });
  }

  #assertReset(): FalconResetHold {
    const { regs, bar } = this.#io;
    regs.ENGINE.write(bar, { RESET: 1 });
    return new FalconResetHold(() => regs.ENGINE.write(bar, { RESET: 0 }));
  }

  /**
   * Hold the engine in reset (`ENGINE.RESET` = 1) until the returned hold is
   * disposed: `using held = await falcon.holdInReset();`. The HAL's
   * preparation (GA102: `RESET_READY`) runs first.
   *
   * @param options The abort signal.
   * @returns The hold; disposing it releases the reset.
   * @throws {FalconError} As {@linkcode Falcon.reset}.
   */
  holdInReset(options: FalconWaitOptions = {}): Promise<FalconResetHold> {
    return this.#op("hold-in-reset", async () => {
      await this.hal.beforeReset(this.#io, options.signal);
      return this.#assertReset();
    });
  }

  /**
   * A guard that resets the engine when an `await using` scope ends, unless
   * `keep()` is called: `await using guard = falcon.resetOnDispose();`.
   *
   * @returns The guard.
   */
  resetOnDispose(): FalconResetGuard {
    return new FalconResetGuard(() => this.reset());
  }

  /**
   * IMEM size in bytes, as `HWCFG.IMEM_SIZE` reports it (256-byte blocks).
   * The generic bootloader goes at its top (§13).
   *
   * @returns Bytes.
   * @throws {FalconError} When the read is not answered.
   */
  imemSize(): number {
    return this.#opSync("pio-load", () => this.#imemSize());
  }

  /**
   * Where code of `length` bytes goes to end at the top of IMEM, as NVIDIA
   * places the generic bootloader (§13): `IMEM size − length` rounded up to
   * 256 bytes. That is `0x10000 − size` (nova-core's address) only for a
   * 64 KiB IMEM.
   *
   * @param length Code bytes.
   * @returns The 256-aligned IMEM address.
   * @throws {FalconError} When the code is larger than IMEM or HWCFG is not answered.
   */
  topOfImem(length: number): number {
    return this.#opSync("pio-load", () => {
      const size = this.#imemSize();
      const aligned = Math.ceil(length / FALCON_BLOCK_BYTES) * FALCON_BLOCK_BYTES;
      if (!(length >= 0) || aligned > size) {
        throw new RangeError(
          `${length} bytes of code do not fit the 0x${size.toString(16)}-byte IMEM`,
        );
      }
      return size - aligned;
    });
  }

  #imemSize(): number {
    return this.#io.read(this.#io.regs.HWCFG).IMEM_SIZE * FALCON_BLOCK_BYTES;
  }

  /**
   * Load an image as its load map says, by the chip's load method (PIO on
   * Turing and GA100, DMA in 256-byte chunks from GA102 on): physical DMA
   * without a context allowed (`FBIF_CTL`), `DMACTL` = 0, IMEM (non-secure,
   * then secure) and DMEM, the boot ROM's parameters when given (GA102 on),
   * and BOOTVEC. Reset the engine first.
   *
   * @param image The patched image the map's `srcStart`s index.
   * @param map Where each part goes (Booter's `booterLoadMap`, FWSEC's `fwsecLoadMap`).
   * @param options BROM parameters, file name, abort signal.
   * @throws {FalconError} With the cause: a `FirmwareFormatError` naming
   *   `loadMap.<part>.<field>` for a map that does not fit the image or IMEM,
   *   a DMA chunk's timeout, a read that was not answered, the abort.
   */
  load(image: Uint8Array, map: FalconLoadMap, options: FalconLoadOptions = {}): Promise<void> {
    const pio = this.hal.info.loadMethod === "pio";
    return this.#op(pio ? "pio-load" : "dma-load", async () => {
      const io = this.#io;
      options.signal?.throwIfAborted();
      const plan = planFalconLoad(image, map, { imemSize: this.#imemSize(), file: options.file });
      this.#prepareLoad();
      if (pio) {
        for (const s of plan.imem) {
          pioLoadImem(io, image.subarray(s.srcStart, s.srcStart + s.length), s);
        }
        const d = plan.dmem;
        if (d.length > 0) {
          pioLoadDmem(io, image.subarray(d.srcStart, d.srcStart + d.length), d.dstStart);
        }
      } else {
        await dmaLoad(io, image, plan, options.signal);
      }
      if (options.brom) this.hal.programBrom(io, options.brom);
      io.regs.BOOTVEC.write(io.bar, { VALUE: plan.bootAddress });
      log.debug("{engine}: loaded by {method}, BOOTVEC 0x{boot}", {
        engine: this.engine,
        method: this.hal.info.loadMethod,
        boot: plan.bootAddress.toString(16),
      });
    });
  }

  #prepareLoad(): void {
    const io = this.#io;
    io.modify(io.regs.FBIF_CTL, { ALLOW_PHYS_NO_CTX: 1 });
    io.regs.DMACTL.writeRaw(io.bar, 0);
  }

  /**
   * Write code into IMEM by PIO, whatever the chip's load method (the
   * generic bootloader is always PIO-loaded), after allowing physical DMA
   * without a context and clearing `DMACTL` as a load does.
   *
   * @param data The code.
   * @param target IMEM address (256-aligned), secure bit, first tag.
   * @throws {FalconError} When the code does not fit IMEM or is misaligned.
   */
  writeImem(data: Uint8Array, target: PioImemTarget): void {
    this.#opSync("pio-load", () => {
      const end = target.dstStart + data.length;
      const size = this.#imemSize();
      if (end > size) {
        throw new RangeError(
          `IMEM 0x${target.dstStart.toString(16)}..0x${end.toString(16)} is past the ` +
            `0x${size.toString(16)}-byte IMEM`,
        );
      }
      this.#prepareLoad();
      pioLoadImem(this.#io, data, target);
    });
  }

  /**
   * Write bytes into DMEM by PIO (a bootloader's descriptor, say).
   *
   * @param data The bytes.
   * @param dstStart DMEM address, 4-byte aligned.
   * @throws {FalconError} When the address is misaligned.
   */
  writeDmem(data: Uint8Array, dstStart: number): void {
    this.#opSync("pio-load", () => pioLoadDmem(this.#io, data, dstStart));
  }

  /**
   * Set BOOTVEC.
   *
   * @param address The IMEM (virtual) address the CPU starts at.
   */
  setBootVector(address: number): void {
    this.#opSync("pio-load", () => this.#io.regs.BOOTVEC.write(this.#io.bar, { VALUE: address }));
  }

  /**
   * Program the boot ROM's signature parameters (GA102 on: `BROM_PARAADDR(0)`,
   * `BROM_ENGIDMASK`, `BROM_CURR_UCODE_ID`, `MOD_SEL` = RSA3K; nothing on
   * the TU102 HAL). {@linkcode Falcon.load} does it when given `brom`.
   *
   * @param params What the boot ROM checks the signature against.
   * @throws {FalconError} When a value does not fit its register.
   */
  programBrom(params: BromParams): void {
    this.#opSync("program-brom", () => this.hal.programBrom(this.#io, params));
  }

  /**
   * The chip's signature fuse version for a ucode: the fuse register's bit
   * mask turned into a version (GA100 on, through `registers/fuse.ts`); 0
   * without reading on the TU102 HAL, as NVIDIA's code does.
   *
   * @param engineIdMask The ucode's engine id mask (bit 0 SEC2, 2 NVDEC, 10 GSP).
   * @param ucodeId The ucode id, 1..16.
   * @returns The version, 0..16.
   * @throws {FalconError} With a `SignatureFuseError` for a mask or id no fuse
   *   covers, or a read that was not answered.
   */
  signatureFuseVersion(engineIdMask: number, ucodeId: number): number {
    return this.#opSync(
      "read-signature-fuse",
      () => this.hal.signatureFuseVersion(this.#io, engineIdMask, ucodeId),
    );
  }

  /**
   * Write MAILBOX0 and/or MAILBOX1.
   *
   * @param mailboxes The values to write; absent ones are left alone.
   */
  writeMailboxes(mailboxes: FalconStartOptions): void {
    this.#opSync("mailboxes", () => this.#writeMailboxes(mailboxes));
  }

  #writeMailboxes({ mailbox0, mailbox1 }: FalconStartOptions): void {
    const { regs, bar } = this.#io;
    if (mailbox0 !== undefined) regs.MAILBOX0.write(bar, { DATA: mailbox0 >>> 0 });
    if (mailbox1 !== undefined) regs.MAILBOX1.write(bar, { DATA: mailbox1 >>> 0 });
  }

  /**
   * Read MAILBOX0 and MAILBOX1.
   *
   * @returns Both values.
   * @throws {FalconError} When a read is not answered.
   */
  readMailboxes(): FalconMailboxes {
    return this.#opSync("mailboxes", () => {
      const { regs } = this.#io;
      return {
        mailbox0: this.#io.readRaw(regs.MAILBOX0),
        mailbox1: this.#io.readRaw(regs.MAILBOX1),
      };
    });
  }

  /**
   * Start the CPU at BOOTVEC: the mailboxes first when given, then
   * `CPUCTL_ALIAS.STARTCPU` when `CPUCTL.ALIAS_EN` is set, else
   * `CPUCTL.STARTCPU`.
   *
   * @param options Mailbox values to write first.
   * @throws {FalconError} When `CPUCTL` is not answered.
   */
  start(options: FalconStartOptions = {}): void {
    this.#opSync("start", () => {
      const { regs, bar } = this.#io;
      this.#writeMailboxes(options);
      const alias = this.#io.read(regs.CPUCTL).ALIAS_EN === 1;
      if (alias) regs.CPUCTL_ALIAS.write(bar, { STARTCPU: 1 });
      else regs.CPUCTL.write(bar, { STARTCPU: 1 });
      log.debug("{engine}: started through {via}", {
        engine: this.engine,
        via: alias ? "CPUCTL_ALIAS" : "CPUCTL",
      });
    });
  }

  /**
   * Whether the CPU is halted (`CPUCTL.HALTED`).
   *
   * @returns `true` when halted.
   * @throws {FalconError} When `CPUCTL` is not answered.
   */
  isHalted(): boolean {
    return this.#opSync("wait-halt", () => this.#io.read(this.#io.regs.CPUCTL).HALTED === 1);
  }

  /**
   * Wait until the CPU halts: `CPUCTL.HALTED`, read back to back, 2 s.
   *
   * @param options The abort signal.
   * @throws {FalconError} With a `HardwareTimeoutError` after 2 s of the device's clock.
   */
  waitHalt(options: FalconWaitOptions = {}): Promise<void> {
    return this.#op("wait-halt", async () => {
      const io = this.#io;
      await io.poll(io.regs.CPUCTL, (v) => v.HALTED === 1, FALCON_WAITS.halt, options.signal);
    });
  }

  /**
   * Start the CPU, wait for it to halt and read the mailboxes (nova-core
   * `Falcon::boot`).
   *
   * @param options Mailbox values to write first, the abort signal.
   * @returns MAILBOX0 and MAILBOX1 after the halt.
   * @throws {FalconError} As {@linkcode Falcon.start} and {@linkcode Falcon.waitHalt}.
   */
  async run(options: FalconRunOptions = {}): Promise<FalconMailboxes> {
    this.start(options);
    await this.waitHalt(options);
    return this.readMailboxes();
  }

  /**
   * Whether the engine's RISC-V core runs (the HAL's status register).
   *
   * @returns `true` when active.
   * @throws {FalconError} When the register is not answered or the engine has none.
   */
  isRiscvActive(): boolean {
    return this.#opSync("wait-riscv-active", () => this.hal.isRiscvActive(this.#io));
  }

  /**
   * Wait until the RISC-V core reports active: every 10 ms, 5 s (gsp/boot.rs).
   *
   * @param options The abort signal.
   * @throws {FalconError} With a `HardwareTimeoutError` after 5 s of the device's clock.
   */
  waitRiscvActive(options: FalconWaitOptions = {}): Promise<void> {
    return this.#op("wait-riscv-active", async () => {
      const wait = FALCON_WAITS.riscvActive;
      await pollValue(() => (this.hal.isRiscvActive(this.#io) ? 1 : 0), (v) => v === 1, {
        timeoutMs: wait.timeoutMs,
        intervalMs: wait.intervalMs,
        signal: options.signal,
        clock: this.#io.clock,
        name: `${this.engine} RISC-V active (${this.hal.info.riscvActiveRegister})`,
      });
    });
  }

  async #op<T>(operation: FalconOperation, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (e) {
      throw this.#wrap(operation, e);
    }
  }

  #opSync<T>(operation: FalconOperation, body: () => T): T {
    try {
      return body();
    } catch (e) {
      throw this.#wrap(operation, e);
    }
  }

  #wrap(operation: FalconOperation, error: unknown): FalconError {
    if (error instanceof FalconError) return error;
    log.debug("{engine}: {operation} failed: {error}", {
      engine: this.engine,
      operation,
      error: error instanceof Error ? error.message : String(error),
    });
    return new FalconError(this.engine, operation, error);
  }
}
