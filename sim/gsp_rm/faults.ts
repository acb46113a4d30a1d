/**
 * The GSP-RM model's fault points: named ways to make the simulated
 * firmware misbehave, each with the symptom a host sees on real hardware.
 * {@linkcode gspRmFaultPoints} lists them all, so tests can iterate over them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspRmFaultPoints } from "./faults.ts";
 * const names = gspRmFaultPoints().map((f) => f.name);
 * assert(names.includes("gsp-rm-bad-checksum"));
 * assert.equal(new Set(names).size, names.length);
 * ```
 *
 * Each point is also in the simulator's registry (`../faults.ts`,
 * owner `GSP-RM`), so that `faultPoints()` lists it and
 * `gpu.faults.arm(name)` arms it on a simulated GPU.
 *
 * @module
 */

import type { BootPath } from "../../chips/chips.ts";
import { registerFaultPoint } from "../faults.ts";

/** A fault point's name. */
export type GspRmFaultName =
  | "gsp-rm-bad-checksum"
  | "gsp-rm-sequencer-poll-timeout"
  | "gsp-rm-no-init-done"
  | "gsp-rm-unload-never-suspends"
  | "gsp-rm-never-halts-after-unload";

/** A fault point and what it does. */
export interface GspRmFaultPoint {
  /** Its name. */
  readonly name: GspRmFaultName;
  /** What the host observes. */
  readonly symptom: string;
  /** Boot paths it applies to (absent: both). */
  readonly bootPaths?: readonly BootPath[];
}

const FAULT_POINTS: readonly GspRmFaultPoint[] = [
  {
    name: "gsp-rm-bad-checksum",
    symptom: "the first message GSP-RM sends (GSP_RUN_CPU_SEQUENCER on the SEC2 path, " +
      "GSP_INIT_DONE on the FSP path) carries a checksum that does not fold to zero; a host " +
      "that checks it rejects the message",
  },
  {
    name: "gsp-rm-sequencer-poll-timeout",
    symptom: "the sequencer's REG_POLL waits for a value its REG_WRITE did not write, so the " +
      "host's poll times out (error code GSP_SEQUENCER_BUFFER_ERR_TIMEOUT1) and CORE_RESUME " +
      "never runs",
    bootPaths: ["sec2"],
  },
  {
    name: "gsp-rm-no-init-done",
    symptom: "after the CPU sequencer resumes it, GSP-RM never sends GSP_INIT_DONE; the host's " +
      "wait for it times out",
  },
  {
    name: "gsp-rm-unload-never-suspends",
    symptom: "GSP-RM replies to UNLOADING_GUEST_DRIVER but never sets MBOX0 bit 31 and keeps " +
      "running; the host's poll for the suspended bit times out",
  },
  {
    name: "gsp-rm-never-halts-after-unload",
    symptom: "GSP-RM replies to UNLOADING_GUEST_DRIVER and sets MBOX0 bit 31 but never halts; " +
      "a later step that needs the GSP halted fails",
  },
];

/**
 * Every fault point of the GSP-RM model.
 *
 * @returns Name and symptom of each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gspRmFaultPoints } from "./faults.ts";
 * assert.equal(gspRmFaultPoints().length, 5);
 * ```
 */
export function gspRmFaultPoints(): readonly GspRmFaultPoint[] {
  return FAULT_POINTS;
}

for (const point of FAULT_POINTS) {
  registerFaultPoint({
    name: point.name,
    description: point.symptom,
    owner: "GSP-RM",
    ...(point.bootPaths ? { bootPaths: point.bootPaths } : {}),
  });
}
