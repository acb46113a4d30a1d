/**
 * `regs.ts`: look registers up in falconry's register tables, the way
 * envytools' `lookup` does.
 *
 * - no argument: every register of the chip at its absolute BAR0 offset,
 *   engine registers once per engine (`GSP.`, `SEC2.`, and `FSP.` on Hopper
 *   and later), arrays once with their shape;
 * - `NAME`: that register (case-insensitive; with or without the engine
 *   prefix `GSP.`/`SEC2.`/`FSP.`; OpenRM's full name, an alias or the short
 *   name of the typed accessors (`CPUCTL`, `RISCV_CPUCTL`, `SW_SCRATCH`);
 *   `NAME(i)` for an array element, checked against the array's size; a bare
 *   suffix such as `SCRATCH` matches every register whose name ends in
 *   `_SCRATCH`); a miss suggests the closest names;
 * - `OFFSET` (`0x…` or decimal): the register(s) at that BAR0 offset;
 * - `NAME|OFFSET VALUE`: that register's fields decoded from VALUE.
 *
 * The default chip is ga102: the most common SEC2-path chip, and the one
 * nova-core's GA102 falcon HAL was written for.
 *
 * @example
 * ```sh
 * deno run scripts/regs.ts --chip gh100 | grep FSP
 * deno run scripts/regs.ts GSP.NV_PFALCON_FALCON_CPUCTL 0x10
 * deno run scripts/regs.ts --chip tu102 --json 0x1438
 * ```
 *
 * @module
 */

import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { FalconryError } from "../errors.ts";
import { chipByName, type ChipInfo, CHIPS } from "../chips/mod.ts";
import {
  decode,
  type FieldDef,
  findByOffset,
  instancesForChip,
  type RegisterHit,
  type RegisterInstance,
  type ResolvedRegister,
  shortRegisterName,
  unnamedBits,
} from "../registers/mod.ts";
import { formatHelp, type OptionSpecs, printJson, runMain, startCli, UsageError } from "./_cli.ts";

const log = getLogger(["falconry", "scripts", "regs"]);

const DEFAULT_CHIP = "ga102";

const OPTIONS: OptionSpecs = {
  chip: {
    type: "string",
    valueName: "CHIP",
    default: DEFAULT_CHIP,
    description: `chip name (${CHIPS.map((c) => c.name).join(", ")})`,
  },
};

const HELP = formatHelp({
  usage: "regs.ts [--chip CHIP] [--json] [NAME | OFFSET [VALUE]]",
  summary: "List, look up and decode the registers the GSP boot path uses.",
  description: `
Without an argument, lists every register of CHIP at its absolute BAR0 offset;
engine registers appear once per engine as GSP.NAME, SEC2.NAME and FSP.NAME.
NAME is case-insensitive: OpenRM's full name (NV_PFALCON_FALCON_CPUCTL), an
alias, or the short name without the block prefix (CPUCTL, RISCV_CPUCTL,
SW_SCRATCH); it may carry an engine prefix (GSP.CPUCTL, SEC2.CPUCTL) and an
array index (NV_PBUS_SW_SCRATCH(14), SW_SCRATCH(0xe)), and may be a bare
suffix (SCRATCH(14) is NV_PBUS_SW_SCRATCH(14)). A name that matches nothing
gets the closest names suggested. OFFSET is 0x… or decimal. With VALUE (a
32-bit value, 0x… or decimal; put -- before it if it starts with -), the
register's fields are decoded from it. The default chip is ${DEFAULT_CHIP}
(the most common SEC2-path chip).`,
  options: OPTIONS,
});

/** Source paths, shortened for people: the JSON output keeps them whole. */
const shortSource = (source: string): string =>
  source.replaceAll(
    "NVIDIA/open-gpu-kernel-modules src/common/inc/swref/",
    "open-gpu-kernel-modules ",
  );

const hex = (n: number, width = 6): string => `0x${n.toString(16).padStart(width, "0")}`;

function parseNumber(text: string, what: string): number | undefined {
  if (/^-\s*(0x[0-9a-f]+|\d+)$/i.test(text)) {
    throw new UsageError(`${what} ${text} is negative; give a 32-bit value (0 to 0xffffffff)`);
  }
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > 0xffffffff) {
    throw new UsageError(`${what} ${text} does not fit 32 bits`);
  }
  return n;
}

function chipOf(name: string): ChipInfo {
  const chip = chipByName(name);
  if (!chip) {
    throw new UsageError(
      `unknown chip ${JSON.stringify(name)}; known: ${CHIPS.map((c) => c.name).join(", ")}`,
    );
  }
  return chip;
}

function displayName(hit: RegisterHit): string {
  const { instance, index } = hit;
  return instance.register.array ? `${instance.qualifiedName}(${index})` : instance.qualifiedName;
}

function arrayShape(instance: RegisterInstance): string {
  const array = instance.register.array;
  return array ? `  [${array.count} × ${array.stride} B]` : "";
}

function valuesText(field: FieldDef): string {
  if (!field.values) return "";
  return Object.entries(field.values).map(([v, n]) => `${hex(Number(v), 0)}=${n}`).join(" ");
}

function fieldsJson(fields: readonly FieldDef[]) {
  return fields.map((f) => ({
    name: f.name,
    hi: f.hi,
    lo: f.lo,
    ...(f.values ? { values: f.values } : {}),
  }));
}

function instanceJson(instance: RegisterInstance) {
  const r = instance.register;
  return {
    name: instance.qualifiedName,
    offset: instance.address,
    fields: fieldsJson(r.fields),
    block: r.block,
    ...(instance.engine ? { engine: instance.engine, relativeOffset: r.offset } : {}),
    width: r.width,
    ...(r.array ? { array: r.array } : {}),
    ...(r.aliases.length ? { aliases: r.aliases } : {}),
    doc: r.doc,
    source: r.source,
    ...(r.note ? { note: r.note } : {}),
  };
}

function list(chip: ChipInfo, json: boolean): void {
  const instances = instancesForChip(chip);
  log.debug("{chip}: {count} register instances", { chip: chip.name, count: instances.length });
  if (json) {
    printJson(instances.map(instanceJson));
    return;
  }
  for (const instance of instances) {
    const suffix = instance.register.array ? "(i)" : "";
    console.log(
      `${hex(instance.address)}  ${instance.qualifiedName}${suffix}${arrayShape(instance)}`,
    );
  }
}

const QUERY = /^(?:(GSP|SEC2|FSP)\.)?([A-Z0-9_]+)(?:[([](\d+|0x[0-9a-f]+)[)\]])?$/i;

/** How well an instance's names match a query name: exact (full, alias or short) before suffix. */
function matchRank(register: ResolvedRegister, name: string): number | undefined {
  const short = shortRegisterName(register);
  if (register.name === name || register.aliases.includes(name) || short === name) return 0;
  if (register.name.endsWith(`_${name}`)) return 1;
  return undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
    }
    previous = current;
  }
  return previous[b.length];
}

/** Up to three names of the chip closest to `name`, for a "did you mean". */
function suggestions(chip: ChipInfo, name: string): string[] {
  const names = new Set<string>();
  for (const instance of instancesForChip(chip)) {
    const register = instance.register;
    const prefix = instance.engine ? `${instance.engine}.` : "";
    names.add(`${prefix}${register.name}`);
    names.add(`${prefix}${shortRegisterName(register)}`);
  }
  const scored = [...names].map((candidate) => {
    const bare = candidate.replace(/^(GSP|SEC2|FSP)\./, "");
    return {
      candidate,
      distance: Math.min(editDistance(name, candidate), editDistance(name, bare)),
    };
  });
  const limit = Math.max(2, Math.floor(name.length / 3));
  return scored.filter((s) => s.distance <= limit)
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, 3)
    .map((s) => s.candidate);
}

function lookup(chip: ChipInfo, query: string): RegisterHit[] {
  const offset = parseNumber(query, "offset");
  if (offset !== undefined) return findByOffset(chip, offset);
  const match = QUERY.exec(query.trim());
  if (!match) {
    throw new UsageError(
      `${
        JSON.stringify(query)
      } is not a register name (NAME, ENGINE.NAME or NAME(i)) nor an offset`,
    );
  }
  const engine = match[1]?.toUpperCase();
  const name = match[2].toUpperCase();
  const index = match[3] === undefined ? undefined : Number(match[3]);
  const ranked = instancesForChip(chip)
    .filter((instance) => engine === undefined || instance.engine === engine)
    .map((instance) => ({ instance, rank: matchRank(instance.register, name) }))
    .filter((m): m is { instance: RegisterInstance; rank: number } => m.rank !== undefined);
  const best = Math.min(...ranked.map((m) => m.rank));
  const named = ranked.filter((m) => m.rank === best).map((m) => m.instance);
  if (!named.length) {
    const close = suggestions(chip, name);
    const where = engine ? ` on ${engine}` : "";
    throw new FalconryError(
      `no register ${query}${where} on ${chip.name}${
        close.length ? `; did you mean ${close.join(", ")}?` : ""
      } (regs.ts --chip ${chip.name} lists them all)`,
    );
  }
  if (index === undefined) {
    return named.map((instance) => ({ instance, index: 0, address: instance.address }));
  }
  const inRange = named.filter((i) => index < (i.register.array?.count ?? 1));
  if (!inRange.length) {
    const first = named[0];
    const count = first.register.array?.count;
    throw new FalconryError(
      count === undefined
        ? `${first.qualifiedName} is not an array: give it without an index`
        : `${first.qualifiedName}: index ${index} out of range (0..${count - 1})`,
    );
  }
  return inRange.map((instance) => ({
    instance,
    index,
    address: instance.address + index * (instance.register.array?.stride ?? 0),
  }));
}

function describe(hit: RegisterHit, chip: ChipInfo, value: number | undefined): string {
  const { instance } = hit;
  const r = instance.register;
  const where = instance.engine
    ? `${instance.engine} ${r.base} base ${hex(hit.address - r.offset - hitElement(hit))} + ${
      hex(r.offset, 3)
    }`
    : "absolute";
  const head = `${displayName(hit)}  ${hex(hit.address)}${
    value === undefined ? "" : ` = ${hex(value, 8)}`
  }  (${chip.name}, ${where})`;
  const lines = [head, `  ${r.doc}`];
  if (r.aliases.length) lines.push(`  aliases: ${r.aliases.join(", ")}`);
  lines.push(`  source: ${shortSource(r.source)}`);
  if (r.note) lines.push(`  note: ${r.note}`);
  if (!r.fields.length) lines.push("  (no fields published)");
  const width = Math.max(0, ...r.fields.map((f) => f.name.length));
  const fields = value === undefined ? {} : decode(r, value);
  for (const f of r.fields) {
    const bits = `${f.hi}:${f.lo}`.padEnd(6);
    if (value === undefined) {
      lines.push(`  ${bits} ${f.name.padEnd(width)}  ${valuesText(f)}`.trimEnd());
    } else {
      const v = fields[f.name];
      const named = f.values?.[v];
      lines.push(`  ${bits} ${f.name.padEnd(width)} = ${hex(v, 0)}${named ? ` (${named})` : ""}`);
    }
  }
  if (value !== undefined) {
    const rest = unnamedBits(r, value);
    if (rest) lines.push(`  unnamed bits set: ${hex(rest, 8)}`);
  }
  return lines.join("\n");
}

function hitElement(hit: RegisterHit): number {
  return hit.index * (hit.instance.register.array?.stride ?? 0);
}

function hitJson(hit: RegisterHit, value: number | undefined) {
  const r = hit.instance.register;
  return {
    ...instanceJson(hit.instance),
    name: displayName(hit),
    offset: hit.address,
    ...(r.array ? { index: hit.index } : {}),
    ...(value === undefined ? {} : { value, decoded: decode(r, value) }),
  };
}

async function main(args: readonly string[]): Promise<number> {
  const parsed = await startCli(args, OPTIONS, HELP, true);
  if (parsed === undefined) return 0;
  const chip = chipOf(parsed.string("chip") ?? DEFAULT_CHIP);
  const [query, valueText, ...extra] = parsed.positionals;
  if (extra.length) throw new UsageError(`too many arguments: ${extra.join(" ")}; see --help`);
  if (query === undefined) {
    list(chip, parsed.json);
    return 0;
  }
  let value: number | undefined;
  if (valueText !== undefined) {
    value = parseNumber(valueText, "value");
    if (value === undefined) throw new UsageError(`value ${valueText} is not a number`);
  }
  const hits = lookup(chip, query);
  if (!hits.length) throw new FalconryError(`no register ${query} on ${chip.name}`);
  if (parsed.json) printJson(hits.map((h) => hitJson(h, value)));
  else console.log(hits.map((h) => describe(h, chip, value)).join("\n\n"));
  return 0;
}

if (import.meta.main) await runMain(() => main(Deno.args));
