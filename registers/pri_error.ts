/**
 * The one classifier of BAR0 read values: register contents, a PRI error
 * code, or no response at all.
 *
 * NVIDIA's rule (open-gpu-kernel-modules `GPU_READ_PRI_ERROR_MASK` 0xfff00000,
 * `GPU_READ_PRI_ERROR_CODE` 0xbad00000, checked on every `GPU_REG_RD32`):
 * a value whose top three nibbles are `0xbad` is a PRI error, whatever the
 * rest. Its code is bits 31:8 (`NV_PPRIV_SYS_PRI_ERROR_CODE`), named in
 * `published/maxwell/gm107/dev_pri_ringstation_sys.h` and, for the newer
 * codes, in the GSP's LIBOS error table; bits 7:0 are a detail byte. A read
 * of `0xffffffff` (`GPU_REG_VALUE_INVALID`) means nothing answered: the
 * device fell off the bus, is in reset, or BAR0 is not decoded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyRead, describePriError, isPriError } from "./pri_error.ts";
 * assert(isPriError(0xbad00100) && isPriError(0xbadf4100) && !isPriError(0xbac00000));
 * assert(classifyRead(0xffffffff) === "no-response" && classifyRead(0x10) === "ok");
 * assert(describePriError(0xbad00100).startsWith("PRI error 0xbad001 (HOST_PRI_TIMEOUT"));
 * ```
 *
 * @module
 */

/** `GPU_READ_PRI_ERROR_MASK`: the bits that mark a PRI error. */
export const PRI_ERROR_MASK = 0xfff00000;
/** `GPU_READ_PRI_ERROR_CODE`: the marked bits' value in a PRI error. */
export const PRI_ERROR_PATTERN = 0xbad00000;
/** `GPU_REG_VALUE_INVALID`: what a read returns when nothing answers (a PCIe master abort). */
export const NO_RESPONSE = 0xffffffff;

/** One named PRI error code (bits 31:8 of the value read). */
export interface PriErrorCode {
  /** NVIDIA's name, the suffix of `NV_PPRIV_SYS_PRI_ERROR_CODE_…`. */
  readonly name: string;
  /** What it means for the register read. */
  readonly meaning: string;
  /** Where NVIDIA names it. */
  readonly source: string;
}

const GM107 = "NVIDIA/open-gpu-kernel-modules src/common/inc/swref/published/maxwell/gm107/" +
  "dev_pri_ringstation_sys.h";
const LIBOS = "NVIDIA GSP LIBOS priv error table (NV_PPRIV_SYS_PRI_ERROR_CODE_*)";

const code = (name: string, meaning: string, source: string): PriErrorCode => ({
  name,
  meaning,
  source,
});

/**
 * The PRI error codes NVIDIA names, keyed by bits 31:8. The first fifteen
 * are in `published/maxwell/gm107/dev_pri_ringstation_sys.h`; the rest in the
 * GSP's LIBOS error table (`NV_PPRIV_SYS_PRI_ERROR_CODE_*`), where
 * `LWSTOM_PRI_CLIENT_ERR` is NVIDIA's own spelling of CUSTOM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PRI_ERROR_CODES } from "./pri_error.ts";
 * assert(PRI_ERROR_CODES[0xbadf41].name === "FECS_PRI_TARGET_MASK_VIOLATION");
 * ```
 */
export const PRI_ERROR_CODES: Readonly<Record<number, PriErrorCode>> = Object.freeze({
  0xbad001: code("HOST_PRI_TIMEOUT", "the host timed out waiting for the priv ring", GM107),
  0xbad00f: code("HOST_FECS_ERR", "the priv ring reported an error to the host", GM107),
  0xbad0b0: code("HOST_FB_ACK_TIMEOUT", "frame buffer ack timeout", GM107),
  0xbadf10: code("FECS_PRI_TIMEOUT", "the target did not answer", GM107),
  0xbadf11: code("FECS_PRI_DECODE", "no register at this address", GM107),
  0xbadf12: code("FECS_PRI_RESET", "the target is in reset", GM107),
  0xbadf13: code("FECS_PRI_FLOORSWEEP", "the target is floorswept", GM107),
  0xbadf14: code("FECS_PRI_STUCK_ACK", "the target's ack is stuck", GM107),
  0xbadf15: code("FECS_PRI_0_EXPECTED_ACK", "unexpected ack", GM107),
  0xbadf16: code("FECS_PRI_FENCE_ERROR", "fence error", GM107),
  0xbadf17: code("FECS_PRI_SUBID_ERROR", "sub-id error", GM107),
  0xbadf18: code("FECS_PRI_RDAT_WAIT_VIOLATION", "read data wait violation", LIBOS),
  0xbadf19: code("FECS_PRI_WRBE", "write byte-enable error", LIBOS),
  0xbadf20: code("FECS_PRI_ORPHAN", "orphaned request (GPC/FBP)", GM107),
  0xbadf21: code("FECS_PRI_POWER_OK_TIMEOUT", "power-ok timeout", LIBOS),
  0xbadf30: code("FECS_DEAD_RING", "the priv ring is dead", GM107),
  0xbadf31: code("FECS_DEAD_RING_LOW_POWER", "the priv ring is dead (low power)", LIBOS),
  0xbadf40: code("FECS_TRAP", "access trapped", GM107),
  0xbadf41: code(
    "FECS_PRI_TARGET_MASK_VIOLATION",
    "access to this engine is blocked (on Hopper/Blackwell the FSP still holds the GSP's " +
      "PRIV target mask)",
    LIBOS,
  ),
  0xbadf50: code("FECS_PRI_CLIENT_ERR", "the target reported an error", GM107),
  0xbadf51: code(
    "FECS_PRI_CLIENT_PRIV_LEVEL_VIOLATION",
    "priv level violation: the register is locked down",
    LIBOS,
  ),
  0xbadf52: code(
    "FECS_PRI_CLIENT_INDIRECT_PRIV_LEVEL_VIOLATION",
    "indirect priv level violation",
    LIBOS,
  ),
  0xbadf53: code("FECS_LOCAL_PRIV_RING_ERR", "local priv ring error", LIBOS),
  0xbadf54: code(
    "FALCON_MEM_ACCESS_PRIV_LEVEL_VIOLATION",
    "falcon memory priv level violation",
    LIBOS,
  ),
  0xbadf55: code("FECS_PRI_ROUTE_ERR", "route error", LIBOS),
  0xbadf56: code("LWSTOM_PRI_CLIENT_ERR", "custom client error", LIBOS),
  0xbadf57: code(
    "FECS_PRI_CLIENT_SOURCE_ENABLE_VIOLATION",
    "source enable violation",
    LIBOS,
  ),
});

/** What a 32-bit read returned. */
export type ReadStatus = "ok" | "pri-error" | "no-response";

/**
 * Whether a value read is a PRI error: NVIDIA's `(v & 0xfff00000) === 0xbad00000`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPriError } from "./pri_error.ts";
 * assert(isPriError(0xbad00100) && isPriError(0xbadf5040) && isPriError(0xbad12345));
 * assert(!isPriError(0xffffffff) && !isPriError(0x0badf000));
 * ```
 */
export function isPriError(value: number): boolean {
  return ((value & PRI_ERROR_MASK) >>> 0) === PRI_ERROR_PATTERN;
}

/**
 * Whether a value read says nothing about the register: a PRI error or all ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isReadError } from "./pri_error.ts";
 * assert(isReadError(0xffffffff) && isReadError(0xbad00100) && !isReadError(0x172000a1));
 * ```
 */
export function isReadError(value: number): boolean {
  return (value >>> 0) === NO_RESPONSE || isPriError(value);
}

/**
 * Classify a value read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyRead } from "./pri_error.ts";
 * assert(classifyRead(0xbadf1100) === "pri-error");
 * ```
 */
export function classifyRead(value: number): ReadStatus {
  if ((value >>> 0) === NO_RESPONSE) return "no-response";
  return isPriError(value) ? "pri-error" : "ok";
}

/**
 * The named code of a PRI error value, or `undefined` when NVIDIA names none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { priErrorCode } from "./pri_error.ts";
 * assert(priErrorCode(0xbadf1100)?.name === "FECS_PRI_DECODE");
 * assert(priErrorCode(0xbad0da00) === undefined);
 * ```
 */
export function priErrorCode(value: number): PriErrorCode | undefined {
  return PRI_ERROR_CODES[(value >>> 8) & 0xffffff];
}

/**
 * Name the error in a value read: the PRI code (bits 31:8) with NVIDIA's name
 * and meaning and the detail byte, or that nothing answered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describePriError } from "./pri_error.ts";
 * assert.equal(
 *   describePriError(0xbadf4100),
 *   "PRI error 0xbadf41 (FECS_PRI_TARGET_MASK_VIOLATION: access to this engine is blocked " +
 *     "(on Hopper/Blackwell the FSP still holds the GSP's PRIV target mask)), detail 0x00",
 * );
 * assert(describePriError(0xbad0da00).includes("unknown PRI error code"));
 * assert(describePriError(0xffffffff).startsWith("no response"));
 * ```
 */
export function describePriError(value: number): string {
  if ((value >>> 0) === NO_RESPONSE) {
    return "no response: read all ones (the device fell off the bus or is in reset, or BAR0 " +
      "is not decoded)";
  }
  const bits = (value >>> 8) & 0xffffff;
  const named = PRI_ERROR_CODES[bits];
  const detail = (value & 0xff).toString(16).padStart(2, "0");
  const what = named ? `${named.name}: ${named.meaning}` : "unknown PRI error code";
  return `PRI error 0x${bits.toString(16)} (${what}), detail 0x${detail}`;
}
