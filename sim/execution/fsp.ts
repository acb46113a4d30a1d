/**
 * The FSP of a simulated Hopper chip (GH100): its secure boot, its EMEM
 * message port and queues, the Chain-of-Trust exchange, and the FMC it then
 * boots on the GSP, which starts GSP-RM (nova-core-boot.md §4 with the
 * corrections of §12–13; NVIDIA `kern_fsp.c`, `kern_fsp_gh100.c`).
 *
 * Registers (BAR0; the block decodes only these):
 * - `NV_THERM_I2CS_SCRATCH` (0x0200bc): 0 while the FSP's secure boot runs
 *   (`fspSecureBootMs`, ~2 s after a reset), then 0xff.
 * - `NV_PFSP_EMEMC(i)` / `EMEMD(i)` (0x8f2ac0 + 8i / 0x8f2ac4 + 8i): an EMEM
 *   port. EMEMC holds the byte address `BLK × 256 + OFFS × 4` and the
 *   auto-increment bits; every EMEMD write (AINCW) or read (AINCR) moves the
 *   address by 4, carrying into BLK. EMEM is 8 KiB; an access outside it is
 *   recorded in {@linkcode FspBlock.violations}.
 * - `NV_PFSP_QUEUE_HEAD(i)` / `QUEUE_TAIL(i)` (0x8f2c00 + 8i / 0x8f2c04 + 8i)
 *   and `NV_PFSP_MSGQ_HEAD(i)` / `MSGQ_TAIL(i)` (0x8f2c80 + 8i / + 4): stride
 *   8. Only channel 0 carries messages.
 * - `NV_PFSP_FALCON_COMMON_SCRATCH_GROUP_2(0..3)` (0x8f0320): the last error
 *   code in (0), for a host's debug dump.
 *
 * The exchange (NVIDIA `kfspSendPacket`, `kfspReadMessage`): the host writes
 * the message to EMEM from offset 0, then `QUEUE_TAIL(0)` = length − 4 and,
 * last, `QUEUE_HEAD(0)` = 0. The HEAD write rings the FSP: it reads
 * `HEAD .. TAIL + 4` from EMEM and sets `QUEUE_HEAD` = `QUEUE_TAIL` (the
 * queue reads empty again). After `fspCotResponseMs` it writes its 20-byte
 * reply (`cot_message.ts`) to EMEM from offset 0 and sets `MSGQ_HEAD(0)` = 0,
 * `MSGQ_TAIL(0)` = 16; the host reads it and writes the two equal again. A
 * message sent before secure boot is complete waits in the queue until then.
 *
 * What it accepts: `PRC` knob reads of the vGPU mode (object 0x29, answered
 * 0: disabled) and one `COT` message checked by `checkCot`
 * (`../acceptance/fmc_boot.ts`). A bad message is answered with the error
 * code of `../acceptance/fsp_error.ts` (NVIDIA's `kern_fsp_retval.h`
 * values); the FSP then refuses every later COT (`INVALID_STATE`) until a
 * function reset.
 *
 * The GSP (the FSP holds its PRIV target mask from every reset on): until
 * the COT is accepted, every GSP falcon register reads
 * `PRIV_TARGET_MASK_READ` (0xbadf4101). With the accepted reply the FSP sets
 * FRTS and WPR2, writes the boot params' DMA address to GSP MBOX0/1, sets
 * `HWCFG2.RISCV_BR_PRIV_LOCKDOWN` and releases the mask: the FMC runs. After
 * `fmcBootMs` the FMC reads its boot params and the WPR meta again, clears
 * MBOX0/1, releases the lockdown bit and starts GSP-RM (RISC-V active) from
 * the LibOS init args of the boot params. If the host has unmapped either by
 * then, the FMC stops with MBOX0 = {@linkcode FMC_DMA_FAULT} (lockdown bit
 * released, GSP-RM not started): the boot args must outlive the FMC.
 *
 * Fault points: `fsp-cot-error-response`, `fsp-no-response`,
 * `fsp-lockdown-held`, `fsp-fmc-dma-fault` (`faults.ts`).
 *
 * @example Secure boot is complete on a GPU that has been on for a while
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "../simulated_gpu.ts";
 * import { PRIV_TARGET_MASK_READ } from "../falcon.ts";
 * await using gpu = new SimulatedGpu({ chip: "gh100" });
 * assert.equal(gpu.bar0.read32(0x0200bc), 0xff);
 * assert.equal(gpu.bar0.read32(0x1100f4), PRIV_TARGET_MASK_READ); // GSP HWCFG2: locked
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type ChipInfo, familyOf } from "../../chips/chips.ts";
import { chipRegisters, falconRegisters } from "../../registers/bind.ts";
import type { SimResetKind } from "../block.ts";
import type { SimPersistent, SimResidue, SimResidueSource } from "../block_extensions.ts";
import { type DmaView, SimDmaFault } from "../system_memory.ts";
import {
  decodeCotPayload,
  decodeFspPacket,
  encodeFspResponse,
  FSP_CHANNEL_SIZE,
  NVDM_TYPE,
} from "../acceptance/cot_message.ts";
import { checkCot, type CotAcceptance, FMC_BOOT_PARAMS_SIZE } from "../acceptance/fmc_boot.ts";
import { WPR_META_SIZE } from "../acceptance/wpr_meta.ts";
import { FALCON_HALT_CODE } from "../falcon.ts";
import { FSP_ERROR, fspReject, type FspRejection } from "../acceptance/fsp_error.ts";
import type { ExecutionContext } from "./context.ts";
import { DEFAULT_FSP_FAULT_CODE } from "./faults.ts";
import type { GspRmHost } from "./gsp_rm_host.ts";

const log = getLogger(["falconry", "sim", "execution", "fsp"]);

/** EMEM size: eight 1 KiB channels. */
export const FSP_EMEM_SIZE: number = 8 * FSP_CHANNEL_SIZE;
/** What `NV_THERM_I2CS_SCRATCH` reads once secure boot is complete. */
export const FSP_SECURE_BOOT_DONE = 0xff;
/**
 * GSP MBOX0 when the FMC cannot read its boot params or the WPR meta (the
 * host freed them before the GSP halted): the simulator's DMA-fault code
 * (`FALCON_HALT_CODE.dmaFault`); NVIDIA publishes no FMC error codes.
 */
export const FMC_DMA_FAULT: number = FALCON_HALT_CODE.dmaFault;

/** Channels (EMEM ports and queues). */
const CHANNELS = 8;
/** PRC: sub-message "read", object "vGPU mode". */
const PRC_READ = 0x0c;
const PRC_OBJECT_VGPU = 0x29;

/** Where the GSP stands, as far as the FSP is concerned. */
export type FspGspOwner =
  /** The FSP holds the GSP's PRIV target mask (from every reset until an accepted COT). */
  | "fsp"
  /** The FMC runs on the GSP: mask released, `RISCV_BR_PRIV_LOCKDOWN` set. */
  | "fmc"
  /** The FMC has started GSP-RM (or the GSP was reset since): the host owns the GSP. */
  | "released";

/** Where the FSP is in its one exchange per reset. */
export type FspState =
  | "idle"
  | "answering"
  | "accepted"
  | "rejected"
  | "silent";

interface Port {
  address: number;
  aincw: boolean;
  aincr: boolean;
}

interface Scheduled {
  at: number;
  what: string;
  run: () => void;
}

/** The FSP block of a simulated GH100. */
export class FspBlock implements SimResidueSource, SimPersistent {
  /** Block name. */
  readonly name = "FSP";
  /** BAR0 ranges: the I2CS scratch, the FSP falcon's scratch group 2, the EMEM and queue registers. */
  readonly ranges: readonly { start: number; end: number }[];
  readonly #ctx: ExecutionContext;
  readonly #gspRm: () => GspRmHost;
  readonly #handlers = new Map<number, { read: () => number; write?: (v: number) => void }>();
  readonly #names = new Map<number, string>();
  readonly #emem = new Uint8Array(FSP_EMEM_SIZE);
  readonly #violations: string[] = [];
  #ports: Port[] = [];
  #queueHead: number[] = [];
  #queueTail: number[] = [];
  #msgqHead: number[] = [];
  #msgqTail: number[] = [];
  #scratch: number[] = [];
  #secureBootStart: number;
  #queued = false;
  #state: FspState = "idle";
  #owner: FspGspOwner = "fsp";
  #lastError = 0;
  #lastRejection: FspRejection | undefined;
  #schedule: Scheduled[] = [];
  #settling = false;

  /**
   * Build it: secure boot long complete, the GSP masked, the queues empty.
   *
   * @param ctx The chip.
   * @param gspRm GSP-RM, asked for lazily.
   */
  constructor(ctx: ExecutionContext, gspRm: () => GspRmHost) {
    this.#ctx = ctx;
    this.#gspRm = gspRm;
    this.#secureBootStart = ctx.clock.now() - this.#secureBootMs;
    this.#clear();
    this.ranges = this.#install(ctx.chip);
  }

  /** Where the GSP stands. */
  get owner(): FspGspOwner {
    this.settle();
    return this.#owner;
  }

  /** Where the FSP is in its exchange. */
  get state(): FspState {
    this.settle();
    return this.#state;
  }

  /** Whether secure boot is complete (`NV_THERM_I2CS_SCRATCH` reads 0xff). */
  get secureBootDone(): boolean {
    return this.#ctx.clock.now() - this.#secureBootStart >= this.#secureBootMs;
  }

  /** The last message the FSP refused, with the rule and why (for tests and logs). */
  get lastRejection(): FspRejection | undefined {
    this.settle();
    return this.#lastRejection;
  }

  /** Accesses the FSP could not serve (EMEM out of range, messages on other channels). */
  get violations(): readonly string[] {
    return [...this.#violations];
  }

  /** A copy of EMEM. */
  ememSnapshot(): Uint8Array {
    return this.#emem.slice();
  }

  /**
   * Whether the GSP's PRIV target mask is held now (the GSP falcon asks at
   * every host access).
   *
   * @returns `true` while GSP registers read 0xbadf41xx.
   */
  readonly gspMasked = (): boolean => {
    this.settle();
    return this.#owner === "fsp";
  };

  /**
   * Let due events happen (the reply, the FMC's progress). Called at every
   * access of the FSP's or the GSP's registers and on every clock tick.
   */
  settle(): void {
    if (this.#settling) return;
    this.#settling = true;
    try {
      const now = this.#ctx.clock.now();
      if (this.#queued && this.secureBootDone) {
        this.#queued = false;
        this.#receive();
      }
      while (this.#schedule.length > 0 && this.#schedule[0].at <= now) {
        const event = this.#schedule.shift()!;
        log.debug("FSP: {what} at {at} ms", { what: event.what, at: event.at });
        event.run();
      }
    } finally {
      this.#settling = false;
    }
  }

  /**
   * Read a register.
   *
   * @param offset BAR0 byte offset.
   * @returns The value, or `undefined` where nothing is modelled.
   */
  read(offset: number): number | undefined {
    const handler = this.#handlers.get(offset);
    if (!handler) return undefined;
    this.settle();
    return handler.read() >>> 0;
  }

  /**
   * Write a register.
   *
   * @param offset BAR0 byte offset.
   * @param value The 32-bit value.
   * @returns `false` where nothing is modelled.
   */
  write(offset: number, value: number): boolean {
    const handler = this.#handlers.get(offset);
    if (!handler) return false;
    this.settle();
    if (handler.write) handler.write(value >>> 0);
    else {this.#violations.push(
        `write 0x${value.toString(16)} to read-only 0x${offset.toString(16)}`,
      );}
    return true;
  }

  /**
   * The register's name at an offset.
   *
   * @param offset BAR0 byte offset.
   * @returns The name, or `undefined`.
   */
  registerName(offset: number): string | undefined {
    return this.#names.get(offset);
  }

  /**
   * A reset: `function`, `bus` and `power` restart secure boot, empty the
   * queues and take the GSP's PRIV target mask again (`engine` resets are the
   * GSP's, not the FSP's: see {@linkcode FspBlock.gspReset}).
   *
   * @param kind Which reset.
   */
  reset(kind: SimResetKind): void {
    if (kind === "engine") return;
    this.#clear();
    this.#secureBootStart = this.#ctx.clock.now();
    this.#ctx.falcons.GSP.setPrivLockdown(false);
    log.info("FSP: {kind} reset; secure boot restarts", { kind });
  }

  /**
   * Start secure boot at a clock time (a GPU just powered on: `justPoweredOn`).
   *
   * @param atMs When it starts.
   */
  startSecureBoot(atMs: number): void {
    this.#secureBootStart = atMs;
  }

  /**
   * The GSP falcon was reset by the host (possible only once the mask is
   * released): an FMC still running is gone.
   */
  gspReset(): void {
    if (this.#owner !== "fmc") return;
    this.#schedule = this.#schedule.filter((e) => !e.what.startsWith("FMC"));
    this.#owner = "released";
    this.#ctx.falcons.GSP.setPrivLockdown(false);
  }

  /** What a clean unwind leaves no trace of: an FMC running, or an exchange that needs a reset. */
  residue(): readonly SimResidue[] {
    this.settle();
    const out: SimResidue[] = [];
    if (this.#owner === "fmc") {
      out.push({
        block: this.name,
        what: "the FMC holds the GSP (PRIV lockdown set): reset the function",
      });
    }
    if (this.#state === "rejected" || this.#state === "silent" || this.#state === "answering") {
      const why = this.#state === "rejected"
        ? `it rejected a COT message (errorCode 0x${this.#lastError.toString(16)})`
        : this.#state === "silent"
        ? "it took a COT message and never answered"
        : "its reply to a COT message is still pending";
      out.push({ block: this.name, what: `the FSP needs a function reset: ${why}` });
    }
    return out;
  }

  /**
   * What a save file keeps: whether secure boot had finished, where the
   * exchange and the GSP stood. Queue contents and a reply still pending are
   * not kept (a process that saved mid-exchange must reset the function).
   *
   * @returns Plain data.
   */
  snapshot(): unknown {
    this.settle();
    return {
      secureBootDone: this.secureBootDone,
      state: this.#state === "answering" ? "silent" : this.#state,
      owner: this.#owner,
      lastError: this.#lastError,
    };
  }

  /**
   * Put back a snapshot.
   *
   * @param state What {@linkcode FspBlock.snapshot} returned.
   */
  restore(state: unknown): void {
    const s = state as Partial<{
      secureBootDone: boolean;
      state: FspState;
      owner: FspGspOwner;
      lastError: number;
    }>;
    this.#clear();
    this.#secureBootStart = this.#ctx.clock.now() - (s.secureBootDone ? this.#secureBootMs : 0);
    if (s.state && ["idle", "accepted", "rejected", "silent"].includes(s.state)) {
      this.#state = s.state;
    }
    // An FMC caught mid-boot by the save never finishes in the new process.
    if (s.owner === "released" || s.owner === "fmc") this.#owner = s.owner;
    this.#lastError = s.lastError ?? 0;
  }

  get #secureBootMs(): number {
    return this.#ctx.latency.fspSecureBootMs ?? 2000;
  }

  #clear(): void {
    this.#emem.fill(0);
    this.#ports = Array.from({ length: CHANNELS }, () => ({
      address: 0,
      aincw: false,
      aincr: false,
    }));
    this.#queueHead = Array(CHANNELS).fill(0);
    this.#queueTail = Array(CHANNELS).fill(0);
    this.#msgqHead = Array(CHANNELS).fill(0);
    this.#msgqTail = Array(CHANNELS).fill(0);
    this.#scratch = Array(4).fill(0);
    this.#queued = false;
    this.#state = "idle";
    this.#owner = "fsp";
    this.#lastError = 0;
    this.#lastRejection = undefined;
    this.#schedule = [];
  }

  #install(chip: ChipInfo): { start: number; end: number }[] {
    const fsp = falconRegisters(chip, "FSP");
    const therm = chipRegisters(chip).THERM.I2CS_SCRATCH;
    const on = (
      address: number,
      name: string,
      read: () => number,
      write?: (v: number) => void,
    ) => {
      this.#handlers.set(address, { read, write });
      this.#names.set(address, name);
    };
    on(therm.address, therm.name, () => (this.secureBootDone ? FSP_SECURE_BOOT_DONE : 0));
    for (let i = 0; i < CHANNELS; i++) {
      const ememc = fsp.EMEMC.at(i);
      on(ememc.address, ememc.name, () => this.#ememcRead(i), (v) => this.#ememcWrite(i, v));
      const ememd = fsp.EMEMD.at(i);
      on(ememd.address, ememd.name, () => this.#ememdRead(i), (v) => this.#ememdWrite(i, v));
      const qh = fsp.QUEUE_HEAD.at(i);
      on(qh.address, qh.name, () => this.#queueHead[i], (v) => this.#queueHeadWrite(i, v));
      const qt = fsp.QUEUE_TAIL.at(i);
      on(qt.address, qt.name, () => this.#queueTail[i], (v) => (this.#queueTail[i] = v));
      const mh = fsp.MSGQ_HEAD.at(i);
      on(mh.address, mh.name, () => this.#msgqHead[i], (v) => (this.#msgqHead[i] = v));
      const mt = fsp.MSGQ_TAIL.at(i);
      on(mt.address, mt.name, () => this.#msgqTail[i], (v) => (this.#msgqTail[i] = v));
    }
    for (let i = 0; i < fsp.FALCON_COMMON_SCRATCH_GROUP_2.count; i++) {
      const reg = fsp.FALCON_COMMON_SCRATCH_GROUP_2.at(i);
      on(reg.address, reg.name, () => this.#scratch[i]);
    }
    const addresses = [...this.#handlers.keys()].sort((a, b) => a - b);
    // One range per cluster of registers (the three blocks lie far apart).
    const ranges: { start: number; end: number }[] = [];
    for (const a of addresses) {
      const last = ranges[ranges.length - 1];
      if (last && a - last.end < 0x400) last.end = a + 4;
      else ranges.push({ start: a, end: a + 4 });
    }
    return ranges;
  }

  #ememcRead(i: number): number {
    const port = this.#ports[i];
    const r = falconRegisters(this.#ctx.chip, "FSP").EMEMC;
    return r.encode({
      OFFS: (port.address >> 2) & 0x3f,
      BLK: (port.address >> 8) & 0xff,
      AINCW: port.aincw ? 1 : 0,
      AINCR: port.aincr ? 1 : 0,
    });
  }

  #ememcWrite(i: number, value: number): void {
    const f = falconRegisters(this.#ctx.chip, "FSP").EMEMC.decode(value);
    this.#ports[i] = {
      address: f.BLK * 256 + f.OFFS * 4,
      aincw: f.AINCW === 1,
      aincr: f.AINCR === 1,
    };
  }

  #ememdRead(i: number): number {
    const port = this.#ports[i];
    let value = 0;
    if (port.address + 4 <= FSP_EMEM_SIZE) {
      value = new DataView(this.#emem.buffer).getUint32(port.address, true);
    } else {
      this.#violations.push(`EMEMD(${i}) read at 0x${port.address.toString(16)}, outside EMEM`);
    }
    if (port.aincr) port.address += 4;
    return value;
  }

  #ememdWrite(i: number, value: number): void {
    const port = this.#ports[i];
    if (port.address + 4 <= FSP_EMEM_SIZE) {
      new DataView(this.#emem.buffer).setUint32(port.address, value, true);
    } else {
      this.#violations.push(`EMEMD(${i}) write at 0x${port.address.toString(16)}, outside EMEM`);
    }
    if (port.aincw) port.address += 4;
  }

  #queueHeadWrite(i: number, value: number): void {
    this.#queueHead[i] = value;
    if (value === this.#queueTail[i]) return;
    if (i !== 0) {
      this.#violations.push(`a message on channel ${i}: the FSP serves RM on channel 0 only`);
      return;
    }
    this.#queued = true;
    this.settle();
  }

  /** The host rang: take the message off the queue and act on it. */
  #receive(): void {
    const head = this.#queueHead[0];
    const tail = this.#queueTail[0];
    const length = tail - head + 4;
    const inEmem = head >= 0 && tail + 4 <= FSP_EMEM_SIZE && length > 0;
    const bytes = inEmem ? this.#emem.slice(head, head + length) : new Uint8Array(0);
    this.#queueHead[0] = tail; // consumed: the queue reads empty (kfspIsQueueEmpty)
    if (this.#state === "silent") {
      log.info("FSP: a message arrives after one it never answered; ignored");
      return;
    }
    const faults = this.#ctx.faults;
    if (faults.armed("fsp-no-response")) {
      faults.fired("fsp-no-response", "the message is taken off the queue and never answered");
      this.#state = "silent";
      return;
    }
    const packet = decodeFspPacket(bytes);
    if (!packet.ok) {
      // The reply names the type the header carries (its top byte), when there is one.
      this.#answer(bytes.length >= 8 ? bytes[7] : 0, packet);
      return;
    }
    if (packet.nvdmType === NVDM_TYPE.prc) {
      this.#answerPrc(bytes);
      return;
    }
    if (packet.nvdmType !== NVDM_TYPE.cot) {
      this.#answer(
        packet.nvdmType,
        fspReject("nvdmType", `NVDM type 0x${packet.nvdmType.toString(16)} is not handled`),
      );
      return;
    }
    this.#receiveCot(bytes);
  }

  #receiveCot(bytes: Uint8Array): void {
    const faults = this.#ctx.faults;
    if (this.#state !== "idle") {
      this.#answer(
        NVDM_TYPE.cot,
        fspReject("cotState", `a COT message after one already ${this.#state} (reset first)`),
      );
      return;
    }
    const forced = faults.armed("fsp-cot-error-response");
    if (forced) {
      const code = typeof forced.code === "number" ? forced.code : DEFAULT_FSP_FAULT_CODE;
      faults.fired("fsp-cot-error-response", `the FSP answers errorCode 0x${code.toString(16)}`);
      this.#answer(NVDM_TYPE.cot, {
        ok: false,
        rule: "cotState",
        reason: "fault",
        errorCode: code,
      });
      return;
    }
    if (bytes.length !== 8 + 860) {
      this.#answer(
        NVDM_TYPE.cot,
        fspReject("cotSize", `a COT message of ${bytes.length} bytes, not 868`),
      );
      return;
    }
    const cot = decodeCotPayload(bytes);
    const firmware = this.#ctx.firmware;
    const fmc = firmware.fmc();
    const gsp = firmware.gsp();
    const bootloader = firmware.bootloader();
    const d = bootloader?.parsed.descriptor;
    const verdict = checkCot({
      cot,
      chipset: this.#ctx.chip.chipsetId,
      fbSize: this.#ctx.model.fbSize,
      dma: this.#dmaFor(cot.gspFmcSysmemOffset, fmc?.parsed.image.length ?? 0),
      fmc: fmc && {
        image: fmc.parsed.image,
        imageSha384: fmc.imageSha384,
        hash: fmc.parsed.hash,
        publicKey: fmc.parsed.publicKey,
        signature: fmc.parsed.signature,
      },
      gsp: gsp && bootloader && d
        ? {
          image: gsp.image,
          signature: gsp.signature,
          bootloader: bootloader.parsed.ucode,
          bootloaderCodeOffset: d.monitorCodeOffset,
          bootloaderDataOffset: d.monitorDataOffset,
          bootloaderManifestOffset: d.manifestOffset,
        }
        : undefined,
    });
    this.#answer(NVDM_TYPE.cot, verdict);
  }

  /** The device's memory as the FSP reads it; `fsp-fmc-dma-fault` faults the FMC image. */
  #dmaFor(fmcIova: bigint, fmcLength: number): DmaView {
    const dma = this.#ctx.dma;
    const faults = this.#ctx.faults;
    return {
      read: (iova, length) => {
        const hitsFmc = fmcLength > 0 && iova < fmcIova + BigInt(fmcLength) &&
          fmcIova < iova + BigInt(length);
        if (hitsFmc && faults.armed("fsp-fmc-dma-fault")) {
          faults.fired(
            "fsp-fmc-dma-fault",
            `IOMMU fault reading the FMC image at 0x${iova.toString(16)}`,
          );
          throw new SimDmaFault(iova, length, "read");
        }
        return dma.read(iova, length);
      },
      write: (iova, bytes) => dma.write(iova, bytes),
    };
  }

  #answerPrc(bytes: Uint8Array): void {
    const known = bytes.length === 12 && bytes[8] === PRC_READ && bytes[10] === PRC_OBJECT_VGPU;
    if (!known) {
      this.#answer(
        NVDM_TYPE.prc,
        fspReject("prcKnob", "a PRC message other than a read of the vGPU-mode knob (0x29)"),
      );
      return;
    }
    // vGPU mode: value 0 (disabled), then two reserved bytes.
    this.#post(NVDM_TYPE.prc, FSP_ERROR.ok, new Uint8Array(4), () => {});
  }

  /** Answer after `fspCotResponseMs`: an acceptance boots the FMC, a rejection its error code. */
  #answer(type: number, verdict: CotAcceptance | FspRejection): void {
    if (!verdict.ok) this.#lastRejection = verdict;
    if (type !== NVDM_TYPE.cot) {
      // Only the COT exchange changes the FSP's state; other refusals are just answered.
      const code = verdict.ok ? FSP_ERROR.ok : verdict.errorCode;
      this.#post(type, code, new Uint8Array(0), () => {});
      return;
    }
    if (!verdict.ok) {
      log.info("FSP rejects NVDM type 0x{type}: {reason} (errorCode 0x{code})", {
        type: type.toString(16),
        reason: verdict.reason,
        code: verdict.errorCode.toString(16),
      });
      const reject = () => {
        this.#state = "rejected";
        this.#lastError = verdict.errorCode;
        this.#scratch[0] = verdict.errorCode;
      };
      this.#state = "answering";
      this.#post(type, verdict.errorCode, new Uint8Array(0), reject);
      return;
    }
    this.#state = "answering";
    this.#post(type, FSP_ERROR.ok, new Uint8Array(0), () => this.#bootFmc(verdict));
  }

  #post(type: number, errorCode: number, extra: Uint8Array, then: () => void): void {
    const at = this.#ctx.clock.now() + (this.#ctx.latency.fspCotResponseMs ?? 20);
    this.#at(at, "reply", () => {
      const reply = encodeFspResponse(type, errorCode, extra);
      this.#emem.set(reply, 0);
      this.#msgqHead[0] = 0;
      this.#msgqTail[0] = reply.length - 4;
      if (this.#state === "answering") this.#state = "idle";
      then();
    });
  }

  #bootFmc(accepted: CotAcceptance): void {
    const ctx = this.#ctx;
    const gsp = ctx.falcons.GSP;
    this.#state = "accepted";
    ctx.pfb.setWpr2(accepted.wpr2.start, accepted.wpr2.end);
    log.info("FSP: FRTS at 0x{frts}, WPR2 0x{start}..0x{end}; the FMC boots", {
      frts: accepted.frts.start.toString(16),
      start: accepted.wpr2.start.toString(16),
      end: accepted.wpr2.end.toString(16),
    });
    if (ctx.faults.armed("fsp-lockdown-held")) {
      ctx.faults.fired("fsp-lockdown-held", "the GSP's PRIV target mask is never released");
      return;
    }
    gsp.writeMailbox(0, Number(accepted.bootParams & 0xffff_ffffn));
    gsp.writeMailbox(1, Number(accepted.bootParams >> 32n));
    gsp.setPrivLockdown(true);
    this.#owner = "fmc";
    const at = ctx.clock.now() + (ctx.latency.fmcBootMs ?? 60);
    this.#at(at, "FMC starts GSP-RM", () => {
      gsp.setPrivLockdown(false);
      this.#owner = "released";
      // The FMC reads its boot params and the WPR meta again as it runs: a host that freed
      // them early (before the GSP halted) makes it fail.
      try {
        ctx.dma.read(accepted.bootParams, FMC_BOOT_PARAMS_SIZE);
        ctx.dma.read(accepted.wprMeta, WPR_META_SIZE);
      } catch (e) {
        if (!(e instanceof SimDmaFault)) throw e;
        log.warn("FMC: {error}; it stops with MBOX0 0x{code}", {
          error: e.message,
          code: FMC_DMA_FAULT.toString(16),
        });
        gsp.writeMailbox(0, FMC_DMA_FAULT);
        gsp.writeMailbox(1, 0);
        return;
      }
      gsp.writeMailbox(0, 0);
      gsp.writeMailbox(1, 0);
      this.#gspRm().startByFmc(accepted.libosArgs);
    });
  }

  #at(at: number, what: string, run: () => void): void {
    this.#schedule.push({ at, what, run });
    this.#schedule.sort((a, b) => a.at - b.at);
  }
}

/**
 * Whether a chip boots through the FSP (and so has an {@linkcode FspBlock}).
 *
 * @param chip The chip.
 * @returns `true` on Hopper and Blackwell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasFsp } from "./fsp.ts";
 * import { chipByName } from "../../chips/chips.ts";
 * assert(hasFsp(chipByName("gh100")!) && !hasFsp(chipByName("ga102")!));
 * ```
 */
export function hasFsp(chip: ChipInfo): boolean {
  return familyOf(chip).bootPath === "fsp";
}
