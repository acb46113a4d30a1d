// Tests of loader/apt_config.ts: the private apt configuration, its exact
// command lines, the package size from `apt-cache show`, and the files it
// writes.

import assert from "node:assert/strict";
import {
  aptDownloadArgv,
  aptShowArgv,
  aptUpdateArgv,
  packageSizeFromShow,
  privateAptConfig,
  writeAptConfig,
} from "../loader/apt_config.ts";
import { MIRROR, withTempDir } from "./_fetch_fixture.ts";

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

Deno.test("apt-cache show: the candidate's Size, from the first stanza only", () => {
  const config = privateAptConfig("/c", { uri: MIRROR, keyring: "/k.gpg", source: "s" });
  assert.deepEqual(aptShowArgv(config), [
    "apt-cache",
    ...config.options,
    "show",
    "--no-all-versions",
    "firmware-nvidia-graphics",
  ]);
  const show = [
    "Package: firmware-nvidia-graphics",
    "Version: 20260916-1",
    "Description: firmware",
    " continued: Size: 1",
    "Size: 103809024",
    "",
    "Package: firmware-nvidia-graphics",
    "Version: 20250101-1",
    "Size: 5",
    "",
  ].join("\n");
  assert.equal(packageSizeFromShow(show), 103809024);
  assert.equal(packageSizeFromShow("Package: p\nSize: many\n"), undefined);
  assert.equal(packageSizeFromShow("N: Unable to locate package\n"), undefined);
});

Deno.test("writeAptConfig writes the sources list and the inline key, and makes apt's folders", async () => {
  await withTempDir(async (dir) => {
    const mirror = { uri: MIRROR, keyring: "/k.gpg", inlineKey: "KEY", source: "s" };
    const config = privateAptConfig(dir, mirror);
    await writeAptConfig(config, mirror);
    assert.equal(await Deno.readTextFile(config.sourcesList), config.sourcesListText);
    assert.equal(await Deno.readTextFile(`${dir}/apt/archive-key.asc`), "KEY\n");
    assert.ok((await Deno.stat(`${dir}/apt/lists/partial`)).isDirectory);
    assert.equal(config.archivesPartialDir, `${dir}/apt/cache/archives/partial`);
    assert.ok((await Deno.stat(config.archivesPartialDir)).isDirectory);
  });
});
