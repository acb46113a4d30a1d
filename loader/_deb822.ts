/**
 * deb822 stanzas (apt's `*.sources` files, `apt-cache show` output): blank
 * lines separate stanzas, `Key: value` starts a field, an indented line
 * continues it (a lone `.` stands for an empty line).
 *
 * @module
 */

/**
 * The stanzas of `text` as maps of lower-case field name → value, continuation lines joined
 * by newlines.
 */
export function parseStanzas(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let lastKey: string | undefined;
  const finish = () => {
    if (current.size > 0) stanzas.push(current);
    current = new Map();
    lastKey = undefined;
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    if (line.trim() === "") {
      finish();
      continue;
    }
    if (/^\s/.test(line)) {
      if (lastKey === undefined) continue;
      const value = line.trim() === "." ? "" : line.trim();
      current.set(lastKey, `${current.get(lastKey)}\n${value}`);
      continue;
    }
    const field = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (!field) continue;
    lastKey = field[1].toLowerCase();
    current.set(lastKey, field[2].trim());
  }
  finish();
  return stanzas;
}
