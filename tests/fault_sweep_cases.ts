// Tables for tests/fault_sweep.test.ts: every public operation of MappedFile,
// MemMapFS, SharedMemory and BlockFile, each with the state it starts from.
// The sweep learns which libc calls an operation makes and fails each in turn.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile, ClosedError, MappedFile, MemMapFS, MmapError, pageSize, SharedMemory } from "../mod.ts";
import type { LibcCall } from "../src/ffi/mod.ts";
import { mappingsOf, pattern } from "./helpers.ts";
import { mappingsOn, track, uniqueName } from "./shared_memory_helpers.ts";

const P = pageSize;

/**
 * The errnos each call is failed with: the members of {ENOMEM, EIO, ENOSPC,
 * EAGAIN, EPERM} that Linux documents (or a filesystem really returns) for it.
 * A Record, so a call added to LibcCall must be given its errnos here.
 */
export const ERRNOS = {
  mmap: ["ENOMEM", "EAGAIN", "EPERM"], munmap: ["ENOMEM"], mremap: ["ENOMEM", "EAGAIN"],
  mprotect: ["ENOMEM"], madvise: ["EAGAIN", "ENOMEM", "EIO", "EPERM"], msync: ["EIO", "ENOMEM", "ENOSPC"],
  mlock: ["EAGAIN", "ENOMEM", "EPERM"], munlock: ["ENOMEM", "EPERM"], mincore: ["ENOMEM", "EAGAIN"],
  open: ["ENOMEM", "ENOSPC", "EPERM"], close: ["EIO", "ENOSPC"], fstat: ["ENOMEM", "EIO"],
  stat: ["ENOMEM", "EIO"], ftruncate: ["EIO", "EPERM"], posixFallocate: ["ENOSPC", "EIO", "EPERM"],
  fsync: ["EIO", "ENOSPC"], unlink: ["EPERM", "EIO", "ENOMEM"], shmOpen: ["ENOMEM", "ENOSPC", "EPERM"],
  shmUnlink: ["EPERM"], memfdCreate: ["ENOMEM", "EPERM"],
} satisfies Record<LibcCall, string[]>;
export const CALLS = Object.keys(ERRNOS) as LibcCall[];
export const ERRNO_NUMBERS: Record<string, number> = { EPERM: 1, EIO: 5, EAGAIN: 11, ENOMEM: 12, ENOSPC: 28 };
export const SYSCALL: Partial<Record<LibcCall, string>> = {
  posixFallocate: "posix_fallocate", shmOpen: "shm_open", shmUnlink: "shm_unlink", memfdCreate: "memfd_create",
};

/** What one run of a case works on; `obj` is the object whose state is checked afterwards. */
export interface Ctx {
  dir: string;
  path: string;
  obj?: unknown;
  /** Values error.path may take (the file, its directory, the shm name). */
  paths: (string | null | undefined)[];
  /** Closes everything the run made, in order; errors are collected. */
  closers: (() => void)[];
  [key: string]: unknown;
}

export interface Case {
  op: string;
  /** Builds the state, with the counting/faulty libc already active; nothing fails here. */
  setup?(c: Ctx): void;
  /** The operation under test; sets c.obj when it makes the object. */
  run(c: Ctx): void;
  /** Calls whose failure this operation may absorb (no throw), with the reason. */
  absorbs?: Partial<Record<LibcCall, string>>;
  /** The object has no file: errors carry no path, and close() has nothing to flush. */
  anonymous?: boolean;
  /** close() does not flush (sync "never"), so it cannot report a poisoned object. */
  closeSkipsFlush?: boolean;
  /**
   * Faults left out of the committed sweep because they expose a library bug
   * (described in the value; reproduced in the report). Remove once fixed.
   */
  knownBugs?: Partial<Record<LibcCall, string>>;
}

export interface Kit {
  name: string;
  cases: Case[];
  /** Calls every operation of this class may absorb, with the reason. */
  absorbs: Partial<Record<LibcCall, string>>;
  isClosed(obj: unknown): boolean;
  /** Asserts a method of a closed object throws ClosedError. */
  closedProbe(obj: unknown): void;
  /**
   * Asserts the open object still works (reads match the file, writes land).
   * `poisoned`: a flush failed, so a write that flushes at once may report it again.
   */
  usable(c: Ctx, poisoned: string | undefined): void;
  /** A sync of the object (for the poison check), or undefined where the class has none. */
  sync?(obj: unknown): void;
  /** Whether close() reports an earlier failed sync. */
  closeReportsPoison: boolean;
  /** Lines of /proc/self/maps this run's objects could leave. */
  mappings(c: Ctx): string[];
}

const own = <T extends { close(): void }>(c: Ctx, obj: T): T => {
  c.closers.push(() => obj.close());
  return obj;
};

function writeFile(c: Ctx, size = 4 * P): void {
  fs.writeFileSync(c.path, pattern(size, 3));
}

// ---------------------------------------------------------------- MappedFile

/** Reads match the file on disk and, when writable, a write reads back (and lands in the file). */
export function mappedFileUsable(m: MappedFile, fileOffset = 0, poisoned?: string): void {
  assert.equal(m.closed, false);
  const n = Math.min(m.size, 3 * P);
  const got = new Uint8Array(n);
  assert.equal(m.readAt(got, 0), n);
  if (m.path !== null) {
    const disk = new Uint8Array(fs.readFileSync(m.path));
    assert.ok(disk.length >= fileOffset + m.size, `maps ${m.size} bytes past offset ${fileOffset} of a ${disk.length}-byte file`);
    if (m.mode !== "copyonwrite") assert.deepEqual(got, disk.subarray(fileOffset, fileOffset + n), "reads what the file holds");
  }
  if (m.mode === "readonly" || n === 0) return;
  const mark = pattern(Math.min(n, P + 17), 77);
  const at = n - mark.length;
  try {
    m.writeAt(mark, at);
  } catch (error) {
    // sync "immediate" flushes each write, and a poisoned object refuses every flush.
    if (!(poisoned && error instanceof MmapError && error.code === poisoned)) throw error;
  }
  const back = new Uint8Array(mark.length);
  m.readAt(back, at);
  assert.deepEqual(back, mark, "a write reads back");
  if (m.path !== null && m.mode === "readwrite") {
    const disk = new Uint8Array(fs.readFileSync(m.path));
    assert.deepEqual(disk.subarray(fileOffset + at, fileOffset + at + mark.length), mark, "a write lands in the file");
  }
}

const mapped = (c: Ctx) => c.obj as MappedFile;
function openMapped(c: Ctx, options: Parameters<typeof MappedFile.open>[1], size = 4 * P): MappedFile {
  writeFile(c, size);
  c.obj = own(c, MappedFile.open(c.path, options));
  return mapped(c);
}
const rw = (c: Ctx, extra: Parameters<typeof MappedFile.open>[1] = {}) => openMapped(c, { mode: "readwrite", ...extra });
const windowed = (c: Ctx, extra: Parameters<typeof MappedFile.open>[1] = {}) =>
  openMapped(c, { mode: "readwrite", window: 2 * P, ...extra }, 8 * P);
const openCase = (op: string, options: Parameters<typeof MappedFile.open>[1], size = 4 * P, absorbs?: Case["absorbs"]): Case => ({
  op, setup: (c) => writeFile(c, size), run: (c) => void (c.obj = own(c, MappedFile.open(c.path, options))), absorbs,
});
const ADVICE_BEST_EFFORT = "populate and hugePages are hints: MAP_POPULATE/MADV_WILLNEED/MADV_HUGEPAGE failures are ignored by contract";

const mappedFileCases: Case[] = [
  openCase("open readonly", {}),
  openCase("open readonly, empty file", {}, 0),
  openCase("open copyonwrite", { mode: "copyonwrite" }),
  openCase("open readwrite, offset and length", { mode: "readwrite", offset: P + 5, length: 2 * P }),
  openCase("open windowed", { mode: "readwrite", window: 2 * P }, 8 * P),
  openCase("open checked", { mode: "readwrite", checked: true }),
  openCase("open populate + hugePages", { populate: true, hugePages: true }, 4 * P, {
    madvise: ADVICE_BEST_EFFORT, mmap: "a refused MAP_HUGETLB/populate mapping falls back to a plain one",
  }),
  openCase("open append, sync immediate", { mode: "readwrite", append: true, sync: "immediate" }),
  {
    op: "open create exclusive, permissions",
    run: (c) => void (c.obj = own(c, MappedFile.open(c.path, { mode: "readwrite", create: true, exclusive: true, size: 2 * P, permissions: 0o640 }))),
  },
  { op: "anonymous private", anonymous: true, run: (c) => void (c.obj = own(c, MappedFile.anonymous(3 * P, { shared: false }))) },
  { op: "anonymous shared", anonymous: true, run: (c) => void (c.obj = own(c, MappedFile.anonymous(3 * P, { shared: true }))) },
  { op: "bytes, subarray", setup: (c) => rw(c), run: (c) => void (mapped(c).bytes, mapped(c).subarray(P, 2 * P)) },
  { op: "subarray slides a window", setup: (c) => windowed(c), run: (c) => void mapped(c).subarray(5 * P, 6 * P + 9) },
  {
    op: "subarray slides away from a dirty window", setup: (c) => void windowed(c).writeAt("dirty", 0),
    run: (c) => void mapped(c).subarray(5 * P, 6 * P),
  },
  { op: "read, seek", setup: (c) => rw(c), run: (c) => void (mapped(c).seek(9), mapped(c).read(new Uint8Array(P))) },
  { op: "readAt across windows", setup: (c) => windowed(c), run: (c) => void mapped(c).readAt(new Uint8Array(3 * P), P + 3) },
  { op: "readAt checked", setup: (c) => rw(c, { checked: true }), run: (c) => void mapped(c).readAt(new Uint8Array(9), 3 * P) },
  { op: "write in place", setup: (c) => rw(c), run: (c) => void mapped(c).write("hello") },
  { op: "write, sync immediate", setup: (c) => rw(c, { sync: "immediate" }), run: (c) => void mapped(c).write("hello") },
  { op: "writeAt grows the file", setup: (c) => rw(c), run: (c) => void mapped(c).writeAt(pattern(P, 5), 4 * P + 100) },
  { op: "writeAt grows a windowed file", setup: (c) => windowed(c), run: (c) => void mapped(c).writeAt(pattern(P, 5), 8 * P + 100) },
  { op: "writeAt across windows", setup: (c) => windowed(c), run: (c) => void mapped(c).writeAt(pattern(3 * P, 5), P + 9) },
  {
    op: "writeAt grows, sync immediate", setup: (c) => rw(c, { sync: "immediate" }),
    run: (c) => void mapped(c).writeAt("x", 6 * P),
  },
  { op: "write append", setup: (c) => rw(c, { append: true }), run: (c) => void mapped(c).write(pattern(100, 1)) },
  { op: "getUint32/setFloat64 across windows", setup: (c) => windowed(c), run: (c) => {
    const m = mapped(c);
    m.setFloat64(2 * P - 4, 1.5);
    m.getUint32(6 * P - 2);
  } },
  { op: "setBigUint64, checked", setup: (c) => rw(c, { checked: true }), run: (c) => void mapped(c).setBigUint64(8, 7n) },
  ...(["willneed", "dontneed", "random", "populate-read", "populate-write", "hugepage"] as const).map((advice): Case => ({
    op: `advise ${advice}`, setup: (c) => rw(c), run: (c) => mapped(c).advise(advice),
  })),
  { op: "advise windowed", setup: (c) => windowed(c), run: (c) => mapped(c).advise("sequential", 3 * P, 2 * P) },
  { op: "sync after a write", setup: (c) => void rw(c).writeAt("dirty", 10), run: (c) => mapped(c).sync() },
  { op: "sync async", setup: (c) => void rw(c).writeAt("dirty", 10), run: (c) => mapped(c).sync({ async: true }) },
  { op: "sync a range", setup: (c) => void rw(c).writeAt("dirty", 2 * P), run: (c) => mapped(c).sync({ offset: 2 * P, length: 10 }) },
  {
    op: "sync after create and growth", setup: (c) => {
      c.obj = own(c, MappedFile.open(c.path, { mode: "readwrite", create: true, size: P }));
      mapped(c).writeAt("grown", 3 * P);
    }, run: (c) => mapped(c).sync(),
  },
  {
    op: "sync of a windowed file after slides", closeSkipsFlush: true, setup: (c) => {
      const m = windowed(c, { sync: "never" });
      m.writeAt("a", 0);
      m.writeAt("b", 6 * P);
    }, run: (c) => mapped(c).sync(),
  },
  { op: "sync anonymous shared", anonymous: true, setup: (c) => void (c.obj = own(c, MappedFile.anonymous(P, { shared: true }))), run: (c) => {
    mapped(c).writeAt("x", 0);
    mapped(c).sync();
  } },
  { op: "lock", setup: (c) => rw(c), run: (c) => mapped(c).lock() },
  { op: "unlock", setup: (c) => rw(c, { lock: true }), run: (c) => mapped(c).unlock() },
  { op: "lock, then slide", setup: (c) => windowed(c, { lock: true }), run: (c) => void mapped(c).readAt(new Uint8Array(8), 7 * P) },
  { op: "resize grow, sync immediate", setup: (c) => rw(c, { sync: "immediate" }), run: (c) => mapped(c).resize(9 * P) },
  {
    op: "resize shrink, dirty", setup: (c) => void rw(c).writeAt("dirty", 3 * P), run: (c) => mapped(c).resize(P + 1),
    knownBugs: { munmap: "the cut-off tail is overlaid with zeros but the object keeps its old size: reads of it return zeros, writes to it are lost" },
  },
  { op: "resize windowed grow", setup: (c) => windowed(c), run: (c) => mapped(c).resize(12 * P) },
  { op: "resize windowed shrink", setup: (c) => void windowed(c).subarray(6 * P, 7 * P), run: (c) => mapped(c).resize(3 * P) },
  { op: "resize locked", setup: (c) => rw(c, { lock: true }), run: (c) => mapped(c).resize(6 * P) },
  { op: "resize anonymous", anonymous: true, setup: (c) => void (c.obj = own(c, MappedFile.anonymous(2 * P))), run: (c) => mapped(c).resize(5 * P) },
  {
    op: "remap after the file grew", setup: (c) => {
      rw(c);
      fs.appendFileSync(c.path, pattern(2 * P, 9));
    }, run: (c) => mapped(c).remap(),
    knownBugs: { munmap: "remap() ignores the error release() returns: a failed munmap of the old mapping is never reported" },
  },
  {
    op: "remap windowed", setup: (c) => void windowed(c).subarray(6 * P, 7 * P), run: (c) => mapped(c).remap(),
    knownBugs: { munmap: "remap() ignores the error release() returns: a failed munmap of the old mapping is never reported" },
  },
  { op: "resident", setup: (c) => rw(c), run: (c) => void mapped(c).resident() },
  { op: "resident windowed", setup: (c) => windowed(c), run: (c) => void mapped(c).resident() },
  { op: "close clean", setup: (c) => rw(c), run: (c) => mapped(c).close() },
  { op: "close dirty, created", setup: (c) => {
    c.obj = own(c, MappedFile.open(c.path, { mode: "readwrite", create: true, size: 2 * P }));
    mapped(c).writeAt("dirty", 0);
  }, run: (c) => mapped(c).close() },
  { op: "close windowed, locked, dirty", setup: (c) => void windowed(c, { lock: true }).writeAt("d", 7 * P), run: (c) => mapped(c).close() },
  { op: "close readonly", setup: (c) => void openMapped(c, {}), run: (c) => mapped(c).close() },
  { op: "close anonymous", anonymous: true, setup: (c) => void (c.obj = own(c, MappedFile.anonymous(P))), run: (c) => mapped(c).close() },
  { op: "Symbol.dispose", setup: (c) => void rw(c).writeAt("d", 0), run: (c) => mapped(c)[Symbol.dispose]() },
];

export const mappedFileKit: Kit = {
  name: "MappedFile",
  cases: mappedFileCases,
  absorbs: {},
  isClosed: (obj) => (obj as MappedFile).closed,
  closedProbe: (obj) => assert.throws(() => (obj as MappedFile).readAt(new Uint8Array(1), 0), ClosedError),
  usable: (c, poisoned) => mappedFileUsable(mapped(c), (c.offset as number | undefined) ?? 0, poisoned),
  sync: (obj) => (obj as MappedFile).sync(),
  closeReportsPoison: true,
  mappings: (c) => mappingsOf(c.dir),
};

// ---------------------------------------------------------------- MemMapFS

const memfs = (c: Ctx) => c.fs as MemMapFS;
function withFs(c: Ctx, options: ConstructorParameters<typeof MemMapFS>[0] = {}): MemMapFS {
  c.fs = new MemMapFS({ root: c.dir, ...options });
  c.closers.push(() => memfs(c).close());
  writeFile(c, 3 * P);
  return memfs(c);
}
const name = (c: Ctx) => path.basename(c.path);
const handle = (c: Ctx, file: MappedFile) => void (c.obj = own(c, file));

const CACHE_CLOSE =
  "the cache closes its read-only descriptor right after mapping: Linux frees the descriptor even when close reports an error, and nothing written can be lost through it";
const CACHE_DROP =
  "dropping a cache entry lets go of the cache's own claim on a mapping no handle uses; a failed munmap overlays the range (no file reference is left) and the operation the user asked for has succeeded";

const UNGUARDED = {
  stat: "a failed stat() after opening skips registering the handle, so truncate() and openFile(\"w\") no longer refuse (EBUSY) to cut the file under it: SIGBUS on the next access",
};

const memMapFSCases: Case[] = [
  {
    op: "open, first (maps into the cache)", setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).open(name(c))),
    absorbs: { close: CACHE_CLOSE },
  },
  {
    op: "open, cached", setup: (c) => void withFs(c).open(name(c)).close(), run: (c) => handle(c, memfs(c).open(name(c))),
  },
  { op: "open without cache", knownBugs: UNGUARDED, setup: (c) => void withFs(c, { cache: false }), run: (c) => handle(c, memfs(c).open(name(c))) },
  {
    op: "open readwrite (drops the cache entry)", knownBugs: UNGUARDED, setup: (c) => void withFs(c).open(name(c)).close(),
    run: (c) => handle(c, memfs(c).open(name(c), { mode: "readwrite" })), absorbs: { munmap: CACHE_DROP },
  },
  {
    op: "open populate (cached)", setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).open(name(c), { populate: true })),
    absorbs: { madvise: ADVICE_BEST_EFFORT, close: CACHE_CLOSE },
  },
  ...(["r", "r+", "w", "w+", "a", "a+"] as const).map((flags): Case => ({
    op: `openFile "${flags}"`, knownBugs: flags === "r" ? undefined : UNGUARDED, setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).openFile(name(c), flags)),
    absorbs: flags === "r" ? { close: CACHE_CLOSE } : undefined,
  })),
  { op: "openFile \"a\" of a new file", knownBugs: UNGUARDED, setup: (c) => void withFs(c), run: (c) => {
    c.paths.push(path.join(c.dir, "new.bin"));
    handle(c, memfs(c).openFile("new.bin", "a", 0o640));
  } },
  { op: "create, sized", knownBugs: UNGUARDED, setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).create(name(c), 5 * P)) },
  { op: "readFile, first", setup: (c) => void withFs(c), run: (c) => void memfs(c).readFile(name(c)) },
  {
    op: "readFile, second (maps it)", setup: (c) => void withFs(c).readFile(name(c)), run: (c) => void memfs(c).readFile(name(c)),
    absorbs: { close: CACHE_CLOSE },
  },
  {
    op: "readFile, cached", setup: (c) => void withFs(c).open(name(c)).close(), run: (c) => void memfs(c).readFile(name(c)),
  },
  {
    op: "writeFile over a cached file", setup: (c) => void withFs(c).open(name(c)).close(),
    run: (c) => memfs(c).writeFile(name(c), pattern(2 * P, 4)), absorbs: { munmap: CACHE_DROP },
  },
  { op: "stat, lstat, exists, readDir", setup: (c) => void withFs(c), run: (c) => {
    const f = memfs(c);
    f.stat(name(c));
    f.lstat(name(c));
    f.exists(name(c));
    f.readDir(".");
  } },
  { op: "mkdir, chdir, cwd, sub, tempDir", setup: (c) => void withFs(c), run: (c) => {
    const f = memfs(c);
    f.mkdir("d/e", { recursive: true });
    f.chdir("d");
    f.cwd();
    f.sub("e");
    f.chdir("..");
    f.tempDir();
  } },
  { op: "chmod, chown, utimes", setup: (c) => void withFs(c), run: (c) => {
    const f = memfs(c);
    f.chmod(name(c), 0o600);
    const st = fs.statSync(c.path);
    f.chown(name(c), st.uid, st.gid);
    f.utimes(name(c), 1, 2);
  } },
  {
    op: "rename a cached file", setup: (c) => void withFs(c).open(name(c)).close(),
    run: (c) => {
      memfs(c).rename(name(c), "moved.bin");
      memfs(c).rename("moved.bin", name(c));
    }, absorbs: { munmap: CACHE_DROP },
  },
  { op: "truncate with a handle open", setup: (c) => handle(c, withFs(c).open(name(c), { mode: "readwrite", length: P })), run: (c) => memfs(c).truncate(name(c), 2 * P) },
  {
    op: "remove, removeAll", setup: (c) => {
      withFs(c).open(name(c)).close();
      fs.writeFileSync(path.join(c.dir, "gone.bin"), "x");
      fs.mkdirSync(path.join(c.dir, "tree"));
    }, run: (c) => {
      memfs(c).remove("gone.bin");
      memfs(c).removeAll("tree");
    },
  },
  { op: "cacheStats, close", setup: (c) => void withFs(c).open(name(c)).close(), run: (c) => {
    memfs(c).cacheStats();
    memfs(c).close();
  }, absorbs: { munmap: CACHE_DROP } },
  {
    op: "close of a handle sharing a cached mapping", setup: (c) => handle(c, withFs(c).open(name(c))),
    run: (c) => mapped(c).close(),
  },
];

export const memMapFSKit: Kit = {
  name: "MemMapFS",
  cases: memMapFSCases,
  absorbs: {
    stat: "MemMapFS stats through libc only to recognise an unchanged cached file or register a handle for the EBUSY guard; a failed stat means a cache miss (or no guard), then the file is opened normally",
  },
  isClosed: (obj) => (obj as MappedFile).closed,
  closedProbe: mappedFileKit.closedProbe,
  usable: (c, poisoned) => {
    if (c.obj && !(c.obj as MappedFile).closed) mappedFileUsable(c.obj as MappedFile, 0, poisoned);
    // The file system itself still works: a fresh open and readFile see the file as it is.
    const f = memfs(c);
    const disk = new Uint8Array(fs.readFileSync(c.path));
    assert.deepEqual(f.readFile(name(c)), disk, "readFile reads the file as it is");
    const again = f.open(name(c));
    try {
      assert.deepEqual(again.subarray(0), disk, "a fresh open maps the file as it is");
    } finally {
      again.close();
    }
    // The handle is known to the file system: cutting the file under it is refused (EBUSY), not a SIGBUS later.
    const open = c.obj as MappedFile | undefined;
    if (open && !open.closed && open.size > 0) {
      const size = fs.statSync(open.path!).size;
      try {
        f.truncate(open.path!, 0);
      } catch (error) {
        if (error instanceof MmapError && error.code === "EBUSY") return;
        throw error;
      }
      fs.truncateSync(open.path!, size); // put the pages back before anything touches them
      assert.fail("truncate() cut a file a handle still maps: the EBUSY guard does not know the handle");
    }
  },
  sync: (obj) => (obj as MappedFile).sync(),
  closeReportsPoison: true,
  mappings: (c) => mappingsOf(c.dir),
};

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
  { op: "create by name", setup: newName, run: (c) => byName(c) },
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

export const KITS: Kit[] = [mappedFileKit, memMapFSKit, sharedMemoryKit, blockFileKit];
