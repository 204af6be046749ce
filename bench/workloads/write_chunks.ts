/**
 * Writing a large file in 64 KiB chunks, durable at the end: MappedFile with
 * sync "lazy" (close flushes) and with sync "never" plus one explicit
 * `sync()`, against fs.writeSync + fsync. Each repetition writes a new file.
 * The mapped file is sized up front (`size`), as a writer that knows its
 * length would; node:fs grows the file as it writes.
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/write_chunks.ts --workdir=/tmp/x --bytes=134217728 --reps=3`
 *
 * @module
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile } from "../../mod.ts";
import { args, emit, measure, numberArg, stringArg } from "../lib/harness.ts";

const options = args();
const dir = stringArg(options, "workdir");
const bytes = numberArg(options, "bytes");
const reps = numberArg(options, "reps", 3);
const chunkSize = 64 << 10;
const chunk = new Uint8Array(chunkSize).map((_, i) => (i * 31) & 0xff);
const target = path.join(dir, `write-${process.pid}.bin`);

const fresh = () => fs.rmSync(target, { force: true });
// A checksum the run cannot fake: the size that reached the file.
const written = () => fs.statSync(target).size;

const mappedWrite = (sync: "lazy" | "never", explicit: boolean) => () => {
  fresh();
  const file = MappedFile.open(target, { mode: "readwrite", create: true, size: bytes, sync });
  for (let offset = 0; offset < bytes; offset += chunkSize) file.writeAt(chunk, offset);
  if (explicit) file.sync();
  file.close();
  return written();
};

const results = measure([
  { name: "MappedFile, sync lazy (close flushes)", ours: true, run: mappedWrite("lazy", false) },
  { name: "MappedFile, sync never + sync()", run: mappedWrite("never", true) },
  {
    name: "fs.writeSync + fsync",
    run: () => {
      fresh();
      const fd = fs.openSync(target, "w");
      for (let offset = 0; offset < bytes; offset += chunkSize) fs.writeSync(fd, chunk);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      return written();
    },
  },
], reps);
fresh();
// Both mapped variants are ours; the driver compares each to the node:fs peer.
results[1].ours = true;
emit({ workload: "write_chunks", unit: "ms", params: { bytes, chunkBytes: chunkSize, reps }, contenders: results });
