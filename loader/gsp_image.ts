/**
 * Loading the GSP-RM image from a file, at the edge where falconry touches
 * the file system.
 *
 * {@linkcode loadGspImage} reads the ELF headers, `.fwversion` and the
 * chip's signature section of `gsp-<version>.bin` in two reads (the head of
 * the file, and its tail, where the real files keep everything but the
 * image), then reads the 28–63 MB `.fwimage` straight into a buffer that
 * stands for DMA memory (no intermediate copy of the file), zeroes the tail
 * of the last page, and builds the radix3 page tables over the image pages.
 * A {@linkcode GspMemoryPool} keeps that memory from one boot to the next, so
 * that only the first boot pays for touching 63 MB of fresh pages. A file
 * whose headers are not cached yet is read into a pool region from offset
 * 0x40, where real files keep `.fwimage`, while its headers are parsed
 * through a second descriptor; the parse confirms the guess, or the image is
 * read again from where the headers say.
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
import { fileIdentity, isSettled } from "./_file_identity.ts";
import { type GspImage, gspSignature, parseGspImage } from "../firmware/gsp_image.ts";
import {
  buildRadix3,
  contiguousRadix3Addresses,
  GSP_PAGE_SIZE,
  type Radix3Layout,
  radix3Layout,
  type Radix3Level,
  type Radix3Tables,
} from "../firmware/radix3.ts";

const log = getLogger(["falconry", "loader", "gsp-image"]);

/** A {@linkcode ByteSource} over an open file, read with positioned reads. */
export interface FileSource extends ByteSource, Disposable {
  /** The file's path. */
  readonly path: string;
  /** `read` system calls made on the file so far (a count to keep header parsing cheap). */
  readonly reads: number;
  /** The file's status when it was opened (its identity for caches). */
  readonly info: Deno.FileInfo;
  /**
   * Fill `target` with the file's bytes at `offset` (async positioned reads
   * straight into `target`, no intermediate buffer, no read window).
   */
  readInto(offset: number, target: Uint8Array): Promise<void>;
  /** Close the file (also done by `[Symbol.dispose]`); closing twice is harmless. */
  close(): void;
}

/** Options of {@linkcode fileSource}. */
export interface FileSourceOptions {
  /**
   * When `read` misses the windows already read, the window read from the
   * file also takes up to this many bytes before the request. Default
   * 64 KiB: the GSP image's section header table closes the file, and the
   * string table, `.fwversion` and signature sections (about 30 KiB) sit
   * just before it, so the read of the table brings them all in.
   */
  readBehind?: number;
  /** …and up to this many bytes after it. Default 4 KiB (the ELF header after its ident). */
  readAhead?: number;
}

/** Read windows kept by a {@linkcode fileSource}; older ones are dropped. */
const KEPT_WINDOWS = 2;
/** A `read` longer than this is read on its own, not through a window. */
const MAX_WINDOWED_READ = 1 << 20;

/**
 * Open `path` as a {@linkcode FileSource}. Hold it with `using` so that the
 * file is closed on every path.
 *
 * Small `read`s go through read windows (see {@linkcode FileSourceOptions}),
 * so that parsing a GSP image's headers, `.fwversion` and signature takes two
 * reads of the file: its head, and its tail.
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
 *   assert(src.read(0, 1)[0] === 1 && src.reads === 1); // the first read brought in the file
 * }
 * Deno.removeSync(path);
 * ```
 */
export function fileSource(path: string, options: FileSourceOptions = {}): FileSource {
  const readBehind = options.readBehind ?? 64 << 10;
  const readAhead = options.readAhead ?? 4 << 10;
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
  let info: Deno.FileInfo;
  try {
    const stat = info = file.statSync();
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
  let reads = 0;
  const windows: { offset: number; bytes: Uint8Array }[] = [];
  const shortRead = (offset: number, done: number, length: number) =>
    new FirmwareFormatError({
      file: path,
      offset: offset + done,
      field: "read",
      reason: `file ended after ${done} of ${length} bytes (was it changed while reading?)`,
    });
  /**
   * Reads `target.length` bytes at `start` (a window around a request), or
   * fewer at the end of the file; fails unless the request
   * `[offset, offset + length)` arrived.
   */
  const readWindow = (start: number, target: Uint8Array, offset: number, length: number) => {
    file.seekSync(start, Deno.SeekMode.Start);
    let done = 0;
    while (done < target.length) {
      const n = file.readSync(target.subarray(done));
      reads++;
      if (n === null || n === 0) break;
      done += n;
    }
    const arrived = Math.max(0, start + done - offset);
    if (arrived < length) throw shortRead(offset, arrived, length);
    return target.subarray(0, done);
  };
  const source: FileSource = {
    path,
    name: path,
    size,
    get reads() {
      return reads;
    },
    info,
    read(offset: number, length: number): Uint8Array {
      checkRange(source, offset, length);
      const end = offset + length;
      const hit = windows.find((w) => w.offset <= offset && end <= w.offset + w.bytes.length);
      if (hit) return hit.bytes.slice(offset - hit.offset, end - hit.offset);
      if (length > MAX_WINDOWED_READ) {
        return readWindow(offset, new Uint8Array(length), offset, length);
      }
      const start = Math.max(0, offset - readBehind);
      const window = new Uint8Array(Math.min(size, end + readAhead) - start);
      // The file may have shrunk since it was opened: only the requested bytes must arrive.
      const bytes = readWindow(start, window, offset, length);
      windows.unshift({ offset: start, bytes });
      windows.length = Math.min(windows.length, KEPT_WINDOWS);
      return bytes.slice(offset - start, end - start);
    },
    async readInto(offset: number, target: Uint8Array): Promise<void> {
      checkRange(source, offset, target.length);
      // Seek synchronously so that the first read is under way when this returns its promise.
      file.seekSync(offset, Deno.SeekMode.Start);
      for (let done = 0; done < target.length;) {
        const n = await file.read(target.subarray(done));
        reads++;
        if (n === null || n === 0) throw shortRead(offset, done, target.length);
        done += n;
      }
    },
    close(): void {
      if (!open) return;
      open = false;
      windows.length = 0;
      file.close();
    },
    [Symbol.dispose](): void {
      source.close();
    },
  };
  return source;
}

/** Options of {@linkcode GspMemoryPool}. */
export interface GspMemoryPoolOptions {
  /**
   * Allocates a region of at least `byteLength` bytes: DMA memory, or an
   * `mmap`ed region backed by huge pages. Defaults to a new `Uint8Array`.
   */
  allocate?: (byteLength: number) => Uint8Array;
  /** Free regions kept for the next load; more are dropped (default 1). */
  keep?: number;
}

/**
 * Memory for GSP images, reused from one load (one boot) to the next.
 *
 * A fresh 63 MB buffer costs far more to first-touch than to read the image
 * into (160–250 ms against 6 ms on a VM, page faults and zeroing by the
 * kernel); a region that has been touched once costs nothing more. A
 * {@linkcode loadGspImage} that takes its region from a pool gives it back
 * when the loaded image is disposed, and the next load reuses it.
 * {@linkcode GspMemoryPool.reserve} pays the first touch ahead of time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GspMemoryPool } from "./gsp_image.ts";
 * const pool = new GspMemoryPool();
 * const a = pool.take(8192);
 * pool.give(a);
 * assert(pool.take(4096) === a && pool.allocations === 1 && pool.reuses === 1);
 * ```
 */
export class GspMemoryPool {
  readonly #allocate: (byteLength: number) => Uint8Array;
  readonly #keep: number;
  readonly #free: Uint8Array[] = [];
  readonly #taken = new Set<Uint8Array>();
  #allocations = 0;
  #reuses = 0;

  /**
   * A pool with no regions yet.
   *
   * @param options How regions are allocated and how many free ones are kept.
   */
  constructor(options: GspMemoryPoolOptions = {}) {
    this.#allocate = options.allocate ?? ((n) => new Uint8Array(n));
    this.#keep = options.keep ?? 1;
  }

  /** Regions allocated so far. */
  get allocations(): number {
    return this.#allocations;
  }

  /** Takes served by a region given back earlier. */
  get reuses(): number {
    return this.#reuses;
  }

  /**
   * A region of at least `byteLength` bytes: the smallest free one that is
   * large enough, or a new one. Its contents are whatever the last user
   * left. Give it back with {@linkcode GspMemoryPool.give}.
   *
   * @throws {RangeError} When `allocate` returns fewer than `byteLength` bytes.
   */
  take(byteLength: number): Uint8Array {
    const fits = this.#free
      .filter((r) => r.length >= byteLength)
      .sort((a, b) => a.length - b.length)[0];
    let region = fits;
    if (region) {
      this.#free.splice(this.#free.indexOf(region), 1);
      this.#reuses++;
    } else {
      region = this.#allocate(byteLength);
      if (!(region instanceof Uint8Array) || region.length < byteLength) {
        throw new RangeError(
          `allocate(${byteLength}) returned ${region?.length ?? "no"} bytes`,
        );
      }
      this.#allocations++;
    }
    this.#taken.add(region);
    return region;
  }

  /**
   * Return a region taken from this pool. Up to `keep` free regions are kept.
   *
   * @throws {RangeError} When the region is not one this pool handed out (or was given back already).
   */
  give(region: Uint8Array): void {
    if (!this.#taken.delete(region)) {
      throw new RangeError("give: this region was not taken from this pool, or was given back");
    }
    this.#free.unshift(region);
    this.#free.length = Math.min(this.#free.length, this.#keep);
  }

  /**
   * Allocate a free region of `byteLength` bytes now and write every page of
   * it once, so that a later load does not pay the first touch.
   */
  reserve(byteLength: number): void {
    const region = this.take(byteLength);
    for (let i = 0; i < region.length; i += GSP_PAGE_SIZE) region[i] = 0;
    this.give(region);
  }
}

/**
 * The pool {@linkcode loadGspImage} uses when given neither `allocate` nor
 * `pool`: a loaded image that is disposed leaves its region here for the next
 * load in this process.
 */
export const DEFAULT_GSP_MEMORY_POOL: GspMemoryPool = new GspMemoryPool();

/** A GSP image's headers with one chip's signature, as {@linkcode readGspHeaders} returns them. */
export interface GspHeaders {
  /** The parsed headers (shared between the loads of one file: frozen). */
  readonly headers: GspImage;
  /** The chip's signature section (a copy of its own). */
  readonly signature: Uint8Array;
}

/** What a {@linkcode GspHeaderCache} keeps for one file. */
export interface GspHeaderCacheEntry {
  /** The parsed, frozen headers. */
  readonly headers: GspImage;
  /** Signature sections read so far, by name. */
  readonly signatures: Map<string, Uint8Array>;
}

/** Parsed GSP image headers by path and file identity. */
export type GspHeaderCache = Map<string, GspHeaderCacheEntry>;

/**
 * The process-wide {@linkcode GspHeaderCache}: a GSP image is parsed once
 * per process (by `loadFirmwareSet` or the first `loadGspImage`), and later
 * loads of the unchanged file read only its `.fwimage`.
 */
export const GSP_HEADER_CACHE: GspHeaderCache = new Map();

/**
 * Parse a GSP image's headers and read the chip's signature section, or take
 * both from `cache` when the same path was parsed before and the file has
 * kept its identity (device, inode, size, modification and change times). A
 * file changed within the last 0.1 s is parsed every time.
 *
 * @param source The open file.
 * @param signatureSection The chip's signature section, from `chips/`.
 * @param cache Where parsed headers are kept; `false` parses without caching.
 * @throws {FirmwareFormatError} As `parseGspImage` and `gspSignature`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileSource, readGspHeaders } from "./gsp_image.ts";
 * import { forgeGspImage } from "../firmware/forge/elf.ts";
 * const path = Deno.makeTempFileSync({ suffix: ".bin" });
 * Deno.writeFileSync(path, forgeGspImage({ imageSize: 5000 }));
 * await new Promise((settled) => setTimeout(settled, 200)); // a file just written is not cached
 * const cache = new Map();
 * for (const reads of [2, 0]) {
 *   using source = fileSource(path);
 *   const { headers, signature } = readGspHeaders(source, ".fwsignature_ga10x", cache);
 *   assert(headers.imageSize === 5000 && signature.length === 4096 && source.reads === reads);
 * }
 * Deno.removeSync(path);
 * ```
 */
export function readGspHeaders(
  source: FileSource,
  signatureSection: string,
  cache: GspHeaderCache | false = GSP_HEADER_CACHE,
): GspHeaders {
  const key = headerCacheKey(source);
  const cacheable = cache !== false && isSettled(source.info);
  let entry = cacheable ? cache.get(key) : undefined;
  if (!entry) {
    entry = { headers: deepFreeze(parseGspImage(source, source.path)), signatures: new Map() };
    if (cacheable) cache.set(key, entry);
  }
  let signature = entry.signatures.get(signatureSection);
  if (!signature) {
    signature = gspSignature(entry.headers, source, signatureSection);
    entry.signatures.set(signatureSection, signature);
  }
  return { headers: entry.headers, signature: signature.slice() };
}

function headerCacheKey(source: FileSource): string {
  return `${source.path}\0${fileIdentity(source.info)}`;
}

function hasCachedHeaders(source: FileSource, cache: GspHeaderCache | false): boolean {
  return cache !== false && isSettled(source.info) && cache.has(headerCacheKey(source));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Options of {@linkcode loadGspImage}. */
export interface LoadGspImageOptions {
  /** The chip's signature section, from `chips/` (`FAMILIES[family].gspSignatureSection`). */
  signatureSection: string;
  /**
   * Returns the memory the image is read into: at least `byteLength` bytes
   * (the image rounded up to 4 KiB pages), typically a DMA buffer; the radix3
   * tables are then new `Uint8Array`s. Without it, the image and the tables
   * share one region from `pool`.
   */
  allocate?: (byteLength: number) => Uint8Array;
  /**
   * Where the region for the tables and the image comes from when `allocate`
   * is absent: the region holds the radix3 tables, then the image pages (as
   * {@linkcode contiguousRadix3Addresses} lays them out), and goes back to
   * the pool when the loaded image is disposed. Defaults to
   * {@linkcode DEFAULT_GSP_MEMORY_POOL}.
   */
  pool?: GspMemoryPool;
  /**
   * DMA address of image page `page`. Defaults, together with
   * `tablePageAddress`, to offsets in one region laid out as NVIDIA lays it
   * out (tables, then image; {@linkcode contiguousRadix3Addresses} at 0).
   */
  imagePageAddress?: (page: number) => bigint;
  /** DMA address of page `page` of radix3 table `level`. */
  tablePageAddress?: (level: Radix3Level, page: number) => bigint;
  /**
   * Parsed headers kept from earlier loads (see {@linkcode readGspHeaders});
   * `false` parses the file every time. Defaults to {@linkcode GSP_HEADER_CACHE}.
   */
  headerCache?: GspHeaderCache | false;
}

/**
 * What {@linkcode loadGspImage} returns. Disposing it gives its region back
 * to the pool it came from (when it came from one); its buffers must not be
 * used after that.
 */
export interface LoadedGspImage extends Disposable {
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
  /**
   * The whole region from the pool (radix3 tables, then `imageBuffer`), or
   * `undefined` when `allocate` supplied the image's memory.
   */
  region?: Uint8Array;
  /**
   * `read` system calls made on the file: 3 for a real image (head, tail,
   * `.fwimage`), 1 when its headers came from the header cache, more when
   * an early read guessed the image's place wrong.
   */
  fileReads: number;
}

/**
 * Read a GSP image file: headers and signature (two reads: the file's head
 * and its tail), `.fwimage` straight into DMA memory (one read), and the
 * radix3 tables.
 *
 * The memory is one region from `options.pool` (tables, then image) unless
 * `options.allocate` supplies the image's memory. Hold the result with
 * `using` so that the region goes back to the pool for the next boot.
 *
 * @throws {FirmwareFormatError} (naming `path`) When the file is malformed or
 *   lacks the signature section.
 * @throws {FirmwareNotFoundError} When the file does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GspMemoryPool, loadGspImage } from "./gsp_image.ts";
 * import { forgeGspImage } from "../firmware/forge/elf.ts";
 * const path = Deno.makeTempFileSync({ suffix: ".bin" });
 * Deno.writeFileSync(path, forgeGspImage({ imageSize: 5000 }));
 * const pool = new GspMemoryPool();
 * for (let boot = 0; boot < 2; boot++) {
 *   using gsp = await loadGspImage(path, { signatureSection: ".fwsignature_ga10x", pool });
 *   assert(gsp.imageSize === 5000 && gsp.imageBuffer.length === 8192);
 *   assert(gsp.signature.length === 4096 && gsp.radix3.layout.imagePages === 2);
 *   assert(gsp.fileReads === 3); // the head, the tail (headers, signature), .fwimage
 * }
 * assert(pool.allocations === 1 && pool.reuses === 1);
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
    using sources = new DisposableStack();
    const headerCache = options.headerCache ?? GSP_HEADER_CACHE;
    const pool = options.allocate ? undefined : options.pool ?? DEFAULT_GSP_MEMORY_POOL;
    // Headers to parse: read the image meanwhile, where it most likely is (see startEarlyRead).
    let early = pool && source.size >= EARLY_READ_FROM && !hasCachedHeaders(source, headerCache)
      ? startEarlyRead(source, pool)
      : undefined;
    let headerSource = source;
    let headers: GspImage;
    let signature: Uint8Array;
    try {
      if (early) {
        headerSource = sources.use(fileSource(path));
        if (fileIdentity(headerSource.info) !== fileIdentity(source.info)) {
          headerSource = source; // replaced between the two opens: parse what is being read
        }
      }
      ({ headers, signature } = readGspHeaders(
        headerSource,
        options.signatureSection,
        headerCache,
      ));
    } catch (e) {
      await early?.settle();
      throw e;
    }
    const layout = radix3Layout(headers.imageSize);
    const byteLength = layout.imagePages * GSP_PAGE_SIZE;
    const tableLength = layout.tablePages * GSP_PAGE_SIZE;
    if (
      early &&
      (headerSource === source || headers.image.offset !== early.offset ||
        tableLength !== early.tableLength)
    ) {
      await early.settle(); // a guess that missed: its bytes are not the image
      early = undefined;
    }
    const region = early?.region ?? pool?.take(tableLength + byteLength);
    let memory: Uint8Array;
    if (region) {
      memory = region.subarray(tableLength);
    } else {
      memory = options.allocate!(byteLength);
      if (!(memory instanceof Uint8Array) || memory.length < byteLength) {
        throw new RangeError(
          `allocate(${byteLength}) returned ${memory?.length ?? "no"} bytes for ${path}`,
        );
      }
    }
    let given = false;
    const giveBack = () => {
      if (!region || given) return;
      given = true;
      pool!.give(region);
    };
    try {
      const imageBuffer = memory.subarray(0, byteLength);
      const image = imageBuffer.subarray(0, headers.imageSize);
      // The tables are built while the image is read (they need only its size).
      const reading = early?.reading ?? source.readInto(headers.image.offset, image);
      let radix3: Radix3Tables;
      try {
        radix3 = buildTables(layout, options, region);
        if (!early) imageBuffer.fill(0, headers.imageSize);
      } catch (e) {
        await reading.catch(() => {}); // the file stays open until the read is over
        throw e;
      }
      await reading;
      // The early read brought the file's tail in after the image.
      if (early) region!.fill(0, tableLength + headers.imageSize);
      const fileReads = source.reads + (headerSource === source ? 0 : headerSource.reads);
      log.debug(
        "loaded {path}: version {version}, image {imageSize} bytes, {tablePages} radix3 pages, " +
          "{reads} reads, {ms} ms",
        {
          path,
          version: headers.version,
          imageSize: headers.imageSize,
          tablePages: layout.tablePages,
          reads: fileReads,
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
        region,
        fileReads,
        [Symbol.dispose]: giveBack,
      };
    } catch (e) {
      giveBack();
      throw e;
    }
  } catch (e) {
    throw e instanceof FirmwareFormatError ? e.withFile(path) : e;
  }
}

/**
 * Where `.fwimage` is guessed to start before the headers say: right after
 * the 64-byte ELF64 header, where every real `gsp-*.bin` keeps it.
 */
const EARLY_IMAGE_OFFSET = 0x40;
/** Files from this size on are read early; a smaller one is read after its headers. */
const EARLY_READ_FROM = 1 << 20;

/** A read of a file's likely image started before its headers were parsed. */
interface EarlyRead {
  /** The file offset it reads from. */
  readonly offset: number;
  /** The table bytes it left at the region's start (for an image of its guessed size). */
  readonly tableLength: number;
  /** The pool region it reads into (after `tableLength`). */
  readonly region: Uint8Array;
  /** The read. */
  readonly reading: Promise<void>;
  /** Wait for the read to end, ignore its outcome, and give the region back. */
  settle(): Promise<void>;
}

/**
 * Start reading a file whose headers are not yet known, from
 * {@linkcode EARLY_IMAGE_OFFSET} to its end, into a pool region laid out for
 * an image that large (tables first): the image's bytes are then on their
 * way while the headers are parsed through a second descriptor, and a
 * parse that confirms the guess only waits for the read. The file's bytes
 * after the image land past it and are zeroed afterwards.
 */
function startEarlyRead(source: FileSource, pool: GspMemoryPool): EarlyRead {
  const offset = EARLY_IMAGE_OFFSET;
  const guessed = radix3Layout(source.size - offset);
  const tableLength = guessed.tablePages * GSP_PAGE_SIZE;
  const region = pool.take(tableLength + guessed.imagePages * GSP_PAGE_SIZE);
  const reading = source.readInto(
    offset,
    region.subarray(tableLength, tableLength + source.size - offset),
  );
  let settled = false;
  return {
    offset,
    tableLength,
    region,
    reading,
    async settle() {
      if (settled) return;
      settled = true;
      await reading.catch(() => {});
      pool.give(region);
    },
  };
}

/** The radix3 tables of `layout`: in the region's first pages when there is one. */
function buildTables(
  layout: Radix3Layout,
  options: LoadGspImageOptions,
  region: Uint8Array | undefined,
): Radix3Tables {
  const defaults = contiguousRadix3Addresses(layout, 0n);
  // Level 0, level 1, level 2, then the image: the region's layout and the default addresses'.
  const levelStart = [
    0,
    layout.level0Pages,
    layout.level0Pages + layout.level1Pages,
    layout.tablePages,
  ]
    .map((page) => page * GSP_PAGE_SIZE);
  return buildRadix3({
    imageSize: layout.imageSize,
    imagePageAddress: options.imagePageAddress ?? defaults.imagePageAddress,
    tablePageAddress: options.tablePageAddress ?? defaults.tablePageAddress,
    tables: region && {
      level0: region.subarray(levelStart[0], levelStart[1]),
      level1: region.subarray(levelStart[1], levelStart[2]),
      level2: region.subarray(levelStart[2], levelStart[3]),
    },
  });
}
