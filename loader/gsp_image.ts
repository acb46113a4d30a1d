/**
 * Loading the GSP-RM image from a file, at the edge where falconry touches
 * the file system.
 *
 * {@linkcode loadGspImage} reads only the ELF headers and `.fwversion` of
 * `gsp-<version>.bin`, then reads the 28–63 MB `.fwimage` straight into a
 * buffer that stands for DMA memory (no intermediate copy of the file), zeroes
 * the tail of the last page, reads the chip's signature section and builds
 * the radix3 page tables over the image pages.
 *
 * @example
 * ```ts ignore
 * import { loadGspImage } from "./gsp_image.ts";
 * const gsp = await loadGspImage("/lib/firmware/nvidia/ga102/gsp/gsp-570.144.bin", {
 *   signatureSection: ".fwsignature_ga10x",
 * });
 * console.log(gsp.version, gsp.imageSize, gsp.radix3.layout.tablePages);
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FirmwareFormatError, FirmwareNotFoundError } from "../errors.ts";
import { type ByteSource, checkRange } from "../firmware/byte_source.ts";
import { type GspImage, gspSignature, parseGspImage } from "../firmware/gsp_image.ts";
import {
  buildRadix3,
  contiguousRadix3Addresses,
  GSP_PAGE_SIZE,
  radix3Layout,
  type Radix3Level,
  type Radix3Tables,
} from "../firmware/radix3.ts";

const log = getLogger(["falconry", "loader", "gsp-image"]);

/** A {@linkcode ByteSource} over an open file, read with positioned reads. */
export interface FileSource extends ByteSource, Disposable {
  /** The file's path. */
  readonly path: string;
  /**
   * Fill `target` with the file's bytes at `offset` (async positioned reads
   * straight into `target`, no intermediate buffer).
   */
  readInto(offset: number, target: Uint8Array): Promise<void>;
  /** Close the file (also done by `[Symbol.dispose]`); closing twice is harmless. */
  close(): void;
}

/**
 * Open `path` as a {@linkcode FileSource}. Hold it with `using` so that the
 * file is closed on every path.
 *
 * @throws {FirmwareNotFoundError} When the file does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileSource } from "./gsp_image.ts";
 * const path = Deno.makeTempFileSync();
 * Deno.writeFileSync(path, new Uint8Array([1, 2, 3, 4]));
 * {
 *   using src = fileSource(path);
 *   assert(src.size === 4 && src.read(1, 2)[1] === 3);
 * }
 * Deno.removeSync(path);
 * ```
 */
export function fileSource(path: string): FileSource {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FirmwareNotFoundError([{ path, searched: [path] }]);
    }
    throw e;
  }
  let size: number;
  try {
    const stat = file.statSync();
    if (!stat.isFile) {
      throw new FirmwareFormatError({
        file: path,
        offset: 0,
        field: "file",
        reason: stat.isDirectory ? "is a directory, not a file" : "is not a regular file",
      });
    }
    size = stat.size;
  } catch (e) {
    file.close();
    throw e;
  }
  let open = true;
  const shortRead = (offset: number, done: number, length: number) =>
    new FirmwareFormatError({
      file: path,
      offset: offset + done,
      field: "read",
      reason: `file ended after ${done} of ${length} bytes (was it changed while reading?)`,
    });
  const source: FileSource = {
    path,
    name: path,
    size,
    read(offset: number, length: number): Uint8Array {
      checkRange(source, offset, length);
      const out = new Uint8Array(length);
      file.seekSync(offset, Deno.SeekMode.Start);
      for (let done = 0; done < length;) {
        const n = file.readSync(out.subarray(done));
        if (n === null || n === 0) throw shortRead(offset, done, length);
        done += n;
      }
      return out;
    },
    async readInto(offset: number, target: Uint8Array): Promise<void> {
      checkRange(source, offset, target.length);
      await file.seek(offset, Deno.SeekMode.Start);
      for (let done = 0; done < target.length;) {
        const n = await file.read(target.subarray(done));
        if (n === null || n === 0) throw shortRead(offset, done, target.length);
        done += n;
      }
    },
    close(): void {
      if (!open) return;
      open = false;
      file.close();
    },
    [Symbol.dispose](): void {
      source.close();
    },
  };
  return source;
}

/** Options of {@linkcode loadGspImage}. */
export interface LoadGspImageOptions {
  /** The chip's signature section, from `chips/` (`FAMILIES[family].gspSignatureSection`). */
  signatureSection: string;
  /**
   * Returns the memory the image is read into: at least `byteLength` bytes
   * (the image rounded up to 4 KiB pages), typically a DMA buffer. Defaults
   * to a new `Uint8Array`.
   */
  allocate?: (byteLength: number) => Uint8Array;
  /**
   * DMA address of image page `page`. Defaults, together with
   * `tablePageAddress`, to offsets in one region laid out as NVIDIA lays it
   * out (tables, then image; {@linkcode contiguousRadix3Addresses} at 0).
   */
  imagePageAddress?: (page: number) => bigint;
  /** DMA address of page `page` of radix3 table `level`. */
  tablePageAddress?: (level: Radix3Level, page: number) => bigint;
}

/** What {@linkcode loadGspImage} returns. */
export interface LoadedGspImage {
  /** The file read. */
  path: string;
  /** The `.fwversion` text, e.g. `570.144`. */
  version: string;
  /** `.fwimage` size in bytes. */
  imageSize: number;
  /** The image: the first `imageSize` bytes of `imageBuffer`. */
  image: Uint8Array;
  /** The whole page-rounded buffer the image was read into (its tail zeroed). */
  imageBuffer: Uint8Array;
  /** The chip's signature section. */
  signature: Uint8Array;
  /** The radix3 page tables over `imageBuffer`'s pages. */
  radix3: Radix3Tables;
  /** The parsed headers. */
  headers: GspImage;
}

/**
 * Read a GSP image file: headers, `.fwimage` straight into the buffer
 * `allocate` returns, the signature section, and the radix3 tables.
 *
 * @throws {FirmwareFormatError} (naming `path`) When the file is malformed or
 *   lacks the signature section.
 * @throws {FirmwareNotFoundError} When the file does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadGspImage } from "./gsp_image.ts";
 * import { forgeGspImage } from "../firmware/forge/elf.ts";
 * const path = Deno.makeTempFileSync({ suffix: ".bin" });
 * Deno.writeFileSync(path, forgeGspImage({ imageSize: 5000 }));
 * const gsp = await loadGspImage(path, { signatureSection: ".fwsignature_ga10x" });
 * assert(gsp.imageSize === 5000 && gsp.imageBuffer.length === 8192);
 * assert(gsp.signature.length === 4096 && gsp.radix3.layout.imagePages === 2);
 * Deno.removeSync(path);
 * ```
 */
export async function loadGspImage(
  path: string,
  options: LoadGspImageOptions,
): Promise<LoadedGspImage> {
  const started = performance.now();
  try {
    using source = fileSource(path);
    const headers = parseGspImage(source, path);
    const signature = gspSignature(headers, source, options.signatureSection);
    const layout = radix3Layout(headers.imageSize);
    const byteLength = layout.imagePages * GSP_PAGE_SIZE;
    const memory = options.allocate ? options.allocate(byteLength) : new Uint8Array(byteLength);
    if (!(memory instanceof Uint8Array) || memory.length < byteLength) {
      throw new RangeError(
        `allocate(${byteLength}) returned ${memory?.length ?? "no"} bytes for ${path}`,
      );
    }
    const imageBuffer = memory.subarray(0, byteLength);
    const image = imageBuffer.subarray(0, headers.imageSize);
    await source.readInto(headers.image.offset, image);
    imageBuffer.fill(0, headers.imageSize);

    const defaults = contiguousRadix3Addresses(layout, 0n);
    const radix3 = buildRadix3({
      imageSize: headers.imageSize,
      imagePageAddress: options.imagePageAddress ?? defaults.imagePageAddress,
      tablePageAddress: options.tablePageAddress ?? defaults.tablePageAddress,
    });
    log.debug(
      "loaded {path}: version {version}, image {imageSize} bytes, {tablePages} radix3 pages, " +
        "{ms} ms",
      {
        path,
        version: headers.version,
        imageSize: headers.imageSize,
        tablePages: layout.tablePages,
        ms: Math.round(performance.now() - started),
      },
    );
    return {
      path,
      version: headers.version,
      imageSize: headers.imageSize,
      image,
      imageBuffer,
      signature,
      radix3,
      headers,
    };
  } catch (e) {
    throw e instanceof FirmwareFormatError ? e.withFile(path) : e;
  }
}
