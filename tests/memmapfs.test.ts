// MemMapFS: every method, the open flags, the mapping cache, sub() confinement
// and bad input.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MemMapFS, MmapError } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, openDescriptors, pattern, removeDirectory, runScript } from "./helpers.ts";

const top = makeDirectory("memmapfs-fs-");
after(() => removeDirectory(top));
let counter = 0;

/** A fresh root directory and a MemMapFS over it. */
function fresh(options: ConstructorParameters<typeof MemMapFS>[0] = {}): [MemMapFS, string] {
  const root = path.join(top, `root-${counter++}`);
  fs.mkdirSync(root);
  return [new MemMapFS({ root, ...options }), root];
}

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

describe("files", () => {
  it("open maps read-only by default and reads what writeFile wrote", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("a.txt", "alpha");
    using file = mfs.open("a.txt");
    assert.equal(file.mode, "readonly");
    assert.equal(file.path, path.join(root, "a.txt"));
    assert.equal(new TextDecoder().decode(file.bytes), "alpha");
  });

  it("open takes options over the file system's defaults", () => {
    const [mfs] = fresh({ mode: "readwrite", sync: "immediate" });
    mfs.writeFile("b.bin", pattern(100));
    using writable = mfs.open("b.bin");
    assert.equal(writable.mode, "readwrite");
    using readonly = mfs.open("b.bin", { mode: "readonly" });
    assert.equal(readonly.mode, "readonly");
  });

  it("readFile returns a copy the caller owns", () => {
    const [mfs] = fresh();
    const data = pattern(200_000);
    mfs.writeFile("big.bin", data);
    for (let i = 0; i < 3; i++) {
      const copy = mfs.readFile("big.bin");
      assert.deepEqual(copy, data);
      copy[0] ^= 0xff;
    }
    assert.deepEqual(mfs.readFile("big.bin"), data, "changing a copy changes nothing else");
    mfs.close();
    assert.equal(mfs.readFile("big.bin").length, data.length, "copies outlive the cache");
  });

  it("writeFile replaces atomically, keeps the mode and leaves no temporary file", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("c.txt", "first");
    assert.equal(fs.statSync(path.join(root, "c.txt")).mode & 0o777, 0o600);
    fs.chmodSync(path.join(root, "c.txt"), 0o640);
    using reader = mfs.open("c.txt");
    mfs.writeFile("c.txt", "second version");
    assert.equal(new TextDecoder().decode(reader.bytes), "first", "an open mapping keeps the old file");
    assert.equal(new TextDecoder().decode(mfs.readFile("c.txt")), "second version");
    assert.equal(fs.statSync(path.join(root, "c.txt")).mode & 0o777, 0o640);
    assert.deepEqual(fs.readdirSync(root), ["c.txt"]);
  });

  it("writeFile into a missing directory fails and leaves nothing", () => {
    const [mfs, root] = fresh();
    assert.throws(() => mfs.writeFile("missing/d.txt", "x"), (error: unknown) =>
      error instanceof MmapError && error.code === "ENOENT");
    assert.deepEqual(fs.readdirSync(root), []);
  });

  it("create truncates and sizes", () => {
    const [mfs] = fresh();
    mfs.writeFile("e.bin", "old contents");
    using file = mfs.create("e.bin", 4096);
    assert.equal(file.size, 4096);
    assert.ok(file.bytes.every((byte) => byte === 0));
  });
});

describe("openFile flags", () => {
  const table: [string, boolean, string, number, string][] = [
    // flags, exists before, mode, size after open, contents after writing "XY" at position 0 (or end)
    ["r", true, "readonly", 5, "hello"],
    ["r+", true, "readwrite", 5, "XYllo"],
    ["w", true, "readwrite", 0, "XY"],
    ["w+", true, "readwrite", 0, "XY"],
    ["a", true, "readwrite", 5, "helloXY"],
    ["a+", true, "readwrite", 5, "helloXY"],
    ["w", false, "readwrite", 0, "XY"],
    ["a", false, "readwrite", 0, "XY"],
  ];
  for (const [flags, exists, mode, size, after] of table) {
    it(`"${flags}" on ${exists ? "an existing" : "a missing"} file`, () => {
      const [mfs, root] = fresh();
      if (exists) fs.writeFileSync(path.join(root, "f.txt"), "hello");
      {
        using file = mfs.openFile("f.txt", flags as "r");
        assert.equal(file.mode, mode);
        assert.equal(file.size, size);
        if (mode === "readwrite") {
          file.position = 0;
          file.write("XY");
        }
      }
      assert.equal(fs.readFileSync(path.join(root, "f.txt"), "utf8"), after);
    });
  }

  it('"r" and "r+" need the file to exist', () => {
    const [mfs] = fresh();
    for (const flags of ["r", "r+"] as const) {
      assert.throws(() => mfs.openFile("none.txt", flags), (error: unknown) =>
        error instanceof MmapError && error.code === "ENOENT");
    }
  });

  it("creates with the given permissions", () => {
    const [mfs, root] = fresh();
    mfs.openFile("p.txt", "w", 0o640).close();
    assert.equal(fs.statSync(path.join(root, "p.txt")).mode & 0o777, 0o640 & ~process.umask());
  });

  it("empty and new files read empty and grow on write", () => {
    const [mfs] = fresh();
    using file = mfs.openFile("new.bin", "w+");
    assert.equal(file.read(new Uint8Array(4)), 0);
    file.write(pattern(10_000));
    assert.equal(file.size, 10_000);
  });
});

describe("directories and metadata", () => {
  it("mkdir, readDir, stat, lstat, exists, rename, truncate, chmod, chown, utimes, remove, removeAll", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("x/y/z", { recursive: true });
    mfs.mkdir("x/y/z", { recursive: true });
    assert.throws(() => mfs.mkdir("x"), (error: unknown) => error instanceof MmapError && error.code === "EEXIST");
    mfs.writeFile("x/file.txt", "12345");
    fs.symlinkSync("file.txt", path.join(root, "x/link"));
    assert.deepEqual(mfs.readDir("x").map((entry) => [entry.name, entry.isFile, entry.isDirectory, entry.isSymlink]), [
      ["file.txt", true, false, false], ["link", false, false, true], ["y", false, true, false],
    ]);
    assert.equal(mfs.stat("x/link").size, 5);
    assert.equal(mfs.lstat("x/link").isSymlink, true);
    assert.equal(mfs.exists("x/file.txt"), true);
    assert.equal(mfs.exists("x/nothing"), false);
    mfs.rename("x/file.txt", "x/y/moved.txt");
    mfs.truncate("x/y/moved.txt", 2);
    assert.equal(mfs.stat("x/y/moved.txt").size, 2);
    mfs.chmod("x/y/moved.txt", 0o604);
    assert.equal(mfs.stat("x/y/moved.txt").mode & 0o777, 0o604);
    mfs.chown("x/y/moved.txt", 1234, 5678);
    assert.equal(mfs.stat("x/y/moved.txt").uid, 1234);
    mfs.utimes("x/y/moved.txt", new Date(1_000_000), new Date(2_000_000));
    assert.equal(mfs.stat("x/y/moved.txt").mtime.getTime(), 2_000_000);
    mfs.remove("x/y/moved.txt");
    assert.throws(() => mfs.remove("x/y"), (error: unknown) => error instanceof MmapError && error.code === "ENOTEMPTY");
    mfs.removeAll("x");
    mfs.removeAll("x");
    assert.deepEqual(fs.readdirSync(root), []);
  });

  it("chdir moves the base of relative paths; cwd and tempDir report", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("inner");
    mfs.chdir("inner");
    assert.equal(mfs.cwd(), path.join(root, "inner"));
    mfs.writeFile("here.txt", "x");
    assert.ok(fs.existsSync(path.join(root, "inner/here.txt")));
    assert.throws(() => mfs.chdir("here.txt"), (error: unknown) => error instanceof MmapError && error.code === "ENOTDIR");
    assert.equal(typeof mfs.tempDir(), "string");
  });
});

describe("mapping cache", () => {
  it("reopening an unchanged file makes no open and no mmap", () => {
    const [mfs] = fresh();
    mfs.writeFile("hot.bin", pattern(64 * 1024));
    counting((faulty) => {
      mfs.open("hot.bin").close();
      const [opens, maps] = [faulty.calls("open"), faulty.calls("mmap")];
      for (let i = 0; i < 5; i++) {
        using file = mfs.open("hot.bin");
        assert.equal(file.getUint8(100), pattern(101)[100]);
        mfs.readFile("hot.bin");
      }
      assert.deepEqual([faulty.calls("open"), faulty.calls("mmap")], [opens, maps]);
    });
    assert.ok(mfs.cacheStats().hits >= 10);
  });

  it("maps small files from their second read", () => {
    const [mfs] = fresh();
    mfs.writeFile("small.txt", "tiny");
    counting((faulty) => {
      mfs.readFile("small.txt");
      assert.equal(faulty.calls("mmap"), 0, "the first read is a plain read");
      mfs.readFile("small.txt");
      mfs.readFile("small.txt");
      assert.equal(faulty.calls("mmap"), 1);
    });
  });

  it("evicts least recently used files by count and by bytes", () => {
    const [byCount] = fresh({ cache: { maxFiles: 2 } });
    for (const name of ["1", "2", "3"]) byCount.writeFile(name, pattern(32 * 1024));
    for (const name of ["1", "2", "1", "3"]) byCount.readFile(name);
    assert.equal(byCount.cacheStats().files, 2);
    assert.equal(byCount.cacheStats().evictions, 1);
    counting((faulty) => {
      byCount.readFile("1");
      assert.equal(faulty.calls("mmap"), 0, "1 was used recently, so 2 went");
    });
    const [byBytes] = fresh({ cache: { maxBytes: 100 * 1024 } });
    for (const name of ["a", "b", "c"]) {
      byBytes.writeFile(name, pattern(40 * 1024));
      byBytes.readFile(name);
    }
    assert.ok(byBytes.cacheStats().bytes <= 100 * 1024);
  });

  it("drops an entry another writer changed", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("shared.txt", "x".repeat(20_000));
    mfs.readFile("shared.txt");
    fs.writeFileSync(path.join(root, "shared.txt"), "y".repeat(30_000));
    assert.equal(new TextDecoder().decode(mfs.readFile("shared.txt")), "y".repeat(30_000));
    const replaced = path.join(root, "replacement.txt");
    fs.writeFileSync(replaced, "z".repeat(30_000));
    fs.renameSync(replaced, path.join(root, "shared.txt"));
    assert.equal(new TextDecoder().decode(mfs.readFile("shared.txt")), "z".repeat(30_000), "a new inode is noticed");
    assert.ok(mfs.cacheStats().invalidations >= 2);
  });

  it("objects handed out stay valid whatever the cache does", () => {
    const [mfs] = fresh({ cache: { maxFiles: 1 } });
    mfs.writeFile("one.bin", pattern(20_000, 1));
    mfs.writeFile("two.bin", pattern(20_000, 2));
    mfs.readFile("one.bin");
    const held = mfs.open("one.bin");
    const view = held.bytes;
    const other = mfs.open("one.bin");
    other.close();
    assert.equal(view.length, 20_000, "closing another handle leaves this view alone");
    mfs.readFile("two.bin");
    mfs.readFile("two.bin");
    mfs.remove("one.bin");
    mfs.close();
    assert.deepEqual(view, pattern(20_000, 1), "evicted, removed and cleared, still readable");
    held.close();
    assert.equal(view.length, 0);
  });

  it("cache: false maps every open afresh", () => {
    const [mfs] = fresh({ cache: false });
    mfs.writeFile("cold.bin", pattern(64 * 1024));
    counting((faulty) => {
      for (let i = 0; i < 3; i++) mfs.open("cold.bin").close();
      assert.equal(faulty.calls("mmap"), 3);
    });
  });
});

describe("bad input and misuse", () => {
  it("a directory opened as a file is EISDIR", () => {
    const [mfs] = fresh();
    mfs.mkdir("dir");
    assert.throws(() => mfs.open("dir"), (error: unknown) => error instanceof MmapError && error.code === "EISDIR");
    assert.throws(() => mfs.readFile("dir"), (error: unknown) => error instanceof MmapError && error.code === "EISDIR");
  });

  it("a missing parent directory is ENOENT and leaks nothing", () => {
    const [mfs] = fresh();
    const descriptors = openDescriptors();
    assert.throws(() => mfs.openFile("no/such/file", "w"), (error: unknown) =>
      error instanceof MmapError && error.code === "ENOENT");
    assert.deepEqual(openDescriptors(), descriptors);
  });

  it("removing or renaming an open file leaves its views working until close", () => {
    const [mfs] = fresh();
    mfs.writeFile("victim.bin", pattern(10_000));
    using removed = mfs.open("victim.bin", { mode: "readwrite" });
    mfs.writeFile("moving.bin", pattern(10_000, 3));
    using moved = mfs.open("moving.bin");
    mfs.remove("victim.bin");
    mfs.rename("moving.bin", "moved.bin");
    removed.setUint8(0, 1);
    assert.equal(removed.getUint8(0), 1);
    assert.deepEqual(moved.bytes, pattern(10_000, 3));
  });

  it("permission denied is EACCES (as user nobody when running as root)", () => {
    const [, root] = fresh();
    fs.writeFileSync(path.join(root, "secret.txt"), "secret");
    fs.chmodSync(path.join(root, "secret.txt"), 0o000);
    fs.chmodSync(root, 0o755);
    fs.chmodSync(top, 0o755);
    const denoDirectory = makeDirectory("memmapfs-deno-dir-");
    fs.chmodSync(denoDirectory, 0o777);
    const result = runScript(`
      import { MemMapFS } from "../mod.ts";
      const mfs = new MemMapFS({ root: ${JSON.stringify(root)} });
      for (const use of [() => mfs.open("secret.txt"), () => mfs.readFile("secret.txt")]) {
        try { use(); console.log("allowed"); } catch (error) { console.log(error.name, error.code); }
      }
    `, process.getuid?.() === 0
      ? { shellPrefix: "exec setpriv --reuid=65534 --regid=65534 --clear-groups --", env: { DENO_DIR: denoDirectory } }
      : {});
    removeDirectory(denoDirectory);
    assert.equal(result.stdout.trim(), "MmapError EACCES\nMmapError EACCES", result.stderr);
  });

  it("checks arguments before touching the file system", () => {
    const [mfs] = fresh();
    assert.throws(() => mfs.openFile("x", "rw" as "r"), TypeError);
    assert.throws(() => mfs.open(""), TypeError);
    assert.throws(() => mfs.open("a\0b"), TypeError);
    assert.throws(() => mfs.truncate("x", -1), RangeError);
    assert.throws(() => mfs.create("x", 1.5), RangeError);
    assert.throws(() => mfs.writeFile("x", 42 as unknown as string), TypeError);
    assert.throws(() => new MemMapFS({ cache: { maxBytes: -1 } }), RangeError);
    assert.throws(() => new MemMapFS({ window: 0 }), RangeError);
    assert.throws(() => new MemMapFS({ mode: "append" as "readonly" }), TypeError);
  });
});

describe("sub()", () => {
  it("confines every method below its directory", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("jail/inner", { recursive: true });
    mfs.writeFile("outside.txt", "outside");
    fs.symlinkSync("/etc", path.join(root, "jail/etc-link"));
    fs.symlinkSync(path.join(root, "outside.txt"), path.join(root, "jail/file-link"));
    const jail = mfs.sub("jail");
    jail.writeFile("inner/ok.txt", "inside");
    assert.equal(new TextDecoder().decode(jail.readFile("inner/ok.txt")), "inside");
    assert.equal(jail.readDir().length, 3);
    const escapes: [string, (target: string) => unknown][] = [
      ["open", (target) => jail.open(target)], ["readFile", (target) => jail.readFile(target)],
      ["writeFile", (target) => jail.writeFile(target, "x")], ["stat", (target) => jail.stat(target)],
      ["remove", (target) => jail.remove(target)], ["removeAll", (target) => jail.removeAll(target)],
      ["openFile", (target) => jail.openFile(target, "w")], ["exists", (target) => jail.exists(target)],
      ["rename", (target) => jail.rename("inner/ok.txt", target)], ["chdir", (target) => jail.chdir(target)],
      ["truncate", (target) => jail.truncate(target, 0)], ["chmod", (target) => jail.chmod(target, 0o600)],
    ];
    for (const target of ["../outside.txt", "/etc/passwd", "etc-link/passwd", "file-link", "inner/../../outside.txt"]) {
      for (const [method, use] of escapes) {
        assert.throws(() => use(target), (error: unknown) =>
          error instanceof MmapError && error.code === "EACCES", `${method}(${target})`);
      }
    }
    assert.equal(fs.readFileSync(path.join(root, "outside.txt"), "utf8"), "outside", "nothing outside changed");
    assert.equal(new TextDecoder().decode(jail.readFile(path.join(root, "jail/inner/ok.txt"))), "inside",
      "an absolute path inside is fine");
  });
});

describe("MappedFile from MemMapFS is a MappedFile", () => {
  it("instanceof and the full API", () => {
    const [mfs] = fresh();
    mfs.writeFile("api.bin", pattern(5000));
    using file = mfs.open("api.bin");
    assert.ok(file instanceof MappedFile);
    const target = new Uint8Array(100);
    assert.equal(file.readAt(target, 4950), 50);
    assert.equal(file.getUint16(0), (pattern(2)[0] << 8) | pattern(2)[1]);
  });
});
