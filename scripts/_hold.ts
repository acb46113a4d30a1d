// `--keep` where the GSP cannot outlive this process: a real GPU, whose VFIO device is reset
// when it is closed (resets.md §2: `vfio_pci_core_disable`) and whose queues and LibOS buffers
// are DMA memory of this process, or a simulated GPU without a state file to save it in. There
// the GSP is held running until Ctrl-C or SIGTERM, then unloaded cleanly.

/**
 * Wait until the signal aborts, saying first how to end the wait.
 *
 * @param signal Aborted by Ctrl-C or SIGTERM.
 * @param say Where the line goes.
 * @param why Why the GSP cannot be left running after the process.
 * @returns How long it was held, in ms of wall time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdUntilInterrupted } from "./_hold.ts";
 * const stop = new AbortController();
 * const lines: string[] = [];
 * const held = holdUntilInterrupted(stop.signal, (l) => lines.push(l), "a test");
 * stop.abort();
 * assert((await held) >= 0);
 * assert.match(lines[0], /Ctrl-C/);
 * ```
 */
export async function holdUntilInterrupted(
  signal: AbortSignal,
  say: (line: string) => void,
  why: string,
): Promise<number> {
  const start = performance.now();
  say(
    `GSP-RM is held running (${why}); press Ctrl-C or send SIGTERM to unload it and exit`,
  );
  if (!signal.aborted) {
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
  }
  return performance.now() - start;
}

/** Why a real GPU's GSP cannot outlive the process. */
export const HOLD_REASON_DEVICE =
  "closing the VFIO device resets the GPU, and GSP-RM's queues live in this process's DMA memory";

/** Why a simulated GPU's GSP cannot outlive the process without `--sim-state`. */
export const HOLD_REASON_SIM = "no --sim-state FILE to save the simulated GPU in";
