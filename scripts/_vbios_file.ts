// Opening a VBIOS file the user named, for the scripts that read one: it must
// exist, be a regular file and be no larger than any VBIOS dump can be; the
// bytes are then read on demand through a random-access source.

import { MAX_ROM_SIZE } from "../firmware/vbios/rom_images.ts";
import { type FileSource, fileSource } from "../loader/gsp_image.ts";
import { PathError, requirePath } from "./_cli.ts";

/**
 * The largest file taken as a VBIOS: 16 MiB. That is the largest expansion
 * ROM a PCI function can decode (the expansion ROM BAR's limit), and 16× the
 * 1 MiB the ROM images may span from the first one (`MAX_ROM_SIZE`, as in
 * NVIDIA's driver and nova-core); an nvflash dump adds only a header and,
 * at most, a second copy of the images. A larger file is something else (a
 * disk image, a memory dump) and is refused before anything is read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_VBIOS_FILE_SIZE } from "./_vbios_file.ts";
 * assert.equal(MAX_VBIOS_FILE_SIZE, 16 * 2 ** 20);
 * ```
 */
export const MAX_VBIOS_FILE_SIZE = 16 * MAX_ROM_SIZE;

/**
 * Open the VBIOS file `path` for random access.
 *
 * @param path The file the user named.
 * @param flag The option that named it (`--vbios`), for messages.
 * @throws {PathError} when it is missing, not a file, or larger than
 *   {@linkcode MAX_VBIOS_FILE_SIZE}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openVbiosFile } from "./_vbios_file.ts";
 * const path = Deno.makeTempFileSync();
 * Deno.truncateSync(path, 32 * 2 ** 20);
 * assert.throws(() => openVbiosFile(path, "--vbios"), /32 MiB is far larger than any VBIOS/);
 * Deno.truncateSync(path, 1024);
 * using source = openVbiosFile(path);
 * assert.equal(source.size, 1024);
 * Deno.removeSync(path);
 * ```
 */
export function openVbiosFile(path: string, flag?: string): FileSource {
  requirePath(path, "file", flag);
  const size = Deno.statSync(path).size;
  if (size > MAX_VBIOS_FILE_SIZE) {
    throw new PathError(
      path,
      "file",
      `${formatSize(size)} is far larger than any VBIOS (at most ${
        formatSize(MAX_VBIOS_FILE_SIZE)
      }: the largest PCI expansion ROM); is it a VBIOS dump?`,
      flag,
    );
  }
  return fileSource(path);
}

function formatSize(bytes: number): string {
  const mib = bytes / 2 ** 20;
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}
