// The Worker in which `bootAll` (boot_all.ts) runs one GPU's session, so that the CPU work of
// several boots (the loader's, and a simulated GPU's firmware checks and hashing) runs on
// several cores instead of queueing on one thread. It takes one command at a time and answers
// each with one message; steps, spans and the track's anchor are posted as they happen, and so
// are the log records of the caller's enabled levels, which the caller's loggers then emit.

import { configure, type LogLevel, type LogRecord } from "npm:@logtape/logtape@2.4.2";
import {
  LocalSession,
  serializeError,
  type SessionBootOutcome,
  type SessionRequest,
} from "./_boot_session.ts";

/** A command from the caller's thread; each is answered by one message. */
export type WorkerCommand =
  | { type: "boot"; request: SessionRequest; logLevel: LogLevel | null }
  | { type: "abort"; reason: string }
  | { type: "unload" }
  | { type: "keep" }
  | { type: "close" };

/** The Worker's global scope, typed here so that this file type-checks with the caller's. */
const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((message: MessageEvent<WorkerCommand>) => void) | null;
};

const post = (message: unknown) => scope.postMessage(message);
const controller = new AbortController();
const session = new LocalSession({
  step: (event) => post({ type: "step", event }),
  span: (span) => post({ type: "span", span }),
  anchor: (anchor) => post({ type: "anchor", anchor }),
});

/** A log record as plain data: values that do not clone (errors, objects) become text. */
function plainRecord(record: LogRecord) {
  const plainValue = (v: unknown) =>
    v === null || ["string", "number", "boolean", "undefined"].includes(typeof v) ? v : String(v);
  return {
    category: record.category,
    level: record.level,
    timestamp: record.timestamp,
    rawMessage: typeof record.rawMessage === "string"
      ? record.rawMessage
      : record.rawMessage.join("{}"),
    message: record.message.map(plainValue),
    properties: Object.fromEntries(
      Object.entries(record.properties).map(([k, v]) => [k, plainValue(v)]),
    ),
  };
}

/** Send the falconry log records at `level` and above to the caller. */
async function forwardLogs(level: LogLevel): Promise<void> {
  await configure({
    reset: true,
    sinks: { caller: (record) => post({ type: "log", record: plainRecord(record) }) },
    loggers: [
      { category: ["falconry"], lowestLevel: level, sinks: ["caller"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
}

function plain(outcome: SessionBootOutcome) {
  return outcome.ok ? outcome : { ...outcome, error: serializeError(outcome.error) };
}

async function handle(command: WorkerCommand): Promise<void> {
  switch (command.type) {
    case "boot":
      if (command.logLevel) await forwardLogs(command.logLevel);
      post({
        type: "booted",
        outcome: plain(await session.boot(command.request, controller.signal)),
      });
      return;
    case "abort":
      controller.abort(new DOMException(command.reason, "AbortError"));
      return;
    case "unload": {
      const { error, residue } = await session.unload();
      post({
        type: "unloaded",
        outcome: { ...(error !== undefined ? { error: serializeError(error) } : {}), residue },
      });
      return;
    }
    case "keep":
      await session.keep();
      post({ type: "kept" });
      return;
    case "close":
      await session.close();
      post({ type: "closed" }); // the caller terminates the Worker on this
      return;
  }
}

scope.onmessage = (message) => {
  handle(message.data).catch((error) => post({ type: "crashed", error: serializeError(error) }));
};
