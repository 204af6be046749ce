// Kill -9 durability (issue 7, deliverable 1). A child of the same runtime
// appends numbered, self-checking records in batches through a read-write
// MappedFile (grown by the writes or made larger ahead, windowed in half of
// the rounds; each batch writes with writeAt, the set* accessors or write())
// and through a SharedMemory region backed by a file, calls sync() on both,
// and only then acknowledges the batch on stdout. The parent kills it with
// SIGKILL at a random moment, reopens both files (with node:fs and with the
// library) and checks that every record ever acknowledged is intact at its
// place; the next child continues after the last acknowledged record,
// overwriting whatever the killed one wrote without acknowledging.
//
// A SIGKILL alone loses nothing that reached the page cache, so when this
// process may mount one (root, outside a restricted sandbox) the files live on
// a small ext4 filesystem on a loop device, and after every kill the parent
// also scans the raw image behind it: every acknowledged record must be on the
// device, which only a sync that really flushed (msync, fsync) puts there
// before the kernel's own write-back (30 s; a system-wide `sync` run by
// anything else meanwhile could only hide a missing flush, never fail the
// test). Where mounting is refused the test says so in its name and checks
// the files only.
//
// Random choices come from one seed, printed with every failure and in the
// summary line; MEMMAPFS_SEED=<seed> replays a run.
import { after, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { MappedFile, SharedMemory } from "../mod.ts";
import { makeDirectory, removeDirectory, runtime, startScriptKilled } from "./helpers.ts";
import { checkRecord, chooseSeed, RECORD_SIZE, sameRecord, seededRandom } from "./reliability_helpers.ts";

const directory = makeDirectory("memmapfs-kill-");

/** A 32 MiB ext4 image mounted through a loop device, or why not. */
function mountLoopExt4(): { image: string; mountPoint: string } | { refused: string } {
  const image = path.join(directory, "ext4.img");
  const mountPoint = path.join(directory, "mnt");
  fs.mkdirSync(mountPoint);
  fs.writeFileSync(image, new Uint8Array(0));
  fs.truncateSync(image, 32 << 20);
  for (const [command, ...args] of [["mkfs.ext4", "-q", "-F", image], ["mount", "-o", "loop", image, mountPoint]]) {
    const result = spawnSync(command, args, { encoding: "utf8" });
    if (result.status !== 0) {
      return { refused: `${command}: ${(result.error?.message ?? result.stderr.trim()) || `exit ${result.status}`}` };
    }
  }
  return { image, mountPoint };
}

const device = mountLoopExt4();
after(() => {
  // Unmounting detaches the loop device too (mount -o loop sets autoclear).
  if ("mountPoint" in device && spawnSync("umount", [device.mountPoint]).status !== 0) {
    spawnSync("umount", ["-l", device.mountPoint]);
  }
  removeDirectory(directory);
});
const where = "mountPoint" in device
  ? "ext4 on a loop device, raw image checked"
  : `a plain temporary directory, files only (mount refused: ${device.refused})`;

const ROUNDS = 20;
/** Records one child may write; it idles (until killed) once it has written them all. */
const PER_ROUND = 1024;
/** Salts of the two record streams, so a record can never pass for the other file's. */
const FILE_SALT = 1;
const SHM_SALT = 2;

/**
 * The child: from record `start`, batches of 1..32 records to both files,
 * sync() of both, then "A <end>" (records [0, end) are durable). It prints
 * "ready" after `warmup` batches, and the parent's kill timer starts there.
 */
const child = (options: { file: string; shm: string; start: number; warmup: number; window: number; seed: number }) => `
import * as fs from "node:fs";
import { MappedFile, SharedMemory } from "../mod.ts";
import { makeRecord, RECORD_SIZE, seededRandom } from "./reliability_helpers.ts";
// Synchronous writes: an acknowledgement is on the pipe before the next batch starts.
const say = (line: string) => fs.writeSync(1, line + "\\n");
const random = seededRandom(${options.seed});
const file = MappedFile.open(${JSON.stringify(options.file)}, {
  mode: "readwrite", ${options.window > 0 ? `window: ${options.window},` : ""}
});
const shm = SharedMemory.open(${JSON.stringify(options.shm)});
let next = ${options.start};
const limit = Math.min(next + ${PER_ROUND}, shm.size / RECORD_SIZE);
// Half the children make room ahead, so their first batches write inside the
// file: no size change, so no fsync, and only msync makes them durable.
if (random() < 0.5) file.resize(Math.max(file.size, Math.min(next + 256, limit) * RECORD_SIZE));
if (${options.warmup} === 0) say("ready");
for (let batch = 1; next < limit; batch++) {
  const count = Math.min(1 + Math.floor(random() * 32), limit - next);
  // Every way of writing to a MappedFile, a batch at a time.
  const method = Math.floor(random() * 3);
  if (method === 1 && (next + count) * RECORD_SIZE > file.size) file.resize((next + count) * RECORD_SIZE);
  if (method === 2) file.seek(next * RECORD_SIZE);
  for (let n = next; n < next + count; n++) {
    const record = makeRecord(n, ${FILE_SALT});
    if (method === 0) {
      file.writeAt(record, n * RECORD_SIZE); // past the end: grows the file
    } else if (method === 1) {
      const values = new DataView(record.buffer);
      for (let i = 0; i < RECORD_SIZE; i += 8) file.setBigUint64(n * RECORD_SIZE + i, values.getBigUint64(i, true), true);
    } else {
      file.write(record); // at the position: grows the file too
    }
    shm.subarray(n * RECORD_SIZE, (n + 1) * RECORD_SIZE).set(makeRecord(n, ${SHM_SALT}));
  }
  file.sync();
  shm.sync();
  next += count;
  say("A " + next);
  if (batch === ${options.warmup}) say("ready");
}
say("full");
setInterval(() => {}, 1000); // wait for the kill
`;

/**
 * Which records of stream `salt` a raw image holds somewhere, at any 64-byte
 * boundary (ext4 puts file blocks on 4 KiB boundaries of the device).
 */
function recordsOnDevice(image: Uint8Array, salt: number, count: number): Uint8Array {
  const found = new Uint8Array(count);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let at = 0; at + RECORD_SIZE <= image.length; at += RECORD_SIZE) {
    if (view.getUint32(at + 4, true) !== salt) continue; // cheap filter: the salt field
    const number = view.getUint32(at, true);
    if (number < count && !found[number] && sameRecord(image.subarray(at, at + RECORD_SIZE), number, salt)) found[number] = 1;
  }
  return found;
}

/** Records in [0, count) of `bytes` that are not intact, as "number: why". */
function damaged(bytes: Uint8Array, count: number, salt: number): string[] {
  const problems: string[] = [];
  for (let n = 0; n < count; n++) {
    const why = checkRecord(bytes, n, salt);
    if (why) problems.push(`${n}: ${why}`);
  }
  return problems;
}

// Bun's default of 5 s per test is shorter than 20 child runtimes take on a loaded machine.
it(`every acknowledged record survives ${ROUNDS} SIGKILLs (MappedFile and file-backed SharedMemory; ${where})`, { timeout: 120_000 }, async () => {
  const seed = chooseSeed();
  const random = seededRandom(seed);
  const base = "mountPoint" in device ? device.mountPoint : directory;
  const file = path.join(base, "records.bin");
  const shm = path.join(base, "records.shm");
  fs.writeFileSync(file, new Uint8Array(0)); // grown by the children's writes
  SharedMemory.create({ path: shm, size: ROUNDS * PER_ROUND * RECORD_SIZE }).close();

  let acknowledged = 0;
  let batches = 0;
  let roundsWithAcks = 0;
  let full = 0;
  let lost = 0;
  let notOnDevice = 0;
  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const warmup = Math.floor(random() * 3);
    const delay = Math.floor(random() * 10);
    const window = round % 2 === 1 ? 8192 : 0;
    const context = `seed ${seed} (rerun with MEMMAPFS_SEED=${seed}), round ${round}, warm-up ${warmup} batches, ` +
      `kill ${delay} ms after ready, window ${window || "none"}`;
    const outcome = await startScriptKilled(
      child({ file, shm, start: acknowledged, warmup, window, seed: Math.floor(random() * 0x7fffffff) + 1 }),
      delay,
    );
    assert.equal(outcome.signal, "SIGKILL", `${context}: the child was killed, not ended: ${outcome.status} ${outcome.stderr}`);
    const lines = outcome.stdout.split("\n");
    lines.pop(); // a last line without its newline was not acknowledged
    assert.ok(lines.includes("ready"), `${context}: ${outcome.stdout} ${outcome.stderr}`);
    let acked = acknowledged;
    for (const line of lines) {
      const ack = line.match(/^A (\d+)$/);
      if (ack) {
        assert.ok(Number(ack[1]) > acked, `${context}: acknowledgements only go up`);
        acked = Number(ack[1]);
        batches++;
      } else if (line === "full") {
        full++;
      } else {
        assert.equal(line, "ready", `${context}: unexpected output`);
      }
    }
    if (acked > acknowledged) roundsWithAcks++;
    acknowledged = acked;

    // First, before anything else touches the files: what reached the device.
    const problems: string[] = [];
    if ("image" in device) {
      const image = new Uint8Array(fs.readFileSync(device.image));
      for (const [name, salt] of [["MappedFile", FILE_SALT], ["SharedMemory", SHM_SALT]] as const) {
        const found = recordsOnDevice(image, salt, acknowledged);
        const missing = found.indexOf(0);
        if (missing >= 0) {
          const count = found.length - found.reduce((sum, bit) => sum + bit, 0);
          notOnDevice += count;
          problems.push(`${name}: ${count} acknowledged records not on the device, the first ${missing} (sync() did not flush)`);
        }
      }
    }
    // Independent of the library: the bytes on file.
    problems.push(
      ...damaged(new Uint8Array(fs.readFileSync(file)), acknowledged, FILE_SALT).map((p) => `MappedFile record ${p}`),
      ...damaged(new Uint8Array(fs.readFileSync(shm)), acknowledged, SHM_SALT).map((p) => `SharedMemory record ${p}`),
    );
    // And reopened through the library.
    {
      using mapped = MappedFile.open(file);
      using region = SharedMemory.open(shm, { readonly: true });
      assert.ok(mapped.size >= acknowledged * RECORD_SIZE, `${context}: the file is ${mapped.size} bytes, ${acknowledged} records acknowledged`);
      problems.push(...damaged(mapped.bytes, acknowledged, FILE_SALT).map((p) => `MappedFile record ${p} (reopened)`));
      problems.push(...damaged(region.bytes, acknowledged, SHM_SALT).map((p) => `SharedMemory record ${p} (reopened)`));
    }
    // Device lines each stand for many records (counted in notOnDevice); the rest are one record each.
    lost += problems.filter((problem) => !problem.includes("not on the device")).length;
    assert.deepEqual(problems.slice(0, 10), [], `${context}: acknowledged records damaged or lost`);
  }
  console.log(
    `reliability kill (${runtime}): seed ${seed}, ${ROUNDS} rounds (${roundsWithAcks} with acknowledgements, ` +
      `${full} children ran out of records), ${batches} batches, ${acknowledged} records acknowledged and verified ` +
      `in each of MappedFile and SharedMemory, ${lost} lost (${notOnDevice} not on the device), ${where}, ` +
      `${Date.now() - started} ms`,
  );
  assert.equal(lost + notOnDevice, 0);
  assert.ok(roundsWithAcks >= ROUNDS / 2, `seed ${seed}: the children made progress (${roundsWithAcks} rounds acknowledged something)`);
});
