/**
 * Small files, opened, read and closed many times, against readFileSync (a
 * fresh buffer each) in the same process:
 *
 * - 4 KiB, group "4 KiB": MappedFile.open + readAt into a reused buffer + close.
 * - 64 KiB, group "64 KiB", through MemMapFS with its mapping cache warm (the
 *   file is the same and unchanged, so every open is a cache hit):
 *   open + touch one byte per page of the view + close, confined (`root`:
 *   one fstatat beneath the root's descriptor per open) and unconfined (one
 *   stat of the path), and with `cache.validateAfterMs` (no system call
 *   within the window); and MemMapFS.readFile (open, fstat, pread, close of a
 *   descriptor of its own), confined and unconfined. readFileSync's bytes are
 *   touched the same way, one byte per page.
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/small_file.ts --workdir=/tmp/x --ops=10000 --reps=5`
 *
 * @module
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MemMapFS } from "../../mod.ts";
import { args, emit, measure, numberArg, stringArg } from "../lib/harness.ts";

const options = args();
const dir = stringArg(options, "workdir");
const ops = numberArg(options, "ops", 10_000);
const reps = numberArg(options, "reps", 5);
const small = path.join(dir, `small-${process.pid}.bin`);
fs.writeFileSync(small, new Uint8Array(4096).map((_, i) => i & 0xff));
const rootDir = fs.mkdtempSync(path.join(dir, "small-root-"));
const name = "page.bin";
const medium = path.join(rootDir, name);
fs.writeFileSync(medium, new Uint8Array(65536).map((_, i) => (i * 7 + 1) & 0xff));
const buffer = new Uint8Array(4096);

const confined = new MemMapFS({ root: rootDir });
const unconfined = new MemMapFS();
const trusting = new MemMapFS({ root: rootDir, cache: { validateAfterMs: 1000 } });

function touchPages(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  return sum;
}

const openView = (fs: MemMapFS, file: string) => () => {
  let sum = 0;
  for (let i = 0; i < ops; i++) {
    const mapped = fs.open(file);
    sum += touchPages(mapped.bytes);
    mapped.close();
  }
  return sum;
};
const readFile = (fs: MemMapFS, file: string) => () => {
  let sum = 0;
  for (let i = 0; i < ops; i++) sum += touchPages(fs.readFile(file));
  return sum;
};

const results = measure([
  {
    name: "MappedFile open + readAt + close",
    ours: true,
    group: "4 KiB",
    perRep: ops,
    run: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const mapped = MappedFile.open(small);
        mapped.readAt(buffer, 0);
        mapped.close();
        sum += buffer[4095];
      }
      return sum;
    },
  },
  {
    name: "readFileSync",
    group: "4 KiB",
    perRep: ops,
    run: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += fs.readFileSync(small)[4095];
      return sum;
    },
  },
  { name: "MemMapFS open + view + close, cache warm (root: fstatat per open)", ours: true, group: "64 KiB", perRep: ops, run: openView(confined, name) },
  { name: "MemMapFS open + view + close, cache warm, unconfined (stat per open)", ours: true, group: "64 KiB", perRep: ops, run: openView(unconfined, medium) },
  { name: "MemMapFS open + view + close, cache warm, validateAfterMs: 1000", ours: true, group: "64 KiB", perRep: ops, run: openView(trusting, name) },
  { name: "MemMapFS.readFile (root)", ours: true, group: "64 KiB", perRep: ops, run: readFile(confined, name) },
  { name: "MemMapFS.readFile, unconfined", ours: true, group: "64 KiB", perRep: ops, run: readFile(unconfined, medium) },
  {
    name: "readFileSync, 64 KiB",
    group: "64 KiB",
    perRep: ops,
    run: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += touchPages(fs.readFileSync(medium));
      return sum;
    },
  },
], reps);
const hits = [confined, unconfined, trusting].map((fs) => fs.cacheStats());
for (const fs of [confined, unconfined, trusting]) fs.close();
fs.rmSync(small, { force: true });
fs.rmSync(rootDir, { recursive: true, force: true });
emit({
  workload: "small_file",
  unit: "ns/op",
  params: { fileBytes: 4096, mediumBytes: 65536, ops, reps, cacheMisses: hits.reduce((n, s) => n + s.misses, 0) },
  contenders: results,
});
