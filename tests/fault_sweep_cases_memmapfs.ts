// Tables for tests/fault_sweep.test.ts, continued: every public operation of
// MemMapFS, each with the state it starts from.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type MappedFile, MemMapFS, MmapError, pageSize } from "../mod.ts";
import { ADVICE_BEST_EFFORT, type Case, type Ctx, type Kit, mappedFileKit, mappedFileUsable, own, READONLY_FALLBACK, writeFile } from "./fault_sweep_cases.ts";
import { mappingsOf, pattern } from "./helpers.ts";

const P = pageSize;
const mapped = (c: Ctx) => c.obj as MappedFile;

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

const memMapFSCases: Case[] = [
  {
    op: "open, first (maps into the cache)", setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).open(name(c))),
    absorbs: { close: CACHE_CLOSE, mmap: READONLY_FALLBACK },
  },
  {
    op: "open, cached", setup: (c) => void withFs(c).open(name(c)).close(), run: (c) => handle(c, memfs(c).open(name(c))),
  },
  {
    op: "open without cache", setup: (c) => void withFs(c, { cache: false }), run: (c) => handle(c, memfs(c).open(name(c))),
    absorbs: { mmap: READONLY_FALLBACK },
  },
  { op: "open strictReadonly (uncached)", setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).open(name(c), { strictReadonly: true })) },
  {
    op: "open readwrite (drops the cache entry)", setup: (c) => void withFs(c).open(name(c)).close(),
    run: (c) => handle(c, memfs(c).open(name(c), { mode: "readwrite" })), absorbs: { munmap: CACHE_DROP },
  },
  {
    op: "open populate (cached)", setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).open(name(c), { populate: true })),
    absorbs: { madvise: ADVICE_BEST_EFFORT, close: CACHE_CLOSE, mmap: READONLY_FALLBACK },
  },
  ...(["r", "r+", "w", "w+", "a", "a+"] as const).map((flags): Case => ({
    op: `openFile "${flags}"`, setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).openFile(name(c), flags)),
    absorbs: flags === "r" ? { close: CACHE_CLOSE, mmap: READONLY_FALLBACK } : undefined,
  })),
  { op: "openFile \"a\" of a new file", setup: (c) => void withFs(c), run: (c) => {
    c.paths.push(path.join(c.dir, "new.bin"));
    handle(c, memfs(c).openFile("new.bin", "a", 0o640));
  } },
  { op: "create, sized", setup: (c) => void withFs(c), run: (c) => handle(c, memfs(c).create(name(c), 5 * P)) },
  {
    op: "sub(): open through a confined view of the same cache", setup: (c) => void withFs(c).open(name(c)).close(),
    run: (c) => handle(c, memfs(c).sub(".").open(name(c))),
  },
  { op: "readFile, first", setup: (c) => void withFs(c), run: (c) => void memfs(c).readFile(name(c)) },
  {
    op: "readFile, second (maps it)", setup: (c) => void withFs(c).readFile(name(c)), run: (c) => void memfs(c).readFile(name(c)),
    absorbs: { close: CACHE_CLOSE, mmap: READONLY_FALLBACK },
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
    c.paths.push(path.join(c.dir, "d"), path.join(c.dir, "d/e"));
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
      c.paths.push(path.join(c.dir, "moved.bin"));
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
      c.paths.push(path.join(c.dir, "gone.bin"), path.join(c.dir, "tree"));
      memfs(c).remove("gone.bin");
      memfs(c).removeAll("tree");
    }, absorbs: { unlinkat: "EPERM is POSIX's (and Darwin's) answer to unlinking a directory: removeAll then removes it as one" },
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
    fstatat: "a confined MemMapFS checks a cached entry with fstatat beneath its directory; a failure is a cache miss, then the file is opened normally",
    close: "directory descriptors held while resolving a path, and descriptors only read (readFile, truncate's after ftruncate), lose nothing when close fails: Linux frees the descriptor even then",
    closedir: "a directory listed for readDir or removeAll was only read: Linux frees its descriptor even when closedir reports an error",
    openat2: "openat2 answers EAGAIN when a rename elsewhere raced the lookup: the kernel asks to retry, and the retry succeeds",
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

