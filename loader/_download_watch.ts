/**
 * Watching a download grow: `apt-get download` says nothing while it runs,
 * so the size of the package's file is polled in apt's partial folder and
 * in the destination folder.
 *
 * @module
 */

/** The summed size of the files in `dirs` whose name starts with `prefix` and ends in `.deb`. */
export async function downloadedBytes(dirs: readonly string[], prefix: string): Promise<number> {
  let bytes = 0;
  for (const dir of dirs) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (!entry.name.startsWith(prefix) || !entry.name.endsWith(".deb")) continue;
        try {
          bytes += (await Deno.lstat(`${dir}/${entry.name}`)).size;
        } catch {
          // Renamed from the partial folder meanwhile; counted on the next poll.
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return bytes;
}

/** Call `onBytes` with {@linkcode downloadedBytes} every `intervalMs` until disposed. */
export function watchDownload(
  dirs: readonly string[],
  prefix: string,
  onBytes: (bytes: number) => void,
  intervalMs = 200,
): AsyncDisposable {
  let polling: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (polling) return;
    polling = downloadedBytes(dirs, prefix).then(onBytes, () => undefined).finally(() => {
      polling = undefined;
    });
  }, intervalMs);
  return {
    async [Symbol.asyncDispose]() {
      clearInterval(timer);
      await polling;
    },
  };
}
