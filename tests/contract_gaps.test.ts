// Issue 13.9: the smaller contract gaps. A start past the end is a RangeError for advise() and
// sync() as for subarray(); a /proc file that fstat calls empty is refused, never mapped as an
// empty file; a misspelt option is a TypeError naming it; MemMapFS.open(directory) is EISDIR.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile, MappedFile, MemMapFS, MmapError, SharedMemory } from "../mod.ts";
import { FaultyLibc, libc } from "../src/ffi/mod.ts";
import { makeDirectory, openDescriptors, removeDirectory, withLibc } from "./helpers.ts";

let directory: string;
let file: string;
before(() => {
  directory = makeDirectory();
  file = path.join(directory, "data.bin");
});
after(() => removeDirectory(directory));

describe("a start past the end is a RangeError", () => {
  it("advise(advice, offset) with offset past the end; at the end it is an empty range", () => {
    fs.writeFileSync(file, "record1;");
    using mapped = MappedFile.open(file);
    assert.throws(() => mapped.advise("willneed", 9), { name: "RangeError", message: /Offset 9 is past the end of the 8 bytes/ });
    assert.throws(() => mapped.advise("normal", 100_000, 10), RangeError);
    mapped.advise("willneed", 8);
    mapped.advise("willneed", 4, 1 << 20); // a length past the end is cut there, as before
  });

  it("sync({ offset }) with offset past the end, before any system call", () => {
    fs.writeFileSync(file, "record1;");
    const counting = new FaultyLibc(libc());
    withLibc(counting, () => {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.writeAt("R", 0);
      const before = counting.calls("msync");
      assert.throws(() => mapped.sync({ offset: 9 }), { name: "RangeError", message: /Offset 9/ });
      assert.throws(() => mapped.sync({ offset: 9, length: 0 }), RangeError);
      assert.equal(counting.calls("msync"), before);
      mapped.sync({ offset: 8 });
    });
  });

  it("an empty mapping takes offset 0 and refuses 1", () => {
    fs.writeFileSync(file, "");
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    mapped.advise("normal", 0);
    mapped.sync({ offset: 0 });
    assert.throws(() => mapped.advise("normal", 1), RangeError);
    assert.throws(() => mapped.sync({ offset: 1 }), RangeError);
  });
});

describe("a file fstat calls empty but that reads bytes (/proc) is refused", () => {
  it("MappedFile.open(/proc/self/status) is ENODEV, not an empty mapping, and leaks no descriptor", () => {
    assert.equal(fs.statSync("/proc/self/status").size, 0, "the premise: fstat says 0");
    const before = openDescriptors();
    assert.throws(() => MappedFile.open("/proc/self/status"), (error: unknown) => {
      assert.ok(error instanceof MmapError, `got ${error}`);
      assert.equal(error.code, "ENODEV");
      assert.equal(error.path, "/proc/self/status");
      assert.match(error.message, /fstat says it is empty/);
      return true;
    });
    assert.deepEqual(openDescriptors(), before);
  });

  it("MemMapFS.open of a /proc file is ENODEV too; readFile still reads it", () => {
    const memfs = new MemMapFS({ root: "/proc/self" });
    assert.throws(() => memfs.open("status"), { code: "ENODEV" });
    assert.throws(() => memfs.open("/proc/self/status"), { code: "ENODEV" });
    assert.match(new TextDecoder().decode(memfs.readFile("status")), /^Name:/m);
    memfs.close();
  });

  it("SharedMemory.open of a /proc file by path is ENODEV too, not an empty region", () => {
    assert.throws(() => SharedMemory.open("/proc/self/status", { readonly: true }), { code: "ENODEV" });
  });

  it("a really empty file still opens as empty (one pread of 0 bytes tells)", () => {
    fs.writeFileSync(file, "");
    const counting = new FaultyLibc(libc());
    withLibc(counting, () => {
      using mapped = MappedFile.open(file);
      assert.equal(mapped.size, 0);
      assert.equal(mapped.bytes.length, 0);
    });
    assert.equal(counting.calls("pread"), 1);
  });

  it("a file with a size costs no pread", () => {
    fs.writeFileSync(file, "x");
    const counting = new FaultyLibc(libc());
    withLibc(counting, () => MappedFile.open(file).close());
    assert.equal(counting.calls("pread"), 0);
  });
});

describe("a misspelt option is a TypeError naming it", () => {
  it('MappedFile.open(path, { mode: "readwrite", creat: true }) creates nothing', () => {
    const target = path.join(directory, "never-created.bin");
    assert.throws(
      () => MappedFile.open(target, { mode: "readwrite", creat: true } as never),
      { name: "TypeError", message: /Unknown option "creat"/ },
    );
    assert.equal(fs.existsSync(target), false);
  });

  it("every options object refuses an unknown key", () => {
    fs.writeFileSync(file, "x".repeat(4096));
    const refusals: [string, () => unknown][] = [
      ["MappedFile.anonymous", () => MappedFile.anonymous(10, { shard: true } as never)],
      ["new MemMapFS", () => new MemMapFS({ cach: false } as never)],
      ["new MemMapFS cache", () => new MemMapFS({ cache: { maxbytes: 1 } } as never)],
      ["MemMapFS#open", () => new MemMapFS({ root: directory }).open("data.bin", { windw: 4096 } as never)],
      ["SharedMemory.create", () => SharedMemory.create({ size: 10, permission: 0o600 } as never)],
      ["SharedMemory.open", () => SharedMemory.open(file, { readOnly: true } as never)],
      ["BlockFile.create", () => BlockFile.create(path.join(directory, "b.blocks"), { block: 4096 } as never)],
      ["BlockFile.anonymous", () => BlockFile.anonymous({ block: 4096 } as never)],
    ];
    for (const [where, call] of refusals) {
      assert.throws(call, { name: "TypeError", message: /^Unknown option "/ }, where);
    }
    assert.equal(fs.existsSync(path.join(directory, "b.blocks")), false);
  });

  it("an option set to undefined that the call knows is still fine", () => {
    fs.writeFileSync(file, "x");
    MappedFile.open(file, { window: undefined, mode: undefined }).close();
  });
});

describe("MemMapFS.open(directory) stays EISDIR", () => {
  it("through the cache and without it", () => {
    fs.mkdirSync(path.join(directory, "sub"), { recursive: true });
    for (const cache of [undefined, false] as const) {
      const memfs = new MemMapFS({ root: directory, cache });
      assert.throws(() => memfs.open("sub"), { code: "EISDIR" });
      assert.throws(() => memfs.open("sub", { mode: "readwrite" }), { code: "EISDIR" });
      memfs.close();
    }
  });
});
