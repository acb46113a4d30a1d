/**
 * The firmware layer: pure parsers, patchers and builders over `Uint8Array`
 * and random-access byte sources. Nothing here touches files or hardware;
 * every malformed input is a {@linkcode FirmwareFormatError} naming the file,
 * offset and field.
 *
 * - what a falcon runs, shared by every kind: {@linkcode FalconLoadMap} and
 *   {@linkcode BromParams}
 * - nvfw bin files: {@linkcode parseBinHeader}, {@linkcode parseBooter} with
 *   {@linkcode patchBooter}, {@linkcode parseRiscvBootloader},
 *   {@linkcode parseGenBootloader}
 * - ELF: {@linkcode parseElf}, the GSP image ({@linkcode parseGspImage}) and
 *   the FMC ({@linkcode parseFmc})
 * - the 2026 TLV container ({@linkcode parseTlv})
 * - the VBIOS ({@linkcode parseVbios}) and FWSEC ({@linkcode extractFwsec},
 *   {@linkcode patchFwsecFrts}, {@linkcode patchFwsecSb},
 *   {@linkcode highestSignedFuseVersion})
 * - radix3 page tables ({@linkcode buildRadix3})
 * - kind detection and description for inspection ({@linkcode describeFirmware},
 *   with ELF values named by {@linkcode elfValueName})
 * - every header's layout as a table of fields ({@linkcode FieldLayout}), which
 *   the parsers read through ({@linkcode readFields})
 *
 * @example Patch Booter for a chip whose signature fuse version is 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBooter, patchBooter } from "./mod.ts";
 * import { forgeBooter } from "./forge/mod.ts";
 *
 * const booter = parseBooter(forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 }));
 * const { image, brom } = patchBooter(booter, 1);
 * assert(image.length === booter.image.length && brom.engineIdMask === 1);
 * ```
 *
 * @module
 */
export { FalconryError, FirmwareFormatError } from "../errors.ts";
export * from "./byte_reader.ts";
export * from "./byte_source.ts";
export * from "./field_layout.ts";
export * from "./bin_header.ts";
export * from "./falcon_load.ts";
export * from "./booter.ts";
export * from "./riscv_bootloader.ts";
export * from "./gen_bootloader.ts";
export * from "./elf.ts";
export * from "./elf_names.ts";
export * from "./gsp_image.ts";
export * from "./fmc.ts";
export * from "./tlv.ts";
export * from "./radix3.ts";
export * from "./vbios/mod.ts";
export * from "./fwsec/mod.ts";
export * from "./detect.ts";
export * from "./describe.ts";
