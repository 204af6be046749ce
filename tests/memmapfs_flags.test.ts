// MemMapFS.openFile: the node:fs / POSIX meaning of "r", "r+", "w", "w+",
// "a" and "a+" on existing and missing files, and what append mode means for
// a mapping.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type MemMapFS, MmapError, type OpenFlags } from "../mod.ts";
import { makeDirectory, pattern, freshMemMapFS, removeDirectory } from "./helpers.ts";

const top = makeDirectory("memmapfs-flags-");
after(() => removeDirectory(top));
const fresh = (options: ConstructorParameters<typeof MemMapFS>[0] = {}) => freshMemMapFS(top, options);

const code = (expected: string) => (error: unknown) => error instanceof MmapError && error.code === expected;

describe("openFile flags", () => {
  // flags, exists before, mode, size after open, what reading at 0 gives, contents after writing "XY" at position 0
  const table: [OpenFlags, boolean, string, number, string, string][] = [
    ["r", true, "readonly", 5, "hello", "hello"],
    ["r+", true, "readwrite", 5, "hello", "XYllo"],
    ["w", true, "readwrite", 0, "", "XY"],
    ["w+", true, "readwrite", 0, "", "XY"],
    ["a", true, "readwrite", 5, "hello", "helloXY"],
    ["a+", true, "readwrite", 5, "hello", "helloXY"],
    ["w", false, "readwrite", 0, "", "XY"],
    ["w+", false, "readwrite", 0, "", "XY"],
    ["a", false, "readwrite", 0, "", "XY"],
    ["a+", false, "readwrite", 0, "", "XY"],
  ];
  for (const [flags, exists, mode, size, reads, after] of table) {
    it(`"${flags}" on ${exists ? "an existing" : "a missing"} file`, () => {
      const [mfs, root] = fresh();
      if (exists) fs.writeFileSync(path.join(root, "f.txt"), "hello");
      {
        using file = mfs.openFile("f.txt", flags);
        assert.equal(file.mode, mode);
        assert.equal(file.size, size);
        const buffer = new Uint8Array(16);
        assert.equal(new TextDecoder().decode(buffer.subarray(0, file.readAt(buffer, 0))), reads);
        if (mode === "readwrite") {
          file.position = 0;
          assert.equal(file.write("XY"), 2);
        } else {
          assert.throws(() => file.write("XY"), TypeError);
        }
      }
      assert.equal(fs.readFileSync(path.join(root, "f.txt"), "utf8"), after);
    });
  }

  it('"r" and "r+" need the file to exist', () => {
    const [mfs, root] = fresh();
    for (const flags of ["r", "r+"] as const) assert.throws(() => mfs.openFile("none.txt", flags), code("ENOENT"));
    assert.deepEqual(fs.readdirSync(root), []);
  });

  it('"a" and "a+" put every write() at the end, even after a seek, and grow the file', () => {
    const [mfs, root] = fresh();
    fs.writeFileSync(path.join(root, "log.txt"), "one\n");
    using log = mfs.openFile("log.txt", "a");
    assert.equal(log.position, 4, "starts at the end");
    log.write("two\n");
    log.seek(0);
    log.write("three\n");
    assert.equal(log.position, 14);
    assert.equal(fs.readFileSync(path.join(root, "log.txt"), "utf8"), "one\ntwo\nthree\n");
    log.writeAt("ONE", 0);
    assert.equal(fs.readFileSync(path.join(root, "log.txt"), "utf8"), "ONE\ntwo\nthree\n",
      "writeAt writes where it is told: an explicit offset is not an append");
  });

  it('"a" appends through writable() streams too', async () => {
    const [mfs, root] = fresh();
    fs.writeFileSync(path.join(root, "stream.txt"), "start;");
    using file = mfs.openFile("stream.txt", "a+");
    file.seek(0);
    const writer = file.writable().getWriter();
    await writer.write(new TextEncoder().encode("streamed;"));
    await writer.close();
    assert.equal(fs.readFileSync(path.join(root, "stream.txt"), "utf8"), "start;streamed;");
  });

  it('"w" and "w+" truncate; "r+" and "a" keep the contents', () => {
    const [mfs, root] = fresh();
    const file = path.join(root, "keep.bin");
    for (const [flags, size] of [["r+", 8192], ["a", 8192], ["a+", 8192], ["w", 0], ["w+", 0]] as const) {
      fs.writeFileSync(file, pattern(8192));
      mfs.openFile("keep.bin", flags).close();
      assert.equal(fs.statSync(file).size, size, flags);
    }
  });

  it("creates with the given permissions, less the umask; an existing file keeps its mode", () => {
    const [mfs, root] = fresh();
    mfs.openFile("p.txt", "w", 0o640).close();
    assert.equal(fs.statSync(path.join(root, "p.txt")).mode & 0o777, 0o640 & ~process.umask());
    mfs.openFile("q.txt", "a").close();
    assert.equal(fs.statSync(path.join(root, "q.txt")).mode & 0o777, 0o600, "default 0600");
    mfs.openFile("p.txt", "w", 0o666).close();
    assert.equal(fs.statSync(path.join(root, "p.txt")).mode & 0o777, 0o640 & ~process.umask());
  });

  it("new and emptied files read as empty and grow on write, through windows too", () => {
    const [mfs] = fresh({ window: 4096 });
    using file = mfs.openFile("new.bin", "w+");
    assert.equal(file.read(new Uint8Array(4)), 0);
    file.write(pattern(100_000));
    assert.equal(file.size, 100_000);
    const back = new Uint8Array(100_000);
    assert.equal(file.readAt(back, 0), 100_000);
    assert.deepEqual(back, pattern(100_000));
  });

  it("uses the file system's defaults for everything the flags do not decide", () => {
    const [mfs, root] = fresh({ mode: "readonly", sync: "immediate", window: 8192 });
    fs.writeFileSync(path.join(root, "d.bin"), pattern(50_000));
    using writable = mfs.openFile("d.bin", "r+");
    assert.equal(writable.mode, "readwrite", "the flags decide the mode");
    assert.equal(writable.bytes.length, 8192, "the window comes from the defaults");
    writable.writeAt("Z", 40_000);
    assert.equal(fs.readFileSync(path.join(root, "d.bin"))[40_000], "Z".charCodeAt(0));
    using readonly = mfs.openFile("d.bin", "r");
    assert.equal(readonly.mode, "readonly");
  });
});
