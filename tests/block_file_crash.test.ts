// Crash test: a child allocates, writes, frees and syncs blocks, acknowledging
// each synced step on stdout, and is killed with SIGKILL at a random moment.
// Reopening must always succeed, the free list must agree with what was
// acknowledged, and every acknowledged block must hold its data.
import { after, it } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { BlockFile } from "../mod.ts";
import { makeDirectory, removeDirectory, startScriptKilled } from "./helpers.ts";

const directory = makeDirectory("memmapfs-crash-");
after(() => removeDirectory(directory));

const ROUNDS = 8;
/** Steps the child may have taken but not acknowledged when it died. */
const IN_FLIGHT = 1;

const child = (file: string, seed: number) => `
import * as fs from "node:fs";
import { BlockFile } from "../mod.ts";
const file = ${JSON.stringify(file)};
const blocks = fs.existsSync(file) ? BlockFile.open(file) : BlockFile.create(file);
// Synchronous writes: an acknowledgement is on the pipe before the next step.
const say = (line) => fs.writeSync(1, line + "\\n");
const mine = [];
let seed = ${seed};
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
say("ready");
for (;;) {
  if (mine.length > 4 && random() < 0.3) {
    const [offset] = mine.splice(Math.floor(random() * mine.length), 1);
    blocks.free(offset);
    blocks.sync();
    say("F " + offset);
  } else {
    const offset = blocks.allocate();
    blocks.with(offset, 1, (view) => {
      view.fill((offset / blocks.blockSize) & 0xff);
      new DataView(view.buffer, view.byteOffset).setFloat64(0, offset, true);
    });
    blocks.sync();
    mine.push(offset);
    say("A " + offset);
  }
}
`;

it(`survives ${ROUNDS} SIGKILLs at random moments with nothing lost`, async () => {
  const file = path.join(directory, "crash.bf");
  const inUse = new Set<number>();
  const leaked = new Set<number>();
  let acknowledged = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const delay = 30 + Math.floor(Math.random() * 300);
    const { stdout, signal } = await startScriptKilled(child(file, round + 1), delay);
    assert.equal(signal, "SIGKILL", "the child was killed, not finished");
    const lines = stdout.split("\n");
    lines.pop(); // a last line without its newline was not acknowledged
    assert.equal(lines[0], "ready");
    for (const line of lines.slice(1)) {
      const [kind, value] = line.split(" ");
      const offset = Number(value);
      if (kind === "A") inUse.add(offset);
      else inUse.delete(offset);
      acknowledged++;
    }

    using blocks = BlockFile.open(file);
    const { blocks: count, free } = blocks.stats();
    let freeSeen = 0;
    // The one step the child took but did not acknowledge: an allocation
    // (a block in use nobody knows of) or a free (a known block now free).
    const unacknowledged: number[] = [];
    for (let block = 1; block < count; block++) {
      const offset = block * blocks.blockSize;
      const isFree = blocks.isFree(offset);
      if (isFree) freeSeen++;
      if (inUse.has(offset) && isFree) {
        unacknowledged.push(offset);
        inUse.delete(offset);
      } else if (inUse.has(offset)) {
        blocks.with(offset, 1, (view) => {
          assert.equal(new DataView(view.buffer, view.byteOffset).getFloat64(0, true), offset);
          assert.equal(view[view.length - 1], (offset / blocks.blockSize) & 0xff, `block ${offset} lost its data`);
        });
      } else if (!isFree && !leaked.has(offset)) {
        unacknowledged.push(offset);
        leaked.add(offset);
      }
    }
    assert.equal(freeSeen, free, "the free count matches the list");
    assert.ok(unacknowledged.length <= IN_FLIGHT, `round ${round}: unexplained blocks ${unacknowledged}`);
  }
  assert.ok(acknowledged > ROUNDS, `the children made progress (${acknowledged} steps)`);
});
