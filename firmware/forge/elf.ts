/**
 * Forged ELF files: a generic little-endian ELF32/ELF64 section writer, and
 * on top of it GSP images (`gsp-*.bin`: ELF64 with `.fwimage`, `.fwversion`
 * and `.fwsignature_*`) and FMC files (`fmc-*.bin`: ELF32 with `hash`,
 * `signature`, `publickey` and `image`) shaped like the real ones, for tests
 * and the simulator. Contents are deterministic pseudo-random bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeGspImage } from "./elf.ts";
 * import { parseGspImage } from "../gsp_image.ts";
 * const gsp = parseGspImage(forgeGspImage({ imageSize: 10000 }));
 * assert(gsp.imageSize === 10000 && gsp.version === "570.144");
 * ```
 *
 * @module
 */

import { alignUp, ByteWriter, patternBytes } from "./_writer.ts";

/** One section of a forged ELF file. */
export interface ForgeElfSection {
  /** Section name. */
  name: string;
  /** `sh_type`; defaults to 1 (PROGBITS). */
  type?: number;
  /** `sh_flags`; defaults to 0. */
  flags?: number;
  /** `sh_addr`; defaults to 0. */
  address?: number;
  /** Contents. Without it the section has `size` bytes, zero or written by `fill`. */
  data?: Uint8Array;
  /** Size when `data` is absent (also the size of a NOBITS section). */
  size?: number;
  /** Writes the contents in place (saves a copy of large sections). */
  fill?: (target: Uint8Array) => void;
  /** File alignment of the section's bytes; defaults to 1. */
  align?: number;
}

/** What {@linkcode forgeElf} builds. */
export interface ForgeElfOptions {
  /** 32 or 64; defaults to 64. */
  elfClass?: 32 | 64;
  /** `e_machine`; defaults to 0xf3 (RISC-V) for ELF64 and 0 for ELF32, as in the real files. */
  machine?: number;
  /** `e_type`; defaults to 1 (REL) for ELF64 and 0 for ELF32, as in the real files. */
  type?: number;
  /** The sections after the null section, in order. */
  sections: ForgeElfSection[];
  /**
   * Where the section header table and `.shstrtab` go: `"end"` (after the
   * data, `.shstrtab` last, as in `gsp-*.bin`) or `"start"` (right after the
   * ELF header, `.shstrtab` first, as in `fmc-*.bin`). Defaults to `"end"`.
   */
  tableAt?: "end" | "start";
}

const SHT_PROGBITS = 1;
const SHT_STRTAB = 3;
const SHT_NOBITS = 8;

/**
 * Build a little-endian ELF file with the given sections, a `.shstrtab` and
 * a section header table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeElf } from "./elf.ts";
 * const bytes = forgeElf({ sections: [{ name: ".text", data: new Uint8Array([1, 2, 3]) }] });
 * assert(bytes[0] === 0x7f && bytes[4] === 2);
 * ```
 */
export function forgeElf(options: ForgeElfOptions): Uint8Array {
  const elfClass = options.elfClass ?? 64;
  const is64 = elfClass === 64;
  const headerSize = is64 ? 64 : 52;
  const entrySize = is64 ? 64 : 40;
  const atStart = (options.tableAt ?? "end") === "start";

  const strtab: ForgeElfSection = { name: ".shstrtab", type: SHT_STRTAB };
  const user = options.sections;
  const ordered = atStart ? [strtab, ...user] : [...user, strtab];
  const names = buildNames(ordered.map((s) => s.name));
  strtab.data = names.bytes;

  const tableSize = (ordered.length + 1) * entrySize;
  let cursor = headerSize;
  let tableOffset = 0;
  if (atStart) {
    tableOffset = cursor;
    cursor += tableSize;
  }
  const placed = ordered.map((s) => {
    const size = s.data?.length ?? s.size ?? 0;
    const occupies = (s.type ?? SHT_PROGBITS) !== SHT_NOBITS;
    const offset = alignUp(cursor, s.align ?? 1);
    if (occupies) cursor = offset + size;
    return { s, size, offset };
  });
  if (!atStart) {
    tableOffset = alignUp(cursor, 8);
    cursor = tableOffset + tableSize;
  }

  const w = new ByteWriter(cursor);
  w.set(0, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]));
  w.u16(16, options.type ?? (is64 ? 1 : 0));
  w.u16(18, options.machine ?? (is64 ? 0xf3 : 0));
  w.u32(20, 1);
  const stringTableIndex = atStart ? 1 : ordered.length;
  if (is64) {
    w.u64(40, tableOffset).u16(52, headerSize).u16(58, entrySize).u16(60, ordered.length + 1);
    w.u16(62, stringTableIndex);
  } else {
    w.u32(32, tableOffset).u16(40, headerSize).u16(46, entrySize).u16(48, ordered.length + 1);
    w.u16(50, stringTableIndex);
  }

  placed.forEach(({ s, size, offset }, i) => {
    const type = s.type ?? SHT_PROGBITS;
    if (type !== SHT_NOBITS) {
      if (s.data) w.set(offset, s.data);
      else s.fill?.(w.bytes.subarray(offset, offset + size));
    }
    const at = tableOffset + (i + 1) * entrySize;
    w.u32(at, names.offsets[i]).u32(at + 4, type);
    if (is64) {
      w.u64(at + 8, s.flags ?? 0).u64(at + 16, s.address ?? 0).u64(at + 24, offset);
      w.u64(at + 32, size).u64(at + 48, s.align ?? 1);
    } else {
      w.u32(at + 8, s.flags ?? 0).u32(at + 12, s.address ?? 0).u32(at + 16, offset);
      w.u32(at + 20, size).u32(at + 32, s.align ?? 1);
    }
  });
  return w.bytes;
}

function buildNames(names: string[]): { bytes: Uint8Array; offsets: number[] } {
  let text = "\0";
  const offsets = names.map((n) => {
    const at = text.length;
    text += `${n}\0`;
    return at;
  });
  return { bytes: Uint8Array.from(text, (c) => c.charCodeAt(0)), offsets };
}

/**
 * Signature sections of the real 570.144 image in the Turing/GA100 folders,
 * in file order.
 */
export const GSP_SIGNATURE_SECTIONS_TU: readonly string[] = [
  ".fwsignature_ga100",
  ".fwsignature_tu11x",
  ".fwsignature_tu10x",
];

/**
 * Signature sections of the real 570.144 image in the ga102 folder (shared
 * by Ada, Hopper and Blackwell), in file order.
 */
export const GSP_SIGNATURE_SECTIONS_GA102: readonly string[] = [
  ".fwsignature_gb20x",
  ".fwsignature_cc_gb10x",
  ".fwsignature_gb10x",
  ".fwsignature_cc_gh100",
  ".fwsignature_gh100",
  ".fwsignature_ad10x",
  ".fwsignature_ga10x",
];

/** What {@linkcode forgeGspImage} builds. */
export interface ForgeGspImageOptions {
  /** `.fwimage` size in bytes; defaults to 65536 + 0xea0 (not page-aligned, like Turing's). */
  imageSize?: number;
  /** `.fwimage` contents (overrides `imageSize` and `seed`). */
  image?: Uint8Array;
  /** `.fwversion` text, stored with a NUL; defaults to `570.144`. */
  version?: string;
  /** Signature section names; defaults to {@linkcode GSP_SIGNATURE_SECTIONS_GA102}. */
  signatureSections?: readonly string[];
  /** Size of each signature section; defaults to 4096 as in the real files. */
  signatureSize?: number;
  /** Seed of the pseudo-random contents. */
  seed?: number;
}

/**
 * Forge a GSP image shaped like `gsp-570.144.bin`: `.fwimage` at offset 0x40,
 * `.note.gnu.build-id`, `.fwversion`, the signature sections, `.shstrtab`,
 * and the section header table at the end. Signature `i` holds
 * `patternBytes(signatureSize, seed + 1 + i)` so each one differs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgeGspImage, GSP_SIGNATURE_SECTIONS_TU } from "./elf.ts";
 * const bytes = forgeGspImage({ imageSize: 4096, signatureSections: GSP_SIGNATURE_SECTIONS_TU });
 * assert(bytes.length > 4096 + 3 * 4096);
 * ```
 */
export function forgeGspImage(options: ForgeGspImageOptions = {}): Uint8Array {
  const seed = options.seed ?? 0x6e5f;
  const imageSize = options.image?.length ?? options.imageSize ?? 0x10ea0;
  const signatureSize = options.signatureSize ?? 4096;
  const image: ForgeElfSection = options.image
    ? { name: ".fwimage", data: options.image, flags: 3 }
    : { name: ".fwimage", size: imageSize, flags: 3, fill: (t) => fillPattern(t, seed) };
  const buildId = new Uint8Array(36);
  buildId.set([4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0]);
  buildId.set(patternBytes(20, seed ^ 0xb1d), 16);
  return forgeElf({
    sections: [
      image,
      { name: ".note.gnu.build-id", type: 7, data: buildId },
      { name: ".fwversion", data: asciiz(options.version ?? "570.144") },
      ...(options.signatureSections ?? GSP_SIGNATURE_SECTIONS_GA102).map((name, i) => ({
        name,
        data: patternBytes(signatureSize, seed + 1 + i),
      })),
    ],
  });
}

/**
 * Fill `target` with `patternBytes(1 MiB, seed)` repeated: deterministic and
 * not all-zero, without generating 63 MB of pseudo-random bytes.
 */
function fillPattern(target: Uint8Array, seed: number): void {
  const block = patternBytes(Math.min(1 << 20, target.length), seed);
  for (let at = 0; at < target.length; at += block.length) {
    target.set(block.subarray(0, Math.min(block.length, target.length - at)), at);
  }
}

function asciiz(text: string): Uint8Array {
  return Uint8Array.from(`${text}\0`, (c) => c.charCodeAt(0));
}

/** Section sizes of an FMC file. */
export interface FmcSizes {
  /** `hash` (SHA-384: 48). */
  hash: number;
  /** `publickey`. */
  publicKey: number;
  /** `signature`. */
  signature: number;
}

/**
 * The section sizes of the real `fmc-570.144.bin` per chip family: RSA-3072
 * on GH100, ECDSA P-384 on Blackwell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FMC_SIZES } from "./elf.ts";
 * assert(FMC_SIZES.gb20x.publicKey === 97);
 * ```
 */
export const FMC_SIZES: Readonly<Record<"gh100" | "gb10x" | "gb20x", FmcSizes>> = {
  gh100: { hash: 48, publicKey: 384, signature: 384 },
  gb10x: { hash: 48, publicKey: 97, signature: 96 },
  gb20x: { hash: 48, publicKey: 97, signature: 96 },
};

/** What {@linkcode forgeFmc} builds. */
export interface ForgeFmcOptions {
  /** Section sizes; defaults to {@linkcode FMC_SIZES}`.gh100`. */
  sizes?: Partial<FmcSizes>;
  /** `image` size; defaults to 8192 + 0x48. */
  imageSize?: number;
  /** Seed of the pseudo-random contents. */
  seed?: number;
}

/**
 * Forge an FMC file shaped like `fmc-570.144.bin`: ELF32, the section header
 * table and `.shstrtab` first, then `hash`, `signature`, `publickey` and
 * `image`, each 4-byte aligned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FMC_SIZES, forgeFmc } from "./elf.ts";
 * import { parseFmc } from "../fmc.ts";
 * const fmc = parseFmc(forgeFmc({ sizes: FMC_SIZES.gb10x }));
 * assert(fmc.sizes.signature === 96);
 * ```
 */
export function forgeFmc(options: ForgeFmcOptions = {}): Uint8Array {
  const sizes = { ...FMC_SIZES.gh100, ...options.sizes };
  const seed = options.seed ?? 0xf3c;
  const section = (name: string, size: number, salt: number): ForgeElfSection => ({
    name,
    data: patternBytes(size, seed + salt),
    flags: 2,
    align: 4,
  });
  return forgeElf({
    elfClass: 32,
    tableAt: "start",
    sections: [
      section("hash", sizes.hash, 1),
      section("signature", sizes.signature, 2),
      section("publickey", sizes.publicKey, 3),
      section("image", options.imageSize ?? 0x2048, 4),
    ],
  });
}
