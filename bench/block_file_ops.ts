/**
 * BlockFile throughput: allocate a block, write 4 KiB into it, read it back,
 * free it — N times (default 100,000, `--quick` 10,000) — on a file, on a
 * file committing with `sync()` every 1,000 cycles, and in anonymous memory.
 * Prints operations (full cycles) per second for the running runtime.
 *
 * Run: `node --experimental-ffi bench/block_file_ops.ts [--quick]`,
 * `deno run -A bench/block_file_ops.ts`, `bun bench/block_file_ops.ts`.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlockFile } from "../mod.ts";

const cycles = process.argv.includes("--quick") ? 10_000 : 100_000;
const payload = new Uint8Array(4096).map((_, i) => i & 0xff);
const readBack = new Uint8Array(4096);

function runtimeName(): string {
  const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (globals.Deno) return `Deno ${globals.Deno.version.deno}`;
  if (globals.Bun) return `Bun ${globals.Bun.version}`;
  return `Node ${process.versions.node}`;
}

function cyclesPerSecond(blocks: BlockFile, syncEvery = 0): number {
  // Keep a few blocks allocated so frees and allocations walk a real free list.
  const kept = Array.from({ length: 64 }, () => blocks.allocate());
  const start = performance.now();
  for (let i = 0; i < cycles; i++) {
    const offset = blocks.allocate();
    const view = blocks.get(offset);
    view.set(payload);
    readBack.set(view);
    blocks.release(view);
    if (readBack[4095] !== 255) throw new Error("read back the wrong bytes");
    blocks.free(offset);
    if (syncEvery > 0 && i % syncEvery === syncEvery - 1) blocks.sync();
  }
  const seconds = (performance.now() - start) / 1000;
  for (const offset of kept) blocks.free(offset);
  return cycles / seconds;
}

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-bench-"));
try {
  const file = BlockFile.create(path.join(directory, "bench.bf"));
  const onFile = cyclesPerSecond(file);
  file.close();
  const synced = BlockFile.create(path.join(directory, "synced.bf"));
  const onFileSynced = cyclesPerSecond(synced, 1000);
  synced.close();
  const memory = BlockFile.anonymous();
  const inMemory = cyclesPerSecond(memory);
  memory.close();
  const format = (rate: number) => `${Math.round(rate).toLocaleString("en-US")} cycles/s`;
  console.log(`${runtimeName()}: allocate + write 4 KiB + read back + free, ${cycles.toLocaleString("en-US")} times`);
  console.log(`  file-backed                       ${format(onFile)}`);
  console.log(`  file-backed, sync() every 1,000   ${format(onFileSynced)}`);
  console.log(`  anonymous                         ${format(inMemory)}`);
} finally {
  fs.rmSync(directory, { recursive: true, force: true });
}
