/**
 * Open, read and close one 4 KiB file, many times: MappedFile.open + readAt
 * into a reused buffer + close, against readFileSync (a fresh buffer each).
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/small_file.ts --workdir=/tmp/x --ops=10000 --reps=5`
 *
 * @module
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile } from "../../mod.ts";
import { args, emit, measure, numberArg, stringArg } from "../lib/harness.ts";

const options = args();
const dir = stringArg(options, "workdir");
const ops = numberArg(options, "ops", 10_000);
const reps = numberArg(options, "reps", 5);
const file = path.join(dir, `small-${process.pid}.bin`);
fs.writeFileSync(file, new Uint8Array(4096).map((_, i) => i & 0xff));
const buffer = new Uint8Array(4096);

const results = measure([
  {
    name: "MappedFile open + readAt + close",
    ours: true,
    perRep: ops,
    run: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const mapped = MappedFile.open(file);
        mapped.readAt(buffer, 0);
        mapped.close();
        sum += buffer[4095];
      }
      return sum;
    },
  },
  {
    name: "readFileSync",
    perRep: ops,
    run: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += fs.readFileSync(file)[4095];
      return sum;
    },
  },
], reps);
fs.rmSync(file, { force: true });
emit({ workload: "small_file", unit: "ns/op", params: { fileBytes: 4096, ops, reps }, contenders: results });
