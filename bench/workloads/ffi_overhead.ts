/**
 * The cost of one library call that crosses into libc: `advise` on one page
 * (one madvise) and `sync` of a clean page, both when the library can skip
 * the call (nothing written) and when it cannot (a writable view is out, so
 * every sync is an msync of the clean page). ns per call. The floor beside
 * `advise`: the library's own libc binding called directly on a page it did
 * not wrap, which is the runtime's FFI cost plus the system call; npm mmap
 * addons' `advise` where they load.
 *
 * Run through bench/run.mjs, or alone:
 * `node --experimental-ffi bench/workloads/ffi_overhead.ts --workdir=/tmp/x --calls=100000 --reps=5`
 *
 * @module
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile } from "../../mod.ts";
import { libc } from "../../src/ffi/mod.ts";
import { args, type Contender, emit, measure, numberArg, stringArg } from "../lib/harness.ts";
import { addonPeers } from "../lib/peers.ts";

const options = args();
const dir = stringArg(options, "workdir");
const calls = numberArg(options, "calls", 100_000);
const reps = numberArg(options, "reps", 5);
const file = path.join(dir, `ffi-${process.pid}.bin`);
fs.writeFileSync(file, new Uint8Array(4096));

const clean = MappedFile.open(file, { mode: "readwrite" });
const viewed = MappedFile.open(file, { mode: "readwrite" });
// Handing out a writable view makes every later sync() an msync.
viewed.bytes;

const repeat = (call: () => void, count = calls) => () => {
  for (let i = 0; i < count; i++) call();
  return count;
};
// msync of even a clean page walks the range in the kernel; fewer calls keep the run short.
const msyncCalls = Math.max(1, Math.floor(calls / 20));
const contenders: Contender[] = [
  { name: "advise(\"normal\", one page)", ours: true, group: "advise", perRep: calls, run: repeat(() => clean.advise("normal", 0, 4096)) },
  { name: "sync(), nothing written (skipped)", group: "sync", ours: true, perRep: calls, run: repeat(() => clean.sync()) },
  { name: "sync(), msync of a clean page", group: "sync", ours: true, perRep: msyncCalls, run: repeat(() => viewed.sync(), msyncCalls) },
];
const raw = libc();
const { PROT_READ, MAP_PRIVATE, MAP_ANONYMOUS } = raw.constants;
const page = raw.mmap(0n, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
const normal = raw.constants.advice.normal!;
contenders.push({ name: "libc.madvise, bare binding (floor)", group: "advise", perRep: calls, run: repeat(() => raw.madvise(page, 4096, normal)) });
const addons = addonPeers(options.get("addons"));
const fd = fs.openSync(file, "r");
for (const addon of addons.loaded) {
  const view = addon.map(fd, 4096);
  contenders.push({ name: `${addon.name} advise`, group: "advise", perRep: calls, run: repeat(() => addon.advise(view)) });
}

emit({ workload: "ffi_overhead", unit: "ns/op", params: { calls, msyncCalls, reps }, contenders: measure(contenders, reps), skipped: addons.failed });
raw.munmap(page, 4096);
clean.close();
viewed.close();
fs.closeSync(fd);
fs.rmSync(file, { force: true });
