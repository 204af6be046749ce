// Power-cut images, the way SQLite's crash VFS tests: a SIGKILL loses nothing
// from the page cache, so it cannot show what a power cut keeps. Instead the
// file is recorded at every sync (each msync(MS_SYNC) and fsync BlockFile
// makes returns with everything written so far durable), and between two
// syncs crash images are built from the first recording plus a random subset
// of the pages that changed before the second — some torn at 512-byte
// sectors, and with the file at either size when it grew. Every image must
// open as exactly the commit recorded at the first sync or the one at the
// second: header, free list, the blocks in use and every byte in them.
import { after, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlockFile, pageSize } from "../mod.ts";
import { FaultyLibc, libc } from "../src/ffi/mod.ts";
import { inspect } from "./block_file_inspect.ts";
import { removeDirectory, withLibc } from "./helpers.ts";

const directory = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "memmapfs-images-"));
after(() => removeDirectory(directory));

const SEED = Number(process.env.MEMMAPFS_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS = 60;
const IMAGES_PER_INTERVAL = 40;
const SECTOR = 512;
const LIBRARY_EVERY = 4;

function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    // xorshift32: quick, and the same sequence on every runtime.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

/** Records the file each time a sync call returns successfully. */
class RecordingSyncs extends FaultyLibc {
  readonly recordings: Uint8Array[] = [];
  readonly file: string;
  constructor(file: string) {
    super(libc());
    this.file = file;
  }
  #record(result: number): number {
    if (result === 0) {
      const bytes = new Uint8Array(fs.readFileSync(this.file));
      const last = this.recordings.at(-1);
      if (!last || !equal(last, bytes)) this.recordings.push(bytes);
    }
    return result;
  }
  override msync(address: bigint, length: number, flags: number): number {
    const result = super.msync(address, length, flags);
    return flags & this.constants.MS_SYNC ? this.#record(result) : result;
  }
  override fsync(fd: number): number {
    return this.#record(super.fsync(fd));
  }
}

/** Byte equality through Buffer.equals (memcmp): the test compares a few GB in all. */
function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** What a block written in `step` holds. */
function fill(view: Uint8Array, offset: number, step: number, size: number): void {
  view.fill((offset / size * 7 + step) & 0xff);
  new DataView(view.buffer, view.byteOffset).setFloat64(0, offset, true);
  new DataView(view.buffer, view.byteOffset).setUint32(8, step, true);
}

const expectedBlocks = new Map<string, Uint8Array>();

function holds(bytes: Uint8Array, offset: number, size: number, step: number): boolean {
  const key = `${offset}/${step}`;
  let expected = expectedBlocks.get(key);
  if (!expected) {
    expected = new Uint8Array(size);
    fill(expected, offset, step, size);
    expectedBlocks.set(key, expected);
  }
  return offset + size <= bytes.length && equal(bytes.subarray(offset, offset + size), expected);
}

/** Runs the workload; returns the recordings and, per committed step, the blocks in use and the step that wrote each. */
function record(file: string, random: () => number): { recordings: Uint8Array[]; states: Map<number, Map<number, number>> } {
  BlockFile.create(file).close();
  const recorder = new RecordingSyncs(file);
  recorder.recordings.push(new Uint8Array(fs.readFileSync(file)));
  const states = new Map<number, Map<number, number>>([[0, new Map()]]);
  withLibc(recorder, () => {
    using blocks = BlockFile.open(file);
    const size = blocks.blockSize;
    const owned = new Map<number, number>();
    const write = (offset: number, step: number) => blocks.with(offset, 1, (view) => fill(view, offset, step, size));
    for (let step = 1; step <= STEPS; step++) {
      for (let i = 0, ops = 1 + Math.floor(random() * 8); i < ops; i++) {
        const r = random();
        const mine = [...owned.keys()];
        if (r < 0.05 && mine.length > 16) {
          for (const offset of mine.slice(0, mine.length >> 1)) {
            blocks.free(offset);
            owned.delete(offset);
          }
        } else if (r < 0.4 && mine.length > 0) {
          const offset = mine[Math.floor(random() * mine.length)];
          blocks.free(offset);
          owned.delete(offset);
        } else if (r < 0.55) {
          const count = 2 + Math.floor(random() * 6);
          const first = blocks.allocateBlocks(count);
          for (let k = 0; k < count; k++) {
            write(first + k * size, step);
            owned.set(first + k * size, step);
          }
        } else if (r < 0.65) {
          // Allocated and freed before the commit: no image may show it in use.
          const temporary = blocks.allocate();
          write(temporary, step);
          blocks.free(temporary);
        } else {
          const offset = blocks.allocate();
          write(offset, step);
          owned.set(offset, step);
        }
      }
      blocks.setControlData(new TextEncoder().encode(String(step)), { sync: false });
      blocks.sync();
      states.set(step, new Map(owned));
    }
  });
  return { recordings: recorder.recordings, states };
}

/**
 * Crash images between two recordings, built in one buffer: `build` applies a
 * random subset of the changed pages of `after` (each kept, dropped or torn at
 * 512-byte sectors, the file at either size when it grew) over `before`, and
 * `undo` puts `before` back — only the changed pages are ever copied.
 */
class ImageBuilder {
  readonly #before: Uint8Array;
  readonly #after: Uint8Array;
  readonly #changed: number[];
  readonly #work: Uint8Array;
  readonly #random: () => number;

  constructor(before: Uint8Array, after: Uint8Array, changed: number[], random: () => number) {
    // Past the old end a grown file reads zeros until its pages are written.
    this.#before = new Uint8Array(Math.max(before.length, after.length));
    this.#before.set(before);
    this.#after = after;
    this.#changed = changed;
    this.#work = this.#before.slice();
    this.#random = random;
  }

  build(oldLength: number): Uint8Array {
    const random = this.#random;
    const length = oldLength !== this.#after.length && random() < 0.5 ? oldLength : this.#after.length;
    for (const page of this.#changed) {
      const chance = random();
      if (chance < 0.45) continue; // never reached the disk
      const start = page * pageSize;
      const end = Math.min(start + pageSize, this.#after.length);
      if (chance < 0.8) {
        this.#work.set(this.#after.subarray(start, end), start);
        continue;
      }
      // Torn: each 512-byte sector independently old or new.
      for (let sector = start; sector < end; sector += SECTOR) {
        if (random() < 0.5) this.#work.set(this.#after.subarray(sector, Math.min(sector + SECTOR, end)), sector);
      }
    }
    return this.#work.subarray(0, length);
  }

  undo(): void {
    for (const page of this.#changed) {
      const start = page * pageSize;
      this.#work.set(this.#before.subarray(start, start + pageSize), start);
    }
  }
}

function changedPages(before: Uint8Array, after: Uint8Array): number[] {
  const pages: number[] = [];
  for (let page = 0; page * pageSize < after.length; page++) {
    const start = page * pageSize;
    const end = Math.min(start + pageSize, after.length);
    if (end > before.length || !equal(before.subarray(start, end), after.subarray(start, end))) pages.push(page);
  }
  return pages;
}

const stepOf = (bytes: Uint8Array) => Number(new TextDecoder().decode(inspect(bytes).control) || "0");

it(`every crash image between two syncs opens as exactly one of the two commits (seed ${SEED})`, { timeout: 60_000 }, () => {
  const random = generator(SEED);
  const file = path.join(directory, "recorded.bf");
  const { recordings, states } = record(file, random);
  assert.equal(stepOf(recordings.at(-1)!), STEPS, "the last recording is the last commit");
  const imageFile = path.join(directory, "image.bf");
  let images = 0;
  let libraryOpens = 0;
  const opened = new Map<"first" | "second", number>([["first", 0], ["second", 0]]);
  for (let k = 0; k + 1 < recordings.length; k++) {
    const [before, after] = [recordings[k], recordings[k + 1]];
    const first = stepOf(before);
    const second = stepOf(after);
    const builder = new ImageBuilder(before, after, changedPages(before, after), random);
    for (let n = 0; n < IMAGES_PER_INTERVAL; n++, builder.undo()) {
      const image = builder.build(before.length);
      const context = `seed ${SEED}, syncs ${k} and ${k + 1} (steps ${first} and ${second}), image ${n}`;
      let disk;
      try {
        disk = inspect(image);
      } catch (error) {
        assert.fail(`${context}: the image is not a consistent BlockFile: ${error}`);
      }
      const step = Number(new TextDecoder().decode(disk.control) || "0");
      assert.ok(step === first || step === second, `${context}: opened as step ${step}`);
      opened.set(step === first ? "first" : "second", opened.get(step === first ? "first" : "second")! + 1);
      const expected = states.get(step)!;
      assert.deepEqual([...disk.inUse].sort((a, b) => a - b), [...expected.keys()].sort((a, b) => a - b), `${context}: blocks in use`);
      for (const [offset, written] of expected) {
        assert.ok(holds(image, offset, disk.blockSize, written), `${context}: block ${offset} lost the bytes of step ${written}`);
      }
      images++;
      // And the library itself opens it, as that commit: one image in LIBRARY_EVERY (each
      // open is a file write and some twenty system calls; the decoder above checks them all).
      if (images % LIBRARY_EVERY !== 0) continue;
      libraryOpens++;
      fs.writeFileSync(imageFile, image);
      const blocks = BlockFile.open(imageFile);
      try {
        assert.equal(new TextDecoder().decode(blocks.controlData()) || "0", String(step), context);
        assert.equal(blocks.stats().used, expected.size, context);
      } finally {
        blocks.close();
      }
    }
  }
  console.log(`crash images: ${images} from ${recordings.length} recorded syncs over ${STEPS} commits, seed ${SEED}; ` +
    `${opened.get("first")} opened as the earlier commit, ${opened.get("second")} as the later; ` +
    `${libraryOpens} also opened with BlockFile.open`);
  assert.ok(images >= 3000, `${images} images`);
  assert.ok(opened.get("first")! > 0 && opened.get("second")! > 0, "both outcomes occur");
});
