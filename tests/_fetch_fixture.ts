// Shared by the fetch tests: a small firmware-nvidia-graphics .deb built here
// with dpkg-deb, the manifest it matches, a temporary apt folder naming a
// made-up mirror, and a fake apt-get that "downloads" that .deb (no network).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "../loader/manifest.ts";
import type { CommandResult } from "../loader/run_command.ts";

/** A made-up mirror, assembled so that no URL literal appears in the repository. */
export const MIRROR = ["http:", "", "mirror.invalid", "debian"].join("/");

/** The test fixtures folder. */
export const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

export const hasDpkgDeb = await new Deno.Command("dpkg-deb", {
  args: ["--version"],
  stdout: "null",
})
  .output().then((o) => o.success, () => false);

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A test that needs dpkg-deb (ignored as skipped without it), given a temporary folder. */
export function debTest(name: string, fn: (dir: string) => Promise<void>): void {
  Deno.test({
    name: `${name}${hasDpkgDeb ? "" : " (skipped: no dpkg-deb)"}`,
    ignore: !hasDpkgDeb,
    fn: () => withTempDir(fn),
  });
}

/** Run `fn` with a temporary folder, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The package's GSP files: path under usr/lib/firmware → contents. */
export const DEB_FILES: Record<string, string> = {
  "nvidia/tu102/gsp/booter_load-570.144.bin": "tu102 booter load",
  "nvidia/tu102/gsp/bootloader-535.113.01.bin": "tu102 riscv bootloader",
  "nvidia/ad102/gsp/gsp-570.144.bin": "ad102 gsp image",
};
export const DEB_LINKS: Record<string, string> = {
  "nvidia/tu102/gsp/bootloader-570.144.bin": "bootloader-535.113.01.bin",
  "nvidia/tu104/gsp": "../tu102/gsp",
  "nvidia/ad103": "ad102",
};
/** Members that must not be extracted. */
export const DEB_OTHER_FILES: Record<string, string> = {
  "usr/lib/firmware/nvidia/tu102/acr/bl.bin": "acr",
  "usr/lib/firmware/nvidia/gm200/acr/bl.bin": "old",
  "usr/share/doc/firmware-nvidia-graphics/copyright": "license",
};

export const DEB_MANIFEST: FirmwareManifest = {
  ...FIRMWARE_MANIFEST,
  files: Object.fromEntries(
    Object.entries(DEB_FILES).map(([p, text]) => [p, { sha256: sha256(text), size: text.length }]),
  ),
  links: DEB_LINKS,
};

/**
 * Build the package in `dir` with dpkg-deb; `firmwareRoot` is where it
 * keeps its firmware (Debian moved it from `lib/firmware` to `usr/lib/firmware`).
 */
export async function buildDeb(
  dir: string,
  files = DEB_FILES,
  firmwareRoot = "usr/lib/firmware",
): Promise<string> {
  const root = `${dir}/pkg`;
  const write = async (path: string, text: string) => {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  };
  for (const [p, text] of Object.entries(files)) await write(`${firmwareRoot}/${p}`, text);
  for (const [p, text] of Object.entries(DEB_OTHER_FILES)) {
    await write(p.replace("usr/lib/firmware", firmwareRoot), text);
  }
  for (const [p, target] of Object.entries(DEB_LINKS)) {
    const path = `${root}/${firmwareRoot}/${p}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.symlink(target, path);
  }
  await Deno.mkdir(`${root}/${firmwareRoot}/nvidia/gm200`, { recursive: true });
  await Deno.symlink("gm200", `${root}/${firmwareRoot}/nvidia/gm204`);
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
export async function tempAptDir(dir: string): Promise<string> {
  const aptDir = `${dir}/etc-apt`;
  await Deno.mkdir(`${aptDir}/sources.list.d`, { recursive: true });
  await Deno.writeTextFile(`${aptDir}/key.gpg`, "");
  await Deno.writeTextFile(
    `${aptDir}/sources.list.d/debian.sources`,
    `Types: deb\nURIs: ${MIRROR}\nSuites: trixie\nComponents: main\nSigned-By: ${aptDir}/key.gpg\n`,
  );
  return aptDir;
}

/** The sorted names in `dir`. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** The cache holds exactly the package's GSP files and links, nothing else of the package. */
export async function assertInstalledTree(firmware: string): Promise<void> {
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

/** The .deb's file name as apt-get download names it. */
export const DEB_NAME = "firmware-nvidia-graphics_20260916-1_all.deb";

/** A fake apt-get whose `download` copies `deb` into its folder; everything else succeeds. */
export function fakeAptGet(
  deb: string,
  calls: { argv: readonly string[]; cwd?: string }[] = [],
): (argv: readonly string[], cwd?: string) => Promise<CommandResult> {
  return async (argv, cwd) => {
    calls.push({ argv, cwd });
    if (argv.at(-2) === "download") await Deno.copyFile(deb, `${cwd}/${DEB_NAME}`);
    return { code: 0, stdout: "", stderr: "" };
  };
}
