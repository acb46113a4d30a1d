/**
 * The fuzz targets: one per firmware parser entry point, each running the
 * parser and the calls that use its result, and checking invariants a
 * successful parse must keep.
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import {
  booterLoadMap,
  bufferSource,
  describeFirmware,
  detectFirmwareKind,
  extractFwsec,
  findSection,
  FMC_SIGNATURES_SIZE,
  fmcSignatures,
  type FwsecFirmware,
  fwsecUcodeLength,
  gspSignature,
  MAX_FUSE_VERSION,
  parseBinHeader,
  parseBooter,
  parseElf,
  parseFmc,
  parseGenBootloader,
  parseGspImage,
  parseRiscvBootloader,
  parseTlv,
  parseVbios,
  patchBooter,
  patchFwsecFrts,
  patchFwsecSb,
  sectionBytes,
  selectBooterSignature,
  selectFwsecSignature,
  SHT_NOBITS,
  signatureSlots,
  tlvBytes,
  tlvSignature,
  tlvString,
  tlvU32,
} from "../firmware/mod.ts";
import type { FuzzSeed, SeedSet } from "./_fuzz_anatomy.ts";
import { loadSeeds } from "./_fuzz_seeds.ts";

export interface FuzzTarget {
  /** Short name, used on the command line. */
  readonly name: string;
  /** What it calls. */
  readonly description: string;
  /** Its seed inputs (loaded once). */
  seeds(): SeedSet;
  /**
   * Parse `bytes` and use the result. May throw {@linkcode FirmwareFormatError}
   * (a rejected input); anything else is a finding.
   */
  run(bytes: Uint8Array, seed: FuzzSeed): void;
}

/**
 * A result broke a property every successful parse must have. Thrown by
 * targets; it is not a {@linkcode FirmwareFormatError}, so it is a finding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvariantError } from "./_fuzz_targets.ts";
 * assert(new InvariantError("x").name === "InvariantError");
 * ```
 */
export class InvariantError extends Error {
  /**
   * Construct it.
   *
   * @param message Which property broke.
   */
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

function invariant(ok: boolean, message: () => string): void {
  if (!ok) throw new InvariantError(message());
}

/** Run `step`; a format error there is an expected outcome of a follow-up call. */
export function attempt<T>(step: () => T): T | undefined {
  try {
    return step();
  } catch (e) {
    if (e instanceof FirmwareFormatError) return undefined;
    throw e;
  }
}

/** Run every step; if all of them reject the input, rethrow the first rejection. */
function anyOf(...steps: (() => unknown)[]): void {
  let first: FirmwareFormatError | undefined;
  let accepted = false;
  for (const step of steps) {
    try {
      step();
      accepted = true;
    } catch (e) {
      if (!(e instanceof FirmwareFormatError)) throw e;
      first ??= e;
    }
  }
  if (!accepted && first) throw first;
}

const FRTS_REGION = { frtsOffset: 0x1ff00000, frtsSize: 0x100000 };

function target(
  name: string,
  description: string,
  seedSet: string,
  run: (bytes: Uint8Array, seed: FuzzSeed) => void,
): FuzzTarget {
  return { name, description, seeds: () => loadSeeds(seedSet), run };
}

function runBooter(bytes: Uint8Array): void {
  const b = parseBooter(bytes);
  invariant(
    b.signatures.length === b.signatureCount &&
      b.signatures.every((s) => s.length === b.signatureSize),
    () => `signature views are not ${b.signatureCount} × ${b.signatureSize} bytes`,
  );
  invariant(
    b.image.length === b.binHeader.dataSize,
    () => `image is ${b.image.length} bytes, the bin header says ${b.binHeader.dataSize}`,
  );
  // The versions around the firmware's own, where the selection rule changes.
  const own = b.signatureParams.fuseVersion;
  const versions = [0, 1, 2, own - 1, own, own + 1, MAX_FUSE_VERSION]
    .filter((v) => v >= 0 && v <= MAX_FUSE_VERSION);
  for (const fuseVersion of versions) {
    const index = attempt(() => selectBooterSignature(b, fuseVersion));
    invariant(
      index === undefined || (index >= 0 && index < b.signatureCount),
      () => `fuse version ${fuseVersion} selected signature ${index} of ${b.signatureCount}`,
    );
    const patched = attempt(() => patchBooter(b, fuseVersion));
    invariant(
      !patched || patched.image.length === b.image.length,
      () => "patched image length differs from the image",
    );
  }
  attempt(() => booterLoadMap(b, { layout: "tu102" }));
  attempt(() => booterLoadMap(b, { layout: "ga102" }));
}

function runElf(bytes: Uint8Array): void {
  const elf = parseElf(bytes);
  for (const s of elf.sections) {
    if (s.index === 0 || s.type === SHT_NOBITS) continue;
    invariant(
      s.offset + s.size <= bytes.length,
      () => `section ${s.index} 0x${s.offset.toString(16)}+0x${s.size.toString(16)} is outside`,
    );
    const data = attempt(() => sectionBytes(bytes, s));
    invariant(!data || data.length === s.size, () => `section ${s.index} bytes are short`);
  }
}

function runGspImage(bytes: Uint8Array): void {
  const gsp = parseGspImage(bytes);
  invariant(
    gsp.image.offset + gsp.image.size <= bytes.length,
    () => ".fwimage is outside the file",
  );
  invariant(/^[\x20-\x7e]+$/.test(gsp.version), () => `version ${JSON.stringify(gsp.version)}`);
  for (const s of gsp.signatureSections) {
    const sig = attempt(() => gspSignature(gsp, bytes, s.name));
    // Duplicate names are allowed: gspSignature takes the first section of a name.
    const first = findSection(gsp.elf, s.name);
    invariant(!sig || sig.length === first?.size, () => `${s.name} bytes are short`);
  }
  attempt(() => gspSignature(gsp, bytes, ".fwsignature_nonexistent"));
}

function runFmc(bytes: Uint8Array): void {
  const fmc = parseFmc(bytes);
  invariant(fmc.hash.length === 48, () => `hash is ${fmc.hash.length} bytes`);
  const all = fmcSignatures(fmc);
  invariant(all.length === FMC_SIGNATURES_SIZE, () => `signatures are ${all.length} bytes`);
}

function runTlv(bytes: Uint8Array): void {
  const tlv = parseTlv(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const block of tlv.blocks) {
    const declared = view.getUint32(block.offset + 4, true);
    invariant(
      block.value.length === declared && block.offset + 8 + declared <= bytes.length,
      () => `block ${block.tag} at 0x${block.offset.toString(16)} has a short value`,
    );
    attempt(() => tlvBytes(tlv, block.tag));
    attempt(() => tlvU32(tlv, block.tag));
    attempt(() => tlvString(tlv, block.tag));
  }
  for (const index of [undefined, 0, 1, 2]) attempt(() => tlvSignature(tlv, index));
}

function runVbios(bytes: Uint8Array): void {
  const v = parseVbios(bufferSource(bytes));
  for (const image of v.images) {
    invariant(
      image.offset + image.size <= bytes.length,
      () => `image ${image.index} runs past the source`,
    );
  }
  if (v.fwsec) checkFwsec(v.fwsec);
}

function checkFwsec(f: FwsecFirmware): void {
  const d = f.descriptor;
  invariant(
    f.ucode.length === fwsecUcodeLength(d),
    () => `ucode is ${f.ucode.length} bytes, the descriptor says ${fwsecUcodeLength(d)}`,
  );
  const { imemNonSecure, imemSecure, dmem } = f.loadMap;
  for (const [name, segment] of Object.entries({ imemNonSecure, imemSecure, dmem })) {
    invariant(
      !segment || segment.srcStart + segment.length <= f.ucode.length,
      () => `load segment ${name} runs past the ${f.ucode.length}-byte ucode`,
    );
  }
  const expected = d.descriptorVersion === 3 ? d.signatureCount : 0;
  invariant(
    f.signatures.length === expected && f.signatures.every((s) => s.length === 384),
    () => `${f.signatures.length} signatures, the descriptor says ${expected} of 384 bytes`,
  );
  invariant(
    !f.dmemMapper || f.dmemMapper.ucodeOffset + 64 <= f.ucode.length,
    () => "the DMEM mapper runs past the ucode",
  );
}

function runFwsec(bytes: Uint8Array): void {
  const source = bufferSource(bytes);
  const f = extractFwsec(source);
  checkFwsec(f);
  // Each fuse version the descriptor names must select its own slot; then a few it does not.
  const named = signatureSlots(f).map((slot) => slot.fuseVersion);
  for (const fuseVersion of [...new Set([...named, 0, 1, 15, 16, MAX_FUSE_VERSION])]) {
    if (f.descriptor.descriptorVersion === 3) {
      const index = attempt(() => selectFwsecSignature(f, fuseVersion));
      const slot = signatureSlots(f).find((s) => s.fuseVersion === fuseVersion);
      invariant(
        index === undefined || index === slot?.index,
        () => `fuse version ${fuseVersion} selected ${index}, its slot is ${slot?.index}`,
      );
    }
    for (
      const patch of [
        () => patchFwsecFrts(f, FRTS_REGION, fuseVersion),
        () => patchFwsecSb(f, fuseVersion),
      ]
    ) {
      const patched = attempt(patch);
      invariant(
        !patched || patched.image.length === f.ucode.length,
        () => "patched FWSEC image length differs from the ucode",
      );
    }
  }
  attempt(() => extractFwsec(source, { debug: true }));
}

/**
 * Every firmware parser entry point, with its seeds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FUZZ_TARGETS } from "./_fuzz_targets.ts";
 * assert(FUZZ_TARGETS.some((t) => t.name === "booter"));
 * ```
 */
export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  target("bin-header", "parseBinHeader", "bin", (bytes) => {
    const h = parseBinHeader(bytes);
    invariant(h.dataOffset + h.dataSize <= bytes.length, () => "payload outside the file");
  }),
  target(
    "booter",
    "parseBooter, then selectBooterSignature / patchBooter / booterLoadMap",
    "booter",
    runBooter,
  ),
  target("riscv-bootloader", "parseRiscvBootloader", "riscv", (bytes) => {
    const rv = parseRiscvBootloader(bytes);
    invariant(rv.ucode.length === rv.binHeader.dataSize, () => "ucode view is short");
  }),
  target("gen-bootloader", "parseGenBootloader", "gen", (bytes) => {
    const g = parseGenBootloader(bytes);
    invariant(
      g.code.length === g.descriptor.codeSize && g.data.length === g.descriptor.dataSize,
      () => "code or data view is short",
    );
  }),
  target("elf", "parseElf, then sectionBytes on every section", "elf", runElf),
  target(
    "gsp-image",
    "parseGspImage, then gspSignature on every signature section",
    "gsp",
    runGspImage,
  ),
  target("fmc", "parseFmc, then fmcSignatures", "fmc", runFmc),
  target(
    "tlv",
    "parseTlv, then tlvBytes / tlvU32 / tlvString on every block, tlvSignature",
    "tlv",
    runTlv,
  ),
  target(
    "detect",
    "detectFirmwareKind, without and with the file name",
    "all",
    (bytes, seed) =>
      anyOf(
        () => detectFirmwareKind(bytes),
        () => detectFirmwareKind(bytes, seed.fileName),
      ),
  ),
  target(
    "describe",
    "describeFirmware (and JSON.stringify of the result)",
    "all",
    (bytes, seed) =>
      anyOf(
        () => JSON.stringify(describeFirmware(bytes)),
        () => JSON.stringify(describeFirmware(bytes, seed.fileName)),
      ),
  ),
  target("vbios", "parseVbios (IFR, ROM images, BIT, PMU table, FWSEC)", "vbios", runVbios),
  target(
    "fwsec",
    "extractFwsec, then selectFwsecSignature / patchFwsecFrts / patchFwsecSb",
    "vbios",
    runFwsec,
  ),
];

/** Input pattern of the self-test targets: the bin header's version has its top bit set. */
const selfTestTrigger = (bytes: Uint8Array): boolean => bytes.length >= 8 && bytes[7] >= 0x80;

/**
 * Targets that exist to prove the harness can fail: one throws a `TypeError`,
 * one never returns, on inputs whose bin-header version has its top bit set.
 * They are not part of the default run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SELF_TEST_TARGETS } from "./_fuzz_targets.ts";
 * assert(SELF_TEST_TARGETS.map((t) => t.name).join() === "self-test-type-error,self-test-hang");
 * ```
 */
export const SELF_TEST_TARGETS: readonly FuzzTarget[] = [
  target("self-test-type-error", "parseBinHeader, but a TypeError on a pattern", "gen", (bytes) => {
    if (selfTestTrigger(bytes)) throw new TypeError("self-test: deliberate TypeError");
    parseBinHeader(bytes);
  }),
  target("self-test-hang", "parseBinHeader, but an endless loop on a pattern", "gen", (bytes) => {
    let spin = 0;
    while (selfTestTrigger(bytes)) spin = (spin + 1) % 1024;
    parseBinHeader(bytes);
  }),
];

/**
 * A target by name (self-test targets included).
 *
 * @throws {RangeError} for an unknown name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findFuzzTarget } from "./_fuzz_targets.ts";
 * assert(findFuzzTarget("tlv").name === "tlv");
 * ```
 */
export function findFuzzTarget(name: string): FuzzTarget {
  const found = [...FUZZ_TARGETS, ...SELF_TEST_TARGETS].find((t) => t.name === name);
  if (!found) {
    throw new RangeError(
      `unknown fuzz target ${JSON.stringify(name)}; targets: ${
        [...FUZZ_TARGETS, ...SELF_TEST_TARGETS].map((t) => t.name).join(", ")
      }`,
    );
  }
  return found;
}
