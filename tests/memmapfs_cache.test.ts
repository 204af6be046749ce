// The mapping cache behind MemMapFS: hits cost no open and no mmap (counted
// through FaultyLibc), LRU eviction by count and bytes, invalidation by an
// outside writer and by MemMapFS itself, and handles that stay valid whatever
// the cache does.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MemMapFS } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, mappingsOf, pattern, freshMemMapFS, removeDirectory } from "./helpers.ts";

const top = makeDirectory("memmapfs-cache-");
after(() => removeDirectory(top));
const fresh = (options: ConstructorParameters<typeof MemMapFS>[0] = {}) => freshMemMapFS(top, options);

/** Runs `work` counting libc calls. */
function counting<T>(work: (faulty: FaultyLibc) => T): T {
  const faulty = new FaultyLibc(libc());
  useLibc(faulty);
  try {
    return work(faulty);
  } finally {
    useLibc(null);
  }
}

/** Opens (by path, beneath a directory descriptor, or with openat2), mmaps, munmaps and closes. */
const calls = (faulty: FaultyLibc) => [
  faulty.calls("open") + faulty.calls("openat") + faulty.calls("openat2"), faulty.calls("mmap"), faulty.calls("munmap"),
  faulty.calls("close"),
];

describe("cache hits", () => {
  it("the first open maps the file once; reopening it unchanged makes no open, mmap or munmap", () => {
    const [mfs] = fresh();
    mfs.writeFile("hot.bin", pattern(64 * 1024));
    counting((faulty) => {
      mfs.open("hot.bin").close();
      assert.deepEqual(calls(faulty), [1, 1, 0, 1], "open, mmap, close the descriptor; the mapping stays");
      for (let i = 0; i < 5; i++) {
        using file = mfs.open("hot.bin");
        assert.equal(file.getUint8(100), pattern(101)[100]);
      }
      assert.deepEqual(calls(faulty), [1, 1, 0, 1]);
      assert.equal(faulty.calls("fstatat"), 5, "one fstatat beneath the root per hit, and that is all");
      assert.equal(faulty.calls("stat"), 0, "never a stat of the path");
    });
    assert.equal(mfs.cacheStats().hits, 5);
    assert.equal(mfs.cacheStats().files, 1);
    assert.equal(mfs.cacheStats().bytes, 64 * 1024);
  });

  it("an unconfined file system checks a hit with one stat of the absolute path", () => {
    const [confined, root] = fresh();
    confined.writeFile("hot.bin", pattern(4096));
    const mfs = new MemMapFS();
    const file = path.join(root, "hot.bin");
    mfs.open(file).close();
    counting((faulty) => {
      for (let i = 0; i < 3; i++) mfs.open(file).close();
      assert.deepEqual(calls(faulty), [0, 0, 0, 0]);
      assert.equal(faulty.calls("stat"), 3);
    });
    mfs.close();
  });

  it("readFile reads its own descriptor with pread and never copies out of the cache's mapping", () => {
    const [mfs] = fresh();
    mfs.writeFile("small.txt", "tiny");
    mfs.writeFile("large.bin", pattern(300_000));
    mfs.open("large.bin").close();
    counting((faulty) => {
      for (const name of ["small.txt", "large.bin", "small.txt", "large.bin"]) {
        const [opens, , , closes] = calls(faulty);
        const preads = faulty.calls("pread");
        assert.deepEqual(mfs.readFile(name), name === "small.txt" ? new TextEncoder().encode("tiny") : pattern(300_000));
        assert.deepEqual(calls(faulty), [opens + 1, 0, 0, closes + 1], `${name}: one descriptor, no mapping`);
        assert.equal(faulty.calls("pread"), preads + 1, `${name}: one pread of the size fstat reported, as node:fs reads`);
      }
    });
    assert.equal(mfs.cacheStats().hits, 0, "the cached mapping was not used");
  });

  it("opens that cannot share a mapping map their own: window, offset, length, checked, lock, writes", () => {
    const [mfs] = fresh();
    mfs.writeFile("own.bin", pattern(64 * 1024));
    mfs.open("own.bin").close();
    counting((faulty) => {
      const options = [
        { window: 8192 }, { offset: 1 }, { length: 10 }, { checked: true }, { mode: "copyonwrite" as const },
      ];
      for (const option of options) mfs.open("own.bin", option).close();
      assert.equal(faulty.calls("mmap"), options.length);
      assert.equal(faulty.calls("munmap"), options.length);
    });
  });

  it("a file larger than maxBytes, an empty file and maxFiles 0 are opened uncached", () => {
    const [mfs] = fresh({ cache: { maxBytes: 16 * 1024 } });
    mfs.writeFile("huge.bin", pattern(64 * 1024));
    mfs.writeFile("empty.bin", "");
    const [none] = fresh({ cache: { maxFiles: 0 } });
    none.writeFile("some.bin", pattern(1000));
    counting((faulty) => {
      for (let i = 0; i < 2; i++) mfs.open("huge.bin").close();
      assert.equal(faulty.calls("mmap"), 2);
      using empty = mfs.open("empty.bin");
      assert.equal(empty.size, 0);
      for (let i = 0; i < 2; i++) none.open("some.bin").close();
      assert.equal(faulty.calls("mmap"), 4);
    });
    assert.equal(mfs.cacheStats().files, 0);
    assert.equal(none.cacheStats().files, 0);
  });

  it("passes populate on to the mapping it caches", () => {
    const [mfs] = fresh({ populate: true });
    mfs.writeFile("warm.bin", pattern(256 * 1024));
    const flags: number[] = [];
    const advice: number[] = [];
    const recording = new (class extends FaultyLibc {
      override mmap(address: bigint, length: number, prot: number, flag: number, fd: number, offset: number): bigint {
        flags.push(flag);
        return super.mmap(address, length, prot, flag, fd, offset);
      }
      override madvise(address: bigint, length: number, number: number): number {
        advice.push(number);
        return super.madvise(address, length, number);
      }
    })(libc());
    useLibc(recording);
    try {
      mfs.open("warm.bin").close();
    } finally {
      useLibc(null);
    }
    const { MAP_POPULATE, advice: numbers } = libc().constants;
    assert.equal(flags.length, 1);
    // The cached mapping is private and writable (stray writes stay in the process), where
    // MAP_POPULATE would copy every page: it prefaults with MADV_POPULATE_READ (or WILLNEED).
    assert.equal(flags[0] & MAP_POPULATE, 0);
    assert.ok(advice.includes(numbers["populate-read"]!) || advice.includes(numbers.willneed!), `advice ${advice}`);
  });

  it("cache: false maps every open afresh", () => {
    const [mfs] = fresh({ cache: false });
    mfs.writeFile("cold.bin", pattern(64 * 1024));
    counting((faulty) => {
      for (let i = 0; i < 3; i++) mfs.open("cold.bin").close();
      for (let i = 0; i < 3; i++) mfs.readFile("cold.bin");
      assert.equal(faulty.calls("mmap"), 3);
    });
    assert.deepEqual(mfs.cacheStats(), { hits: 0, misses: 0, evictions: 0, invalidations: 0, bytes: 0, files: 0 });
  });
});

describe("eviction", () => {
  it("evicts the least recently used file when over maxFiles", () => {
    const [mfs] = fresh({ cache: { maxFiles: 2 } });
    for (const name of ["1", "2", "3"]) mfs.writeFile(name, pattern(32 * 1024));
    for (const name of ["1", "2", "1", "3"]) mfs.open(name).close();
    assert.equal(mfs.cacheStats().files, 2);
    assert.equal(mfs.cacheStats().evictions, 1);
    counting((faulty) => {
      mfs.open("1").close();
      mfs.open("3").close();
      assert.equal(faulty.calls("mmap"), 0, "1 was used recently, so 2 went");
      mfs.open("2").close();
      assert.equal(faulty.calls("mmap"), 1);
      assert.equal(mfs.cacheStats().evictions, 2, "and mapping 2 again evicted 1");
      mfs.open("3").close();
      assert.equal(faulty.calls("mmap"), 1, "not 3");
    });
  });

  it("evicts by bytes, and never more than needed", () => {
    const [mfs] = fresh({ cache: { maxBytes: 100 * 1024 } });
    for (const name of ["a", "b", "c"]) {
      mfs.writeFile(name, pattern(40 * 1024));
      mfs.open(name).close();
    }
    assert.deepEqual([mfs.cacheStats().files, mfs.cacheStats().bytes, mfs.cacheStats().evictions], [2, 80 * 1024, 1]);
  });

  it("an evicted mapping is unmapped once its last handle closes", () => {
    const [mfs, root] = fresh({ cache: { maxFiles: 1 } });
    mfs.writeFile("first.bin", pattern(40_000));
    mfs.writeFile("second.bin", pattern(40_000));
    const held = mfs.open("first.bin");
    mfs.open("second.bin").close();
    assert.equal(mfs.cacheStats().evictions, 1);
    assert.equal(mappingsOf(path.join(root, "first.bin")).length, 1, "still mapped for the handle");
    assert.deepEqual(held.bytes, pattern(40_000));
    held.close();
    assert.equal(mappingsOf(path.join(root, "first.bin")).length, 0);
  });
});

describe("invalidation", () => {
  it("drops an entry an outside writer changed: size, mtime, inode", () => {
    const [mfs, root] = fresh();
    const file = path.join(root, "shared.txt");
    mfs.writeFile("shared.txt", "x".repeat(20_000));
    mfs.open("shared.txt").close();
    fs.writeFileSync(file, "y".repeat(30_000));
    assert.equal(new TextDecoder().decode(mfs.readFile("shared.txt")), "y".repeat(30_000), "a new size is noticed");
    mfs.open("shared.txt").close();
    const invalidations = mfs.cacheStats().invalidations;
    fs.utimesSync(file, new Date(), new Date(Date.now() + 60_000));
    counting((faulty) => {
      mfs.open("shared.txt").close();
      assert.equal(faulty.calls("mmap"), 1, "a new mtime alone is noticed");
    });
    assert.equal(mfs.cacheStats().invalidations, invalidations + 1);
    fs.writeFileSync(path.join(root, "replacement.txt"), "z".repeat(30_000));
    fs.renameSync(path.join(root, "replacement.txt"), file);
    using reopened = mfs.open("shared.txt");
    assert.equal(new TextDecoder().decode(reopened.bytes), "z".repeat(30_000), "a new inode is noticed");
    fs.rmSync(file);
    assert.throws(() => mfs.open("shared.txt"), /ENOENT/);
    assert.equal(mfs.cacheStats().files, 0, "a vanished file's entry is dropped");
    assert.equal(new TextDecoder().decode(reopened.bytes), "z".repeat(30_000), "the handle still reads");
  });

  it("MemMapFS's own writeFile, truncate, rename, remove, removeAll and write opens drop entries", () => {
    const [mfs] = fresh();
    mfs.mkdir("d");
    const names = ["w", "t", "r", "rm", "d/ra", "rw", "rp"];
    const operations: [string, () => void][] = [
      ["writeFile", () => mfs.writeFile("w", "new")], ["truncate", () => mfs.truncate("t", 10)],
      ["rename", () => mfs.rename("r", "r2")], ["remove", () => mfs.remove("rm")], ["removeAll", () => mfs.removeAll("d")],
      ["openFile r+", () => mfs.openFile("rw", "r+").close()], ["open readwrite", () => mfs.open("rp", { mode: "readwrite" }).close()],
    ];
    for (const name of names) {
      mfs.writeFile(name, pattern(10_000));
      mfs.open(name).close();
    }
    assert.equal(mfs.cacheStats().files, names.length);
    for (const [label, operation] of operations) {
      const before = mfs.cacheStats();
      operation();
      assert.equal(mfs.cacheStats().files, before.files - 1, label);
      assert.equal(mfs.cacheStats().invalidations, before.invalidations + 1, label);
    }
    assert.equal(new TextDecoder().decode(mfs.readFile("w")), "new");
    assert.equal(mfs.readFile("t").length, 10);
  });
});

describe("validateAfterMs: how long a check that a file is unchanged stays good", () => {
  /** Replaces `name` in `root` behind MemMapFS's back: a new inode of the same size. */
  const replaceOutside = (root: string, name: string, text: string) => {
    fs.writeFileSync(path.join(root, `${name}.new`), text);
    fs.renameSync(path.join(root, `${name}.new`), path.join(root, name));
  };
  const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

  it("by default (0) every hit stats the file, so an outside replacement is seen at the next open", () => {
    for (const cache of [undefined, { validateAfterMs: 0 }]) {
      const [mfs, root] = fresh(cache && { cache });
      mfs.writeFile("a.txt", "old!");
      mfs.open("a.txt").close();
      counting((faulty) => {
        for (let i = 0; i < 3; i++) mfs.open("a.txt").close();
        assert.equal(faulty.calls("fstatat"), 3);
      });
      replaceOutside(root, "a.txt", "new!");
      using file = mfs.open("a.txt");
      assert.equal(new TextDecoder().decode(file.bytes), "new!");
    }
  });

  it("within the window a hit makes no system call and may hand out the old mapping; MemMapFS's own changes show at once", () => {
    const [mfs, root] = fresh({ cache: { validateAfterMs: 600_000 } });
    mfs.writeFile("a.txt", "old!");
    mfs.open("a.txt").close();
    counting((faulty) => {
      for (let i = 0; i < 3; i++) mfs.open("a.txt").close();
      const made = (["stat", "fstatat", "fstat", "open", "openat", "openat2", "mmap"] as const).map((call) => faulty.calls(call));
      assert.deepEqual(made, [0, 0, 0, 0, 0, 0, 0], "no stat, no open, no mmap");
    });
    replaceOutside(root, "a.txt", "new!");
    using stale = mfs.open("a.txt");
    assert.equal(new TextDecoder().decode(stale.bytes), "old!", "the replacement is not looked for inside the window");
    assert.equal(mfs.cacheStats().hits, 4);
    mfs.writeFile("a.txt", "ours");
    using own = mfs.open("a.txt");
    assert.equal(new TextDecoder().decode(own.bytes), "ours", "a change through this MemMapFS drops the entry");
  });

  it("once the window has passed, the next open checks again", () => {
    const [mfs, root] = fresh({ cache: { validateAfterMs: 20 } });
    mfs.writeFile("a.txt", "old!");
    mfs.open("a.txt").close();
    replaceOutside(root, "a.txt", "new!");
    sleep(60);
    using file = mfs.open("a.txt");
    assert.equal(new TextDecoder().decode(file.bytes), "new!");
  });

  it("a check made by one file system is not trusted by a sub() of it (another root)", () => {
    const [mfs] = fresh({ cache: { validateAfterMs: 600_000 } });
    mfs.mkdir("d");
    mfs.writeFile("d/a.txt", "data");
    const inner = mfs.sub("d");
    mfs.open("d/a.txt").close();
    counting((faulty) => {
      inner.open("a.txt").close();
      assert.equal(faulty.calls("fstatat"), 1, "the sub checks the file beneath its own root");
      assert.equal(faulty.calls("mmap"), 0, "and then shares the mapping");
      inner.open("a.txt").close();
      assert.equal(faulty.calls("fstatat"), 1, "its own check is good for the window");
    });
  });

  it("is checked like the other limits", () => {
    assert.throws(() => new MemMapFS({ cache: { validateAfterMs: -1 } }), RangeError);
    assert.throws(() => new MemMapFS({ cache: { validateAfterMs: 1.5 } }), RangeError);
    assert.throws(() => new MemMapFS({ cache: { validateAfterMs: "1" as unknown as number } }), TypeError);
  });
});

describe("handles and the cache", () => {
  it("objects handed out stay valid whatever the cache does", () => {
    const [mfs] = fresh({ cache: { maxFiles: 1 } });
    mfs.writeFile("one.bin", pattern(20_000, 1));
    mfs.writeFile("two.bin", pattern(20_000, 2));
    const held = mfs.open("one.bin");
    const view = held.bytes;
    const other = mfs.open("one.bin");
    const otherView = other.bytes;
    other.close();
    assert.equal(otherView.length, 0, "closing a handle detaches its own views");
    assert.deepEqual(view, pattern(20_000, 1), "and leaves another handle's alone");
    mfs.open("two.bin").close();
    mfs.readFile("two.bin");
    mfs.remove("one.bin");
    mfs.close();
    assert.deepEqual(view, pattern(20_000, 1), "evicted, removed and cleared, still readable");
    assert.deepEqual(held.subarray(0, 10), pattern(10, 1), "and new views still work");
    held.close();
    assert.equal(view.length, 0);
    assert.throws(() => held.bytes, /closed/i);
  });

  it("a handle from the cache refuses remap, and a second close does nothing", () => {
    const [mfs] = fresh();
    mfs.writeFile("r.bin", pattern(5000));
    const file = mfs.open("r.bin");
    assert.throws(() => file.remap(), /shares a cached mapping/);
    file.close();
    file.close();
    using again = mfs.open("r.bin");
    assert.deepEqual(again.bytes, pattern(5000));
  });
});
