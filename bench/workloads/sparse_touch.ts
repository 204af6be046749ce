/**
 * Sparse touch: read 1% of the pages of a large (sparse) file at random, one
 * variant per process for its own peak RSS. `mapped` maps the whole file with
 * random-access advice and reads one byte per page through a view;
 * `positional` reads each page with fs.readSync. Peak RSS is reported both
 * whole and above the process's RSS before the file was opened.
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/sparse_touch.ts --file=sparse.bin --variant=mapped --reps=3`
 *
 * @module
 */

import * as fs from "node:fs";
import { MappedFile } from "../../mod.ts";
import { args, emit, measure, numberArg, statusBytes, stringArg } from "../lib/harness.ts";
import { pageOffsets } from "../lib/offsets.ts";

const options = args();
const file = stringArg(options, "file");
const variant = stringArg(options, "variant");
const reps = numberArg(options, "reps", 3);
const size = fs.statSync(file).size;
const pages = Math.floor(size / 4096 / 100);
const offsets = pageOffsets(pages, size, 0x2545f491);
const startRss = statusBytes("VmRSS");

let run: () => number;
let name: string;
let ours = false;
if (variant === "mapped") {
  name = "MappedFile, advise random";
  ours = true;
  // Opened once, like a program that keeps its index mapped.
  const mapped = MappedFile.open(file);
  mapped.advise("random");
  run = () => {
    let sum = 0;
    for (let i = 0; i < pages; i++) sum += mapped.subarray(offsets[i], offsets[i] + 1)[0];
    return sum;
  };
} else if (variant === "positional") {
  name = "fs.readSync(position)";
  const fd = fs.openSync(file, "r");
  const buffer = new Uint8Array(4096);
  run = () => {
    let sum = 0;
    for (let i = 0; i < pages; i++) {
      fs.readSync(fd, buffer, 0, 4096, offsets[i]);
      sum += buffer[0];
    }
    return sum;
  };
} else {
  throw new Error(`unknown --variant=${variant} (mapped, positional)`);
}

const [result] = measure([{ name, ours, run }], reps);
const peak = statusBytes("VmHWM");
result.rssBytes = peak;
result.rssDeltaBytes = peak !== null && startRss !== null ? peak - startRss : null;
emit({ workload: "sparse_touch", unit: "ms", params: { fileBytes: size, pages, reps }, contenders: [result] });
