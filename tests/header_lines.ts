// Reads a committed file of C header lines (tests/darwin_headers.txt,
// tests/linux_arm64_headers.txt): one line per definition with the package,
// path and line number it was copied from, so a platform table can be checked
// against headers this machine does not have.
import assert from "node:assert/strict";
import * as fs from "node:fs";

/** One copied header line. */
export interface HeaderLine {
  /** `package:path:line`, to name in assertion messages. */
  readonly source: string;
  readonly path: string;
  readonly text: string;
}

/** The lines of a header file copy, the names searched for and found absent, and macro lookup. */
export interface HeaderLines {
  readonly lines: readonly HeaderLine[];
  readonly absent: ReadonlySet<string>;
  /** Where `name` is defined, or undefined. */
  source(name: string): string | undefined;
  /** The value of a macro: a C literal (hex, octal, decimal) or another macro's name, followed. */
  macro(name: string): number;
}

export function readHeaderLines(file: URL): HeaderLines {
  const lines: HeaderLine[] = [];
  const absent = new Set<string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const gone = line.match(/^absent (\w+):([^:]+): (\S+)$/);
    if (gone) {
      absent.add(gone[3]);
      continue;
    }
    const match = line.match(/^(\w+):([^:]+):(\d+): (.*)$/);
    assert.ok(match, `malformed line in ${file}: ${line}`);
    lines.push({ source: `${match[1]}:${match[2]}:${match[3]}`, path: match[2], text: match[4] });
  }
  const defines = new Map<string, { value: string; source: string }>();
  for (const { text, source } of lines) {
    const match = text.match(/^#\s*define\s+(\w+)\s+(.+)$/);
    // The first definition wins, as the preprocessor's first #define does.
    if (match && !defines.has(match[1])) defines.set(match[1], { value: match[2].trim(), source });
  }
  const macro = (name: string, seen: readonly string[] = []): number => {
    const entry = defines.get(name);
    assert.ok(entry, `no header line defines ${name}`);
    const { value } = entry;
    if (/^0x[0-9a-f]+$/i.test(value)) return Number.parseInt(value, 16);
    if (/^0[0-7]*$/.test(value)) return Number.parseInt(value, 8);
    if (/^-?\d+$/.test(value)) return Number.parseInt(value, 10);
    assert.ok(/^\w+$/.test(value) && !seen.includes(value), `${name} = ${value} (${entry.source})`);
    return macro(value, [...seen, name]);
  };
  return {
    lines,
    absent,
    source: (name) => defines.get(name)?.source,
    macro: (name) => macro(name),
  };
}
