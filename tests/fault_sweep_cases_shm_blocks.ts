// Tables for tests/fault_sweep.test.ts, continued: every public operation of
// SharedMemory and BlockFile, each with the state it starts from.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { BlockFile, ClosedError, pageSize, SharedMemory } from "../mod.ts";
import { type Case, type Ctx, type Kit, own, writeFile } from "./fault_sweep_cases.ts";
import { mappingsOf } from "./helpers.ts";
import { mappingsOn, track, uniqueName } from "./shared_memory_helpers.ts";

const P = pageSize;

// ---------------------------------------------------------------- SharedMemory

const shm = (c: Ctx) => c.obj as SharedMemory;
function byName(c: Ctx, size = 2 * P): SharedMemory {
  c.shmName = track(uniqueName("sweep"));
  c.paths.push(c.shmName as string, `/${c.shmName}`);
  c.obj = own(c, SharedMemory.create({ name: c.shmName as string, size }));
  return shm(c);
}
function byPath(c: Ctx, size = 2 * P): SharedMemory {
  c.obj = own(c, SharedMemory.create({ path: c.path, size }));
  return shm(c);
}
const newName = (c: Ctx) => {
  c.shmName = track(uniqueName("sweep"));
  c.paths.push(c.shmName as string, `/${c.shmName}`);
};
/** A second handle on the same region, opened by the run. */
const other = (c: Ctx, made: SharedMemory) => void (c.obj = own(c, made));

const SHM_READONLY =
  "a read-only open first asks for a copy-on-write mapping and, when that is refused, falls back to a PROT_READ shared one (documented; the fallback's own failure is reported)";

const sharedMemoryCases: Case[] = [
  { op: "create by name", setup: newName, run: (c) => void byName(c) },
  { op: "create by path", run: (c) => void byPath(c) },
  { op: "create by name, not exclusive, over an existing one", setup: (c) => {
    newName(c);
    SharedMemory.create({ name: c.shmName as string, size: P }).close();
  }, run: (c) => other(c, SharedMemory.create({ name: c.shmName as string, size: 3 * P, exclusive: false })) },
  { op: "create by path, not exclusive, over an existing file", setup: (c) => writeFile(c, P), run: (c) =>
    other(c, SharedMemory.create({ path: c.path, size: 3 * P, exclusive: false })) },
  { op: "open by name", setup: (c) => {
    c.first = byName(c);
  }, run: (c) => other(c, SharedMemory.open(c.shmName as string)) },
  { op: "open by name, readonly", absorbs: { mmap: SHM_READONLY }, setup: (c) => void byName(c), run: (c) => other(c, SharedMemory.open(c.shmName as string, { readonly: true })) },
  { op: "open by path", setup: (c) => void byPath(c), run: (c) => other(c, SharedMemory.open(c.path)) },
  { op: "open by path, readonly", absorbs: { mmap: SHM_READONLY }, setup: (c) => void byPath(c), run: (c) => other(c, SharedMemory.open(c.path, { readonly: true })) },
  { op: "bytes, subarray", setup: (c) => void byName(c), run: (c) => void (shm(c).bytes, shm(c).subarray(1, P)) },
  { op: "sync by name", setup: (c) => void (byName(c).bytes[0] = 1), run: (c) => shm(c).sync() },
  { op: "sync by path, just created", setup: (c) => void (byPath(c).bytes[0] = 1), run: (c) => shm(c).sync() },
  { op: "close by name", setup: (c) => void byName(c), run: (c) => shm(c).close() },
  { op: "close by path", setup: (c) => void byPath(c), run: (c) => shm(c).close() },
  { op: "unlink by name", setup: (c) => void byName(c), run: (c) => shm(c).unlink() },
  { op: "unlink by path", setup: (c) => void byPath(c), run: (c) => shm(c).unlink() },
  { op: "Symbol.dispose", setup: (c) => void byName(c), run: (c) => shm(c)[Symbol.dispose]() },
];

export const sharedMemoryKit: Kit = {
  name: "SharedMemory",
  cases: sharedMemoryCases,
  absorbs: {},
  isClosed: (obj) => (obj as SharedMemory).closed,
  closedProbe: (obj) => assert.throws(() => (obj as SharedMemory).bytes, ClosedError),
  usable: (c) => {
    const region = shm(c);
    assert.equal(region.closed, false);
    const bytes = region.bytes;
    assert.equal(bytes.length, region.size);
    if (region.path !== null) {
      const disk = new Uint8Array(fs.readFileSync(region.path));
      assert.ok(disk.length >= region.size, "never maps past the end of the file");
      assert.deepEqual(bytes, disk.subarray(0, region.size), "reads what the file holds");
    }
    if (region.readonly) return;
    bytes[region.size - 1] = 0x5a;
    assert.equal(region.subarray(region.size - 1)[0], 0x5a, "a write reads back");
    if (region.path !== null) assert.equal(fs.readFileSync(region.path)[region.size - 1], 0x5a, "and lands in the file");
  },
  sync: (obj) => (obj as SharedMemory).readonly ? undefined : (obj as SharedMemory).sync(),
  closeReportsPoison: false,
  mappings: (c) => [...mappingsOf(c.dir), ...(c.shmName ? mappingsOn(c.shmName as string) : [])],
};

// ---------------------------------------------------------------- BlockFile

const blocks = (c: Ctx) => c.obj as BlockFile;
function makeBlocks(c: Ctx): BlockFile {
  c.obj = own(c, BlockFile.create(c.path));
  return blocks(c);
}
/** A committed file, reopened by the run. */
function committed(c: Ctx): void {
  const b = BlockFile.create(c.path);
  const at = b.allocate();
  b.with(at, 1, (view) => view.fill(3));
  b.setControlData(new Uint8Array([1, 2, 3]));
  b.close();
}
/** Allocates until the next allocation must grow the file. */
function full(b: BlockFile): void {
  while (b.stats().blocks + 2 <= b.stats().capacity) b.allocate();
}

const REMOVE_QUIET =
  "remove() discards the file: it closes without committing and unlinks, so a failed munmap (range overlaid) or close of a file being deleted loses nothing; only unlink's failure is reported";

const blockFileCases: Case[] = [
  { op: "create", run: (c) => void makeBlocks(c) },
  { op: "create, blockSize 8192", run: (c) => void (c.obj = own(c, BlockFile.create(c.path, { blockSize: 2 * P }))) },
  { op: "open", setup: committed, run: (c) => void (c.obj = own(c, BlockFile.open(c.path))) },
  { op: "anonymous", anonymous: true, run: (c) => void (c.obj = own(c, BlockFile.anonymous())) },
  { op: "allocate, free, isFree, stats", setup: (c) => void makeBlocks(c), run: (c) => {
    const b = blocks(c);
    const at = b.allocate();
    b.isFree(at);
    b.free(at);
    b.stats();
    void b.size;
  } },
  { op: "allocate that grows the file", setup: (c) => full(makeBlocks(c)), run: (c) => void blocks(c).allocate() },
  { op: "allocateBlocks that grows the file", setup: (c) => void makeBlocks(c), run: (c) => void blocks(c).allocateBlocks(40) },
  { op: "allocate that grows an anonymous file", anonymous: true, setup: (c) => {
    c.obj = own(c, BlockFile.anonymous());
    full(blocks(c));
  }, run: (c) => void blocks(c).allocate() },
  { op: "reserve", setup: (c) => void makeBlocks(c), run: (c) => blocks(c).reserve(64) },
  { op: "get, release, with", setup: (c) => void (c.at = makeBlocks(c).allocate()), run: (c) => {
    const b = blocks(c);
    b.release(b.get(c.at as number));
    b.with(c.at as number, 1, (view) => view.fill(9));
  } },
  { op: "controlData, setControlData without sync", setup: (c) => void makeBlocks(c), run: (c) => {
    blocks(c).setControlData(new Uint8Array([4, 5]), { sync: false });
    blocks(c).controlData();
  } },
  { op: "setControlData (commits)", setup: (c) => void makeBlocks(c).allocate(), run: (c) => blocks(c).setControlData(new Uint8Array([7])) },
  { op: "sync after allocations", setup: (c) => {
    const b = makeBlocks(c);
    b.with(b.allocate(), 1, (view) => view.fill(1));
  }, run: (c) => blocks(c).sync() },
  { op: "sync after frees (free-list page)", setup: (c) => {
    const b = makeBlocks(c);
    const offsets = Array.from({ length: 20 }, () => b.allocate());
    b.sync();
    for (const at of offsets.filter((_, i) => i % 2 === 0)) b.free(at);
  }, run: (c) => blocks(c).sync() },
  { op: "close dirty", setup: (c) => void makeBlocks(c).allocate(), run: (c) => blocks(c).close() },
  { op: "close clean", setup: (c) => void makeBlocks(c), run: (c) => blocks(c).close() },
  { op: "close forced with a view out", setup: (c) => {
    const b = makeBlocks(c);
    b.get(b.allocate());
  }, run: (c) => blocks(c).close({ force: true }) },
  {
    op: "remove", setup: (c) => void makeBlocks(c).allocate(), run: (c) => blocks(c).remove(),
    absorbs: { munmap: REMOVE_QUIET, close: REMOVE_QUIET },
  },
  { op: "Symbol.dispose", setup: (c) => void makeBlocks(c).allocate(), run: (c) => blocks(c)[Symbol.dispose]() },
];

export const blockFileKit: Kit = {
  name: "BlockFile",
  cases: blockFileCases,
  absorbs: {},
  isClosed: (obj) => {
    try {
      (obj as BlockFile).stats();
      return false;
    } catch (error) {
      if (error instanceof ClosedError) return true;
      throw error;
    }
  },
  closedProbe: (obj) => assert.throws(() => (obj as BlockFile).allocate(), ClosedError),
  usable: (c) => {
    const b = blocks(c);
    const before = b.stats().used;
    const at = b.allocate();
    assert.equal(b.isFree(at), false);
    b.with(at, 1, (view) => view.fill(0xa5));
    b.with(at, 1, (view) => assert.ok(view.every((byte) => byte === 0xa5), "a block reads back what was written"));
    b.free(at);
    assert.equal(b.stats().used, before, "allocate + free leaves the count of used blocks as it was");
  },
  sync: (obj) => (obj as BlockFile).sync(),
  closeReportsPoison: true,
  mappings: (c) => mappingsOf(c.dir),
};

