/**
 * Cleaning up when a fetch is interrupted. While any cleanup is registered,
 * SIGINT and SIGTERM run every registered cleanup (newest first: child
 * processes are stopped before their folders are removed) and then exit
 * with the conventional code, 128 + the signal's number (130, 143). The
 * listeners are removed when the last cleanup is.
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";

const log = getLogger(["falconry", "loader", "interrupt"]);

/** The signals a fetch cleans up on, and the exit code each ends the process with. */
const EXIT_CODES: ReadonlyArray<readonly [Deno.Signal, number]> = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
];

const cleanups = new Set<() => void>();
const listeners = new Map<Deno.Signal, () => void>();

/**
 * Run `cleanup` (synchronous: the process exits right after it) if the
 * process is interrupted before the returned handle is disposed.
 */
export function cleanUpOnInterrupt(cleanup: () => void): Disposable {
  cleanups.add(cleanup);
  if (listeners.size === 0) listen();
  return {
    [Symbol.dispose]() {
      cleanups.delete(cleanup);
      if (cleanups.size === 0) stopListening();
    },
  };
}

function listen(): void {
  for (const [signal, code] of EXIT_CODES) {
    const listener = () => interrupted(signal, code);
    try {
      Deno.addSignalListener(signal, listener);
      listeners.set(signal, listener);
    } catch (e) {
      // Windows knows only SIGINT (and SIGBREAK); the others are simply not heard.
      log.debug("cannot listen for {signal}: {error}", { signal, error: String(e) });
    }
  }
}

function stopListening(): void {
  for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  listeners.clear();
}

function interrupted(signal: Deno.Signal, code: number): never {
  log.warn("{signal}: removing this fetch's temporary files before exiting", { signal });
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch (e) {
      log.error("cleanup after {signal} failed: {error}", { signal, error: String(e) });
    }
  }
  cleanups.clear();
  stopListening();
  Deno.exit(code);
}
