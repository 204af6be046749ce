// Tables for tests/fault_sweep.test.ts: what a case and a class's checks are,
// the errnos each call is failed with, and every public operation of
// MappedFile, each with the state it starts from (MemMapFS:
// fault_sweep_cases_memmapfs.ts; SharedMemory and BlockFile:
// fault_sweep_cases_shm_blocks.ts). The sweep learns which libc calls an
// operation makes and fails each in turn.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { ClosedError, MappedFile, MmapError, pageSize } from "../mod.ts";
import type { FaultyLibc, LibcCall } from "../src/ffi/mod.ts";
import { mappingsOf, pattern } from "./helpers.ts";

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
  stat: ["ENOMEM", "EIO"], ftruncate: ["EIO", "EPERM"], posixFallocate: ["ENOSPC", "EIO", "EPERM"], posixFadvise: ["EIO"],
  fsync: ["EIO", "ENOSPC"], unlink: ["EPERM", "EIO", "ENOMEM"], shmOpen: ["ENOMEM", "ENOSPC", "EPERM"],
  shmUnlink: ["EPERM"], memfdCreate: ["ENOMEM", "EPERM"],
  // EWOULDBLOCK is no failure of flock but another opener: block_file_lock.test.ts covers it.
  flock: ["ENOLCK"],
  openat: ["ENOMEM", "ENOSPC", "EPERM"], openat2: ["ENOMEM", "EAGAIN", "EPERM"], fstatat: ["ENOMEM", "EIO"],
  mkdirat: ["ENOSPC", "EIO", "EPERM"], unlinkat: ["EPERM", "EIO", "ENOMEM"], renameat: ["ENOSPC", "EIO", "EPERM"],
  fchmod: ["EPERM", "EIO"], fchmodat: ["EPERM", "EIO"], fchownat: ["EPERM", "EIO"], utimensat: ["EPERM", "EIO"],
  readlinkat: ["ENOMEM", "EIO"], fdopendir: ["ENOMEM"], readdir: ["EIO"], closedir: ["EIO"],
  pread: ["EIO", "ENOMEM"], pwrite: ["EIO", "ENOSPC"], write: ["EIO", "ENOSPC"],
} satisfies Record<LibcCall, string[]>;
export const CALLS = Object.keys(ERRNOS) as LibcCall[];
export const ERRNO_NUMBERS: Record<string, number> = { EPERM: 1, EIO: 5, EAGAIN: 11, ENOMEM: 12, ENOSPC: 28, ENOLCK: 37 };
export const SYSCALL: Partial<Record<LibcCall, string>> = {
  posixFallocate: "posix_fallocate", posixFadvise: "posix_fadvise", shmOpen: "shm_open", shmUnlink: "shm_unlink", memfdCreate: "memfd_create",
};

/** What one run of a case works on; `obj` is the object whose state is checked afterwards. */
export interface Ctx {
  dir: string;
  path: string;
  obj?: unknown;
  /** Values error.path may take (the file, its directory, the shm name). */
  paths: (string | null | undefined)[];
  /** The libc active for this run (counting, or failing one call). */
  libc?: FaultyLibc;
  /** Closes everything the run made, in order; errors are collected. */
  closers: (() => void)[];
  [key: string]: unknown;
}

export interface Case {
  op: string;
  /** Builds the state, with the counting/faulty libc already active; nothing fails here. */
  setup?(c: Ctx): void;
  /** The operation under test; sets c.obj when it makes the object. */
  run(c: Ctx): void | Promise<void>;
  /** Calls whose failure this operation may absorb (no throw), with the reason. */
  absorbs?: Partial<Record<LibcCall, string>>;
  /** The object has no file: errors carry no path, and close() has nothing to flush. */
  anonymous?: boolean;
  /** close() does not flush (sync "never"), so it cannot report a poisoned object. */
  closeSkipsFlush?: boolean;
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

export const own = <T extends { close(): void }>(c: Ctx, obj: T): T => {
  c.closers.push(() => obj.close());
  return obj;
};

export function writeFile(c: Ctx, size = 4 * P): void {
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
export const READONLY_FALLBACK =
  "a read-only mapping is first asked for private and writable (stray writes stay in the process) and, when that is refused, made PROT_READ shared (documented; the fallback's own failure is reported)";
const MEMFD_REFUSED =
  "shared anonymous memory is a memfd where the kernel allows one; refused by policy (EPERM, ENOSYS) it is fixed-size MAP_SHARED | MAP_ANONYMOUS memory whose growth is ENOTSUP (documented)";
export const ADVICE_BEST_EFFORT = "populate and hugePages are hints: MAP_POPULATE/MADV_WILLNEED/MADV_HUGEPAGE failures are ignored by contract";

const mappedFileCases: Case[] = [
  openCase("open readonly", {}, 4 * P, { mmap: READONLY_FALLBACK }),
  openCase("open readonly, strict", { strictReadonly: true }),
  openCase("open readonly, empty file", {}, 0),
  openCase("open copyonwrite", { mode: "copyonwrite" }),
  openCase("open readwrite, offset and length", { mode: "readwrite", offset: P + 5, length: 2 * P }),
  openCase("open windowed", { mode: "readwrite", window: 2 * P }, 8 * P),
  openCase("open checked", { mode: "readwrite", checked: true }),
  openCase("open populate + hugePages", { populate: true, hugePages: true }, 4 * P, {
    madvise: ADVICE_BEST_EFFORT, mmap: READONLY_FALLBACK,
  }),
  openCase("open populate, strict", { populate: true, strictReadonly: true }, 4 * P, { madvise: ADVICE_BEST_EFFORT }),
  openCase("open append, sync immediate", { mode: "readwrite", append: true, sync: "immediate" }),
  openCase("open windowed, locked, populated, at an offset", { mode: "readwrite", window: 2 * P, lock: true, populate: true, offset: P }, 8 * P),
  openCase("open readonly, checked, locked", { checked: true, lock: true }, 4 * P, { mmap: READONLY_FALLBACK }),
  {
    op: "open create exclusive, permissions",
    run: (c) => void (c.obj = own(c, MappedFile.open(c.path, { mode: "readwrite", create: true, exclusive: true, size: 2 * P, permissions: 0o640 }))),
  },
  { op: "anonymous private", anonymous: true, run: (c) => void (c.obj = own(c, MappedFile.anonymous(3 * P, { shared: false }))) },
  {
    op: "anonymous shared", anonymous: true, run: (c) => void (c.obj = own(c, MappedFile.anonymous(3 * P, { shared: true }))),
    absorbs: { memfdCreate: MEMFD_REFUSED },
  },
  { op: "bytes, subarray", setup: (c) => rw(c), run: (c) => void (mapped(c).bytes, mapped(c).subarray(P, 2 * P)) },
  { op: "subarray slides a window", setup: (c) => windowed(c), run: (c) => void mapped(c).subarray(5 * P, 6 * P + 9) },
  {
    op: "subarray slides away from a dirty window", setup: (c) => void windowed(c).writeAt("dirty", 0),
    run: (c) => void mapped(c).subarray(5 * P, 6 * P),
  },
  { op: "read, seek", setup: (c) => rw(c), run: (c) => void (mapped(c).seek(9), mapped(c).read(new Uint8Array(P))) },
  { op: "readAt across windows", setup: (c) => windowed(c), run: (c) => void mapped(c).readAt(new Uint8Array(3 * P), P + 3) },
  { op: "readAt checked", setup: (c) => rw(c, { checked: true }), run: (c) => void mapped(c).readAt(new Uint8Array(9), 3 * P) },
  {
    op: "write across windows, sync immediate", setup: (c) => windowed(c, { sync: "immediate" }),
    run: (c) => void mapped(c).writeAt(pattern(3 * P, 2), P + 1),
  },
  { op: "write in place", setup: (c) => rw(c), run: (c) => void mapped(c).write("hello") },
  { op: "write, sync immediate", setup: (c) => rw(c, { sync: "immediate" }), run: (c) => void mapped(c).write("hello") },
  { op: "writeAt grows the file", setup: (c) => rw(c), run: (c) => void mapped(c).writeAt(pattern(P, 5), 4 * P + 100) },
  {
    op: "writeAt grows from a view of the same mapping", setup: (c) => rw(c),
    run: (c) => void mapped(c).writeAt(mapped(c).subarray(0, P + 3), 4 * P + 100),
  },
  { op: "writeAt grows a windowed file", setup: (c) => windowed(c), run: (c) => void mapped(c).writeAt(pattern(P, 5), 8 * P + 100) },
  { op: "writeAt across windows", setup: (c) => windowed(c), run: (c) => void mapped(c).writeAt(pattern(3 * P, 5), P + 9) },
  {
    op: "writeAt grows, sync immediate", setup: (c) => rw(c, { sync: "immediate" }),
    run: (c) => void mapped(c).writeAt("x", 6 * P),
  },
  // 64 KiB and more past what was written goes to the file with pwrite.
  {
    op: "writeAt 64 KiB in place (pwrite)", setup: (c) => void openMapped(c, { mode: "readwrite" }, 20 * P),
    run: (c) => void mapped(c).writeAt(pattern(16 * P, 5), P + 9),
  },
  { op: "writeAt 64 KiB grows the file (pwrite)", setup: (c) => rw(c), run: (c) => void mapped(c).writeAt(pattern(16 * P, 5), 2 * P + 9) },
  {
    op: "sync after a pwrite", setup: (c) => void openMapped(c, { mode: "readwrite" }, 20 * P).writeAt(pattern(16 * P, 6), 9),
    run: (c) => mapped(c).sync(),
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
  { op: "lock readonly (made PROT_READ while locked)", setup: (c) => void openMapped(c, {}), run: (c) => mapped(c).lock() },
  { op: "unlock readonly", setup: (c) => void openMapped(c, { lock: true }), run: (c) => mapped(c).unlock() },
  { op: "unlock", setup: (c) => rw(c, { lock: true }), run: (c) => mapped(c).unlock() },
  { op: "lock, then slide", setup: (c) => windowed(c, { lock: true }), run: (c) => void mapped(c).readAt(new Uint8Array(8), 7 * P) },
  { op: "resize grow, sync immediate", setup: (c) => rw(c, { sync: "immediate" }), run: (c) => mapped(c).resize(9 * P) },
  {
    op: "resize shrink, dirty", setup: (c) => void rw(c).writeAt("dirty", 3 * P), run: (c) => mapped(c).resize(P + 1),
  },
  { op: "resize windowed grow", setup: (c) => windowed(c), run: (c) => mapped(c).resize(12 * P) },
  { op: "resize windowed shrink", setup: (c) => void windowed(c).subarray(6 * P, 7 * P), run: (c) => mapped(c).resize(3 * P) },
  { op: "resize locked", setup: (c) => rw(c, { lock: true }), run: (c) => mapped(c).resize(6 * P) },
  {
    op: "resize anonymous shared, grow (memfd)", anonymous: true,
    setup: (c) => void (c.obj = own(c, MappedFile.anonymous(2 * P, { shared: true }))), run: (c) => mapped(c).resize(5 * P),
  },
  {
    op: "resize anonymous shared, shrink (memfd)", anonymous: true,
    setup: (c) => void (c.obj = own(c, MappedFile.anonymous(5 * P, { shared: true }))), run: (c) => mapped(c).resize(P + 1),
  },
  { op: "resize anonymous", anonymous: true, setup: (c) => void (c.obj = own(c, MappedFile.anonymous(2 * P))), run: (c) => mapped(c).resize(5 * P) },
  {
    op: "remap after the file grew", setup: (c) => {
      rw(c);
      fs.appendFileSync(c.path, pattern(2 * P, 9));
    }, run: (c) => mapped(c).remap(),
  },
  {
    op: "remap windowed", setup: (c) => void windowed(c).subarray(6 * P, 7 * P), run: (c) => mapped(c).remap(),
  },
  { op: "readable stream", setup: (c) => void windowed(c).seek(P + 1), run: async (c) => {
    for await (const _ of mapped(c).readable({ chunkSize: 3 * P })) { /* drain */ }
  } },
  { op: "writable stream", setup: (c) => void windowed(c).seek(7 * P), run: async (c) => {
    const writer = mapped(c).writable().getWriter();
    await writer.write(pattern(2 * P, 6));
    await writer.close();
  } },
  {
    op: "periodic flush (timer)", setup: (c) => void rw(c, { sync: "periodic", syncInterval: 2 }).writeAt("dirty", 9),
    run: async (c) => {
      const before = c.libc!.calls("msync");
      for (let waited = 0; c.libc!.calls("msync") === before && waited < 2000; waited += 2) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    absorbs: { msync: "a periodic flush runs in a timer and cannot throw: it poisons the object, and the next sync() or close() reports" },
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
