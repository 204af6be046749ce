
import * as fs from "node:fs";
import { MappedFile, SharedMemory } from "../mod.ts";
import { makeRecord, RECORD_SIZE, seededRandom } from "./reliability_helpers.ts";
// Synchronous writes: an acknowledgement is on the pipe before the next batch starts.
const say = (line: string) => fs.writeSync(1, line + "\n");
const random = seededRandom(1766992391);
const file = MappedFile.open("/tmp/memmapfs-kill-B05vCM/mnt/records.bin", {
  mode: "readwrite", 
});
const shm = SharedMemory.open("/tmp/memmapfs-kill-B05vCM/mnt/records.shm");
let next = 180;
const limit = Math.min(next + 1024, shm.size / RECORD_SIZE);
// Half the children make room ahead, so their first batches write inside the
// file: no size change, so no fsync, and only msync makes them durable.
if (random() < 0.5) file.resize(Math.max(file.size, Math.min(next + 256, limit) * RECORD_SIZE));
if (1 === 0) say("ready");
for (let batch = 1; next < limit; batch++) {
  const count = Math.min(1 + Math.floor(random() * 32), limit - next);
  // Every way of writing to a MappedFile, a batch at a time.
  const method = Math.floor(random() * 3);
  if (method === 1 && (next + count) * RECORD_SIZE > file.size) file.resize((next + count) * RECORD_SIZE);
  if (method === 2) file.seek(next * RECORD_SIZE);
  for (let n = next; n < next + count; n++) {
    const record = makeRecord(n, 1);
    if (method === 0) {
      file.writeAt(record, n * RECORD_SIZE); // past the end: grows the file
    } else if (method === 1) {
      const values = new DataView(record.buffer);
      for (let i = 0; i < RECORD_SIZE; i += 8) file.setBigUint64(n * RECORD_SIZE + i, values.getBigUint64(i, true), true);
    } else {
      file.write(record); // at the position: grows the file too
    }
    shm.subarray(n * RECORD_SIZE, (n + 1) * RECORD_SIZE).set(makeRecord(n, 2));
  }
  file.sync();
  shm.sync();
  next += count;
  say("A " + next);
  if (batch === 1) say("ready");
}
say("full");
setInterval(() => {}, 1000); // wait for the kill
