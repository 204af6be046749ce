// BlockFile refusals: every bad argument, view misuse, and every kind of
// foreign or damaged file — each a clear error that changes nothing (no
// state, no byte on disk, no leaked descriptor or mapping).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile, BlockFileCorruptError, MmapError, OutstandingViewsError, pageSize } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { encodeHeader, encodePage } from "../src/block/block_file_format.ts";
import { inspect, readSlot } from "./block_file_inspect.ts";
import { makeDirectory, mappingsOf, openDescriptors, removeDirectory } from "./helpers.ts";

const directory = makeDirectory("memmapfs-blocks-errors-");
after(() => removeDirectory(directory));
let counter = 0;
const newPath = () => path.join(directory, `blocks-${counter++}.bf`);

describe("bad arguments", () => {
  // A file with: `a` allocated and synced, `p` synced then freed (pending),
  // `f` allocated and freed since (free), and a run `r` of 2 blocks.
  const file = newPath();
  const blocks = BlockFile.create(file);
  const a = blocks.allocate();
  const p = blocks.allocate();
  const r = blocks.allocateBlocks(2);
  blocks.sync();
  blocks.free(p);
  const f = blocks.allocate();
  blocks.free(f);
  const B = blocks.blockSize;
  const beyond = 1000 * B;
  after(() => blocks.close({ force: true }));

  const cases: [string, () => unknown, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, RegExp?][] = [
    ["allocateBlocks(0)", () => blocks.allocateBlocks(0), RangeError, /at least 1/],
    ["allocateBlocks(1.5)", () => blocks.allocateBlocks(1.5), RangeError],
    ["allocateBlocks(-1)", () => blocks.allocateBlocks(-1), RangeError],
    ["allocateBlocks(NaN)", () => blocks.allocateBlocks(NaN), RangeError],
    ["allocateBlocks(2^53)", () => blocks.allocateBlocks(2 ** 53), RangeError],
    ["allocateBlocks(2^45): too large", () => blocks.allocateBlocks(2 ** 45), RangeError, /too large/],
    ['allocateBlocks("2")', () => blocks.allocateBlocks("2" as unknown as number), TypeError],
    ["free(a + 1): not a block boundary", () => blocks.free(a + 1), RangeError, /block boundary/],
    ["free(0): the header", () => blocks.free(0), RangeError, /header/],
    ["free(beyond the file)", () => blocks.free(beyond), RangeError, /past the/],
    ["free(-B)", () => blocks.free(-B), RangeError],
    ["free(NaN)", () => blocks.free(NaN), RangeError],
    ["free(Infinity)", () => blocks.free(Infinity), RangeError],
    ['free("4096")', () => blocks.free("4096" as unknown as number), TypeError],
    ["free(null)", () => blocks.free(null as unknown as number), TypeError],
    ["free(f): double free", () => blocks.free(f), RangeError, /double free/],
    ["free(p): double free of a pending block", () => blocks.free(p), RangeError, /double free/],
    ["free(a, 0)", () => blocks.free(a, 0), RangeError],
    ["free(r, 3): past the run", () => blocks.free(r, 3), RangeError],
    ["get(a + 8)", () => blocks.get(a + 8), RangeError, /block boundary/],
    ["get(0): the header", () => blocks.get(0), RangeError, /header/],
    ["get(beyond)", () => blocks.get(beyond), RangeError],
    ["get(f): a free block", () => blocks.get(f), RangeError, /free/],
    ["get(p): a pending block", () => blocks.get(p), RangeError, /free/],
    ["get(a, 0)", () => blocks.get(a, 0), RangeError],
    ["get(a, 1.5)", () => blocks.get(a, 1.5), RangeError],
    ["get(r, 3)", () => blocks.get(r, 3), RangeError],
    ["get(a, 2): spans the free p", () => blocks.get(a, 2), RangeError, /free/],
    ["with(a, 1, not a function)", () => blocks.with(a, 1, 42 as unknown as () => void), TypeError],
    ["with(f, 1, fn)", () => blocks.with(f, 1, () => 0), RangeError],
    ["release(a foreign Uint8Array)", () => blocks.release(new Uint8Array(B)), TypeError, /not given out/],
    ["release(a number)", () => blocks.release(a as unknown as Uint8Array), TypeError],
    ["isFree(a + 1)", () => blocks.isFree(a + 1), RangeError],
    ["isFree(0)", () => blocks.isFree(0), RangeError],
    ["isFree(beyond)", () => blocks.isFree(beyond), RangeError],
    ["setControlData(too long)", () => blocks.setControlData(new Uint8Array(B / 2 - 63)), RangeError, /at most/],
    ['setControlData("text")', () => blocks.setControlData("text" as unknown as Uint8Array), TypeError],
    ['setControlData(data, { sync: "yes" })', () => blocks.setControlData(new Uint8Array(1), { sync: "yes" as unknown as boolean }), TypeError],
    ["reserve(-1)", () => blocks.reserve(-1), RangeError],
    ['reserve("1")', () => blocks.reserve("1" as unknown as number), TypeError],
    ["close({ force: 1 })", () => blocks.close({ force: 1 as unknown as boolean }), TypeError],
  ];
  for (const [what, call, kind, message] of cases) {
    it(`${what}: ${kind.name}, nothing changes`, () => {
      const stats = blocks.stats();
      const control = blocks.controlData();
      const disk = fs.readFileSync(file);
      assert.throws(call, (error: unknown) => {
        assert.ok(error instanceof kind && error.constructor === kind, `${error}`);
        if (message) assert.match((error as Error).message, message);
        // Sentence case, names what is wrong.
        assert.match((error as Error).message, /^[A-Z]/);
        return true;
      });
      assert.deepEqual(blocks.stats(), stats);
      assert.deepEqual(blocks.controlData(), control);
      assert.deepEqual(fs.readFileSync(file), disk);
      assert.equal(blocks.outstandingViews, 0);
    });
  }

  const createCases: [string, () => unknown, ErrorConstructor][] = [
    ["blockSize 0", () => BlockFile.create(newPath(), { blockSize: 0 }), RangeError],
    ["blockSize 1000", () => BlockFile.create(newPath(), { blockSize: 1000 }), RangeError],
    ["blockSize page + 1", () => BlockFile.create(newPath(), { blockSize: pageSize + 1 }), RangeError],
    ["blockSize -page", () => BlockFile.create(newPath(), { blockSize: -pageSize }), RangeError],
    ["blockSize 2 GiB", () => BlockFile.create(newPath(), { blockSize: 2 ** 31 }), RangeError],
    ["blockSize 1.5 pages", () => BlockFile.create(newPath(), { blockSize: 1.5 * pageSize }), RangeError],
    ['blockSize "4096"', () => BlockFile.create(newPath(), { blockSize: "4096" as unknown as number }), TypeError],
    ["options null", () => BlockFile.create(newPath(), null as unknown as object), TypeError],
    ["path 42", () => BlockFile.create(42 as unknown as string), TypeError],
    ['path ""', () => BlockFile.create(""), TypeError],
    ["path with NUL", () => BlockFile.create(`${directory}/a\0b`), TypeError],
    ["http URL", () => BlockFile.create(new URL("http://example.com/x")), TypeError],
    ["open(42)", () => BlockFile.open(42 as unknown as string), TypeError],
    ["anonymous blockSize 100", () => BlockFile.anonymous({ blockSize: 100 }), RangeError],
  ];
  for (const [what, call, kind] of createCases) {
    it(`${what}: ${kind.name} before any system call`, () => {
      const counting = new FaultyLibc(libc());
      const entries = fs.readdirSync(directory);
      useLibc(counting);
      try {
        assert.throws(call, kind);
      } finally {
        useLibc(null);
      }
      assert.equal(counting.calls("open") + counting.calls("mmap"), 0);
      assert.deepEqual(fs.readdirSync(directory), entries, "no file made");
    });
  }
});

describe("views held", () => {
  it("refuses to free a viewed block, grow, close or remove; state unchanged", () => {
    const file = newPath();
    const blocks = BlockFile.create(file);
    const run = blocks.allocateBlocks(3);
    const view = blocks.get(run, 3);
    const stats = blocks.stats();
    const size = blocks.size;
    for (const call of [
      () => blocks.free(run + blocks.blockSize), // inside the multi-block view
      () => blocks.allocateBlocks(1000), // would grow
      () => blocks.reserve(1000),
      () => blocks.close(),
      () => blocks.remove(),
    ]) {
      assert.throws(call, (error: unknown) =>
        error instanceof OutstandingViewsError && error.views === 1 && error.path === file &&
        /release/i.test(error.message));
    }
    assert.deepEqual(blocks.stats(), stats);
    assert.equal(blocks.size, size);
    assert.equal(view.length, 3 * blocks.blockSize, "the view is still live");
    assert.equal(fs.existsSync(file), true);
    blocks.release(view);
    assert.throws(() => blocks.release(view), TypeError, "released twice");
    blocks.free(run + blocks.blockSize);
    blocks.allocateBlocks(1000);
    blocks.remove();
    assert.equal(fs.existsSync(file), false);
  });

  it("a subarray of a held view is not the view", () => {
    using blocks = BlockFile.anonymous();
    const view = blocks.get(blocks.allocate());
    assert.throws(() => blocks.release(view.subarray(0, 10)), TypeError);
    blocks.release(view);
  });
});

describe("foreign or damaged files are refused and left untouched", () => {
  /** A closed BlockFile with data, a free list page and control data; then damaged. */
  function damaged(damage: (bytes: Uint8Array, page: number) => Uint8Array): [string, Uint8Array] {
    const file = newPath();
    {
      using blocks = BlockFile.create(file);
      const offsets = Array.from({ length: 6 }, () => blocks.allocate());
      blocks.sync();
      blocks.free(offsets[1]);
      blocks.free(offsets[2]);
      blocks.setControlData(new TextEncoder().encode("control"));
    }
    const bytes = new Uint8Array(fs.readFileSync(file));
    const [page] = inspect(bytes).pages;
    const result = damage(bytes, page);
    fs.writeFileSync(file, result);
    return [file, result];
  }
  /** Rewrites the page at `page` with valid checksum but the given content. */
  const rewritePage = (bytes: Uint8Array, page: number, entries: number[], next: number) => {
    bytes.fill(0, page, page + 4096);
    bytes.set(encodePage(entries, next), page);
    return bytes;
  };
  /** Rewrites the newest header slot with a valid checksum, changing `changes`. */
  const rewriteHeader = (bytes: Uint8Array, changes: Record<string, number>) => {
    const { slot } = inspect(bytes);
    const current = readSlot(bytes, slot * 2048, 4096) as Exclude<ReturnType<typeof readSlot>, string>;
    bytes.set(encodeHeader({ ...current, ...changes }), slot * 2048);
    return bytes;
  };
  const cases: [string, (bytes: Uint8Array, page: number) => Uint8Array, string][] = [
    ["a text file", () => new TextEncoder().encode("just text ".repeat(1000)), "ENOTBLOCKFILE"],
    ["a file of zeros", () => new Uint8Array(8192), "ENOTBLOCKFILE"],
    ["an empty file", () => new Uint8Array(0), "ETRUNCATED"],
    ["the magic alone", (bytes) => bytes.slice(0, 30), "ETRUNCATED"],
    ["a file cut inside its header block", (bytes) => bytes.slice(0, 3000), "ETRUNCATED"],
    ["a file cut before its last block", (bytes) => bytes.slice(0, 4 * 4096), "ETRUNCATED"],
    ["both header slots damaged", (bytes) => {
      bytes[30] ^= 1;
      bytes[2048 + 30] ^= 1;
      return bytes;
    }, "ECHECKSUM"],
    ["control data damaged in the newest slot, the older slot damaged too", (bytes) => {
      const { slot } = inspect(bytes);
      bytes[slot * 2048 + 64] ^= 0x40;
      bytes[(1 - slot) * 2048 + 24] ^= 0x01;
      return bytes;
    }, "ECHECKSUM"],
    ["a later format version", (bytes) => {
      bytes[8] = 2;
      bytes[2048 + 8] = 2;
      return bytes;
    }, "EVERSION"],
    ["an impossible block size", (bytes) => {
      new DataView(bytes.buffer).setUint32(16, 1000, true);
      return bytes;
    }, "EHEADER"],
    ["a checksummed header with more free blocks than blocks", (bytes) => rewriteHeader(bytes, { freeCount: 99 }), "EHEADER"],
    ["a checksummed header whose list head is 0 but counts pages", (bytes) => rewriteHeader(bytes, { freeHead: 0 }), "EHEADER"],
    ["a free-list page without its tag", (bytes, page) => {
      bytes[page] ^= 0xff;
      return bytes;
    }, "EFREELIST"],
    ["a free-list page failing its checksum", (bytes, page) => {
      bytes[page + 24] ^= 0x01;
      return bytes;
    }, "EFREELIST"],
    ["a free list listing a block outside the file", (bytes, page) => rewritePage(bytes, page, [4096, 999 * 4096], 0), "EFREELIST"],
    ["a free list listing the header", (bytes, page) => rewritePage(bytes, page, [0, 4096], 0), "EFREELIST"],
    ["a free list listing an unaligned offset", (bytes, page) => rewritePage(bytes, page, [4096, 4097], 0), "EFREELIST"],
    ["a free list listing a block twice", (bytes, page) => rewritePage(bytes, page, [4096, 4096], 0), "EFREELIST"],
    ["a free list listing its own page", (bytes, page) => rewritePage(bytes, page, [4096, page], 0), "EFREELIST"],
    ["a free list that loops", (bytes, page) => rewritePage(bytes, page, [4096, 8192], page), "EFREELIST"],
    ["a free list shorter than the header says", (bytes, page) => rewritePage(bytes, page, [4096], 0), "EFREELIST"],
  ];
  for (const [what, damage, code] of cases) {
    it(`${what}: ${code}`, () => {
      const [file, bytes] = damaged(damage);
      const descriptors = openDescriptors();
      assert.throws(() => BlockFile.open(file), (error: unknown) => {
        assert.ok(error instanceof BlockFileCorruptError, `${error}`);
        assert.equal(error.code, code, error.message);
        assert.equal(error.path, file);
        assert.ok(error.message.startsWith(file));
        return true;
      });
      assert.deepEqual(new Uint8Array(fs.readFileSync(file)), bytes, "nothing was written");
      assert.deepEqual(openDescriptors(), descriptors);
      assert.deepEqual(mappingsOf(file), []);
    });
  }

  it("a directory or a missing file: MmapError", () => {
    assert.throws(() => BlockFile.open(directory), (error: unknown) => error instanceof MmapError && error.code === "EISDIR");
    assert.throws(() => BlockFile.open(newPath()), (error: unknown) => error instanceof MmapError && error.code === "ENOENT");
  });

  it("one damaged header slot falls back to the other, the previous commit", () => {
    const [file, bytes] = damaged((bytes) => bytes);
    const { slot, sequence } = inspect(bytes);
    bytes[slot * 2048 + 40] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const fallback = inspect(bytes);
    assert.equal(fallback.sequence, sequence - 1);
    using blocks = BlockFile.open(file);
    // The previous commit: before the two frees and the control data.
    assert.equal(blocks.stats().free, 0);
    assert.equal(blocks.controlData().length, 0);
  });
});
