/**
 * The CPU sequencer: on the SEC2 path (TU102 family) GSP-RM sends
 * `GSP_RUN_CPU_SEQUENCER` with a packed script of register operations and
 * core operations that the driver executes, ending with CORE_RESUME, which
 * restarts GSP-RM through SEC2.
 *
 * Payload (`rpc_run_cpu_sequencer_v17_00`, 570.144 `g_rpc-structures.h`,
 * pinned by `gsp_abi_check.c`): u32 `bufferSizeDWord` at 0, u32 `cmdIndex`
 * at 4, u32 `regSaveArea[8]` at 8, the command words from 40. `cmdIndex` is
 * the END POSITION of the packed stream in u32 words (reference §3.10
 * correction): it must be below `bufferSizeDWord`, and the loop runs while
 * the word position is below it. Each command is an opcode word followed by
 * its payload words (`rmgspseq.h`):
 *
 * | opcode | name               | payload words                           |
 * | ------ | ------------------ | --------------------------------------- |
 * | 0      | REG_WRITE          | addr, val                               |
 * | 1      | REG_MODIFY         | addr, mask, val → `(old & ~mask) \| val` |
 * | 2      | REG_POLL           | addr, mask, val, timeout µs (0 → 4 s), error |
 * | 3      | DELAY_US           | val                                     |
 * | 4      | REG_STORE          | addr, index → `regSaveArea[index]`, index < 8 |
 * | 5      | CORE_RESET         | —                                       |
 * | 6      | CORE_START         | —                                       |
 * | 7      | CORE_WAIT_FOR_HALT | —                                       |
 * | 8      | CORE_RESUME        | —                                       |
 *
 * Behaviour follows NVIDIA's `kgspExecuteSequencerBuffer_IMPL`
 * (`kernel_gsp.c`) and `kgspExecuteSequencerCommand_TU102`/`_GA102`
 * (reference §13): CORE_RESET is the falcon reset then
 * `kflcnDisableCtxReq` (FBIF_CTL `ALLOW_PHYS_NO_CTX`, DMACTL = 0);
 * CORE_WAIT_FOR_HALT waits 2 s; CORE_RESUME resets the GSP
 * into RISC-V, writes the LibOS init-args address into MAILBOX0/1, starts
 * SEC2, waits (default 4 s) for `NV_PGC6_BSI_SECURE_SCRATCH_14`
 * `BOOT_STAGE_3_HANDOFF`, requires SEC2 MAILBOX0 = 0, writes FALCON_OS on
 * GA102 and later only, and requires the RISC-V core active.
 *
 * The falcon operations themselves belong to the falcon driver: they come
 * in through {@linkcode SequencerFalconOps}. Register addresses in the
 * script are BAR0 offsets, checked against the BAR before every access.
 *
 * @example Decode a script
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSequencerPayload, SEQ_OPCODE } from "./sequencer.ts";
 * const header = [8, 3, 0, 0, 0, 0, 0, 0, 0, 0]; // bufferSizeDWord, cmdIndex, regSaveArea[8]
 * const commands = [SEQ_OPCODE.DELAY_US, 5, SEQ_OPCODE.CORE_START, 0, 0, 0, 0, 0];
 * const payload = new Uint8Array(new Uint32Array([...header, ...commands]).buffer);
 * const script = decodeSequencerPayload(payload);
 * assert.deepEqual(script.commands.map((c) => c.op), ["DELAY_US", "CORE_START"]);
 * assert.equal(script.commands[1].position, 2);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { chipByName, type ChipInfo, falconHalOf } from "../chips/chips.ts";
import { FalconryError, HardwareTimeoutError } from "../errors.ts";
import type { Clock } from "../pci/clock.ts";
import type { Mmio } from "../pci/mmio.ts";
import { pollValue } from "../pci/mmio.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import type { GspMessageQueues } from "./msgq.ts";
import { RPC_EVENT } from "./rpc.ts";

const log = getLogger(["falconry", "gsp", "sequencer"]);

/** `GSP_SEQ_BUF_OPCODE` (rmgspseq.h; every value pinned by gsp_abi_check.c). */
export const SEQ_OPCODE = {
  REG_WRITE: 0,
  REG_MODIFY: 1,
  REG_POLL: 2,
  DELAY_US: 3,
  REG_STORE: 4,
  CORE_RESET: 5,
  CORE_START: 6,
  CORE_WAIT_FOR_HALT: 7,
  CORE_RESUME: 8,
} as const;

/** An opcode's name. */
export type SequencerOpName = keyof typeof SEQ_OPCODE;

/** Payload words per opcode (`GSP_SEQUENCER_PAYLOAD_SIZE_DWORDS`). */
export const SEQ_PAYLOAD_WORDS: Readonly<Record<SequencerOpName, number>> = {
  REG_WRITE: 2,
  REG_MODIFY: 3,
  REG_POLL: 5,
  DELAY_US: 1,
  REG_STORE: 2,
  CORE_RESET: 0,
  CORE_START: 0,
  CORE_WAIT_FOR_HALT: 0,
  CORE_RESUME: 0,
};

const OP_NAMES = new Map<number, SequencerOpName>(
  Object.entries(SEQ_OPCODE).map(([name, code]) => [code, name as SequencerOpName]),
);

/** `rpc_run_cpu_sequencer_v17_00` offsets. */
export const RUN_CPU_SEQUENCER = {
  bufferSizeDWord: 0,
  cmdIndex: 4,
  regSaveArea: 8,
  /** `GSP_SEQ_BUF_REG_SAVE_SIZE`. */
  regSaveCount: 8,
  commandBuffer: 40,
} as const;

/**
 * Timeouts of the sequencer's waits. REG_POLL's payload timeout is in
 * microseconds and 0 means NVIDIA's default of 4 s; CORE_RESUME's handoff
 * wait uses that default too (reference §13). CORE_WAIT_FOR_HALT waits 2 s
 * as reference §3.10 (nova-core, nouveau) says; NVIDIA's
 * `kgspExecuteSequencerBuffer_IMPL` passes `GPU_TIMEOUT_DEFAULT` there as
 * well, i.e. 4 s.
 */
export const SEQUENCER_TIMEOUTS = {
  defaultUs: 4_000_000,
  waitForHaltMs: 2000,
  resumeHandoffMs: 4000,
} as const;

/** One decoded command, with the word position of its opcode. */
export type SequencerCommand =
  & { readonly position: number }
  & (
    | { readonly op: "REG_WRITE"; readonly addr: number; readonly value: number }
    | {
      readonly op: "REG_MODIFY";
      readonly addr: number;
      readonly mask: number;
      readonly value: number;
    }
    | {
      readonly op: "REG_POLL";
      readonly addr: number;
      readonly mask: number;
      readonly value: number;
      readonly timeoutUs: number;
      readonly error: number;
    }
    | { readonly op: "DELAY_US"; readonly us: number }
    | { readonly op: "REG_STORE"; readonly addr: number; readonly index: number }
    | { readonly op: "CORE_RESET" | "CORE_START" | "CORE_WAIT_FOR_HALT" | "CORE_RESUME" }
  );

/** A decoded `GSP_RUN_CPU_SEQUENCER` payload. */
export interface SequencerScript {
  /** `bufferSizeDWord`. */
  readonly bufferSizeDWord: number;
  /** `cmdIndex`: the end position of the stream, in words. */
  readonly cmdIndex: number;
  /** `regSaveArea` as GSP-RM sent it. */
  readonly regSaveArea: readonly number[];
  /** The commands, in order. */
  readonly commands: readonly SequencerCommand[];
}

/**
 * A sequencer script the driver cannot run: malformed, an address outside
 * the BAR, a REG_STORE index out of range, a REG_POLL that timed out (its
 * `error` code kept), a failed core operation. Names the command's word
 * position and opcode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SequencerError } from "./sequencer.ts";
 * const e = new SequencerError(12, "REG_WRITE", "addr", "0x2000000 is outside BAR0");
 * assert.match(e.message, /word 12 \(REG_WRITE\): addr: /);
 * ```
 */
export class SequencerError extends FalconryError {
  /** Word position of the command's opcode (-1 for the payload header). */
  readonly position: number;
  /** The opcode's name, or its number in hex. */
  readonly opcode: string;
  /** The field at fault. */
  readonly field: string;
  /** What is wrong. */
  readonly reason: string;
  /** REG_POLL's `error` code, when a poll timed out. */
  readonly errorCode?: number;

  /**
   * Construct it.
   *
   * @param position Word position of the opcode.
   * @param opcode Its name.
   * @param field The field at fault.
   * @param reason What is wrong.
   * @param options Cause, and REG_POLL's error code.
   */
  constructor(
    position: number,
    opcode: string,
    field: string,
    reason: string,
    options: { cause?: unknown; errorCode?: number } = {},
  ) {
    super(`CPU sequencer, word ${position} (${opcode}): ${field}: ${reason}`, {
      cause: options.cause,
    });
    this.position = position;
    this.opcode = opcode;
    this.field = field;
    this.reason = reason;
    this.errorCode = options.errorCode;
  }
}

/**
 * Decode and check a payload: `bufferSizeDWord` non-zero, `cmdIndex` below
 * it and inside the payload, every opcode known, every command's payload
 * inside `cmdIndex`.
 *
 * @param payload The RPC payload.
 * @returns The script.
 * @throws {SequencerError} naming the position and field at fault.
 */
export function decodeSequencerPayload(payload: Uint8Array): SequencerScript {
  const r = RUN_CPU_SEQUENCER;
  if (payload.length < r.commandBuffer) {
    throw new SequencerError(
      -1,
      "header",
      "payload",
      `${payload.length} bytes < ${r.commandBuffer}`,
    );
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const bufferSizeDWord = view.getUint32(r.bufferSizeDWord, true);
  const cmdIndex = view.getUint32(r.cmdIndex, true);
  const wordsSent = Math.floor((payload.length - r.commandBuffer) / 4);
  if (bufferSizeDWord === 0) {
    throw new SequencerError(-1, "header", "bufferSizeDWord", "is 0");
  }
  if (cmdIndex >= bufferSizeDWord || cmdIndex > wordsSent) {
    throw new SequencerError(
      -1,
      "header",
      "cmdIndex",
      `${cmdIndex} must be below bufferSizeDWord ${bufferSizeDWord} and within the ${wordsSent} ` +
        `words sent`,
    );
  }
  const word = (i: number) => view.getUint32(r.commandBuffer + 4 * i, true);
  const regSaveArea = Array.from(
    { length: r.regSaveCount },
    (_, i) => view.getUint32(r.regSaveArea + 4 * i, true),
  );
  const commands: SequencerCommand[] = [];
  for (let position = 0; position < cmdIndex;) {
    const code = word(position);
    const op = OP_NAMES.get(code);
    if (!op) {
      throw new SequencerError(position, `0x${code.toString(16)}`, "opcode", "unknown opcode");
    }
    const size = SEQ_PAYLOAD_WORDS[op];
    if (position + 1 + size > cmdIndex) {
      throw new SequencerError(
        position,
        op,
        "payload",
        `${size} payload words run past cmdIndex ${cmdIndex}`,
      );
    }
    const p = (i: number) => word(position + 1 + i);
    commands.push(decodeCommand(op, position, p));
    position += 1 + size;
  }
  return { bufferSizeDWord, cmdIndex, regSaveArea, commands };
}

function decodeCommand(
  op: SequencerOpName,
  position: number,
  p: (i: number) => number,
): SequencerCommand {
  switch (op) {
    case "REG_WRITE":
      return { position, op, addr: p(0), value: p(1) };
    case "REG_MODIFY":
      return { position, op, addr: p(0), mask: p(1), value: p(2) };
    case "REG_POLL":
      return { position, op, addr: p(0), mask: p(1), value: p(2), timeoutUs: p(3), error: p(4) };
    case "DELAY_US":
      return { position, op, us: p(0) };
    case "REG_STORE":
      return { position, op, addr: p(0), index: p(1) };
    default:
      return { position, op };
  }
}

/**
 * The falcon operations the sequencer needs, implemented by the falcon
 * driver (`falcon/`).
 */
export interface SequencerFalconOps {
  /** CORE_RESET: reset the GSP falcon (`kflcnReset_HAL`). */
  resetGsp(signal?: AbortSignal): Promise<void>;
  /** CORE_START: start the GSP CPU (`kflcnStartCpu_HAL`: CPUCTL_ALIAS when aliased, else CPUCTL). */
  startGsp(): void | Promise<void>;
  /**
   * CORE_WAIT_FOR_HALT: resolve once the GSP falcon has halted.
   *
   * @param timeoutMs How long to wait.
   * @param signal Abort signal.
   */
  waitGspHalted(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** CORE_RESUME, first step: reset the GSP into RISC-V mode (`kflcnResetIntoRiscv_HAL`). */
  resetGspIntoRiscv(signal?: AbortSignal): Promise<void>;
  /** CORE_RESUME: start SEC2, whose RTOS reloads GSP-RM. */
  startSec2(): void | Promise<void>;
  /** CORE_RESUME, last check: is the GSP's RISC-V core active? */
  isGspRiscvActive(): boolean;
}

/** What {@linkcode runSequencer} needs. */
export interface RunSequencerOptions {
  /** BAR0: 32-bit access and its size, for the bounds check. */
  readonly bar: Pick<Mmio, "size" | "read32" | "write32">;
  /** The device's clock (DELAY_US, REG_POLL and CORE_RESUME's wait). */
  readonly clock: Clock;
  /** The chip: its registers, and whether CORE_RESUME writes FALCON_OS. */
  readonly chip: string | ChipInfo;
  /** The falcon driver's operations. */
  readonly falcon: SequencerFalconOps;
  /** The LibOS init-args address CORE_RESUME writes into the GSP's MAILBOX0/1. */
  readonly libosArgsAddress: bigint;
  /** The GSP-RM image's app version, for FALCON_OS (GA102 and later). */
  readonly osVersion?: number;
  /** Abort signal. */
  readonly signal?: AbortSignal;
}

/** What a run did. */
export interface SequencerResult {
  /** `regSaveArea` after every REG_STORE. */
  readonly regSaveArea: readonly number[];
  /** Commands executed. */
  readonly executed: number;
}

/**
 * Execute a `GSP_RUN_CPU_SEQUENCER` payload.
 *
 * @param payload The RPC payload.
 * @param options BAR, clock, chip, falcon operations, LibOS address, signal.
 * @returns The register save area and the count of commands run.
 * @throws {SequencerError} for a malformed script, an address outside BAR0,
 *   a REG_POLL timeout (cause: the {@linkcode HardwareTimeoutError}), or a
 *   failed CORE_RESUME check.
 */
export async function runSequencer(
  payload: Uint8Array,
  options: RunSequencerOptions,
): Promise<SequencerResult> {
  const script = decodeSequencerPayload(payload);
  const run = new SequencerRun(script, options);
  for (const command of script.commands) {
    options.signal?.throwIfAborted();
    await run.execute(command);
  }
  log.info("ran the CPU sequencer: {count} commands, {words} words", {
    count: script.commands.length,
    words: script.cmdIndex,
  });
  return { regSaveArea: run.regSaveArea, executed: script.commands.length };
}

class SequencerRun {
  readonly regSaveArea: number[];
  readonly #o: RunSequencerOptions;
  readonly #gsp: ReturnType<typeof falconRegisters>;
  readonly #sec2: ReturnType<typeof falconRegisters>;
  readonly #regs: ReturnType<typeof chipRegisters>;
  readonly #writesOs: boolean;

  constructor(script: SequencerScript, options: RunSequencerOptions) {
    this.regSaveArea = [...script.regSaveArea];
    this.#o = options;
    this.#gsp = falconRegisters(options.chip, "GSP");
    this.#sec2 = falconRegisters(options.chip, "SEC2");
    this.#regs = chipRegisters(options.chip);
    const chip = typeof options.chip === "string" ? chipByName(options.chip) : options.chip;
    // FALCON_OS is written in CORE_RESUME only by kgspExecuteSequencerCommand_GA102.
    this.#writesOs = chip !== undefined && falconHalOf(chip).name !== "tu102";
  }

  #addr(command: SequencerCommand & { addr: number }): number {
    const { addr } = command;
    if (addr % 4 !== 0 || addr >= this.#o.bar.size) {
      throw new SequencerError(
        command.position,
        command.op,
        "addr",
        `0x${addr.toString(16)} is not a 4-byte aligned offset inside the ` +
          `0x${this.#o.bar.size.toString(16)}-byte BAR0`,
      );
    }
    return addr;
  }

  async execute(c: SequencerCommand): Promise<void> {
    const { bar, clock, signal, falcon } = this.#o;
    switch (c.op) {
      case "REG_WRITE":
        return bar.write32(this.#addr(c), c.value >>> 0);
      case "REG_MODIFY": {
        const addr = this.#addr(c);
        return bar.write32(addr, ((bar.read32(addr) & ~c.mask) | c.value) >>> 0);
      }
      case "REG_POLL": {
        const addr = this.#addr(c);
        const timeoutUs = c.timeoutUs === 0 ? SEQUENCER_TIMEOUTS.defaultUs : c.timeoutUs;
        try {
          await pollValue(() => bar.read32(addr), (v) => ((v & c.mask) >>> 0) === c.value >>> 0, {
            timeoutMs: timeoutUs / 1000,
            intervalMs: 0,
            clock,
            signal,
            name: `BAR0+0x${addr.toString(16)} & 0x${(c.mask >>> 0).toString(16)}`,
          });
        } catch (error) {
          if (!(error instanceof HardwareTimeoutError)) throw error;
          throw new SequencerError(
            c.position,
            c.op,
            "timeout",
            `0x${addr.toString(16)} & 0x${(c.mask >>> 0).toString(16)} stayed 0x${
              ((error.lastValue & c.mask) >>> 0).toString(16)
            }, not 0x${(c.value >>> 0).toString(16)}, for ${timeoutUs} µs (error code ${c.error})`,
            { cause: error, errorCode: c.error },
          );
        }
        return;
      }
      case "DELAY_US":
        return clock.sleep(c.us / 1000, signal);
      case "REG_STORE": {
        if (c.index >= RUN_CPU_SEQUENCER.regSaveCount) {
          throw new SequencerError(
            c.position,
            c.op,
            "index",
            `${c.index} is outside regSaveArea[0..${RUN_CPU_SEQUENCER.regSaveCount - 1}]`,
          );
        }
        this.regSaveArea[c.index] = bar.read32(this.#addr(c));
        return;
      }
      case "CORE_RESET":
        await falcon.resetGsp(signal);
        // kflcnDisableCtxReq: physical DMA without a context, DMACTL cleared.
        this.#gsp.FBIF_CTL.modify(bar, { ALLOW_PHYS_NO_CTX: 1 });
        this.#gsp.DMACTL.writeRaw(bar, 0);
        return;
      case "CORE_START":
        return falcon.startGsp();
      case "CORE_WAIT_FOR_HALT":
        return this.#core(c, () => falcon.waitGspHalted(SEQUENCER_TIMEOUTS.waitForHaltMs, signal));
      case "CORE_RESUME":
        return this.#resume(c);
    }
  }

  async #core(c: SequencerCommand, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (!(error instanceof HardwareTimeoutError)) throw error;
      throw new SequencerError(c.position, c.op, "timeout", error.message, { cause: error });
    }
  }

  async #resume(c: SequencerCommand): Promise<void> {
    const { bar, clock, signal, falcon, libosArgsAddress } = this.#o;
    await falcon.resetGspIntoRiscv(signal);
    this.#gsp.MAILBOX0.writeRaw(bar, Number(libosArgsAddress & 0xffff_ffffn));
    this.#gsp.MAILBOX1.writeRaw(bar, Number(libosArgsAddress >> 32n));
    await falcon.startSec2();
    const handoff = this.#regs.PGC6.BSI_SECURE_SCRATCH_14;
    await this.#core(c, async () => {
      await pollValue(
        () => handoff.readRaw(bar),
        (v) => handoff.decode(v).BOOT_STAGE_3_HANDOFF === 1,
        {
          timeoutMs: SEQUENCER_TIMEOUTS.resumeHandoffMs,
          intervalMs: 0,
          clock,
          signal,
          name: `${handoff.name} BOOT_STAGE_3_HANDOFF`,
        },
      );
    });
    const sec2Mailbox0 = this.#sec2.MAILBOX0.readRaw(bar);
    if (sec2Mailbox0 !== 0) {
      throw new SequencerError(
        c.position,
        c.op,
        "SEC2 MAILBOX0",
        `SEC2-RTOS reported 0x${sec2Mailbox0.toString(16)} while resuming GSP-RM (0 is success)`,
      );
    }
    if (this.#writesOs) this.#gsp.OS.writeRaw(bar, this.#o.osVersion ?? 0);
    if (!falcon.isGspRiscvActive()) {
      throw new SequencerError(
        c.position,
        c.op,
        "RISC-V",
        "the GSP core is not active after resume",
      );
    }
  }
}

/**
 * Wait for GSP_RUN_CPU_SEQUENCER (consuming unrelated messages, 5 s per
 * message) and run it.
 *
 * @param queues The message queues.
 * @param options What {@linkcode runSequencer} needs, and a per-message timeout.
 * @returns What the run did.
 * @throws {GspReceiveTimeoutError} when the event does not come.
 */
export async function receiveAndRunSequencer(
  queues: GspMessageQueues,
  options: RunSequencerOptions & { readonly timeoutMs?: number },
): Promise<SequencerResult> {
  const message = await queues.waitFor(RPC_EVENT.GSP_RUN_CPU_SEQUENCER, options);
  return runSequencer(message.payload, options);
}
