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

  it("a cached handle keeps blocking after the cache let go of its entry", () => {
    const [mfs] = fresh({ cache: { maxFiles: 1 } });
    mfs.writeFile("a.bin", pattern(8192));
    mfs.writeFile("b.bin", pattern(8192));
    const first = mfs.open("a.bin");
    const second = mfs.open("a.bin");
    mfs.open("b.bin").close(); // evicts a.bin: the cache's claim on its mapping goes
    assert.equal(mfs.cacheStats().evictions, 1);
    assert.throws(() => mfs.truncate("a.bin", 0), (error: unknown) => busy(error) && /2 open/.test((error as Error).message));
    first.close();
    assert.throws(() => mfs.truncate("a.bin", 0), (error: unknown) => busy(error) && /1 open/.test((error as Error).message));
    second.close();
    mfs.truncate("a.bin", 0);
    // A cached entry with no handle out blocks nothing either.
    mfs.truncate("b.bin", 0);
  });

  it("a cached handle dropped without close() while its view lives on still blocks, after a collection too", () => {
    const [, root] = fresh();
    fs.writeFileSync(path.join(root, "kept.bin"), pattern(64 * 1024));
    const result = runScript(`
      import * as v8 from "node:v8";
      import * as vm from "node:vm";
      import { MemMapFS } from "../mod.ts";
      const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
      const collect = bun ? () => bun.gc(true)
        : (globalThis as { gc?: () => void }).gc ?? (v8.setFlagsFromString("--expose-gc"), vm.runInNewContext("gc"));
      const mfs = new MemMapFS({ root: ${JSON.stringify(root)} });
      const view = mfs.open("kept.bin").bytes; // the handle itself is unreachable from here on
      for (let round = 0; round < 3; round++) {
        await new Promise((resolve) => setTimeout(resolve, 0)); // a new job: nothing keeps the handle alive
        collect();
      }
      try { mfs.truncate("kept.bin", 0); console.log("cut"); } catch (error) { console.log(error.code); }
      console.log(view[60000]);
    `, { env: { DENO_V8_FLAGS: "--expose-gc" } });
    assert.equal(result.signal, null, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines[0], "EBUSY", result.stdout + result.stderr);
    assert.equal(Number(lines[1]), pattern(60001)[60000]);
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
