// The Windows DirectoryRoot (src/os/windows/windows_root.ts) under Wine:
// paths resolved beneath a held directory, `..` kept inside, every file
// operation MemMapFS needs, and errors under POSIX names.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MmapError } from "../mod.ts";
import { onWindows } from "../src/ffi/mod.ts";
import type { DirectoryRoot, RootPlace } from "../src/os/platform.ts";
import { windowsPlatform, type WindowsPlatform } from "../src/os/windows/windows_platform.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";

const skip = !onWindows() && "Windows only (the Windows leg runs it under Wine)";

describe("the Windows directory root", { skip }, () => {
  let os: WindowsPlatform;
  let top: string;
  let base: string;
  let root: DirectoryRoot;
  const at = (relative: string): RootPlace => ({ relative, display: path.join(base, relative) });
  const codeOf = (work: () => unknown) => {
    try {
      work();
    } catch (error) {
      assert.ok(error instanceof MmapError, String(error));
      return error.code;
    }
    assert.fail("expected an MmapError");
  };

  before(() => {
    os = windowsPlatform();
    top = makeDirectory("memmapfs-winroot-");
    base = path.join(top, "base");
    fs.mkdirSync(base);
    fs.writeFileSync(path.join(top, "outside.txt"), "secret");
    root = os.openRoot(base);
  });
  after(() => {
    root.close();
    removeDirectory(top);
  });

  it("is confined to the directory it holds", () => {
    assert.equal(root.confined, true);
    assert.equal(root.closed, false);
    assert.equal(os.unconfinedRoot().confined, false);
  });

  it("writes a file whole, reads it back, and stats it", () => {
    root.writeFile(at("a.txt"), new TextEncoder().encode("hello"), 0o644);
    assert.equal(new TextDecoder().decode(root.readFile(at("a.txt"))), "hello");
    root.writeFile(at("a.txt"), new TextEncoder().encode("replaced"), 0o644);
    assert.equal(fs.readFileSync(path.join(base, "a.txt"), "utf8"), "replaced");
    const stat = root.stat(at("a.txt"), true);
    assert.equal(stat.kind, "file");
    assert.equal(stat.size, 8);
    assert.equal(root.stat(at(""), true).kind, "directory");
    assert.deepEqual(fs.readdirSync(base).filter((name) => name.endsWith(".tmp")), [], "no temporary left behind");
  });

  it("keeps .. inside: climbing out of the root is EACCES, not the file above", () => {
    assert.equal(codeOf(() => root.readFile(at("../outside.txt"))), "EACCES");
    assert.equal(codeOf(() => root.openFile(at("sub/../../outside.txt"), { write: false })), "EACCES");
    assert.equal(codeOf(() => root.stat(at(".."), true)), "EACCES");
    // .. that stays inside is fine.
    root.mkdir(at("d1"), 0o755, false);
    assert.equal(new TextDecoder().decode(root.readFile(at("d1/../a.txt"))), "replaced");
  });

  it("opens files beneath it; a directory opened for writing is EISDIR, a missing file ENOENT", () => {
    const handle = root.openFile(at("a.txt"), { write: false });
    assert.equal(os.stat(handle, null).size, 8);
    os.closeFile(handle, null);
    const created = root.openFile(at("new.bin"), { write: true, create: "exclusive" });
    os.closeFile(created, null);
    assert.equal(codeOf(() => root.openFile(at("new.bin"), { write: true, create: "exclusive" })), "EEXIST");
    assert.equal(codeOf(() => root.openFile(at("d1"), { write: true })), "EISDIR");
    assert.equal(codeOf(() => root.openFile(at("nothing.bin"), { write: false })), "ENOENT");
  });

  it("makes directories (recursively), lists them sorted with their kinds, renames and removes", () => {
    root.mkdir(at("x/y/z"), 0o755, true);
    root.mkdir(at("x/y/z"), 0o755, true);
    assert.equal(codeOf(() => root.mkdir(at("x"), 0o755, false)), "EEXIST");
    root.writeFile(at("x/b.txt"), new Uint8Array([1]), 0o644);
    root.writeFile(at("x/a.txt"), new Uint8Array([2]), 0o644);
    assert.deepEqual(root.readDir(at("x")), [
      { name: "a.txt", kind: "file" },
      { name: "b.txt", kind: "file" },
      { name: "y", kind: "directory" },
    ]);
    root.rename(at("x/a.txt"), at("x/c.txt"));
    assert.deepEqual(root.readDir(at("x")).map((entry) => entry.name), ["b.txt", "c.txt", "y"]);
    root.rename(at("x/b.txt"), at("x/c.txt"));
    assert.deepEqual([...root.readFile(at("x/c.txt"))], [1], "rename replaces the target");
    assert.equal(codeOf(() => root.remove(at("x"))), "ENOTEMPTY");
    root.remove(at("x/c.txt"));
    assert.equal(codeOf(() => root.remove(at("x/c.txt"))), "ENOENT");
    root.removeAll(at("x"));
    assert.equal(fs.existsSync(path.join(base, "x")), false);
    root.removeAll(at("x"));
  });

  it("cuts a file after showing the caller what it opened", () => {
    root.writeFile(at("cut.bin"), new Uint8Array(1000), 0o644);
    let seen = -1;
    root.truncate(at("cut.bin"), 10, (stat) => {
      seen = stat.size;
    });
    assert.equal(seen, 1000);
    assert.equal(fs.statSync(path.join(base, "cut.bin")).size, 10);
    assert.throws(() => root.truncate(at("cut.bin"), 5, () => {
      throw new RangeError("refused");
    }), RangeError);
    assert.equal(fs.statSync(path.join(base, "cut.bin")).size, 10, "a refusal cuts nothing");
    assert.equal(codeOf(() => root.truncate(at("d1"), 0)), "EINVAL");
  });

  it("keeps Windows' one permission bit, sets times, and refuses to give files to uids", () => {
    root.writeFile(at("mode.txt"), new Uint8Array([1]), 0o644);
    root.chmod(at("mode.txt"), 0o444);
    assert.equal(root.stat(at("mode.txt"), true).mode & 0o777, 0o444);
    // A read-only file can still be removed, as POSIX unlink allows.
    root.chmod(at("mode.txt"), 0o644);
    assert.equal(root.stat(at("mode.txt"), true).mode & 0o777, 0o666);
    const when = 1_600_000_000_000_000_000n;
    root.utimes(at("mode.txt"), when, when);
    assert.equal(root.stat(at("mode.txt"), true).mtimeNs, when);
    root.chown(at("mode.txt"), -1, -1);
    assert.equal(codeOf(() => root.chown(at("mode.txt"), 1000, 1000)), "ENOTSUP");
    root.chmod(at("mode.txt"), 0o444);
    root.remove(at("mode.txt"));
    assert.equal(fs.existsSync(path.join(base, "mode.txt")), false);
  });

  it("opens a root beneath it that stays confined to itself", () => {
    root.mkdir(at("inner"), 0o755, false);
    root.writeFile(at("inner/f.txt"), new Uint8Array([5]), 0o644);
    const inner = root.openBelow(at("inner"));
    try {
      assert.deepEqual([...inner.readFile({ relative: "f.txt", display: "f.txt" })], [5]);
      assert.equal(codeOf(() => inner.readFile({ relative: "../a.txt", display: "../a.txt" })), "EACCES");
    } finally {
      inner.close();
    }
    assert.equal(codeOf(() => root.openBelow(at("a.txt"))), "ENOTDIR");
  });

  it("refuses what a link leads to outside the root (EACCES), and follows links that stay inside", () => {
    // Made by scripts/windows.mjs on the Linux side: Unix symlinks, which Wine follows as Windows follows links.
    const fixture = process.env.MEMMAPFS_WINE_LINKS;
    assert.ok(fixture, "the Windows leg sets MEMMAPFS_WINE_LINKS");
    const linked = os.openRoot(path.join(fixture, "base"));
    const place = (relative: string) => ({ relative, display: relative });
    try {
      assert.equal(new TextDecoder().decode(linked.readFile(place("inner-link.txt"))), "inside");
      assert.equal(codeOf(() => linked.readFile(place("file-link.txt"))), "EACCES");
      assert.equal(codeOf(() => linked.readFile(place("up/outside.txt"))), "EACCES");
      assert.equal(codeOf(() => linked.openFile(place("file-link.txt"), { write: false })), "EACCES");
      assert.equal(codeOf(() => linked.stat(place("up"), true)), "EACCES");
      assert.equal(codeOf(() => linked.openBelow(place("up"))), "EACCES");
      assert.equal(codeOf(() => linked.truncate(place("file-link.txt"), 0)), "EACCES");
      assert.equal(fs.readFileSync(path.join(fixture, "outside.txt"), "utf8"), "outside", "nothing outside was cut");
    } finally {
      linked.close();
    }
  });

  it("refuses every call once closed (EBADF)", () => {
    const other = os.openRoot(base);
    other.close();
    other.close();
    assert.equal(other.closed, true);
    assert.equal(codeOf(() => other.readFile(at("a.txt"))), "EBADF");
  });
});
