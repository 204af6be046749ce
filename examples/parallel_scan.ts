/**
 * Scans one large file with N worker threads over one shared file: the main
 * thread maps it and posts `file.share()` (a small plain object, not the
 * bytes); each worker maps the same pages with `MappedFile.fromShared()` and
 * scans its slice in place. Nothing is copied into any heap: the page cache
 * is the only copy of the file, however many threads read it.
 *
 * Run: `node --experimental-ffi examples/parallel_scan.ts [file] [workers]`,
 * `deno run -A examples/parallel_scan.ts`, `bun examples/parallel_scan.ts`.
 * Without a file it writes a 64 MiB sample first; workers default to the
 * number of CPUs.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { MappedFile, type SharedMappedFile } from "../mod.ts";

interface Slice {
  shared: SharedMappedFile;
  from: number;
  to: number;
}

interface Tally {
  lines: number;
  checksum: number;
}

/** Counts newlines and sums the bytes of [from, to), one zero-copy 16 MiB view at a time. */
function scan(file: MappedFile, from: number, to: number): Tally {
  let lines = 0;
  let checksum = 0;
  for (let at = from; at < to; at += 16 * 2 ** 20) {
    const view = file.subarray(at, Math.min(at + 16 * 2 ** 20, to));
    for (let i = 0; i < view.length; i++) {
      const byte = view[i];
      checksum += byte;
      if (byte === 10) lines++;
    }
  }
  return { lines, checksum };
}

if (!isMainThread) {
  const { shared, from, to } = workerData as Slice;
  let tally: Tally;
  {
    using file = MappedFile.fromShared(shared); // this thread's own mapping of the same pages
    tally = scan(file, from, to);
  }
  parentPort!.postMessage(tally);
} else {
  const given = process.argv[2];
  const workers = Number(process.argv[3] ?? os.availableParallelism());
  const file = given ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parallel-scan-")), "sample.log");
  if (!given) {
    const block = Buffer.from(Array.from({ length: 4096 }, (_, i) => `line ${i} ${"x".repeat(i % 60)}\n`).join(""));
    const fd = fs.openSync(file, "w");
    for (let written = 0; written < 64 * 2 ** 20; written += block.length) fs.writeSync(fd, block);
    fs.closeSync(fd);
  }

  using mapped = MappedFile.open(file);
  const size = mapped.size;
  const MiB = size / 2 ** 20;

  let started = performance.now();
  const alone = scan(mapped, 0, size);
  const aloneSeconds = (performance.now() - started) / 1000;

  started = performance.now();
  const shared = mapped.share();
  const step = Math.ceil(size / workers);
  const tallies = await Promise.all(Array.from({ length: workers }, (_, i) =>
    new Promise<Tally>((resolve, reject) => {
      const slice: Slice = { shared, from: Math.min(i * step, size), to: Math.min((i + 1) * step, size) };
      const worker = new Worker(new URL(import.meta.url), { workerData: slice });
      worker.once("message", (tally: Tally) => {
        resolve(tally);
        void worker.terminate();
      });
      worker.once("error", reject);
    })));
  const together = tallies.reduce((sum, tally) => ({ lines: sum.lines + tally.lines, checksum: sum.checksum + tally.checksum }));
  const togetherSeconds = (performance.now() - started) / 1000;

  console.log(`scanned ${MiB.toFixed(0)} MiB: ${alone.lines} lines, checksum ${alone.checksum}`);
  console.log(`1 thread:  ${aloneSeconds.toFixed(2)} s (${(MiB / aloneSeconds).toFixed(0)} MiB/s)`);
  console.log(
    `${workers} workers: ${togetherSeconds.toFixed(2)} s (${(MiB / togetherSeconds).toFixed(0)} MiB/s, ` +
      `${(aloneSeconds / togetherSeconds).toFixed(2)}x, worker start-up included)`,
  );
  console.log(`results equal: ${together.lines === alone.lines && together.checksum === alone.checksum ? "yes" : "NO"}`);
  if (!given) fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
