// The fuzzing harness over every firmware parser (scripts/_fuzz.ts): a fixed-seed
// run of about 20k mutations that must find nothing, and proofs that the harness
// can fail — a TypeError, a broken invariant, a slow parse and an endless loop
// are all reported with an input that replays.

import assert from "node:assert/strict";
import { parseBinHeader, parseTlv, parseVbios } from "../firmware/mod.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeBooterTlv, forgeGenBootloader, forgeVbios } from "../firmware/forge/mod.ts";
import { FirmwareFormatError } from "../errors.ts";
import {
  findFuzzTarget,
  formatFuzzReport,
  FUZZ_TARGETS,
  type FuzzFinding,
  FuzzRandom,
  type FuzzSeed,
  type FuzzTarget,
  InvariantError,
  iterationSeed,
  mutate,
  MUTATOR_NAMES,
  replayFuzz,
  runFuzz,
  runFuzzIsolated,
  type SeedFormat,
  seedFromBytes,
} from "../scripts/_fuzz.ts";
import { existsSync, findRealFirmware, REAL_VBIOS_PATH, REQUIRE_REAL } from "./_real.ts";

/** The seed of the suite's run: a finding names it, so it reproduces. */
const SUITE_SEED = 0x5eed;
const SUITE_MUTATIONS = 20_000;

/**
 * Findings already reported to the owner of the code, each matched narrowly so
 * that anything else still fails. Remove an entry once its cause is fixed.
 */
const KNOWN_FINDINGS: readonly { why: string; matches: (f: FuzzFinding) => boolean }[] = [
  // Empty: the one finding so far (a slow BIT search over a ROM packed with
  // 'FF B8 BIT 00' decoys) was fixed by capping the candidates in bit.ts.
];

Deno.test("fuzz: 20k mutations over every firmware parser find nothing new", async () => {
  const report = await runFuzzIsolated({
    targets: FUZZ_TARGETS.map((t) => t.name),
    seed: SUITE_SEED,
    mutations: SUITE_MUTATIONS,
    seconds: 55,
    watchdogMs: 15_000,
  });
  console.log(formatFuzzReport(report));
  const known = report.findings.filter((f) => KNOWN_FINDINGS.some((k) => k.matches(f)));
  if (known.length > 0) {
    console.log(`${known.length} known finding(s): ${KNOWN_FINDINGS.map((k) => k.why).join("; ")}`);
  }
  const fresh = report.findings.filter((f) => !known.includes(f));
  assert.deepEqual(
    fresh.map((f) => f.reproduce),
    [],
    formatFuzzReport({ ...report, findings: fresh }),
  );
  assert.equal(report.stoppedBy, "count", "the budget ran out before the mutations did");
  assert.equal(report.mutations, SUITE_MUTATIONS);
  assert.ok(report.elapsedMs < 60_000, `took ${report.elapsedMs} ms`);
  for (const s of report.targets) {
    // Both outcomes must be common, or the mutations are too shallow or too wild.
    assert.ok(s.accepted > s.mutations / 10, `${s.target}: only ${s.accepted} parsed`);
    assert.ok(s.rejected > s.mutations / 20, `${s.target}: only ${s.rejected} rejected`);
    assert.equal(s.accepted + s.rejected, s.mutations, s.target);
    assert.deepEqual(s.seedRejections, [], `${s.target}: unmutated seeds must parse`);
    if (REQUIRE_REAL) assert.deepEqual(s.missingRealFiles, [], s.target);
  }
  assert.ok(report.slowest !== null && report.slowest.ms < 2000, "a parse took seconds");
});

/** A seed set of one small forged file, for the harness's own tests. */
function genSeeds(): { seeds: FuzzSeed[]; missingRealFiles: string[] } {
  const bytes = forgeGenBootloader({ codeSize: 0x100, dataSize: 0x40 });
  return { seeds: [seedFromBytes("gen-bootloader", "forged gen", bytes)], missingRealFiles: [] };
}

/** parseBinHeader, broken on purpose when the top byte of `dataSize` (offset 23) is 0xff. */
const brokenTarget: FuzzTarget = {
  name: "broken-bin-header",
  description: "parseBinHeader with a planted TypeError",
  seeds: genSeeds,
  run(bytes) {
    if (bytes.length > 23 && bytes[23] === 0xff) {
      throw new TypeError("planted: cannot read properties of undefined");
    }
    parseBinHeader(bytes);
  },
};

Deno.test("fuzz: a TypeError escaping a parser is a finding that replays", () => {
  const report = runFuzz({ targets: [brokenTarget], seed: 9, mutations: 3000 });
  const [stats] = report.targets;
  assert.equal(report.findings.length, 1, formatFuzzReport(report));
  const [finding] = report.findings;
  assert.equal(finding.kind, "exception");
  assert.equal(finding.target, "broken-bin-header");
  assert.match(finding.error, /^TypeError: planted/);
  assert.equal(finding.count, stats.findings);
  assert.ok(finding.iteration >= 0 && finding.steps.length >= 1);
  assert.match(finding.reproduce, /--seed 9 --target broken-bin-header --replay=\d+/);
  assert.equal(stats.accepted + stats.rejected + stats.findings, stats.mutations);

  const replay = replayFuzz(brokenTarget, 9, finding.iteration);
  assert.equal(replay.result, "finding");
  assert.ok(replay.error instanceof TypeError);
  assert.deepEqual(replay.steps, finding.steps);
  assert.equal(replay.bytes.length, finding.inputSize);
  assert.equal(replay.bytes[23], 0xff);
});

Deno.test("fuzz: a result that breaks an invariant is a finding", () => {
  const target: FuzzTarget = {
    name: "short-payload",
    description: "a parse whose result claims more bytes than it holds",
    seeds: genSeeds,
    run(bytes) {
      const header = parseBinHeader(bytes);
      if (header.dataSize === 0) throw new InvariantError("planted: empty payload accepted");
    },
  };
  const report = runFuzz({ targets: [target], seed: 3, mutations: 3000 });
  assert.ok(report.findings.length >= 1, formatFuzzReport(report));
  assert.ok(report.findings.every((f) => f.kind === "invariant"));
  assert.match(report.findings[0].error, /^InvariantError: planted/);
});

Deno.test("fuzz: a parse slower than the limit is flagged, measured twice", () => {
  const target: FuzzTarget = {
    name: "slow-bin-header",
    description: "parseBinHeader that dawdles on a pattern",
    seeds: genSeeds,
    run(bytes) {
      if (bytes.length > 23 && bytes[23] === 0xff) {
        const until = performance.now() + 30;
        while (performance.now() < until) { /* dawdle */ }
      }
      parseBinHeader(bytes);
    },
  };
  const report = runFuzz({ targets: [target], seed: 9, mutations: 3000, slowMs: 20 });
  const slow = report.findings.filter((f) => f.kind === "slow");
  assert.equal(slow.length, 1, formatFuzzReport(report));
  assert.ok((slow[0].ms ?? 0) >= 20);
  assert.ok(report.slowest !== null && report.slowest.ms >= 20);
  assert.equal(replayFuzz(target, 9, slow[0].iteration).bytes[23], 0xff);
});

Deno.test("fuzz: the watchdog stops a parser that never returns and names the input", async () => {
  const report = await runFuzzIsolated({
    targets: ["self-test-hang"],
    seed: 4,
    mutations: 20_000,
    seconds: 30,
    watchdogMs: 1000,
  });
  assert.equal(report.stoppedBy, "hang", formatFuzzReport(report));
  assert.equal(report.findings.length, 1);
  const [hang] = report.findings;
  assert.equal(hang.kind, "hang");
  assert.equal(hang.target, "self-test-hang");
  assert.ok(hang.iteration >= 0);
  // Rebuild the input without running it (it would hang): it carries the trigger.
  const { seeds } = findFuzzTarget("self-test-hang").seeds();
  const seed = seeds[hang.iteration % seeds.length];
  const mutation = mutate(seed, new FuzzRandom(iterationSeed(4, "self-test-hang", hang.iteration)));
  assert.deepEqual(mutation.steps, hang.steps);
  assert.ok(mutation.bytes[7] >= 0x80, "the hung input has the self-test trigger");
});

Deno.test("fuzz: the same seed gives the same inputs and the same run", () => {
  const { seeds: [seed] } = genSeeds();
  const a = mutate(seed, new FuzzRandom(iterationSeed(1, "x", 5)));
  const b = mutate(seed, new FuzzRandom(iterationSeed(1, "x", 5)));
  const c = mutate(seed, new FuzzRandom(iterationSeed(1, "x", 6)));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.bytes, c.bytes);
  assert.ok(a.bytes !== seed.bytes, "the seed is copied, never mutated in place");
  assert.deepEqual(seed.bytes, forgeGenBootloader({ codeSize: 0x100, dataSize: 0x40 }));

  const tlv = findFuzzTarget("tlv");
  const run = () => runFuzz({ targets: [tlv], seed: 77, mutations: 600 }).targets[0];
  const [first, second] = [run(), run()];
  assert.deepEqual(
    { accepted: first.accepted, rejected: first.rejected, fields: first.errorFields },
    { accepted: second.accepted, rejected: second.rejected, fields: second.errorFields },
  );
});

/** The smallest seed of each format, forged so that it exists everywhere. */
function smallSeeds(): FuzzSeed[] {
  const byFormat = new Map<SeedFormat, FuzzSeed>();
  for (const t of FUZZ_TARGETS) {
    for (const s of t.seeds().seeds) {
      const best = byFormat.get(s.format);
      if (!s.real && (!best || s.bytes.length < best.bytes.length)) byFormat.set(s.format, s);
    }
  }
  return [...byFormat.values()];
}

Deno.test("fuzz: every mutator runs, and every tangle changes its seed", () => {
  const seeds = smallSeeds();
  assert.deepEqual(
    seeds.map((s) => s.format).sort(),
    ["booter", "elf", "gen-bootloader", "riscv-bootloader", "tlv", "vbios"],
  );
  const used = new Set<string>();
  seeds.forEach((seed, k) => {
    for (let i = 0; i < 400; i++) {
      for (const step of mutate(seed, new FuzzRandom(k * 1000 + i)).steps) {
        used.add(step.split(" ")[0]);
      }
    }
    for (const tangle of seed.anatomy.tangles) {
      const changed = Array.from({ length: 16 }, (_, i) => {
        const input = { bytes: seed.bytes.slice() };
        tangle.apply(input, new FuzzRandom(i));
        return input.bytes.length !== seed.bytes.length ||
          input.bytes.some((b, j) => b !== seed.bytes[j]);
      });
      assert.ok(changed.some(Boolean), `${seed.name}: tangle ${tangle.name} never changes a byte`);
    }
  });
  assert.deepEqual([...used].sort(), [...MUTATOR_NAMES].sort());
});

Deno.test("fuzz: structure-aware mutations reach the checks they aim at", () => {
  const tlvSeed = seedFromBytes("tlv", "booter tlv", forgeBooterTlv());
  const pastEnd = tlvSeed.anatomy.tangles.find((t) => t.name === "tlv.length-past-end")!;
  for (let i = 0; i < 8; i++) {
    const input = { bytes: tlvSeed.bytes.slice() };
    pastEnd.apply(input, new FuzzRandom(i));
    assert.throws(
      () => parseTlv(input.bytes),
      (e) => e instanceof FirmwareFormatError && /\.length$/.test(e.field),
    );
  }
  // The image chain cannot point backwards; repeating one small image is the
  // nearest thing to a loop, and the walk must stop on its own.
  const vbiosSeed = seedFromBytes("vbios", "vbios", forgeVbios().bytes);
  for (const name of ["vbios.image-chain-repeats", "vbios.never-last"]) {
    const tangle = vbiosSeed.anatomy.tangles.find((t) => t.name === name)!;
    const input = { bytes: vbiosSeed.bytes.slice() };
    tangle.apply(input, new FuzzRandom(1));
    assert.throws(
      () => parseVbios(bufferSource(input.bytes)),
      (e) => e instanceof FirmwareFormatError && e.field === "pcir.lastImage",
      name,
    );
  }
});

Deno.test("fuzz: every target has forged seeds with known structure, and real ones when present", () => {
  for (const t of FUZZ_TARGETS) {
    const { seeds, missingRealFiles } = t.seeds();
    assert.ok(seeds.some((s) => !s.real), `${t.name} has forged seeds`);
    for (const s of seeds) assert.ok(s.anatomy.fields.length > 0, `${t.name}: ${s.name} parsed`);
    if (REQUIRE_REAL) assert.deepEqual(missingRealFiles, [], t.name);
  }
  const real = (name: string) => findFuzzTarget(name).seeds().seeds.filter((s) => s.real).length;
  if (findRealFirmware("nvidia/tu102/gsp/booter_load-570.144.bin")) assert.ok(real("booter") >= 1);
  if (findRealFirmware("nvidia/gh100/gsp/fmc-570.144.bin")) assert.ok(real("fmc") >= 1);
  const vbiosPresent = existsSync(REAL_VBIOS_PATH);
  assert.equal(real("vbios") === 1, vbiosPresent);
  // The 28–63 MB GSP images are never seeds: the GSP targets use forged images.
  assert.equal(real("gsp-image"), 0);
});

Deno.test("fuzz CLI: a finding exits 1 with a replay command that reproduces it", async () => {
  const script = new URL("../scripts/fuzz.ts", import.meta.url).pathname;
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const fuzz = await run("--target", "self-test-type-error", "--mutations", "2000", "--json");
  assert.equal(fuzz.code, 1, new TextDecoder().decode(fuzz.stderr));
  const report = JSON.parse(new TextDecoder().decode(fuzz.stdout));
  assert.equal(report.findings[0].kind, "exception");
  const replayArgs = report.findings[0].reproduce.split(" ").slice(4);
  assert.deepEqual(replayArgs.slice(0, 4), ["--seed", "1", "--target", "self-test-type-error"]);
  const replayed = await run(...replayArgs);
  assert.equal(replayed.code, 1);
  assert.match(new TextDecoder().decode(replayed.stdout), /finding in .*TypeError: self-test/s);

  const bad = await run("--mutations", "lots");
  assert.equal(bad.code, 1);
  assert.match(new TextDecoder().decode(bad.stderr), /--mutations lots: expected a whole number/);
});
