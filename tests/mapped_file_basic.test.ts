// MappedFile's file-like API: open at any offset, read, write, seek, copy,
// typed accessors compared with DataView, streams, anonymous memory.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, pageSize } from "../mod.ts";
import { makeDirectory, pattern, removeDirectory } from "./helpers.ts";

let directory: string;
before(() => {
  directory = makeDirectory();
});
after(() => removeDirectory(directory));

function fileWith(name: string, bytes: Uint8Array | string): string {
  const file = path.join(directory, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe("open", () => {
  it("maps the whole file read-only by default", () => {
    const file = fileWith("whole.bin", pattern(10_000));
    using mapped = MappedFile.open(file);
    assert.equal(mapped.mode, "readonly");
    assert.equal(mapped.path, file);
    assert.equal(mapped.size, 10_000);
    assert.deepEqual(mapped.bytes, pattern(10_000));
  });

  it("accepts a file: URL", () => {
    const file = fileWith("url name.bin", "by url");
    using mapped = MappedFile.open(new URL(`file://${encodeURI(file)}`));
    assert.equal(new TextDecoder().decode(mapped.bytes), "by url");
  });

  for (const offset of [1, pageSize - 1, pageSize, pageSize + 1]) {
    it(`maps from unaligned offset ${offset}`, () => {
      const data = pattern(3 * pageSize);
      const file = fileWith(`offset-${offset}.bin`, data);
      using mapped = MappedFile.open(file, { offset });
      assert.equal(mapped.size, data.length - offset);
      assert.deepEqual(mapped.bytes, data.subarray(offset));
      assert.equal(mapped.getUint8(0), data[offset]);
    });
  }

  it("maps a length from an offset", () => {
    const data = pattern(5000);
    const file = fileWith("slice.bin", data);
    using mapped = MappedFile.open(file, { offset: 100, length: 50 });
    assert.equal(mapped.size, 50);
    assert.deepEqual(mapped.bytes, data.subarray(100, 150));
    assert.equal(mapped.readAt(new Uint8Array(100), 0), 50, "reads stop at the range's end");
  });

  it("opens an empty file that reads empty and grows on write", () => {
    const file = fileWith("empty.bin", "");
    {
      using mapped = MappedFile.open(file);
      assert.equal(mapped.size, 0);
      assert.equal(mapped.bytes.length, 0);
      assert.equal(mapped.read(new Uint8Array(8)), 0);
    }
    {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      assert.equal(mapped.write("grown"), 5);
      assert.equal(mapped.size, 5);
    }
    assert.equal(fs.readFileSync(file, "utf8"), "grown");
  });

  it("creates a missing file with mode 0600 and the requested size", () => {
    const file = path.join(directory, "created.bin");
    using mapped = MappedFile.open(file, { mode: "readwrite", create: true, size: 10_000 });
    assert.equal(mapped.size, 10_000);
    const stat = fs.statSync(file);
    assert.equal(stat.size, 10_000);
    assert.equal(stat.mode & 0o777, 0o600);
  });

  it("creates with the given permissions", () => {
    const file = path.join(directory, "created-0640.bin");
    using _mapped = MappedFile.open(file, { mode: "readwrite", create: true, permissions: 0o640 });
    assert.equal(fs.statSync(file).mode & 0o777, 0o640 & ~process.umask());
  });

  it("populates, asks for huge pages and locks without failing", () => {
    const file = fileWith("populated.bin", pattern(64 * 1024));
    using mapped = MappedFile.open(file, { populate: true, hugePages: true, lock: true });
    assert.equal(mapped.locked, true);
    const { pages, resident } = mapped.resident();
    assert.equal(pages, Math.ceil(64 * 1024 / pageSize));
    assert.equal(resident, pages, "populate brings every page in");
    mapped.unlock();
    assert.equal(mapped.locked, false);
    mapped.lock();
    assert.equal(mapped.locked, true);
  });
});

describe("reading and writing", () => {
  it("reads from position and advances it, 0 at end of file", () => {
    const file = fileWith("read.txt", "Hello, World!");
    using mapped = MappedFile.open(file);
    const buffer = new Uint8Array(5);
    assert.equal(mapped.read(buffer), 5);
    assert.equal(new TextDecoder().decode(buffer), "Hello");
    assert.equal(mapped.position, 5);
    mapped.position = 10;
    assert.equal(mapped.read(buffer), 3);
    assert.equal(mapped.read(buffer), 0);
  });

  it("seeks from start, current and end and refuses negative positions", () => {
    const file = fileWith("seek.txt", "0123456789");
    using mapped = MappedFile.open(file);
    assert.equal(mapped.seek(4), 4);
    assert.equal(mapped.seek(2, "current"), 6);
    assert.equal(mapped.seek(-3, "end"), 7);
    assert.equal(mapped.getUint8(mapped.position), "7".charCodeAt(0));
    assert.throws(() => mapped.seek(-1), RangeError);
    assert.throws(() => mapped.seek(0, "middle" as "start"), TypeError);
    assert.equal(mapped.position, 7, "a refused seek leaves the position alone");
  });

  it("writes strings as UTF-8 and bytes at position, and readAt copies", () => {
    const file = fileWith("write.bin", new Uint8Array(16));
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    assert.equal(mapped.write("héllo"), 6);
    assert.equal(mapped.position, 6);
    assert.equal(mapped.writeAt(new Uint8Array([1, 2, 3]), 10), 3);
    const copy = new Uint8Array(16);
    assert.equal(mapped.readAt(copy, 0), 16);
    assert.equal(new TextDecoder().decode(copy.subarray(0, 6)), "héllo");
    assert.deepEqual([...copy.subarray(10, 13)], [1, 2, 3]);
    copy[0] = 0;
    assert.equal(mapped.getUint8(0), "h".charCodeAt(0), "readAt returned a copy");
    mapped.sync();
    assert.deepEqual(new Uint8Array(fs.readFileSync(file)), mapped.bytes);
  });

  it("grows the file for writes past the end, zero-filling the gap", () => {
    const file = fileWith("grow.bin", "abc");
    {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      mapped.seek(0, "end");
      mapped.write("def");
      assert.equal(mapped.writeAt("xyz", 10), 3);
      assert.equal(mapped.size, 13);
    }
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.subarray(0, 6).toString(), "abcdef");
    assert.deepEqual([...bytes.subarray(6, 10)], [0, 0, 0, 0]);
    assert.equal(bytes.subarray(10).toString(), "xyz");
  });

  it("shares memory between bytes, subarray and the file", () => {
    const file = fileWith("shared.bin", new Uint8Array(pageSize * 2));
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    const view = mapped.subarray(pageSize - 2, pageSize + 2);
    view.set([9, 8, 7, 6]);
    assert.equal(mapped.bytes[pageSize - 2], 9);
    assert.equal(mapped.getUint8(pageSize + 1), 6);
    mapped.sync();
    assert.deepEqual([...fs.readFileSync(file).subarray(pageSize - 2, pageSize + 2)], [9, 8, 7, 6]);
  });

  it("refuses subarray ranges outside the mapping", () => {
    const file = fileWith("bounds.bin", "0123");
    using mapped = MappedFile.open(file);
    assert.throws(() => mapped.subarray(3, 5), RangeError);
    assert.throws(() => mapped.subarray(3, 2), RangeError);
    assert.equal(mapped.subarray(4).length, 0);
  });
});

describe("DataView-compatible accessors", () => {
  const kinds = [
    ["Uint8", 1, 200], ["Int8", 1, -100], ["Uint16", 2, 0xbeef], ["Int16", 2, -1234],
    ["Uint32", 4, 0xdeadbeef], ["Int32", 4, -123456789], ["Float32", 4, 1.5],
    ["Float64", 8, Math.PI], ["BigUint64", 8, 0xfedcba9876543210n], ["BigInt64", 8, -42n],
  ] as const;

  for (const [kind, size, value] of kinds) {
    for (const littleEndian of [false, true]) {
      it(`get${kind}/set${kind} match DataView (${littleEndian ? "little" : "big"}-endian)`, () => {
        using mapped = MappedFile.anonymous(64);
        const reference = new DataView(new ArrayBuffer(64));
        const set = `set${kind}` as const;
        const get = `get${kind}` as const;
        // deno-lint-ignore no-explicit-any
        (mapped as any)[set](13, value, littleEndian);
        // deno-lint-ignore no-explicit-any
        (reference as any)[set](13, value, littleEndian);
        assert.deepEqual(mapped.bytes.slice(), new Uint8Array(reference.buffer));
        // deno-lint-ignore no-explicit-any
        assert.equal((mapped as any)[get](13, littleEndian), (reference as any)[get](13, littleEndian));
        // deno-lint-ignore no-explicit-any
        assert.throws(() => (mapped as any)[get](64 - size + 1, littleEndian), RangeError);
      });
    }
  }

  it("defaults to big-endian like DataView", () => {
    using mapped = MappedFile.anonymous(8);
    mapped.setUint16(0, 0x0102);
    assert.deepEqual([...mapped.subarray(0, 2)], [1, 2]);
  });
});

describe("anonymous memory", () => {
  it("is zeroed, writable and private by default", () => {
    using memory = MappedFile.anonymous(3 * pageSize);
    assert.equal(memory.path, null);
    assert.equal(memory.size, 3 * pageSize);
    assert.ok(memory.bytes.every((byte) => byte === 0));
    memory.bytes.fill(7);
    assert.equal(memory.getUint8(3 * pageSize - 1), 7);
    assert.throws(() => memory.sync(), TypeError, "private memory has nothing to sync to");
  });

  it("can be shared, synced and grown", () => {
    using memory = MappedFile.anonymous(100, { shared: true });
    memory.writeAt("keep", 96);
    memory.sync();
    memory.resize(10_000);
    assert.equal(memory.size, 10_000);
    assert.equal(new TextDecoder().decode(memory.subarray(96, 100)), "keep");
  });
});

describe("web streams", () => {
  it("readable yields every byte from the position in order", async () => {
    const data = pattern(200_000);
    const file = fileWith("stream.bin", data);
    using mapped = MappedFile.open(file);
    mapped.position = 1000;
    const chunks: Uint8Array[] = [];
    for await (const chunk of mapped.readable({ chunkSize: 65536 })) chunks.push(chunk);
    const joined = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    assert.deepEqual(joined, data.subarray(1000));
    mapped.close();
    assert.equal(chunks[0].length, 65536, "chunks are copies that survive close");
  });

  it("writable writes at the position and grows the file", async () => {
    const file = fileWith("stream-out.bin", "");
    {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      const writer = mapped.writable().getWriter();
      await writer.write(new TextEncoder().encode("first "));
      await writer.write(new TextEncoder().encode("second"));
      await writer.close();
    }
    assert.equal(fs.readFileSync(file, "utf8"), "first second");
  });
});
