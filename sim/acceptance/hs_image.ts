/**
 * The heavy-secure (HS) image check a falcon's boot ROM makes when the CPU
 * starts: the image must sit in IMEM and DMEM exactly where the chip's load
 * layout puts it, loaded the way this chip loads HS images, booting at its
 * entry, unmodified, with the signature this chip's fuse selects patched
 * in, and (GA102 and later) the BROM registers naming that signature.
 *
 * Everything expected is computed here from the reference, never by the
 * driver's load-map or patch functions (issue 9's golden rule):
 *
 * | | Booter, Turing/GA100 (§3.7) | Booter, GA102+ (§3.7) | FWSEC v3, GA102+ (§3.3/3.4) | FWSEC v2, Turing/GA100 (§3.4) |
 * |---|---|---|---|---|
 * | method | PIO | DMA | DMA | DMA by the generic bootloader (`runGenBootloader`), which the host PIO-loads |
 * | non-secure IMEM | OS code → `CDOF`, tags `CDOF/256…` | — | — | code `0…` → `imemPhysBase` |
 * | secure IMEM | app → `A0CO`, tags `A0CO/256…` | app → 0, tags `A0CO/256…` | ucode → `imemPhysBase`, tags `imemVirtBase/256…` | `imemSecBase − imemVirtBase` → same offset |
 * | DMEM | OS data → 0 | OS data → 0 | data → `dmemPhysBase` | data → `dmemPhysBase` |
 * | boot vector | `CDOF` | `A0CO` | `imemVirtBase` | `imemVirtBase` |
 * | signature in DMEM | `PLOC − DAOF` | `PLOC − DAOF` | `dmemPhysBase + pkcDataOffset` | none |
 * | BROM | — | pkc `PLOC − DAOF`, ENID, UCID, RSA3K | pkc, engine mask, ucode id of the descriptor, RSA3K | — |
 *
 * IMEM is modelled per 256-byte block, each with the tag (virtual address
 * / 256) it was written with, its secure bit and how it was written. A PIO
 * load sets tags through IMEMT; a DMA load tags each block with its
 * `DMATRFFBOFFS / 256`, which is why the GA102 Booter, DMA'd from image
 * offset `A0CO` into physical block 0, boots at `A0CO`.
 *
 * "Unmodified": the signature covers the code; the simulator also requires
 * every DMEM byte to be the file's, except the signature slot and, for
 * FWSEC, the DMEM mapper's `init_cmd` and command-in buffer, which the
 * driver patches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expectedHsLoad } from "./hs_image.ts";
 * import { recogniseBooter } from "./recognise.ts";
 * import { forgeBooter } from "../../firmware/forge/mod.ts";
 * const fw = recogniseBooter(forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 }), "b");
 * const ga102 = expectedHsLoad(fw, 0x172);
 * assert(ga102.method === "dma" && ga102.bootVector === 256 && ga102.imem[0].physical === 0);
 * assert.equal(expectedHsLoad(fw, 0x162).method, "pio");
 * ```
 *
 * @module
 */

import { fuseVersionFromRegister } from "./fuse_version.ts";
import type { HsFirmware } from "./recognise.ts";
import {
  booterSignatureChoice,
  fwsecSignatureChoice,
  type SignatureChoice,
} from "./signature_choice.ts";
import { HS_ERROR, reject, type Verdict } from "./verdict.ts";
import { chipName, hasBromParams, loadsByPio } from "./_chip.ts";
import { firstDifference, hex } from "./_util.ts";

/** How a block of falcon memory was filled. */
export type LoadMethod = "pio" | "dma";

/** One 256-byte IMEM block as written. */
export interface ImemBlock {
  /** Its tag: the virtual address / 256 it answers to. */
  tag: number;
  /** Whether it was written as secure (IMEMC.SECURE or DMATRFCMD.SEC). */
  secure: boolean;
  /** How it was written. */
  method: LoadMethod;
}

/** The BROM registers of falcon2 as programmed (GA102+). */
export interface BromRegisters {
  /** `BROM_PARAADDR[0]`: DMEM offset of the signature. */
  pkcDataOffset: number;
  /** `BROM_ENGIDMASK`. */
  engineIdMask: number;
  /** `BROM_CURR_UCODE_ID`. */
  ucodeId: number;
  /** `MOD_SEL` algorithm (1 = RSA3K). */
  modSel: number;
}

/** What a falcon holds when its CPU starts: the inputs the falcon model supplies. */
export interface LoadedFalcon {
  /** The whole IMEM (its size from HWCFG). */
  imem: Uint8Array;
  /** Per physical 256-byte block: how it was written since the last reset, or `undefined`. */
  imemBlocks: readonly (ImemBlock | undefined)[];
  /** The whole DMEM. */
  dmem: Uint8Array;
  /** How DMEM was filled (the method of the last write to it). */
  dmemMethod: LoadMethod;
  /** BOOTVEC. */
  bootVector: number;
  /** The BROM registers, or `undefined` when never written since reset. */
  brom?: BromRegisters;
  /**
   * The raw value of the signature fuse register the boot ROM reads (see
   * `signatureFuseRegister`; 0 on Turing, which has none).
   */
  signatureFuse: number;
}

/** One IMEM segment of the expected layout. */
export interface ExpectedImemSegment {
  /** Image offset of its first byte. */
  src: number;
  /** IMEM physical address of its first byte (256-byte aligned). */
  physical: number;
  /** Tag of its first block; the following blocks count up. */
  tag: number;
  /** Bytes. */
  length: number;
  /** Whether it is secure. */
  secure: boolean;
}

/** Where an HS image must be, computed by the simulator from the reference. */
export interface ExpectedHsLoad {
  /** How this chip loads it. */
  method: LoadMethod;
  /** The image the offsets refer to (Booter image, FWSEC ucode), unpatched. */
  image: Uint8Array;
  /** IMEM segments. */
  imem: ExpectedImemSegment[];
  /** DMEM segment: image `src` → DMEM `dst`. */
  dmem: { src: number; dst: number; length: number };
  /** BOOTVEC. */
  bootVector: number;
  /** Where the patched signature sits in DMEM, when the image has signatures. */
  signatureAt?: number;
  /** DMEM ranges `[start, end)` the driver may patch besides the signature. */
  patchable: [number, number][];
  /** The BROM registers, GA102 and later with a signed image. */
  brom?: Omit<BromRegisters, "modSel"> & { modSel: 1 };
}

const RSA3K = 1;

/**
 * The load layout an HS image must have on a chip.
 *
 * @param firmware The recognised image.
 * @param chipset The chip's id (`0x162` TU102, `0x172` GA102, `0x192` AD102, …).
 * @returns The expected layout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expectedHsLoad } from "./hs_image.ts";
 * import { recogniseBooter } from "./recognise.ts";
 * import { forgeBooter } from "../../firmware/forge/mod.ts";
 * const tu = expectedHsLoad(recogniseBooter(forgeBooter(), "b"), 0x162);
 * assert(tu.imem.length === 2 && !tu.imem[0].secure && tu.imem[1].tag === 1 && tu.brom === undefined);
 * ```
 */
export function expectedHsLoad(firmware: HsFirmware, chipset: number): ExpectedHsLoad {
  const pio = loadsByPio(chipset);
  const bromExpected = hasBromParams(chipset);
  if (firmware.kind === "booter") {
    const { loadHeader: lh, image, patchLocation, signatureParams } = firmware.booter;
    const app = lh.apps[0];
    const dmem = { src: lh.osDataOffset, dst: 0, length: lh.osDataSize };
    const signatureAt = patchLocation - lh.osDataOffset;
    const imem: ExpectedImemSegment[] = pio
      ? [
        {
          src: lh.osCodeOffset,
          physical: lh.osCodeOffset,
          tag: lh.osCodeOffset >> 8,
          length: lh.osCodeSize,
          secure: false,
        },
        {
          src: app.codeOffset,
          physical: app.codeOffset,
          tag: app.codeOffset >> 8,
          length: app.codeSize,
          secure: true,
        },
      ]
      : [{
        src: app.codeOffset,
        physical: 0,
        tag: app.codeOffset >> 8,
        length: app.codeSize,
        secure: true,
      }];
    return {
      method: pio ? "pio" : "dma",
      image,
      imem,
      dmem,
      bootVector: pio ? lh.osCodeOffset : app.codeOffset,
      signatureAt,
      patchable: [],
      brom: bromExpected
        ? {
          pkcDataOffset: signatureAt,
          engineIdMask: signatureParams.engineIdMask,
          ucodeId: signatureParams.ucodeId,
          modSel: RSA3K,
        }
        : undefined,
    };
  }
  const { descriptor: d, ucode, dmemMapper } = firmware.fwsec;
  const patchable: [number, number][] = dmemMapper
    ? [
      [
        d.dmemPhysBase + dmemMapper.dmemOffset + 0x2c,
        d.dmemPhysBase + dmemMapper.dmemOffset + 0x30,
      ],
      [
        d.dmemPhysBase + dmemMapper.cmdInBufferOffset,
        d.dmemPhysBase + dmemMapper.cmdInBufferOffset + dmemMapper.cmdInBufferSize,
      ],
    ]
    : [];
  if (d.descriptorVersion === 3) {
    const signed = d.signatureCount > 0;
    return {
      method: pio ? "pio" : "dma",
      image: ucode,
      imem: [{
        src: 0,
        physical: d.imemPhysBase,
        tag: d.imemVirtBase >> 8,
        length: d.imemLoadSize,
        secure: true,
      }],
      dmem: { src: d.imemLoadSize, dst: d.dmemPhysBase, length: d.dmemLoadSize },
      bootVector: d.imemVirtBase,
      signatureAt: signed ? d.dmemPhysBase + d.pkcDataOffset : undefined,
      patchable,
      brom: bromExpected && signed
        ? {
          pkcDataOffset: d.pkcDataOffset,
          engineIdMask: d.engineIdMask,
          ucodeId: d.ucodeId,
          modSel: RSA3K,
        }
        : undefined,
    };
  }
  const secureStart = d.imemSecBase - d.imemVirtBase;
  const nonSecureLength = d.imemLoadSize - d.imemSecSize;
  return {
    method: "dma",
    image: ucode,
    imem: [
      ...(nonSecureLength > 0
        ? [{
          src: 0,
          physical: d.imemPhysBase,
          tag: d.imemVirtBase >> 8,
          length: nonSecureLength,
          secure: false,
        }]
        : []),
      {
        src: secureStart,
        physical: d.imemPhysBase + secureStart,
        tag: d.imemSecBase >> 8,
        length: d.imemSecSize,
        secure: true,
      },
    ],
    dmem: { src: d.dmemOffset, dst: d.dmemPhysBase, length: d.dmemLoadSize },
    bootVector: d.imemVirtBase,
    patchable,
  };
}

/** What the boot ROM accepted. */
export interface HsAcceptance {
  /** The image's name. */
  name: string;
  /** The signature index verified, when the image has signatures. */
  signatureIndex?: number;
  /** The fuse version the register encodes. */
  fuseVersion: number;
}

/**
 * Check an HS image as the boot ROM does when the falcon starts.
 *
 * @param firmware The image the falcon holds (see `identifyLoadedImage`).
 * @param loaded What the falcon holds.
 * @param chipset The chip's id.
 * @returns Acceptance, or the rejection with the MBOX0 the falcon halts with.
 *
 * @example Loading by PIO on GA102 is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHsImage } from "./hs_image.ts";
 * import { recogniseBooter } from "./recognise.ts";
 * import { forgeBooter } from "../../firmware/forge/mod.ts";
 * const fw = recogniseBooter(forgeBooter(), "b");
 * const imemBlocks = [{ tag: 1, secure: true, method: "pio" as const }];
 * const v = checkHsImage(fw, {
 *   imem: new Uint8Array(0x10000), imemBlocks, dmem: new Uint8Array(0x10000), dmemMethod: "pio",
 *   bootVector: 256, signatureFuse: 1,
 * }, 0x172);
 * assert(!v.ok && v.rule === "loadMethod");
 * ```
 */
export function checkHsImage(
  firmware: HsFirmware,
  loaded: LoadedFalcon,
  chipset: number,
): Verdict<HsAcceptance> {
  const what = `${firmware.name} on ${chipName(chipset)}`;
  if (firmware.kind === "booter" && firmware.booter.loadHeader.numApps !== 1) {
    // NVIDIA's loader refuses any other count; no real file has one.
    return reject(
      HS_ERROR.unknownImage,
      `${what}: ${firmware.booter.loadHeader.numApps} apps; Booter images have exactly one`,
    );
  }
  const expected = expectedHsLoad(firmware, chipset);

  const methodError = checkMethod(expected, loaded, what);
  if (methodError) return methodError;
  const layoutError = checkImemLayout(expected, loaded, what);
  if (layoutError) return layoutError;
  if (loaded.bootVector !== expected.bootVector) {
    return reject(
      HS_ERROR.bootVector,
      `${what}: BOOTVEC ${hex(loaded.bootVector)}, the entry is ${hex(expected.bootVector)}`,
    );
  }
  if (expected.brom) {
    const got = loaded.brom;
    const wrong = (Object.keys(expected.brom) as (keyof BromRegisters)[])
      .filter((k) => got?.[k] !== expected.brom![k]);
    if (wrong.length > 0) {
      const list = wrong.map((k) =>
        `${k} ${got ? hex(got[k]) : "unset"} (expected ${hex(expected.brom![k])})`
      );
      return reject(HS_ERROR.bromParams, `${what}: BROM registers wrong: ${list.join(", ")}`);
    }
  }

  let choice: SignatureChoice | undefined;
  if (expected.signatureAt !== undefined) {
    const chosen = chooseSignature(firmware, loaded.signatureFuse);
    if (!chosen.ok) return { ...chosen, reason: `${what}: ${chosen.reason}` };
    choice = chosen;
    const size = chosen.signature.length;
    const inDmem = loaded.dmem.subarray(expected.signatureAt, expected.signatureAt + size);
    if (firstDifference(chosen.signature, inDmem, size) !== -1) {
      const other = signaturesOf(firmware).findIndex((s) =>
        firstDifference(s, inDmem, size) === -1
      );
      const found = other >= 0 ? `signature ${other}` : "no signature of the file";
      return reject(
        HS_ERROR.wrongSignature,
        `${what}: DMEM ${hex(expected.signatureAt)} holds ${found}; fuse version ` +
          `${chosen.fuseVersion} (register ${hex(loaded.signatureFuse)}) selects signature ` +
          `${chosen.index}`,
        { found: other, expected: chosen.index },
      );
    }
  }

  const modified = checkUnmodified(expected, loaded, choice?.signature.length ?? 0, what);
  if (modified) return modified;
  return {
    ok: true,
    name: firmware.name,
    signatureIndex: choice?.index,
    fuseVersion: fuseVersionFromRegister(loaded.signatureFuse),
  };
}

function chooseSignature(firmware: HsFirmware, fuseRegister: number): Verdict<SignatureChoice> {
  if (firmware.kind === "booter") {
    return booterSignatureChoice({
      fileFuseVersion: firmware.booter.signatureParams.fuseVersion,
      signatures: firmware.booter.signatures,
      fuseRegister,
    });
  }
  const d = firmware.fwsec.descriptor;
  return fwsecSignatureChoice({
    signatureVersions: d.descriptorVersion === 3 ? d.signatureVersions : 0,
    signatures: firmware.fwsec.signatures,
    fuseRegister,
  });
}

function signaturesOf(firmware: HsFirmware): readonly Uint8Array[] {
  return firmware.kind === "booter" ? firmware.booter.signatures : firmware.fwsec.signatures;
}

function checkMethod(expected: ExpectedHsLoad, loaded: LoadedFalcon, what: string) {
  const used = new Set<LoadMethod>();
  for (const segment of expected.imem) {
    for (let n = 0; n * 256 < segment.length; n++) {
      const block = loaded.imemBlocks[segment.physical / 256 + n];
      if (block) used.add(block.method);
    }
  }
  if (expected.dmem.length > 0) used.add(loaded.dmemMethod);
  const wrong = [...used].filter((m) => m !== expected.method);
  if (wrong.length === 0) return undefined;
  return reject(
    HS_ERROR.loadMethod,
    `${what}: loaded by ${wrong[0].toUpperCase()}; this chip loads HS images by ` +
      `${expected.method.toUpperCase()}`,
  );
}

function checkImemLayout(expected: ExpectedHsLoad, loaded: LoadedFalcon, what: string) {
  for (const segment of expected.imem) {
    for (let n = 0; n * 256 < segment.length; n++) {
      const physical = segment.physical + n * 256;
      const block = loaded.imemBlocks[physical / 256];
      const tag = segment.tag + n;
      const problem = !block
        ? "was never written"
        : block.tag !== tag
        ? `has tag ${hex(block.tag)}, expected ${hex(tag)}`
        : block.secure !== segment.secure
        ? `is ${block.secure ? "secure" : "non-secure"}, expected ${
          segment.secure ? "secure" : "non-secure"
        }`
        : undefined;
      if (problem) {
        return reject(HS_ERROR.imemLayout, `${what}: IMEM block ${hex(physical)} ${problem}`, {
          physical,
        });
      }
    }
  }
  return undefined;
}

function checkUnmodified(
  expected: ExpectedHsLoad,
  loaded: LoadedFalcon,
  signatureSize: number,
  what: string,
) {
  for (const segment of expected.imem) {
    const want = expected.image.subarray(segment.src, segment.src + segment.length);
    const got = loaded.imem.subarray(segment.physical, segment.physical + segment.length);
    const at = firstDifference(want, got, segment.length);
    if (at !== -1) {
      return reject(
        HS_ERROR.imageModified,
        `${what}: IMEM ${hex(segment.physical + at)} differs from the signed code`,
      );
    }
  }
  const { src, dst, length } = expected.dmem;
  const skip: [number, number][] = [...expected.patchable];
  if (expected.signatureAt !== undefined) {
    skip.push([expected.signatureAt, expected.signatureAt + signatureSize]);
  }
  const want = expected.image.subarray(src, src + length);
  const got = loaded.dmem.subarray(dst, dst + length);
  if (got.length < length) {
    return reject(HS_ERROR.imageModified, `${what}: DMEM is smaller than the image's data`);
  }
  for (let i = 0; i < length; i++) {
    if (want[i] === got[i]) continue;
    const at = dst + i;
    if (skip.some(([s, e]) => at >= s && at < e)) continue;
    return reject(
      HS_ERROR.imageModified,
      `${what}: DMEM ${hex(at)} differs from the file's data outside the patchable fields`,
    );
  }
  return undefined;
}
