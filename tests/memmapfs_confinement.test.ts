// Confinement without a race (issue 12): `root` confines exactly as sub()
// does; `..`, absolute paths and links to outside are refused, links inside
// are followed; a chain of links whose resolution is longer than PATH_MAX
// cannot carry a path outside; a root is the directory it was at
// construction, whatever its path names later; a sub() made while its
// directory is being swapped for a link never lands outside; hard links made
// by someone else are the documented limit. Each runs with openat2 and with
// the openat walk forced.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MemMapFS, MmapError } from "../mod.ts";
import { exchangeLoop, kernelHasOpenat2, makeOutside, type Resolution, SECRET, whileSwapping, withResolution } from "./confinement_helpers.ts";
import { makeDirectory, newDescriptors, openDescriptors, removeDirectory, withLibc } from "./helpers.ts";
import { FaultyLibc, libc } from "../src/ffi/mod.ts";

const top = makeDirectory("memmapfs-confine-");
after(() => removeDirectory(top));
let serial = 0;

const escape = (error: unknown) => error instanceof MmapError && error.code === "EACCES" && /leads outside/.test(error.message);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A fresh box with an outside beside it. */
function world() {
  const base = path.join(top, `world-${serial++}`);
  fs.mkdirSync(base);
  const outside = makeOutside(base);
  const box = path.join(base, "box");
  fs.mkdirSync(box);
  return { base, box, outside };
}

/** Every method of `mfs` applied to `target`, as [name, call]. */
function everyMethod(mfs: MemMapFS): [string, (target: string) => unknown][] {
  return [
    ["open", (t) => mfs.open(t)], ["readFile", (t) => mfs.readFile(t)], ["writeFile", (t) => mfs.writeFile(t, "x")],
    ["stat", (t) => mfs.stat(t)], ["exists", (t) => mfs.exists(t)], ["readDir", (t) => mfs.readDir(t)],
    ["mkdir", (t) => mfs.mkdir(`${t}/new`, { recursive: true })], ["openFile w", (t) => mfs.openFile(t, "w")],
    ["openFile a+", (t) => mfs.openFile(t, "a+")], ["create", (t) => mfs.create(t)], ["truncate", (t) => mfs.truncate(t, 0)],
    ["chmod", (t) => mfs.chmod(t, 0o600)], ["chown", (t) => mfs.chown(t, -1, -1)], ["utimes", (t) => mfs.utimes(t, 1, 1)],
    ["chdir", (t) => mfs.chdir(t)], ["sub", (t) => mfs.sub(t)],
  ];
}

for (const resolution of ["openat2", "walk"] as Resolution[]) {
  const skip = resolution === "openat2" && !kernelHasOpenat2() ? "this kernel has no openat2" : false;

  describe(`confinement, resolved with ${resolution}`, { skip }, () => {
    it("new MemMapFS({ root }) confines exactly as sub() does: .., absolute paths and links out are EACCES", async () => {
      const { box, outside } = world();
      fs.mkdirSync(path.join(box, "inner"));
      fs.writeFileSync(path.join(box, "inner", "ok.txt"), "inside");
      fs.symlinkSync(outside.directory, path.join(box, "dir-link"));
      fs.symlinkSync(outside.canary, path.join(box, "file-link"));
      fs.symlinkSync("../outside/secret.txt", path.join(box, "relative-link"));
      fs.symlinkSync("..", path.join(box, "up-link"));
      fs.symlinkSync("inner/ok.txt", path.join(box, "inside-link"));
      fs.symlinkSync("../inner/ok.txt", path.join(box, "inner", "back-link"));
      const before = outside.snapshot();
      await withResolution(resolution, () => {
        const direct = new MemMapFS({ root: box });
        const parent = new MemMapFS({ root: path.dirname(box) });
        const viaSub = parent.sub("box");
        for (const mfs of [direct, viaSub]) {
          const targets = [
            "../outside/secret.txt", "inner/../../outside/secret.txt", outside.canary, "/etc/hostname", "/",
            "dir-link/secret.txt", "file-link", "relative-link", "up-link/outside/secret.txt",
            "../../../../../../../../etc/hostname",
          ];
          for (const target of targets) {
            for (const [method, use] of everyMethod(mfs)) {
              assert.throws(() => use(target), escape, `${method}(${target})`);
            }
          }
          // Links that stay inside are followed, as node:fs follows them.
          assert.equal(text(mfs.readFile("inside-link")), "inside");
          assert.equal(text(mfs.readFile("inner/back-link")), "inside");
          assert.equal(text(mfs.readFile("inner/../inner/ok.txt")), "inside");
          using mapped = mfs.open("inner/back-link");
          assert.equal(text(mapped.bytes), "inside");
          assert.equal(text(mfs.readFile(path.join(box, "inner/ok.txt"))), "inside", "an absolute path inside is fine");
          assert.equal(mfs.stat("inside-link").isFile, true);
          // The links themselves live inside: lstat sees them.
          assert.equal(mfs.lstat("file-link").isSymlink, true);
        }
        parent.close();
        direct.close();
      });
      assert.equal(outside.snapshot(), before, "nothing outside changed");
      assert.equal(fs.readFileSync(path.join(box, "inner", "ok.txt"), "utf8"), "inside");
    });

    it("a chain of links whose resolution is longer than PATH_MAX leads nowhere outside", async () => {
      const { box, outside } = world();
      fs.writeFileSync(path.join(box, "target.txt"), "end of the inside chain");
      // Each link's target is padded with "./" so the chain's text passes 4096 bytes well before its end.
      const pad = "./".repeat(150);
      const links = 30;
      for (const [prefix, last] of [["out", "../outside/secret.txt"], ["in", "target.txt"]]) {
        for (let i = 0; i < links; i++) {
          const target = i === links - 1 ? `${pad}${last}` : `${pad}${prefix}-${i + 1}`;
          fs.symlinkSync(target, path.join(box, `${prefix}-${i}`));
        }
      }
      // A directory chain too: every component is a link, their text far past PATH_MAX.
      fs.symlinkSync(`${pad}../outside`, path.join(box, "dir-0"));
      const before = outside.snapshot();
      await withResolution(resolution, () => {
        const mfs = new MemMapFS({ root: box });
        for (const [method, use] of everyMethod(mfs)) {
          assert.throws(() => use("out-0"), escape, `${method}(out-0)`);
          assert.throws(() => use("dir-0/secret.txt"), escape, `${method}(dir-0/secret.txt)`);
        }
        assert.equal(text(mfs.readFile("in-0")), "end of the inside chain", "a long chain inside still works");
        mfs.close();
      });
      assert.equal(outside.snapshot(), before);
    });

    it("the root is the directory it was at construction: a later swap of its path changes nothing", async () => {
      const { base, outside } = world();
      const rootPath = path.join(base, "served");
      fs.mkdirSync(rootPath);
      const before = outside.snapshot();
      await withResolution(resolution, () => {
        const mfs = new MemMapFS({ root: rootPath });
        mfs.writeFile("first.txt", "1");
        // Someone moves the directory away and puts a link to outside in its place.
        fs.renameSync(rootPath, path.join(base, "moved"));
        fs.symlinkSync(outside.directory, rootPath);
        mfs.writeFile("second.txt", "2");
        assert.deepEqual(mfs.readDir().map((entry) => entry.name), ["first.txt", "second.txt"]);
        assert.throws(() => mfs.readFile("secret.txt"), (error: unknown) => error instanceof MmapError && error.code === "ENOENT");
        mfs.close();
        assert.throws(() => mfs.readDir(), (error: unknown) => (error as Error).name === "ClosedError", "closed, it does nothing");
      });
      assert.deepEqual(fs.readdirSync(path.join(base, "moved")).sort(), ["first.txt", "second.txt"]);
      assert.equal(outside.snapshot(), before);
    });

    it("a sub() made while its directory is swapped for a link to outside never lands outside", async (t) => {
      const binary = exchangeLoop(top);
      if (!binary) return t.skip("no cc to build the attacker");
      const { box, outside } = world();
      fs.mkdirSync(path.join(box, "root"));
      fs.writeFileSync(path.join(box, "root", "inside.txt"), "inside");
      fs.symlinkSync(outside.directory, path.join(box, "root-swap"));
      const before = outside.snapshot();
      const descriptors = openDescriptors();
      const { result } = await withResolution(resolution, () =>
        whileSwapping(binary, box, [["root", "root-swap"]], () => {
          const parent = new MemMapFS({ root: box });
          let made = 0;
          let refused = 0;
          const end = Date.now() + 400;
          while (Date.now() < end) {
            try {
              using sub = parent.sub("root");
              made++;
              // Whatever happens to the name "root" from now on, the sub holds the real directory.
              sub.writeFile(`probe-${made}.txt`, "probe");
              assert.deepEqual(sub.readDir().map((entry) => entry.name).filter((name) => !name.startsWith("probe-")), ["inside.txt"]);
            } catch (error) {
              if (!(error instanceof MmapError)) throw error;
              refused++;
            }
          }
          parent.close();
          return { made, refused };
        })
      );
      assert.ok(result.made > 0, "some subs were made while the real directory was in place");
      assert.equal(outside.snapshot(), before, "no probe was written outside");
      const real = fs.lstatSync(path.join(box, "root")).isDirectory() ? "root" : "root-swap";
      assert.equal(fs.readdirSync(path.join(box, real)).filter((name) => name.startsWith("probe-")).length, result.made);
      // Only descriptors of the box count: Bun closes a finished child's pipes lazily.
      const held = newDescriptors(descriptors).filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(box);
        } catch {
          return false;
        }
      });
      assert.deepEqual(held, [], "every sub's directory descriptor was closed");
    });

    it("a hard link someone else made into the box reaches the outside file: the documented limit", async (t) => {
      const { box, outside } = world();
      try {
        fs.linkSync(outside.canary, path.join(box, "hard-link"));
      } catch (error) {
        // fs.protected_hardlinks or another file system may refuse: then nothing to show.
        return t.skip(`cannot make the hard link here: ${(error as Error).message}`);
      }
      await withResolution(resolution, () => {
        const mfs = new MemMapFS({ root: box });
        // A hard link is a name inside for the very same inode: no path resolution can tell.
        assert.equal(text(mfs.readFile("hard-link")), SECRET);
        assert.equal(mfs.stat("hard-link").ino, fs.statSync(outside.canary).ino);
        // Removing the name inside leaves the outside file alone.
        mfs.remove("hard-link");
        mfs.close();
      });
      assert.equal(fs.readFileSync(outside.canary, "utf8"), SECRET);
    });
  });
}

describe("openat2 answers", { skip: kernelHasOpenat2() ? false : "this kernel has no openat2" }, () => {
  const errno = (name: string) => Number(Object.entries(libc().constants.errnoNames).find(([, n]) => n === name)![0]);

  it("EAGAIN (a rename raced the lookup) is retried; EPERM on every call (a seccomp filter) falls back to the walk", () => {
    const { box, outside } = world();
    fs.writeFileSync(path.join(box, "a.txt"), "inside");
    const racing = new FaultyLibc(libc());
    racing.fail("openat2", { nth: 1, errno: errno("EAGAIN") });
    withLibc(racing, () => {
      const mfs = new MemMapFS({ root: box });
      assert.equal(text(mfs.readFile("a.txt")), "inside");
      assert.equal(racing.calls("openat2"), 2, "failed once, retried once");
      mfs.close();
    });
    const filtered = new FaultyLibc(libc());
    // The first call and the probe that follows it both fail: openat2 is refused, not this path.
    filtered.fail("openat2", { nth: 1, errno: errno("EPERM") });
    filtered.fail("openat2", { nth: 2, errno: errno("EPERM") });
    withLibc(filtered, () => {
      const mfs = new MemMapFS({ root: box });
      assert.equal(text(mfs.readFile("a.txt")), "inside");
      assert.throws(() => mfs.readFile("../outside/secret.txt"), escape);
      fs.symlinkSync(outside.canary, path.join(box, "out"));
      assert.throws(() => mfs.readFile("out"), escape);
      assert.equal(filtered.calls("openat2"), 2, "after the probe, only the walk");
      mfs.close();
    });
  });
});

describe("openFile flags (issue 13.9)", () => {
  it("\"a+\" reads from the start like node:fs, \"a\" starts at the end; both append writes", () => {
    const { box } = world();
    const mfs = new MemMapFS({ root: box });
    mfs.writeFile("log.txt", "first\n");
    {
      using both = mfs.openFile("log.txt", "a+");
      assert.equal(both.position, 0);
      const head = new Uint8Array(5);
      assert.equal(both.read(head), 5);
      assert.equal(text(head), "first");
      both.write("second\n");
    }
    {
      using append = mfs.openFile("log.txt", "a");
      assert.equal(append.position, "first\nsecond\n".length);
    }
    assert.equal(fs.readFileSync(path.join(box, "log.txt"), "utf8"), "first\nsecond\n");
    // node:fs agrees: "a+" reads from 0.
    const fd = fs.openSync(path.join(box, "log.txt"), "a+");
    const nodeHead = Buffer.alloc(5);
    fs.readSync(fd, nodeHead, 0, 5, null);
    fs.closeSync(fd);
    assert.equal(nodeHead.toString(), "first");
    mfs.close();
  });

  it("openFile without flags is a TypeError naming the argument, before any system call", () => {
    const { box } = world();
    const mfs = new MemMapFS({ root: box });
    assert.throws(() => (mfs.openFile as (path: string) => unknown)("x"), (error: unknown) =>
      error instanceof TypeError && /^Flags is required/.test(error.message) && !/undefined undefined/.test(error.message));
    assert.deepEqual(fs.readdirSync(box), []);
    mfs.close();
  });
});
