/**
 * The last RPCs a boot exchanged with GSP-RM, in each direction, and the one
 * the driver is still waiting for: what a person needs when the GSP hangs
 * ("which RPC was pending, and what came before it").
 *
 * {@linkcode GspMessageQueues} keeps one {@linkcode RpcHistory} per boot
 * (`queues.history`): every message it puts on the command queue and takes
 * off the status queue is recorded with its function, queue sequence number,
 * length and result, timed on the device's clock. A command's record gets
 * the result of its reply when the reply arrives. Every RPC timeout carries
 * a {@linkcode RpcHistorySnapshot} and names the pending RPC and the last
 * ones in its message ({@linkcode summarizeRpcHistory}); a crash bundle holds
 * the snapshot as JSON.
 *
 * @example Two commands, a reply, and a wait still pending
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { formatRpcHistory, RpcHistory, summarizeRpcHistory } from "./rpc_history.ts";
 *
 * const clock = new ManualClock();
 * const history = new RpcHistory({ clock, capacity: 8 });
 * history.sent({ function: 72, sequence: 0, length: 0x3a0 }); // GSP_SET_SYSTEM_INFO
 * await clock.sleep(2);
 * history.sent({ function: 65, sequence: 1, length: 32 }); // GET_GSP_STATIC_INFO
 * history.awaiting(65, "reply", 1);
 * await clock.sleep(5000);
 * const snapshot = history.snapshot();
 * assert.equal(snapshot.pending?.name, "GET_GSP_STATIC_INFO");
 * assert.equal(snapshot.pending?.waitedMs, 5000);
 * assert.deepEqual(snapshot.sent.map((r) => r.name), ["GSP_SET_SYSTEM_INFO", "GET_GSP_STATIC_INFO"]);
 * assert.match(summarizeRpcHistory(snapshot), /^pending GET_GSP_STATIC_INFO \(65\) seq 1/);
 * assert.match(formatRpcHistory(snapshot), /sent +seq 0 +GSP_SET_SYSTEM_INFO \(72\)/);
 * ```
 *
 * @module
 */

import type { Clock } from "../pci/clock.ts";
import { RPC_RESULT, rpcName, rpcResultName } from "./rpc.ts";

/** Records kept per direction unless the queues are told otherwise. */
export const RPC_HISTORY_CAPACITY = 32;

/** Which way a message went. */
export type RpcDirection = "sent" | "received";

/** One message as the history keeps it. */
export interface RpcRecord {
  /** `sent`: driver → GSP-RM (command queue); `received`: GSP-RM → driver (status queue). */
  readonly direction: RpcDirection;
  /** Function or event number. */
  readonly function: number;
  /** Its name (`GET_GSP_STATIC_INFO`), or hex when unknown. */
  readonly name: string;
  /** The queue element's `seqNum` (each direction counts its own). */
  readonly sequence: number;
  /** `rpc.length`: RPC header and payload bytes. */
  readonly length: number;
  /**
   * `rpc_result`: for a received message, what GSP-RM wrote; for a command,
   * its reply's, once the reply arrived (absent while none has).
   */
  readonly result?: number;
  /** The result's name (`SUCCESS`, `NV_ERR_INVALID_STATE`, `RPC_PENDING`, hex). */
  readonly resultName?: string;
  /** When it was put on, or taken off, its queue (device clock, ms). */
  readonly at: number;
  /** For a command: when its reply was taken off the status queue (device clock, ms). */
  readonly repliedAt?: number;
}

/** What the driver is waiting for. */
export interface PendingRpc {
  /** `reply`: the reply to a command it sent; `event`: an unsolicited event (`GSP_INIT_DONE`). */
  readonly kind: "reply" | "event";
  /** Function or event number awaited. */
  readonly function: number;
  /** Its name. */
  readonly name: string;
  /** For a reply: the command's queue sequence number. */
  readonly sequence?: number;
  /** When the wait started (device clock, ms). */
  readonly since: number;
  /** How long it has waited when the snapshot was taken (ms). */
  readonly waitedMs: number;
}

/** The history at one moment: plain data, ready for JSON. */
export interface RpcHistorySnapshot {
  /** When it was taken (device clock, ms). */
  readonly at: number;
  /** Records kept per direction. */
  readonly capacity: number;
  /** Messages sent in all (older ones are no longer kept). */
  readonly sentTotal: number;
  /** Messages received in all. */
  readonly receivedTotal: number;
  /** The last commands sent, oldest first. */
  readonly sent: readonly RpcRecord[];
  /** The last messages received, oldest first. */
  readonly received: readonly RpcRecord[];
  /** What the driver is waiting for, if anything. */
  readonly pending?: PendingRpc;
}

/** A message as the queues describe it to the history. */
export interface RpcMessageInfo {
  /** Function or event number. */
  readonly function: number;
  /** The queue element's `seqNum`. */
  readonly sequence: number;
  /** `rpc.length`. */
  readonly length: number;
  /** `rpc_result` (received messages). */
  readonly result?: number;
}

/** Options of {@linkcode RpcHistory}. */
export interface RpcHistoryOptions {
  /** The device's clock: every timestamp is read from it. */
  readonly clock: Pick<Clock, "now">;
  /** Records kept per direction; default {@linkcode RPC_HISTORY_CAPACITY}. */
  readonly capacity?: number;
}

/** The last N messages in each direction, and the pending wait. */
export class RpcHistory {
  readonly #clock: Pick<Clock, "now">;
  /** Records kept per direction. */
  readonly capacity: number;
  readonly #sent: RpcRecord[] = [];
  readonly #received: RpcRecord[] = [];
  #sentTotal = 0;
  #receivedTotal = 0;
  #pending: Omit<PendingRpc, "waitedMs"> | undefined;

  /**
   * Construct an empty history.
   *
   * @param options Clock and capacity.
   */
  constructor(options: RpcHistoryOptions) {
    const capacity = options.capacity ?? RPC_HISTORY_CAPACITY;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`RPC history capacity ${capacity} is not a whole number ≥ 1`);
    }
    this.#clock = options.clock;
    this.capacity = capacity;
  }

  #push(list: RpcRecord[], record: RpcRecord): void {
    list.push(record);
    if (list.length > this.capacity) list.shift();
  }

  /**
   * Record a message put on the command queue.
   *
   * @param message Its function, sequence number and length.
   */
  sent(message: RpcMessageInfo): void {
    this.#sentTotal++;
    this.#push(this.#sent, {
      direction: "sent",
      function: message.function,
      name: rpcName(message.function),
      sequence: message.sequence,
      length: message.length,
      at: this.#clock.now(),
    });
  }

  /**
   * Record a message taken off the status queue. When it is what the
   * pending wait awaited, the wait ends; a reply also completes its
   * command's record with the result and the time. A wait that fails stays
   * pending until the next one starts: its answer never came.
   *
   * @param message Its function, sequence number, length and result.
   */
  received(message: RpcMessageInfo): void {
    const at = this.#clock.now();
    this.#receivedTotal++;
    const result = message.result;
    this.#push(this.#received, {
      direction: "received",
      function: message.function,
      name: rpcName(message.function),
      sequence: message.sequence,
      length: message.length,
      ...(result === undefined ? {} : { result, resultName: rpcResultName(result) }),
      at,
    });
    const pending = this.#pending;
    if (pending?.function !== message.function) return;
    this.#pending = undefined;
    if (pending.kind !== "reply") return;
    const index = this.#sent.findLastIndex((r) =>
      r.function === message.function && r.sequence === pending.sequence
    );
    if (index < 0) return;
    this.#sent[index] = {
      ...this.#sent[index],
      ...(result === undefined ? {} : { result, resultName: rpcResultName(result) }),
      repliedAt: at,
    };
  }

  /**
   * Record that the driver now waits for `fn`.
   *
   * @param fn Function (a reply) or event number.
   * @param kind A command's reply, or an event.
   * @param sequence For a reply: the command's queue sequence number.
   */
  awaiting(fn: number, kind: "reply" | "event", sequence?: number): void {
    this.#pending = {
      kind,
      function: fn,
      name: rpcName(fn),
      ...(sequence === undefined ? {} : { sequence }),
      since: this.#clock.now(),
    };
  }

  /** What the driver waits for, if anything. */
  get pending(): Omit<PendingRpc, "waitedMs"> | undefined {
    return this.#pending;
  }

  /**
   * The history now, as plain data.
   *
   * @returns A copy; later messages do not change it.
   */
  snapshot(): RpcHistorySnapshot {
    const at = this.#clock.now();
    const pending = this.#pending;
    return {
      at,
      capacity: this.capacity,
      sentTotal: this.#sentTotal,
      receivedTotal: this.#receivedTotal,
      sent: [...this.#sent],
      received: [...this.#received],
      ...(pending ? { pending: { ...pending, waitedMs: at - pending.since } } : {}),
    };
  }
}

const ms = (t: number): string => `${t.toFixed(3)} ms`;
const fnLabel = (r: { name: string; function: number }): string =>
  r.name.startsWith("0x") ? r.name : `${r.name} (${r.function})`;

function resultLabel(record: RpcRecord): string {
  if (record.result === undefined) return "";
  return record.result === RPC_RESULT.SUCCESS.code ? "SUCCESS" : `${record.resultName}`;
}

function pendingLine(pending: PendingRpc): string {
  const seq = pending.sequence === undefined ? "" : ` seq ${pending.sequence}`;
  const what = pending.kind === "reply" ? "reply" : "event";
  return `pending ${fnLabel(pending)}${seq} (${what}) since ${ms(pending.since)}, ` +
    `waited ${ms(pending.waitedMs)}`;
}

function shortRecord(record: RpcRecord): string {
  const result = resultLabel(record);
  return `${record.name}#${record.sequence}@${record.at.toFixed(3)}${result ? ` ${result}` : ""}`;
}

/**
 * The history on one line, for an error message: the pending RPC, then the
 * last `count` messages of each direction, newest first.
 *
 * @param snapshot The history.
 * @param count Messages shown per direction; default 3.
 * @returns E.g. `pending GET_GSP_STATIC_INFO (65) seq 4 (reply) since … ; last sent: …`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { RpcHistory, summarizeRpcHistory } from "./rpc_history.ts";
 * const history = new RpcHistory({ clock: new ManualClock() });
 * history.awaiting(0x1001, "event");
 * assert.equal(
 *   summarizeRpcHistory(history.snapshot()),
 *   "pending GSP_INIT_DONE (4097) (event) since 0.000 ms, waited 0.000 ms; " +
 *     "nothing sent; nothing received",
 * );
 * ```
 */
export function summarizeRpcHistory(snapshot: RpcHistorySnapshot, count = 3): string {
  const newest = (list: readonly RpcRecord[]) => list.slice(-count).reverse().map(shortRecord);
  const parts = [snapshot.pending ? pendingLine(snapshot.pending) : "nothing pending"];
  parts.push(
    snapshot.sent.length ? `last sent: ${newest(snapshot.sent).join(", ")}` : "nothing sent",
  );
  parts.push(
    snapshot.received.length
      ? `last received: ${newest(snapshot.received).join(", ")}`
      : "nothing received",
  );
  return parts.join("; ");
}

/**
 * The history as a table for a person: the pending RPC first, then every
 * kept message in the order it happened.
 *
 * @param snapshot The history.
 * @returns Lines joined with `\n` (no trailing newline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../pci/clock.ts";
 * import { formatRpcHistory, RpcHistory } from "./rpc_history.ts";
 * const history = new RpcHistory({ clock: new ManualClock() });
 * history.received({ function: 0x1002, sequence: 0, length: 96, result: 0 });
 * assert.match(formatRpcHistory(history.snapshot()), /received +seq 0 +GSP_RUN_CPU_SEQUENCER/);
 * ```
 */
export function formatRpcHistory(snapshot: RpcHistorySnapshot): string {
  const lines = [
    snapshot.pending ? pendingLine(snapshot.pending) : "nothing pending",
    `${snapshot.sentTotal} sent, ${snapshot.receivedTotal} received` +
    (snapshot.sentTotal > snapshot.sent.length || snapshot.receivedTotal > snapshot.received.length
      ? ` (the last ${snapshot.capacity} of each kept)`
      : ""),
  ];
  const all = [...snapshot.sent, ...snapshot.received].sort((a, b) =>
    a.at - b.at || (a.direction === b.direction ? a.sequence - b.sequence : 0)
  );
  const width = Math.max(0, ...all.map((r) => fnLabel(r).length));
  for (const r of all) {
    const result = resultLabel(r);
    const replied = r.repliedAt === undefined ? "" : `, replied at ${ms(r.repliedAt)}`;
    lines.push(
      `${ms(r.at).padStart(14)}  ${r.direction.padEnd(8)} seq ${String(r.sequence).padEnd(4)} ` +
        `${fnLabel(r).padEnd(width)}  ${String(r.length).padStart(6)} bytes` +
        `${result ? `  ${result}` : ""}${replied}`,
    );
  }
  return lines.join("\n");
}
