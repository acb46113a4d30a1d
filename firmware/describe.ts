/**
 * Describe any boot blob as plain, JSON-ready data: its kind and every field
 * of every header, named in camelCase after the reference's field names.
 * This is what `scripts/firmware.ts inspect` prints. A file that is no boot
 * blob is kind `"other"` with its size and magic, not an error.
 *
 * @module
 */

import { FirmwareFormatError } from "../errors.ts";
import { BIN_HEADER_FIELDS, BIN_HEADER_SIZE, BIN_MAGIC } from "./bin_header.ts";
import { parseBooter } from "./booter.ts";
import { bufferSource, type ByteSource } from "./byte_source.ts";
import { detectFirmwareKind, type FirmwareKind } from "./detect.ts";
import type { ElfFile } from "./elf.ts";
import { elfHeaderFlagNames, elfSectionFlagNames, elfValueName } from "./elf_names.ts";
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

/**
 * Insert a name after each numbered field that has one (`machine: 243,
 * machineName: "RISC-V"`), keeping the numbers for JSON readers.
 */
function withNames(
  fields: { [key: string]: JsonValue },
  names: Readonly<Record<string, (value: number) => JsonValue | undefined>>,
): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value;
    const name = typeof value === "number" && Object.hasOwn(names, key)
      ? names[key](value)
      : undefined;
    if (name !== undefined) out[key === "flags" ? "flagNames" : `${key}Name`] = name;
  }
  return out;
}

function elfFields(elf: ElfFile): { [key: string]: JsonValue } {
  const { sections, fileSize: _size, elfClass, ...header } = elf;
  const headerNames = {
    elfClass: (v: number) => elfValueName("elfClass", v),
    data: (v: number) => elfValueName("data", v),
    osAbi: (v: number) => elfValueName("osAbi", v),
    type: (v: number) => elfValueName("type", v),
    machine: (v: number) => elfValueName("machine", v),
    flags: (v: number) => {
      const names = elfHeaderFlagNames(elf.machine, v);
      return names.length > 0 ? names : undefined;
    },
  };
  const sectionNames = {
    type: (v: number) => elfValueName("sectionType", v),
    flags: (v: number) => elfSectionFlagNames(v),
  };
  return {
    // The parser accepts little-endian files only; `data` is stated for the reader.
    ...withNames(
      { elfClass, data: 1, ...(toJsonFields(header) as { [key: string]: JsonValue }) },
      headerNames,
    ),
    sections: sections.filter((s) => s.index !== 0).map((s) => {
      const { headerOffset: _at, ...fields } = s;
      return withNames(toJsonFields(fields) as { [key: string]: JsonValue }, sectionNames);
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
  "other": (source) => describeOther(source),
};

/**
 * What can be said of a file that is none of falconry's kinds: its size and
 * first bytes, and for an nvfw bin file (another falcon's ucode) its bin
 * header.
 */
function describeOther(source: ByteSource): { [key: string]: JsonValue } {
  const head = source.read(0, Math.min(source.size, BIN_HEADER_SIZE));
  const isBin = head.length === BIN_HEADER_SIZE &&
    new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === BIN_MAGIC;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return {
    note: "not a GSP boot blob",
    format: isBin ? "nvfw-bin" : "unknown",
    size: source.size,
    magic: [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" "),
    ...(isBin
      ? {
        binHeader: Object.fromEntries(
          BIN_HEADER_FIELDS.map((name, i) => [name, view.getUint32(4 * i, true)]),
        ),
      }
      : {}),
  };
}

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
 * @returns The kind (`"other"` for a file that is no boot blob) and the fields.
 * @throws {FirmwareFormatError} When a recognised blob does not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFirmware } from "./describe.ts";
 * import { forgeGenBootloader } from "./forge/hs_firmware.ts";
 * const d = describeFirmware(forgeGenBootloader({}), "gen_bootloader-570.144.bin");
 * assert(d.kind === "gen-bootloader");
 * const other = describeFirmware(new TextEncoder().encode("GR context"), "nvidia/tu102/gr/sw_ctx.bin");
 * assert(other.kind === "other" && other.format === "unknown" && other.size === 10);
 * ```
 */
export function describeFirmware(
  input: ByteSource | Uint8Array,
  file?: string,
): FirmwareDescription {
  const source = input instanceof Uint8Array ? bufferSource(input, file) : input;
  const name = file ?? source.name;
  const head = source.read(0, Math.min(source.size, 8));
  const isBin = head.length >= 4 &&
    new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === BIN_MAGIC;
  // nvfw bin files need their whole bytes to tell the three bin kinds apart when the name
  // does not; one too large for any of them is refused before it is read.
  const kind = detectFirmwareKind(isBin ? wholeFile(source, name) : head, name);
  return { kind, ...DESCRIBERS[kind](source, name) };
}
