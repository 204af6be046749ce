// MemMapFS: files (open, readFile, writeFile, create), directories and
// metadata, bad input and sub() confinement. The open flags, the mapping
// cache and the truncation guard have files of their own.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MappedFile, MemMapFS, MmapError } from "../mod.ts";
import { makeDirectory, openDescriptors, pattern, freshMemMapFS, removeDirectory, runScript } from "./helpers.ts";
import { runScriptAsNobody } from "./as_other_user.ts";

const top = makeDirectory("memmapfs-fs-");
after(() => removeDirectory(top));
const fresh = (options: ConstructorParameters<typeof MemMapFS>[0] = {}) => freshMemMapFS(top, options);

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const code = (expected: string) => (error: unknown) => error instanceof MmapError && error.code === expected;

describe("files", () => {
  it("open maps read-only by default and reads what writeFile wrote", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("a.txt", "alpha");
    using file = mfs.open("a.txt");
    assert.ok(file instanceof MappedFile);
    assert.equal(file.mode, "readonly");
    assert.equal(file.path, path.join(root, "a.txt"));
    assert.equal(text(file.bytes), "alpha");
    assert.throws(() => file.writeAt("x", 0), TypeError);
  });

  it("open takes options over the file system's defaults, and checks them", () => {
    const [mfs] = fresh({ mode: "readwrite", sync: "immediate" });
    mfs.writeFile("b.bin", pattern(100));
    using writable = mfs.open("b.bin");
    assert.equal(writable.mode, "readwrite");
    using readonly = mfs.open("b.bin", { mode: "readonly" });
    assert.equal(readonly.mode, "readonly");
    using part = mfs.open("b.bin", { mode: "readonly", offset: 10, length: 20 });
    assert.deepEqual(part.bytes, pattern(100).subarray(10, 30));
    assert.throws(() => mfs.open("b.bin", { mode: "readonly", sync: "sometimes" as "lazy" }), TypeError);
  });

  it("empty files open, read as empty and grow when opened read-write", () => {
    const [mfs] = fresh();
    mfs.writeFile("empty.bin", "");
    using readonly = mfs.open("empty.bin");
    assert.equal(readonly.size, 0);
    assert.equal(readonly.bytes.length, 0);
    assert.equal(readonly.read(new Uint8Array(8)), 0);
    assert.equal(mfs.readFile("empty.bin").length, 0);
    using writable = mfs.open("empty.bin", { mode: "readwrite" });
    writable.write("grown");
    assert.equal(text(mfs.readFile("empty.bin")), "grown");
  });

  it("open, readFile and writeFile follow a symbolic link; the link stays", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("real.txt", "through the link");
    fs.symlinkSync("real.txt", path.join(root, "link.txt"));
    using file = mfs.open("link.txt");
    assert.equal(text(file.bytes), "through the link");
    assert.equal(file.path, path.join(root, "link.txt"), "the path it was opened by");
    assert.equal(text(mfs.readFile("link.txt")), "through the link");
    mfs.writeFile("link.txt", "new contents");
    assert.ok(fs.lstatSync(path.join(root, "link.txt")).isSymbolicLink());
    assert.equal(fs.readFileSync(path.join(root, "real.txt"), "utf8"), "new contents");
    using writable = mfs.openFile("link.txt", "r+");
    writable.writeAt("N", 0);
    assert.equal(fs.readFileSync(path.join(root, "real.txt"), "utf8"), "New contents");
  });

  it("readFile returns a copy the caller owns, whole buffer and all", () => {
    const [mfs] = fresh();
    const data = pattern(200_000);
    mfs.writeFile("big.bin", data);
    mfs.writeFile("tiny.txt", "tiny");
    for (let i = 0; i < 3; i++) {
      const copy = mfs.readFile("big.bin");
      assert.deepEqual(copy, data);
      copy[0] ^= 0xff;
      const tiny = mfs.readFile("tiny.txt");
      assert.equal(tiny.buffer.byteLength, 4, "not a slice of a shared pool");
      assert.equal(tiny.byteOffset, 0);
      assert.equal(Object.getPrototypeOf(tiny), Uint8Array.prototype);
    }
    assert.deepEqual(mfs.readFile("big.bin"), data, "changing a copy changes nothing else");
    const kept = mfs.readFile("big.bin");
    mfs.close();
    assert.deepEqual(kept, data, "copies outlive the cache");
  });

  it("writeFile replaces atomically, keeps the mode and leaves no temporary file", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("c.txt", "first");
    assert.equal(fs.statSync(path.join(root, "c.txt")).mode & 0o777, 0o600);
    fs.chmodSync(path.join(root, "c.txt"), 0o640);
    using reader = mfs.open("c.txt");
    mfs.writeFile("c.txt", new TextEncoder().encode("second version"));
    assert.equal(text(reader.bytes), "first", "an open mapping keeps the old file");
    assert.equal(text(mfs.readFile("c.txt")), "second version");
    assert.equal(fs.statSync(path.join(root, "c.txt")).mode & 0o777, 0o640);
    assert.deepEqual(fs.readdirSync(root), ["c.txt"]);
    const long = "l".repeat(240);
    mfs.writeFile(long, "a long name leaves room for no temporary suffix");
    assert.equal(text(mfs.readFile(long)), "a long name leaves room for no temporary suffix");
    const [withMode, other] = fresh({ permissions: 0o644 });
    withMode.writeFile("d.txt", "x");
    assert.equal(fs.statSync(path.join(other, "d.txt")).mode & 0o777, 0o644);
  });

  it("writeFile keeps the owner of a file it replaces", { skip: process.getuid?.() !== 0 && "needs root to chown" }, () => {
    const [mfs, root] = fresh();
    mfs.writeFile("owned.txt", "old");
    fs.chownSync(path.join(root, "owned.txt"), 1234, 5678);
    mfs.writeFile("owned.txt", "new");
    const stat = fs.statSync(path.join(root, "owned.txt"));
    assert.deepEqual([stat.uid, stat.gid], [1234, 5678]);
  });

  it("writeFile that cannot finish leaves the target and the directory as they were", () => {
    const [mfs, root] = fresh();
    assert.throws(() => mfs.writeFile("missing/d.txt", "x"), code("ENOENT"));
    mfs.mkdir("dir");
    assert.throws(() => mfs.writeFile("dir", "x"), code("EISDIR"));
    assert.deepEqual(fs.readdirSync(root), ["dir"]);
  });

  it("create truncates and sizes, and makes new files", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("e.bin", "old contents");
    using file = mfs.create("e.bin", 4096);
    assert.equal(file.size, 4096);
    assert.ok(file.bytes.every((byte) => byte === 0));
    using made = mfs.create("new.bin");
    assert.equal(made.mode, "readwrite");
    made.write("abc");
    assert.equal(fs.readFileSync(path.join(root, "new.bin"), "utf8"), "abc");
  });
});

describe("directories and metadata", () => {
  it("mkdir, readDir, stat, lstat, exists, rename, truncate, chmod, chown, utimes, remove, removeAll", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("x/y/z", { recursive: true });
    mfs.mkdir("x/y/z", { recursive: true });
    assert.throws(() => mfs.mkdir("x"), code("EEXIST"));
    assert.throws(() => mfs.mkdir("no/parent"), code("ENOENT"));
    mfs.mkdir("x/private", { permissions: 0o700 });
    assert.equal(fs.statSync(path.join(root, "x/private")).mode & 0o777, 0o700);
    mfs.writeFile("x/file.txt", "12345");
    fs.symlinkSync("file.txt", path.join(root, "x/link"));
    assert.deepEqual(mfs.readDir("x").map((entry) => [entry.name, entry.isFile, entry.isDirectory, entry.isSymlink]), [
      ["file.txt", true, false, false], ["link", false, false, true], ["private", false, true, false],
      ["y", false, true, false],
    ]);
    assert.deepEqual(mfs.readDir().map((entry) => entry.name), ["x"]);
    assert.throws(() => mfs.readDir("x/file.txt"), code("ENOTDIR"));
    assert.equal(mfs.stat("x/link").size, 5);
    assert.equal(mfs.stat("x/link").isFile, true);
    assert.equal(mfs.lstat("x/link").isSymlink, true);
    assert.equal(mfs.stat("x").isDirectory, true);
    assert.throws(() => mfs.stat("x/nothing"), code("ENOENT"));
    assert.equal(mfs.exists("x/file.txt"), true);
    assert.equal(mfs.exists("x/nothing"), false);
    mfs.rename("x/file.txt", "x/y/moved.txt");
    mfs.writeFile("x/other.txt", "other");
    mfs.rename("x/other.txt", "x/y/moved.txt");
    assert.equal(text(mfs.readFile("x/y/moved.txt")), "other", "rename replaces the target");
    mfs.truncate("x/y/moved.txt", 2);
    assert.equal(mfs.stat("x/y/moved.txt").size, 2);
    mfs.truncate("x/y/moved.txt", 6);
    assert.deepEqual([...mfs.readFile("x/y/moved.txt")], [111, 116, 0, 0, 0, 0], "extends with zeros");
    mfs.chmod("x/y/moved.txt", 0o604);
    assert.equal(mfs.stat("x/y/moved.txt").mode & 0o777, 0o604);
    mfs.chown("x/y/moved.txt", process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    if (process.getuid?.() === 0) {
      mfs.chown("x/y/moved.txt", 1234, 5678);
      assert.deepEqual([mfs.stat("x/y/moved.txt").uid, mfs.stat("x/y/moved.txt").gid], [1234, 5678]);
    }
    mfs.utimes("x/y/moved.txt", new Date(1_000_000), new Date(2_000_000));
    assert.equal(mfs.stat("x/y/moved.txt").mtime.getTime(), 2_000_000);
    mfs.utimes("x/y/moved.txt", 3_000, 4_000);
    assert.equal(mfs.stat("x/y/moved.txt").mtime.getTime(), 4_000_000, "numbers are seconds");
    mfs.remove("x/link");
    assert.equal(mfs.exists("x/y/moved.txt"), true, "removing a link leaves its target");
    mfs.remove("x/y/moved.txt");
    assert.throws(() => mfs.remove("x/y"), code("ENOTEMPTY"));
    assert.throws(() => mfs.remove("x/nothing"), code("ENOENT"));
    mfs.remove("x/y/z");
    mfs.removeAll("x");
    mfs.removeAll("x");
    assert.deepEqual(fs.readdirSync(root), []);
    for (const use of [() => mfs.chmod("gone", 0o600), () => mfs.truncate("gone", 0), () => mfs.utimes("gone", 1, 1)]) {
      assert.throws(use, code("ENOENT"));
    }
  });

  it("chdir moves the base of relative paths; cwd and tempDir report", () => {
    const [mfs, root] = fresh();
    assert.equal(mfs.cwd(), root);
    mfs.mkdir("inner");
    mfs.chdir("inner");
    assert.equal(mfs.cwd(), path.join(root, "inner"));
    mfs.writeFile("here.txt", "x");
    assert.ok(fs.existsSync(path.join(root, "inner/here.txt")));
    assert.equal(text(mfs.readFile("../inner/here.txt")), "x");
    assert.throws(() => mfs.chdir("here.txt"), code("ENOTDIR"));
    assert.throws(() => mfs.chdir("missing"), code("ENOENT"));
    assert.equal(mfs.tempDir(), os.tmpdir());
    assert.equal(new MemMapFS().cwd(), process.cwd(), "without root, the process's directory");
  });

  it("close and using let go of the cache; handed-out files stay open", () => {
    const [mfs] = fresh();
    mfs.writeFile("kept.bin", pattern(10_000));
    let file: MappedFile;
    {
      using scoped = new MemMapFS({ root: mfs.cwd() });
      file = scoped.open("kept.bin");
      assert.equal(scoped.cacheStats().files, 1);
    }
    assert.deepEqual(file.bytes, pattern(10_000));
    file.close();
  });
});

describe("bad input and misuse", () => {
  it("a directory opened as a file is EISDIR", () => {
    const [mfs] = fresh();
    mfs.mkdir("dir");
    for (const use of [
      () => mfs.open("dir"), () => mfs.readFile("dir"), () => mfs.openFile("dir", "r+"),
      () => mfs.openFile("dir", "w"), () => mfs.openFile("dir", "a"), () => mfs.create("dir"),
      () => mfs.open("dir", { mode: "readwrite" }),
    ]) {
      assert.throws(use, code("EISDIR"));
    }
  });

  it("a device or a FIFO is refused (ENODEV) by readFile, every time, and by open, without waiting: /dev/zero would never end", () => {
    const mfs = new MemMapFS();
    for (let i = 0; i < 3; i++) assert.throws(() => mfs.readFile("/dev/null"), code("ENODEV"));
    assert.throws(() => mfs.readFile("/dev/zero"), code("ENODEV"));
    assert.throws(() => mfs.open("/dev/null"), code("ENODEV"));
    const [confined, root] = fresh();
    execFileSync("mkfifo", [path.join(root, "fifo")]);
    // No writer: a blocking open would wait forever.
    for (const use of [() => confined.readFile("fifo"), () => confined.open("fifo"), () => confined.openFile("fifo", "r+")]) {
      assert.throws(use, code("ENODEV"));
    }
    assert.throws(() => confined.truncate("fifo", 0), (error: unknown) =>
      error instanceof MmapError && ["ENXIO", "EINVAL"].includes(error.code));
  });

  it("a missing parent directory is ENOENT and leaks nothing", () => {
    const [mfs] = fresh();
    const descriptors = openDescriptors();
    for (const use of [
      () => mfs.openFile("no/such/file", "w"), () => mfs.create("no/such/file"), () => mfs.open("no/such/file"),
      () => mfs.readFile("no/such/file"), () => mfs.writeFile("no/such/file", "x"), () => mfs.openFile("no/file", "a+"),
    ]) {
      assert.throws(use, code("ENOENT"));
    }
    assert.deepEqual(openDescriptors(), descriptors);
  });

  it("removing or renaming an open file leaves its views working until close", () => {
    const [mfs] = fresh();
    mfs.writeFile("victim.bin", pattern(10_000));
    const removed = mfs.open("victim.bin", { mode: "readwrite" });
    mfs.writeFile("moving.bin", pattern(10_000, 3));
    const moved = mfs.open("moving.bin");
    const movedView = moved.bytes;
    mfs.writeFile("gone.bin", pattern(10_000, 5));
    const cached = mfs.open("gone.bin");
    const cachedView = cached.subarray(0, 100);
    mfs.remove("victim.bin");
    mfs.rename("moving.bin", "moved.bin");
    mfs.removeAll("gone.bin");
    removed.setUint8(0, 1);
    assert.equal(removed.getUint8(0), 1);
    assert.deepEqual(movedView, pattern(10_000, 3));
    assert.deepEqual(cachedView, pattern(100, 5));
    assert.equal(mfs.exists("moved.bin"), true);
    for (const file of [removed, moved, cached]) file.close();
    assert.equal(movedView.length, 0, "detached at close");
    assert.equal(cachedView.length, 0, "detached at close");
  });

  it("permission denied is EACCES (as user nobody when running as root)", () => {
    const [, root] = fresh();
    fs.writeFileSync(path.join(root, "secret.txt"), "secret");
    fs.chmodSync(path.join(root, "secret.txt"), 0o000);
    fs.chmodSync(root, 0o755);
    fs.chmodSync(top, 0o755);
    const source = `
      import { MemMapFS } from "../mod.ts";
      const mfs = new MemMapFS({ root: ${JSON.stringify(root)} });
      for (const use of [
        () => mfs.open("secret.txt"), () => mfs.readFile("secret.txt"), () => mfs.openFile("secret.txt", "r+"),
        () => mfs.writeFile("new.txt", "x"), () => mfs.mkdir("sub"),
      ]) {
        try { use(); console.log("allowed"); } catch (error) { console.log(error.name, error.code); }
      }
    `;
    const result = process.getuid?.() === 0 ? runScriptAsNobody(source) : runScript(source);
    assert.equal(result.stdout.trim(), Array(5).fill("MmapError EACCES").join("\n"), result.stderr);
  });

  it("checks arguments before touching the file system", () => {
    const [mfs, root] = fresh();
    assert.throws(() => mfs.openFile("x", "rw" as "r"), TypeError);
    assert.throws(() => mfs.openFile("x", "w", -1), RangeError);
    assert.throws(() => mfs.open(""), TypeError);
    assert.throws(() => mfs.open("a\0b"), TypeError);
    assert.throws(() => mfs.open(42 as unknown as string), TypeError);
    assert.throws(() => mfs.truncate("x", -1), RangeError);
    assert.throws(() => mfs.create("x", 1.5), RangeError);
    assert.throws(() => mfs.writeFile("x", 42 as unknown as string), TypeError);
    assert.throws(() => mfs.chmod("x", -1), RangeError);
    assert.throws(() => mfs.chown("x", 0, 0.5), RangeError);
    assert.throws(() => mfs.utimes("x", new Date(Number.NaN), 0), TypeError);
    assert.throws(() => mfs.utimes("x", 0, "yesterday" as unknown as number), TypeError);
    assert.throws(() => mfs.mkdir("x", { recursive: "yes" as unknown as boolean }), TypeError);
    assert.throws(() => new MemMapFS({ cache: { maxBytes: -1 } }), RangeError);
    assert.throws(() => new MemMapFS({ cache: 5 as unknown as false }), TypeError);
    assert.throws(() => new MemMapFS({ window: 0 }), RangeError);
    assert.throws(() => new MemMapFS({ mode: "append" as "readonly" }), TypeError);
    assert.throws(() => new MemMapFS(null as unknown as {}), TypeError);
    assert.deepEqual(fs.readdirSync(root), [], "nothing was created");
  });
});

describe("sub()", () => {
  it("confines every method below its directory", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("jail/inner", { recursive: true });
    mfs.writeFile("outside.txt", "outside");
    fs.symlinkSync("/etc", path.join(root, "jail/etc-link"));
    fs.symlinkSync(path.join(root, "outside.txt"), path.join(root, "jail/file-link"));
    fs.symlinkSync("..", path.join(root, "jail/up-link"));
    const jail = mfs.sub("jail");
    jail.writeFile("inner/ok.txt", "inside");
    assert.equal(text(jail.readFile("inner/ok.txt")), "inside");
    assert.equal(text(jail.readFile("inner/../inner/ok.txt")), "inside", "`..` that stays inside is fine");
    assert.equal(jail.readDir().length, 4);
    const escapes: [string, (target: string) => unknown][] = [
      ["open", (target) => jail.open(target)], ["readFile", (target) => jail.readFile(target)],
      ["writeFile", (target) => jail.writeFile(target, "x")], ["stat", (target) => jail.stat(target)],
      ["lstat", (target) => jail.lstat(target)], ["exists", (target) => jail.exists(target)],
      ["readDir", (target) => jail.readDir(target)], ["mkdir", (target) => jail.mkdir(`${target}/new`, { recursive: true })],
      ["remove", (target) => jail.remove(target)], ["removeAll", (target) => jail.removeAll(target)],
      ["openFile", (target) => jail.openFile(target, "w")], ["create", (target) => jail.create(target)],
      ["rename from", (target) => jail.rename(target, "inner/taken.txt")],
      ["rename to", (target) => jail.rename("inner/ok.txt", target)], ["chdir", (target) => jail.chdir(target)],
      ["truncate", (target) => jail.truncate(target, 0)], ["chmod", (target) => jail.chmod(target, 0o600)],
      ["chown", (target) => jail.chown(target, 0, 0)], ["utimes", (target) => jail.utimes(target, 1, 1)],
      ["sub", (target) => jail.sub(target)],
    ];
    // These act on a final link itself, which is inside: see the next test.
    const onTheLink = new Set(["lstat", "remove", "removeAll", "rename from", "rename to"]);
    for (const target of ["../outside.txt", "/etc/passwd", "etc-link/passwd", "file-link", "inner/../../outside.txt", "up-link/outside.txt", "/"]) {
      for (const [method, use] of escapes) {
        if (target === "file-link" && onTheLink.has(method)) continue;
        assert.throws(() => use(target), (error: unknown) =>
          error instanceof MmapError && error.code === "EACCES" && /leads outside/.test(error.message), `${method}(${target})`);
      }
    }
    assert.equal(fs.readFileSync(path.join(root, "outside.txt"), "utf8"), "outside", "nothing outside changed");
    assert.equal(text(jail.readFile(path.join(root, "jail/inner/ok.txt"))), "inside", "an absolute path inside is fine");
    assert.ok(fs.existsSync(path.join(root, "jail/inner/ok.txt")));
  });

  it("lstats, renames and removes a link inside that points outside, and never touches its target", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("jail");
    mfs.writeFile("outside.txt", "outside");
    const outsideDirectory = path.join(root, "outside-dir");
    fs.mkdirSync(outsideDirectory);
    fs.writeFileSync(path.join(outsideDirectory, "keep.txt"), "keep");
    fs.symlinkSync(path.join(root, "outside.txt"), path.join(root, "jail/file-link"));
    fs.symlinkSync(outsideDirectory, path.join(root, "jail/dir-link"));
    const jail = mfs.sub("jail");
    assert.equal(jail.lstat("file-link").isSymlink, true);
    assert.equal(jail.readDir().find((entry) => entry.name === "dir-link")?.isSymlink, true);
    jail.rename("file-link", "moved-link");
    assert.equal(fs.readlinkSync(path.join(root, "jail/moved-link")), path.join(root, "outside.txt"));
    jail.remove("moved-link");
    jail.removeAll("dir-link");
    assert.deepEqual(fs.readdirSync(path.join(root, "jail")), []);
    assert.equal(fs.readFileSync(path.join(root, "outside.txt"), "utf8"), "outside");
    assert.deepEqual(fs.readdirSync(outsideDirectory), ["keep.txt"]);
  });

  it("nests, moves its working directory inside only, and shares the parent's cache", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("a/b", { recursive: true });
    mfs.writeFile("a/b/deep.bin", pattern(50_000));
    const a = mfs.sub("a");
    const b = a.sub("b");
    assert.equal(b.cwd(), path.join(root, "a/b"));
    assert.throws(() => b.readFile("../x"), code("EACCES"));
    a.chdir("b");
    assert.deepEqual(a.readFile("deep.bin"), pattern(50_000));
    assert.throws(() => a.chdir("../.."), code("EACCES"));
    using fromParent = mfs.open("a/b/deep.bin");
    const hits = mfs.cacheStats().hits;
    using fromChild = b.open("deep.bin");
    assert.equal(mfs.cacheStats().hits, hits + 1);
    assert.throws(() => mfs.sub("a/b/deep.bin"), TypeError);
  });
});
