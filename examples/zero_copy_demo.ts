/**
 * The quick-start job: generate a large log file, then scan it, read random
 * records and patch it in place through a mapping — each next to the same job
 * done with the runtime's own file API — and print what happened and how long
 * it took.
 *
 * Run: `npm run demo` (Node 26), `deno run -A examples/zero_copy_demo.ts`,
 * `bun examples/zero_copy_demo.ts`. Pass a size in MiB as the first argument
 * (default 256).
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MappedFile } from "../mod.ts";

const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "Deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "Bun"
  : `Node ${process.versions.node}`;
const args = typeof (globalThis as { Deno?: { args: string[] } }).Deno !== "undefined"
  ? (globalThis as unknown as { Deno: { args: string[] } }).Deno.args
  : process.argv.slice(2);
const mebibytes = Number(args[0] ?? 256);
if (!Number.isSafeInteger(mebibytes) || mebibytes <= 0) {
  throw new RangeError(`Size must be a whole number of MiB, got ${args[0]}`);
}

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-demo-"));
const logPath = path.join(directory, "access.log");

function time<T>(work: () => T): [T, number] {
  const start = performance.now();
  const result = work();
  return [result, performance.now() - start];
}

function generateLog(bytes: number): number {
  const line = (i: number) =>
    `2026-11-23T03:${String(i % 60).padStart(2, "0")}:00Z GET /item/${i} 200 ${(i * 7919) % 100000}\n`;
  const block: string[] = [];
  for (let i = 0; i < 4096; i++) block.push(line(i));
  const chunk = new TextEncoder().encode(block.join(""));
  const fd = fs.openSync(logPath, "w");
  let written = 0;
  while (written < bytes) {
    written += fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
  }
  fs.closeSync(fd);
  return written;
}

function countLines(bytes: Uint8Array): number {
  let lines = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
  return lines;
}

function countLinesInChunks(): number {
  const chunk = new Uint8Array(2 ** 20);
  const fd = fs.openSync(logPath, "r");
  try {
    let lines = 0;
    for (let read; (read = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0;) lines += countLines(chunk.subarray(0, read));
    return lines;
  } finally {
    fs.closeSync(fd);
  }
}

function randomOffsets(size: number, count: number, recordSize: number): number[] {
  let seed = 42;
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    offsets.push(seed % (size - recordSize));
  }
  return offsets;
}

function ratio(theirs: number, ours: number): string {
  return `${(theirs / ours).toFixed(1)}x`;
}

try {
  console.log(`memmapfs demo on ${runtime}, ${os.platform()}-${os.arch()}`);
  const [size, generateMs] = time(() => generateLog(mebibytes * 2 ** 20));
  console.log(`generated ${logPath} (${mebibytes} MiB) in ${generateMs.toFixed(0)} ms`);

  // 1. Scan every byte: readFileSync copies the file into the heap, a mapping does not.
  // node:fs reads at most 2 GiB - 1 into one buffer; past that it reads 1 MiB at a time.
  const whole = size < 2 ** 31;
  const [copiedLines, readFileMs] = time(() => whole ? countLines(fs.readFileSync(logPath)) : countLinesInChunks());
  const [mappedLines, mappedMs] = time(() => {
    using file = MappedFile.open(logPath, { populate: true });
    file.advise("sequential");
    return countLines(file.bytes);
  });
  if (copiedLines !== mappedLines) throw new Error("Line counts differ");
  console.log(
    `scan: ${mappedLines} lines — mapped ${mappedMs.toFixed(0)} ms, ` +
      `${whole ? "readFileSync" : "1 MiB fs.readSync"} ${readFileMs.toFixed(0)} ms (${ratio(readFileMs, mappedMs)})`,
  );

  // 2. Random 4 KiB records: a positional read syscall each, or a copy from memory.
  const offsets = randomOffsets(size, 100_000, 4096);
  const record = new Uint8Array(4096);
  const fd = fs.openSync(logPath, "r");
  const [, preadMs] = time(() => {
    for (const offset of offsets) fs.readSync(fd, record, 0, 4096, offset);
  });
  fs.closeSync(fd);
  using file = MappedFile.open(logPath);
  file.advise("random");
  const [, readAtMs] = time(() => {
    for (const offset of offsets) file.readAt(record, offset);
  });
  const [touched, viewMs] = time(() => {
    let sum = 0;
    for (const offset of offsets) sum += file.subarray(offset, offset + 4096)[0];
    return sum;
  });
  console.log(
    `random 4 KiB reads x${offsets.length}: readAt ${readAtMs.toFixed(0)} ms, ` +
      `zero-copy subarray ${viewMs.toFixed(0)} ms, fs.readSync ${preadMs.toFixed(0)} ms ` +
      `(${ratio(preadMs, readAtMs)} / ${ratio(preadMs, viewMs)}; checksum ${touched})`,
  );
  file.close();

  // 3. Patch in place: write through the mapping, sync, and read it back with node:fs.
  const stamp = "PATCHED-BY-MEMMAPFS";
  const [, patchMs] = time(() => {
    using writable = MappedFile.open(logPath, { mode: "readwrite" });
    writable.writeAt(stamp, 0);
    writable.setUint32(size - 4, 0x0a0a0a0a);
    writable.sync();
  });
  const head = new Uint8Array(stamp.length);
  const headFd = fs.openSync(logPath, "r");
  fs.readSync(headFd, head, 0, head.length, 0);
  fs.closeSync(headFd);
  console.log(`patched and synced in ${patchMs.toFixed(1)} ms; file now starts "${new TextDecoder().decode(head)}"`);
} finally {
  fs.rmSync(directory, { recursive: true, force: true });
}
