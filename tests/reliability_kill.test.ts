// Kill -9 durability (issue 7, deliverable 1). A child of the same runtime
// appends numbered, self-checking records in batches through a read-write
// MappedFile (which grows the file as it goes, windowed in half of the rounds)
// and through a SharedMemory region backed by a file, calls sync() on both,
// and only then acknowledges the batch on stdout. The parent kills it with
// SIGKILL at a random moment, reopens both files (with node:fs and with the
// library) and checks that every record ever acknowledged is intact; the next
// child continues after the last acknowledged record, overwriting whatever
// the killed one wrote without acknowledging.
//
// Random choices come from one seed, printed with every failure and in the
// summary line; MEMMAPFS_SEED=<seed> replays a run.
import { after, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, SharedMemory } from "../mod.ts";
import { makeDirectory, removeDirectory, runtime, startScriptKilled } from "./helpers.ts";
import { checkRecord, chooseSeed, RECORD_SIZE, seededRandom } from "./reliability_helpers.ts";

const directory = makeDirectory("memmapfs-kill-");
after(() => removeDirectory(directory));

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
if (${options.warmup} === 0) say("ready");
for (let batch = 1; next < limit; batch++) {
  const count = Math.min(1 + Math.floor(random() * 32), limit - next);
  for (let n = next; n < next + count; n++) {
    file.writeAt(makeRecord(n, ${FILE_SALT}), n * RECORD_SIZE); // past the end: grows the file
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

/** Records in [0, count) of `bytes` that are not intact, as "number: why". */
function damaged(bytes: Uint8Array, count: number, salt: number): string[] {
  const problems: string[] = [];
  for (let n = 0; n < count; n++) {
    const why = checkRecord(bytes, n, salt);
    if (why) problems.push(`${n}: ${why}`);
  }
  return problems;
}

it(`every acknowledged record survives ${ROUNDS} SIGKILLs (MappedFile and file-backed SharedMemory)`, async () => {
  const seed = chooseSeed();
  const random = seededRandom(seed);
  const file = path.join(directory, "records.bin");
  const shm = path.join(directory, "records.shm");
  fs.writeFileSync(file, new Uint8Array(0)); // grown by the children's writes
  SharedMemory.create({ path: shm, size: ROUNDS * PER_ROUND * RECORD_SIZE }).close();

  let acknowledged = 0;
  let batches = 0;
  let roundsWithAcks = 0;
  let full = 0;
  let lost = 0;
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

    // Independent of the library: the bytes on file.
    const problems = [
      ...damaged(new Uint8Array(fs.readFileSync(file)), acknowledged, FILE_SALT).map((p) => `MappedFile record ${p}`),
      ...damaged(new Uint8Array(fs.readFileSync(shm)), acknowledged, SHM_SALT).map((p) => `SharedMemory record ${p}`),
    ];
    // And reopened through the library.
    {
      using mapped = MappedFile.open(file);
      using region = SharedMemory.open(shm, { readonly: true });
      assert.ok(mapped.size >= acknowledged * RECORD_SIZE, `${context}: the file is ${mapped.size} bytes, ${acknowledged} records acknowledged`);
      problems.push(...damaged(mapped.bytes, acknowledged, FILE_SALT).map((p) => `MappedFile record ${p} (reopened)`));
      problems.push(...damaged(region.bytes, acknowledged, SHM_SALT).map((p) => `SharedMemory record ${p} (reopened)`));
    }
    lost += problems.length;
    assert.deepEqual(problems.slice(0, 10), [], `${context}: ${problems.length} acknowledged records damaged or lost`);
  }
  console.log(
    `reliability kill (${runtime}): seed ${seed}, ${ROUNDS} rounds (${roundsWithAcks} with acknowledgements, ` +
      `${full} children ran out of records), ${batches} batches, ${acknowledged} records acknowledged and verified ` +
      `in each of MappedFile and SharedMemory, ${lost} lost, ${Date.now() - started} ms`,
  );
  assert.equal(lost, 0);
  assert.ok(roundsWithAcks >= ROUNDS / 2, `seed ${seed}: the children made progress (${roundsWithAcks} rounds acknowledged something)`);
});
