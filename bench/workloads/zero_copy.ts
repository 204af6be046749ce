/**
 * Random zero-copy access: take a 4 KiB view at a random page and touch one
 * byte. `MappedFile.subarray` against `Bun.mmap(...).subarray` on Bun, npm mmap
 * addons where they load, the positional read a program without a mapping
 * has to make to see the same byte, and a bare view on the same memory (the
 * floor a JavaScript engine sets).
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/zero_copy.ts --file=big.bin --reads=100000 --reps=5`
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
// The byte touched moves with the page, so no two views read the same spot.
const touch = (view: Uint8Array, i: number) => view[i & 4095];

const viewLoop = (view: (offset: number) => Uint8Array) => () => {
  let sum = 0;
  for (let i = 0; i < reads; i++) sum += touch(view(offsets[i]), i);
  return sum;
};

using mapped = MappedFile.open(file);
const contenders: Contender[] = [
  { name: "MappedFile.subarray", ours: true, perRep: reads, run: viewLoop((o) => mapped.subarray(o, o + 4096)) },
];
// The floor for any zero-copy view in JavaScript: a bare view constructed on
// the same mapped memory, with no checks. Ours minus this is the library's cost.
const whole = mapped.bytes;
contenders.push({
  name: "bare Uint8Array on the same mapping (JS floor)",
  perRep: reads,
  run: viewLoop((o) => new Uint8Array(whole.buffer, whole.byteOffset + o, 4096)),
});
const bun = bunMmap(file);
if (bun) contenders.push({ name: "Bun.mmap().subarray", perRep: reads, run: viewLoop((o) => bun.subarray(o, o + 4096)) });
const addons = addonPeers(options.get("addons"));
const fd = fs.openSync(file, "r");
for (const addon of addons.loaded) {
  const view = addon.map(fd, size);
  contenders.push({ name: `${addon.name} subarray`, perRep: reads, run: viewLoop((o) => view.subarray(o, o + 4096)) });
}
const buffer = new Uint8Array(4096);
const positional = positionalPeers(file);
for (const peer of positional) {
  contenders.push({
    name: peer.name,
    perRep: reads,
    run: viewLoop((offset) => {
      peer.read(buffer, offset);
      return buffer;
    }),
  });
}

emit({
  workload: "zero_copy",
  unit: "ns/op",
  params: { fileBytes: size, reads, reps },
  contenders: measure(contenders, reps),
  skipped: addons.failed,
});
for (const peer of positional) peer.close();
fs.closeSync(fd);
