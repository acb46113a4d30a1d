/**
 * The codes a GSP boot reads back from the hardware, with their sources, so
 * that an error says what the value means (or that nobody has published it):
 *
 * - GFW boot progress, `NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT` bits 7:0;
 * - the FWSEC-FRTS error, `NV_PBUS_SW_SCRATCH(0xe)` bits 31:16;
 * - the FWSEC-SB error, `NV_PBUS_SW_SCRATCH(0x15)` bits 15:0;
 * - what Booter (and the boot ROM before it) leaves in SEC2's `MAILBOX0`;
 * - the `errorCode` of the FSP's response to a Chain-of-Trust message
 *   (Hopper and later), `NVDM_PAYLOAD_COMMAND_RESPONSE.errorCode`;
 * - what the GSP-FMC leaves in the GSP's `MAILBOX0` when it fails before
 *   releasing the PRIV lockdown (Hopper and later).
 *
 * Public sources name only the success values: NVIDIA's open modules
 * (`kernel_gsp_frts_tu102.c`, `kernel_gsp_booter_tu102.c`) and nova-core
 * (`gsp/hal/tu102.rs`) test for 0 and print anything else in hex. The other
 * entries are the falconry simulator's own codes (`sim/acceptance/verdict.ts`,
 * marked `simulated`): a real GPU may write the same numbers with other
 * meanings, so a decoded message says which source it used.
 *
 * The RPC results GSP-RM returns (`NV_STATUS`) are a table of the driver
 * (`gsp/rpc.ts` `RPC_RESULT`, `rpcResultName`): they are the firmware's
 * protocol, not a register's value, and stay next to the RPC code.
 *
 * @example Decoding the values a failed boot read back
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeBooterMailbox, describeFrtsError, describeGfwBootProgress } from "./boot_codes.ts";
 * assert.match(describeFrtsError(0), /no error/);
 * assert.match(describeFrtsError(0x5), /simulator.*not 1 MiB/);
 * assert.match(describeFrtsError(0xbad), /0xbad.*no public source/);
 * assert.match(describeGfwBootProgress(0xff), /completed/);
 * assert.match(describeGfwBootProgress(0x3c), /still running/);
 * assert.match(describeBooterMailbox(0x08), /signature/);
 * assert.match(describeFspError(0xa1), /FSP_ERR_IFS_ERR_INVALID_DATA/);
 * ```
 *
 * @module
 */

/** One known code. */
export interface BootCode {
  /** The value. */
  readonly code: number;
  /** A short name (`NONE`, `wrongSignature`). */
  readonly name: string;
  /** What it means. */
  readonly meaning: string;
  /** Where the meaning comes from. */
  readonly source: string;
  /** Defined by falconry's simulator, not by NVIDIA: a real GPU gives it no such meaning. */
  readonly simulated?: boolean;
}

const NVIDIA_FRTS = "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/gsp/arch/turing/" +
  "kernel_gsp_frts_tu102.c";
const NVIDIA_BOOTER = "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/gsp/arch/turing/" +
  "kernel_gsp_booter_tu102.c";
const NVIDIA_GFW = "NVIDIA/open-gpu-kernel-modules published turing/tu102/" +
  "dev_gc6_island_addendum.h (NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT_PROGRESS)";
const NOVA = "nova-core gsp/hal/tu102.rs (reference §3.4, §3.7, §6.2)";
const SIM = "falconry simulator, sim/acceptance/verdict.ts";
const NVIDIA_FSP_RETVAL = "NVIDIA/open-gpu-kernel-modules src/nvidia/inc/kernel/gpu/fsp/" +
  "kern_fsp_retval.h";
const NVIDIA_FSP_MAP = "NVIDIA/open-gpu-kernel-modules src/nvidia/src/kernel/gpu/fsp/arch/hopper/" +
  "kern_fsp_gh100.c (kfspErrorCode2NvStatusMap_GH100)";
const NOVA_FSP = "nova-core fsp.rs (reference §4.3: error_code must be 0)";

function table(entries: readonly BootCode[]): Readonly<Record<number, BootCode>> {
  return Object.freeze(Object.fromEntries(entries.map((e) => [e.code, Object.freeze(e)])));
}

const sim = (code: number, name: string, meaning: string): BootCode => ({
  code,
  name,
  meaning,
  source: SIM,
  simulated: true,
});

/** `NV_PBUS_SW_SCRATCH(0xe)` bits 31:16 after FWSEC-FRTS. */
export const FRTS_ERROR_CODES: Readonly<Record<number, BootCode>> = table([
  { code: 0, name: "NONE", meaning: "no error", source: `${NVIDIA_FRTS}; ${NOVA}` },
  sim(0x1, "wpr2AlreadySet", "FRTS ran while WPR2 was already set up"),
  sim(0x2, "badCommand", "the DMEM mapper's init_cmd is neither FRTS nor SB"),
  sim(0x3, "badReadVbios", "the ReadVbios descriptor is not version 1, size 24, flags 2"),
  sim(0x4, "badRegionDescriptor", "the FRTS region descriptor is not version 1, size 20, FB"),
  sim(0x5, "badRegionSize", "the FRTS region is not 1 MiB"),
  sim(0x6, "badRegionAlignment", "the FRTS region is not 128 KiB aligned"),
  sim(0x7, "regionOutsideFb", "the FRTS region ends past the framebuffer"),
  sim(0x8, "regionOverlapsVga", "the FRTS region reaches into the VGA workspace"),
  sim(0x9, "noDmemMapper", "no application interface / DMEM mapper in DMEM"),
]);

/** `NV_PBUS_SW_SCRATCH(0x15)` bits 15:0 after FWSEC-SB. */
export const SB_ERROR_CODES: Readonly<Record<number, BootCode>> = table([
  { code: 0, name: "NONE", meaning: "no error", source: NVIDIA_FRTS },
]);

/** `NV_PGC6_AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT` bits 7:0. */
export const GFW_BOOT_PROGRESS: Readonly<Record<number, BootCode>> = table([
  {
    code: 0xff,
    name: "COMPLETED",
    meaning: "GFW boot (devinit) completed",
    source: `${NVIDIA_GFW}; nova-core gpu/hal/tu102.rs`,
  },
]);

/** SEC2 `MAILBOX0` after Booter-load or Booter-unload halts. */
export const BOOTER_MAILBOX0_CODES: Readonly<Record<number, BootCode>> = table([
  { code: 0, name: "SUCCESS", meaning: "Booter succeeded", source: `${NVIDIA_BOOTER}; ${NOVA}` },
  sim(0x01, "loadMethod", "loaded by PIO on a chip that loads HS images by DMA, or the reverse"),
  sim(0x02, "imemLayout", "a code block is missing or at the wrong IMEM block, tag or security"),
  sim(0x03, "bootVector", "BOOTVEC is not the image's entry"),
  sim(0x04, "imageModified", "IMEM code or DMEM data differ from the signed file"),
  sim(0x05, "bromParams", "BROM_PARAADDR / ENGIDMASK / CURR_UCODE_ID / MOD_SEL are wrong"),
  sim(0x06, "noSignatureForFuse", "the fuse version selects no signature of the file"),
  sim(0x07, "zeroSignature", "the selected signature is all zeros"),
  sim(0x08, "wrongSignature", "the signature in DMEM is not the one the fuse selects"),
  sim(0x09, "unknownImage", "the loaded code is no image the falcon knows"),
  sim(0x10, "dmaFault", "a DMA read outside every live mapping (an IOMMU fault)"),
  sim(0x20, "wprMeta", "GspFwWprMeta is wrong (magic, revision, a size or an offset)"),
  sim(0x21, "radix3", "the radix3 tables do not map exactly the GSP image"),
  sim(0x22, "bootloader", "the GSP bootloader blob or its offsets are wrong"),
  sim(0x23, "frtsMissing", "Booter-load without the WPR2/FRTS region FWSEC sets up"),
  sim(0x24, "gspSignature", "the GSP image signature blob is not this chip's"),
  sim(0x30, "gspNotStopped", "Booter-unload while GSP-RM is neither suspended nor halted"),
  sim(0x31, "resumeRefused", "SEC2-RTOS refused to resume GSP-RM"),
]);

/**
 * `errorCode` of the FSP's response (`NVDM_TYPE_FSP_RESPONSE`) to a command
 * such as the Chain-of-Trust message. NVIDIA names six values; its driver
 * maps them to `NV_STATUS` (shown in each meaning) and prints the rest as
 * `NV_ERR_GENERIC`.
 */
export const FSP_ERROR_CODES: Readonly<Record<number, BootCode>> = table([
  {
    code: 0x00,
    name: "FSP_OK",
    meaning: "the FSP accepted the command",
    source: `${NVIDIA_FSP_RETVAL}; ${NOVA_FSP}`,
  },
  {
    code: 0x9e,
    name: "FSP_ERR_IFS_ERR_INVALID_STATE",
    meaning: "the FSP is in no state to run the command (NV_ERR_INVALID_DATA)",
    source: `${NVIDIA_FSP_RETVAL}; ${NVIDIA_FSP_MAP}`,
  },
  {
    code: 0x9f,
    name: "FSP_ERR_IFR_FILE_NOT_FOUND",
    meaning: "a file the command needs is not in the IFR (NV_ERR_OBJECT_NOT_FOUND)",
    source: `${NVIDIA_FSP_RETVAL}; ${NVIDIA_FSP_MAP}`,
  },
  {
    code: 0xa0,
    name: "FSP_ERR_IFS_ERR_NOT_SUPPORTED",
    meaning: "the command is not supported (NV_ERR_GENERIC)",
    source: NVIDIA_FSP_RETVAL,
  },
  {
    code: 0xa1,
    name: "FSP_ERR_IFS_ERR_INVALID_DATA",
    meaning: "the command's data failed the FSP's checks (NV_ERR_INVALID_DATA)",
    source: `${NVIDIA_FSP_RETVAL}; ${NVIDIA_FSP_MAP}`,
  },
  {
    code: 0x1e3,
    name: "FSP_ERR_PRC_ERROR_INVALID_KNOB_ID",
    meaning: "a PRC message named an unknown knob (NV_ERR_INVALID_ARGUMENT)",
    source: `${NVIDIA_FSP_RETVAL}; ${NVIDIA_FSP_MAP}`,
  },
]);

const hex = (value: number) => `0x${(value >>> 0).toString(16)}`;

function describe(
  table: Readonly<Record<number, BootCode>>,
  value: number,
  named = false,
): string {
  const known = table[value];
  if (!known) return `${hex(value)} (no public source names this value)`;
  if (known.simulated) return `${hex(value)} (falconry simulator: ${known.meaning})`;
  return `${hex(value)} (${named ? `${known.name}: ` : ""}${known.meaning})`;
}

/**
 * The FWSEC-FRTS error code in words.
 *
 * @param code `NV_PBUS_SW_SCRATCH(0xe)` bits 31:16.
 * @returns E.g. `0x0 (no error)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFrtsError } from "./boot_codes.ts";
 * assert.equal(describeFrtsError(0), "0x0 (no error)");
 * ```
 */
export function describeFrtsError(code: number): string {
  return describe(FRTS_ERROR_CODES, code);
}

/**
 * The FWSEC-SB error code in words.
 *
 * @param code `NV_PBUS_SW_SCRATCH(0x15)` bits 15:0.
 * @returns E.g. `0x0 (no error)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeSbError } from "./boot_codes.ts";
 * assert.match(describeSbError(3), /no public source/);
 * ```
 */
export function describeSbError(code: number): string {
  return describe(SB_ERROR_CODES, code);
}

/**
 * SEC2's MAILBOX0 after Booter, in words.
 *
 * @param value MAILBOX0.
 * @returns E.g. `0x8 (falconry simulator: …)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeBooterMailbox } from "./boot_codes.ts";
 * assert.equal(describeBooterMailbox(0), "0x0 (Booter succeeded)");
 * ```
 */
export function describeBooterMailbox(value: number): string {
  return describe(BOOTER_MAILBOX0_CODES, value);
}

/**
 * GFW boot progress in words.
 *
 * @param progress `GFW_BOOT` bits 7:0.
 * @returns E.g. `0xff (GFW boot (devinit) completed)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeGfwBootProgress } from "./boot_codes.ts";
 * assert.match(describeGfwBootProgress(0), /0x0.*still running/);
 * ```
 */
export function describeGfwBootProgress(progress: number): string {
  const known = GFW_BOOT_PROGRESS[progress];
  if (known) return `${hex(progress)} (${known.meaning})`;
  return `${hex(progress)} (devinit still running or stuck; only 0xff, COMPLETED, is published)`;
}

/**
 * The FSP's response `errorCode` in words, with NVIDIA's name for it.
 *
 * @param code `NVDM_PAYLOAD_COMMAND_RESPONSE.errorCode`.
 * @returns E.g. `0xa1 (FSP_ERR_IFS_ERR_INVALID_DATA: …)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFspError } from "./boot_codes.ts";
 * assert.match(describeFspError(0), /^0x0 \(FSP_OK: /);
 * assert.match(describeFspError(0x9e), /INVALID_STATE/);
 * assert.match(describeFspError(0x1234), /no public source/);
 * ```
 */
export function describeFspError(code: number): string {
  return describe(FSP_ERROR_CODES, code, true);
}

/**
 * What the GSP-FMC left in the GSP's `MAILBOX0` when it stopped before
 * releasing the PRIV lockdown, in words. NVIDIA and nova-core treat any
 * non-zero value as "GSP-FMC boot failed" and publish no table of them.
 *
 * @param value GSP `MAILBOX0`.
 * @returns E.g. `0x5 (a GSP-FMC error code; no public source names the values)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFmcMailbox } from "./boot_codes.ts";
 * assert.match(describeFmcMailbox(5), /0x5.*GSP-FMC.*no public source/);
 * ```
 */
export function describeFmcMailbox(value: number): string {
  return `${hex(value)} (a GSP-FMC error code; no public source names the values)`;
}
