/**
 * Opening and reading many files through MemMapFS, with its mapping cache cold
 * and warm, against the runtime's own `readFileSync` in the same run: 10,000
 * files of 4 KiB and 10,000 of 64 KiB (1,000 each and one round with --quick).
 *
 * Contenders, each a pass over every file, µs per file:
 * - readFileSync: node:fs, a fresh buffer per file (the baseline).
 * - readFile: MemMapFS.readFile, a copy the caller owns, read with pread from
 *   a descriptor of its own on every pass (it never copies out of the cache's
 *   mapping: see README), three passes in a row.
 * - open + view: MemMapFS.open, touch one byte of every page through the
 *   zero-copy view, close. The first pass maps each file ("cold"); later ones
 *   reuse the cached mapping: one stat, no open, no mmap ("warm").
 * - open + read(): the same, but copying the file into one reused buffer.
 * - open + view, root: the same through a MemMapFS confined to the files'
 *   directory (`root`), whose hits are checked with fstatat beneath it.
 * - open + view, validateAfterMs: a cache whose hits within 60 s of the last
 *   check skip the stat (see README: only for files no one truncates in place).
 * The page cache is warm for every contender (files are written just before).
 * Each round starts with a new MemMapFS, so every round has a cold pass; every
 * pass is paired with a readFileSync pass run just before it, and the ratio is
 * taken within the pair. The medians over the rounds are printed.
 *
 * Targets (issue 3): warm 64 KiB open + read >= 5x faster than readFileSync;
 * cold open within 2x of it (ratio >= 0.5).
 *
 * Run: `node --experimental-ffi bench/memmapfs_read.ts [--quick]`,
 * `deno run -A bench/memmapfs_read.ts`, `bun bench/memmapfs_read.ts`.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MemMapFS } from "../mod.ts";

const quick = process.argv.includes("--quick");
const count = quick ? 1_000 : 10_000;
const rounds = quick ? 1 : 3;

function runtimeName(): string {
  const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (globals.Deno) return `Deno ${globals.Deno.version.deno}`;
  if (globals.Bun) return `Bun ${globals.Bun.version}`;
  return `Node ${process.versions.node}`;
}

/** µs per file of one pass of `read` over `names`, and a checksum so nothing is optimised away. */
function pass(names: string[], read: (name: string) => number): [number, number] {
  const start = performance.now();
  let checksum = 0;
  for (const name of names) checksum += read(name);
  return [(performance.now() - start) * 1000 / names.length, checksum];
}

function touchPages(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  return sum;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function run(size: number): void {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-bench-"));
  try {
    const names: string[] = [];
    const data = new Uint8Array(size).map((_, i) => i % 251);
    for (let i = 0; i < count; i++) {
      const name = path.join(directory, `f${i}.bin`);
      fs.writeFileSync(name, data);
      names.push(name);
    }
    const expected = touchPages(data) * count;
    const results = new Map<string, { us: number[]; ratio: number[] }>();
    const baseline: number[] = [];
    // Each contender's pass runs right after a readFileSync pass over the same
    // files, and its ratio is taken against that pass: garbage collection and
    // machine noise drift over a run, and pairing keeps them out of the ratios.
    const measure = (label: string, read: (name: string) => number) => {
      const [reference, referenceSum] = pass(names, (name) => touchPages(fs.readFileSync(name)));
      const [us, checksum] = pass(names, read);
      if (checksum !== expected || referenceSum !== expected) throw new Error(`${label}: wrong checksum`);
      const result = results.get(label) ?? { us: [], ratio: [] };
      result.us.push(us);
      result.ratio.push(reference / us);
      results.set(label, result);
      baseline.push(reference);
    };
    const limits = { maxBytes: 2 ** 31, maxFiles: count * 2 };
    const buffer = new Uint8Array(size);

    for (let round = 0; round < rounds; round++) {
      const copying = new MemMapFS({ cache: limits });
      measure("readFile, pass 1", (name) => touchPages(copying.readFile(name)));
      measure("readFile, pass 2", (name) => touchPages(copying.readFile(name)));
      measure("readFile, pass 3", (name) => touchPages(copying.readFile(name)));
      copying.close();

      const viewing = new MemMapFS({ cache: limits });
      const openView = (name: string) => {
        using file = viewing.open(name);
        return touchPages(file.bytes);
      };
      measure("open + view, cache cold", openView);
      measure("open + view, cache warm", openView);
      measure("open + read(), cache warm", (name) => {
        using file = viewing.open(name);
        file.read(buffer);
        return touchPages(buffer);
      });
      viewing.close();

      const confined = new MemMapFS({ root: directory, cache: limits });
      const relative = (name: string) => name.slice(directory.length + 1);
      const openConfined = (name: string) => {
        using file = confined.open(relative(name));
        return touchPages(file.bytes);
      };
      measure("open + view, root, cache cold", openConfined);
      measure("open + view, root, cache warm", openConfined);
      confined.close();

      const trusting = new MemMapFS({ cache: { ...limits, validateAfterMs: 60_000 } });
      const openTrusting = (name: string) => {
        using file = trusting.open(name);
        return touchPages(file.bytes);
      };
      measure("open + view, validateAfterMs, cold", openTrusting);
      measure("open + view, validateAfterMs, warm", openTrusting);
      trusting.close();

      const uncached = new MemMapFS({ cache: false });
      measure("open + view, cache: false", (name) => {
        using file = uncached.open(name);
        return touchPages(file.bytes);
      });
    }

    console.log(`${runtimeName()}: ${count} files of ${size / 1024} KiB, median of ${rounds} round(s)`);
    console.log(`  ${"readFileSync (median of all passes)".padEnd(36)} ${median(baseline).toFixed(2).padStart(8)} µs/file`);
    for (const [label, { us, ratio }] of results) {
      console.log(
        `  ${label.padEnd(36)} ${median(us).toFixed(2).padStart(8)} µs/file  ` +
          `${median(ratio).toFixed(2).padStart(5)}x readFileSync`,
      );
    }
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

run(4 * 1024);
run(64 * 1024);
