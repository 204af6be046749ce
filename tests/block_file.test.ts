// BlockFile: every method, the free list and control data across reopen, when
// freed blocks come back, amortised growth, and what the file on disk says
// (read by an independent decoder) after each commit.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile, ClosedError, MmapError, pageSize } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { inspect } from "./block_file_inspect.ts";
import { makeDirectory, mappingsOf, openDescriptors, removeDirectory } from "./helpers.ts";

const directory = makeDirectory("memmapfs-blocks-");
after(() => removeDirectory(directory));
let counter = 0;
const newPath = () => path.join(directory, `blocks-${counter++}.bf`);
const onDisk = (file: string) => inspect(new Uint8Array(fs.readFileSync(file)));
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = (value: string) => new TextEncoder().encode(value);

/** Fills a block so that its content names it. */
function stamp(blocks: BlockFile, offset: number, tag: number): void {
  blocks.with(offset, 1, (view) => {
    view.fill(tag & 0xff);
    new DataView(view.buffer, view.byteOffset).setFloat64(0, offset, true);
  });
}
function stamped(blocks: BlockFile, offset: number, tag: number): boolean {
  return blocks.with(offset, 1, (view) =>
    new DataView(view.buffer, view.byteOffset).getFloat64(0, true) === offset &&
    view.subarray(8).every((byte) => byte === (tag & 0xff)));
}

describe("create, open, anonymous", () => {
  it("creates an empty file that reopens, for several block sizes", () => {
    for (const blockSize of [pageSize, 2 * pageSize, 3 * pageSize, 16 * pageSize]) {
      const file = newPath();
      const blocks = BlockFile.create(file, { blockSize });
      assert.equal(blocks.blockSize, blockSize);
      assert.equal(blocks.path, file);
      assert.equal(blocks.size, fs.statSync(file).size);
      assert.equal(blocks.size % blockSize, 0);
      assert.equal(blocks.controlCapacity, blockSize / 2 - 64);
      blocks.close();
      // Closed before any operation: both header slots must already be valid.
      using reopened = BlockFile.open(file);
      assert.equal(reopened.blockSize, blockSize);
      assert.deepEqual(reopened.stats(), {
        blocks: 1, used: 0, free: 0, pending: 0, freeListPages: 0, capacity: reopened.size / blockSize,
      });
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    }
  });

  it("accepts a URL and uses the page size by default", () => {
    const file = newPath();
    using blocks = BlockFile.create(new URL(`file://${file}`));
    assert.equal(blocks.blockSize, Math.max(4096, pageSize));
    assert.equal(blocks.path, file);
  });

  it("works in anonymous memory, where frees are reusable at once", () => {
    using blocks = BlockFile.anonymous({ blockSize: 2 * pageSize });
    assert.equal(blocks.path, null);
    const offsets = Array.from({ length: 100 }, () => blocks.allocate());
    for (const offset of offsets) stamp(blocks, offset, offset / blocks.blockSize);
    for (const offset of offsets) assert.ok(stamped(blocks, offset, offset / blocks.blockSize));
    blocks.free(offsets[5]);
    assert.equal(blocks.isFree(offsets[5]), true);
    assert.equal(blocks.allocate(), offsets[5]);
    blocks.sync();
    blocks.setControlData(bytesOf("anonymous"));
    assert.equal(text(blocks.controlData()), "anonymous");
  });
});

describe("allocation", () => {
  it("hands out zeroed, distinct, block-aligned offsets past the header", () => {
    using blocks = BlockFile.create(newPath());
    const offsets = Array.from({ length: 50 }, () => blocks.allocate());
    assert.equal(new Set(offsets).size, 50);
    for (const offset of offsets) {
      assert.equal(offset % blocks.blockSize, 0);
      assert.ok(offset >= blocks.blockSize, "block 0 is the header");
      blocks.with(offset, 1, (view) => {
        assert.ok(view.every((byte) => byte === 0));
        view.fill(0xee);
      });
    }
  });

  it("reuses a block allocated since the last sync at once, zeroed", () => {
    using blocks = BlockFile.create(newPath());
    const first = blocks.allocate();
    stamp(blocks, first, 7);
    blocks.free(first);
    assert.equal(blocks.stats().pending, 0);
    assert.equal(blocks.allocate(), first, "last freed, first reused");
    assert.ok(blocks.with(first, 1, (view) => view.every((byte) => byte === 0)));
  });

  it("keeps a block that was in use at the last sync, with its bytes, until the next sync", () => {
    const file = newPath();
    using blocks = BlockFile.create(file);
    const committed = blocks.allocate();
    stamp(blocks, committed, 9);
    blocks.sync();
    blocks.free(committed);
    assert.equal(blocks.isFree(committed), true);
    assert.equal(blocks.stats().pending, 1);
    const other = blocks.allocate();
    assert.notEqual(other, committed, "not handed out before the free is committed");
    // Until the free is committed a crash finds the block in use and intact.
    const bytes = new Uint8Array(fs.readFileSync(file));
    assert.ok(onDisk(file).inUse.has(committed));
    assert.equal(new DataView(bytes.buffer, committed).getFloat64(0, true), committed);
    blocks.sync();
    assert.ok(onDisk(file).free.has(committed));
    assert.ok(new Uint8Array(fs.readFileSync(file)).subarray(committed, committed + 4096).every((b) => b === 0),
      "zeroed once the free is committed");
    assert.equal(blocks.allocate(), committed, "reusable after the sync");
    blocks.free(other);
    assert.notEqual(blocks.allocate(), other, "other was committed in use, so its free waits for a sync too");
  });

  it("allocates contiguous runs and frees them whole or block by block", () => {
    using blocks = BlockFile.create(newPath(), { blockSize: 2 * pageSize });
    blocks.allocate();
    const run = blocks.allocateBlocks(5);
    const view = blocks.get(run, 5);
    assert.equal(view.length, 10 * pageSize);
    assert.ok(view.every((byte) => byte === 0));
    view.fill(1);
    blocks.release(view);
    assert.equal(blocks.allocate(), run + 5 * 2 * pageSize, "the next block follows the run");
    assert.equal(blocks.allocateBlocks(1) > run, true);
    blocks.free(run, 3);
    blocks.free(run + 3 * blocks.blockSize);
    blocks.free(run + 4 * blocks.blockSize);
    assert.equal(blocks.stats().free, 5);
  });

  it("grows amortised, not once per block", () => {
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    try {
      using blocks = BlockFile.create(newPath());
      for (let i = 0; i < 1000; i++) blocks.allocate();
      assert.ok(blocks.stats().capacity >= 1001);
      assert.ok(faulty.calls("mremap") <= 8, `${faulty.calls("mremap")} resizes for 1000 blocks`);
    } finally {
      useLibc(null);
    }
  });

  it("reserve() grows ahead so allocations work while views are held", () => {
    using blocks = BlockFile.create(newPath());
    const held = blocks.get(blocks.allocate());
    blocks.release(held);
    blocks.reserve(100);
    const view = blocks.get(blocks.allocate());
    for (let i = 0; i < 99; i++) blocks.allocate();
    assert.equal(view.length, blocks.blockSize, "the held view is still live");
    blocks.release(view);
  });

  it("keeps stats consistent: header + used + free + pages = high-water mark", () => {
    using blocks = BlockFile.create(newPath());
    const offsets = Array.from({ length: 40 }, () => blocks.allocate());
    blocks.sync();
    for (const offset of offsets.slice(0, 15)) blocks.free(offset);
    for (let i = 0; i < 5; i++) blocks.allocate();
    const check = () => {
      const s = blocks.stats();
      assert.equal(1 + s.used + s.free + s.freeListPages, s.blocks, JSON.stringify(s));
    };
    check();
    blocks.sync();
    check();
    for (let i = 0; i < 20; i++) blocks.allocate();
    check();
  });
});

describe("on disk", () => {
  it("keeps blocks, free list and control data across close and open", () => {
    const file = newPath();
    const offsets: number[] = [];
    {
      using blocks = BlockFile.create(file);
      for (let i = 0; i < 10; i++) offsets.push(blocks.allocate());
      for (const offset of offsets) stamp(blocks, offset, offset / 4096);
      blocks.sync();
      blocks.free(offsets[3]);
      blocks.free(offsets[7]);
      blocks.setControlData(bytesOf('{"root":4096}'), { sync: false });
    } // close() commits
    const disk = onDisk(file);
    assert.ok(disk.free.has(offsets[3]) && disk.free.has(offsets[7]));
    assert.equal(text(disk.control), '{"root":4096}');
    using reopened = BlockFile.open(file);
    assert.equal(text(reopened.controlData()), '{"root":4096}');
    assert.equal(reopened.isFree(offsets[3]), true);
    assert.equal(reopened.isFree(offsets[7]), true);
    for (const offset of offsets) {
      if (offset !== offsets[3] && offset !== offsets[7]) assert.ok(stamped(reopened, offset, offset / 4096));
    }
    const again = [reopened.allocate(), reopened.allocate()].sort((a, b) => a - b);
    assert.deepEqual(again, [offsets[3], offsets[7]], "freed blocks are found after a restart");
  });

  it("keeps a free list of many pages across reopen", () => {
    const file = newPath();
    const count = 1500; // three pages of free entries at 4 KiB blocks
    {
      using blocks = BlockFile.create(file);
      const offsets = Array.from({ length: count }, () => blocks.allocate());
      blocks.sync();
      for (const offset of offsets) blocks.free(offset);
    }
    const disk = onDisk(file);
    assert.equal(disk.free.size, count);
    // Blocks freed while committed in use cannot hold the list: its pages come from the end.
    assert.equal(disk.pages.size, 3);
    assert.equal(disk.highWater, 1 + count + 3);
    using reopened = BlockFile.open(file);
    assert.equal(reopened.stats().free, disk.free.size);
    const seen = new Set<number>();
    for (let i = 0; i < disk.free.size; i++) seen.add(reopened.allocate());
    assert.deepEqual([...seen].sort((a, b) => a - b), [...disk.free].sort((a, b) => a - b));
    const fresh = reopened.allocate();
    assert.ok(!disk.free.has(fresh));
    reopened.sync();
    const after = onDisk(file);
    assert.equal(after.inUse.size, disk.free.size + 1);
    assert.deepEqual([...after.free].sort((a, b) => a - b), [...disk.pages].sort((a, b) => a - b),
      "the pages that were read empty are free once the next commit no longer needs them");
  });

  it("records allocations, frees and control data only at sync", () => {
    const file = newPath();
    using blocks = BlockFile.create(file);
    const a = blocks.allocate();
    blocks.setControlData(bytesOf("v1"), { sync: false });
    assert.equal(onDisk(file).inUse.size, 0, "not committed yet");
    assert.equal(text(onDisk(file).control), "");
    blocks.sync();
    assert.deepEqual([...onDisk(file).inUse], [a]);
    assert.equal(text(onDisk(file).control), "v1");
    blocks.setControlData(bytesOf("v2"));
    assert.equal(text(onDisk(file).control), "v2", "setControlData syncs by default");
    const sequence = onDisk(file).sequence;
    blocks.sync();
    assert.equal(onDisk(file).sequence, sequence, "a sync with nothing to record leaves the header alone");
  });

  it("creates exclusively and never overwrites a file", () => {
    const file = newPath();
    fs.writeFileSync(file, "precious");
    assert.throws(() => BlockFile.create(file), (error: unknown) => error instanceof MmapError && error.code === "EEXIST");
    assert.equal(fs.readFileSync(file, "utf8"), "precious");
    const empty = newPath();
    fs.writeFileSync(empty, "");
    assert.throws(() => BlockFile.create(empty), MmapError, "not even an empty file");
    assert.equal(fs.statSync(empty).size, 0);
  });
});

describe("views", () => {
  it("get/release/with hand out zero-copy views of allocated blocks", () => {
    using blocks = BlockFile.create(newPath());
    const offset = blocks.allocate();
    const view = blocks.get(offset);
    assert.equal(blocks.outstandingViews, 1);
    view.set([1, 2, 3]);
    const second = blocks.get(offset);
    assert.deepEqual([...second.subarray(0, 3)], [1, 2, 3], "two views share memory");
    assert.equal(blocks.outstandingViews, 2);
    blocks.release(view);
    blocks.release(second);
    assert.equal(blocks.with(offset, 1, (v) => v[2]), 3);
    assert.equal(blocks.outstandingViews, 0);
  });

  it("with() releases after an exception and after a promise settles", async () => {
    using blocks = BlockFile.create(newPath());
    const offset = blocks.allocate();
    assert.throws(() => blocks.with(offset, 1, () => {
      throw new Error("boom");
    }), /boom/);
    assert.equal(blocks.outstandingViews, 0);
    const pending = blocks.with(offset, 1, async (view) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      view[0] = 1;
      return "done";
    });
    assert.equal(blocks.outstandingViews, 1, "held until the promise settles");
    assert.equal(await pending, "done");
    assert.equal(blocks.outstandingViews, 0);
    await assert.rejects(blocks.with(offset, 1, () => Promise.reject(new Error("late"))), /late/);
    assert.equal(blocks.outstandingViews, 0);
  });
});

describe("lifecycle", () => {
  it("close() commits, releases everything, and a second close does nothing", () => {
    const file = newPath();
    const descriptors = openDescriptors();
    const blocks = BlockFile.create(file);
    const offset = blocks.allocate();
    blocks.close();
    blocks.close();
    assert.deepEqual(openDescriptors(), descriptors);
    assert.deepEqual(mappingsOf(file), []);
    assert.ok(onDisk(file).inUse.has(offset));
    for (const use of [() => blocks.allocate(), () => blocks.get(offset), () => blocks.sync(), () => blocks.size,
      () => blocks.stats(), () => blocks.controlData(), () => blocks.free(offset), () => blocks.isFree(offset),
      () => blocks.release(new Uint8Array(1)), () => blocks.reserve(1)]) {
      assert.throws(use, ClosedError);
    }
  });

  it("close({ force: true }) detaches held views", () => {
    const blocks = BlockFile.create(newPath());
    const held = blocks.get(blocks.allocate());
    blocks.close({ force: true });
    assert.equal(held.byteLength, 0);
  });

  it("close({ force: true }) commits even when the commit must grow the file", () => {
    const file = newPath();
    const blocks = BlockFile.create(file);
    const offsets: number[] = [];
    while (blocks.stats().blocks + 2 <= blocks.stats().capacity) offsets.push(blocks.allocate());
    blocks.sync();
    blocks.free(offsets[0]);
    blocks.sync(); // its free-list page took the last block: the file is full
    for (const offset of offsets.slice(2)) blocks.free(offset);
    const held = blocks.get(offsets[1]);
    blocks.close({ force: true }); // the new free-list page needs growth
    assert.equal(held.byteLength, 0);
    assert.equal(onDisk(file).free.size, offsets.length - 1);
  });

  it("remove() deletes the file, also after close, and only once", () => {
    const file = newPath();
    const blocks = BlockFile.create(file);
    blocks.allocate();
    blocks.remove();
    assert.equal(fs.existsSync(file), false);
    assert.throws(() => blocks.allocate(), ClosedError);
    blocks.remove();
    const other = newPath();
    const closed = BlockFile.create(other);
    closed.close();
    closed.remove();
    assert.equal(fs.existsSync(other), false);
    const anonymous = BlockFile.anonymous();
    anonymous.remove();
    assert.throws(() => anonymous.allocate(), ClosedError);
  });

  it("Symbol.dispose closes", () => {
    const file = newPath();
    let escaped: BlockFile;
    {
      using blocks = BlockFile.create(file);
      escaped = blocks;
      blocks.allocate();
    }
    assert.throws(() => escaped.allocate(), ClosedError);
    assert.equal(onDisk(file).inUse.size, 1);
  });
});
