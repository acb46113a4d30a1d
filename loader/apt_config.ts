/**
 * falconry's private apt configuration: a sources list, lists folder and
 * apt cache inside falconry's cache folder, naming only the Debian mirror
 * that the system's sources already use, and the `apt-get`/`apt-cache`
 * command lines that use it. The system's own apt state is never touched.
 *
 * @module
 */

import { parseStanzas } from "./_deb822.ts";
import type { DebianMirror } from "./apt_sources.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "./manifest.ts";

/** apt's configuration for falconry's private sources and lists. */
export interface AptConfig {
  /** `<cache>/apt`. */
  readonly dir: string;
  /** The private sources list file. */
  readonly sourcesList: string;
  /** Its contents: one line naming the mirror, suite and component. */
  readonly sourcesListText: string;
  /** Where the keyring given inline is written, when the mirror has one. */
  readonly inlineKeyFile?: string;
  /** The private lists folder. */
  readonly listsDir: string;
  /** The private apt cache folder. */
  readonly aptCacheDir: string;
  /** Where apt keeps a package while it downloads it (`<aptCacheDir>/archives/partial`). */
  readonly archivesPartialDir: string;
  /** `-o` options that point apt at the private files. */
  readonly options: readonly string[];
}

/**
 * The private apt configuration inside falconry's cache folder for `mirror`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { privateAptConfig } from "./apt_config.ts";
 * const uri = ["http:", "", "mirror.invalid", "debian"].join("/");
 * const config = privateAptConfig("/c", { uri, keyring: "/k.gpg", source: "x" });
 * assert(config.sourcesListText === `deb [signed-by=/k.gpg] ${uri} sid non-free-firmware\n`);
 * assert(config.options.includes("Dir::State::Lists=/c/apt/lists"));
 * ```
 */
export function privateAptConfig(
  cache: string,
  mirror: DebianMirror,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): AptConfig {
  const dir = `${cache}/apt`;
  const inlineKeyFile = mirror.inlineKey ? `${dir}/archive-key.asc` : undefined;
  const keyring = inlineKeyFile ?? mirror.keyring;
  const sourcesList = `${dir}/sources.list`;
  const listsDir = `${dir}/lists`;
  const aptCacheDir = `${dir}/cache`;
  const settings = [
    `Dir::Etc::sourcelist=${sourcesList}`,
    "Dir::Etc::sourceparts=-",
    // A system that pins sid away must not hide the package from us.
    "Dir::Etc::preferences=-",
    "Dir::Etc::preferencesparts=-",
    `Dir::State::Lists=${listsDir}`,
    `Dir::Cache=${aptCacheDir}`,
    "Acquire::Languages=none",
    // Our folders live in a private home the _apt user cannot enter.
    "APT::Sandbox::User=root",
  ];
  return {
    dir,
    sourcesList,
    sourcesListText:
      `deb [signed-by=${keyring}] ${mirror.uri} ${manifest.suite} ${manifest.component}\n`,
    inlineKeyFile,
    listsDir,
    aptCacheDir,
    archivesPartialDir: `${aptCacheDir}/archives/partial`,
    options: settings.flatMap((s) => ["-o", s]),
  };
}

/**
 * The `apt-get update` command line for the private configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aptUpdateArgv, privateAptConfig } from "./apt_config.ts";
 * const argv = aptUpdateArgv(privateAptConfig("/c", { uri: "x", keyring: "/k", source: "s" }));
 * assert(argv[0] === "apt-get" && argv.at(-1) === "update");
 * ```
 */
export function aptUpdateArgv(config: AptConfig): string[] {
  return ["apt-get", ...config.options, "--error-on=any", "update"];
}

/**
 * The `apt-get download` command line for the private configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aptDownloadArgv, privateAptConfig } from "./apt_config.ts";
 * const argv = aptDownloadArgv(privateAptConfig("/c", { uri: "x", keyring: "/k", source: "s" }));
 * assert(argv.slice(-2).join(" ") === "download firmware-nvidia-graphics");
 * ```
 */
export function aptDownloadArgv(
  config: AptConfig,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): string[] {
  return ["apt-get", ...config.options, "download", manifest.package];
}

/**
 * The `apt-cache show` command line for the package's candidate version in
 * the private lists; its `Size` field is the size of the .deb that
 * `apt-get download` fetches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aptShowArgv, privateAptConfig } from "./apt_config.ts";
 * const argv = aptShowArgv(privateAptConfig("/c", { uri: "x", keyring: "/k", source: "s" }));
 * assert(argv[0] === "apt-cache" && argv.slice(-3).join(" ") === "show --no-all-versions firmware-nvidia-graphics");
 * ```
 */
export function aptShowArgv(
  config: AptConfig,
  manifest: FirmwareManifest = FIRMWARE_MANIFEST,
): string[] {
  return ["apt-cache", ...config.options, "show", "--no-all-versions", manifest.package];
}

/**
 * The `Size` of the first stanza of `apt-cache show` output, or undefined
 * when it has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packageSizeFromShow } from "./apt_config.ts";
 * assert(packageSizeFromShow("Package: p\nVersion: 1\nSize: 103809024\n") === 103809024);
 * assert(packageSizeFromShow("") === undefined);
 * ```
 */
export function packageSizeFromShow(text: string): number | undefined {
  const size = parseStanzas(text)[0]?.get("size");
  return size !== undefined && /^\d+$/.test(size) ? Number(size) : undefined;
}

/**
 * Write the private sources list (and the inline key, when the mirror has
 * one) and create apt's folders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { privateAptConfig, writeAptConfig } from "./apt_config.ts";
 * const mirror = { uri: "x", keyring: "/k.gpg", source: "s" };
 * const config = privateAptConfig(await Deno.makeTempDir(), mirror);
 * await writeAptConfig(config, mirror);
 * assert((await Deno.readTextFile(config.sourcesList)) === config.sourcesListText);
 * assert((await Deno.stat(config.archivesPartialDir)).isDirectory);
 * ```
 */
export async function writeAptConfig(config: AptConfig, mirror: DebianMirror): Promise<void> {
  await Deno.mkdir(`${config.listsDir}/partial`, { recursive: true });
  await Deno.mkdir(config.archivesPartialDir, { recursive: true });
  await Deno.writeTextFile(config.sourcesList, config.sourcesListText);
  if (config.inlineKeyFile && mirror.inlineKey) {
    await Deno.writeTextFile(config.inlineKeyFile, `${mirror.inlineKey}\n`);
  }
}
