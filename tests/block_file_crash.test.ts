// Crash test: a child of the same runtime allocates, writes, frees (single
// blocks, runs, half of everything at once) and syncs in steps, printing each
// step after its sync returns, and is killed with SIGKILL at a random moment.
// Each step also records its number in the control data, committed with it.
//
// After every kill the file must reopen, and an independent decoder of the
// format must find exactly the last acknowledged step — or the step after it,
// whose sync completed but whose line was cut — with the blocks in use being
// precisely those of that step: none lost, none extra, none both free and in
// use, and every one holding the bytes written to it.
import { after, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile } from "../mod.ts";
import { inspect } from "./block_file_inspect.ts";
import { childTimeoutScale, makeDirectory, removeDirectory, startScriptKilled } from "./helpers.ts";

const directory = makeDirectory("memmapfs-crash-");
after(() => removeDirectory(directory));

const ROUNDS = 10;

/** The child: continues from the committed blocks it is told about, until killed. */
const child = (file: string, owned: number[], seed: number) => `
import * as fs from "node:fs";
import { BlockFile } from "../mod.ts";
const blocks = BlockFile.open(${JSON.stringify(file)});
const size = blocks.blockSize;
// Synchronous writes: a step is on the pipe before the next one starts.
const say = (line: string) => fs.writeSync(1, line + "\\n");
const owned: number[] = ${JSON.stringify(owned)};
let step = Number(new TextDecoder().decode(blocks.controlData()));
let seed = ${seed};
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const write = (offset: number) => blocks.with(offset, 1, (view) => {
  view.fill((offset / size + step) & 0xff);
  const data = new DataView(view.buffer, view.byteOffset);
  data.setFloat64(0, offset, true);
  data.setUint32(8, step, true);
});
say("ready");
for (;;) {
  step++;
  const allocated: number[] = [];
  const freed: number[] = [];
  for (let i = 0, ops = 1 + Math.floor(random() * 8); i < ops; i++) {
    const r = random();
    if (r < 0.04 && owned.length > 20) {
      for (const offset of owned.splice(0, owned.length >> 1)) {
        blocks.free(offset);
        freed.push(offset);
      }
    } else if (r < 0.4 && owned.length > 0) {
      const [offset] = owned.splice(Math.floor(random() * owned.length), 1);
      blocks.free(offset);
      freed.push(offset);
    } else if (r < 0.5) {
      const count = 2 + Math.floor(random() * 3);
      const first = blocks.allocateBlocks(count);
      for (let k = 0; k < count; k++) {
        write(first + k * size);
        allocated.push(first + k * size);
      }
      // Allocated since the last commit, so reusable at once.
      if (random() < 0.3) blocks.free(allocated.pop()!);
    } else if (r < 0.6) {
      // Allocated and freed within the step: must never show up after a crash.
      const temporary = blocks.allocate();
      write(temporary);
      blocks.free(temporary);
    } else {
      const offset = blocks.allocate();
      write(offset);
      allocated.push(offset);
    }
  }
  blocks.setControlData(new TextEncoder().encode(String(step)), { sync: false });
  blocks.sync();
  owned.push(...allocated);
  say("S " + step + " " + JSON.stringify({ a: allocated, f: freed }));
}
`;

/** Whether the block at `offset` holds what the child wrote in `step`. */
function holds(bytes: Uint8Array, offset: number, size: number, step: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
  if (view.getFloat64(0, true) !== offset || view.getUint32(8, true) !== step) return false;
  const fill = (offset / size + step) & 0xff;
  for (let i = 12; i < size; i++) if (bytes[offset + i] !== fill) return false;
  return true;
}

it(`survives ${ROUNDS} SIGKILLs at random moments: exactly the last committed step, nothing lost`, async () => {
  const file = path.join(directory, "crash.bf");
  BlockFile.create(file).close();
  /** Blocks in use after the last check, with the step that wrote them. */
  let known = new Map<number, number>();
  let step = 0;
  let steps = 0;
  let inFlightCommitted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Emulated children run steps several times slower: the same random moment, stretched.
    const delay = (20 + Math.floor(Math.random() * 300)) * childTimeoutScale;
    const { stdout, stderr, signal } = await startScriptKilled(child(file, [...known.keys()], round * 7919 + 1), delay);
    assert.equal(signal, "SIGKILL", `the child was killed, not finished: ${stderr}`);
    const lines = stdout.split("\n");
    lines.pop(); // a last line without its newline was not acknowledged
    assert.equal(lines[0], "ready", stderr);
    const acknowledged = new Map(known);
    for (const line of lines.slice(1)) {
      const [, number, json] = line.match(/^S (\d+) (.*)$/)!;
      const { a, f } = JSON.parse(json) as { a: number[]; f: number[] };
      for (const offset of f) assert.ok(acknowledged.delete(offset), `step ${number} freed ${offset}, not in use`);
      for (const offset of a) acknowledged.set(offset, Number(number));
      step = Number(number);
      steps++;
    }

    const bytes = new Uint8Array(fs.readFileSync(file));
    const disk = inspect(bytes); // throws on any inconsistency of the format
    const committed = Number(new TextDecoder().decode(disk.control));
    const context = `round ${round}, acknowledged step ${step}, committed step ${committed}`;
    if (committed === step) {
      assert.deepEqual([...disk.inUse].sort((x, y) => x - y), [...acknowledged.keys()].sort((x, y) => x - y),
        `${context}: in use is exactly what was acknowledged`);
    } else {
      // The sync of the next step completed but the child died before saying so.
      assert.equal(committed, step + 1, context);
      inFlightCommitted++;
      for (const offset of disk.inUse) {
        if (!acknowledged.has(offset)) acknowledged.set(offset, committed);
      }
      for (const offset of acknowledged.keys()) if (!disk.inUse.has(offset)) acknowledged.delete(offset);
      step = committed;
    }
    for (const [offset, written] of acknowledged) {
      assert.ok(holds(bytes, offset, disk.blockSize, written), `${context}: block ${offset} lost its data`);
    }

    using blocks = BlockFile.open(file);
    const stats = blocks.stats();
    assert.equal(stats.used, disk.inUse.size, context);
    assert.equal(stats.free, disk.free.size, context);
    assert.equal(stats.pending, 0);
    known = acknowledged;
  }
  assert.ok(steps > ROUNDS, `the children made progress (${steps} steps, ${inFlightCommitted} cut after their sync)`);
});
