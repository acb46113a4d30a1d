// Tests of loader/deb_members.ts: GNU tar's listing parsed, and the GSP
// firmware selected from the real package's listing and from made-up ones.

import assert from "node:assert/strict";
import {
  packageFirmwareRoot,
  parseTarListing,
  selectFirmwareMembers,
} from "../loader/deb_members.ts";
import { FIRMWARE_MANIFEST } from "../loader/manifest.ts";
import { FIXTURES } from "./_fetch_fixture.ts";

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

Deno.test("the package's firmware root: usr/lib/firmware or lib/firmware, only below nvidia/", () => {
  assert.equal(packageFirmwareRoot("./usr/lib/firmware/nvidia/tu102/gsp"), "usr/lib/firmware/");
  assert.equal(packageFirmwareRoot("lib/firmware/nvidia/ad103"), "lib/firmware/");
  assert.equal(packageFirmwareRoot("./usr/lib/firmware/amdgpu/x.bin"), undefined);
  assert.equal(packageFirmwareRoot("./usr/lib/firmware/nvidia/"), undefined);
});
