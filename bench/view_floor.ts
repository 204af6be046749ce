/**
 * The library's hot paths against their floors, side by side in one process:
 * each MappedFile call against the bare JavaScript it stands for on the same
 * mapped ArrayBuffer (`new Uint8Array(buffer, offset, length)`, a `set` from
 * such a view, a `DataView` over the mapping). Ours minus the floor is what
 * the library adds: checks, the window lookup, the bookkeeping that lets
 * close() detach every view.
 *
 * Each pair runs in interleaved rounds (ours first in even rounds, the floor
 * first in odd ones), and every loop is its own function, so neither shares
 * the other's type feedback. "random page" loops touch a random 4 KiB page of
 * a large file per operation, as bench/workloads/zero_copy.ts does; "hot"
 * loops stay in 64 KiB and show the pure CPU cost.
 *
 * ```sh
 * node --experimental-ffi --no-warnings bench/view_floor.ts [--file=big.bin] [--mib=256] [--ops=200000] [--rounds=15]
 * deno run -A bench/view_floor.ts
 * bun bench/view_floor.ts
 * ```
 *
 * Without `--file` a file of `--mib` random MiB is written to the temp
 * directory (and removed at the end); it is read once so it sits in the page
 * cache.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MappedFile } from "../mod.ts";
import { args, median, numberArg, runtimeKey } from "./lib/harness.ts";

const options = args();
const ops = numberArg(options, "ops", 200_000);
const rounds = numberArg(options, "rounds", 15);
const given = options.get("file");
const file = given ?? path.join(os.tmpdir(), `view-floor-${process.pid}.bin`);
if (!given) writeRandomFile(file, numberArg(options, "mib", 256) << 20);
const size = fs.statSync(file).size;
const pages = Math.floor(size / 4096) - 1;

/** Page-aligned offsets in `[0, limitPages * 4096)`, from a fixed seed. */
function pageOffsets(limitPages: number): Float64Array {
  const result = new Float64Array(ops);
  let seed = 0x9e3779b9;
  for (let i = 0; i < ops; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    result[i] = (seed % limitPages) * 4096;
  }
  return result;
}

function writeRandomFile(target: string, bytes: number): void {
  const fd = fs.openSync(target, "w");
  const chunk = new Uint8Array(1 << 20);
  for (let done = 0; done < bytes; done += chunk.length) {
    crypto.getRandomValues(chunk.subarray(0, 65536));
    chunk.copyWithin(65536, 0, chunk.length - 65536);
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
}

const random = pageOffsets(pages);
const hot = pageOffsets(16);
// Hot offsets that are not page-aligned, for the typed accessors.
const hotBytes = new Float64Array(ops).map((_, i) => hot[i] + ((i * 40) & 4088));
const target = new Uint8Array(4096);
const small = new Uint8Array(64);

const mapped = MappedFile.open(file);
const whole = mapped.bytes;
const buffer = whole.buffer;
const base = whole.byteOffset;
const data = new DataView(buffer, base, size);
// Read once so the page cache holds it and both sides fault the same way.
for (let at = 0; at < size; at += 4096) mapped.getUint8(at);

interface Pair {
  name: string;
  ours: () => number;
  floor: () => number;
}

// Every loop is written out: a shared loop helper would share V8's type
// feedback between the two sides and measure the megamorphic call instead.
const pairs: Pair[] = [
  {
    name: "subarray 4 KiB, random page",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const o = random[i];
        sum += mapped.subarray(o, o + 4096)[i & 4095];
      }
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += new Uint8Array(buffer, base + random[i], 4096)[i & 4095];
      return sum;
    },
  },
  {
    name: "subarray 4 KiB, hot",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const o = hot[i];
        sum += mapped.subarray(o, o + 4096)[i & 4095];
      }
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += new Uint8Array(buffer, base + hot[i], 4096)[i & 4095];
      return sum;
    },
  },
  {
    name: "readAt 4 KiB, random page",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += mapped.readAt(target, random[i]) + target[i & 4095];
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        target.set(new Uint8Array(buffer, base + random[i], 4096));
        sum += 4096 + target[i & 4095];
      }
      return sum;
    },
  },
  {
    name: "readAt 64 B, hot",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += mapped.readAt(small, hotBytes[i]) + small[i & 63];
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        small.set(new Uint8Array(buffer, base + hotBytes[i], 64));
        sum += 64 + small[i & 63];
      }
      return sum;
    },
  },
  {
    name: "read 4 KiB, sequential",
    ours: () => {
      let sum = 0;
      mapped.position = 0;
      for (let i = 0; i < ops; i++) {
        if (mapped.position + 4096 > size) mapped.position = 0;
        mapped.read(target);
        sum += target[i & 4095];
      }
      return sum;
    },
    floor: () => {
      let sum = 0;
      let position = 0;
      for (let i = 0; i < ops; i++) {
        if (position + 4096 > size) position = 0;
        target.set(new Uint8Array(buffer, base + position, 4096));
        position += 4096;
        sum += target[i & 4095];
      }
      return sum;
    },
  },
  {
    name: "getUint8, hot",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += mapped.getUint8(hotBytes[i]);
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += data.getUint8(hotBytes[i]);
      return sum;
    },
  },
  {
    name: "getUint32 LE, hot",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += mapped.getUint32(hotBytes[i], true);
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += data.getUint32(hotBytes[i], true);
      return sum;
    },
  },
  {
    name: "getUint32 LE, random page",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += mapped.getUint32(random[i] + (i & 4088), true);
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += data.getUint32(random[i] + (i & 4088), true);
      return sum;
    },
  },
  {
    name: "getFloat64, hot",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += mapped.getFloat64(hotBytes[i], true) || 0;
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += data.getFloat64(hotBytes[i], true) || 0;
      return sum;
    },
  },
  {
    name: "getBigUint64, hot",
    ours: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += Number(mapped.getBigUint64(hotBytes[i], true) & 0xffn);
      return sum;
    },
    floor: () => {
      let sum = 0;
      for (let i = 0; i < ops; i++) sum += Number(data.getBigUint64(hotBytes[i], true) & 0xffn);
      return sum;
    },
  },
];

const only = options.get("only");
const chosen = only ? pairs.filter((pair) => pair.name.includes(only)) : pairs;
console.log(`view_floor on ${runtimeKey()}: ${size >> 20} MiB file, ${ops} ops per loop, ${rounds} interleaved rounds`);
console.log("| pair | ours ns/op (min / median) | floor ns/op (min / median) | ratio of medians | ratio per round (min–max) |");
console.log("|---|---|---|---|---|");
for (const pair of chosen) {
  const checks = [pair.ours(), pair.floor()];
  if (checks[0] !== checks[1]) {
    throw new Error(`${pair.name}: ours and the floor disagree (${checks[0]} vs ${checks[1]})`);
  }
  const ours: number[] = [];
  const floor: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [pair.ours, pair.floor] : [pair.floor, pair.ours];
    for (const run of order) {
      const start = performance.now();
      run();
      const nsPerOp = ((performance.now() - start) * 1e6) / ops;
      (run === pair.ours ? ours : floor).push(nsPerOp);
    }
  }
  const ratios = ours.map((value, i) => value / floor[i]);
  const cell = (values: number[]) => `${Math.min(...values).toFixed(1)} / ${median(values).toFixed(1)}`;
  console.log(
    `| ${pair.name} | ${cell(ours)} | ${cell(floor)} | ${(median(ours) / median(floor)).toFixed(2)}x | ` +
      `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} |`,
  );
}
mapped.close();
if (!given) fs.rmSync(file, { force: true });
