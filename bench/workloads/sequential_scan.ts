/**
 * Sequential scan counting newlines, one variant per process so each peak RSS
 * (VmHWM) is its own: `mapped` walks a MappedFile through a 64 MiB sliding
 * window in 1 MiB zero-copy views; `readFileSync` reads the whole file into the
 * heap; `streamed` reads it 1 MiB at a time into one buffer. Same count loop.
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/sequential_scan.ts --file=big.txt --variant=mapped --reps=3`
 *
 * @module
 */

import * as fs from "node:fs";
import { MappedFile } from "../../mod.ts";
import { args, emit, measure, numberArg, statusBytes, stringArg } from "../lib/harness.ts";

const options = args();
const file = stringArg(options, "file");
const variant = stringArg(options, "variant");
const reps = numberArg(options, "reps", 3);
const chunk = 1 << 20;
const window = 64 << 20;
const startRss = statusBytes("VmRSS");

function countNewlines(view: Uint8Array): number {
  let count = 0;
  for (let at = view.indexOf(10); at !== -1; at = view.indexOf(10, at + 1)) count++;
  return count;
}

const variants: Record<string, { name: string; ours?: boolean; run: () => number }> = {
  mapped: {
    name: "MappedFile, 64 MiB window",
    ours: true,
    run: () => {
      using mapped = MappedFile.open(file, { window });
      mapped.advise("sequential");
      let count = 0;
      for (let offset = 0; offset < mapped.size; offset += chunk) {
        count += countNewlines(mapped.subarray(offset, Math.min(offset + chunk, mapped.size)));
      }
      return count;
    },
  },
  readFileSync: { name: "readFileSync", run: () => countNewlines(fs.readFileSync(file)) },
  streamed: {
    name: "1 MiB fs.readSync",
    run: () => {
      const fd = fs.openSync(file, "r");
      const buffer = new Uint8Array(chunk);
      let count = 0;
      for (let got = fs.readSync(fd, buffer); got > 0; got = fs.readSync(fd, buffer)) {
        count += countNewlines(got === chunk ? buffer : buffer.subarray(0, got));
      }
      fs.closeSync(fd);
      return count;
    },
  },
};

const chosen = variants[variant];
if (!chosen) throw new Error(`unknown --variant=${variant} (${Object.keys(variants).join(", ")})`);
const [result] = measure([chosen], reps);
const peak = statusBytes("VmHWM");
result.rssBytes = peak;
result.rssDeltaBytes = peak !== null && startRss !== null ? peak - startRss : null;
emit({ workload: "sequential_scan", unit: "ms", params: { fileBytes: fs.statSync(file).size, reps }, contenders: [result] });
