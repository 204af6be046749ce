// Windowed mode: only `window` bytes are mapped at a time; every access that
// spans two windows still succeeds and old views detach when the window moves.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MmapError, pageSize } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, mappingsOf, pattern, removeDirectory } from "./helpers.ts";

const window = 4 * pageSize;
const size = 10 * window + 123;
let directory: string;
let data: Uint8Array;
let file: string;

before(() => {
  directory = makeDirectory();
  data = pattern(size);
  file = path.join(directory, "windowed.bin");
  fs.writeFileSync(file, data);
});
after(() => removeDirectory(directory));

describe("windowed mapping", () => {
  it("maps no more than a window at a time and slides on demand", () => {
    using mapped = MappedFile.open(file, { window });
    assert.equal(mapped.size, size);
    assert.equal(mapped.windowOffset, 0);
    // No view is out, so a copying access slides the one window.
    assert.equal(mapped.getUint8(7 * window + 5), data[7 * window + 5]);
    assert.equal(mapped.windowOffset, 7 * window);
    assert.equal(mapped.bytes.length, window);
    const mappedBytes = mappingsOf(file).reduce((sum, line) => {
      const [start, end] = line.split(" ")[0].split("-").map((hex) => parseInt(hex, 16));
      return sum + (end - start);
    }, 0);
    assert.equal(mappedBytes, window, "one window is mapped");
  });

  it("is refused for copy-on-write, whose private changes a slide would drop", () => {
    assert.throws(() => MappedFile.open(file, { mode: "copyonwrite", window }), /copyonwrite/);
    assert.throws(() => MappedFile.open(file, { mode: "copyonwrite", window }), TypeError);
  });

  it("rounds the window up to whole pages", () => {
    using mapped = MappedFile.open(file, { window: pageSize + 1 });
    assert.equal(mapped.bytes.length, 2 * pageSize);
  });

  it("reads and copies across window edges without short reads", () => {
    using mapped = MappedFile.open(file, { window });
    const target = new Uint8Array(3 * window);
    assert.equal(mapped.readAt(target, window - 10), target.length);
    assert.deepEqual(target, data.subarray(window - 10, 4 * window - 10));
    assert.equal(mapped.readAt(new Uint8Array(1000), size - 100), 100, "short only at end of file");
    assert.equal(mapped.getUint32(2 * window - 2), new DataView(data.buffer).getUint32(2 * window - 2));
    assert.equal(mapped.getFloat64(3 * window - 3, true), new DataView(data.buffer).getFloat64(3 * window - 3, true));
  });

  it("reads the whole file sequentially through read()", () => {
    using mapped = MappedFile.open(file, { window });
    const buffer = new Uint8Array(4096 + 7);
    const seen: Uint8Array[] = [];
    for (let count = mapped.read(buffer); count > 0; count = mapped.read(buffer)) {
      seen.push(buffer.slice(0, count));
    }
    assert.equal(seen.reduce((sum, chunk) => sum + chunk.length, 0), size);
    assert.deepEqual(seen.at(-1), data.subarray(size - seen.at(-1)!.length));
  });

  it("hands out views of any range, widening the window when needed", () => {
    using mapped = MappedFile.open(file, { window });
    const wide = mapped.subarray(window - 1, 3 * window + 1);
    assert.deepEqual(wide, data.subarray(window - 1, 3 * window + 1));
    assert.ok(mapped.windowOffset <= window - 1);
  });

  it("detaches views of an old window when subarray() slides it", () => {
    using mapped = MappedFile.open(file, { window });
    const first = mapped.subarray(0, 16);
    const whole = mapped.bytes;
    mapped.subarray(5 * window, 5 * window + 1);
    assert.equal(first.byteLength, 0);
    assert.equal(whole.byteLength, 0);
  });

  it("writes across windows, syncing a dirty window before it slides", () => {
    const target = path.join(directory, "windowed-write.bin");
    fs.writeFileSync(target, new Uint8Array(size));
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    try {
      using mapped = MappedFile.open(target, { window, mode: "readwrite" });
      const payload = pattern(2 * window + 50, 9);
      assert.equal(mapped.writeAt(payload, window - 25), payload.length);
      assert.ok(faulty.calls("msync") >= 2, "each window written was synced before it slid away");
      mapped.setUint32(6 * window - 2, 0xa1b2c3d4);
      mapped.getUint8(0);
      const clean = faulty.calls("msync");
      mapped.getUint8(9 * window);
      assert.equal(faulty.calls("msync"), clean, "a clean window slides without msync");
    } finally {
      useLibc(null);
    }
    const onDisk = new Uint8Array(fs.readFileSync(target));
    assert.deepEqual(onDisk.subarray(window - 25, 3 * window + 25), pattern(2 * window + 50, 9));
    assert.equal(new DataView(onDisk.buffer).getUint32(6 * window - 2), 0xa1b2c3d4);
  });

  it("every accessor reads and writes values that straddle a window edge", () => {
    const target = path.join(directory, "windowed-accessors.bin");
    const length = 17 * window;
    fs.writeFileSync(target, new Uint8Array(length));
    const kinds = [
      ["Uint16", 0xbeef], ["Int16", -1234], ["Uint32", 0xdeadbeef], ["Int32", -123456789],
      ["Float32", 1.5], ["Float64", Math.PI], ["BigUint64", 0xfedcba9876543210n], ["BigInt64", -42n],
    ] as const;
    const reference = new DataView(new ArrayBuffer(length));
    {
      using mapped = MappedFile.open(target, { window, mode: "readwrite" });
      kinds.forEach(([kind, value], i) => {
        for (const littleEndian of [false, true]) {
          // One byte before an edge, so the value's bytes live in two windows.
          const offset = (2 * i + (littleEndian ? 2 : 1)) * window - 1;
          // deno-lint-ignore no-explicit-any
          (mapped as any)[`set${kind}`](offset, value, littleEndian);
          // deno-lint-ignore no-explicit-any
          (reference as any)[`set${kind}`](offset, value, littleEndian);
          mapped.getUint8(offset < 8 * window ? 16 * window : 0); // slide far away first
          // deno-lint-ignore no-explicit-any
          assert.equal((mapped as any)[`get${kind}`](offset, littleEndian), value, `${kind} at ${offset}`);
        }
      });
    }
    assert.deepEqual(new Uint8Array(fs.readFileSync(target)), new Uint8Array(reference.buffer));
  });

  it("grows the file by writing past its end", () => {
    const target = path.join(directory, "windowed-grow.bin");
    fs.writeFileSync(target, "start");
    {
      using mapped = MappedFile.open(target, { window, mode: "readwrite" });
      mapped.writeAt("end", 3 * window);
      assert.equal(mapped.size, 3 * window + 3);
      assert.equal(mapped.getUint8(0), "s".charCodeAt(0));
    }
    const onDisk = fs.readFileSync(target);
    assert.equal(onDisk.length, 3 * window + 3);
    assert.equal(onDisk.subarray(3 * window).toString(), "end");
  });

  it("works from an unaligned offset", () => {
    using mapped = MappedFile.open(file, { window, offset: 1001 });
    assert.equal(mapped.size, size - 1001);
    const target = new Uint8Array(2 * window);
    mapped.readAt(target, window - 500);
    assert.deepEqual(target, data.subarray(1001 + window - 500, 1001 + 3 * window - 500));
  });

  it("a failed mmap while sliding throws, keeps one window mapped and the object usable", () => {
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    try {
      using mapped = MappedFile.open(file, { window });
      // Twice: a read-only window that cannot be mapped private falls back to PROT_READ once.
      faulty.fail("mmap", { errno: 12 });
      faulty.fail("mmap", { errno: 12, nth: 2 });
      assert.throws(() => mapped.readAt(new Uint8Array(10), 5 * window), (error: unknown) =>
        error instanceof MmapError && error.code === "ENOMEM" && error.syscall === "mmap");
      assert.ok(mappingsOf(file).length <= 1, "no half-made window is left mapped");
      const target = new Uint8Array(10);
      assert.equal(mapped.readAt(target, 5 * window), 10);
      assert.deepEqual(target, data.subarray(5 * window, 5 * window + 10));
      mapped.close();
      assert.deepEqual(mappingsOf(file), []);
    } finally {
      useLibc(null);
    }
  });

  it("a failed msync of a dirty window before it slides poisons the object like sync()", () => {
    const target = path.join(directory, "windowed-poison.bin");
    fs.writeFileSync(target, new Uint8Array(4 * window));
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    let mapped: MappedFile | undefined;
    try {
      mapped = MappedFile.open(target, { window, mode: "readwrite" });
      mapped.writeAt("dirty", 2 * window);
      faulty.fail("msync", { errno: 5 });
      const opened = mapped;
      assert.throws(() => opened.getUint8(0), (error: unknown) =>
        error instanceof MmapError && error.code === "EIO" && error.syscall === "msync");
      // DESIGN: "A failed sync poisons the object: later syncs throw rather than report success."
      assert.throws(() => opened.sync(), MmapError, "a later sync() must not report success");
      assert.throws(() => opened.close(), MmapError, "nor may close()");
      assert.equal(opened.closed, true);
      assert.deepEqual(mappingsOf(target), []);
    } finally {
      try {
        mapped?.close();
      } catch { /* already reported above */ }
      useLibc(null);
    }
  });
});
