// Issue 13.3: a write into a view of a read-only mapping used to kill the process (SIGSEGV).
// Read-only files are now mapped private copy-on-write with MAP_NORESERVE: a stray write stays
// in this process's copy of the page, the file never changes, remap() drops it, and a file far
// larger than RAM + swap still maps. `strictReadonly: true` keeps the PROT_READ mapping.
// Every case that wrote into a read-only view runs in a child process that must exit normally.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MemMapFS, pageSize, SharedMemory } from "../mod.ts";
import { FaultyLibc, libc } from "../src/ffi/mod.ts";
import { makeDirectory, mappingsOf, removeDirectory, runScript, smapsTotal, withLibc } from "./helpers.ts";

let directory: string;
let file: string;
const CONTENT = "record1;record2;";
before(() => {
  directory = makeDirectory();
  file = path.join(directory, "data.txt");
});
after(() => removeDirectory(directory));

/** Runs `body` in a child of this runtime (with MappedFile, MemMapFS, SharedMemory, fs and `file` in scope) and returns what it printed as JSON. */
function inChild(body: string, target = file): unknown {
  const result = runScript(`
    import { MappedFile, MemMapFS, SharedMemory } from "../mod.ts";
    import * as fs from "node:fs";
    const file = ${JSON.stringify(target)};
    const out = (() => { ${body} })();
    console.log("RESULT" + JSON.stringify(out));
  `, { timeout: 60_000 });
  assert.equal(result.signal, null, `the child died of ${result.signal}; stderr: ${result.stderr}`);
  assert.equal(result.status, 0, `stderr: ${result.stderr}`);
  const line = result.stdout.split("\n").find((l) => l.startsWith("RESULT"));
  assert.ok(line, `no result; stdout: ${result.stdout}`);
  return JSON.parse(line.slice("RESULT".length));
}

/** The permission column of this process's mappings of `target` ("rw-p", "r--s"…). */
function permissions(target: string): string[] {
  return mappingsOf(target).map((line) => line.split(/\s+/)[1]);
}

describe("a stray write into a read-only view stays in the process", () => {
  it("MappedFile.open(path).bytes[0] = 1: the child lives, sees its write, the file is unchanged", () => {
    fs.writeFileSync(file, CONTENT);
    const seen = inChild(`
      const mapped = MappedFile.open(file);
      mapped.bytes[0] = 0x52;
      const after = String.fromCharCode(mapped.getUint8(0));
      mapped.sync(); // a read-only sync keeps its contract: nothing to write, no error
      mapped.close();
      return after;
    `);
    assert.equal(seen, "R");
    assert.equal(fs.readFileSync(file, "utf8"), CONTENT);
  });

  it("remap() drops the stray write: the file's bytes show again", () => {
    fs.writeFileSync(file, CONTENT);
    const seen = inChild(`
      const mapped = MappedFile.open(file);
      mapped.subarray(8, 9)[0] = 0x52;
      const before = String.fromCharCode(mapped.getUint8(8));
      mapped.remap();
      return [before, String.fromCharCode(mapped.getUint8(8))];
    `);
    assert.deepEqual(seen, ["R", "r"]);
  });

  it("through MemMapFS.open, cached and uncached, and a windowed read-only open", () => {
    fs.writeFileSync(file, CONTENT);
    const seen = inChild(`
      const dir = file.slice(0, file.lastIndexOf("/"));
      const name = file.slice(dir.length + 1);
      const results = [];
      for (const options of [{}, { cache: false }, { window: 4096 }]) {
        const memfs = new MemMapFS({ root: dir, ...options });
        const handle = memfs.open(name);
        handle.bytes[1] = 0x45;
        results.push(String.fromCharCode(handle.getUint8(1)));
        handle.close();
        memfs.close();
      }
      return results;
    `);
    assert.deepEqual(seen, ["E", "E", "E"]);
    assert.equal(fs.readFileSync(file, "utf8"), CONTENT);
  });

  it("lock() makes a read-only mapping PROT_READ while locked (mlock would copy every page of a writable one); unlock() restores it", () => {
    fs.writeFileSync(file, CONTENT);
    using mapped = MappedFile.open(file);
    assert.deepEqual(permissions(file), ["rw-p"]);
    mapped.lock();
    assert.deepEqual(permissions(file), ["r--p"]);
    mapped.unlock();
    assert.deepEqual(permissions(file), ["rw-p"]);
  });

  it("SharedMemory.open(readonly) maps the same way", () => {
    const region = SharedMemory.create({ path: path.join(directory, "region.bin"), size: 4096 });
    try {
      using reader = SharedMemory.open(region.path!, { readonly: true });
      assert.deepEqual(permissions(region.path!).sort(), ["rw-p", "rw-s"]);
      reader.bytes[0] = 9;
      assert.equal(region.bytes[0], 0);
    } finally {
      region.close();
      region.unlink();
    }
  });
});

describe("the private mapping costs nothing it should not", () => {
  it("populate and lock prefault without copying the file into anonymous memory", () => {
    fs.writeFileSync(file, new Uint8Array(64 * pageSize).fill(3));
    for (const options of [{ populate: true }, { lock: true }, { populate: true, lock: true }]) {
      using mapped = MappedFile.open(file, options);
      assert.equal(smapsTotal(file, "Anonymous"), 0, `${JSON.stringify(options)} copied pages`);
      assert.equal(smapsTotal(file, "Rss"), 64 * pageSize / 1024, `${JSON.stringify(options)} faulted every page in`);
      assert.equal(mapped.getUint8(64 * pageSize - 1), 3);
    }
  });

  it("a 64 GiB sparse file maps copy-on-write (MAP_NORESERVE: no commit charge) and takes a stray write at its end", () => {
    const huge = path.join(directory, "sparse-64g.bin");
    fs.closeSync(fs.openSync(huge, "w"));
    fs.truncateSync(huge, 64 * 2 ** 30);
    const seen = inChild(`
      const mapped = MappedFile.open(file);
      const maps = fs.readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => l.endsWith(file));
      const tail = mapped.subarray(mapped.size - 10, mapped.size); // Bun: a view over 4 GiB is a RangeError
      tail[9] = 7;
      const last = mapped.getUint8(mapped.size - 1);
      mapped.close();
      return { size: mapped.size, last, permissions: maps.map((l) => l.split(/\\s+/)[1]) };
    `, huge);
    assert.deepEqual(seen, { size: 64 * 2 ** 30, last: 7, permissions: ["rw-p"] });
    const fd = fs.openSync(huge, "r");
    const tail = Buffer.alloc(1);
    fs.readSync(fd, tail, 0, 1, 64 * 2 ** 30 - 1);
    fs.closeSync(fd);
    assert.equal(tail[0], 0, "the file is unchanged");
    assert.equal(fs.statSync(huge).size, 64 * 2 ** 30);
    fs.rmSync(huge);
  });
});

describe("strictReadonly: the PROT_READ mapping, for where the cost matters", () => {
  it("maps read-only and shared, through MappedFile and MemMapFS (which then skips its cache)", () => {
    fs.writeFileSync(file, CONTENT);
    using strict = MappedFile.open(file, { strictReadonly: true });
    assert.deepEqual(permissions(file), ["r--s"]);
    strict.close();
    const memfs = new MemMapFS({ root: directory, strictReadonly: true });
    using handle = memfs.open(path.basename(file));
    assert.deepEqual(permissions(file), ["r--s"]);
    assert.equal(memfs.cacheStats().files, 0);
    handle.close();
    // Other modes ignore it, so it can be a MemMapFS default.
    using writer = memfs.open(path.basename(file), { mode: "readwrite" });
    assert.deepEqual(permissions(file), ["rw-s"]);
    writer.close();
    memfs.close();
  });

  it("a strict mapping still kills a writer: the documented cost of asking for it", () => {
    fs.writeFileSync(file, CONTENT);
    const result = runScript(`
      import { MappedFile } from "../mod.ts";
      MappedFile.open(${JSON.stringify(file)}, { strictReadonly: true }).bytes[0] = 1;
    `);
    assert.ok(result.status !== 0, `the child exited ${result.status}, signal ${result.signal}`);
  });

  it("where the kernel refuses the private mapping (strict overcommit), the strict one is made", () => {
    fs.writeFileSync(file, CONTENT);
    const faulty = new FaultyLibc(libc());
    faulty.fail("mmap", { errno: 12 });
    withLibc(faulty, () => {
      using mapped = MappedFile.open(file);
      assert.deepEqual(permissions(file), ["r--s"]);
      assert.equal(mapped.getUint8(0), "r".charCodeAt(0));
    });
    assert.equal(faulty.calls("mmap"), 2);
  });
});
