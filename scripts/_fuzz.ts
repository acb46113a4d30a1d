/**
 * The fuzzing engine behind `scripts/fuzz.ts` and `tests/fuzz_test.ts`: a
 * seeded PRNG, byte-level and structure-aware mutators, a table of targets
 * (one per firmware parser entry point, each with real and forged seed
 * inputs), a runner that classifies every outcome, and a report.
 *
 * The contract under test: a parser handed any bytes either returns or throws
 * {@linkcode FirmwareFormatError}. Anything else that escapes is a *finding*:
 * a `TypeError`, a `RangeError` (a stack overflow, a failed huge allocation),
 * a result that breaks an invariant (a payload view shorter than the header
 * says, which `subarray` would silently clamp), or a parse slower than
 * `slowMs` (measured twice, so that one GC pause is not a finding).
 *
 * Reproducing: iteration `i` of target `T` under seed `S` mutates seed input
 * `i mod inputs` with a PRNG seeded by `iterationSeed(S, T, i)`, so
 * {@linkcode replayFuzz} rebuilds any input from the three numbers a finding
 * names. Negative iterations stand for the unmutated inputs, which every run
 * checks first.
 *
 * Hangs: the parsers are synchronous, so an endless loop cannot be timed out
 * from inside. {@linkcode runFuzzIsolated} runs the loop in a Worker that
 * writes the target and iteration it is parsing into a `SharedArrayBuffer`;
 * a watchdog on the main thread terminates the worker when one parse makes no
 * progress for `watchdogMs` and reports that input. A V8 out-of-memory abort
 * still ends the whole process (only a subprocess would survive it); huge
 * allocations that fail cleanly surface as `RangeError` findings.
 *
 * @example Fuzz the TLV parser in-process for a moment
 * ```ts ignore
 * import { findFuzzTarget, formatFuzzReport, runFuzz } from "./_fuzz.ts";
 * const report = runFuzz({ targets: [findFuzzTarget("tlv")], mutations: 2000, seconds: 10 });
 * console.log(formatFuzzReport(report));
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FirmwareFormatError } from "../errors.ts";
import {
  BIN_HEADER_FIELDS,
  type BooterFirmware,
  booterLoadMap,
  bufferSource,
  describeFirmware,
  detectFirmwareKind,
  type ElfFile,
  extractFwsec,
  findSection,
  FMC_SIGNATURES_SIZE,
  fmcSignatures,
  type FwsecFirmware,
  fwsecUcodeLength,
  GEN_BOOTLOADER_DESC_FIELDS,
  GEN_BOOTLOADER_DESC_SIZE,
  gspSignature,
  HS_HEADER_V2_FIELDS,
  HS_LOAD_APP_FIELDS,
  HS_LOAD_HEADER_V2_FIELDS,
  HS_SIGNATURE_PARAMS_FIELDS,
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
  RISCV_UCODE_DESC_FIELDS,
  sectionBytes,
  selectBooterSignature,
  selectFwsecSignature,
  SHT_NOBITS,
  type Tlv,
  tlvBytes,
  tlvSignature,
  tlvString,
  tlvU32,
  type VbiosInfo,
} from "../firmware/mod.ts";
import {
  FMC_SIZES,
  forgeBooter,
  forgeBooterTlv,
  forgeElf,
  forgeFmc,
  forgeFmcTlv,
  forgeGenBootloader,
  forgeGspImage,
  forgeGspTlv,
  forgeRiscvBootloader,
  forgeTlv,
  forgeVbios,
  GSP_SIGNATURE_SECTIONS_TU,
} from "../firmware/forge/mod.ts";
import { findRealFirmware, REAL_VBIOS_PATH } from "../tests/_real.ts";

const logger = getLogger(["falconry", "scripts", "fuzz"]);

// ---------------------------------------------------------------------------
// Seeded PRNG

/**
 * A small, fast, seeded PRNG (sfc32, seeded through splitmix32). The same seed
 * gives the same sequence on every machine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FuzzRandom } from "./_fuzz.ts";
 * const a = new FuzzRandom(7), b = new FuzzRandom(7);
 * assert(a.u32() === b.u32() && a.below(10) < 10);
 * ```
 */
export class FuzzRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * Seed it.
   *
   * @param seed Any number; only its low 32 bits count.
   */
  constructor(seed: number) {
    let s = seed >>> 0;
    const splitmix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = splitmix();
    this.#b = splitmix();
    this.#c = splitmix();
    this.#d = splitmix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** The next 32 random bits as an unsigned number. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A whole number in `[0, n)` (0 when `n <= 1`). */
  below(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() < p * 0x100000000;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/**
 * The PRNG seed of one iteration: a hash of the run's seed, the target name
 * and the iteration number. It makes every input reproducible on its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { iterationSeed } from "./_fuzz.ts";
 * assert(iterationSeed(1, "tlv", 5) === iterationSeed(1, "tlv", 5));
 * assert(iterationSeed(1, "tlv", 5) !== iterationSeed(1, "tlv", 6));
 * ```
 */
export function iterationSeed(seed: number, target: string, iteration: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (seed >>> 0), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h ^ (iteration | 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---------------------------------------------------------------------------
// Seeds and their anatomy

/** The bytes being mutated; length-changing mutators replace `bytes`. */
export interface MutableInput {
  /** The current bytes. */
  bytes: Uint8Array;
}

/** A header field of a seed: where it is and how wide. */
export interface FieldSpot {
  /** Dotted name, e.g. `hsHeader.sigProdOffset` or `images[2].pcir.imageLen`. */
  name: string;
  /** Offset in the seed. */
  offset: number;
  /** Width in bytes. */
  width: 1 | 2 | 4 | 8;
}

/** A structure-aware mutation bound to one seed's structures (a loop, an overlap, an edge). */
export interface Tangle {
  /** Name, e.g. `elf.string-table-is-header-table`. */
  name: string;
  /** Apply it; returns what it did. */
  apply(input: MutableInput, rng: FuzzRandom): string;
}

/** What the fuzzer knows about a seed's structure, found by parsing the unmutated seed. */
export interface SeedAnatomy {
  /** Header fields. */
  fields: FieldSpot[];
  /** Offsets where structures start or end: truncation points. */
  boundaries: number[];
  /** Values worth writing into offset fields: starts of structures (loops, overlaps). */
  pointers: number[];
  /** Format-specific structure mutations. */
  tangles: Tangle[];
}

/** The formats seeds come in; each has its own anatomy. */
export type SeedFormat =
  | "booter"
  | "riscv-bootloader"
  | "gen-bootloader"
  | "elf"
  | "tlv"
  | "vbios";

/** One seed input. */
export interface FuzzSeed {
  /** Where it came from, e.g. `tu102/booter_load-570.144.bin` or `forged booter (ga102-like)`. */
  name: string;
  /** A file name that detection by name recognises. */
  fileName: string;
  /** Its format. */
  format: SeedFormat;
  /** Whether it is a real file (not forged). */
  real: boolean;
  /** The bytes (never mutated in place). */
  bytes: Uint8Array;
  /** Its structure. */
  anatomy: SeedAnatomy;
}

/** A target's seeds and the real files it would have used but did not find. */
export interface SeedSet {
  /** The seeds. */
  seeds: FuzzSeed[];
  /** Real files (relative paths or the VBIOS path) that are missing. */
  missingRealFiles: string[];
}

type Width = 1 | 2 | 4 | 8;
type Layout = readonly (readonly [string, number, Width])[];

const hx = (n: number | bigint): string => `0x${n.toString(16)}`;

function readUint(bytes: Uint8Array, offset: number, width: Width): bigint | undefined {
  if (offset < 0 || offset + width > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (width) {
    case 1:
      return BigInt(bytes[offset]);
    case 2:
      return BigInt(view.getUint16(offset, true));
    case 4:
      return BigInt(view.getUint32(offset, true));
    case 8:
      return view.getBigUint64(offset, true);
  }
}

function writeUint(
  bytes: Uint8Array,
  offset: number,
  width: Width,
  value: bigint | number,
): string {
  const v = BigInt.asUintN(width * 8, BigInt(value));
  const where = `u${width * 8}@${hx(offset)}`;
  if (offset < 0 || offset + width > bytes.length) return `${where} skipped (outside the input)`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (width) {
    case 1:
      bytes[offset] = Number(v);
      break;
    case 2:
      view.setUint16(offset, Number(v), true);
      break;
    case 4:
      view.setUint32(offset, Number(v), true);
      break;
    case 8:
      view.setBigUint64(offset, v, true);
      break;
  }
  return `${where}=${hx(v)}`;
}

function setField(input: MutableInput, field: FieldSpot, value: bigint | number): string {
  return `${field.name} ${writeUint(input.bytes, field.offset, field.width, value)}`;
}

/** Collects a seed's anatomy. */
class AnatomyBuilder implements SeedAnatomy {
  fields: FieldSpot[] = [];
  boundaries: number[] = [];
  pointers: number[] = [];
  tangles: Tangle[] = [];

  struct(prefix: string, base: number, layout: Layout): this {
    for (const [name, rel, width] of layout) {
      this.fields.push({ name: `${prefix}.${name}`, offset: base + rel, width });
    }
    return this;
  }

  words(prefix: string, base: number, names: readonly string[], width: Width = 4): this {
    return this.struct(prefix, base, names.map((n, i) => [n, i * width, width] as const));
  }

  field(name: string): FieldSpot | undefined {
    return this.fields.find((f) => f.name === name);
  }

  mark(...offsets: number[]): this {
    for (const o of offsets) if (Number.isSafeInteger(o) && o >= 0) this.boundaries.push(o);
    return this;
  }

  point(...offsets: number[]): this {
    for (const o of offsets) if (Number.isSafeInteger(o) && o >= 0) this.pointers.push(o);
    return this;
  }

  tangle(name: string, apply: (input: MutableInput, rng: FuzzRandom) => string): this {
    this.tangles.push({ name, apply });
    return this;
  }

  /** A tangle that sets one of `choices` (a field and the values worth trying) to one value. */
  setOneOf(
    name: string,
    choices: readonly (readonly [FieldSpot | undefined, readonly bigint[]])[],
  ): this {
    const usable = choices.filter((c): c is readonly [FieldSpot, readonly bigint[]] =>
      c[0] !== undefined && c[1].length > 0
    );
    if (usable.length === 0) return this;
    return this.tangle(name, (input, r) => {
      const [field, values] = r.pick(usable);
      return setField(input, field, r.pick(values));
    });
  }

  done(): SeedAnatomy {
    const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
    return {
      fields: this.fields,
      boundaries: uniq(this.boundaries),
      pointers: uniq(this.pointers),
      tangles: this.tangles,
    };
  }
}

const big = (...values: number[]): bigint[] =>
  values.filter((v) => Number.isSafeInteger(v) && v >= 0).map((v) => BigInt(v));

function binAnatomy(a: AnatomyBuilder, bytes: Uint8Array): { headerOffset: number; data: number } {
  a.words("binHeader", 0, BIN_HEADER_FIELDS).mark(24, bytes.length).point(0, 24);
  const headerOffset = Number(readUint(bytes, 12, 4) ?? 0n);
  const data = Number(readUint(bytes, 16, 4) ?? 0n);
  a.mark(headerOffset, data).point(headerOffset, data, bytes.length);
  a.setOneOf("bin.offsets-at-edges", [
    [a.field("binHeader.headerOffset"), big(0, 23, 24, bytes.length - 4, bytes.length - 1)],
    [a.field("binHeader.dataOffset"), big(0, headerOffset, bytes.length, bytes.length + 1)],
    [a.field("binHeader.dataSize"), big(0, bytes.length - data, bytes.length - data + 1)],
  ]);
  return { headerOffset, data };
}

function booterAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  binAnatomy(a, bytes);
  let b: BooterFirmware;
  try {
    b = parseBooter(bytes);
  } catch {
    return a.done();
  }
  const hs = b.hsHeader;
  const hsAt = b.binHeader.headerOffset;
  const imageAt = b.binHeader.dataOffset;
  const load = b.loadHeader;
  a.words("hsHeader", hsAt, HS_HEADER_V2_FIELDS)
    .struct("words", 0, [
      ["patchLocation", hs.patchLocOffset, 4],
      ["patchSignatureOffset", hs.patchSigOffset, 4],
      ["signatureCount", hs.numSigOffset, 4],
    ])
    .words("signatureParams", hs.metaDataOffset, HS_SIGNATURE_PARAMS_FIELDS)
    .words("loadHeader", hs.headerOffset, HS_LOAD_HEADER_V2_FIELDS);
  load.apps.forEach((_, i) =>
    a.words(`loadHeader.apps[${i}]`, hs.headerOffset + 20 + 16 * i, HS_LOAD_APP_FIELDS)
  );
  a.mark(
    hsAt + 36,
    b.signaturesOffset,
    b.signaturesOffset + hs.sigProdSize,
    hs.metaDataOffset + 12,
    hs.headerOffset,
    hs.headerOffset + hs.headerSize,
    imageAt + b.patchLocation,
    imageAt + load.osDataOffset,
  ).point(
    hsAt,
    b.signaturesOffset,
    hs.patchLocOffset,
    hs.metaDataOffset,
    hs.numSigOffset,
    hs.headerOffset,
    load.osDataOffset,
    load.osDataOffset + load.osDataSize,
    b.image.length,
    b.patchLocation,
  );
  const f = (name: string) => a.field(name);
  const imageLength = b.image.length;
  const dataEnd = load.osDataOffset + load.osDataSize;
  a.setOneOf("booter.pointer-words-point-home", [
    [f("hsHeader.patchLocOffset"), big(hsAt, hsAt + 8, 0, bytes.length - 4, bytes.length - 3)],
    [f("hsHeader.patchSigOffset"), big(hsAt, hsAt + 4, 0, bytes.length - 4, bytes.length - 3)],
    [f("hsHeader.numSigOffset"), big(hsAt + 4, 16, 20, 0, bytes.length - 4, bytes.length - 3)],
    [f("hsHeader.metaDataOffset"), big(0, hsAt, bytes.length - 12, bytes.length - 11)],
  ])
    .setOneOf("booter.signature-count", [
      [
        f("words.signatureCount"),
        big(0, 0xffffffff, 0x80000000, hs.sigProdSize, hs.sigProdSize + 1),
      ],
      [f("hsHeader.sigProdSize"), big(0, 0xffffffff, hs.sigProdSize + 1, bytes.length)],
      [
        f("words.patchSignatureOffset"),
        big(0xffffffff, bytes.length, bytes.length - hs.sigProdOffset),
      ],
    ])
    .tangle("booter.apps-fill-the-file", (input, r) => {
      const room = Math.floor((input.bytes.length - hs.headerOffset - 20) / 16);
      const size = Math.max(0, input.bytes.length - hs.headerOffset);
      return [
        setField(input, f("hsHeader.headerSize")!, size),
        setField(input, f("loadHeader.numApps")!, r.pick(big(room, room + 1, 0xffffffff))),
      ].join(", ");
    })
    .setOneOf("booter.load-header-over-other-headers", [
      [f("hsHeader.headerOffset"), big(0, hsAt, b.signaturesOffset, bytes.length - hs.headerSize)],
      [f("hsHeader.headerSize"), big(0, 35, 36, 0xffffffff, bytes.length - hs.headerOffset + 1)],
    ])
    .setOneOf("booter.patch-location-at-edges", [
      [
        f("words.patchLocation"),
        big(
          load.osDataOffset - 1,
          dataEnd - b.signatureSize,
          dataEnd - b.signatureSize + 1,
          imageLength,
          0xffffffff,
        ),
      ],
      [f("loadHeader.osDataOffset"), big(0, b.patchLocation + 1, imageLength, 0xffffffff)],
      [f("loadHeader.osDataSize"), big(0, imageLength - load.osDataOffset + 1, 0xffffffff)],
    ])
    .tangle("booter.image-range-overflow", (input, r) => {
      const i = r.below(load.apps.length + 1);
      const prefix = i === load.apps.length ? "loadHeader.os" : `loadHeader.apps[${i}].`;
      const kind = r.pick(["Code", "Data"]);
      const offset = f(
        i === load.apps.length ? `${prefix}${kind}Offset` : `${prefix}${kind.toLowerCase()}Offset`,
      )!;
      const size = f(
        i === load.apps.length ? `${prefix}${kind}Size` : `${prefix}${kind.toLowerCase()}Size`,
      )!;
      return [
        setField(input, offset, r.pick(big(imageLength, imageLength - 1, 0xffffffff, 0x80000000))),
        setField(input, size, r.pick(big(0, 1, 0xffffffff, 0x80000000))),
      ].join(", ");
    })
    .setOneOf("booter.signature-params-too-wide", [
      [
        f("signatureParams.fuseVersion"),
        big(0xffffffff, b.signatureCount, b.signatureCount + 1, 16),
      ],
      [f("signatureParams.engineIdMask"), big(0x10000, 0xffffffff, 0)],
      [f("signatureParams.ucodeId"), big(0x100, 0xffffffff)],
    ])
    .tangle("booter.zero-signature", (input, r) => {
      const i = r.below(b.signatureCount);
      const at = b.signaturesOffset + i * b.signatureSize;
      input.bytes.fill(
        0,
        Math.min(at, input.bytes.length),
        Math.min(at + b.signatureSize, input.bytes.length),
      );
      return `signature ${i} zeroed`;
    });
  return a.done();
}

function riscvAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  const { headerOffset } = binAnatomy(a, bytes);
  let size = 84;
  let ucodeLength = 0;
  try {
    const rv = parseRiscvBootloader(bytes);
    size = rv.descriptorSize;
    ucodeLength = rv.ucode.length;
  } catch {
    return a.done();
  }
  a.words("descriptor", headerOffset, RISCV_UCODE_DESC_FIELDS.slice(0, size / 4))
    .mark(headerOffset + 76, headerOffset + 84);
  const f = (name: string) => a.field(`descriptor.${name}`);
  a.setOneOf("riscv.descriptor-version", [[f("version"), big(0, 3, 4, 5, 6, 0xffffffff)]]);
  a.tangle("riscv.range-at-ucode-end", (input, r) => {
    const offsets = RISCV_UCODE_DESC_FIELDS.filter((n) => n.endsWith("Offset") && f(n));
    const name = r.pick(offsets);
    const sizeName = name.replace(/Offset$/, "Size");
    const sizeField = f(sizeName);
    return [
      setField(input, f(name)!, r.pick(big(ucodeLength, ucodeLength - 1, 0xffffffff, 0x80000000))),
      sizeField ? setField(input, sizeField, r.pick(big(0, 1, 2, 0xffffffff))) : "",
    ].filter(Boolean).join(", ");
  });
  a.setOneOf("riscv.descriptor-at-file-end", [[
    a.field("binHeader.headerOffset"),
    big(bytes.length - 4, bytes.length - 76, bytes.length - 80, bytes.length - 84),
  ]]);
  return a.done();
}

function genAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  const { headerOffset } = binAnatomy(a, bytes);
  let payload = 0;
  try {
    const g = parseGenBootloader(bytes);
    payload = g.binHeader.dataSize;
  } catch {
    return a.done();
  }
  a.words("descriptor", headerOffset, GEN_BOOTLOADER_DESC_FIELDS).mark(
    headerOffset + GEN_BOOTLOADER_DESC_SIZE,
  );
  const f = (name: string) => a.field(`descriptor.${name}`);
  a.setOneOf("gen.range-at-payload-end", [
    [f("codeOffset"), big(payload, payload - 1, 0xffffffff)],
    [f("codeSize"), big(payload + 1, 0xffffffff, 0x80000000)],
    [f("dataOffset"), big(payload, payload - 1, 0xffffffff)],
    [f("dataSize"), big(payload + 1, 0xffffffff, 0x80000000)],
    [
      a.field("binHeader.headerOffset"),
      big(bytes.length - 24, bytes.length - 23, bytes.length - 4),
    ],
  ]);
  return a.done();
}

// The identification and the fields before the entry point sit at the same
// offsets in both classes.
const ELF_HEADER_START: Layout = [
  ["class", 4, 1],
  ["data", 5, 1],
  ["identVersion", 6, 1],
  ["type", 16, 2],
  ["machine", 18, 2],
  ["version", 20, 4],
];
const ELF_HEADER_LAYOUT: Record<32 | 64, Layout> = {
  32: [
    ...ELF_HEADER_START,
    ["shoff", 32, 4],
    ["shentsize", 46, 2],
    ["shnum", 48, 2],
    ["shstrndx", 50, 2],
  ],
  64: [
    ...ELF_HEADER_START,
    ["shoff", 40, 8],
    ["shentsize", 58, 2],
    ["shnum", 60, 2],
    ["shstrndx", 62, 2],
  ],
};

const ELF_SECTION_LAYOUT: Record<32 | 64, Layout> = {
  32: [
    ["name", 0, 4],
    ["type", 4, 4],
    ["flags", 8, 4],
    ["addr", 12, 4],
    ["offset", 16, 4],
    ["size", 20, 4],
  ],
  64: [
    ["name", 0, 4],
    ["type", 4, 4],
    ["flags", 8, 8],
    ["addr", 16, 8],
    ["offset", 24, 8],
    ["size", 32, 8],
  ],
};

function elfAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  let e: ElfFile;
  try {
    e = parseElf(bytes);
  } catch {
    return a.done();
  }
  const cls = e.elfClass;
  const entry = cls === 64 ? 64 : 40;
  const headerSize = cls === 64 ? 64 : 52;
  const n = bytes.length;
  const shoff = e.sectionHeaderOffset;
  const shnum = e.sections.length;
  const tableSize = shnum * entry;
  a.struct("elf", 0, ELF_HEADER_LAYOUT[cls]).mark(16, headerSize, shoff, shoff + tableSize, n)
    .point(0, headerSize, shoff);
  for (const s of e.sections) {
    a.struct(`section[${s.index}]`, s.headerOffset, ELF_SECTION_LAYOUT[cls])
      .mark(s.headerOffset, s.offset, s.offset + s.size).point(s.offset, s.headerOffset);
  }
  const h = (name: string) => a.field(`elf.${name}`)!;
  const sec = (i: number, name: string) => a.field(`section[${i}].${name}`)!;
  const strtab = e.sections[e.stringTableIndex];
  const real = e.sections.filter((s) => s.index > 0);
  if (real.length === 0) return a.done();
  const huge = cls === 64
    ? big(0xffffffff, 2 ** 53 - 1).concat([2n ** 63n, 2n ** 64n - 1n])
    : big(0xffffffff, 0x80000000);
  a.tangle("elf.string-table-is-header-table", (input, r) =>
    [
      setField(input, sec(strtab.index, "offset"), shoff),
      setField(input, sec(strtab.index, "size"), r.pick(big(tableSize, tableSize + 1, entry))),
    ].join(", "))
    .tangle("elf.section-over-headers", (input, r) => {
      const s = r.pick(real);
      return setField(
        input,
        sec(s.index, "offset"),
        r.pick(big(0, shoff, shoff + entry * r.below(shnum))),
      );
    })
    .setOneOf("elf.shstrndx", [[
      h("shstrndx"),
      big(0, 1, shnum - 1, shnum, 0xfeff, 0xff00, 0xffff),
    ]])
    .setOneOf("elf.shnum", [[
      h("shnum"),
      big(
        0,
        1,
        Math.floor((n - shoff) / entry),
        Math.floor((n - shoff) / entry) + 1,
        4096,
        4097,
        0xffff,
      ),
    ]])
    .setOneOf("elf.shoff", [[
      h("shoff"),
      big(0, 1, headerSize - 1, n - tableSize, n - tableSize + 1, n).concat(huge),
    ]])
    .setOneOf("elf.shentsize", [[h("shentsize"), big(0, 1, 39, 40, 41, 63, 64, 65, 0xffff)]])
    .tangle("elf.name-without-terminator", (input, r) => {
      const from = strtab.offset + r.below(strtab.size);
      const to = Math.min(strtab.offset + strtab.size, input.bytes.length);
      if (from < to) input.bytes.fill(0x41, from, to);
      return `string table ${hx(from)}..${hx(to)} filled with 'A'`;
    })
    .tangle("elf.name-index-past-table", (input, r) => {
      const s = r.pick(e.sections);
      return setField(
        input,
        sec(s.index, "name"),
        r.pick(big(strtab.size - 1, strtab.size, strtab.size + 1, 0xffffffff)),
      );
    })
    .setOneOf("elf.string-table-shape", [
      [
        sec(strtab.index, "size"),
        big(0, 1, 1 << 20, (1 << 20) + 1, n - strtab.offset, n - strtab.offset + 1),
      ],
      [sec(strtab.index, "type"), big(0, 1, 3, SHT_NOBITS)],
    ])
    .tangle("elf.section-range-overflow", (input, r) => {
      const s = r.pick(real);
      return [
        setField(input, sec(s.index, "offset"), r.pick(big(n, n - 1).concat(huge))),
        setField(input, sec(s.index, "size"), r.pick(big(1, n).concat(huge))),
      ].join(", ");
    })
    .tangle("elf.section-size-edge", (input, r) => {
      const s = r.pick(real);
      const sizes = big(0, 1, 47, 48, 49, 96, 97, 255, 256, 257, 383, 384, 385, 4096);
      return setField(
        input,
        sec(s.index, "size"),
        r.pick(sizes.concat(big(n - s.offset, n - s.offset + 1))),
      );
    })
    .tangle("elf.duplicate-name", (input, r) => {
      const from = r.pick(real);
      const to = r.pick(real);
      const name = readUint(input.bytes, sec(from.index, "name").offset, 4) ?? 0n;
      return `section ${to.index} takes the name of ${from.index}: ` +
        setField(input, sec(to.index, "name"), name);
    })
    .tangle("elf.rename-section", (input, r) => {
      const s = r.pick(real);
      const nameIndex = Number(readUint(bytes, sec(s.index, "name").offset, 4) ?? 0n);
      const at = strtab.offset + nameIndex + r.below(Math.max(1, s.name.length));
      if (at < input.bytes.length) input.bytes[at] ^= 0x20;
      return `section ${s.index} (${s.name}) renamed at ${hx(at)}`;
    })
    .tangle("elf.section-type", (input, r) => {
      const s = r.pick(real);
      return setField(input, sec(s.index, "type"), r.pick(big(0, 1, 3, 7, SHT_NOBITS, 0xffffffff)));
    })
    .setOneOf("elf.class-swap", [[h("class"), big(0, 1, 2, 3)]]);
  return a.done();
}

function tlvAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  let tlv: Tlv;
  try {
    tlv = parseTlv(bytes);
  } catch {
    return a.done();
  }
  const n = bytes.length;
  a.struct("tlv", 0, [["magic", 0, 4]]).mark(4, n).point(4);
  tlv.blocks.forEach((block, i) => {
    const at = block.offset;
    a.struct(`block[${i}](${block.tag})`, at, [["tag", 0, 4], ["length", 4, 4]])
      .mark(
        at,
        at + 4,
        at + 8,
        at + 8 + block.value.length,
        at + 8 + Math.ceil(block.value.length / 4) * 4,
      )
      .point(at, at + 8);
  });
  if (tlv.blocks.length === 0) return a.done();
  const lengthOf = (i: number) => a.field(`block[${i}](${tlv.blocks[i].tag}).length`)!;
  const tagOf = (i: number) => a.field(`block[${i}](${tlv.blocks[i].tag}).tag`)!;
  const ascii = (text: string) =>
    BigInt(text.charCodeAt(0) | text.charCodeAt(1) << 8 | text.charCodeAt(2) << 16) +
    (BigInt(text.charCodeAt(3)) << 24n);
  const blockIndex = (r: FuzzRandom) => r.below(tlv.blocks.length);
  a.tangle("tlv.length-past-end", (input, r) => {
    const i = blockIndex(r);
    const valueAt = tlv.blocks[i].offset + 8;
    return setField(input, lengthOf(i), input.bytes.length - valueAt + 1 + r.below(8));
  })
    .tangle("tlv.length-huge", (input, r) =>
      setField(
        input,
        lengthOf(blockIndex(r)),
        r.pick(big(0xffffffff, 0xfffffffd, 0xfffffffc, 0x80000000, 0x7fffffff)),
      ))
    .tangle("tlv.length-unaligned", (input, r) => {
      const i = blockIndex(r);
      const delta = r.pick([-3, -2, -1, 1, 2, 3]);
      return setField(input, lengthOf(i), Math.max(0, tlv.blocks[i].value.length + delta));
    })
    .tangle("tlv.rename-tag", (input, r) => {
      const i = blockIndex(r);
      const other = tlv.blocks[blockIndex(r)].tag.padEnd(4, " ");
      return setField(input, tagOf(i), ascii(r.pick(["VERX", other, "\0\0\0\0", "    ", "VERS"])));
    })
    .tangle("tlv.non-ascii-tag", (input, r) => {
      const i = blockIndex(r);
      const at = tlv.blocks[i].offset + r.below(4);
      if (at < input.bytes.length) input.bytes[at] |= 0x80;
      return `tag byte ${hx(at)} |= 0x80`;
    })
    .tangle("tlv.value-not-printable", (input, r) => {
      const block = r.pick(tlv.blocks);
      if (block.value.length === 0) return `${block.tag} has no value`;
      const at = block.offset + 8 + r.below(block.value.length);
      return `${block.tag} ${writeUint(input.bytes, at, 1, r.pick([0, 0x1f, 0x7f, 0x80, 0xff]))}`;
    })
    .tangle("tlv.u32-width", (input, r) => {
      const words = tlv.blocks.map((b, i) => [b, i] as const).filter(([b]) => b.value.length === 4);
      if (words.length === 0) return "no 4-byte block";
      return setField(input, lengthOf(r.pick(words)[1]), r.pick(big(0, 3, 5, 8)));
    });
  const nsig = tlv.blocks.findIndex((b) => b.tag === "NSIG" && b.value.length === 4);
  const sign = tlv.blocks.find((b) => b.tag === "SIGN");
  if (nsig >= 0 && sign) {
    const valueField: FieldSpot = {
      name: "NSIG.value",
      offset: tlv.blocks[nsig].offset + 8,
      width: 4,
    };
    const len = sign.value.length;
    a.setOneOf("tlv.signature-count", [[valueField, big(0, 1, 2, 3, 7, len, len + 1, 0xffffffff)]]);
  }
  return a.done();
}

const ROM_HEADER_LAYOUT: Layout = [["signature", 0, 2], ["pciDataStructPtr", 0x18, 2]];
const PCIR_LAYOUT: Layout = [
  ["signature", 0, 4],
  ["vendorId", 4, 2],
  ["deviceId", 6, 2],
  ["pciDataStructLen", 0x0a, 2],
  ["imageLen", 0x10, 2],
  ["codeType", 0x14, 1],
  ["lastImage", 0x15, 1],
];
const NPDE_LAYOUT: Layout = [
  ["signature", 0, 4],
  ["nvPciDataExtRev", 4, 2],
  ["nvPciDataExtLen", 6, 2],
  ["subimageLen", 8, 2],
  ["privLastImage", 0x0a, 1],
];
const BIT_LAYOUT: Layout = [
  ["bcdVersion", 6, 2],
  ["headerSize", 8, 1],
  ["tokenSize", 9, 1],
  ["tokenEntries", 10, 1],
  ["checksum", 11, 1],
];
const BIT_TOKEN_LAYOUT: Layout = [
  ["id", 0, 1],
  ["dataVersion", 1, 1],
  ["dataSize", 2, 2],
  ["dataOffset", 4, 2],
];
const PMU_TABLE_LAYOUT: Layout = [
  ["version", 0, 1],
  ["headerSize", 1, 1],
  ["entrySize", 2, 1],
  ["entryCount", 3, 1],
];
const PMU_ENTRY_LAYOUT: Layout = [["applicationId", 0, 1], ["targetId", 1, 1], ["descPtr", 2, 4]];
const DESC_V2_NAMES = [
  "hdr",
  "storedSize",
  "uncompressedSize",
  "virtualEntry",
  "interfaceOffset",
  "imemPhysBase",
  "imemLoadSize",
  "imemVirtBase",
  "imemSecBase",
  "imemSecSize",
  "dmemOffset",
  "dmemPhysBase",
  "dmemLoadSize",
  "altImemLoadSize",
  "altDmemLoadSize",
];
const DESC_V3_LAYOUT: Layout = [
  ["hdr", 0, 4],
  ["storedSize", 4, 4],
  ["pkcDataOffset", 8, 4],
  ["interfaceOffset", 12, 4],
  ["imemPhysBase", 16, 4],
  ["imemLoadSize", 20, 4],
  ["imemVirtBase", 24, 4],
  ["dmemPhysBase", 28, 4],
  ["dmemLoadSize", 32, 4],
  ["engineIdMask", 36, 2],
  ["ucodeId", 38, 1],
  ["signatureCount", 39, 1],
  ["signatureVersions", 40, 2],
];
const APP_INTERFACE_LAYOUT: Layout = PMU_TABLE_LAYOUT;
const APP_ENTRY_LAYOUT: Layout = [["id", 0, 4], ["dmemBase", 4, 4]];
const DMEM_MAPPER_NAMES = [
  "cmdInBufferOffset",
  "cmdInBufferSize",
  "cmdOutBufferOffset",
  "cmdOutBufferSize",
  "nvfImgDataBufferOffset",
  "nvfImgDataBufferSize",
  "printfBufferHdr",
  "ucodeBuildTimeStamp",
  "ucodeSignature",
  "initCmd",
];

function vbiosAnatomy(bytes: Uint8Array): SeedAnatomy {
  const a = new AnatomyBuilder();
  let v: VbiosInfo;
  try {
    v = parseVbios(bufferSource(bytes));
  } catch {
    return a.done();
  }
  const n = bytes.length;
  if (v.ifr) {
    a.words("ifr", 0, ["fixed0", "fixed1", "fixed2"]).mark(12, v.romOffset).point(0, v.romOffset);
    if (v.ifr.version === 3) {
      a.struct("ifr", 0, [["flashStatusOffset", v.ifr.totalDataSize, 4]]);
      const dir = v.ifr.romDirectoryOffset ?? 0;
      a.struct("ifr.romDirectory", dir, [["signature", 0, 4], ["romOffset", 8, 4]]).point(dir);
    } else {
      a.struct("ifr", 0, [["romOffset", v.ifr.fixedDataSize + 4, 4]]);
    }
    const flashStatus = v.ifr.flashStatusOffset ?? 0;
    a.setOneOf("vbios.ifr-points-back", [
      [
        a.field("ifr.romOffset"),
        big(0, 4, 12, v.romOffset + 1, v.romOffset - 512, n, n - 2, 0xffffffff),
      ],
      [a.field("ifr.romDirectory.romOffset"), big(0, flashStatus, v.romOffset + 2, n, 0xffffffff)],
      [a.field("ifr.flashStatusOffset"), big(0, flashStatus - 4096, n - 4096 - 8, n, 0xffffffff)],
      [a.field("ifr.fixed1"), big(0x0100, 0x0200, 0x0300, 0x0400, 0x7fff0200, 0xffffffff)],
      [a.field("ifr.fixed2"), big(0, 0xfffff, n - 4, n)],
    ]);
  }
  v.images.forEach((image, i) => {
    const p = `images[${i}]`;
    const pcirAt = image.offset + image.pciDataStructPtr;
    a.struct(p, image.offset, ROM_HEADER_LAYOUT).struct(`${p}.pcir`, pcirAt, PCIR_LAYOUT)
      .mark(image.offset, image.offset + image.size, pcirAt).point(image.offset);
    if (image.npde) {
      const npdeAt = image.offset +
        Math.ceil((image.pciDataStructPtr + image.pcir.pciDataStructLen) / 16) * 16;
      a.struct(`${p}.npde`, npdeAt, NPDE_LAYOUT).mark(npdeAt);
    }
  });
  const imageField = (i: number, name: string) => a.field(`images[${i}].${name}`);
  const images = v.images.map((_, i) => i);
  a.tangle("vbios.zero-image-length", (input, r) => {
    const i = r.pick(images);
    const field = imageField(i, "npde.subimageLen") && r.chance(0.5)
      ? imageField(i, "npde.subimageLen")!
      : imageField(i, "pcir.imageLen")!;
    return setField(input, field, 0);
  })
    .tangle("vbios.never-last", (input) => {
      const done: string[] = [];
      for (const i of images) {
        for (const name of ["pcir.lastImage", "npde.privLastImage"]) {
          const field = imageField(i, name);
          if (field) done.push(setField(input, field, 0));
        }
        const code = imageField(i, "pcir.codeType")!;
        if (readUint(input.bytes, code.offset, 1) === 0x70n) done.push(setField(input, code, 0xff));
      }
      return done.join(", ");
    })
    .tangle("vbios.tiny-images", (input) => {
      const done: string[] = [];
      for (const i of images) {
        for (
          const [name, value] of [["pcir.imageLen", 1], ["npde.subimageLen", 1], [
            "pcir.lastImage",
            0,
          ]] as const
        ) {
          const field = imageField(i, name);
          if (field) done.push(setField(input, field, value));
        }
      }
      return done.join(", ");
    })
    .tangle("vbios.image-chain-repeats", (input, r) => {
      // The chain cannot point backwards, so the nearest thing to a loop is the
      // same small image over and over: the walk must stop at its image limit.
      const first = v.images[0];
      const block = input.bytes.slice(first.offset, first.offset + 512);
      const ptr = first.pciDataStructPtr;
      if (block.length < 512 || ptr + 0x18 > 512) return "skipped (PCIR beyond the first block)";
      writeUint(block, ptr + 0x10, 2, 1);
      writeUint(block, ptr + 0x14, 1, 0xff);
      writeUint(block, ptr + 0x15, 1, 0);
      const npdeAt = Math.ceil((ptr + first.pcir.pciDataStructLen) / 16) * 16;
      if (npdeAt + 12 <= 512) writeUint(block, npdeAt, 4, 0);
      const copies = r.pick([33, 40, 64, 2048]);
      let k = 0;
      for (; k < copies && first.offset + (k + 1) * 512 <= input.bytes.length; k++) {
        input.bytes.set(block, first.offset + k * 512);
      }
      return `${k} copies of a 512-byte image from ${hx(first.offset)}`;
    })
    .tangle("vbios.pcir-pointer", (input, r) => {
      const i = r.pick(images);
      const size = v.images[i].size;
      return setField(
        input,
        imageField(i, "pciDataStructPtr")!,
        r.pick(big(0, 0x1a, 0xffff, size - 0x18, size - 0x17, size - 1)),
      );
    });

  const bit = v.bit;
  const pcAt = v.pcAtImage;
  a.tangle("vbios.bit-decoys", (input, r) => {
    // Every BIT signature is a candidate whose header checksum gets summed: a
    // PC-AT image grown to the whole ROM and packed with decoys (the real BIT
    // overwritten) is the BIT search's worst case.
    const limit = Math.min(input.bytes.length, pcAt.offset + 0x100000);
    const blocks = Math.min(0xffff, Math.floor((limit - pcAt.offset) / 512));
    const grown = [
      setField(input, imageField(pcAt.index, "pcir.imageLen")!, blocks),
      setField(input, imageField(pcAt.index, "pcir.lastImage")!, 0x80),
    ];
    const npdeLength = imageField(pcAt.index, "npde.subimageLen");
    const npdeLast = imageField(pcAt.index, "npde.privLastImage");
    if (npdeLength && npdeLast) {
      grown.push(setField(input, npdeLength, blocks), setField(input, npdeLast, 0x80));
    }
    const spacing = r.pick([6, 6, 64, 4096]);
    const end = Math.min(input.bytes.length, pcAt.offset + blocks * 512) - 12;
    let count = 0;
    for (let at = bit.offset; at <= end; at += spacing, count++) {
      input.bytes.set([0xff, 0xb8, 0x42, 0x49, 0x54, 0x00, 0x00, 0x01, 0x0c, 0x06], at);
    }
    return `${grown.join(", ")}, ${count} BIT decoys every ${spacing} bytes from ${hx(bit.offset)}`;
  });
  a.struct("bit", bit.offset, BIT_LAYOUT).mark(bit.offset, bit.offset + bit.headerSize).point(
    bit.offset,
  );
  bit.tokens.forEach((_, i) =>
    a.struct(`bit.tokens[${i}]`, bit.offset + bit.headerSize + i * bit.tokenSize, BIT_TOKEN_LAYOUT)
  );
  const fixBitChecksum = (bytes: Uint8Array): void => {
    const size = bytes[bit.offset + 8];
    if (size === undefined || size < 12 || bit.offset + size > bytes.length) return;
    let sum = 0;
    for (let i = 0; i < size; i++) if (i !== 11) sum += bytes[bit.offset + i];
    bytes[bit.offset + 11] = (256 - (sum & 0xff)) & 0xff;
  };
  a.tangle("vbios.bit-header", (input, r) => {
    const [name, values] = r.pick(
      [
        ["tokenEntries", big(0, 255, bit.tokenEntries + 1)],
        ["tokenSize", big(0, 5, 6, 255)],
        ["headerSize", big(0, 11, 12, 255)],
      ] as const,
    );
    const text = setField(input, a.field(`bit.${name}`)!, r.pick(values));
    fixBitChecksum(input.bytes);
    return `${text} (checksum fixed)`;
  });
  if (bit.tokens.length > 0) {
    a.tangle("vbios.bit-token-pointer", (input, r) => {
      const i = r.below(bit.tokens.length);
      const relBit = bit.offset - pcAt.offset;
      return r.chance(0.7)
        ? setField(
          input,
          a.field(`bit.tokens[${i}].dataOffset`)!,
          r.pick(big(0, relBit, pcAt.size - 1, pcAt.size - 4, pcAt.size, 0xffff)),
        )
        : setField(input, a.field(`bit.tokens[${i}].dataSize`)!, r.pick(big(0, 3, 4, 0xffff)));
    });
  }
  const falconToken = bit.tokens.find((t) => t.id === 0x70 && t.dataVersion === 2);
  const section = v.fwsecSection;
  if (falconToken && section) {
    const falconAt = pcAt.offset + falconToken.dataOffset;
    a.struct("bit.falconData", falconAt, [["falconUcodeTablePtr", 0, 4]]).point(falconAt);
    const toPointer = (absolute: number) => section.pcAtSize + absolute - section.offset;
    const sectionEnd = toPointer(section.offset + section.size);
    const pmu = v.pmuTable;
    a.setOneOf("vbios.falcon-pointer", [[
      a.field("bit.falconData.falconUcodeTablePtr"),
      big(
        0,
        section.pcAtSize - 1,
        section.pcAtSize,
        sectionEnd - 6,
        sectionEnd - 5,
        sectionEnd,
        toPointer(bit.offset),
        pmu ? toPointer(pmu.offset) + 1 : 0,
        0xffffffff,
      ),
    ]]);
    if (pmu) {
      a.struct("pmuTable", pmu.offset, PMU_TABLE_LAYOUT).mark(pmu.offset).point(pmu.offset);
      pmu.entries.forEach((_, i) =>
        a.struct(
          `pmuTable.entries[${i}]`,
          pmu.offset + pmu.headerSize + i * pmu.entrySize,
          PMU_ENTRY_LAYOUT,
        )
      );
      const entryChoices = pmu.entries.map((_, i) =>
        [
          a.field(`pmuTable.entries[${i}].descPtr`),
          big(
            toPointer(pmu.offset),
            0,
            section.pcAtSize - 1,
            sectionEnd - 4,
            sectionEnd,
            0xffffffff,
          ),
        ] as const
      );
      a.setOneOf("vbios.pmu-table", [
        [a.field("pmuTable.entryCount"), big(0, 255, pmu.entryCount + 1)],
        [a.field("pmuTable.entrySize"), big(0, 5, 6, 255)],
        [a.field("pmuTable.headerSize"), big(0, 5, 6, 255)],
        [a.field("pmuTable.version"), big(0, 2, 255)],
        ...entryChoices,
      ]);
      a.tangle(
        "vbios.no-fwsec-entry",
        (input) =>
          pmu.entries.map((_, i) =>
            setField(input, a.field(`pmuTable.entries[${i}].applicationId`)!, 0)
          )
            .join(", "),
      );
    }
  }
  if (v.fwsec) fwsecAnatomy(a, v.fwsec);
  return a.done();
}

function fwsecAnatomy(a: AnatomyBuilder, fw: FwsecFirmware): void {
  const d = fw.descriptor;
  const at = fw.descriptorOffset;
  if (d.descriptorVersion === 3) a.struct("descriptor", at, DESC_V3_LAYOUT);
  else a.words("descriptor", at, DESC_V2_NAMES);
  a.mark(at, at + d.headerSize, fw.ucodeOffset + fw.ucode.length).point(at, fw.ucodeOffset);
  const dmemStart = fw.loadMap.dmem.srcStart;
  const dmemLength = fw.loadMap.dmem.length;
  const dmemAt = fw.ucodeOffset + dmemStart;
  const ifaceAt = dmemAt + fw.interface.dmemOffset;
  a.struct("appInterface", ifaceAt, APP_INTERFACE_LAYOUT).mark(dmemAt, ifaceAt);
  fw.interface.entries.forEach((_, i) =>
    a.struct(
      `appInterface.entries[${i}]`,
      ifaceAt + fw.interface.headerSize + i * fw.interface.entrySize,
      APP_ENTRY_LAYOUT,
    )
  );
  const f = (name: string) => a.field(name);
  const hdr = (version: number, headerSize: number) =>
    BigInt(((headerSize << 16) | (version << 8) | 1) >>> 0);
  a.setOneOf("fwsec.descriptor", [
    [f("descriptor.hdr"), [0, 4, 43, 44, 59, 60, 0xffff].map((s) => hdr(d.descriptorVersion, s))],
    [f("descriptor.hdr"), [1, 2, 3, 4, 0xff].map((ver) => hdr(ver, d.headerSize))],
    [f("descriptor.imemLoadSize"), big(0, 0xffffffff, 0x80000000, d.imemLoadSize + dmemLength + 1)],
    [f("descriptor.dmemLoadSize"), big(0, 0xffffffff, 0x80000000, dmemLength + 0x10000)],
    [f("descriptor.interfaceOffset"), big(dmemLength - 4, dmemLength - 3, dmemLength, 0xffffffff)],
    [f("descriptor.signatureCount"), big(0, 1, 255)],
    [f("descriptor.signatureVersions"), big(0, 0xffff, 0x8000)],
    [
      f("descriptor.pkcDataOffset"),
      big(dmemLength - 384, dmemLength - 383, dmemLength, 0xffffffff),
    ],
    [f("descriptor.imemSecBase"), big(0, 0xffffffff)],
    [f("descriptor.imemSecSize"), big(d.imemLoadSize + 1, 0xffffffff)],
    [f("descriptor.imemVirtBase"), big(0xffffffff, 0x100)],
    [f("descriptor.dmemOffset"), big(0, 0xffffffff, d.imemLoadSize + dmemLength)],
  ]);
  const entryChoices = fw.interface.entries.map((_, i) =>
    [
      f(`appInterface.entries[${i}].dmemBase`),
      big(dmemLength - 64, dmemLength - 63, dmemLength, fw.interface.dmemOffset, 0xffffffff),
    ] as const
  );
  a.setOneOf("fwsec.app-interface", [
    [f("appInterface.entryCount"), big(0, 255, fw.interface.entryCount + 1)],
    [f("appInterface.entrySize"), big(0, 7, 8, 255)],
    [f("appInterface.headerSize"), big(0, 3, 255)],
    [f("appInterface.version"), big(0, 2, 255)],
    ...entryChoices,
  ]);
  const mapper = fw.dmemMapper;
  if (!mapper) return;
  const mapperAt = fw.ucodeOffset + mapper.ucodeOffset;
  a.struct("dmemMapper", mapperAt, [["signature", 0, 4], ["version", 4, 2], ["size", 6, 2]])
    .words("dmemMapper", mapperAt + 8, DMEM_MAPPER_NAMES).mark(mapperAt, mapperAt + 64);
  a.setOneOf("fwsec.dmem-mapper", [
    [
      f("dmemMapper.cmdInBufferOffset"),
      big(dmemLength - 24, dmemLength - 44, dmemLength - 43, dmemLength, 0xffffffff),
    ],
    [f("dmemMapper.cmdInBufferSize"), big(0, 23, 24, 43, 44, 0xffffffff)],
  ]);
}

const ANATOMIES: Readonly<Record<SeedFormat, (bytes: Uint8Array) => SeedAnatomy>> = {
  "booter": booterAnatomy,
  "riscv-bootloader": riscvAnatomy,
  "gen-bootloader": genAnatomy,
  "elf": elfAnatomy,
  "tlv": tlvAnatomy,
  "vbios": vbiosAnatomy,
};

// ---------------------------------------------------------------------------
// Mutators

// Boundary values for offsets and sizes: small, sign bits, u16/u32/u64 edges, 2^53.
const INTERESTING: readonly bigint[] = (
  "0 1 2 3 4 7 8 0xf 0x10 0x18 0x20 0x3f 0x40 0x7f 0x80 0xff 0x100 0x200 0x1000 0x7fff " +
  "0x8000 0xffff 0x10000 0x7fffffff 0x80000000 0xfffffffe 0xffffffff 0x100000000 " +
  "0x1fffffffffffff 0x20000000000000 0x7fffffffffffffff 0x8000000000000000 0xffffffffffffffff"
).split(" ").map(BigInt);

/** A value worth writing: a boundary constant, one tied to the input size, or a structure start. */
function interestingValue(r: FuzzRandom, n: number, anatomy: SeedAnatomy, self: number): bigint {
  const choice = r.below(10);
  if (choice < 4) return r.pick(INTERESTING);
  if (choice < 7) {
    const near = r.pick([n, n >> 1, n * 2, self]);
    return BigInt(Math.max(0, near + r.pick([-8, -4, -2, -1, 0, 0, 1, 2, 4, 8])));
  }
  if (choice < 9 && anatomy.pointers.length > 0) {
    return BigInt(Math.max(0, r.pick(anatomy.pointers) + r.pick([0, 0, 0, -1, 1, -4, 4])));
  }
  return BigInt(r.u32());
}

/** An offset, half the time within the first KiB, where headers live. */
function position(r: FuzzRandom, n: number, width: number, align = 1): number {
  if (n < width) return -1;
  const limit = r.chance(0.5) ? Math.min(n, 1024) : n;
  const at = r.below(limit - width + 1);
  return at - (at % align);
}

const MAX_INPUT = 4 << 20;

function garbage(r: FuzzRandom, length: number, like: Uint8Array): Uint8Array {
  const out = new Uint8Array(length);
  switch (r.below(4)) {
    case 0:
      for (let i = 0; i < length; i++) out[i] = r.u32() & 0xff;
      return out;
    case 1:
      return out;
    case 2:
      return out.fill(0xff);
    default:
      for (let i = 0; i < length; i++) out[i] = like.length ? like[i % like.length] : 0;
      return out;
  }
}

interface Mutator {
  name: string;
  weight: number;
  structural: boolean;
  apply(input: MutableInput, seed: FuzzSeed, r: FuzzRandom): string;
}

const EMPTY = "skipped (empty input)";
const AT_SIZE_LIMIT = "skipped (input at the size limit)";

/** Cut the input to its first `length` bytes. */
function truncate(input: MutableInput, length: number): string {
  const n = input.bytes.length;
  input.bytes = input.bytes.subarray(0, length);
  return `to ${hx(length)} of ${hx(n)}`;
}

/** Replace `deleted` bytes at `at` with `inserted`, in a new buffer. */
function splice(
  input: MutableInput,
  at: number,
  deleted: number,
  inserted: Uint8Array = new Uint8Array(0),
): void {
  const old = input.bytes;
  const out = new Uint8Array(old.length - deleted + inserted.length);
  out.set(old.subarray(0, at));
  out.set(inserted, at);
  out.set(old.subarray(at + deleted), at + inserted.length);
  input.bytes = out;
}

const MUTATORS: readonly Mutator[] = [
  {
    name: "flip-bit",
    weight: 10,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n === 0) return EMPTY;
      const count = r.chance(0.7) ? 1 : 2 + r.below(7);
      const flipped: string[] = [];
      for (let i = 0; i < count; i++) {
        const at = position(r, n, 1);
        const bit = r.below(8);
        input.bytes[at] ^= 1 << bit;
        flipped.push(`${hx(at)}.${bit}`);
      }
      return flipped.join(" ");
    },
  },
  {
    name: "set-byte",
    weight: 6,
    structural: false,
    apply(input, _seed, r) {
      const at = position(r, input.bytes.length, 1);
      if (at < 0) return EMPTY;
      const value = r.chance(0.5) ? r.pick([0, 1, 0x7f, 0x80, 0xfe, 0xff]) : r.below(256);
      return writeUint(input.bytes, at, 1, value);
    },
  },
  {
    name: "flip-bytes",
    weight: 4,
    structural: false,
    apply(input, _seed, r) {
      const count = 1 + r.below(4);
      const at = position(r, input.bytes.length, count);
      if (at < 0) return EMPTY;
      const mask = 1 + r.below(255);
      for (let i = 0; i < count; i++) input.bytes[at + i] ^= mask;
      return `${count} bytes at ${hx(at)} ^= ${hx(mask)}`;
    },
  },
  {
    name: "set-int",
    weight: 12,
    structural: false,
    apply(input, seed, r) {
      const width = r.pick([2, 4, 4, 8] as const);
      const at = position(r, input.bytes.length, width, width);
      if (at < 0) return EMPTY;
      return writeUint(
        input.bytes,
        at,
        width,
        interestingValue(r, input.bytes.length, seed.anatomy, at),
      );
    },
  },
  {
    name: "add-int",
    weight: 5,
    structural: false,
    apply(input, _seed, r) {
      const width = r.pick([1, 2, 4, 8] as const);
      const at = position(r, input.bytes.length, width, width);
      if (at < 0) return EMPTY;
      const delta = BigInt(r.pick([-16, -8, -4, -2, -1, 1, 2, 4, 8, 16, 0x100, -0x100, 0x1000]));
      return writeUint(input.bytes, at, width, (readUint(input.bytes, at, width) ?? 0n) + delta) +
        ` (${delta >= 0n ? "+" : ""}${delta})`;
    },
  },
  {
    name: "truncate",
    weight: 4,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n === 0) return EMPTY;
      return truncate(input, r.chance(0.3) ? r.below(Math.min(n, 64)) : r.below(n));
    },
  },
  {
    name: "truncate-at-boundary",
    weight: 5,
    structural: false,
    apply(input, seed, r) {
      const n = input.bytes.length;
      const marks = [0, 1, 2, 4, 8, 16, 24, 64, ...seed.anatomy.boundaries];
      return truncate(
        input,
        Math.max(0, Math.min(n, r.pick(marks) + r.pick([-4, -2, -1, 0, 0, 0, 1, 2, 4]))),
      );
    },
  },
  {
    name: "extend",
    weight: 4,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      const count = Math.min(MAX_INPUT - n, r.pick([1, 2, 3, 4, 7, 8, 16, 64, 256, 4096, n + 1]));
      if (count <= 0) return AT_SIZE_LIMIT;
      splice(input, n, 0, garbage(r, count, input.bytes));
      return `by ${hx(count)} bytes`;
    },
  },
  {
    name: "copy-block",
    weight: 5,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n < 2) return EMPTY;
      const length = 1 + r.below(Math.min(n - 1, r.pick([4, 8, 64, 512, n])));
      const from = position(r, n, length);
      const to = position(r, n, length);
      input.bytes.copyWithin(to, from, from + length);
      return `${hx(length)} bytes ${hx(from)} -> ${hx(to)}`;
    },
  },
  {
    name: "insert-bytes",
    weight: 2,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      const count = Math.min(MAX_INPUT - n, r.pick([1, 2, 4, 8, 16, 512]));
      if (count <= 0) return AT_SIZE_LIMIT;
      const at = position(r, n + 1, 1);
      splice(input, at, 0, garbage(r, count, input.bytes));
      return `${hx(count)} bytes at ${hx(at)}`;
    },
  },
  {
    name: "delete-bytes",
    weight: 2,
    structural: false,
    apply(input, _seed, r) {
      const n = input.bytes.length;
      if (n === 0) return EMPTY;
      const count = Math.min(n, r.pick([1, 2, 4, 8, 16, 512]));
      const at = position(r, n, count);
      splice(input, at, count);
      return `${hx(count)} bytes at ${hx(at)}`;
    },
  },
  {
    name: "offset-view",
    weight: 2,
    structural: false,
    apply(input, _seed, r) {
      // Same bytes, seen through a view that does not start at its buffer's
      // start: catches a DataView built on `bytes.buffer` without `byteOffset`.
      const shift = 1 + r.below(15);
      const host = new Uint8Array(input.bytes.length + shift + r.below(16)).fill(0xa5);
      host.set(input.bytes, shift);
      input.bytes = host.subarray(shift, shift + input.bytes.length);
      return `byteOffset ${shift}`;
    },
  },
  {
    name: "set-field",
    weight: 16,
    structural: true,
    apply(input, seed, r) {
      const field = r.pick(seed.anatomy.fields);
      return setField(
        input,
        field,
        interestingValue(r, input.bytes.length, seed.anatomy, field.offset),
      );
    },
  },
  {
    name: "nudge-field",
    weight: 7,
    structural: true,
    apply(input, seed, r) {
      const field = r.pick(seed.anatomy.fields);
      const value = readUint(input.bytes, field.offset, field.width) ?? 0n;
      const next = r.chance(0.3)
        ? value ^ (1n << BigInt(field.width * 8 - 1))
        : value + BigInt(r.pick([-16, -8, -4, -2, -1, 1, 2, 4, 8, 16]));
      return setField(input, field, next);
    },
  },
  {
    name: "tangle",
    weight: 14,
    structural: true,
    apply(input, seed, r) {
      const tangle = r.pick(seed.anatomy.tangles);
      return `${tangle.name}: ${tangle.apply(input, r)}`;
    },
  },
];

/**
 * Names of every mutator, in the form mutation steps start with
 * (`set-int u32@0x18=0xffffffff`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MUTATOR_NAMES } from "./_fuzz.ts";
 * assert(MUTATOR_NAMES.includes("tangle") && MUTATOR_NAMES.includes("truncate"));
 * ```
 */
export const MUTATOR_NAMES: readonly string[] = MUTATORS.map((m) => m.name);

/** A mutated input and how it was made. */
export interface Mutation {
  /** The mutated bytes (a copy; the seed is untouched). */
  bytes: Uint8Array;
  /** One line per mutation step, starting with the mutator's name. */
  steps: string[];
}

/**
 * Mutate a copy of a seed with 1 to 6 stacked mutations drawn from `rng`.
 * Structure-aware mutators (`set-field`, `nudge-field`, `tangle`) take part
 * when the seed's anatomy has fields or tangles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FuzzRandom, mutate, seedFromBytes } from "./_fuzz.ts";
 * import { forgeTlv } from "../firmware/forge/mod.ts";
 * const seed = seedFromBytes("tlv", "tiny", forgeTlv([["VERS", "1"]]));
 * const a = mutate(seed, new FuzzRandom(3)), b = mutate(seed, new FuzzRandom(3));
 * assert(a.steps.join() === b.steps.join());
 * ```
 */
export function mutate(seed: FuzzSeed, rng: FuzzRandom): Mutation {
  const input: MutableInput = { bytes: seed.bytes.slice() };
  const usable = MUTATORS.filter((m) =>
    !m.structural ||
    (m.name === "tangle" ? seed.anatomy.tangles.length > 0 : seed.anatomy.fields.length > 0)
  );
  const total = usable.reduce((sum, m) => sum + m.weight, 0);
  const count = rng.chance(0.55) ? 1 : rng.chance(0.6) ? 2 : 3 + rng.below(4);
  const steps: string[] = [];
  for (let i = 0; i < count; i++) {
    let ticket = rng.below(total);
    const mutator = usable.find((m) => (ticket -= m.weight) < 0) ?? usable[0];
    steps.push(`${mutator.name} ${mutator.apply(input, seed, rng)}`);
  }
  return { bytes: input.bytes, steps };
}

// ---------------------------------------------------------------------------
// Seeds: real files where present, forged files of every format

interface SeedSpec {
  name: string;
  fileName: string;
  format: SeedFormat;
  /** Real file: a path relative to a firmware root, or an absolute path. */
  real?: string;
  forge?: () => Uint8Array;
}

const realFile = (format: SeedFormat, rel: string): SeedSpec => ({
  name: rel.replace(/^nvidia\//, "").replace("/gsp/", "/"),
  fileName: rel.split("/").pop()!,
  format,
  real: rel,
});

const forged = (format: SeedFormat, name: string, fileName: string, forge: () => Uint8Array) => ({
  name: `forged ${name}`,
  fileName,
  format,
  forge,
});

function randomBytes(length: number, seed: number): Uint8Array {
  const r = new FuzzRandom(seed);
  return Uint8Array.from({ length }, () => r.u32() & 0xff);
}

const BOOTER_SEEDS: readonly SeedSpec[] = [
  realFile("booter", "nvidia/tu102/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/tu102/gsp/booter_unload-570.144.bin"),
  realFile("booter", "nvidia/ga100/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/ga102/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/ga102/gsp/booter_unload-535.113.01.bin"),
  realFile("booter", "nvidia/ad102/gsp/booter_load-570.144.bin"),
  realFile("booter", "nvidia/ad102/gsp/scrubber-570.144.bin"),
  forged(
    "booter",
    "booter (tu102-like)",
    "booter_load-570.144.bin",
    () => forgeBooter({ appCodeSizes: [0x400], osDataSize: 0x200 }),
  ),
  forged(
    "booter",
    "booter (ga102-like, zero second signature)",
    "booter_load-570.144.bin",
    () =>
      forgeBooter({
        signatureSize: 384,
        signatureCount: 2,
        fuseVersion: 1,
        ucodeId: 3,
        zeroSignatureIndex: 1,
        appCodeSizes: [0x400],
        osDataSize: 0x400,
      }),
  ),
  forged("booter", "booter (ad102-like)", "booter_unload-570.144.bin", () =>
    forgeBooter({
      signatureSize: 384,
      signatureCount: 2,
      fuseVersion: 1,
      ucodeId: 3,
      appCodeSizes: [0x300],
      osDataSize: 0x400,
    })),
  forged(
    "booter",
    "booter (three apps)",
    "scrubber-570.144.bin",
    () => forgeBooter({ appCodeSizes: [0x100, 0x200, 0x80], osDataSize: 0x100 }),
  ),
];

const RISCV_SEEDS: readonly SeedSpec[] = [
  realFile("riscv-bootloader", "nvidia/tu102/gsp/bootloader-570.144.bin"),
  realFile("riscv-bootloader", "nvidia/ga102/gsp/bootloader-570.144.bin"),
  realFile("riscv-bootloader", "nvidia/gh100/gsp/bootloader-570.144.bin"),
  forged(
    "riscv-bootloader",
    "bootloader (v4)",
    "bootloader-570.144.bin",
    () => forgeRiscvBootloader({ version: 4 }),
  ),
  forged(
    "riscv-bootloader",
    "bootloader (v5)",
    "bootloader-570.144.bin",
    () => forgeRiscvBootloader({ version: 5, manifestSize: 0x100, monitorDataSize: 0x100 }),
  ),
  forged(
    "riscv-bootloader",
    "bootloader (v5, monitor only)",
    "bootloader-570.144.bin",
    () => forgeRiscvBootloader({ version: 5, bootloaderSize: 0, bootloaderParamSize: 0 }),
  ),
];

const GEN_SEEDS: readonly SeedSpec[] = [
  realFile("gen-bootloader", "nvidia/tu102/gsp/gen_bootloader-570.144.bin"),
  forged(
    "gen-bootloader",
    "gen_bootloader",
    "gen_bootloader-570.144.bin",
    () => forgeGenBootloader(),
  ),
  forged(
    "gen-bootloader",
    "gen_bootloader (small)",
    "gen_bootloader-570.144.bin",
    () => forgeGenBootloader({ codeSize: 0x100, dataSize: 0x40 }),
  ),
];

const GSP_SEEDS: readonly SeedSpec[] = [
  forged("elf", "gsp image (Turing sections)", "gsp-570.144.bin", () =>
    forgeGspImage({
      imageSize: 0x1000,
      signatureSize: 0x100,
      signatureSections: GSP_SIGNATURE_SECTIONS_TU,
    })),
  forged(
    "elf",
    "gsp image (GA102 sections)",
    "gsp-570.144.bin",
    () => forgeGspImage({ imageSize: 0x800, signatureSize: 0x80 }),
  ),
  forged("elf", "gsp image (535, one section)", "gsp-535.113.01.bin", () =>
    forgeGspImage({
      imageSize: 0x200,
      signatureSize: 0x40,
      version: "535.113.01",
      signatureSections: [".fwsignature_tu10x"],
    })),
];

const FMC_SEEDS: readonly SeedSpec[] = [
  realFile("elf", "nvidia/gh100/gsp/fmc-570.144.bin"),
  realFile("elf", "nvidia/gb100/gsp/fmc-570.144.bin"),
  realFile("elf", "nvidia/gb202/gsp/fmc-570.144.bin"),
  forged("elf", "fmc (gh100 sizes)", "fmc-570.144.bin", () => forgeFmc({ imageSize: 0x400 })),
  forged(
    "elf",
    "fmc (gb10x sizes)",
    "fmc-570.144.bin",
    () => forgeFmc({ sizes: FMC_SIZES.gb10x, imageSize: 0x200 }),
  ),
  forged(
    "elf",
    "fmc (gb20x sizes)",
    "fmc-570.144.bin",
    () => forgeFmc({ sizes: FMC_SIZES.gb20x, imageSize: 0x100 }),
  ),
];

const ELF_SEEDS: readonly SeedSpec[] = [
  ...GSP_SEEDS,
  ...FMC_SEEDS,
  forged("elf", "elf32 (table first, NOBITS section)", "fmc-570.144.bin", () =>
    forgeElf({
      elfClass: 32,
      tableAt: "start",
      sections: [
        { name: ".text", data: randomBytes(0x60, 1) },
        { name: ".bss", type: SHT_NOBITS, size: 0x1000 },
        { name: ".data", data: randomBytes(0x21, 2), align: 16 },
      ],
    })),
  forged("elf", "elf64 (empty section)", "gsp-570.144.bin", () =>
    forgeElf({
      sections: [
        { name: ".fwimage", data: randomBytes(0x40, 3) },
        { name: ".empty", data: new Uint8Array(0) },
        { name: ".fwversion", data: new TextEncoder().encode("570.144\0") },
      ],
    })),
];

const TLV_SEEDS: readonly SeedSpec[] = [
  forged(
    "tlv",
    "gsp tlv",
    "gsp-570.144.tlv",
    () => forgeGspTlv({ signature: randomBytes(0x100, 4) }),
  ),
  forged("tlv", "booter tlv", "booter_load-570.144.tlv", () => forgeBooterTlv()),
  forged("tlv", "fmc tlv", "fmc-570.144.tlv", () => forgeFmcTlv({ imageSize: 0x200 })),
  forged("tlv", "tlv (odd lengths)", "booter_unload-570.144.tlv", () =>
    forgeTlv([
      ["VERS", "1.0"],
      ["NSIG", 3],
      ["SIGN", randomBytes(33, 5)],
      ["ODD", "abcde"],
      ["EMPT", new Uint8Array(0)],
      ["VERS", "duplicate"],
    ])),
];

const VBIOS_SEEDS: readonly SeedSpec[] = [
  { name: "TU102.rom (real)", fileName: "TU102.rom", format: "vbios", real: REAL_VBIOS_PATH },
  forged("vbios", "vbios (v2 FWSEC, no IFR)", "forged.rom", () => forgeVbios().bytes),
  forged("vbios", "vbios (IFR v1)", "forged.rom", () => forgeVbios({ ifr: 1 }).bytes),
  forged(
    "vbios",
    "vbios (IFR v2, no EFI)",
    "forged.rom",
    () => forgeVbios({ ifr: 2, efi: false }).bytes,
  ),
  forged(
    "vbios",
    "vbios (IFR v3, v3 FWSEC)",
    "forged.rom",
    () => forgeVbios({ ifr: 3, descriptorVersion: 3 }).bytes,
  ),
  forged(
    "vbios",
    "vbios (v3 FWSEC, one FWSEC image, sparse signatures)",
    "forged.rom",
    () => forgeVbios({ descriptorVersion: 3, fwsecImages: 1, signatureVersions: 0b1010 }).bytes,
  ),
  forged(
    "vbios",
    "vbios (no DMEM mapper, license app id)",
    "forged.rom",
    () => forgeVbios({ dmemMapper: false, fwsecApplicationId: 0x05 }).bytes,
  ),
];

const SEED_SPECS: Readonly<Record<string, readonly SeedSpec[]>> = {
  bin: [...BOOTER_SEEDS, ...RISCV_SEEDS, ...GEN_SEEDS],
  booter: BOOTER_SEEDS,
  riscv: RISCV_SEEDS,
  gen: GEN_SEEDS,
  elf: ELF_SEEDS,
  gsp: GSP_SEEDS,
  fmc: FMC_SEEDS,
  tlv: TLV_SEEDS,
  vbios: VBIOS_SEEDS,
  all: [
    ...BOOTER_SEEDS.filter((_, i) => i % 2 === 0),
    ...RISCV_SEEDS,
    ...GEN_SEEDS,
    ...ELF_SEEDS.filter((_, i) => i % 2 === 0),
    ...TLV_SEEDS,
    ...VBIOS_SEEDS.slice(0, 3),
  ],
};

const seedCache = new Map<string, SeedSet>();

function readReal(spec: SeedSpec): Uint8Array | undefined {
  const path = spec.real!.startsWith("/") ? spec.real! : findRealFirmware(spec.real!);
  if (!path) return undefined;
  try {
    return Deno.readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A seed from given bytes: its anatomy is found by parsing it as `format`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedFromBytes } from "./_fuzz.ts";
 * import { forgeGenBootloader } from "../firmware/forge/mod.ts";
 * const seed = seedFromBytes("gen-bootloader", "gen", forgeGenBootloader());
 * assert(seed.anatomy.fields.some((f) => f.name === "descriptor.codeSize"));
 * ```
 */
export function seedFromBytes(
  format: SeedFormat,
  name: string,
  bytes: Uint8Array,
  options: { real?: boolean; fileName?: string } = {},
): FuzzSeed {
  return {
    name,
    fileName: options.fileName ?? name,
    format,
    real: options.real ?? false,
    bytes,
    anatomy: ANATOMIES[format](bytes),
  };
}

function loadSeeds(set: string): SeedSet {
  const cached = seedCache.get(set);
  if (cached) return cached;
  const seeds: FuzzSeed[] = [];
  const missingRealFiles: string[] = [];
  for (const spec of SEED_SPECS[set]) {
    const bytes = spec.real ? readReal(spec) : spec.forge!();
    if (!bytes) {
      missingRealFiles.push(spec.real!);
      continue;
    }
    seeds.push(
      seedFromBytes(spec.format, spec.name, bytes, { real: !!spec.real, fileName: spec.fileName }),
    );
  }
  if (missingRealFiles.length > 0) {
    logger.warn("fuzz seeds {set}: {count} real files missing, fuzzing forged ones only: {files}", {
      set,
      count: missingRealFiles.length,
      files: missingRealFiles.join(", "),
    });
  }
  const result = { seeds, missingRealFiles };
  seedCache.set(set, result);
  return result;
}

// ---------------------------------------------------------------------------
// Targets

/** One parser entry point under test. */
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
 * import { InvariantError } from "./_fuzz.ts";
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
function attempt<T>(step: () => T): T | undefined {
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
const FUSE_REGISTER_VALUES = [0, 1, 2, 3, 15];

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
  for (const fuse of [...FUSE_REGISTER_VALUES, b.signatureParams.fuseVersion]) {
    attempt(() => selectBooterSignature(b, fuse));
    const patched = attempt(() => patchBooter(b, fuse));
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
  for (const fuse of FUSE_REGISTER_VALUES) {
    if (f.descriptor.descriptorVersion === 3) attempt(() => selectFwsecSignature(f, fuse));
    for (const patch of [() => patchFwsecFrts(f, FRTS_REGION, fuse), () => patchFwsecSb(f, fuse)]) {
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
 * import { FUZZ_TARGETS } from "./_fuzz.ts";
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
 * import { SELF_TEST_TARGETS } from "./_fuzz.ts";
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
 * import { findFuzzTarget } from "./_fuzz.ts";
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

// ---------------------------------------------------------------------------
// Runner

/** The default limit for one parse. */
export const DEFAULT_SLOW_MS = 250;

/** What a finding is. */
export type FindingKind = "exception" | "invariant" | "slow" | "hang" | "crash";

/** An input that broke the contract. */
export interface FuzzFinding {
  /** Exception, broken invariant, slow parse, hang (watchdog), or a crashed worker. */
  kind: FindingKind;
  /** Target name. */
  target: string;
  /** The run's seed. */
  seed: number;
  /** The iteration; negative for the unmutated seed input `-iteration − 1`. */
  iteration: number;
  /** The seed input's name. */
  input: string;
  /** The mutation steps. */
  steps: string[];
  /** Size of the mutated input. */
  inputSize: number;
  /** `Name: message` of what escaped (or the timing). */
  error: string;
  /** Its stack, when there is one. */
  stack?: string;
  /** Parse time in ms (slow findings: the two measurements' minimum). */
  ms?: number;
  /** How many inputs failed the same way (same kind, target, error and place). */
  count: number;
  /** A command that replays it. */
  reproduce: string;
}

/** Per-target figures. */
export interface FuzzTargetStats {
  /** Target name. */
  target: string;
  /** Seed inputs used. */
  seeds: number;
  /** Of which real files. */
  realSeeds: number;
  /** Real files it would have used but did not find. */
  missingRealFiles: string[];
  /** Seed inputs the parser rejected unmutated (the fuzzing there is shallow). */
  seedRejections: { input: string; error: string }[];
  /** Mutated inputs run. */
  mutations: number;
  /** Of which parsed. */
  accepted: number;
  /** Of which rejected with a FirmwareFormatError. */
  rejected: number;
  /** Findings (all occurrences). */
  findings: number;
  /** How often each error field was named (indices folded to `[]`): a rough coverage measure. */
  errorFields: Record<string, number>;
  /** The slowest parse in ms. */
  slowestMs: number;
  /** Its iteration. */
  slowestIteration: number;
  /** Its seed input. */
  slowestInput: string;
  /** Time spent parsing, in ms. */
  parseMs: number;
}

/** What a run did. */
export interface FuzzReport {
  /** The run's seed. */
  seed: number;
  /** Mutations asked for (all targets together). */
  mutationsRequested: number;
  /** Time budget in seconds. */
  secondsBudget: number;
  /** Slow-parse limit in ms. */
  slowMs: number;
  /** Mutations run. */
  mutations: number;
  /** Wall time in ms. */
  elapsedMs: number;
  /** Why it stopped. */
  stoppedBy: "count" | "time" | "finding" | "hang" | "crash";
  /** Per target. */
  targets: FuzzTargetStats[];
  /** Distinct findings (see `count` for repeats). */
  findings: FuzzFinding[];
  /** The slowest parse of the run. */
  slowest: { target: string; iteration: number; input: string; ms: number } | null;
}

/** Options for {@linkcode runFuzz}. */
export interface FuzzOptions {
  /** The targets. */
  targets: readonly FuzzTarget[];
  /** Seed of the run (default 1). */
  seed?: number;
  /** Mutations in total, split evenly across the targets (default 20000). */
  mutations?: number;
  /** Time budget in seconds (default 60). */
  seconds?: number;
  /** A parse slower than this (twice) is a finding (default {@linkcode DEFAULT_SLOW_MS}). */
  slowMs?: number;
  /** Stop at the first finding. */
  stopAtFirstFinding?: boolean;
  /** Called with a snapshot of the report about every `progressMs`. */
  onProgress?: (report: FuzzReport) => void;
  /** Snapshot interval in ms (default 1000). */
  progressMs?: number;
  /**
   * Watchdog cells (`Int32Array` on a `SharedArrayBuffer`, 4 elements): target
   * index, iteration, heartbeat, and 1 while parsing. Set by the isolated runner.
   */
  progress?: Int32Array;
}

const PROGRESS = { target: 0, iteration: 1, heartbeat: 2, state: 3 } as const;
const STATE = { idle: 0, parsing: 1, setup: 2 } as const;

function reproduceCommand(seed: number, target: string, iteration: number): string {
  return `deno run -A scripts/fuzz.ts --seed ${seed} --target ${target} --replay=${iteration}`;
}

function describeError(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: typeof e, message: String(e) };
}

/** The place a finding comes from: the first stack frame outside this file, or the message's shape. */
function findingSignature(kind: FindingKind, target: string, e: unknown): string {
  const { name, message, stack } = describeError(e);
  const frame = (stack ?? "").split("\n").slice(1).find((l) => !l.includes("/_fuzz.ts")) ?? "";
  return `${kind}|${target}|${name}|${frame.trim() || message.replace(/[0-9a-fx]+/gi, "#")}`;
}

/** Build the mutated (or, for a negative iteration, unmutated) input of an iteration. */
function buildInput(
  target: FuzzTarget,
  seeds: readonly FuzzSeed[],
  runSeed: number,
  iteration: number,
): { seed: FuzzSeed; mutation: Mutation } {
  if (iteration < 0) {
    const seed = seeds[(-iteration - 1) % seeds.length];
    return { seed, mutation: { bytes: seed.bytes, steps: ["(unmutated)"] } };
  }
  const seed = seeds[iteration % seeds.length];
  return {
    seed,
    mutation: mutate(seed, new FuzzRandom(iterationSeed(runSeed, target.name, iteration))),
  };
}

interface Outcome {
  result: "accepted" | "rejected" | "finding";
  error?: unknown;
  ms: number;
}

function execute(target: FuzzTarget, bytes: Uint8Array, seed: FuzzSeed): Outcome {
  const start = performance.now();
  try {
    target.run(bytes, seed);
    return { result: "accepted", ms: performance.now() - start };
  } catch (error) {
    const ms = performance.now() - start;
    return { result: error instanceof FirmwareFormatError ? "rejected" : "finding", error, ms };
  }
}

function emptyStats(target: FuzzTarget, set: SeedSet): FuzzTargetStats {
  return {
    target: target.name,
    seeds: set.seeds.length,
    realSeeds: set.seeds.filter((s) => s.real).length,
    missingRealFiles: set.missingRealFiles,
    seedRejections: [],
    mutations: 0,
    accepted: 0,
    rejected: 0,
    findings: 0,
    errorFields: {},
    slowestMs: 0,
    slowestIteration: 0,
    slowestInput: "",
    parseMs: 0,
  };
}

/**
 * Fuzz `targets` in this thread: check every seed input unmutated, then run
 * the mutations round-robin across the targets until the count or the time
 * budget is reached. A parser that never returns hangs this call; use
 * {@linkcode runFuzzIsolated} for a watchdog.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { findFuzzTarget, runFuzz } from "./_fuzz.ts";
 * const report = runFuzz({ targets: [findFuzzTarget("gen-bootloader")], mutations: 500 });
 * assert(report.mutations === 500);
 * ```
 */
export function runFuzz(options: FuzzOptions): FuzzReport {
  const started = performance.now();
  const runSeed = (options.seed ?? 1) >>> 0;
  const requested = Math.max(0, Math.floor(options.mutations ?? 20000));
  const seconds = options.seconds ?? 60;
  const slowMs = options.slowMs ?? DEFAULT_SLOW_MS;
  const deadline = started + seconds * 1000;
  const progress = options.progress ?? new Int32Array(4);
  const findings = new Map<string, FuzzFinding>();
  let stoppedBy: FuzzReport["stoppedBy"] = "count";

  Atomics.store(progress, PROGRESS.state, STATE.setup);
  const plans = options.targets.map((target, index) => {
    const set = target.seeds();
    if (set.seeds.length === 0) throw new RangeError(`fuzz target ${target.name} has no seeds`);
    const quota = Math.floor(requested / options.targets.length) +
      (index < requested % options.targets.length ? 1 : 0);
    return { target, index, seeds: set.seeds, quota, stats: emptyStats(target, set) };
  });
  type Plan = (typeof plans)[number];

  const snapshot = (): FuzzReport => {
    const targets = plans.map((p) => ({ ...p.stats, errorFields: { ...p.stats.errorFields } }));
    const slowestStats = targets.reduce<FuzzTargetStats | undefined>(
      (best, s) => (s.mutations > 0 && (!best || s.slowestMs > best.slowestMs) ? s : best),
      undefined,
    );
    return {
      seed: runSeed,
      mutationsRequested: requested,
      secondsBudget: seconds,
      slowMs,
      mutations: targets.reduce((n, s) => n + s.mutations, 0),
      elapsedMs: performance.now() - started,
      stoppedBy,
      targets,
      findings: [...findings.values()].map((f) => ({ ...f })),
      slowest: slowestStats
        ? {
          target: slowestStats.target,
          iteration: slowestStats.slowestIteration,
          input: slowestStats.slowestInput,
          ms: slowestStats.slowestMs,
        }
        : null,
    };
  };

  const record = (
    plan: Plan,
    iteration: number,
    seed: FuzzSeed,
    mutation: Mutation,
    kind: FindingKind,
    error: unknown,
    ms?: number,
  ) => {
    plan.stats.findings++;
    const key = findingSignature(kind, plan.target.name, error);
    const known = findings.get(key);
    if (known) {
      known.count++;
      return;
    }
    const { name, message, stack: errorStack } = describeError(error);
    // A slow parse's stack is the harness's own; it says nothing.
    const stack = kind === "slow" ? undefined : errorStack;
    findings.set(key, {
      kind,
      target: plan.target.name,
      seed: runSeed,
      iteration,
      input: seed.name,
      steps: mutation.steps,
      inputSize: mutation.bytes.length,
      error: `${name}: ${message}`,
      stack,
      ms,
      count: 1,
      reproduce: reproduceCommand(runSeed, plan.target.name, iteration),
    });
  };

  const runOne = (plan: Plan, iteration: number): Outcome => {
    const { seed, mutation } = buildInput(plan.target, plan.seeds, runSeed, iteration);
    Atomics.store(progress, PROGRESS.target, plan.index);
    Atomics.store(progress, PROGRESS.iteration, iteration);
    Atomics.add(progress, PROGRESS.heartbeat, 1);
    Atomics.store(progress, PROGRESS.state, STATE.parsing);
    const outcome = execute(plan.target, mutation.bytes, seed);
    if (outcome.result !== "finding" && outcome.ms > slowMs) {
      // A second run tells a slow parser from a GC pause or a busy machine.
      const again = execute(plan.target, mutation.bytes, seed);
      if (again.ms > slowMs) {
        const ms = Math.min(outcome.ms, again.ms);
        const slow = new Error(`parse took ${ms.toFixed(0)} ms (limit ${slowMs} ms)`);
        record(plan, iteration, seed, mutation, "slow", slow, ms);
      }
    }
    Atomics.store(progress, PROGRESS.state, STATE.idle);
    const s = plan.stats;
    if (iteration >= 0) {
      s.mutations++;
      s.parseMs += outcome.ms;
      if (outcome.ms > s.slowestMs) {
        s.slowestMs = outcome.ms;
        s.slowestIteration = iteration;
        s.slowestInput = seed.name;
      }
      if (outcome.result === "accepted") s.accepted++;
      if (outcome.result === "rejected") s.rejected++;
    }
    if (outcome.result === "rejected") {
      const field = (outcome.error as FirmwareFormatError).field.replace(/\[\d+\]/g, "[]");
      s.errorFields[field] = (s.errorFields[field] ?? 0) + 1;
      if (iteration < 0) {
        s.seedRejections.push({ input: seed.name, error: (outcome.error as Error).message });
      }
    }
    if (outcome.result === "finding") {
      const kind = outcome.error instanceof InvariantError ? "invariant" : "exception";
      record(plan, iteration, seed, mutation, kind, outcome.error);
    }
    return outcome;
  };

  const stop = (): boolean => options.stopAtFirstFinding === true && findings.size > 0;
  for (const plan of plans) {
    for (let i = 0; i < plan.seeds.length && !stop(); i++) runOne(plan, -1 - i);
  }
  let nextProgress = performance.now() + (options.progressMs ?? 1000);
  let active = plans.filter((p) => p.quota > 0);
  while (active.length > 0) {
    if (stop()) {
      stoppedBy = "finding";
      break;
    }
    if (performance.now() > deadline) {
      stoppedBy = "time";
      break;
    }
    for (const plan of active) runOne(plan, plan.stats.mutations);
    active = active.filter((p) => p.stats.mutations < p.quota);
    if (options.onProgress && performance.now() > nextProgress) {
      options.onProgress(snapshot());
      nextProgress = performance.now() + (options.progressMs ?? 1000);
    }
  }
  return snapshot();
}

/** What {@linkcode replayFuzz} found. */
export interface FuzzReplay {
  /** The seed input's name. */
  input: string;
  /** The mutation steps. */
  steps: string[];
  /** The input bytes. */
  bytes: Uint8Array;
  /** Parsed, rejected with a FirmwareFormatError, or a finding. */
  result: "accepted" | "rejected" | "finding";
  /** What was thrown, if anything. */
  error?: unknown;
  /** Parse time in ms. */
  ms: number;
}

/**
 * Rebuild one iteration's input and run the target on it once.
 *
 * @example
 * ```ts ignore
 * import { findFuzzTarget, replayFuzz } from "./_fuzz.ts";
 * const replay = replayFuzz(findFuzzTarget("tlv"), 1, 42);
 * console.log(replay.steps, replay.result);
 * ```
 */
export function replayFuzz(target: FuzzTarget, seed: number, iteration: number): FuzzReplay {
  const { seeds } = target.seeds();
  const { seed: input, mutation } = buildInput(target, seeds, seed >>> 0, iteration);
  const outcome = execute(target, mutation.bytes, input);
  return { input: input.name, steps: mutation.steps, bytes: mutation.bytes, ...outcome };
}

/** Options for {@linkcode runFuzzIsolated}. */
export interface IsolatedFuzzOptions extends Omit<FuzzOptions, "targets" | "progress"> {
  /** Target names (see {@linkcode findFuzzTarget}). */
  targets: readonly string[];
  /** A parse that makes no progress for this long is a hang (default 10000 ms). */
  watchdogMs?: number;
}

interface WorkerRequest {
  targets: readonly string[];
  options: Omit<FuzzOptions, "targets" | "progress" | "onProgress">;
  progress: Int32Array;
}

type WorkerReply = { type: "progress" | "done"; report: FuzzReport };

/**
 * The worker side of {@linkcode runFuzzIsolated}: take one request, run it,
 * post progress snapshots and the final report. Called by the worker script.
 *
 * @example
 * ```ts ignore
 * import { fuzzWorkerMain } from "./_fuzz.ts";
 * fuzzWorkerMain(); // inside a Worker
 * ```
 */
export function fuzzWorkerMain(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
    postMessage(message: WorkerReply): void;
  };
  scope.onmessage = (e) => {
    const { targets, options, progress } = e.data;
    const report = runFuzz({
      ...options,
      targets: targets.map(findFuzzTarget),
      progress,
      onProgress: (r) => scope.postMessage({ type: "progress", report: r }),
    });
    scope.postMessage({ type: "done", report });
  };
}

/**
 * Fuzz in a Worker with a watchdog: when one parse makes no progress for
 * `watchdogMs`, the worker is terminated and the report ends with a `hang`
 * finding naming the target and iteration (its input is rebuilt here, not
 * run). A worker that dies otherwise gives a `crash` finding. After a hang or
 * a crash the figures are those of the worker's last progress snapshot.
 *
 * @throws {RangeError} for an unknown target name.
 *
 * @example
 * ```ts ignore
 * import { runFuzzIsolated } from "./_fuzz.ts";
 * const report = await runFuzzIsolated({ targets: ["tlv", "elf"], mutations: 10000 });
 * console.log(report.mutations, report.findings.length);
 * ```
 */
export function runFuzzIsolated(options: IsolatedFuzzOptions): Promise<FuzzReport> {
  const targets = options.targets.map(findFuzzTarget);
  const progress = new Int32Array(new SharedArrayBuffer(16));
  const watchdogMs = options.watchdogMs ?? 10_000;
  const script = `import { fuzzWorkerMain } from ${
    JSON.stringify(import.meta.url)
  }; fuzzWorkerMain();`;
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(script)}`, {
    type: "module",
  });
  const started = performance.now();
  const runSeed = (options.seed ?? 1) >>> 0;
  const { onProgress, watchdogMs: _w, targets: _t, ...rest } = options;
  let last: FuzzReport | undefined;

  return new Promise<FuzzReport>((resolve) => {
    let beat = -1;
    let beatAt = performance.now();
    const finish = (report: FuzzReport) => {
      clearInterval(timer);
      worker.terminate();
      resolve(report);
    };
    const failed = (kind: "hang" | "crash", error: string): FuzzReport => {
      const base = last ?? blankReport(options, targets, runSeed);
      const index = Atomics.load(progress, PROGRESS.target);
      const iteration = Atomics.load(progress, PROGRESS.iteration);
      const target = targets[index] ?? targets[0];
      const rebuilt = attempt(() => buildInput(target, target.seeds().seeds, runSeed, iteration));
      return {
        ...base,
        elapsedMs: performance.now() - started,
        stoppedBy: kind,
        findings: [...base.findings, {
          kind,
          target: target.name,
          seed: runSeed,
          iteration,
          input: rebuilt?.seed.name ?? "?",
          steps: rebuilt?.mutation.steps ?? [],
          inputSize: rebuilt?.mutation.bytes.length ?? 0,
          error,
          count: 1,
          reproduce: reproduceCommand(runSeed, target.name, iteration),
        }],
      };
    };
    const timer = setInterval(() => {
      const now = performance.now();
      const current = Atomics.load(progress, PROGRESS.heartbeat);
      if (current !== beat || Atomics.load(progress, PROGRESS.state) !== STATE.parsing) {
        beat = current;
        beatAt = now;
        return;
      }
      if (now - beatAt > watchdogMs) {
        finish(failed("hang", `no return after ${(now - beatAt).toFixed(0)} ms (watchdog)`));
      }
    }, Math.min(250, watchdogMs / 4));
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      last = e.data.report;
      if (e.data.type === "done") finish(e.data.report);
      else onProgress?.(e.data.report);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      finish(failed("crash", `worker died: ${e.message}`));
    };
    worker.postMessage(
      { targets: options.targets, options: rest, progress } satisfies WorkerRequest,
    );
  });
}

function blankReport(
  options: IsolatedFuzzOptions,
  targets: readonly FuzzTarget[],
  seed: number,
): FuzzReport {
  return {
    seed,
    mutationsRequested: options.mutations ?? 20000,
    secondsBudget: options.seconds ?? 60,
    slowMs: options.slowMs ?? DEFAULT_SLOW_MS,
    mutations: 0,
    elapsedMs: 0,
    stoppedBy: "crash",
    targets: targets.map((t) => emptyStats(t, t.seeds())),
    findings: [],
    slowest: null,
  };
}

// ---------------------------------------------------------------------------
// Report

/**
 * The report for people: one row per target, the totals, the slowest parse,
 * and each finding with the command that replays it.
 *
 * @example
 * ```ts ignore
 * import { findFuzzTarget, formatFuzzReport, runFuzz } from "./_fuzz.ts";
 * console.log(formatFuzzReport(runFuzz({ targets: [findFuzzTarget("tlv")], mutations: 100 })));
 * ```
 */
export function formatFuzzReport(report: FuzzReport): string {
  const head = [
    "target",
    "seeds",
    "real",
    "mutations",
    "parsed",
    "rejected",
    "fields",
    "findings",
    "parse s",
    "slowest",
  ];
  const rows = report.targets.map((s) => [
    s.target,
    String(s.seeds),
    String(s.realSeeds),
    String(s.mutations),
    String(s.accepted),
    String(s.rejected),
    String(Object.keys(s.errorFields).length),
    String(s.findings),
    (s.parseMs / 1000).toFixed(1),
    `${s.slowestMs.toFixed(1)} ms`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const seconds = report.elapsedMs / 1000;
  const out = [line(head), ...rows.map(line), ""];
  out.push(
    `${report.mutations} mutations in ${seconds.toFixed(1)} s ` +
      `(${Math.round(report.mutations / Math.max(seconds, 1e-3))}/s), seed ${report.seed}, ` +
      `stopped by ${report.stoppedBy}; ${report.findings.length} distinct finding(s)`,
  );
  if (report.slowest) {
    const s = report.slowest;
    out.push(
      `slowest parse: ${s.ms.toFixed(1)} ms (${s.target}, iteration ${s.iteration}, ${s.input}); ` +
        `limit ${report.slowMs} ms`,
    );
  }
  for (const s of report.targets) {
    if (s.missingRealFiles.length > 0) {
      out.push(
        `${s.target}: real files missing, fuzzed forged ones: ${s.missingRealFiles.join(", ")}`,
      );
    }
    for (const r of s.seedRejections) out.push(`${s.target}: seed ${r.input} rejected: ${r.error}`);
  }
  for (const f of report.findings) {
    out.push(
      "",
      `FINDING (${f.kind}) in ${f.target}, ${f.count}×: ${f.error}`,
      `  input: ${f.input}, iteration ${f.iteration}, ${f.inputSize} bytes`,
      ...f.steps.map((s) => `  step: ${s}`),
      `  replay: ${f.reproduce}`,
    );
    if (f.stack) out.push(...f.stack.split("\n").slice(1, 6).map((l) => `  ${l.trim()}`));
  }
  return out.join("\n");
}
