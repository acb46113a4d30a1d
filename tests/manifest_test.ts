// Tests of loader/manifest.ts and loader/verify.ts: the committed manifest
// against the chip table and the real files, and checks that catch a
// corrupted copy.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CHIPS } from "../chips/chips.ts";
import { firmwareFiles } from "../chips/firmware_files.ts";
import { FirmwareChecksumError, FirmwareNotFoundError } from "../errors.ts";
import { versionsForChip } from "../loader/locate.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "../loader/manifest.ts";
import {
  assertFirmwareTree,
  checkFirmwareFile,
  checkFirmwareTree,
  renderManifestModule,
  resolveManifestPath,
  scanFirmwareTree,
  sha256File,
  verifyFirmwareFile,
} from "../loader/verify.ts";
import { realFirmwareTest } from "./_real.ts";

const MANIFEST_FILES = Object.keys(FIRMWARE_MANIFEST.files);

Deno.test("manifest: package 20260916-1, 38 files, 31 links", () => {
  assert.equal(FIRMWARE_MANIFEST.package, "firmware-nvidia-graphics");
  assert.equal(FIRMWARE_MANIFEST.version, "20260916-1");
  assert.equal(FIRMWARE_MANIFEST.suite, "sid");
  assert.equal(FIRMWARE_MANIFEST.component, "non-free-firmware");
  assert.equal(MANIFEST_FILES.length, 38);
  assert.equal(Object.keys(FIRMWARE_MANIFEST.links).length, 31);
  for (const [path, f] of Object.entries(FIRMWARE_MANIFEST.files)) {
    assert.match(path, /^nvidia\/[a-z]{2}\d{3}\/gsp\/[a-z_]+-\d+(\.\d+)+\.bin$/);
    assert.match(f.sha256, /^[0-9a-f]{64}$/);
    assert.ok(f.size > 0);
  }
  const total = Object.values(FIRMWARE_MANIFEST.files).reduce((n, f) => n + f.size, 0);
  assert.equal(total, 156_177_580);
  assert.equal(FIRMWARE_MANIFEST.files["nvidia/ga102/gsp/gsp-570.144.bin"].size, 63_571_696);
  assert.equal(FIRMWARE_MANIFEST.files["nvidia/tu102/gsp/gen_bootloader-570.144.bin"].size, 816);
});

Deno.test("manifest: every file of every chip's boot resolves to a manifest file, and every manifest file is used", () => {
  const used = new Set<string>();
  let sets = 0;
  for (const chip of CHIPS) {
    for (const version of versionsForChip(chip)) {
      sets++;
      for (const file of firmwareFiles(chip, version)) {
        const canonical = resolveManifestPath(file.path);
        assert.ok(canonical, `${file.path} is not in the manifest`);
        used.add(canonical);
      }
    }
  }
  assert.equal(sets, 40);
  assert.deepEqual([...used].sort(), [...MANIFEST_FILES].sort());
});

Deno.test("resolveManifestPath follows file, gsp-folder and chip links", () => {
  const cases: [string, string | undefined][] = [
    ["nvidia/tu102/gsp/gsp-570.144.bin", "nvidia/tu102/gsp/gsp-570.144.bin"],
    // tu117/gsp → tu116/gsp, whose bootloader → tu102's, which → the 535 file.
    ["nvidia/tu117/gsp/bootloader-570.144.bin", "nvidia/tu102/gsp/bootloader-535.113.01.bin"],
    ["nvidia/ad103/gsp/gsp-570.144.bin", "nvidia/ga102/gsp/gsp-570.144.bin"],
    ["nvidia/ga107/gsp/booter_load-535.113.01.bin", "nvidia/ga102/gsp/booter_load-535.113.01.bin"],
    ["nvidia/gb207/gsp/fmc-570.144.bin", "nvidia/gb202/gsp/fmc-570.144.bin"],
    ["nvidia/ga100/gsp/gen_bootloader-570.144.bin", "nvidia/tu102/gsp/gen_bootloader-570.144.bin"],
    ["./nvidia/gh100/gsp/../gsp/fmc-570.144.bin", "nvidia/gh100/gsp/fmc-570.144.bin"],
    ["nvidia/gh100/gsp/booter_load-570.144.bin", undefined],
    ["nvidia/xx999/gsp/gsp-570.144.bin", undefined],
  ];
  for (const [path, want] of cases) assert.equal(resolveManifestPath(path), want, path);
});

Deno.test("resolveManifestPath stops on link loops and on links that leave the root", () => {
  const manifest: FirmwareManifest = {
    ...FIRMWARE_MANIFEST,
    files: { "nvidia/a/gsp/x.bin": { sha256: "0".repeat(64), size: 1 } },
    links: { "nvidia/b": "c", "nvidia/c": "b", "nvidia/d": "../../etc" },
  };
  assert.equal(resolveManifestPath("nvidia/b/gsp/x.bin", manifest), undefined);
  assert.equal(resolveManifestPath("nvidia/d/passwd", manifest), undefined);
  assert.equal(resolveManifestPath("nvidia/a/gsp/x.bin", manifest), "nvidia/a/gsp/x.bin");
});

Deno.test("sha256File streams: a known digest, and a file larger than one read chunk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/abc`, "abc");
    assert.equal(
      await sha256File(`${dir}/abc`),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const big = new Uint8Array(3 * (1 << 20) + 17).map((_, i) => (i * 31 + (i >> 9)) & 0xff);
    await Deno.writeFile(`${dir}/big`, big);
    assert.equal(
      await sha256File(`${dir}/big`),
      createHash("sha256").update(big).digest("hex"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("renderManifestModule reproduces the committed loader/manifest.ts", async () => {
  const rendered = renderManifestModule(FIRMWARE_MANIFEST);
  const fmt = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--line-width", "100", "--ext", "ts", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = fmt.stdin.getWriter();
  await writer.write(new TextEncoder().encode(rendered));
  await writer.close();
  const out = await fmt.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const committed = await Deno.readTextFile(new URL("../loader/manifest.ts", import.meta.url));
  assert.equal(new TextDecoder().decode(out.stdout), committed);
});

realFirmwareTest(
  "the real firmware matches the manifest, files and links",
  MANIFEST_FILES,
  async (paths) => {
    const root = paths[0].slice(0, -MANIFEST_FILES[0].length - 1);
    const report = await assertFirmwareTree(root);
    assert.ok(report.ok);
    assert.equal(report.files.length, 38);
    assert.equal(report.links.length, 31);
    const scanned = await scanFirmwareTree(root);
    assert.deepEqual(scanned.files, FIRMWARE_MANIFEST.files);
    assert.deepEqual(scanned.links, FIRMWARE_MANIFEST.links);
  },
);

const SMALL = "nvidia/tu102/gsp/gen_bootloader-570.144.bin";

realFirmwareTest("a corrupted copy of a real file is caught", [SMALL], async ([real]) => {
  const root = await Deno.makeTempDir();
  try {
    const copy = `${root}/${SMALL}`;
    await Deno.mkdir(copy.slice(0, copy.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(real, copy);
    const good = await checkFirmwareFile(copy, SMALL);
    assert.equal(good.status, "match");
    assert.equal(good.size, 816);
    // The same bytes checked as the ga100 path, which links to them.
    const viaLink = await checkFirmwareFile(copy, "nvidia/ga100/gsp/gen_bootloader-570.144.bin");
    assert.equal(viaLink.status, "match");
    assert.equal(viaLink.manifestPath, SMALL);

    const bytes = await Deno.readFile(copy);
    bytes[400] ^= 0x01;
    await Deno.writeFile(copy, bytes);
    const bad = await checkFirmwareFile(copy, SMALL);
    assert.equal(bad.status, "mismatch");
    assert.equal(bad.size, 816, "same size: only the hash can tell");
    assert.equal(bad.expectedSha256, FIRMWARE_MANIFEST.files[SMALL].sha256);
    assert.notEqual(bad.sha256, bad.expectedSha256);
    const error = await verifyFirmwareFile(copy, SMALL).then(() => undefined, (e) => e);
    assert.ok(error instanceof FirmwareChecksumError);
    assert.equal(error.path, copy);
    assert.equal(error.actual, bad.sha256);

    const tree = await checkFirmwareTree(root);
    assert.equal(tree.ok, false);
    assert.equal(tree.files.find((f) => f.path === SMALL)?.status, "mismatch");
    assert.equal(tree.files.filter((f) => f.status === "missing").length, 37);
    assert.equal(tree.links.filter((f) => f.status === "missing").length, 31);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("assertFirmwareTree: missing entries first, then mismatches, links checked as links", async () => {
  const root = await Deno.makeTempDir();
  try {
    const text = "firmware bytes";
    const manifest: FirmwareManifest = {
      ...FIRMWARE_MANIFEST,
      files: {
        "nvidia/a/gsp/x.bin": {
          sha256: createHash("sha256").update(text).digest("hex"),
          size: text.length,
        },
      },
      links: { "nvidia/b": "a" },
    };
    const missing = await assertFirmwareTree(root, manifest).then(() => undefined, (e) => e);
    assert.ok(missing instanceof FirmwareNotFoundError);
    assert.deepEqual(missing.missing.map((m) => m.path), ["nvidia/a/gsp/x.bin", "nvidia/b"]);
    assert.deepEqual(missing.missing[0].searched, [`${root}/nvidia/a/gsp/x.bin`]);

    await Deno.mkdir(`${root}/nvidia/a/gsp`, { recursive: true });
    await Deno.writeTextFile(`${root}/nvidia/a/gsp/x.bin`, text);
    await Deno.mkdir(`${root}/nvidia/b`);
    const notLink = await assertFirmwareTree(root, manifest).then(() => undefined, (e) => e);
    assert.match(String(notLink?.message), /nvidia\/b: expected a link to a, found a directory/);

    await Deno.remove(`${root}/nvidia/b`);
    await Deno.symlink("a", `${root}/nvidia/b`);
    const report = await assertFirmwareTree(root, manifest);
    assert.ok(report.ok);

    await Deno.writeTextFile(`${root}/nvidia/a/gsp/x.bin`, "firmware bytez");
    await assert.rejects(assertFirmwareTree(root, manifest), FirmwareChecksumError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
