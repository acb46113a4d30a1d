/**
 * Describe any boot blob as plain, JSON-ready data: its kind and every field
 * of every header, named in camelCase after the reference's field names.
 * This is what `scripts/firmware.ts inspect` prints.
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { parseBooter } from "./booter.ts";
import { bufferSource, type ByteSource } from "./byte_source.ts";
import { detectFirmwareKind, type FirmwareKind } from "./detect.ts";
import type { ElfFile } from "./elf.ts";
import { parseFmc } from "./fmc.ts";
import { parseGenBootloader } from "./gen_bootloader.ts";
import { parseGspImage } from "./gsp_image.ts";
import { parseRiscvBootloader } from "./riscv_bootloader.ts";
import { parseTlv } from "./tlv.ts";
import { parseVbios } from "./vbios/vbios.ts";

/** A JSON value. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** What {@linkcode describeFirmware} returns: the kind, then the fields. */
export interface FirmwareDescription {
  /** The detected kind. */
  kind: FirmwareKind;
  /** Every header field, nested by header. */
  [field: string]: JsonValue;
}

/** Larger nvfw-bin/TLV files than this are not boot blobs; refuse to read them whole. */
const MAX_WHOLE_FILE = 64 * 1024 * 1024;

/**
 * Turn a parse result into JSON-ready data: byte payloads are dropped (they
 * are not header fields), bigints become hex strings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJsonFields } from "./describe.ts";
 * const out = toJsonFields({ a: 1, image: new Uint8Array(4), q: 0x10n, n: { b: [2] } });
 * assert(JSON.stringify(out) === '{"a":1,"q":"0x10","n":{"b":[2]}}');
 * ```
 */
export function toJsonFields(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return `0x${value.toString(16)}`;
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
    return value;
  }
  if (Array.isArray(value)) {
    return value.filter((v) => !ArrayBuffer.isView(v)).map(toJsonFields);
  }
  if (typeof value === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === "function" || ArrayBuffer.isView(v)) continue;
      if (Array.isArray(v) && v.length > 0 && v.every((x) => ArrayBuffer.isView(x))) continue;
      out[k] = toJsonFields(v);
    }
    return out;
  }
  return String(value);
}

function elfFields(elf: ElfFile): { [key: string]: JsonValue } {
  const { sections, fileSize: _size, ...header } = elf;
  return {
    ...(toJsonFields(header) as { [key: string]: JsonValue }),
    sections: sections.filter((s) => s.index !== 0).map((s) => {
      const { headerOffset: _at, ...fields } = s;
      return toJsonFields(fields);
    }),
  };
}

const isAllZero = (b: Uint8Array) => b.every((x) => x === 0);
const u32At = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);

/** One describer per kind: data, not branching. */
const DESCRIBERS: Readonly<
  Record<FirmwareKind, (source: ByteSource, file?: string) => { [key: string]: JsonValue }>
> = {
  "booter": (source, file) => {
    const b = parseBooter(wholeFile(source, file), file);
    return {
      ...(toJsonFields(b) as { [key: string]: JsonValue }),
      signatures: b.signatures.map((s, index) => ({
        index,
        size: s.length,
        allZero: isAllZero(s),
      })),
      imageSize: b.image.length,
    };
  },
  "riscv-bootloader": (source, file) => {
    const b = parseRiscvBootloader(wholeFile(source, file), file);
    return { ...(toJsonFields(b) as { [key: string]: JsonValue }), ucodeSize: b.ucode.length };
  },
  "gen-bootloader": (source, file) => {
    const b = parseGenBootloader(wholeFile(source, file), file);
    return toJsonFields(b) as { [key: string]: JsonValue };
  },
  "gsp-image": (source, file) => {
    const g = parseGspImage(source, file);
    const signatureSizes = [...new Set(g.signatureSections.map((s) => s.size))];
    return {
      version: g.version,
      imageOffset: g.image.offset,
      imageSize: g.imageSize,
      signatureSize: signatureSizes.length === 1 ? signatureSizes[0] : null,
      signatureSections: g.signatureSections.map((s) => ({
        name: s.name,
        offset: s.offset,
        size: s.size,
      })),
      ...elfFields(g.elf),
    };
  },
  "fmc": (source, file) => {
    const f = parseFmc(source, file);
    return {
      imageSize: f.image.length,
      hashSize: f.hash.length,
      publicKeySize: f.publicKey.length,
      signatureSize: f.signature.length,
      ...elfFields(f.elf),
    };
  },
  "tlv": (source, file) => {
    const t = parseTlv(wholeFile(source, file), file);
    const vers = t.blocks.find((b) => b.tag === "VERS");
    const text = vers && /^[\x20-\x7e]*$/.test(new TextDecoder().decode(vers.value))
      ? new TextDecoder().decode(vers.value)
      : undefined;
    // SIGN holds NSIG equal-sized signatures (one when there is no NSIG).
    const sign = t.blocks.find((b) => b.tag === "SIGN");
    const nsig = t.blocks.find((b) => b.tag === "NSIG");
    const count = !nsig ? 1 : nsig.value.length === 4 ? u32At(nsig.value) : 0;
    const signatureSize = sign && count > 0 && sign.value.length % count === 0
      ? sign.value.length / count
      : undefined;
    return {
      ...(text !== undefined ? { version: text } : {}),
      ...(signatureSize !== undefined ? { signatureSize } : {}),
      blocks: t.blocks.map((b) => ({
        tag: b.tag,
        offset: b.offset,
        length: b.value.length,
        ...(b.value.length === 4 ? { u32: u32At(b.value) } : {}),
      })),
    };
  },
  "vbios": (source) => describeVbios(source),
};

/**
 * Describe a VBIOS: IFR header, ROM images, BIT tokens, PMU table, the
 * version, and under `fwsec` every FWSEC descriptor field, the signature
 * count and size, and the DMEM mapper with its ucode offset.
 *
 * @param source The VBIOS (a file, a buffer or a PROM window).
 * @throws {FirmwareFormatError} When a table on the way is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeVbios } from "./describe.ts";
 * import { bufferSource } from "./byte_source.ts";
 * import { forgeVbios } from "./forge/vbios.ts";
 * const d = describeVbios(bufferSource(forgeVbios({}).bytes));
 * assert(typeof d.fwsec === "object");
 * ```
 */
export function describeVbios(source: ByteSource): { [key: string]: JsonValue } {
  const v = parseVbios(source);
  const { fwsec, pcAtImage: _pcAt, version, ...layout } = v;
  const out: { [key: string]: JsonValue } = {
    version: version?.text ?? null,
    biosVersion: version?.biosVersion ?? null,
    biosOemVersion: version?.biosOemVersion ?? null,
    ...(toJsonFields(layout) as { [key: string]: JsonValue }),
  };
  if (fwsec) {
    const { descriptor, dmemMapper, signatures, ucode, ...rest } = fwsec;
    out.fwsec = {
      ...(toJsonFields(descriptor) as { [key: string]: JsonValue }),
      ...(toJsonFields(rest) as { [key: string]: JsonValue }),
      ucodeSize: ucode.length,
      signatureCount: signatures.length,
      signatureSize: signatures[0]?.length ?? 0,
      dmemMapperOffset: dmemMapper?.ucodeOffset ?? null,
      dmemMapper: toJsonFields(dmemMapper),
    };
  }
  return out;
}

function wholeFile(source: ByteSource, file?: string): Uint8Array {
  if (source.size > MAX_WHOLE_FILE) {
    throw new FirmwareFormatError({
      file,
      offset: 0,
      field: "file",
      reason: `${source.size} bytes is too large for this kind of file`,
    });
  }
  return source.read(0, source.size);
}

/**
 * Detect a blob's kind and describe every header field. Reads only the
 * headers of ELF files and the needed parts of a VBIOS.
 *
 * @param input The file as a {@linkcode ByteSource} or its bytes.
 * @param file The file's name or path (used for detection and in errors).
 * @throws {FirmwareFormatError} When the blob does not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFirmware } from "./describe.ts";
 * import { forgeGenBootloader } from "./forge/hs_firmware.ts";
 * const d = describeFirmware(forgeGenBootloader({}), "gen_bootloader-570.144.bin");
 * assert(d.kind === "gen-bootloader");
 * ```
 */
export function describeFirmware(
  input: ByteSource | Uint8Array,
  file?: string,
): FirmwareDescription {
  const source = input instanceof Uint8Array ? bufferSource(input, file) : input;
  const name = file ?? source.name;
  const head = source.read(0, Math.min(source.size, 8));
  const kind = detectFirmwareKind(
    source.size > 8 ? padHead(head, source) : head,
    name,
  );
  return { kind, ...DESCRIBERS[kind](source, name) };
}

// Bin files need their whole bytes to tell the three bin kinds apart when the name does not.
function padHead(head: Uint8Array, source: ByteSource): Uint8Array {
  const isBin = head[0] === 0xde && head[1] === 0x10 && head[2] === 0 && head[3] === 0;
  return isBin && source.size <= MAX_WHOLE_FILE ? source.read(0, source.size) : head;
}
