/**
 * The system's apt sources, and the Debian mirror among them that falconry
 * fetches through. Both apt formats are read: one-line `sources.list` /
 * `*.list` files and deb822 `*.sources` stanzas. No host is written into
 * falconry: the mirror always comes from the system's own configuration.
 *
 * @module
 */

import { parseStanzas } from "./_deb822.ts";

/** The system keyring that signs the Debian archive. */
export const DEBIAN_ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** One `deb`/`deb-src` source of the system's apt configuration (one URI each). */
export interface AptSource {
  /** The file it was read from. */
  readonly file: string;
  /** `deb` or `deb-src`. */
  readonly type: string;
  /** The archive URI. */
  readonly uri: string;
  /** Suites (`bookworm`, `bookworm-updates`, …). */
  readonly suites: readonly string[];
  /** Components (`main`, `contrib`, …). */
  readonly components: readonly string[];
  /** The `signed-by` value: a keyring path, fingerprints, or an inline key. */
  readonly signedBy?: string;
  /** False for deb822 stanzas with `Enabled: no`. */
  readonly enabled: boolean;
}

/**
 * Parse a one-line-style sources file (`sources.list`, `*.list`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOneLineSources } from "./apt_sources.ts";
 * const uri = ["http:", "", "mirror.invalid", "debian"].join("/");
 * const [s] = parseOneLineSources(`deb [signed-by=/k.gpg] ${uri} trixie main contrib\n`, "a.list");
 * assert(s.uri === uri && s.signedBy === "/k.gpg" && s.components.join() === "main,contrib");
 * ```
 */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const typeMatch = /^(\S+)\s+(.*)$/.exec(line);
    if (!typeMatch) continue;
    const [, type, afterType] = typeMatch;
    let rest = afterType;
    const options = new Map<string, string>();
    if (rest.startsWith("[")) {
      const close = rest.indexOf("]");
      if (close < 0) continue;
      for (const option of rest.slice(1, close).trim().split(/\s+/)) {
        const eq = /^([A-Za-z-]+)[+-]?=(.*)$/.exec(option);
        if (eq) options.set(eq[1].toLowerCase(), eq[2]);
      }
      rest = rest.slice(close + 1).trim();
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    out.push({
      file,
      type,
      uri,
      suites: [suite],
      components,
      signedBy: options.get("signed-by"),
      enabled: true,
    });
  }
  return out;
}

/**
 * Parse a deb822-style sources file (`*.sources`): stanzas of `Types`,
 * `URIs`, `Suites`, `Components`, `Signed-By` and `Enabled`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDeb822Sources } from "./apt_sources.ts";
 * const uri = ["http:", "", "mirror.invalid", "debian"].join("/");
 * const text = `Types: deb deb-src\nURIs: ${uri}\nSuites: sid\nComponents: main\n`;
 * const sources = parseDeb822Sources(text, "debian.sources");
 * assert(sources.length === 2 && sources[1].type === "deb-src");
 * ```
 */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of parseStanzas(text)) {
    const words = (key: string) => (stanza.get(key) ?? "").split(/\s+/).filter(Boolean);
    const enabled = (stanza.get("enabled") ?? "yes").trim().toLowerCase() !== "no";
    const signedBy = stanza.get("signed-by")?.trim() || undefined;
    for (const type of words("types")) {
      for (const uri of words("uris")) {
        out.push({
          file,
          type,
          uri,
          suites: words("suites"),
          components: words("components"),
          signedBy,
          enabled,
        });
      }
    }
  }
  return out;
}

/**
 * Every source of the apt configuration in `aptDir`: `sources.list`, then
 * `sources.list.d/*.list` and `*.sources` in name order, as apt reads them.
 * Missing files are skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAptSources } from "./apt_sources.ts";
 * assert((await readAptSources(await Deno.makeTempDir())).length === 0);
 * ```
 */
export async function readAptSources(aptDir = "/etc/apt"): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = await readTextOrUndefined(`${aptDir}/sources.list`);
  if (main !== undefined) out.push(...parseOneLineSources(main, `${aptDir}/sources.list`));
  const partsDir = `${aptDir}/sources.list.d`;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(partsDir)) {
      if (entry.isFile || entry.isSymlink) names.push(entry.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const name of names.sort()) {
    const path = `${partsDir}/${name}`;
    const parse = name.endsWith(".list")
      ? parseOneLineSources
      : name.endsWith(".sources")
      ? parseDeb822Sources
      : undefined;
    if (!parse) continue;
    const text = await readTextOrUndefined(path);
    if (text !== undefined) out.push(...parse(text, path));
  }
  return out;
}

async function readTextOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** The Debian archive mirror falconry fetches through. */
export interface DebianMirror {
  /** The archive URI, without a trailing slash. */
  readonly uri: string;
  /** The keyring file that signs it. */
  readonly keyring: string;
  /** An ASCII-armoured key given inline in a deb822 `Signed-By`, if any. */
  readonly inlineKey?: string;
  /** The sources file that named it. */
  readonly source: string;
}

const DEBIAN_SUITES = new Set([
  "jessie",
  "stretch",
  "buster",
  "bullseye",
  "bookworm",
  "trixie",
  "forky",
  "duke",
  "sid",
  "oldoldstable",
  "oldstable",
  "stable",
  "testing",
  "unstable",
  "experimental",
]);
const DEBIAN_SUITE_SUFFIX = /-(updates|backports|backports-sloppy|proposed-updates)$/;

function isDebianSuite(suite: string): boolean {
  return DEBIAN_SUITES.has(suite.replace(DEBIAN_SUITE_SUFFIX, ""));
}

/**
 * The Debian archive among `sources`: an enabled entry over HTTP(S) with
 * component `main` and a Debian suite (not `-security`, not a third-party
 * suite), preferring a URI whose path ends in `/debian`. Its `Signed-By`
 * keyring is used when it names a file (or holds an inline key), else
 * {@linkcode DEBIAN_ARCHIVE_KEYRING}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOneLineSources, pickDebianMirror } from "./apt_sources.ts";
 * const host = ["http:", "", "mirror.invalid"].join("/");
 * const sources = parseOneLineSources(
 *   `deb ${host}/debian-security bookworm-security main\ndeb ${host}/debian bookworm main\n`,
 *   "sources.list",
 * );
 * assert(pickDebianMirror(sources)?.uri === `${host}/debian`);
 * ```
 */
export function pickDebianMirror(sources: readonly AptSource[]): DebianMirror | undefined {
  const candidates = sources.filter((s) =>
    s.enabled &&
    (s.type === "deb" || s.type === "deb-src") &&
    isHttpUri(s.uri) &&
    s.components.includes("main") &&
    s.suites.some(isDebianSuite) &&
    !s.suites.some((suite) => suite.endsWith("-security")) &&
    !uriPath(s.uri).endsWith("-security")
  );
  const score = (s: AptSource) =>
    (uriPath(s.uri).endsWith("/debian") ? 2 : 0) + (s.type === "deb" ? 1 : 0);
  let best: AptSource | undefined;
  for (const c of candidates) if (!best || score(c) > score(best)) best = c;
  if (!best) return undefined;
  const signedBy = best.signedBy;
  const uri = best.uri.replace(/\/+$/, "");
  if (signedBy?.includes("BEGIN PGP PUBLIC KEY BLOCK")) {
    return { uri, keyring: DEBIAN_ARCHIVE_KEYRING, inlineKey: signedBy, source: best.file };
  }
  const keyring = signedBy?.startsWith("/") ? signedBy.split(",")[0] : DEBIAN_ARCHIVE_KEYRING;
  return { uri, keyring, source: best.file };
}

function isHttpUri(uri: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(uri).protocol);
  } catch {
    return false;
  }
}

function uriPath(uri: string): string {
  try {
    return new URL(uri).pathname.replace(/\/+$/, "");
  } catch {
    return "";
  }
}
