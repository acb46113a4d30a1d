/**
 * What the command runners share: turning a program that is not installed
 * into a {@linkcode FalconryError}, and the one line of a tool's stderr that
 * says what went wrong.
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** Start a program through `start`; a program that is not installed becomes a FalconryError. */
export async function spawnGuard<T>(program: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FalconryError(
        `${program} is not installed; fetching firmware from Debian needs apt-get, dpkg-deb and tar`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** apt's `E:` line when there is one, else the last non-empty line of `text`. */
export function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith("E:")) ?? lines.at(-1) ?? "no message";
}
