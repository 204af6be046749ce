/**
 * Random 4 KiB reads copied into a caller buffer from a page-cached file:
 * `MappedFile.readAt` against the runtime's positional reads, `Bun.mmap` +
 * copy on Bun and npm mmap addons where they load. Every contender reads the
 * same xorshift32 page sequence (bench/lib/offsets.ts); the C limit
 * (bench/peers/mmap_memcpy.c) is run by the driver on the same sequence.
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/random_read.ts --file=big.bin --reads=100000 --reps=5`
 *
 * @module
 */

import * as fs from "node:fs";
import { MappedFile } from "../../mod.ts";
import { args, type Contender, emit, measure, numberArg, stringArg } from "../lib/harness.ts";
import { pageOffsets } from "../lib/offsets.ts";
import { addonPeers, bunMmap, positionalPeers } from "../lib/peers.ts";

const options = args();
const file = stringArg(options, "file");
const reads = numberArg(options, "reads", 100_000);
const reps = numberArg(options, "reps", 5);
const size = fs.statSync(file).size;
const offsets = pageOffsets(reads, size);
const buffer = new Uint8Array(4096);

// Every contender runs the same loop shape around its own copy.
const loop = (copy: (offset: number) => void) => () => {
  let sum = 0;
  for (let i = 0; i < reads; i++) {
    copy(offsets[i]);
    sum += buffer[0];
  }
  return sum;
};

using mapped = MappedFile.open(file);
const contenders: Contender[] = [
  { name: "MappedFile.readAt", ours: true, perRep: reads, run: loop((offset) => mapped.readAt(buffer, offset)) },
];
// The floor in JavaScript: copy a bare view of the same mapped memory, no checks.
const whole = mapped.bytes;
contenders.push({
  name: "bare view of the same mapping + copy (JS floor)",
  perRep: reads,
  run: loop((offset) => buffer.set(new Uint8Array(whole.buffer, whole.byteOffset + offset, 4096))),
});
const positional = positionalPeers(file);
for (const peer of positional) {
  contenders.push({ name: peer.name, perRep: reads, run: loop((offset) => peer.read(buffer, offset)) });
}
const bun = bunMmap(file);
if (bun) {
  contenders.push({
    name: "Bun.mmap + copy",
    perRep: reads,
    run: loop((offset) => buffer.set(bun.subarray(offset, offset + 4096))),
  });
}
const addons = addonPeers(options.get("addons"));
const fd = fs.openSync(file, "r");
for (const addon of addons.loaded) {
  const view = addon.map(fd, size);
  contenders.push({
    name: `${addon.name} + copy`,
    perRep: reads,
    run: loop((offset) => buffer.set(view.subarray(offset, offset + 4096))),
  });
}

emit({
  workload: "random_read",
  unit: "ns/op",
  params: { fileBytes: size, reads, reps },
  contenders: measure(contenders, reps),
  skipped: addons.failed,
});
for (const peer of positional) peer.close();
fs.closeSync(fd);
