// Tests of loader/apt_sources.ts: both apt formats read from fixture folders,
// and the choice of the Debian mirror among security, Ubuntu and third-party
// entries.

import assert from "node:assert/strict";
import {
  parseDeb822Sources,
  parseOneLineSources,
  pickDebianMirror,
  readAptSources,
} from "../loader/apt_sources.ts";
import { privateAptConfig } from "../loader/apt_config.ts";
import { FIXTURES, MIRROR } from "./_fetch_fixture.ts";

Deno.test("one-line sources: the Debian archive wins over security and third-party entries", async () => {
  const sources = await readAptSources(`${FIXTURES}apt_oneline`);
  // sources.list (4 entries), cloud-sdk.list, ubuntu.list; old.list.disabled is not read.
  assert.equal(sources.length, 6);
  assert.deepEqual(sources.map((s) => s.file.split("/").pop()), [
    "sources.list",
    "sources.list",
    "sources.list",
    "sources.list",
    "cloud-sdk.list",
    "ubuntu.list",
  ]);
  const debian = sources[2];
  assert.equal(debian.type, "deb");
  assert.equal(debian.uri, `${MIRROR}/`);
  assert.deepEqual(debian.suites, ["bookworm"]);
  assert.deepEqual(debian.components, ["main", "contrib", "non-free-firmware"]);
  assert.equal(debian.signedBy, "/etc/apt/keyrings/custom-debian.gpg");
  assert.deepEqual(sources[3].components, ["main"], "trailing comment stripped");

  const mirror = pickDebianMirror(sources);
  assert.deepEqual(mirror, {
    uri: MIRROR,
    keyring: "/etc/apt/keyrings/custom-debian.gpg",
    source: `${FIXTURES}apt_oneline/sources.list`,
  });
});

Deno.test("deb822 sources: disabled, security and third-party stanzas are skipped", async () => {
  const sources = await readAptSources(`${FIXTURES}apt_deb822`);
  assert.equal(sources.length, 4);
  assert.equal(sources[0].enabled, false);
  assert.deepEqual(sources[2].suites, ["trixie", "trixie-updates"]);
  assert.deepEqual(sources[2].components, ["main", "non-free-firmware"]);
  const mirror = pickDebianMirror(sources);
  assert.equal(mirror?.uri, MIRROR);
  assert.equal(mirror?.keyring, "/usr/share/keyrings/debian-archive-keyring.gpg");
  assert.match(mirror?.source ?? "", /debian\.sources$/);
});

Deno.test("no Debian archive among only security, Ubuntu and third-party sources", () => {
  const host = ["http:", "", "x.invalid"].join("/");
  const sources = parseOneLineSources(
    [
      `deb ${host}/debian-security trixie-security main`,
      `deb ${host}/ubuntu noble main`,
      `deb ${host}/repo nodistro main`,
      `deb ${host}/debian trixie contrib`,
      `deb cdrom:[Debian]/ trixie main`,
    ].join("\n"),
    "sources.list",
  );
  assert.equal(sources.length, 5);
  assert.equal(pickDebianMirror(sources), undefined);
});

Deno.test("keyring: default when Signed-By names fingerprints, a file for an inline key", () => {
  const byFingerprint = parseDeb822Sources(
    `Types: deb\nURIs: ${MIRROR}\nSuites: sid\nComponents: main\nSigned-By: ABCDEF0123456789\n`,
    "a.sources",
  );
  assert.equal(
    pickDebianMirror(byFingerprint)?.keyring,
    "/usr/share/keyrings/debian-archive-keyring.gpg",
  );

  const inline = parseDeb822Sources(
    [
      "Types: deb",
      `URIs: ${MIRROR}`,
      "Suites: sid",
      "Components: main",
      "Signed-By:",
      " -----BEGIN PGP PUBLIC KEY BLOCK-----",
      " .",
      " mQINBFAKE",
      " -----END PGP PUBLIC KEY BLOCK-----",
      "",
    ].join("\n"),
    "b.sources",
  );
  const mirror = pickDebianMirror(inline);
  assert.equal(
    mirror?.inlineKey,
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBFAKE\n-----END PGP PUBLIC KEY BLOCK-----",
  );
  const config = privateAptConfig("/c/falconry", mirror!);
  assert.equal(config.inlineKeyFile, "/c/falconry/apt/archive-key.asc");
  assert.equal(
    config.sourcesListText,
    `deb [signed-by=/c/falconry/apt/archive-key.asc] ${MIRROR} sid non-free-firmware\n`,
  );
});
