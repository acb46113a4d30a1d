/**
 * The error for framebuffer-layout inputs that cannot be laid out: a VRAM size
 * too small for the GSP's regions, a VGA workspace beyond the end of VRAM, a
 * value that is not a whole number of bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FbLayoutError } from "./fb_layout_error.ts";
 * import { FalconryError } from "../errors.ts";
 * const e = new FbLayoutError("fbSize", 0x100000, "too small");
 * assert(e instanceof FalconryError && e.field === "fbSize" && /0x100000/.test(e.message));
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** An FB layout input that cannot be laid out; names the input, its value and why. */
export class FbLayoutError extends FalconryError {
  /**
   * Construct it.
   *
   * @param field The input at fault (`fbSize`, `gspImageSize`, `vgaWorkspace.pdispVgaWorkspaceBase`).
   * @param value Its value.
   * @param reason What is wrong with it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FbLayoutError } from "./fb_layout_error.ts";
   * const e = new FbLayoutError("gspImageSize", -1, "must be a positive whole number of bytes");
   * assert(e.value === -1 && e.reason.startsWith("must"));
   * ```
   */
  constructor(readonly field: string, readonly value: number, readonly reason: string) {
    const shown = Number.isSafeInteger(value) && value >= 0
      ? `0x${value.toString(16)}`
      : `${value}`;
    super(`FB layout: ${field} ${shown}: ${reason}`);
  }
}
