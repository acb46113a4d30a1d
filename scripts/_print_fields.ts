// Human-readable printing of nested header fields, shared by the inspect commands.

/** Numbers print as decimal and hex; nested objects indent; arrays of objects number their items. */
export function printFields(value: unknown, indent = "  "): void {
  for (const line of fieldLines(value, indent)) console.log(line);
}

/** The lines {@linkcode printFields} prints. */
export function fieldLines(value: unknown, indent = "  "): string[] {
  const out: string[] = [];
  walk(value, indent, out);
  return out;
}

function scalar(v: unknown): string {
  if (typeof v === "number") {
    return Number.isInteger(v) && v > 9 ? `${v} (0x${v.toString(16)})` : String(v);
  }
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

function walk(value: unknown, indent: string, out: string[]): void {
  if (isScalar(value)) {
    out.push(`${indent}${scalar(value)}`);
    return;
  }
  const entries = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v] as const)
    : Object.entries(value as Record<string, unknown>);
  const width = Math.max(0, ...entries.filter(([, v]) => isScalar(v)).map(([k]) => k.length)) + 2;
  for (const [key, v] of entries) {
    if (isScalar(v)) out.push(`${indent}${key.padEnd(width)}${scalar(v)}`);
    else if (Array.isArray(v) && v.every(isScalar)) {
      out.push(`${indent}${key.padEnd(width)}[${v.map(scalar).join(", ")}]`);
    } else {
      out.push(`${indent}${key}:`);
      walk(v, indent + "  ", out);
    }
  }
}
