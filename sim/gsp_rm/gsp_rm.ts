/**
 * The GSP-RM model: the firmware that runs on the GSP's RISC-V core after
 * Booter, simulated at protocol level over simulated system memory.
 *
 * Driven by calls, never by timers: the chip model calls
 * {@linkcode GspRm.start} when Booter starts the core (RISC-V active) and
 * {@linkcode GspRm.poll} whenever the host may have changed something (a
 * doorbell write to `NV_PGSP_QUEUE_HEAD`, a resume, or simply on every
 * clock step). Time comes from {@linkcode GspRmEffects.now}.
 *
 * What it does, in order (reference §3.10, §5, §6; NVIDIA 570.144 sources
 * named in each file of this folder):
 * 1. `start()`: read the LibOS init-args address from MBOX0 (low) and MBOX1
 *    (high), the region descriptors (found by id), RMARGS
 *    (`GSP_ARGUMENTS_CACHED`), the queue page table; open the LOGINIT,
 *    LOGINTR and LOGRM buffers; write the status queue header and link the
 *    command queue. Any failure here is a firmware panic: the fault is
 *    recorded, LOGINIT says why when it is open, and the core halts.
 * 2. Expect GSP_SET_SYSTEM_INFO, then SET_REGISTRY. Anything else first is
 *    a protocol violation: recorded, logged, ignored (a command that wants
 *    a reply gets `NV_ERR_INVALID_STATE`); the model keeps waiting.
 * 3. With a sequencer (SEC2 path), send GSP_RUN_CPU_SEQUENCER and wait until
 *    the chip model reports the CORE_RESUME handshake
 *    ({@linkcode GspRmEffects.coreResumed}); then send GSP_INIT_DONE once
 *    `initDurationNs` has passed since `start()`. Without a sequencer (FSP
 *    path), no resume is awaited.
 * 4. Answer GET_GSP_STATIC_INFO with the board's names.
 * 5. On UNLOADING_GUEST_DRIVER: reply, write MBOX0 = 0x80000000 exactly
 *    (`LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`; NVIDIA compares for equality), halt.
 *
 * A receive failure on the command queue (bad checksum, future sequence
 * number, incomplete or over-long element; see `queue.ts`) leaves the
 * element where it is and the model stops serving the queue: the fault
 * `queue-corrupted` is recorded and LOGRM says why, and no reply ever comes.
 * GSP-RM's receive path is not public; this follows NVIDIA's CPU-side
 * `GspMsgQueueReceiveStatus`, which fails the same way and leaves the queue
 * unusable, since the element is never consumed. A well-formed element
 * whose RPC header has the wrong version or signature is answered with
 * `NV_VGPU_MSG_RESULT_RPC_INVALID_MESSAGE_FORMAT` and recorded.
 *
 * @example
 * See `tests/sim_gsp_rm_test.ts` for a host side that boots and unloads it.
 * ```ts
 * import assert from "node:assert/strict";
 * import { GspRm } from "./gsp_rm.ts";
 * import { SystemMemory } from "../system_memory.ts";
 * const halted: string[] = [];
 * const gsp = new GspRm({
 *   dma: new SystemMemory(),
 *   board: { boardName: "NVIDIA TITAN RTX", chip: "TU102" },
 *   effects: {
 *     now: () => 0,
 *     readMailbox: () => 0x1000,
 *     writeMailbox0: () => {},
 *     halt: () => halted.push("halt"),
 *     coreResumed: () => false,
 *   },
 * });
 * gsp.start(); // nothing is mapped at 0x1000: an IOMMU fault, so the core halts
 * assert.equal(gsp.state, "failed");
 * assert.equal(gsp.faults[0].what, "dma-fault");
 * assert.deepEqual(halted, ["halt"]);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { type DmaView, SimDmaFault } from "../system_memory.ts";
import type { GspRmFaultName } from "./faults.ts";
import {
  findLibosRegion,
  type LibosRegion,
  readLibosRegions,
  readRmArgs,
  type RmArgs,
  SimGspRmFormatError,
} from "./init_args.ts";
import { LibosLogBuffer, type LogMessage } from "./logs.ts";
import { GspRmQueues, type ReceivedMessage, SharedArea } from "./queue.ts";
import { encodeRpcHeader, RPC_EVENT, RPC_FUNCTION, RPC_RESULT, rpcName } from "./rpc.ts";
import {
  encodeSequencerPayload,
  realisticSequencerScript,
  type SequencerScriptRegisters,
} from "./sequencer_script.ts";
import { type BoardIdentity, staticInfoPayload } from "./static_info.ts";
import {
  GSP_ARGUMENTS_CACHED,
  GSP_PAGE_SIZE,
  GSP_STATIC_CONFIG_INFO,
  GSP_SYSTEM_INFO,
  PACKED_REGISTRY,
  RPC_HEADER,
  UNLOADING_GUEST_DRIVER,
} from "./structs.ts";

const log = getLogger(["falconry", "sim", "gsp_rm"]);

/** `LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`: MBOX0 bit 31 (reference §6.1). */
export const MBOX0_SUSPENDED = 0x8000_0000;

/** What the chip model provides to the firmware model. */
export interface GspRmEffects {
  /** Virtual time now, in nanoseconds (LibOS log timestamps). */
  now(): number;
  /**
   * The GSP falcon's MAILBOX0 or MAILBOX1 as the host left them.
   *
   * @param index 0 or 1.
   */
  readMailbox(index: 0 | 1): number;
  /**
   * Write the GSP falcon's MAILBOX0 (GSP-RM signals suspension with exactly
   * `LIBOS_INTERRUPT_PROCESSOR_SUSPENDED`: NVIDIA's `_kgspIsProcessorSuspended`,
   * kernel_gsp_tu102.c 570.144, tests MBOX0 for equality with it).
   *
   * @param value The whole 32-bit value.
   */
  writeMailbox0(value: number): void;
  /** Halt the GSP core (CPUCTL halted; RISC-V no longer active). */
  halt(): void;
  /**
   * Whether the host has completed the sequencer's CORE_RESUME: the GSP core
   * reset into RISC-V, MBOX0/1 holding the LibOS init-args address again,
   * and SEC2 started to reload GSP-RM.
   */
  coreResumed(): boolean;
}

/** Options of {@linkcode GspRm}. */
export interface GspRmOptions {
  /** System memory as the GSP sees it (through the IOMMU). */
  readonly dma: DmaView;
  /** The chip model's side. */
  readonly effects: GspRmEffects;
  /** What GET_GSP_STATIC_INFO reports. */
  readonly board: BoardIdentity;
  /** Register roles for GSP_RUN_CPU_SEQUENCER; omit on the FSP path (no sequencer). */
  readonly sequencer?: SequencerScriptRegisters;
  /** Command buffer size the sequencer payload declares, in words; default 256. */
  readonly sequencerBufferDWords?: number;
  /**
   * Fault points to arm (see `faults.ts`): a list, or a question asked each
   * time the model reaches a point (so a point armed on a running model
   * still fires; the bad checksum applies to the first message sent).
   */
  readonly faults?: readonly GspRmFaultName[] | ((name: GspRmFaultName) => boolean);
  /** Told when an armed fault point changes what the model does. */
  readonly onFaultFired?: (name: GspRmFaultName, detail: string) => void;
  /**
   * Modelled GSP-RM init time, in ns from `start()` (timing.md measures
   * ~1.2 s on real GPUs); GSP_INIT_DONE waits until `now()` reaches it.
   * Default 0.
   */
  readonly initDurationNs?: number;
  /**
   * Also send unrelated events a host must consume and skip while it waits:
   * a UCODE_LIBOS_PRINT (`rpc_ucode_libos_print_v1E_08`) before the
   * sequencer and before GSP_INIT_DONE. Default false.
   */
  readonly unrelatedEvents?: boolean;
}

/** What {@linkcode GspRm.snapshot} saves. */
export interface GspRmSnapshot {
  /** Format version: 1. */
  readonly version: 1;
  /** Where the model was. */
  readonly state: GspRmState;
  /** `start()` time, ns. */
  readonly startedAtNs: number;
  /** LibOS init-args IOVA, decimal. */
  readonly libosArgs: string;
  /** The shared memory's page-table IOVA (RMARGS), decimal, when it was read. */
  readonly sharedMem: string | null;
  /** Whether a message was sent already. */
  readonly firstSendDone: boolean;
}

/** Where the model is. */
export type GspRmState =
  | "stopped"
  | "awaiting-system-info"
  | "awaiting-registry"
  | "awaiting-resume"
  | "initialising"
  | "init-withheld"
  | "ready"
  | "queue-stopped"
  | "suspended"
  | "halted"
  | "failed";

/** Something the host did wrong, as GSP-RM noticed it. */
export interface GspRmViolation {
  /** Short kind, e.g. `out-of-order`. */
  readonly what: string;
  /** The RPC function concerned. */
  readonly function: number;
  /** Human detail. */
  readonly detail: string;
  /** When (ns). */
  readonly at: number;
}

/** A failure of the firmware itself. */
export interface GspRmFault {
  /** Short kind: `libos-args`, `rm-args`, `queue-link`, `dma-fault`, `queue-corrupted`, `status-queue-full`. */
  readonly what: string;
  /** Human detail. */
  readonly detail: string;
  /** When (ns). */
  readonly at: number;
}

/** A message GSP-RM put on the status queue. */
export interface GspRmSent {
  /** Function or event number. */
  readonly function: number;
  /** `rpc_result`. */
  readonly result: number;
}

interface Outgoing {
  readonly function: number;
  readonly result: number;
  readonly rpc: Uint8Array;
}

/** Regions GSP-RM cannot run without, and the smallest size it accepts. */
const REQUIRED_REGIONS: readonly [string, number][] = [
  ["LOGINIT", GSP_PAGE_SIZE],
  ["LOGINTR", GSP_PAGE_SIZE],
  ["LOGRM", GSP_PAGE_SIZE],
  ["RMARGS", GSP_ARGUMENTS_CACHED.size],
];

/** The simulated GSP-RM. */
export class GspRm {
  readonly #dma: DmaView;
  readonly #effects: GspRmEffects;
  readonly #board: BoardIdentity;
  readonly #sequencer: SequencerScriptRegisters | undefined;
  readonly #sequencerBufferDWords: number;
  readonly #armed: (name: GspRmFaultName) => boolean;
  readonly #onFaultFired?: (name: GspRmFaultName, detail: string) => void;
  #state: GspRmState = "stopped";
  #queues: GspRmQueues | undefined;
  #logs = new Map<string, LibosLogBuffer>();
  #outbox: Outgoing[] = [];
  #firstSendDone = false;
  #queueFullLogged = false;
  readonly #initDurationNs: number;
  readonly #unrelatedEvents: boolean;
  #startedAt = 0;
  #libosArgs = 0n;
  /** Restored in another process: the queues were in the memory of the process that exited. */
  #detached = false;
  /** Violations recorded, oldest first. */
  readonly violations: GspRmViolation[] = [];
  /** Firmware faults recorded, oldest first. */
  readonly faults: GspRmFault[] = [];
  /** Messages sent, oldest first. */
  readonly sent: GspRmSent[] = [];
  /** Commands received and accepted, oldest first. */
  readonly received: ReceivedMessage[] = [];
  /** LibOS regions as read at start. */
  regions: readonly LibosRegion[] = [];
  /** RMARGS as read at start. */
  rmArgs: RmArgs | undefined;
  /** The `GspSystemInfo` payload received. */
  systemInfo: Uint8Array | undefined;
  /** SET_REGISTRY entries (name → DWORD data). */
  readonly registry: Map<string, number> = new Map();

  /**
   * Construct it, stopped.
   *
   * @param options Memory, effects, board, sequencer roles, fault points.
   */
  constructor(options: GspRmOptions) {
    this.#dma = options.dma;
    this.#effects = options.effects;
    this.#board = options.board;
    const faults = options.faults ?? [];
    this.#armed = typeof faults === "function" ? faults : (name) => faults.includes(name);
    this.#onFaultFired = options.onFaultFired;
    this.#initDurationNs = options.initDurationNs ?? 0;
    this.#unrelatedEvents = options.unrelatedEvents ?? false;
    this.#sequencer = options.sequencer;
    this.#sequencerBufferDWords = options.sequencerBufferDWords ?? 256;
  }

  /** Where the model is. */
  get state(): GspRmState {
    return this.#state;
  }

  /** The open LibOS log buffers by id ("LOGRM"). */
  get logs(): ReadonlyMap<string, LibosLogBuffer> {
    return this.#logs;
  }

  /**
   * Boot: read the LibOS args and RMARGS, map the queues, link them.
   * Failures are recorded as faults and halt the core.
   */
  start(): void {
    if (this.#state !== "stopped") return;
    this.#startedAt = this.#effects.now();
    const address = (BigInt(this.#effects.readMailbox(1) >>> 0) << 32n) |
      BigInt(this.#effects.readMailbox(0) >>> 0);
    this.#libosArgs = address;
    this.#guard(() => {
      this.regions = readLibosRegions(this.#dma, address);
      const found = REQUIRED_REGIONS.map(([name, min]) =>
        findLibosRegion(this.regions, name, address, min)
      );
      for (const region of found.slice(0, 3)) {
        this.#logs.set(region.name, LibosLogBuffer.open(this.#dma, region));
      }
      this.#log("LOGINIT", "libosStart", [address, this.regions.length]);
      const rmArgsRegion = found[3];
      const rmArgs = readRmArgs(this.#dma, rmArgsRegion.pa);
      this.rmArgs = rmArgs;
      this.#log("LOGINIT", "rmArgs", [
        rmArgsRegion.pa,
        rmArgs.sharedMemPhysAddr,
        rmArgs.pageTableEntryCount,
      ]);
      const area = SharedArea.map(this.#dma, rmArgs.sharedMemPhysAddr, rmArgs.pageTableEntryCount);
      const queues = new GspRmQueues(area, rmArgs.cmdQueueOffset, rmArgs.statQueueOffset);
      queues.link();
      this.#queues = queues;
      this.#log("LOGINIT", "queuesLinked", [
        queues.commandQueue?.msgCount ?? 0,
        queues.statusQueue?.msgCount ?? 0,
      ]);
      this.#state = "awaiting-system-info";
      log.debug("GSP-RM started, LibOS args at {address}", {
        address: `0x${address.toString(16)}`,
      });
    });
  }

  /**
   * Do whatever is pending: send held messages, notice a resume, serve the
   * command queue until it is empty.
   *
   * @param reason `doorbell` (the host wrote `NV_PGSP_QUEUE_HEAD`, the
   *   default) or `time` (the clock moved). A model restored in another
   *   process touches its lost queues only on a doorbell.
   */
  poll(reason: "doorbell" | "time" = "doorbell"): void {
    if (this.#detached) {
      if (reason === "doorbell") this.#pollDetached();
      return;
    }
    if (!this.#queues || !this.#serving()) return;
    const queues = this.#queues;
    this.#guard(() => {
      this.#flush();
      this.#checkResume();
      const pending = queues.available();
      if (pending > 0) this.#log("LOGINTR", "doorbell", [pending]);
      while (this.#serving() && this.#state !== "suspended") {
        const result = queues.receive();
        if (result.skipped > 0) this.#log("LOGRM", "staleSkipped", [result.skipped]);
        if (result.kind === "empty") break;
        if (result.kind === "failed") {
          const codes = { checksum: 1, sequence: 2, incomplete: 3, length: 4 } as const;
          this.#log("LOGRM", "queueCorrupted", [codes[result.reason], queues.expectedSeqNum]);
          this.#fault("queue-corrupted", `${result.reason}: ${result.detail}`);
          this.#state = "queue-stopped";
          break;
        }
        this.#handle(result.message);
      }
      this.#checkResume();
    });
  }

  /**
   * What survives the host process, for a save file: where the model is and
   * where its memory was. The queues themselves live in the host's DMA
   * memory, which dies with the process.
   *
   * @returns Plain JSON-able data.
   */
  snapshot(): GspRmSnapshot {
    return {
      version: 1,
      state: this.#state,
      startedAtNs: this.#startedAt,
      libosArgs: this.#libosArgs.toString(),
      sharedMem: this.rmArgs ? this.rmArgs.sharedMemPhysAddr.toString() : null,
      firstSendDone: this.#firstSendDone,
    };
  }

  /**
   * Take the state a save file recorded, in a new process. The GSP-RM keeps
   * running, as the real one does across host processes, but the memory
   * that held its queues belonged to the process that exited: on the next
   * doorbell it reaches for it, takes an IOMMU fault and halts, unless that
   * memory is mapped again.
   *
   * @param saved What {@linkcode GspRm.snapshot} returned.
   */
  restore(saved: GspRmSnapshot): void {
    this.#state = saved.state;
    this.#startedAt = saved.startedAtNs;
    this.#libosArgs = BigInt(saved.libosArgs);
    this.#firstSendDone = saved.firstSendDone;
    this.#savedSharedMem = saved.sharedMem === null ? undefined : BigInt(saved.sharedMem);
    this.#detached = this.#serving();
  }

  #savedSharedMem: bigint | undefined;

  #pollDetached(): void {
    if (!this.#serving()) return;
    const address = this.#savedSharedMem ?? this.#libosArgs;
    try {
      this.#dma.read(address, 8);
    } catch (error) {
      if (!(error instanceof SimDmaFault)) throw error;
      this.#detached = false;
      this.#panic(
        "dma-fault",
        `${error.message} (its queues were in the memory of a host process that has exited)`,
      );
    }
  }

  #serving(): boolean {
    return !["stopped", "queue-stopped", "halted", "failed"].includes(this.#state);
  }

  #checkResume(): void {
    if (this.#state === "awaiting-resume" && this.#effects.coreResumed()) {
      this.#log("LOGRM", "resumed", []);
      this.#state = "initialising";
    }
    if (this.#state !== "initialising") return;
    if (this.#effects.now() - this.#startedAt < this.#initDurationNs) return;
    if (this.#fault_("gsp-rm-no-init-done", "GSP_INIT_DONE withheld")) {
      this.#state = "init-withheld";
      return;
    }
    this.#sendUnrelated("GSP-RM: init complete\n");
    this.#send(RPC_EVENT.GSP_INIT_DONE, new Uint8Array(0), RPC_RESULT.SUCCESS);
    this.#log("LOGRM", "initDone", []);
    this.#state = "ready";
  }

  #handle(message: ReceivedMessage): void {
    const { header, payload } = message;
    this.#log("LOGRM", "rpcReceived", [header.function, message.seqNum, header.length]);
    if (
      header.headerVersion !== RPC_HEADER.version || header.signature !== RPC_HEADER.signatureValid
    ) {
      this.#log("LOGRM", "badRpcHeader", [header.headerVersion, header.signature]);
      this.#violation(
        "bad-rpc-header",
        header.function,
        `header_version 0x${header.headerVersion.toString(16)}, signature ` +
          `0x${header.signature.toString(16)}`,
      );
      this.#reply(message, RPC_RESULT.RPC_INVALID_MESSAGE_FORMAT, new Uint8Array(0));
      return;
    }
    this.received.push(message);
    switch (header.function) {
      case RPC_FUNCTION.GSP_SET_SYSTEM_INFO:
        return this.#setSystemInfo(message);
      case RPC_FUNCTION.SET_REGISTRY:
        return this.#setRegistry(message);
      case RPC_FUNCTION.GET_GSP_STATIC_INFO:
        return this.#getStaticInfo(message);
      case RPC_FUNCTION.UNLOADING_GUEST_DRIVER:
        return this.#unload(message);
      default:
        this.#violation(
          "unmodelled-function",
          header.function,
          `${rpcName(header.function)} (${payload.length}-byte payload) is not modelled`,
        );
        this.#reply(message, RPC_RESULT.RPC_UNKNOWN_FUNCTION, new Uint8Array(0));
    }
  }

  #outOfOrder(message: ReceivedMessage, expected: string): void {
    const fn = message.header.function;
    this.#log("LOGRM", "protocolViolation", [fn, STATE_CODES[this.#state]]);
    this.#violation(
      "out-of-order",
      fn,
      `${rpcName(fn)} in state ${this.#state}; expected ${expected}`,
    );
  }

  #setSystemInfo(message: ReceivedMessage): void {
    if (this.#state !== "awaiting-system-info") {
      return this.#outOfOrder(message, this.#expectation());
    }
    if (message.payload.length < GSP_SYSTEM_INFO.minSize) {
      this.#violation(
        "short-payload",
        message.header.function,
        `GspSystemInfo is ${message.payload.length} bytes; 570.144 reads ${GSP_SYSTEM_INFO.minSize}`,
      );
    }
    this.systemInfo = message.payload;
    this.#state = "awaiting-registry";
  }

  #setRegistry(message: ReceivedMessage): void {
    if (this.#state !== "awaiting-registry") {
      return this.#outOfOrder(message, this.#expectation());
    }
    this.#parseRegistry(message);
    if (this.#sequencer) {
      const unreachablePoll = this.#fault_(
        "gsp-rm-sequencer-poll-timeout",
        "the sequencer's REG_POLL waits for a value nobody writes",
      );
      const payload = encodeSequencerPayload(
        realisticSequencerScript(this.#sequencer, { unreachablePoll }),
        this.#sequencerBufferDWords,
      );
      this.#sendUnrelated("GSP-RM: requesting CPU sequencer\n");
      this.#send(RPC_EVENT.GSP_RUN_CPU_SEQUENCER, payload, RPC_RESULT.SUCCESS);
      this.#log("LOGRM", "sequencerSent", [(payload.length - 40) / 4]);
      this.#state = "awaiting-resume";
    } else {
      this.#state = "initialising";
      this.#checkResume();
    }
  }

  #parseRegistry(message: ReceivedMessage): void {
    const { payload } = message;
    const r = PACKED_REGISTRY;
    const bad = (detail: string) =>
      this.#violation("malformed-registry", message.header.function, detail);
    if (payload.length < r.entries) return bad(`${payload.length}-byte table`);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const size = view.getUint32(r.size, true);
    const count = view.getUint32(r.numEntries, true);
    if (size > payload.length || r.entries + count * r.entrySize > size) {
      return bad(`size ${size}, ${count} entries, payload ${payload.length} bytes`);
    }
    for (let i = 0; i < count; i++) {
      const at = r.entries + i * r.entrySize;
      const nameOffset = view.getUint32(at + r.nameOffset, true);
      const end = payload.indexOf(0, nameOffset);
      if (nameOffset >= size || end < 0 || end >= size) {
        return bad(`entry ${i}: name offset ${nameOffset} outside the table`);
      }
      const name = String.fromCharCode(...payload.subarray(nameOffset, end));
      this.registry.set(name, view.getUint32(at + r.data, true));
    }
  }

  #getStaticInfo(message: ReceivedMessage): void {
    if (this.#state !== "ready") {
      this.#outOfOrder(message, this.#expectation());
      return this.#reply(message, RPC_RESULT.INVALID_STATE, new Uint8Array(0));
    }
    if (message.payload.length < GSP_STATIC_CONFIG_INFO.size) {
      this.#violation(
        "short-payload",
        message.header.function,
        `GspStaticConfigInfo is ${GSP_STATIC_CONFIG_INFO.size} bytes, the host sent ` +
          `${message.payload.length}`,
      );
      return this.#reply(message, RPC_RESULT.INVALID_PARAM_STRUCT, message.payload);
    }
    this.#reply(
      message,
      RPC_RESULT.SUCCESS,
      staticInfoPayload(this.#board, message.payload.length),
    );
  }

  #unload(message: ReceivedMessage): void {
    const view = new DataView(message.payload.buffer, message.payload.byteOffset);
    const newLevel = message.payload.length >= UNLOADING_GUEST_DRIVER.size
      ? view.getUint32(UNLOADING_GUEST_DRIVER.newLevel, true)
      : 0;
    this.#log("LOGRM", "unloading", [newLevel]);
    this.#reply(message, RPC_RESULT.SUCCESS, message.payload);
    if (this.#fault_("gsp-rm-unload-never-suspends", "MBOX0 never reads suspended")) return;
    this.#effects.writeMailbox0(MBOX0_SUSPENDED);
    this.#state = "suspended";
    if (this.#fault_("gsp-rm-never-halts-after-unload", "suspended but never halts")) return;
    this.#effects.halt();
    this.#state = "halted";
  }

  #expectation(): string {
    const expected: Partial<Record<GspRmState, string>> = {
      "awaiting-system-info": "GSP_SET_SYSTEM_INFO",
      "awaiting-registry": "SET_REGISTRY",
      "awaiting-resume": "the CPU sequencer's CORE_RESUME",
      "initialising": "GSP_INIT_DONE (GSP-RM still initialising)",
      "init-withheld": "GSP_INIT_DONE (withheld)",
      "ready": "any command after init",
    };
    return expected[this.#state] ?? this.#state;
  }

  #sendUnrelated(text: string): void {
    if (!this.#unrelatedEvents) return;
    // rpc_ucode_libos_print_v1E_08: u32 ucodeEngDesc, u32 libosPrintBufSize, then the bytes.
    const payload = new Uint8Array(8 + text.length);
    const view = new DataView(payload.buffer);
    view.setUint32(4, text.length, true);
    for (let i = 0; i < text.length; i++) payload[8 + i] = text.charCodeAt(i) & 0x7f;
    this.#send(RPC_EVENT.UCODE_LIBOS_PRINT, payload, RPC_RESULT.SUCCESS);
  }

  #reply(message: ReceivedMessage, result: number, payload: Uint8Array): void {
    this.#send(message.header.function, payload, result, message.header.sequence);
  }

  #send(fn: number, payload: Uint8Array, result: number, sequence = 0): void {
    const header = encodeRpcHeader({
      function: fn,
      payloadLength: payload.length,
      rpcResult: result,
      sequence,
    });
    const rpc = new Uint8Array(header.length + payload.length);
    rpc.set(header, 0);
    rpc.set(payload, header.length);
    this.#outbox.push({ function: fn, result, rpc });
    this.#flush();
  }

  #flush(): void {
    const queues = this.#queues;
    while (queues && this.#outbox.length > 0) {
      const next = this.#outbox[0];
      const seqNum = queues.nextSeqNum;
      const corrupt = !this.#firstSendDone &&
        this.#fault_("gsp-rm-bad-checksum", `message 0x${next.function.toString(16)} corrupted`);
      if (!queues.send(next.rpc, corrupt)) {
        if (!this.#queueFullLogged) {
          this.#log("LOGRM", "statusQueueFull", [this.#outbox.length]);
          this.#fault("status-queue-full", `${this.#outbox.length} message(s) wait for space`);
          this.#queueFullLogged = true;
        }
        return;
      }
      this.#firstSendDone = true;
      this.#queueFullLogged = false;
      this.#outbox.shift();
      this.sent.push({ function: next.function, result: next.result });
      this.#log("LOGRM", "rpcSent", [next.function, seqNum, next.result]);
    }
  }

  /** Whether a fault point is armed; reports it as fired when it is. */
  #fault_(name: GspRmFaultName, detail: string): boolean {
    if (!this.#armed(name)) return false;
    this.#onFaultFired?.(name, detail);
    return true;
  }

  #guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      if (error instanceof SimDmaFault) {
        this.#panic("dma-fault", error.message);
      } else if (error instanceof SimGspRmFormatError) {
        const what = error.field.startsWith("libosArgs")
          ? "libos-args"
          : error.field.startsWith("rmArgs")
          ? "rm-args"
          : "queue-link";
        this.#panic(what, error.message);
      } else {
        throw error;
      }
    }
  }

  #panic(what: string, detail: string): void {
    this.#fault(what, detail);
    try {
      this.#log("LOGINIT", "initFailed", [PANIC_CODES[what] ?? 0, 0]);
    } catch (error) {
      if (!(error instanceof SimDmaFault)) throw error;
    }
    this.#state = "failed";
    this.#effects.halt();
  }

  #fault(what: string, detail: string): void {
    this.faults.push({ what, detail, at: this.#effects.now() });
    log.warn("GSP-RM fault {what}: {detail}", { what, detail });
  }

  #violation(what: string, fn: number, detail: string): void {
    this.violations.push({ what, function: fn, detail, at: this.#effects.now() });
    log.info("GSP-RM saw a protocol violation {what}: {detail}", { what, detail });
  }

  #log(buffer: string, message: LogMessage, args: readonly (bigint | number)[]): void {
    this.#logs.get(buffer)?.append(message, args, BigInt(Math.round(this.#effects.now())));
  }
}

const STATE_CODES: Record<GspRmState, number> = {
  "stopped": 0,
  "awaiting-system-info": 1,
  "awaiting-registry": 2,
  "awaiting-resume": 3,
  "initialising": 4,
  "init-withheld": 5,
  "ready": 6,
  "queue-stopped": 7,
  "suspended": 8,
  "halted": 9,
  "failed": 10,
};

const PANIC_CODES: Record<string, number> = {
  "libos-args": 1,
  "rm-args": 2,
  "queue-link": 3,
  "dma-fault": 4,
};
