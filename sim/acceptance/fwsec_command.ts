/**
 * What FWSEC reads from its own DMEM when it starts: the application
 * interface table, the DMEM mapper's `init_cmd`, and the command-in buffer
 * (nova-core-boot.md §3.3, NVIDIA `kernel_gsp_frts_tu102.c`). Read here with
 * the simulator's own code from the bytes the falcon actually holds.
 *
 * | DMEM | structure |
 * |---|---|
 * | `interfaceOffset` | header v1: u8 version (1), header size, entry size, entry count (≥ 2) |
 * | header + i × entry size | entry: u32 id, u32 DMEM offset; id 4 = DMEM mapper |
 * | mapper + 0x08 / 0x0c | command-in buffer offset / size |
 * | mapper + 0x2c | `init_cmd`: 0x15 FRTS, 0x19 SB |
 * | command-in + 0 | ReadVbios: u32 version 1, u32 size 24, u64 offset 0, u32 size 0, u32 flags 2 |
 * | command-in + 24 | FRTS only, region: u32 version 1, u32 size 20, u32 offset >> 12, u32 size >> 12, u32 media 2 (FB) |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFwsecCommand } from "./fwsec_command.ts";
 * import { forgeFwsecDmem } from "../../firmware/forge/mod.ts";
 * const { dmem, interfaceOffset } = forgeFwsecDmem();
 * const cmd = readFwsecCommand(dmem, interfaceOffset);
 * assert(cmd.ok && cmd.initCmd === 0); // unpatched
 * ```
 *
 * @module
 */

import { FRTS_ERROR, rejectFrts, type Verdict } from "./verdict.ts";
import { hex, u32, u64 } from "./_util.ts";

/**
 * The DMEM mapper commands (`FALCON_APPLICATION_INTERFACE_DMEM_MAPPER_V3_CMD_*`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FWSEC_INIT_CMD } from "./fwsec_command.ts";
 * assert.deepEqual(FWSEC_INIT_CMD, { frts: 0x15, sb: 0x19 });
 * ```
 */
export const FWSEC_INIT_CMD = { frts: 0x15, sb: 0x19 } as const;

const DMEM_MAPPER_ID = 4;
const MAPPER_SIZE = 64;

/** The ReadVbios descriptor as FWSEC finds it. */
export interface ReadVbiosDescriptor {
  /** u32 version. */
  version: number;
  /** u32 size. */
  size: number;
  /** u64 GFW image offset. */
  gfwImageOffset: bigint;
  /** u32 GFW image size. */
  gfwImageSize: number;
  /** u32 flags. */
  flags: number;
}

/** The FRTS region descriptor as FWSEC finds it. */
export interface FrtsRegionDescriptor {
  /** u32 version. */
  version: number;
  /** u32 size. */
  size: number;
  /** u32 region offset in 4 KiB pages. */
  offset4k: number;
  /** u32 region size in 4 KiB pages. */
  size4k: number;
  /** u32 media type (2 = FB). */
  mediaType: number;
}

/** FWSEC's command, read from DMEM. */
export interface FwsecCommand {
  /** DMEM offset of the DMEM mapper. */
  mapperOffset: number;
  /** The mapper's `init_cmd`. */
  initCmd: number;
  /** DMEM offset of the command-in buffer. */
  cmdInOffset: number;
  /** Its size. */
  cmdInSize: number;
  /** The ReadVbios descriptor at the start of the buffer. */
  readVbios: ReadVbiosDescriptor;
  /** The FRTS region descriptor after it (read whatever the command). */
  frtsRegion: FrtsRegionDescriptor;
}

/**
 * Read the command FWSEC will run from its DMEM.
 *
 * @param dmem The falcon's DMEM.
 * @param interfaceOffset The descriptor's `interfaceOffset` (a DMEM offset).
 * @returns The command, or the `noDmemMapper` rejection when the table or
 *   mapper is missing or runs past DMEM.
 *
 * @example No DMEM mapper
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFwsecCommand } from "./fwsec_command.ts";
 * import { forgeFwsecDmem } from "../../firmware/forge/mod.ts";
 * const { dmem, interfaceOffset } = forgeFwsecDmem({ dmemMapper: false });
 * const v = readFwsecCommand(dmem, interfaceOffset);
 * assert(!v.ok && v.rule === "noDmemMapper");
 * ```
 */
export function readFwsecCommand(dmem: Uint8Array, interfaceOffset: number): Verdict<FwsecCommand> {
  const fail = (why: string) => rejectFrts(FRTS_ERROR.noDmemMapper, why);
  if (interfaceOffset + 4 > dmem.length) {
    return fail(`interface table at ${hex(interfaceOffset)} is outside DMEM`);
  }
  const version = dmem[interfaceOffset];
  const headerSize = dmem[interfaceOffset + 1];
  const entrySize = dmem[interfaceOffset + 2];
  const entryCount = dmem[interfaceOffset + 3];
  if (version !== 1 || entryCount < 2 || entrySize < 8) {
    return fail(
      `interface table at ${hex(interfaceOffset)}: version ${version}, entry size ${entrySize}, ` +
        `${entryCount} entries`,
    );
  }
  let mapperOffset: number | undefined;
  for (let i = 0; i < entryCount; i++) {
    const at = interfaceOffset + headerSize + i * entrySize;
    if (at + 8 > dmem.length) return fail(`interface entry ${i} runs past DMEM`);
    if (u32(dmem, at) === DMEM_MAPPER_ID) mapperOffset = u32(dmem, at + 4);
  }
  if (mapperOffset === undefined) return fail("the interface table has no DMEM mapper (id 4)");
  if (mapperOffset + MAPPER_SIZE > dmem.length) {
    return fail(`DMEM mapper at ${hex(mapperOffset)} runs past DMEM`);
  }
  const cmdInOffset = u32(dmem, mapperOffset + 0x08);
  const cmdInSize = u32(dmem, mapperOffset + 0x0c);
  if (cmdInOffset + 44 > dmem.length) {
    return fail(`command-in buffer at ${hex(cmdInOffset)} runs past DMEM`);
  }
  const c = cmdInOffset;
  return {
    ok: true,
    mapperOffset,
    initCmd: u32(dmem, mapperOffset + 0x2c),
    cmdInOffset,
    cmdInSize,
    readVbios: {
      version: u32(dmem, c),
      size: u32(dmem, c + 4),
      gfwImageOffset: u64(dmem, c + 8),
      gfwImageSize: u32(dmem, c + 16),
      flags: u32(dmem, c + 20),
    },
    frtsRegion: {
      version: u32(dmem, c + 24),
      size: u32(dmem, c + 28),
      offset4k: u32(dmem, c + 32),
      size4k: u32(dmem, c + 36),
      mediaType: u32(dmem, c + 40),
    },
  };
}
