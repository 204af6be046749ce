/**
 * Reading many small files: MemMapFS with its mapping cache cold and warm,
 * against the runtime's own `readFileSync`, in the same run. 10,000 files of
 * 4 KiB and of 64 KiB (1,000 each with --quick).
 *
 * - readFile: MemMapFS.readFile (a copy the caller owns) vs readFileSync.
 * - open + read: MemMapFS.open, read every byte through the zero-copy view,
 *   close — vs readFileSync and the same pass over its buffer.
 * "cold" is the first pass over the files (the page cache is warm for every
 * contender: each pass reads files written moments before); "warm" is a pass
 * once MemMapFS has mapped them (files up to 16 KiB are mapped from their
 * second read, so they get one extra priming pass).
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

const count = process.argv.includes("--quick") ? 1_000 : 10_000;

function runtimeName(): string {
  const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (globals.Deno) return `Deno ${globals.Deno.version.deno}`;
  if (globals.Bun) return `Bun ${globals.Bun.version}`;
  return `Node ${process.versions.node}`;
}

function time(work: () => number): [number, number] {
  const start = performance.now();
  const checksum = work();
  return [(performance.now() - start) * 1000 / count, checksum];
}

function sumEvery4K(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  return sum;
}

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
    const all = (read: (name: string) => Uint8Array) => () => names.reduce((sum, name) => sum + sumEvery4K(read(name)), 0);

    const [node] = time(all((name) => fs.readFileSync(name)));
    const copying = new MemMapFS({ cache: { maxBytes: 2 ** 31, maxFiles: count * 2 } });
    const [cold] = time(all((name) => copying.readFile(name)));
    if (size <= 16 * 1024) time(all((name) => copying.readFile(name)));
    const [warm, checksum] = time(all((name) => copying.readFile(name)));
    const [nodeAgain, expected] = time(all((name) => fs.readFileSync(name)));
    if (checksum !== expected) throw new Error("checksums differ");

    const viewing = new MemMapFS({ cache: { maxBytes: 2 ** 31, maxFiles: count * 2 } });
    const openRead = (name: string) => {
      using file = viewing.open(name);
      return sumEvery4K(file.bytes);
    };
    const [openCold] = time(() => names.reduce((sum, name) => sum + openRead(name), 0));
    if (size <= 16 * 1024) time(() => names.reduce((sum, name) => sum + openRead(name), 0));
    const [openWarm] = time(() => names.reduce((sum, name) => sum + openRead(name), 0));
    copying.close();
    viewing.close();

    const baseline = Math.min(node, nodeAgain);
    const line = (label: string, us: number) =>
      `  ${label.padEnd(34)} ${us.toFixed(2).padStart(8)} µs/file  ${(baseline / us).toFixed(2)}x readFileSync`;
    console.log(`${runtimeName()}: ${count} files of ${size / 1024} KiB`);
    console.log(`  ${"readFileSync".padEnd(34)} ${baseline.toFixed(2).padStart(8)} µs/file`);
    console.log(line("MemMapFS.readFile, cache cold", cold));
    console.log(line("MemMapFS.readFile, cache warm", warm));
    console.log(line("MemMapFS.open + view, cache cold", openCold));
    console.log(line("MemMapFS.open + view, cache warm", openWarm));
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

run(4 * 1024);
run(64 * 1024);
