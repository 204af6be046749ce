/**
 * The `memmapfs` command: the page-cache jobs batch users run with vmtouch
 * or fincore, on Deno, Bun and Node.
 *
 *     memmapfs stat  [--json] <file|directory>...   resident pages, a bar per file, totals
 *     memmapfs warm  [--json] <file|directory>...   read into the page cache
 *     memmapfs evict [--json] <file|directory>...   drop from the page cache
 *     memmapfs lock  [--json] <file|directory>...   map and mlock until interrupted
 *
 * @module
 */

import { pageSize } from "../page_size.ts";
import { collectFiles, evict, lockAll, residency, type Residency, warm } from "./page_cache.ts";

/**
 * Where the command writes, and whether stderr is a terminal (progress bars
 * only go to one). Tests pass their own.
 *
 * @example
 * ```ts ignore
 * const io: CommandIo = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text), terminal: false };
 * ```
 */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal: show progress. */
  terminal: boolean;
  /** Resolves when the user interrupts (`lock` waits for it); default SIGINT or SIGTERM. */
  interrupted?: Promise<void>;
}

const USAGE = `usage: memmapfs <command> [--json] <file|directory>...

commands:
  stat    how much of each file is in the page cache (mincore), with totals
  warm    read the files into the page cache (MADV_POPULATE_READ, else a read per page)
  evict   drop the files' clean pages from the page cache (posix_fadvise DONTNEED)
  lock    map the files and mlock them until interrupted (Ctrl-C), like vmtouch -l

options:
  --json  one JSON object on stdout instead of the report
`;

const COMMANDS = ["stat", "warm", "evict", "lock"] as const;
type Command = typeof COMMANDS[number];

/**
 * Runs the command line `args` (without the program name) and resolves to
 * the exit status: 0 done, 1 some path failed (reported, the rest done),
 * 2 a usage error.
 *
 * @example
 * ```ts ignore
 * process.exitCode = await main(["stat", "--json", "data/"], io);
 * ```
 */
export async function main(args: readonly string[], io: CommandIo): Promise<number> {
  const json = args.includes("--json");
  const unknown = args.filter((arg) => arg.startsWith("-") && arg !== "--json");
  const [command, ...paths] = args.filter((arg) => !arg.startsWith("-"));
  if (args.includes("--help") || args.includes("-h")) {
    io.out(USAGE);
    return 0;
  }
  if (!COMMANDS.includes(command as Command) || paths.length === 0 || unknown.length > 0) {
    io.err(unknown.length > 0 ? `memmapfs: unknown option ${unknown.join(" ")}\n${USAGE}` : USAGE);
    return 2;
  }
  const started = performance.now();
  const { files, directories, problems } = collectFiles(paths);
  const report = (path: string, message: string) => problems.push({ path, message });

  if (command === "lock") return await lockFiles(files, directories, problems, json, io);

  const rows: (Residency & { path: string })[] = [];
  for (const [index, path] of files.entries()) {
    try {
      if (command === "warm") {
        warm(path, io.terminal && !json ? (done, total) => io.err(progress(index, files.length, path, done, total)) : undefined);
      } else if (command === "evict") {
        evict(path);
      }
      rows.push({ path, ...residency(path) });
    } catch (error) {
      report(path, (error as Error).message);
    }
  }
  if (io.terminal && !json && command === "warm" && files.length > 0) io.err("\r\x1b[K");
  const seconds = (performance.now() - started) / 1000;
  const totals = total(rows, directories);
  if (json) {
    io.out(JSON.stringify({ command, pageSize, files: rows, totals, problems, seconds }) + "\n");
  } else {
    for (const row of rows) io.out(`${bar(row.resident, row.pages)} ${pagesText(row.resident, row.pages)} ${row.path}\n`);
    io.out(summary(totals, seconds));
    for (const { path, message } of problems) io.err(`memmapfs: ${path}: ${message}\n`);
  }
  return problems.length > 0 ? 1 : 0;
}

async function lockFiles(
  files: string[],
  directories: number,
  problems: { path: string; message: string }[],
  json: boolean,
  io: CommandIo,
): Promise<number> {
  const held = lockAll(files, (path, message) => problems.push({ path, message }));
  // Listen before saying so: a Ctrl-C right after the message must let go, not kill.
  const interrupted = io.interrupted ?? interruption();
  if (json) {
    io.out(JSON.stringify({ command: "lock", locked: held.locked, bytes: held.bytes, directories, problems }) + "\n");
  } else {
    for (const { path, message } of problems) io.err(`memmapfs: ${path}: ${message}\n`);
    io.out(`locked ${held.locked} files, ${size(held.bytes)}; press Ctrl-C to let go\n`);
  }
  try {
    await interrupted;
  } finally {
    held.release();
  }
  return problems.length > 0 ? 1 : 0;
}

/** Resolves at the first SIGINT or SIGTERM, which it then stops handling. */
function interruption(): Promise<void> {
  const process = (globalThis as unknown as {
    process: { once(signal: string, listener: () => void): void; off(signal: string, listener: () => void): void };
  }).process;
  return new Promise((resolve) => {
    // A signal listener does not keep the event loop alive; this timer does.
    const alive = setInterval(() => {}, 2 ** 30);
    const done = () => {
      clearInterval(alive);
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}

interface Totals {
  files: number;
  directories: number;
  pages: number;
  resident: number;
  bytes: number;
  residentBytes: number;
}

function total(rows: Residency[], directories: number): Totals {
  const pages = rows.reduce((sum, row) => sum + row.pages, 0);
  const resident = rows.reduce((sum, row) => sum + row.resident, 0);
  return {
    files: rows.length, directories, pages, resident,
    bytes: rows.reduce((sum, row) => sum + row.size, 0), residentBytes: resident * pageSize,
  };
}

const BAR = 20;

function bar(resident: number, pages: number): string {
  const filled = pages === 0 ? 0 : Math.round((resident / pages) * BAR);
  return `[${"#".repeat(filled)}${" ".repeat(BAR - filled)}]`;
}

function percent(part: number, whole: number): string {
  return `${whole === 0 || part === 0 ? "0" : ((part / whole) * 100).toFixed(part === whole ? 0 : 1)}%`;
}

function pagesText(resident: number, pages: number): string {
  return `${String(resident).padStart(9)}/${String(pages).padEnd(9)} ${percent(resident, pages).padStart(6)}`;
}

function size(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function summary(totals: Totals, seconds: number): string {
  return `       Files: ${totals.files}\n` +
    ` Directories: ${totals.directories}\n` +
    `    Resident: ${totals.resident}/${totals.pages} pages  ${size(totals.residentBytes)}/${size(totals.bytes)}  ` +
    `${percent(totals.resident, totals.pages)}\n` +
    `     Elapsed: ${seconds.toFixed(3)} s\n`;
}

function progress(index: number, count: number, path: string, done: number, total: number): string {
  return `\r\x1b[K${bar(done, total)} ${percent(done, total).padStart(6)} file ${index + 1}/${count} ${path}`;
}
