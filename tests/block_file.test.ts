// BlockFile: allocation, the free list on disk, views, control data and every
// kind of bad input and damaged file.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile, BlockFileCorruptError, ClosedError, MmapError, OutstandingViewsError, pageSize } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, openDescriptors, removeDirectory } from "./helpers.ts";

const directory = makeDirectory("memmapfs-blocks-");
after(() => removeDirectory(directory));
let counter = 0;
const newPath = () => path.join(directory, `blocks-${counter++}.bf`);

describe("allocation", () => {
  it("hands out zeroed, distinct, block-aligned offsets and reuses freed ones", () => {
    using blocks = BlockFile.create(newPath());
    assert.equal(blocks.blockSize, 4096);
    const offsets = Array.from({ length: 50 }, () => blocks.allocate());
    assert.equal(new Set(offsets).size, 50);
    for (const offset of offsets) {
      assert.equal(offset % 4096, 0);
      assert.ok(offset >= 4096, "block 0 is the header");
      blocks.with(offset, 1, (view) => {
        assert.ok(view.every((byte) => byte === 0));
        view.fill(0xee);
      });
    }
    blocks.free(offsets[10]);
    blocks.free(offsets[20]);
    assert.equal(blocks.allocate(), offsets[20], "last freed, first reused");
    const reused = blocks.allocate();
    assert.equal(reused, offsets[10]);
    blocks.with(reused, 1, (view) => assert.ok(view.every((byte) => byte === 0), "freed blocks come back zeroed"));
  });

  it("allocates contiguous runs", () => {
    using blocks = BlockFile.create(newPath(), { blockSize: 2 * pageSize });
    blocks.allocate();
    const run = blocks.allocateBlocks(5);
    const view = blocks.get(run, 5);
    assert.equal(view.length, 10 * pageSize);
    view.fill(1);
    blocks.release(view);
    assert.equal(blocks.allocate(), run + 5 * 2 * pageSize);
  });

  it("grows amortised, not once per block", () => {
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    try {
      using blocks = BlockFile.create(newPath());
      for (let i = 0; i < 1000; i++) blocks.allocate();
      assert.ok(blocks.stats().capacity >= 1001);
      assert.ok(faulty.calls("mremap") <= 10, `${faulty.calls("mremap")} resizes for 1000 blocks`);
    } finally {
      useLibc(null);
    }
  });

  it("works in anonymous memory", () => {
    using blocks = BlockFile.anonymous({ blockSize: 8192 });
    assert.equal(blocks.path, null);
    const offset = blocks.allocate();
    blocks.with(offset, 1, (view) => view.fill(5));
    blocks.sync();
    blocks.free(offset);
    assert.equal(blocks.isFree(offset), true);
  });
});

describe("on disk", () => {
  it("keeps blocks, free list and control data across close and open", () => {
    const file = newPath();
    const offsets: number[] = [];
    {
      using blocks = BlockFile.create(file);
      for (let i = 0; i < 10; i++) offsets.push(blocks.allocate());
      for (const offset of offsets) blocks.with(offset, 1, (view) => view.fill(offset / 4096));
      blocks.free(offsets[3]);
      blocks.free(offsets[7]);
      blocks.setControlData(new TextEncoder().encode('{"root":4096}'));
    }
    using reopened = BlockFile.open(file);
    assert.deepEqual(reopened.stats(), { blocks: 11, free: 2, capacity: reopened.size / 4096 });
    assert.equal(new TextDecoder().decode(reopened.controlData()), '{"root":4096}');
    assert.equal(reopened.isFree(offsets[3]), true);
    assert.equal(reopened.isFree(offsets[7]), true);
    reopened.with(offsets[5], 1, (view) => assert.ok(view.every((byte) => byte === offsets[5] / 4096)));
    assert.equal(reopened.allocate(), offsets[7]);
    assert.equal(reopened.allocate(), offsets[3]);
  });

  it("creates exclusively and never overwrites a file", () => {
    const file = newPath();
    fs.writeFileSync(file, "precious");
    assert.throws(() => BlockFile.create(file), (error: unknown) =>
      error instanceof MmapError && error.code === "EEXIST");
    assert.equal(fs.readFileSync(file, "utf8"), "precious");
  });

  it("remove() closes and deletes the file", () => {
    const file = newPath();
    const blocks = BlockFile.create(file);
    blocks.remove();
    assert.equal(fs.existsSync(file), false);
    assert.throws(() => blocks.allocate(), ClosedError);
  });
});

describe("damaged or foreign files are refused and left untouched", () => {
  function damaged(damage: (bytes: Uint8Array) => Uint8Array): [string, Uint8Array] {
    const file = newPath();
    {
      using blocks = BlockFile.create(file);
      for (let i = 0; i < 4; i++) blocks.allocate();
      blocks.free(2 * 4096);
    }
    const bytes = damage(new Uint8Array(fs.readFileSync(file)));
    fs.writeFileSync(file, bytes);
    return [file, bytes];
  }
  const cases: [string, (bytes: Uint8Array) => Uint8Array, string][] = [
    ["a file that is not a BlockFile", () => new TextEncoder().encode("just text ".repeat(1000)), "ENOTBLOCKFILE"],
    ["an empty file", () => new Uint8Array(0), "ETRUNCATED"],
    ["a file cut inside its header", (bytes) => bytes.slice(0, 1000), "ETRUNCATED"],
    ["a file cut before its last block", (bytes) => bytes.slice(0, 3 * 4096), "ETRUNCATED"],
    ["both header slots damaged", (bytes) => {
      bytes[30] ^= 1;
      bytes[2048 + 30] ^= 1;
      return bytes;
    }, "ECHECKSUM"],
    ["a free list pointing outside the file", (bytes) => {
      new DataView(bytes.buffer).setBigUint64(2 * 4096, 999_999n * 4096n, true);
      return bytes;
    }, "EFREELIST"],
    ["a free list that loops", (bytes) => {
      new DataView(bytes.buffer).setBigUint64(2 * 4096, 2n * 4096n, true);
      return bytes;
    }, "EFREELIST"],
  ];
  for (const [what, damage, code] of cases) {
    it(`${what}: ${code}`, () => {
      const [file, bytes] = damaged(damage);
      const descriptors = openDescriptors();
      assert.throws(() => BlockFile.open(file), (error: unknown) =>
        error instanceof BlockFileCorruptError && error.code === code && error.path === file);
      assert.deepEqual(new Uint8Array(fs.readFileSync(file)), bytes, "nothing was written");
      assert.deepEqual(openDescriptors(), descriptors);
    });
  }

  it("one damaged header slot falls back to the other", () => {
    const [file] = damaged((bytes) => {
      // The newest header is in one slot; damage whichever that is, keep the other.
      const view = new DataView(bytes.buffer);
      const newest = view.getBigUint64(16, true) > view.getBigUint64(2048 + 16, true) ? 0 : 2048;
      bytes[newest + 40] ^= 0xff;
      return bytes;
    });
    using blocks = BlockFile.open(file);
    assert.ok(blocks.stats().blocks >= 1);
  });
});

describe("bad input", () => {
  it("refuses offsets that are not allocated blocks", () => {
    using blocks = BlockFile.create(newPath());
    const offset = blocks.allocate();
    assert.throws(() => blocks.free(offset + 1), RangeError, "not a block boundary");
    assert.throws(() => blocks.free(0), RangeError, "the header");
    assert.throws(() => blocks.free(offset + 4096 * 100), RangeError, "beyond the file");
    assert.throws(() => blocks.free(-4096), RangeError);
    assert.throws(() => blocks.free(NaN), RangeError);
    assert.throws(() => blocks.get(offset, 0), RangeError);
    assert.throws(() => blocks.get(offset, 2), RangeError, "the second block was never allocated");
    blocks.free(offset);
    assert.throws(() => blocks.free(offset), /double free/);
    assert.throws(() => blocks.get(offset), RangeError, "a free block cannot be viewed");
    assert.throws(() => blocks.allocateBlocks(0), RangeError);
    assert.throws(() => blocks.allocateBlocks(1.5), RangeError);
    assert.throws(() => blocks.setControlData(new Uint8Array(4096)), RangeError);
    assert.throws(() => blocks.setControlData("text" as unknown as Uint8Array), TypeError);
  });

  it("refuses block sizes that are not page multiples", () => {
    for (const blockSize of [0, 1000, pageSize + 1, -pageSize]) {
      assert.throws(() => BlockFile.anonymous({ blockSize }), RangeError);
    }
  });

  it("tracks views: foreign or double release, free, grow and close while held", () => {
    using blocks = BlockFile.create(newPath());
    const offset = blocks.allocate();
    const view = blocks.get(offset);
    assert.throws(() => blocks.release(new Uint8Array(4096)), TypeError);
    assert.throws(() => blocks.free(offset), OutstandingViewsError);
    assert.throws(() => blocks.allocateBlocks(100), OutstandingViewsError, "growth would move the view");
    assert.throws(() => blocks.close(), OutstandingViewsError);
    blocks.release(view);
    assert.throws(() => blocks.release(view), TypeError, "released twice");
    blocks.allocateBlocks(100);
    const held = blocks.get(offset);
    blocks.close({ force: true });
    assert.equal(held.byteLength, 0, "force-closing detaches held views");
  });

  it("with() releases after an exception and after a promise settles", async () => {
    using blocks = BlockFile.create(newPath());
    const offset = blocks.allocate();
    assert.throws(() => blocks.with(offset, 1, () => {
      throw new Error("boom");
    }), /boom/);
    await blocks.with(offset, 1, async (view) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      view[0] = 1;
    });
    blocks.free(offset);
  });
});

describe("growth failures", () => {
  for (const [call, errno] of [["posixFallocate", 28], ["mremap", 12]] as const) {
    it(`${call} failing while growing leaves the file usable and unchanged`, () => {
      const file = newPath();
      const faulty = new FaultyLibc(libc());
      useLibc(faulty);
      try {
        using blocks = BlockFile.create(file);
        const offsets = Array.from({ length: 8 }, () => blocks.allocate());
        blocks.sync();
        const before = new Uint8Array(fs.readFileSync(file));
        faulty.fail(call, { errno });
        assert.throws(() => blocks.allocate(), MmapError);
        assert.deepEqual(new Uint8Array(fs.readFileSync(file)), before);
        assert.equal(blocks.stats().blocks, 9);
        const next = blocks.allocate();
        assert.ok(!offsets.includes(next));
      } finally {
        useLibc(null);
      }
    });
  }
});
