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
  HASH_CACHE_SETTLE_MS,
  type HashCache,
  hashFileOnce,
  PROCESS_HASH_CACHE,
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

// ---- Hashing each real file once per process ----------------------------------

const settle = () => new Promise((done) => setTimeout(done, HASH_CACHE_SETTLE_MS * 2));

/**
 * A firmware tree shaped like the package's: two real files, a chip folder
 * link, a gsp folder link and a file link, with a manifest that knows them.
 */
async function linkedTree(): Promise<{ root: string; manifest: FirmwareManifest; rels: string[] }> {
  const root = await Deno.makeTempDir();
  const texts = { "nvidia/a/gsp/x.bin": "x bytes", "nvidia/a/gsp/y.bin": "y bytes" };
  await Deno.mkdir(`${root}/nvidia/a/gsp`, { recursive: true });
  await Deno.mkdir(`${root}/nvidia/c`, { recursive: true });
  await Deno.mkdir(`${root}/nvidia/d/gsp`, { recursive: true });
  for (const [rel, text] of Object.entries(texts)) await Deno.writeTextFile(`${root}/${rel}`, text);
  await Deno.symlink("a", `${root}/nvidia/b`);
  await Deno.symlink("../a/gsp", `${root}/nvidia/c/gsp`);
  await Deno.symlink("../../a/gsp/x.bin", `${root}/nvidia/d/gsp/x.bin`);
  const sha = (t: string) => createHash("sha256").update(t).digest("hex");
  const manifest: FirmwareManifest = {
    ...FIRMWARE_MANIFEST,
    files: Object.fromEntries(
      Object.entries(texts).map(([rel, t]) => [rel, { sha256: sha(t), size: t.length }]),
    ),
    links: {
      "nvidia/b": "a",
      "nvidia/c/gsp": "../a/gsp",
      "nvidia/d/gsp/x.bin": "../../a/gsp/x.bin",
    },
  };
  const rels = ["a", "b", "c"].flatMap((chip) =>
    ["x", "y"].map((f) => `nvidia/${chip}/gsp/${f}.bin`)
  );
  rels.push("nvidia/d/gsp/x.bin");
  return { root, manifest, rels };
}

Deno.test("hashing a tree with linked folders and files hashes each real file once", async () => {
  const { root, manifest, rels } = await linkedTree();
  try {
    await settle();
    const hashed: string[] = [];
    const hasher = (path: string) => (hashed.push(path), sha256File(path));
    const hashCache: HashCache = new Map();
    const check = (rel: string) =>
      checkFirmwareFile(`${root}/${rel}`, rel, { manifest, hashCache, hasher });
    // Concurrent checks of all seven paths, then all of them again.
    for (let round = 0; round < 2; round++) {
      const results = await Promise.all(rels.map(check));
      assert.ok(results.every((r) => r.status === "match"), JSON.stringify(results));
    }
    const real = await Deno.realPath(root);
    assert.deepEqual(hashed.sort(), [`${real}/nvidia/a/gsp/x.bin`, `${real}/nvidia/a/gsp/y.bin`]);
    assert.equal(hashCache.size, 2);

    // A changed file has a new identity and is hashed again, through any link.
    await Deno.writeTextFile(`${root}/nvidia/a/gsp/x.bin`, "x bytez");
    await settle();
    const changed = await check("nvidia/d/gsp/x.bin");
    assert.equal(changed.status, "mismatch");
    assert.equal(hashed.length, 3);
    assert.equal((await check("nvidia/b/gsp/x.bin")).sha256, changed.sha256);
    assert.equal(hashed.length, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("without a cache of its own, a check goes through the process-wide cache", async () => {
  const { root, manifest, rels } = await linkedTree();
  try {
    await settle();
    const before = PROCESS_HASH_CACHE.size;
    for (const rel of rels) {
      assert.equal((await checkFirmwareFile(`${root}/${rel}`, rel, { manifest })).status, "match");
    }
    assert.equal(PROCESS_HASH_CACHE.size, before + 2, "two real files, one entry (one hash) each");
    // Tree checks and scans use it too: nothing new is hashed.
    assert.ok((await checkFirmwareTree(root, manifest)).ok);
    await scanFirmwareTree(root);
    assert.equal(PROCESS_HASH_CACHE.size, before + 2);
    // A custom hasher's results stay out of it.
    const fake = await hashFileOnce(`${root}/nvidia/a/gsp/x.bin`, {
      hasher: () => Promise.resolve("f".repeat(64)),
    });
    assert.equal(fake.sha256, "f".repeat(64));
    const real = await checkFirmwareFile(`${root}/nvidia/a/gsp/x.bin`, "nvidia/a/gsp/x.bin", {
      manifest,
    });
    assert.equal(real.status, "match");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a file changed moments ago is hashed on every call; a failed hash is not kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f.bin`;
    await Deno.writeTextFile(path, "one");
    let calls = 0;
    const hashCache: HashCache = new Map();
    const hasher = (p: string) => (calls++, sha256File(p));
    // Two writes of the same length may share their times (one clock tick): no caching yet.
    const first = await hashFileOnce(path, { hashCache, hasher });
    await Deno.writeTextFile(path, "two");
    const second = await hashFileOnce(path, { hashCache, hasher });
    assert.notEqual(first.sha256, second.sha256);
    assert.equal(calls, 2);
    assert.equal(hashCache.size, 0);

    await settle();
    let fail = true;
    const flaky = (p: string) => fail ? Promise.reject(new Error("EIO")) : sha256File(p);
    await assert.rejects(hashFileOnce(path, { hashCache, hasher: flaky }), /EIO/);
    assert.equal(hashCache.size, 0);
    fail = false;
    assert.equal((await hashFileOnce(path, { hashCache, hasher: flaky })).sha256, second.sha256);
    assert.equal(hashCache.size, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
