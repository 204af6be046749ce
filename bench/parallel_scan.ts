/**
 * Speed-up of scanning one large file with N worker threads over one shared
 * file (each maps it with `MappedFile.fromShared`) against one thread
 * scanning the same mapping. Workers are started and have mapped the file
 * before the clock starts (a pool, as a batch job keeps one); each round
 * times one thread, then the pool, on the page-cached file, and the report
 * gives medians over ROUNDS interleaved rounds and the median per-round ratio.
 *
 * Run: `node --experimental-ffi --no-warnings bench/parallel_scan.ts [--quick] [--workers=N]`,
 * `deno run -A bench/parallel_scan.ts`, `bun bench/parallel_scan.ts`.
 * 1 GiB file (256 MiB with --quick); workers default to the number of CPUs.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { MappedFile, type SharedMappedFile } from "../mod.ts";

const ROUNDS = 5;
const VIEW = 16 * 2 ** 20;

/** Counts newlines and sums the bytes of [from, to) in place. */
function scan(file: MappedFile, from: number, to: number): number {
  let lines = 0;
  let checksum = 0;
  for (let at = from; at < to; at += VIEW) {
    const view = file.subarray(at, Math.min(at + VIEW, to));
    for (let i = 0; i < view.length; i++) {
      const byte = view[i];
      checksum += byte;
      if (byte === 10) lines++;
    }
  }
  return lines * 1e12 + checksum;
}

if (!isMainThread) {
  const { shared, from, to } = workerData as { shared: SharedMappedFile; from: number; to: number };
  const file = MappedFile.fromShared(shared);
  parentPort!.on("message", (message: string) => {
    if (message === "close") {
      file.close();
      parentPort!.postMessage("closed");
      return;
    }
    parentPort!.postMessage(scan(file, from, to));
  });
  parentPort!.postMessage("ready");
} else {
  const quick = process.argv.includes("--quick");
  const workersArg = process.argv.find((arg) => arg.startsWith("--workers="));
  const count = workersArg ? Number(workersArg.slice(10)) : os.availableParallelism();
  const size = quick ? 256 * 2 ** 20 : 2 ** 30;
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "parallel-scan-bench-"));
  const file = path.join(directory, "data.log");
  const block = Buffer.from(Array.from({ length: 4096 }, (_, i) => `line ${i} ${"x".repeat(i % 60)}\n`).join(""));
  const fd = fs.openSync(file, "w");
  for (let written = 0; written < size; written += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, size - written));
  fs.closeSync(fd);

  const mapped = MappedFile.open(file);
  const shared = mapped.share();
  const step = Math.ceil(size / count);
  const inbox = (worker: Worker) => new Promise<unknown>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  const pool = Array.from({ length: count }, (_, i) =>
    new Worker(new URL(import.meta.url), { workerData: { shared, from: i * step, to: Math.min((i + 1) * step, size) } }));
  await Promise.all(pool.map(inbox));
  scan(mapped, 0, size); // the file is in the page cache and the scan is compiled from here on

  const alone: number[] = [];
  const together: number[] = [];
  const ratios: number[] = [];
  let expected = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now();
    expected = scan(mapped, 0, size);
    const one = performance.now() - started;
    started = performance.now();
    const parts = await Promise.all(pool.map((worker) => {
      const reply = inbox(worker);
      worker.postMessage("scan");
      return reply as Promise<number>;
    }));
    const many = performance.now() - started;
    const total = parts.reduce((sum, part) => sum + part, 0);
    if (total !== expected) throw new Error(`round ${round}: workers found ${total}, one thread ${expected}`);
    alone.push(one);
    together.push(many);
    ratios.push(one / many);
  }
  await Promise.all(pool.map(async (worker) => {
    const reply = inbox(worker);
    worker.postMessage("close");
    await reply;
    await worker.terminate();
  }));
  mapped.close();
  fs.rmSync(directory, { recursive: true, force: true });

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const MiB = size / 2 ** 20;
  const runtime = (globalThis as { Deno?: unknown }).Deno ? "Deno" : (globalThis as { Bun?: unknown }).Bun ? "Bun" : "Node";
  console.log(`${runtime}, ${MiB} MiB, ${os.availableParallelism()} CPUs, load ${os.loadavg()[0].toFixed(1)}, median of ${ROUNDS} rounds`);
  console.log(`1 thread:   ${(median(alone) / 1000).toFixed(3)} s  ${(MiB / (median(alone) / 1000)).toFixed(0)} MiB/s`);
  console.log(`${count} workers: ${(median(together) / 1000).toFixed(3)} s  ${(MiB / (median(together) / 1000)).toFixed(0)} MiB/s`);
  console.log(`speed-up:   ${median(ratios).toFixed(2)}x (median per-round ratio)`);
}
