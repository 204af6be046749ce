// BlockFile under failure: growth that the OS refuses (ENOSPC, ENOMEM, a
// filesystem without fallocate, a platform without mremap), flushes that
// fail, and crashes at every step of a commit. The file must stay usable and
// unchanged, and what a crash leaves (the page cache, read here with node:fs)
// must open as exactly the previous or the next commit — never anything else.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile, MmapError } from "../mod.ts";
import { FaultyLibc, libc, type LibcCall, useLibc } from "../src/ffi/mod.ts";
import type { Libc } from "../src/ffi/libc.ts";
import { type Inspected, inspect } from "./block_file_inspect.ts";
import { makeDirectory, mappingsOf, openDescriptors, removeDirectory, withoutMremap } from "./helpers.ts";

const directory = makeDirectory("memmapfs-blocks-faults-");
after(() => removeDirectory(directory));
let counter = 0;
const newPath = () => path.join(directory, `blocks-${counter++}.bf`);
const read = (file: string) => new Uint8Array(fs.readFileSync(file));


/** Allocates until the next allocation must grow the file. */
function fillToCapacity(blocks: BlockFile): number[] {
  const offsets: number[] = [];
  while (blocks.stats().blocks + 2 <= blocks.stats().capacity) offsets.push(blocks.allocate());
  return offsets;
}

/** Runs `body` with `faulty` as the active libc. */
function using<T>(faulty: Libc, body: () => T): T {
  useLibc(faulty);
  try {
    return body();
  } finally {
    useLibc(null);
  }
}

describe("growth the OS refuses leaves the file usable and unchanged", () => {
  const cases: [string, (faulty: FaultyLibc) => void, string, string, boolean][] = [
    ["posix_fallocate ENOSPC", (f) => f.fail("posixFallocate", { errno: 28 }), "ENOSPC", "posix_fallocate", false],
    ["ftruncate ENOSPC where fallocate is unsupported", (f) => {
      f.fail("posixFallocate", { errno: 95 });
      f.fail("ftruncate", { errno: 28 });
    }, "ENOSPC", "ftruncate", false],
    ["mremap ENOMEM", (f) => f.fail("mremap", { errno: 12 }), "ENOMEM", "mremap", false],
    ["mmap ENOMEM on a platform without mremap", (f) => f.fail("mmap", { errno: 12 }), "ENOMEM", "mmap", true],
  ];
  for (const [what, arm, code, syscall, darwin] of cases) {
    it(what, () => {
      const file = newPath();
      const faulty = new FaultyLibc(darwin ? withoutMremap(libc()) : libc());
      using(faulty, () => {
        const blocks = BlockFile.create(file);
        const offsets = fillToCapacity(blocks);
        for (const offset of offsets) blocks.with(offset, 1, (view) => view.fill(offset / 4096));
        blocks.sync();
        const before = read(file);
        const stats = blocks.stats();
        arm(faulty);
        assert.throws(() => blocks.allocate(), (error: unknown) =>
          error instanceof MmapError && error.code === code && error.syscall === syscall);
        assert.deepEqual(read(file), before, "same size, same bytes");
        assert.deepEqual(blocks.stats(), stats);
        // Still usable: the next attempt grows, and every block kept its bytes.
        const next = blocks.allocate();
        assert.ok(!offsets.includes(next));
        for (const offset of offsets) {
          assert.ok(blocks.with(offset, 1, (view) => view.every((byte) => byte === (offset / 4096 & 0xff))));
        }
        blocks.close();
      });
      assert.ok(inspect(read(file)).inUse.size > 0);
    });
  }

  it("fallocate unsupported alone: growth falls back to ftruncate", () => {
    const faulty = new FaultyLibc(libc());
    using(faulty, () => {
      using blocks = BlockFile.create(newPath());
      fillToCapacity(blocks);
      faulty.fail("posixFallocate", { errno: 95 });
      const capacity = blocks.stats().capacity;
      blocks.allocate();
      assert.ok(blocks.stats().capacity > capacity);
    });
  });

  it("growth for a free-list page at sync: refused, then retried", () => {
    const file = newPath();
    const faulty = new FaultyLibc(libc());
    using(faulty, () => {
      const blocks = BlockFile.create(file);
      const offsets = fillToCapacity(blocks); // one spare block left
      blocks.sync();
      // Blocks freed while committed in use cannot hold the list, so its page is the spare.
      blocks.free(offsets[0]);
      blocks.sync();
      assert.equal(blocks.stats().blocks, blocks.stats().capacity, "exactly full");
      for (const offset of offsets.slice(1)) blocks.free(offset);
      const before = read(file);
      const stats = blocks.stats();
      faulty.fail("posixFallocate", { errno: 28 });
      assert.throws(() => blocks.sync(), (error: unknown) => error instanceof MmapError && error.code === "ENOSPC");
      assert.deepEqual(read(file), before, "nothing written before the failure");
      assert.deepEqual(blocks.stats(), stats);
      blocks.sync();
      assert.equal(inspect(read(file)).free.size, offsets.length);
      blocks.close();
    });
  });
});

describe("failed flushes", () => {
  it("an msync failure poisons the file; close still releases everything", () => {
    const file = newPath();
    const descriptors = openDescriptors();
    const faulty = new FaultyLibc(libc());
    using(faulty, () => {
      const blocks = BlockFile.create(file);
      const kept = blocks.allocate();
      blocks.sync();
      const lost = blocks.allocate();
      faulty.fail("msync", { errno: 5 });
      assert.throws(() => blocks.sync(), (error: unknown) => error instanceof MmapError && error.code === "EIO");
      // The header was never written: a crash now finds the previous commit.
      const snapshot = inspect(read(file));
      assert.deepEqual([...snapshot.inUse], [kept]);
      assert.throws(() => blocks.sync(), MmapError, "poisoned: a later sync does not report success");
      assert.throws(() => blocks.close(), MmapError);
      assert.ok(lost > kept);
    });
    assert.deepEqual(openDescriptors(), descriptors, "no descriptor left behind");
    assert.deepEqual(mappingsOf(file), [], "no mapping left behind");
    using reopened = BlockFile.open(file);
    assert.equal(reopened.stats().used, 1);
  });
});

/** The allocation state of a snapshot, for comparison. */
const stateOf = (snapshot: Inspected) => ({
  inUse: [...snapshot.inUse].sort((a, b) => a - b),
  free: [...snapshot.free].sort((a, b) => a - b),
  control: new TextDecoder().decode(snapshot.control),
});

describe("a crash at any step of a commit opens as the previous or the next commit", () => {
  /** A file with history, then changes of every kind waiting for a sync; made through `faulty`. */
  function prepared(file: string, faulty: FaultyLibc): BlockFile {
    return using(faulty, () => {
      const blocks = BlockFile.create(file);
      const offsets = Array.from({ length: 600 }, () => blocks.allocate());
      blocks.setControlData(new TextEncoder().encode("first"));
      for (const offset of offsets.slice(0, 550)) blocks.free(offset); // two pages of free list
      blocks.sync();
      for (let i = 0; i < 30; i++) blocks.allocate(); // from the list: its first page is rewritten
      for (const offset of offsets.slice(560, 580)) blocks.free(offset); // committed in use: pending
      const fresh = Array.from({ length: 10 }, () => blocks.allocate());
      for (const offset of fresh.slice(0, 5)) blocks.free(offset); // fresh: reusable at once
      blocks.allocateBlocks(500); // grows the file past its 1024 blocks
      blocks.setControlData(new TextEncoder().encode("second"), { sync: false });
      return blocks;
    });
  }

  const plan = (() => {
    const counting = new FaultyLibc(libc());
    const blocks = prepared(newPath(), counting);
    const base = { msync: counting.calls("msync"), fsync: counting.calls("fsync") };
    using(counting, () => blocks.sync());
    const made = (["msync", "fsync"] as const).flatMap((call) =>
      Array.from({ length: counting.calls(call) - base[call] }, (_, i) => [call, i + 1] as [LibcCall, number])
    );
    blocks.close();
    return made;
  })();
  const msyncs = plan.filter(([call]) => call === "msync").length;

  it("the sweep covers the flushes a commit makes", () => {
    assert.equal(msyncs, 2, `all blocks, then the header: ${JSON.stringify(plan)}`);
    assert.ok(plan.some(([call]) => call === "fsync"), "the file grew, so its size is fsynced");
  });

  /** Syncs with `call` #`nth` failing; returns the page cache at that moment and the file before. */
  function crashDuringSync(call: LibcCall, nth: number) {
    const faulty = new FaultyLibc(libc());
    const file = newPath();
    const blocks = prepared(file, faulty);
    const before = read(file);
    faulty.fail(call, { nth, errno: 5 });
    assert.throws(() => using(faulty, () => blocks.sync()), MmapError);
    // What a SIGKILL right now would leave: the page cache.
    const moment = read(file);
    try {
      blocks.close({ force: true });
    } catch { /* poisoned: close reports the failed commit again */ }
    return { before, moment };
  }

  for (const [call, nth] of plan) {
    it(`${call} #${nth} failing`, () => {
      const { before, moment } = crashDuringSync(call, nth);
      const previous = stateOf(inspect(before));
      const state = stateOf(inspect(moment));
      const crashed = newPath();
      fs.writeFileSync(crashed, moment);
      using reopened = BlockFile.open(crashed);
      if (call === "msync" && nth === msyncs) {
        // The header was written, only its flush failed: the new commit is in charge.
        assert.equal(state.control, "second");
      } else {
        assert.deepEqual(state, previous, "the header was not written yet");
      }
      assert.equal(reopened.stats().free, state.free.length);
      assert.equal(reopened.stats().pending, 0);
    });
  }

  it("a header write torn anywhere opens as one of the two commits", () => {
    // The page cache just after the header was written (its flush failed), and before.
    const { before, moment } = crashDuringSync("msync", msyncs);
    const previous = stateOf(inspect(before));
    const next = stateOf(inspect(moment));
    assert.notDeepEqual(previous, next);
    const { slot } = inspect(moment);
    const start = slot * 2048;
    const cuts = [...Array.from({ length: 72 }, (_, i) => i), ...Array.from({ length: 22 }, (_, i) => 72 + i * 90), 2048];
    for (const cut of cuts) {
      // The slot holds the new header up to `cut` and what it held before after it.
      const torn = moment.slice();
      torn.set(before.subarray(start + cut, start + 2048), start + cut);
      const state = stateOf(inspect(torn));
      const matches = JSON.stringify(state) === JSON.stringify(previous) ||
        JSON.stringify(state) === JSON.stringify(next);
      assert.ok(matches, `cut at ${cut}`);
      if (cut < 64) assert.deepEqual(state, previous, `cut at ${cut}`);
      if (cut % 9 === 0) {
        const file = newPath();
        fs.writeFileSync(file, torn);
        BlockFile.open(file).close();
      }
    }
  });
});
