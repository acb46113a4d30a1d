/**
 * The `GSP_RUN_CPU_SEQUENCER` payload GSP-RM sends on the SEC2 (TU102
 * family) path: a packed stream of u32 opcodes, each followed by its payload
 * words, that the host driver executes on the GPU.
 *
 * Layout (`rpc_run_cpu_sequencer_v17_00`, g_rpc-structures.h 570.144):
 * u32 `bufferSizeDWord`, u32 `cmdIndex`, u32 `regSaveArea[8]`, then the
 * command buffer of `bufferSizeDWord` words. `cmdIndex` is the *end
 * position in u32 words* of the packed stream (reference §3.10 correction;
 * NVIDIA's `kgspExecuteSequencerBuffer_IMPL` runs while the word position is
 * below it and requires `cmdIndex < bufferSizeDWord`). Opcodes and payload
 * sizes: `rmgspseq.h` (REG_WRITE 0 {addr, val}, REG_MODIFY 1 {addr, mask,
 * val}, REG_POLL 2 {addr, mask, val, timeout µs, error}, DELAY_US 3 {val},
 * REG_STORE 4 {addr, index}, CORE_RESET 5, CORE_START 6,
 * CORE_WAIT_FOR_HALT 7, CORE_RESUME 8 with no payload).
 *
 * The register addresses come from the caller (the chip model), so this file
 * holds no chip's register map.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSequencerPayload, SEQ_OPCODE } from "./sequencer_script.ts";
 * const payload = encodeSequencerPayload(
 *   [{ op: "REG_WRITE", addr: 0x1000, value: 1 }, { op: "CORE_RESUME" }],
 *   16,
 * );
 * const view = new DataView(payload.buffer);
 * assert.equal(view.getUint32(0, true), 16); // bufferSizeDWord
 * assert.equal(view.getUint32(4, true), 4); // cmdIndex: 3 + 1 words
 * assert.equal(view.getUint32(40 + 12, true), SEQ_OPCODE.CORE_RESUME);
 * ```
 *
 * @module
 */

import { RUN_CPU_SEQUENCER } from "./structs.ts";

/** `GSP_SEQ_BUF_OPCODE` (rmgspseq.h; NVIDIA's ABI check pins every value). */
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

/** Payload words per opcode (`GSP_SEQUENCER_PAYLOAD_SIZE_DWORDS`). */
export const SEQ_PAYLOAD_WORDS: Readonly<Record<keyof typeof SEQ_OPCODE, number>> = {
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

/** `GSP_SEQUENCER_BUFFER_ERR_TIMEOUT1`: the error code a REG_POLL carries. */
export const SEQ_ERROR_TIMEOUT1 = 1;

/** One sequencer command. */
export type SequencerCommand =
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
    /** Microseconds; 0 means the host's default (4 s). */
    readonly timeoutUs: number;
    readonly error: number;
  }
  | { readonly op: "DELAY_US"; readonly us: number }
  | { readonly op: "REG_STORE"; readonly addr: number; readonly index: number }
  | { readonly op: "CORE_RESET" | "CORE_START" | "CORE_WAIT_FOR_HALT" | "CORE_RESUME" };

function commandWords(command: SequencerCommand): number[] {
  const opcode = SEQ_OPCODE[command.op];
  switch (command.op) {
    case "REG_WRITE":
      return [opcode, command.addr, command.value];
    case "REG_MODIFY":
      return [opcode, command.addr, command.mask, command.value];
    case "REG_POLL":
      return [opcode, command.addr, command.mask, command.value, command.timeoutUs, command.error];
    case "DELAY_US":
      return [opcode, command.us];
    case "REG_STORE":
      return [opcode, command.addr, command.index];
    default:
      return [opcode];
  }
}

/**
 * Pack commands into an `rpc_run_cpu_sequencer_v17_00` payload.
 *
 * @param commands The script.
 * @param bufferSizeDWord Size of the command buffer GSP-RM sends, in words;
 *   must exceed the packed stream (`cmdIndex < bufferSizeDWord`).
 * @returns The payload: 40 header bytes and `bufferSizeDWord` words, zero after `cmdIndex`.
 * @throws {RangeError} when the stream does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSequencerPayload } from "./sequencer_script.ts";
 * assert.throws(() => encodeSequencerPayload([{ op: "CORE_START" }], 1), RangeError);
 * ```
 */
export function encodeSequencerPayload(
  commands: readonly SequencerCommand[],
  bufferSizeDWord: number,
): Uint8Array {
  const words = commands.flatMap(commandWords);
  if (words.length >= bufferSizeDWord) {
    throw new RangeError(
      `${words.length} command words do not fit a ${bufferSizeDWord}-word buffer ` +
        `(cmdIndex must stay below bufferSizeDWord)`,
    );
  }
  const payload = new Uint8Array(RUN_CPU_SEQUENCER.commandBuffer + bufferSizeDWord * 4);
  const view = new DataView(payload.buffer);
  view.setUint32(RUN_CPU_SEQUENCER.bufferSizeDWord, bufferSizeDWord, true);
  view.setUint32(RUN_CPU_SEQUENCER.cmdIndex, words.length, true);
  words.forEach((word, i) =>
    view.setUint32(RUN_CPU_SEQUENCER.commandBuffer + i * 4, word >>> 0, true)
  );
  return payload;
}

/** Register roles of the script; the chip model supplies BAR0 offsets. */
export interface SequencerScriptRegisters {
  /** A register the script writes, then polls back (a handoff flag). */
  readonly handoff: { readonly addr: number; readonly value: number };
  /** A field the script sets with REG_MODIFY (e.g. the GSP's FBIF_CTL allow_phys_no_ctx). */
  readonly modify: { readonly addr: number; readonly mask: number; readonly value: number };
  /** The GSP falcon's MAILBOX0, saved into `regSaveArea[0]`. */
  readonly mailbox0: number;
  /** The GSP falcon's MAILBOX1, saved into `regSaveArea[1]`. */
  readonly mailbox1: number;
  /** DELAY_US between the setup and the core steps; default 10. */
  readonly delayUs?: number;
  /** REG_POLL timeout in µs; default 0 (the host's 4 s). */
  readonly pollTimeoutUs?: number;
}

/** `GSP_SEQ_BUF_REG_SAVE_MAILBOX0`/`1` (rmgspseq.h). */
export const SEQ_REG_SAVE = { MAILBOX0: 0, MAILBOX1: 1 } as const;

/**
 * The script the simulated GSP-RM sends at boot: every opcode once or more,
 * in the order a suspend-and-resume of the GSP core needs them: set up and
 * confirm a handoff flag, save the GSP mailboxes, reset, start and halt the
 * core, then resume GSP-RM through SEC2.
 *
 * The handoff register must read back what was written (a plain scratch
 * register); with `unreachablePoll` the REG_POLL waits for a value the
 * REG_WRITE did not write (bit 0 flipped), so the host's poll times out with
 * error code `GSP_SEQUENCER_BUFFER_ERR_TIMEOUT1`.
 *
 * @param registers BAR0 offsets for each role.
 * @param options `unreachablePoll`: make the REG_POLL never succeed (a fault point).
 * @returns The commands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realisticSequencerScript, SEQ_OPCODE } from "./sequencer_script.ts";
 * const script = realisticSequencerScript({
 *   handoff: { addr: 0x118100, value: 0x1 },
 *   modify: { addr: 0x110624, mask: 0x80, value: 0x80 },
 *   mailbox0: 0x110040,
 *   mailbox1: 0x110044,
 * });
 * assert.deepEqual(new Set(script.map((c) => c.op)), new Set(Object.keys(SEQ_OPCODE)));
 * assert.equal(script.at(-1)?.op, "CORE_RESUME");
 * ```
 */
export function realisticSequencerScript(
  registers: SequencerScriptRegisters,
  options: { readonly unreachablePoll?: boolean } = {},
): SequencerCommand[] {
  const { handoff, modify } = registers;
  const pollValue = options.unreachablePoll ? (handoff.value ^ 1) >>> 0 : handoff.value;
  return [
    { op: "REG_WRITE", addr: handoff.addr, value: handoff.value },
    { op: "REG_MODIFY", addr: modify.addr, mask: modify.mask, value: modify.value },
    {
      op: "REG_POLL",
      addr: handoff.addr,
      mask: 0xffff_ffff,
      value: pollValue,
      timeoutUs: registers.pollTimeoutUs ?? 0,
      error: SEQ_ERROR_TIMEOUT1,
    },
    { op: "DELAY_US", us: registers.delayUs ?? 10 },
    { op: "REG_STORE", addr: registers.mailbox0, index: SEQ_REG_SAVE.MAILBOX0 },
    { op: "REG_STORE", addr: registers.mailbox1, index: SEQ_REG_SAVE.MAILBOX1 },
    { op: "CORE_RESET" },
    { op: "CORE_START" },
    { op: "CORE_WAIT_FOR_HALT" },
    { op: "CORE_RESUME" },
  ];
}
