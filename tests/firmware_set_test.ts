// Tests of loader/firmware_set.ts: every real chip firmware set (570.144 for
// every chip, 535.113.01 where linux-firmware has it) with the parts each
// family uses, forged sets in a temporary root, and the three ways loading
// fails: a missing file, a file that differs from the manifest, and a file
// that does not parse.

import assert from "node:assert/strict";
import { CHIPS, FAMILIES, familyOf } from "../chips/chips.ts";
import { firmwareFiles } from "../chips/firmware_files.ts";
import { FirmwareChecksumError, FirmwareFormatError, FirmwareNotFoundError } from "../errors.ts";
import { loadFirmwareSet } from "../loader/firmware_set.ts";
import { versionsForChip } from "../loader/locate.ts";
import { FIRMWARE_MANIFEST, type FirmwareManifest } from "../loader/manifest.ts";
import { type HashCache, PROCESS_HASH_CACHE } from "../loader/verify.ts";
import { writeForgedFirmware } from "../scripts/_forged_firmware.ts";
import { existsSync, realFirmwareTest } from "./_real.ts";

const EMPTY_MANIFEST: FirmwareManifest = { ...FIRMWARE_MANIFEST, files: {}, links: {} };
const TURING_LIKE = ["tu10x", "tu11x", "ga100"];
const FSP_FAMILIES = ["gh100", "gb10x", "gb20x"];

const REAL_SETS = CHIPS.flatMap((chip) =>
  versionsForChip(chip).map((version) => ({ chip, version }))
);
const REAL_FILES = [
  ...new Set(
    REAL_SETS.flatMap(({ chip, version }) =>
      firmwareFiles(chip, version).filter((f) => f.required).map((f) => f.path)
    ),
  ),
];

async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  using file = await Deno.open(path);
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const n = await file.read(out.subarray(done));
    assert.ok(n !== null && n > 0, `${path} ended early`);
    done += n;
  }
  return out;
}

/** Environment lookup that sends the cache to `cache` and has nothing else. */
const isolatedEnv = (cache: string, extra: Record<string, string> = {}) => (name: string) =>
  name === "XDG_CACHE_HOME" ? cache : extra[name];

realFirmwareTest(
  `loadFirmwareSet: every real chip firmware set (${REAL_SETS.length} sets)`,
  REAL_FILES,
  async () => {
    assert.equal(REAL_SETS.filter((s) => s.version === "570.144").length, CHIPS.length);
    assert.equal(REAL_SETS.filter((s) => s.version === "535.113.01").length, 16);
    const hashCache: HashCache = new Map();
    for (const { chip, version } of REAL_SETS) {
      const what = `${chip.name} ${version}`;
      const set = await loadFirmwareSet({ chip, version, hashCache });
      const family = familyOf(chip);
      const sec2 = family.bootPath === "sec2";
      const turingLike = TURING_LIKE.includes(chip.family);
      assert.equal(set.chip, chip);
      assert.equal(set.version, version);
      assert.deepEqual(
        Object.keys(set.paths).sort(),
        firmwareFiles(chip, version).map((f) => f.name).sort(),
        what,
      );
      for (const f of firmwareFiles(chip, version)) {
        assert.ok(set.paths[f.name].endsWith(`/${f.path}`), `${what} ${set.paths[f.name]}`);
      }
      assert.equal(set.booterLoad !== undefined, sec2, `${what} booterLoad`);
      assert.equal(set.booterUnload !== undefined, sec2, `${what} booterUnload`);
      assert.equal(
        set.genBootloader !== undefined,
        version === "570.144" && turingLike,
        `${what} genBootloader`,
      );
      assert.equal(set.fmc !== undefined, FSP_FAMILIES.includes(chip.family), `${what} fmc`);
      assert.equal(set.gspSignatureSection, FAMILIES[chip.family].gspSignatureSection, what);
      assert.equal(set.gspSignature.length, 4096, what);
      assert.equal(set.gspImage.version, version, what);
      assert.equal(set.bootloader.descriptor.version, turingLike ? 4 : 5, what);
      if (set.booterLoad) {
        const turing = chip.arch === "turing";
        assert.equal(set.booterLoad.signatureSize, turing ? 16 : 384, what);
        assert.equal(set.booterLoad.signatureCount, turingLike ? 1 : 2, what);
        assert.equal(set.booterLoad.signatureParams.ucodeId, turing ? 13 : 3, what);
        assert.equal(set.booterUnload?.signatureSize, set.booterLoad.signatureSize, what);
      }
      if (set.genBootloader) assert.equal(set.genBootloader.descriptor.startTag, 253, what);
      if (set.fmc) assert.equal(set.fmc.signature.length, chip.family === "gh100" ? 384 : 96);
      const expectedImage = version === "570.144"
        ? (turingLike ? 28528288 : 63541248)
        : (turingLike ? 23737168 : 38043648);
      assert.equal(set.gspImage.imageSize, expectedImage, what);
      // The bytes are those of the family's section, read from the file.
      const section = set.gspImage.signatureSections.find((s) =>
        s.name === set.gspSignatureSection
      );
      assert.ok(section, what);
      assert.deepEqual(set.gspSignature, await readRange(set.paths.gsp, section.offset, 4096));
      assert.ok(set.durationMs >= 0);
    }
  },
);

realFirmwareTest(
  "loadFirmwareSet: GA100 takes .fwsignature_ga100, which differs from the tu10x one",
  ["nvidia/ga100/gsp/gsp-570.144.bin"],
  async () => {
    const set = await loadFirmwareSet({ chip: "ga100", version: "570.144" });
    const tu10x = set.gspImage.signatureSections.find((s) => s.name === ".fwsignature_tu10x")!;
    const other = await readRange(set.paths.gsp, tu10x.offset, tu10x.size);
    assert.equal(set.gspSignatureSection, ".fwsignature_ga100");
    assert.notDeepEqual(set.gspSignature, other);
  },
);

Deno.test("loadFirmwareSet: forged sets in a temporary root, checked against an empty manifest", async () => {
  const root = await Deno.makeTempDir({ prefix: "falconry-set-" });
  const cache = await Deno.makeTempDir({ prefix: "falconry-cache-" });
  try {
    const chips = ["tu102", "ga100", "ga102", "ad102", "gh100", "gb100", "gb202"].map((n) =>
      CHIPS.find((c) => c.name === n)!
    );
    await writeForgedFirmware(root, chips, "570.144");
    for (const chip of chips) {
      const set = await loadFirmwareSet({
        chip,
        version: "570.144",
        dir: root,
        env: isolatedEnv(cache),
        manifest: EMPTY_MANIFEST,
      });
      const what = chip.name;
      for (const [name, path] of Object.entries(set.paths)) {
        assert.equal(path, `${root}/nvidia/${chip.name}/gsp/${name}-570.144.bin`);
      }
      const sec2 = familyOf(chip).bootPath === "sec2";
      assert.equal(set.booterLoad !== undefined, sec2, what);
      assert.equal(set.genBootloader !== undefined, TURING_LIKE.includes(chip.family), what);
      assert.equal(set.fmc !== undefined, !sec2, what);
      assert.equal(set.gspSignatureSection, FAMILIES[chip.family].gspSignatureSection);
      assert.equal(set.gspSignature.length, 4096);
      assert.equal(set.gspImage.imageSize, 256 * 1024 + 0xea0);
      if (chip.name === "tu102") {
        assert.equal(set.booterLoad?.signatureSize, 16);
        assert.equal(set.booterLoad?.signatureParams.ucodeId, 13);
        assert.equal(set.bootloader.descriptor.version, 4);
      }
      if (chip.name === "ga102") {
        assert.equal(set.booterLoad?.signatureCount, 2);
        assert.equal(set.booterLoad?.signatureParams.fuseVersion, 1);
        assert.equal(set.bootloader.descriptor.version, 5);
      }
      if (chip.name === "gb100") {
        assert.equal(set.fmc?.publicKey.length, 97);
        assert.equal(set.fmc?.signature.length, 96);
      }
    }
    // The real manifest knows these paths, and the forged bytes are not the real ones.
    await assert.rejects(
      loadFirmwareSet({ chip: "tu102", dir: root, env: isolatedEnv(cache) }),
      (e: unknown) => {
        assert.ok(e instanceof FirmwareChecksumError, String(e));
        assert.ok(e.path.startsWith(`${root}/nvidia/tu102/gsp/`), e.path);
        assert.notEqual(e.actual, e.expected);
        return true;
      },
    );
    const warned = await loadFirmwareSet({
      chip: "tu102",
      dir: root,
      env: isolatedEnv(cache),
      onMismatch: "warn",
    });
    assert.equal(warned.booterLoad?.signatureSize, 16);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});

const MISSING = "nvidia/tu102/gsp/booter_unload-570.144.bin";
const systemHasIt = existsSync(`/lib/firmware/${MISSING}`);

Deno.test({
  name: "loadFirmwareSet: a missing file is a FirmwareNotFoundError with every place searched",
  ignore: systemHasIt,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "falconry-set-" });
    const envDir = await Deno.makeTempDir({ prefix: "falconry-env-" });
    const cache = await Deno.makeTempDir({ prefix: "falconry-cache-" });
    try {
      await writeForgedFirmware(root, [CHIPS.find((c) => c.name === "tu102")!], "570.144");
      await Deno.remove(`${root}/${MISSING}`);
      await assert.rejects(
        loadFirmwareSet({
          chip: "tu102",
          version: "570.144",
          dir: root,
          env: isolatedEnv(cache, { FALCONRY_FIRMWARE_DIR: envDir }),
          manifest: EMPTY_MANIFEST,
        }),
        (e: unknown) => {
          assert.ok(e instanceof FirmwareNotFoundError, String(e));
          const searched = [
            `${root}/${MISSING}`,
            `${envDir}/${MISSING}`,
            `${cache}/falconry/firmware/${MISSING}`,
            `/lib/firmware/${MISSING}`,
          ];
          assert.deepEqual(e.missing, [{ path: MISSING, searched }]);
          for (const place of searched) assert.ok(e.message.includes(place), e.message);
          return true;
        },
      );
    } finally {
      for (const dir of [root, envDir, cache]) await Deno.remove(dir, { recursive: true });
    }
  },
});

realFirmwareTest(
  "loadFirmwareSet: a real file with one byte flipped is a FirmwareChecksumError",
  ["nvidia/tu102/gsp/gen_bootloader-570.144.bin"],
  async ([genBootloader]) => {
    const root = await Deno.makeTempDir({ prefix: "falconry-set-" });
    try {
      const bytes = await Deno.readFile(genBootloader);
      bytes[100] ^= 0x01;
      const copy = `${root}/nvidia/tu102/gsp/gen_bootloader-570.144.bin`;
      await Deno.mkdir(`${root}/nvidia/tu102/gsp`, { recursive: true });
      await Deno.writeFile(copy, bytes);
      // The other files come from wherever the real ones are; the flipped copy is found first.
      await assert.rejects(
        loadFirmwareSet({ chip: "tu102", version: "570.144", dir: root }),
        (e: unknown) => {
          assert.ok(e instanceof FirmwareChecksumError, String(e));
          assert.equal(e.path, copy);
          assert.equal(
            e.expected,
            FIRMWARE_MANIFEST.files["nvidia/tu102/gsp/gen_bootloader-570.144.bin"].sha256,
          );
          assert.notEqual(e.actual, e.expected);
          assert.ok(e.message.includes(copy));
          return true;
        },
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);

Deno.test("loadFirmwareSet: a file that does not parse is a FirmwareFormatError naming it", async () => {
  const root = await Deno.makeTempDir({ prefix: "falconry-set-" });
  const cache = await Deno.makeTempDir({ prefix: "falconry-cache-" });
  try {
    const chips = ["tu102", "gh100"].map((n) => CHIPS.find((c) => c.name === n)!);
    const garbage = new TextEncoder().encode("this is not firmware, just text of some length");
    const cases: [string, string][] = [
      ["tu102", "booter_load"],
      ["tu102", "bootloader"],
      ["tu102", "gen_bootloader"],
      ["tu102", "gsp"],
      ["gh100", "fmc"],
    ];
    for (const [chip, name] of cases) {
      await writeForgedFirmware(root, chips, "570.144");
      const path = `${root}/nvidia/${chip}/gsp/${name}-570.144.bin`;
      await Deno.writeFile(path, garbage);
      await assert.rejects(
        loadFirmwareSet({
          chip,
          version: "570.144",
          dir: root,
          env: isolatedEnv(cache),
          manifest: EMPTY_MANIFEST,
        }),
        (e: unknown) => {
          assert.ok(e instanceof FirmwareFormatError, `${name}: ${e}`);
          assert.equal(e.file, path, name);
          assert.ok(e.message.startsWith(`${path}: `), e.message);
          return true;
        },
        name,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});

realFirmwareTest(
  "loadFirmwareSet: confidential computing picks the cc_ signature section where one exists",
  ["nvidia/gh100/gsp/gsp-570.144.bin", "nvidia/gb100/gsp/gsp-570.144.bin"],
  async ([gh100Gsp]) => {
    const normal = await loadFirmwareSet({ chip: "gh100" });
    const cc = await loadFirmwareSet({ chip: "gh100", confidentialComputing: true });
    assert.equal(normal.gspSignatureSection, ".fwsignature_gh100");
    assert.equal(cc.gspSignatureSection, ".fwsignature_cc_gh100");
    assert.notDeepEqual(cc.gspSignature, normal.gspSignature, "the two signatures differ");
    assert.equal(cc.paths.gsp, gh100Gsp);
    const gb100 = await loadFirmwareSet({ chip: "gb100", confidentialComputing: true });
    assert.equal(gb100.gspSignatureSection, ".fwsignature_cc_gb10x");
    await assert.rejects(
      loadFirmwareSet({ chip: "gb202", confidentialComputing: true }),
      /gb202: the GSP image has no confidential-computing signature for the gb20x family/,
    );
    await assert.rejects(
      loadFirmwareSet({ chip: "ga102", confidentialComputing: true }),
      /no confidential-computing signature for the ga10x family/,
    );
  },
);

realFirmwareTest(
  `loadFirmwareSet, given no hash cache: each real file is hashed once in the process`,
  REAL_FILES,
  async () => {
    const realPaths = new Set<string>();
    for (const { chip, version } of REAL_SETS) {
      const set = await loadFirmwareSet({ chip, version });
      for (const path of Object.values(set.paths)) realPaths.add(await Deno.realPath(path));
    }
    // The package shares its files through links: 56 sets, at most 38 distinct files.
    assert.ok(realPaths.size <= 38, `${realPaths.size} real files`);
    const keys = [...PROCESS_HASH_CACHE.keys()];
    for (const real of realPaths) {
      // One key per real file: a second hash of an unchanged file would need a second key.
      const entries = keys.filter((k) => k.startsWith(`${real}\0`));
      assert.equal(entries.length, 1, `${real}: ${entries.length} cache entries`);
    }
  },
);
