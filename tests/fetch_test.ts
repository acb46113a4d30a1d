// Tests of loader/fetch.ts: apt sources, the private apt configuration, the
// package member selection, and extraction from a small .deb built here (no
// network: apt-get is replaced by a fake that copies that .deb).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  aptDownloadArgv,
  aptUpdateArgv,
  type CommandResult,
  fetchFirmware,
  installFirmwareFromDeb,
  parseDeb822Sources,
  parseOneLineSources,
  parseTarListing,
  pickDebianMirror,
  privateAptConfig,
  readAptSources,
  selectFirmwareMembers,
} from "../loader/fetch.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "../loader/manifest.ts";
import { FalconryError, FirmwareChecksumError } from "../errors.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
// Made-up hosts, assembled so that no URL literal appears in this file.
const MIRROR = ["http:", "", "mirror.invalid", "debian"].join("/");

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

Deno.test("private apt configuration: the exact apt-get command lines", () => {
  const config = privateAptConfig("/home/u/.cache/falconry", {
    uri: MIRROR,
    keyring: "/usr/share/keyrings/debian-archive-keyring.gpg",
    source: "/etc/apt/sources.list.d/debian.sources",
  });
  assert.equal(config.sourcesList, "/home/u/.cache/falconry/apt/sources.list");
  assert.equal(
    config.sourcesListText,
    `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${MIRROR} sid non-free-firmware\n`,
  );
  const options = [
    "-o",
    "Dir::Etc::sourcelist=/home/u/.cache/falconry/apt/sources.list",
    "-o",
    "Dir::Etc::sourceparts=-",
    "-o",
    "Dir::Etc::preferences=-",
    "-o",
    "Dir::Etc::preferencesparts=-",
    "-o",
    "Dir::State::Lists=/home/u/.cache/falconry/apt/lists",
    "-o",
    "Dir::Cache=/home/u/.cache/falconry/apt/cache",
    "-o",
    "Acquire::Languages=none",
    "-o",
    "APT::Sandbox::User=root",
  ];
  assert.deepEqual(aptUpdateArgv(config), ["apt-get", ...options, "--error-on=any", "update"]);
  assert.deepEqual(aptDownloadArgv(config), [
    "apt-get",
    ...options,
    "download",
    "firmware-nvidia-graphics",
  ]);
});

Deno.test("member selection from the real package listing: gsp files and every kind of link", async () => {
  const listing = parseTarListing(
    await Deno.readTextFile(`${FIXTURES}firmware_nvidia_graphics_listing.txt`),
  );
  assert.equal(listing.length, 615);
  const selected = selectFirmwareMembers(listing);
  const byKind = (kind: string) => selected.filter((m) => m.kind === kind);
  assert.equal(byKind("file").length, 38);
  assert.equal(byKind("file-link").length, 15);
  assert.equal(byKind("gsp-link").length, 7);
  assert.equal(byKind("chip-link").length, 9);
  // Exactly the manifest: its files, and its links with their targets.
  assert.deepEqual(
    byKind("file").map((m) => m.path),
    Object.keys(FIRMWARE_MANIFEST.files),
  );
  assert.deepEqual(
    Object.fromEntries(selected.filter((m) => m.kind !== "file").map((m) => [m.path, m.target])),
    FIRMWARE_MANIFEST.links,
  );
  // No directories (tar would recurse into them) and nothing outside gsp/.
  const names = new Set(selected.map((m) => m.name));
  for (const m of listing.filter((m) => m.type === "directory")) assert.ok(!names.has(m.name));
  assert.ok(selected.every((m) => /^\.\/usr\/lib\/firmware\/nvidia\//.test(m.name)));
  assert.ok(!selected.some((m) => /\/(acr|sec2|nvdec|gsp\/)$/.test(m.name)));
  assert.ok(selected.some((m) => m.name === "./usr/lib/firmware/nvidia/ga103/gsp"));
  assert.ok(!selected.some((m) => m.name.includes("/ga103/acr/")));
  const tu104 = selected.find((m) => m.path === "nvidia/tu104/gsp");
  assert.deepEqual(tu104, {
    name: "./usr/lib/firmware/nvidia/tu104/gsp",
    path: "nvidia/tu104/gsp",
    kind: "gsp-link",
    target: "../tu102/gsp",
  });
});

Deno.test("member selection: chip links to chips without gsp firmware are left out", () => {
  const line = (mode: string, name: string) =>
    `${mode} root/root 0 2026-09-30 15:10 ./lib/firmware/nvidia/${name}`;
  const listing = parseTarListing(
    [
      line("drwxr-xr-x", "gm200/"),
      line("-rw-r--r--", "gm200/acr/bl.bin"),
      line("lrwxrwxrwx", "gm204 -> gm200"),
      line("-rw-r--r--", "ga102/gsp/gsp-570.144.bin"),
      line(
        "hrw-r--r--",
        "ga102/gsp/copy.bin link to ./lib/firmware/nvidia/ga102/gsp/gsp-570.144.bin",
      ),
      line("lrwxrwxrwx", "ga104 -> ga103"),
      line("lrwxrwxrwx", "ga103 -> ga102"),
      line("lrwxrwxrwx", "ga109/gsp/x.bin -> ../../ga102/gsp/gsp-570.144.bin"),
      line("drwxr-xr-x", "ga102/gsp/deeper/"),
      line("-rw-r--r--", "ga102/gsp/deeper/y.bin"),
    ].join("\n"),
  );
  assert.equal(listing[4].type, "hardlink");
  assert.equal(listing[4].target, "./lib/firmware/nvidia/ga102/gsp/gsp-570.144.bin");
  const selected = selectFirmwareMembers(listing);
  assert.deepEqual(selected.map((m) => [m.path, m.kind]), [
    ["nvidia/ga102/gsp/copy.bin", "file"],
    ["nvidia/ga102/gsp/gsp-570.144.bin", "file"],
    ["nvidia/ga103", "chip-link"],
    ["nvidia/ga104", "chip-link"],
    ["nvidia/ga109/gsp/x.bin", "file-link"],
  ]);
});

// ---------------------------------------------------------------------------
// extraction from a .deb built here

const hasDpkgDeb = await new Deno.Command("dpkg-deb", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A test that needs dpkg-deb (ignored as skipped without it), given a temporary folder. */
function debTest(name: string, fn: (dir: string) => Promise<void>): void {
  Deno.test({
    name: `${name}${hasDpkgDeb ? "" : " (skipped: no dpkg-deb)"}`,
    ignore: !hasDpkgDeb,
    fn: async () => {
      const dir = await Deno.makeTempDir();
      try {
        await fn(dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/** The package's GSP files: path under usr/lib/firmware → contents. */
const DEB_FILES: Record<string, string> = {
  "nvidia/tu102/gsp/booter_load-570.144.bin": "tu102 booter load",
  "nvidia/tu102/gsp/bootloader-535.113.01.bin": "tu102 riscv bootloader",
  "nvidia/ad102/gsp/gsp-570.144.bin": "ad102 gsp image",
};
const DEB_LINKS: Record<string, string> = {
  "nvidia/tu102/gsp/bootloader-570.144.bin": "bootloader-535.113.01.bin",
  "nvidia/tu104/gsp": "../tu102/gsp",
  "nvidia/ad103": "ad102",
};
/** Members that must not be extracted. */
const DEB_OTHER_FILES: Record<string, string> = {
  "usr/lib/firmware/nvidia/tu102/acr/bl.bin": "acr",
  "usr/lib/firmware/nvidia/gm200/acr/bl.bin": "old",
  "usr/share/doc/firmware-nvidia-graphics/copyright": "license",
};

const DEB_MANIFEST: FirmwareManifest = {
  ...FIRMWARE_MANIFEST,
  files: Object.fromEntries(
    Object.entries(DEB_FILES).map(([p, text]) => [p, { sha256: sha256(text), size: text.length }]),
  ),
  links: DEB_LINKS,
};

async function buildDeb(dir: string, files = DEB_FILES): Promise<string> {
  const root = `${dir}/pkg`;
  const write = async (path: string, text: string) => {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  };
  for (const [p, text] of Object.entries(files)) await write(`usr/lib/firmware/${p}`, text);
  for (const [p, text] of Object.entries(DEB_OTHER_FILES)) await write(p, text);
  for (const [p, target] of Object.entries(DEB_LINKS)) {
    const path = `${root}/usr/lib/firmware/${p}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.symlink(target, path);
  }
  await Deno.mkdir(`${root}/usr/lib/firmware/nvidia/gm200`, { recursive: true });
  await Deno.symlink("gm200", `${root}/usr/lib/firmware/nvidia/gm204`);
  await write(
    "DEBIAN/control",
    [
      "Package: firmware-nvidia-graphics",
      "Version: 20260916-1",
      "Architecture: all",
      "Maintainer: falconry tests <tests@falconry.invalid>",
      "Description: test fixture",
      "",
    ].join("\n"),
  );
  const deb = `${dir}/firmware-nvidia-graphics_20260916-1_all.deb`;
  const out = await new Deno.Command("dpkg-deb", {
    args: ["--root-owner-group", "-Zgzip", "--build", root, deb],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  await Deno.remove(root, { recursive: true });
  return deb;
}

/** An apt folder in `dir` naming the made-up mirror, signed by a keyring file that exists. */
async function tempAptDir(dir: string): Promise<string> {
  const aptDir = `${dir}/etc-apt`;
  await Deno.mkdir(`${aptDir}/sources.list.d`, { recursive: true });
  await Deno.writeTextFile(`${aptDir}/key.gpg`, "");
  await Deno.writeTextFile(
    `${aptDir}/sources.list.d/debian.sources`,
    `Types: deb\nURIs: ${MIRROR}\nSuites: trixie\nComponents: main\nSigned-By: ${aptDir}/key.gpg\n`,
  );
  return aptDir;
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function assertInstalledTree(firmware: string): Promise<void> {
  for (const [p, text] of Object.entries(DEB_FILES)) {
    assert.ok((await Deno.lstat(`${firmware}/${p}`)).isFile, p);
    assert.equal(await Deno.readTextFile(`${firmware}/${p}`), text);
  }
  for (const [p, target] of Object.entries(DEB_LINKS)) {
    assert.ok((await Deno.lstat(`${firmware}/${p}`)).isSymlink, p);
    assert.equal(await Deno.readLink(`${firmware}/${p}`), target);
  }
  // Through a gsp-folder link and a file link, and through a chip link.
  assert.equal(
    await Deno.readTextFile(`${firmware}/nvidia/tu104/gsp/bootloader-570.144.bin`),
    "tu102 riscv bootloader",
  );
  assert.equal(
    await Deno.readTextFile(`${firmware}/nvidia/ad103/gsp/gsp-570.144.bin`),
    "ad102 gsp image",
  );
  assert.deepEqual(await listDir(`${firmware}/nvidia`), ["ad102", "ad103", "tu102", "tu104"]);
  assert.deepEqual(await listDir(`${firmware}/nvidia/tu102`), ["gsp"]);
}

debTest("extraction from a .deb built with dpkg-deb", async (dir) => {
  const deb = await buildDeb(dir);
  const cache = `${dir}/cache/falconry`;
  const steps: string[] = [];
  const result = await installFirmwareFromDeb(deb, {
    cacheDir: cache,
    manifest: DEB_MANIFEST,
    onStep: (s) => steps.push(s.step),
  });
  assert.deepEqual(steps, ["list", "extract", "verify", "install"]);
  assert.equal(result.firmwareDir, `${cache}/firmware`);
  assert.equal(result.files, 3);
  assert.equal(result.links, 3);
  assert.equal(result.bytes, Object.values(DEB_FILES).join("").length);
  assert.deepEqual(result.unknownFiles, []);
  await assertInstalledTree(`${cache}/firmware`);
  assert.deepEqual(await listDir(cache), ["firmware"], "no work folder left behind");

  // A second install replaces the first one whole.
  await Deno.writeTextFile(`${cache}/firmware/stale.txt`, "old");
  await installFirmwareFromDeb(deb, { cacheDir: cache, manifest: DEB_MANIFEST });
  await assertInstalledTree(`${cache}/firmware`);
  await assert.rejects(Deno.lstat(`${cache}/firmware/stale.txt`), Deno.errors.NotFound);
  assert.deepEqual(await listDir(cache), ["firmware"]);
});

debTest("a package that differs from the manifest fails and keeps the old cache", async (dir) => {
  const deb = await buildDeb(dir, {
    ...DEB_FILES,
    "nvidia/ad102/gsp/gsp-570.144.bin": "ad102 gsp imagE",
  });
  const cache = `${dir}/falconry`;
  await Deno.mkdir(`${cache}/firmware`, { recursive: true });
  await Deno.writeTextFile(`${cache}/firmware/previous.txt`, "kept");
  const error = await installFirmwareFromDeb(deb, { cacheDir: cache, manifest: DEB_MANIFEST })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof FirmwareChecksumError, String(error));
  assert.match(error.path, /nvidia\/ad102\/gsp\/gsp-570\.144\.bin$/);
  assert.equal(error.expected, sha256("ad102 gsp image"));
  assert.equal(error.actual, sha256("ad102 gsp imagE"));
  assert.equal(await Deno.readTextFile(`${cache}/firmware/previous.txt`), "kept");
  assert.deepEqual(await listDir(cache), ["firmware"]);
});

debTest(
  "fetchFirmware: apt-get runs with the private configuration, the .deb is deleted",
  async (dir) => {
    const deb = await buildDeb(dir);
    const cache = `${dir}/falconry`;
    const calls: { argv: readonly string[]; cwd?: string; debs: string[] }[] = [];
    const fakeAptGet = async (argv: readonly string[], cwd?: string): Promise<CommandResult> => {
      const debs = cwd ? await listDir(cwd) : [];
      calls.push({ argv, cwd, debs });
      if (argv.at(-1) === "firmware-nvidia-graphics") {
        await Deno.copyFile(deb, `${cwd}/firmware-nvidia-graphics_20260916-1_all.deb`);
      }
      return { code: 0, stdout: "", stderr: "" };
    };
    const steps: string[] = [];
    const aptDir = await tempAptDir(dir);
    const result = await fetchFirmware({
      cacheDir: cache,
      aptDir,
      manifest: DEB_MANIFEST,
      aptGet: fakeAptGet,
      onStep: (s) => steps.push(s.step),
    });
    assert.deepEqual(steps, [
      "sources",
      "update",
      "download",
      "list",
      "extract",
      "verify",
      "install",
    ]);
    const config = privateAptConfig(cache, result.mirror);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0].argv, aptUpdateArgv(config));
    assert.equal(calls[0].cwd, undefined);
    assert.deepEqual(calls[1].argv, aptDownloadArgv(config));
    assert.match(calls[1].cwd ?? "", new RegExp(`^${cache}/\\.fetch-`));
    assert.deepEqual(calls[1].debs, [], "downloads into an empty folder");
    assert.equal(result.mirror.uri, MIRROR);
    assert.equal(result.packageVersion, "20260916-1");
    assert.equal(result.debBytes, (await Deno.stat(deb)).size);
    assert.equal(
      await Deno.readTextFile(`${cache}/apt/sources.list`),
      `deb [signed-by=${aptDir}/key.gpg] ${MIRROR} sid non-free-firmware\n`,
    );
    await assertInstalledTree(`${cache}/firmware`);
    assert.deepEqual(await listDir(cache), ["apt", "firmware"], "no .deb, no work folder");
  },
);

Deno.test("fetchFirmware: apt failures and a system without Debian sources are FalconryErrors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const failing = (): Promise<CommandResult> =>
      Promise.resolve({
        code: 100,
        stdout: "",
        stderr: "W: Failed to fetch sid/InRelease\nE: Some index files failed to download.\n",
      });
    const error = await fetchFirmware({
      cacheDir: `${dir}/falconry`,
      aptDir: `${FIXTURES}apt_oneline`,
      aptGet: failing,
    }).then(() => undefined, (e) => e);
    // The fixture's custom keyring does not exist here: that is reported first.
    assert.ok(error instanceof FalconryError);
    assert.match(error.message, /custom-debian\.gpg is missing/);

    const offline = await fetchFirmware({
      cacheDir: `${dir}/falconry`,
      aptDir: await tempAptDir(dir),
      aptGet: failing,
    }).then(() => undefined, (e) => e);
    assert.ok(offline instanceof FalconryError);
    assert.equal(
      offline.message,
      "apt-get update failed (exit 100): E: Some index files failed to download.",
    );

    const none = await fetchFirmware({
      cacheDir: `${dir}/falconry`,
      aptDir: FIXTURES,
      aptGet: failing,
    })
      .then(() => undefined, (e) => e);
    assert.ok(none instanceof FalconryError);
    assert.match(none.message, /no Debian archive in the apt sources/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
