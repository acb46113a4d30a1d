// A checker of the Prometheus text exposition format (version 0.0.4), as node_exporter's
// textfile collector reads it: written from the format's own rules, not from the formatter it
// checks. It parses every line, unescapes the label values, and throws naming the line for:
// a metric or label name outside the allowed characters, a label name starting with "__", a
// HELP or TYPE line given twice or after the family's samples, a TYPE other than the known ones,
// a family's samples not together, a series (name and label set) given twice, a timestamp (the
// textfile collector refuses them), a value that is not a float, and a missing final newline.

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** One sample, its label values unescaped. */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family. */
export interface ParsedFamily {
  name: string;
  help?: string;
  type?: string;
  samples: ParsedSample[];
}

function fail(line: number, text: string, why: string): never {
  throw new Error(`line ${line} (${JSON.stringify(text)}): ${why}`);
}

/** Undo the escaping of a HELP text: `\\` and `\n` only. */
function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    fail(line, text, `\\${c} is not an escape of a HELP text`);
  });
}

/** Parse `{a="x",b="y"}` from `text` at `at`; returns the labels and where it ended. */
function parseLabels(
  text: string,
  at: number,
  line: number,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  for (;;) {
    if (text[i] === "}") return { labels, end: i + 1 };
    const eq = text.indexOf("=", i);
    if (eq < 0) fail(line, text, "a label without =");
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(line, text, `label name ${JSON.stringify(name)}`);
    if (name.startsWith("__")) fail(line, text, `label name ${name} is reserved`);
    if (Object.hasOwn(labels, name)) fail(line, text, `label ${name} twice`);
    if (text[eq + 1] !== '"') fail(line, text, "a label value must be quoted");
    let value = "";
    let j = eq + 2;
    for (;; j++) {
      const c = text[j];
      if (c === undefined) fail(line, text, "an unterminated label value");
      if (c === '"') break;
      if (c === "\n") fail(line, text, "a raw newline in a label value");
      if (c === "\\") {
        const next = text[++j];
        if (next === "\\") value += "\\";
        else if (next === '"') value += '"';
        else if (next === "n") value += "\n";
        else fail(line, text, `\\${next} is not an escape of a label value`);
        continue;
      }
      value += c;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail(line, text, "labels must be separated by commas");
  }
}

function parseValue(text: string, line: number, whole: string): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    fail(line, whole, `value ${JSON.stringify(text)} is not a float`);
  }
  return Number(text);
}

/**
 * Check `text` against the format's rules and return its families.
 *
 * @throws {Error} Naming the first line that breaks a rule.
 */
export function parseExposition(text: string): ParsedFamily[] {
  if (!text.endsWith("\n")) throw new Error("the text does not end with a newline");
  const families = new Map<string, ParsedFamily>();
  const series = new Set<string>();
  let current: ParsedFamily | undefined;
  const family = (name: string, line: number, raw: string): ParsedFamily => {
    if (current?.name === name) return current;
    if (families.get(name)?.samples.length) {
      fail(line, raw, `family ${name} continues after another family's lines`);
    }
    current = families.get(name) ?? { name, samples: [] };
    families.set(name, current);
    return current;
  };
  text.slice(0, -1).split("\n").forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // a plain comment
      const [, keyword, name, rest] = m;
      if (!METRIC_NAME.test(name)) fail(line, raw, `metric name ${JSON.stringify(name)}`);
      const f = family(name, line, raw);
      if (f.samples.length) fail(line, raw, `${keyword} of ${name} after its samples`);
      if (keyword === "HELP") {
        if (f.help !== undefined) fail(line, raw, `a second HELP for ${name}`);
        f.help = unescapeHelp(rest, line);
      } else {
        if (f.type !== undefined) fail(line, raw, `a second TYPE for ${name}`);
        if (!TYPES.has(rest)) fail(line, raw, `unknown TYPE ${rest}`);
        f.type = rest;
      }
      return;
    }
    const nameEnd = raw.search(/[{ ]/);
    if (nameEnd <= 0) fail(line, raw, "not a sample");
    const name = raw.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) fail(line, raw, `metric name ${JSON.stringify(name)}`);
    let labels: Record<string, string> = {};
    let at = nameEnd;
    if (raw[at] === "{") ({ labels, end: at } = parseLabels(raw, at, line));
    if (raw[at] !== " ") fail(line, raw, "a space must separate the value");
    const fields = raw.slice(at + 1).split(" ");
    if (fields.length !== 1) fail(line, raw, "a timestamp, or trailing text, after the value");
    const value = parseValue(fields[0], line, raw);
    const f = family(name, line, raw);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) fail(line, raw, `series ${key} given twice`);
    series.add(key);
    f.samples.push({ name, labels, value });
  });
  return [...families.values()];
}
