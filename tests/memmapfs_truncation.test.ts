// MemMapFS never cuts a file short under a handle it gave out: touching a
// mapped page past the end of its file raises SIGBUS, which kills the process
// in every JavaScript runtime. truncate, "w"/"w+" and create refuse with EBUSY
// instead; removing, renaming and writeFile (an atomic replace) stay allowed
// because the old inode lives on while mapped.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type MemMapFS, MmapError } from "../mod.ts";
import { makeDirectory, pattern, freshMemMapFS, removeDirectory, runScript } from "./helpers.ts";

const top = makeDirectory("memmapfs-cut-");
after(() => removeDirectory(top));
const fresh = (options: ConstructorParameters<typeof MemMapFS>[0] = {}) => freshMemMapFS(top, options);

const busy = (error: unknown) => error instanceof MmapError && error.code === "EBUSY" && /SIGBUS/.test(error.message);

describe("cutting a mapped file", () => {
  it("truncate below what a cached handle maps is EBUSY; at or above it, or after close, it is fine", () => {
    const [mfs, root] = fresh();
    mfs.writeFile("data.bin", pattern(64 * 1024));
    const file = mfs.open("data.bin");
    const view = file.bytes;
    assert.throws(() => mfs.truncate("data.bin", 0), busy);
    assert.throws(() => mfs.truncate("data.bin", 64 * 1024 - 1), busy);
    assert.equal(fs.statSync(path.join(root, "data.bin")).size, 64 * 1024, "nothing was cut");
    mfs.truncate("data.bin", 64 * 1024);
    mfs.truncate("data.bin", 128 * 1024);
    assert.deepEqual(view.subarray(0, 100), pattern(100), "the view never faulted");
    file.close();
    mfs.truncate("data.bin", 0);
    assert.equal(fs.statSync(path.join(root, "data.bin")).size, 0);
  });

  it('"w", "w+" and create refuse while a handle maps the file', () => {
    const [mfs, root] = fresh();
    mfs.writeFile("page.html", "<html>…</html>");
    using reader = mfs.open("page.html");
    for (const use of [() => mfs.openFile("page.html", "w"), () => mfs.openFile("page.html", "w+"), () => mfs.create("page.html")]) {
      assert.throws(use, busy);
    }
    assert.equal(fs.readFileSync(path.join(root, "page.html"), "utf8"), "<html>…</html>");
    mfs.openFile("page.html", "a").close();
    mfs.openFile("page.html", "r+").close();
    mfs.writeFile("page.html", "<html>new</html>");
    assert.equal(new TextDecoder().decode(reader.bytes), "<html>…</html>", "writeFile replaced it; the handle keeps the old bytes");
    mfs.openFile("page.html", "w").close();
    assert.equal(fs.statSync(path.join(root, "page.html")).size, 0, "the new file is not mapped: it may be cut");
  });

  it("counts read-write, windowed and offset handles by the range they map", () => {
    const [mfs] = fresh();
    mfs.writeFile("big.bin", pattern(100_000));
    const writer = mfs.openFile("big.bin", "r+");
    assert.throws(() => mfs.truncate("big.bin", 50_000), busy);
    writer.resize(40_000);
    mfs.truncate("big.bin", 40_000);
    writer.close();
    const windowed = mfs.open("big.bin", { window: 4096, offset: 8192, length: 8192 });
    assert.throws(() => mfs.truncate("big.bin", 16_383), busy);
    mfs.truncate("big.bin", 16_384);
    windowed.close();
    mfs.truncate("big.bin", 0);
  });

  it("follows links and hard links to the inode, and sub() shares the guard", () => {
    const [mfs, root] = fresh();
    mfs.mkdir("inner");
    mfs.writeFile("inner/real.bin", pattern(10_000));
    fs.symlinkSync("real.bin", path.join(root, "inner/link.bin"));
    fs.linkSync(path.join(root, "inner/real.bin"), path.join(root, "inner/hard.bin"));
    const inner = mfs.sub("inner");
    using file = inner.open("link.bin");
    for (const name of ["inner/real.bin", "inner/link.bin", "inner/hard.bin"]) assert.throws(() => mfs.truncate(name, 0), busy, name);
    assert.throws(() => inner.truncate("real.bin", 0), busy);
  });

  it("closed and forgotten handles do not block", () => {
    const [mfs] = fresh();
    mfs.writeFile("f.bin", pattern(8192));
    for (let i = 0; i < 1000; i++) mfs.open("f.bin").close();
    mfs.truncate("f.bin", 0);
  });

  it("without the guard the process would die: a child that cuts under its own view is killed by SIGBUS", () => {
    const [, root] = fresh();
    fs.writeFileSync(path.join(root, "victim.bin"), pattern(64 * 1024));
    const result = runScript(`
      import * as fs from "node:fs";
      import { MemMapFS } from "../mod.ts";
      const mfs = new MemMapFS({ root: ${JSON.stringify(root)} });
      const view = mfs.open("victim.bin").bytes;
      try { mfs.truncate("victim.bin", 0); } catch (error) { console.log(error.code); }
      console.log(view[60000]);
      fs.truncateSync(${JSON.stringify(path.join(root, "victim.bin"))}, 0); // behind MemMapFS's back
      console.log(view[60000]);
      console.log("survived");
    `);
    assert.equal(result.stdout.split("\n")[0], "EBUSY", result.stderr);
    assert.equal(Number(result.stdout.split("\n")[1]), pattern(60001)[60000]);
    assert.ok(!result.stdout.includes("survived"), "an outside cut is beyond any guard");
    assert.ok(result.signal === "SIGBUS" || result.status === 135 || result.status === 128 + 7, `${result.status} ${result.signal}`);
  });
});
