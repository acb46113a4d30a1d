// Shared test helpers: where the real firmware and the real VBIOS are, and how
// tests that need them skip (with the reason in the test name) or, when
// FALCONRY_REQUIRE_REAL_FIRMWARE=1, fail.

import { firmwareSearchDirs } from "../loader/firmware_dirs.ts";

/** Whether CI demands real firmware (a missing file is then a failure). */
export const REQUIRE_REAL = Deno.env.get("FALCONRY_REQUIRE_REAL_FIRMWARE") === "1";

/** The shared folder next to the checkout (`../shared`), holding the real VBIOS. */
export const SHARED_DIR = new URL("../../shared/", import.meta.url).pathname;
export const REAL_VBIOS_PATH = `${SHARED_DIR}vbios/TU102.rom`;

/** Whether `path` exists (a file, a folder, or a link to one). */
export function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The first firmware root that holds `rel` (e.g. `nvidia/tu102/gsp/gsp-570.144.bin`). */
export function findRealFirmware(rel: string): string | undefined {
  for (const { dir } of firmwareSearchDirs()) {
    const p = `${dir}/${rel}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The firmware root that holds the whole real set, if any. */
export function realFirmwareRoot(): string | undefined {
  for (const { dir } of firmwareSearchDirs()) {
    if (existsSync(`${dir}/nvidia/tu102/gsp/booter_load-570.144.bin`)) return dir;
  }
  return undefined;
}

/**
 * Register a test that needs real firmware files. Each `rel` path is resolved
 * through the search order; when one is missing the test is ignored with
 * "skipped: <reason>" in its name, or fails when real firmware is required.
 */
export function realFirmwareTest(
  name: string,
  rels: string[],
  fn: (paths: string[]) => void | Promise<void>,
): void {
  const paths = rels.map(findRealFirmware);
  const missing = rels.filter((_, i) => !paths[i]);
  if (missing.length === 0) {
    Deno.test(name, () => fn(paths as string[]));
    return;
  }
  const listed = missing.length > 3
    ? `${missing.slice(0, 3).join(", ")} and ${missing.length - 3} more`
    : missing.join(", ");
  const reason = `real firmware missing (${listed}); run \`deno task firmware\``;
  if (REQUIRE_REAL) {
    Deno.test(name, () => {
      throw new Error(`FALCONRY_REQUIRE_REAL_FIRMWARE=1 but ${reason}`);
    });
  } else {
    Deno.test({ name: `${name} (skipped: ${reason})`, ignore: true, fn: () => {} });
  }
}

/** Register a test that needs the real TU102 VBIOS from `../shared/vbios/`. */
export function realVbiosTest(name: string, fn: (bytes: Uint8Array) => void | Promise<void>): void {
  if (existsSync(REAL_VBIOS_PATH)) {
    Deno.test(name, () => fn(Deno.readFileSync(REAL_VBIOS_PATH)));
  } else {
    Deno.test({
      name: `${name} (skipped: no real VBIOS at ${REAL_VBIOS_PATH})`,
      ignore: true,
      fn: () => {},
    });
  }
}
