// Sync modes, poisoning, resize, remap and checked mode: what reaches the disk
// and what happens when the file changes under the mapping.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { FileTruncatedError, MappedFile, MmapError, pageSize } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, pattern, RecordingLibc, removeDirectory, runScript, withLibc } from "./helpers.ts";

let directory: string;
let counter = 0;
before(() => {
  directory = makeDirectory();
});
after(() => removeDirectory(directory));

function freshFile(bytes: Uint8Array | string = pattern(2 * pageSize)): string {
  const file = path.join(directory, `file-${counter++}.bin`);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Runs `work` with a FaultyLibc and returns it to inspect the calls made. */
function withCounting<T>(work: (faulty: FaultyLibc) => T): [T, FaultyLibc] {
  const faulty = new FaultyLibc(libc());
  useLibc(faulty);
  try {
    return [work(faulty), faulty];
  } finally {
    useLibc(null);
  }
}

describe("sync modes", () => {
  it('"immediate" msyncs after every write call', () => {
    const file = freshFile();
    const [, faulty] = withCounting(() => {
      using mapped = MappedFile.open(file, { mode: "readwrite", sync: "immediate" });
      mapped.writeAt("a", 0);
      mapped.setUint8(pageSize, 1);
      mapped.write("bc");
    });
    assert.ok(faulty.calls("msync") >= 3, `msync calls: ${faulty.calls("msync")}`);
  });

  it('"immediate" syncs a resize right away, file size included', () => {
    const file = freshFile();
    withCounting((faulty) => {
      using mapped = MappedFile.open(file, { mode: "readwrite", sync: "immediate" });
      const [msyncs, fsyncs] = [faulty.calls("msync"), faulty.calls("fsync")];
      mapped.resize(5 * pageSize);
      assert.ok(faulty.calls("msync") > msyncs, "msync after resize");
      assert.ok(faulty.calls("fsync") > fsyncs, "fsync of the new size after resize");
    });
  });

  it('"lazy" msyncs on close only, and only when something changed', () => {
    const file = freshFile();
    const [counts] = withCounting((faulty) => {
      const mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.writeAt("a", 0);
      mapped.writeAt("b", 1);
      const beforeClose = faulty.calls("msync");
      mapped.close();
      const clean = MappedFile.open(file, { mode: "readwrite" });
      const beforeCleanClose = faulty.calls("msync");
      clean.close();
      return [beforeClose, faulty.calls("msync") - beforeCleanClose];
    });
    assert.deepEqual(counts, [0, 0]);
    assert.equal(fs.readFileSync(file).subarray(0, 2).toString(), "ab");
  });

  it('"lazy" close of a written file does msync', () => {
    const file = freshFile();
    const [, faulty] = withCounting(() => {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.writeAt("a", 0);
    });
    assert.equal(faulty.calls("msync"), 1);
  });

  it('"never" leaves flushing to the kernel, but an explicit sync() still syncs', () => {
    const file = freshFile();
    const [calls] = withCounting((faulty) => {
      const mapped = MappedFile.open(file, { mode: "readwrite", sync: "never" });
      mapped.writeAt("never", 0);
      mapped.sync();
      const afterSync = faulty.calls("msync");
      mapped.writeAt("again", 0);
      mapped.close();
      return [afterSync, faulty.calls("msync")];
    });
    assert.deepEqual(calls, [1, 1]);
    assert.equal(fs.readFileSync(file).subarray(0, 5).toString(), "again");
  });

  it('"periodic" flushes in the background and its timer never keeps the process alive', async () => {
    const file = freshFile();
    const faulty = new FaultyLibc(libc());
    const mapped = withLibc(faulty, () =>
      MappedFile.open(file, { mode: "readwrite", sync: "periodic", syncInterval: 20 })
    );
    mapped.writeAt("tick", 0);
    // Waits for the timer, giving up only after 10 s: no assertion on how soon it fires.
    for (let i = 0; i < 1000 && faulty.calls("msync") === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(faulty.calls("msync") >= 1, "the timer synced the dirty mapping");
    mapped.close();

    const result = runScript(`
      import { MappedFile } from "../mod.ts";
      const file = MappedFile.open(${JSON.stringify(file)}, { mode: "readwrite", sync: "periodic", syncInterval: 50 });
      file.writeAt("child", 0);
      console.log("opened");
    `, { timeout: 15_000 });
    assert.equal(result.signal, null, "the child exited on its own instead of hanging");
    assert.equal(result.stdout.trim(), "opened", result.stderr);
  });

  it("sync() is msync(MS_SYNC) of the pages that hold the range asked for", () => {
    const file = freshFile(pattern(8 * pageSize));
    const recording = new RecordingLibc(libc());
    const { MS_SYNC, MS_ASYNC } = libc().constants;
    withLibc(recording, () => {
      // An unaligned offset: the library must align the msync range itself.
      using mapped = MappedFile.open(file, { mode: "readwrite", offset: 100 });
      mapped.writeAt("range", 3 * pageSize + 10);

      recording.msyncs.length = 0;
      mapped.sync();
      assert.equal(recording.msyncs.length, 1);
      const whole = recording.msyncs[0];
      assert.equal(whole.flags & (MS_SYNC | MS_ASYNC), MS_SYNC);
      assert.equal(whole.address % BigInt(pageSize), 0n, "msync needs a page-aligned address");
      assert.ok(whole.length > 7 * pageSize, `a plain sync() covers every page (${whole.length} bytes)`);

      mapped.writeAt("again", 3 * pageSize + 10);
      recording.msyncs.length = 0;
      mapped.sync({ offset: 3 * pageSize + 5, length: 20 });
      assert.equal(recording.msyncs.length, 1);
      const ranged = recording.msyncs[0];
      assert.equal(ranged.flags & (MS_SYNC | MS_ASYNC), MS_SYNC);
      assert.equal(ranged.address % BigInt(pageSize), 0n, "msync needs a page-aligned address");
      // Bytes 3p+5 .. 3p+25 of the range are bytes 3p+105 .. 3p+125 of the mapping.
      const first = ranged.address - whole.address;
      assert.ok(first <= BigInt(3 * pageSize + 105), "starts at or before the range");
      assert.ok(first + BigInt(ranged.length) >= BigInt(3 * pageSize + 125), "ends at or after it");
      assert.ok(ranged.length <= 2 * pageSize, `syncs the range, not the whole mapping (${ranged.length} bytes)`);
    });
    const onDisk = fs.readFileSync(file);
    assert.equal(onDisk.subarray(100 + 3 * pageSize + 10, 100 + 3 * pageSize + 15).toString(), "again");
  });

  it("sync({ async: true }) is msync(MS_ASYNC) and does not fsync", () => {
    const file = freshFile(pattern(4 * pageSize));
    const recording = new RecordingLibc(libc());
    const { MS_SYNC, MS_ASYNC } = libc().constants;
    withLibc(recording, () => {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.resize(6 * pageSize);
      mapped.writeAt("async", 0);
      recording.msyncs.length = 0;
      const fsyncs = recording.calls("fsync");
      mapped.sync({ async: true });
      assert.equal(recording.msyncs.length, 1);
      assert.equal(recording.msyncs[0].flags & (MS_SYNC | MS_ASYNC), MS_ASYNC);
      assert.equal(recording.calls("fsync"), fsyncs, "an asynchronous flush waits for nothing");
      mapped.sync();
      assert.equal(recording.msyncs.at(-1)!.flags & (MS_SYNC | MS_ASYNC), MS_SYNC);
      assert.equal(recording.calls("fsync"), fsyncs + 1, "the size change is still fsynced later");
    });
  });

  it("sync() with nothing written since the last one makes no call; a writable view out makes every sync msync", () => {
    const file = freshFile(pattern(4 * pageSize));
    const recording = new RecordingLibc(libc());
    withLibc(recording, () => {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.sync();
      mapped.sync({ async: true });
      assert.equal(recording.msyncs.length, 0, "an untouched file has nothing to flush");
      mapped.writeAt("one", 0);
      mapped.sync();
      mapped.sync();
      assert.equal(recording.msyncs.length, 1, "the second sync had nothing new to flush");

      // Writes through a view are invisible to the library: it must flush every time.
      const view = mapped.subarray(0, 16);
      mapped.sync();
      view.set(new TextEncoder().encode("two"));
      mapped.sync();
      view.set(new TextEncoder().encode("six"));
      mapped.sync();
      assert.equal(recording.msyncs.length, 4);
    });
    assert.equal(fs.readFileSync(file).subarray(0, 3).toString(), "six");
  });

  it('"never" with a window: sync() fsyncs the file after a dirty window slid or was remapped away unflushed', () => {
    const file = freshFile(pattern(16 * pageSize));
    const recording = new RecordingLibc(libc());
    withLibc(recording, () => {
      using mapped = MappedFile.open(file, { mode: "readwrite", window: 2 * pageSize, sync: "never" });
      mapped.writeAt("first", 0);
      mapped.writeAt("second", 10 * pageSize); // slides: the first window goes without msync
      assert.equal(recording.msyncs.length, 0, '"never" slides without flushing');
      const fsyncs = recording.calls("fsync");
      mapped.sync();
      assert.equal(recording.calls("fsync"), fsyncs + 1, "only an fsync reaches the first window's pages now");
      mapped.sync();
      assert.equal(recording.calls("fsync"), fsyncs + 1, "and only once");

      mapped.writeAt("third", 10 * pageSize);
      mapped.remap(); // drops the dirty window unflushed too
      mapped.sync();
      assert.equal(recording.calls("fsync"), fsyncs + 2);
    });
  });

  it("sync accepts a range and { async: true }", () => {
    const file = freshFile(pattern(8 * pageSize));
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    mapped.writeAt("range", 3 * pageSize + 10);
    mapped.sync({ offset: 3 * pageSize + 5, length: 20 });
    mapped.sync({ async: true });
    assert.equal(fs.readFileSync(file).subarray(3 * pageSize + 10, 3 * pageSize + 15).toString(), "range");
  });
});

describe("large writes go to the file with pwrite", () => {
  const big = 128 * 1024;
  /** Bytes `[start, end)` of `file` as a plain Uint8Array (deepEqual tells a Buffer from one). */
  const fileBytes = (file: string, start: number, end: number) => new Uint8Array(fs.readFileSync(file).subarray(start, end));

  it("a large write past what was written is one pwrite: views and reads see it, the file holds it", () => {
    const file = freshFile(new Uint8Array(4 * big));
    withCounting((faulty) => {
      using mapped = MappedFile.open(file, { mode: "readwrite", sync: "never" });
      const view = mapped.subarray(0, 4 * big);
      assert.equal(mapped.writeAt(pattern(big, 1), big), big);
      assert.equal(faulty.calls("pwrite"), 1);
      assert.deepEqual(view.subarray(big, 2 * big), pattern(big, 1));
      const back = new Uint8Array(big);
      mapped.readAt(back, big);
      assert.deepEqual(back, pattern(big, 1));
      assert.deepEqual(fileBytes(file, big, 2 * big), pattern(big, 1));
    });
  });

  it("sync() fsyncs bytes only pwrite wrote (nothing in the mapping is dirty)", () => {
    const file = freshFile(new Uint8Array(4 * big));
    withCounting((faulty) => {
      const mapped = MappedFile.open(file, { mode: "readwrite", sync: "never" });
      mapped.writeAt(pattern(big, 2), 2 * big + 5);
      assert.equal(faulty.calls("pwrite"), 1);
      const fsyncs = faulty.calls("fsync");
      mapped.sync();
      assert.equal(faulty.calls("fsync"), fsyncs + 1, "the file is fsynced");
      mapped.sync();
      assert.equal(faulty.calls("fsync"), fsyncs + 1, "and only once");
      mapped.close();
      assert.deepEqual(fileBytes(file, 2 * big + 5, 3 * big + 5), pattern(big, 2));
    });
  });

  it('"lazy" close fsyncs what pwrite wrote; a growing write goes to the file too', () => {
    const file = freshFile("");
    withCounting((faulty) => {
      const mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.write(pattern(big, 3));
      mapped.write(pattern(big, 4));
      assert.equal(faulty.calls("pwrite"), 2);
      const fsyncs = faulty.calls("fsync");
      mapped.close();
      assert.ok(faulty.calls("fsync") > fsyncs, "close fsyncs");
    });
    assert.equal(fs.statSync(file).size, 2 * big);
    assert.deepEqual(fileBytes(file, 0, big), pattern(big, 3));
    assert.deepEqual(fileBytes(file, big, 2 * big), pattern(big, 4));
  });

  it("rewriting bytes already written, small writes, copy-on-write and \"immediate\" go through the mapping", () => {
    const file = freshFile(new Uint8Array(4 * big));
    withCounting((faulty) => {
      using mapped = MappedFile.open(file, { mode: "readwrite", sync: "never" });
      mapped.writeAt(pattern(big, 5), 0);
      mapped.writeAt(pattern(big, 6), 0);
      mapped.writeAt(pattern(1000, 7), big);
      assert.equal(faulty.calls("pwrite"), 1, "only the first large write");
      assert.deepEqual(mapped.subarray(0, big), pattern(big, 6));
      mapped.sync();
      assert.deepEqual(fileBytes(file, 0, big), pattern(big, 6));
      assert.deepEqual(fileBytes(file, big, big + 1000), pattern(1000, 7));
    });
    withCounting((faulty) => {
      using privateCopy = MappedFile.open(file, { mode: "copyonwrite" });
      privateCopy.writeAt(pattern(big, 8), 0);
      using immediate = MappedFile.open(file, { mode: "readwrite", sync: "immediate" });
      immediate.writeAt(pattern(big, 9), 2 * big);
      assert.equal(faulty.calls("pwrite"), 0);
      assert.ok(faulty.calls("msync") >= 1, "immediate msyncs the range");
    });
    assert.deepEqual(fileBytes(file, 0, big), pattern(big, 6), "copy-on-write changes stay in the process");
    assert.deepEqual(fileBytes(file, 2 * big, 3 * big), pattern(big, 9));
  });

  it("a failed pwrite throws MmapError; the object stays usable and the next sync still fsyncs", () => {
    const file = freshFile(new Uint8Array(4 * big));
    withCounting((faulty) => {
      using mapped = MappedFile.open(file, { mode: "readwrite", sync: "never" });
      faulty.fail("pwrite", { errno: 5 });
      assert.throws(() => mapped.writeAt(pattern(big, 10), 0), (error: unknown) =>
        error instanceof MmapError && error.code === "EIO" && error.syscall === "pwrite" && error.path === file);
      const fsyncs = faulty.calls("fsync");
      mapped.sync();
      assert.equal(faulty.calls("fsync"), fsyncs + 1);
      mapped.writeAt(pattern(big, 11), 0);
      assert.deepEqual(mapped.subarray(0, big), pattern(big, 11));
    });
  });
});

describe("a failed sync poisons the object", () => {
  it("msync EIO throws, and every later sync throws too", () => {
    const file = freshFile();
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    try {
      const mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.writeAt("lost?", 0);
      faulty.fail("msync", { errno: 5 });
      assert.throws(() => mapped.sync(), (error: unknown) =>
        error instanceof MmapError && error.code === "EIO" && error.syscall === "msync");
      assert.throws(() => mapped.sync(), (error: unknown) =>
        error instanceof MmapError && /earlier sync failed/.test(error.message));
      assert.throws(() => mapped.close(), MmapError, "close reports the lost data too");
      assert.equal(mapped.closed, true);
    } finally {
      useLibc(null);
    }
  });
});

describe("resize", () => {
  it("grows and shrinks the file and mapping, keeping bytes and detaching views", () => {
    const data = pattern(2 * pageSize);
    const file = freshFile(data);
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    const before = mapped.bytes;
    mapped.resize(10 * pageSize);
    assert.equal(before.byteLength, 0, "views detach on resize");
    assert.equal(mapped.size, 10 * pageSize);
    assert.equal(fs.statSync(file).size, 10 * pageSize);
    assert.deepEqual(mapped.subarray(0, data.length), data);
    assert.ok(mapped.subarray(data.length).every((byte) => byte === 0));
    mapped.setUint8(10 * pageSize - 1, 77);

    const grown = mapped.bytes;
    mapped.resize(pageSize + 3);
    assert.equal(grown.byteLength, 0);
    assert.equal(mapped.size, pageSize + 3);
    assert.equal(fs.statSync(file).size, pageSize + 3);
    assert.deepEqual(mapped.bytes, data.subarray(0, pageSize + 3));
  });

  it("a range shorter than the file grows and shrinks without touching the bytes past it", () => {
    const file = freshFile(new Uint8Array(100).fill(7));
    using mapped = MappedFile.open(file, { mode: "readwrite", offset: 10, length: 10 });
    mapped.writeAt(new Uint8Array([1]), 10); // grows the range to 11 bytes, inside the file
    assert.equal(mapped.size, 11);
    assert.equal(fs.statSync(file).size, 100, "growing inside the file keeps its end");
    mapped.resize(5);
    assert.equal(fs.statSync(file).size, 100, "the range did not reach the end, so nothing is cut");
    assert.deepEqual(new Uint8Array(fs.readFileSync(file).subarray(15)), new Uint8Array(85).fill(7).fill(1, 5, 6));
    mapped.resize(95); // past the end: the file grows to the range's end
    assert.equal(fs.statSync(file).size, 105);
    mapped.resize(50); // the range reaches the end now, so the file follows it
    assert.equal(fs.statSync(file).size, 60);
  });

  it("resizes down to 0 bytes and back up", () => {
    const file = freshFile("some bytes");
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    const before = mapped.subarray(0, 4);
    mapped.resize(0);
    assert.equal(before.byteLength, 0);
    assert.equal(mapped.size, 0);
    assert.equal(mapped.bytes.length, 0);
    assert.equal(fs.statSync(file).size, 0);
    assert.equal(mapped.readAt(new Uint8Array(4), 0), 0);
    mapped.resize(3);
    assert.deepEqual([...mapped.bytes], [0, 0, 0], "bytes past the old end read as zeros");
    mapped.writeAt("new", 0);
    mapped.sync();
    assert.equal(fs.readFileSync(file, "utf8"), "new");
  });

  it("fsyncs the file at the next sync after a size change", () => {
    const file = freshFile();
    const [calls] = withCounting((faulty) => {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.resize(5 * pageSize);
      mapped.sync();
      const first = faulty.calls("fsync");
      mapped.sync();
      return [first, faulty.calls("fsync")];
    });
    assert.deepEqual(calls, [1, 1]);
  });

  it("a failed growth (ENOSPC, ENOMEM) keeps the old size and bytes; the object stays usable", () => {
    const data = pattern(pageSize);
    const file = freshFile(data);
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    try {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      faulty.fail("posixFallocate", { errno: 28 });
      assert.throws(() => mapped.resize(100 * pageSize), (error: unknown) =>
        error instanceof MmapError && error.code === "ENOSPC" && error.syscall === "posix_fallocate");
      assert.equal(mapped.size, pageSize);
      assert.equal(fs.statSync(file).size, pageSize);

      faulty.fail("mremap", { errno: 12 });
      assert.throws(() => mapped.writeAt("x", 50 * pageSize), (error: unknown) =>
        error instanceof MmapError && error.code === "ENOMEM" && error.syscall === "mremap");
      assert.equal(mapped.size, pageSize);
      assert.equal(fs.statSync(file).size, pageSize, "the file got its old size back");
      assert.deepEqual(mapped.bytes, data);

      mapped.writeAt("still works", 0);
      mapped.resize(2 * pageSize);
      assert.equal(fs.statSync(file).size, 2 * pageSize);
    } finally {
      useLibc(null);
    }
  });
});

describe("changes made by others", () => {
  it("remap() picks up a file another writer grew", () => {
    const file = freshFile("short");
    using mapped = MappedFile.open(file);
    fs.appendFileSync(file, " and longer");
    assert.equal(mapped.size, 5);
    mapped.remap();
    assert.equal(mapped.size, 16);
    assert.equal(new TextDecoder().decode(mapped.bytes), "short and longer");
  });

  it("remap() keeps a length given at open, and an offset", () => {
    const file = freshFile("0123456789");
    using mapped = MappedFile.open(file, { offset: 2, length: 4 });
    fs.appendFileSync(file, "abcdef");
    mapped.remap();
    assert.equal(mapped.size, 4);
    assert.equal(new TextDecoder().decode(mapped.bytes), "2345");
    fs.truncateSync(file, 4);
    mapped.remap();
    assert.equal(mapped.size, 2, "a shorter file shortens the range");
    assert.equal(new TextDecoder().decode(mapped.bytes), "23");
  });

  it("remap() detaches the views of the old mapping", () => {
    const file = freshFile("before");
    using mapped = MappedFile.open(file);
    const old = mapped.bytes;
    fs.appendFileSync(file, " after");
    mapped.remap();
    assert.equal(old.byteLength, 0);
    assert.equal(new TextDecoder().decode(mapped.bytes), "before after");
  });

  it("checked mode throws FileTruncatedError after an outside truncation; remap recovers", () => {
    const file = freshFile(pattern(4 * pageSize));
    using mapped = MappedFile.open(file, { checked: true, mode: "readwrite" });
    fs.truncateSync(file, pageSize);
    assert.throws(() => mapped.readAt(new Uint8Array(10), 2 * pageSize), (error: unknown) =>
      error instanceof FileTruncatedError && error instanceof MmapError && error.path === file);
    assert.throws(() => mapped.getUint8(3 * pageSize), FileTruncatedError);
    assert.throws(() => mapped.writeAt("x", 2 * pageSize), FileTruncatedError);
    assert.equal(mapped.getUint8(10), pattern(11)[10], "bytes still in the file read fine");
    mapped.remap();
    assert.equal(mapped.size, pageSize);
    assert.equal(mapped.readAt(new Uint8Array(10), 2 * pageSize), 0);
  });

  it("without checked mode, touching truncated pages kills only that process (SIGBUS)", () => {
    const file = freshFile(pattern(4 * pageSize));
    const result = runScript(`
      import * as fs from "node:fs";
      import { MappedFile } from "../mod.ts";
      const mapped = MappedFile.open(${JSON.stringify(file)});
      fs.truncateSync(${JSON.stringify(file)}, ${pageSize});
      console.log("before");
      console.log(mapped.getUint8(${3 * pageSize}));
    `);
    assert.equal(result.stdout.trim(), "before");
    assert.equal(result.signal, "SIGBUS");
  });
});
