/**
 * The error a `DeviceReset` method rejects with when it cannot run
 * on this device or backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceError } from "../errors.ts";
 * import { ResetRefusedError } from "./reset_error.ts";
 * const e = new ResetRefusedError(
 *   "0000:01:00.0",
 *   "bus",
 *   "0000:01:00.1 shares the bus and is bound to snd_hda_intel; bind it to vfio-pci too",
 * );
 * assert(e instanceof DeviceError && e.method === "bus");
 * assert(e.message.includes("snd_hda_intel"));
 * ```
 *
 * @module
 */

import { DeviceError } from "../errors.ts";
import type { ResetMethod } from "./device.ts";

/**
 * A reset method was refused before anything was touched. `refusal` is the
 * sentence `DeviceReset.refusal` returns: why, and what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResetRefusedError } from "./reset_error.ts";
 * const e = new ResetRefusedError("0000:01:00.0", "flr", "the device does not advertise FLR");
 * assert(e.refusal === "the device does not advertise FLR");
 * assert(e.name === "ResetRefusedError");
 * ```
 */
export class ResetRefusedError extends DeviceError {
  /**
   * Construct it.
   *
   * @param bdf PCI address, `DDDD:BB:DD.F`.
   * @param method The refused method.
   * @param refusal Why it was refused and what to do.
   */
  constructor(bdf: string, readonly method: ResetMethod, readonly refusal: string) {
    super(bdf, `${METHOD_NAMES[method]} refused: ${refusal}`);
  }
}

/** How each method is named in messages. */
const METHOD_NAMES: Readonly<Record<ResetMethod, string>> = {
  flr: "function-level reset",
  bus: "secondary bus reset",
  reenumerate: "re-enumeration",
};
