/**
 * The FSP's FMC firmware, `fmc-<version>.bin` (Hopper and Blackwell): an
 * ELF32 with four sections, `image` (what the FSP boots, copied to DMA
 * memory), `hash` (SHA-384, 48 bytes), `publickey` and `signature`. GH100
 * signs with RSA-3072 (384-byte key and signature); GB100 and GB202 with
 * ECDSA P-384 (97-byte key, 96-byte signature). The Chain-of-Trust message
 * carries them as `FmcSignatures`: hash[48] ‖ publicKey[384] ‖ signature[384],
 * zero-padded (nova-core `firmware/fsp.rs`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fmcSignatures, parseFmc } from "./fmc.ts";
 * import { FMC_SIZES, forgeFmc } from "./forge/elf.ts";
 * const fmc = parseFmc(forgeFmc({ sizes: FMC_SIZES.gb20x }), "fmc-570.144.bin");
 * assert(fmc.sizes.publicKey === 97 && fmcSignatures(fmc).length === 816);
 * ```
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { parseNamedSource } from "./_named_source.ts";
import type { ByteSource } from "./byte_source.ts";
import { type ElfFile, parseElf, requireSection, sectionBytes, SHT_NOBITS } from "./elf.ts";

/** Size of the SHA-384 `hash`. */
export const FMC_HASH_SIZE = 48;
/** The COT field size the public key is zero-padded into (RSA-3072). */
export const FMC_PUBLIC_KEY_MAX_SIZE = 384;
/** The COT field size the signature is zero-padded into (RSA-3072). */
export const FMC_SIGNATURE_MAX_SIZE = 384;
/** Size of the `FmcSignatures` block: 48 + 384 + 384. */
export const FMC_SIGNATURES_SIZE: number = FMC_HASH_SIZE + FMC_PUBLIC_KEY_MAX_SIZE +
  FMC_SIGNATURE_MAX_SIZE;

/** Section sizes of an FMC file. */
export interface FmcSectionSizes {
  /** `image`. */
  image: number;
  /** `hash` (always 48). */
  hash: number;
  /** `publickey`. */
  publicKey: number;
  /** `signature`. */
  signature: number;
}

/** What {@linkcode parseFmc} found. */
export interface FmcFirmware {
  /** The ELF headers. */
  elf: ElfFile;
  /** The `image` section: what the FSP boots. */
  image: Uint8Array;
  /** The `hash` section (SHA-384). */
  hash: Uint8Array;
  /** The `publickey` section. */
  publicKey: Uint8Array;
  /** The `signature` section. */
  signature: Uint8Array;
  /** The four sizes. */
  sizes: FmcSectionSizes;
}

/** Section name, key in the result, and the size rule. */
const SECTIONS = [
  { name: "image", key: "image", max: Infinity, exact: false },
  { name: "hash", key: "hash", max: FMC_HASH_SIZE, exact: true },
  { name: "publickey", key: "publicKey", max: FMC_PUBLIC_KEY_MAX_SIZE, exact: false },
  { name: "signature", key: "signature", max: FMC_SIGNATURE_MAX_SIZE, exact: false },
] as const;

/**
 * Parse an FMC file and read its four sections.
 *
 * @param source The file as a {@linkcode ByteSource} or its bytes.
 * @param file File name for errors; defaults to the source's name.
 * @throws {FirmwareFormatError} When a section is missing or empty, `hash` is
 *   not 48 bytes, or `publickey`/`signature` exceed 384 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFmc } from "./fmc.ts";
 * import { forgeFmc } from "./forge/elf.ts";
 * const fmc = parseFmc(forgeFmc());
 * assert(fmc.hash.length === 48 && fmc.signature.length === 384);
 * ```
 */
export function parseFmc(source: ByteSource | Uint8Array, file?: string): FmcFirmware {
  return parseNamedSource(source, file, parseFmcSource);
}

function parseFmcSource(source: ByteSource, file: string | undefined): FmcFirmware {
  const elf = parseElf(source, file);
  const found = SECTIONS.map((rule) => {
    const section = requireSection(elf, rule.name, file);
    const bad = (reason: string): never => {
      throw new FirmwareFormatError({
        file,
        offset: section.headerOffset,
        field: `elf.section(${rule.name})`,
        reason: `FMC ${rule.name} section ${reason}`,
      });
    };
    if (section.type === SHT_NOBITS) bad("has no bytes in the file (SHT_NOBITS)");
    if (section.size === 0) bad("is empty");
    if (rule.exact && section.size !== rule.max) {
      bad(`is ${section.size} bytes, expected ${rule.max}`);
    }
    if (section.size > rule.max) bad(`is ${section.size} bytes, over the maximum ${rule.max}`);
    return sectionBytes(source, section);
  });
  const [image, hash, publicKey, signature] = found;
  return {
    elf,
    image,
    hash,
    publicKey,
    signature,
    sizes: {
      image: image.length,
      hash: hash.length,
      publicKey: publicKey.length,
      signature: signature.length,
    },
  };
}

/**
 * The 816-byte `FmcSignatures` block of the Chain-of-Trust message:
 * hash[48] ‖ publicKey zero-padded to 384 ‖ signature zero-padded to 384.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fmcSignatures, parseFmc } from "./fmc.ts";
 * import { FMC_SIZES, forgeFmc } from "./forge/elf.ts";
 * const fmc = parseFmc(forgeFmc({ sizes: FMC_SIZES.gb10x }));
 * const block = fmcSignatures(fmc);
 * assert(block[48] === fmc.publicKey[0] && block[48 + 97] === 0);
 * assert(block[432] === fmc.signature[0] && block[432 + 96] === 0);
 * ```
 */
export function fmcSignatures(
  fmc: Pick<FmcFirmware, "hash" | "publicKey" | "signature">,
): Uint8Array {
  const parts = [
    { bytes: fmc.hash, room: FMC_HASH_SIZE, what: "hash" },
    { bytes: fmc.publicKey, room: FMC_PUBLIC_KEY_MAX_SIZE, what: "public key" },
    { bytes: fmc.signature, room: FMC_SIGNATURE_MAX_SIZE, what: "signature" },
  ];
  const out = new Uint8Array(FMC_SIGNATURES_SIZE);
  let at = 0;
  for (const { bytes, room, what } of parts) {
    if (bytes.length > room) {
      throw new RangeError(`FMC ${what} is ${bytes.length} bytes, over its ${room}-byte field`);
    }
    out.set(bytes, at);
    at += room;
  }
  return out;
}
