/**
 * The fuzzing engine behind `scripts/fuzz.ts` and `tests/fuzz_test.ts`, one
 * concept per file, all re-exported here:
 *
 * | file | what |
 * |---|---|
 * | `_fuzz_random.ts` | the seeded PRNG and the per-iteration seed |
 * | `_fuzz_anatomy.ts` | a seed's structure: fields (from the parsers' layout tables), boundaries, tangles |
 * | `_fuzz_anatomy_bin.ts`, `_elf`, `_tlv`, `_vbios` | each format's anatomy |
 * | `_fuzz_mutators.ts` | byte-level and structure-aware mutators, `mutate` |
 * | `_fuzz_seeds.ts` | real and forged seed inputs |
 * | `_fuzz_targets.ts` | one target per parser entry point, with invariants |
 * | `_fuzz_runner.ts` | the run (a fixed mutation count), replay, the Worker watchdog |
 * | `_fuzz_report.ts` | the report for people |
 *
 * The contract under test: a parser handed any bytes either returns or throws
 * `FirmwareFormatError`. Anything else that escapes is a *finding*:
 * a `TypeError`, a `RangeError` (a stack overflow, a failed huge allocation),
 * a result that breaks an invariant (a payload view shorter than the header
 * says, which `subarray` would silently clamp), a parse that never returns
 * (the Worker watchdog), or, unless turned off, a parse slower than `slowMs`
 * (measured twice, so that one GC pause is not a finding).
 *
 * The budget is a number of mutations, not seconds: a run with the same seed
 * and count does the same work on any machine. `seconds` is only an outer cap
 * for long runs.
 *
 * Reproducing: iteration `i` of target `T` under seed `S` mutates seed input
 * `i mod inputs` with a PRNG seeded by `iterationSeed(S, T, i)`, so
 * `replayFuzz` rebuilds any input from the three numbers a finding
 * names. Negative iterations stand for the unmutated inputs, which every run
 * checks first.
 *
 * @example Fuzz the TLV parser in-process for a moment
 * ```ts ignore
 * import { findFuzzTarget, formatFuzzReport, runFuzz } from "./_fuzz.ts";
 * const report = runFuzz({ targets: [findFuzzTarget("tlv")], mutations: 2000 });
 * console.log(formatFuzzReport(report));
 * ```
 *
 * @module
 */

export * from "./_fuzz_random.ts";
export * from "./_fuzz_anatomy.ts";
export * from "./_fuzz_mutators.ts";
export * from "./_fuzz_seeds.ts";
export * from "./_fuzz_targets.ts";
export * from "./_fuzz_runner.ts";
export * from "./_fuzz_report.ts";
