// Human-readable printing of nested header fields, shared by the inspect commands.

/** Numbers print as decimal and hex; nested objects indent; arrays of objects number their items. */
export function printFields(value: unknown, indent = "  "): void {
  for (const line of fieldLines(value, indent)) console.log(line);
}

/**
 * The lines {@linkcode printFields} prints. A field's name for its number
 * (`machine: 243` with `machineName: "RISC-V"`, `flags` with `flagNames`) is
 * printed on the number's line, `machine  243 (0xf3, RISC-V)`, not on a line
 * of its own.
 */
export function fieldLines(value: unknown, indent = "  "): string[] {
  const out: string[] = [];
  walk(value, indent, out);
  return out;
}

function scalar(v: unknown, name?: string): string {
  if (typeof v === "number") {
    const hex = Number.isInteger(v) && v > 9 ? `0x${v.toString(16)}` : undefined;
    const notes = [hex, name].filter(Boolean);
    return notes.length ? `${v} (${notes.join(", ")})` : String(v);
  }
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

/** The key that holds `key`'s name, as firmware/describe.ts writes it. */
function nameKeyOf(key: string): string {
  return key === "flags" ? "flagNames" : `${key}Name`;
}

function nameText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) {
    return v.join("|"); // "" for no flags: folded away, nothing printed
  }
  return undefined;
}

function walk(value: unknown, indent: string, out: string[]): void {
  if (isScalar(value)) {
    out.push(`${indent}${scalar(value)}`);
    return;
  }
  const record = value as Record<string, unknown>;
  const all = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v] as const)
    : Object.entries(record);
  // Names folded into their number's line.
  const folded = new Set(
    Array.isArray(value)
      ? []
      : all.flatMap(([key, v]) =>
        typeof v === "number" && Object.hasOwn(record, nameKeyOf(key)) &&
          nameText(record[nameKeyOf(key)]) !== undefined
          ? [nameKeyOf(key)]
          : []
      ),
  );
  const entries = all.filter(([key]) => !folded.has(key));
  const oneLine = (v: unknown) => isScalar(v) || (Array.isArray(v) && v.every(isScalar));
  const width = Math.max(0, ...entries.filter(([, v]) => oneLine(v)).map(([k]) => k.length)) + 2;
  for (const [key, v] of entries) {
    if (isScalar(v)) {
      const name = folded.has(nameKeyOf(key)) ? nameText(record[nameKeyOf(key)]) : undefined;
      out.push(`${indent}${key.padEnd(width)}${scalar(v, name)}`);
    } else if (Array.isArray(v) && v.every(isScalar)) {
      out.push(`${indent}${key.padEnd(width)}[${v.map((x) => scalar(x)).join(", ")}]`);
    } else {
      out.push(`${indent}${key}:`);
      walk(v, indent + "  ", out);
    }
  }
}
