/**
 * What the private copy-on-write mapping of read-only files (issue 13.3) costs
 * against the strict `PROT_READ` mapping (`strictReadonly: true`), and what
 * `MAP_NORESERVE` saves:
 * - open time of a 256 MiB file, median of 200 (µs), and the time of a first
 *   read of one byte per page, median of 10 (ms), interleaved;
 * - after reading one byte of every page: the mapping's resident and
 *   anonymous (copied) MiB, from /proc/self/smaps;
 * - the same after `populate: true` and after `lock: true` (neither may copy
 *   the file into anonymous memory), and what a bare mlock or MAP_POPULATE of
 *   a private writable mapping would copy (why memmapfs makes it PROT_READ
 *   while locked and prefaults with MADV_POPULATE_READ);
 * - commit charge: the change of Committed_AS (/proc/meminfo, system-wide so
 *   noisy by a few MiB) while an 8 GiB sparse file is mapped, with and without
 *   MAP_NORESERVE (the second through libc directly: memmapfs never maps so);
 * - a stray write into a 64 GiB sparse file: what it costs (one page).
 *
 * Run: `node --experimental-ffi bench/readonly_cow_cost.ts`,
 * `deno run -A bench/readonly_cow_cost.ts`, `bun bench/readonly_cow_cost.ts`.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MappedFile, pageSize } from "../mod.ts";
import { MAP_FAILED } from "../src/ffi/constants.ts";
import { libc } from "../src/ffi/mod.ts";

const MiB = 2 ** 20, GiB = 2 ** 30;
const directory = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-cow-bench-"));

function runtimeName(): string {
  const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (globals.Deno) return `Deno ${globals.Deno.version.deno}`;
  if (globals.Bun) return `Bun ${globals.Bun.version}`;
  return `Node ${process.version}`;
}

function field(file: string, name: string): number {
  const line = fs.readFileSync(file, "utf8").split("\n").find((l) => l.startsWith(`${name}:`));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024; // kB → MiB
}

/** Sum of one /proc/self/smaps field over the mappings of `file`, in MiB. */
function smaps(file: string, name: string): number {
  let total = 0;
  let inFile = false;
  for (const line of fs.readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.endsWith(` ${file}`);
    else if (inFile && line.startsWith(`${name}:`)) total += Number(line.slice(name.length + 1).trim().split(/\s+/)[0]);
  }
  return total / 1024;
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

function touchPages(file: MappedFile): number {
  let sum = 0;
  for (let at = 0; at < file.size; at += pageSize) sum += file.getUint8(at);
  return sum;
}

try {
  const real = path.join(directory, "real.bin");
  fs.writeFileSync(real, new Uint8Array(256 * MiB).fill(7));
  fs.readFileSync(real); // warm the page cache for both
  console.log(`${runtimeName()}, page size ${pageSize}, 256 MiB file in the page cache`);

  // Interleaved, so both see the same machine: open+close, and a read of one byte per page.
  const times = new Map<boolean, number[]>([[true, []], [false, []]]);
  const touches = new Map<boolean, number[]>([[true, []], [false, []]]);
  for (let i = 0; i < 200; i++) {
    for (const strict of [true, false]) {
      const start = performance.now();
      const file = MappedFile.open(real, { strictReadonly: strict });
      times.get(strict)!.push((performance.now() - start) * 1000);
      if (i % 20 === 0) {
        const touched = performance.now();
        touchPages(file);
        touches.get(strict)!.push(performance.now() - touched);
      }
      file.close();
    }
  }
  for (const strict of [true, false]) {
    const label = strict ? "strict (PROT_READ, shared)   " : "copy-on-write (MAP_NORESERVE)";
    const rows: string[] = [`open ${median(times.get(strict)!).toFixed(1)} µs`, `first read of every page ${median(touches.get(strict)!).toFixed(1)} ms`];
    for (const options of [{}, { populate: true }, { lock: true }]) {
      const file = MappedFile.open(real, { strictReadonly: strict, ...options });
      touchPages(file);
      const rss = smaps(real, "Rss");
      const anon = smaps(real, "Anonymous");
      file.close();
      rows.push(`${Object.keys(options)[0] ?? "read"}: Rss ${rss.toFixed(0)} MiB, Anonymous ${anon.toFixed(1)} MiB`);
    }
    console.log(`${label}  ${rows.join("; ")}`);
  }

  {
    // What memmapfs avoids: mlock of a private writable mapping faults every page for writing.
    const c = libc().constants;
    const raw = libc().open(real, c.O_RDONLY | c.O_CLOEXEC, 0);
    const address = libc().mmap(0n, 256 * MiB, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_NORESERVE, raw, 0);
    libc().mlock(address, 256 * MiB);
    console.log(`bare mlock of a private writable mapping: Rss ${smaps(real, "Rss").toFixed(0)} MiB, Anonymous ${smaps(real, "Anonymous").toFixed(0)} MiB`);
    libc().munmap(address, 256 * MiB);
    const populated = libc().mmap(0n, 256 * MiB, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_NORESERVE | c.MAP_POPULATE, raw, 0);
    console.log(`bare MAP_POPULATE of a private writable mapping: Rss ${smaps(real, "Rss").toFixed(0)} MiB, Anonymous ${smaps(real, "Anonymous").toFixed(0)} MiB`);
    libc().munmap(populated, 256 * MiB);
    libc().close(raw);
  }

  const sparse = path.join(directory, "sparse-8g.bin");
  fs.closeSync(fs.openSync(sparse, "w"));
  fs.truncateSync(sparse, 8 * GiB);
  const committed = () => field("/proc/meminfo", "Committed_AS");
  for (const strict of [true, false]) {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = committed();
      const file = MappedFile.open(sparse, { strictReadonly: strict });
      samples.push(committed() - before);
      file.close();
    }
    console.log(`8 GiB sparse, ${strict ? "strict" : "copy-on-write + MAP_NORESERVE"}: Committed_AS change, median of 5: ${median(samples).toFixed(0)} MiB`);
  }
  {
    // What memmapfs avoids: a private writable mapping without MAP_NORESERVE.
    const c = libc().constants;
    const samples: number[] = [];
    const raw = libc().open(sparse, c.O_RDONLY | c.O_CLOEXEC, 0);
    for (let i = 0; i < 5; i++) {
      const before = committed();
      const address = libc().mmap(0n, 8 * GiB, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE, raw, 0);
      samples.push(committed() - before);
      if (address !== MAP_FAILED) libc().munmap(address, 8 * GiB);
      else samples[samples.length - 1] = NaN;
    }
    libc().close(raw);
    console.log(`8 GiB sparse, copy-on-write without MAP_NORESERVE: Committed_AS change, median of 5: ${median(samples).toFixed(0)} MiB`);
  }

  const huge = path.join(directory, "sparse-64g.bin");
  fs.closeSync(fs.openSync(huge, "w"));
  fs.truncateSync(huge, 64 * GiB);
  {
    const start = performance.now();
    const file = MappedFile.open(huge);
    const opened = (performance.now() - start) * 1000;
    file.subarray(64 * GiB - 10, 64 * GiB)[0] = 1; // the stray write
    file.subarray(0, 10)[0] = 1;
    const anon = smaps(huge, "Anonymous");
    file.close();
    console.log(`64 GiB sparse, copy-on-write: open ${opened.toFixed(0)} µs; two stray writes (two pages) cost Anonymous ${(anon * 1024).toFixed(0)} kB`);
  }
} finally {
  fs.rmSync(directory, { recursive: true, force: true });
}
